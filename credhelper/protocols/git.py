"""git credential helper: `git-credential-credhelper [--profile P] get|store|erase`.

Set up with `credhelper configure git`, which writes the helper's absolute path, e.g.
    git config --global credential.https://source.developers.google.com.helper \
        '/home/me/.local/bin/git-credential-credhelper --profile deploy'
git then runs it with the operation appended (`... --profile deploy get`) and writes key=value
lines on stdin. By hand, `credhelper --profile deploy` also works while git-credential-credhelper
is on git's PATH.

  get    answers username (the profile's target email, else oauth2accesstoken), password (an access
         token) and password_expiry_utc (epoch seconds; git 2.41+ uses it, older gits ignore it)
  store  accepted quietly: nothing is stored, the token cache already holds the token
  erase  drops the cached access token of the host's profile, quietly
  other  operations are ignored, as git's protocol asks (exit 0, no output)
Unknown keys are ignored. Errors go to stderr, which git shows; the exit code is non-zero and
nothing is printed on stdout, so git never sees a partial credential.

Which hosts are answered: a host matching a [git] pattern, a Google git host
(source.developers.google.com, *.googlesource.com, *.sourcemanager.dev), or any host when the
helper's own arguments name a profile (--profile: git's credential.URL.helper scoping is then the
gate). Tokens go over https only, or over http to a loopback host. Other hosts get no answer, so
git moves on to its next helper.

Profile: --profile in the helper's arguments, then $CREDHELPER_PROFILE, then the [git] section,
then default.

[git] section: `PATTERN = PROFILE`. PATTERN is [SCHEME://]HOST[:PORT][/PATH]. HOST may start with
`*.` (any subdomain); a pattern without a port matches every port; SCHEME, when given, must match;
PATH is a prefix matched at '/' boundaries and needs `git config credential.useHttpPath true`
(configure git sets it for you when the [git] section has path patterns), since git sends no path
otherwise. The most specific match wins: a longer path, then an exact host over a wildcard, then
file order. Example:
    [git]
    https://source.developers.google.com/p/prod-project = deploy
    *.googlesource.com = reader
"""

import os
import sys

from credhelper.errors import CredhelperError, ProtocolError, UsageError
from credhelper.protocols import hostglob

OPERATIONS = ("get", "store", "erase")
MAX_INPUT_BYTES = 1 << 20
FALLBACK_USERNAME = "oauth2accesstoken"
GOOGLE_HOSTS = ("source.developers.google.com", "*.googlesource.com", "*.sourcemanager.dev")


def parse_request(data):
    """git's key=value lines (bytes or str) -> {key: value}; `key[]` keys collect lists.

    Reading stops at the first blank line. ProtocolError on a line without '=', a NUL, non-UTF-8
    or oversized input.
    """
    from credhelper.protocols import selection

    data = selection.decode_input(data, MAX_INPUT_BYTES, "credential request")
    if "\x00" in data:
        raise ProtocolError("credential request contains a NUL byte")
    request = {}
    for number, line in enumerate(data.split("\n"), 1):
        line = line.rstrip("\r")
        if not line:
            break
        key, sep, value = line.partition("=")
        if not sep or not key:
            raise ProtocolError(f"credential request line {number} is not key=value",
                                hint="git writes lines like host=example.com, ending with a blank line")
        if key.endswith("[]"):
            request.setdefault(key, [])
            if isinstance(request[key], list):
                request[key].append(value) if value else request[key].clear()
        else:
            request[key] = value
    if "url" in request:
        _apply_url(request)
    return request


def _apply_url(request):
    import urllib.parse  # only when git sends url= (not on the usual get): 1.3 ms

    try:
        parts = urllib.parse.urlsplit(request.pop("url"))
        netloc = parts.netloc
    except ValueError:  # e.g. https://[::1 (an unclosed IPv6 literal)
        raise ProtocolError("the url= line is not a valid URL",
                            hint="git writes url=SCHEME://HOST[:PORT]/PATH") from None
    if parts.scheme:
        request.setdefault("protocol", parts.scheme)
    netloc = netloc.rpartition("@")[2]
    if netloc:
        request.setdefault("host", netloc)
    if parts.path.strip("/"):
        request.setdefault("path", parts.path.lstrip("/"))


