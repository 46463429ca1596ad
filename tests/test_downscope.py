"""Downscoped tokens: source -> impersonated -> downscoped through STS, over real HTTP against the emulator.

The emulator's storage endpoint enforces both the bucket's IAM policy and every access boundary
a token carries, so "inside the boundary reads, outside is denied" is checked end to end.
"""

import json

import pytest

from credhelper import downscope
from credhelper.errors import EXIT_AUTH, EXIT_PROFILE, ProfileError
from credhelper.transport import Request
from support import TARGET, cli_env, run_cli, write_profiles

BUCKET = "credhelper-demo-test"
VIEWER = "roles/storage.objectViewer"
PREFIX_CONDITION = f"resource.name.startsWith('projects/_/buckets/{BUCKET}/objects/pre/')"


@pytest.fixture
def world(emulator, sample):
    # an object under the prefix the conditional boundary allows (foo.txt stays outside it)
    emulator.world.buckets[BUCKET].objects.setdefault("pre/inside.txt", b"inside")
    return emulator


def read(emulator, token, name):
    resp = Request()(f"{emulator.url}/storage/v1/b/{BUCKET}/o/{name}?alt=media",
                     headers={"Authorization": f"Bearer {token}"})
    return resp.status, resp.data


def profiles_with(tmp_path, emulator, sample, **boundaries):
    return write_profiles(tmp_path / "profiles.ini", emulator.url, {
        name: {"source": sample.source_key, "target": TARGET, "access_boundary": value}
        for name, value in boundaries.items()})


def mint(tmp_path, config, profile):
    result = run_cli(["print-access-token", "--profile", profile], cli_env(tmp_path, config))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


# -- the boundary as STS wants it --------------------------------------------------------------------

def test_inline_boundary_makes_one_rule_for_the_bucket():
    rule = downscope.inline_rule(f"bucket=b1, role={VIEWER}")
    assert rule == {"availableResource": "//storage.googleapis.com/projects/_/buckets/b1",
                    "availablePermissions": [f"inRole:{VIEWER}"]}


def test_inline_condition_keeps_its_commas_and_quotes():
    expr = "resource.name.startsWith('projects/_/buckets/b1/objects/a,b') || resource.name == 'x, role=y'"
    rule = downscope.inline_rule(f"bucket=b1, role={VIEWER}, condition={expr}")
    assert rule["availabilityCondition"] == {"expression": expr}


@pytest.mark.parametrize("value", ["bucket=b1", f"role={VIEWER}", "bucket=b1, role=", "bucket=b1, role=r, colour=red",
                                   "bucket=b1, bucket=b2, role=r"])
def test_inline_boundary_mistakes_are_profile_errors(value):
    with pytest.raises(ProfileError) as exc:
        downscope.inline_rule(value, "p")
    assert "profile 'p': access_boundary" in exc.value.message and "bucket=B, role=" in exc.value.hint


RULE = {"availableResource": f"//storage.googleapis.com/projects/_/buckets/{BUCKET}",
        "availablePermissions": [f"inRole:{VIEWER}"]}


@pytest.mark.parametrize("content", [{"accessBoundary": {"accessBoundaryRules": [RULE]}},
                                     {"accessBoundaryRules": [RULE]}])
def test_boundary_files_with_or_without_the_accessBoundary_wrapper(tmp_path, content):
    path = tmp_path / "cab.json"
    path.write_text(json.dumps(content))
    assert downscope.load_rules(str(path)) == [RULE]


@pytest.mark.parametrize("content, what", [
    ("{not json", "not valid JSON"),
    ("[]", "accessBoundaryRules"),
    ('{"accessBoundary": {}}', "accessBoundaryRules"),
    ('{"accessBoundaryRules": []}', "non-empty list"),
    ('{"accessBoundaryRules": [{"availablePermissions": ["inRole:r"]}]}', "rule 1: \"availableResource\""),
    ('{"accessBoundaryRules": [{"availableResource": "//s/b", "availablePermissions": ["roles/x"]}]}',
     "rule 1: \"availablePermissions\""),
    ('{"accessBoundaryRules": [{"availableResource": "//s/b", "availablePermissions": ["inRole:r"], '
     '"availabilityCondition": {"title": "t"}}]}', "availabilityCondition"),
    ('{"accessBoundaryRules": [{"availableResource": "//s/b", "availablePermissions": ["inRole:r"], "x": 1}]}',
     "unknown field 'x'"),
])
def test_bad_boundary_files_are_named_in_the_error(tmp_path, content, what):
    path = tmp_path / "cab.json"
    path.write_text(content)
    with pytest.raises(ProfileError) as exc:
        downscope.load_rules(str(path))
    assert exc.value.message.startswith(f"access boundary file {path}: ") and what in exc.value.message
    assert "accessBoundaryRules" in exc.value.hint


