"""The HTTP server: routes, counters, faults, test controls, and the Emulator class tests use.

Test controls (not counted, never faulted):
    GET    /_emulator/counters     {endpoint: requests}
    POST   /_emulator/reset        clear counters, faults and the audit trail
    GET    /_emulator/faults       the pending faults;  POST adds (JSON, see faults.py);  DELETE clears
    GET    /_emulator/audit        the audit entries
    POST   /_emulator/tokens       {"principal": EMAIL, "scopes": [...], "lifetime_secs": N} -> {"access_token"}
"""

import collections
import json
import re
import socket
import struct
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from credhelper import metadata_protocol
from credhelper.emulator import iamcredentials, oauth, resourcemanager, storage, sts
from credhelper.emulator.faults import FaultPlan
from credhelper.emulator.state import ApiError, Grant, OAuthError, State
from credhelper.emulator.wire import Request, Response
from credhelper.emulator.world import World, load_world

HOST = "127.0.0.1"
MAX_BODY_BYTES = 1 << 20
HUGE_BODY_BYTES = 5 << 20
JOURNAL_LENGTH = 1000
_OAUTH_ENDPOINTS = ("token", "sts", "introspect")
_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 501: "NOT_IMPLEMENTED",
                 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
@dataclass(frozen=True)
class Route:
    """One endpoint. A request whose method is `method` (None: any) and whose path fully matches
    `pattern` goes to handler(state, request, *groups), the groups percent-decoded, and is counted
    under `counter`.

    api: (discovery document, method id) of the Google API method it implements, as shipped in
    google-api-python-client; undescribed: why no discovery document describes it. fields: the
    request body fields it reads (OAuth endpoints: form fields, in snake_case); query: the query
    parameters it reads. tests/test_emulator_fidelity.py holds these to the discovery documents.
    """

    method: str
    path: str
    counter: str
    handler: object
    api: tuple = None
    undescribed: str = None
    fields: tuple = ()
    query: tuple = ()

    @property
    def pattern(self):
        return _compiled(self.path)


_PATTERNS = {}


def _compiled(path):
    if path not in _PATTERNS:
        _PATTERNS[path] = re.compile(path)
    return _PATTERNS[path]


def _iam_route(verb):
    return Route("POST", rf"/v1/projects/-/serviceAccounts/([^/:]+):{verb}", verb,
                 lambda state, req, email: iamcredentials.call(state, req, email, verb),
                 api=("iamcredentials.v1", f"iamcredentials.projects.serviceAccounts.{verb}"),
                 fields=iamcredentials.METHODS[verb][2])


