"""The command table: every command, its handler, options, --help text and example, in one place.

Three readers, one list: credhelper.arguments builds the argparse parser from it (every --help and
usage error), credhelper.cli.parse_fast parses the helpers' usual command lines from it without
argparse (the hot path), and tests/test_docs.py holds the man pages and README to it.

A row names its handler and, for a protocol whose client reads errors somewhere other than
stderr, its error writer, as "module:function" strings: they are imported only when that command
runs. A row may also declare the profile keys its protocol reads (`profile_keys=`): the profile file
accepts them, credhelper.profile keeps them raw on the Profile (value, file, line) and the protocol
module checks them itself. A new protocol is one module plus its rows here. Standard library only,
and nothing but plain data: the hot path imports this module on every call.
"""

FORMATS = ("bare", "json", "header", "env")
AWS_FORMATS = ("env", "json")


class Option:
    """One argparse argument: its flags (or a positional's name), argparse's keyword arguments as
    plain data, and the help group it is shown in."""

    __slots__ = ("flags", "kwargs", "group")

    def __init__(self, *flags, group=None, **kwargs):
        self.flags, self.kwargs, self.group = flags, kwargs, group

    @property
    def positional(self):
        return not self.flags[0].startswith("-")

    @property
    def dest(self):
        if "dest" in self.kwargs:
            return self.kwargs["dest"]
        if self.positional:
            return self.flags[0]
        long = next((f for f in self.flags if f.startswith("--")), self.flags[0])
        return long.lstrip("-").replace("-", "_")


class Command:
    """One row: a command (or subcommand), what runs it, and how it is described."""

    __slots__ = ("name", "handler", "help", "example", "options", "report", "quiet", "subcommands", "sub_dest",
                 "sub_metavar", "sub_required", "profile_keys")

    def __init__(self, name, handler, help, example, options=(), *, report=None, quiet=False, subcommands=(),
                 sub_dest=None, sub_metavar="SUBCOMMAND", sub_required=False, profile_keys=()):
        self.name, self.handler, self.help, self.example = name, handler, help, example
        # report: "module:function" that writes an error where this client reads it (default: stderr);
        # quiet: the client merges stderr into the answer, so nothing may reach stderr
        self.options, self.report, self.quiet = tuple(options), report, quiet
        self.subcommands, self.sub_dest, self.sub_metavar, self.sub_required = (
            tuple(subcommands), sub_dest, sub_metavar, sub_required)
        # profile_keys: the profile-file keys this row's protocol reads and checks itself (see protocol_profile_keys)
        self.profile_keys = tuple(profile_keys)


# -- options several commands share -------------------------------------------------------------

_SELECTION = "profile selection"
CONFIG = Option("--config", metavar="FILE", group=_SELECTION,
                help="profile file (default: $CREDHELPER_CONFIG, else profiles.ini in the user config directory)")
PROFILE = Option("--profile", "-p", metavar="NAME", group=_SELECTION,
                 help="profile name (default: $CREDHELPER_PROFILE, else default)")
SELECTION = (CONFIG, PROFILE)
CHAIN = SELECTION + (
    Option("--impersonate-service-account", metavar="[DELEGATE,...,]TARGET", group=_SELECTION,
           help="gcloud form, no profile file needed: the last account is the target, the others are "
                "delegates in chain order"),
    Option("--source", metavar="FILE", group=_SELECTION,
           help="with --impersonate-service-account: source credentials file (default: Application "
                "Default Credentials)"),
)
CACHE = (
    Option("--no-cache", action="store_true", group="cache", help="neither read nor write the token cache"),
    Option("--refresh", action="store_true", group="cache",
           help="mint a new token even if a cached one is valid, and cache it"),
)
FORMAT = Option("--format", "-f", choices=FORMATS, default="bare",
                help="bare: the token alone; json: token, token_type, expires_in, expiry; "
                     "header: 'Authorization: Bearer ...'; env: export lines")
