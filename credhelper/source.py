"""Profile -> google-auth source credentials, with the profile's endpoint overrides applied.

No IAM Credentials calls here: this stage only produces the source's own access token (and,
where the source can mint one, its own ID token). Endpoint overrides are applied by rewriting
the credential info before google-auth sees it, so every request google-auth makes for the
profile goes where the profile says.
"""

import datetime
import json
import os
import urllib.parse

import google.auth.exceptions

from credhelper.errors import ProfileError, SourceError, UpstreamError
from credhelper.profile import CREDENTIAL_TYPES, DEFAULT_SCOPES, _warn_if_writable_by_others
from credhelper.token import ACCESS_TOKEN, ID_TOKEN, Token, checked_expiry

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
GOOGLE_STS_BASE = "https://sts.googleapis.com"
GOOGLE_IAM_BASE = "https://iamcredentials.googleapis.com"


class Source:
    """A loaded source credential: its type, principal (when known) and google-auth object."""

    def __init__(self, kind, credentials, principal=None, info=None, path=None):
        self.kind = kind  # service_account, authorized_user, external_account, ..., metadata
        self.credentials = credentials
        self.principal = principal  # email or principal:// URI, or None when only the server knows
        self.info = info  # the (non-secret parts are) credential JSON; never printed whole
        self.path = path

    def describe(self):
        who = self.principal or "(identity known to the server only)"
        where = f" from {self.path}" if self.path else ""
        return f"{self.kind} {who}{where}"

    @property
    def member(self):
        """The IAM member string for this principal, for gcloud fix hints."""
        p = self.principal
        if not p:
            return None
        if p.startswith("principal"):
            return p
        if self.kind in ("authorized_user", "external_account_authorized_user"):
            return f"user:{p}"
        return f"serviceAccount:{p}"


def adc_path(env=os.environ):
    """The ADC file google.auth.default() would use, or None (then: metadata server)."""
    explicit = env.get("GOOGLE_APPLICATION_CREDENTIALS")
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    config_dir = env.get("CLOUDSDK_CONFIG") or os.path.join(os.path.expanduser("~"), ".config", "gcloud")
    path = os.path.join(config_dir, "application_default_credentials.json")
    return path if os.path.isfile(path) else None


