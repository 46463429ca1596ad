"""credhelper serve-metadata (and exec --metadata): the profile's identity as a GCE metadata server.

The protocol itself is credhelper.metadata_protocol; this module supplies its backend (tokens
through the broker, so through the cache), runs it on 127.0.0.1 in a thread, and turns core
dumps off for the process that holds the tokens.
"""

import threading

from credhelper import urlfile
from credhelper.metadata_protocol import MetadataError, MetadataHandler, log
from credhelper.token import ACCESS_TOKEN, ID_TOKEN

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


# -- credhelper serve-metadata and exec --metadata: the profile's identity as a metadata server -------

class BrokerBackend:
    """A backend minting the profile's tokens through the broker (so through the token cache)."""

    def __init__(self, profile, cache, log=None):
        self.profile, self.cache = profile, cache
        self.log = log or _log
        self._email = None
        self._number = None  # looked up once: the digits, or "" when that failed
        self._lock = threading.Lock()

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
        """The profile's project_number, else the number Resource Manager gives for project_id().

        gcloud decides it runs on GCE by this key being digits, so it must not go missing lightly;
        but a made-up number would be worse. A failed lookup answers GCE's 404 and is not retried.
        """
        if self.profile.project_number:
            return self.profile.project_number
        with self._lock:
            if self._number is None:
                self._number = self._look_up_project_number() or ""
        if not self._number:
            raise MetadataError(404, "Not Found")
        return self._number

    def _look_up_project_number(self):
        import json
        import urllib.parse

        from credhelper import transport

        try:
            project = self.project_id()
            token = self._get(ACCESS_TOKEN, scopes=(CLOUD_PLATFORM_SCOPE,))
        except MetadataError:
            return None
        base = self.profile.resourcemanager_endpoint or \
            f"https://cloudresourcemanager.{self.profile.universe_domain or 'googleapis.com'}"
        url = f"{base}/v1/projects/{urllib.parse.quote(project, safe='')}"
        try:
            resp = transport.Request()(url, method="GET", headers={"Authorization": f"Bearer {token.value}"})
            number = str(json.loads(resp.data.decode("utf-8")).get("projectNumber", "")) if resp.status == 200 else ""
        except Exception as exc:  # unreachable, or not JSON: the key is then absent, as said below
            log.info("metadata server: looking up the number of project %s at %s failed (%s)", project,
                     transport.endpoint_name(url), type(exc).__name__)
            return None
        if not number.isdigit():
            self.log(f"cannot look up the number of project {project} ({transport.endpoint_name(url)} answered "
                     f"HTTP {resp.status}); project/numeric-project-id answers 404, and gcloud will not see a "
                     f"metadata server. Set project_number in profile '{self.profile.name}'")
            return None
        return number

    def universe_domain(self):
        return getattr(self.profile, "universe_domain", None) or "googleapis.com"

    def access_token(self, scopes):
        token = self._get(ACCESS_TOKEN, scopes=tuple(scopes) or None)
        return token.value, max(token.expires_in(), 0)

    def id_token(self, audience, format_full, licenses):
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


def _quiet_error(request, client_address):
    """socketserver's handle_error, without its traceback on the user's terminal: a client that resets or
    drops its connection (a killed process, a timed-out library) is one -vv line; anything else one line
    naming the exception's type (its text could quote a request)."""
    import sys

    exc = sys.exc_info()[1]
    if isinstance(exc, (ConnectionError, TimeoutError)):
        log.debug("metadata server: the client closed the connection (%s)", type(exc).__name__)
    else:
        _log(f"a request failed ({type(exc).__name__}); the server goes on")


class Server:
    """A metadata server on 127.0.0.1 in a daemon thread of this process."""

    def __init__(self, backend, port=0):
        from http.server import ThreadingHTTPServer

        handler = type("Handler", (MetadataHandler,), {"backend": backend})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = _quiet_error
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


def protect_memory():
    """No core dump of a process that holds keys and tokens: RLIMIT_CORE 0 and, on Linux, PR_SET_DUMPABLE 0.

    Only the soft core limit drops to 0: a command run under exec --metadata inherits it, and may
    raise it again for itself (ulimit -c). PR_SET_DUMPABLE is not inherited across exec.
    """
    import sys

    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    except (ImportError, ValueError, OSError):  # no resource module (Windows)
        pass
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_DUMPABLE = 4
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        except (OSError, AttributeError):
            pass


def start_server(profile, cache, port=0):
    """Mint (or find in the cache) a first token, so a broken profile fails before serving; then serve."""
    protect_memory()
    backend = BrokerBackend(profile, cache)
    backend.email()
    from credhelper import broker

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
    try:
        with urlfile.published(args.url_file, server.host_port + "\n"):
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
    return 0
