"""docker credential helper: `docker-credential-credhelper get|store|erase|list|version`.

Set up with `credhelper configure docker --registries us-docker.pkg.dev,...`, which adds
"credHelpers": {"us-docker.pkg.dev": "credhelper"} to $DOCKER_CONFIG/config.json (else
~/.docker/config.json), keeping everything else in that file. docker then runs
`docker-credential-credhelper get` with the registry on stdin.

  get      stdin: the server URL. stdout: {"ServerURL": ..., "Username": "oauth2accesstoken",
           "Secret": ACCESS_TOKEN}
  store    stdin: {"ServerURL", "Username", "Secret"}; accepted quietly, nothing is stored
  erase    stdin: the server URL; drops the cached access token of that registry's profile
  list     stdout: {"REGISTRY": "oauth2accesstoken", ...} for each registry in the [docker] section
  version  stdout: docker-credential-credhelper (credhelper) VERSION
Errors go to stdout, one line, as docker reads them: exit 2 for malformed input or an unknown
operation, 1 for denied or upstream failures, 3 for a profile file error. A registry that is
neither in the [docker] section nor a Google registry host (gcr.io, *.gcr.io, *.pkg.dev) gets
exactly `credentials not found in native keychain` (exit 1), which docker treats as "no
credentials": a credsStore pointing at credhelper never sends a Google token to Docker Hub.

Profile: $CREDHELPER_PROFILE (or --profile, when run as `credhelper docker-credential`), then the
[docker] section (`REGISTRY_HOST[:PORT] = PROFILE`; a key without a port matches every port),
then default.
"""

import os
import sys

from credhelper import __version__, jsontext
from credhelper.errors import CredhelperError, ProtocolError, UsageError
from credhelper.protocols import hostglob

OPERATIONS = ("get", "store", "erase", "list", "version")
USERNAME = "oauth2accesstoken"
NOT_FOUND = "credentials not found in native keychain"
MAX_INPUT_BYTES = 1 << 16
GOOGLE_REGISTRIES = ("gcr.io", "*.gcr.io", "*.pkg.dev")


class NotFound(CredhelperError):
    """No credentials for this registry: docker's own not-found message, which it treats as anonymous."""

    code = "NOT_FOUND"

    def __init__(self):
        super().__init__(NOT_FOUND)


def _text(data):
    from credhelper.protocols import selection

    return selection.decode_input(data, MAX_INPUT_BYTES, "input")


def registry_host(server_url):
    """'https://Us-Docker.pkg.dev/v2/' or 'us-docker.pkg.dev' -> 'us-docker.pkg.dev' (port kept)."""
    text = _text(server_url).strip()
    if not text:
        raise ProtocolError("no server URL on stdin", hint="docker writes the registry, e.g. us-docker.pkg.dev")
    if any(c.isspace() or ord(c) < 32 or c == "\x7f" for c in text):
        raise ProtocolError("the server URL on stdin has whitespace or control characters in it")
    host, port = _plain_host_port(text)
    if host is None:
        import urllib.parse  # URLs and IP literals only: a plain host[:port], docker's usual input, is 3 ms quicker

        try:
            parts = urllib.parse.urlsplit(text if "://" in text else "//" + text)
            host = parts.hostname
            port = parts.port
        except ValueError:
            host = None
    if not host:
        raise ProtocolError(f"stdin is not a registry URL ({len(text)} characters; never echoed: it may be a secret)",
                            hint="docker writes the registry, e.g. us-docker.pkg.dev or https://index.docker.io/v1/")
    host = host.lower()
    if ":" in host:
        host = f"[{host}]"
    hostport = f"{host}:{port}" if port is not None else host
    from credhelper.protocols import selection

    if selection.split_host(hostport) is None:  # e.g. evil.com%2f.gcr.io: matched against nothing
        raise ProtocolError("the registry's host is not a valid DNS name or IP literal",
                            hint="docker writes the registry, e.g. us-docker.pkg.dev or 127.0.0.1:5000")
    return hostport


_PLAIN_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")


def _plain_host_port(text):
    """(host lower-cased, port or None) for 'Host.Name' or 'Host.Name:443', as urlsplit reads them (the
    test holds the two together); (None, None) for anything else, which urlsplit then reads."""
    name, colon, port = text.partition(":")
    if not name or not set(name) <= _PLAIN_HOST_CHARS:
        return None, None
    if not colon:
        return name.lower(), None
    if not (port.isascii() and port.isdigit() and port[0] != "0" and int(port) <= 65535):
        return None, None
    return name.lower(), int(port)


def _key_host(key):
    try:
        return registry_host(key)
    except ProtocolError:
        return key.strip().lower()


def mapped_profile(docker_map, host):
    """The [docker] profile for host[:port]: an exact key first, then a key without a port."""
    by_host = {_key_host(k): v[0] for k, v in docker_map.items()}
    if host in by_host:
        return by_host[host]
    bare = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return by_host.get(bare)


def is_google_registry(host):
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return any(hostglob.matches(name, g) for g in GOOGLE_REGISTRIES)


