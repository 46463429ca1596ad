"""The one HTTP stack: a google-auth transport on the standard library, with bounded retries and
one deadline for the whole command.

google-auth's credentials refresh through it, and chain.py's IAM calls use it too, so every
upstream request gets the same policy:
  - retry 429, 500, 502, 503, 504, connection resets and timeouts, at most MAX_ATTEMPTS times,
    with exponential backoff and full jitter, honouring Retry-After;
  - never retry other 4xx, nor a TLS certificate that does not verify;
  - never run past the command's deadline (CREDHELPER_DEADLINE_SECS, default 30 s): connecting,
    the proxy's CONNECT, the TLS handshake, sending and every read of the answer end when the
    deadline (or the attempt's REQUEST_TIMEOUT_SECS) does, even against a server that sends one
    byte a second; no retry starts once the deadline has passed.
Redirects are not followed (requests followed them): Google's token, IAM, STS and metadata
endpoints answer in place, and a 3xx reaches the caller as the answer it is, so no request body or
Authorization header is ever replayed to another URL.
Proxies and CAs as requests finds them: https_proxy / http_proxy / all_proxy and no_proxy
(lower case first, then upper case; see proxy_for); REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, else
SSL_CERT_FILE / SSL_CERT_DIR, else certifi's bundle (see tls_context).

Why not requests: google.auth.transport.requests (requests, urllib3, charset_normalizer, idna)
is about 100 ms of imports, a third of a cold mint; google-auth imports http.client itself. A
requests-like session is still honoured when given (Request.session), e.g. one whose adapter
presents a client certificate.

Nothing here logs a URL's query string or a body (either may carry a secret).
"""

import contextlib
import http.client
import io
import logging
import os
import random
import socket
import threading
import time
import urllib.parse

import google.auth.exceptions
import google.auth.transport

from credhelper import __version__

log = logging.getLogger("credhelper.transport")

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_ATTEMPTS = 4
BACKOFF_BASE_SECS = 0.25
BACKOFF_CAP_SECS = 4.0
RETRY_AFTER_CAP_SECS = 10.0
REQUEST_TIMEOUT_SECS = 15.0
MAX_RESPONSE_BYTES = 1 << 20  # an answer bigger than 1 MiB is not a token response
READ_CHUNK_BYTES = 65536
USER_AGENT = f"credhelper/{__version__}"
MAX_SENT_KEPT = 16  # requests whose credentials sent_secrets() knows: a refresh makes one to three
# the fields of an OAuth or STS form body that are credentials (RFC 6749, 7523, 8693)
SECRET_FORM_FIELDS = frozenset({"assertion", "refresh_token", "client_secret", "subject_token", "actor_token",
                                "password", "code", "code_verifier", "client_assertion"})
# what google-auth's own retry loops retry (google.auth.transport.DEFAULT_RETRYABLE_STATUS_CODES, and the
# OAuth error codes of RFC 6749 section 4.1.2.1 that google.oauth2._client retries on)
GOOGLE_AUTH_RETRIES_STATUS = frozenset(google.auth.transport.DEFAULT_RETRYABLE_STATUS_CODES) | RETRY_STATUS
GOOGLE_AUTH_RETRIES_ERRORS = (b"internal_failure", b"server_error", b"temporarily_unavailable")


