"""--url-file of the serving commands (serve-metadata, emulator): where a client finds the server.

The file is written privately (privatefile.write: O_EXCL|O_NOFOLLOW, 0600) once the server accepts
connections, and removed when it stops, so a stale address never outlives its server.
"""

import contextlib
import os

from credhelper import privatefile
from credhelper.errors import UsageError


@contextlib.contextmanager
def published(path, text):
    """Write `text` to `path` (nothing when path is None) for the duration of the block."""
    if not path:
        yield
        return
    try:
        privatefile.write(path, text)
    except OSError as exc:
        raise UsageError(f"--url-file {path}: {exc.strerror}", hint=getattr(exc, "hint", None)) from None
    try:
        yield
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