def load_source(profile, env=os.environ):
    """Build the source credential of a profile whose source is adc, metadata or a file."""
    scopes = list(profile.scopes)
    if profile.source == "metadata":
        return _metadata_source(profile, scopes)
    path = profile.source
    if profile.source == "adc":
        path = adc_path(env)
        if path is None:
            return _metadata_source(profile, scopes, discovered=True)
        if env.get("GOOGLE_APPLICATION_CREDENTIALS") and not os.path.isfile(path):
            raise ProfileError(f"GOOGLE_APPLICATION_CREDENTIALS names {path}, which does not exist",
                               hint="fix or unset GOOGLE_APPLICATION_CREDENTIALS, or run: gcloud auth application-default login")
    info = apply_overrides(_read_info(path), profile)
    try:
        creds = credentials_from_info(info, scopes, profile.quota_project)
    except (google.auth.exceptions.GoogleAuthError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ProfileError(f"{path}: not a usable {info.get('type')} credentials file ({_safe_reason(exc)})",
                           hint="recreate it with gcloud (keys create / auth application-default login)") from None
    return Source(info["type"], creds, principal_of(info), info, path)


def credentials_from_info(info, scopes, quota_project=None):
    """google-auth credentials for a credential JSON, by type. Unlike google.auth.default(), this
    makes no request (no project-id lookup) and keeps the token URLs the info names."""
    kind = info["type"]
    if kind == "service_account":
        from google.oauth2 import service_account

        creds = service_account.Credentials.from_service_account_info(info, scopes=scopes)
    elif kind == "authorized_user":
        from google.oauth2 import credentials

        creds = credentials.Credentials.from_authorized_user_info(info, scopes=None)
        if info.get("token_uri"):  # google-auth ignores the file's token_uri; the profile's override set it
            creds = creds.with_token_uri(info["token_uri"])
    elif kind == "external_account":
        source = info.get("credential_source") or {}
        if str(source.get("environment_id", "")).startswith("aws"):
            from google.auth import aws as module
        elif "executable" in source:
            from google.auth import pluggable as module
        else:
            from google.auth import identity_pool as module
        creds = module.Credentials.from_info(info, scopes=scopes)
    elif kind == "external_account_authorized_user":
        from google.auth import external_account_authorized_user as module

        creds = module.Credentials.from_info(info)
    elif kind == "impersonated_service_account":
        from google.auth import impersonated_credentials

        url = info["service_account_impersonation_url"]
        source = credentials_from_info(info["source_credentials"], list(DEFAULT_SCOPES))
        delegates = [d.rsplit("/", 1)[-1] for d in info.get("delegates") or []]
        creds = impersonated_credentials.Credentials(
            source, _email_from_iam_url(url), scopes, delegates, iam_endpoint_override=url)
    else:
        raise ValueError(f"unsupported credential type {kind!r}")
    if quota_project or info.get("quota_project_id"):
        creds = creds.with_quota_project(quota_project or info["quota_project_id"])
    return creds


def _read_info(path):
    try:
        with open(path, encoding="utf-8") as f:
            info = json.load(f)
    except FileNotFoundError:
        raise ProfileError(f"credentials file {path} not found", hint="fix the profile's source path") from None
    except (OSError, ValueError, RecursionError):
        raise ProfileError(f"{path} is not a credentials file (not readable JSON)",
                           hint="point source at a Google credentials JSON file") from None
    if not isinstance(info, dict) or info.get("type") not in CREDENTIAL_TYPES:
        raise ProfileError(f"{path} is not a credentials file (type {info.get('type') if isinstance(info, dict) else None!r})",
                           hint=f"expected one of: {', '.join(CREDENTIAL_TYPES)}")
    _warn_if_writable_by_others(path)  # the ADC file too, not only files a profile names
    return info


def principal_of(info):
    kind = info.get("type")
    if kind == "service_account":
        return info.get("client_email")
    if kind == "impersonated_service_account":
        url = info.get("service_account_impersonation_url", "")
        return _email_from_iam_url(url)
    if kind == "external_account":
        if info.get("service_account_impersonation_url"):
            return _email_from_iam_url(info["service_account_impersonation_url"])
        aud = info.get("audience", "")
        # //iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/X
        parts = aud.split("/")
        if "workloadIdentityPools" in parts:
            i = parts.index("workloadIdentityPools")
            project = parts[parts.index("projects") + 1] if "projects" in parts else "?"
            return (f"principalSet://iam.googleapis.com/projects/{project}/locations/global/"
                    f"workloadIdentityPools/{parts[i + 1]}/*")
        return None
    return info.get("account") or None  # authorized_user files carry an account only sometimes


def _email_from_iam_url(url):
    tail = url.rsplit("/serviceAccounts/", 1)[-1]
    return urllib.parse.unquote(tail.split(":", 1)[0]) or None


def _replace_origin(url, base):
    """Keep url's path, take scheme://host from base (an endpoint override)."""
    b, u = urllib.parse.urlsplit(base), urllib.parse.urlsplit(url)
    path = b.path.rstrip("/") + u.path
    return urllib.parse.urlunsplit((b.scheme, b.netloc, path, u.query, u.fragment))


def apply_overrides(info, profile):
    """Point every URL in a credential's info at the profile's endpoint overrides."""
    info = dict(info)
    kind = info.get("type")
    if profile.token_endpoint and kind in ("service_account", "authorized_user"):
        info["token_uri"] = profile.token_endpoint
    if kind == "external_account_authorized_user" and profile.sts_endpoint:
        info["token_url"] = profile.sts_endpoint + "/v1/oauth/token"
    if kind == "external_account":
        if profile.sts_endpoint:
            info["token_url"] = profile.sts_endpoint + "/v1/token"
        if profile.iam_endpoint and info.get("service_account_impersonation_url"):
            info["service_account_impersonation_url"] = _replace_origin(
                info["service_account_impersonation_url"], profile.iam_endpoint)
    if kind == "impersonated_service_account":
        if profile.iam_endpoint and info.get("service_account_impersonation_url"):
            info["service_account_impersonation_url"] = _replace_origin(
                info["service_account_impersonation_url"], profile.iam_endpoint)
        if isinstance(info.get("source_credentials"), dict):
            info["source_credentials"] = apply_overrides(info["source_credentials"], profile)
    if profile.universe_domain and profile.universe_domain != "googleapis.com" and kind != "authorized_user":
        info.setdefault("universe_domain", profile.universe_domain)
    return info


def _metadata_source(profile, scopes, discovered=False):
    from google.auth.compute_engine import _metadata

    if profile.metadata_host:
        # google-auth reads GCE_METADATA_HOST once, at import; the profile's host wins for this process.
        _metadata._GCE_METADATA_HOST = profile.metadata_host
    elif discovered:
        # ADC's last resort; off GCE, say so at once instead of retrying an unreachable server
        from credhelper import transport

        if not _metadata.ping(transport.Request(deadline_secs=3), timeout=1, retry_count=1):
            raise SourceError(
                "no credentials found: GOOGLE_APPLICATION_CREDENTIALS is not set, there is no ADC file "
                f"({os.path.join('~', '.config', 'gcloud', 'application_default_credentials.json')}), "
                "and no metadata server answered",
                hint="run: gcloud auth application-default login, or set source = FILE in the profile")
    from google.auth import compute_engine

    creds = compute_engine.Credentials(scopes=scopes, quota_project_id=profile.quota_project)
    return Source("metadata", creds, None, None, None)


def refresh_access_token(source, request):
    """Refresh the source credential; return its own access token."""
    from credhelper import transport

    creds = source.credentials
    try:
        with transport.google_auth_single_attempt():  # the retries are transport's: bounded, within the deadline
            creds.refresh(request)
    except google.auth.exceptions.RefreshError as exc:
        if getattr(exc, "retryable", False):  # 429/5xx or temporarily_unavailable, after transport's retries
            where, status = getattr(request, "last_answer", None) or ("", None)
            raise UpstreamError(f"source credential ({source.describe()}): the token endpoint {where} is failing"
                                f"{f' (HTTP {status})' if status else ''}: {_safe_reason(exc)}".replace("  ", " "),
                                hint="try again later, or check the profile's endpoints") from None
        raise SourceError(f"source credential ({source.describe()}) could not be refreshed: {_safe_reason(exc)}",
                          hint=_refresh_hint(source)) from None
    except google.auth.exceptions.TransportError as exc:
        raise UpstreamError(f"source credential ({source.describe()}): {_safe_reason(exc)}",
                            hint="check the network and the profile's endpoints") from None
    except google.auth.exceptions.GoogleAuthError as exc:
        raise SourceError(f"source credential ({source.describe()}): {_safe_reason(exc)}",
                          hint=_refresh_hint(source)) from None
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError) as exc:
        # google-auth parses the token endpoint's answer without guarding against wrong types
        # ({"expires_in": "soon"}, a JSON list, an HTML page...): an unusable answer, not a crash
        where = (getattr(request, "last_answer", None) or ("",))[0]
        raise UpstreamError(f"source credential ({source.describe()}): the token endpoint {where} answered "
                            f"something that is not a usable token response ({type(exc).__name__})".replace("  ", " "),
                            hint="check the profile's token_endpoint / sts_endpoint, or try again later") from None
    if source.kind == "metadata" and not source.principal:
        source.principal = getattr(creds, "service_account_email", None)
        if source.principal == "default":
            source.principal = None
    if not getattr(creds, "token", None):
        raise SourceError(f"source credential ({source.describe()}) returned no access token")
    if not isinstance(creds.token, str):
        raise UpstreamError(f"source credential ({source.describe()}): the token endpoint answered an access "
                            f"token that is not a string")
    return Token(ACCESS_TOKEN, creds.token, _expiry_epoch(creds.expiry))


