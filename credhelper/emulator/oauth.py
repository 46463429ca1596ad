"""The OAuth 2.0 token endpoint (/token), token info and Google's public signing keys."""

from credhelper.emulator import jwt
from credhelper.emulator.state import ApiError, Grant, OAuthError
from credhelper.emulator.wire import Response

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_AUDIENCES = ("https://oauth2.googleapis.com/token", "https://www.googleapis.com/oauth2/v4/token",
                          "https://accounts.google.com/o/oauth2/token")
ACCESS_TOKEN_LIFETIME_SECS = 3600
ASSERTION_MAX_LIFETIME_SECS = 3600
CLOCK_SKEW_SECS = 300
_SHORT_LIVED = ("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
                "Check your iat and exp values in the JWT claim.")


def token(state, req):
    form = req.form()
    grant_type = form.get("grant_type", "")
    if grant_type == JWT_BEARER_GRANT:
        return _jwt_bearer(state, req, form)
    if grant_type == "refresh_token":
        return _refresh(state, form)
    raise OAuthError("unsupported_grant_type", f"Invalid grant_type: {grant_type}")


def _audit(state, account_member, granted, message=None):
    state.audit.record("oauth2.googleapis.com", "google.identity.oauth2.Token", "oauth2.googleapis.com/token",
                       account_member, (), [], "OK" if granted else "PERMISSION_DENIED", message)