def parse_pattern(pattern):
    """'[scheme://]host[:port][/path]' -> (scheme or None, host glob, port or None, path prefix).

    The path prefix comes back normalised ('a//b/' -> 'a/b'); a pattern whose path has '.' or '..'
    segments gets a prefix no normalised path equals (it can match nothing)."""
    pattern = pattern.strip()
    scheme = None
    if "://" in pattern:
        scheme, _, pattern = pattern.partition("://")
        scheme = scheme.lower()
    hostport, _, path = pattern.partition("/")
    hostport = hostport.strip().lower()
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    elif hostport.count(":") == 1:
        host, _, port = hostport.partition(":")
        port = port or None
    else:
        host, port = hostport, None
    if not path.strip("/"):
        return scheme, host, port, ""
    from credhelper.protocols import selection

    segments = selection.path_segments(path)
    return scheme, host, port, "/".join(segments) if segments is not None else "/"


def _path_matches(prefix, segments):
    if not prefix:
        return True
    path = "/".join(segments)
    return path == prefix or path.startswith(prefix + "/")


def match(patterns, protocol, host, path=None):
    """The profile of the most specific [git] pattern matching the request, else None.

    patterns: [(pattern, profile, line)] in file order, as Config.git holds them. host must be a
    valid DNS name or IP literal with an optional numeric port, and path free of '.' and '..'
    segments; anything else matches nothing."""
    from credhelper.protocols import selection

    parts = selection.split_host(host)
    segments = selection.path_segments(path) if path else []
    if parts is None or segments is None:
        return None
    name, port = parts
    best, best_rank = None, None
    for index, (pattern, profile, _line) in enumerate(patterns):
        p_scheme, p_host, p_port, p_path = parse_pattern(pattern)
        if p_scheme and p_scheme != (protocol or "").lower():
            continue
        if p_port and p_port != port:
            continue
        if not hostglob.matches(name, p_host) or (p_host.startswith("*.") and name == p_host[2:]):
            continue
        if not _path_matches(p_path, segments):
            continue
        rank = (len(p_path), "*" not in p_host, bool(p_port), bool(p_scheme), -index)
        if best_rank is None or rank > best_rank:
            best, best_rank = profile, rank
    return best


def is_google_host(host):
    from credhelper.protocols import selection

    parts = selection.split_host(host)
    return parts is not None and any(hostglob.matches(parts[0], g) for g in GOOGLE_HOSTS)


def is_loopback(host):
    from credhelper.credentials import is_loopback_host
    from credhelper.protocols import selection

    parts = selection.split_host(host)
    return parts is not None and is_loopback_host(parts[0])


def format_answer(username, token):
    return (f"username={username}\npassword={token.value}\n"
            f"password_expiry_utc={int(token.expiry)}\n")


def _selected(args, config, request, env):
    """(profile name, served): which profile answers this host, and whether it is answered at all."""
    from credhelper.protocols import selection

    protocol, host, path = request.get("protocol", ""), request.get("host", ""), request.get("path")
    mapped = match(config.git, protocol, host, path)
    served = bool(args.profile) or mapped is not None or is_google_host(host)
    if protocol == "http" and not is_loopback(host) or protocol not in ("https", "http"):
        served = False
    if selection.split_host(host) is None or (path and selection.path_segments(path) is None):
        served = False  # not a host, or a path a server would resolve elsewhere: no answer at all
    return selection.profile_name(args, env, mapped), served


def answer(args, data, env=os.environ):
    """The text git reads on stdout for this operation ('' for none); raises CredhelperError."""
    from credhelper import broker
    from credhelper.protocols import selection
    from credhelper.token import ACCESS_TOKEN

    operation = args.operation
    if operation not in OPERATIONS:
        return ""  # git: "If a helper receives any other operation, it should silently ignore the request."
    request = parse_request(data)
    if operation == "store":
        return ""
    if not request.get("host"):
        if operation == "erase":
            return ""
        raise ProtocolError("git sent no host", hint="git sends protocol= and host= lines; is this git calling?")
    config = selection.load(args, env)
    name, served = _selected(args, config, request, env)
    if not served:
        return ""
    profile = config.resolve(name)
    if operation == "erase":
        selection.forget(config, profile, ACCESS_TOKEN)
        return ""
    token = broker.get_token(profile, ACCESS_TOKEN, cache=selection.token_cache(config))
    return format_answer(profile.target or FALLBACK_USERNAME, token)


