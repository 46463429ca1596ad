"""credhelper serve-metadata: the profile's target identity as a GCE metadata server on 127.0.0.1,
driven over real HTTP, by google-auth's compute_engine credentials, and by the real gcloud."""

import base64
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from credhelper.errors import EXIT_AUTH
from support import SOURCE, TARGET, as_other_user, cli_env, other_user, write_profiles

FLAVOR = {"Metadata-Flavor": "Google"}
SA = "computeMetadata/v1/instance/service-accounts"
READ_ONLY = "https://www.googleapis.com/auth/devstorage.read_only"
PROJECT_NUMBER = "424242424242"


@pytest.fixture
def config(tmp_path, emulator, sample):
    return write_profiles(tmp_path / "profiles.ini", emulator.url, {
        "t": {"source": sample.source_key, "target": TARGET, "project_number": PROJECT_NUMBER},
        "billed": {"source": sample.source_key, "target": TARGET, "quota_project": "billing-project"},
        "lookup": {"source": sample.source_key, "target": TARGET},
        "denied": {"source": sample.source_key, "delegates": sample.delegate_c, "target": TARGET},
    })


class Served:
    def __init__(self, proc, host, url_file):
        self.proc, self.host, self.url_file = proc, host, url_file

    def get(self, path, headers=FLAVOR, **kw):
        return requests.get(f"http://{self.host}/{path}", headers=headers, timeout=10, **kw)


def start(tmp_path, config, profile="t", *extra, verbose=()):
    url_file = tmp_path / "metadata-url"
    proc = subprocess.Popen([sys.executable, "-m", "credhelper", *verbose, "serve-metadata", "--profile", profile,
                             "--url-file", str(url_file), *extra],
                            env=cli_env(tmp_path, config), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not url_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"serve-metadata did not start (exit {proc.returncode}): {err}")
        time.sleep(0.05)
    host = url_file.read_text().strip()
    assert proc.stdout.readline().strip() == host
    return Served(proc, host, url_file)


def stop(served, sig=signal.SIGTERM):
    served.proc.send_signal(sig)
    out, err = served.proc.communicate(timeout=20)
    return served.proc.returncode, err


@pytest.fixture
def served(tmp_path, config):
    s = start(tmp_path, config)
    yield s
    if s.proc.poll() is None:
        stop(s)


# -- the protocol over HTTP -------------------------------------------------------------------------------

def test_identity_entries_answer_as_the_target(served):
    assert served.get(f"{SA}/default/email").text == TARGET
    assert served.get(f"{SA}/{TARGET}/email").text == TARGET
    assert served.get(f"{SA}/default/aliases").text.split() == ["default"]
    assert served.get(f"{SA}/default/scopes").text.split() == ["https://www.googleapis.com/auth/cloud-platform"]
    assert served.get("computeMetadata/v1/project/project-id").text == "credhelper-demo"
    assert served.get("computeMetadata/v1/project/numeric-project-id").text == PROJECT_NUMBER
    assert served.get(f"{SA}/default/email").headers["Metadata-Flavor"] == "Google"


def test_directory_listings_that_client_libraries_probe(served):
    assert served.get(f"{SA}/").text.split() == ["default/", f"{TARGET}/"]
    assert set(served.get(f"{SA}/default/").text.split()) >= {"email", "token", "identity", "scopes", "aliases"}
    info = served.get(f"{SA}/default/", params={"recursive": "true"}).json()
    assert info["email"] == TARGET and info["aliases"] == ["default"]


def test_requests_without_the_flavor_header_or_with_x_forwarded_for_are_refused(served):
    assert served.get(f"{SA}/default/token", headers={}).status_code == 403
    refused = served.get(f"{SA}/default/token", headers={**FLAVOR, "X-Forwarded-For": "10.0.0.1"})
    assert refused.status_code == 403 and "ya29." not in refused.text


