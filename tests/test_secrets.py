"""Issue 8, secrets: no token, refresh token, client secret or private key on stdout, stderr or in
any file credhelper writes, on every failing path, with -vv debug logging on (tokens appear only
where a protocol returns one on success); private files and directories; the warning for profile
and credentials files others can write; the metadata server listening on loopback only.

All against the emulator (its tokens are easy to spot: ya29.EMULATED-..., 1//EMULATED-...) and
real credhelper processes.
"""

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time

import pytest

from credhelper import profile as profile_module
from credhelper.errors import ProfileError
from support import DELEGATE_C, TARGET, cli_env, run_cli, shared_group, write_profiles

AUDIENCE = "https://svc.example.com"
GIT_GET = "protocol=https\nhost=source.developers.google.com\n\n"


def secret_patterns(sample):
    """Regexes for everything secret in this world: tokens of every kind, key material, the client secret."""
    user = json.load(open(sample.authorized_user))
    key = json.load(open(sample.source_key))
    key_body = "".join(key["private_key"].splitlines()[1:-1])
    return {
        "access token": re.compile(r"ya29\.(?!<redacted>)"),
        "refresh token": re.compile(r"1//(?!<redacted>)\S"),
        "JWT (ID token, assertion, subject token)": re.compile(r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}"),
        "private key": re.compile(r"-----BEGIN|PRIVATE KEY|" + re.escape(key_body[60:100])),
        "client secret": re.compile(re.escape(user["client_secret"]) + "|EMULATED-secret"),
        "subject token": re.compile(re.escape(open(sample.subject_token).read().strip()[-40:])),
    }


def leaks(text, patterns):
    return sorted(name for name, pattern in patterns.items() if pattern.search(text))


@pytest.fixture
def world(tmp_path, emulator, sample):
    user = json.load(open(sample.authorized_user))
    revoked = tmp_path / "revoked-user.json"
    revoked.write_text(json.dumps({**user, "refresh_token": "1//EMULATED-revoked-refresh-token"}))
    wrong_secret = tmp_path / "wrong-secret-user.json"
    wrong_secret.write_text(json.dumps({**user, "client_secret": "EMULATED-secret-wrong-but-secret"}))
    no_client = tmp_path / "no-client-id.json"
    no_client.write_text(json.dumps({k: v for k, v in user.items() if k != "client_id"}))
    key = json.load(open(sample.source_key))
    broken_key = tmp_path / "broken-key.json"
    broken_key.write_text(json.dumps({**key, "private_key": key["private_key"][:400]}))
    not_json = tmp_path / "not-json-key.json"
    not_json.write_text(json.dumps(key)[:-40])
    s = str(sample.source_key)
    config = write_profiles(tmp_path / "profiles.ini", emulator.url, {
        "t": {"source": s, "target": TARGET},
        "skip": {"source": s, "delegates": DELEGATE_C, "target": TARGET},  # hop 1 denied
        "user": {"source": str(sample.authorized_user), "target": TARGET},
        "revoked": {"source": str(revoked), "target": TARGET},
        "wrong-secret": {"source": str(wrong_secret), "target": TARGET},
        "ext": {"source": str(sample.external_account), "target": TARGET},
    }, cache="file")
    broken = tmp_path / "broken.ini"
    broken.write_text(f"[default]\nsource = {sample.authorized_user}\ntarget = {TARGET}\nlifetime = 99h\n")
    bad_files = {name: write_profiles(tmp_path / f"{name}.ini", emulator.url, {"default": {"source": str(path),
                                                                                          "target": TARGET}})
                 for name, path in (("no-client-id", no_client), ("broken-key", broken_key), ("not-json", not_json))}
    env = cli_env(tmp_path, config, GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE=AUDIENCE, CREDHELPER_DEADLINE_SECS="20")
    return env, str(broken), bad_files


FAULTS = {"500s": {"status": 500, "times": None}, "truncated": {"status": 200, "body": "truncated", "times": None}}

