"""credhelper.privatefile: private writes never follow a planted symlink, and private reads trust only the
user's own files; checked against real symlinks, real FIFOs, /dev/zero and (as root) a real second user."""

import os
import stat
import subprocess
import sys
import threading

import pytest

from credhelper import privatefile
from credhelper.privatefile import UnsafePathError
from support import other_user, primary_group_is_private


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def umask_zero():
    old = os.umask(0)
    yield
    os.umask(old)


# -- writing --------------------------------------------------------------------------------------------

def test_write_creates_a_0600_file_whatever_the_umask(tmp_path, umask_zero):
    path = tmp_path / "out"
    privatefile.write(path, "hello\n")
    assert path.read_text() == "hello\n" and mode(path) == 0o600
    privatefile.write(path, b"again")
    assert path.read_bytes() == b"again" and mode(path) == 0o600
    assert os.listdir(tmp_path) == ["out"]  # no temporary file left behind


def test_write_keeps_a_requested_mode(tmp_path):
    privatefile.write(tmp_path / "config.json", "{}", mode=0o644)
    assert mode(tmp_path / "config.json") == 0o644


def test_missing_parents_are_created_0700_whatever_the_umask(tmp_path, umask_zero):
    path = tmp_path / "a" / "b" / "c" / "out"
    privatefile.write(path, "x")
    for directory in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"):
        assert mode(directory) == 0o700
    privatefile.make_dirs(tmp_path / "d" / "e")
    assert mode(tmp_path / "d") == mode(tmp_path / "d" / "e") == 0o700


def test_a_symlink_planted_at_the_destination_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "out").symlink_to(victim)
    privatefile.write(tmp_path / "out", "new")
    assert victim.read_text() == "precious"
    assert not (tmp_path / "out").is_symlink() and (tmp_path / "out").read_text() == "new"


def test_symlinks_planted_at_every_predictable_temporary_name_are_never_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    for name in (f"out.{os.getpid()}.tmp", f"out.tmp{os.getpid()}", ".out.tmp", "out.tmp", f".out.{os.getpid()}.tmp"):
        (tmp_path / name).symlink_to(victim)
    privatefile.write(tmp_path / "out", "new")
    assert victim.read_text() == "precious" and (tmp_path / "out").read_text() == "new"


def test_a_directory_reached_through_our_own_symlink_is_fine(tmp_path):
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "rel").symlink_to("real")
    privatefile.write(tmp_path / "link" / "out", "x")
    privatefile.write(tmp_path / "rel" / "sub" / "out2", "y")
    assert (tmp_path / "real" / "out").read_text() == "x" and (tmp_path / "real" / "sub" / "out2").read_text() == "y"