def test_access_tokens_come_through_the_cache_with_the_requested_scopes(emulator, served):
    first = served.get(f"{SA}/default/token").json()
    assert served.get(f"{SA}/default/token").json()["access_token"] == first["access_token"]
    assert first["token_type"] == "Bearer" and 3000 < first["expires_in"] <= 3600
    assert emulator.counters["generateAccessToken"] == 1  # minted once, at start; then cached
    narrow = served.get(f"{SA}/default/token", params={"scopes": READ_ONLY}).json()
    info = requests.post(f"{emulator.url}/oauth2/v3/tokeninfo", data={"access_token": narrow["access_token"]}).json()
    assert info["email"] == TARGET and info["scope"] == READ_ONLY


def test_identity_tokens_for_an_audience_with_format_full(served):
    standard = claims(served.get(f"{SA}/default/identity", params={"audience": "https://svc.example"}).text)
    assert standard["aud"] == "https://svc.example" and "email" not in standard
    full = claims(served.get(f"{SA}/default/identity", params={"audience": "https://svc.example", "format": "full"}).text)
    assert full["email"] == TARGET
    assert served.get(f"{SA}/default/identity").status_code == 400


def claims(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_upstream_failures_become_metadata_errors_without_details_that_could_leak(emulator, served):
    emulator.faults.add(endpoint="generateIdToken", status=403, times=1)
    denied = served.get(f"{SA}/default/identity", params={"audience": "https://svc.example"})
    assert denied.status_code == 403 and denied.text.startswith("credhelper: ") and "cannot impersonate" in denied.text
    emulator.faults.add(endpoint="generateIdToken", status=503, times=None)
    unavailable = served.get(f"{SA}/default/identity", params={"audience": "https://other.example"})
    assert unavailable.status_code == 503  # clients may retry this one
    assert "ya29." not in denied.text + unavailable.text and "eyJ" not in denied.text + unavailable.text


def test_project_id_is_the_profiles_quota_project_when_set(tmp_path, config):
    served = start(tmp_path, config, "billed")
    try:
        assert served.get("computeMetadata/v1/project/project-id").text == "billing-project"
        # no project_number in the profile, and Resource Manager does not know the project: the key is
        # absent, as GCE says it (never a made-up 0)
        absent = served.get("computeMetadata/v1/project/numeric-project-id")
        assert absent.status_code == 404 and "Error 404 (Not Found)" in absent.text
        assert "numericProjectId" not in served.get("computeMetadata/v1/project/", params={"recursive": "true"}).json()
    finally:
        stop(served)


def test_numeric_project_id_is_looked_up_when_the_profile_has_no_project_number(tmp_path, emulator, config):
    served = start(tmp_path, config, "lookup")
    try:
        assert served.get("computeMetadata/v1/project/numeric-project-id").text == PROJECT_NUMBER
        assert served.get("computeMetadata/v1/project/numeric-project-id").text == PROJECT_NUMBER
    finally:
        stop(served)
    assert emulator.counters["projects"] == 1  # once, then remembered


# -- answered like GCE -------------------------------------------------------------------------------------

@pytest.mark.parametrize("directory, entries", [
    ("", ["instance/", "project/", "universe/"]),
    ("instance", ["attributes/", "service-accounts/"]),
    ("project", ["attributes/", "numeric-project-id", "project-id"]),
    ("universe", ["universe-domain"]),
    ("instance/service-accounts", ["default/", f"{TARGET}/"]),
    ("instance/service-accounts/default", ["aliases", "email", "identity", "scopes", "token"]),
])
def test_directories_list_their_entries_with_and_without_the_trailing_slash(served, directory, entries):
    for path in (f"computeMetadata/v1/{directory}".rstrip("/"), f"computeMetadata/v1/{directory}/".replace("//", "/")):
        answer = served.get(path)
        assert answer.status_code == 200, path
        assert answer.text.splitlines() == entries, path
        assert answer.headers["Content-Type"] == "application/text" and answer.headers["ETag"]


def test_recursive_directories_answer_gce_json(served):
    accounts = served.get(f"{SA}/", params={"recursive": "true"}).json()  # what Java's getAccount reads
    account = {"aliases": ["default"], "email": TARGET, "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}
    assert accounts == {"default": account, TARGET: account}  # never a token in a listing
    assert served.get("computeMetadata/v1/project", params={"recursive": "true"}).json() == {
        "attributes": {}, "numericProjectId": int(PROJECT_NUMBER), "projectId": "credhelper-demo"}
    assert served.get("computeMetadata/v1/universe/", params={"recursive": "true"}).json() == {
        "universeDomain": "googleapis.com"}
    everything = served.get("computeMetadata/v1/", params={"recursive": "true"})
    assert everything.headers["Content-Type"] == "application/json"
    assert everything.json()["instance"]["serviceAccounts"]["default"]["email"] == TARGET
    assert "ya29." not in everything.text


def test_values_answer_as_text_or_json_and_unknown_paths_get_gces_404(served):
    assert served.get("computeMetadata/v1/universe/universe-domain").text == "googleapis.com"
    assert served.get("computeMetadata/v1/project/project-id", params={"alt": "json"}).json() == "credhelper-demo"
    for path in ("computeMetadata/v1/instance/zone", "computeMetadata/v1/nonsense/", "computeMetadata/v1/project/x",
                 f"{SA}/someone-else@example.com/email", "computeMetadata/v2/", "elsewhere"):
        missing = served.get(path)
        assert missing.status_code == 404, path
        assert missing.headers["Content-Type"] == "text/html; charset=UTF-8" and "Error 404 (Not Found)!!1" in missing.text
        assert missing.headers["Metadata-Flavor"] == "Google"


def raw_get(host_port, path, headers=None, conn=None):
    conn = conn or http.client.HTTPConnection(*host_port.split(":"), timeout=10)
    conn.request("GET", "/" + path, headers={"Metadata-Flavor": "Google", **(headers or {})})
    response = conn.getresponse()
    return conn, response, response.read()


def test_headers_are_gces_one_server_flavor_and_etags_on_values_not_tokens(served):
    conn, response, body = raw_get(served.host, f"{SA}/default/email")
    names = [name.lower() for name, _ in response.getheaders()]
    assert names.count("server") == 1 and response.getheader("Server") == "Metadata Server for VM"
    assert response.getheader("Metadata-Flavor") == "Google" and response.getheader("ETag")
    _, token, _ = raw_get(served.host, f"{SA}/default/token", conn=conn)
    assert token.getheader("ETag") is None and token.getheader("Content-Type") == "application/json"


def test_connections_are_kept_alive(served):
    conn, first, _ = raw_get(served.host, f"{SA}/default/email")
    sock = conn.sock
    assert first.version == 11 and not first.will_close
    _, second, body = raw_get(served.host, f"{SA}/default/aliases", conn=conn)
    assert second.status == 200 and body == b"default\n"
    assert conn.sock is sock  # the same connection answered both


def test_vv_logs_each_request_path_and_status_never_a_token(tmp_path, config):
    served = start(tmp_path, config, "t", verbose=["-vv"])
    try:
        token = served.get(f"{SA}/default/token", params={"scopes": READ_ONLY}).json()["access_token"]
        served.get("computeMetadata/v1/instance/zone")
    finally:
        _, err = stop(served)
    assert f"GET /computeMetadata/v1/{SA.split('v1/')[1]}/default/token 200" in err
    assert "GET /computeMetadata/v1/instance/zone 404" in err
    assert token not in err and "ya29." not in err and READ_ONLY not in err


# -- who may ask (issue 12) ----------------------------------------------------------------------------------

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0",
           "Accept": "*/*", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}


@pytest.mark.parametrize("headers", [
    {"Host": "attacker.example"},  # DNS rebinding: the page's own name, resolved to 127.0.0.1
    {"Host": "attacker.example:{port}"},
    {"Host": "127.0.0.1:1"},  # a loopback name with another port is not this server
    {**BROWSER, "Origin": "http://attacker.example", "Sec-Fetch-Site": "cross-site"},
    {**BROWSER, "Sec-Fetch-Site": "cross-site"},
    {**BROWSER, "Sec-Fetch-Site": "same-site"},
    {**BROWSER, "Origin": "null"},
])
def test_browser_and_rebinding_requests_get_no_token(served, headers):
    port = served.host.split(":")[1]
    headers = {name: value.format(port=port) for name, value in headers.items()}
    for path in (f"{SA}/default/token", f"{SA}/default/identity?audience=https://attacker.example"):
        _, response, body = raw_get(served.host, path, headers)
        assert response.status == 403, (path, headers)
        assert b"ya29." not in body and b"eyJ" not in body


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "metadata.google.internal",
                                  "metadata.google.internal.", "169.254.169.254", "169.254.169.254:80"])