def _jwt_bearer(state, req, form):
    try:
        _, claims = jwt.decode(form.get("assertion", ""))
    except jwt.JWTError:
        raise OAuthError("invalid_grant", "Invalid JWT: malformed assertion.") from None
    account = state.world.service_accounts.get(claims.get("iss"))
    if account is None:
        raise OAuthError("invalid_grant", "Invalid grant: account not found")

    def deny(error, description):
        _audit(state, account.member, False, description)
        return OAuthError(error, description)

    try:
        jwt.verify(form["assertion"], account.keys)
    except jwt.JWTError:
        raise deny("invalid_grant", "Invalid JWT Signature.") from None
    if claims.get("aud") not in (req.base_url + req.path, *GOOGLE_TOKEN_AUDIENCES):
        raise deny("invalid_grant", "Invalid JWT: Failed audience check. "
                                    f"The right audience is {GOOGLE_TOKEN_AUDIENCES[0]}")
    now = state.now()
    iat, exp = claims.get("iat"), claims.get("exp")
    if (not isinstance(iat, (int, float)) or not isinstance(exp, (int, float)) or exp <= now
            or iat > now + CLOCK_SKEW_SECS or exp - iat > ASSERTION_MAX_LIFETIME_SECS):
        raise deny("invalid_grant", _SHORT_LIVED)
    if claims.get("sub", account.email) != account.email:
        raise deny("unauthorized_client", "Client is unauthorized to retrieve access tokens using this method, "
                                          "or client not authorized for any of the scopes requested.")
    if claims.get("target_audience"):
        _audit(state, account.member, True)
        return Response(200, {"id_token": state.google_id_token(
            state.account_claims(account, claims["target_audience"], include_email=True, azp_email=True))})
    scopes = tuple((claims.get("scope") or "").split())
    if not scopes:
        raise deny("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
    _audit(state, account.member, True)
    grant = Grant(account.member, scopes, now + ACCESS_TOKEN_LIFETIME_SECS, account.unique_id)
    return Response(200, {"access_token": state.issue_access_token(grant),
                          "expires_in": ACCESS_TOKEN_LIFETIME_SECS - 1, "token_type": "Bearer"})


def _refresh(state, form):
    user = state.world.user_by_refresh_token(form.get("refresh_token", ""))
    if user is None:
        raise OAuthError("invalid_grant", "Token has been expired or revoked.")
    if form.get("client_id") != user.client_id or form.get("client_secret") != user.client_secret:
        _audit(state, user.member, False, "invalid_client")
        raise OAuthError("invalid_client", "Unauthorized", code=401)
    scopes = tuple(form.get("scope", "").split()) or user.scopes
    if not set(scopes) <= set(user.scopes):
        _audit(state, user.member, False, "invalid_scope")
        raise OAuthError("invalid_scope", "Bad Request")
    _audit(state, user.member, True)
    now = state.now()
    grant = Grant(user.member, scopes, now + ACCESS_TOKEN_LIFETIME_SECS, user.client_id)
    body = {"access_token": state.issue_access_token(grant), "expires_in": ACCESS_TOKEN_LIFETIME_SECS - 1,
            "scope": " ".join(scopes), "token_type": "Bearer"}
    if "openid" in scopes:
        body["id_token"] = state.google_id_token({
            "aud": user.client_id, "azp": user.client_id, "sub": user.unique_id, "email": user.email,
            "email_verified": True, "iat": int(now), "exp": int(now) + ACCESS_TOKEN_LIFETIME_SECS})
    return Response(200, body)


def sts_refresh(state, req):
    """STS's OAuth endpoint (/v1/oauth/token) that external_account_authorized_user credentials
    (workforce identity users) refresh through: the refresh_token grant, client id and secret in
    HTTP Basic auth."""
    import base64

    form = dict(req.form())
    auth = req.headers.get("Authorization", "")
    if auth.startswith("Basic "):
        try:
            client_id, _, secret = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            raise OAuthError("invalid_client", "Unauthorized", code=401) from None
        form.setdefault("client_id", client_id)
        form.setdefault("client_secret", secret)
    if form.get("grant_type") != "refresh_token":
        raise OAuthError("unsupported_grant_type", f"Unsupported grant_type: {form.get('grant_type', '')!r}.")
    return _refresh(state, form)


def tokeninfo(state, req):
    params = {**req.query, **(req.form() if req.method == "POST" else {})}
    if params.get("id_token"):
        try:
            header, claims = jwt.verify(params["id_token"], state.google_public_keys())
        except jwt.JWTError:
            return _invalid_token()
        if claims.get("exp", 0) <= state.now():
            return _invalid_token()
        info = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in claims.items()}
        info.update(alg=header["alg"], kid=header.get("kid", ""), typ="JWT")
        return Response(200, info)
    grant = state.lookup(params.get("access_token", ""))
    if grant is None:
        return _invalid_token()
    now = state.now()
    info = {"azp": grant.client_id, "aud": grant.client_id, "scope": " ".join(grant.scopes),
            "exp": str(int(grant.expiry)), "expires_in": str(int(grant.expiry - now)), "access_type": "online"}
    if grant.email:
        sub = _unique_id(state, grant)
        if sub:
            info["sub"] = sub
        info.update(email=grant.email, email_verified="true")
    return Response(200, info)


def _unique_id(state, grant):
    account = state.world.service_accounts.get(grant.email)
    user = state.world.users.get(grant.email)
    return (account or user).unique_id if (account or user) else None


def _invalid_token():
    return Response(400, {"error": "invalid_token", "error_description": "Invalid Value"})


def certs_pem(state, req):
    """/oauth2/v1/certs: kid -> X.509 certificate PEM."""
    kid, key = state.google_key
    return Response(200, {kid: state.cert_pem(kid, key, "accounts.google.com")})


def certs_jwks(state, req):
    """/oauth2/v3/certs: a JWK set."""
    kid, key = state.google_key
    return Response(200, {"keys": [jwt.public_jwk(key.public_key(), kid)]})


def account_certs(state, req, email, form):
    """/service_accounts/v1/metadata/{x509,jwk}/EMAIL: the keys signJwt/signBlob use for an account."""
    if email not in state.world.service_accounts:
        raise ApiError(404, "NOT_FOUND", f"Service account {email} not found.")
    kid, key = state.account_key(email)
    if form == "x509":
        return Response(200, {kid: state.cert_pem(kid, key, email)})
    return Response(200, {"keys": [jwt.public_jwk(key.public_key(), kid)]})
