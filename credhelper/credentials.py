"""Which source credential a profile means, and what is in it: the one owner of that question.

For a profile's source it knows, and nothing else decides:
  - which file is used: a profile's `source = FILE`, or for `source = adc` the file google-auth's
    ADC would read ($GOOGLE_APPLICATION_CREDENTIALS exactly as written: google-auth neither
    expands ~ nor falls back when it names a missing file; else gcloud's well-known file);
  - the file's type, content hash and principal;
  - for metadata sources (`source = metadata`, or ADC without a file), the metadata host in use
    (the profile's metadata_host, else $GCE_METADATA_HOST, else $GCE_METADATA_ROOT, else
    metadata.google.internal, as google-auth reads them).
Profile validation, the cache key, source loading, `profiles show` and doctor all ask it, and a
file is read once per command (again only if it changed on disk).

Trust (issue 12): a credentials file must be a regular file owned by the user (or root) and not
writable by group or others; reads are bounded; messages name the file, the field and the
problem, never a value. Light imports only: the cache key is computed on every hit.
"""

import os
from collections import namedtuple

from credhelper.errors import ProfileError

CREDENTIAL_TYPES = ("service_account", "authorized_user", "external_account",
                    "external_account_authorized_user", "impersonated_service_account")
MAX_FILE_BYTES = 1 << 20  # no credentials file is near 1 MiB; /dev/zero is refused long before memory runs out
DEFAULT_METADATA_HOST = "metadata.google.internal"
ADC_FILE_NAME = "application_default_credentials.json"
CREDENTIALS_ENV = "GOOGLE_APPLICATION_CREDENTIALS"

_STR, _DICT, _LIST = str, dict, list
# the JSON type of every field credhelper or google-auth reads, per credentials type (others are ignored)
FIELD_TYPES = {
    "service_account": dict.fromkeys(
        ("type", "project_id", "private_key_id", "private_key", "client_email", "client_id", "auth_uri",
         "token_uri", "auth_provider_x509_cert_url", "client_x509_cert_url", "universe_domain",
         "quota_project_id"), _STR),
    "authorized_user": dict.fromkeys(
        ("type", "client_id", "client_secret", "refresh_token", "quota_project_id", "account",
         "universe_domain", "token_uri", "rapt_token"), _STR),
    "external_account": {
        **dict.fromkeys(("type", "audience", "subject_token_type", "token_url", "service_account_impersonation_url",
                         "token_info_url", "client_id", "client_secret", "quota_project_id",
                         "workforce_pool_user_project", "universe_domain"), _STR),
        "credential_source": _DICT, "service_account_impersonation": _DICT},
    "external_account_authorized_user": dict.fromkeys(
        ("type", "audience", "client_id", "client_secret", "refresh_token", "token_url", "token_info_url",
         "revoke_url", "quota_project_id", "universe_domain"), _STR),
    "impersonated_service_account": {
        "type": _STR, "service_account_impersonation_url": _STR, "quota_project_id": _STR,
        "source_credentials": _DICT, "delegates": _LIST},
}
_JSON_TYPE_NAMES = {str: "a string", dict: "an object", list: "a list", bool: "a boolean", int: "a number",
                    float: "a number", type(None): "null"}


class SourceInfo(namedtuple("SourceInfo", "origin path type principal sha256 metadata_host info")):
    """What a profile's source credential is.

    origin: "file" (source = FILE), "adc" (the ADC file), "metadata" (source = metadata, or ADC
    without a file), "profile" (source = profile:NAME; see the other profile). path, type, sha256
    and info (the parsed JSON: it holds secrets, never print it) for files; metadata_host for
    metadata sources; principal when the file names one (an email or principal:// URI).
    """

    __slots__ = ()

    def __repr__(self):
        return (f"SourceInfo(origin={self.origin!r}, path={self.path!r}, type={self.type!r}, "
                f"principal={self.principal!r}, metadata_host={self.metadata_host!r})")

    def identity(self):
        """What the source is by content, as plain data: the cache key's input."""
        if self.origin == "metadata":
            return {"metadata": self.metadata_host}
        return {self.origin: self.path, "sha256": self.sha256}

    def describe(self):
        """One line for `profiles show` and doctor (never a secret)."""
        if self.origin == "metadata":
            return f"metadata server ({self.metadata_host})"
        who = self.principal or "(principal known to the server only)"
        return f"{self.type} {who} ({self.path})"


# -- the file in use -----------------------------------------------------------------------------

