"""The file store: one 0600 file per token in the runtime directory's 0700 tokens/ directory.

Reads trust nothing they did not create: the file is opened with O_NOFOLLOW and must be a regular
file of ours, mode 0600 or stricter (issue 12.4); anything else is a miss.
"""

import contextlib
import os

from credhelper.stores import Untrusted

NAME = "file"
MAX_TOKEN_BYTES = 1 << 16


class Store:
    name = NAME

    def __init__(self, directory, private_dir, write_private, label="file"):
        self.directory = directory  # runtime_dir/tokens
        self._private_dir = private_dir  # creates and checks a 0700 directory
        self._write_private = write_private
        self.label = label

    def path(self, key):
        return os.path.join(self.directory, f"{key}.json")

    def read(self, key, entry=None):
        data = read_owned(self.path(key), MAX_TOKEN_BYTES)
        return None if data is None else data.decode("utf-8", "replace")

    def write(self, key, value):
        self._private_dir(self.directory)
        self._write_private(self.path(key), value.encode("utf-8"))
        return {"store": NAME, "backend": self.label}

    def delete(self, key):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(key))


def read_owned(path, max_bytes):
    """The bytes of path when it is a regular file of ours, not readable or writable by others.

    None when it does not exist; Untrusted when it exists but is not ours, not regular, or too open.

    Opened with O_NOFOLLOW (a planted symlink is not followed) and checked with fstat (no race
    between the check and the read).
    """
    import stat

    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:  # ELOOP: a symlink where our file should be
        raise Untrusted(f"{path}: cannot open it without following links ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Untrusted(f"{path} is not a regular file")
        if hasattr(os, "getuid") and st.st_uid != os.getuid():
            raise Untrusted(f"{path} is owned by uid {st.st_uid}, not by you")
        if st.st_mode & 0o077:
            raise Untrusted(f"{path} is accessible to other users (mode {stat.S_IMODE(st.st_mode):o})")
        if st.st_size > max_bytes:
            raise Untrusted(f"{path} is larger than {max_bytes} bytes")
        return os.read(fd, max_bytes + 1)[:max_bytes]
    except OSError:
        return None
    finally:
        os.close(fd)
