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
        why = data.get("error_description") or data.get("error") if isinstance(data, dict) else None
        raise UpstreamError(f"tokeninfo at {url} did not accept the token (HTTP {resp.status}"
                            + (f": {str(why)[:200]}" if why else "") + ")",
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
    if profile.source == "metadata":
        return "metadata server"
    try:
        from credhelper import source as sources

        src = sources.load_source(profile)
    except CredhelperError:
        return profile.source
    return src.principal or (f"{src.kind} ({src.path})" if src.path else src.kind)


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
    if config.exists:
        mode = _mode(config.path)
        if mode is not None and mode & 0o022:
            report.warn(f"{config.path} is writable by other users (anyone who can edit it chooses your identity)",
                        f"chmod 600 {config.path}")
        else:
            report.ok(f"{config.path} is writable by you only")
    for p in _profiles_in_chain(profile):
        if p.source_kind == "file":
            mode = _mode(p.source)
            if mode is not None and mode & 0o077:
                report.warn(f"credentials file {p.source} is readable or writable by other users",
                            f"chmod 600 {p.source}")
            else:
                report.ok(f"credentials file {p.source} is private (mode {oct(mode or 0)[2:]})")
        if p.access_boundary and "=" not in p.access_boundary:
            try:
                from credhelper import downscope

                rules = downscope.load_rules(p.access_boundary)
                report.ok(f"access boundary file {p.access_boundary}: {len(rules)} rule(s)")
            except ProfileError as exc:
                report.error(exc, "access boundary")


def _profiles_in_chain(profile):
    while profile is not None:
        yield profile
        profile = profile.source_profile


def _mode(path):
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None


def _check_stages(profile, report):
    """source, each hop, the boundary, the final token; False when a stage failed (later ones are not run)."""
    from credhelper import broker, transport

    request = transport.Request()
    try:
        src_token, src = broker.source_token(profile, None, request)
    except CredhelperError as exc:
        report.error(exc, "source credential")
        return False
    if src is None:  # source = profile:NAME: its token is that profile's target's
        from credhelper.source import Source

        src = Source("profile", None, profile.source_profile.target)
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
    from credhelper.token import ACCESS_TOKEN

    accounts = profile.chain()
    method = "generateAccessToken"
    for i, account in enumerate(accounts):
        last = i == len(accounts) - 1
        lifetime = profile.lifetime_secs if last else min(profile.lifetime_secs, 3600)
        body = {"scope": list(profile.scopes), "lifetime": f"{lifetime}s"}
        caller = accounts[i - 1] if i else (src.principal or "the source credential")
        hop = f"hop {i + 1} of {len(accounts)}: {caller} -> {account}"
        hop_profile = profile.replace(delegates=accounts[:i], target=account, access_boundary=None)
        try:
            status, data, url = chain._call(request, profile, src_token, account, accounts[:i], method, body)
            if status == 200 and data is not None:
                token = chain._token_from(ACCESS_TOKEN, method, data, url, None, None)
                report.ok(f"{hop}: {method} allowed")
                continue
            if status == 403:
                permission = chain.PERMISSIONS[method]
                report.fail(f"hop {i + 1} of {len(accounts)}: {caller} cannot impersonate {account}: "
                            f"permission {permission} denied" + _google_message(data, permission),
                            _grant_command(account, f"serviceAccount:{caller}" if i else src.member))
                return None
            raise chain._denial(request, hop_profile, src, src_token, method, body, status, data, url)
        except CredhelperError as exc:
            report.error(exc, hop)
            return None
    return token


def _google_message(data, permission):
    """Google's own words, when they say more than that the permission was denied."""
    err = (data or {}).get("error")
    message = str(err.get("message") or "") if isinstance(err, dict) else ""
    return f" ({message[:200]})" if message and permission not in message else ""


def _grant_command(account, member):
    from credhelper.chain import TOKEN_CREATOR, _project_of

    project = _project_of(account)
    return (f"gcloud iam service-accounts add-iam-policy-binding {account} --member={member or 'MEMBER'} "
            f"--role={TOKEN_CREATOR}" + (f" --project={project}" if project else ""))


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
