"""The GCE metadata server protocol, answered the way Compute Engine answers it. Standard library only.

Both `credhelper serve-metadata` (over the broker) and the emulator (over its world) answer
through `respond()`; this module imports nothing else from credhelper, so the emulator depends
on the product only through it.

A backend has:

    email() -> str                      the account's email
    scopes() -> list[str]
    project_id() -> str
    numeric_project_id() -> str         may raise MetadataError(404) when it is not known
    universe_domain() -> str            optional; googleapis.com without it
    access_token(scopes) -> (token, expires_in_secs)    scopes: list, empty for the default
    id_token(audience, format_full, licenses) -> str

A backend raises MetadataError(status, text) to answer with that status and plain-text body;
any other exception becomes a bare 500.

What GCE does, and so what this does:
- `/` answers `computeMetadata/` to anyone (the ping clients send to detect GCE); everything
  under /computeMetadata/ needs `Metadata-Flavor: Google` (or the legacy
  `X-Google-Metadata-Request: True`), and requests carrying `X-Forwarded-For` are refused.
- A directory answers with or without its trailing slash: a listing, one entry a line,
  subdirectories with a trailing slash; with `recursive=true`, the whole subtree as JSON with
  camelCase keys (service accounts without their token and identity entries).
- A value answers as text, or as JSON under `alt=json`; tokens always as JSON.
- A path that does not exist gets Google's HTML 404 page.
- Every answer carries one `Server: Metadata Server for VM` and `Metadata-Flavor: Google`;
  values and listings carry an `ETag` (the token and identity answers do not).

`MetadataHandler` serves it over http.server (HTTP/1.1, keep-alive) and guards it: a local
metadata server hands out tokens, so unlike GCE it answers only the user who runs it (see
`refusal`).
"""

import hashlib
import json
import logging
import os
import socket
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler

ROOT = "/computeMetadata/v1/"
SERVER = "Metadata Server for VM"
DEFAULT_UNIVERSE_DOMAIN = "googleapis.com"
# Host names a client may send besides the server's own loopback address and port: the names a
# GCE client uses by default, reached through /etc/hosts or a port redirect
GCE_METADATA_IP = "169.254.169.254"
METADATA_HOST_NAMES = ("metadata.google.internal", "metadata.google.internal.", GCE_METADATA_IP, "metadata")
LOOPBACK_HOST_NAMES = ("127.0.0.1", "localhost", "[::1]")
IDLE_CONNECTION_SECS = 60
MAX_DISCARDED_BODY_BYTES = 1 << 16

log = logging.getLogger("credhelper.metadata")

_NOT_FOUND_PAGE = """<!DOCTYPE html>
<html lang=en>
  <meta charset=utf-8>
  <meta name=viewport content="initial-scale=1, minimum-scale=1, width=device-width">
  <title>Error 404 (Not Found)!!1</title>
  <a href=//www.google.com/><span id=logo aria-label=Google></span></a>
  <p><b>404.</b> <ins>That\u2019s an error.</ins>
  <p>The requested URL <code>{path}</code> was not found on this server.  <ins>That\u2019s all we know.</ins>
"""


class MetadataError(Exception):
    def __init__(self, status, text):
        super().__init__(text)
        self.status, self.text = status, text


class _NotFound(Exception):
    pass


# -- the tree of entries -----------------------------------------------------------------------------

class _Value:
    """A leaf. `read(query)` gives its value: str, int, list of str (one a line), or dict (JSON only)."""

    def __init__(self, read, in_recursive=True, etag=True):
        self.read, self.in_recursive, self.etag = read, in_recursive, etag


