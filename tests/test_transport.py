"""The transport (credhelper.transport) against real servers: a TLS server with its own CA, an HTTP
proxy, a server that answers one byte a second, a server that wants a client certificate; and
against the library it replaced (google.auth.transport.requests, requests' proxy rules).
"""

import datetime
import http.server
import ipaddress
import json
import os
import select
import socket
import ssl
import subprocess
import sys
import threading
import time

import google.auth.exceptions
import google.auth.transport.requests
import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
import requests.adapters
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from credhelper import broker, transport
from credhelper.errors import SourceError, UpstreamError
from credhelper.profile import load_config
from credhelper.token import ACCESS_TOKEN
from support import TARGET, cli_env, run_cli, write_profiles

NO_PROXY_ENV = {}  # an environment without any proxy or CA variable


# -- certificates ---------------------------------------------------------------------------------------------

def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, issuer, key, issuer_key, *, ca=False, sans=(), client=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    if client:
        builder = builder.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert, key=None):
    text = cert.public_bytes(serialization.Encoding.PEM)
    if key is not None:
        text += key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    return text


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A private CA; a server certificate for localhost and 127.0.0.1; a client certificate. Paths."""
    d = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("credhelper test CA", "credhelper test CA", ca_key, ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _cert("localhost", "credhelper test CA", server_key, ca_key,
                   sans=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _cert("credhelper client", "credhelper test CA", client_key, ca_key, client=True)
    other = _cert("other.example", "credhelper test CA", server_key, ca_key, sans=[x509.DNSName("other.example")])
    paths = {"ca": d / "ca.pem", "server": d / "server.pem", "client": d / "client.pem", "other": d / "other.pem"}
    paths["other"].write_bytes(_pem(other, server_key))
    paths["ca"].write_bytes(_pem(ca))
    paths["server"].write_bytes(_pem(server, server_key))
    paths["client"].write_bytes(_pem(client, client_key))
    return {k: str(v) for k, v in paths.items()}


# -- servers -----------------------------------------------------------------------------------------------

class _Echo(http.server.BaseHTTPRequestHandler):
    """Answers every request with JSON: method, path, the headers and body it got; /status/N answers N."""

    protocol_version = "HTTP/1.1"

    def _answer(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append((self.command, self.path, dict(self.headers)))
        peer = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
        status = int(self.path.split("/status/", 1)[1].split("?")[0]) if "/status/" in self.path else 200
        answer = {"method": self.command, "path": self.path, "body": body.decode(),
                  "user_agent": self.headers.get("User-Agent"),
                  "client_cert": dict(x[0] for x in peer["subject"]) if peer else None}
        if "/oauth-error/" in self.path:
            status, answer = 400, {"error": self.path.rsplit("/", 1)[1], "error_description": "try later"}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Echo", "yes")
        if 300 <= status < 400:
            self.send_header("Location", f"http://127.0.0.1:{self.server.port}/elsewhere")
        if "/chunked" in self.path:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(data), 7):
                part = data[i:i + 7]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler, tls=None):
        super().__init__(("127.0.0.1", 0), handler)
        self.seen = []
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.port = self.server_address[1]

    def __enter__(self):
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


def _server_tls(pki, require_client_cert=False):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["server"])
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki["ca"])
    return context


@pytest.fixture
def echo():
    with _Server(_Echo) as server:
        yield server


@pytest.fixture
def tls_echo(pki):
    with _Server(_Echo, _server_tls(pki)) as server:
        yield server


class _Proxy(http.server.BaseHTTPRequestHandler):
    """An HTTP proxy: CONNECT tunnels, and absolute-form requests forwarded. Records what it was asked."""

    protocol_version = "HTTP/1.1"

    def do_CONNECT(self):
        self.server.seen.append(("CONNECT", self.path, self.headers.get("Proxy-Authorization")))
        host, port = self.path.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        self.send_response(200, "Connection established")
        self.end_headers()
        conns = [self.connection, upstream]
        while True:
            ready, _, _ = select.select(conns, [], [], 5)
            if not ready:
                break
            for s in ready:
                data = s.recv(65536)
                if not data:
                    upstream.close()
                    return
                (upstream if s is self.connection else self.connection).sendall(data)

    def _forward(self):
        self.server.seen.append((self.command, self.path, self.headers.get("Proxy-Authorization")))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-authorization", "connection")}
        # echo.invalid: a name that is not loopback (loopback is never proxied over plain http), served here
        url = self.path.replace("//echo.invalid:", "//127.0.0.1:", 1)
        answer = requests.request(self.command, url, data=body, headers=headers, proxies={"http": None})
        self.send_response(answer.status_code)
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = _forward

    def log_message(self, *args):
        pass


@pytest.fixture
def proxy():
    with _Server(_Proxy) as server:
        yield server


class _Drip:
    """A server that answers every connection one byte a second (headers first, or after prompt headers)."""

    def __init__(self, where):
        self.where = where
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()

    def __enter__(self):
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.sock.close()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        body = b'{"access_token": "ya29.EMULATED-drip", "expires_in": 3600}' + b" " * 200
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        prompt, slow = (b"", head + body) if self.where == "headers" else (head, body)
        try:
            conn.recv(65536)
            conn.sendall(prompt)
            for i in range(len(slow)):
                if self.stop.wait(1):
                    break
                conn.sendall(slow[i:i + 1])
        except OSError:
            pass
        finally:
            conn.close()


# -- answers: the same as google-auth's requests transport -------------------------------------------------------

@pytest.mark.parametrize("method, path, body", [
    ("GET", "/plain?x=1&y=%2F", None),
    ("POST", "/form", b"grant_type=x&assertion=y"),
    ("POST", "/status/404", b"{}"),
    ("GET", "/status/503", None),
    ("GET", "/chunked", None),
])
def test_answers_are_the_ones_google_auths_requests_transport_gets(echo, monkeypatch, method, path, body):
    monkeypatch.setattr(transport, "MAX_ATTEMPTS", 1)
    url = f"http://127.0.0.1:{echo.port}{path}"
    ours = transport.Request(deadline_secs=10, env=NO_PROXY_ENV)(url, method=method, body=body,
                                                                 headers={"X-Test": "1"})
    theirs = google.auth.transport.requests.Request()(url, method=method, body=body, headers={"X-Test": "1"})
    assert ours.status == theirs.status
    mine, other = json.loads(ours.data), json.loads(theirs.data)
    assert mine["user_agent"].startswith("credhelper/")
    mine.pop("user_agent"), other.pop("user_agent")
    assert mine == other
    assert ours.headers["content-type"] == ours.headers["Content-Type"] == theirs.headers["Content-Type"]
    assert ours.headers.get("x-echo") == "yes" and "X-ECHO" in ours.headers
    print(f"\n{method} {path}: HTTP {ours.status}, {len(ours.data)} bytes, as google.auth.transport.requests")


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_the_answer_not_followed(echo, status):
    request = transport.Request(deadline_secs=10, env=NO_PROXY_ENV)
    resp = request(f"http://127.0.0.1:{echo.port}/status/{status}", method="POST", body=b"assertion=secret",
                   headers={"Authorization": "Bearer ya29.EMULATED-redirect"})
    assert resp.status == status and resp.headers["location"].endswith("/elsewhere")
    assert [path for _, path, _ in echo.seen] == [f"/status/{status}"]  # nothing replayed to the new location


def test_an_answer_cut_short_is_a_connection_failure_and_retried(emulator, monkeypatch):
    emulator.faults.add(endpoint="tokeninfo", status=200, body="truncated", times=None)
    request = transport.Request(deadline_secs=10, sleep=lambda s: None, env=NO_PROXY_ENV)
    with pytest.raises(google.auth.exceptions.TransportError, match="connection failed"):
        request(f"{emulator.url}/oauth2/v3/tokeninfo?access_token=x")
    assert emulator.counters["tokeninfo"] == transport.MAX_ATTEMPTS


# -- the deadline bounds the whole request, body reads included ---------------------------------------------------

@pytest.mark.parametrize("where", ["headers", "body"])
def test_a_server_sending_one_byte_a_second_ends_at_the_deadline(where):
    with _Drip(where) as drip:
        request = transport.Request(deadline_secs=2.5, env=NO_PROXY_ENV)
        start = time.monotonic()
        with pytest.raises(google.auth.exceptions.TransportError) as info:
            request(f"http://127.0.0.1:{drip.port}/token", method="POST", body=b"x")
        took = time.monotonic() - start
    # the whole answer would take 250 s; the deadline ends it (the bound is loose: a busy machine)
    assert took < 30 and "deadline" in str(info.value), (took, info.value)
    print(f"\none byte a second in the {where}, deadline 2.5 s: ended after {took:.1f} s, "
          f"{drip.connections} connection(s): {info.value}")


def test_cli_a_slow_token_endpoint_holds_no_caller_past_the_deadline(tmp_path, sample):
    with _Drip("body") as drip:
        config = tmp_path / "profiles.ini"
        config.write_text(f"[cache]\nbackend = none\n\n[default]\nsource = {sample.source_key}\ntarget = {TARGET}\n"
                          f"token_endpoint = http://127.0.0.1:{drip.port}/token\n")
        start = time.monotonic()
        result = run_cli(["print-access-token"], cli_env(tmp_path, config, CREDHELPER_DEADLINE_SECS="3"), timeout=60)
        took = time.monotonic() - start
    assert result.returncode == 1 and result.stdout == "", result
    assert "deadline" in result.stderr and "Traceback" not in result.stderr, result.stderr
    print(f"\nCREDHELPER_DEADLINE_SECS=3, a token endpoint sending a byte a second: exit {result.returncode} after "
          f"{took:.1f} s: {result.stderr.splitlines()[0]}")


# -- google-auth's own retry loops make one attempt ---------------------------------------------------------------

@pytest.mark.parametrize("error", ["temporarily_unavailable", "server_error", "internal_failure"])
def test_an_oauth_error_google_auth_would_retry_is_one_request(echo, sample, error):
    """google.oauth2._client retries these (with time.sleep) three times; under credhelper, once."""
    profile = load_config(write_profiles(sample.directory / f"{error}.ini", "https://unused.invalid", {
        "default": {"source": sample.source_key}}, cache="none")).resolve(None)
    profile = profile.replace(token_endpoint=f"http://127.0.0.1:{echo.port}/oauth-error/{error}")
    with pytest.raises((UpstreamError, SourceError)) as info:
        broker.get_token(profile, ACCESS_TOKEN, cache=None, request=transport.Request(deadline_secs=20))
    assert len(echo.seen) == 1, echo.seen
    assert "is failing" in info.value.message
    print(f"\n400 {error} from the token endpoint: {len(echo.seen)} request: {info.value.message}")


def test_a_metadata_server_that_resets_gets_max_attempts_only(emulator, tmp_path):
    profiles = write_profiles(tmp_path / "p.ini", emulator.url, {
        "gce": {"source": "metadata", "metadata_host": emulator.url.split("://")[1], "target": TARGET}}, cache="none")
    emulator.faults.add(endpoint="metadata", status="reset", times=None)
    result = run_cli(["print-access-token", "--profile", "gce"], cli_env(tmp_path, profiles))
    assert result.returncode == 1 and "connection failed" in result.stderr, result.stderr
    # google-auth's metadata loop retries a TransportError 5 times, sleeping 1, 2, 4, 8 s between: not here
    assert emulator.counters["metadata"] == transport.MAX_ATTEMPTS
    print(f"\nmetadata server resetting every connection: {emulator.counters['metadata']} requests: "
          f"{result.stderr.splitlines()[0]}")


# -- proxies ------------------------------------------------------------------------------------------------

def test_https_goes_through_the_proxy_in_https_proxy(tls_echo, proxy, pki):
    env = {"HTTPS_PROXY": f"http://127.0.0.1:{proxy.port}", "REQUESTS_CA_BUNDLE": pki["ca"]}
    resp = transport.Request(deadline_secs=10, env=env)(f"https://localhost:{tls_echo.port}/via-proxy", method="POST",
                                                        body=b"secret-body")
    assert resp.status == 200 and json.loads(resp.data)["body"] == "secret-body"
    assert proxy.seen == [("CONNECT", f"localhost:{tls_echo.port}", None)]  # the proxy saw a tunnel, not the body
    print(f"\nHTTPS_PROXY: {proxy.seen}")


def test_http_goes_through_the_proxy_in_http_proxy_with_its_credentials(echo, proxy):
    env = {"http_proxy": f"http://us%40er:p%3Ass@127.0.0.1:{proxy.port}"}
    resp = transport.Request(deadline_secs=10, env=env)(f"http://echo.invalid:{echo.port}/plain?a=b")
    assert resp.status == 200 and json.loads(resp.data)["path"] == "/plain?a=b"
    theirs = requests.Session()
    theirs.trust_env = False
    prepared = theirs.prepare_request(requests.Request("GET", f"http://echo.invalid:{echo.port}/plain?a=b"))
    adapter = requests.adapters.HTTPAdapter()
    expected = adapter.proxy_headers(env["http_proxy"])["Proxy-Authorization"]
    assert proxy.seen == [("GET", prepared.url, expected)]  # absolute form, and the Basic credentials requests sends
    print(f"\nhttp_proxy with credentials: {proxy.seen}")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.0.0.2"])
def test_plain_http_to_loopback_never_goes_through_a_proxy(echo, proxy, host):
    # attack pass: http_proxy received an http://127.0.0.1 token endpoint's refresh token and client secret
    env = {"http_proxy": f"http://127.0.0.1:{proxy.port}"}
    try:
        resp = transport.Request(deadline_secs=10, env=env)(f"http://{host}:{echo.port}/direct", method="POST",
                                                            body=b"refresh_token=1//secret")
    except google.auth.exceptions.TransportError:
        assert host != "127.0.0.1"  # nothing listens on that address here; the point is the proxy saw nothing
    else:
        assert resp.status == 200
    assert proxy.seen == []


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,127.0.0.1", "127.0.0.0/8", "*", " 127.0.0.1 "])
def test_no_proxy_goes_direct(echo, proxy, no_proxy):
    env = {"HTTP_PROXY": f"http://127.0.0.1:{proxy.port}", "NO_PROXY": no_proxy}
    resp = transport.Request(deadline_secs=10, env=env)(f"http://127.0.0.1:{echo.port}/direct")
    assert resp.status == 200 and proxy.seen == [] and len(echo.seen) == 1


def test_a_proxy_that_refuses_is_one_attempt_and_a_clear_error(tls_echo, pki):
    class Refusing(_Proxy):
        def do_CONNECT(self):
            self.server.seen.append(("CONNECT", self.path, None))
            self.send_response(407, "Proxy Authentication Required")
            self.send_header("Content-Length", "0")
            self.end_headers()

    with _Server(Refusing) as refusing:
        env = {"HTTPS_PROXY": f"127.0.0.1:{refusing.port}", "REQUESTS_CA_BUNDLE": pki["ca"]}
        with pytest.raises(google.auth.exceptions.TransportError, match="proxy refused .* 407"):
            transport.Request(deadline_secs=10, env=env)(f"https://localhost:{tls_echo.port}/")
        assert len(refusing.seen) == 1


HOSTS = ["example.com", "www.example.com", "badexample.com", "metadata.google.internal", "127.0.0.1", "10.1.2.3",
         "oauth2.googleapis.com"]
NO_PROXIES = ["", "example.com", ".example.com", "www.example.com", "google.internal", "127.0.0.1", "10.0.0.0/8",
              "*", "example.com:443", "example.com:8080", "googleapis.com, .internal", "10.1.2.3:443"]


# requests before 2.33 (the newest for Python 3.9 is 2.32.5) matches a NO_PROXY name as a bare suffix:
# example.com also bypasses the proxy for badexample.com. credhelper matches at a dot, as later requests do.
_LOOSE_SUFFIX = requests.utils.should_bypass_proxies("https://badexample.com/x", no_proxy="example.com")


@pytest.mark.parametrize("no_proxy", NO_PROXIES)
@pytest.mark.parametrize("scheme", ["https", "http"])
def test_proxy_choice_is_requests_choice(no_proxy, scheme):
    """The proxy (or none) requests would use, for every host and NO_PROXY here; one deliberate difference."""
    env = {"https_proxy": "http://proxy.invalid:3128", "http_proxy": "http://other.invalid:8080", "no_proxy": no_proxy}
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.lower().endswith("_proxy")}
    os.environ.update(env)
    try:
        for host in HOSTS:
            url = f"{scheme}://{host}:443/x" if "443" in no_proxy else f"{scheme}://{host}/x"
            port = 443 if "443" in no_proxy else (443 if scheme == "https" else 80)
            theirs = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url, no_proxy=None))
            ours = transport.proxy_for(scheme, host, port, env)
            ours_url = f"http://{ours[0]}:{ours[1]}" if ours else None
            if scheme == "http" and host == "127.0.0.1":
                # plain http to loopback is never proxied (requests would): refresh tokens stay on the machine
                assert ours_url is None
                continue
            if host == "badexample.com" and no_proxy in ("example.com", "example.com:443") and _LOOSE_SUFFIX:
                # this requests takes NO_PROXY=example.com for badexample.com too (see _LOOSE_SUFFIX)
                assert theirs is None and ours_url == env[f"{scheme}_proxy"]
                continue
            if host == "10.1.2.3" and no_proxy == "10.1.2.3:443":
                # requests honours host:port entries for names but not for IP addresses; here both
                assert theirs == env[f"{scheme}_proxy"] and ours_url is None
                continue
            assert ours_url == theirs, (host, no_proxy, ours_url, theirs)
    finally:
        for k in env:
            os.environ.pop(k, None)
        os.environ.update(saved)


def test_a_refused_proxy_is_named_without_its_password():
    # attack pass: the refusal printed socks5://alice:S3cretProxyPass@proxy.example:1080
    with pytest.raises(google.auth.exceptions.TransportError) as info:
        transport.Request(deadline_secs=5, env={"HTTPS_PROXY": "socks5://alice:S3cretProxyPass@proxy.example:1080"})(
            "https://example.com/")
    assert "proxy.example:1080" in str(info.value) and "S3cret" not in str(info.value) and "alice" not in str(info.value)


def test_a_proxy_of_another_scheme_is_refused_by_name():
    with pytest.raises(google.auth.exceptions.TransportError, match="not an http:// proxy"):
        transport.Request(deadline_secs=5, env={"HTTPS_PROXY": "socks5://127.0.0.1:1080"})("https://example.com/")


# -- CA certificates ------------------------------------------------------------------------------------------

def test_a_server_whose_ca_is_not_trusted_is_refused_once_naming_the_fix(tls_echo):
    request = transport.Request(deadline_secs=10, env=NO_PROXY_ENV)
    with pytest.raises(google.auth.exceptions.TransportError) as info:
        request(f"https://localhost:{tls_echo.port}/")
    assert "does not verify" in str(info.value) and "REQUESTS_CA_BUNDLE" in str(info.value)
    assert request.attempts == 1  # a certificate that does not verify is not retried
    print(f"\nunknown CA: {info.value}")


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"])
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_a_ca_bundle_named_in_the_environment_is_trusted(tls_echo, pki, variable, host):
    env = {variable: pki["ca"]}
    resp = transport.Request(deadline_secs=10, env=env)(f"https://{host}:{tls_echo.port}/trusted")
    assert resp.status == 200 and json.loads(resp.data)["path"] == "/trusted"


def test_ca_bundle_variables_are_what_requests_trusts(tls_echo, pki, monkeypatch):
    """REQUESTS_CA_BUNDLE works for requests too; SSL_CERT_FILE does not (requests takes certifi's bundle):
    honouring it is an addition, not a change."""
    url = f"https://localhost:{tls_echo.port}/"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", pki["ca"])
    assert requests.get(url, proxies={"https": None}).status_code == 200
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.setenv("SSL_CERT_FILE", pki["ca"])
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url, proxies={"https": None})


def test_a_certificate_for_another_host_does_not_verify(pki):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["other"])
    with _Server(_Echo, context) as server:
        request = transport.Request(deadline_secs=10, env={"SSL_CERT_FILE": pki["ca"]})
        with pytest.raises(google.auth.exceptions.TransportError, match="does not verify"):
            request(f"https://localhost:{server.port}/")
        assert request.attempts == 1


# -- mTLS --------------------------------------------------------------------------------------------------
# credhelper sends no client certificate (README, Speed: mTLS). google-auth uses one for the metadata
# server in its mTLS mode, by mounting its MdsMtlsAdapter on a transport's `session` attribute, and for
# *.mtls.googleapis.com through AuthorizedSession; credhelper's metadata source speaks the protocol itself
# and it never used AuthorizedSession. What the transport does keep: a session given to it carries every
# request, so an adapter that presents a client certificate (as MdsMtlsAdapter does) works.

class _ClientCertAdapter(requests.adapters.HTTPAdapter):
    def __init__(self, ca, cert):
        self.context = ssl.create_default_context(cafile=ca)
        self.context.load_cert_chain(cert)
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["ssl_context"] = self.context
        return super().init_poolmanager(*args, **kwargs)


def test_a_session_with_a_client_certificate_adapter_carries_it(pki):
    with _Server(_Echo, _server_tls(pki, require_client_cert=True)) as server:
        url = f"https://localhost:{server.port}/mtls"
        with pytest.raises(google.auth.exceptions.TransportError):
            transport.Request(deadline_secs=5, env={"SSL_CERT_FILE": pki["ca"]}, sleep=lambda s: None)(url)
        request = transport.Request(deadline_secs=10, env={"SSL_CERT_FILE": pki["ca"]})
        assert request.session is None  # google-auth checks for the attribute before mounting its adapter
        request.session = requests.Session()
        request.session.mount(f"https://localhost:{server.port}/", _ClientCertAdapter(pki["ca"], pki["client"]))
        resp = request(url)
        assert resp.status == 200 and json.loads(resp.data)["client_cert"] == {"commonName": "credhelper client"}


# -- what a mint imports ------------------------------------------------------------------------------------

def test_a_mint_imports_neither_requests_nor_urllib3(tmp_path, emulator, sample):
    config = write_profiles(tmp_path / "p.ini", emulator.url, {"default": {"source": sample.source_key,
                                                                           "target": TARGET}}, cache="none")
    code = ("import sys, runpy\nsys.argv = ['credhelper', 'print-access-token']\n"
            "try:\n    runpy.run_module('credhelper', run_name='__main__')\nexcept SystemExit as e:\n    code = e.code\n"
            "sys.stdout.write('\\n' + ' '.join(m for m in ('requests', 'urllib3', 'charset_normalizer') if m in sys.modules))\n"
            "sys.exit(code)\n")
    result = subprocess.run([sys.executable, "-c", code], env=cli_env(tmp_path, config), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    token, loaded = result.stdout.strip().split("\n")[0], result.stdout.split("\n")[-1]
    assert token.startswith("ya29.") and loaded == "", loaded


# -- hosts without the idna codec --------------------------------------------------------------------

_LABEL = st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=127), max_size=70)


@given(st.lists(_LABEL, max_size=5).map(".".join) | st.text(max_size=40))
def test_ascii_host_is_what_the_idna_codec_makes_of_a_host(host):
    """What the socket and ssl modules would do with a str host: the same bytes, or (passed on as it
    is) the codec's own encoding or refusal."""
    ours = transport.ascii_host(host)
    try:
        theirs = host.encode("idna")
    except UnicodeError:
        assert ours is host
        return
    assert ours == theirs or (ours is host and not host.isascii())


def test_a_request_imports_no_idna_codec(emulator):
    code = ("import sys\nfrom credhelper import transport\n"
            f"r = transport.Request(deadline_secs=10)({emulator.url + '/_emulator/counters'!r}, method='GET')\n"
            "assert r.status == 200, r.status\nprint('encodings.idna' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
