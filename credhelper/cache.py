"""Token cache: key derivation, per-key cross-process locks, the keyring store and its file fallback.

Tokens are stored through the `keyring` package under service "credhelper", username = the cache
key, value = Token.to_dict() as JSON. The keyring cannot be enumerated, so an index in the user
runtime directory records, per key, what `cache list` shows (profile, kind, scopes or audience,
target, expiry) and which store holds the token; never the token. A key the index does not know
is a miss.

When no keyring backend works, tokens go to a file store in the runtime directory (0700
directories, 0600 files, atomic replace) and the user is told once per reason. keyrings.alt's
plaintext backends are never used unless named in keyring's own configuration.

A hit must cost little more than starting Python: this module imports only the standard library,
reads Secret Service items with jeepney (credhelper.secretservice), and imports keyring only to
write, delete, or read from a backend other than Secret Service.
"""

import contextlib
import errno
import fcntl
import json
import os
import sys
import time

from credhelper.errors import CacheError
from credhelper.token import Token

SERVICE_NAME = "credhelper"
KEY_VERSION = 1  # bump when the key material changes shape: old entries become misses
DEFAULT_LOCK_TIMEOUT_SECS = 30
LOCK_POLL_MIN_SECS = 0.005
LOCK_POLL_MAX_SECS = 0.05
INDEX_VERSION = 1
BACKENDS = ("keyring", "file", "none")
# what an index entry may hold besides expiry and store; anything else in meta is dropped
META_KEYS = ("profile", "kind", "scopes", "audience", "target", "include_email", "lifetime_secs")

# stores, as recorded per entry in the index
STORE_SECRET_SERVICE = "secretservice"  # keyring's SecretService backend: readable without keyring
STORE_KEYRING = "keyring"  # another keyring backend: read through keyring
STORE_FILE = "file"

FALLBACK_FIX = ("start a Secret Service (e.g. gnome-keyring-daemon --components=secrets, unlocked) "
                "or set '[cache] backend = file' in the profile file")


# -- keys ----------------------------------------------------------------------------------------

def cache_key(profile, kind, **params):
    """A hex digest of everything that determines the token.

    The profile's name and identity() (source, delegates, target, endpoints, scopes, lifetime...),
    the content of the source credential (so replacing a key file is a miss), the kind and the
    request parameters (scopes, audience, include_email, lifetime_secs, claims...; None is the
    same as absent). The name is included so `cache list` and `cache clear --profile` are exact.
    """
    material = {
        "v": KEY_VERSION,
        "name": profile.name,
        "profile": profile.identity(),
        "source_content": source_identity(profile),
        "boundary_content": boundary_identity(profile),
        "kind": kind,
        "params": {k: v for k, v in params.items() if v is not None},
    }
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), default=_plain)
    return _sha256(text.encode("utf-8"))


def _plain(value):
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cache key parameter of type {type(value).__name__} is not plain data")


def source_identity(profile, env=None):
    """What the source credential is, by content: a file's path and sha256, the ADC file in use, or metadata."""
    env = os.environ if env is None else env
    if profile.source_profile is not None:
        return {"profile": source_identity(profile.source_profile, env)}
    if profile.source == "metadata":
        return "metadata"
    if profile.source == "adc":
        path = env.get("GOOGLE_APPLICATION_CREDENTIALS") or adc_well_known_path(env)
        if env.get("GOOGLE_APPLICATION_CREDENTIALS") or os.path.isfile(path):
            return {"adc": os.path.abspath(path), "sha256": _file_sha256(path)}
        return "metadata"
    return {"file": profile.source, "sha256": _file_sha256(profile.source)}


def boundary_identity(profile):
    """The sha256 of an access_boundary rules file (editing the rules is a miss); None otherwise."""
    value = profile.access_boundary
    if not value or ("=" in value and not value.startswith("/")):  # absent, or inline (already in identity())
        return None
    return _file_sha256(os.path.expanduser(value))


def adc_well_known_path(env=None):
    """gcloud's application default credentials file, as google-auth finds it ($CLOUDSDK_CONFIG honoured)."""
    env = os.environ if env is None else env
    config_dir = env.get("CLOUDSDK_CONFIG") or os.path.join(os.path.expanduser("~"), ".config", "gcloud")
    return os.path.join(config_dir, "application_default_credentials.json")