def test_the_host_names_client_libraries_send_are_answered(served, host):
    _, response, body = raw_get(served.host, f"{SA}/default/token",
                                {"Host": host.format(port=served.host.split(":")[1]), "Sec-Fetch-Site": "none"})
    assert response.status == 200 and json.loads(body)["access_token"]


def test_a_refusal_says_why_under_v(tmp_path, config):
    served = start(tmp_path, config, "t", verbose=["-v"])
    try:
        raw_get(served.host, f"{SA}/default/token", {"Host": "attacker.example", "Origin": "http://attacker.example"})
    finally:
        _, err = stop(served)
    assert "refused GET /computeMetadata/v1/instance/service-accounts/default/token" in err
    assert "attacker.example" in err and "this server's address" in err


def fetch(host_port, path):
    """(status, body) of a GET from this process; what the second user runs in its forked child."""
    try:
        _, response, body = raw_get(host_port, path)
    except OSError as exc:
        return None, type(exc).__name__
    return response.status, body.decode("utf-8", "replace")


def test_another_local_user_gets_no_token_from_serve_metadata(tmp_path, config):
    uid, _ = other_user()
    served = start(tmp_path, config, "t", verbose=["-v"])
    try:
        assert served.get(f"{SA}/default/token").ok  # the user is answered
        status, body = as_other_user(fetch, served.host, f"{SA}/default/token")
        assert status == 403 and "ya29." not in body
        status, body = as_other_user(fetch, served.host, f"{SA}/default/identity?audience=https://theirs.example")
        assert status == 403 and "eyJ" not in body
    finally:
        _, err = stop(served)
    assert f"comes from uid {uid}" in err


