"""The argparse definition of every command, option and --help text.

Imported only when a command line is not one of the helpers' usual ones (cli.parse_fast):
argparse and its gettext calls cost a cache hit several milliseconds.
"""

import argparse
import os
import sys

from credhelper import __version__
from credhelper.cli import FORMATS
from credhelper.errors import EXIT_USAGE

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

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.print_usage(sys.stderr)
        sys.stderr.write(f"credhelper: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _profile_options(parser, *, chain=True):
    g = parser.add_argument_group("profile selection")
    g.add_argument("--config", metavar="FILE", help="profile file (default: $CREDHELPER_CONFIG, "
                   "else profiles.ini in the user config directory)")
    g.add_argument("--profile", "-p", metavar="NAME", help="profile name (default: $CREDHELPER_PROFILE, else default)")
    if chain:
        g.add_argument("--impersonate-service-account", metavar="[DELEGATE,...,]TARGET",
                       help="gcloud form, no profile file needed: the last account is the target, "
                            "the others are delegates in chain order")
        g.add_argument("--source", metavar="FILE", help="with --impersonate-service-account: source "
                       "credentials file (default: Application Default Credentials)")


def _cache_options(parser):
    g = parser.add_argument_group("cache")
    g.add_argument("--no-cache", action="store_true", help="neither read nor write the token cache")
    g.add_argument("--refresh", action="store_true", help="mint a new token even if a cached one is valid, and cache it")


def _format_option(parser):
    parser.add_argument("--format", "-f", choices=FORMATS, default="bare",
                        help="bare: the token alone; json: token, token_type, expires_in, expiry; "
                             "header: 'Authorization: Bearer ...'; env: export lines")


def _cmd(sub, name, handler, help, example, **kw):
    p = sub.add_parser(name, help=help, description=help,
                       epilog=f"example:\n  {example}\n\n{EXIT_CODES_EPILOG}",
                       formatter_class=_Formatter, **kw)
    p.set_defaults(handler=handler)
    return p


def build_parser():
    """The whole command line."""
    parser = _Parser(
        prog="credhelper",
        description="Mint Google Cloud tokens through service-account impersonation, cache them in the "
                    "OS keyring, and hand them to gcloud-less tools in their own protocol.",
        epilog="example:\n  credhelper print-access-token --profile deploy\n\n" + EXIT_CODES_EPILOG,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"credhelper {__version__}")
    parser.add_argument("--verbose", "-v", action="count", default=0,
                        help="log to stderr (-v: info, -vv: debug); tokens are never logged")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    # -- minting -------------------------------------------------------------------
    p = _cmd(sub, "print-access-token", "credhelper.commands:print_access_token",
             "print an access token for the profile's target", "credhelper print-access-token --profile deploy --format header")
    _profile_options(p)
    _cache_options(p)
    _format_option(p)
    p.add_argument("--scopes", metavar="SCOPE,...", help="override the profile's scopes")
    p.add_argument("--lifetime", metavar="DURATION", help="override the profile's lifetime (e.g. 600, 30m, 1h)")

    p = _cmd(sub, "print-identity-token", "credhelper.commands:print_identity_token",
             "print an OIDC ID token for the profile's target",
             "credhelper print-identity-token --audience https://myservice.run.app --include-email")
    _profile_options(p)
    _cache_options(p)
    _format_option(p)
    p.add_argument("--audience", "--audiences", metavar="AUD", help="token audience (default: the profile's audience)")
    p.add_argument("--include-email", action="store_true", default=None, help="put email and email_verified in the token")

    p = _cmd(sub, "sign-jwt", "credhelper.commands:sign_jwt",
             "sign a JWT claim set as the profile's target (signJwt)",
             "credhelper sign-jwt --claims claims.json --profile endpoints")
    _profile_options(p)
    _cache_options(p)
    _format_option(p)
    p.add_argument("--claims", metavar="FILE", required=True, help="JSON claim set ('-' for stdin); "
                   "iat and exp are added when missing")

    # -- profiles ------------------------------------------------------------------
    p = _cmd(sub, "profiles", "credhelper.commands:profiles_list",
             "list profiles, or show one resolved chain", "credhelper profiles show deploy")
    p.add_argument("--config", metavar="FILE", help="profile file")
    psub = p.add_subparsers(dest="profiles_command", metavar="SUBCOMMAND", parser_class=_Parser)
    q = _cmd(psub, "list", "credhelper.commands:profiles_list", "list profiles", "credhelper profiles list")
    q.add_argument("--config", metavar="FILE", help="profile file")
    q = _cmd(psub, "show", "credhelper.commands:profiles_show",
             "print the resolved chain of a profile (never a secret)", "credhelper profiles show deploy")
    q.add_argument("--config", metavar="FILE", help="profile file")
    q.add_argument("name", nargs="?", metavar="NAME", help="profile (default: $CREDHELPER_PROFILE, else default)")

    # -- cache -----------------------------------------------------------------------
    p = _cmd(sub, "cache", "credhelper.commands:cache_list", "list or clear cached tokens", "credhelper cache clear --profile deploy")
    p.add_argument("--config", metavar="FILE", help="profile file")
    csub = p.add_subparsers(dest="cache_command", metavar="SUBCOMMAND", parser_class=_Parser)
    q = _cmd(csub, "list", "credhelper.commands:cache_list",
             "show cached tokens: profile, kind, scopes or audience, expiry, backend (never the token)", "credhelper cache list")
    q.add_argument("--config", metavar="FILE", help="profile file")
    q = _cmd(csub, "clear", "credhelper.commands:cache_clear", "remove cached tokens", "credhelper cache clear --profile deploy")
    q.add_argument("--config", metavar="FILE", help="profile file")
    q.add_argument("--profile", "-p", metavar="NAME", help="only this profile's tokens")

    # -- protocols ---------------------------------------------------------------------
    p = _cmd(sub, "executable", "credhelper.protocols.executable:run",
             "answer Google's executable-sourced credential protocol (external_account)",
             "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1 credhelper executable --profile wif")
    _profile_options(p, chain=False)

    p = _cmd(sub, "kubectl", "credhelper.protocols.kubectl:run",
             "print an ExecCredential for kubectl's exec credential plugin", "credhelper kubectl --profile gke")
    _profile_options(p, chain=False)

    p = _cmd(sub, "git-credential", "credhelper.protocols.git:run",
             "git credential helper (also installed as git-credential-credhelper)",
             "git config --global credential.https://source.developers.google.com.helper credhelper")
    _profile_options(p, chain=False)
    p.add_argument("operation", metavar="OPERATION", help="get, store or erase (others are ignored)")

    p = _cmd(sub, "docker-credential", "credhelper.protocols.docker:run",
             "docker credential helper (also installed as docker-credential-credhelper)",
             "echo us-docker.pkg.dev | credhelper docker-credential get")
    _profile_options(p, chain=False)
    p.add_argument("operation", metavar="OPERATION", help="get, store, erase, list or version")

    # -- configure -----------------------------------------------------------------------
    p = _cmd(sub, "configure", None, "set up a client to use credhelper",
             "credhelper configure git --host source.developers.google.com --profile deploy")
    cfg = p.add_subparsers(dest="configure_command", metavar="CLIENT", parser_class=_Parser, required=True)
    q = _cmd(cfg, "external-account", "credhelper.protocols.executable:configure",
             "write an external_account JSON whose executable is credhelper",
             "credhelper configure external-account --profile wif --audience //iam.googleapis.com/projects/1/"
             "locations/global/workloadIdentityPools/p/providers/credhelper --output wif.json")
    _profile_options(q, chain=False)
    q.add_argument("--audience", required=True, metavar="AUD", help="the workload identity provider audience")
    q.add_argument("--service-account-impersonation", metavar="EMAIL",
                   help="let google-auth impersonate this account after the STS exchange")
    q.add_argument("--output", "-o", metavar="FILE", help="where to write (default: stdout)")
    q.add_argument("--sts-endpoint", metavar="URL", help="STS base URL (default: the profile's sts_endpoint or Google's)")
    q = _cmd(cfg, "git", "credhelper.protocols.git:configure",
             "set credhelper as git's credential helper in the user's git config",
             "credhelper configure git --host source.developers.google.com --profile deploy")
    _profile_options(q, chain=False)
    q.add_argument("--host", metavar="HOST", help="only for this host (default: a global helper that answers Google git hosts and [git]-mapped hosts)")
    q = _cmd(cfg, "docker", "credhelper.protocols.docker:configure",
             "add credHelpers entries to the docker config",
             "credhelper configure docker --registries us-docker.pkg.dev,europe-docker.pkg.dev")
    _profile_options(q, chain=False)
    q.add_argument("--registries", required=True, metavar="HOST,...", help="registry hosts")
    q = _cmd(cfg, "kubectl", "credhelper.protocols.kubectl:configure",
             "write a kubeconfig user entry that runs credhelper",
             "credhelper configure kubectl --cluster prod --profile gke")
    _profile_options(q, chain=False)
    q.add_argument("--cluster", required=True, metavar="NAME", help="kubeconfig cluster (and context) name")
    q.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig to edit (default: $KUBECONFIG, else ~/.kube/config)")

    # -- beyond gcloud -------------------------------------------------------------------
    p = _cmd(sub, "serve-metadata", "credhelper.metadata:serve",
             "serve the profile's identity as a GCE metadata server on 127.0.0.1",
             "credhelper serve-metadata --profile deploy --port 8181 &\n"
             "  GCE_METADATA_HOST=127.0.0.1:8181 GCE_METADATA_IP=127.0.0.1:8181 python3 my-app.py")
    _profile_options(p)
    p.add_argument("--port", type=int, default=0, metavar="N", help="port on 127.0.0.1 (default: a free one, printed)")
    p.add_argument("--url-file", metavar="FILE", help="write host:port here once serving")

    p = _cmd(sub, "exec", "credhelper.execute:run",
             "run a command as the profile's identity", "credhelper exec --profile deploy -- gsutil ls gs://bucket")
    _profile_options(p)
    p.add_argument("--metadata", action="store_true",
                   help="serve a private metadata server for the child and set GCE_METADATA_HOST")
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARGS...]")

    p = _cmd(sub, "doctor", "credhelper.doctor:doctor",
             "check the profile file, source, each hop and the final token, with fixes", "credhelper doctor --profile deploy")
    _profile_options(p)

    p = _cmd(sub, "whoami", "credhelper.doctor:whoami",
             "show the identity and chain behind the profile's token (never the token)", "credhelper whoami --profile deploy")
    _profile_options(p)
    _cache_options(p)

    # -- trying it out -----------------------------------------------------------------
    p = _cmd(sub, "demo", "credhelper.commands:demo",
             "run the seed flow end to end against a private emulator", "credhelper demo")

    p = _cmd(sub, "emulator", "credhelper.emulator.cli:serve",
             "run the local Google auth emulator (OAuth, IAM Credentials, STS, metadata, storage)",
             "credhelper emulator --world world.json --port 8642 --audit-log audit.jsonl")
    p.add_argument("--world", metavar="FILE", help="world file (default: a fresh sample world in a temporary directory)")
    p.add_argument("--port", type=int, default=0, metavar="N", help="port on 127.0.0.1 (0: a free one)")
    p.add_argument("--url-file", metavar="FILE", help="write the URL here once the server accepts connections")
    p.add_argument("--audit-log", metavar="FILE", help="append one JSON line per decision")
    p.add_argument("--faults", metavar="JSON", help="initial fault plan (see credhelper-emulator(7))")
    esub = p.add_subparsers(dest="emulator_command", metavar="SUBCOMMAND", parser_class=_Parser)
    q = _cmd(esub, "init", "credhelper.emulator.cli:init",
             "write the sample world and credential files into DIR", "credhelper emulator init ./world --url http://127.0.0.1:8642")
    q.add_argument("dir", metavar="DIR")
    q.add_argument("--url", default="http://127.0.0.1:8642", metavar="URL",
                   help="emulator URL the credential files point at (default: http://127.0.0.1:8642)")
    return parser
