"""Handlers of the minting and profile commands. Each takes the argparse Namespace, returns an exit code."""

import json
import os
import sys
import time

from credhelper import broker
from credhelper.errors import ProfileError, UsageError
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
        raise UsageError("--source goes with --impersonate-service-account",
                         hint="set source = FILE in the profile instead")
    return config, config.resolve(name)


def cache_for(config, args):
    if getattr(args, "no_cache", False):
        return None
    from credhelper.cache import TokenCache

    return TokenCache.for_config(config)


def format_token(token, fmt, now=None):
    now = time.time() if now is None else now
    if fmt == "bare":
        return token.value
    if fmt == "header":
        return f"Authorization: Bearer {token.value}"
    if fmt == "env":
        if token.kind == ACCESS_TOKEN:
            names = ("CLOUDSDK_AUTH_ACCESS_TOKEN", "GOOGLE_OAUTH_ACCESS_TOKEN")
        else:
            names = ("CREDHELPER_ID_TOKEN",) if token.kind == ID_TOKEN else ("CREDHELPER_JWT",)
        import shlex

        return "\n".join(f"export {n}={shlex.quote(token.value)}" for n in names)
    data = {"token": token.value, token.kind: token.value, "token_type": token.token_type,
            "expires_in": max(token.expires_in(now), 0), "expiry": token.expiry_rfc3339()}
    return json.dumps(data)


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


def sign_jwt(args):
    try:
        if args.claims == "-":
            claims = json.load(sys.stdin)
        else:
            with open(args.claims, encoding="utf-8") as f:
                claims = json.load(f)
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
    if profile.source == "metadata":
        return f"metadata server ({profile.metadata_host or 'metadata.google.internal'})"
    path = profile.source
    if profile.source == "adc":
        from credhelper.source import adc_path

        path = adc_path()
        if path is None:
            return "adc: no ADC file, so the metadata server"
    try:
        with open(path, encoding="utf-8") as f:
            info = json.load(f)
        from credhelper.source import principal_of

        kind, who = info.get("type"), principal_of(info) or "(principal known to the server only)"
    except (OSError, ValueError, AttributeError, RecursionError):
        return f"{path} (unreadable)"
    prefix = "adc: " if profile.source == "adc" else ""
    return f"{prefix}{kind} {who} ({path})"


def profiles_show(args):
    config = load_config(getattr(args, "config", None))
    name = selected_profile_name(args.name)
    sys.stdout.write("\n".join(describe_profile(config.resolve(name))) + "\n")
    return 0


def cache_list(args):
    from credhelper import cache

    return cache.cache_list_command(args)


def cache_clear(args):
    from credhelper import cache

    return cache.cache_clear_command(args)


def demo(args):
    from credhelper import demo as demo_module

    return demo_module.run(args)
