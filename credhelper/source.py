"""Profile -> source credentials that can refresh: google-auth objects for credentials files, and
credhelper's own client of the GCE metadata protocol for metadata sources.

No IAM Credentials calls here: this stage only produces the source's own access token (and,
where the source can mint one, its own ID token or a locally signed JWT). Which file, and which
metadata host, is credhelper.credentials' answer, not this module's. Endpoint overrides are
applied by rewriting the credential info before google-auth sees it, so every request google-auth
makes for the profile goes where the profile says. Nothing here patches google-auth: the metadata
server is asked over the transport directly (google-auth reads GCE_METADATA_HOST only once, at
import, and would ask the wrong server under a nested `exec --metadata`).
"""

import datetime
import json
import os
import urllib.parse

import google.auth.exceptions

from credhelper import credentials as credfiles
from credhelper import deferred
from credhelper.errors import ProfileError, SourceError, UpstreamError
from credhelper.googleerrors import exception_reason
from credhelper.profile import DEFAULT_SCOPES
from credhelper.token import ACCESS_TOKEN, ID_TOKEN, JWT, Token, checked_expiry, jwt_expiry

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
GOOGLE_STS_BASE = "https://sts.googleapis.com"
GOOGLE_IAM_BASE = "https://iamcredentials.googleapis.com"


class Source:
    """A loaded source credential: its type, principal (when known) and google-auth object.

    The google-auth object is built on first use (build: a function returning it, raising ProfileError
    for a file google-auth cannot use): a target mint whose source token is cached never refreshes
    or signs with it, and building one for a key imports google.oauth2.service_account and
    cryptography (about 45 ms and 12 MB of a 150 ms mint).
    """

    def __init__(self, kind, credentials, principal=None, info=None, path=None, metadata_host=None, scopes=(),
                 build=None):
        self.kind = kind  # service_account, authorized_user, external_account, ..., metadata, profile
        self._credentials = credentials
        self._build = build
        self.principal = principal  # email or principal:// URI, or None when only the server knows
        self.info = info  # the credential JSON (it holds secrets); never printed
        self.path = path
        self.metadata_host = metadata_host
        self.scopes = tuple(scopes)

    @property
    def credentials(self):
        """The google-auth credentials (None for metadata and profile sources), built on first use."""
        if self._credentials is None and self._build is not None:
            self._credentials = self._build()
            self._build = None
        return self._credentials

    def describe(self):
        who = self.principal or "(identity known to the server only)"
        where = f" from {self.path}" if self.path else (f" at {self.metadata_host}" if self.metadata_host else "")
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


def load_source(profile, env=None):
    """The source credential of a profile whose source is adc, metadata or a file (see credhelper.credentials)."""
    scopes = list(profile.scopes)
    info = credfiles.source_info(profile, env)
    if info.origin == "metadata":
        return _metadata_source(profile, info, scopes, discovered=profile.source == "adc")
    credfiles.check_subject_token_file(info.info)  # checked on every load: it changes without the key file
    data = apply_overrides(info.info, profile)

    def build():
        try:
            return credentials_from_info(data, scopes, profile.quota_project)
        except (google.auth.exceptions.GoogleAuthError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ProfileError(f"{info.path}: not a usable {info.type} credentials file "
                               f"({_reason_without_values(exc, data)})",
                               hint="recreate it with gcloud (keys create / auth application-default login)") from None

    return Source(info.type, None, info.principal, data, info.path, build=build)


def profile_source(other):
    """How a chain describes a `source = profile:NAME`: by that profile's target."""
    return Source("profile", None, other.target)


def _reason_without_values(exc, info):
    """google-auth's reason, unless it quotes any value of the file (a key, a secret): then its type only."""
    text = exception_reason(exc)
    values = []

    def collect(node):
        if isinstance(node, dict):
            for v in node.values():
                collect(v)
        elif isinstance(node, list):
            for v in node:
                collect(v)
        elif isinstance(node, str) and len(node) >= 4:
            values.append(node)

    collect(info)
    if any(v in text or v[:16] in text for v in values):
        return type(exc).__name__
    return text


def service_account_signer(info):
    """google-auth's RSA signer for a service account key, loaded without cryptography's RSA key check;
    None where that cannot be done (cryptography older than 39, or absent): then google-auth loads it.

    google-auth loads the key with load_pem_private_key, which first proves the key consistent (a
    full RSA check: 15 to 40 ms of every mint from a key file, more than the two requests). A key
    Google generated for the account needs no such proof, and a damaged one only gets its signature
    refused by the token endpoint.
    """
    from google.auth import crypt

    try:
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_pem_private_key(info["private_key"].encode("utf-8"), password=None,
                                                 unsafe_skip_rsa_key_validation=True)
    except (ImportError, TypeError):  # no cryptography, or one without the switch (< 39)
        return None
    return crypt.RSASigner(key, key_id=info.get("private_key_id"))


def _optional(info, names=("universe_domain", "trust_boundary")):
    """Keyword arguments google-auth takes only in newer versions, passed only when the file sets them."""
    return {name: info[name] for name in names if info.get(name) is not None}


def credentials_from_info(info, scopes, quota_project=None):
    """google-auth credentials for a credential JSON, by type. Unlike google.auth.default(), this
    makes no request (no project-id lookup) and keeps the token URLs the info names."""
    deferred.defer(*deferred.UNUSED_BY_MINTS)  # before google-auth's credential modules import them: 30 ms of a mint
    kind = info["type"]
    if kind == "service_account":
        from google.oauth2 import service_account

        signer = service_account_signer(info)
        if signer is None:
            creds = service_account.Credentials.from_service_account_info(info, scopes=scopes)
        else:  # the fields from_service_account_info sets (tests/test_sources.py holds the two together)
            creds = service_account.Credentials(signer, service_account_email=info["client_email"],
                                                token_uri=info["token_uri"], scopes=scopes,
                                                project_id=info.get("project_id"), **_optional(info))
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
            source, credfiles.email_from_iam_url(url), scopes, delegates, iam_endpoint_override=url)
    else:
        raise ValueError(f"unsupported credential type {kind!r}")
    if quota_project or info.get("quota_project_id"):
        creds = creds.with_quota_project(quota_project or info["quota_project_id"])
    return creds


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


