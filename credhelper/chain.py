"""source token + delegates -> target tokens, through the IAM Credentials API.

One IAM call per mint: the API walks the delegation chain itself. Only when a call is
denied do we spend more requests, probing each prefix of the chain to name the hop that
lacks the permission (caller, account, permission) and the gcloud command that grants it.
"""

import json
import logging
import time
import urllib.parse

import google.auth.exceptions

from credhelper.errors import ImpersonationError, UpstreamError
from credhelper.source import GOOGLE_IAM_BASE, _redact, jwt_expiry
from credhelper.token import ACCESS_TOKEN, ID_TOKEN, JWT, Token, checked_expiry
from credhelper.transport import endpoint_name

log = logging.getLogger("credhelper.chain")

PERMISSIONS = {
    "generateAccessToken": "iam.serviceAccounts.getAccessToken",
    "generateIdToken": "iam.serviceAccounts.getOpenIdToken",
    "signJwt": "iam.serviceAccounts.signJwt",
}
TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"


def iam_base(profile):
    if profile.iam_endpoint:
        return profile.iam_endpoint
    if profile.universe_domain and profile.universe_domain != "googleapis.com":
        return f"https://iamcredentials.{profile.universe_domain}"
    return GOOGLE_IAM_BASE


def _url(profile, account, method):
    return f"{iam_base(profile)}/v1/projects/-/serviceAccounts/{urllib.parse.quote(account, safe='@')}:{method}"


def _call(request, profile, source_token, account, delegates, method, body):
    """POST one IAM Credentials call; return (status, parsed JSON or None)."""
    body = dict(body)
    if delegates:
        body["delegates"] = [f"projects/-/serviceAccounts/{d}" for d in delegates]
    headers = {"Authorization": f"Bearer {source_token.value}", "Content-Type": "application/json"}
    if profile.quota_project:
        headers["x-goog-user-project"] = profile.quota_project
    url = _url(profile, account, method)
    try:
        resp = request(url, method="POST", body=json.dumps(body).encode(), headers=headers)
    except google.auth.exceptions.TransportError as exc:
        raise UpstreamError(f"IAM Credentials API unreachable ({exc})",
                            hint="check the network, or the profile's iam_endpoint") from None
    try:
        data = json.loads(resp.data.decode("utf-8"))
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested past the parser's limit
        data = None
    if not isinstance(data, dict):
        data = None
    return resp.status, data, url


def mint(request, profile, source, source_token, kind, *, scopes=None, lifetime_secs=None,
         audience=None, include_email=False, claims=None, now=None):
    """Mint a token of `kind` for profile.target through profile.delegates."""
    if kind == ACCESS_TOKEN:
        method = "generateAccessToken"
        body = {"scope": list(scopes or profile.scopes),
                "lifetime": f"{int(lifetime_secs or profile.lifetime_secs)}s"}
    elif kind == ID_TOKEN:
        method = "generateIdToken"
        body = {"audience": audience, "includeEmail": bool(include_email)}
    elif kind == JWT:
        method = "signJwt"
        body = {"payload": json.dumps(claims, separators=(",", ":"))}
    else:
        raise ValueError(kind)
    status, data, url = _call(request, profile, source_token, profile.target, profile.delegates, method, body)
    if status == 200 and data is not None:
        return _token_from(kind, method, data, url, claims, now)
    raise _denial(request, profile, source, source_token, method, body, status, data, url)


def _token_from(kind, method, data, url, claims, now):
    try:
        if kind == ACCESS_TOKEN:
            return Token(ACCESS_TOKEN, _str(data["accessToken"]), parse_time(data["expireTime"]))
        if kind == ID_TOKEN:
            value = _str(data["token"])
            return Token(ID_TOKEN, value, jwt_expiry(value))
        value = _str(data["signedJwt"])
        exp = claims.get("exp") if isinstance(claims, dict) else None
        return Token(JWT, value, checked_expiry(exp) if exp else (now or time.time()) + 3600)
    except (KeyError, TypeError, ValueError):
        raise UpstreamError(f"{endpoint_name(url)}: {method} answered 200 without a usable token "
                            "(unexpected response shape)") from None


def _str(value):
    if not isinstance(value, str) or not value:
        raise TypeError("not a string")
    return value


