"""The file store: one 0600 file per token in the runtime directory's 0700 tokens/ directory.

Writes and reads go through credhelper.privatefile: created O_EXCL|O_NOFOLLOW 0600 and renamed into
place; read only when not a symlink and a regular private file of ours (issue 12.4); anything else
is a miss.
"""

import os

from credhelper.stores import STORE_FILE as NAME
from credhelper.stores import Untrusted

MAX_TOKEN_BYTES = 1 << 16


class Store:
    name = NAME

    def __init__(self, directory, label="file"):
        self.directory = directory  # runtime_dir/tokens
        self.label = label

    def path(self, key):
        return os.path.join(self.directory, f"{key}.json")

    def read(self, key, entry=None):
        data = read_owned(self.path(key), MAX_TOKEN_BYTES)
        return None if data is None else data.decode("utf-8", "replace")

    def write(self, key, value):
        from credhelper import privatefile

        privatefile.write(self.path(key), value.encode("utf-8"))  # parents 0700, the file 0600
        return {"store": NAME, "backend": self.label}

    def delete(self, key):
        try:  # not contextlib.suppress: contextlib is about 1 ms of a hit, and the hit reaches this module
            os.unlink(self.path(key))
        except FileNotFoundError:
            pass


def read_owned(path, max_bytes):
    """The bytes of a file credhelper wrote (credhelper.privatefile.read_private: not a symlink, a regular
    file of ours, no group or other bits, in directories no one else controls).

    None when it does not exist; Untrusted when it exists but is not trustworthy.
    """
    from credhelper import privatefile

    try:
        return privatefile.read_private(path, max_bytes)
    except FileNotFoundError:
        return None
    except privatefile.UnsafePathError as exc:
        raise Untrusted(exc.strerror) from None
    except OSError:
        return None