# -- end to end against the emulator -----------------------------------------------------------------

def test_downscoped_token_reads_inside_the_boundary_and_is_denied_outside(tmp_path, world, sample):
    config = profiles_with(tmp_path, world, sample, prefix=f"bucket={BUCKET}, role={VIEWER}, condition={PREFIX_CONDITION}",
                           whole=f"bucket={BUCKET}, role={VIEWER}", other=f"bucket=another-bucket, role={VIEWER}")
    prefix = mint(tmp_path, config, "prefix")
    assert read(world, prefix, "pre/inside.txt") == (200, b"inside")
    assert read(world, prefix, "foo.txt")[0] == 403
    whole = mint(tmp_path, config, "whole")
    assert read(world, whole, "foo.txt") == (200, b"bar")
    assert read(world, mint(tmp_path, config, "other"), "foo.txt")[0] == 403
    assert world.counters["sts"] == 3


def test_boundary_file_end_to_end_and_the_exchange_is_what_google_auth_sends(tmp_path, world, sample):
    cab = tmp_path / "cab.json"
    cab.write_text(json.dumps({"accessBoundary": {"accessBoundaryRules": [
        dict(RULE, availabilityCondition={"expression": PREFIX_CONDITION, "title": "pre only"})]}}))
    config = profiles_with(tmp_path, world, sample, file=str(cab))
    token = mint(tmp_path, config, "file")
    assert read(world, token, "pre/inside.txt") == (200, b"inside")
    assert read(world, token, "foo.txt")[0] == 403
    downscoped = [e for e in world.audit if "downscope" in json.dumps(e)]
    assert downscoped, world.audit


def test_downscoped_tokens_are_cached_like_any_other(tmp_path, world, sample):
    config = profiles_with(tmp_path, world, sample, whole=f"bucket={BUCKET}, role={VIEWER}")
    assert mint(tmp_path, config, "whole") == mint(tmp_path, config, "whole")
    assert world.counters["sts"] == 1


def test_sts_refusal_names_the_endpoint_and_never_echoes_a_token(tmp_path, world, sample):
    config = profiles_with(tmp_path, world, sample, bad=f"bucket={BUCKET}, role=roles/owner")
    result = run_cli(["print-access-token", "--profile", "bad"], cli_env(tmp_path, config))
    assert result.returncode == EXIT_AUTH
    assert f"STS at {world.url}/v1/token refused" in result.stderr and "invalid_request" in result.stderr
    assert "ya29." not in result.stderr + result.stdout


def test_unreachable_sts_is_an_upstream_error_naming_it(tmp_path, world, sample):
    config = tmp_path / "profiles.ini"
    config.write_text(f"[cache]\nbackend = none\n[profile p]\nsource = {sample.source_key}\ntarget = {TARGET}\n"
                      f"token_endpoint = {world.url}/token\niam_endpoint = {world.url}\n"
                      f"sts_endpoint = http://127.0.0.1:9\naccess_boundary = bucket={BUCKET}, role={VIEWER}\n")
    result = run_cli(["print-access-token", "--profile", "p"],
                     cli_env(tmp_path, config, CREDHELPER_DEADLINE_SECS="3"))
    assert result.returncode == EXIT_AUTH
    assert "STS token exchange at http://127.0.0.1:9/v1/token failed" in result.stderr


def test_broken_boundary_file_is_a_profile_error_at_mint_time(tmp_path, world, sample):
    cab = tmp_path / "cab.json"
    cab.write_text('{"accessBoundaryRules": "all of them"}')
    config = profiles_with(tmp_path, world, sample, p=str(cab))
    result = run_cli(["print-access-token", "--profile", "p"], cli_env(tmp_path, config))
    assert result.returncode == EXIT_PROFILE
    assert f"access boundary file {cab}" in result.stderr
