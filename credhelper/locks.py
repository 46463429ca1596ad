"""Cross-process exclusive locks on a lock file, portable.

One capability check picks the mechanism, once:
  - fcntl.flock (POSIX): the kernel releases the lock when its holder dies;
  - msvcrt.locking (Windows): a byte-range lock, also released by the kernel when the holder exits;
  - neither (an unusual Python): a lock *file* created with O_EXCL holding the holder's pid, taken
    over once that pid is gone.
A lock is held through an open file descriptor: try_acquire(fd, path) -> bool never blocks; the
caller polls (the cache waits with backoff, within the command's deadline).
"""

import errno
import os

try:
    import fcntl
except ImportError:  # Windows, or a Python built without it
    fcntl = None
msvcrt = None
if fcntl is None and os.name == "nt":
    import msvcrt

_BUSY = (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK, getattr(errno, "EDEADLK", errno.EAGAIN))


def mechanism():
    """Which lock the platform gives: "flock", "msvcrt" or "exclusive-file"."""
    if fcntl is not None:
        return "flock"
    if msvcrt is not None:
        return "msvcrt"
    return "exclusive-file"


def try_acquire(fd, path):
    """Take the exclusive lock on the open lock file fd (at path) if free: True; False when another holds it.

    OSError for anything else (the caller says what failed).
    """
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError as exc:
            if exc.errno in _BUSY:
                return False
            raise
    if msvcrt is not None:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError as exc:
            if exc.errno in _BUSY:
                return False
            raise
    return _try_exclusive_file(path)


def release(fd, path):
    """Release a lock taken by try_acquire (closing fd also releases flock and msvcrt locks)."""
    if fcntl is not None:
        return
    if msvcrt is not None:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        except OSError:
            pass
        return
    try:
        os.unlink(path + ".held")
    except OSError:
        pass


def _try_exclusive_file(path):
    held = path + ".held"
    for _ in range(2):
        try:
            fd = os.open(held, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:
            if not _holder_gone(held):
                return False
            try:
                os.unlink(held)  # its holder died without releasing it
            except FileNotFoundError:
                pass
            continue
        try:
            os.write(fd, f"{os.getpid()}\n".encode())
        finally:
            os.close(fd)
        return True
    return False


def _holder_gone(held):
    try:
        with open(held, "rb") as f:
            pid = int(f.read(32).decode().strip() or 0)
    except (OSError, ValueError):
        return False  # being written right now: treat as held
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, another user's
    return False
