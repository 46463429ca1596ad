"""credhelper doctor and whoami against the emulator: one line per check, the failing hop named with
the gcloud command that fixes it (applied here to prove it does), exit codes, and never a token."""

import dataclasses
import re
import shlex
import shutil

import pytest

from credhelper.emulator import Emulator
from credhelper.emulator.world import Policy
from credhelper.errors import EXIT_AUTH, EXIT_PROFILE
from support import DELEGATE_B, DELEGATE_C, SOURCE, TARGET, cli_env, run_cli, write_profiles

TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"
BUCKET = "credhelper-demo-test"


def profiles(tmp_path, url, key):
    return write_profiles(tmp_path / "profiles.ini", url, {
        "t": {"source": key, "target": TARGET},
        "two": {"source": key, "delegates": f"{DELEGATE_B}, {DELEGATE_C}", "target": TARGET},
        "hop1": {"source": key, "delegates": DELEGATE_C, "target": TARGET},
        "hop2": {"source": key, "delegates": DELEGATE_B, "target": TARGET},
        "bounded": {"source": key, "target": TARGET,
                    "access_boundary": f"bucket={BUCKET}, role=roles/storage.objectViewer"},
        "badbound": {"source": key, "target": TARGET, "access_boundary": f"bucket={BUCKET}, role=roles/owner"},
        "next": {"source": "profile:t", "target": DELEGATE_B},
    })


@pytest.fixture
def env(tmp_path, emulator, sample):
    return cli_env(tmp_path, profiles(tmp_path, emulator.url, sample.source_key))


def doctor(env, *args):
    result = run_cli(["doctor", *args], env)
    assert "ya29." not in result.stdout + result.stderr and "eyJ" not in result.stdout + result.stderr
    return result


def statuses(stdout):
    return [line.split()[0] for line in stdout.splitlines() if line and not line.startswith(" ") and "check(s)" not in line]


def grant_command(account, member):
    return (f"gcloud iam service-accounts add-iam-policy-binding {account} --member={member} "
            f"--role={TOKEN_CREATOR} --project=credhelper-demo")


def test_a_healthy_profile_passes_every_check(env):
    result = doctor(env, "--profile", "t")
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(statuses(result.stdout)) == {"ok"}
    for expected in ("profile file ", "profile 't' resolves: " + f"{SOURCE} -> {TARGET}",
                     "source credential refreshes: service_account " + SOURCE,
                     f"hop 1 of 1: {SOURCE} -> {TARGET}: generateAccessToken allowed",
                     f"final token: email {TARGET}, scopes https://www.googleapis.com/auth/cloud-platform, expiry ",
                     "cache: file"):
        assert expected in result.stdout


def test_every_hop_of_a_delegation_chain_is_checked(emulator, env):
    result = doctor(env, "--profile", "two")
    assert result.returncode == 0, result.stdout
    for i, (caller, account) in enumerate([(SOURCE, DELEGATE_B), (DELEGATE_B, DELEGATE_C), (DELEGATE_C, TARGET)], 1):
        assert f"ok    hop {i} of 3: {caller} -> {account}: generateAccessToken allowed" in result.stdout
    assert emulator.counters["generateAccessToken"] == 3


@pytest.mark.parametrize("profile, hop, caller, account", [
    ("hop1", "hop 1 of 2", SOURCE, DELEGATE_C),
    ("hop2", "hop 2 of 2", DELEGATE_B, TARGET),
    ("next", "hop 1 of 1", TARGET, DELEGATE_B),
])
def test_a_denied_hop_is_named_with_the_exact_gcloud_fix(env, profile, hop, caller, account):
    result = doctor(env, "--profile", profile)
    assert result.returncode == EXIT_AUTH
    lines = result.stdout.splitlines()
    failed = [i for i, line in enumerate(lines) if line.startswith("FAIL")]
    assert len(failed) == 1
    assert lines[failed[0]] == (f"FAIL  {hop}: {caller} cannot impersonate {account}: "
                                f"permission iam.serviceAccounts.getAccessToken denied, or {account} does not exist")
    assert lines[failed[0] + 1].startswith(f"      fix: check that it exists with: gcloud iam service-accounts describe {account} ")
    assert lines[failed[0] + 1].endswith("; then grant it with: " + grant_command(account, f"serviceAccount:{caller}"))
    assert "final token" not in result.stdout
    assert "ok    cache: file" in result.stdout  # the checks that do not depend on the chain still run
    assert lines[-1] == "1 check(s) failed"


def test_the_printed_fix_is_the_one_that_works(tmp_path):
    emulator, sample = Emulator.sample(tmp_path / "world")
    with emulator:
        env = cli_env(tmp_path, profiles(tmp_path, emulator.url, sample.source_key))
        result = doctor(env, "--profile", "hop1")  # source -> delegate-c is missing
        assert result.returncode == EXIT_AUTH
        fix = re.search(r"grant it with: (gcloud iam service-accounts add-iam-policy-binding .*)", result.stdout).group(1)
        apply_grant(emulator, shlex.split(fix))
        result = doctor(env, "--profile", "hop1")
        assert result.returncode == 0, result.stdout
        assert f"hop 1 of 2: {SOURCE} -> {DELEGATE_C}: generateAccessToken allowed" in result.stdout


