"""The GCE metadata server protocol, served over a backend that knows one identity.

`respond()` answers one request; `MetadataHandler` wraps it for http.server. A backend has:

    email() -> str                      the account's email
    scopes() -> list[str]
    project_id() -> str
    numeric_project_id() -> str
    access_token(scopes) -> (token, expires_in_secs)    scopes: list, empty for the default
    id_token(audience, format_full, licenses) -> str

A backend raises MetadataError(status, text) to answer with that status and plain-text body;
any other exception becomes a bare 500. Like GCE, requests need `Metadata-Flavor: Google`
(or the legacy `X-Google-Metadata-Request: True`), requests carrying `X-Forwarded-For`
are refused, and every answer carries `Metadata-Flavor: Google`. Standard library only.
"""

import json
import urllib.parse
from http.server import BaseHTTPRequestHandler

ROOT = "/computeMetadata/v1/"
SERVICE_ACCOUNT_ENTRIES = ("aliases", "email", "identity", "scopes", "token")
UNIVERSE_DOMAIN = "googleapis.com"


class MetadataError(Exception):
    def __init__(self, status, text):
        super().__init__(text)
        self.status, self.text = status, text


def respond(method, target, headers, backend):
    """(status, headers, body bytes) for one request; `target` is the path with its query string."""
    url = urllib.parse.urlsplit(target)
    query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
    try:
        if "X-Forwarded-For" in headers:
            raise MetadataError(403, "Request contains X-Forwarded-For header and was rejected.")
        if url.path == "/":  # the ping google-auth and gcloud send to detect GCE
            return _answer(200, "computeMetadata/\n")
        if not url.path.startswith(ROOT.rstrip("/")):
            raise MetadataError(404, "Not Found")
        if (headers.get("Metadata-Flavor") != "Google"
                and (headers.get("X-Google-Metadata-Request") or "").lower() != "true"):
            raise MetadataError(403, "Missing Metadata-Flavor:Google header.")
        if method != "GET":
            raise MetadataError(405, "Method Not Allowed")
        return _route(url.path[len(ROOT):], query, backend)
    except MetadataError as exc:
        return _answer(exc.status, exc.text + "\n")
    except Exception:  # a backend failure must not leak details (they may hold a secret)
        return _answer(500, "Internal Server Error\n")


def _answer(status, body, content_type="application/text"):
    if not isinstance(body, str):
        body, content_type = json.dumps(body), "application/json"
    return status, {"Metadata-Flavor": "Google", "Content-Type": content_type,
                    "Server": "Metadata Server for VM"}, body.encode("utf-8")


def _route(path, query, backend):
    recursive = query.get("recursive", "").lower() == "true"
    parts = path.rstrip("/").split("/") if path.strip("/") else []
    if parts == []:
        return _answer(200, "instance/\nproject/\nuniverse/\n")
    if parts == ["project", "project-id"]:
        return _answer(200, backend.project_id())
    if parts == ["project", "numeric-project-id"]:
        return _answer(200, str(backend.numeric_project_id()))
    if parts == ["universe", "universe-domain"]:
        return _answer(200, UNIVERSE_DOMAIN)
    if parts == ["instance", "service-accounts"]:
        return _answer(200, f"default/\n{backend.email()}/\n")
    if len(parts) >= 3 and parts[:2] == ["instance", "service-accounts"]:
        if parts[2] not in ("default", backend.email()):
            raise MetadataError(404, "Not Found")
        return _service_account(parts[3:], query, recursive, backend)
    raise MetadataError(404, "Not Found")


def _service_account(parts, query, recursive, backend):
    if not parts:
        if recursive:
            return _answer(200, {"aliases": ["default"], "email": backend.email(), "scopes": list(backend.scopes())})
        return _answer(200, "".join(entry + "\n" for entry in SERVICE_ACCOUNT_ENTRIES))
    entry = parts[0] if len(parts) == 1 else None
    if entry == "email":
        return _answer(200, backend.email())
    if entry == "aliases":
        return _answer(200, "default\n")
    if entry == "scopes":
        return _answer(200, "".join(s + "\n" for s in backend.scopes()))
    if entry == "token":
        scopes = [s for s in query.get("scopes", "").split(",") if s]
        token, expires_in = backend.access_token(scopes)
        return _answer(200, {"access_token": token, "expires_in": int(expires_in), "token_type": "Bearer"})
    if entry == "identity":
        audience = query.get("audience", "")
        if not audience:
            raise MetadataError(400, "non-empty audience parameter required")
        return _answer(200, backend.id_token(audience, query.get("format") == "full",
                                             query.get("licenses", "").upper() == "TRUE"))
    raise MetadataError(404, "Not Found")


class MetadataHandler(BaseHTTPRequestHandler):
    """http.server handler over `backend` (set it on a subclass)."""

    backend = None
    server_version = "Metadata Server for VM"

    def _serve(self):
        status, headers, body = respond(self.command, self.path, self.headers, self.backend)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    def log_message(self, format, *args):  # quiet; query strings may name audiences
        pass


