"""The profile file: parsing, resolution and the errors a user sees for each mistake."""

import json
import re
import os
import subprocess
import sys

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from credhelper.errors import EXIT_PROFILE, ProfileError
from credhelper.profile import load_config, parse_config, profile_from_flags, selected_profile_name

SA = "target@proj.iam.gserviceaccount.com"


def error_of(text, name=None, path="/etc/p.ini"):
    with pytest.raises(ProfileError) as info:
        parse_config(text, path).resolve(name)
    return str(info.value)


def test_full_profile_resolves_every_key(tmp_path):
    key = tmp_path / "key.json"
    key.write_text(json.dumps({"type": "service_account", "client_email": "s@proj.iam.gserviceaccount.com"}))
    text = f"""
[profile deploy]
source = key.json
delegates = b@proj.iam.gserviceaccount.com, c@proj.iam.gserviceaccount.com
target = {SA}
scopes = https://www.googleapis.com/auth/devstorage.read_only https://www.googleapis.com/auth/userinfo.email
lifetime = 30m
audience = https://svc.example.com
include_email = yes
quota_project = billing-proj
universe_domain = googleapis.com
token_endpoint = http://127.0.0.1:9/token
iam_endpoint = http://127.0.0.1:9/
sts_endpoint = http://127.0.0.1:9
metadata_host = 127.0.0.1:9
refresh_margin = 2m
"""
    path = tmp_path / "profiles.ini"
    path.write_text(text)
    p = load_config(str(path)).resolve("deploy")
    assert p.source == str(key)  # relative to the profile file
    assert p.delegates == ("b@proj.iam.gserviceaccount.com", "c@proj.iam.gserviceaccount.com")
    assert p.target == SA and p.chain()[-1] == SA
    assert p.scopes == ("https://www.googleapis.com/auth/devstorage.read_only",
                        "https://www.googleapis.com/auth/userinfo.email")
    assert (p.lifetime_secs, p.refresh_margin_secs, p.include_email) == (1800, 120, True)
    assert p.iam_endpoint == "http://127.0.0.1:9" and p.token_endpoint == "http://127.0.0.1:9/token"


def test_defaults_without_a_file(tmp_path):
    cfg = parse_config("", str(tmp_path / "none.ini"))
    p = cfg.resolve(None)
    assert (p.source, p.target, p.lifetime_secs) == ("adc", None, 3600)
    assert p.scopes == ("https://www.googleapis.com/auth/cloud-platform",)


@pytest.mark.parametrize("text, expected", [
    ("[default]\ntargte = a@b.com\n", ["line 2", "[default] targte", "unknown key", "did you mean 'target'"]),
    ("[default]\nlifetime = 13h\n", ["line 2", "lifetime", "out of range", "43200s"]),
    ("[default]\nlifetime = forever\n", ["line 2", "lifetime", "not a duration", "30m"]),
    ("[default]\n\ntarget = not-an-email\n", ["line 3", "target", "not a valid service account email"]),
    ("[default]\ndelegates = x@y.com, bad\ntarget = a@b.com\n", ["line 2", "delegates", "'bad'"]),
    ("[default]\ndelegates = x@y.com\n", ["delegates without a target", "add target"]),
    ("[defualt]\n", ["line 1", "unknown section [defualt]", "did you mean [default]"]),
    ("[profiles deploy]\n", ["line 1", "unknown section [profiles deploy]", "did you mean [profile deploy]?"]),
    ("[default]\n\n[profile deploy\ntarget = a@b.com\n", ["line 3", "section header '[profile deploy' has no "
                                                         "closing ']'", "write [profile deploy]"]),
    ("[profile deploy\n", ["line 1", "has no closing ']'", "write [profile deploy]"]),
    ("target = a@b.com\n", ["line 1", "before any section"]),
    ("[default]\ntarget = a@b.com\ntarget = c@d.com\n", ["line 3", "set twice"]),
    ("[default]\ninclude_email = maybe\n", ["include_email", "not a boolean"]),
    ("[default]\niam_endpoint = iamcredentials\n", ["iam_endpoint", "not a URL"]),
    ("[default]\nsource = /no/such/key.json\n", ["line 2", "source", "not found"]),
    ("[cache]\nbackend = plaintext\n[default]\n", []),
])
def test_each_mistake_names_file_line_key_and_fix(text, expected):
    if expected == []:
        with pytest.raises(ProfileError) as info:
            parse_config(text, "/etc/p.ini").cache_backend()
        assert "[cache] backend" in str(info.value) and "keyring, file, none" in str(info.value)
        return
    message = error_of(text)
    assert message.startswith("/etc/p.ini")
    for part in expected:
        assert part in message
    assert "fix:" in message


def test_credentials_file_that_is_not_one(tmp_path):
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": 1}')
    message = error_of(f"[default]\nsource = {bad}\n")
    assert "is not a credentials file" in message and "service_account" in message
    bad.write_text("not json")
    assert "not readable JSON" in error_of(f"[default]\nsource = {bad}\n")


