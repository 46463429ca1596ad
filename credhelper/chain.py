"""source token + delegates -> target tokens, through the IAM Credentials API.

One IAM call per mint: the API walks the delegation chain itself. Only when a call is denied do
we spend more requests, probing each prefix of the chain to name the hop that lacks the permission
(caller, account, permission) and the gcloud command that grants it. What differs between token
kinds (method, permission, body, parsing) is the kind's record (credhelper.kinds).
"""

import json
import time
import urllib.parse

import google.auth.exceptions

from credhelper.errors import ImpersonationError, UpstreamError
from credhelper.googleerrors import exception_reason, google_error
from credhelper.kinds import BY_METHOD, KINDS
from credhelper.source import GOOGLE_IAM_BASE, metadata_principal
from credhelper.token import parse_time  # noqa: F401  (re-exported: tests and older callers)
from credhelper.transport import endpoint_name

PERMISSIONS = {k.iam_method: k.permission for k in KINDS.values()}
TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"


def iam_base(profile):
    if profile.iam_endpoint:
        return profile.iam_endpoint
    if profile.universe_domain and profile.universe_domain != "googleapis.com":
        return f"https://iamcredentials.{profile.universe_domain}"
    return GOOGLE_IAM_BASE


def _url(profile, account, method):
    return f"{iam_base(profile)}/v1/projects/-/serviceAccounts/{urllib.parse.quote(account, safe='@')}:{method}"


class Answer:
    """One IAM Credentials answer: HTTP status, the JSON object (or None), the URL asked."""

    __slots__ = ("status", "data", "url")

    def __init__(self, status, data, url):
        self.status, self.data, self.url = status, data, url


def call(request, profile, source_token, account, delegates, record, params):
    """POST one IAM Credentials call of a kind's record for account through delegates; an Answer."""
    body = dict(record.body(params))
    if delegates:
        body["delegates"] = [f"projects/-/serviceAccounts/{d}" for d in delegates]
    headers = {"Authorization": f"Bearer {source_token.value}", "Content-Type": "application/json"}
    if profile.quota_project:
        headers["x-goog-user-project"] = profile.quota_project
    url = _url(profile, account, record.iam_method)
    try:
        resp = request(url, method="POST", body=json.dumps(body).encode(), headers=headers)
    except google.auth.exceptions.TransportError as exc:
        raise UpstreamError(f"IAM Credentials API unreachable ({exception_reason(exc)})",
                            hint="check the network, or the profile's iam_endpoint") from None
    try:
        data = json.loads(resp.data.decode("utf-8"))
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested past the parser's limit
        data = None
    return Answer(resp.status, data if isinstance(data, dict) else None, url)


def mint(request, profile, source, source_token, record, params, now=None):
    """Mint a token of the record's kind for profile.target through profile.delegates."""
    if isinstance(record, str):  # a kind name
        record = KINDS[record]
    requested_at = time.time() if now is None else now
    answer = call(request, profile, source_token, profile.target, profile.delegates, record, params)
    if answer.status == 200 and answer.data is not None:
        return token_from(record, answer, params, requested_at)
    raise denial(request, profile, source, source_token, record, params, answer)


def token_from(record, answer, params, requested_at):
    """The Token of a 200 answer; UpstreamError when its shape is unusable."""
    try:
        return record.parse(answer.data, params, requested_at)
    except (KeyError, TypeError, ValueError):
        raise UpstreamError(f"{endpoint_name(answer.url)}: {record.iam_method} answered 200 without a usable token "
                            "(unexpected response shape)") from None


# -- denials ---------------------------------------------------------------------------