def endpoint_name(url):
    """scheme://host/path, without a user name, password or query: safe to put in a message."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


class DeadlineExceeded(google.auth.exceptions.TransportError):
    pass


class GaveUp(google.auth.exceptions.RefreshError):
    """This transport's retries are spent (or the deadline is), while google-auth refreshes a credential.

    Raised instead of answering, inside google_auth_single_attempt(): google-auth's own retry loops
    (3 attempts at the token endpoint, 5 at the metadata server, with time.sleep between them) catch
    only TransportError and retry only answers, so they end here instead of multiplying the requests
    and sleeping past the deadline. retryable=True, as google-auth marks a failing endpoint's error.
    """

    def __init__(self, message, status=None):
        super().__init__(message, retryable=True)
        self.status = status


class _Response(google.auth.transport.Response):
    def __init__(self, status, headers, data):
        self._status, self._headers, self._data = status, headers, data

    @property
    def status(self):
        return self._status

    @property
    def headers(self):
        return self._headers

    @property
    def data(self):
        return self._data


class Headers(dict):
    """Response headers: names compared without case, as requests' and urllib3's are."""

    def __init__(self, pairs=()):
        super().__init__((name.lower(), value) for name, value in pairs)

    def __getitem__(self, name):
        return super().__getitem__(name.lower())

    def __contains__(self, name):
        return super().__contains__(name.lower())

    def get(self, name, default=None):
        return super().get(name.lower(), default)


class Request(google.auth.transport.Request):
    """A google.auth.transport.Request with retries, backoff and a deadline shared by all calls.

    session: None (the standard library connects), or a requests.Session-like object that every
    request goes through instead (google-auth's compute_engine mounts its metadata-server mTLS
    adapter on this attribute when it exists; credhelper's own metadata source does not use it).
    """

    def __init__(self, deadline_secs=None, session=None, sleep=time.sleep, clock=time.monotonic, env=None):
        self.session = session
        self.clock, self.sleep = clock, sleep
        self.env = os.environ if env is None else env
        if deadline_secs is None:
            from credhelper.deadline import deadline_from_env

            deadline_secs = deadline_from_env()
        self.deadline_secs = deadline_secs
        self.deadline = clock() + self.deadline_secs
        self.attempts = 0  # total HTTP attempts made through this object
        self.last_answer = None  # (endpoint_name, HTTP status) of the last response, for messages
        self._sent = []  # (body, Authorization header) of each request: what sent_secrets() reads
        self._tls = None  # the TLS context, made on the first https request

    def remaining(self):
        return self.deadline - self.clock()

    def sent_secrets(self):
        """The credentials this object has sent (Authorization headers' credentials, and the secret fields
        of form bodies: an assertion, refresh token, client secret, subject token...), for redacting an
        upstream's message that quotes its request (credhelper.googleerrors.redact)."""
        import urllib.parse

        found = []
        for body, authorization in self._sent:
            if isinstance(authorization, str):
                found.append(authorization.partition(" ")[2] or authorization)
            if isinstance(body, bytes):
                try:
                    fields = urllib.parse.parse_qsl(body.decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    continue
                found.extend(value for name, value in fields if name in SECRET_FORM_FIELDS)
        return tuple(found)

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        where = endpoint_name(url)
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = dict(headers or {})
        if not any(name.lower() == "user-agent" for name in headers):
            headers["User-Agent"] = USER_AGENT
        self._sent = [*self._sent[-(MAX_SENT_KEPT - 1):], (body, next(
            (v for k, v in headers.items() if k.lower() == "authorization"), None))]
        for attempt in range(1, MAX_ATTEMPTS + 1):
            left = self.remaining()
            if left <= 0:
                raise self._failure(DeadlineExceeded(
                    f"the {self.deadline_secs:g} s deadline (CREDHELPER_DEADLINE_SECS) ran out "
                    f"before a request to {where} could be made"))
            per_try = min(timeout or REQUEST_TIMEOUT_SECS, REQUEST_TIMEOUT_SECS, left)
            self.attempts += 1
            try:
                if self.session is not None:
                    status, answer_headers, data = self._send_session(method, url, body, headers, per_try)
                else:
                    status, answer_headers, data = self._send(method, url, body, headers, per_try)
            except _Refused as exc:  # not worth a retry: the same request gets the same refusal
                raise self._failure(google.auth.exceptions.TransportError(f"{where}: {exc}")) from None
            except (OSError, http.client.HTTPException) as exc:  # socket, TLS and protocol errors
                kind = "timed out" if _is_timeout(exc) else "connection failed"
                log.info("%s %s: %s (attempt %d)", method, where, kind, attempt)
                if attempt == MAX_ATTEMPTS or not self._backoff(attempt, None):
                    if self.remaining() <= 0 or (kind == "timed out" and per_try >= left):
                        kind = (f"no answer within the {self.deadline_secs:g} s deadline "
                                f"(CREDHELPER_DEADLINE_SECS); {kind}")
                    raise self._failure(google.auth.exceptions.TransportError(
                        f"{where}: {kind} after {attempt} attempt(s)")) from None
                continue
            self.last_answer = (where, status)
            log.debug("%s %s -> %s", method, where, status)
            if status in RETRY_STATUS and attempt < MAX_ATTEMPTS:
                log.info("%s %s -> %s, retrying (attempt %d)", method, where, status, attempt)
                if self._backoff(attempt, answer_headers.get("Retry-After")):
                    continue
            if _refreshing_credentials() and (status in GOOGLE_AUTH_RETRIES_STATUS
                                             or (status >= 400 and any(e in data for e in GOOGLE_AUTH_RETRIES_ERRORS))):
                raise GaveUp(f"{where} answered HTTP {status} (after {attempt} attempt(s))", status)
            return _Response(status, answer_headers, data)
        raise AssertionError("unreachable")

    def _failure(self, exc):
        """exc, or inside a google-auth refresh the GaveUp that ends google-auth's own retry loop."""
        return GaveUp(str(exc)) if _refreshing_credentials() else exc

    def _send(self, method, url, body, headers, timeout):
        """(status, Headers, body) of one request over a new connection, all of it within timeout."""
        parts = urllib.parse.urlsplit(url)
        scheme, host = parts.scheme.lower(), parts.hostname
        if scheme not in ("http", "https") or not host:
            raise _Refused("not an http(s) URL")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise _Refused("the URL's port is not a number") from None
        proxy = proxy_for(scheme, host, port, self.env)
        ends_at = self.clock() + timeout
        sock = _connect(proxy or (host, port, None), ends_at, self.clock)
        try:
            if proxy and scheme == "https":
                _tunnel(sock, host, port, proxy[2])
            if scheme == "https":
                if self._tls is None:
                    self._tls = tls_context(self.env)
                sock.tls(self._tls, host)
            conn = http.client.HTTPConnection(host, port)
            conn.default_port = 443 if scheme == "https" else 80  # the Host header names the port only if not this
            conn.sock = sock
            target = parts.path or "/"
            if parts.query:
                target += "?" + parts.query
            if proxy and scheme == "http":
                target = urllib.parse.urlunsplit((scheme, parts.netloc, target, "", ""))
                if proxy[2]:
                    headers = {**headers, "Proxy-Authorization": proxy[2]}
            conn.request(method, target, body=body, headers=headers)
            resp = conn.getresponse()
            data = _read_limited(iter(lambda: resp.read(READ_CHUNK_BYTES), b""))
            if resp.length:  # http.client's read(amt) returns a body cut short without a word
                raise http.client.IncompleteRead(b"", resp.length)
            return resp.status, Headers(resp.getheaders()), data
        finally:
            sock.release()

    def _send_session(self, method, url, body, headers, timeout):
        resp = self.session.request(method, url, data=body, headers=headers, timeout=timeout, stream=True)
        try:
            data = _read_limited(resp.iter_content(READ_CHUNK_BYTES))
        finally:
            resp.close()
        return resp.status_code, Headers(resp.headers.items()), data

    def _backoff(self, attempt, retry_after):
        """Sleep before the next attempt; False when the deadline leaves no room for one."""
        delay = random.uniform(0, min(BACKOFF_CAP_SECS, BACKOFF_BASE_SECS * 2 ** (attempt - 1)))
        hinted = _parse_retry_after(retry_after)
        if hinted is not None:
            delay = min(hinted, RETRY_AFTER_CAP_SECS)
        if delay >= self.remaining():
            return False
        self.sleep(delay)
        return True


class _Refused(Exception):
    """A request that cannot succeed by retrying: a bad URL, a proxy refusing, a certificate that does not verify."""


class _TooLarge(_Refused):
    def __init__(self):
        super().__init__(f"answered more than {MAX_RESPONSE_BYTES >> 20} MiB, which is not a token response")


def _read_limited(chunks):
    data, size = [], 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise _TooLarge()
        data.append(chunk)
    return b"".join(data)


def _is_timeout(exc):
    return isinstance(exc, TimeoutError) or type(exc).__name__.endswith("Timeout")  # requests' Timeout classes too


def _parse_retry_after(value):
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    import email.utils

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# -- the socket: every operation ends at one instant --------------------------------------------------

class _Socket:
    """A connected socket whose every send and receive ends by `ends_at` (a clock() value).

    http.client sends with sendall() and reads through makefile(): each receive gets the time
    left as its timeout, so a server that answers one byte a second still ends at `ends_at`.
    """

    def __init__(self, sock, ends_at, clock):
        self.sock, self.ends_at, self.clock = sock, ends_at, clock

    def _arm(self):
        left = self.ends_at - self.clock()
        if left <= 0:
            raise TimeoutError("timed out")
        self.sock.settimeout(left)

    def sendall(self, data):
        self._arm()
        self.sock.sendall(data)

    def recv_into(self, buffer):
        self._arm()
        return self.sock.recv_into(buffer)

    def makefile(self, mode="rb", *args, **kwargs):
        return io.BufferedReader(_Reader(self))

    def close(self):
        pass  # http.client closes its connection while the answer is still being read: release() closes

    def release(self):
        self.sock.close()

    def tls(self, context, host):
        """Wrap in TLS, the handshake too bounded by ends_at (non-blocking, waiting in select)."""
        import select
        import ssl

        self.sock.setblocking(False)
        tls = context.wrap_socket(self.sock, server_hostname=ascii_host(host), do_handshake_on_connect=False)
        self.sock = tls
        while True:
            try:
                tls.do_handshake()
                return
            except ssl.SSLWantReadError:
                wait = ([tls], [])
            except ssl.SSLWantWriteError:
                wait = ([], [tls])
            except ssl.SSLCertVerificationError as exc:
                raise _Refused(f"the TLS certificate of {host} does not verify ({exc.verify_message}); "
                               "name the CA bundle in REQUESTS_CA_BUNDLE or SSL_CERT_FILE") from None
            left = self.ends_at - self.clock()
            if left <= 0 or not any(select.select(*wait, [], left)):
                raise TimeoutError("TLS handshake timed out")


class _Reader(io.RawIOBase):
    def __init__(self, sock):
        self._sock = sock

    def readable(self):
        return True

    def readinto(self, buffer):
        return self._sock.recv_into(buffer)


def _connect(address, ends_at, clock):
    host, port, _ = address
    left = ends_at - clock()
    if left <= 0:
        raise TimeoutError("timed out")
    sock = socket.create_connection((ascii_host(host), port), timeout=left)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        sock.close()
        raise
    return _Socket(sock, ends_at, clock)


def ascii_host(host):
    """host as the bytes Python's idna codec makes of it, when it is ASCII; else host itself.

    A str host handed to the socket and ssl modules goes through that codec, and importing it
    (encodings.idna, with stringprep and unicodedata) is about 2 ms and 0.4 MB of every process that
    sends a request. For ASCII the codec only checks label lengths; a host that fails them, or is not
    ASCII, is passed on as it is, and the codec encodes it (or refuses it) as before
    (tests/test_transport.py holds this to the codec).
    """
    if host.isascii():
        labels = host.split(".")
        if all(0 < len(label) < 64 for label in labels[:-1]) and len(labels[-1]) < 64:
            return host.encode("ascii")
    return host


def _tunnel(sock, host, port, authorization):
    """CONNECT host:port through the proxy sock is connected to."""
    host = host if host.isascii() else host.encode("idna").decode("ascii")
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}", f"User-Agent: {USER_AGENT}"]
    if authorization:
        lines.append(f"Proxy-Authorization: {authorization}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    answer = http.client.HTTPResponse(sock, method="CONNECT")
    answer.begin()
    if answer.status != 200:
        raise _Refused(f"the proxy refused to connect to {target} (HTTP {answer.status})")


# -- proxies, as requests finds them --------------------------------------------------------------------

def proxy_for(scheme, host, port, env=None):
    """(host, port, Proxy-Authorization value or None) of the proxy for a request, or None (direct).

    As requests (and urllib) read the environment: {scheme}_proxy, else all_proxy, each lower case
    first (an empty lower-case variable means none); no_proxy (then NO_PROXY) lists hosts to reach
    directly: `*`, a domain (with or without a leading dot: itself and its subdomains), host:port,
    an IP address (with or without :port; requests ignores an IP address with a port) or a CIDR
    block. Only http:// proxies (the usual kind); another scheme is an error.
    """
    env = os.environ if env is None else env
    url = _env(env, f"{scheme}_proxy") or _env(env, "all_proxy")
    if not url or (scheme == "http" and "REQUEST_METHOD" in env and not _env(env, "all_proxy")):  # CGI: httpoxy
        return None
    if bypass_proxy(host, port, _env(env, "no_proxy") or ""):
        return None
    if scheme == "http":
        from credhelper.credentials import is_loopback_host

        if is_loopback_host(host.lower().strip("[]")):
            # plain http is allowed only to loopback (credentials.is_safe_endpoint): through a proxy, the refresh
            # token and client secret would leave the machine in cleartext. Go's ProxyFromEnvironment never
            # proxies loopback either; https to loopback still may (a CONNECT tunnel keeps it encrypted)
            return None
    if "://" not in url:
        url = "http://" + url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() != "http" or not parts.hostname:
        raise _Refused(f"the proxy {endpoint_name(url)} is not an http:// proxy, the only kind credhelper uses")
    authorization = None
    if parts.username is not None:
        import base64

        user_pass = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(user_pass.encode("utf-8")).decode("ascii")
    try:
        return parts.hostname, parts.port or 80, authorization
    except ValueError:
        raise _Refused("the proxy URL's port is not a number") from None


def _env(env, name):
    if name in env:
        return env[name] or None
    return env.get(name.upper()) or None


def bypass_proxy(host, port, no_proxy):
    """Whether no_proxy's entries name host (or host:port)."""
    host = host.lower().strip("[]").rstrip(".")
    for entry in no_proxy.replace(" ", "").lower().split(","):
        if entry == "*":
            return True
        if "/" in entry:
            if _in_network(host, entry):
                return True
            continue
        name, entry_port = entry, ""
        if entry.startswith("["):  # [v6]:port
            name, _, rest = entry[1:].partition("]")
            entry_port = rest.lstrip(":")
        elif entry.count(":") == 1:
            name, _, entry_port = entry.partition(":")
        name = name.lstrip(".").rstrip(".")
        if not name or (entry_port and entry_port != str(port)):
            continue
        if host == name or host.endswith("." + name):
            return True
    return False


def _in_network(host, cidr):
    import ipaddress

    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


# -- CA certificates ------------------------------------------------------------------------------------

def tls_context(env=None):
    """The TLS context for https: the CAs requests would trust, plus SSL_CERT_FILE / SSL_CERT_DIR.

    REQUESTS_CA_BUNDLE, else CURL_CA_BUNDLE (a file or a directory), as requests; else, when
    SSL_CERT_FILE or SSL_CERT_DIR is set, those (as OpenSSL and curl read them; requests ignores
    them); else certifi's bundle, as requests (falling back to the system's CAs without certifi).
    """
    import ssl

    env = os.environ if env is None else env
    bundle = env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE")
    if bundle:
        context = ssl.create_default_context(**({"capath": bundle} if os.path.isdir(bundle) else {"cafile": bundle}))
    elif env.get("SSL_CERT_FILE") or env.get("SSL_CERT_DIR"):
        context = ssl.create_default_context(cafile=env.get("SSL_CERT_FILE") or None,
                                             capath=env.get("SSL_CERT_DIR") or None)
    else:
        try:
            import certifi

            context = ssl.create_default_context(cafile=certifi.where())
        except ImportError:
            context = ssl.create_default_context()
    return context


# -- google-auth's own retry loops ------------------------------------------------------------------
# google-auth retries the token endpoint (3 attempts) and the metadata server (5) itself, with
# time.sleep between attempts. On top of this transport that would make 4 x 3 requests to a failing
# token endpoint and sleep past the deadline. While credhelper refreshes a credential, this transport
# raises GaveUp where it would have answered something google-auth retries (or raised a
# TransportError, which the metadata loop retries): google-auth's loops end after one attempt and the
# retry policy is this module's alone. No google-auth module is patched; tests/test_transport.py
# counts the requests of every loop, so a google-auth that retries differently fails it.

_refreshing = threading.local()


def _refreshing_credentials():
    return getattr(_refreshing, "depth", 0) > 0


@contextlib.contextmanager
def google_auth_single_attempt():
    """Inside: google-auth's own retry loops stop after one attempt (this transport retries)."""
    _refreshing.depth = getattr(_refreshing, "depth", 0) + 1
    try:
        yield
    finally:
        _refreshing.depth -= 1
