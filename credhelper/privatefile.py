"""How credhelper writes and reads a file only its user may touch: the one owner of that rule.

write(path, data)       create a temporary file next to `path` with O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600
                        (or `mode`), write, fsync, rename it over `path`, fsync the directory. Missing
                        parent directories are created 0700 whatever the umask.
make_dirs(path)         create `path` and its missing parents 0700; check every directory on the way.
read_private(path)      a file credhelper wrote: not a symlink, a regular file of ours, no group or other
                        permission bits, in directories that pass the checks below; at most `max_bytes`.
read_owned(path)        a file the user gave (a profile, a credentials file): symlinks are followed, the
                        file must be a regular file owned by the user or root and not writable by group or
                        others, in directories that pass the checks below (every symlink on the way, the
                        file's own included, the user's or root's); at most `max_bytes` (so /dev/zero or a
                        FIFO cannot hang or fill memory).
parents_problem(path)   the same checks of the directories and symlinks leading to a file, for callers that
                        check the file itself by a stat result.
others_can_write(st)    whether another user may write what `st` describes (a private group's write bit
                        is the user's; a sticky bit does not count).

The directories a file lives in are walked from the root one component at a time, each opened relative
to its parent with O_NOFOLLOW (symlinks are resolved by hand), so nothing can be swapped between a check
and its use. Every directory passed must be owned by the user or root and, if group- or other-writable,
sticky (like /tmp: there only an entry's owner may rename or remove it); every symlink passed must be
owned by the user or root. This is OpenSSH's StrictModes walk, but from the root (not only up to the home
directory) and with sticky directories allowed; it costs an open and an fstat per directory (about
2 us each on Linux). Group-writable is fine where the group is the user's own private group (its only
member is the user, by primary group or by membership: Debian's and Ubuntu's user private groups,
whose umask 002 makes ~/.config and ~/.config/gcloud mode 0775), as Debian's OpenSSH allows; the
group database is read only when a group-write bit is set, once per group. Anything else raises
UnsafePathError (an OSError: its `strerror` names the path and what is wrong, `hint` the fix). Callers
translate it to their own error (a usage error, a profile error, a cache miss).

Platforms: the owner and mode checks need POSIX uids (not on Windows, where the files are created in
the user's profile directories and inherit their ACLs); O_NOFOLLOW and the race-free directory walk
need openat() (os.supports_dir_fd); elsewhere paths are used by name: files are still checked with
fstat where there are uids, directories are not, and writes still go through an O_EXCL temporary
file under a random name. Standard library
only, and nothing at module level that Windows lacks: the cache read path imports this module.
"""

import errno
import os
import stat

MAX_READ_BYTES = 1024 * 1024  # a profile, a key file, a cached token: all far smaller
_MAX_SYMLINKS = 40  # as Linux's MAXSYMLINKS

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # opening a FIFO must not wait for a writer
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_HAS_UIDS = hasattr(os, "getuid")
_WALK = bool(_NOFOLLOW and _DIRECTORY) and {os.open, os.mkdir, os.stat, os.readlink, os.rename,
                                             os.unlink} <= os.supports_dir_fd


class UnsafePathError(OSError):
    """A file or directory another user could control, or one that is not what it should be."""

    def __init__(self, path, problem, hint=None):
        super().__init__(errno.EPERM, f"{os.fspath(path)} {problem}", os.fspath(path))
        self.hint = hint

    def __str__(self):
        return self.strerror


