"""credhelper exec: the child runs as the profile's identity (token variables, or a private metadata
server with --metadata); its exit status and signals pass through. Real CLI, real children, the emulator."""

import json
import shutil
import signal
import socket
import subprocess
import sys

import pytest

from credhelper.errors import EXIT_USAGE
from credhelper.transport import Request
from support import SOURCE, TARGET, cli_env, run_cli, write_profiles


@pytest.fixture
def env(tmp_path, emulator, sample):
    config = write_profiles(tmp_path / "profiles.ini", emulator.url, {
        "t": {"source": sample.source_key, "target": TARGET},
        "denied": {"source": sample.source_key, "delegates": sample.delegate_c, "target": TARGET},
    })
    return cli_env(tmp_path, config, GOOGLE_APPLICATION_CREDENTIALS=str(sample.source_key))


def tokeninfo(emulator, token):
    resp = Request()(f"{emulator.url}/oauth2/v3/tokeninfo", method="POST", body=f"access_token={token}".encode(),
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    return json.loads(resp.data)


def py(code):
    return [sys.executable, "-c", code]


SHOW_ENV = ("import json, os; print(json.dumps({k: v for k, v in os.environ.items() "
            "if k.startswith(('CLOUDSDK_', 'GOOGLE_', 'GCE_', 'CREDHELPER_'))}))")


def test_child_gets_the_target_token_in_both_variables(emulator, env):
    result = run_cli(["exec", "--profile", "t", "--", *py(SHOW_ENV)], env)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    token = seen["CLOUDSDK_AUTH_ACCESS_TOKEN"]
    assert seen["GOOGLE_OAUTH_ACCESS_TOKEN"] == token
    assert tokeninfo(emulator, token)["email"] == TARGET
    assert seen["CREDHELPER_PROFILE"] == "t" and seen["CREDHELPER_CONFIG"] == env["CREDHELPER_CONFIG"]
    assert "GCE_METADATA_HOST" not in seen
    assert token not in result.stderr


def test_token_comes_from_the_cache_on_the_second_run(emulator, env):
    first = run_cli(["exec", "--profile", "t", "--", *py(SHOW_ENV)], env)
    second = run_cli(["exec", "--profile", "t", "--", *py(SHOW_ENV)], env)
    assert json.loads(first.stdout)["CLOUDSDK_AUTH_ACCESS_TOKEN"] == json.loads(second.stdout)["CLOUDSDK_AUTH_ACCESS_TOKEN"]
    assert emulator.counters["generateAccessToken"] == 1


def test_a_nested_credhelper_uses_the_same_profile(emulator, env):
    # without CREDHELPER_PROFILE the nested whoami would use [default]: plain ADC, the source account
    result = run_cli(["exec", "--profile", "t", "--", sys.executable, "-m", "credhelper", "whoami"], env)
    assert result.returncode == 0, result.stderr
    assert f"email:   {TARGET}" in result.stdout


def test_a_default_profile_file_that_does_not_exist_is_not_passed_to_the_child(tmp_path):
    # with no profile file anywhere (the gcloud form on ADC), CREDHELPER_CONFIG=<missing default path>
    # would make every nested credhelper fail with "profile file not found"
    import argparse

    from credhelper.execute import child_env
    from credhelper.profile import Profile

    args = argparse.Namespace(impersonate_service_account=None)
    missing = Profile(name="default", source="adc", target=TARGET, config_path=str(tmp_path / "absent.ini"))
    assert "CREDHELPER_CONFIG" not in child_env({}, args, missing)
    present = tmp_path / "profiles.ini"
    present.write_text("[default]\nsource = adc\n")
    assert child_env({}, args, missing.replace(config_path=str(present)))["CREDHELPER_CONFIG"] == str(present)


@pytest.mark.parametrize("code, status", [("import sys; sys.exit(7)", 7), ("pass", 0),
                                          ("import os, signal; os.kill(os.getpid(), signal.SIGTERM)", 128 + 15),
                                          ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", 128 + 9)])
def test_exit_status_passes_through_and_signal_deaths_are_128_plus_n(env, code, status):
    assert run_cli(["exec", "--profile", "t", "--", *py(code)], env).returncode == status


WAIT_FOR_SIGNAL = """
import signal, sys, time
def handler(signum, frame):
    print("child got", signum, flush=True)
    sys.exit(40 + signum)
signal.signal(signal.SIGTERM, handler)
signal.signal(signal.SIGINT, handler)
print("ready", flush=True)
time.sleep(60)
sys.exit(1)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_sent_to_credhelper_reach_the_child(env, sig):
    proc = subprocess.Popen([sys.executable, "-m", "credhelper", "exec", "--profile", "t", "--", *py(WAIT_FOR_SIGNAL)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert f"child got {int(sig)}" in out, err
    assert proc.returncode == 40 + int(sig)


@pytest.mark.parametrize("args", [["exec", "--profile", "t"], ["exec", "--profile", "t", "--"]])
def test_missing_command_is_a_usage_error(env, args):
    result = run_cli(args, env)
    assert result.returncode == EXIT_USAGE
    assert "exec needs a command" in result.stderr and "-- COMMAND" in result.stderr


def test_unknown_command_exits_127(env):
    result = run_cli(["exec", "--profile", "t", "--", "credhelper-no-such-command"], env)
    assert result.returncode == 127 and "command not found" in result.stderr


def test_a_denied_profile_fails_before_running_anything(tmp_path, env):
    marker = tmp_path / "ran"
    result = run_cli(["exec", "--profile", "denied", "--", *py(f"open({str(marker)!r}, 'w')")], env)
    assert result.returncode == 1 and "cannot impersonate" in result.stderr
    assert not marker.exists()


# -- --metadata ------------------------------------------------------------------------------------------

GOOGLE_AUTH_CHILD = """
import json, os
import google.auth
from google.auth.transport.requests import Request
creds, project = google.auth.default()
creds.refresh(Request())
print(json.dumps({"type": type(creds).__module__, "email": creds.service_account_email, "project": project,
                  "token": creds.token, "env": {k: os.environ.get(k) for k in (
                      "GCE_METADATA_HOST", "GCE_METADATA_IP", "GCE_METADATA_ROOT", "GOOGLE_APPLICATION_CREDENTIALS",
                      "CLOUDSDK_AUTH_ACCESS_TOKEN")}}))
"""


def test_metadata_mode_serves_the_child_through_google_auth_default(emulator, env):
    env = dict(env, CLOUDSDK_AUTH_ACCESS_TOKEN="inherited")
    result = run_cli(["exec", "--profile", "t", "--metadata", "--", *py(GOOGLE_AUTH_CHILD)], env)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["type"] == "google.auth.compute_engine.credentials"
    assert seen["email"] == TARGET and seen["project"] == "credhelper-demo"
    assert tokeninfo(emulator, seen["token"])["email"] == TARGET
    host = seen["env"]["GCE_METADATA_HOST"]
    assert host.startswith("127.0.0.1:") and seen["env"]["GCE_METADATA_IP"] == seen["env"]["GCE_METADATA_ROOT"] == host
    # ADC and token variables would shadow the metadata server, so the child does not inherit them
    assert seen["env"]["GOOGLE_APPLICATION_CREDENTIALS"] is None and seen["env"]["CLOUDSDK_AUTH_ACCESS_TOKEN"] is None
    # the server lived only as long as the child
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(host.rsplit(":", 1)[1])), timeout=2).close()


def test_metadata_mode_passes_the_exit_status_through(env):
    assert run_cli(["exec", "--profile", "t", "--metadata", "--", *py("import sys; sys.exit(3)")], env).returncode == 3


def test_metadata_mode_with_a_denied_profile_fails_before_running_anything(tmp_path, env):
    result = run_cli(["exec", "--profile", "denied", "--metadata", "--", *py("print('ran')")], env)
    assert result.returncode == 1 and "ran" not in result.stdout
    assert f"{SOURCE} cannot impersonate" in result.stderr


@pytest.mark.skipif(shutil.which("gcloud") is None, reason="gcloud is not installed")
def test_gcloud_uses_the_token_variable(tmp_path, env):
    (tmp_path / "gcloud").mkdir()
    env = dict(env, CLOUDSDK_CONFIG=str(tmp_path / "gcloud"), CLOUDSDK_CORE_DISABLE_PROMPTS="1")
    shown = run_cli(["exec", "--profile", "t", "--", *py(SHOW_ENV)], env)
    printed = run_cli(["exec", "--profile", "t", "--", "gcloud", "auth", "print-access-token"], env)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.strip() == json.loads(shown.stdout)["CLOUDSDK_AUTH_ACCESS_TOKEN"]
