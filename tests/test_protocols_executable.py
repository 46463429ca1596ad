"""Google executable-sourced credentials: google-auth runs `credhelper executable` for real."""

import argparse
import base64
import json
import os
import stat
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credhelper.errors import ProtocolError
from credhelper.protocols import executable
from protocols_stubs import protocol_env, run_in_process
from support import write_profiles

EXIT_CODES = {0, 1, 2, 3, 130}
ID_TYPE = executable.ID_TOKEN_TYPE
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


@pytest.fixture
def world(tmp_path, emulator, sample):
    config = write_profiles(tmp_path / "profiles.ini", emulator.url, {
        "wif": {"source": sample.source_key},  # the source's own ID token: the provider maps its sub
        "denied": {"source": sample.source_key, "target": sample.delegate_c},
    }, cache="none")
    return config, protocol_env(tmp_path, config)


def run_exe(env, *args, **extra):
    return subprocess.run(["credhelper", "executable", *args], env={**env, **extra}, capture_output=True, text=True,
                          timeout=60)


def test_google_auth_refreshes_through_sts_and_reads_the_object(tmp_path, world, emulator, sample, monkeypatch):
    from google.auth import pluggable
    import google.auth.transport.requests

    config, env = world
    out = tmp_path / "wif.json"
    done = subprocess.run(["credhelper", "configure", "external-account", "--profile", "wif", "--audience",
                           sample.google_provider_audience, "--service-account-impersonation", sample.target,
                           "--output", str(out)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    info = json.loads(out.read_text())
    command = info["credential_source"]["executable"]["command"]
    assert os.path.isabs(command.split()[0]) and "executable --config" in command and "--profile wif" in command
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES", "1")
    creds = pluggable.Credentials.from_file(str(out), scopes=SCOPES)
    request = google.auth.transport.requests.Request()
    creds.refresh(request)
    assert emulator.counters["sts"] == 1 and emulator.counters["generateAccessToken"] == 1
    resp = request(f"{emulator.url}/storage/v1/b/{sample.bucket}/o/foo.txt?alt=media",
                   headers={"Authorization": f"Bearer {creds.token}"})
    assert resp.status == 200 and resp.data == b"bar"
    # no output_file: google-auth would answer from it without running credhelper (issue 12.11)
    assert "output_file" not in info["credential_source"]["executable"]


def claims(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_success_response_on_stdout_and_no_output_file(tmp_path, world, sample):
    _, env = world
    out = tmp_path / "run" / "out.json"
    request = {"GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE": sample.google_provider_audience,
               "GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE": ID_TYPE, "GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE": str(out)}
    first = run_exe(env, "--profile", "wif", **request)
    assert first.returncode == 0 and first.stderr == ""
    body = json.loads(first.stdout)
    assert set(body) == {"version", "success", "token_type", "id_token", "expiration_time"}
    assert body["version"] == 1 and body["success"] is True and body["token_type"] == ID_TYPE
    assert isinstance(body["expiration_time"], int)
    assert claims(body["id_token"])["aud"] == sample.google_provider_audience
    assert not out.exists()


def test_a_changed_profile_is_served_at_once_even_with_an_output_file(tmp_path, emulator, sample):
    """Issue 12.11: the answer for the old target must not come back from an output file."""
    config = tmp_path / "profiles.ini"
    env = protocol_env(tmp_path, config)
    out = tmp_path / "run" / "out.json"
    request = {"GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE": sample.google_provider_audience,
               "GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE": ID_TYPE, "GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE": str(out)}
    subjects = []
    for target in (sample.target, sample.delegate_b):
        write_profiles(config, emulator.url, {"wif": {"source": sample.source_key, "target": target}}, cache="file")
        done = run_exe(env, "--profile", "wif", **request)
        assert done.returncode == 0, done.stdout
        subjects.append(claims(json.loads(done.stdout)["id_token"])["sub"])
    assert subjects[0] != subjects[1]


@pytest.mark.parametrize("extra, code, exit_code", [
    ({}, "PROTOCOL", 2),  # no audience
    ({"GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE": "urn:ietf:params:oauth:token-type:saml2"}, "PROTOCOL", 2),
    ({"GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE": "bogus"}, "PROTOCOL", 2),
    ({"GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE": "yes"}, "PROTOCOL", 2),
])
def test_malformed_environment_gets_an_error_response(world, extra, code, exit_code):
    _, env = world
    done = run_exe(env, "--profile", "wif", **extra)
    assert done.returncode == exit_code and done.stderr == ""
    body = json.loads(done.stdout)
    assert body["version"] == 1 and body["success"] is False and body["code"] == code and body["message"]


def test_denied_chain_answers_on_stdout_only(world, sample, tmp_path):
    config, env = world
    os.chmod(config, 0o666)  # a profile file others can write is refused (issue 12.2): on stdout too
    done = run_exe(env, "--profile", "denied", GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE=sample.google_provider_audience)
    assert done.returncode == 3 and done.stderr == "" and json.loads(done.stdout)["code"] == "PROFILE"
    os.chmod(config, 0o600)
    done = run_exe(env, "--profile", "denied", GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE=sample.google_provider_audience)
    assert done.returncode == 1 and done.stderr == ""
    body = json.loads(done.stdout)
    assert body["success"] is False and body["code"] == "IMPERSONATION" and "id_token" not in body
    assert "cannot impersonate" in body["message"]


def test_verbose_logging_never_reaches_the_answer(world, sample):
    _, env = world
    for profile, status in (("wif", 0), ("denied", 1)):
        done = subprocess.run(["credhelper", "-vv", "executable", "--profile", profile], capture_output=True, text=True,
                              env={**env, "GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE": sample.google_provider_audience},
                              timeout=60)
        assert done.returncode == status and done.stderr == ""
        assert json.loads(done.stdout)["success"] is (status == 0)


def test_unknown_profile_is_a_profile_error(world, sample):
    _, env = world
    done = run_exe(env, "--profile", "nope", GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE="aud")
    assert done.returncode == 3 and done.stderr == "" and json.loads(done.stdout)["code"] == "PROFILE"


def test_revoke_removes_the_output_file(world, tmp_path):
    _, env = world
    out = tmp_path / "out.json"
    out.write_text("{}")
    done = run_exe(env, GOOGLE_EXTERNAL_ACCOUNT_REVOKE="1", GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE=str(out))
    assert done.returncode == 0 and json.loads(done.stdout) == {"version": 1, "success": True}
    assert not out.exists()


# -- hostile environments ------------------------------------------------------------------------

ENV_NAMES = ["GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE", "GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE",
             "GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE", "GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE",
             "GOOGLE_EXTERNAL_ACCOUNT_IMPERSONATED_EMAIL", "GOOGLE_EXTERNAL_ACCOUNT_REVOKE", "CREDHELPER_PROFILE"]
env_values = st.one_of(st.text(max_size=200).map(lambda s: s.replace("\x00", "")), st.sampled_from(
    ["", "0", "1", ID_TYPE, executable.JWT_TOKEN_TYPE, executable.SAML_TOKEN_TYPE, "x" * 9000, "default"]))
hostile_env = st.dictionaries(st.sampled_from(ENV_NAMES), env_values)


@settings(max_examples=300, deadline=None)
@given(hostile_env)
def test_parse_request_returns_or_raises_protocol_error(env):
    try:
        executable.parse_request(env)
    except ProtocolError:
        pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(env=hostile_env)
def test_any_environment_gets_one_json_line_and_no_stderr(tmp_path, capsys, env):
    config = tmp_path / "broken.ini"
    config.write_text("[default]\nsource = /nonexistent.json\n[profile x]\nsource = /nonexistent.json\n")
    args = argparse.Namespace(config=str(config), profile=None)
    env = {**env}
    env.pop("GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE", None)  # no stray files from random paths
    env.pop("GOOGLE_EXTERNAL_ACCOUNT_REVOKE", None)
    status, out, err = run_in_process("executable", args, env=env)
    captured = capsys.readouterr()
    assert err == "" and captured.err == "" and captured.out == ""
    lines = out.splitlines()
    assert len(lines) == 1
    body = json.loads(lines[0])
    assert body["version"] == 1 and body["success"] is False and status in EXIT_CODES - {0}


@pytest.mark.parametrize("env", [
    {"GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE": "\udcff" * 3},
    {"GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE": "\n\n{}"},
    {"GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE": "/proc/self/nope/x", "GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE": "a"},
    {"GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE": "a" * 10000},
])
def test_hostile_environment_in_a_real_process_never_tracebacks(world, env):
    _, base = world
    env = {k: v.encode("utf-8", "surrogateescape").decode("latin-1") if "\udcff" in v else v for k, v in env.items()}
    done = run_exe(base, "--profile", "wif", **env)
    assert "Traceback" not in done.stdout + done.stderr and done.stderr == ""
    assert done.returncode in EXIT_CODES
    json.loads(done.stdout)