# (id, argv, stdin, fault on an endpoint, extra env, expected exit)
FAILING = [
    ("denied hop", ["print-access-token", "--profile", "skip"], "", None, {}, 1),
    ("denied hop, git", ["git-credential", "--profile", "skip", "get"], GIT_GET, None, {}, 1),
    ("denied hop, docker", ["docker-credential", "get"], "gcr.io", None, {"CREDHELPER_PROFILE": "skip"}, 1),
    ("denied hop, kubectl", ["kubectl", "--profile", "skip"], "", None, {}, 1),
    ("denied hop, executable", ["executable", "--profile", "skip"], "", None, {}, 1),
    ("denied hop, identity token", ["print-identity-token", "--profile", "skip", "--audience", AUDIENCE], "", None, {}, 1),
    ("revoked refresh token", ["print-access-token", "--profile", "revoked"], "", None, {}, 1),
    ("wrong client secret", ["print-access-token", "--profile", "wrong-secret"], "", None, {}, 1),
    ("500s to exhaustion, IAM", ["print-access-token", "--profile", "t"], "", ("generateAccessToken", "500s"), {}, 1),
    ("500s to exhaustion, user refresh", ["print-access-token", "--profile", "user"], "", ("token", "500s"), {}, 1),
    ("500s to exhaustion, STS", ["print-access-token", "--profile", "ext"], "", ("sts", "500s"), {}, 1),
    ("truncated JSON, token", ["kubectl", "--profile", "user"], "", ("token", "truncated"), {}, 1),
    ("truncated JSON, IAM", ["git-credential", "--profile", "t", "get"], GIT_GET, ("generateAccessToken", "truncated"),
     {}, 1),
    ("whoami, denied", ["whoami", "--profile", "skip"], "", None, {}, 1),
    ("doctor, denied", ["doctor", "--profile", "skip"], "", None, {}, 1),
    ("serve-metadata, denied", ["serve-metadata", "--profile", "skip"], "", None, {}, 1),
    ("exec, denied", ["exec", "--profile", "skip", "--", "true"], "", None, {}, 1),
    ("git: a password line and a broken line",
     ["git-credential", "--profile", "t", "get"], "protocol=https\nhost=h\npassword=ya29.EMULATED-from-git\nbroken\n",
     None, {}, 2),
    ("docker: store with a broken JSON secret",
     ["docker-credential", "store"], '{"ServerURL": "gcr.io", "Secret": "ya29.EMULATED-from-docker"', None, {}, 2),
    ("docker: a token instead of a registry", ["docker-credential", "get"], "ya29.EMULATED-as-url x", None, {}, 2),
    ("kubectl: broken exec info", ["kubectl", "--profile", "t"], "", None, {"KUBERNETES_EXEC_INFO": '{"kind": '}, 2),
    ("executable: SAML asked", ["executable", "--profile", "t"], "", None,
     {"GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE": "urn:ietf:params:oauth:token-type:saml2"}, 2),
]


@pytest.mark.parametrize("case", FAILING, ids=[c[0] for c in FAILING])
def test_failing_paths_with_debug_logging_never_show_a_secret(emulator, world, sample, case):
    name, argv, stdin, fault, extra, expected = case
    env, _, _ = world
    patterns = secret_patterns(sample)
    emulator.reset()
    if fault:
        emulator.faults.add(endpoint=fault[0], **FAULTS[fault[1]])
    result = run_cli(["-vv", *argv], {**env, **extra}, input=stdin, timeout=60)
    assert result.returncode == expected, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    found = leaks(result.stdout, patterns) + leaks(result.stderr, patterns)
    debug_lines = sum(line.startswith("credhelper: DEBUG") for line in result.stderr.splitlines())
    print(f"\n{name}: exit {result.returncode}, {len(result.stderr.splitlines())} stderr lines "
          f"({debug_lines} debug), secrets found: {found or 'none'}")
    assert found == [], result.stdout + result.stderr


@pytest.mark.parametrize("name, bad", [("bad profile", None), ("no client_id", "no-client-id"),
                                       ("corrupt private key", "broken-key"), ("truncated key file", "not-json")])
def test_bad_profile_and_credentials_files_never_show_their_secrets(world, sample, name, bad):
    env, broken, bad_files = world
    config = broken if bad is None else bad_files[bad]
    result = run_cli(["-vv", "print-access-token", "--config", config], env)
    assert result.returncode == 3, result.stderr
    found = leaks(result.stdout + result.stderr, secret_patterns(sample))
    print(f"\n{name}: exit {result.returncode}: {result.stderr.splitlines()[0][-110:]}; secrets found: {found or 'none'}")
    assert found == [] and "Traceback" not in result.stderr