EXEC_CHILD = """
import os, sys
print(os.environ["GCE_METADATA_HOST"], flush=True)
sys.stdin.read()
"""


def test_another_local_user_gets_no_token_from_exec_metadata(tmp_path, config):
    other_user()
    proc = subprocess.Popen([sys.executable, "-m", "credhelper", "exec", "--profile", "t", "--metadata", "--",
                             sys.executable, "-c", EXEC_CHILD], env=cli_env(tmp_path, config),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        host = proc.stdout.readline().strip()
        assert host.startswith("127.0.0.1:"), proc.stderr.read() if proc.poll() is not None else host
        _, mine, _ = raw_get(host, f"{SA}/default/token")
        assert mine.status == 200
        status, body = as_other_user(fetch, host, f"{SA}/default/token")
        assert status == 403 and "ya29." not in body
        _, rebinding, body = raw_get(host, f"{SA}/default/token", {"Host": "attacker.example",
                                                                   "Origin": "http://attacker.example"})
        assert rebinding.status == 403 and b"ya29." not in body
        assert core_limit(proc.pid) == 0
    finally:
        proc.communicate("", timeout=30)
    assert proc.returncode == 0


# -- memory (issue 12 item 10) -----------------------------------------------------------------------------

def core_limit(pid):
    """The soft core file size limit of a process, from /proc/PID/limits (None: unlimited)."""
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max core file size"):
                soft = line.split()[4]
                return None if soft == "unlimited" else int(soft)
    raise AssertionError("no core limit line")


def allow_core_dumps():
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_serve_metadata_never_dumps_core(tmp_path, config):
    url_file = tmp_path / "metadata-url"
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "credhelper", "serve-metadata", "--profile", "t",
                             "--url-file", str(url_file)], env=cli_env(tmp_path, config), cwd=workdir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=allow_core_dumps)
    deadline = time.monotonic() + 30
    while not url_file.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert url_file.exists()
    assert core_limit(proc.pid) == 0  # it was unlimited when the process started
    proc.send_signal(signal.SIGABRT)  # would dump core (keys and tokens) with dumping allowed
    _, status = os.waitpid(proc.pid, 0)
    proc.returncode = -signal.SIGABRT
    assert os.WIFSIGNALED(status) and not os.WCOREDUMP(status)
    assert not [p for p in workdir.iterdir() if p.name.startswith("core")]


