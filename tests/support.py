"""Helpers shared by the tests: profile files pointing at the emulator, and running the real CLI."""

import os
import subprocess
import sys

PROJECT = "credhelper-demo"


def email(name):
    return f"{name}@{PROJECT}.iam.gserviceaccount.com"


SOURCE = email("source-serviceaccount")
TARGET = email("target-serviceaccount")
DELEGATE_B = email("delegate-b")
DELEGATE_C = email("delegate-c")


def endpoints(url):
    return (f"token_endpoint = {url}/token\niam_endpoint = {url}\nsts_endpoint = {url}\n"
            f"resourcemanager_endpoint = {url}\n")


def write_profiles(path, url, profiles, cache="file"):
    """profiles: {name: {key: value}}; endpoint overrides for the emulator are added to each."""
    parts = [f"[cache]\nbackend = {cache}\n"] if cache else []
    for name, keys in profiles.items():
        header = "[default]" if name == "default" else f"[profile {name}]"
        body = "".join(f"{k} = {v}\n" for k, v in keys.items())
        parts.append(f"{header}\n{body}{endpoints(url)}")
    path.write_text("\n".join(parts))
    return str(path)


def cli_env(tmp_path, config=None, **extra):
    """An environment for running credhelper in a subprocess, isolated from the user's files."""
    env = dict(os.environ)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env.update({"XDG_RUNTIME_DIR": str(runtime), "XDG_CONFIG_HOME": str(tmp_path / "config"),
                "HOME": env.get("HOME", str(tmp_path)), "PYTHONDONTWRITEBYTECODE": "1"})
    for var in ("GOOGLE_APPLICATION_CREDENTIALS", "CREDHELPER_PROFILE", "CLOUDSDK_CONFIG", "GCE_METADATA_HOST"):
        env.pop(var, None)
    if config:
        env["CREDHELPER_CONFIG"] = str(config)
    env.update(extra)
    return env


def run_cli(args, env, input=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "credhelper", *args], env=env, input=input,
                          capture_output=True, text=True, timeout=timeout)


# -- a second local user (tests/run creates it when run as root, as CI does) -------------------------

def other_user():
    """(uid, gid) of the unprivileged second user; skips the calling test, saying why, when there is none."""
    import pwd

    import pytest

    name = os.environ.get("CREDHELPER_TEST_OTHER_USER")
    if not name or os.getuid() != 0:
        pytest.skip("needs a second local user: tests/run creates one when run as root (as CI runs it)")
    entry = pwd.getpwnam(name)
    return entry.pw_uid, entry.pw_gid


def primary_group_is_private():
    """Whether this user's primary group has no other member (checked here without credhelper's code)."""
    import grp
    import pwd

    me = pwd.getpwuid(os.getuid())
    if any(name != me.pw_name for name in grp.getgrgid(me.pw_gid).gr_mem):
        return False
    return all(a.pw_uid == me.pw_uid for a in pwd.getpwall() if a.pw_gid == me.pw_gid)


def shared_group(*paths):
    """Give paths the second user's group (one with another member), so that their group-write bit is
    another user's; True when done. Without a second user (not root) they keep this user's group, and
    False says whether a group-write bit still counts: not when that group is this user's private one."""
    name = os.environ.get("CREDHELPER_TEST_OTHER_USER")
    if name and os.getuid() == 0:
        import pwd

        gid = pwd.getpwnam(name).pw_gid
        for path in paths:
            os.chown(path, -1, gid)
        return True
    return not primary_group_is_private()


def as_other_user(func, *args):
    """func(*args) run by the second user in a forked child (/root, so the Python binary, is 0700 to it:
    no exec). Returns what func returns (picklable); an exception in the child is raised here as an
    AssertionError naming it."""
    return in_forked_child(func, *args, user=other_user())


def in_forked_child(func, *args, user=None):
    """func(*args) in a forked child (as user=(uid, gid) when given), so that what it changes in its
    process (limits, prctl flags, credentials) never reaches the test process. Returns what func
    returns (picklable); an exception in the child is raised here as an AssertionError naming it."""
    import pickle

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 0
        try:
            os.close(read_end)
            if user is not None:
                os.setgroups([])
                os.setgid(user[1])
                os.setuid(user[0])
            try:
                outcome = (True, func(*args))
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                outcome = (False, f"{type(exc).__name__}: {exc}")
            with os.fdopen(write_end, "wb") as f:
                pickle.dump(outcome, f)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    if not data:
        raise AssertionError("the forked child died without an answer")
    ok, value = pickle.loads(data)
    if not ok:
        raise AssertionError(f"in the forked child{' as the second user' if user else ''}: {value}")
    return value