_OAUTH = "an OAuth 2.0 endpoint (RFC 6749 and its extensions), which no discovery document describes"
_CERTS = "Google's public signing keys, static documents rather than an API method"
ROUTES = (
    Route(None, r"/|/computeMetadata(?:/.*)?", "metadata", None,
          undescribed="the GCE metadata server, documented by Compute Engine, not by a discovery document"),
    Route("POST", r"/token", "token", oauth.token, undescribed=_OAUTH),
    Route("POST", r"/oauth2/v4/token", "token", oauth.token, undescribed=_OAUTH),
    Route("POST", r"/v1/token", "sts", sts.token, api=("sts.v1", "sts.token"), fields=sts.EXCHANGE_FIELDS),
    Route("POST", r"/v1/introspect", "introspect", sts.introspect, undescribed=_OAUTH + " (RFC 7662)"),
    Route("POST", r"/v1/oauth/token", "sts", oauth.sts_refresh, undescribed=_OAUTH),
    Route("GET", r"/oauth2/v3/tokeninfo", "tokeninfo", oauth.tokeninfo, undescribed=_OAUTH),
    Route("POST", r"/oauth2/v3/tokeninfo", "tokeninfo", oauth.tokeninfo, undescribed=_OAUTH),
    Route("GET", r"/oauth2/v1/certs", "certs", oauth.certs_pem, undescribed=_CERTS),
    Route("GET", r"/oauth2/v3/certs", "certs", oauth.certs_jwks, undescribed=_CERTS),
    Route("GET", r"/service_accounts/v1/metadata/x509/([^/]+)", "certs",
          lambda state, req, email: oauth.account_certs(state, req, email, "x509"), undescribed=_CERTS),
    Route("GET", r"/service_accounts/v1/jwk/([^/]+)", "certs",
          lambda state, req, email: oauth.account_certs(state, req, email, "jwk"), undescribed=_CERTS),
    *(_iam_route(verb) for verb in iamcredentials.METHODS),
    Route("GET", r"/(?:download/)?storage/v1/b/([^/]+)/o/(.+)", "storage", storage.get_object,
          api=("storage.v1", "storage.objects.get"), query=("alt", "generation")),
    Route("GET", r"/storage/v1/b/([^/]+)/o/?", "storage", storage.list_objects,
          api=("storage.v1", "storage.objects.list"), query=("prefix", "delimiter", "maxResults", "pageToken")),
    Route("GET", r"/storage/v1/b/([^/]+)/?", "storage", storage.get_bucket, api=("storage.v1", "storage.buckets.get")),
    Route("GET", r"/v1/projects/([a-z0-9-]+)", "projects", resourcemanager.get_project_v1,
          api=("cloudresourcemanager.v1", "cloudresourcemanager.projects.get")),
    Route("GET", r"/v3/projects/([a-z0-9-]+)", "projects", resourcemanager.get_project_v3,
          api=("cloudresourcemanager.v3", "cloudresourcemanager.projects.get")),
)


