"""Trust boundaries (issue 12), tried from outside as an attacker would: a second local user, a web page,
a planted symlink, a hostile profile file, a hostile upstream. Each test drives the real CLI.

A test whose fix has not landed yet is marked xfail(strict=True) with the item and its owner: it fails
today, and the day the fix lands it passes, which fails the suite until the owner removes the mark."""

import base64
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time

import pytest

from credhelper.errors import EXIT_PROFILE, EXIT_USAGE
from protocols_stubs import StubServer, protocol_env, token_email
from support import (DELEGATE_B, TARGET, as_other_user, cli_env, in_forked_child, other_user, primary_group_is_private,
                     run_cli, shared_group, write_profiles)


def pending(item, owner, found=None):
    """xfail(strict): the fix of issue 12.item (or of a hole the attack pass `found`) is not on main yet."""
    what = f"attack pass: {found}" if found else f"issue 12.{item}"
    return pytest.mark.xfail(strict=True, reason=f"{what}: fix pending ({owner} engineer)")


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


# -- shared pieces ------------------------------------------------------------------------------------------

def raw_get(host_port, path, headers):
    """(status, body) of one GET over a plain socket, with exactly these headers (Host included): what a
    browser or another user's program sends. Standard library only, so the second user's child can run it."""
    host, port = host_port.rsplit(":", 1)
    request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with socket.create_connection((host, int(port)), timeout=20) as conn:
        conn.sendall((request + "Connection: close\r\n\r\n").encode("latin-1"))
        data = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body.decode("utf-8", "replace")


TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
IDENTITY_PATH = "/computeMetadata/v1/instance/service-accounts/default/identity?audience=https://attacker.example"


def no_token_in(status, body):
    return status != 200 and "ya29." not in body and "eyJ" not in body and "access_token" not in body


class Served:
    """A credhelper process serving a metadata server (serve-metadata, or exec --metadata)."""

    def __init__(self, proc, host_port):
        self.proc, self.host_port = proc, host_port

    @property
    def port(self):
        return self.host_port.rsplit(":", 1)[1]

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            out, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            out, err = self.proc.communicate()
        return err