def _file_sha256(path):
    try:
        with open(path, "rb") as f:
            return _sha256(f.read())
    except OSError:
        return None  # minting will report the unreadable file


def _sha256(data):
    """Hex sha256. The builtin module loads in 0.3 ms; hashlib loads OpenSSL, about 4 ms of every hit."""
    try:
        from _sha256 import sha256  # CPython <= 3.11
    except ImportError:
        try:
            from _sha2 import sha256  # CPython >= 3.12
        except ImportError:
            from hashlib import sha256
    return sha256(data).hexdigest()


# -- runtime directory ---------------------------------------------------------------------------

def default_runtime_dir():
    """platformdirs' user runtime directory for credhelper ($XDG_RUNTIME_DIR/credhelper, or a 0700 fallback).

    platformdirs creates it (0700) and refuses a fallback in /tmp that another user could have planted.
    """
    if os.environ.get("XDG_RUNTIME_DIR", "").strip():
        from credhelper.profile import user_dir

        return user_dir("runtime")  # the same path, without importing platformdirs; _private_dir creates it
    import warnings

    import platformdirs

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # RuntimeDirWarning when XDG_RUNTIME_DIR is unset: the fallback is fine
            return platformdirs.user_runtime_dir("credhelper", ensure_exists=True)
    except OSError as exc:
        raise CacheError(f"no safe runtime directory for the token cache: {exc}",
                         hint="set XDG_RUNTIME_DIR to a directory only you can use (mode 0700), "
                              "or set '[cache] backend = none'") from None


