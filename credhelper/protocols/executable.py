"""Google executable-sourced credentials: credhelper as credential_source.executable.command.

google-auth (with GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1) runs `credhelper executable
--profile P` with these variables, all read here:

  GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE          the workload identity provider; the ID token's audience
                                            unless the profile sets audience = ..., which overrides it
  GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE        urn:ietf:params:oauth:token-type:id_token (the default) or
                                            ...:jwt; SAML is refused
  GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE       credhelper never prompts, so 1 and 0 behave alike
  GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE       neither read nor written (only removed on revoke): google-auth
                                            answers from that file without running credhelper, so after a
                                            profile changed it would serve the old identity until expiry;
                                            credhelper's own cache answers a repeat call as fast
  GOOGLE_EXTERNAL_ACCOUNT_IMPERSONATED_EMAIL informational: google-auth impersonates it after the STS
                                            exchange; the ID token is always the profile's target's
  GOOGLE_EXTERNAL_ACCOUNT_REVOKE            1: delete the output file, if any, and answer success

It mints an OIDC ID token for the profile's target and prints, on stdout and nothing else:
  {"version": 1, "success": true, "token_type": ..., "id_token": ..., "expiration_time": EPOCH_SECS}
On failure: {"version": 1, "success": false, "code": ..., "message": ...} and a non-zero exit
(2 malformed environment, 1 denied or upstream, 3 profile file). google-auth merges stderr into
stdout, so nothing at all is written to stderr: warnings are dropped.

Profile: --profile, then $CREDHELPER_PROFILE, then default (no host mapping applies).
"""

import contextlib
import json
import os
import sys

from credhelper.errors import CredhelperError, ProtocolError

VERSION = 1
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
SAML_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:saml2"
TOKEN_TYPES = (ID_TOKEN_TYPE, JWT_TOKEN_TYPE)
DEFAULT_TIMEOUT_MILLIS = 30000
MAX_ENV_CHARS = 8192


class Request:
    """What google-auth asked for, read from the environment."""

    def __init__(self, audience, token_type, output_file, revoke, impersonated_email):
        self.audience = audience
        self.token_type = token_type
        self.output_file = output_file
        self.revoke = revoke
        self.impersonated_email = impersonated_email


def _env(env, name):
    value = env.get(name)
    if value is None or value == "":
        return None
    if len(value) > MAX_ENV_CHARS or "\x00" in value:
        raise ProtocolError(f"{name} is not a plausible value ({len(value)} characters)")
    return value


def parse_request(env):
    """The executable request from google-auth's variables; ProtocolError when they are malformed."""
    token_type = _env(env, "GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE") or ID_TOKEN_TYPE
    if token_type == SAML_TOKEN_TYPE:
        raise ProtocolError("credhelper answers with OIDC ID tokens, not SAML assertions",
                            hint=f"set subject_token_type to {ID_TOKEN_TYPE} in the external_account file")
    if token_type not in TOKEN_TYPES:
        raise ProtocolError(f"unsupported GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE {token_type[:100]!r}",
                            hint=f"use {ID_TOKEN_TYPE} or {JWT_TOKEN_TYPE}")
    for flag in ("GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE", "GOOGLE_EXTERNAL_ACCOUNT_REVOKE"):
        if _env(env, flag) not in (None, "0", "1"):
            raise ProtocolError(f"{flag} must be 0 or 1")
    return Request(audience=_env(env, "GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE"), token_type=token_type,
                   output_file=_env(env, "GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE"),
                   revoke=_env(env, "GOOGLE_EXTERNAL_ACCOUNT_REVOKE") == "1",
                   impersonated_email=_env(env, "GOOGLE_EXTERNAL_ACCOUNT_IMPERSONATED_EMAIL"))


def success_response(token, token_type):
    return {"version": VERSION, "success": True, "token_type": token_type, "id_token": token.value,
            "expiration_time": int(token.expiry)}