def gcloud_adc_path(env=None):
    """gcloud's ADC file, where google-auth looks for it ($CLOUDSDK_CONFIG honoured, as written)."""
    env = os.environ if env is None else env
    if "CLOUDSDK_CONFIG" in env:
        config_dir = env["CLOUDSDK_CONFIG"]
    elif os.name != "nt":
        config_dir = os.path.join(os.path.expanduser("~"), ".config", "gcloud")
    else:
        config_dir = os.path.join(env.get("APPDATA") or env.get("SystemDrive", "C:") + "\\", "gcloud")
    return os.path.join(config_dir, ADC_FILE_NAME)


def adc_file(env=None):
    """The ADC file google.auth.default() reads, as an absolute path; None when ADC means the metadata server.

    $GOOGLE_APPLICATION_CREDENTIALS is taken as written (google-auth does not expand ~, and a
    relative path is relative to the working directory); when it names nothing, google-auth fails
    rather than falling back, and so does this: a ProfileError, never a stale cache hit.
    """
    env = os.environ if env is None else env
    explicit = env.get(CREDENTIALS_ENV, "")
    if explicit:
        path = os.path.abspath(explicit)
        if not os.path.exists(path):
            hint = "fix or unset GOOGLE_APPLICATION_CREDENTIALS, or run: gcloud auth application-default login"
            if explicit.startswith("~"):
                hint = ("google-auth does not expand '~' in GOOGLE_APPLICATION_CREDENTIALS: write the full path, "
                        "e.g. GOOGLE_APPLICATION_CREDENTIALS=\"$HOME" + explicit[1:] + "\"")
            raise ProfileError(f"GOOGLE_APPLICATION_CREDENTIALS names {explicit}, which does not exist "
                               f"(google-auth would read {path})", hint=hint)
        return path
    path = os.path.abspath(gcloud_adc_path(env))
    return path if os.path.isfile(path) else None


def metadata_host(profile=None, env=None):
    """The metadata server a metadata source asks: host[:port]."""
    env = os.environ if env is None else env
    if profile is not None and profile.metadata_host:
        return profile.metadata_host
    return env.get("GCE_METADATA_HOST") or env.get("GCE_METADATA_ROOT") or DEFAULT_METADATA_HOST


def _source_location(profile, env):
    """Where a profile's own source is: ("metadata", HOST), ("adc", FILE) or ("file", FILE)."""
    while profile.source_profile is not None:
        profile = profile.source_profile
    if profile.source == "adc":
        path = adc_file(env)
        if path is not None:
            return "adc", path
    elif profile.source != "metadata":
        return "file", profile.source
    return "metadata", metadata_host(profile, env)


def source_info(profile, env=None):
    """The SourceInfo of a profile's own source (for source = profile:NAME, of that profile's)."""
    env = os.environ if env is None else env
    origin, where = _source_location(profile, env)
    if origin == "metadata":
        return SourceInfo("metadata", None, "metadata", None, None, where, None)
    return read_credentials(where)._replace(origin=origin)


def source_identity(profile, env=None):
    """What the source credential is by content (the cache key's input); a profile: source nests.

    SourceInfo.identity() without parsing the file: its path and sha256 determine everything parsed
    from it (type, principal), and minting validates it. A hit reads the file (with the same trust
    checks and errors as read_credentials) and hashes it."""
    env = os.environ if env is None else env
    if profile.source_profile is not None:
        return {"profile": source_identity(profile.source_profile, env)}
    origin, where = _source_location(profile, env)
    if origin == "metadata":
        return {"metadata": where}
    return {origin: where, "sha256": _read(where)[1]}


# -- reading a file ------------------------------------------------------------------------------

_read_cache = {}  # path -> (stat signature, SourceInfo): each file read once per command, again if it changed


def read_credentials(path):
    """The SourceInfo of a credentials file; ProfileError (exit 3) naming the file and the problem."""
    signature, digest, data = _read(path)
    cached = _read_cache.get(path)
    if cached is not None and cached[0] == signature:
        return cached[1]
    if data is None:  # hashed before (source_identity) but not parsed
        signature, digest, data = _read(path, fresh=True)
    info = _parse(path, data)
    result = SourceInfo("file", path, info["type"], principal_of(info), digest, None, info)
    _read_cache[path] = (signature, result)
    return result


_digests = {}  # path -> (stat signature, sha256): source_identity reads and hashes a file once per command