SUCCESS = [  # a protocol that returns a token does so on stdout only: stderr stays clean under -vv
    ("print-access-token", ["print-access-token", "--profile", "user", "--refresh"], "", {}),
    ("git get", ["git-credential", "--profile", "t", "get"], GIT_GET, {}),
    ("docker get", ["docker-credential", "get"], "gcr.io", {"CREDHELPER_PROFILE": "t"}),
    ("kubectl", ["kubectl", "--profile", "t"], "", {}),
    ("executable", ["executable", "--profile", "t"], "", {}),
    ("identity token", ["print-identity-token", "--profile", "ext", "--audience", AUDIENCE], "", {}),
]


@pytest.mark.parametrize("case", SUCCESS, ids=[c[0] for c in SUCCESS])
def test_on_success_the_token_is_on_stdout_only(emulator, world, sample, case):
    name, argv, stdin, extra = case
    env, _, _ = world
    patterns = secret_patterns(sample)
    result = run_cli(["-vv", *argv], {**env, **extra}, input=stdin)
    assert result.returncode == 0, result.stderr
    on_stdout = leaks(result.stdout, patterns)
    assert on_stdout and set(on_stdout) <= {"access token", "JWT (ID token, assertion, subject token)"}
    assert leaks(result.stderr, patterns) == []
    print(f"\n{name}: stdout carries {on_stdout}; stderr ({len(result.stderr.splitlines())} lines at -vv): clean")


def test_no_file_credhelper_writes_holds_a_secret_except_the_token_stores(emulator, world, sample, tmp_path):
    env, _, _ = world
    out_file = tmp_path / "run" / "exe-out.json"
    for argv, stdin, extra in [(["print-access-token", "--profile", "user"], "", {}),
                               (["git-credential", "--profile", "t", "get"], GIT_GET, {}),
                               (["executable", "--profile", "t"], "", {"GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE": str(out_file)}),
                               (["print-access-token", "--profile", "revoked"], "", {}),
                               (["cache", "list"], "", {})]:
        run_cli(["-vv", *argv], {**env, **extra}, input=stdin)
    patterns, scanned, holding = secret_patterns(sample), [], []
    for root, _, files in os.walk(tmp_path / "runtime"):
        for name in files:
            path = os.path.join(root, name)
            text = open(path, "rb").read().decode("utf-8", "replace")
            by_design = os.path.basename(root) == "tokens" or path == str(out_file)
            (holding if by_design else scanned).append(os.path.relpath(path, tmp_path))
            if not by_design:
                assert leaks(text, patterns) == [], path
    print(f"\nfiles scanned, no secret in any: {sorted(scanned)}\ntoken stores (tokens by design): {sorted(holding)}")
    assert any(p.endswith("index.json") for p in scanned)


# -- private files and directories ----------------------------------------------------------------------

def modes(root):
    """{relative path: mode} of root and everything under it."""
    out = {".": stat.S_IMODE(os.lstat(root).st_mode)}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            out[os.path.relpath(path, root)] = stat.S_IMODE(os.lstat(path).st_mode)
    return out


def run_umask0(args, env, **kw):
    """The CLI under umask 000: every mode it ends up with is one it chose, not the umask's."""
    return subprocess.run([sys.executable, "-m", "credhelper", *args], env=env, capture_output=True, text=True,
                          timeout=60, preexec_fn=lambda: os.umask(0), **kw)


def assert_private(root, label):
    found = modes(root)
    bad = {p: oct(m) for p, m in found.items()
           if m != (0o700 if os.path.isdir(os.path.join(root, p)) else 0o600)}
    print(f"\n{label}: " + ", ".join(f"{p} {oct(m)[2:]}" for p, m in sorted(found.items())))
    assert found and bad == {}, bad


