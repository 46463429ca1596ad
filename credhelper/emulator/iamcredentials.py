"""IAM Service Account Credentials v1: generateAccessToken, generateIdToken, signJwt, signBlob.

Authorization follows Google's delegation rule: with delegates [B, C] for target T the
caller needs Token Creator on B, B on C and C on T; without delegates, the caller on T.
Delegate hops need iam.serviceAccounts.implicitDelegation, the last hop the method's own
permission. A missing account is indistinguishable from a denied one, as at Google.
"""

import base64
import binascii
import json
import re

from credhelper.emulator import jwt
from credhelper.emulator.state import ApiError, Grant, error_info, rfc3339
from credhelper.emulator.world import DEFAULT_MAX_LIFETIME_SECS
from credhelper.emulator.wire import Response

SERVICE = "iamcredentials.googleapis.com"
IAM_SCOPES = ("https://www.googleapis.com/auth/cloud-platform", "https://www.googleapis.com/auth/iam")
SIGNED_JWT_MAX_LIFETIME_SECS = 43200
SIGNED_JWT_DEFAULT_LIFETIME_SECS = 3600
_DELEGATE_RE = re.compile(r"^(?:projects/-/serviceAccounts/)?([^/\s]+@[^/\s]+)$")
_LIFETIME_RE = re.compile(r"^(\d+)(?:\.\d{1,9})?s$")

METHODS = {  # URL verb -> (audit/RPC method, permission, allowed JSON fields)
    "generateAccessToken": ("GenerateAccessToken", "iam.serviceAccounts.getAccessToken",
                            ("delegates", "scope", "lifetime")),
    "generateIdToken": ("GenerateIdToken", "iam.serviceAccounts.getOpenIdToken",
                        ("delegates", "audience", "includeEmail", "useEmailAzp", "organizationNumberIncluded")),
    "signJwt": ("SignJwt", "iam.serviceAccounts.signJwt", ("delegates", "payload")),
    "signBlob": ("SignBlob", "iam.serviceAccounts.signBlob", ("delegates", "payload")),
}


def call(state, req, email, verb):
    rpc, permission, fields = METHODS[verb]
    caller = state.authenticate(req.bearer(), SERVICE, f"google.iam.credentials.v1.IAMCredentials.{rpc}", IAM_SCOPES)
    body = req.json(fields)
    chain = [*_delegates(body.get("delegates")), email]
    resource = f"projects/-/serviceAccounts/{email}"
    delegation = (*caller.delegation, caller.principal)
    checks, member = [], caller.principal
    for i, hop in enumerate(chain):
        hop_permission = permission if i == len(chain) - 1 else "iam.serviceAccounts.implicitDelegation"
        account = state.world.service_accounts.get(hop)
        granted = bool(account) and not caller.boundaries and account.policy.permits(member, hop_permission)
        checks.append((f"projects/-/serviceAccounts/{hop}", hop_permission, granted))
        if not granted:
            message = f"Permission '{permission}' denied on resource (or it may not exist)."
            state.audit.record(SERVICE, rpc, resource, caller.principal, caller.delegation, checks,
                               "PERMISSION_DENIED", message)
            raise ApiError(403, "PERMISSION_DENIED", message,
                           [error_info("IAM_PERMISSION_DENIED", "iam.googleapis.com", permission=permission)])
        member = account.member
    account = state.world.service_accounts[email]
    try:
        response = _MINT[verb](state, account, body, delegation + tuple(f"serviceAccount:{d}" for d in chain[:-1]))
    except ApiError as exc:
        state.audit.record(SERVICE, rpc, resource, caller.principal, caller.delegation, checks, exc.status, exc.message)
        raise
    state.audit.record(SERVICE, rpc, resource, caller.principal, caller.delegation, checks)
    return response


def _delegates(value):
    if value is None:
        return []
    if not isinstance(value, list):
        raise ApiError(400, "INVALID_ARGUMENT", "Invalid value at 'delegates' (TYPE_STRING), expected a list.")
    out = []
    for d in value:
        m = _DELEGATE_RE.match(d) if isinstance(d, str) else None
        if not m:
            raise ApiError(400, "INVALID_ARGUMENT", f"Invalid form of delegate: {d!r}; expected "
                                                   "projects/-/serviceAccounts/EMAIL or EMAIL.")
        out.append(m.group(1))
    return out