METADATA_PATH = "/computeMetadata/v1/instance/service-accounts/default/"
METADATA_HEADERS = {"Metadata-Flavor": "Google"}
METADATA_PING_DEADLINE_SECS = 2.0
METADATA_PING_TIMEOUT_SECS = 1.0


def _metadata_source(profile, info, scopes, discovered=False):
    src = Source("metadata", None, None, None, None, metadata_host=info.metadata_host, scopes=scopes)
    if discovered:
        # ADC's last resort; off GCE, say so at once instead of retrying an unreachable server
        from credhelper import transport

        request = transport.Request(deadline_secs=METADATA_PING_DEADLINE_SECS)
        if not _metadata_answers(src, request):
            raise SourceError(
                "no credentials found: GOOGLE_APPLICATION_CREDENTIALS is not set, there is no ADC file "
                f"({os.path.join('~', '.config', 'gcloud', credfiles.ADC_FILE_NAME)}), "
                f"and no metadata server answered at {info.metadata_host}",
                hint="run: gcloud auth application-default login, or " +
                     ("set source = FILE in the profile" if profile.config_path else "pass --source KEY_FILE"))
    return src


def _metadata_answers(src, request):
    try:
        resp = request(f"http://{src.metadata_host}/", method="GET", headers=METADATA_HEADERS,
                       timeout=METADATA_PING_TIMEOUT_SECS)
    except google.auth.exceptions.TransportError:
        return False
    return resp.headers.get("Metadata-Flavor") == "Google"


def _metadata_get(src, request, entry, query=None):
    """GET one entry of the default service account from the metadata server; the body as text."""
    url = f"http://{src.metadata_host}{METADATA_PATH}{entry}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    where = f"the metadata server at {src.metadata_host}"
    try:
        resp = request(url, method="GET", headers=METADATA_HEADERS)
    except google.auth.exceptions.TransportError as exc:
        raise UpstreamError(f"source credential (metadata): {where} is unreachable ({exception_reason(exc)})",
                            hint=_refresh_hint(src)) from None
    text = resp.data.decode("utf-8", "replace")
    if resp.status != 200:
        error = UpstreamError if resp.status >= 500 or resp.status == 429 else SourceError
        raise error(f"source credential (metadata): {where} answered HTTP {resp.status} for {entry}",
                    hint=_refresh_hint(src))
    return text


def metadata_principal(src, request):
    """The metadata server's default service account email (None when it will not say)."""
    if src.principal is None and src.kind == "metadata":
        try:
            src.principal = _metadata_get(src, request, "email").strip() or None
        except (UpstreamError, SourceError):
            pass
    return src.principal


def _metadata_access_token(src, request, now=None):
    import time

    text = _metadata_get(src, request, "token", {"scopes": ",".join(src.scopes)} if src.scopes else None)
    try:
        data = json.loads(text)
        value, expires_in = data["access_token"], data["expires_in"]
        if not isinstance(value, str) or not value or isinstance(expires_in, bool):
            raise TypeError("not a token")
        expiry = checked_expiry((time.time() if now is None else now) + float(expires_in))
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
        raise UpstreamError(f"source credential (metadata): the metadata server at {src.metadata_host} answered "
                            "something that is not a token response", hint=_refresh_hint(src)) from None
    return Token(ACCESS_TOKEN, value, expiry)


SECRET_FIELDS = ("refresh_token", "client_secret", "private_key", "private_key_id")


def sent_secrets(info):
    """The secret values of a credentials JSON (and of its source_credentials): what a refresh may send."""
    if not isinstance(info, dict):
        return ()
    found = [info[f] for f in SECRET_FIELDS if isinstance(info.get(f), str)]
    return (*found, *sent_secrets(info.get("source_credentials")))


