"""What the emulator remembers between requests: issued tokens, signing keys, the audit trail.

Also the two error shapes Google uses: `ApiError` for Google APIs and `OAuthError` for the
token endpoints. Request handlers raise them; the server turns them into responses.
"""

import datetime
import json
import secrets
import threading
import time
from dataclasses import dataclass

from credhelper.emulator import jwt
from credhelper.emulator.world import GOOGLE_ISSUER

ACCESS_TOKEN_PREFIX = "ya29.EMULATED-"  # easy to grep for in leak tests
REFRESH_TOKEN_PREFIX = "1//EMULATED-"
ID_TOKEN_LIFETIME_SECS = 3600
_RPC_CODES = {"OK": 0, "INVALID_ARGUMENT": 3, "NOT_FOUND": 5, "PERMISSION_DENIED": 7, "UNAUTHENTICATED": 16}


class ApiError(Exception):
    """A Google API error: {"error": {"code", "message", "status", "details"?}}."""

    def __init__(self, code, status, message, details=None, headers=None):
        super().__init__(message)
        self.code, self.status, self.message = code, status, message
        self.details = details
        self.headers = headers or {}

    def body(self):
        error = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class OAuthError(Exception):
    """An OAuth 2.0 error: {"error": "invalid_grant", "error_description": ...}."""

    def __init__(self, error, description, code=400):
        super().__init__(description)
        self.error, self.description, self.code = error, description, code

    def body(self):
        return {"error": self.error, "error_description": self.description}


def error_info(reason, domain, **metadata):
    return {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": domain,
            "metadata": metadata}


@dataclass(frozen=True)
class Grant:
    """An issued access token and what it stands for."""

    principal: str  # IAM member: serviceAccount:..., user:..., principal://...
    scopes: tuple
    expiry: float
    client_id: str  # the unique id of the account or the OAuth client
    delegation: tuple = ()  # members that delegated, original caller first
    boundaries: tuple = ()  # access boundaries (each a tuple of rules); all must allow

    @property
    def email(self):
        return self.principal.partition(":")[2] if not self.principal.startswith("principal://") else None

    @property
    def display_name(self):
        """How Google names the caller in messages: the email, else the principal identifier."""
        return self.email or self.principal


def rfc3339(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


CREATED_EPOCH = 1700000000  # when every resource of a world was created


def created_stamp():
    """The creation time of a world's resources, with milliseconds, as resource APIs write it."""
    return rfc3339(CREATED_EPOCH).replace("Z", ".000Z")


def _principal_info(member):
    """Federated principals appear as principalSubject, everything else as principalEmail (as in Cloud Audit Logs)."""
    if member.startswith("principal://"):
        return {"principalSubject": member}
    return {"principalEmail": member.partition(":")[2]}


class Audit:
    """Cloud Audit Logs-shaped decision records, kept in `entries` and appended to a JSON-lines file."""

    def __init__(self, path=None):
        self.entries = []
        self.path = path
        self._lock = threading.Lock()

    def record(self, service, method, resource, principal, delegation, checks, status="OK", message=None, now=None):
        """`checks`: [(resource, permission, granted)]; `principal` may be None (not yet known).

        Never pass tokens or keys here.
        """
        authn = _principal_info(principal) if principal else {}
        if delegation:
            authn["serviceAccountDelegationInfo"] = [{"firstPartyPrincipal": _principal_info(m)} for m in delegation]
        entry = {
            "timestamp": rfc3339(now or time.time()),
            "severity": "INFO" if status == "OK" else "ERROR",
            "protoPayload": {
                "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                "serviceName": service,
                "methodName": method,
                "resourceName": resource,
                "authenticationInfo": authn,
                "authorizationInfo": [{"resource": r, "permission": p, "granted": g} for r, p, g in checks],
                "status": {} if status == "OK" else {"code": _RPC_CODES.get(status, 2), "message": message or status},
            },
        }
        with self._lock:
            self.entries.append(entry)
            if self.path:
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry, sort_keys=True) + "\n")


class State:
    def __init__(self, world, audit_log=None, clock=time.time):
        self.world = world
        self.now = clock
        self.audit = Audit(audit_log)
        self._tokens = {}
        self._lock = threading.Lock()
        kid, key = world.signing_key or (None, jwt.new_rsa_key())
        self.google_key = (kid or jwt.key_id(key.public_key()), key)
        self._account_keys = {}  # email -> (kid, private key): Google-managed keys for signJwt/signBlob
        self._certs = {}  # kid -> self-signed certificate PEM

    def issue_access_token(self, grant):
        token = ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = grant
        return token

    def lookup(self, token):
        """The live Grant for an access token, or None (unknown or expired)."""
        grant = self._tokens.get(token)
        if grant is None or grant.expiry <= self.now():
            return None
        return grant

    def google_id_token(self, claims):
        kid, key = self.google_key
        return jwt.encode(key, {"iss": GOOGLE_ISSUER, **claims}, kid=kid)

    def google_public_keys(self):
        kid, key = self.google_key
        return {kid: key.public_key()}

    def account_key(self, email):
        """The Google-managed key that signJwt/signBlob use for `email`, made on first use."""
        with self._lock:
            if email not in self._account_keys:
                key = jwt.new_rsa_key()
                self._account_keys[email] = (jwt.key_id(key.public_key()), key)
            return self._account_keys[email]

    def cert_pem(self, kid, key, common_name):
        with self._lock:
            if kid not in self._certs:
                self._certs[kid] = jwt.self_signed_cert_pem(key, common_name)
            return self._certs[kid]

    def account_claims(self, account, audience, include_email, azp_email=False, now=None):
        """ID-token claims for a service account, as IAM Credentials and the token endpoint issue them."""
        now = int(now or self.now())
        claims = {"aud": audience, "azp": account.email if azp_email else account.unique_id, "sub": account.unique_id,
                  "iat": now, "exp": now + ID_TOKEN_LIFETIME_SECS}
        if include_email:
            claims.update(email=account.email, email_verified=True)
        return claims

    def authenticate(self, bearer, service, rpc_method, scopes):
        """The Grant behind a bearer token, checked for liveness and for one of `scopes`; else ApiError."""
        metadata = {"service": service, "method": rpc_method}
        if not bearer:
            raise ApiError(401, "UNAUTHENTICATED", "Request is missing required authentication credential. "
                           "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
                           "See https://developers.google.com/identity/sign-in/web/devconsole-project.",
                           [error_info("CREDENTIALS_MISSING", "googleapis.com", **metadata)],
                           {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'})
        grant = self.lookup(bearer)
        if grant is None:
            raise ApiError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. "
                           "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
                           "See https://developers.google.com/identity/sign-in/web/devconsole-project.",
                           [error_info("ACCESS_TOKEN_TYPE_UNSUPPORTED", "googleapis.com", **metadata)],
                           {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'})
        if not set(grant.scopes) & set(scopes):
            raise ApiError(403, "PERMISSION_DENIED", "Request had insufficient authentication scopes.",
                           [error_info("ACCESS_TOKEN_SCOPE_INSUFFICIENT", "googleapis.com", **metadata)],
                           {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", '
                                               'error="insufficient_scope"'})
        return grant
