import os
import subprocess

import pytest
from hypothesis import HealthCheck, settings

pytest_plugins = ["credhelper.emulator.pytest_plugin"]

# CI (CI=true, as .ci/run is run) explores the same examples on every run, so that a landing is
# decided by the change, not by which random inputs came up; run locally, each run explores anew.
# Neither judges speed: a loaded machine must not fail a property test for being slow.
settings.register_profile("ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


# gnome-keyring 42.1 (Debian's) has been seen to die a few times in a thousand client connections
# (credhelper/secretservice.py says what was measured); D-Bus then activates a new daemon whose
# keyring is locked, and every later keyring test would fail for that one crash. Under tests/run,
# a dead daemon is replaced with an unlocked one on the same keyring files before the next test,
# and said on the terminal and in $CREDHELPER_TEST_TMP/keyring-restarts, never silently.
KEYRING_PASSWORD = b"credhelper-tests"  # tests/run's: the keyring lives in its temporary directory


def _keyring_answers():
    from credhelper import secretservice

    try:
        secretservice.read_secret({"service": "credhelper-tests", "username": "probe"}, timeout_secs=10)
    except secretservice.Unavailable:
        return False
    return True


@pytest.fixture(autouse=True)
def _keyring_daemon_alive(request):
    tmp = os.environ.get("CREDHELPER_TEST_TMP")
    if os.environ.get("CREDHELPER_TEST_REQUIRE_KEYRING") != "1" or not tmp or _keyring_answers():
        yield
        return
    out = subprocess.run(["gnome-keyring-daemon", "--replace", "--components=secrets", "--unlock"],
                         input=KEYRING_PASSWORD, capture_output=True, timeout=30, start_new_session=True,
                         env=dict(os.environ, XDG_DATA_HOME=os.path.join(tmp, "data")))
    for line in out.stdout.decode(errors="replace").splitlines():
        name, sep, value = line.partition("=")
        if sep:
            os.environ[name] = value
    with open(os.path.join(tmp, "keyring-restarts"), "a") as f:
        f.write(f"before {request.node.nodeid}\n")
    yield


def pytest_terminal_summary(terminalreporter):
    """Every restart of the keyring daemon, in the summary CI prints."""
    path = os.path.join(os.environ.get("CREDHELPER_TEST_TMP", ""), "keyring-restarts")
    if os.environ.get("CREDHELPER_TEST_TMP") and os.path.exists(path):
        with open(path) as f:
            for line in f:
                terminalreporter.write_line(f"tests/run: the gnome-keyring daemon had died; restarted it {line.strip()}")
