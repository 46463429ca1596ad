"""Find and parse the profile file; resolve a profile (and profile: chains) into a frozen Profile.

Raw INI parsing is kept apart from resolution. Every error names the file, the section,
the key, the line and the fix. Light imports only: this runs on every cached call.
"""

import os
import sys
from collections import namedtuple

from credhelper.commandtable import protocol_profile_keys
from credhelper.credentials import CREDENTIAL_TYPES, is_safe_endpoint  # noqa: F401  (CREDENTIAL_TYPES re-exported)
from credhelper.errors import ProfileError

DEFAULT_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
DEFAULT_LIFETIME_SECS = 3600
MAX_LIFETIME_SECS = 43200
MIN_LIFETIME_SECS = 1
REFRESH_MARGIN_SECS = 300
DEFAULT_PROFILE = "default"
MAX_PROFILE_CHAIN = 32  # profiles whose source is another profile: no real setup comes near this

CORE_KEYS = (
    "source", "delegates", "target", "scopes", "lifetime", "audience", "include_email",
    "quota_project", "universe_domain", "token_endpoint", "iam_endpoint", "sts_endpoint",
    "metadata_host", "refresh_margin", "access_boundary", "project_number", "resourcemanager_endpoint",
)
# a protocol's own keys (e.g. aws_role_arn) are declared by its rows in the command table and kept raw
# on the Profile (Profile.setting); the protocol module checks them when it runs
PROTOCOL_KEYS = tuple(k for k in protocol_profile_keys() if k not in CORE_KEYS)
PROFILE_KEYS = CORE_KEYS + PROTOCOL_KEYS
CACHE_KEYS = ("backend", "lock_timeout")
CACHE_BACKENDS = ("keyring", "file", "none")
SECTIONS_HELP = "[default], [profile NAME], [cache], [git], [docker]"

# plain character sets, not regular expressions: compiling the email pattern alone cost 1 ms of every hit
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")
_ALNUM = _LETTERS | frozenset("0123456789")
_EMAIL_LOCAL = _ALNUM | frozenset("._%+-")
_EMAIL_HOST = _ALNUM | frozenset(".-")
_PROFILE_NAME = _ALNUM | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ_.@-")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


_PROFILE_FIELDS = (  # (name, default); name and source are required
    ("name", None), ("source", None),
    ("source_profile", None),  # the resolved Profile when source is profile:NAME
    ("delegates", ()), ("target", None), ("scopes", DEFAULT_SCOPES), ("lifetime_secs", DEFAULT_LIFETIME_SECS),
    ("audience", None), ("include_email", False), ("quota_project", None), ("universe_domain", "googleapis.com"),
    ("token_endpoint", None), ("iam_endpoint", None), ("sts_endpoint", None), ("metadata_host", None),
    ("refresh_margin_secs", REFRESH_MARGIN_SECS),
    ("access_boundary", None),  # a JSON file path, or "bucket=B, role=R[, condition=EXPR]"
    ("project_number", None),  # digits: the metadata server's numeric-project-id; not part of identity()
    ("resourcemanager_endpoint", None),  # where the metadata server looks the number up; not part of identity()
    # the protocols' own keys, raw: ((key, value, (path, section, key, line)), ...) for those set; not part
    # of identity() (a protocol that caches puts what it uses into its own cache key)
    ("settings", ()),
    ("config_path", None),  # where it was defined: for messages only, not part of identity()
)


