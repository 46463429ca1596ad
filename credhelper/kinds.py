"""Token kinds as records: everything that differs between an access token, an ID token and a signed JWT.

Each record holds the IAM Credentials method and the permission it needs, the parameter checks,
the request body, the response parsing, the lifetime the expiry is capped at, the output variable
names, and whether the kind is cached. The broker, chain, doctor and the commands look a kind up
here instead of asking "if kind == ...". A new kind is one record here plus one emulator route.

Light on purpose (standard library, errors and token only): the broker reads it on every cache hit.
"""

from collections import namedtuple

from credhelper.errors import UsageError
from credhelper.token import (ACCESS_TOKEN, ID_TOKEN, JWT, MAX_EXPIRY, Token, checked_expiry, is_token_value, jwt_expiry,
                              parse_time)

ID_TOKEN_LIFETIME_SECS = 3600  # Google's ID tokens live one hour
JWT_DEFAULT_LIFETIME_SECS = 3600


class TokenKind(namedtuple("TokenKind", "name iam_method permission cached env_names response_field "
                                        "params body token lifetime_secs")):
    """name: the Token.kind; iam_method/permission: the IAM Credentials call and what it needs;
    cached: whether minted tokens go to the cache; env_names: `--format env` variables;
    response_field: the field of a 200 answer holding the token;
    params(profile, **given) -> the request parameters, checked (UsageError), defaults from the profile;
    body(params) -> the IAM request body; token(value, data, params, requested_at) -> Token
    (ValueError/TypeError/KeyError on an unusable answer); lifetime_secs(params) -> the longest
    lifetime the request asked for: every expiry is capped at requested_at + this (issue 12.7).
    """

    __slots__ = ()

    def parse(self, data, params, requested_at):
        """The Token in a 200 answer of the IAM call (raises KeyError/TypeError/ValueError on a bad shape)."""
        value = data[self.response_field]
        if not is_token_value(value):
            raise TypeError("not a token: a string of visible ASCII")
        return self.token(value, data, params, requested_at)


# -- access tokens ---------------------------------------------------------------------------------

def _access_params(profile, scopes=None, lifetime_secs=None, **_):
    return {"scopes": tuple(scopes or profile.scopes), "lifetime_secs": int(lifetime_secs or profile.lifetime_secs)}


def _access_body(params):
    return {"scope": list(params["scopes"]), "lifetime": f"{params['lifetime_secs']}s"}


def _access_token(value, data, params, requested_at):
    return Token(ACCESS_TOKEN, value, parse_time(data["expireTime"]))


# -- ID tokens -------------------------------------------------------------------------------------

def _id_params(profile, audience=None, include_email=None, **_):
    audience = audience or profile.audience
    if not audience:
        raise UsageError(f"profile '{profile.name}': an ID token needs an audience",
                         hint="pass --audience URL, or set audience = URL in the profile")
    return {"audience": audience,
            "include_email": profile.include_email if include_email is None else bool(include_email)}


def _id_body(params):
    return {"audience": params["audience"], "includeEmail": bool(params["include_email"])}


def _id_token(value, data, params, requested_at):
    return Token(ID_TOKEN, value, jwt_expiry(value))


# -- signed JWTs -----------------------------------------------------------------------------------

def _jwt_params(profile, claims=None, **_):
    if not isinstance(claims, dict):
        raise UsageError("sign-jwt needs a JSON object of claims")
    for name in ("exp", "iat"):
        if name in claims:
            try:
                checked_expiry(claims[name])
            except ValueError:
                raise UsageError(f"sign-jwt: the {name} claim must be epoch seconds (a number from 0 "
                                 f"to {int(MAX_EXPIRY)})", hint=f'e.g. "{name}": 1900000000') from None
    return {"claims": claims}


def _jwt_body(params):
    import json  # minting a JWT only: not on a cache hit

    return {"payload": json.dumps(params["claims"], separators=(",", ":"))}


def jwt_expiry_of_claims(claims, requested_at):
    """A signed JWT expires when its exp claim says, else an hour after the request."""
    exp = claims.get("exp")
    return checked_expiry(exp) if exp else requested_at + JWT_DEFAULT_LIFETIME_SECS


def _jwt_token(value, data, params, requested_at):
    return Token(JWT, value, jwt_expiry_of_claims(params["claims"], requested_at))


def _jwt_lifetime(params):
    exp, iat = params["claims"].get("exp"), params["claims"].get("iat")
    if exp and iat:
        return max(0.0, checked_expiry(exp) - checked_expiry(iat))
    return None  # the claims fix the expiry themselves


KINDS = {
    ACCESS_TOKEN: TokenKind(ACCESS_TOKEN, "generateAccessToken", "iam.serviceAccounts.getAccessToken", True,
                            ("CLOUDSDK_AUTH_ACCESS_TOKEN", "GOOGLE_OAUTH_ACCESS_TOKEN"), "accessToken",
                            _access_params, _access_body, _access_token, lambda params: params["lifetime_secs"]),
    ID_TOKEN: TokenKind(ID_TOKEN, "generateIdToken", "iam.serviceAccounts.getOpenIdToken", True,
                        ("CREDHELPER_ID_TOKEN",), "token",
                        _id_params, _id_body, _id_token, lambda params: ID_TOKEN_LIFETIME_SECS),
    # Signed JWTs are not cached: their claims (iat, exp, often a nonce) differ on every call, so an
    # entry would never be hit again and would only fill `cache list` (issue 14.11).
    JWT: TokenKind(JWT, "signJwt", "iam.serviceAccounts.signJwt", False,
                   ("CREDHELPER_JWT",), "signedJwt",
                   _jwt_params, _jwt_body, _jwt_token, _jwt_lifetime),
}
BY_METHOD = {k.iam_method: k for k in KINDS.values()}


def kind_of(name):
    """The record of a kind name; ValueError for an unknown one."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown token kind {name!r}") from None


def capped(token, requested_at, lifetime_secs):
    """token with its expiry no later than requested_at + lifetime_secs (None: no cap)."""
    if lifetime_secs is None or token.expiry <= requested_at + lifetime_secs:
        return token
    return token._replace(expiry=requested_at + lifetime_secs)