def test_cache_fallback_store_and_output_files_are_0600_in_0700_directories(emulator, world, sample, tmp_path):
    env, _, _ = world
    runtime = tmp_path / "runtime" / "credhelper"
    assert run_umask0(["print-access-token", "--profile", "t"], env).returncode == 0
    out_file = tmp_path / "runtime" / "new" / "deeper" / "wif.json"
    done = run_umask0(["configure", "external-account", "--profile", "t", "--audience", "//aud", "--output",
                       str(out_file)], env)
    assert done.returncode == 0, done.stderr
    assert_private(runtime, "file backend, umask 000")
    assert_private(tmp_path / "runtime" / "new", "configure external-account --output in new directories, umask 000")

    # no keyring at all: the fallback store, with its warning once
    fallback_rt = tmp_path / "fallback-runtime"
    fallback_rt.mkdir(mode=0o700)
    config = write_profiles(tmp_path / "keyring.ini", emulator.url, {"default": {"source": str(sample.source_key),
                                                                                "target": TARGET}}, cache="keyring")
    no_bus = {**env, "CREDHELPER_CONFIG": config, "XDG_RUNTIME_DIR": str(fallback_rt),
              "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus"}
    first, second = run_umask0(["print-access-token"], no_bus), run_umask0(["print-access-token", "--refresh"], no_bus)
    assert first.returncode == second.returncode == 0, first.stderr
    assert "warning" in first.stderr and "writable" not in first.stderr and second.stderr == ""
    assert os.listdir(fallback_rt / "credhelper" / "tokens")
    assert_private(fallback_rt / "credhelper", "keyring fallback store, umask 000")

    # configure external-account --output over an existing world-readable file
    output = tmp_path / "wif.json"
    output.write_text("{}")
    output.chmod(0o644)
    done = run_umask0(["configure", "external-account", "--profile", "t", "--audience", AUDIENCE,
                       "--output", str(output)], env)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    print(f"configure external-account --output over a 0644 file: now {oct(stat.S_IMODE(output.stat().st_mode))}")


# -- files others can write ---------------------------------------------------------------------------------

def test_profile_and_credentials_files_others_can_write_are_refused_with_the_fix(emulator, sample, tmp_path):
    """issue 12.2: whoever can edit these files chooses the identity and the endpoints: exit 3, the fix named."""
    key = tmp_path / "key.json"
    key.write_text(open(sample.source_key).read())
    config = write_profiles(tmp_path / "profiles.ini", emulator.url, {"default": {"source": str(key), "target": TARGET}},
                            cache="file")
    env = cli_env(tmp_path, config)
    forbidden = 0o022 if shared_group(config, key) else 0o002  # group-write of a private group is fine
    rows = []
    for config_mode, key_mode in [(0o600, 0o600), (0o644, 0o644), (0o664, 0o600), (0o600, 0o646), (0o666, 0o666)]:
        os.chmod(config, config_mode)
        os.chmod(key, key_mode)
        result = run_cli(["print-access-token", "--refresh"], env)
        refused = [path for path, mode in ((config, config_mode), (str(key), key_mode)) if mode & forbidden]
        if not refused:
            assert result.returncode == 0, result.stderr
            assert result.stderr == ""
        else:  # the first file read is the one named
            assert result.returncode == 3 and result.stdout == ""
            assert f"{refused[0]} is writable by group or others" in result.stderr
            assert f"chmod 600 {refused[0]}" in result.stderr and "Traceback" not in result.stderr
        rows.append(f"profile {oct(config_mode)[2:]}, key {oct(key_mode)[2:]}: exit {result.returncode}")
    print("\n" + "\n".join(rows))


def test_an_adc_file_others_can_write_is_refused_too(emulator, sample, tmp_path):
    adc = tmp_path / "adc.json"
    adc.write_text(open(sample.source_key).read())
    adc.chmod(0o664 if shared_group(adc) else 0o666)
    config = write_profiles(tmp_path / "profiles.ini", emulator.url, {"default": {"target": TARGET}}, cache="none")
    result = run_cli(["print-access-token"], cli_env(tmp_path, config, GOOGLE_APPLICATION_CREDENTIALS=str(adc)))
    assert result.returncode == 3 and result.stdout == ""
    assert f"credentials file {adc} is writable by group or others" in result.stderr and f"chmod 600 {adc}" in result.stderr


def test_a_writable_profile_file_is_refused_on_every_read(tmp_path):
    path = tmp_path / "profiles.ini"
    path.write_text("[default]\n")
    path.chmod(0o620 if shared_group(path) else 0o602)
    for _ in range(3):
        with pytest.raises(ProfileError) as info:
            profile_module.load_config(str(path))
        assert f"chmod 600 {path}" in str(info.value)


# -- the metadata server listens on loopback only ---------------------------------------------------------------