def _read(path, fresh=False):
    """(stat signature, sha256, bytes or None when unchanged since the last read) of a trusted credentials
    file; ProfileError naming the file and the problem."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ProfileError(f"credentials file {path} not found",
                           hint="fix the path, or create it with: gcloud iam service-accounts keys create / "
                                "gcloud auth application-default login") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise ProfileError(f"credentials file {path}: cannot read it ({getattr(exc, 'strerror', None) or 'not a path'})",
                           hint="make it a readable file of yours") from None
    signature = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_mode, st.st_uid)
    known = _digests.get(path)
    if not fresh and known is not None and known[0] == signature:
        return signature, known[1], None
    data = read_trusted_file(path, "credentials file")
    digest = sha256_hex(data)
    _digests[path] = (signature, digest)
    return signature, digest, data


def read_trusted_file(path, what, max_bytes=MAX_FILE_BYTES):
    """The bytes of a file credhelper trusts (credhelper.privatefile.read_owned: a regular file, the
    user's or root's, not writable by group or others, at most max_bytes); ProfileError otherwise, with the fix."""
    from credhelper import privatefile

    try:
        return privatefile.read_owned(path, max_bytes)
    except FileNotFoundError:
        raise ProfileError(f"{what} {path} not found", hint="fix the path") from None
    except privatefile.UnsafePathError as exc:
        raise ProfileError(f"{what} {exc.strerror}; whoever can change it chooses your identity and endpoints",
                           hint=exc.hint) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise ProfileError(f"{what} {path}: cannot read it ({getattr(exc, 'strerror', None) or 'not a path'})",
                           hint="make it a readable file of yours") from None


def check_trusted(path, st, what):
    """Refuse (ProfileError) a file, by its stat result and the directories leading to it, that
    read_trusted_file would refuse."""
    from credhelper import privatefile

    problem = privatefile.file_problem(st, path) or privatefile.parents_problem(path)
    if problem is not None:
        raise ProfileError(f"{what} {problem.strerror}; whoever can change it chooses your identity and endpoints",
                           hint=problem.hint)


def check_subject_token_file(info):
    """An external_account's subject token must come from files only the user (or root) can change: a
    file source's file; an executable source's command (the program it runs) and its output_file, which
    google-auth reads before running the command (and which, not there yet, must be in a directory no
    one else can write, sticky or not: anyone who can write there could create it first). Whoever controls
    them chooses the federated identity credhelper acts as. ProfileError otherwise."""
    source = info.get("credential_source") if info.get("type") == "external_account" else None
    if not isinstance(source, dict):
        return
    _check_if_there(source.get("file"), "subject token file")
    executable = source.get("executable")
    if not isinstance(executable, dict):
        return
    command = executable.get("command")
    if isinstance(command, str) and command.strip():
        import shlex
        import shutil

        try:
            program = shlex.split(command)[0]
        except (ValueError, IndexError):
            program = None  # google-auth refuses it when it runs it
        _check_if_there(program and shutil.which(program), "executable source's command")
    output_file = executable.get("output_file")
    if _check_if_there(output_file, "executable source's output_file") is False:
        from credhelper import privatefile

        directory = os.path.dirname(os.path.abspath(output_file))
        try:
            st = os.stat(directory)
        except (OSError, ValueError):
            return
        if privatefile.others_can_write(st):
            raise ProfileError(f"executable source's output_file {output_file} is not there yet, and its directory "
                               f"{directory} is writable by others (mode {st.st_mode & 0o7777:04o}, uid {st.st_uid}), who "
                               "could create it first with a subject token of their choosing",
                               hint="choose an output_file in a directory of your own (mode 0700)")
        problem = privatefile.parents_problem(output_file)
        if problem is not None:
            raise ProfileError(f"executable source's output_file {problem.strerror}; whoever can change it chooses "
                               "your identity", hint=problem.hint)


def _check_if_there(path, what):
    """check_trusted(path) when path names a file that exists: True; False when it does not; None when
    path is not a path (google-auth reports a missing or malformed one when it reads it)."""
    if not isinstance(path, str) or not path:
        return None
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        return None
    check_trusted(path, st, what)
    return True


def _parse(path, data):
    from credhelper import jsontext  # json.loads without importing json (and re): profiles are checked on every hit

    try:
        info = jsontext.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProfileError(f"{path} is not a credentials file (not readable JSON)",
                           hint="point source at a Google credentials JSON file, or write source = adc") from None
    if not isinstance(info, dict):
        raise ProfileError(f"{path} is not a credentials file (not a JSON object)",
                           hint="point source at a Google credentials JSON file, or write source = adc")
    kind = info.get("type")
    if kind not in CREDENTIAL_TYPES:
        what = "no type field" if kind is None else (
            "an unknown type" if isinstance(kind, str) else f"type is {_JSON_TYPE_NAMES.get(type(kind), 'not a string')}")
        raise ProfileError(f"{path} is not a credentials file ({what})",
                           hint=f"expected a JSON file whose type is one of: {', '.join(CREDENTIAL_TYPES)}")
    check_field_types(path, info)
    check_endpoints(path, info)
    return info


def check_field_types(path, info, where=""):
    """Every known field must have its JSON type; the error names the field, never its value."""
    kind = info.get("type")
    for field, expected in FIELD_TYPES.get(kind, {}).items():
        if field in info and info[field] is not None and not isinstance(info[field], expected):
            got = _JSON_TYPE_NAMES.get(type(info[field]), "of another type")
            raise ProfileError(f"{path}: {kind} field {where}{field!r} must be {_JSON_TYPE_NAMES[expected]}, "
                               f"not {got}", hint=f"fix the {field} field, or recreate the file with gcloud")
    if kind == "impersonated_service_account":
        source = info.get("source_credentials")
        if isinstance(source, dict):
            if source.get("type") not in CREDENTIAL_TYPES or source.get("type") == kind:
                raise ProfileError(f"{path}: field 'source_credentials' is not a credentials object",
                                   hint="recreate the file with gcloud auth application-default login "
                                        "--impersonate-service-account")
            check_field_types(path, source, where=f"{where}source_credentials.")
        if any(not isinstance(d, str) for d in info.get("delegates") or ()):
            raise ProfileError(f"{path}: field {where}'delegates' must be a list of strings",
                               hint="fix the delegates field")


def is_safe_endpoint(url):
    """https anywhere, http only to a loopback host (127.0.0.0/8, ::1, localhost).

    Read by hand, not with urllib.parse and ipaddress (3 ms of imports): this runs on every cache hit
    of a profile with endpoint overrides.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return False
    if scheme.lower() == "https":
        return True
    if scheme.lower() != "http":
        return False
    authority = rest
    for end in "/?#":
        authority = authority.split(end, 1)[0]
    host = authority.rpartition("@")[2]
    if host.startswith("["):
        host, bracket, after = host[1:].partition("]")
        if not bracket or (after and not (after[:1] == ":" and after[1:].isdigit())):
            return False
    else:
        name, colon, port = host.rpartition(":")
        if colon:
            if not port.isdigit():
                return False
            host = name
    return is_loopback_host(host.lower())


