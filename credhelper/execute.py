"""credhelper exec: run a command as the profile's identity, aws-vault style.

Without --metadata the child gets an access token in CLOUDSDK_AUTH_ACCESS_TOKEN (gcloud) and
GOOGLE_OAUTH_ACCESS_TOKEN (terraform and friends); it is not refreshed, so it suits commands
shorter than the token's lifetime. With --metadata a private metadata server runs in a thread of
this process for the child's lifetime and GCE_METADATA_HOST points at it, so client libraries
refresh as often as they like. With --aws the child gets the profile's AWS credentials instead
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; see credhelper.protocols.aws).
The child's exit status passes through (128+N when it dies of
signal N), and SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to credhelper are
forwarded to it (except a SIGINT while we are the terminal's foreground job: Ctrl-C already
reached the child, which shares our process group, and a second one could cut its cleanup short).
"""

import os
import signal
import subprocess
import sys

from credhelper.commands import cache_for, resolve
from credhelper.errors import UsageError

TOKEN_VARS = ("CLOUDSDK_AUTH_ACCESS_TOKEN", "GOOGLE_OAUTH_ACCESS_TOKEN")
# GCE_METADATA_HOST: google-auth (Python, Go, Java, Node, .NET); GCE_METADATA_IP: google-auth's
# ping; GCE_METADATA_ROOT: gcloud's own metadata reads (account list, project, on-GCE check).
METADATA_VARS = ("GCE_METADATA_HOST", "GCE_METADATA_IP", "GCE_METADATA_ROOT")
# with --metadata, these would take precedence over the metadata server in the child
SHADOWING_VARS = ("GOOGLE_APPLICATION_CREDENTIALS", *TOKEN_VARS)
FORWARDED_SIGNALS = tuple(getattr(signal, name) for name in
                          ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2") if hasattr(signal, name))
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127


def run(args):
    argv = list(args.argv or ())
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise UsageError("exec needs a command to run", hint="credhelper exec --profile NAME -- COMMAND [ARGS...]")
    config, profile = resolve(args)
    cache = cache_for(config, args)
    env = child_env(os.environ, args, profile)
    if getattr(args, "aws", False):
        if args.metadata:
            raise UsageError("--aws and --metadata do not go together",
                             hint="--aws gives the child AWS credentials, --metadata a Google metadata server")
        from credhelper.protocols import aws

        creds = aws.get_credentials(profile, cache, refresh=getattr(args, "refresh", False))
        env.update(creds.env())
        return run_child(argv, env)
    if not args.metadata:
        from credhelper import broker
        from credhelper.token import ACCESS_TOKEN

        token = broker.get_token(profile, ACCESS_TOKEN, cache=cache, refresh=getattr(args, "refresh", False))
        env.update({name: token.value for name in TOKEN_VARS})
        return run_child(argv, env)
    from credhelper import metadata

    server = metadata.start_server(profile, cache)
    try:
        for name in SHADOWING_VARS:
            env.pop(name, None)
        env.update({name: server.host_port for name in METADATA_VARS})
        return run_child(argv, env)
    finally:
        server.stop()


def child_env(environ, args, profile):
    """The child's environment: ours, plus what lets a nested credhelper pick the same profile."""
    env = dict(environ)
    if not getattr(args, "impersonate_service_account", None):
        env["CREDHELPER_PROFILE"] = profile.name
        if profile.config_path and os.path.isfile(profile.config_path):  # not a default file that does not exist
            env["CREDHELPER_CONFIG"] = profile.config_path
    return env


def run_child(argv, env):
    """Run argv to completion, forwarding signals; its exit status, or 128+N if signal N killed it."""
    try:
        child = subprocess.Popen(argv, env=env)
    except FileNotFoundError:
        sys.stderr.write(f"credhelper: exec: {argv[0]}: command not found\n")
        return EXIT_NOT_FOUND
    except PermissionError:
        sys.stderr.write(f"credhelper: exec: {argv[0]}: permission denied\n")
        return EXIT_NOT_EXECUTABLE
    except OSError as exc:
        sys.stderr.write(f"credhelper: exec: {argv[0]}: {exc.strerror}\n")
        return EXIT_NOT_EXECUTABLE
    previous = {}

    def forward(signum, frame):
        if signum == signal.SIGINT and _terminal_delivered_to_child():
            return  # Ctrl-C reached the whole foreground process group; the child has it already
        try:
            child.send_signal(signum)
        except ProcessLookupError:
            pass

    for sig in FORWARDED_SIGNALS:
        previous[sig] = signal.signal(sig, forward)
    try:
        status = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - status if status < 0 else status


def _terminal_delivered_to_child():
    """True when we run in the terminal's foreground process group (which the child shares)."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)