def _tree(backend):
    """The entries credhelper knows, as GCE lays them out: directories are dicts, leaves _Values."""

    def account():
        return {
            "aliases": _Value(lambda q: ["default"]),
            "email": _Value(lambda q: backend.email()),
            "identity": _Value(lambda q: _identity(backend, q), in_recursive=False, etag=False),
            "scopes": _Value(lambda q: list(backend.scopes())),
            "token": _Value(lambda q: _token(backend, q), in_recursive=False, etag=False),
        }

    def accounts():
        return {"default": account(), backend.email(): account()}

    universe = getattr(backend, "universe_domain", None)
    return {
        "instance": {"attributes": {}, "service-accounts": _Lazy(accounts)},
        "project": {"attributes": {}, "numeric-project-id": _Value(lambda q: backend.numeric_project_id()),
                    "project-id": _Value(lambda q: backend.project_id())},
        "universe": {"universe-domain": _Value(lambda q: universe() if universe else DEFAULT_UNIVERSE_DOMAIN)},
    }


class _Lazy:
    """A directory whose entries need the backend (an account's email) to be named."""

    def __init__(self, build):
        self.build = build


def _token(backend, query):
    scopes = [s for s in query.get("scopes", "").split(",") if s]
    token, expires_in = backend.access_token(scopes)
    return {"access_token": token, "expires_in": int(expires_in), "token_type": "Bearer"}


def _identity(backend, query):
    audience = query.get("audience", "")
    if not audience:
        raise MetadataError(400, "non-empty audience parameter required")
    return backend.id_token(audience, query.get("format") == "full", query.get("licenses", "").upper() == "TRUE")


def _directory(node):
    return node.build() if isinstance(node, _Lazy) else node


def _find(tree, parts):
    node = tree
    for part in parts:
        node = _directory(node)
        if not isinstance(node, dict) or part not in node:
            raise _NotFound()
        node = node[part]
    return _directory(node)


def _camel(name):
    head, *rest = name.split("-")
    return head + "".join(word.capitalize() for word in rest)


def _recursive(node, query):
    """A directory as GCE's recursive JSON; entries whose value is not known (a 404) are left out."""
    out = {}
    for name, child in node.items():
        key = name if "@" in name or name == "default" else _camel(name)
        child = _directory(child)
        if isinstance(child, dict):
            out[key] = _recursive(child, query)
        elif child.in_recursive:
            try:
                value = child.read(query)
            except MetadataError as exc:
                if exc.status == 404:
                    continue
                raise
            out[key] = int(value) if isinstance(value, str) and key == "numericProjectId" and value.isdigit() \
                else value
    return out


# -- answering one request ---------------------------------------------------------------------------

def respond(method, target, headers, backend):
    """(status, headers, body bytes) for one request; `target` is the path with its query string."""
    url = urllib.parse.urlsplit(target)
    query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
    try:
        if "X-Forwarded-For" in headers:
            raise MetadataError(403, "Request contains X-Forwarded-For header and was rejected.")
        if url.path == "/":  # the ping google-auth, gcloud, Java and .NET send to detect GCE
            return _answer(200, "computeMetadata/\n")
        if url.path.rstrip("/") == "/computeMetadata":
            return _answer(200, "v1/\n")
        if not (url.path + "/").startswith(ROOT):
            return _not_found(url.path)
        if (headers.get("Metadata-Flavor") != "Google"
                and (headers.get("X-Google-Metadata-Request") or "").lower() != "true"):
            raise MetadataError(403, "Missing Metadata-Flavor:Google header.")
        if method not in ("GET", "HEAD"):
            raise MetadataError(405, "Method Not Allowed")
        parts = [p for p in url.path[len(ROOT):].split("/") if p] if len(url.path) > len(ROOT) else []
        try:
            node = _find(_tree(backend), parts)
        except _NotFound:
            return _not_found(url.path)
        if isinstance(node, dict):
            if query.get("recursive", "").lower() == "true":
                return _answer(200, _recursive(node, query), etag=True)
            listing = "".join(name + ("/" if isinstance(_directory(child), dict) else "") + "\n"
                              for name, child in node.items())
            return _answer(200, listing, etag=True)
        if url.path.endswith("/"):  # a value asked for as a directory
            return _not_found(url.path)
        value = node.read(query)
        if isinstance(value, dict) or query.get("alt") == "json":
            return _answer(200, value, etag=node.etag, as_json=True)
        if isinstance(value, list):
            value = "".join(f"{v}\n" for v in value)
        return _answer(200, str(value), etag=node.etag)
    except MetadataError as exc:
        if exc.status == 404:
            return _not_found(url.path)
        return _answer(exc.status, exc.text + "\n")
    except Exception:  # a backend failure must not leak details (they may hold a secret)
        log.debug("metadata server: backend failure answering %s", url.path, exc_info=False)
        return _answer(500, "Internal Server Error\n")


