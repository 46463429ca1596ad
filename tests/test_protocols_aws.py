"""AWS credentials from a Google identity: the real AWS CLI and boto3 run credhelper through
credential_process, credhelper exchanges the emulator's ID token at moto's STS server
(AssumeRoleWithWebIdentity), and `sts get-caller-identity` answers as the assumed role."""

import json
import os
import subprocess
import sys

import pytest

from credhelper.protocols import aws
from protocols_stubs import StubServer, moto_sts, protocol_env  # noqa: F401 (moto_sts: a fixture)
from support import write_profiles

ROLE = "arn:aws:iam::123456789012:role/gcp-deploy"
ACCOUNT = "123456789012"


@pytest.fixture
def world(tmp_path, emulator, sample, moto_sts):
    def make(**extra):
        keys = {"source": sample.source_key, "target": sample.target, "aws_role_arn": ROLE,
                "aws_sts_endpoint": moto_sts, **extra}
        config = write_profiles(tmp_path / "profiles.ini", emulator.url, {"aws": keys}, cache="file")
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        env = protocol_env(tmp_path, config, HOME=str(home), AWS_CONFIG_FILE=str(home / ".aws" / "config"),
                           AWS_SHARED_CREDENTIALS_FILE=str(home / ".aws" / "credentials"), AWS_EC2_METADATA_DISABLED="true")
        for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
                     "AWS_DEFAULT_REGION"):
            env.pop(name, None)
        return env

    return make


def credhelper(env, *args, **kw):
    return subprocess.run(["credhelper", *args], env=env, capture_output=True, text=True, timeout=120, **kw)


def configure(env, aws_profile="gcp"):
    done = credhelper(env, "configure", "aws", "--profile", "aws", "--aws-profile", aws_profile)
    assert done.returncode == 0, done.stderr
    return done