def mint_own_id_token(source, audience, request, profile):
    """The source's own ID token, for profiles without a target; only some sources can mint one."""
    if source.kind == "service_account":
        from google.oauth2 import service_account

        creds = service_account.IDTokenCredentials.from_service_account_info(
            source.info, target_audience=audience,
            token_uri=source.info.get("token_uri") or GOOGLE_TOKEN_URI)
    elif source.kind == "metadata":
        from google.auth import compute_engine

        creds = compute_engine.IDTokenCredentials(request, target_audience=audience,
                                                  use_metadata_identity_endpoint=True)
    elif source.kind == "authorized_user":
        refresh_access_token(source, request)
        token = getattr(source.credentials, "id_token", None)
        if not token:
            raise SourceError("the authorized_user credential returned no ID token",
                              hint="log in again with: gcloud auth application-default login")
        return Token(ID_TOKEN, token, jwt_expiry(token))
    else:
        raise SourceError(f"a {source.kind} source cannot mint ID tokens by itself",
                          hint="set target = SERVICE_ACCOUNT in the profile to mint through impersonation")
    wrapped = Source(source.kind, creds, source.principal, source.info, source.path)
    tok = refresh_access_token(wrapped, request)
    return Token(ID_TOKEN, tok.value, jwt_expiry(tok.value))


