"""Command line: parsing, logging, and one place that turns errors into exit codes.

Handlers are named as "module:function" strings and imported only when their command
runs, so the cached path (print-access-token, the git/docker/kubectl helpers) never
imports google-auth, requests or keyring unless it has to mint. The helpers' usual command
lines are parsed by parse_fast without argparse; everything else, and every --help and
usage error, by the argparse definition in credhelper.arguments.
"""

import importlib
import os
import sys

from credhelper.errors import EXIT_INTERRUPTED, EXIT_USAGE, CredhelperError

FORMATS = ("bare", "json", "header", "env")
COMMANDS = ("print-access-token", "print-identity-token", "sign-jwt", "profiles", "cache", "executable", "kubectl",
            "git-credential", "docker-credential", "configure", "serve-metadata", "exec", "doctor", "whoami",
            "demo", "emulator")


def build_parser():
    """The argparse parser (credhelper.arguments.build_parser)."""
    from credhelper import arguments

    return arguments.build_parser()


# -- the hot path without argparse -----------------------------------------------------------------
# The helpers' usual command lines, parsed by hand into exactly the namespace build_parser() gives
# (tests/test_cli.py holds the two together on generated command lines): importing argparse and
# building even one subparser is 4 ms of a 28 ms cache hit. Anything this does not know (--help,
# abbreviations, attached short values, a value that starts with '-', any mistake) returns None,
# and argparse decides.

_PROFILE_OPTIONS = {"--config": "config", "--profile": "profile", "-p": "profile"}
_FAST = {  # command: (handler, options taking a value, flags, positional)
    "print-access-token": ("credhelper.commands:print_access_token",
                           {**_PROFILE_OPTIONS, "--impersonate-service-account": "impersonate_service_account",
                            "--source": "source", "--format": "format", "-f": "format", "--scopes": "scopes",
                            "--lifetime": "lifetime"},
                           {"--no-cache": "no_cache", "--refresh": "refresh"}, None),
    "kubectl": ("credhelper.protocols.kubectl:run", _PROFILE_OPTIONS, {}, None),
    "executable": ("credhelper.protocols.executable:run", _PROFILE_OPTIONS, {}, None),
    "git-credential": ("credhelper.protocols.git:run", _PROFILE_OPTIONS, {}, "operation"),
    "docker-credential": ("credhelper.protocols.docker:run", _PROFILE_OPTIONS, {}, "operation"),
}
_FAST_DEFAULTS = {"format": "bare"}  # other options default to None, flags to False


def parse_fast(argv):
    """The namespace argparse would make of argv, for the helpers' usual command lines; else None."""
    import types

    verbose, i = 0, 0
    while i < len(argv) and (argv[i] == "--verbose" or (argv[i][:2] == "-v" and set(argv[i][1:]) == {"v"})):
        verbose += 1 if argv[i] == "--verbose" else len(argv[i]) - 1
        i += 1
    if i == len(argv) or argv[i] not in _FAST:
        return None
    command = argv[i]
    handler, values, flags, positional = _FAST[command]
    ns = {"verbose": verbose, "command": command, "handler": handler, **{dest: None for dest in values.values()},
          **{dest: False for dest in flags.values()}}
    ns.update((k, v) for k, v in _FAST_DEFAULTS.items() if k in ns)
    rest = argv[i + 1:]
    seen_positional = False
    j = 0
    while j < len(rest):
        word = rest[j]
        if word.startswith("-"):
            name, eq, value = word.partition("=")
            if eq and not name.startswith("--"):  # -p=x means the value "=x" to argparse
                return None
            if name in flags and not eq:
                ns[flags[name]] = True
            elif name in values:
                if not eq:
                    j += 1
                    if j == len(rest) or rest[j].startswith("-"):
                        return None
                    value = rest[j]
                ns[values[name]] = value
            else:
                return None
        elif positional and not seen_positional:
            ns[positional], seen_positional = word, True
        else:
            return None
        j += 1
    if positional and not seen_positional or ns.get("format", "bare") not in FORMATS:
        return None
    return types.SimpleNamespace(**ns)


def _setup_logging(verbosity):
    if not verbosity:
        return
    import logging

    logging.basicConfig(level=logging.DEBUG if verbosity > 1 else logging.INFO,
                        format="credhelper: %(levelname)s: %(message)s", stream=sys.stderr)


def _resolve(handler):
    module, _, func = handler.partition(":")
    return getattr(importlib.import_module(module), func)


def run_handler(handler, args, *, on_error=None):
    """Run a handler; map every failure to a one-line message and an exit code, never a traceback."""
    try:
        return _resolve(handler)(args) or 0
    except CredhelperError as exc:
        if on_error:
            return on_error(exc)
        sys.stderr.write(f"credhelper: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("credhelper: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 1
    except Exception as exc:  # last resort: name the type only, never the message (it may hold a secret)
        if os.environ.get("CREDHELPER_DEBUG_TRACEBACK") == "1":
            raise
        sys.stderr.write(f"credhelper: internal error ({type(exc).__name__}); "
                         "please report it with the command you ran\n")
        return 1


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    _printable_stdio()
    args = parse_fast(argv)
    if args is None:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            parser.print_help(sys.stderr)
            return EXIT_USAGE
    if args.command != "executable":  # google-auth reads the executable's stderr into its JSON answer
        _setup_logging(args.verbose)
    # google-auth warns on import under Python 3.9 (end of life) and about ADC quota projects: not the
    # user's business on every git fetch, and it would break the protocols that read stderr
    import warnings

    warnings.filterwarnings("ignore", module=r"google(\.|$)")
    return run_handler(args.handler, args)


def _printable_stdio():
    """A path or name from non-UTF-8 bytes (argv, the environment) holds surrogate escapes, which a
    strict UTF-8 stdout (e.g. under LANG=en_US.UTF-8) cannot encode: show them escaped, never crash."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def git_main(argv=None):
    """Entry point git-credential-credhelper: git runs it as `git-credential-credhelper [ARGS] OPERATION`."""
    argv = sys.argv[1:] if argv is None else argv
    return main(["git-credential", *argv])


def docker_main(argv=None):
    """Entry point docker-credential-credhelper: docker runs it as `docker-credential-credhelper OPERATION`."""
    argv = sys.argv[1:] if argv is None else argv
    return main(["docker-credential", *argv])