def _answer(status, body, *, etag=False, as_json=False):
    if as_json or not isinstance(body, str):
        body, content_type = json.dumps(body, separators=(",", ":")), "application/json"
    else:
        content_type = "application/text"
    data = body.encode("utf-8")
    headers = {"Metadata-Flavor": "Google", "Content-Type": content_type, "Server": SERVER}
    if etag:
        headers["ETag"] = hashlib.sha256(data).hexdigest()[:16]
    return status, headers, data


def _not_found(path):
    page = _NOT_FOUND_PAGE.format(path=_html_escape(path))
    return 404, {"Metadata-Flavor": "Google", "Content-Type": "text/html; charset=UTF-8", "Server": SERVER}, \
        page.encode("utf-8")


def _html_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# -- who may ask ------------------------------------------------------------------------------------

def refusal(headers, server_address, client_address, *, uid=None):
    """Why this request must not be answered, or None: `request_refusal`, then `peer_refusal`."""
    return request_refusal(headers, server_address[1]) or peer_refusal(server_address, client_address, uid=uid)


def request_refusal(headers, port):
    """Why a request's headers show it does not come from a client library of this user, or None.

    - Host must be how a client names this server: a loopback literal or `localhost` with the
      server's port (what every client sends when GCE_METADATA_HOST points here), or a GCE name
      (metadata.google.internal, 169.254.169.254). Any other name is DNS rebinding.
    - A browser request carries Origin, or Sec-Fetch-Site other than `none`: no client library
      sends those, and a web page must never get a token.
    """
    host = (headers.get("Host") or "").strip().lower()
    if not _allowed_host(host, port):
        return f"Host {host[:100]!r} is not this server's address"
    if headers.get("Origin") is not None:
        return "a browser request (Origin header)"
    site = headers.get("Sec-Fetch-Site")
    if site is not None and site.strip().lower() != "none":
        return f"a browser request (Sec-Fetch-Site: {site[:40]})"
    return None


def _allowed_host(host, port):
    name, _, given_port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
    if not name or not given_port.isdigit():
        name, given_port = host, "80"
    given_port = int(given_port)
    if name == GCE_METADATA_IP:  # an IP literal cannot be rebound: port 80 (a redirect from GCE's address) or ours
        return given_port in (80, port)
    if name in METADATA_HOST_NAMES:
        # a name can be rebound: a page at http://metadata:PORT/ whose name an attacker's DNS (or LLMNR for
        # the single label) later points at 127.0.0.1 is same-origin and sends neither Origin nor
        # Sec-Fetch-Site. Only port 80, where these names mean GCE's own server, as on GCE.
        return given_port == 80
    return name in LOOPBACK_HOST_NAMES and given_port == port


def peer_refusal(server_address, client_address, *, uid=None):
    """Why the connection from client_address must be refused, or None.

    On Linux the kernel's socket tables name the uid owning the client's socket: another uid's
    connection is refused. Elsewhere nothing is known, and nothing is refused.
    """
    owner = peer_uid(server_address, client_address)
    if owner is None:  # not Linux (no os.getuid on Windows either)
        return None
    mine = os.getuid() if uid is None else uid
    if owner == mine:
        return None
    if owner < 0:
        return "the client's socket is not in the kernel's socket tables (or /proc/net cannot be read)"
    return f"the connection comes from uid {owner}, not ours ({mine})"