def shape(value):
    """A JSON value with every string, number and boolean replaced by an empty one of its type: what a
    request looked like, without anything it carried (the journal keeps this, never values)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return type(value)()
    return "" if isinstance(value, str) else None


class Emulator:
    """Google's auth endpoints on 127.0.0.1, over one world. Binds at construction; serves inside `with`."""

    def __init__(self, world, *, port=0, audit_log=None, faults=None, log=None):
        """`world`: a World or a world file path. `faults`: parsed fault JSON. `log(line)` gets one line per request."""
        self.world = world if isinstance(world, World) else load_world(world)
        self.state = State(self.world, audit_log)
        self.counters = collections.Counter()
        self.faults = FaultPlan()
        if faults:
            self.faults.load(faults)
        self._counter_lock = threading.Lock()
        self.journal = collections.deque(maxlen=JOURNAL_LENGTH)  # what requests looked like: see _record
        self._log = log
        self._metadata = _WorldMetadata(self.state)
        self._server = _Server((HOST, port), _Handler)
        self._server.emulator = self
        self.port = self._server.server_address[1]
        self.url = f"http://{HOST}:{self.port}"
        self._thread = None

    @classmethod
    def sample(cls, directory, **kwargs):
        """Write the sample world into `directory`, bind, point the credential files at the bound URL.

        Returns (Emulator, SampleFiles); the emulator is not serving until started.
        """
        from credhelper.emulator import sample

        generated = sample.generate()
        emulator = cls(sample.write_world(directory, generated), **kwargs)
        return emulator, sample.write_credentials(directory, emulator.url, generated)

    @property
    def audit(self):
        return self.state.audit.entries

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"credhelper-emulator-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._thread:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def reset_counters(self):
        with self._counter_lock:
            self.counters.clear()

    def reset(self):
        """Counters, faults and the audit trail back to empty."""
        self.reset_counters()
        self.faults.clear()
        self.audit.clear()
        self.journal.clear()

    def issue_access_token(self, principal_email, scopes, lifetime_secs=3600):
        """An access token for any principal (email or principal://...), bypassing every check. For tests."""
        member = self.world.member_for(principal_email)
        account = self.world.service_accounts.get(principal_email) or self.world.users.get(principal_email)
        grant = Grant(member, tuple(scopes), self.state.now() + lifetime_secs, account.unique_id if account else "")
        return self.state.issue_access_token(grant)

    # -- request dispatch (called from handler threads) --

    def _route(self, method, path):
        """(Route, handler(state, request) -> Response), or (None, None)."""
        for route in ROUTES:
            if route.method not in (None, method):
                continue
            m = route.pattern.fullmatch(path)
            if m:
                if route.handler is None:  # the metadata server
                    return route, self._metadata_response
                groups = [urllib.parse.unquote(g) for g in m.groups()]
                return route, lambda state, req: route.handler(state, req, *groups)
        return None, None

    def _record(self, route, req):
        """Journal what a request looked like (names and JSON types only), for the fidelity tests."""
        body, form = None, False
        if req.body:
            if (req.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
                body, form = {name: "" for name in req.form()}, True
            else:
                try:
                    body = shape(json.loads(req.body))
                except ValueError:
                    body = None
        self.journal.append({"method": req.method, "api": route.api, "query": sorted(req.query), "body": body,
                             "form": form})

    def _metadata_response(self, state, req):
        target = req.path + ("?" + urllib.parse.urlencode(req.query) if req.query else "")
        status, headers, body = metadata_protocol.respond(req.method, target, req.headers, self._metadata)
        return Response(status, body, headers.pop("Content-Type"), headers)

    def _count(self, endpoint):
        with self._counter_lock:
            self.counters[endpoint] += 1

    def _control(self, req):
        name = req.path[len("/_emulator/"):]
        if (req.method, name) == ("GET", "counters"):
            with self._counter_lock:
                return Response(200, dict(self.counters))
        if (req.method, name) == ("POST", "reset"):
            self.reset()
            return Response(200, {})
        if (req.method, name) == ("GET", "audit"):
            return Response(200, list(self.audit))
        if name == "faults" and req.method in ("GET", "POST", "DELETE"):
            if req.method == "DELETE":
                self.faults.clear()
            elif req.method == "POST":
                try:
                    self.faults.load(json.loads(req.body))
                except ValueError as exc:
                    return Response(400, {"error": f"bad fault plan: {exc}"})
            return Response(200, self.faults.to_list())
        if (req.method, name) == ("POST", "tokens"):
            try:
                spec = json.loads(req.body)
                token = self.issue_access_token(spec["principal"], spec.get("scopes", []),
                                                spec.get("lifetime_secs", 3600))
            except (ValueError, KeyError, TypeError) as exc:
                return Response(400, {"error": f"bad token request: {exc}"})
            return Response(200, {"access_token": token})
        return Response(404, {"error": f"no control {req.method} /_emulator/{name}"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that hangs up mid-answer is not worth a traceback on stderr


class _WorldMetadata:
    """The metadata server's backend: the world's default account."""

    def __init__(self, state):
        self.state = state

    def _account(self):
        email = self.state.world.metadata_account
        if not email:
            raise metadata_protocol.MetadataError(404, "Not Found")
        return self.state.world.service_accounts[email]

    def email(self):
        return self._account().email

    def scopes(self):
        self._account()
        return list(self.state.world.metadata_scopes)

    def project_id(self):
        return self._account().project_id

    def numeric_project_id(self):
        number = self.state.world.projects.get(self.project_id())
        if number is None:
            raise metadata_protocol.MetadataError(404, "Not Found")
        return number

    def access_token(self, scopes):
        account = self._account()
        expiry = self.state.now() + oauth.ACCESS_TOKEN_LIFETIME_SECS
        grant = Grant(account.member, tuple(scopes or self.state.world.metadata_scopes), expiry, account.unique_id)
        return self.state.issue_access_token(grant), oauth.ACCESS_TOKEN_LIFETIME_SECS - 1

    def id_token(self, audience, format_full, licenses):
        account = self._account()
        claims = self.state.account_claims(account, audience, include_email=format_full)
        if format_full:
            claims["google"] = {"compute_engine": {
                "project_id": account.project_id, "project_number": int(self.numeric_project_id()),
                "zone": "us-central1-a", "instance_id": "4242424242424242424", "instance_name": "credhelper-emulated",
                "instance_creation_timestamp": 1700000000}}
            if licenses:
                claims["google"]["compute_engine"]["license_id"] = []
        return self.state.google_id_token(claims)


class _Handler(BaseHTTPRequestHandler):
    server_version = "credhelper-emulator"

    def _handle(self):
        emulator = self.server.emulator
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            return self._send(Response(413, {"error": {"code": 413, "message": "Request too large.",
                                                       "status": "INVALID_ARGUMENT"}}))
        req = Request(self.command, url.path, dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True)),
                      self.headers, self.rfile.read(length) if length else b"", emulator.url)
        if url.path.startswith("/_emulator/"):
            return self._send(emulator._control(req))
        route, handler = emulator._route(self.command, url.path)
        if route is None:
            return self._send(Response(404, {"error": {"code": 404, "message": f"No route for {self.command} "
                                                       f"{url.path} in the credhelper emulator.",
                                                       "status": "NOT_FOUND"}}))
        endpoint = route.counter
        emulator._record(route, req)
        emulator._count(endpoint)
        fault = emulator.faults.take(endpoint)
        if fault:
            time.sleep(fault.latency_secs)
            if fault.status is not None:
                return self._send_fault(endpoint, fault)
        try:
            response = handler(emulator.state, req)
        except ApiError as exc:
            response = Response(exc.code, exc.body(), headers=exc.headers)
        except OAuthError as exc:
            response = Response(exc.code, exc.body())
        except Exception as exc:  # an emulator bug: answer like Google's backend would, never a traceback
            response = Response(500, {"error": {"code": 500, "status": "INTERNAL",
                                                "message": f"Internal error in the credhelper emulator "
                                                           f"({type(exc).__name__})."}})
        self._send(response)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    def _send(self, response, declared_length=None):
        content_type, body = response.encode()
        headers = dict(response.headers)
        self.log_request(response.status)
        self.send_response_only(response.status)
        self.send_header("Server", headers.pop("Server", self.version_string()))  # one, as Google sends
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(declared_length or len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_fault(self, endpoint, fault):
        if fault.status == "reset":  # RST instead of an answer
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        response = Response(fault.status, _fault_body(endpoint, fault.status), headers=headers)
        if fault.body == "malformed":
            response.body = b'{"error": {"code": ' + str(fault.status).encode() + b', "message": '
        elif fault.body == "huge":
            response.body = b'{"error": {"message": "' + b"x" * HUGE_BODY_BYTES + b'"}}'
        elif fault.body == "html":
            response.body, response.content_type = (f"<html><head><title>Error {fault.status}</title></head><body>"
                                                    f"<h1>Error {fault.status}</h1></body></html>", "text/html")
        if fault.body == "truncated":
            _, body = response.encode()
            response.body = body[:len(body) // 2]
            self._send(response, declared_length=len(body))
            self.close_connection = True
            return
        self._send(response)

    def log_request(self, code="-", size="-"):
        log = self.server.emulator._log
        if log:  # the path only: query strings may carry tokens
            log(f"{self.command} {urllib.parse.urlsplit(self.path).path} {code}")

    def log_message(self, format, *args):
        pass


def _fault_body(endpoint, status):
    if endpoint == "metadata":
        return f"Error {status}\n"
    status_name = _STATUS_NAMES.get(status, "UNKNOWN")
    if endpoint in _OAUTH_ENDPOINTS:
        return {"error": "temporarily_unavailable" if status >= 500 else "invalid_request",
                "error_description": f"Injected fault: {status} {status_name}"}
    return {"error": {"code": status, "message": f"Injected fault: {status} {status_name}", "status": status_name}}