def error_response(exc):
    message = exc.message if not exc.hint else f"{exc.message}; fix: {exc.hint}"
    return {"version": VERSION, "success": False, "code": exc.code, "message": message}


def answer(args, env=os.environ, now=None):
    """The response object for this request; raises CredhelperError."""
    from credhelper import broker
    from credhelper.protocols import selection
    from credhelper.token import ID_TOKEN

    request = parse_request(env)
    if request.revoke:
        if request.output_file:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(request.output_file)
        return {"version": VERSION, "success": True}
    config = selection.load(args, env)
    profile = config.resolve(selection.profile_name(args, env))
    audience = profile.audience or request.audience
    if not audience:
        raise ProtocolError("no audience: GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE is not set and the profile "
                            f"'{profile.name}' has no audience",
                            hint="run credhelper through google-auth, or set audience = ... in the profile")
    token = broker.get_token(profile, ID_TOKEN, cache=selection.token_cache(config), audience=audience,
                             warn=lambda message: None)
    return success_response(token, request.token_type)


def run(args, env=os.environ):
    """Handler of `credhelper executable`: one JSON object on stdout. Its row is quiet (nothing on
    stderr: google-auth merges it into the answer) and names write_error for failures."""
    sys.stdout.write(json.dumps(answer(args, env)) + "\n")
    sys.stdout.flush()
    return 0


def write_error(error):
    """The protocol's failure answer on stdout (the command table names this writer)."""
    sys.stdout.write(json.dumps(error_response(error)) + "\n")
    sys.stdout.flush()


# -- configure external-account -------------------------------------------------------------

def external_account_info(args, env=os.environ):
    """The external_account JSON whose credential_source runs this credhelper by absolute path."""
    from credhelper.protocols import selection
    from credhelper.source import GOOGLE_IAM_BASE, GOOGLE_STS_BASE

    config = selection.load(args, env)
    name = selection.profile_name(args, env)
    profile = config.resolve(name)
    sts = (args.sts_endpoint or profile.sts_endpoint or GOOGLE_STS_BASE).rstrip("/")
    command = selection.command_line(selection.self_command("executable", *selection.pinned_args(args, env)))
    # no output_file: google-auth would answer from that file without running credhelper, so a
    # changed profile would go on serving the old identity until the file expired (issue 12.11)
    executable = {"command": command, "timeout_millis": DEFAULT_TIMEOUT_MILLIS}
    info = {"type": "external_account", "audience": args.audience, "subject_token_type": ID_TOKEN_TYPE,
            "token_url": f"{sts}/v1/token", "credential_source": {"executable": executable}}
    if args.service_account_impersonation:
        from credhelper.profile import check_email

        email = check_email(args.service_account_impersonation,
                            ("command line", "flags", "--service-account-impersonation", 0))
        iam = (profile.iam_endpoint or GOOGLE_IAM_BASE).rstrip("/")
        info["service_account_impersonation_url"] = (
            f"{iam}/v1/projects/-/serviceAccounts/{email}:generateAccessToken")
    if profile.universe_domain and profile.universe_domain != "googleapis.com":
        info["universe_domain"] = profile.universe_domain
    return info


def configure(args, env=os.environ):
    """Handler of `credhelper configure external-account`: write the JSON (stdout, or --output 0600)."""
    text = json.dumps(external_account_info(args, env), indent=2) + "\n"
    if not args.output:
        sys.stdout.write(text)
        return 0
    from credhelper import privatefile

    path = os.path.abspath(os.path.expanduser(args.output))
    try:
        privatefile.write(path, text)
    except OSError as exc:
        raise CredhelperError(f"cannot write {path}: {exc.strerror}", hint="choose another --output") from None
    sys.stderr.write(f"credhelper: wrote {path}; use it with GOOGLE_APPLICATION_CREDENTIALS={path} and "
                     "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1\n")
    return 0