def test_group_or_world_writable_directories_are_refused_unless_sticky(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(UnsafePathError, match="writable by others") as caught:
        privatefile.write(shared / "out", "x")
    assert caught.value.filename == str(shared) and "chmod go-w" in caught.value.hint
    assert not os.listdir(shared)
    shared.chmod(0o1777)  # like /tmp: nobody else can rename or remove our file
    privatefile.write(shared / "out", "x")
    assert (shared / "out").read_text() == "x"


def test_a_symlink_loop_is_an_error_not_a_hang(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(OSError):
        privatefile.write(tmp_path / "a" / "out", "x")


def test_a_directory_path_is_refused(tmp_path):
    with pytest.raises(UnsafePathError, match="directory, not a file"):
        privatefile.write(str(tmp_path) + "/", "x")


# -- another user's files and directories ---------------------------------------------------------------

def test_a_directory_owned_by_another_user_is_refused(tmp_path):
    uid, gid = other_user()
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, uid, gid)
    with pytest.raises(UnsafePathError, match=f"owned by another user \\(uid {uid}\\)"):
        privatefile.write(theirs / "out", "x")
    with pytest.raises(UnsafePathError):
        privatefile.make_dirs(theirs / "sub")
    assert not os.listdir(theirs)


def test_a_symlink_owned_by_another_user_is_not_followed(tmp_path):
    uid, gid = other_user()
    (tmp_path / "mine").mkdir(mode=0o700)
    link = tmp_path / "planted"
    link.symlink_to(tmp_path / "mine")
    os.lchown(link, uid, gid)
    with pytest.raises(UnsafePathError, match="symlink owned by another user"):
        privatefile.write(link / "out", "x")
    assert not os.listdir(tmp_path / "mine")


def test_read_private_refuses_another_users_file_and_a_symlink(tmp_path):
    uid, gid = other_user()
    planted = tmp_path / "token"
    planted.write_text("planted")
    planted.chmod(0o600)
    os.chown(planted, uid, gid)
    with pytest.raises(UnsafePathError, match="owned by another user"):
        privatefile.read_private(planted)
    with pytest.raises(UnsafePathError, match="owned by another user"):
        privatefile.read_owned(planted)


def test_read_owned_accepts_roots_file_read_private_only_ours(tmp_path):
    if os.getuid() == 0:
        pytest.skip("as root, root's files are the user's own")
    assert privatefile.read_owned("/etc/hostname") is not None
    with pytest.raises(UnsafePathError):
        privatefile.read_private("/etc/hostname")


# -- reading --------------------------------------------------------------------------------------------

def test_read_private_returns_what_write_wrote(tmp_path):
    privatefile.write(tmp_path / "sub" / "t", b"\x00token\xff")
    assert privatefile.read_private(tmp_path / "sub" / "t") == b"\x00token\xff"


def test_read_private_refuses_a_symlink_and_open_modes(tmp_path):
    privatefile.write(tmp_path / "real", "x")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(UnsafePathError, match="symlink"):
        privatefile.read_private(tmp_path / "link")
    (tmp_path / "real").chmod(0o640)
    with pytest.raises(UnsafePathError, match="mode 0640") as caught:
        privatefile.read_private(tmp_path / "real")
    assert caught.value.hint == f"chmod 600 {tmp_path / 'real'}"


def test_read_owned_follows_our_symlinks_but_refuses_writable_files(tmp_path):
    (tmp_path / "key.json").write_text("{}")
    (tmp_path / "key.json").chmod(0o644)
    (tmp_path / "link.json").symlink_to(tmp_path / "key.json")
    assert privatefile.read_owned(tmp_path / "link.json") == b"{}"
    (tmp_path / "key.json").chmod(0o646)
    with pytest.raises(UnsafePathError, match="writable by group or others"):
        privatefile.read_owned(tmp_path / "link.json")


def test_read_owned_takes_group_write_only_from_a_group_no_one_else_is_in(tmp_path):
    """User private groups (Debian, Ubuntu: umask 002) make files 0664; another member of the group could
    rewrite one, so a group with another member is refused."""
    uid, gid = other_user()
    key = tmp_path / "key.json"
    key.write_text("{}")
    key.chmod(0o664)
    os.chown(key, -1, gid)  # the second user's group: they are in it
    with pytest.raises(UnsafePathError, match="writable by group or others"):
        privatefile.read_owned(key)
    if primary_group_is_private():
        os.chown(key, -1, os.getgid())  # this user's own private group
        assert privatefile.read_owned(key) == b"{}"


def test_reads_are_bounded(tmp_path):
    (tmp_path / "big").write_bytes(b"x" * 101)
    (tmp_path / "big").chmod(0o600)
    assert len(privatefile.read_private(tmp_path / "big", max_bytes=101)) == 101
    with pytest.raises(UnsafePathError, match="larger than 100 bytes"):
        privatefile.read_private(tmp_path / "big", max_bytes=100)
    with pytest.raises(UnsafePathError, match="larger than 100 bytes"):
        privatefile.read_owned(tmp_path / "big", max_bytes=100)


def test_a_read_returns_the_whole_file_whatever_its_size_says(tmp_path):
    data = bytes(range(256)) * 1200  # 300 KiB: one read of the size fstat gives
    (tmp_path / "big").write_bytes(data)
    (tmp_path / "big").chmod(0o600)
    assert privatefile.read_private(tmp_path / "big", max_bytes=len(data)) == data
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "empty").chmod(0o600)
    assert privatefile.read_private(tmp_path / "empty") == b""
    # a regular file whose size says 0 but which holds more (as /proc files do): read to its end
    status = privatefile.read_owned("/proc/self/status")
    assert status.startswith(b"Name:") and status.endswith(b"\n") and len(status) > 100


def test_dev_zero_and_a_fifo_are_refused_at_once(tmp_path):
    with pytest.raises(UnsafePathError, match="not a regular file"):
        privatefile.read_owned("/dev/zero")
    os.mkfifo(tmp_path / "fifo", 0o600)
    outcome = []

    def read():
        try:
            outcome.append(privatefile.read_owned(tmp_path / "fifo"))
        except OSError as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(30)  # a blocking open would wait for a writer forever
    assert outcome, "reading a FIFO hung"
    assert isinstance(outcome[0], UnsafePathError) and "not a regular file" in str(outcome[0])


def test_missing_files_raise_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        privatefile.read_private(tmp_path / "absent")
    with pytest.raises(FileNotFoundError):
        privatefile.read_private(tmp_path / "absent-dir" / "absent")
    with pytest.raises(FileNotFoundError):
        privatefile.read_owned(tmp_path / "absent")


# -- platforms ------------------------------------------------------------------------------------------