def _private_dir(path):
    """Create path (and parents) 0700 if missing; refuse one that is not ours; tighten one that is too open."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError as exc:
        raise CacheError(f"cannot create the cache directory {path}: {exc.strerror}",
                         hint=f"make {path} a directory you own, or set '[cache] backend = none'") from None
    import stat

    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise CacheError(f"cache directory {path} is not a directory owned by you",
                         hint=f"remove it (rm -rf {path}) so credhelper can create it")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def _write_private(path, data):
    """Write bytes to path atomically (temporary file in the same directory, then rename), mode 0600."""
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")  # mkstemp creates 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read_json(path):
    """Parsed JSON of a file, or None if it is absent, unreadable or corrupt."""
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except (OSError, ValueError, RecursionError):
        return None


# -- the cache -----------------------------------------------------------------------------------

class LockDeadlineExceeded(CacheError):
    """The command's deadline ran out while another process held the key's lock (minting the same token)."""


class _KeyringUnusable(Exception):
    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason  # short, stable, used in the warn-once marker's name
        self.message = message


class TokenCache:
    """Cached tokens by key, in the keyring (or the file fallback), with per-key locks.

    backend: "keyring" (fall back to "file" when no keyring works), "file", or "none" (no cache).
    """

    def __init__(self, backend="keyring", lock_timeout_secs=DEFAULT_LOCK_TIMEOUT_SECS, runtime_dir=None, stderr=None):
        if backend not in BACKENDS:
            raise ValueError(f"unknown cache backend {backend!r}")
        self.backend = backend
        self.lock_timeout_secs = lock_timeout_secs
        self._runtime_dir = runtime_dir
        self._stderr = stderr
        self._keyring = None  # (backend object, label, store, collection), resolved on first write

    @classmethod
    def for_config(cls, config, **kwargs):
        """The cache a profile file's [cache] section asks for (backend, lock_timeout)."""
        return cls(backend=config.cache_backend(), lock_timeout_secs=config.lock_timeout_secs(), **kwargs)

    # paths

    @property
    def runtime_dir(self):
        if self._runtime_dir is None:
            self._runtime_dir = default_runtime_dir()
        return self._runtime_dir

    def _path(self, *parts):
        return os.path.join(self.runtime_dir, *parts)

    def _private_subdir(self, name):
        """runtime_dir/name, both created 0700 (and checked) if needed."""
        _private_dir(self.runtime_dir)
        return _private_dir(self._path(name))

    def _token_path(self, key):
        return self._path("tokens", f"{_checked(key)}.json")

    @property
    def backend_name(self):
        """What put() writes to: "keyring (SecretService)", "keyring (<backend>)", "file", or "none"."""
        if self.backend != "keyring":
            return self.backend
        try:
            return self._keyring_backend()[1]
        except _KeyringUnusable:
            return "file"

    # reading

    def get(self, key, margin_secs, now=None):
        """The cached token for key, or None when absent, corrupt (then deleted), or expiry - now <= margin."""
        if self.backend == "none":
            return None
        now = time.time() if now is None else now
        entry = self._index_entries().get(key)
        if not isinstance(entry, dict):
            return None
        store = entry.get("store")
        if self.backend == "file" and store != STORE_FILE:
            return None  # written under another [cache] backend: not ours to read now
        try:
            if float(entry.get("expiry", 0)) - now <= margin_secs:
                return None  # known stale from the index: no need to open the store
        except (TypeError, ValueError):
            pass
        raw = self._read_store(store, key, entry)
        if raw is None:
            return None
        try:
            token = Token.from_dict(json.loads(raw))
        except (ValueError, TypeError, RecursionError):
            self._log(f"discarding a corrupt cache entry ({store})")
            self.delete(key)
            return None
        if token.expiry - now <= margin_secs:
            return None
        return token

    def _read_store(self, store, key, entry):
        """The raw JSON text stored for key, or None if absent or the store cannot be read now."""
        if store == STORE_FILE:
            try:
                with open(self._token_path(key), "rb") as f:
                    return f.read().decode("utf-8", "replace")
            except OSError:
                return None
        if store == STORE_SECRET_SERVICE:
            from credhelper import secretservice

            try:
                return secretservice.read_secret({"service": SERVICE_NAME, "username": key},
                                                 entry.get("collection"))
            except secretservice.Unavailable as exc:
                self._log(f"fast Secret Service read unavailable ({exc}); asking keyring")
        if store in (STORE_SECRET_SERVICE, STORE_KEYRING):
            try:
                import keyring

                return keyring.get_password(SERVICE_NAME, key)
            except Exception as exc:  # a broken keyring is a miss; put() will fall back and say so
                self._log(f"keyring read failed ({type(exc).__name__})")
                return None
        return None

    # writing

    def put(self, key, token, meta):
        """Store token under key; record meta (never secrets: only META_KEYS are kept) in the index."""
        if self.backend == "none":
            return
        _checked(key)
        value = json.dumps(token.to_dict())
        entry = {k: meta[k] for k in META_KEYS if meta.get(k) is not None}
        entry["kind"] = entry.get("kind", token.kind)
        entry["expiry"] = token.expiry
        if isinstance(entry.get("scopes"), tuple):
            entry["scopes"] = list(entry["scopes"])
        if self.backend == "keyring":
            try:
                kr, label, store, collection = self._keyring_backend()
                try:
                    kr.set_password(SERVICE_NAME, key, value)
                except Exception as exc:
                    self._keyring = _KeyringUnusable(f"write-{type(exc).__name__}",
                                                     f"the keyring backend {label} refused to store a token "
                                                     f"({type(exc).__name__})")
                    raise self._keyring from None
                entry.update(store=store, backend=label)
                if collection:
                    entry["collection"] = collection
                self._remove_file(key)  # an older fallback copy
            except _KeyringUnusable as exc:
                self._warn_once(exc.reason, f"{exc.message}; caching tokens in files under "
                                            f"{self._path('tokens')} instead (fix: {FALLBACK_FIX})")
                entry.update(store=STORE_FILE, backend="file (keyring unavailable)")
        else:
            entry.update(store=STORE_FILE, backend="file")
        if entry["store"] == STORE_FILE:
            self._private_subdir("tokens")
            _write_private(self._token_path(key), value.encode("utf-8"))
        with self._index_update() as entries:
            entries[key] = entry

    def _keyring_backend(self):
        """(backend, label, store, collection) for writes; raises _KeyringUnusable with the reason."""
        if self._keyring is not None:
            if isinstance(self._keyring, _KeyringUnusable):
                raise self._keyring
            return self._keyring
        try:
            self._keyring = _choose_keyring_backend()
        except _KeyringUnusable as exc:
            self._keyring = exc
            raise
        return self._keyring

    def delete(self, key):
        """Remove key's token from every store and the index (absent is fine)."""
        with self._index_update() as entries:
            entry = entries.pop(key, None)
        self._remove_file(key)
        if isinstance(entry, dict) and entry.get("store") in (STORE_SECRET_SERVICE, STORE_KEYRING):
            self._keyring_delete(key)

    def clear(self, profile=None):
        """Remove every cached token (or only profile's, its source credential's own included); return how many."""
        names = (profile, f"{profile} (source)")  # see broker.source_only
        with self._index_update() as entries:
            keys = [k for k, e in entries.items()
                    if profile is None or (isinstance(e, dict) and e.get("profile") in names)]
            removed = {k: entries.pop(k) for k in keys}
        for key, entry in removed.items():
            self._remove_file(key)
            if isinstance(entry, dict) and entry.get("store") in (STORE_SECRET_SERVICE, STORE_KEYRING):
                self._keyring_delete(key)
        return len(removed)

    def entries(self):
        """Index entries for `cache list`: profile, kind, scopes/audience, target, expiry (RFC 3339), backend."""
        rows = []
        entries = {k: e for k, e in self._index_entries().items() if isinstance(e, dict)}
        for key, e in sorted(entries.items(), key=lambda kv: (str(kv[1].get("profile")), str(kv[1].get("kind")), kv[0])):
            try:
                expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(e.get("expiry"))))
            except (TypeError, ValueError, OverflowError):
                expiry = "?"
            row = {k: e[k] for k in META_KEYS if k in e}
            row.update(key=key, expiry=expiry, backend=e.get("backend", e.get("store", "?")))
            rows.append(row)
        return rows

    def _remove_file(self, key):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._token_path(key))

    def _keyring_delete(self, key):
        try:
            import keyring
            import keyring.errors

            with contextlib.suppress(keyring.errors.PasswordDeleteError):
                keyring.delete_password(SERVICE_NAME, key)
        except Exception as exc:
            self._log(f"keyring delete failed ({type(exc).__name__})")

    # locking

    @contextlib.contextmanager
    def lock(self, key, timeout_secs=None):
        """Hold the cross-process lock for key (flock; the kernel releases it if the holder dies).

        Waits at most lock_timeout_secs, or timeout_secs (what is left of the command's deadline) when
        that is shorter: a caller never waits past its own deadline for another process's mint.
        """
        if self.backend == "none":
            yield
            return
        path = os.path.join(self._private_subdir("locks"), f"{_checked(key)}.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            wait = self.lock_timeout_secs if timeout_secs is None else max(0.0, min(timeout_secs, self.lock_timeout_secs))
            deadline = time.monotonic() + wait
            delay = LOCK_POLL_MIN_SECS
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                        raise CacheError(f"cannot lock {path}: {exc.strerror}",
                                         hint="check the runtime directory, or set '[cache] backend = none'") from None
                if time.monotonic() >= deadline and wait < self.lock_timeout_secs:
                    raise LockDeadlineExceeded(
                        f"the command's deadline ran out after {wait:.1f}s waiting for the cache lock {path}, "
                        f"held by {_lock_holder(fd)}, which is minting the same token",
                        hint="that process gives up within its own deadline; try again, "
                             "or raise CREDHELPER_DEADLINE_SECS")
                if time.monotonic() >= deadline:
                    raise CacheError(
                        f"timed out after {self.lock_timeout_secs}s waiting for the cache lock {path}, "
                        f"held by {_lock_holder(fd)}",
                        hint=f"the lock is released when that process exits; find it with: fuser -v {path} "
                             f"(or raise '[cache] lock_timeout' in the profile file)")
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, LOCK_POLL_MAX_SECS)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)  # closing the only descriptor releases the flock

    # the index

    def _index_entries(self):
        data = _read_json(self._path("index.json"))
        if not isinstance(data, dict) or data.get("version") != INDEX_VERSION or not isinstance(data.get("entries"), dict):
            return {}
        return data["entries"]

    @contextlib.contextmanager
    def _index_update(self):
        """Read-modify-write the index under its own flock; a corrupt index starts over empty."""
        _private_dir(self.runtime_dir)
        fd = os.open(self._path("index.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # held only for a read and a write of a small file
            entries = dict(self._index_entries())
            yield entries
            data = json.dumps({"version": INDEX_VERSION, "entries": entries}, sort_keys=True, indent=1)
            _write_private(self._path("index.json"), data.encode("utf-8"))
        finally:
            os.close(fd)

    # messages

    def _warn_once(self, reason, message):
        """Say message on stderr once per reason, remembered in the runtime directory across processes."""
        marker = self._path("warned", reason.replace("/", "_"))
        try:
            self._private_subdir("warned")
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
        except FileExistsError:
            return
        except (OSError, CacheError):
            pass  # cannot remember: better to say it again than never
        (self._stderr or sys.stderr).write(f"credhelper: warning: {message}\n")

    @staticmethod
    def _log(message):
        if "logging" in sys.modules:  # only when -v set logging up; never import it on the hit path
            import logging

            logging.getLogger("credhelper.cache").info(message)


def _checked(key):
    """Cache keys become file names: accept only what cache_key() produces (hex)."""
    if not key or len(key) > 128 or any(c not in "0123456789abcdef" for c in key):
        raise ValueError("a cache key is a lowercase hex digest (see cache_key)")
    return key


def _lock_holder(fd):
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
        return f"credhelper process {int(pid)}" if pid else "another process"
    except (OSError, ValueError):
        return "another process"


def _choose_keyring_backend():
    """The keyring backend writes go to, as (backend, label, store, collection); _KeyringUnusable if none is fit."""
    try:
        import keyring
        import keyring.core
    except Exception as exc:
        raise _KeyringUnusable("no-keyring-package", f"the keyring package cannot be imported ({type(exc).__name__})") from None
    try:
        kr = keyring.get_keyring()
        chained = getattr(kr, "backends", None)
        if type(kr).__module__ == "keyring.backends.chainer":
            kr = chained[0] if chained else None
    except Exception as exc:
        raise _KeyringUnusable("no-backend", f"no keyring backend works ({type(exc).__name__})") from None
    module = type(kr).__module__ if kr is not None else "keyring.backends.fail"
    if module in ("keyring.backends.fail", "keyring.backends.null"):
        raise _KeyringUnusable("no-backend", "no keyring backend is available (no Secret Service on the D-Bus session?)")
    if module.startswith("keyrings.alt") and not _configured_explicitly(kr):
        raise _KeyringUnusable("plaintext", f"the only keyring backend is {module}, which stores secrets "
                                            "unencrypted; credhelper uses it only if keyring's configuration names it")
    if module == "keyring.backends.SecretService":
        try:
            collection = kr.get_preferred_collection()  # creates or unlocks it, as a write would
            locked = collection.is_locked()
            collection.connection.close()
        except Exception as exc:
            raise _KeyringUnusable(f"secretservice-{type(exc).__name__}",
                                   f"the Secret Service keyring cannot be used ({type(exc).__name__}: locked, "
                                   "or no default collection)") from None
        if locked:
            raise _KeyringUnusable("secretservice-locked", "the Secret Service keyring is locked")
        # the fast read looks in the same collection: keyring's preferred one, else the default alias
        return kr, "keyring (SecretService)", STORE_SECRET_SERVICE, getattr(kr, "preferred_collection", None)
    return kr, f"keyring ({module.rsplit('.', 1)[-1]}.{type(kr).__name__})", STORE_KEYRING, None


def _configured_explicitly(kr):
    import keyring.core

    try:
        named = keyring.core.load_env() or keyring.core.load_config()
    except Exception:
        return False
    return named is not None and type(named) is type(kr)


# -- commands ----------------------------------------------------------------------------------------

def cache_list_command(args):
    """`credhelper cache list`: a table of cached tokens (never a token)."""
    cache = _cache_for_args(args)
    rows = cache.entries()
    table = [("PROFILE", "KIND", "SCOPES/AUDIENCE", "EXPIRES", "BACKEND")]
    for r in rows:
        what = r.get("audience") or ",".join(r.get("scopes") or ()) or "-"
        table.append((str(r.get("profile", "?")), str(r.get("kind", "?")), what, r["expiry"], r["backend"]))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    for row in table:
        sys.stdout.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1] + "\n")
    if not rows:
        sys.stderr.write(f"credhelper: no cached tokens (backend: {cache.backend})\n")
    return 0


def cache_clear_command(args):
    """`credhelper cache clear [--profile P]`: remove cached tokens; says how many."""
    cache = _cache_for_args(args)
    profile = getattr(args, "profile", None)
    n = cache.clear(profile=profile)
    which = f" of profile {profile!r}" if profile else ""
    sys.stderr.write(f"credhelper: removed {n} cached token{'s' if n != 1 else ''}{which}\n")
    return 0


def _cache_for_args(args):
    from credhelper.profile import load_config

    config = load_config(getattr(args, "config", None))
    cache = TokenCache.for_config(config)
    if cache.backend == "none":  # list and clear still mean the stores a previous setting wrote
        cache = TokenCache(backend="keyring", lock_timeout_secs=cache.lock_timeout_secs)
    return cache
