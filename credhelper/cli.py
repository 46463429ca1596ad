"""Command line: parsing, logging, and one place that turns errors into exit codes.

Handlers are named as "module:function" strings and imported only when their command
runs, so the cached path (print-access-token, the git/docker/kubectl helpers) never
imports google-auth, requests or keyring unless it has to mint. The helpers' usual command
lines are parsed by parse_fast without argparse; everything else, and every --help and
usage error, by the argparse definition in credhelper.arguments.
"""

import os
import sys

from credhelper import commandtable
from credhelper.errors import EXIT_AUTH, EXIT_INTERRUPTED, EXIT_USAGE, CredhelperError

COMMANDS = commandtable.COMMAND_NAMES


def build_parser():
    """The argparse parser (credhelper.arguments.build_parser, from the command table)."""
    from credhelper import arguments

    return arguments.build_parser()


def parse_args(argv):
    """argv -> a handler's Namespace through argparse (every --help and usage error)."""
    from credhelper import arguments

    return arguments.parse_args(argv)


# -- the hot path without argparse -----------------------------------------------------------------
# Command lines made only of plain options (a value or a flag) and at most one positional are
# parsed here from the command table into exactly the namespace argparse gives (tests/test_cli.py
# holds the two together on generated command lines): importing argparse and building the parser
# is several ms of a ~30 ms cache hit. Anything this does not know (--help, abbreviations, attached
# short values, a value that starts with '-', any mistake) returns None, and argparse decides.

_GLOBAL_OPTIONS = {"--config": "config", "--profile": "profile", "-p": "profile"}


def _fast_shape(row):
    """(values {flag: dest}, flags {flag: dest}, positional dest or None, defaults) of a row whose
    options the fast parser can read; None when argparse must (types, nargs, subcommands)."""
    if row.subcommands or not row.handler:
        return None
    values, flags, positional, defaults, required = {}, {}, None, {}, []
    for option in row.options:
        kw = option.kwargs
        action = kw.get("action")
        if option.positional:
            if positional or set(kw) - {"metavar", "help"}:
                return None
            positional = option.dest
            continue
        if set(kw) - {"metavar", "help", "choices", "default", "required", "action"} or action not in (None, "store_true"):
            return None
        table = flags if action == "store_true" else values
        table.update((flag, option.dest) for flag in option.flags)
        defaults[option.dest] = kw.get("default", False if action else None)
        if kw.get("required"):
            required.append(option.dest)
    return values, flags, positional, defaults, tuple(required)


class Arguments:
    """The namespace parse_fast makes: attributes, as argparse.Namespace (types.SimpleNamespace would
    import types, 0.2-0.4 ms of a hit)."""

    def __init__(self, values):
        self.__dict__.update(values)

    def __repr__(self):
        return f"Arguments({self.__dict__!r})"


def parse_fast(argv):
    """The namespace argparse would make of argv, for command lines of plain options; else None."""
    verbose, early, i = 0, {}, 0
    while i < len(argv):
        word = argv[i]
        if word == "--verbose" or (word[:2] == "-v" and set(word[1:]) == {"v"}):
            verbose += 1 if word == "--verbose" else len(word) - 1
        elif word in _GLOBAL_OPTIONS and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            i += 1
            early[_GLOBAL_OPTIONS[word]] = argv[i]
        elif word.partition("=")[0] in ("--config", "--profile") and "=" in word:
            name, _, value = word.partition("=")
            early[_GLOBAL_OPTIONS[name]] = value
        else:
            break
        i += 1
    row = commandtable.find(argv[i]) if i < len(argv) else None
    shape = row and _fast_shape(row)
    if not shape:
        return None
    values, flags, positional, defaults, required = shape
    ns = {"verbose": verbose, "command": row.name, "handler": row.handler, **defaults}
    choices = {option.dest: option.kwargs["choices"] for option in row.options if "choices" in option.kwargs}
    seen = set()
    rest = argv[i + 1:]
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
                seen.add(values[name])
            else:
                return None
        elif positional and positional not in seen:
            ns[positional] = word
            seen.add(positional)
        else:
            return None
        j += 1
    if positional and positional not in seen or not seen.issuperset(required):
        return None
    if any(ns[dest] not in allowed for dest, allowed in choices.items() if ns[dest] is not None):
        return None
    for dest, value in early.items():
        if dest not in ns:
            return None  # a usage error: argparse says so
        if ns[dest] is None:
            ns[dest] = value
    return Arguments(ns)