def jwt_expiry(token):
    """exp of a JWT, read without verifying (we only need to know when to stop serving it)."""
    import base64

    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return checked_expiry(float(claims["exp"]))
    except (IndexError, ValueError, KeyError, TypeError, OverflowError, RecursionError):
        raise UpstreamError("upstream returned an ID token that is not a JWT with an exp claim") from None


def _expiry_epoch(expiry):
    if expiry is None:  # google-auth leaves it None when the server gave no expires_in
        import time

        return time.time() + 3600
    return expiry.replace(tzinfo=datetime.timezone.utc).timestamp() if expiry.tzinfo is None else expiry.timestamp()


def _refresh_hint(source):
    return {
        "service_account": "the key may be deleted or disabled; create a new one with: "
                           "gcloud iam service-accounts keys create KEY.json --iam-account=" + (source.principal or "EMAIL"),
        "authorized_user": "log in again with: gcloud auth application-default login",
        "metadata": "check that this machine's metadata server is reachable (or set metadata_host)",
    }.get(source.kind, "check the credential file and the profile's endpoints")


def _safe_reason(exc):
    """A one-line reason from a google-auth error without echoing tokens or request bodies.

    google-auth puts the server's JSON answer into RefreshError args; we keep only the
    error code and description fields from it.
    """
    text = str(exc.args[0]) if getattr(exc, "args", None) else type(exc).__name__
    for arg in getattr(exc, "args", ())[1:2]:
        if isinstance(arg, dict):
            err = arg.get("error")
            desc = arg.get("error_description")
            if isinstance(err, dict):
                return _redact(f"{err.get('status', '')} {err.get('message', '')}".strip())[:300]
            if err or desc:
                return _redact(f"{err or ''}: {desc or ''}".strip(": "))[:300]
    return _redact(text)[:300]


def _redact(text):
    """Text from upstream or google-auth made safe to print: tokens redacted, and control characters
    (newlines, terminal escapes, bidi overrides) escaped, so a message stays one line of what was sent."""
    import re

    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text))
    text = re.sub(r"ya29\.[\w.-]+", "ya29.<redacted>", text)
    text = re.sub(r"eyJ[\w-]+\.[\w-]+\.[\w-]*", "<redacted-jwt>", text)
    text = re.sub(r"1//[\w.-]+", "1//<redacted>", text)
    text = re.sub(r'("?(access_token|id_token|refresh_token|assertion|subject_token|private_key)"?\s*[:=]\s*)"?[^",}\s]+',
                  r"\1<redacted>", text)
    return text