def serve_metadata(tmp_path, config, *extra, **popen):
    url_file = tmp_path / "metadata-url"
    proc = subprocess.Popen([sys.executable, "-m", "credhelper", *extra, "serve-metadata", "--profile", "t",
                             "--url-file", str(url_file)], env=cli_env(tmp_path, config), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
    return Served(proc, wait_for(url_file, proc).strip())


def exec_metadata(tmp_path, config, **popen):
    host_file = tmp_path / "metadata-host"
    script = f'echo "$GCE_METADATA_HOST" > {host_file}.tmp && mv {host_file}.tmp {host_file} && sleep 120'
    proc = subprocess.Popen([sys.executable, "-m", "credhelper", "exec", "--profile", "t", "--metadata", "--",
                             "sh", "-c", script], env=cli_env(tmp_path, config), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
    return Served(proc, wait_for(host_file, proc).strip())


@pytest.fixture
def served(tmp_path, config):
    s = serve_metadata(tmp_path, config)
    yield s
    s.stop()


def json_answer(data, status=200):
    return status, {"Content-Type": "application/json"}, json.dumps(data).encode()


def unsigned_jwt(claims):
    part = lambda obj: base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def jwt_claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# -- 1. the metadata server answers only its user's programs ------------------------------------------------

BROWSERS = {  # what a page's fetch() sends: after DNS rebinding (same origin, the attacker's host name), and cross-site
    "dns-rebinding": lambda port: {"Host": f"attacker.example:{port}", "Metadata-Flavor": "Google",
                                   "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors",
                                   "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0"},
    "rebinding-bare-host": lambda port: {"Host": "attacker.example", "Metadata-Flavor": "Google"},
    "cross-site": lambda port: {"Host": f"127.0.0.1:{port}", "Metadata-Flavor": "Google",
                                "Origin": "http://attacker.example", "Sec-Fetch-Site": "cross-site",
                                "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"},
    "issue-12": lambda port: {"Host": "attacker.example", "Origin": "http://attacker.example",
                              "Sec-Fetch-Site": "cross-site", "Metadata-Flavor": "Google"},
    "same-site": lambda port: {"Host": f"localhost:{port}", "Metadata-Flavor": "Google", "Sec-Fetch-Site": "same-site"},
}


@pytest.mark.parametrize("browser", BROWSERS)
def test_1_a_web_page_gets_no_token_from_serve_metadata(served, browser):
    headers = BROWSERS[browser](served.port)
    for path in (TOKEN_PATH, IDENTITY_PATH):
        status, body = raw_get(served.host_port, path, headers)
        assert no_token_in(status, body), (path, status, body[:80])


@pytest.mark.parametrize("name", ["metadata", "metadata.google.internal", "metadata.google.internal."])
def test_1_a_rebindable_gce_name_on_another_port_gets_no_token(served, name):
    # attack pass: a page at http://metadata:PORT/ rebound to 127.0.0.1 is same-origin: no Origin, and no
    # Sec-Fetch-Site over plain http to a non-localhost name; GCE's names mean port 80 only
    headers = {"Host": f"{name}:{served.port}", "Metadata-Flavor": "Google", "Referer": f"http://{name}:{served.port}/",
               "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"}
    for path in (TOKEN_PATH, IDENTITY_PATH):
        status, body = raw_get(served.host_port, path, headers)
        assert no_token_in(status, body), (path, status, body[:80])


def test_1_the_hosts_official_clients_send_are_still_answered(served):
    # google-auth (Python, Node.js, Go, Java, .NET) and gcloud send Host: GCE_METADATA_HOST as given,
    # i.e. the server's own 127.0.0.1:PORT; on GCE itself metadata.google.internal or 169.254.169.254
    for host in (served.host_port, f"localhost:{served.port}", "metadata.google.internal", "169.254.169.254",
                 f"169.254.169.254:{served.port}"):
        status, body = raw_get(served.host_port, TOKEN_PATH, {"Host": host, "Metadata-Flavor": "Google"})
        assert status == 200 and "access_token" in body, (host, status, body)
    status, body = raw_get(served.host_port, TOKEN_PATH, {"Host": served.host_port, "Metadata-Flavor": "Google",
                                                          "Sec-Fetch-Site": "none"})
    assert status == 200, body


def test_1_another_local_user_gets_no_token_from_serve_metadata(tmp_path, config):
    uid, _ = other_user()
    served = serve_metadata(tmp_path, config, "-v")
    try:
        answers = as_other_user(lambda: [raw_get(served.host_port, path, {"Host": served.host_port,
                                                                          "Metadata-Flavor": "Google"})
                                         for path in (TOKEN_PATH, IDENTITY_PATH)])
    finally:
        err = served.stop()
    for status, body in answers:
        assert no_token_in(status, body), (status, body[:80])
    assert str(uid) in err or "another user" in err, err  # -v says why


def test_1_another_local_user_gets_no_token_from_exec_metadata(tmp_path, config):
    other_user()
    served = exec_metadata(tmp_path, config)
    try:
        answers = as_other_user(lambda: [raw_get(served.host_port, path, {"Host": served.host_port,
                                                                          "Metadata-Flavor": "Google"})
                                         for path in (TOKEN_PATH, IDENTITY_PATH)])
    finally:
        served.stop()
    for status, body in answers:
        assert no_token_in(status, body), (status, body[:80])


# -- 10. no core dumps of a process holding keys and tokens ------------------------------------------------

def core_limit(pid):
    with open(f"/proc/{pid}/limits") as f:
        line = next(line for line in f if line.startswith("Max core file size"))
    return line.split()[4:6]  # soft, hard


def unlimited_cores():
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/limits")
@pytest.mark.parametrize("start", [serve_metadata, exec_metadata], ids=["serve-metadata", "exec-metadata"])
def test_10_long_running_servers_turn_core_dumps_off(tmp_path, config, start):
    served = start(tmp_path, config, preexec_fn=unlimited_cores)  # whatever the user's shell allowed
    try:
        limits = core_limit(served.proc.pid)
    finally:
        served.stop()
    assert limits[0] == "0", limits


# -- 2. another user's profile or credentials file is never trusted ------------------------------------------

def capture_server():
    """A loopback server that records every request and answers 400: it must never be asked anything."""
    return StubServer(lambda h: json_answer({"error": "invalid_request"}, 400))


def test_2_a_profile_file_owned_by_another_user_sends_nothing_anywhere(tmp_path, sample):
    uid, gid = other_user()
    with capture_server() as capture:
        profiles = tmp_path / "profiles.ini"
        write_profiles(profiles, capture.url, {"t": {"source": sample.authorized_user, "target": TARGET}})
        profiles.chmod(0o644)
        os.chown(profiles, uid, gid)  # the other user chose the token_endpoint
        result = run_cli(["print-access-token", "--profile", "t"], cli_env(tmp_path, profiles))
    assert capture.requests == []  # old main: POST /token with the refresh token and client secret
    assert result.returncode == EXIT_PROFILE, result.stderr
    assert str(profiles) in result.stderr and "Traceback" not in result.stderr


def test_2_doctor_flags_a_profile_file_owned_by_another_user(tmp_path, emulator, sample):
    uid, gid = other_user()
    profiles = tmp_path / "profiles.ini"
    write_profiles(profiles, emulator.url, {"t": {"source": sample.source_key, "target": TARGET}})
    os.chown(profiles, uid, gid)
    result = run_cli(["doctor", "--profile", "t"], cli_env(tmp_path, profiles))
    assert result.returncode != 0
    assert any(line.startswith("FAIL") and str(profiles) in line for line in result.stdout.splitlines()), result.stdout


def test_2_a_credentials_file_owned_by_another_user_is_refused(tmp_path, emulator, sample):
    uid, gid = other_user()
    key = tmp_path / "key.json"
    shutil.copy(sample.source_key, key)
    key.chmod(0o600)
    os.chown(key, uid, gid)
    profiles = write_profiles(tmp_path / "profiles.ini", emulator.url, {"t": {"source": key, "target": TARGET}})
    result = run_cli(["print-access-token", "--profile", "t"], cli_env(tmp_path, profiles))
    assert result.returncode == EXIT_PROFILE and str(key) in result.stderr, result.stderr
    assert emulator.counters.get("token", 0) == 0


@pytest.mark.parametrize("which", ["profile", "credentials"])
def test_2_a_file_writable_by_group_or_others_is_refused_not_just_warned_about(tmp_path, emulator, sample, which):
    key = tmp_path / "key.json"
    shutil.copy(sample.source_key, key)
    key.chmod(0o600)
    profiles = tmp_path / "profiles.ini"
    write_profiles(profiles, emulator.url, {"t": {"source": key, "target": TARGET}})
    (profiles if which == "profile" else key).chmod(0o666)
    result = run_cli(["print-access-token", "--profile", "t"], cli_env(tmp_path, profiles))
    assert result.returncode == EXIT_PROFILE, result.stderr
    assert "chmod" in result.stderr and "ya29." not in result.stdout


def non_loopback_address():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 9))  # no packet is sent: this only picks the outgoing interface
            address = s.getsockname()[0]
        except OSError:
            address = None
    if not address or address.startswith("127.") or address == "0.0.0.0":
        pytest.skip("this machine has no non-loopback IPv4 address to stand in for a remote host")
    return address


@pytest.mark.parametrize("key", ["token_endpoint", "iam_endpoint"])
def test_2_a_plain_http_endpoint_off_loopback_is_refused_before_any_connection(tmp_path, emulator, sample, key):
    address = non_loopback_address()
    with StubServer(lambda h: json_answer({"error": "invalid_request"}, 400), host="0.0.0.0") as remote:
        profiles = tmp_path / "profiles.ini"
        write_profiles(profiles, emulator.url, {"t": {"source": sample.authorized_user, "target": TARGET}})
        url = f"http://{address}:{remote.port}" + ("/token" if key == "token_endpoint" else "")
        profiles.write_text(profiles.read_text().replace(f"{key} = ", f"{key} = {url}\n# was: "))
        result = run_cli(["print-access-token", "--profile", "t"], cli_env(tmp_path, profiles))
    assert remote.requests == []
    assert result.returncode == EXIT_PROFILE and "https" in result.stderr, result.stderr


# -- 4. the cache serves only what this user wrote --------------------------------------------------------