def parse_time(value):
    """RFC 3339 ('2026-11-28T19:00:00.123456789Z', offsets allowed) or epoch seconds -> epoch float.

    Exact: the fraction is added in rational arithmetic, so the result is the float nearest the
    instant written. 'T' and 'Z' may be lower case and 'T' a space (RFC 3339 section 5.6); a time
    without an offset is read as UTC. ValueError for anything else, and for instants that are not
    finite or fall outside 1970..9999 (see token.checked_expiry).
    """
    import datetime
    from fractions import Fraction

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return checked_expiry(value)
    if not isinstance(value, str):
        raise ValueError("not a time")
    text = value.strip()
    if text.isascii() and text.replace(".", "", 1).isdigit():
        return checked_expiry(float(text))
    if not text.isascii():
        raise ValueError("not an RFC 3339 time")
    date, sep, rest = text.replace("t", "T").replace(" ", "T", 1).partition("T")
    if not sep or not rest:
        raise ValueError("not an RFC 3339 time")
    frac = Fraction(0)
    offset = "+00:00"
    if rest.endswith(("Z", "z")):
        rest = rest[:-1]
    elif len(rest) > 6 and rest[-6] in "+-" and rest[-3] == ":":
        rest, offset = rest[:-6], rest[-6:]
    if "." in rest:
        rest, digits = rest.split(".", 1)
        if not digits.isdigit():
            raise ValueError("bad fraction")
        frac = Fraction(int(digits), 10 ** len(digits))
    if not (len(date) == 10 and len(rest) == 8 and len(offset) == 6):
        raise ValueError("not an RFC 3339 time")
    try:
        parsed = datetime.datetime.fromisoformat(f"{date}T{rest}{offset}")
    except OverflowError:
        raise ValueError("time out of range") from None
    whole = (parsed - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)) // datetime.timedelta(seconds=1)
    return checked_expiry(float(whole + frac))


# -- denials ---------------------------------------------------------------------------

def _google_error(data):
    """(status, message) from an error answer, made safe to print (upstream text: see source._redact)."""
    err = (data or {}).get("error")
    if isinstance(err, dict):
        return _redact(str(err.get("status") or ""))[:100], _redact(str(err.get("message") or ""))[:300]
    if isinstance(err, str):
        return _redact(err)[:100], _redact(str((data or {}).get("error_description") or ""))[:300]
    return "", ""


def _denial(request, profile, source, source_token, method, body, status, data, url):
    gstatus, message = _google_error(data)
    where = endpoint_name(url)
    if status in (401, 403) or gstatus in ("PERMISSION_DENIED", "UNAUTHENTICATED"):
        if status == 401 or gstatus == "UNAUTHENTICATED":
            return ImpersonationError(
                f"profile '{profile.name}': the IAM Credentials API did not accept the source credential "
                f"({source.describe()}): {message or 'UNAUTHENTICATED'}",
                hint="refresh the source (credhelper print-access-token --refresh), or check its endpoints")
        return _diagnose_hop(request, profile, source, source_token, method, body, message)
    if status in (400, 404) or gstatus in ("INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION"):
        return ImpersonationError(f"profile '{profile.name}': {method} for {profile.target} failed: "
                                  f"{gstatus or status} {message}".rstrip(),
                                  hint=_invalid_hint(message, profile))
    if data is None:
        return UpstreamError(f"{where}: {method} answered HTTP {status} with an unreadable body")
    return UpstreamError(f"{where}: {method} failed with HTTP {status} {gstatus} {message}".rstrip())


def _invalid_hint(message, profile):
    if "lifetime" in message.lower():
        return ("lifetimes above 1h need the organization policy constraint "
                "constraints/iam.allowServiceAccountCredentialLifetimeExtension to list " + profile.target +
                "; or set lifetime = 1h")
    return "check the profile's target, delegates, scopes and audience"


def _diagnose_hop(request, profile, source, source_token, method, body, message):
    """Find the first hop of source -> delegates -> target that is denied, by probing each prefix."""
    chain = profile.chain()
    permission = PERMISSIONS[method]
    failing = len(chain) - 1
    for i in range(len(chain) - 1):  # the full chain already failed; probe the shorter prefixes
        try:
            status, _, _ = _call(request, profile, source_token, chain[i], chain[:i], method, body)
        except UpstreamError:
            break
        if status != 200:
            failing = i
            break
    account = chain[failing]
    caller = chain[failing - 1] if failing > 0 else (source.principal or "the source credential")
    member = (f"serviceAccount:{caller}" if failing > 0 else source.member) or "MEMBER"
    project = _project_of(account)
    grant = (f"gcloud iam service-accounts add-iam-policy-binding {account} "
             f"--member={member} --role={TOKEN_CREATOR}" + (f" --project={project}" if project else ""))
    hop = f"hop {failing + 1} of {len(chain)}"
    path = " -> ".join([source.principal or "source", *chain])
    return ImpersonationError(
        f"profile '{profile.name}': {hop}: {caller} cannot impersonate {account}: "
        f"permission {permission} denied (chain: {path})",
        hint=f"grant it with: {grant}")


def _project_of(email):
    domain = email.split("@", 1)[-1]
    if domain.endswith(".iam.gserviceaccount.com"):
        return domain[: -len(".iam.gserviceaccount.com")]
    return None
