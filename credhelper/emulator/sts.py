"""Security Token Service: RFC 8693 token exchange (/v1/token) and RFC 7662 introspection (/v1/introspect).

Two exchanges: an OIDC token from a configured workload identity provider for a federated
token, and an access token plus a Credential Access Boundary (`options`) for a downscoped
token. Errors use OAuth's shape, as Google's STS does.
"""

import json
import re
import urllib.parse

from credhelper.emulator import jwt
from credhelper.emulator.state import Grant, OAuthError
from credhelper.emulator.world import CLOUD_PLATFORM_SCOPE, ROLE_PERMISSIONS
from credhelper.emulator.wire import Response

SERVICE = "sts.googleapis.com"
METHOD = "google.identity.sts.v1.SecurityTokenService.ExchangeToken"
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
OIDC_TOKEN_TYPES = ("urn:ietf:params:oauth:token-type:jwt", "urn:ietf:params:oauth:token-type:id_token")
FEDERATED_TOKEN_MAX_LIFETIME_SECS = 3600
MAX_BOUNDARY_RULES = 10
_BUCKET_RESOURCE_RE = re.compile(r"^//storage\.googleapis\.com/projects/_/buckets/([^/]+)$")
_CONDITION_RES = (("startsWith", re.compile(r"""^\s*resource\.name\.startsWith\(\s*(['"])(.*?)\1\s*\)\s*$""")),
                  ("==", re.compile(r"""^\s*resource\.name\s*==\s*(['"])(.*?)\1\s*$""")))


# the exchange's fields, as the form (OAuth's snake_case) and as the JSON body (the API's camelCase) name them
EXCHANGE_FIELDS = ("grant_type", "audience", "scope", "requested_token_type", "subject_token", "subject_token_type",
                   "options")


def exchange_request(req):
    """The exchange's fields by their form names: from the form, or from a JSON body, whose unknown
    fields get 400 INVALID_ARGUMENT as the API answers them (google-auth sends a form; the API takes both)."""
    if (req.headers.get("Content-Type") or "").startswith("application/json"):
        camel = {_camel(name): name for name in EXCHANGE_FIELDS}
        return {camel[name]: value for name, value in req.json(tuple(camel)).items()}
    return req.form()


def _camel(name):
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def token(state, req):
    form = exchange_request(req)
    if form.get("grant_type") != TOKEN_EXCHANGE_GRANT:
        raise OAuthError("unsupported_grant_type", f"Unsupported grant_type: {form.get('grant_type', '')!r}; "
                                                   f"expected {TOKEN_EXCHANGE_GRANT}.")
    if form.get("requested_token_type", ACCESS_TOKEN_TYPE) != ACCESS_TOKEN_TYPE:
        raise OAuthError("invalid_request", f"Invalid requested_token_type; expected {ACCESS_TOKEN_TYPE}.")
    token_type = form.get("subject_token_type", "")
    if token_type in OIDC_TOKEN_TYPES:
        return _federate(state, form)
    if token_type == ACCESS_TOKEN_TYPE:
        return _downscope(state, form)
    raise OAuthError("invalid_request", f"Invalid subject_token_type: {token_type!r}.")


def _response(token, expires_in):
    return Response(200, {"access_token": token, "issued_token_type": ACCESS_TOKEN_TYPE, "token_type": "Bearer",
                          "expires_in": int(expires_in)})


def _federate(state, form):
    audience = form.get("audience", "")
    provider = state.world.providers.get(audience)
    if provider is None:
        raise OAuthError("invalid_target", 'The target service indicated by the "audience" parameters is invalid. '
                                           "This might either be because the pool or provider is disabled or deleted "
                                           "or because it doesn't exist.")

    def deny(description):
        state.audit.record(SERVICE, METHOD, audience, None, (), [], "PERMISSION_DENIED", description)
        return OAuthError("invalid_grant", description)

    keys = provider.keys or state.google_public_keys()
    try:
        _, claims = jwt.verify(form.get("subject_token", ""), keys)
    except jwt.JWTError as exc:
        raise deny(f"The subject token could not be verified: {exc}.") from None
    if claims.get("iss") != provider.issuer:
        raise deny(f"The issuer in ID Token {claims.get('iss')} does not match the expected ones: {provider.issuer}.")
    audiences = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
    if not any(isinstance(a, str) and provider.accepts_audience(a) for a in audiences):
        raise deny(f"The audience in ID Token {audiences} does not match the expected audience.")
    now = state.now()
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or exp <= now:
        raise deny("The ID Token has expired.")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise deny("The ID Token has no sub claim to map to google.subject.")
    principal = provider.principal(subject)
    expiry = min(exp, now + FEDERATED_TOKEN_MAX_LIFETIME_SECS)
    scopes = tuple(form.get("scope", "").split()) or (CLOUD_PLATFORM_SCOPE,)
    token = state.issue_access_token(Grant(principal, scopes, expiry, provider.name))
    state.audit.record(SERVICE, METHOD, audience, principal, (), [])
    return _response(token, expiry - now)