PLANTED = "ya29.planted-by-another-user-0123456789"


def cached_files(runtime):
    """Every file under runtime holding the token credhelper cached (whatever the store's layout)."""
    return [os.path.join(d, f) for d, _, files in os.walk(runtime) for f in files]


def plant(tmp_path, config, how):
    """Cache a real token, then rewrite every copy of it to PLANTED and arrange the files as `how` says."""
    env = cli_env(tmp_path, config)
    first = run_cli(["print-access-token", "--profile", "t"], env)
    assert first.returncode == 0, first.stderr
    real = first.stdout.strip()
    runtime = tmp_path / "runtime"
    holders = []
    for path in cached_files(runtime):
        with open(path, "rb") as f:
            data = f.read()
        if real.encode() in data:
            with open(path, "wb") as f:
                f.write(data.replace(real.encode(), PLANTED.encode()))
            holders.append(path)
    assert holders, "the file cache holds no token to plant over"
    cache_dir = runtime / "credhelper"
    if how in ("their-directory", "symlink-to-their-directory"):
        uid, gid = other_user()
        for d, dirs, files in os.walk(cache_dir):
            for name in [*dirs, *files]:
                os.chown(os.path.join(d, name), uid, gid)
        os.chown(cache_dir, uid, gid)
        cache_dir.chmod(0o755)
        if how == "symlink-to-their-directory":
            theirs = tmp_path / "theirs"
            cache_dir.rename(theirs)
            cache_dir.symlink_to(theirs)
    elif how == "their-token-file":
        uid, gid = other_user()
        for path in holders:
            os.chown(path, uid, gid)
    elif how == "symlinked-token-file":
        for path in holders:
            target = tmp_path / f"elsewhere-{os.path.basename(path)}"
            os.rename(path, target)
            os.symlink(target, path)
    elif how == "world-writable-directory":
        cache_dir.chmod(0o777)
    return env


@pytest.mark.parametrize("how", ["their-directory", "symlink-to-their-directory", "their-token-file",
                                 "symlinked-token-file", "world-writable-directory"])
def test_4_a_token_planted_in_the_cache_is_never_served(tmp_path, emulator, sample, how):
    config = write_profiles(tmp_path / "profiles.ini", emulator.url,
                            {"t": {"source": sample.source_key, "target": TARGET}}, cache="file")
    env = plant(tmp_path, config, how)
    second = run_cli(["print-access-token", "--profile", "t"], env)
    assert PLANTED not in second.stdout
    if second.returncode == 0:
        assert token_email(emulator.url, second.stdout.strip()) == TARGET
    assert second.stderr.count("warning") <= 1, second.stderr  # one warning, not one per file


# -- 5. no value of a credentials file in any message ----------------------------------------------------------

def credential_files(sample, emulator):
    with open(sample.authorized_user) as f:
        user = json.load(f)
    files = {}
    for path in (sample.source_key, sample.authorized_user, sample.external_account):
        with open(path) as f:
            info = json.load(f)
        files[info["type"]] = info
    files["impersonated_service_account"] = {
        "type": "impersonated_service_account", "source_credentials": user, "delegates": [DELEGATE_B],
        "service_account_impersonation_url": f"{emulator.url}/v1/projects/-/serviceAccounts/{TARGET}:generateAccessToken"}
    files["external_account_authorized_user"] = {
        "type": "external_account_authorized_user", "audience": "//iam.googleapis.com/locations/global/workforcePools/"
        "pool/providers/provider", "refresh_token": "EXTERNAL-refresh-" + "r" * 24, "client_id": user["client_id"],
        "client_secret": user["client_secret"], "token_url": f"{emulator.url}/v1/oauth/token",
        "token_info_url": f"{emulator.url}/v1/introspect", "revoke_url": f"{emulator.url}/v1/oauth/revoke",
        "quota_project_id": "quota-project-from-file"}
    return files