def apply_grant(emulator, argv):
    """Do what `gcloud iam service-accounts add-iam-policy-binding` would, to the emulator's world."""
    assert argv[:4] == ["gcloud", "iam", "service-accounts", "add-iam-policy-binding"]
    flags = dict(arg[2:].split("=", 1) for arg in argv[5:])
    account = emulator.world.service_accounts[argv[4]]
    assert flags["project"] == account.project_id
    policy = Policy(account.policy.bindings + ((flags["role"], frozenset({flags["member"]})),))
    emulator.world.service_accounts[argv[4]] = dataclasses.replace(account, policy=policy)


def test_a_broken_profile_exits_3(env):
    result = doctor(env, "--profile", "nope")
    assert result.returncode == EXIT_PROFILE
    assert "FAIL  profile: " in result.stdout and "no profile named 'nope'" in result.stdout
    assert "      fix: profiles in " in result.stdout


def test_a_broken_credentials_or_boundary_file_exits_3(tmp_path, emulator):
    key = tmp_path / "key.json"
    key.write_text('{"type": "service_account", "client_email": "x@p.iam.gserviceaccount.com"}')
    key.chmod(0o600)
    cab = tmp_path / "cab.json"
    cab.write_text('{"accessBoundaryRules": []}')
    config = tmp_path / "profiles.ini"
    config.write_text(f"[cache]\nbackend = file\n[profile key]\nsource = {key}\ntarget = {TARGET}\n"
                      f"[profile cab]\nsource = {key}\naccess_boundary = {cab}\n")
    env = cli_env(tmp_path, config)
    result = doctor(env, "--profile", "key")
    assert result.returncode == EXIT_PROFILE and f"FAIL  source credential: {key}: not a usable" in result.stdout
    result = doctor(env, "--profile", "cab")
    assert result.returncode == EXIT_PROFILE
    assert f"FAIL  access boundary: access boundary file {cab}: " in result.stdout


def test_a_key_file_others_can_read_is_a_warning_with_its_fix(tmp_path, emulator, sample):
    key = tmp_path / "key.json"
    shutil.copy(sample.source_key, key)
    key.chmod(0o644)
    env = cli_env(tmp_path, profiles(tmp_path, emulator.url, key))
    result = doctor(env, "--profile", "t")
    assert result.returncode == 0
    assert f"warn  credentials file {key} is readable by other users (mode 644)" in result.stdout
    assert f"      fix: chmod 600 {key}" in result.stdout


def test_a_source_that_cannot_refresh_fails_and_stops_there(tmp_path, sample):
    config = tmp_path / "profiles.ini"
    config.write_text(f"[cache]\nbackend = file\n[profile p]\nsource = {sample.source_key}\ntarget = {TARGET}\n"
                      "token_endpoint = http://127.0.0.1:9/token\n")
    result = doctor(cli_env(tmp_path, config, CREDHELPER_DEADLINE_SECS="2"), "--profile", "p")
    assert result.returncode == EXIT_AUTH
    assert "FAIL  source credential: " in result.stdout and "hop 1" not in result.stdout


def test_the_access_boundary_is_exchanged_and_a_refusal_fails(env):
    result = doctor(env, "--profile", "bounded")
    assert result.returncode == 0 and "ok    access boundary: STS at " in result.stdout
    result = doctor(env, "--profile", "badbound")
    assert result.returncode == EXIT_AUTH and "FAIL  access boundary: " in result.stdout


def test_doctor_mints_fresh_even_when_a_token_is_cached(emulator, env):
    assert run_cli(["print-access-token", "--profile", "t"], env).returncode == 0
    assert doctor(env, "--profile", "t").returncode == 0
    assert emulator.counters["generateAccessToken"] == 2


# -- whoami ----------------------------------------------------------------------------------------------

def test_whoami_shows_identity_scopes_expiry_and_chain_but_never_the_token(env):
    token = run_cli(["print-access-token", "--profile", "two"], env).stdout.strip()
    result = run_cli(["whoami", "--profile", "two"], env)
    assert result.returncode == 0, result.stderr
    assert token not in result.stdout + result.stderr
    fields = dict(line.split(":", 1) for line in result.stdout.splitlines())
    assert fields["email"].strip() == TARGET
    assert fields["scopes"].strip() == "https://www.googleapis.com/auth/cloud-platform"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in \d+ s\)$", fields["expiry"].strip())
    assert fields["chain"].strip() == f"{SOURCE} -> {DELEGATE_B} -> {DELEGATE_C} -> {TARGET}"
    assert fields["profile"].strip() == "two"


def test_whoami_uses_the_cache_and_posts_the_token_to_tokeninfo(tmp_path):
    lines = []
    emulator, sample = Emulator.sample(tmp_path / "world", log=lines.append)
    with emulator:
        env = cli_env(tmp_path, profiles(tmp_path, emulator.url, sample.source_key))
        assert run_cli(["whoami", "--profile", "t"], env).returncode == 0
        assert run_cli(["whoami", "--profile", "t"], env).returncode == 0
        assert emulator.counters["generateAccessToken"] == 1 and emulator.counters["tokeninfo"] == 2
    assert [line for line in lines if "tokeninfo" in line] == ["POST /oauth2/v3/tokeninfo 200"] * 2


def test_whoami_with_a_denied_chain_fails_with_the_fix(env):
    result = run_cli(["whoami", "--profile", "hop2"], env)
    assert result.returncode == EXIT_AUTH
    assert "cannot impersonate" in result.stderr and "add-iam-policy-binding" in result.stderr