def denial(request, profile, source, source_token, record, params, answer):
    """The error for a failed call: a denied hop found by probing, an invalid request, or an upstream failure."""
    gstatus, message = google_error(answer.data, (source_token.value,))  # an upstream may quote the Authorization
    status, method = answer.status, record.iam_method
    if status in (401, 403) or gstatus in ("PERMISSION_DENIED", "UNAUTHENTICATED"):
        if status == 401 or gstatus == "UNAUTHENTICATED":
            return ImpersonationError(
                f"profile '{profile.name}': the IAM Credentials API did not accept the source credential "
                f"({source.describe()}): {message or 'UNAUTHENTICATED'}",
                hint="refresh the source (credhelper print-access-token --refresh), or check its endpoints")
        return diagnose_hop(request, profile, source, source_token, record, params)
    if status in (400, 404) or gstatus in ("INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION"):
        return ImpersonationError(f"profile '{profile.name}': {method} for {profile.target} failed: "
                                  f"{gstatus or status} {message}".rstrip(),
                                  hint=_invalid_hint(message, profile))
    where = endpoint_name(answer.url)
    if answer.data is None:
        return UpstreamError(f"{where}: {method} answered HTTP {status} with an unreadable body")
    return UpstreamError(f"{where}: {method} failed with HTTP {status} {gstatus} {message}".rstrip())


def _invalid_hint(message, profile):
    if "lifetime" in message.lower():
        return ("lifetimes above 1h need the organization policy constraint "
                "constraints/iam.allowServiceAccountCredentialLifetimeExtension to list " + profile.target +
                "; or set lifetime = 1h")
    return "check the profile's target, delegates, scopes and audience"


def first_denied_hop(request, profile, source_token, record, params):
    """The index in profile.chain() of the first account the chain may not impersonate (the full chain
    already failed: the shorter prefixes are probed, one call each)."""
    chain = profile.chain()
    for i in range(len(chain) - 1):
        try:
            answer = call(request, profile, source_token, chain[i], chain[:i], record, params)
        except UpstreamError:
            break
        if answer.status != 200:
            return i
    return len(chain) - 1


def hop_caller(profile, source, i, request=None):
    """(who calls hop i, as a name, and as an IAM member for a grant command)."""
    chain = profile.chain()
    if i > 0:
        return chain[i - 1], f"serviceAccount:{chain[i - 1]}"
    if request is not None:
        metadata_principal(source, request)
    return source.principal or "the source credential", source.member


def denied_message(profile, i, caller, permission):
    """"hop 2 of 3: A cannot impersonate B: permission P denied, or the account does not exist"."""
    chain = profile.chain()
    return (f"hop {i + 1} of {len(chain)}: {caller} cannot impersonate {chain[i]}: permission {permission} denied, "
            f"or {chain[i]} does not exist")


def grant_command(account, member):
    """The gcloud command that lets member impersonate account."""
    project = project_of(account)
    return (f"gcloud iam service-accounts add-iam-policy-binding {account} --member={member or 'MEMBER'} "
            f"--role={TOKEN_CREATOR}" + (f" --project={project}" if project else ""))


def denial_hint(account, member):
    """The fix for a denied hop: how to check the account exists, and the grant."""
    project = project_of(account)
    check = f"gcloud iam service-accounts describe {account}" + (f" --project={project}" if project else "")
    return f"check that it exists with: {check}; then grant it with: {grant_command(account, member)}"


def diagnose_hop(request, profile, source, source_token, record, params):
    """Find the first hop of source -> delegates -> target that is denied, by probing each prefix."""
    failing = first_denied_hop(request, profile, source_token, record, params)
    caller, member = hop_caller(profile, source, failing, request)
    path = " -> ".join([source.principal or "source", *profile.chain()])
    return ImpersonationError(
        f"profile '{profile.name}': {denied_message(profile, failing, caller, record.permission)} (chain: {path})",
        hint=denial_hint(profile.chain()[failing], member))


def project_of(email):
    domain = email.split("@", 1)[-1]
    if domain.endswith(".iam.gserviceaccount.com"):
        return domain[: -len(".iam.gserviceaccount.com")]
    return None


def kind_for_method(method):
    return BY_METHOD[method]
