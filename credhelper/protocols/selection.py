"""What every protocol shares: which profile answers, the token cache, and how to run credhelper.

Profile selection order, the same for every protocol:
  1. the explicit --profile flag (for git: the helper's own arguments in credential.helper)
  2. $CREDHELPER_PROFILE
  3. the host mapping of the profile file: [git] for git, [docker] for docker
  4. default
"""

import os
import sys

from credhelper.profile import load_config, selected_profile_name


def profile_name(args, env=os.environ, mapped=None):
    """The selected profile's name, in the documented order (profile.selected_profile_name owns it)."""
    return selected_profile_name(getattr(args, "profile", None), env, mapped)


def load(args, env=os.environ):
    """The parsed profile file named by --config, $CREDHELPER_CONFIG or the default location."""
    return load_config(getattr(args, "config", None), env)


def token_cache(config, args=None):
    """The cache the profile file asks for ([cache] backend), or None for backend = none."""
    if config.cache_backend() == "none":
        return None
    from credhelper.commands import cache_for

    return cache_for(config, args)


def forget(config, profile, kind, **params):
    """Drop the cached token of this kind for the profile (git erase, docker erase); quiet if absent."""
    from credhelper import broker

    return broker.forget(profile, kind, token_cache(config), **params)


def decode_input(data, max_bytes, what):
    """A client's stdin (bytes, or already str) as text; ProtocolError when oversized or not UTF-8."""
    if isinstance(data, bytes):
        from credhelper.errors import ProtocolError

        if len(data) > max_bytes:
            raise ProtocolError(f"{what} larger than {max_bytes} bytes")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(f"{what} is not UTF-8") from None
    return data


_DNS_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


def split_host(text):
    """'Host.Example:443' -> ('host.example', '443'); '[::1]:80' -> ('::1', '80'); 'h' -> ('h', None).

    None unless the host is a valid DNS name or IP literal and the port, if any, is a number from 1
    to 65535: the git and docker helpers match nothing else (a '/', '#', '@' or '%' in a "host" is an
    attempt to borrow a trusted suffix)."""
    text = text.lower()
    if text.startswith("["):
        name, close, rest = text[1:].partition("]")
        if not close or (rest and not rest.startswith(":")):
            return None
        port = rest[1:] if rest else None
        import ipaddress  # only for IPv6 literals

        try:
            ipaddress.IPv6Address(name)
        except ValueError:
            return None
        if "%" in name:  # a zone id names an interface, not a host
            return None
    else:
        name, colon, port = text.partition(":")
        port = port if colon else None
        labels = name.split(".")
        if len(name) > 253 or not all(
                0 < len(label) <= 63 and set(label) <= _DNS_LABEL_CHARS and label[0] != "-" and label[-1] != "-"
                for label in labels):
            return None
    if port is not None and not (port.isascii() and port.isdigit() and len(port) <= 5 and 0 < int(port) < 65536):
        return None
    return name, port


def path_segments(path):
    """A URL path as its segments, percent-decoded, empty ones dropped: 'a//b/' -> ['a', 'b'].

    None when some server could read the path as another one than its segments say: a segment that is
    '.' or '..' in any spelling a server resolves (after ';' path parameters are cut, as Tomcat and
    Jetty do; NFKC-normalised, so fullwidth dots; without spaces and control characters, which Windows
    drops), an escape left after decoding (%252e decoded twice is '.'; IIS reads %u002e), or an escape
    that is not UTF-8 (overlong %c0%ae was a '.' to old servers)."""
    import urllib.parse  # only for requests that carry a path

    try:
        decoded = urllib.parse.unquote(path or "", errors="strict")
    except UnicodeDecodeError:
        return None
    if "%" in decoded:
        import re

        if re.search(r"%([0-9a-fA-F]{2}|[uU][0-9a-fA-F]{4})", decoded):
            return None
    segments = [s for s in decoded.replace("\\", "/").split("/") if s]
    if any(_is_dot_segment(s) for s in segments):
        return None
    return segments


def _is_dot_segment(segment):
    core = segment.split(";", 1)[0]
    if not core.isascii():
        import unicodedata

        core = unicodedata.normalize("NFKC", core)
    core = "".join(c for c in core if c > " " and c != "\x7f")
    return bool(core) and not core.strip(".")


def read_input(stdin, max_bytes):
    """Up to max_bytes + 1 bytes of the client's stdin (sys.stdin unless given), for decode_input to
    judge; ProtocolError (exit 2) when stdin is closed or unreadable."""
    from credhelper.errors import ProtocolError

    stream = stdin if stdin is not None else getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise ProtocolError("stdin is closed", hint="the client writes its request on stdin")
    try:
        return stream.read(max_bytes + 1)
    except (OSError, ValueError) as exc:
        raise ProtocolError(f"cannot read stdin ({type(exc).__name__})",
                            hint="the client writes its request on stdin") from None


def replace_file(path, text):
    """Atomically replace an existing file the user keeps (a kubeconfig), keeping its mode."""
    from credhelper import privatefile

    privatefile.write(path, text, os.stat(path).st_mode & 0o777)


def self_command(*args):
    """argv that runs credhelper by absolute path, for configs other programs execute later."""
    import shutil  # configure only: not on the helpers' hot path

    script = shutil.which("credhelper")
    if script and os.access(script, os.X_OK):
        return [os.path.abspath(script), *args]
    return [os.path.abspath(sys.executable), "-m", "credhelper", *args]


def command_line(argv):
    import shlex

    return " ".join(shlex.quote(a) for a in argv)


def pinned_args(args, env=os.environ, mapped=None):
    """--config and --profile to bake into a client's configuration, so it does not depend on the
    environment the client happens to run credhelper in."""
    out = []
    if getattr(args, "config", None):
        out += ["--config", os.path.abspath(os.path.expanduser(args.config))]
    elif env.get("CREDHELPER_CONFIG"):
        out += ["--config", os.path.abspath(os.path.expanduser(env["CREDHELPER_CONFIG"]))]
    out += ["--profile", profile_name(args, env, mapped)]
    return out