def write(path, data, mode=0o600):
    """Atomically replace `path` with `data` (bytes, or str written as UTF-8), the new file `mode`."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    directory, name = _split(path)
    if not _WALK:
        _write_by_name(directory, name, data, mode)
        return
    dir_fd = _open_dir(directory, create=True)
    try:
        tmp, fd = _create_temporary(name, dir_fd)
        try:
            _write_all(fd, data, mode)
            os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            _unlink_quietly(tmp, dir_fd)
            raise
        try:
            os.fsync(dir_fd)  # the rename itself survives a crash
        except OSError:
            pass
    finally:
        os.close(dir_fd)


def make_dirs(path):
    """Create directory `path` and its missing parents, each 0700; raise UnsafePathError on an unsafe one."""
    if _WALK:
        os.close(_open_dir(os.path.abspath(path), create=True))
    else:
        _make_dirs_by_name(os.path.abspath(path))


def read_private(path, max_bytes=MAX_READ_BYTES):
    """The bytes of a file credhelper wrote for this user; UnsafePathError if another user could have."""
    directory, name = _split(path)
    flags = os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC | _BINARY
    dir_fd = _open_dir(directory, create=False) if _WALK else None
    try:
        fd = os.open(name if _WALK else path, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePathError(path, "is a symlink; credhelper's own files never are",
                                  hint=f"remove it: rm {path}") from None
        raise
    finally:
        if dir_fd is not None:
            os.close(dir_fd)
    return _read_checked(fd, path, max_bytes, forbidden=0o077, owners=_owners(root=False))


def read_owned(path, max_bytes=MAX_READ_BYTES):
    """The bytes of a file the user named; UnsafePathError unless it is theirs (or root's), not writable by
    others, and reached through directories and symlinks only they (or root) can change."""
    flags = os.O_RDONLY | _NONBLOCK | _CLOEXEC | _BINARY
    fd = _open_followed(path, flags) if _WALK and _HAS_UIDS else os.open(path, flags)
    return _read_checked(fd, path, max_bytes, forbidden=0o022, owners=_owners(root=True))


def parents_problem(path):
    """Why the directories (and symlinks) leading to file `path` must not be trusted (an UnsafePathError
    naming the first bad one), or None; for callers that check a file by its stat result (doctor, a
    subject token file). A path that cannot be walked (missing) is None: the caller reports that."""
    if not (_WALK and _HAS_UIDS):
        return None
    try:
        os.close(_open_followed(path, os.O_RDONLY | _NONBLOCK | _CLOEXEC | _BINARY))
    except UnsafePathError as exc:
        return exc
    except (OSError, ValueError):
        return None
    return None


def others_can_write(st):
    """Whether a user other than this one (or root) may write the file or directory with stat result `st`:
    it is theirs, or writable by others, or by a group that is not the user's private group (sticky or
    not: for a name that does not exist yet, anyone who may write the directory could create it first)."""
    owners = _owners(root=True)
    if not owners:
        return False
    return st.st_uid not in owners or bool(_foreign_write_bits(st))


def file_problem(st, path, forbidden=0o022):
    """Why a file with stat result `st` must not be trusted (an UnsafePathError), or None.

    For callers that already hold a stat result (doctor, a cache index): owner is the user or root,
    no `forbidden` mode bits."""
    if not stat.S_ISREG(st.st_mode):
        return UnsafePathError(path, "is not a regular file", hint="point credhelper at a regular file")
    owners = _owners(root=True)
    if owners and st.st_uid not in owners:
        return UnsafePathError(path, f"is owned by another user (uid {st.st_uid}); another user's file "
                                     "could send your credentials anywhere",
                               hint=f"use a copy you own: cp {path} ~/ && chmod 600 ~/{os.path.basename(path)}")
    if owners and _foreign_write_bits(st, forbidden):
        who = "group or others" if forbidden & 0o070 else "others"
        return UnsafePathError(path, f"is {'readable or writable' if forbidden & 0o044 else 'writable'} by {who} "
                                     f"(mode {stat.S_IMODE(st.st_mode):04o})", hint=f"chmod 600 {path}")
    return None


# -- reading ----------------------------------------------------------------------------------------

def _read_checked(fd, path, max_bytes, forbidden, owners):
    try:
        st = os.fstat(fd)
        problem = file_problem(st, path, forbidden)
        if problem is None and owners and st.st_uid not in owners:
            problem = UnsafePathError(path, f"is owned by another user (uid {st.st_uid})",
                                      hint=f"remove it: rm {path}")
        if problem is not None:
            raise problem
        # the size fstat gave in one read (then 64 KiB at a time, should it have grown): reading a 750 KB
        # file 64 KiB at a time and joining the chunks took 1 ms, one read 0.03 ms
        chunks, size, want = [], 0, st.st_size + 1
        while size <= max_bytes:
            chunk = os.read(fd, min(want, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            want = 65536
        if size > max_bytes:
            raise UnsafePathError(path, f"is larger than {max_bytes} bytes; it cannot be what credhelper expects",
                                  hint="check the path")
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    finally:
        os.close(fd)


_private_groups = {}  # gid -> whether the user is its only member (read once per process)


def _foreign_write_bits(st, forbidden=0o022):
    """The bits of `forbidden` st's mode has, but for the group-write bit of the user's private group."""
    return st.st_mode & forbidden & ~_private_group_bits(st, forbidden)


def _private_group_bits(st, forbidden):
    """The group-write bit, when `forbidden` holds only write bits (a file or directory the user gave, not
    one credhelper keeps private) and st's group is the user's private group; else 0."""
    if forbidden & ~0o022 or not st.st_mode & 0o020:
        return 0
    return 0o020 if _is_private_group(st.st_gid) else 0


def _is_private_group(gid):
    """Whether the only member of group gid is this user: no other account has it as its primary group
    or is listed in it, and the user is in it (Debian's OpenSSH user-group-modes rule)."""
    if gid not in _private_groups:
        _private_groups[gid] = _group_members_only_me(gid)
    return _private_groups[gid]


def _group_members_only_me(gid):
    try:
        import grp
        import pwd

        group = grp.getgrgid(gid)
        me = pwd.getpwuid(os.getuid())
        accounts = pwd.getpwall()
    except (ImportError, KeyError, OSError):
        return False  # an unknown group, or no group database: not known to be private
    if any(name != me.pw_name for name in group.gr_mem):
        return False
    if any(a.pw_gid == gid and a.pw_uid != me.pw_uid for a in accounts):
        return False
    return me.pw_gid == gid or me.pw_name in group.gr_mem


def _owners(root):
    if not _HAS_UIDS:
        return ()
    uid = os.getuid()
    return (uid, 0) if root else (uid,)


# -- the directory walk -----------------------------------------------------------------------------

def _split(path):
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    if name in ("", ".", "..") or path.endswith(("/", os.sep)):
        raise UnsafePathError(path, "names a directory, not a file", hint="give the path of a file")
    return directory, name


def _open_dir(path, create, start=None, walked="/"):
    """An O_DIRECTORY fd of `path` (absolute, or relative to the directory fd `start`, whose path for
    messages is `walked`), reached one checked component at a time."""
    fd = os.open("/", os.O_RDONLY | _DIRECTORY | _CLOEXEC) if start is None else os.dup(start)
    try:
        if start is None:
            walked = "/"
            _check_dir(fd, "/")
        pending = [p for p in path.split("/") if p][::-1]  # a stack: the next component last
        links = 0
        while pending:
            part = pending.pop()
            if part == ".":
                continue
            try:
                child = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                child = _make_child(part, fd, os.path.join(walked, part))
            except OSError as exc:
                # ELOOP (Linux) or ENOTDIR (macOS, BSD) for a symlink; ENOTDIR also for a plain file
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                    raise
                st = os.stat(part, dir_fd=fd, follow_symlinks=False)
                here = os.path.join(walked, part)
                if not stat.S_ISLNK(st.st_mode):
                    raise NotADirectoryError(errno.ENOTDIR, "Not a directory", here) from None
                links += 1
                if links > _MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, "Too many levels of symbolic links", path) from None
                owners = _owners(root=True)
                if owners and st.st_uid not in owners:
                    raise UnsafePathError(here, f"is a symlink owned by another user (uid {st.st_uid}); "
                                                "it could be pointed anywhere",
                                          hint="use a path without it") from None
                target = os.readlink(part, dir_fd=fd)
                pending.extend([p for p in target.split("/") if p][::-1])
                if target.startswith("/"):
                    os.close(fd)
                    fd = os.open("/", os.O_RDONLY | _DIRECTORY | _CLOEXEC)
                    walked = "/"
                continue
            os.close(fd)
            fd = child
            walked = os.path.dirname(walked) if part == ".." else os.path.join(walked, part)
            _check_dir(fd, walked)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _make_child(part, parent_fd, here):
    try:
        os.mkdir(part, 0o700, dir_fd=parent_fd)
    except FileExistsError:  # another process made it meanwhile: it is checked like any other
        pass
    else:
        child = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=parent_fd)
        os.fchmod(child, 0o700)  # mkdir's mode went through the umask
        return child
    return os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=parent_fd)


