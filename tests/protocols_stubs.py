"""Local servers the protocol tests drive real clients against: a TLS registry, a Kubernetes API,
git http-backend over CGI. Each checks that the credential it gets is a token the emulator minted
for an expected account (through the emulator's tokeninfo endpoint)."""

import base64
import datetime
import ipaddress
import json
import os
import ssl
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from support import cli_env

SCRIPTS_DIR = os.path.dirname(sys.executable)


def protocol_env(tmp_path, config=None, **extra):
    """cli_env plus PATH with this Python's scripts (git-credential-credhelper, docker-credential-credhelper)."""
    env = cli_env(tmp_path, config, **extra)
    env["PATH"] = SCRIPTS_DIR + os.pathsep + env.get("PATH", "")
    return env


def token_email(emulator_url, token):
    """The account the emulator minted this access token for, or None if it did not."""
    url = f"{emulator_url}/oauth2/v3/tokeninfo?" + urllib.parse.urlencode({"access_token": token})
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.load(resp).get("email")
    except Exception:  # 400 invalid_token, or anything else: not a token it minted
        return None


def self_signed_cert(directory):
    """(cert path, key path) for 127.0.0.1, made with cryptography."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


class StubServer:
    """A ThreadingHTTPServer on 127.0.0.1 (TLS when given a cert) whose handler calls respond(handler).

    respond returns (status, headers, body), or None when it wrote its answer itself (or never will)."""

    def __init__(self, respond, tls=None, host="127.0.0.1"):
        outer = self
        self.requests = []  # (method, path, authorization header or None)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self):
                outer.requests.append((self.command, self.path, self.headers.get("Authorization")))
                try:
                    answer = respond(self)
                except OSError:  # the client hung up (a deadline, a timeout): not the stub's failure
                    return
                if answer is None:
                    return
                status, headers, body = answer
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_HEAD = _any

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def basic_credentials(handler):
    """(username, password) from a Basic Authorization header, else (None, None)."""
    auth = handler.headers.get("Authorization") or ""
    if not auth.startswith("Basic "):
        return None, None
    try:
        user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        return user, password
    except ValueError:
        return None, None


def git_http_backend(project_root, check):
    """respond() running `git http-backend` as a CGI for requests whose Basic password passes check()."""

    def respond(handler):
        user, password = basic_credentials(handler)
        if not password or not check(password):
            return 401, {"WWW-Authenticate": 'Basic realm="credhelper-test"'}, b"authentication required\n"
        path, _, query = handler.path.partition("?")
        body = b""
        if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(handler.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    handler.rfile.readline()
                    break
                body += handler.rfile.read(size)
                handler.rfile.readline()
        elif handler.headers.get("Content-Length"):
            body = handler.rfile.read(int(handler.headers["Content-Length"]))
        env = {"PATH": os.environ.get("PATH", ""), "GIT_PROJECT_ROOT": str(project_root), "GIT_HTTP_EXPORT_ALL": "1",
               "REQUEST_METHOD": handler.command, "PATH_INFO": urllib.parse.unquote(path), "QUERY_STRING": query,
               "CONTENT_TYPE": handler.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
               "REMOTE_USER": user or "", "REMOTE_ADDR": "127.0.0.1", "GATEWAY_INTERFACE": "CGI/1.1",
               "SERVER_PROTOCOL": "HTTP/1.1"}
        if handler.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = handler.headers["Content-Encoding"]
        if handler.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = handler.headers["Git-Protocol"]
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=60).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = out.partition(b"\n\n")
        status, headers = 200, {}
        for line in head.decode("latin-1").splitlines():
            k, _, v = line.partition(":")
            if k.lower() == "status":
                status = int(v.strip().split()[0])
            elif k:
                headers[k.strip()] = v.strip()
        return status, headers, payload

    return respond


def run_in_process(command, args, **handler_kwargs):
    """(exit code, stdout, stderr) of a protocol command run in this process through cli.run_handler,
    with the error writer its command-table row names: the same failure path as the real command."""
    import contextlib
    import functools
    import io

    from credhelper import cli, commandtable

    row = commandtable.find(command)
    module, _, func = row.handler.partition(":")
    handler = functools.partial(getattr(__import__(module, fromlist=[func]), func), **handler_kwargs)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.run_handler(handler, args, row.report, quiet=row.quiet)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def moto_sts():
    """The URL of moto's server (PyPI moto[server]) as AWS STS, for a test module (import this fixture)."""
    with MotoSts() as sts:
        yield sts.url


class MotoSts:
    """moto's server as AWS STS on a free port of 127.0.0.1; .url once started."""

    def __enter__(self):
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def __exit__(self, *exc):
        self.server.stop()