def _downscope(state, form):
    subject = state.lookup(form.get("subject_token", ""))
    if subject is None:
        raise OAuthError("invalid_grant", "The subject token is invalid or expired.")
    boundary = _access_boundary(form.get("options"))
    grant = Grant(subject.principal, subject.scopes, subject.expiry, subject.client_id, subject.delegation,
                  (*subject.boundaries, boundary))
    token = state.issue_access_token(grant)
    state.audit.record(SERVICE, METHOD, "//sts.googleapis.com/downscope", subject.principal, subject.delegation, [])
    return _response(token, grant.expiry - state.now())


def _access_boundary(options):
    """Rules [(bucket, permissions, condition)] from the `options` parameter (URL-quoted JSON, as google-auth sends)."""
    if not options:
        raise OAuthError("invalid_request", "An access boundary is required in 'options' to downscope a token.")
    try:
        data = json.loads(urllib.parse.unquote(options))
        rules = data["accessBoundary"]["accessBoundaryRules"]
    except (ValueError, KeyError, TypeError):
        raise OAuthError("invalid_request", "'options' must be JSON with accessBoundary.accessBoundaryRules.") from None
    if not isinstance(rules, list) or not 1 <= len(rules) <= MAX_BOUNDARY_RULES:
        raise OAuthError("invalid_request", f"An access boundary needs 1 to {MAX_BOUNDARY_RULES} rules.")
    return tuple(_rule(rule, i) for i, rule in enumerate(rules))


def _rule(rule, i):
    if not isinstance(rule, dict):
        raise OAuthError("invalid_request", f"accessBoundaryRules[{i}] must be an object.")
    m = _BUCKET_RESOURCE_RE.match(str(rule.get("availableResource", "")))
    if not m:
        raise OAuthError("invalid_request", f"accessBoundaryRules[{i}].availableResource must be "
                                            "//storage.googleapis.com/projects/_/buckets/BUCKET.")
    permissions = set()
    for p in rule.get("availablePermissions") or [None]:
        role = p[len("inRole:"):] if isinstance(p, str) and p.startswith("inRole:") else None
        if role not in ROLE_PERMISSIONS or not role.startswith("roles/storage."):
            raise OAuthError("invalid_request", f"accessBoundaryRules[{i}].availablePermissions: {p!r} is not "
                                                "inRole: with a Cloud Storage role the emulator knows.")
        permissions |= ROLE_PERMISSIONS[role]
    condition = rule.get("availabilityCondition")
    if condition is not None:
        expression = condition.get("expression") if isinstance(condition, dict) else None
        condition = next(((op, rx.match(expression).group(2)) for op, rx in _CONDITION_RES
                          if isinstance(expression, str) and rx.match(expression)), None)
        if condition is None:
            raise OAuthError("invalid_request", f"accessBoundaryRules[{i}].availabilityCondition: the emulator "
                                                "supports only resource.name.startsWith('...') and "
                                                "resource.name == '...'.")
    return m.group(1), frozenset(permissions), condition


def boundary_allows(rules, bucket, permission, resource_name):
    for rule_bucket, permissions, condition in rules:
        if rule_bucket != bucket or permission not in permissions:
            continue
        if condition is None or (resource_name.startswith(condition[1]) if condition[0] == "startsWith"
                                 else resource_name == condition[1]):
            return True
    return False


def introspect(state, req):
    grant = state.lookup(req.form().get("token", ""))
    if grant is None:
        return Response(200, {"active": False})
    body = {"active": True, "client_id": grant.client_id, "exp": int(grant.expiry), "scope": " ".join(grant.scopes),
            "sub": grant.principal, "username": grant.display_name, "token_type": "Bearer"}
    return Response(200, body)