def peer_uid(server_address, client_address):
    """The uid owning the client's end of a loopback TCP connection, from /proc/net/tcp{,6}.

    None where the kernel does not say (not Linux); -1 on Linux when the socket is in no table or the
    tables cannot be read (no /proc in a sandbox): refused, never let through.
    """
    if not sys.platform.startswith("linux"):
        return None
    if ":" in client_address[0]:
        tables = [("/proc/net/tcp6", socket.AF_INET6, client_address[0], server_address[0])]
    else:
        # an IPv4 connection from a dual-stack IPv6 socket (Java's and .NET's default) is listed in tcp6,
        # its ends spelled ::ffff:a.b.c.d
        tables = [("/proc/net/tcp", socket.AF_INET, client_address[0], server_address[0]),
                  ("/proc/net/tcp6", socket.AF_INET6, "::ffff:" + client_address[0], "::ffff:" + server_address[0])]
    for table, family, client_host, server_host in tables:
        local = _proc_address(family, client_host, client_address[1])
        remote = _proc_address(family, server_host, server_address[1])
        try:
            with open(table, encoding="ascii") as f:
                next(f, None)
                for line in f:
                    fields = line.split()
                    if len(fields) > 7 and fields[1] == local and fields[2] == remote:
                        return int(fields[7])
        except OSError:
            continue  # no such table (no IPv6) or no /proc: the connection stays unattributed
    return -1  # not in any table, or the tables cannot be read: a socket we cannot attribute is not ours


def _proc_address(family, host, port):
    """The kernel's spelling: the address as 32-bit words in host byte order, in hex; the port in hex."""
    raw = socket.inet_pton(family, host)
    words = [raw[i:i + 4] for i in range(0, len(raw), 4)]
    if sys.byteorder == "little":
        words = [w[::-1] for w in words]
    return "".join(w.hex().upper() for w in words) + f":{port:04X}"


# -- http.server glue --------------------------------------------------------------------------------

class MetadataHandler(BaseHTTPRequestHandler):
    """http.server handler over `backend` (set it on a subclass), guarded by `refusal`."""

    backend = None
    protocol_version = "HTTP/1.1"
    timeout = IDLE_CONNECTION_SECS

    def setup(self):
        super().setup()
        # headers and body leave in two writes: with Nagle's algorithm and the client's delayed ACK, every
        # answer on a kept-alive connection would wait 40 ms for the second one
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self):
        return SERVER

    def _serve(self):
        self._discard_body()
        path = urllib.parse.urlsplit(self.path).path
        if not hasattr(self, "_peer_reason"):  # once per connection: the peer does not change
            self._peer_reason = peer_refusal(self.server.server_address, self.client_address)
        reason = request_refusal(self.headers, self.server.server_address[1]) or self._peer_reason
        if reason:
            log.info("metadata server: refused %s %s: %s", self.command, path[:200], reason)
            status, headers, body = 403, {"Metadata-Flavor": "Google", "Content-Type": "application/text",
                                          "Server": SERVER}, b"Forbidden\n"
        else:
            status, headers, body = respond(self.command, self.path, self.headers, self.backend)
        log.debug("metadata server: %s %s %d", self.command, path[:200], status)
        self.send_response_only(status)
        self.send_header("Date", self.date_time_string())
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _discard_body(self):
        """Read a request body nobody wants, so the next request on this connection parses."""
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding") or (length and not length.isdigit()):
            self.close_connection = True
            return
        if length and int(length):
            if int(length) > MAX_DISCARDED_BODY_BYTES:
                self.close_connection = True
                return
            self.rfile.read(int(length))

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _serve

    def log_message(self, format, *args):  # requests are logged in _serve, without their query strings
        pass