def refresh_access_token(source, request):
    """Refresh the source credential; return its own access token."""
    if source.kind == "metadata":
        return _metadata_access_token(source, request)
    from credhelper import transport

    creds = source.credentials
    try:
        with transport.google_auth_single_attempt():  # the retries are transport's: bounded, within the deadline
            creds.refresh(request)
    except google.auth.exceptions.GoogleAuthError as exc:
        # an upstream that quotes the request must not get what it was sent into a message
        secrets = (*sent_secrets(source.info), *getattr(request, "sent_secrets", tuple)())
        raise _refresh_error(exc, source, request, secrets) from None
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError) as exc:
        # google-auth parses the token endpoint's answer without guarding against wrong types
        # ({"expires_in": "soon"}, a JSON list, an HTML page...): an unusable answer, not a crash
        where = (getattr(request, "last_answer", None) or ("",))[0]
        raise UpstreamError(f"source credential ({source.describe()}): the token endpoint {where} answered "
                            f"something that is not a usable token response ({type(exc).__name__})".replace("  ", " "),
                            hint="check the profile's token_endpoint / sts_endpoint, or try again later") from None
    if not getattr(creds, "token", None):
        raise SourceError(f"source credential ({source.describe()}) returned no access token")
    if not isinstance(creds.token, str):
        raise UpstreamError(f"source credential ({source.describe()}): the token endpoint answered an access "
                            f"token that is not a string")
    return Token(ACCESS_TOKEN, creds.token, _expiry_epoch(creds.expiry))


def _refresh_error(exc, source, request, secrets):
    """The CredhelperError for google-auth's error `exc` from refreshing `source`."""
    if isinstance(exc, google.auth.exceptions.RefreshError) and getattr(exc, "retryable", False):
        # 429/5xx or temporarily_unavailable, after transport's retries
        where, status = getattr(request, "last_answer", None) or ("", None)
        return UpstreamError(f"source credential ({source.describe()}): the token endpoint {where} is failing"
                             f"{f' (HTTP {status})' if status else ''}: {exception_reason(exc, secrets)}".replace("  ", " "),
                             hint="try again later, or check the profile's endpoints")
    if isinstance(exc, google.auth.exceptions.RefreshError):
        return SourceError(f"source credential ({source.describe()}) could not be refreshed: {exception_reason(exc, secrets)}",
                           hint=_refresh_hint(source))
    if isinstance(exc, google.auth.exceptions.TransportError):
        return UpstreamError(f"source credential ({source.describe()}): {exception_reason(exc, secrets)}",
                             hint="check the network and the profile's endpoints")
    return SourceError(f"source credential ({source.describe()}): {exception_reason(exc, secrets)}",
                       hint=_refresh_hint(source))


def mint_own_id_token(source, audience, request):
    """The source's own ID token, for profiles without a target; only some sources can mint one."""
    if source.kind == "metadata":
        value = _metadata_get(source, request, "identity", {"audience": audience, "format": "full"}).strip()
        return Token(ID_TOKEN, value, _id_token_expiry(value))
    own = source.credentials  # built (or its file refused) before the kind is looked at, as for every source
    if source.kind == "service_account":
        from google.oauth2 import service_account

        # the fields IDTokenCredentials.from_service_account_info sets, with the key already loaded
        token_uri = source.info.get("token_uri") or GOOGLE_TOKEN_URI
        creds = service_account.IDTokenCredentials(own.signer, service_account_email=source.info["client_email"],
                                                   token_uri=token_uri, target_audience=audience,
                                                   **_optional(source.info, ("universe_domain",)))
    elif source.kind == "authorized_user":
        refresh_access_token(source, request)
        token = getattr(source.credentials, "id_token", None)
        if not token:
            raise SourceError("the authorized_user credential returned no ID token",
                              hint="log in again with: gcloud auth application-default login")
        return Token(ID_TOKEN, token, _id_token_expiry(token))
    else:
        raise SourceError(f"a {source.kind} source cannot mint ID tokens by itself",
                          hint="set target = SERVICE_ACCOUNT in the profile to mint through impersonation")
    wrapped = Source(source.kind, creds, source.principal, source.info, source.path)
    tok = refresh_access_token(wrapped, request)
    return Token(ID_TOKEN, tok.value, _id_token_expiry(tok.value))


def sign_jwt(source, claims, now):
    """A JWT signed with the source's own service account key (profiles without a target)."""
    from credhelper.errors import UsageError
    from credhelper.kinds import jwt_expiry_of_claims

    own = source.credentials  # built (or its file refused) before the kind is looked at, as for every source
    if source.kind != "service_account":
        raise UsageError(f"a profile without a target, whose source is {source.kind}, cannot sign JWTs",
                         hint="set target = SERVICE_ACCOUNT to sign through the IAM Credentials API")
    from google.auth import jwt

    return Token(JWT, jwt.encode(own.signer, claims).decode(), jwt_expiry_of_claims(claims, now))


def _id_token_expiry(value):
    try:
        return jwt_expiry(value)
    except ValueError:
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
        "metadata": "check that the metadata server is reachable (GCE_METADATA_HOST, or metadata_host in the profile)",
    }.get(source.kind, "check the credential file and the profile's endpoints")