def leaves(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from leaves(v)


def windows(text, size=12):
    return {text[i:i + size] for i in range(0, max(len(text) - size, 0) + 1, 4)} if len(text) >= size else set()


def test_5_a_credentials_field_of_the_wrong_type_is_named_never_shown(tmp_path, emulator, sample, capfd, monkeypatch):
    from credhelper import cli

    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    for var in ("GOOGLE_APPLICATION_CREDENTIALS", "CREDHELPER_PROFILE", "GCE_METADATA_HOST"):
        monkeypatch.delenv(var, raising=False)
    key = tmp_path / "credentials.json"
    profiles = tmp_path / "profiles.ini"
    write_profiles(profiles, emulator.url, {"t": {"source": key, "target": TARGET}}, cache=None)
    monkeypatch.setenv("CREDHELPER_CONFIG", str(profiles))
    commands = (["print-access-token", "-p", "t", "--no-cache"], ["doctor", "-p", "t"], ["profiles", "show", "t"])

    def outputs(info):
        key.write_text(json.dumps(info))
        key.chmod(0o600)
        for argv in commands:
            try:
                cli.main(argv)
            except SystemExit:
                pass
            yield argv[0], "".join(capfd.readouterr())

    leaks = []
    for kind, info in credential_files(sample, emulator).items():
        # what these commands show of a well-formed file (an email, an endpoint) is not a leak
        shown_anyway = "".join(text for _, text in outputs(info)) + profiles.read_text() + str(key)
        for field in [f for f in info if f != "type"]:
            others = json.dumps({k: v for k, v in info.items() if k != field}) + shown_anyway
            secret = {w for leaf in leaves(info[field]) for w in windows(leaf) if w not in others}
            for wrong in ([info[field]], {"value": info[field]}, json.dumps(info[field]) if isinstance(
                    info[field], (dict, list)) else {"nested": [info[field]]}):
                for command, text in outputs({**info, field: wrong}):
                    shown = sorted(w for w in secret if w in text)
                    if shown:
                        leaks.append(f"{kind}.{field} as {type(wrong).__name__}, {command}: {shown[:3]}")
    assert not leaks, "\n".join(leaks)


# -- 6. the deadline bounds the whole command, body reads included ------------------------------------------

def dribble(handler):
    """Headers at once, then one byte of a token response a second, for as long as the client listens."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    handler.wfile.flush()
    for _ in range(300):
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(1)


@pytest.mark.parametrize("key", ["token_endpoint", "iam_endpoint"])
def test_6_an_upstream_dribbling_one_byte_a_second_is_cut_at_the_deadline(tmp_path, emulator, sample, key):
    with StubServer(dribble) as slow:
        profiles = tmp_path / "profiles.ini"
        write_profiles(profiles, emulator.url, {"t": {"source": sample.source_key, "target": TARGET}})
        url = slow.url + ("/token" if key == "token_endpoint" else "")
        profiles.write_text(profiles.read_text().replace(f"{key} = ", f"{key} = {url}\n# was: "))
        env = cli_env(tmp_path, profiles, CREDHELPER_DEADLINE_SECS="3")
        started = time.monotonic()
        try:  # old main: 100 s and more; a generous bound for a loaded machine, not a speed test
            result = run_cli(["print-access-token", "--profile", "t", "--no-cache"], env, timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("CREDHELPER_DEADLINE_SECS=3 still running after 30 s")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert time.monotonic() - started < 30


# -- 7. an absurd expiry is capped at the requested lifetime --------------------------------------------------

FOREVER = "9999-12-31T23:59:59Z"
FOREVER_EPOCH = 253402300799


def hostile_google(handler):
    """Tokens that claim to live until the year 9999, for every kind and source."""
    path = handler.path
    if path.endswith("/token"):
        return json_answer({"access_token": "ya29.hostile-source", "expires_in": 10 ** 11, "token_type": "Bearer"})
    if path.endswith(":generateAccessToken"):
        return json_answer({"accessToken": "ya29.hostile-target", "expireTime": FOREVER})
    if path.endswith(":generateIdToken"):
        return json_answer({"token": unsigned_jwt({"aud": "https://svc.example", "iss": "https://accounts.google.com",
                                                   "sub": "1", "iat": int(time.time()), "exp": FOREVER_EPOCH})})
    return json_answer({"error": "not found"}, 404)


@pytest.mark.parametrize("case", ["access-token", "id-token", "source-access-token"])
def test_7_an_expiry_of_year_9999_is_not_believed(tmp_path, sample, case):
    with StubServer(hostile_google) as hostile:
        keys = {"source": sample.source_key}
        if case != "source-access-token":
            keys["target"] = TARGET
        profiles = write_profiles(tmp_path / "profiles.ini", hostile.url, {"t": keys})
        env = cli_env(tmp_path, profiles)
        argv = (["print-identity-token", "--audience", "https://svc.example"] if case == "id-token"
                else ["print-access-token"])
        results = [run_cli([*argv, "--profile", "t", "--format", "json"], env) for _ in range(2)]  # mint, then cache
    for result in results:
        assert result.returncode == 0, result.stderr
        expires_in = json.loads(result.stdout)["expires_in"]
        assert expires_in <= 3600 + 60, (case, expires_in)  # the profile's lifetime (default 1h)


# -- 8. the helpers match only hosts that are hosts ---------------------------------------------------------

@pytest.fixture
def helpers(tmp_path, emulator, sample):
    config = write_profiles(tmp_path / "profiles.ini", emulator.url, {
        "default": {"source": sample.source_key, "target": TARGET},
        "a": {"source": sample.source_key, "target": TARGET},
    })
    with open(config, "a") as f:
        f.write("\n[git]\nhttps://source.developers.google.com/p/team-a = a\n")
    return protocol_env(tmp_path, config)


def git_helper(env, text, *args):
    return subprocess.run(["git-credential-credhelper", *args, "get"], env=env, input=text, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("host", ["evil.com/.googlesource.com", "evil.com#.googlesource.com",
                                  "evil.com@.googlesource.com", "evil.com?.googlesource.com",
                                  "evil.com\\.googlesource.com"])
def test_8_git_answers_no_host_that_only_ends_like_a_google_one(helpers, host):
    result = git_helper(helpers, f"protocol=https\nhost={host}\n\n")
    assert "password=" not in result.stdout, (host, result.stdout[:40])


def test_8_git_answers_no_path_that_climbs_out_of_its_prefix(helpers):
    for path in ("p/team-a/../team-b", "p/team-a/./../team-b/repo", "p/team-a/%2e%2e/team-b"):
        result = git_helper(helpers, f"protocol=https\nhost=source.developers.google.com\npath={path}\n\n")
        assert "password=" not in result.stdout, (path, result.stdout[:40])


@pytest.mark.parametrize("server", ["evil.com%2f.gcr.io", "evil.com%2F.pkg.dev",
                                    "evil.com@.gcr.io"])
def test_8_docker_answers_no_registry_that_only_ends_like_a_google_one(helpers, server):
    result = subprocess.run(["docker-credential-credhelper", "get"], env=helpers, input=server, capture_output=True,
                            text=True, timeout=60)
    assert "Secret" not in result.stdout and result.returncode != 0, (server, result.stdout[:60])


def test_8_the_real_google_hosts_are_still_answered(helpers):
    result = git_helper(helpers, "protocol=https\nhost=example.googlesource.com\n\n")
    assert "password=ya29." in result.stdout, result.stderr
    docker = subprocess.run(["docker-credential-credhelper", "get"], env=helpers, input="us-docker.pkg.dev",
                            capture_output=True, text=True, timeout=60)
    assert json.loads(docker.stdout)["Secret"].startswith("ya29.")


# -- 9. hostile input gets the documented exit code, never a crash or a hang ----------------------------------

def test_9_an_unterminated_ipv6_url_is_a_usage_error(helpers):
    result = git_helper(helpers, "url=https://[::1\n\n")
    assert result.returncode == EXIT_USAGE and "Traceback" not in result.stderr, result.stderr


def with_stdin_closed(env, argv):
    result = subprocess.run(["sh", "-c", 'exec "$@" <&-', "sh", *argv], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == EXIT_USAGE, result.stderr
    assert "Traceback" not in result.stderr and "AttributeError" not in result.stdout + result.stderr


@pytest.mark.parametrize("helper", ["git-credential-credhelper", "docker-credential-credhelper"])
def test_9_a_closed_stdin_is_a_usage_error_for_the_helpers(helpers, helper):
    with_stdin_closed(helpers, [helper, "get"])


def test_9_a_closed_stdin_is_a_usage_error_for_sign_jwt_claims_from_stdin(helpers):
    with_stdin_closed(helpers, [sys.executable, "-m", "credhelper", "sign-jwt", "-p", "default", "--claims", "-"])


def test_9_a_2000_deep_chain_of_profile_sources_is_a_profile_error(tmp_path, emulator, sample):
    profiles = {"p0": {"source": sample.source_key, "target": TARGET}}
    profiles.update({f"p{i}": {"source": f"profile:p{i - 1}"} for i in range(1, 2000)})
    config = write_profiles(tmp_path / "profiles.ini", emulator.url, profiles)
    result = run_cli(["print-access-token", "--profile", "p1999"], cli_env(tmp_path, config))
    assert result.returncode == EXIT_PROFILE, result.stderr[-300:]
    assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr


@pytest.mark.parametrize("source", ["/dev/zero", "fifo"])
def test_9_a_source_that_never_ends_is_refused_at_once(tmp_path, emulator, source):
    if source == "fifo":
        source = tmp_path / "fifo"
        os.mkfifo(source, 0o600)  # nobody ever writes: a blocking open waits forever
    config = write_profiles(tmp_path / "profiles.ini", emulator.url, {"t": {"source": source, "target": TARGET}})
    try:
        result = run_cli(["print-access-token", "--profile", "t"], cli_env(tmp_path, config), timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail(f"source = {source} still reading after 20 s")
    assert result.returncode == EXIT_PROFILE and "Traceback" not in result.stderr, result.stderr


# -- 11. the executable-sourced output file never serves another identity --------------------------------------

def test_11_executable_output_file_follows_a_changed_target(tmp_path, emulator, sample):
    profiles = tmp_path / "profiles.ini"
    output = tmp_path / "executable-output.json"
    env = cli_env(tmp_path, profiles, GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE="//iam.googleapis.com/projects/1/x",
                  GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE="urn:ietf:params:oauth:token-type:id_token",
                  GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE=str(output), GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES="1")
    emails = []
    for target in (TARGET, DELEGATE_B):
        write_profiles(profiles, emulator.url, {"t": {"source": sample.source_key, "target": target,
                                                      "include_email": "true"}})
        result = run_cli(["executable", "--profile", "t"], env)
        answer = json.loads(result.stdout)
        assert answer["success"] is True, answer
        emails.append(jwt_claims(answer["id_token"]).get("email"))
    assert emails == [TARGET, DELEGATE_B]


# -- found in the attack pass on main (after the fixes above landed) -----------------------------------------

def test_demo_works_for_a_user_whose_umask_is_002(tmp_path):
    # Ubuntu and Debian give users umask 002 (user private groups); the demo's profile file was then
    # group-writable, and credhelper refuses those since issue 12.2: the demo failed with exit 3
    result = subprocess.run([sys.executable, "-m", "credhelper", "demo"], env=cli_env(tmp_path), umask=0o002,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-500:] + result.stderr[-500:]


def test_emulator_init_never_writes_through_a_symlink_planted_at_its_temporary_names(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("the victim's file\n")
    world = tmp_path / "world"
    world.mkdir(mode=0o700)
    for name in ("world.json", "source-key.json", "authorized_user.json", "external_account.json",
                 "subject-token.jwt"):
        (world / f"{name}.tmp").symlink_to(victim)
    subprocess.run([sys.executable, "-m", "credhelper", "emulator", "init", str(world)], env=cli_env(tmp_path),
                   capture_output=True, text=True, timeout=120)
    assert victim.read_text() == "the victim's file\n"


def at_most_768_mib():
    import resource

    limit = 768 << 20  # a read without a bound fails here, instead of taking a shared machine's memory
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@pytest.mark.parametrize("claims", ["/dev/zero", "-"])
def test_9_sign_jwt_claims_that_never_end_are_a_usage_error_not_a_memory_error(helpers, claims):
    with open("/dev/zero", "rb") as zero:
        result = subprocess.run([sys.executable, "-m", "credhelper", "sign-jwt", "-p", "default", "--claims", claims],
                                env=helpers, stdin=zero, capture_output=True, text=True, timeout=60,
                                preexec_fn=at_most_768_mib)
    assert result.returncode == EXIT_USAGE, result.stderr  # main: MemoryError, exit 1
    assert "internal error" not in result.stderr


@pytest.fixture
def like_windows(monkeypatch):
    """This process as Windows shows files: no os.getuid, no openat walk, and every writable file mode 0o666,
    every directory 0o777 (os.stat has no POSIX modes to report there)."""
    from credhelper import privatefile

    def windows_modes(real):
        def fake(*args, **kwargs):
            st = real(*args, **kwargs)
            bits = 0o777 if stat.S_ISDIR(st.st_mode) else 0o666
            return os.stat_result((stat.S_IFMT(st.st_mode) | bits, *tuple(st)[1:]))
        return fake

    monkeypatch.setattr(privatefile, "_HAS_UIDS", False)
    monkeypatch.setattr(privatefile, "_WALK", False)
    monkeypatch.delattr(os, "getuid")
    for name in ("stat", "lstat", "fstat"):
        monkeypatch.setattr(os, name, windows_modes(getattr(os, name)))


def test_2_windows_profile_and_credentials_files_are_not_refused_for_modes_it_does_not_have(tmp_path, sample,
                                                                                          like_windows):
    from credhelper import credentials

    profiles = tmp_path / "profiles.ini"
    profiles.write_text("[default]\nsource = adc\n")
    credentials.check_trusted(str(profiles), os.stat(profiles), "profile file")
    assert credentials.read_trusted_file(str(profiles), "profile file").startswith(b"[default]")
    assert credentials.read_credentials(sample.source_key).type == "service_account"


def test_4_windows_cache_hits(tmp_path, like_windows):
    from credhelper.cache import TokenCache
    from credhelper.token import ACCESS_TOKEN, Token

    cache = TokenCache(backend="file", runtime_dir=str(tmp_path / "runtime"))
    key = "ab" * 32
    cache.put(key, Token(ACCESS_TOKEN, "ya29.cached", time.time() + 3600), {"profile": "t"})
    assert cache.get(key, margin_secs=60) is not None


INJECTED = "ya29.hostile\nurl=https://evil.example/\nquit=1\r\nX-Injected: 1"


def injecting_google(handler):
    """An upstream whose tokens carry line breaks: lines of its choosing in git's credential protocol, headers in
    --format header."""
    if handler.path.endswith("/token"):
        return json_answer({"access_token": "ya29.source", "expires_in": 3600, "token_type": "Bearer"})
    if handler.path.endswith(":generateAccessToken"):
        return json_answer({"accessToken": INJECTED, "expireTime": "2099-01-01T00:00:00Z"})
    return json_answer({"error": "not found"}, 404)


def test_a_token_with_line_breaks_from_upstream_is_refused_not_passed_on(tmp_path, sample):
    with StubServer(injecting_google) as hostile:
        config = write_profiles(tmp_path / "profiles.ini", hostile.url,
                                {"default": {"source": sample.source_key, "target": TARGET}})
        env = protocol_env(tmp_path, config)
        git = subprocess.run(["git-credential-credhelper", "get"], env=env, timeout=60, capture_output=True, text=True,
                             input="protocol=https\nhost=example.googlesource.com\n\n")
        header = run_cli(["print-access-token", "--format", "header"], env)
    keys = [line.partition("=")[0] for line in git.stdout.splitlines()]
    assert set(keys) <= {"username", "password", "password_expiry_utc"}, git.stdout
    assert "X-Injected" not in header.stdout and header.stdout.count("\n") <= 1, header.stdout


def echoing_token_endpoint(handler):
    """An upstream that refuses a grant and quotes what it was sent, as some proxies and servers do."""
    import urllib.parse

    body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0)).decode()
    sent = " ".join(v for values in urllib.parse.parse_qs(body).values() for v in values)
    return json_answer({"error": "invalid_grant", "error_description": f"refused: {sent}"}, 400)


@pytest.mark.parametrize("source", [
    "authorized_user",
    "source_key"])
def test_an_upstream_quoting_the_request_gets_no_secret_into_errors(tmp_path, sample, source):
    path = getattr(sample, source)
    with open(path) as f:
        info = json.load(f)
    with StubServer(echoing_token_endpoint) as upstream:
        config = write_profiles(tmp_path / "profiles.ini", upstream.url, {"u": {"source": path, "target": TARGET}})
        results = [run_cli(argv, cli_env(tmp_path, config)) for argv in
                   (["print-access-token", "-p", "u"], ["-vv", "doctor", "-p", "u"], ["-vv", "whoami", "-p", "u"])]
    secrets = [info[k] for k in ("refresh_token", "client_secret") if k in info]
    for result in results:
        text = result.stdout + result.stderr
        assert result.returncode != 0 and "refused" in text
        assert not [s for s in secrets if s in text], text
        assert not [w for w in text.split() if w.startswith("eyJ")], text  # the signed assertion


def changed_forms(value):
    """How an upstream may echo a value it was sent, other than as it is: the pieces a user must not see."""
    import urllib.parse

    half = len(value) // 2
    forms = {
        "url-encoded": [urllib.parse.quote(value, safe="")],
        "split": [f"'{value[:half]}' + '{value[half:]}'"],
        "json-escaped": [json.dumps(value).replace("/", "\\/").replace("-", "\\u002d")],
        "base64": [base64.b64encode(value.encode()).decode(), base64.b64encode(b"client:" + value.encode()).decode()],
        "html": [value.replace("/", "&#x2F;").replace("-", "&#45;")],
        "spaced": [" ".join(value[i:i + 10] for i in range(0, len(value), 10))],
    }
    if value.count(".") == 2:  # a JWT (the signed assertion): its signature part alone is a credential again
        forms["signature"] = [value.split(".")[2]]
    return forms


def echoing_changed(form, sent):
    """A token endpoint refusing the grant and quoting in `form` each value it was sent (kept in `sent`)."""
    def respond(handler):
        import urllib.parse

        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0)).decode()
        values = [v for values in urllib.parse.parse_qs(body).values() for v in values if len(v) >= 16]
        sent.extend(values)
        quoted = " ".join(piece for v in values for piece in changed_forms(v).get(form, []))
        return json_answer({"error": "invalid_grant", "error_description": f"refused: {quoted}"}, 400)
    return respond


@pytest.mark.parametrize("source, form", [
    *[("authorized_user", form) for form in ("url-encoded", "split", "json-escaped", "base64", "html", "spaced")],
    *[("source_key", form) for form in ("url-encoded", "split", "json-escaped", "base64", "html", "spaced",
                                        "signature")]])
def test_an_upstream_echoing_the_request_in_changed_form_gets_no_fragment_into_errors(tmp_path, sample, source, form):
    """Leftover 1 of the last attack pass: a secret quoted URL-encoded, split, escaped, base64-encoded (a
    Basic header), or only a JWT's signature part, was printed; now no 12-character piece of it is."""
    path = getattr(sample, source)
    with open(path) as f:
        info = json.load(f)
    sent = []
    with StubServer(echoing_changed(form, sent)) as upstream:
        config = write_profiles(tmp_path / "profiles.ini", upstream.url, {"u": {"source": path, "target": TARGET}})
        results = [run_cli(argv, cli_env(tmp_path, config)) for argv in
                   (["print-access-token", "-p", "u"], ["-vv", "whoami", "-p", "u"])]
    # the secrets sent: the refresh token and client secret, or the signed assertion (a JWT)
    secrets = [v for v in sent if v in (info.get("refresh_token"), info.get("client_secret")) or v.count(".") == 2]
    assert secrets and all(form in changed_forms(v) for v in secrets)
    for result in results:
        text = result.stdout + result.stderr
        assert result.returncode != 0 and "invalid_grant" in text, text
        shown = [w for v in secrets for piece in changed_forms(v)[form] for w in windows(piece) if w in text]
        assert not shown, (shown[:3], text)


@pytest.mark.parametrize("how", ["theirs", "world-writable"])
def test_2_a_subject_token_file_another_user_controls_is_refused(tmp_path, emulator, sample, how):
    # Whoever controls the subject token chooses the federated identity credhelper acts as
    with open(sample.external_account) as f:
        info = json.load(f)
    subject = tmp_path / "subject.jwt"
    shutil.copy(info["credential_source"]["file"], subject)
    if how == "theirs":
        uid, gid = other_user()
        subject.chmod(0o644)
        os.chown(subject, uid, gid)
    else:
        subject.chmod(0o666)
    info["credential_source"]["file"] = str(subject)
    external = tmp_path / "external_account.json"
    external.write_text(json.dumps(info))
    external.chmod(0o600)
    config = write_profiles(tmp_path / "profiles.ini", emulator.url, {"u": {"source": external, "target": TARGET}})
    result = run_cli(["print-access-token", "--profile", "u"], cli_env(tmp_path, config))
    assert result.returncode == EXIT_PROFILE and str(subject) in result.stderr, result.stderr
    assert emulator.counters.get("sts", 0) == 0


@pytest.mark.parametrize("which", ["profile file", "credentials file", "subject token file"])
@pytest.mark.parametrize("dir_mode", [0o777, 0o770], ids=["0777", "0770 of another user's group"])
def test_2_a_file_in_a_directory_others_can_write_is_refused_naming_the_directory(tmp_path, emulator, sample,
                                                                                  which, dir_mode):
    """Leftover 4 of the last attack pass: the file's owner and mode were checked, not its directory, where
    another user could swap it for another of the user's files (another identity). The second user's swap
    itself: tests/test_privatefile.py."""
    shared = tmp_path / "shared"
    shared.mkdir()
    with open(sample.external_account) as f:
        info = json.load(f)
    subject = (shared if which == "subject token file" else tmp_path) / "subject.jwt"
    shutil.copy(info["credential_source"]["file"], subject)
    subject.chmod(0o600)
    info["credential_source"]["file"] = str(subject)
    external = (shared if which == "credentials file" else tmp_path) / "external_account.json"
    external.write_text(json.dumps(info))
    external.chmod(0o600)
    profiles = (shared if which == "profile file" else tmp_path) / "profiles.ini"
    config = write_profiles(profiles, emulator.url, {"u": {"source": external, "target": TARGET}})
    profiles.chmod(0o600)
    env = cli_env(tmp_path, config)
    assert run_cli(["print-access-token", "--profile", "u"], env).returncode == 0  # 0700: fine
    if dir_mode == 0o770:  # writable by a group the second user is in
        os.chown(shared, -1, other_user()[1])
    shared.chmod(dir_mode)
    result = run_cli(["print-access-token", "--profile", "u", "--refresh"], env)
    assert result.returncode == EXIT_PROFILE, result.stderr
    assert which in result.stderr and f"{shared} is a directory writable by" in result.stderr, result.stderr
    assert f"chmod go-w {shared}" in result.stderr and "Traceback" not in result.stderr
    doctor = run_cli(["doctor", "--profile", "u"], env)
    assert doctor.returncode != 0 and f"chmod go-w {shared}" in doctor.stdout + doctor.stderr
    shared.chmod(0o1777)  # sticky, like /tmp: only an entry's owner may rename or remove it
    assert run_cli(["print-access-token", "--profile", "u", "--refresh"], env).returncode == 0


@pytest.mark.parametrize("how", ["ours", "output file in a writable directory", "output file in a sticky directory",
                                 "output file theirs", "command theirs", "command in a writable directory",
                                 "output file in a directory of the user's private group",
                                 "output file in a directory of a shared group"])
def test_2_an_executable_sources_output_file_and_command_must_be_the_users(tmp_path, emulator, sample, how):
    """Like the subject token file: google-auth reads the executable source's output_file before running
    the command, and runs the command; whoever can plant either chooses the federated identity."""
    with open(sample.external_account) as f:
        info = json.load(f)
    with open(info["credential_source"]["file"]) as f:
        subject = f.read().strip()
    bin_dir, out_dir = tmp_path / "bin", tmp_path / "out"
    bin_dir.mkdir(mode=0o700)
    out_dir.mkdir(mode=0o700)
    ran = tmp_path / "ran"
    command = bin_dir / "get-token"
    answer = json.dumps({"version": 1, "success": True, "token_type": "urn:ietf:params:oauth:token-type:jwt",
                         "id_token": subject, "expiration_time": int(time.time()) + 3600})
    command.write_text(f"#!/bin/sh\ntouch {ran}\necho '{answer}'\n")
    command.chmod(0o700)
    output_file = out_dir / "token.json"
    if how == "output file in a writable directory":
        out_dir.chmod(0o777)
    elif how == "output file in a sticky directory":
        out_dir.chmod(0o1777)  # another user may create a name that does not exist yet
    elif how == "output file theirs":
        uid, gid = other_user()
        output_file.write_text(answer)
        os.chown(output_file, uid, gid)
    elif how == "command theirs":
        uid, gid = other_user()
        os.chown(command, uid, gid)
        command.chmod(0o755)
    elif how == "command in a writable directory":
        bin_dir.chmod(0o777)
    elif how == "output file in a directory of the user's private group":
        if not primary_group_is_private():
            pytest.skip("this user's primary group has other members")
        out_dir.chmod(0o770)  # umask 002 on Debian and Ubuntu: the group is the user's alone
    elif how == "output file in a directory of a shared group":
        if not shared_group(out_dir):
            pytest.skip("no group with another member to give the directory")
        out_dir.chmod(0o770)
    info["credential_source"] = {"executable": {"command": f"{command} --flag", "output_file": str(output_file),
                                                "timeout_millis": 30000}}
    external = tmp_path / "external_account.json"
    external.write_text(json.dumps(info))
    external.chmod(0o600)
    config = write_profiles(tmp_path / "profiles.ini", emulator.url, {"u": {"source": external, "target": TARGET}})
    result = run_cli(["print-access-token", "--profile", "u"],
                     cli_env(tmp_path, config, GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES="1"))
    if how in ("ours", "output file in a directory of the user's private group"):
        assert result.returncode == 0 and ran.exists(), result.stderr
        return
    assert result.returncode == EXIT_PROFILE, result.stderr
    named = command if how.startswith("command") else output_file
    assert str(named) in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert emulator.counters.get("sts", 0) == 0 and not ran.exists()


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX groups")
def test_2_user_private_groups_directories_of_mode_0775_are_fine(tmp_path, emulator, sample):
    """Debian and Ubuntu give each user a private group and umask 002, so ~/.config and ~/.config/gcloud
    are 0775 there: group-writable by a group whose only member is the user. The ADC file in them is the
    user's, as Debian's OpenSSH (user-group-modes) also judges; refusing it would refuse most users."""
    if not primary_group_is_private():
        pytest.skip("this user's primary group has other members: not a user private group")
    home = tmp_path / "home"
    gcloud = home / ".config" / "gcloud"
    gcloud.mkdir(parents=True)
    adc = gcloud / "application_default_credentials.json"
    shutil.copy(sample.source_key, adc)
    adc.chmod(0o664)  # what cp makes under umask 002
    for d in (home, home / ".config", gcloud):
        os.chown(d, -1, os.getgid())
        d.chmod(0o775)
    config = write_profiles(tmp_path / "profiles.ini", emulator.url, {"u": {"source": "adc", "target": TARGET}})
    env = dict(cli_env(tmp_path, config), HOME=str(home), CLOUDSDK_CONFIG=str(gcloud))
    env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    result = run_cli(["print-access-token", "--profile", "u"], env)
    assert result.returncode == 0, result.stderr
    if os.environ.get("CREDHELPER_TEST_OTHER_USER") and os.getuid() == 0:  # the same with another member: refused
        os.chown(gcloud, -1, other_user()[1])
        result = run_cli(["print-access-token", "--profile", "u", "--refresh"], env)
        assert result.returncode == EXIT_PROFILE and f"{gcloud} is a directory writable by its group" in result.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_DUMPABLE is Linux's")
def test_10_a_serving_process_is_not_dumpable_so_its_own_user_cannot_attach_to_it():
    # In a forked child (the flag must not reach pytest): dumpable as any process starts, then what
    # serve-metadata and exec --metadata do before serving, then the kernel's answer
    import ctypes

    from credhelper import metadata

    PR_GET_DUMPABLE, PR_SET_DUMPABLE = 3, 4

    def dumpable_after(protect):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
        if protect:
            metadata.protect_memory()
        return libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)

    assert in_forked_child(dumpable_after, False) == 1  # the check can tell
    assert in_forked_child(dumpable_after, True) == 0