class Profile(namedtuple("Profile", [f for f, _ in _PROFILE_FIELDS], defaults=[d for _, d in _PROFILE_FIELDS[2:]])):
    """A resolved profile: everything that determines the tokens it mints.

    source: "adc", "metadata", an absolute credentials file path, or "profile:NAME". Immutable;
    replace() returns a changed copy. (A namedtuple: `dataclasses` would cost every cache hit
    the import of `inspect`.)
    """

    __slots__ = ()

    def replace(self, **changes):
        return self._replace(**changes)

    @property
    def source_kind(self):
        if self.source in ("adc", "metadata"):
            return self.source
        if self.source.startswith("profile:"):
            return "profile"
        return "file"

    def setting(self, key):
        """A protocol's own key (PROTOCOL_KEYS) as written in the profile, stripped; None when not set."""
        return next((value for k, value, _ in self.settings if k == key), None)

    def setting_where(self, key):
        """(path, section, key, line) of a protocol's own key, for error_at()."""
        section = "default" if self.name == "default" else f"profile {self.name}"
        return next((where for k, _, where in self.settings if k == key), (self.config_path, section, key, 0))

    def chain(self):
        """The accounts a token passes through after the source: delegates, then target."""
        return (*self.delegates, self.target) if self.target else ()

    def identity(self):
        """Everything that determines a token, as plain data (no secrets): the cache key's input."""
        data = {k: getattr(self, k) for k in (
            "source", "delegates", "target", "scopes", "lifetime_secs", "include_email", "quota_project",
            "universe_domain", "token_endpoint", "iam_endpoint", "sts_endpoint", "metadata_host",
            "access_boundary")}
        data["delegates"] = list(self.delegates)
        data["scopes"] = list(self.scopes)
        if self.source_profile is not None:
            data["source"] = {"profile": self.source_profile.name, **self.source_profile.identity()}
        return data


class Config(namedtuple("Config", "path exists sections cache git docker lines")):
    """A parsed profile file: raw sections plus where each key came from.

    sections: profile name -> {key: (value, line)}; cache: key -> (value, line); git: [(pattern,
    profile, line)] in file order; docker: registry host -> (profile, line); lines: section -> line.
    From a snapshot, sections and lines are snapshot.Deferred mappings: read-only, a profile's items
    (a section's line) unmarshalled when asked for.
    """

    __slots__ = ()

    def profile_names(self):
        return list(self.sections)

    def cache_backend(self):
        value, line = self.cache.get("backend", ("keyring", 0))
        value = value.strip().lower()
        if value not in CACHE_BACKENDS:
            raise _error(self.path, "cache", "backend", line,
                         f"unknown cache backend {value!r}", f"use one of: {', '.join(CACHE_BACKENDS)}")
        return value

    def lock_timeout_secs(self):
        value, line = self.cache.get("lock_timeout", ("30", 0))
        return parse_duration(value, where=(self.path, "cache", "lock_timeout", line), maximum=3600)

    def resolve(self, name=None):
        name = name or DEFAULT_PROFILE
        return _resolve(self, name, ())


def default_config_path(env=os.environ):
    if env.get("CREDHELPER_CONFIG"):
        return env["CREDHELPER_CONFIG"]
    return os.path.join(user_dir("config", env), "profiles.ini")


def user_dir(kind, env=os.environ):
    """platformdirs' user "config" or "runtime" directory for credhelper (not created).

    On Linux with the XDG variable set, the same path is computed here without importing
    platformdirs, which costs a cache hit several milliseconds.
    """
    var = {"config": "XDG_CONFIG_HOME", "runtime": "XDG_RUNTIME_DIR"}[kind]
    if sys.platform.startswith("linux") and env.get(var, "").strip() and env is os.environ:
        return os.path.join(env[var], "credhelper")
    import warnings

    import platformdirs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # RuntimeDirWarning when XDG_RUNTIME_DIR is unset: the fallback is fine
        return getattr(platformdirs, f"user_{kind}_dir")("credhelper")


def close_matches(word, possibilities, **kwargs):
    import difflib  # only on the error path

    return difflib.get_close_matches(word, possibilities, **kwargs)


def selected_profile_name(explicit=None, env=os.environ, mapped=None):
    """The profile selection order, the one place it is decided:
    1. the explicit --profile flag; 2. $CREDHELPER_PROFILE; 3. `mapped`, the profile file's mapping
    for the asker ([git] for git, [docker] for docker); 4. default."""
    return explicit or env.get("CREDHELPER_PROFILE") or mapped or DEFAULT_PROFILE


def load_config(path=None, env=os.environ):
    """Parse the profile file. A missing file is an empty config unless it was named explicitly.

    The file must be the user's (or root's) and not writable by group or others: whoever can edit
    it chooses the identity and the endpoints that receive the user's credentials (exit 3 otherwise).
    """
    from credhelper.credentials import read_trusted_file

    explicit = path is not None or bool(env.get("CREDHELPER_CONFIG"))
    path = os.path.abspath(os.path.expanduser(path or default_config_path(env)))
    if not explicit and not os.path.lexists(path):
        return Config(path, False, {}, {}, [], {}, {})
    if not os.path.exists(path):
        raise ProfileError(f"{path}: profile file not found",
                           hint="create it (see credhelper-profiles(5)) or fix --config / $CREDHELPER_CONFIG")
    return _parse_remembered(read_trusted_file(path, "profile file"), path)


