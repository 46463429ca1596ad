"""What every protocol shares: which profile answers, the token cache, and how to run credhelper.

Profile selection order, the same for every protocol:
  1. the explicit --profile flag (for git: the helper's own arguments in credential.helper)
  2. $CREDHELPER_PROFILE
  3. the host mapping of the profile file: [git] for git, [docker] for docker
  4. default
"""

import os
import sys

from credhelper.profile import DEFAULT_PROFILE, load_config


def profile_name(args, env=os.environ, mapped=None):
    """The selected profile's name, in the documented order."""
    return getattr(args, "profile", None) or env.get("CREDHELPER_PROFILE") or mapped or DEFAULT_PROFILE


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
    cache = token_cache(config)
    if cache is None:
        return False
    from credhelper import broker
    from credhelper.cache import cache_key

    params = broker.token_params(profile, kind, params.get("audience"), params.get("include_email"),  # the key get_token uses
                            params.get("claims"), params.get("scopes"), params.get("lifetime_secs"))
    key = cache_key(profile, kind, **params)
    with cache.lock(key):
        cache.delete(key)
    return True


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


def write_answer(produce, stdout):
    """For the protocols whose client shows stderr (git, kubectl): produce() -> text goes to stdout,
    whole; a failure goes to stderr as one message, never a partial answer or a traceback.
    Returns the exit code."""
    from credhelper.errors import EXIT_AUTH, EXIT_INTERRUPTED, CredhelperError

    try:
        text = produce()
    except CredhelperError as exc:
        sys.stderr.write(f"credhelper: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("credhelper: interrupted\n")
        return EXIT_INTERRUPTED
    except Exception as exc:  # the type only: the message may hold a secret
        sys.stderr.write(f"credhelper: internal error ({type(exc).__name__}); please report it\n")
        return EXIT_AUTH
    stdout.write(text)
    stdout.flush()
    return 0


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