# -- credhelper serve-metadata and exec --metadata: the profile's identity as a metadata server -------

class BrokerBackend:
    """A backend minting the profile's tokens through the broker (so through the token cache)."""

    def __init__(self, profile, cache, log=None):
        self.profile, self.cache = profile, cache
        self.log = log or _log
        self._email = None

    def email(self):
        if self._email is None:
            self._email = self.profile.target or self._source_email()
        return self._email

    def _source_email(self):
        """A profile without a target serves its source's identity (as named in its credentials file)."""
        if self.profile.source_profile is not None:
            return BrokerBackend(self.profile.source_profile, self.cache).email()
        if self.profile.source == "metadata":
            return "default"
        from credhelper import source

        return source.load_source(self.profile).principal or "default"

    def scopes(self):
        return list(self.profile.scopes)

    def project_id(self):
        """The profile's quota_project, else the project in the account's email domain."""
        if self.profile.quota_project:
            return self.profile.quota_project
        domain = self.email().rpartition("@")[2]
        if domain.endswith(".iam.gserviceaccount.com"):
            return domain[: -len(".iam.gserviceaccount.com")]
        raise MetadataError(404, "Not Found (set quota_project in the credhelper profile)")

    def numeric_project_id(self):
        return "0"  # unknown without a Resource Manager call; gcloud only checks that it is a number

    def access_token(self, scopes):
        from credhelper.token import ACCESS_TOKEN

        token = self._get(ACCESS_TOKEN, scopes=tuple(scopes) or None)
        return token.value, max(token.expires_in(), 0)

    def id_token(self, audience, format_full, licenses):
        from credhelper.token import ID_TOKEN

        return self._get(ID_TOKEN, audience=audience, include_email=True if format_full else None).value

    def _get(self, kind, **params):
        from credhelper import broker
        from credhelper.errors import CredhelperError, UpstreamError

        try:
            return broker.get_token(self.profile, kind, cache=self.cache, warn=self.log, **params)
        except CredhelperError as exc:
            self.log(str(exc))
            # 503 lets clients retry what may pass; 403 tells them not to retry a denial
            raise MetadataError(503 if isinstance(exc, UpstreamError) else 403, f"credhelper: {exc}") from None


def _log(message):
    import sys

    sys.stderr.write(f"credhelper: metadata server: {message}\n")


class Server:
    """A metadata server on 127.0.0.1 in a daemon thread of this process."""

    def __init__(self, backend, port=0):
        from http.server import ThreadingHTTPServer

        handler = type("Handler", (MetadataHandler,), {"backend": backend})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.backend = backend
        self.host_port = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = None

    def start(self):
        import threading

        self.thread = threading.Thread(target=self.httpd.serve_forever, name="credhelper-metadata", daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.thread is not None:
            self.httpd.shutdown()
            self.thread.join()
            self.thread = None
        self.httpd.server_close()


def start_server(profile, cache, port=0):
    """Mint (or find in the cache) a first token, so a broken profile fails before serving; then serve."""
    backend = BrokerBackend(profile, cache)
    backend.email()
    from credhelper import broker
    from credhelper.token import ACCESS_TOKEN

    broker.get_token(profile, ACCESS_TOKEN, cache=cache)
    try:
        return Server(backend, port).start()
    except OSError as exc:
        from credhelper.errors import UsageError

        raise UsageError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}",
                         hint="choose another --port, or omit it for a free one") from None


def serve(args):
    """credhelper serve-metadata: serve until SIGTERM or SIGINT, then stop cleanly (exit 0)."""
    import signal
    import sys
    import threading

    from credhelper.commands import cache_for, resolve

    config, profile = resolve(args)
    server = start_server(profile, cache_for(config, args), args.port)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    wrote_url_file = False
    try:
        if args.url_file:
            _write_atomically(args.url_file, server.host_port + "\n")
            wrote_url_file = True
        sys.stdout.write(server.host_port + "\n")
        sys.stdout.flush()
        sys.stderr.write(f"credhelper: serving {server.backend.email()} (profile '{profile.name}') at "
                         f"http://{server.host_port}; for clients: export GCE_METADATA_HOST={server.host_port} "
                         f"GCE_METADATA_IP={server.host_port} GCE_METADATA_ROOT={server.host_port}\n")
        while not stop.wait(1.0):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if wrote_url_file:
            _remove(args.url_file)
    return 0


def _write_atomically(path, text):
    from credhelper import privatefile
    from credhelper.errors import UsageError

    try:
        privatefile.write(path, text)
    except OSError as exc:
        raise UsageError(f"--url-file {path}: {exc.strerror}", hint=getattr(exc, "hint", None)) from None


def _remove(path):
    import os

    try:
        os.unlink(path)
    except OSError:
        pass