def _check_dir(fd, path):
    owners = _owners(root=True)
    if not owners:
        return
    st = os.fstat(fd)
    if st.st_uid not in owners:
        raise UnsafePathError(path, f"is a directory owned by another user (uid {st.st_uid}), who could "
                                    "replace what credhelper keeps in it", hint="use a directory of your own")
    if _foreign_write_bits(st) and not st.st_mode & stat.S_ISVTX:
        raise UnsafePathError(path, f"is a directory writable by {'others' if st.st_mode & 0o002 else 'its group'} "
                                    f"(mode {stat.S_IMODE(st.st_mode):04o}) and not sticky, so they could "
                                    "replace what credhelper keeps in it", hint=f"chmod go-w {path}")


def _open_followed(path, flags):
    """An fd of file `path` (symlinks followed by hand: each must be the user's or root's), every directory
    on the way checked (_check_dir); a bad one raises UnsafePathError naming it and `path`."""
    path = os.fspath(path)
    if path.endswith("/") or os.path.basename(path) in ("", ".", ".."):
        raise UnsafePathError(path, "names a directory, not a file", hint="give the path of a file")
    directory, name = os.path.split(path if os.path.isabs(path) else os.path.join(os.getcwd(), path))
    dir_fd = None
    try:
        dir_fd = _open_dir(directory, create=False)
        for _ in range(_MAX_SYMLINKS + 1):
            try:
                return os.open(name, flags | _NOFOLLOW, dir_fd=dir_fd)
            except OSError as exc:  # ELOOP (Linux, macOS) or EMLINK (FreeBSD) for a symlink
                if exc.errno not in (errno.ELOOP, errno.EMLINK) or not _is_symlink(name, dir_fd):
                    raise
            directory, name, dir_fd = _follow(directory, name, dir_fd)
        raise OSError(errno.ELOOP, "Too many levels of symbolic links", path)
    except UnsafePathError as exc:
        if exc.filename == path:
            raise
        raise UnsafePathError(path, f"is reached through {exc.strerror}", hint=exc.hint) from None
    finally:
        if dir_fd is not None:
            os.close(dir_fd)