# -- lifecycle ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_on_sigterm_and_sigint_and_removes_the_url_file(tmp_path, config, sig):
    served = start(tmp_path, config)
    assert served.get(f"{SA}/default/email").ok
    status, err = stop(served, sig)
    assert status == 0, err
    assert not served.url_file.exists()
    assert "Traceback" not in err


def test_listens_on_loopback_only_and_names_itself_on_stderr(served):
    host, port = served.host.split(":")
    assert host == "127.0.0.1"
    _, err = stop(served)
    assert f"GCE_METADATA_HOST={served.host}" in err and TARGET in err


def test_a_denied_profile_fails_before_serving(tmp_path, config):
    proc = subprocess.run([sys.executable, "-m", "credhelper", "serve-metadata", "--profile", "denied",
                           "--url-file", str(tmp_path / "url")], env=cli_env(tmp_path, config),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == EXIT_AUTH
    assert f"{SOURCE} cannot impersonate {TARGET}" in proc.stderr or "cannot impersonate" in proc.stderr
    assert not (tmp_path / "url").exists()


# -- real clients ---------------------------------------------------------------------------------------

GOOGLE_AUTH_CLIENT = """
import json
import google.auth.transport.requests
from google.auth import compute_engine
request = google.auth.transport.requests.Request()
creds = compute_engine.Credentials(scopes=[%r])
creds.refresh(request)
ids = compute_engine.IDTokenCredentials(request, "https://svc.example", use_metadata_identity_endpoint=True)
ids.refresh(request)
from google.oauth2 import id_token
print(json.dumps({"email": creds.service_account_email, "token": creds.token, "expiry": creds.expiry.isoformat(),
                  "id_token": ids.token}))
""" % READ_ONLY


def test_google_auth_compute_engine_credentials_run_as_the_target(emulator, served):
    env = dict(os.environ, GCE_METADATA_HOST=served.host, GCE_METADATA_IP=served.host)
    env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    result = subprocess.run([sys.executable, "-c", GOOGLE_AUTH_CLIENT], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["email"] == TARGET
    info = requests.post(f"{emulator.url}/oauth2/v3/tokeninfo", data={"access_token": seen["token"]}).json()
    assert info["email"] == TARGET and info["scope"] == READ_ONLY
    id_claims = claims(seen["id_token"])
    assert id_claims["aud"] == "https://svc.example" and id_claims["email"] == TARGET
    verified = requests.post(f"{emulator.url}/oauth2/v3/tokeninfo", data={"id_token": seen["id_token"]}).json()
    assert verified["email"] == TARGET


def gcloud_env(tmp_path, **extra):
    gcloud_config = tmp_path / "gcloud"
    gcloud_config.mkdir()  # private and fresh: no 'gce' cache file, so gcloud probes the metadata server
    env = dict(os.environ, CLOUDSDK_CONFIG=str(gcloud_config), CLOUDSDK_CORE_DISABLE_PROMPTS="1",
               CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK="1", **extra)
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_AUTH_ACCESS_TOKEN", "CLOUDSDK_CORE_ACCOUNT",
                 "GCE_METADATA_HOST", "GCE_METADATA_IP"):
        if name not in extra:
            env.pop(name, None)
    return env


def run_gcloud(env, *args, prefix=()):
    result = subprocess.run([*prefix, "gcloud", *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


needs_gcloud = pytest.mark.skipif(shutil.which("gcloud") is None, reason="gcloud is not installed")


@needs_gcloud
def test_gcloud_runs_as_the_target_through_the_metadata_server(tmp_path, emulator, served):
    # gcloud reads GCE_METADATA_ROOT for its own probes (GCE_METADATA_HOST alone is not enough for it)
    env = gcloud_env(tmp_path, GCE_METADATA_ROOT=served.host)
    token = run_gcloud(env, "auth", "print-access-token")
    info = requests.post(f"{emulator.url}/oauth2/v3/tokeninfo", data={"access_token": token}).json()
    assert info["email"] == TARGET
    assert run_gcloud(env, "config", "list", "account", "--format=value(core.account)") == TARGET
    assert run_gcloud(env, "config", "list", "project", "--format=value(core.project)") == "credhelper-demo"


@needs_gcloud
def test_gcloud_under_exec_metadata(tmp_path, emulator, config):
    env = gcloud_env(tmp_path, CREDHELPER_CONFIG=config, XDG_RUNTIME_DIR=cli_env(tmp_path)["XDG_RUNTIME_DIR"])
    # no project_number: gcloud needs numeric-project-id, which the server looks up
    exec_ = (sys.executable, "-m", "credhelper", "exec", "--profile", "lookup", "--metadata", "--")
    token = run_gcloud(env, "auth", "print-access-token", prefix=exec_)
    info = requests.post(f"{emulator.url}/oauth2/v3/tokeninfo", data={"access_token": token}).json()
    assert info["email"] == TARGET


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's socket tables are Linux's")
@pytest.mark.parametrize("family, address", [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")])
def test_the_peer_uid_comes_from_the_kernels_socket_table(family, address):
    from credhelper.metadata_protocol import peer_refusal, peer_uid

    try:
        listener = socket.socket(family)
        listener.bind((address, 0))
    except OSError:
        pytest.skip(f"no {address} here")
    with listener:
        listener.listen(1)
        with socket.create_connection(listener.getsockname()[:2]):
            accepted, client = listener.accept()
            with accepted:
                server = listener.getsockname()[:2]
                assert peer_uid(server, client[:2]) == os.getuid()
                assert peer_refusal(server, client[:2]) is None
                assert "not ours" in peer_refusal(server, client[:2], uid=os.getuid() + 1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's socket tables are Linux's")
def test_a_dual_stack_client_of_an_ipv4_server_is_attributed_from_tcp6():
    # Java and .NET connect to 127.0.0.1 from an IPv6 socket: the kernel lists it in tcp6 as ::ffff:127.0.0.1,
    # and the server (an IPv4 socket) sees 127.0.0.1; attack pass: the same user's Java client got 403
    from credhelper.metadata_protocol import peer_refusal, peer_uid

    try:
        client_sock = socket.socket(socket.AF_INET6)
        client_sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    except OSError:
        pytest.skip("no IPv6 sockets here")
    with socket.socket(socket.AF_INET) as listener, client_sock:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client_sock.connect(("::ffff:127.0.0.1", listener.getsockname()[1]))
        accepted, client = listener.accept()
        with accepted:
            server = listener.getsockname()[:2]
            assert client[0] == "127.0.0.1"
            assert peer_uid(server, client[:2]) == os.getuid()
            assert peer_refusal(server, client[:2]) is None


def test_a_client_resetting_its_connection_gets_no_traceback_on_stderr(tmp_path, config):
    """A client that resets its connection mid-request (RST, as a killed process's does) is one -vv line,
    never socketserver's traceback on the user's terminal."""
    import select
    import struct

    served = start(tmp_path, config, "t", verbose=["-vv"])
    lines = []
    try:
        host, port = served.host.split(":")
        for _ in range(2):  # twice: the server goes on serving after the first
            sock = socket.create_connection((host, int(port)), timeout=10)
            sock.sendall(b"GET /computeMetadata/v1/instance/zone HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()  # SO_LINGER 0: an RST, not a FIN
            while True:  # until the server has handled it, one way or the other
                ready, _, _ = select.select([served.proc.stderr], [], [], 60)
                assert ready, f"the server said nothing about the reset: {lines}"
                lines.append(served.proc.stderr.readline())
                if "closed the connection" in lines[-1] or "Traceback" in lines[-1] or not lines[-1]:
                    break
        assert served.get(f"{SA}/default/email").text == TARGET
    finally:
        _, err = stop(served)
    text = "".join(lines) + err
    assert "Traceback" not in text and "Exception occurred" not in text, text
    assert text.count("closed the connection") == 2, text