def test_aws_cli_runs_credhelper_through_credential_process(world, moto_sts, emulator):
    env = world()
    configure(env)
    text = open(env["AWS_CONFIG_FILE"]).read()
    assert "[profile gcp]" in text and "credential_process = /" in text and "aws-credential-process" in text
    done = subprocess.run(["aws", "sts", "get-caller-identity", "--profile", "gcp", "--endpoint-url", moto_sts,
                           "--region", "us-east-1", "--output", "json"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    identity = json.loads(done.stdout)
    assert identity["Account"] == ACCOUNT and identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/gcp-deploy/credhelper-aws"
    assert emulator.counters["generateIdToken"] >= 1


def test_boto3_reads_the_same_credential_process(world, moto_sts):
    boto3 = pytest.importorskip("boto3", reason="boto3 is in the [test] extra")
    env = world()
    configure(env)
    script = ("import boto3, json, sys; s = boto3.Session(profile_name='gcp', region_name='us-east-1'); "
              "print(json.dumps(s.client('sts', endpoint_url=sys.argv[1]).get_caller_identity()['Arn']))")
    done = subprocess.run([sys.executable, "-c", script, moto_sts], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout).endswith(":assumed-role/gcp-deploy/credhelper-aws")
    assert boto3.__name__ == "boto3"


def test_credentials_are_cached_and_refreshed_before_expiration(world, emulator):
    env = world()
    first = json.loads(credhelper(env, "aws-credential-process", "--profile", "aws").stdout)
    assert set(first) == {"Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    assert first["Version"] == 1 and first["Expiration"].endswith("Z")
    minted = emulator.counters["generateIdToken"]
    again = json.loads(credhelper(env, "aws-credential-process", "--profile", "aws").stdout)
    assert again == first and emulator.counters["generateIdToken"] == minted  # a cache hit: no ID token, no STS
    # a refresh margin longer than the session: every call is inside it, so a new set is minted each time
    env = world(aws_duration="15m", refresh_margin="50m")
    a = json.loads(credhelper(env, "aws-credential-process", "--profile", "aws").stdout)
    b = json.loads(credhelper(env, "aws-credential-process", "--profile", "aws").stdout)
    assert a["AccessKeyId"] != b["AccessKeyId"]


def test_print_aws_credentials_env_and_json_and_exec_aws(world):
    env = world()
    as_json = json.loads(credhelper(env, "print-aws-credentials", "--profile", "aws", "--format", "json").stdout)
    exported = credhelper(env, "print-aws-credentials", "--profile", "aws").stdout
    assert f"export AWS_ACCESS_KEY_ID={as_json['AccessKeyId']}\n" in exported
    assert "export AWS_SECRET_ACCESS_KEY=" in exported and "export AWS_SESSION_TOKEN=" in exported
    show = "import os, json; print(json.dumps({k: os.environ.get(k) for k in ('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN')}))"
    done = credhelper(env, "exec", "--profile", "aws", "--aws", "--", sys.executable, "-c", show)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen == {"AWS_ACCESS_KEY_ID": as_json["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": as_json["SecretAccessKey"],
                    "AWS_SESSION_TOKEN": as_json["SessionToken"]}


def test_configure_aws_keeps_the_rest_of_the_config(world):
    env = world(aws_region="eu-west-1")
    path = env["AWS_CONFIG_FILE"]
    os.makedirs(os.path.dirname(path), mode=0o700)
    with open(path, "w") as f:
        f.write("# mine\n[default]\nregion = us-east-2\n\n[profile gcp]\noutput = json\ncredential_process = old\n")
    os.chmod(path, 0o640)
    configure(env)
    configure(env)  # idempotent
    text = open(path).read()
    assert text.startswith("# mine\n[default]\nregion = us-east-2\n") and "output = json" in text
    assert text.count("credential_process") == 1 and "credential_process = old" not in text
    assert "region = eu-west-1" in text and oct(os.stat(path).st_mode & 0o777) == oct(0o640)


def test_a_profile_without_a_role_is_a_profile_error(world, tmp_path, emulator, sample):
    env = world()
    config = write_profiles(tmp_path / "norole.ini", emulator.url, {"plain": {"source": sample.source_key}})
    done = credhelper({**env, "CREDHELPER_CONFIG": config}, "aws-credential-process", "--profile", "plain")
    assert done.returncode == 3 and "aws_role_arn" in done.stderr and done.stdout == ""


# -- the aws_* keys: declared by the command table, checked by the protocol -------------------------------

@pytest.mark.parametrize("line, expected", [
    ("aws_role_arn = arn:aws:iam::12:role/x", ("line 3", "aws_role_arn: 'arn:aws:iam::12:role/x' is not an IAM role ARN",
                                               "arn:aws:iam::ACCOUNT_ID:role/NAME")),
    ("aws_session_name = a b", ("line 4", "aws_session_name: 'a b' is not a role session name", "2 to 64")),
    ("aws_duration = 5m", ("line 4", "aws_duration: 5m is out of range", "900s")),
    ("aws_sts_endpoint = http://sts.example.com", ("line 4", "plain http", "https://")),
    ("aws_region = EU_WEST", ("line 4", "aws_region: 'EU_WEST' is not an AWS region", "eu-west-1")),
])
def test_each_aws_key_mistake_names_file_line_and_fix(tmp_path, line, expected):
    from credhelper.errors import ProfileError
    from credhelper.profile import parse_config

    role = "" if line.startswith("aws_role_arn") else f"aws_role_arn = {ROLE}\n"
    config = parse_config(f"[profile p]\nsource = adc\n{role}{line}\n", path="/x/profiles.ini")
    profile = config.resolve("p")  # the profile layer keeps the keys raw: any command but AWS's still works
    assert profile.setting(line.split(" = ")[0]) == line.split(" = ")[1] and "aws" not in str(profile.identity())
    with pytest.raises(ProfileError) as caught:
        aws.Settings(profile)
    text = f"{caught.value.message}\n{caught.value.hint}"
    assert text.startswith(f"/x/profiles.ini, {expected[0]}: [profile p] ")
    assert all(part in text for part in expected[1:]), text


def test_the_profile_file_knows_the_aws_keys_from_the_command_table():
    from credhelper import commandtable, profile

    declared = commandtable.find("aws-credential-process").profile_keys
    assert set(declared) <= set(profile.PROFILE_KEYS) and not set(declared) & set(profile.CORE_KEYS)
    with pytest.raises(profile.ProfileError, match="did you mean 'aws_role_arn'"):
        profile.parse_config("[default]\naws_role_rn = x\n")


def test_the_aws_kind_is_a_cache_kind_but_not_a_builtin():
    from credhelper import token

    assert token.is_kind(aws.KIND) and aws.KIND not in token.KINDS
    assert token.Token.from_dict({"kind": aws.KIND, "value": "v", "expiry": 1.0}).kind == aws.KIND
    for bad in ("", "AWS", "a b", "x" * 65, "../k", 1, None, "1kind"):
        assert not token.is_kind(bad)
        with pytest.raises(ValueError):
            token.Token.from_dict({"kind": bad, "value": "v", "expiry": 1.0})


# -- STS errors become messages with the fix -----------------------------------------------------------

STS_ERROR = """<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>
  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
</ErrorResponse>"""


@pytest.mark.parametrize("code, message, expected", [
    ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity", "trust policy"),
    ("InvalidIdentityToken", "Incorrect token audience", "accounts.google.com:aud"),
    ("ExpiredToken", "Token expired", "clock"),
])
def test_sts_errors_name_the_fix_and_never_the_token(world, tmp_path, emulator, sample, code, message, expected):
    def respond(handler):
        return 403 if code != "ExpiredToken" else 400, {"Content-Type": "text/xml"}, \
            STS_ERROR.format(code=code, message=message).encode()

    with StubServer(respond) as sts:
        env = world(aws_sts_endpoint=f"http://127.0.0.1:{sts.port}")
        done = credhelper(env, "-vv", "aws-credential-process", "--profile", "aws")
    assert done.returncode == 1 and done.stdout == ""
    assert code in done.stderr and expected in done.stderr and ROLE in done.stderr
    assert "eyJ" not in done.stderr  # no JWT (the ID token) anywhere
    if code == "AccessDenied":
        policy = json.loads(done.stderr.split("statement ", 1)[1].splitlines()[0])
        assert policy["Principal"] == {"Federated": "accounts.google.com"}
        conditions = policy["Condition"]["StringEquals"]
        assert conditions["accounts.google.com:sub"].isdigit() and conditions["accounts.google.com:aud"]


STS_CREDENTIALS = """<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult><Credentials>
    <AccessKeyId>{key}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey>
    <SessionToken>{session}</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration>
  </Credentials></AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>"""
GOOD = {"key": "ASIAEXAMPLE", "secret": "s3cr3t/Key+value", "session": "FwoGZXIvYXdzEJr//////////wEaDA=="}


@pytest.mark.parametrize("field, value", [
    ("key", "ASIA EXAMPLE"), ("secret", "a&#10;b"), ("session", "tok&#13;en"), ("session", "t\u00e9"),
    ("secret", "x\\u00a0y"), ("key", "A\u200bB"), ("session", "a&#9;b"), ("secret", "a&#127;b"),
])
def test_sts_credentials_that_are_not_visible_ascii_are_refused(world, field, value):
    """AccessKeyId, SecretAccessKey and SessionToken go into credential_process JSON, export lines and a
    command's environment: an STS that answers one with a space, a control character or non-ASCII is refused
    (exit 1), and the value reaches neither stdout nor stderr."""
    value = value.encode().decode("unicode_escape")
    body = STS_CREDENTIALS.format(**{**GOOD, field: value}).encode()

    with StubServer(lambda handler: (200, {"Content-Type": "text/xml"}, body)) as sts:
        env = world(aws_sts_endpoint=f"http://127.0.0.1:{sts.port}")
        done = credhelper(env, "aws-credential-process", "--profile", "aws")
        printed = credhelper(env, "print-aws-credentials", "--profile", "aws", "--format", "env")
    for run in (done, printed):
        assert run.returncode == 1 and run.stdout == "", run.stdout
        assert "not visible ASCII" in run.stderr and field_name(field) in run.stderr, run.stderr
        assert GOOD["secret"] not in run.stderr and GOOD["session"] not in run.stderr


def test_sts_credentials_in_visible_ascii_pass(world):
    body = STS_CREDENTIALS.format(**GOOD).encode()
    with StubServer(lambda handler: (200, {"Content-Type": "text/xml"}, body)) as sts:
        env = world(aws_sts_endpoint=f"http://127.0.0.1:{sts.port}")
        done = credhelper(env, "aws-credential-process", "--profile", "aws")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["AccessKeyId"], answer["SecretAccessKey"], answer["SessionToken"]) == \
        (GOOD["key"], GOOD["secret"], GOOD["session"])


def field_name(field):
    return {"key": "AccessKeyId", "secret": "SecretAccessKey", "session": "SessionToken"}[field]


def test_parse_error_and_credentials_on_hostile_xml():
    assert aws.parse_error("not xml") == (None, None)
    assert aws.parse_error("<a><Code>X</Code></a>") == ("X", "")
    with pytest.raises(ValueError):
        aws.parse_credentials("<AssumeRoleWithWebIdentityResponse/>")
    bomb = '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">' \
           '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><e><Code>&c;</Code></e>'
    code, _ = aws.parse_error(bomb)
    assert code is None or len(code) <= 1000


def test_the_secret_key_never_reaches_stderr_or_a_repr(world):
    env = world()
    done = credhelper(env, "-vv", "aws-credential-process", "--profile", "aws")
    secret = json.loads(done.stdout)["SecretAccessKey"]
    assert secret not in done.stderr
    creds = aws.Credentials("AKIA", secret, "session", 0.0)
    assert secret not in repr(creds) and "session" not in repr(creds)


LIGHT_CHECK = """
import sys
from credhelper import cli
status = cli.main(sys.argv[1:])
heavy = sorted(m for m in ("google.auth", "requests", "keyring", "urllib3", "argparse", "xml.etree") if m in sys.modules)
sys.stderr.write("HEAVY=" + ",".join(heavy) + "\\n")
sys.exit(status)
"""


def test_a_cache_hit_is_as_light_as_the_other_helpers(world):
    env = world()
    run = lambda: subprocess.run([sys.executable, "-c", LIGHT_CHECK, "aws-credential-process", "--profile", "aws"],  # noqa: E731
                                 env=env, capture_output=True, text=True, timeout=120)
    assert run().returncode == 0
    second = run()
    assert second.returncode == 0 and "HEAVY=\n" in second.stderr, second.stderr


def test_cache_list_shows_and_cache_clear_removes_the_aws_credentials(world, emulator):
    env = world()
    assert credhelper(env, "aws-credential-process", "--profile", "aws").returncode == 0
    listed = credhelper(env, "cache", "list").stdout
    line = next(line for line in listed.splitlines() if "aws_credentials" in line)
    assert "aws" in line and ROLE in line
    minted = emulator.counters["generateIdToken"]
    assert credhelper(env, "cache", "clear", "--profile", "aws").returncode == 0
    assert "aws_credentials" not in credhelper(env, "cache", "list").stdout
    assert credhelper(env, "aws-credential-process", "--profile", "aws").returncode == 0
    assert emulator.counters["generateIdToken"] > minted  # cleared with the profile's other tokens: minted anew