def _lifetime(value, account):
    if value is None:
        return DEFAULT_MAX_LIFETIME_SECS
    m = _LIFETIME_RE.match(value) if isinstance(value, str) else None
    if not m:
        raise ApiError(400, "INVALID_ARGUMENT", f"Invalid value at 'lifetime' (type.googleapis.com/"
                                                f"google.protobuf.Duration), {json.dumps(value)}")
    secs = int(m.group(1))
    if not 1 <= secs <= account.max_lifetime_secs:
        raise ApiError(400, "INVALID_ARGUMENT",
                       f"The lifetime {secs}s is outside the allowed range of 1s to {account.max_lifetime_secs}s "
                       "for this service account; lifetimes above 3600s need the organization policy "
                       "constraints/iam.allowServiceAccountCredentialLifetimeExtension to list the account.")
    return secs


def _generate_access_token(state, account, body, delegation):
    scopes = body.get("scope")
    if not scopes:
        raise ApiError(400, "INVALID_ARGUMENT", "Scope required.")
    if not isinstance(scopes, list) or not all(isinstance(s, str) and s for s in scopes):
        raise ApiError(400, "INVALID_ARGUMENT", "Invalid value at 'scope' (TYPE_STRING), expected a list of scopes.")
    expiry = state.now() + _lifetime(body.get("lifetime"), account)
    token = state.issue_access_token(Grant(account.member, tuple(scopes), expiry, account.unique_id, delegation))
    return Response(200, {"accessToken": token, "expireTime": rfc3339(expiry)})


def _generate_id_token(state, account, body, delegation):
    audience = body.get("audience")
    if not isinstance(audience, str) or not audience:
        raise ApiError(400, "INVALID_ARGUMENT", "Audience required.")
    claims = state.account_claims(account, audience, include_email=_bool(body, "includeEmail"),
                                  azp_email=_bool(body, "useEmailAzp"))
    return Response(200, {"token": state.google_id_token(claims)})


def _bool(body, name):
    value = body.get(name, False)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise ApiError(400, "INVALID_ARGUMENT", f"Invalid value at '{name}' (TYPE_BOOL), {json.dumps(value)}")
    return value


def _sign_jwt(state, account, body, delegation):
    try:
        claims = json.loads(body.get("payload", ""))
    except (TypeError, ValueError):
        claims = None
    if not isinstance(claims, dict):
        raise ApiError(400, "INVALID_ARGUMENT", "Payload must be a JSON object (the JWT claim set) in a string.")
    now = int(state.now())
    claims.setdefault("exp", now + SIGNED_JWT_DEFAULT_LIFETIME_SECS)
    if not isinstance(claims["exp"], (int, float)) or claims["exp"] > now + SIGNED_JWT_MAX_LIFETIME_SECS:
        raise ApiError(400, "INVALID_ARGUMENT", "The exp claim must be a number at most 12 hours in the future.")
    kid, key = state.account_key(account.email)
    return Response(200, {"keyId": kid, "signedJwt": jwt.encode(key, claims, kid=kid)})


def _sign_blob(state, account, body, delegation):
    try:
        payload = base64.b64decode(body.get("payload") or "", validate=True)
    except (TypeError, binascii.Error):
        raise ApiError(400, "INVALID_ARGUMENT", "Invalid value at 'payload' (TYPE_BYTES), expected base64.") from None
    if not payload:
        raise ApiError(400, "INVALID_ARGUMENT", "Payload required.")
    kid, key = state.account_key(account.email)
    return Response(200, {"keyId": kid, "signedBlob": base64.b64encode(jwt.sign_bytes(key, payload)).decode()})


_MINT = {"generateAccessToken": _generate_access_token, "generateIdToken": _generate_id_token,
         "signJwt": _sign_jwt, "signBlob": _sign_blob}
