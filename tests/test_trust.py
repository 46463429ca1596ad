"""Trust boundaries (issue 12), tried from outside as an attacker would: a second local user, a web page,
a planted symlink, a hostile profile file, a hostile upstream. Each test drives the real CLI.

A test whose fix has not landed yet is marked xfail(strict=True) with the item and its owner: it fails
today, and the day the fix lands it passes, which fails the suite until the owner removes the mark."""

import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from credhelper.errors import EXIT_USAGE
from support import TARGET, cli_env, other_user, write_profiles


@pytest.fixture
def config(tmp_path, emulator, sample):
    return write_profiles(tmp_path / "profiles.ini", emulator.url, {
        "t": {"source": sample.source_key, "target": TARGET},
    })


def wait_for(path, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"{proc.args} wrote no {path} (exit {proc.returncode}): {err}")
        time.sleep(0.05)
    return path.read_text()


def terminate(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


# -- 3. writes never follow a planted symlink ------------------------------------------------------------

# An attacker who can predict the process id plants a symlink at every temporary name credhelper might
# use. This wrapper plays the attacker for its own pid, then becomes credhelper (exec keeps the pid).
PLANT_THEN_EXEC = """
import os, sys
victim, url_file, *argv = sys.argv[1:]
pid = os.getpid()
for name in (f"{url_file}.{pid}.tmp", f"{url_file}.tmp{pid}", f"{url_file}.tmp"):
    os.symlink(victim, name)
os.execv(sys.executable, [sys.executable, "-m", "credhelper", *argv])
"""


@pytest.mark.parametrize("command", [["serve-metadata", "--profile", "t"], ["emulator", "--port", "0"]],
                         ids=["serve-metadata", "emulator"])
def test_3_url_file_never_writes_through_a_symlink_planted_at_its_temporary_name(tmp_path, config, command):
    victim = tmp_path / "victim"
    victim.write_text("the victim's file\n")
    url_file = tmp_path / "url"
    proc = subprocess.Popen([sys.executable, "-c", PLANT_THEN_EXEC, str(victim), str(url_file), *command,
                             "--url-file", str(url_file)], env=cli_env(tmp_path, config),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        advertised = wait_for(url_file, proc)
    finally:
        terminate(proc)
    assert victim.read_text() == "the victim's file\n"
    assert "127.0.0.1:" in advertised


def test_3_url_file_parents_are_created_0700_and_the_file_0600_whatever_the_umask(tmp_path, config):
    url_file = tmp_path / "run" / "credhelper" / "url"
    proc = subprocess.Popen([sys.executable, "-m", "credhelper", "serve-metadata", "--profile", "t",
                             "--url-file", str(url_file)], env=cli_env(tmp_path, config), umask=0,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(url_file, proc)
        modes = [stat.S_IMODE(os.stat(p).st_mode) for p in (url_file.parent.parent, url_file.parent, url_file)]
    finally:
        terminate(proc)
    assert modes == [0o700, 0o700, 0o600]


@pytest.mark.parametrize("command", [["serve-metadata", "--profile", "t"], ["emulator", "--port", "0"]],
                         ids=["serve-metadata", "emulator"])
def test_3_url_file_in_a_directory_another_user_controls_is_refused(tmp_path, config, command):
    uid, gid = other_user()
    theirs = tmp_path / "shared"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, uid, gid)  # they could swap the file for one that sends clients to their server
    proc = subprocess.Popen([sys.executable, "-m", "credhelper", *command, "--url-file", str(theirs / "url")],
                            env=cli_env(tmp_path, config), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pass
    out, err = terminate(proc)
    assert proc.returncode == EXIT_USAGE, err
    assert f"{theirs} is a directory owned by another user" in err and "Traceback" not in err
    assert not os.listdir(theirs)


def test_3_url_file_through_a_symlink_another_user_planted_is_refused(tmp_path, config):
    uid, gid = other_user()
    (tmp_path / "mine").mkdir(mode=0o700)
    planted = tmp_path / "planted"
    planted.symlink_to(tmp_path / "mine")  # today it points at our directory; its owner can repoint it
    os.lchown(planted, uid, gid)
    result = subprocess.run([sys.executable, "-m", "credhelper", "serve-metadata", "--profile", "t",
                             "--url-file", str(planted / "url")], env=cli_env(tmp_path, config),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == EXIT_USAGE
    assert f"{planted} is a symlink owned by another user" in result.stderr
    assert not os.listdir(tmp_path / "mine")
