"""Handlers of the minting and profile commands. Each takes the argparse Namespace, returns an exit code."""

import os
import sys
import time

from credhelper import broker
from credhelper.errors import CredhelperError, ProfileError, UsageError
from credhelper.profile import load_config, profile_from_flags, selected_profile_name
from credhelper.token import ACCESS_TOKEN, ID_TOKEN, JWT


def resolve(args, env=os.environ):
    """(config, profile) from --config/--profile, or the gcloud --impersonate-service-account form."""
    config = load_config(getattr(args, "config", None), env)
    name = selected_profile_name(getattr(args, "profile", None), env)
    impersonate = getattr(args, "impersonate_service_account", None)
    if impersonate:
        base = config.resolve(name) if name in config.sections else None
        return config, profile_from_flags(impersonate, getattr(args, "source", None), base)
    if getattr(args, "source", None):
        if not config.exists:
            raise UsageError("--source goes with --impersonate-service-account",
                             hint="add --impersonate-service-account=TARGET_EMAIL, or write a profile file "
                                  f"({config.path}) with source = FILE")
        raise UsageError("--source goes with --impersonate-service-account",
                         hint="add --impersonate-service-account=TARGET_EMAIL, or set source = FILE in the profile")
    return config, config.resolve(name)


def cache_for(config, args):
    """The cache the profile file asks for; the null cache under --no-cache or [cache] backend = none."""
    from credhelper.cache import NULL_CACHE, TokenCache

    if getattr(args, "no_cache", False):
        return NULL_CACHE
    return TokenCache.for_config(config)


def format_token(token, fmt, now=None):
    now = time.time() if now is None else now
    if fmt == "bare":
        return token.value
    if fmt == "header":
        return f"Authorization: Bearer {token.value}"
    if fmt == "env":
        import shlex

        from credhelper.kinds import KINDS

        return "\n".join(f"export {n}={shlex.quote(token.value)}" for n in KINDS[token.kind].env_names)
    from credhelper import jsontext

    data = {"token": token.value, token.kind: token.value, "token_type": token.token_type,
            "expires_in": max(token.expires_in(now), 0), "expiry": token.expiry_rfc3339()}
    return jsontext.dumps(data)


def _print_token(args, kind, **params):
    config, profile = resolve(args)
    token = broker.get_token(profile, kind, cache=cache_for(config, args), refresh=args.refresh, **params)
    sys.stdout.write(format_token(token, args.format) + "\n")
    return 0


def print_access_token(args):
    lifetime = None
    if args.lifetime:
        from credhelper.profile import parse_duration

        lifetime = parse_duration(args.lifetime, where=("command line", "flags", "--lifetime", 0))
    scopes = tuple(s for s in (args.scopes or "").replace(" ", ",").split(",") if s) or None
    return _print_token(args, ACCESS_TOKEN, scopes=scopes, lifetime_secs=lifetime)


def print_identity_token(args):
    return _print_token(args, ID_TOKEN, audience=args.audience, include_email=args.include_email)


MAX_CLAIMS_BYTES = 1 << 16


def sign_jwt(args):
    try:
        if args.claims == "-":
            if sys.stdin is None:  # started with standard input closed
                raise UsageError("--claims -: standard input is closed", hint="pipe the claims in, or pass --claims FILE")
            data = sys.stdin.buffer.read(MAX_CLAIMS_BYTES + 1)
        else:
            with open(args.claims, "rb") as f:
                data = f.read(MAX_CLAIMS_BYTES + 1)  # bounded: --claims /dev/zero must not hang
        if len(data) > MAX_CLAIMS_BYTES:
            raise UsageError(f"--claims {args.claims}: larger than {MAX_CLAIMS_BYTES} bytes",
                             hint="write a JSON object of claims")
        import json  # sign-jwt mints every time: no hit to keep light

        claims = json.loads(data.decode("utf-8"))
    except OSError as exc:
        raise UsageError(f"--claims {args.claims}: {exc.strerror}") from None
    except (ValueError, RecursionError):
        raise UsageError(f"--claims {args.claims}: not valid JSON", hint="write a JSON object of claims") from None
    if not isinstance(claims, dict):
        raise UsageError(f"--claims {args.claims}: not a JSON object", hint='write e.g. {"aud": "...", "sub": "..."}')
    now = int(time.time())
    claims.setdefault("iat", now)
    claims.setdefault("exp", now + 3600)
    return _print_token(args, JWT, claims=claims)