def _decoded(data, path):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: cannot read profile file (not UTF-8)",
                           hint="make it a readable UTF-8 text file") from None


def _parse_remembered(data, path):
    """parse_config of the file's bytes, from the marshal snapshot of the last parse of the same bytes when
    there is one (credhelper.snapshot): a hit then neither imports configparser nor parses the file again,
    and of the profiles it unmarshals only those it resolves (the sections are deferred)."""
    from credhelper import __version__, snapshot

    def parse():
        path_, exists, sections, cache, git, docker, lines = parse_config(_decoded(data, path), path)
        return path_, exists, snapshot.deferred(sections), cache, git, docker, snapshot.deferred(lines)

    try:
        parser = (__version__, os.stat(__file__).st_mtime_ns)  # a changed parser never gets an old parse
        runtime = user_dir("runtime")
    except OSError:  # e.g. platformdirs' fallback runtime directory planted by another user: just parse
        return parse_config(_decoded(data, path), path)
    remembered = snapshot.remember(runtime, "profiles", path, data, parse, parser)
    try:
        path_, exists, sections, cache, git, docker, lines = remembered
        return Config(path_, exists, snapshot.Deferred(sections), cache, git, docker, snapshot.Deferred(lines))
    except (TypeError, ValueError):  # not the shape parse() stores (a snapshot edited by hand): parse
        return parse_config(_decoded(data, path), path)


def parse_config(text, path="<profile file>"):
    """Parse profile-file text into a Config, checking sections and key names (values are checked on resolve)."""
    import configparser

    # "=" only: [git] and [docker] keys hold ":" (https://host, host:port)
    parser = configparser.RawConfigParser(strict=True, interpolation=None, inline_comment_prefixes=(";", "#"),
                                          delimiters=("=",),
                                          default_section="\x00none")
    parser.optionxform = str
    _check_headers(text, path)
    try:
        parser.read_string(text, source=path)
    except configparser.DuplicateSectionError as exc:
        raise ProfileError(f"{path}, line {exc.lineno}: section [{exc.section}] appears twice",
                           hint="merge the two sections") from None
    except configparser.DuplicateOptionError as exc:
        raise ProfileError(f"{path}, line {exc.lineno}: [{exc.section}] {exc.option} is set twice",
                           hint="keep one of the two lines") from None
    except configparser.MissingSectionHeaderError as exc:
        raise ProfileError(f"{path}, line {exc.lineno}: a key before any section header",
                           hint=f"start the file with a section: {SECTIONS_HELP}") from None
    except configparser.ParsingError as exc:
        lineno = exc.errors[0][0] if getattr(exc, "errors", None) else "?"
        raise ProfileError(f"{path}, line {lineno}: not a 'key = value' line",
                           hint="write 'key = value', or start the line with # to comment it out") from None
    except configparser.Error as exc:
        raise ProfileError(f"{path}: cannot parse ({type(exc).__name__})", hint="check the INI syntax") from None

    key_lines, section_lines = _line_numbers(text)
    sections, cache, git, docker = {}, {}, [], {}
    for section in parser.sections():
        items = {k: (v, key_lines.get((section, k), 0)) for k, v in parser.items(section)}
        line = section_lines.get(section, 0)
        if section == "default" or section.startswith("profile "):
            name = "default" if section == "default" else section[len("profile "):].strip()
            if not is_profile_name(name):
                raise ProfileError(f"{path}, line {line}: [{section}]: invalid profile name",
                                   hint="use letters, digits, '.', '_', '-' and '@' only, e.g. [profile deploy]")
            if name in sections:
                raise ProfileError(f"{path}, line {line}: profile {name!r} is defined twice",
                                   hint="merge the sections ([default] and [profile default] are the same profile)")
            _check_keys(path, section, items, PROFILE_KEYS)
            sections[name] = items
        elif section == "cache":
            _check_keys(path, section, items, CACHE_KEYS)
            cache = items
        elif section == "git":
            git = [(pattern, value.strip(), ln) for pattern, (value, ln) in items.items()]
        elif section == "docker":
            docker = {host.strip().lower(): (value.strip(), ln) for host, (value, ln) in items.items()}
        else:
            fix = f"did you mean [{_section_suggestion(section)}]?" if _section_suggestion(section) else \
                f"sections are {SECTIONS_HELP}"
            raise ProfileError(f"{path}, line {line}: unknown section [{section}]", hint=fix)
    return Config(path, True, sections, cache, git, docker, section_lines)