def test_without_openat_paths_are_used_by_name(tmp_path, monkeypatch, umask_zero):
    monkeypatch.setattr(privatefile, "_WALK", False)
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "out").symlink_to(victim)
    privatefile.write(tmp_path / "new" / "out", "x")
    privatefile.write(tmp_path / "out", "y")
    assert victim.read_text() == "precious" and (tmp_path / "out").read_text() == "y"
    assert mode(tmp_path / "new") == 0o700 and mode(tmp_path / "new" / "out") == 0o600
    assert privatefile.read_private(tmp_path / "new" / "out") == b"x"


def test_the_module_imports_without_fcntl_or_pwd_and_only_os_and_stat():
    code = ("import sys; sys.modules['fcntl'] = sys.modules['pwd'] = sys.modules['grp'] = None; "
            "before = set(sys.modules); import credhelper.privatefile; "
            "print(sorted(m for m in set(sys.modules) - before if not m.startswith('credhelper')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- read_owned checks the directories above the file (leftover 4 of the last attack pass) ------------------

@pytest.fixture
def reachable():
    """A directory under /tmp the second user can reach (0711, root's), removed afterwards."""
    import shutil
    import tempfile

    other_user()
    path = tempfile.mkdtemp(prefix="credhelper-shared-", dir="/tmp")
    os.chmod(path, 0o711)
    yield path
    shutil.rmtree(path)


def make_pair(directory):
    """a.json and b.json, the user's own 0600 files (two identities), in `directory`."""
    for name in ("a.json", "b.json"):
        path = os.path.join(directory, name)
        with open(path, "w") as f:
            f.write(name)
        os.chmod(path, 0o600)


def swap(directory):
    """What the second user tries: put b.json where a.json was; the error's name, or None when it worked."""
    try:
        os.rename(os.path.join(directory, "b.json"), os.path.join(directory, "a.json"))
    except OSError as exc:
        return type(exc).__name__
    return None


@pytest.mark.parametrize("how", ["world-writable", "group-writable"])
def test_read_owned_refuses_a_file_in_a_directory_another_user_can_write(reachable, how):
    from support import as_other_user

    uid, gid = other_user()
    shared = os.path.join(reachable, "shared")
    os.mkdir(shared)
    make_pair(shared)
    if how == "group-writable":
        os.chown(shared, 0, gid)
    os.chmod(shared, 0o777 if how == "world-writable" else 0o770)
    assert as_other_user(swap, shared) is None  # the hole: they swapped the user's files
    with open(os.path.join(shared, "a.json")) as f:
        assert f.read() == "b.json"  # still the user's own file, of mode 0600: only its directory tells
    make_pair(shared)
    with pytest.raises(UnsafePathError) as caught:
        privatefile.read_owned(os.path.join(shared, "a.json"))
    assert shared in str(caught.value) and "not sticky" in str(caught.value)
    assert caught.value.hint == f"chmod go-w {shared}"


def test_read_owned_accepts_a_sticky_directory_where_the_other_user_cannot_swap(reachable):
    from support import as_other_user

    shared = os.path.join(reachable, "sticky")
    os.mkdir(shared)
    make_pair(shared)
    os.chmod(shared, 0o1777)  # like /tmp: only an entry's owner may rename or remove it
    assert as_other_user(swap, shared) == "PermissionError"
    assert privatefile.read_owned(os.path.join(shared, "a.json")) == b"a.json"


def test_read_owned_refuses_a_directory_or_symlink_of_another_user_on_the_way(reachable):
    from support import as_other_user

    uid, gid = other_user()
    theirs = os.path.join(reachable, "theirs")
    os.mkdir(theirs)
    make_pair(theirs)
    os.chown(theirs, uid, gid)
    os.chmod(theirs, 0o755)
    with pytest.raises(UnsafePathError, match=f"{theirs} is a directory owned by another user"):
        privatefile.read_owned(os.path.join(theirs, "a.json"))
    # a symlink the other user planted in a sticky directory, to the user's own file: not followed
    sticky = os.path.join(reachable, "sticky")
    os.mkdir(sticky)
    os.chmod(sticky, 0o1777)
    mine = os.path.join(reachable, "mine")
    os.mkdir(mine, 0o755)
    make_pair(mine)
    as_other_user(os.symlink, os.path.join(mine, "b.json"), os.path.join(sticky, "a.json"))
    with pytest.raises(UnsafePathError, match="symlink owned by another user"):
        privatefile.read_owned(os.path.join(sticky, "a.json"))
    # the user's own symlinks are followed, through checked directories, relative to where they are
    os.symlink("../mine/b.json", os.path.join(sticky, "mine.json"))
    assert privatefile.read_owned(os.path.join(sticky, "mine.json")) == b"b.json"
    os.symlink(os.path.join(theirs, "a.json"), os.path.join(mine, "into-theirs.json"))
    with pytest.raises(UnsafePathError, match="owned by another user"):
        privatefile.read_owned(os.path.join(mine, "into-theirs.json"))
