"""credhelper doctor and whoami: what a profile is, whether each stage of it works, and how to fix what does not.

doctor prints one line per check, "ok", "warn" or "FAIL" first, and under each failure the fix
(for a denied hop, the gcloud command that grants the missing role). It bypasses the token
cache so every stage is really exercised. whoami asks tokeninfo who the profile's token belongs
to. Neither ever prints a token: tokeninfo gets it in a POST body, not in the URL.
"""

import json
import os
import stat
import sys
import time
import urllib.parse

from credhelper.errors import EXIT_AUTH, EXIT_OK, EXIT_PROFILE, CredhelperError, ProfileError, UpstreamError

GOOGLE_TOKENINFO_URL = "https://www.googleapis.com/oauth2/v3/tokeninfo"


# -- tokeninfo -------------------------------------------------------------------------------------

def tokeninfo_url(profile):
    while profile.source_profile is not None and not profile.token_endpoint:
        profile = profile.source_profile
    if profile.token_endpoint:
        parts = urllib.parse.urlsplit(profile.token_endpoint)
        return f"{parts.scheme}://{parts.netloc}/oauth2/v3/tokeninfo"
    return GOOGLE_TOKENINFO_URL


def tokeninfo(request, profile, token):
    """What Google knows about an access token: email, scope, exp. The token goes in the body."""
    import google.auth.exceptions

    url = tokeninfo_url(profile)
    try:
        resp = request(url, method="POST", body=urllib.parse.urlencode({"access_token": token.value}).encode(),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    except google.auth.exceptions.TransportError:
        raise UpstreamError(f"tokeninfo at {url} unreachable", hint="check the network, or the profile's token_endpoint") from None
    try:
        data = json.loads(resp.data.decode("utf-8"))
    except (ValueError, RecursionError):
        data = None
    if resp.status != 200 or not isinstance(data, dict):
        from credhelper.googleerrors import error_text

        why = error_text(data, (token.value,))  # it may quote the token it was sent
        raise UpstreamError(f"tokeninfo at {url} did not accept the token (HTTP {resp.status}"
                            + (f": {why}" if why else "") + ")",
                            hint="mint a fresh one with: credhelper print-access-token --refresh")
    return data


def describe_info(info, now=None):
    """tokeninfo fields as (label, value) pairs."""
    now = time.time() if now is None else now
    rows = [("email", info.get("email") or f"(none; subject {info.get('sub') or info.get('azp') or '?'})"),
            ("scopes", ", ".join((info.get("scope") or "").split()) or "(none)")]
    try:
        exp = float(info["exp"])
        rows.append(("expiry", f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(exp))} (in {int(exp - now)} s)"))
    except (KeyError, TypeError, ValueError):
        rows.append(("expiry", "(unknown)"))
    return rows


def chain_label(profile):
    """source -> delegates -> target, naming the source's principal when its file names one."""
    if profile.source_profile is not None:
        head = f"[profile {profile.source_profile.name}: {chain_label(profile.source_profile)}]"
    else:
        head = _source_principal(profile)
    return " -> ".join([head, *profile.chain()])


def _source_principal(profile):
    from credhelper.credentials import source_info

    try:
        info = source_info(profile)
    except CredhelperError:
        return profile.source
    if info.origin == "metadata":
        return f"metadata server ({info.metadata_host})"
    return info.principal or f"{info.type} ({info.path})"


# -- whoami ------------------------------------------------------------------------------------------

def whoami(args):
    from credhelper import broker, transport
    from credhelper.commands import cache_for, resolve
    from credhelper.token import ACCESS_TOKEN

    config, profile = resolve(args)
    request = transport.Request()
    token = broker.get_token(profile, ACCESS_TOKEN, cache=cache_for(config, args),
                             refresh=getattr(args, "refresh", False), request=request)
    info = tokeninfo(request, profile, token)
    rows = [*describe_info(info), ("chain", chain_label(profile)), ("profile", profile.name)]
    if profile.access_boundary:
        rows.append(("boundary", profile.access_boundary))
    width = max(len(label) for label, _ in rows) + 2
    sys.stdout.write("".join(f"{label + ':':<{width}}{value}\n" for label, value in rows))
    return EXIT_OK


# -- doctor ------------------------------------------------------------------------------------------

class Report:
    """Collects and prints check lines; remembers whether anything failed."""

    def __init__(self, out=sys.stdout):
        self.out = out
        self.failed = 0
        self.profile_broken = False  # a ProfileError was reported: exit 3, not 1

    def ok(self, message):
        self._line("ok", message)

    def warn(self, message, fix=None):
        self._line("warn", message, fix)

    def fail(self, message, fix=None):
        self.failed += 1
        self._line("FAIL", message, fix)

    def error(self, exc, what):
        """A CredhelperError as a failed check: its message, and its hint as the fix."""
        self.profile_broken |= isinstance(exc, ProfileError)
        self.fail(f"{what}: {exc.message}", exc.hint)

    def _line(self, status, message, fix=None):
        self.out.write(f"{status:<5} {message}\n")
        if fix:
            self.out.write(f"      fix: {fix}\n")
        self.out.flush()


def doctor(args):
    from credhelper.commands import resolve

    report = Report()
    try:
        config, profile = _check_profile(args, report, resolve)
    except ProfileError as exc:
        report.error(exc, "profile")
        return EXIT_PROFILE
    _check_permissions(config, profile, report)
    _check_stages(profile, report)
    _check_cache(config, report)
    if report.failed:
        report.out.write(f"{report.failed} check(s) failed\n")
        return EXIT_PROFILE if report.profile_broken else EXIT_AUTH
    return EXIT_OK


def _check_profile(args, report, resolve):
    from credhelper.profile import load_config

    config = load_config(getattr(args, "config", None))
    if config.exists:
        report.ok(f"profile file {config.path} parses ({len(config.sections)} profile(s))")
    else:
        report.warn(f"no profile file at {config.path}; the default profile is plain ADC",
                    "create it: see credhelper-profiles(5)")
    config, profile = resolve(args)
    report.ok(f"profile '{profile.name}' resolves: {chain_label(profile)}")
    return config, profile


def _check_permissions(config, profile, report):
    """The profile file and every credentials file must be the user's (or root's) and not writable by others."""
    from credhelper.credentials import check_trusted, source_info

    if config.exists:
        _check_file(config.path, "profile file", report, check_trusted)
    for p in _profiles_in_chain(profile):
        if p.source_profile is not None:
            continue
        try:
            info = source_info(p)
        except ProfileError as exc:
            report.error(exc, "credentials file")
            continue
        if info.path:
            _check_file(info.path, "credentials file", report, check_trusted, private=True)
        if p.access_boundary and "=" not in p.access_boundary:
            try:
                from credhelper import downscope

                rules = downscope.load_rules(p.access_boundary)
                report.ok(f"access boundary file {p.access_boundary}: {len(rules)} rule(s)")
            except ProfileError as exc:
                report.error(exc, "access boundary")


def _check_file(path, what, report, check_trusted, private=False):
    try:
        st = os.stat(path)
        check_trusted(path, st, what)
    except OSError as exc:
        report.fail(f"{what} {path}: {exc.strerror}")
        return
    except ProfileError as exc:
        report.error(exc, what)
        return
    mode = stat.S_IMODE(st.st_mode)
    if private and mode & 0o044:
        report.warn(f"{what} {path} is readable by other users (mode {mode:o})", f"chmod 600 {path}")
    else:
        report.ok(f"{what} {path} is yours and writable by you only (mode {mode:o})")


def _profiles_in_chain(profile):
    while profile is not None:
        yield profile
        profile = profile.source_profile


def _check_stages(profile, report):
    """source, each hop, the boundary, the final token; False when a stage failed (later ones are not run)."""
    from credhelper import broker, transport

    request = transport.Request()
    try:
        src_token, src = broker.source_token(profile, None, request)
    except CredhelperError as exc:
        report.error(exc, "source credential")
        return False
    who = src.describe() if src.kind != "profile" else f"profile {profile.source_profile.name} ({src.principal})"
    report.ok(f"source credential refreshes: {who}")
    token = src_token
    if profile.target:
        token = _check_hops(request, profile, src, src_token, report)
        if token is None:
            return False
    if profile.access_boundary:
        from credhelper import downscope

        try:
            downscope.downscope(request, profile, token)
            report.ok(f"access boundary: STS at {downscope.sts_url(profile)} downscoped the token")
        except CredhelperError as exc:
            report.error(exc, "access boundary")
            return False
    try:
        info = tokeninfo(request, profile, token)
    except CredhelperError as exc:
        report.error(exc, "final token")
        return False
    fields = ", ".join(f"{label} {value}" for label, value in describe_info(info))
    expected = profile.target or src.principal
    if expected and info.get("email") and info["email"] != expected:
        report.fail(f"final token belongs to {info['email']}, not {expected}")
        return False
    report.ok(f"final token: {fields}")
    return True


def _check_hops(request, profile, src, src_token, report):
    """Mint through each prefix of the chain; the full chain's token, or None after the first denied hop."""
    from credhelper import chain
    from credhelper.kinds import KINDS
    from credhelper.token import ACCESS_TOKEN

    record = KINDS[ACCESS_TOKEN]
    accounts = profile.chain()
    token = None
    for i, account in enumerate(accounts):
        last = i == len(accounts) - 1
        params = {"scopes": tuple(profile.scopes),
                  "lifetime_secs": profile.lifetime_secs if last else min(profile.lifetime_secs, 3600)}
        caller, member = chain.hop_caller(profile, src, i, request)
        hop = f"hop {i + 1} of {len(accounts)}: {caller} -> {account}"
        hop_profile = profile.replace(delegates=accounts[:i], target=account, access_boundary=None)
        try:
            answer = chain.call(request, profile, src_token, account, accounts[:i], record, params)
            if answer.status == 200 and answer.data is not None:
                token = chain.token_from(record, answer, params, time.time())
                report.ok(f"{hop}: {record.iam_method} allowed")
                continue
            if answer.status == 403:
                report.fail(chain.denied_message(profile, i, caller, record.permission)
                            + _google_message(answer.data, record.permission, (src_token.value,)),
                            chain.denial_hint(account, member))
                return None
            raise chain.denial(request, hop_profile, src, src_token, record, params, answer)
        except CredhelperError as exc:
            report.error(exc, hop)
            return None
    return token


def _google_message(data, permission, secrets):
    """Google's own words, when they say more than that the permission was denied (none of `secrets`)."""
    from credhelper.googleerrors import google_error

    message = google_error(data, secrets)[1]
    return f" ({message[:200]})" if message and permission not in message else ""


def _check_cache(config, report):
    try:
        from credhelper.cache import TokenCache

        cache = TokenCache.for_config(config)
        name = cache.backend_name
    except CredhelperError as exc:
        report.error(exc, "cache")
        return
    if cache.backend == "keyring" and name == "file":
        report.warn("cache: no usable keyring; tokens are cached in files in the runtime directory",
                    "start a Secret Service (e.g. gnome-keyring-daemon), or set '[cache] backend = file' to say so")
    elif name == "none":
        report.warn("cache: disabled ([cache] backend = none); every command mints a new token")
    else:
        report.ok(f"cache: {name}")