def _section_suggestion(section):
    """The section a mistyped header meant: [profiles deploy] -> profile deploy, [defualt] -> default."""
    first, _, rest = section.strip().partition(" ")
    rest = rest.strip()
    if rest:  # two words: a misspelt "profile NAME" (the name is kept as written)
        return f"profile {rest}" if close_matches(first.lower(), ["profile"], n=1) else None
    close = close_matches(section, ["default", "cache", "git", "docker"], n=1)
    return close[0] if close else f"profile {section}"


def _check_headers(text, path):
    """A line that opens a section header but does not close it: say so (configparser calls it a key)."""
    for number, raw in enumerate(text.split("\n"), 1):
        line = _without_comments(raw).strip()
        if line.startswith("[") and "]" not in line and raw[:1] not in (" ", "\t"):
            name = line[1:].strip()
            raise ProfileError(f"{path}, line {number}: section header {line!r} has no closing ']'",
                               hint=f"write [{name}]" if name else f"sections are {SECTIONS_HELP}")


def _line_numbers(text):
    """Map (section, key) and section to 1-based line numbers; configparser does not keep them.

    Reads the lines as configparser (set up as in parse_config) does, so a message names the line
    the parser meant: split at "\\n" only (not at \\v, \\f, \\x1c, \\u2028... as splitlines() would),
    comments cut, deeper-indented lines continuing a value, a header's name kept unstripped up
    to its last "]".
    """
    import configparser

    key_lines, section_lines = {}, {}
    section = key = None
    indent = 0
    for number, raw in enumerate(text.split("\n"), 1):
        value = _without_comments(raw).strip()
        if not value:
            continue
        level = len(raw) - len(raw.lstrip())
        if section is not None and key and level > indent:
            continue  # continues the value of `key`
        indent = level
        header = configparser.RawConfigParser.SECTCRE.match(value)
        if header:
            section, key = header.group("header"), None
            section_lines.setdefault(section, number)
        elif section is not None:
            key = value.split("=", 1)[0].rstrip()
            key_lines.setdefault((section, key), number)
    return key_lines, section_lines


def _without_comments(line):
    """The line as configparser keeps it: a comment line is empty; an inline ';' or '#' comment
    (one at the start or after whitespace) is cut, searching both prefixes in step as configparser does."""
    if line.strip().startswith(("#", ";")):
        return ""
    cut, found = None, {p: -1 for p in ";#"}
    while cut is None and found:
        following = {}
        for prefix, index in found.items():
            index = line.find(prefix, index + 1)
            if index == -1:
                continue
            following[prefix] = index
            if index == 0 or line[index - 1].isspace():
                cut = index if cut is None else min(cut, index)
        found = following
    return line[:cut]


def _check_keys(path, section, items, allowed):
    for key, (_, line) in items.items():
        if key not in allowed:
            close = close_matches(key, allowed, n=1, cutoff=0.6)
            fix = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(allowed)}"
            raise _error(path, section, key, line, "unknown key", fix)


def error_at(where, what, fix):
    """A ProfileError naming where = (path, section, key, line), what is wrong and the fix: for the checks
    a protocol module makes of its own keys (Profile.setting_where gives where)."""
    return _error(*where[:4], what, fix)


def _error(path, section, key, line, what, fix):
    where = f"{path}, line {line}" if line else path
    return ProfileError(f"{where}: [{section}] {key}: {what}", hint=fix)