def test_profile_loop_is_named():
    text = "[profile a]\nsource = profile:b\n[profile b]\nsource = profile:c\n[profile c]\nsource = profile:a\n"
    message = error_of(text, "a")
    assert "profile loop: a -> b -> c -> a" in message


def test_unknown_profile_suggests_a_close_name():
    message = error_of("[profile deploy]\ntarget = a@b.com\n", "deplyo")
    assert "no profile named 'deplyo'" in message and "did you mean 'deploy'" in message


def test_profile_chains_resolve_their_source():
    text = f"[profile base]\ntarget = {SA}\n[profile next]\nsource = profile:base\ntarget = other@proj.iam.gserviceaccount.com\n"
    p = parse_config(text, "/p.ini").resolve("next")
    assert p.source_profile.name == "base" and p.source_profile.target == SA


def test_identity_changes_with_every_token_relevant_key():
    base = parse_config(f"[default]\ntarget = {SA}\n", "/p.ini").resolve(None).identity()
    for extra in ("lifetime = 30m", "scopes = a", "delegates = d@proj.iam.gserviceaccount.com",
                  "iam_endpoint = https://x", "include_email = true", "quota_project = q"):
        other = parse_config(f"[default]\ntarget = {SA}\n{extra}\n", "/p.ini").resolve(None).identity()
        assert other != base, extra


def test_selection_order():
    assert selected_profile_name("flag", {"CREDHELPER_PROFILE": "env"}) == "flag"
    assert selected_profile_name(None, {"CREDHELPER_PROFILE": "env"}) == "env"
    assert selected_profile_name(None, {}) == "default"


def test_gcloud_form_splits_delegates_and_target():
    p = profile_from_flags("b@p.iam.gserviceaccount.com,c@p.iam.gserviceaccount.com," + SA)
    assert p.delegates == ("b@p.iam.gserviceaccount.com", "c@p.iam.gserviceaccount.com")
    assert p.target == SA and p.source == "adc"
    with pytest.raises(ProfileError):
        profile_from_flags("nope")


def test_cli_profile_error_exit_code_and_no_traceback(tmp_path):
    path = tmp_path / "profiles.ini"
    path.write_text("[default]\ntargte = a@b.com\n")
    result = subprocess.run([sys.executable, "-m", "credhelper", "print-access-token", "--config", str(path)],
                            capture_output=True, text=True)
    assert result.returncode == EXIT_PROFILE
    assert "did you mean 'target'" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_profile_file_others_can_write_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "profiles.ini"
    path.write_text(f"[default]\ntarget = {SA}\n")
    os.chmod(path, 0o666)
    result = subprocess.run([sys.executable, "-m", "credhelper", "profiles", "show", "--config", str(path)],
                            capture_output=True, text=True)
    assert result.returncode == EXIT_PROFILE, result.stderr
    assert "is writable by group or others" in result.stderr and f"chmod 600 {path}" in result.stderr
    assert result.stdout == ""


# -- the hot path's plain checks agree with the regular expressions they replaced -----------------

EMAIL_RE = re.compile(r"^[a-z0-9][a-z0-9._%+-]*@[a-z0-9][a-z0-9.-]*\.[a-z]{2,}$", re.IGNORECASE)
DURATION_RE = re.compile(r"^\s*(\d+)\s*([smh]?)\s*$", re.IGNORECASE)


@settings(max_examples=1500, deadline=None)
@example("a@b.c")
@example("a@b.cc")
@example("a@.cc")
@example("-a@b.cc")
@example("a@b-.cc")
@example("a@b..cc")
@example("a@b.c1")
@example("a@@b.cc")
@example("A.B%c+d-e@X-1.y.ZZ")
@given(st.one_of(st.text(alphabet="aZ0_.%+-@ .xY9\t", max_size=20),
                 st.from_regex(EMAIL_RE, fullmatch=True).filter(str.isascii),
                 st.text(max_size=12)))
def test_is_email_agrees_with_the_email_pattern_on_ascii(value):
    from credhelper.profile import is_email

    if value.isascii() and "\n" not in value:
        assert is_email(value) == bool(EMAIL_RE.match(value))
    else:
        assert not is_email(value) or bool(EMAIL_RE.match(value))  # never looser than the pattern


@settings(max_examples=1500, deadline=None)
@given(st.one_of(st.text(alphabet="0123456789 smhSMHx\t.", max_size=8), st.text(max_size=6)))
def test_parse_duration_agrees_with_the_duration_pattern_on_ascii(value):
    from credhelper.profile import parse_duration

    where = ("f", "s", "lifetime", 1)
    m = DURATION_RE.match(value)
    try:
        got = parse_duration(value, where=where, minimum=0, maximum=10**12)
    except ProfileError:
        got = None
    if value.isascii() and "\n" not in value and "\x0b" not in value and "\x0c" not in value and "\x1c" not in value:
        expected = int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2).lower()] if m else None
        assert got == expected
    elif got is not None:  # never accepts what the pattern refused
        assert m and got == int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2).lower()]


