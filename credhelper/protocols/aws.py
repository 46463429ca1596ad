"""AWS credentials from a Google identity: AWS STS AssumeRoleWithWebIdentity with the ID token of the
profile's target (or source), served through AWS's credential_process.

AWS trusts Google as an OpenID Connect provider (accounts.google.com) without any setup in the
account: a role whose trust policy allows the service account can be assumed with that account's
Google ID token. credhelper mints the ID token (cached like any other), exchanges it at STS and
caches the AWS credentials in the same cache, keyed the same way (profile, chain, role, session
name, duration, endpoint, audience), refreshed the profile's refresh margin before Expiration.

  aws-credential-process   the JSON the AWS CLI and SDKs read from credential_process:
                           {"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"};
                           errors on stderr, which the AWS CLI shows
  print-aws-credentials    --format env (export lines) or json (the same object)
  configure aws            writes `credential_process = /abs/credhelper aws-credential-process --profile P`
                           into the [profile X] section of ~/.aws/config ($AWS_CONFIG_FILE)
  exec --aws               (credhelper.execute) runs a command with AWS_ACCESS_KEY_ID,
                           AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN

Profile keys (credhelper-profiles(5)): aws_role_arn (required), aws_session_name (default:
credhelper-PROFILE), aws_duration (default 1h; STS allows 15 min to the role's maximum),
aws_sts_endpoint (default https://sts.REGION.amazonaws.com, else https://sts.amazonaws.com),
aws_region (also written into ~/.aws/config). The ID token's audience is the profile's `audience`,
else the service account's unique id (the `sub` of its ID tokens): the value AWS matches against
`accounts.google.com:aud` when the token has no `azp`.

The AWS secret key and session token are secrets like any token: never logged, never in an error.
"""

import json
import os
import re
import sys
import time

from credhelper.credentials import is_safe_endpoint
from credhelper.errors import CredhelperError, ProfileError, UsageError
from credhelper.profile import error_at, parse_duration

STS_VERSION = "2011-06-15"
GLOBAL_STS = "https://sts.amazonaws.com"
DEFAULT_DURATION_SECS = 3600
PROBE_AUDIENCE = "https://sts.amazonaws.com"  # only to learn the account's unique id (the token's sub)
ENV_NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
MAX_RESPONSE_CHARS = 1 << 16
KIND = "aws_credentials"  # the cache kind of an AWS credential set (credhelper.token.is_kind), cached like a token
MIN_DURATION_SECS, MAX_DURATION_SECS = 900, 43200  # what STS allows a role session
SESSION_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+=,.@-")
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")
REGION_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


class StsError(CredhelperError):
    """AWS STS refused the exchange (AccessDenied, InvalidIdentityToken, ExpiredToken, ...)."""

    code = "AWS_STS"


class Credentials:
    """One AWS credential set; its repr never shows the secret key or the session token."""

    __slots__ = ("access_key_id", "secret_access_key", "session_token", "expiry")

    def __init__(self, access_key_id, secret_access_key, session_token, expiry):
        self.access_key_id, self.secret_access_key = access_key_id, secret_access_key
        self.session_token, self.expiry = session_token, expiry

    def __repr__(self):
        return f"Credentials(access_key_id={self.access_key_id!r}, <secret redacted>, expiry={self.expiry!r})"

    def expiration(self):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.expiry))

    def process_json(self):
        """What credential_process prints (AWS CLI and SDKs)."""
        return {"Version": 1, "AccessKeyId": self.access_key_id, "SecretAccessKey": self.secret_access_key,
                "SessionToken": self.session_token, "Expiration": self.expiration()}

    def env(self):
        return dict(zip(ENV_NAMES, (self.access_key_id, self.secret_access_key, self.session_token)))

    def to_value(self):
        """The cached token value (a secret as a whole)."""
        return json.dumps({"AccessKeyId": self.access_key_id, "SecretAccessKey": self.secret_access_key,
                           "SessionToken": self.session_token})

    @classmethod
    def from_token(cls, token):
        try:
            data = json.loads(token.value)
            return cls(data["AccessKeyId"], data["SecretAccessKey"], data["SessionToken"], token.expiry)
        except (ValueError, TypeError, KeyError):
            raise CredhelperError("the cached AWS credentials are unreadable",
                                  hint="credhelper cache clear --profile NAME, then run this again") from None


# -- settings from the profile ------------------------------------------------------------------

