"""get_token(profile, kind): cache -> chain -> cache. The only place that knows the order.

The cache is wrapped around minting (cache.CachedMinter, as aws-vault's CachedSessionProvider):
serve a cached token while more than the refresh margin remains; otherwise take the key's lock,
look again, mint, store. A target token is minted from the source's own access token, itself
cached under a key without the profile's name: profiles that share a source (same credentials
content, scopes and endpoints) share its token, so N profiles on one key file cost one source
refresh, not N. google-auth, requests and keyring are imported only when a mint is needed.
"""

import sys
import time

from credhelper.cache import NULL_CACHE, CachedMinter, cache_key, key_of
from credhelper.deadline import deadline_from_env
from credhelper.kinds import capped, kind_of
from credhelper.profile import DEFAULT_SCOPES
from credhelper.errors import UpstreamError
from credhelper.token import ACCESS_TOKEN, ID_TOKEN, JWT, is_token_value

SOURCE = "source"  # cache kind of a source credential's own access token
SOURCE_LIFETIME_SECS = 3600  # what Google's token endpoints, STS and metadata servers grant a source
SHARED_SOURCE_LABEL = "(source)"  # the index's profile column for a source token: profiles share it


def _stderr_warn(message):
    sys.stderr.write(f"credhelper: warning: {message}\n")


def get_token(profile, kind, *, cache=None, audience=None, include_email=None, claims=None, scopes=None,
              lifetime_secs=None, refresh=False, now=None, request=None, warn=_stderr_warn):
    """Return a Token of `kind` for the profile, from the cache when one is fresh enough.

    cache None is the null cache. Kinds that are not cached (signed JWTs) always mint.
    """
    record = kind_of(kind)
    params = token_params(profile, kind, audience, include_email, claims, scopes, lifetime_secs)
    cache = NULL_CACHE if cache is None else cache
    own = cache if record.cached else NULL_CACHE  # an uncached kind still starts from the cached source token
    key = None if own is NULL_CACHE else cache_key(profile, kind, **params)
    minter = CachedMinter(own, key, lambda req: _mint(profile, record, params, cache, req, now),
                          _meta(profile, kind, params), profile.refresh_margin_secs, _new_request,
                          deadline_from_env(), warn, now)
    return minter.get(request, refresh)


def token_params(profile, kind, audience=None, include_email=None, claims=None, scopes=None, lifetime_secs=None):
    """The checked request parameters of a kind (the cache key's input), defaults from the profile."""
    return kind_of(kind).params(profile, audience=audience, include_email=include_email, claims=claims,
                                scopes=scopes, lifetime_secs=lifetime_secs)


def forget(profile, kind, cache, **params):
    """Drop the cached token of this kind for the profile (git erase, docker erase); quiet if absent."""
    if cache is None or cache is NULL_CACHE:
        return False
    key = cache_key(profile, kind, **token_params(profile, kind, **params))
    with cache.lock(key):
        cache.delete(key)
    return True


def _meta(profile, kind, params):
    meta = {"profile": profile.name, "kind": kind, "target": profile.target or "(source)"}
    if "scopes" in params:
        meta["scopes"] = list(params["scopes"])
    if "audience" in params:
        meta["audience"] = params["audience"]
    return meta


def _new_request(deadline_secs=None):
    from credhelper import transport

    # what is left of the command's deadline, in tenths: messages say "the 30 s deadline", not 29.9995
    return transport.Request(deadline_secs=None if deadline_secs is None else max(round(deadline_secs, 1), 0.1))


# -- the source token ------------------------------------------------------------------------------

def source_scopes(profile):
    """A chain's source token needs cloud-platform (to call IAM); without a target it is the token served."""
    return DEFAULT_SCOPES if profile.target else profile.scopes


def source_only(profile, scopes):
    """The profile stripped to what determines its source token: profiles sharing a source share it."""
    return profile.replace(name=None, delegates=(), target=None, scopes=tuple(scopes), audience=None,
                           include_email=False, access_boundary=None, lifetime_secs=SOURCE_LIFETIME_SECS)


def source_key(profile):
    """The cache key of the profile's source token (None for source = profile:NAME: that profile's own)."""
    if profile.source_profile is not None:
        return None
    scopes = tuple(source_scopes(profile))
    return key_of(None, source_only(profile, scopes), SOURCE, {"scopes": scopes})


def source_token(profile, cache, request, now=None, refresh=False, warn=_stderr_warn):
    """(the access token the chain starts from, the loaded source.Source): the source credential's own
    token (cached under a key every profile with this source shares), or another profile's token."""
    from credhelper import source as sources

    if profile.source_profile is not None:
        token = get_token(profile.source_profile, ACCESS_TOKEN, cache=cache, now=now, request=request, warn=warn)
        return token, sources.profile_source(profile.source_profile)
    scopes = tuple(source_scopes(profile))
    src = sources.load_source(source_only(profile, scopes))
    cache = NULL_CACHE if cache is None else cache
    key = None if cache is NULL_CACHE else source_key(profile)
    meta = {"profile": SHARED_SOURCE_LABEL, "kind": SOURCE, "target": src.principal or src.kind,
            "scopes": list(scopes)}

    def mint(req):
        requested_at = _now(now)
        return capped(_checked(sources.refresh_access_token(src, req), src.describe()), requested_at,
                      SOURCE_LIFETIME_SECS)

    minter = CachedMinter(cache, key, mint, meta, profile.refresh_margin_secs, _new_request,
                          deadline_from_env(), warn, now)
    return minter.get(request, refresh), src


# -- minting ---------------------------------------------------------------------------------------

def _mint(profile, record, params, cache, request, now):
    from credhelper import chain

    requested_at = _now(now)
    if not profile.target and record.name != ACCESS_TOKEN:
        token = _mint_without_target(profile, record, params, request, now)
    else:
        src_token, src = source_token(profile, cache, request, now)
        if not profile.target:
            token = src_token
        else:
            token = chain.mint(request, profile, src, src_token, record, params, now=now)
        if profile.access_boundary and record.name == ACCESS_TOKEN:
            from credhelper import downscope

            token = downscope.downscope(request, profile, token)
    return capped(_checked(token, f"profile '{profile.name}'"), requested_at, record.lifetime_secs(params))


def _checked(token, who):
    """Every minted token, whatever answered it: a value that cannot inject lines or headers (issue 12)."""
    if not is_token_value(token.value):
        raise UpstreamError(f"{who}: upstream answered a {token.kind} with characters a token cannot have "
                            "(spaces, line breaks or non-ASCII); refused, not passed on",
                            hint="check the profile's endpoints: a genuine Google endpoint never does this")
    return token


def _mint_without_target(profile, record, params, request, now):
    """An ID token or signed JWT of the source itself: no source access token is needed first."""
    from credhelper import source as sources

    if profile.source_profile is not None:  # profile: source without a target of its own: that profile's
        return get_token(profile.source_profile, record.name, cache=None, request=request, now=now, **params)
    src = sources.load_source(source_only(profile, source_scopes(profile)))
    if record.name == ID_TOKEN:
        return sources.mint_own_id_token(src, params["audience"], request)
    if record.name == JWT:
        return sources.sign_jwt(src, params["claims"], _now(now))
    raise ValueError(record.name)


def _now(now):
    return time.time() if now is None else now