# -- AWS credentials (issue 16), tried like the rest ------------------------------------------------------------

ROLE_ARN = "arn:aws:iam::123456789012:role/credhelper-trust"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


def hostile_sts(expiration=None, echo=False):
    """An AWS STS on loopback: credentials that claim to live until `expiration`, or an AccessDenied that
    quotes the web identity token it was sent."""
    import urllib.parse

    def respond(handler):
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0)).decode()
        sent = urllib.parse.parse_qs(body)
        if echo:
            xml = (f'<ErrorResponse xmlns="{STS_NS}"><Error><Type>Sender</Type><Code>AccessDenied</Code>'
                   f'<Message>Not authorized to assume the role with token {sent["WebIdentityToken"][0]}</Message>'
                   '</Error><RequestId>1</RequestId></ErrorResponse>')
            return 403, {"Content-Type": "text/xml"}, xml.encode()
        xml = (f'<AssumeRoleWithWebIdentityResponse xmlns="{STS_NS}"><AssumeRoleWithWebIdentityResult><Credentials>'
               '<AccessKeyId>ASIAHOSTILE0000000000</AccessKeyId><SecretAccessKey>hostile/secret/key</SecretAccessKey>'
               f'<SessionToken>hostile-session-token</SessionToken><Expiration>{expiration}</Expiration>'
               '</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>')
        return 200, {"Content-Type": "text/xml"}, xml.encode()

    return StubServer(respond)