def profiles_list(args):
    config = load_config(getattr(args, "config", None))
    if not config.exists:
        sys.stdout.write(f"no profile file at {config.path} (the default profile uses ADC)\n")
        return 0
    for name in config.profile_names():
        try:
            p = config.resolve(name)
            chain = " -> ".join([_source_label(p), *p.chain()])
            sys.stdout.write(f"{name}\t{chain}\n")
        except ProfileError as exc:
            sys.stdout.write(f"{name}\t(invalid: {exc.message})\n")
    return 0


def _source_label(profile):
    return profile.source if profile.source_kind != "file" else os.path.basename(profile.source)


def describe_profile(profile, indent=""):
    """The resolved chain as lines of text: never a secret."""
    lines = [f"{indent}profile:        {profile.name}"]
    if profile.source_profile is not None:
        lines.append(f"{indent}source:         profile {profile.source_profile.name}, whose chain is:")
        lines.extend(describe_profile(profile.source_profile, indent + "    "))
    else:
        lines.append(f"{indent}source:         {_describe_source(profile)}")
    lines.append(f"{indent}delegates:      {', '.join(profile.delegates) or '(none)'}")
    lines.append(f"{indent}target:         {profile.target or '(none: the source token itself)'}")
    lines.append(f"{indent}scopes:         {', '.join(profile.scopes)}")
    lines.append(f"{indent}lifetime:       {profile.lifetime_secs}s")
    lines.append(f"{indent}refresh margin: {profile.refresh_margin_secs}s")
    for key in ("audience", "include_email", "quota_project", "universe_domain", "access_boundary",
                "token_endpoint", "iam_endpoint", "sts_endpoint", "metadata_host"):
        value = getattr(profile, key)
        if value not in (None, False, "googleapis.com"):
            lines.append(f"{indent}{key + ':':<16}{value}")
    return lines


def _describe_source(profile):
    from credhelper.credentials import source_info

    try:
        info = source_info(profile)
    except ProfileError as exc:
        return f"{profile.source} (unusable: {exc.message})"
    if profile.source == "adc":
        return "adc: " + (info.describe() if info.origin != "metadata" else f"no ADC file, so the {info.describe()}")
    return info.describe()


def profiles_show(args):
    config = load_config(getattr(args, "config", None))
    name = selected_profile_name(args.name)
    sys.stdout.write("\n".join(describe_profile(config.resolve(name))) + "\n")
    return 0


def cache_list(args):
    """`credhelper cache list`: a table of cached tokens (never a token)."""
    cache = _cache_for_args(args)[1]
    rows = cache.entries()
    table = [("PROFILE", "KIND", "SCOPES/AUDIENCE", "EXPIRES", "BACKEND")]
    for r in rows:
        what = r.get("audience") or ",".join(r.get("scopes") or ()) or "-"
        table.append((str(r.get("profile", "?")), str(r.get("kind", "?")), what, r["expiry"], r["backend"]))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    for row in table:
        sys.stdout.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1] + "\n")
    if not rows:
        sys.stderr.write(f"credhelper: no cached tokens (new tokens go to: {cache.backend_name})\n")
    return 0


def cache_clear(args):
    """`credhelper cache clear [--profile P]`: remove cached tokens (P's own, and P's source token); says how many."""
    config, cache = _cache_for_args(args)
    name = getattr(args, "profile", None)
    keys = ()
    if name:
        try:
            keys = tuple(k for k in [broker.source_key(config.resolve(name))] if k)
        except CredhelperError:
            keys = ()  # a profile no longer in the file: its own entries only
    n = cache.clear(profile=name, keys=keys)
    if name and n == 0 and name not in config.sections:
        from credhelper.profile import close_matches

        close = close_matches(name, list(config.sections), n=1)
        raise ProfileError(f"{config.path}: no profile named {name!r}, and no cached tokens of one",
                           hint=f"did you mean {close[0]!r}?" if close else
                           f"profiles: {', '.join(config.sections) or 'none'} (see: credhelper cache list)")
    which = f" of profile {name!r} (its source token included)" if name else ""
    sys.stderr.write(f"credhelper: removed {n} cached token{'s' if n != 1 else ''}{which}\n")
    return 0


def _cache_for_args(args):
    from credhelper.cache import TokenCache

    config = load_config(getattr(args, "config", None))
    cache = TokenCache.for_config(config)
    if cache.backend == "none":  # list and clear still mean the stores a previous setting wrote
        cache = TokenCache(backend="keyring", lock_timeout_secs=cache.lock_timeout_secs)
    return config, cache


def demo(args):
    from credhelper import demo as demo_module

    return demo_module.run(args)