def parse_duration(value, *, where, minimum=MIN_LIFETIME_SECS, maximum=MAX_LIFETIME_SECS):
    """'3600', '600s', '30m', '1h', '12h' -> seconds, within [minimum, maximum]."""
    text = str(value).strip().lower()
    unit = text[-1:] if text[-1:] in ("s", "m", "h") else ""
    number = text[:len(text) - len(unit)].rstrip()
    if not (number.isascii() and number.isdigit()):
        raise _error(*where[:4], f"{value!r} is not a duration", "write seconds (3600) or 30m, 1h, 12h")
    secs = int(number) * _DURATION_UNITS[unit]
    if not minimum <= secs <= maximum:
        raise _error(*where[:4], f"{value} is out of range",
                     f"use a value from {minimum}s to {maximum}s ({maximum // 3600}h)")
    return secs


def is_email(value):
    """local@host.tld, ASCII, case-insensitive: local [a-z0-9][a-z0-9._%+-]*, host [a-z0-9][a-z0-9.-]*, tld [a-z]{2,}."""
    if not value.isascii():
        return False
    local, _, domain = value.lower().partition("@")
    host, _, tld = domain.rpartition(".")
    return (local[:1] in _ALNUM and set(local) <= _EMAIL_LOCAL and host[:1] in _ALNUM and set(host) <= _EMAIL_HOST
            and len(tld) >= 2 and set(tld) <= _LETTERS)


def is_profile_name(name):
    """Letters, digits, '_', '.', '@' and '-' (ASCII), at least one."""
    return bool(name) and set(name) <= _PROFILE_NAME


def split_scopes(value):
    """'a, b c' -> ('a', 'b', 'c'): scopes separated by commas and whitespace (as str.split sees it)."""
    return tuple(value.replace(",", " ").split())


def is_url(value):
    """http:// or https:// and then a host: a first character that is neither '/' nor whitespace."""
    rest = value.partition("://")[2] if value.startswith(("https://", "http://")) else ""
    return rest[:1] != "" and rest[0] != "/" and not rest[0].isspace()


def check_email(value, where, what="service account email"):
    value = value.strip()
    if not is_email(value):
        raise _error(*where[:4], f"{value!r} is not a valid {what}",
                     "write the full email, e.g. deploy@my-project.iam.gserviceaccount.com")
    return value


def _parse_bool(value, where):
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise _error(*where[:4], f"{value!r} is not a boolean", "write true or false")