class Settings:
    """The AWS side of a profile: its aws_* keys (declared by the aws-credential-process row of the command
    table, kept raw on the Profile), checked here; errors name the file, the line and the fix."""

    __slots__ = ("role_arn", "session_name", "duration_secs", "sts_endpoint", "region")

    def __init__(self, profile):
        def where(key):
            return profile.setting_where(key)

        arn = profile.setting("aws_role_arn")
        if not arn:
            raise ProfileError(f"profile '{profile.name}' has no aws_role_arn",
                               hint=f"add aws_role_arn = arn:aws:iam::ACCOUNT:role/NAME to [profile {profile.name}] "
                                    "(see credhelper-profiles(5))")
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or not parts[1].startswith("aws") or parts[2] != "iam" \
                or not (parts[4].isdigit() and len(parts[4]) == 12) or not parts[5].startswith("role/"):
            raise error_at(where("aws_role_arn"), f"{arn!r} is not an IAM role ARN",
                           "write aws_role_arn = arn:aws:iam::ACCOUNT_ID:role/NAME")
        self.role_arn = arn
        name = profile.setting("aws_session_name")
        if name and (not 2 <= len(name) <= 64 or not set(name) <= SESSION_CHARS):
            raise error_at(where("aws_session_name"), f"{name!r} is not a role session name",
                           "use 2 to 64 letters, digits or _+=,.@-")
        self.session_name = name or session_name_for(profile.name)
        duration = profile.setting("aws_duration")
        self.duration_secs = parse_duration(duration, where=where("aws_duration"), minimum=MIN_DURATION_SECS,
                                            maximum=MAX_DURATION_SECS) if duration else DEFAULT_DURATION_SECS
        region = profile.setting("aws_region")
        if region and (not set(region) <= REGION_CHARS or not region[0].isalpha()):
            raise error_at(where("aws_region"), f"{region!r} is not an AWS region", "e.g. aws_region = eu-west-1")
        self.region = region
        url = profile.setting("aws_sts_endpoint")
        if url:
            if not re.match(r"^https?://[^/\s]+", url):
                raise error_at(where("aws_sts_endpoint"), f"{url!r} is not a URL",
                               "e.g. https://sts.eu-west-1.amazonaws.com")
            if not is_safe_endpoint(url):
                raise error_at(where("aws_sts_endpoint"), f"{url} is plain http to a host that is not loopback: the "
                               "ID token and the AWS credentials would cross the network in cleartext",
                               "use https://, or http:// only to 127.0.0.1, ::1 or localhost")
        self.sts_endpoint = (url or (f"https://sts.{region}.amazonaws.com" if region else GLOBAL_STS)).rstrip("/")

    def key_params(self, audience):
        return {"role_arn": self.role_arn, "session_name": self.session_name, "duration_secs": self.duration_secs,
                "sts_endpoint": self.sts_endpoint, "audience": audience}


def session_name_for(profile_name):
    """AWS allows [\\w+=,.@-]{2,64} in a role session name."""
    name = "".join(c if c in SESSION_CHARS else "-" for c in f"credhelper-{profile_name}")
    return name[:64]


# -- the exchange ---------------------------------------------------------------------------------

def assume_role(id_token, settings, request):
    """AWS STS AssumeRoleWithWebIdentity: the Google ID token -> Credentials; StsError when refused."""
    import urllib.parse

    from credhelper.errors import UpstreamError

    body = urllib.parse.urlencode({"Action": "AssumeRoleWithWebIdentity", "Version": STS_VERSION,
                                   "RoleArn": settings.role_arn, "RoleSessionName": settings.session_name,
                                   "WebIdentityToken": id_token, "DurationSeconds": str(settings.duration_secs)})
    resp = request(settings.sts_endpoint + "/", method="POST", body=body,
                   headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                            "Accept": "application/xml"})
    text = resp.data[:MAX_RESPONSE_CHARS].decode("utf-8", "replace") if isinstance(resp.data, bytes) else ""
    if resp.status != 200:
        code, message = parse_error(text)
        if code is None:
            raise UpstreamError(f"AWS STS at {settings.sts_endpoint} answered HTTP {resp.status}, not an STS error",
                                hint="check aws_sts_endpoint (or aws_region) in the profile")
        raise sts_error(code, message, settings, id_token)
    try:
        return parse_credentials(text)
    except ValueError as exc:
        raise UpstreamError(f"AWS STS at {settings.sts_endpoint} answered 200 {exc}",
                            hint="check aws_sts_endpoint (or aws_region) in the profile") from None


def _xml(text):
    import xml.etree.ElementTree as ElementTree

    try:
        return ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return None


def _find(root, name):
    """The text of the first element named `name` (any namespace), or None."""
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == name:
            return (element.text or "").strip()
    return None