def run(args, env=os.environ, stdin=None):
    """Handler of `credhelper git-credential OPERATION` (git-credential-credhelper). The answer is
    written whole or not at all; errors go to stderr through cli.run_handler."""
    from credhelper.protocols import selection

    text = answer(args, selection.read_input(stdin, MAX_INPUT_BYTES), env)
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0


# -- configure git ----------------------------------------------------------------------------

def helper_value(extra_args):
    """credential.helper value that runs this credhelper by absolute path (git runs an absolute helper
    path as it is), so it works whatever PATH git runs with."""
    import shutil

    from credhelper.protocols import selection

    script = shutil.which("git-credential-credhelper")
    if not script:
        beside = os.path.join(os.path.dirname(selection.self_command()[0]), "git-credential-credhelper")
        script = beside if os.access(beside, os.X_OK) else None
    if script:
        line = selection.command_line([os.path.abspath(script), *extra_args])
        # git runs a value that starts with '/' through the shell as it is; a quoted path (a space in it)
        # does not start with '/', and git would take it for the name of a git command: '!' runs it as is
        return line if line.startswith("/") else "!" + line
    return "!" + selection.command_line(selection.self_command("git-credential", *extra_args))


def _git_config(*argv):
    import subprocess

    try:
        done = subprocess.run(["git", "config", "--global", *argv], capture_output=True, text=True)
    except FileNotFoundError:
        raise UsageError("git is not installed (or not on PATH)") from None
    # 1: --get-all of a key that is not set yet; 5: nothing to unset
    if done.returncode not in (0, 5) and not (done.returncode == 1 and argv[0] == "--get-all"):
        raise CredhelperError(f"git config --global {' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout


def configure(args, env=os.environ):
    """Handler of `credhelper configure git [--host H] [--profile P]`.

    With --host: credential.<URL>.helper is reset for that URL (so no other helper such as `store`
    also keeps the token) and set to `credhelper --profile P`, P resolved now. Without --host: the
    global credential.helper list gets `credhelper` appended (once), which answers only [git]-mapped
    and Google git hosts. useHttpPath is turned on where [git] has path patterns.
    """
    from credhelper.protocols import selection

    config = selection.load(args, env)
    pinned_config = ["--config", config.path] if (args.config or env.get("CREDHELPER_CONFIG")) else []
    path_patterns = any(parse_pattern(p)[3] for p, _, _ in config.git)
    if args.host:
        import urllib.parse

        url = args.host if "://" in args.host else f"https://{args.host}"
        try:
            parts = urllib.parse.urlsplit(url)
        except ValueError:  # "[" : an unclosed IPv6 literal
            parts = urllib.parse.SplitResult("", "", "", "", "")
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise UsageError(f"--host {args.host}: not a host or http(s) URL", hint="e.g. --host source.developers.google.com")
        mapped = match(config.git, parts.scheme, parts.netloc, parts.path.lstrip("/"))
        name = selection.profile_name(args, env, mapped)
        config.resolve(name)  # fail now, not at the first clone
        key = f"credential.{url.rstrip('/')}"
        value = helper_value([*pinned_config, "--profile", name])
        _git_config("--replace-all", f"{key}.helper", "")
        _git_config("--add", f"{key}.helper", value)
        if path_patterns or parts.path.strip("/"):
            _git_config(f"{key}.useHttpPath", "true")
        sys.stderr.write(f"credhelper: git now asks '{value}' (profile {name}) for {url}\n")
        return 0
    if args.profile:
        raise UsageError("--profile needs --host: a profile for every host would send its tokens to any server",
                         hint="add --host HOST, or map hosts in the [git] section of the profile file")
    value = helper_value(pinned_config)
    existing = _git_config("--get-all", "credential.helper").splitlines()
    if value not in existing:
        _git_config("--add", "credential.helper", value)
    if path_patterns:
        _git_config("credential.useHttpPath", "true")
    sys.stderr.write(f"credhelper: git now asks '{value}' for Google git hosts and the hosts in the [git] "
                     f"section of {config.path}\n")
    return 0