def is_loopback_host(host):
    """localhost, or an IP literal in 127.0.0.0/8 or ::1 (brackets and port already removed)."""
    if host == "localhost":
        return True
    parts = host.split(".")
    if len(parts) == 4 and all(p.isascii() and p.isdigit() and int(p) <= 255 for p in parts):
        return parts[0] == "127"
    if ":" not in host:
        return False
    import ipaddress  # an IPv6 literal other than the usual spelling

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


URL_FIELDS = ("token_uri", "token_url", "service_account_impersonation_url", "token_info_url", "revoke_url")


def check_endpoints(path, info, where=""):
    """The endpoints a credentials file names receive its secrets: https, or http to loopback only."""
    for field in URL_FIELDS:
        url = info.get(field)
        if isinstance(url, str) and url and not is_safe_endpoint(url):
            raise ProfileError(f"{path}: field {where}{field!r} is plain http to a host that is not loopback: "
                               "the credentials sent there would cross the network in cleartext",
                               hint="use https://, or http:// only to 127.0.0.1, ::1 or localhost")
    if isinstance(info.get("source_credentials"), dict):
        check_endpoints(path, info["source_credentials"], f"{where}source_credentials.")


def principal_of(info):
    """The principal a credentials JSON names: a service account email, a user's account, a WIF principal set."""
    kind = info.get("type")
    if kind == "service_account":
        return info.get("client_email") or None
    if kind == "impersonated_service_account":
        return email_from_iam_url(info.get("service_account_impersonation_url") or "")
    if kind == "external_account":
        if info.get("service_account_impersonation_url"):
            return email_from_iam_url(info["service_account_impersonation_url"])
        parts = (info.get("audience") or "").split("/")
        # //iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/X
        if "workloadIdentityPools" in parts and parts.index("workloadIdentityPools") + 1 < len(parts):
            i = parts.index("workloadIdentityPools")
            project = parts[parts.index("projects") + 1] if "projects" in parts[:-1] else "?"
            return (f"principalSet://iam.googleapis.com/projects/{project}/locations/global/"
                    f"workloadIdentityPools/{parts[i + 1]}/*")
        return None
    return info.get("account") or None  # authorized_user files carry an account only sometimes


def email_from_iam_url(url):
    """The account of an IAM Credentials URL (.../serviceAccounts/EMAIL:generateAccessToken)."""
    import urllib.parse

    tail = url.rsplit("/serviceAccounts/", 1)[-1]
    return urllib.parse.unquote(tail.split(":", 1)[0]) or None


def sha256_hex(data):
    """Hex sha256. The builtin module loads in 0.3 ms; hashlib loads OpenSSL, about 4 ms of every hit."""
    try:
        from _sha256 import sha256  # CPython <= 3.11
    except ImportError:
        try:
            from _sha2 import sha256  # CPython >= 3.12
        except ImportError:
            from hashlib import sha256
    return sha256(data).hexdigest()