def _is_symlink(name, dir_fd):
    return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)


def _follow(directory, name, dir_fd):
    """(directory, name, dir_fd) of where symlink `name` in dir_fd points, its directories checked; the
    symlink must be the user's or root's. dir_fd is closed (or returned, when the target is beside it)."""
    here = os.path.join(directory, name)
    uid = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_uid
    if uid not in _owners(root=True):
        raise UnsafePathError(here, f"is a symlink owned by another user (uid {uid}); it could be pointed "
                                    "anywhere", hint="use a path without it")
    target = os.readlink(name, dir_fd=dir_fd)
    sub, name = os.path.split(target)
    if target.endswith("/") or name in ("", ".", ".."):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", here)
    if not sub:
        return directory, name, dir_fd
    if sub.startswith("/"):
        new_fd = _open_dir(sub, create=False)
    else:
        new_fd = _open_dir(sub, create=False, start=dir_fd, walked=directory)
    os.close(dir_fd)
    return os.path.join(directory, sub), name, new_fd


def _create_temporary(name, dir_fd, directory=""):
    """(path, fd) of a new file next to `name`: a random name, created exclusively, never through a symlink.

    The path is relative to dir_fd, or else in `directory`."""
    for _ in range(100):
        tmp = os.path.join(directory, f".{name}.{os.urandom(6).hex()}.tmp")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | _BINARY, 0o600,
                                dir_fd=dir_fd)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "cannot create a temporary file", name)


def _write_all(fd, data, mode):
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)  # exactly `mode`, whatever the umask
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(name, dir_fd=None):
    try:
        if dir_fd is None:
            os.unlink(name)
        else:
            os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass


# -- platforms without openat (Windows): by name ----------------------------------------------------

def _make_dirs_by_name(path):
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass
        else:
            os.chmod(directory, 0o700)


def _write_by_name(directory, name, data, mode):
    _make_dirs_by_name(directory)
    tmp, fd = _create_temporary(name, None, directory)
    try:
        _write_all(fd, data, mode)
        os.replace(tmp, os.path.join(directory, name))
    except BaseException:
        _unlink_quietly(tmp)
        raise