def _resolve(config, name, seen):
    if name in seen:
        loop = " -> ".join((*seen, name))
        raise ProfileError(f"{config.path}: profile loop: {loop}",
                           hint="change the 'source = profile:...' line of one of these profiles")
    if len(seen) >= MAX_PROFILE_CHAIN:
        raise ProfileError(f"{config.path}: profile {seen[0]!r} is the end of a chain of more than "
                           f"{MAX_PROFILE_CHAIN} 'source = profile:' links ({' -> '.join(seen[:3])} -> ...)",
                           hint="point one of them at a credentials file, adc or metadata instead")
    items = config.sections.get(name)
    if items is None:
        if name == DEFAULT_PROFILE and not seen:
            items = {}  # no [default]: plain ADC, no impersonation
        else:
            known = ", ".join(config.sections) or "none"
            close = close_matches(name, list(config.sections), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"profiles in {config.path}: {known}"
            raise ProfileError(f"{config.path}: no profile named {name!r}", hint=hint)
    section = "default" if name == "default" else f"profile {name}"

    def where(key):
        return (config.path, section, key, items[key][1])

    def get(key):
        return items[key][0].strip() if key in items else None

    return build_profile(name, get, where, config.path,
                         resolve_source_profile=lambda other: _resolve(config, other, (*seen, name)))


def build_profile(name, get, where, config_path, resolve_source_profile=None):
    """Validate raw values (get(key) -> str|None) into a Profile; where(key) locates a key for errors."""
    kw = {}
    source = get("source") or "adc"
    source_profile = None
    if source.startswith("profile:"):
        other = source[len("profile:"):].strip()
        if not other:
            raise _error(*where("source"), "profile: needs a profile name", "write source = profile:NAME")
        if resolve_source_profile is None:
            raise _error(*where("source"), "profile: sources need a profile file", "use a credentials file or adc")
        source_profile = resolve_source_profile(other)
        source = f"profile:{other}"
    elif source not in ("adc", "metadata"):
        base = os.path.dirname(config_path) if config_path else os.getcwd()
        source = os.path.abspath(os.path.join(base, os.path.expanduser(source)))
        check_credentials_file(source, where("source"))
    if get("delegates"):
        kw["delegates"] = tuple(check_email(d, where("delegates"), "delegate email")
                                for d in get("delegates").split(",") if d.strip())
    if get("target"):
        kw["target"] = check_email(get("target"), where("target"))
    elif kw.get("delegates"):
        raise _error(*where("delegates"), "delegates without a target", "add target = EMAIL (the account to impersonate)")
    if get("scopes"):
        kw["scopes"] = split_scopes(get("scopes"))
    if get("lifetime"):
        kw["lifetime_secs"] = parse_duration(get("lifetime"), where=where("lifetime"))
    if get("refresh_margin"):
        kw["refresh_margin_secs"] = parse_duration(get("refresh_margin"), where=where("refresh_margin"),
                                                   minimum=0, maximum=MAX_LIFETIME_SECS)
    if get("include_email"):
        kw["include_email"] = _parse_bool(get("include_email"), where("include_email"))
    for key in ("audience", "quota_project", "universe_domain", "metadata_host"):
        if get(key):
            kw[key] = get(key)
    for key in ("token_endpoint", "iam_endpoint", "sts_endpoint", "resourcemanager_endpoint"):
        if get(key):
            url = get(key)
            if not is_url(url):
                raise _error(*where(key), f"{url!r} is not a URL", "write a full URL, e.g. https://iamcredentials.googleapis.com/")
            if not is_safe_endpoint(url):
                raise _error(*where(key), f"{url} is plain http to a host that is not loopback: the credentials "
                             "sent there would cross the network in cleartext",
                             "use https://, or http:// only to 127.0.0.1, ::1 or localhost")
            kw[key] = url if key == "token_endpoint" else url.rstrip("/")
    if get("project_number"):
        if not get("project_number").isdigit():
            raise _error(*where("project_number"), f"{get('project_number')!r} is not a project number",
                         "write the number gcloud projects describe PROJECT --format='value(projectNumber)' prints")
        kw["project_number"] = get("project_number")
    if get("access_boundary"):
        kw["access_boundary"] = _check_boundary(get("access_boundary"), where("access_boundary"), config_path)
    kw["settings"] = tuple((key, get(key), tuple(where(key))) for key in PROTOCOL_KEYS if get(key))
    return Profile(name=name, source=source, source_profile=source_profile, config_path=config_path, **kw)


def _check_boundary(value, where, config_path):
    if "=" in value:
        fields = dict(part.split("=", 1) for part in (p.strip() for p in value.split(",")) if "=" in part)
        if "bucket" not in fields:
            raise _error(*where, "an inline access boundary needs bucket=NAME",
                         "write access_boundary = bucket=B, role=roles/storage.objectViewer")
        return value
    base = os.path.dirname(config_path) if config_path else os.getcwd()
    path = os.path.abspath(os.path.join(base, os.path.expanduser(value)))
    if not os.path.isfile(path):
        raise _error(*where, f"access boundary file {path} not found",
                     "point it at a Credential Access Boundary JSON file, or write bucket=B, role=R")
    return path


def check_credentials_file(path, where):
    """A credentials file must be a trusted Google credentials JSON of a known type (see credhelper.credentials)."""
    from credhelper.credentials import read_credentials

    try:
        return read_credentials(path).type
    except ProfileError as exc:
        raise _error(*where, exc.message, exc.hint) from None


def profile_from_flags(impersonate, source=None, base=None):
    """The gcloud form: --impersonate-service-account=A,B,TARGET on top of ADC or --source FILE.

    With a base profile (the selected one, when a profile file has it), its endpoints, scopes and
    lifetime are kept and only the chain (and the source, with --source) is replaced.
    """
    accounts = [a.strip() for a in impersonate.split(",") if a.strip()]
    where = ("command line", "flags", "--impersonate-service-account", 0)
    if not accounts:
        raise _error(*where, "no account given", "write --impersonate-service-account=[DELEGATE,...,]TARGET")
    accounts = [check_email(a, where) for a in accounts]
    changes = {"delegates": tuple(accounts[:-1]), "target": accounts[-1]}
    if source:
        path = os.path.abspath(os.path.expanduser(source))
        check_credentials_file(path, ("command line", "flags", "--source", 0))
        changes.update(source=path, source_profile=None)
    if base is None:
        base = Profile(name="--impersonate-service-account", source="adc")
    return base.replace(**changes)