def aws_profiles(tmp_path, emulator, sample, sts):
    return write_profiles(tmp_path / "profiles.ini", emulator.url, {"aws": {
        "source": sample.source_key, "target": TARGET, "audience": "https://sts.amazonaws.com",
        "aws_role_arn": ROLE_ARN, "aws_sts_endpoint": sts.url}}, cache="file")


def test_7_aws_credentials_claiming_year_9999_are_not_believed(tmp_path, emulator, sample):
    import calendar

    with hostile_sts(expiration=FOREVER) as sts:
        env = cli_env(tmp_path, aws_profiles(tmp_path, emulator, sample, sts))
        started = time.time()
        results = [run_cli(["aws-credential-process", "--profile", "aws"], env) for _ in range(2)]  # mint, cache
    for result in results:
        assert result.returncode == 0, result.stderr
        expiration = json.loads(result.stdout)["Expiration"]
        expiry = calendar.timegm(time.strptime(expiration, "%Y-%m-%dT%H:%M:%SZ"))
        assert expiry <= started + 3600 + 120, expiration  # aws_duration's default, 1h


def test_5_an_sts_quoting_the_web_identity_token_gets_it_into_no_message(tmp_path, emulator, sample):
    with hostile_sts(echo=True) as sts:
        env = cli_env(tmp_path, aws_profiles(tmp_path, emulator, sample, sts))
        results = [run_cli(argv, env) for argv in (["aws-credential-process", "--profile", "aws"],
                                                   ["-vv", "print-aws-credentials", "--profile", "aws"])]
    for result in results:
        assert result.returncode != 0 and "AccessDenied" in result.stderr, result.stderr
        assert not [w for w in (result.stdout + result.stderr).split() if "eyJ" in w], result.stderr


def test_a_runtime_directory_planted_by_another_user_is_no_internal_error(tmp_path, emulator, sample):
    # attack pass: with XDG_RUNTIME_DIR unset, platformdirs falls back to $TMPDIR/runtime-UID; another user
    # who made it first got every command to fail with "internal error (PermissionError)", even with no cache
    uid, gid = other_user()
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    planted = shared / f"runtime-{os.getuid()}"
    planted.mkdir(mode=0o777)
    os.chown(planted, uid, gid)
    config = write_profiles(tmp_path / "profiles.ini", emulator.url, {"t": {"source": sample.source_key,
                                                                              "target": TARGET}}, cache="none")
    env = cli_env(tmp_path, config, TMPDIR=str(shared))
    env.pop("XDG_RUNTIME_DIR")
    result = run_cli(["print-access-token", "--profile", "t"], env)
    assert result.returncode == 0 and "internal error" not in result.stderr, result.stderr
    assert not any(planted.iterdir())  # nothing of ours was written into their directory
