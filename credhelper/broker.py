"""get_token(profile, kind): cache -> chain -> cache. The only place that knows the order.

The cache is a decorator around minting (as in aws-vault): serve a cached token while more
than the refresh margin remains; otherwise take the key's lock, look again (another process
may have minted meanwhile), mint, store. google-auth, requests and keyring are imported only
when a mint is needed, so a hit costs little more than starting Python.
"""

import os
import sys
import time

from credhelper.errors import SourceError, UpstreamError, UsageError
from credhelper.profile import DEFAULT_SCOPES
from credhelper.token import ACCESS_TOKEN, ID_TOKEN, JWT, KINDS, MAX_EXPIRY, Token, checked_expiry

SOURCE = "source"  # cache kind of a source credential's own access token
DEFAULT_DEADLINE_SECS = 30.0  # for everything one command does upstream, waiting for the cache lock included


def _stderr_warn(message):
    sys.stderr.write(f"credhelper: warning: {message}\n")


def get_token(profile, kind, *, cache=None, audience=None, include_email=None, claims=None, scopes=None,
              lifetime_secs=None, refresh=False, now=None, request=None, warn=_stderr_warn):
    """Return a Token of `kind` for the profile, from the cache when one is fresh enough."""
    if kind not in KINDS:
        raise ValueError(kind)
    params = token_params(profile, kind, audience, include_email, claims, scopes, lifetime_secs)
    mint = lambda req: _mint(profile, kind, params, cache, req, now)  # noqa: E731
    return _cached(profile, kind, params, cache, refresh, now, request, warn, mint)


def token_params(profile, kind, audience, include_email, claims, scopes, lifetime_secs):
    if kind == ID_TOKEN:
        audience = audience or profile.audience
        if not audience:
            raise UsageError(f"profile '{profile.name}': an ID token needs an audience",
                             hint="pass --audience URL, or set audience = URL in the profile")
        return {"audience": audience,
                "include_email": profile.include_email if include_email is None else bool(include_email)}
    if kind == JWT:
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
    return {"scopes": tuple(scopes or profile.scopes), "lifetime_secs": int(lifetime_secs or profile.lifetime_secs)}


def _cached(profile, kind, params, cache, refresh, now, request, warn, mint):
    if cache is None:
        return mint(request or _new_request())
    from credhelper.cache import cache_key

    key = cache_key(profile, kind, **params)
    margin = profile.refresh_margin_secs
    if not refresh:
        hit = cache.get(key, margin, now=now)
        if hit is not None:
            return hit
    from credhelper.cache import LockDeadlineExceeded

    # the command's deadline covers waiting for the lock too; the transport (google-auth and requests,
    # 0.1 s of imports) is made only once this process is the one to mint
    remaining = getattr(request, "remaining", None)
    deadline = time.monotonic() + (remaining() if remaining else deadline_from_env())
    try:
        with cache.lock(key, timeout_secs=deadline - time.monotonic()):
            if not refresh:
                hit = cache.get(key, margin, now=now)
                if hit is not None:
                    return hit
            try:
                token = mint(request or _new_request(deadline - time.monotonic()))
            except (UpstreamError, SourceError) as exc:
                return _stale_or_raise(cache, key, now, warn, exc)
            cache.put(key, token, _meta(profile, kind, params))
            return token
    except LockDeadlineExceeded as exc:  # another process is (slowly) minting it: its answer, or a valid one
        hit = None if refresh else cache.get(key, margin, now=now)
        return hit or _stale_or_raise(cache, key, now, warn, exc)


def _stale_or_raise(cache, key, now, warn, exc):
    """The cached token when it is still valid (only inside the margin), with a warning; else raise exc."""
    stale = cache.get(key, 0, now=now)
    if stale is None:
        raise exc
    warn(f"refresh failed ({exc.message}); serving the cached token, valid for "
         f"{stale.expires_in(now)} s more")
    return stale


def _meta(profile, kind, params):
    meta = {"profile": profile.name, "kind": kind, "target": profile.target or "(source)"}
    if "scopes" in params:
        meta["scopes"] = list(params["scopes"])
    if "audience" in params:
        meta["audience"] = params["audience"]
    return meta


def _new_request(deadline_secs=None):
    from credhelper import transport

    return transport.Request(deadline_secs=None if deadline_secs is None else max(deadline_secs, 0.1))


def deadline_from_env(env=os.environ):
    """The command's deadline in seconds: $CREDHELPER_DEADLINE_SECS, default 30, at least 0.1."""
    try:
        secs = float(env.get("CREDHELPER_DEADLINE_SECS", DEFAULT_DEADLINE_SECS))
    except ValueError:
        secs = DEFAULT_DEADLINE_SECS
    return max(secs, 0.1)


def source_token(profile, cache, request, now=None, refresh=False, warn=_stderr_warn):
    """The access token the chain starts from: the source credential's own, or another profile's."""
    if profile.source_profile is not None:
        return get_token(profile.source_profile, ACCESS_TOKEN, cache=cache, now=now, request=request, warn=warn), None
    from credhelper import source as sources

    scopes = DEFAULT_SCOPES if profile.target else profile.scopes
    src_profile = source_only(profile, scopes)
    src = sources.load_source(src_profile)
    token = _cached(src_profile, SOURCE, {"scopes": scopes}, cache, refresh, now, request, warn,
                    lambda req: sources.refresh_access_token(src, req))
    return token, src


def source_only(profile, scopes):
    """The profile stripped to what determines its source token (so profiles sharing a source share it)."""
    return profile.replace(name=f"{profile.name} (source)", delegates=(), target=None,
                               scopes=tuple(scopes), audience=None, include_email=False, access_boundary=None,
                               lifetime_secs=3600)


def _mint(profile, kind, params, cache, request, now):
    from credhelper import chain, source as sources

    src_token, src = source_token(profile, cache, request, now)
    if src is None:  # profile: source; describe it as the other profile's target
        src = sources.Source("profile", None, profile.source_profile.target, path=None)
    if not profile.target:
        token = _mint_without_target(profile, kind, params, src, src_token, request, now)
    else:
        token = chain.mint(request, profile, src, src_token, kind, now=now, **params)
    if profile.access_boundary and kind == ACCESS_TOKEN:
        from credhelper import downscope

        token = downscope.downscope(request, profile, token)
    return token


def _mint_without_target(profile, kind, params, src, src_token, request, now):
    from credhelper import source as sources

    if kind == ACCESS_TOKEN:
        return src_token
    if src.credentials is None:  # profile: source without a target of its own: use that profile
        return get_token(profile.source_profile, kind, cache=None, request=request, now=now, **params)
    if kind == ID_TOKEN:
        return sources.mint_own_id_token(src, params["audience"], request, profile)
    if src.kind == "service_account":
        return _sign_locally(src, params["claims"], now)
    raise UsageError(f"profile '{profile.name}' has no target, and a {src.kind} source cannot sign JWTs",
                     hint="set target = SERVICE_ACCOUNT to sign through the IAM Credentials API")


def _sign_locally(src, claims, now):
    from google.auth import crypt, jwt

    signer = crypt.RSASigner.from_service_account_info(src.info)
    value = jwt.encode(signer, claims).decode()
    exp = claims.get("exp")
    return Token(JWT, value, checked_expiry(exp) if exp else (now or time.time()) + 3600)