# -- hostile input ends in a clean error (issue 12.9) ----------------------------------------------------

def test_a_2000_deep_chain_of_profile_sources_is_a_clean_error(tmp_path):
    path = tmp_path / "profiles.ini"
    path.write_text("".join(f"[profile p{i}]\nsource = profile:p{i + 1}\n" for i in range(2000))
                    + f"[profile p2000]\ntarget = {SA}\n")
    path.chmod(0o600)
    result = subprocess.run([sys.executable, "-m", "credhelper", "print-access-token", "--config", str(path),
                             "--profile", "p0"], capture_output=True, text=True, timeout=60)
    assert result.returncode == EXIT_PROFILE, result.stderr
    assert "chain of more than" in result.stderr and "p0 -> p1 -> p2 -> ..." in result.stderr
    assert "Traceback" not in result.stderr and "Recursion" not in result.stderr


@pytest.mark.parametrize("key, args, code", [
    ("source", [], EXIT_PROFILE),
    ("access_boundary", [], EXIT_PROFILE),
    (None, ["--config", "/dev/zero"], EXIT_PROFILE),
    (None, ["--claims", "/dev/zero"], 2),
])
def test_dev_zero_as_any_file_is_refused_at_once(tmp_path, key, args, code):
    path = tmp_path / "profiles.ini"
    path.write_text(f"[default]\ntarget = {SA}\n" + (f"{key} = /dev/zero\n" if key else ""))
    path.chmod(0o600)
    command = "sign-jwt" if "--claims" in args else "print-access-token"
    config = [] if "--config" in args else ["--config", str(path)]
    result = subprocess.run([sys.executable, "-m", "credhelper", command, *config, *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == code, result.stderr
    assert "/dev/zero" in result.stderr and "Traceback" not in result.stderr


WHITESPACE = "".join(chr(c) for c in range(0x3100) if chr(c).isspace())


@settings(max_examples=1500, deadline=None)
@given(st.one_of(st.text(alphabet="ab,:/@_.-" + WHITESPACE, max_size=24), st.text(max_size=12)))
def test_the_hand_written_checks_agree_with_the_patterns_they_replaced(value):
    """profile.py does not import re (5 ms of a hit): its three checks must read text as the patterns did."""
    from credhelper.profile import is_profile_name, is_url, split_scopes

    assert split_scopes(value) == tuple(s for s in re.split(r"[,\s]+", value) if s)
    for url in (value, "https://" + value, "http://" + value, "https:/" + value):
        assert is_url(url) == bool(re.match(r"^https?://[^/\s]+", url))
    name = value.strip()  # as parse_config strips a section's name
    assert is_profile_name(name) == bool(re.match(r"^[A-Za-z0-9_.@-]+$", name))


def test_loading_and_resolving_a_profile_imports_no_re(tmp_path):
    """Whatever the modules below it import, profile.py itself needs no re on a hit (a snapshot load and a resolve)."""
    path = tmp_path / "p.ini"
    path.write_text("[default]\nsource = adc\ntarget = t@p.iam.gserviceaccount.com\nscopes = a, b\n"
                    "token_endpoint = https://x/\n")
    path.chmod(0o600)
    load = f"print(profile.load_config({str(path)!r}).resolve().scopes)\n"
    block = ("import sys, credhelper.credentials, credhelper.commandtable\n"
             "for name in ['re', *(m for m in sys.modules if m.startswith('re.'))]: sys.modules[name] = None\n")
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path))
    for code in ("from credhelper import profile\n" + load,  # the parse (configparser needs re)
                 block + "from credhelper import profile\n" + load):  # the snapshot
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
        assert result.returncode == 0 and result.stdout.strip() == "('a', 'b')", result.stderr


ENDPOINTS = ["https://x", "https://evil.com/", "http://127.0.0.1:8080/a", "http://127.9.9.9", "http://localhost",
             "http://LOCALHOST:1/", "http://[::1]:9/x", "http://[0:0::1]/", "http://evil.com", "http://127.0.0.1.evil.com/",
             "http://u:p@127.0.0.1/", "http://127.0.0.1@evil.com/", "http://127.0.0.1#@evil.com/", "http://1.2.3.4",
             "http://10.0.0.1:80", "http://[::ffff:127.0.0.1]/", "http://metadata.google.internal", "http://169.254.169.254"]


@pytest.mark.parametrize("url", ENDPOINTS)
def test_the_endpoint_rule_agrees_with_urllib_and_ipaddress(url):
    """is_safe_endpoint reads URLs by hand (no 3 ms of imports on a hit): it must agree with the libraries."""
    import ipaddress
    import urllib.parse

    from credhelper.credentials import is_safe_endpoint

    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    assert is_safe_endpoint(url) == (parts.scheme == "https" or (parts.scheme == "http" and loopback))