def listening_sockets(pid):
    """[(address, port)] of the TCP sockets process pid listens on, from /proc (IPv4 and IPv6)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        with open(f"/proc/{pid}/net/{table}") as f:
            for row in f.read().splitlines()[1:]:
                fields = row.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state != "0A" or inode not in inodes:  # 0A: LISTEN
                    continue
                hex_addr, hex_port = local.split(":")
                raw = bytes.fromhex(hex_addr)
                if family == socket.AF_INET:
                    raw = raw[::-1]
                else:
                    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                found.append((socket.inet_ntop(family, raw), int(hex_port, 16)))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_serve_metadata_listens_on_loopback_only(emulator, world, tmp_path):
    env, _, _ = world
    url_file = tmp_path / "metadata-url"
    proc = subprocess.Popen([sys.executable, "-m", "credhelper", "serve-metadata", "--profile", "t",
                             "--url-file", str(url_file)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 30
        while not url_file.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
            time.sleep(0.05)
        advertised = url_file.read_text().strip()
        sockets = listening_sockets(proc.pid)
        print(f"\nserve-metadata advertises {advertised}; listening sockets: {sockets}")
        assert sockets == [("127.0.0.1", int(advertised.rsplit(":", 1)[1]))]
        others = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)} - {"127.0.0.1"}
        for address in sorted(others)[:3]:  # the same port on the machine's other addresses: refused
            with pytest.raises(OSError):
                socket.create_connection((address, sockets[0][1]), timeout=2).close()
            print(f"  {address}:{sockets[0][1]} refused")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)


# -- redact: secrets quoted in another form, and messages that must stay readable ----------------------

GOOGLE_MESSAGES = [
    "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).",
    "The audience in ID Token [https://iam.googleapis.com/projects/123456789012/locations/global/"
    "workloadIdentityPools/my-pool/providers/my-provider] does not match the expected audience.",
    "Request c6104cbe-af31-11e0-8154-cbc7ccf896c7 had invalid authentication credentials.",
    "Lifetime must be between 1s and 3600s: 43200s is too long (constraints/iam.allowServiceAccountCredentialLifetimeExtension)",
    "Bad Request", "invalid_grant: Token has been expired or revoked.",
]


@pytest.mark.parametrize("message", GOOGLE_MESSAGES)
def test_redact_keeps_googles_messages_readable(message):
    from credhelper.googleerrors import redact

    secrets = ("1//0gEXAMPLErefreshTOKEN-abc123def456ghi789", "GOCSPX-EXAMPLEclientSECRET1234567")
    assert redact(message, secrets) == message


@pytest.mark.parametrize("quote", [
    lambda s: __import__("urllib.parse").parse.quote(s, safe=""),
    lambda s: __import__("urllib.parse").parse.quote(__import__("urllib.parse").parse.quote(s, safe=""), safe=""),
    lambda s: f"{s[:15]}\" + \"{s[15:]}",
    lambda s: json.dumps(s).replace("/", "\\/").replace("G", "\\u0047"),
    lambda s: __import__("base64").b64encode(("id:" + s).encode()).decode(),
    lambda s: __import__("base64").urlsafe_b64encode(s.encode()).decode().rstrip("="),
    lambda s: __import__("html").escape(s).replace("/", "&#47;"),
    lambda s: "\n".join(s[i:i + 7] for i in range(0, len(s), 7)),
    lambda s: s[5:25],
], ids=["url", "url-twice", "split", "json", "basic", "base64url", "html", "lines", "piece"])
def test_redact_withholds_a_secret_quoted_in_another_form(quote):
    from credhelper.googleerrors import WITHHELD, redact

    secret = "1//0gEXAMPLErefreshTOKEN-abc123def456ghi789"
    assert redact(f"invalid_grant: you sent {quote(secret)} which is revoked", (secret,)) == WITHHELD


def test_redact_cuts_a_jwt_signature_alone_and_long_key_like_runs():
    from credhelper.googleerrors import redact

    signature = "Q2xZsH0v3J8kPz_4mN7rT1uW9yB6cE5dF0gA2hK8lM3nO4pS6qV7xY9zR1tU3wX5"
    text = redact(f"signature {signature} does not verify")
    assert signature[:12] not in text and "does not verify" in text
    assert redact(f"key {signature.lower()[:50]} is fine") != ""  # one case only: not cut