def _setup_logging(verbosity):
    if not verbosity:
        return
    import logging

    logging.basicConfig(level=logging.DEBUG if verbosity > 1 else logging.INFO,
                        format="credhelper: %(levelname)s: %(message)s", stream=sys.stderr)


def _resolve(handler):
    if callable(handler):
        return handler
    module, _, func = handler.partition(":")
    return getattr(__import__(module, fromlist=[func]), func)  # not importlib: it imports warnings


class Failure(CredhelperError):
    """What run_handler reports for an interruption or an internal error, like any CredhelperError."""

    def __init__(self, message, code, exit_code):
        super().__init__(message)
        self.code, self.exit_code = code, exit_code


def report_on_stderr(error):
    """How an error is written unless the command's row says otherwise: one message on stderr."""
    sys.stderr.write(f"credhelper: {error}\n")


def run_handler(handler, args, report=None, *, quiet=False):
    """Run a handler ("module:function" or a callable taking args) and return its exit code.

    The one failure path: every error becomes an exit code and is handed to report (the row's
    error writer: JSON on stdout for docker and the executable protocol; by default one line on
    stderr), never a traceback. An unexpected exception is named by type only (its message may
    hold a secret), unless CREDHELPER_DEBUG_TRACEBACK=1 lets it through. quiet: nothing reaches
    stderr while the handler runs (a client that merges stderr into the answer)."""
    real_stderr = sys.stderr
    if quiet:
        import io

        sys.stderr = io.StringIO()
    try:
        try:
            return _resolve(handler)(args) or 0
        except CredhelperError as exc:
            failure = exc
        except KeyboardInterrupt:
            failure = Failure("interrupted", "INTERRUPTED", EXIT_INTERRUPTED)
        except BrokenPipeError:  # the reader went away: nobody to tell
            return EXIT_AUTH
        except Exception as exc:
            if os.environ.get("CREDHELPER_DEBUG_TRACEBACK") == "1":
                raise
            failure = Failure(f"internal error ({type(exc).__name__}); please report it with the command you ran",
                              "INTERNAL", EXIT_AUTH)
    finally:
        sys.stderr = real_stderr
    try:
        _resolve(report or report_on_stderr)(failure)
    except (OSError, ValueError):  # a closed or broken stream: the exit code still tells
        pass
    return failure.exit_code


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    _printable_stdio()
    args = parse_fast(argv)
    if args is None:
        args = parse_args(argv)
        if not getattr(args, "handler", None):
            build_parser().print_help(sys.stderr)
            return EXIT_USAGE
    row = commandtable.find(args.command)
    if not row.quiet:  # google-auth reads the executable's stderr into its JSON answer
        _setup_logging(args.verbose)
    _ignore_google_warnings()
    return run_handler(args.handler, args, row.report, quiet=row.quiet)


class _GoogleModules:
    """The warnings filter's module pattern google(\\.|$) (google and google.*), matched without re.

    warnings.filterwarnings compiles its patterns with re (5 ms of a 10 ms Python start); a filter's
    module may be any object with match(), which is all warnings calls on it."""

    @staticmethod
    def match(name):
        return name == "google" or name.startswith("google.")


def _ignore_google_warnings():
    """google-auth warns on import under Python 3.9 (end of life) and about ADC quota projects: not the
    user's business on every git fetch, and it would break the protocols that read stderr. Put first
    in the filters before anything imports google (so no warning registry predates it)."""
    import warnings

    entry = ("ignore", None, Warning, _GoogleModules, 0)
    if entry in warnings.filters:  # once, as filterwarnings does: main() runs many times in one test process
        warnings.filters.remove(entry)
    warnings.filters.insert(0, entry)


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