def parse_credentials(text):
    """The Credentials of an AssumeRoleWithWebIdentityResponse; ValueError, saying what is wrong with the
    answer, when it has none or one of them is not visible ASCII (0x21-0x7e)."""
    root = _xml(text)
    if root is None:
        raise ValueError("without credentials (not XML)")
    fields = [_find(root, name) for name in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")]
    if not all(fields):
        raise ValueError("without credentials (some of them missing)")
    for name, value in zip(("AccessKeyId", "SecretAccessKey", "SessionToken"), fields):
        if not _VISIBLE_ASCII.fullmatch(value):  # they go into JSON, export lines and a command's environment
            raise ValueError(f"with credentials whose {name} is not visible ASCII")
    from credhelper.token import parse_time

    return Credentials(*fields[:3], parse_time(fields[3]))


def parse_error(text):
    """(code, message) of an STS ErrorResponse, or (None, None)."""
    root = _xml(text)
    if root is None:
        return None, None
    code = _find(root, "Code")
    return (code, _find(root, "Message") or "") if code else (None, None)


def token_claims(id_token):
    """The payload of a Google ID token, unverified: only to name its aud, sub and azp in a message."""
    from credhelper.token import jwt_claims

    try:
        return jwt_claims(id_token)
    except ValueError:
        return {}


def trust_policy(id_token):
    """The trust policy statement the role needs for this Google identity."""
    claims = token_claims(id_token)
    sub = str(claims.get("sub", "UNIQUE_ID"))
    aud = str(claims.get("azp") or claims.get("aud", sub))
    return json.dumps({"Effect": "Allow", "Principal": {"Federated": "accounts.google.com"},
                       "Action": "sts:AssumeRoleWithWebIdentity",
                       "Condition": {"StringEquals": {"accounts.google.com:aud": aud, "accounts.google.com:sub": sub}}})


def sts_error(code, message, settings, id_token):
    """An STS error as a message with the fix; never the token (an STS may quote the request's token)."""
    from credhelper.googleerrors import redact

    message = redact(" ".join(message.split()), secrets=(id_token,))[:300]
    who = f"role {settings.role_arn}"
    if code == "AccessDenied":
        return StsError(f"AWS STS: {who} does not trust this Google identity (AccessDenied: {message})",
                        hint=f"add to the role's trust policy the statement {trust_policy(id_token)}")
    if code == "InvalidIdentityToken":
        return StsError(f"AWS STS could not verify the Google ID token for {who} (InvalidIdentityToken: {message})",
                        hint="the token must come from accounts.google.com and its audience match the trust policy "
                             f"(set audience = ... in the profile to choose it); the role needs {trust_policy(id_token)}")
    if code == "ExpiredToken":
        return StsError(f"AWS STS: the Google ID token had expired when {who} was assumed (ExpiredToken)",
                        hint="check this machine's clock, then run again with --refresh")
    if code == "ValidationError" and "DurationSeconds" in message:
        return StsError(f"AWS STS refused the session length for {who} ({message})",
                        hint=f"set aws_duration in the profile between {MIN_DURATION_SECS} s and the role's maximum")
    return StsError(f"AWS STS refused {who} ({code}: {message})", hint="see the AWS STS AssumeRoleWithWebIdentity errors")


# -- getting credentials through the cache ----------------------------------------------------------

def audience_for(profile, cache, request=None):
    """The ID token audience: the profile's, else the account's unique id (its ID tokens' sub)."""
    if profile.audience:
        return profile.audience
    from credhelper import broker
    from credhelper.token import ID_TOKEN

    probe = broker.get_token(profile, ID_TOKEN, cache=cache, audience=PROBE_AUDIENCE, request=request)
    sub = token_claims(probe.value).get("sub")
    if not isinstance(sub, str) or not sub:
        raise CredhelperError("the Google ID token has no sub claim, so the account's unique id is unknown",
                              hint="set audience = ... in the profile")
    return sub


def get_credentials(profile, cache, refresh=False, request=None, now=None):
    """The profile's AWS credentials: from the cache while more than the refresh margin remains before
    Expiration, else minted (ID token, then STS) and stored, the cache wrapped around the minter as
    for every token (credhelper.cache.CachedMinter)."""
    from credhelper import broker
    from credhelper.cache import NULL_CACHE, CachedMinter, cache_key
    from credhelper.deadline import deadline_from_env
    from credhelper.token import ID_TOKEN, Token

    settings = Settings(profile)
    cache = NULL_CACHE if cache is None else cache

    def mint(req):
        audience = audience_for(profile, cache, req)
        id_token = broker.get_token(profile, ID_TOKEN, cache=cache, audience=audience, request=req)
        requested_at = time.time() if now is None else now
        creds = assume_role(id_token.value, settings, req)
        # an Expiration past what was asked for is not believed (issue 12.7): capped at the request's duration
        expiry = min(creds.expiry, requested_at + settings.duration_secs)
        return Token(KIND, creds.to_value(), expiry, "AWS")

    key = None if cache is NULL_CACHE else cache_key(profile, KIND, **settings.key_params(profile.audience))
    meta = {"profile": profile.name, "kind": KIND, "target": profile.target or "(source)",
            "audience": settings.role_arn}
    minter = CachedMinter(cache, key, mint, meta, profile.refresh_margin_secs, _new_request, deadline_from_env(),
                          _warn, now)
    return Credentials.from_token(minter.get(request, refresh))


def _new_request(deadline_secs):
    from credhelper import transport

    return transport.Request(deadline_secs=max(deadline_secs, 0.1))


def _warn(message):
    sys.stderr.write(f"credhelper: warning: {message}\n")


# -- handlers ---------------------------------------------------------------------------------------

def _credentials(args):
    from credhelper.protocols import selection

    config = selection.load(args, os.environ)
    profile = config.resolve(selection.profile_name(args, os.environ))
    return get_credentials(profile, selection.token_cache(config, args), refresh=getattr(args, "refresh", False))


def credential_process(args):
    """Handler of `credhelper aws-credential-process`: the JSON on stdout; errors on stderr."""
    sys.stdout.write(json.dumps(_credentials(args).process_json()) + "\n")
    sys.stdout.flush()
    return 0


def print_credentials(args):
    """Handler of `credhelper print-aws-credentials --format env|json`."""
    creds = _credentials(args)
    if args.format == "json":
        sys.stdout.write(json.dumps(creds.process_json()) + "\n")
    else:
        import shlex

        sys.stdout.write("".join(f"export {k}={shlex.quote(v)}\n" for k, v in creds.env().items()))
    return 0


# -- configure aws ------------------------------------------------------------------------------------

def aws_config_path(env=os.environ):
    return os.path.abspath(os.path.expanduser(env.get("AWS_CONFIG_FILE") or os.path.join("~", ".aws", "config")))


def set_section(text, header, values):
    """INI text with `values` set in section `header`, every other line kept as it was."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == header), None)
    if start is None:
        if lines and lines[-1].strip():
            lines.append("")
        lines += [header] + [f"{k} = {v}" for k, v in values.items()]
        return "\n".join(lines) + "\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    pending = dict(values)
    for i in range(start + 1, end):
        key = lines[i].split("=", 1)[0].strip()
        if "=" in lines[i] and key in pending and not lines[i][:1].isspace():
            lines[i] = f"{key} = {pending.pop(key)}"
    insert_at = end
    while insert_at > start + 1 and not lines[insert_at - 1].strip():
        insert_at -= 1
    lines[insert_at:insert_at] = [f"{k} = {v}" for k, v in pending.items()]
    return "\n".join(lines) + "\n"


def configure(args, env=os.environ):
    """Handler of `credhelper configure aws --profile NAME --aws-profile X`."""
    from credhelper import privatefile
    from credhelper.protocols import selection

    config = selection.load(args, env)
    name = selection.profile_name(args, env)
    settings = Settings(config.resolve(name))  # fail now, not at the first aws call
    aws_profile = args.aws_profile
    if not aws_profile or any(c in aws_profile for c in "[]\n\r") or aws_profile != aws_profile.strip():
        raise UsageError(f"--aws-profile {aws_profile!r} is not a usable AWS profile name", hint="e.g. --aws-profile gcp")
    header = "[default]" if aws_profile == "default" else f"[profile {aws_profile}]"
    values = {"credential_process": selection.command_line(
        selection.self_command("aws-credential-process", *selection.pinned_args(args, env)))}
    if settings.region:
        values["region"] = settings.region
    path = aws_config_path(env)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        text, mode = "", 0o600
    except (OSError, UnicodeDecodeError) as exc:
        raise CredhelperError(f"{path}: cannot read the AWS config ({type(exc).__name__})",
                              hint="fix or move the file, then run this again") from None
    try:
        privatefile.write(path, set_section(text, header, values), mode)
    except OSError as exc:
        raise CredhelperError(f"cannot write {path}: {exc.strerror}", hint="set AWS_CONFIG_FILE to another file") from None
    sys.stderr.write(f"credhelper: {path}: {header} runs credhelper (profile {name}, role {settings.role_arn}); "
                     f"try: aws sts get-caller-identity --profile {aws_profile}\n")
    return 0
