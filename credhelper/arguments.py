"""The argparse definition of every command, option and --help text.

Imported only when a command line is not one of the helpers' usual ones (cli.parse_fast):
argparse and its gettext calls cost a cache hit several milliseconds.
"""

import argparse
import os
import sys

from credhelper import __version__
from credhelper import commandtable
from credhelper.errors import EXIT_USAGE

GLOBAL_PREFIX = "global_"
EXIT_CODES_EPILOG = """\
exit codes:
  0    success
  1    authentication or upstream failure (denied, unreachable, deadline)
  2    usage error (bad arguments, malformed protocol input)
  3    profile or credentials file error
  130  interrupted
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter, minus its `import shutil` (with bz2 and lzma) on every parser built:
    the width comes from $COLUMNS or the terminal, as shutil.get_terminal_size() would give it."""

    def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
        if width is None:
            width = _terminal_columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width)


def _terminal_columns():
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors with exit code 2 and our prefix."""

    def __init__(self, *args, command=False, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)
        self.command = command

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if extras and self.command:  # the command's own usage, not the top level's "unrecognized arguments"
            self.error(self.unrecognized(extras[0]))
        return namespace, extras

    def unrecognized(self, word):
        shown = word if len(word) <= 60 else word[:57] + "..."
        if not word.startswith("-") or word == "-":
            return f"unexpected argument {shown!r}"
        import difflib

        known = [s for action in self._actions for s in action.option_strings]
        close = difflib.get_close_matches(word.partition("=")[0], known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else f"; see {self.prog} --help"
        return f"unrecognized option {shown!r}{hint}"

    def error(self, message):
        self.print_usage(sys.stderr)
        sys.stderr.write(f"credhelper: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _add_command(sub, row):
    p = sub.add_parser(row.name, help=row.help, description=row.help, command=True,
                       epilog=f"example:\n  {row.example}\n\n{EXIT_CODES_EPILOG}", formatter_class=_Formatter)
    p.set_defaults(handler=row.handler)
    _add_options(p, row.options)
    if row.subcommands:
        nested = p.add_subparsers(dest=row.sub_dest, metavar=row.sub_metavar, parser_class=_Parser,
                                  required=row.sub_required)
        for child in row.subcommands:
            _add_command(nested, child)
    return p


def _add_options(parser, options):
    groups = {}
    for option in options:
        target = parser
        if option.group:
            if option.group not in groups:
                groups[option.group] = parser.add_argument_group(option.group)
            target = groups[option.group]
        target.add_argument(*option.flags, **option.kwargs)


def build_parser():
    """The whole command line, from the command table."""
    parser = _Parser(
        prog="credhelper",
        description="Mint Google Cloud tokens through service-account impersonation, cache them in the "
                    "OS keyring, and hand them to tools that cannot run gcloud (git, docker, kubectl, "
                    "client libraries), each in its own protocol.",
        epilog="example:\n  credhelper print-access-token --profile deploy\n\n" + EXIT_CODES_EPILOG,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"credhelper {__version__}")
    parser.add_argument("--verbose", "-v", action="count", default=0,
                        help="log to stderr (-v: info, -vv: debug); tokens are never logged")
    g = parser.add_argument_group("before the command, for the commands that take them")
    for option in (commandtable.CONFIG, commandtable.PROFILE):
        g.add_argument(*option.flags, dest=GLOBAL_PREFIX + option.dest, default=None,
                       metavar=option.kwargs["metavar"], help=option.kwargs["help"])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for row in commandtable.COMMANDS:
        _add_command(sub, row)
    return parser


def parse_args(argv, parser=None):
    """argv -> the Namespace a handler gets; a usage error exits 2 with the usage of the command at fault.

    --config and --profile given before the command apply to it when it takes them (its own wins)."""
    parser = parser or build_parser()
    args = parser.parse_args(argv)
    for dest in commandtable.GLOBAL_SELECTION:
        value = getattr(args, GLOBAL_PREFIX + dest)
        delattr(args, GLOBAL_PREFIX + dest)
        if value is None:
            continue
        if not hasattr(args, dest):
            flag = "--" + dest
            parser.error(f"{flag} before the command: {args.command or 'no command'} takes no {flag}")
        if getattr(args, dest) is None:
            setattr(args, dest, value)
    return args