def parse_store(data):
    """store's JSON: an object with string ServerURL, Username, Secret; ProtocolError otherwise."""
    try:
        obj = jsontext.loads(_text(data))
    except (ValueError, RecursionError):
        raise ProtocolError("store expects a JSON object on stdin") from None
    if not isinstance(obj, dict) or not all(isinstance(obj.get(k), str) for k in ("ServerURL", "Username", "Secret")):
        raise ProtocolError("store expects {\"ServerURL\": ..., \"Username\": ..., \"Secret\": ...}")
    registry_host(obj["ServerURL"])
    return obj


def answer(args, data, env=os.environ):
    """stdout text for the operation; raises CredhelperError (NotFound for an unmapped registry)."""
    from credhelper import broker
    from credhelper.protocols import selection
    from credhelper.token import ACCESS_TOKEN

    operation = args.operation
    if operation not in OPERATIONS:
        raise ProtocolError(f"unknown operation {operation[:50]!r}", hint=f"use one of: {', '.join(OPERATIONS)}")
    if operation == "version":
        return f"docker-credential-credhelper (credhelper) {__version__}\n"
    if operation == "store":
        parse_store(data)
        return ""
    config = selection.load(args, env)
    if operation == "list":
        return jsontext.dumps({_key_host(k): USERNAME for k in config.docker}) + "\n"
    server_url = _text(data).strip()
    host = registry_host(server_url)
    mapped = mapped_profile(config.docker, host)
    if mapped is None and not is_google_registry(host):
        if operation == "erase":
            return ""
        raise NotFound()
    profile = config.resolve(selection.profile_name(args, env, mapped))
    if operation == "erase":
        selection.forget(config, profile, ACCESS_TOKEN)
        return ""
    token = broker.get_token(profile, ACCESS_TOKEN, cache=selection.token_cache(config), warn=_stderr_warn)
    return jsontext.dumps({"ServerURL": server_url, "Username": USERNAME, "Secret": token.value}) + "\n"


def _stderr_warn(message):
    sys.stderr.write(f"credhelper: warning: {message}\n")


def write_error(error):
    """docker reads a helper's error from stdout: one line (the command table names this writer)."""
    text = error.message if not error.hint else f"{error.message} (fix: {error.hint})"
    sys.stdout.write(text.replace("\n", " ") + "\n")
    sys.stdout.flush()


def run(args, env=os.environ, stdin=None):
    """Handler of `credhelper docker-credential OPERATION` (docker-credential-credhelper); errors
    propagate to cli.run_handler, which hands them to write_error."""
    from credhelper.protocols import selection

    data = b"" if args.operation in ("list", "version") else selection.read_input(stdin, MAX_INPUT_BYTES)
    text = answer(args, data, env)
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0


# -- configure docker -------------------------------------------------------------------------

def docker_config_path(env=os.environ):
    base = env.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(base, "config.json")


def configure(args, env=os.environ):
    """Handler of `credhelper configure docker --registries H,...`: credHelpers entries, the rest kept.

    With --profile (or $CREDHELPER_PROFILE), non-Google registries that the [docker] section does not
    map are reported: docker cannot pass a profile, so map them in the profile file.
    """
    from credhelper.protocols import selection

    hosts = []
    for item in args.registries.split(","):
        if item.strip():
            try:
                hosts.append(registry_host(item.strip()))
            except ProtocolError as exc:
                raise UsageError(f"--registries: {exc.message}", hint="e.g. --registries us-docker.pkg.dev,gcr.io") from None
    if not hosts:
        raise UsageError("--registries: no registry given", hint="e.g. --registries us-docker.pkg.dev")
    config = selection.load(args, env)
    path = docker_config_path(env)
    import json  # configure only: the docker config is written indented, as docker writes it

    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        data = {}
    except (OSError, ValueError, RecursionError) as exc:
        raise CredhelperError(f"{path}: cannot read the docker config ({type(exc).__name__})",
                              hint="fix or move the file, then run this again") from None
    if not isinstance(data, dict) or not isinstance(data.get("credHelpers", {}), dict):
        raise CredhelperError(f"{path}: not a docker config (credHelpers must be an object)")
    helpers = data.setdefault("credHelpers", {})
    for host in hosts:
        helpers[host] = "credhelper"
    from credhelper import privatefile

    mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o600
    try:
        privatefile.write(path, json.dumps(data, indent="\t") + "\n", mode)
    except OSError as exc:
        raise CredhelperError(f"cannot write {path}: {exc.strerror}",
                              hint="fix the directory's ownership or permissions, or set DOCKER_CONFIG") from None
    sys.stderr.write(f"credhelper: {path}: credHelpers for {', '.join(hosts)} -> docker-credential-credhelper\n")
    unserved = [h for h in hosts if mapped_profile(config.docker, h) is None and not is_google_registry(h)]
    name = getattr(args, "profile", None) or env.get("CREDHELPER_PROFILE")
    if unserved or name:
        lines = "".join(f"    {h} = {name or 'default'}\n" for h in (unserved or hosts))
        sys.stderr.write(f"credhelper: docker cannot pass a profile; map the registries in {config.path}:\n"
                         f"    [docker]\n{lines}")
    import shutil

    if not shutil.which("docker-credential-credhelper"):
        sys.stderr.write("credhelper: warning: docker-credential-credhelper is not on PATH; docker will not find it "
                         "(install credhelper with pip, or put its scripts directory on PATH)\n")
    return 0