FILE_ONLY = Option("--config", metavar="FILE", help="profile file")

# Options accepted before the command too (`credhelper -p deploy print-access-token`); the command's
# own option wins when both are given.
GLOBAL_SELECTION = ("config", "profile")

WIF_AUDIENCE = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/credhelper"

COMMANDS = (
    # -- minting ------------------------------------------------------------------------------
    Command("print-access-token", "credhelper.commands:print_access_token",
            "print an access token for the profile's target",
            "credhelper print-access-token --profile deploy --format header",
            CHAIN + CACHE + (FORMAT,
                             Option("--scopes", metavar="SCOPE,...", help="override the profile's scopes"),
                             Option("--lifetime", metavar="DURATION",
                                    help="override the profile's lifetime (e.g. 600, 30m, 1h)"))),
    Command("print-identity-token", "credhelper.commands:print_identity_token",
            "print an OIDC ID token for the profile's target",
            "credhelper print-identity-token --audience https://myservice.run.app --include-email",
            CHAIN + CACHE + (FORMAT,
                             Option("--audience", "--audiences", metavar="AUD",
                                    help="token audience (default: the profile's audience)"),
                             Option("--include-email", action="store_true", default=None,
                                    help="put email and email_verified in the token"))),
    Command("sign-jwt", "credhelper.commands:sign_jwt", "sign a JWT claim set as the profile's target (signJwt)",
            "credhelper sign-jwt --claims claims.json --profile endpoints",
            CHAIN + CACHE + (FORMAT,
                             Option("--claims", metavar="FILE", required=True,
                                    help="JSON claim set ('-' for stdin); iat and exp are added when missing"))),
    # -- profiles and cache -----------------------------------------------------------------------
    Command("profiles", "credhelper.commands:profiles_list", "list profiles, or show one resolved chain",
            "credhelper profiles show deploy", (FILE_ONLY,), sub_dest="profiles_command", subcommands=(
                Command("list", "credhelper.commands:profiles_list", "list profiles", "credhelper profiles list",
                        (FILE_ONLY,)),
                Command("show", "credhelper.commands:profiles_show",
                        "print the resolved chain of a profile (never a secret)", "credhelper profiles show deploy",
                        (FILE_ONLY, Option("name", nargs="?", metavar="NAME",
                                           help="profile (default: $CREDHELPER_PROFILE, else default)"))))),
    Command("cache", "credhelper.commands:cache_list", "list or clear cached tokens",
            "credhelper cache clear --profile deploy", (FILE_ONLY,), sub_dest="cache_command", subcommands=(
                Command("list", "credhelper.commands:cache_list",
                        "show cached tokens: profile, kind, scopes or audience, expiry, backend (never the token)",
                        "credhelper cache list", (FILE_ONLY,)),
                Command("clear", "credhelper.commands:cache_clear", "remove cached tokens",
                        "credhelper cache clear --profile deploy",
                        (FILE_ONLY, Option("--profile", "-p", metavar="NAME", help="only this profile's tokens"))))),
    # -- protocols ----------------------------------------------------------------------------
    Command("executable", "credhelper.protocols.executable:run",
            "answer Google's executable-sourced credential protocol (external_account)",
            f"credhelper configure external-account --profile wif --audience {WIF_AUDIENCE} --output wif.json\n"
            "  GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1 GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE="
            f"{WIF_AUDIENCE} credhelper executable --profile wif",
            SELECTION, report="credhelper.protocols.executable:write_error", quiet=True),
    Command("kubectl", "credhelper.protocols.kubectl:run",
            "print an ExecCredential for kubectl's exec credential plugin", "credhelper kubectl --profile gke",
            SELECTION),
    Command("git-credential", "credhelper.protocols.git:run",
            "git credential helper (also installed as git-credential-credhelper)",
            "printf 'protocol=https\\nhost=source.developers.google.com\\n\\n' | credhelper git-credential get",
            SELECTION + (Option("operation", metavar="OPERATION", help="get, store or erase (others are ignored)"),)),
    Command("docker-credential", "credhelper.protocols.docker:run",
            "docker credential helper (also installed as docker-credential-credhelper)",
            "echo us-docker.pkg.dev | credhelper docker-credential get",
            SELECTION + (Option("operation", metavar="OPERATION", help="get, store, erase, list or version"),),
            report="credhelper.protocols.docker:write_error"),
    Command("aws-credential-process", "credhelper.protocols.aws:credential_process",
            "print AWS credentials for AWS's credential_process: the profile's Google ID token exchanged at "
            "AWS STS (AssumeRoleWithWebIdentity)",
            "credhelper configure aws --profile deploy --aws-profile gcp\n"
            "  aws sts get-caller-identity --profile gcp",
            SELECTION + CACHE,
            profile_keys=("aws_role_arn", "aws_session_name", "aws_duration", "aws_sts_endpoint", "aws_region")),
    Command("print-aws-credentials", "credhelper.protocols.aws:print_credentials",
            "print the profile's AWS credentials (see aws-credential-process) as export lines or JSON",
            "eval \"$(credhelper print-aws-credentials --profile deploy --format env)\"",
            SELECTION + CACHE + (Option("--format", "-f", choices=AWS_FORMATS, default="env",
                                        help="env: export AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and "
                                             "AWS_SESSION_TOKEN; json: credential_process's JSON"),)),
    # -- configure ----------------------------------------------------------------------------
    Command("configure", None, "set up a client to use credhelper",
            "credhelper configure git --host source.developers.google.com --profile deploy",
            sub_dest="configure_command", sub_metavar="CLIENT", sub_required=True, subcommands=(
                Command("external-account", "credhelper.protocols.executable:configure",
                        "write an external_account JSON whose executable is credhelper",
                        f"credhelper configure external-account --profile wif --audience {WIF_AUDIENCE} "
                        "--output wif.json",
                        SELECTION + (
                            Option("--audience", required=True, metavar="AUD",
                                   help="the workload identity provider audience"),
                            Option("--service-account-impersonation", metavar="EMAIL",
                                   help="let google-auth impersonate this account after the STS exchange"),
                            Option("--output", "-o", metavar="FILE",
                                   help="where to write (default: stdout; a missing directory is created 0700)"),
                            Option("--sts-endpoint", metavar="URL",
                                   help="STS base URL (default: the profile's sts_endpoint or Google's)"))),
                Command("git", "credhelper.protocols.git:configure",
                        "set credhelper as git's credential helper in the user's git config",
                        "credhelper configure git --host source.developers.google.com --profile deploy",
                        SELECTION + (Option("--host", metavar="HOST",
                                            help="only for this host (default: a global helper that answers Google "
                                                 "git hosts and [git]-mapped hosts)"),)),
                Command("docker", "credhelper.protocols.docker:configure",
                        "add credHelpers entries to the docker config",
                        "credhelper configure docker --registries us-docker.pkg.dev,europe-docker.pkg.dev",
                        SELECTION + (Option("--registries", required=True, metavar="HOST,...", help="registry hosts"),)),
                Command("aws", "credhelper.protocols.aws:configure",
                        "write a credential_process entry that runs credhelper into the AWS config",
                        "credhelper configure aws --profile deploy --aws-profile gcp",
                        SELECTION + (Option("--aws-profile", required=True, metavar="NAME",
                                            help="the AWS profile to write ([default] for default) in "
                                                 "$AWS_CONFIG_FILE, else ~/.aws/config"),)),
                Command("kubectl", "credhelper.protocols.kubectl:configure",
                        "write a kubeconfig user entry that runs credhelper",
                        "credhelper configure kubectl --cluster prod --profile gke",
                        SELECTION + (
                            Option("--cluster", required=True, metavar="NAME",
                                   help="a cluster of the kubeconfig; its context of the same name is set to use "
                                        "credhelper"),
                            Option("--kubeconfig", metavar="FILE",
                                   help="kubeconfig to edit (default: $KUBECONFIG, else ~/.kube/config)"))),
            )),
    # -- beyond gcloud ------------------------------------------------------------------------
    Command("serve-metadata", "credhelper.metadata:serve",
            "serve the profile's identity as a GCE metadata server on 127.0.0.1",
            "credhelper serve-metadata --profile deploy --port 8181 &\n"
            "  GCE_METADATA_HOST=127.0.0.1:8181 GCE_METADATA_IP=127.0.0.1:8181 python3 my-app.py",
            CHAIN + (Option("--port", type=int, default=0, metavar="N",
                            help="port on 127.0.0.1 (default: a free one, printed)"),
                     Option("--url-file", metavar="FILE", help="write host:port here once serving"))),
    Command("exec", "credhelper.execute:run", "run a command as the profile's identity",
            "credhelper exec --profile deploy -- gsutil ls gs://bucket",
            CHAIN + (Option("--metadata", action="store_true",
                            help="serve a private metadata server for the child and set GCE_METADATA_HOST"),
                     Option("--aws", action="store_true",
                            help="give the child the profile's AWS credentials (AWS_ACCESS_KEY_ID, "
                                 "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) instead of a Google token"),
                     Option("argv", nargs="...", metavar="-- COMMAND [ARGS...]"))),
    Command("doctor", "credhelper.doctor:doctor",
            "check the profile file, source, each hop and the final token, with fixes",
            "credhelper doctor --profile deploy", CHAIN),
    Command("whoami", "credhelper.doctor:whoami",
            "show the identity and chain behind the profile's token (never the token)",
            "credhelper whoami --profile deploy", CHAIN + CACHE),
    # -- trying it out ------------------------------------------------------------------------
    Command("demo", "credhelper.commands:demo",
            "try credhelper without a Google account: impersonation, a delegation chain and an ID token, "
            "against a private local emulator", "credhelper demo"),
    Command("emulator", "credhelper.emulator_command:serve",
            "run the local Google auth emulator (OAuth, IAM Credentials, STS, metadata, storage)",
            "credhelper emulator --world world.json --port 8642 --audit-log audit.jsonl",
            (Option("--world", metavar="FILE",
                    help="world file (default: a fresh sample world in a temporary directory)"),
             Option("--port", type=int, default=0, metavar="N", help="port on 127.0.0.1 (0: a free one)"),
             Option("--url-file", metavar="FILE", help="write the URL here once the server accepts connections"),
             Option("--audit-log", metavar="FILE",
                    help="append an audit record (a JSON line) for each request the emulator allows or denies"),
             Option("--faults", metavar="JSON", help="initial fault plan (see credhelper-emulator(7))")),
            sub_dest="emulator_command", subcommands=(
                Command("init", "credhelper.emulator_command:init", "write the sample world and credential files into DIR",
                        "credhelper emulator init ./world --url http://127.0.0.1:8642",
                        (Option("dir", metavar="DIR"),
                         Option("--url", default="http://127.0.0.1:8642", metavar="URL",
                                help="emulator URL the credential files point at (default: http://127.0.0.1:8642)"))),
            )),
)

COMMAND_NAMES = tuple(c.name for c in COMMANDS)


def find(name, table=COMMANDS):
    """The row of a top-level command, or None."""
    for command in table:
        if command.name == name:
            return command
    return None


def walk(table=COMMANDS, path=()):
    """(path, row) for every command and subcommand, parents first: (("configure", "git"), row)."""
    for command in table:
        yield (*path, command.name), command
        yield from walk(command.subcommands, (*path, command.name))


def protocol_profile_keys(table=COMMANDS):
    """Every profile key a row declares, in table order, once: the keys a protocol module checks itself."""
    keys = {}
    for _, command in walk(table):
        keys.update(dict.fromkeys(command.profile_keys))
    return tuple(keys)
