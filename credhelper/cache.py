"""Token cache: key derivation, an index, stores behind one interface, per-key locks, and the cache
wrapped around a minter (CachedMinter).

Token values live in a store (credhelper.stores: the keyring store, the file store when no keyring
works or `[cache] backend = file`); NullCache keeps nothing. The keyring cannot be enumerated, so an
index in the user runtime directory records, per key, what `cache list` shows (profile, kind, scopes
or audience, target, expiry) and which store holds the token; never the token. A key the index does
not know is a miss. Reads trust only what is ours: the runtime directory must be ours, 0700 and not
a symlink; the index and token files are opened with O_NOFOLLOW and checked with fstat; anything
else is a miss, with one warning.

A hit must cost little more than starting Python: this module imports only the standard library,
reads Secret Service items with credhelper.secretservice, and imports keyring only to write,
delete, or read from a backend other than Secret Service. Nor does a hit import json (with re,
6 ms of a 10 ms Python start): the key is a canonical text of its material (canonical()), and the
index and a token's JSON are read by credhelper.jsontext (json's own C scanner).
"""

import os
import sys
import time

from credhelper import jsontext
from credhelper.credentials import sha256_hex, source_identity
from credhelper.errors import CacheError, SourceError, UpstreamError
from credhelper.stores import KEYRING_STORES, SERVICE_NAME, STORE_FILE, STORE_KEYRING, STORE_SECRET_SERVICE  # noqa: F401
from credhelper.stores import Unusable, Untrusted
from credhelper.stores import file as file_store
from credhelper.token import Token

# bump when the key material or its encoding changes: old entries become misses (2: shared source
# tokens; 3: canonical() instead of JSON, the source file by path and sha256 only)
KEY_VERSION = 3
DEFAULT_LOCK_TIMEOUT_SECS = 30
LOCK_POLL_MIN_SECS = 0.005
LOCK_POLL_MAX_SECS = 0.05
INDEX_FILE = "index.json"
INDEX_VERSION = 1
MAX_INDEX_BYTES = 4 << 20
BACKENDS = ("keyring", "file", "none")
# what an index entry may hold besides expiry and store; anything else in meta is dropped
META_KEYS = ("profile", "kind", "scopes", "audience", "target", "include_email", "lifetime_secs")

FALLBACK_FIX = ("start a Secret Service (e.g. gnome-keyring-daemon --components=secrets, unlocked) "
                "or set '[cache] backend = file' in the profile file")


# -- keys ----------------------------------------------------------------------------------------

def cache_key(profile, kind, **params):
    """A hex digest of everything that determines the token.

    The profile's name and identity() (source, delegates, target, endpoints, scopes, lifetime...),
    what the source credential is by content (credhelper.credentials: the file google-auth reads
    and its sha256, or the metadata host), the boundary rules' content, the kind and the request
    parameters (None is the same as absent). The name is included so `cache list` and
    `cache clear --profile` are exact; pass name=None for a key shared by every profile with the
    same identity (the source token: see broker).
    """
    return key_of(profile.name, profile, kind, params)


def key_of(name, profile, kind, params):
    material = {
        "v": KEY_VERSION,
        "name": name,
        "profile": profile.identity(),
        "source_content": source_identity(profile),
        "boundary_content": boundary_identity(profile),
        "kind": kind,
        "params": {k: v for k, v in params.items() if v is not None},
    }
    return sha256_hex(canonical(material).encode("utf-8", "surrogatepass"))


def canonical(value):
    """One text per value of plain data, and different texts for different values: the cache key's material.

    Tagged and length-prefixed: None n, booleans t and f, ints i123; floats d1.5; (repr), strings
    s<length>:<text>, lists and tuples l<count>: then the items, sets as their sorted list, dicts
    m<count>: then key and value in key order (keys must be str). A tuple and a list of the same
    items are the same value, as they were in the JSON this replaced (which imported json on every
    hit). tests/test_cache.py decodes it back (hypothesis)."""
    out = []
    _canonical(value, out)
    return "".join(out)


def _canonical(value, out):
    if value is None or value is True or value is False:
        out.append("n" if value is None else "t" if value else "f")
    elif isinstance(value, int):
        out.append(f"i{int.__repr__(value)};")
    elif isinstance(value, float):
        out.append(f"d{float.__repr__(value)};")
    elif isinstance(value, str):
        out.append(f"s{len(value)}:")
        out.append(value)
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        out.append(f"l{len(items)}:")
        for item in items:
            _canonical(item, out)
    elif isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("cache key material has a dict key that is not a str")
        out.append(f"m{len(value)}:")
        for key in sorted(value):
            _canonical(key, out)
            _canonical(value[key], out)
    else:
        raise TypeError(f"cache key parameter of type {type(value).__name__} is not plain data")


def boundary_identity(profile):
    """The sha256 of an access_boundary rules file (editing the rules is a miss); None otherwise."""
    value = profile.access_boundary
    if not value or ("=" in value and not value.startswith("/")):  # absent, or inline (already in identity())
        return None
    from credhelper.credentials import read_trusted_file
    from credhelper.errors import ProfileError

    try:
        return sha256_hex(read_trusted_file(os.path.expanduser(value), "access boundary file"))
    except ProfileError:
        return None  # minting reports the unusable file


def _contextmanager(generator_function):
    """contextlib.contextmanager, imported when first used: contextlib and functools are about 1 ms
    of a hit (-X importtime), which neither locks nor writes the index."""
    def make(*args, **kwargs):
        import contextlib

        return contextlib.contextmanager(generator_function)(*args, **kwargs)

    make.__name__, make.__qualname__ = generator_function.__name__, generator_function.__qualname__
    make.__doc__ = generator_function.__doc__
    return make


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
    from credhelper import privatefile

    try:
        privatefile.make_dirs(path)
        st = os.lstat(path)
    except OSError as exc:
        raise CacheError(f"cannot create the cache directory {path}: {exc.strerror}",
                         hint=getattr(exc, "hint", None) or
                         f"make {path} a directory you own, or set '[cache] backend = none'") from None
    import stat

    if not stat.S_ISDIR(st.st_mode) or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
        raise CacheError(f"cache directory {path} is not a directory owned by you",
                         hint=f"remove it (rm -rf {path}) so credhelper can create it")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def _write_private(path, data):
    """Write bytes to path atomically, mode 0600 (credhelper.privatefile: O_EXCL|O_NOFOLLOW, then rename)."""
    from credhelper import privatefile

    try:
        privatefile.write(path, data)
    except privatefile.UnsafePathError as exc:
        raise CacheError(f"cannot write the token cache: {exc.strerror}",
                         hint=exc.hint or "set '[cache] backend = none'") from None


# -- the cache -----------------------------------------------------------------------------------

_INDEX_TAIL = f'\n "version": {INDEX_VERSION}\n}}'  # how the index file ends (_index_update writes it, sorted)


class LockDeadlineExceeded(CacheError):
    """The command's deadline ran out while another process held the key's lock (minting the same token)."""


_warned_untrusted = set()  # once per process and reason: a planted or too-open cache file


class TokenCache:
    """Cached tokens by key: an index in the runtime directory, the values in a store, per-key locks.

    backend: "keyring" (the keyring store; the file store when no keyring works) or "file".
    "none" is NullCache (see open_cache).
    """

    def __init__(self, backend="keyring", lock_timeout_secs=DEFAULT_LOCK_TIMEOUT_SECS, runtime_dir=None, stderr=None):
        if backend not in BACKENDS:
            raise ValueError(f"unknown cache backend {backend!r}")
        self.backend = backend
        self.lock_timeout_secs = lock_timeout_secs
        self._runtime_dir = runtime_dir
        self._stderr = stderr
        self._keyring_obj = None
        self._file = None

    def __new__(cls, backend="keyring", *args, **kwargs):
        if cls is TokenCache and backend == "none":
            return NULL_CACHE  # the one null cache: `cache is NULL_CACHE` holds for every way of asking for none
        return super().__new__(cls)

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

    @property
    def _keyring(self):
        """The keyring store (its module is imported only when this cache uses the keyring)."""
        if self._keyring_obj is None and self.backend == "keyring":
            self._keyring_obj = _keyring_store(self._log)
        return self._keyring_obj

    @property
    def file_store(self):
        if self._file is None:
            label = "file" if self.backend == "file" else "file (keyring unavailable)"
            self._file = file_store.Store(self._path("tokens"), label)
        return self._file

    def _store(self, name):
        """The store an index entry names, or None when this cache does not read it."""
        if name == STORE_FILE:
            return self.file_store
        if name in KEYRING_STORES and self.backend == "keyring":
            return self._keyring
        return None

    @property
    def backend_name(self):
        """What put() writes to: "keyring (SecretService)", "keyring (<backend>)" or "file"."""
        if self.backend != "keyring":
            return self.backend
        try:
            return self._keyring.label
        except Unusable:
            return "file"

    # reading

    def get(self, key, margin_secs, now=None):
        """The cached token for key, or None when absent, untrusted, corrupt (then deleted), or expiry - now <= margin."""
        now = time.time() if now is None else now
        entry = self._index_entry(key)
        if not isinstance(entry, dict):
            return None
        store = self._store(entry.get("store"))
        if store is None:
            return None  # written under another [cache] backend: not ours to read now
        try:
            if float(entry.get("expiry", 0)) - now <= margin_secs:
                return None  # known stale from the index: no need to open the store
        except (TypeError, ValueError, OverflowError):
            pass
        try:
            raw = store.read(_checked(key), entry)
        except Untrusted as exc:
            self._warn_untrusted(str(exc))
            return None
        if raw is None:
            return None
        try:
            token = Token.from_dict(jsontext.loads(raw))
        except (ValueError, TypeError, RecursionError):
            self._log(f"discarding a corrupt cache entry ({store.name})")
            self.delete(key)
            return None
        if token.expiry - now <= margin_secs:
            return None
        return token

    # writing

    def put(self, key, token, meta):
        """Store token under key; record meta (never secrets: only META_KEYS are kept) in the index."""
        _checked(key)
        value = jsontext.dumps(token.to_dict())
        entry = {k: meta[k] for k in META_KEYS if meta.get(k) is not None}
        entry["kind"] = entry.get("kind", token.kind)
        entry["expiry"] = token.expiry
        if isinstance(entry.get("scopes"), tuple):
            entry["scopes"] = list(entry["scopes"])
        if self._keyring is not None:
            try:
                entry.update(self._keyring.write(key, value, _earlier_keyring_write(self._index_entries(), key)))
                self.file_store.delete(key)  # an older fallback copy
            except Unusable as exc:
                self._warn_once(exc.reason, f"{exc.message}; caching tokens in files under "
                                            f"{self._path('tokens')} instead (fix: {FALLBACK_FIX})")
        if "store" not in entry:
            entry.update(self.file_store.write(key, value))
        with self._index_update() as entries:
            entries[key] = entry

    def delete(self, key):
        """Remove key's token from every store and the index (absent is fine)."""
        with self._index_update() as entries:
            entry = entries.pop(key, None)
        self._forget(key, entry)

    def _forget(self, key, entry):
        self.file_store.delete(_checked(key))
        if isinstance(entry, dict) and entry.get("store") in KEYRING_STORES:
            (self._keyring or _keyring_store(self._log)).delete(key)

    def clear(self, profile=None, keys=()):
        """Remove every cached token, or only the profile's and those under `keys`; return how many."""
        with self._index_update() as entries:
            doomed = [k for k, e in entries.items()
                      if profile is None or k in keys or (isinstance(e, dict) and e.get("profile") == profile)]
            removed = {k: entries.pop(k) for k in doomed}
        for key, entry in removed.items():
            self._forget(key, entry)
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

    # locking

    @_contextmanager
    def lock(self, key, timeout_secs=None):
        """Hold the cross-process lock for key (see credhelper.locks; released if the holder dies).

        Waits at most lock_timeout_secs, or timeout_secs (what is left of the command's deadline) when
        that is shorter: a caller never waits past its own deadline for another process's mint.
        """
        from credhelper.locks import release, try_acquire  # only when minting: never on a hit

        path = os.path.join(self._private_subdir("locks"), f"{_checked(key)}.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            wait = self.lock_timeout_secs if timeout_secs is None else max(0.0, min(timeout_secs, self.lock_timeout_secs))
            deadline = time.monotonic() + wait
            delay = LOCK_POLL_MIN_SECS
            while True:
                try:
                    if try_acquire(fd, path):
                        break
                except OSError as exc:
                    raise CacheError(f"cannot lock {path}: {exc.strerror}",
                                     hint="check the runtime directory, or set '[cache] backend = none'") from None
                if time.monotonic() >= deadline and wait < self.lock_timeout_secs:
                    raise LockDeadlineExceeded(
                        f"the command's deadline ran out after {wait:.1f} s waiting for the cache lock {path}, "
                        f"held by {_lock_holder(path)}, which is minting the same token",
                        hint="that process gives up within its own deadline; try again, "
                             "or raise CREDHELPER_DEADLINE_SECS")
                if time.monotonic() >= deadline:
                    raise CacheError(
                        f"timed out after {self.lock_timeout_secs:g} s waiting for the cache lock {path}, "
                        f"held by {_lock_holder(path)}",
                        hint=f"the lock is released when that process exits; find it with: fuser -v {path} "
                             f"(or raise '[cache] lock_timeout' in the profile file)")
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, LOCK_POLL_MAX_SECS)
            try:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                yield
            finally:
                release(fd, path)
        finally:
            os.close(fd)  # closing the only descriptor releases flock and msvcrt locks

    # the index

    def _index_text(self):
        """The index file's text, when the runtime directory and the file are ours and private; else None."""
        try:
            st = os.lstat(self.runtime_dir)
        except OSError:
            return None
        import stat

        if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
            self._warn_untrusted(f"{self.runtime_dir} is not a directory (a symlink?)")
            return None
        if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o077):  # Windows has no POSIX modes
            self._warn_untrusted(f"{self.runtime_dir} is not a private directory of yours "
                                 f"(owner uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):o})")
            return None
        try:
            raw = file_store.read_owned(self._path(INDEX_FILE), MAX_INDEX_BYTES)
        except Untrusted as exc:
            self._warn_untrusted(str(exc))
            return None
        try:
            return raw.decode("utf-8") if raw else None
        except ValueError:
            return None

    def _index_entries(self, text=None):
        """The index's entries (of `text`, else of the file read now); {} when it is not ours, or corrupt: a miss."""
        text = self._index_text() if text is None else text
        try:
            data = jsontext.loads(text) if text else None
        except (ValueError, RecursionError):
            data = None
        if not isinstance(data, dict) or data.get("version") != INDEX_VERSION or not isinstance(data.get("entries"), dict):
            return {}
        return data["entries"]

    def _index_entry(self, key):
        """_index_entries().get(key), without parsing the other entries: what a hit reads (issue 15: with
        1,000 entries the whole parse was 1.2 ms, the entry 0.3 ms, in-process). The writer (json.dumps, sort_keys,
        indent=1) puts an entry as `"KEY": {...}` and the version last; a cache key is hex, so `"KEY": `
        can be nowhere else in the file (a quote inside a string is escaped, and no other object key is
        hex). Anything else (the key twice, another ending, a value that does not parse) goes to the whole
        parse, which decides as before; an index damaged elsewhere (only its user can write it) still gives
        this entry."""
        text = self._index_text()
        if not text:
            return None
        if _is_hex(key) and text.endswith(_INDEX_TAIL):
            needle = f'"{key}": '
            at = text.find(needle)
            if at < 0:
                return None
            if text.find(needle, at + 1) < 0:
                try:
                    return jsontext.value_at(text, at + len(needle))
                except (ValueError, RecursionError):
                    pass
        return self._index_entries(text).get(key)

    @_contextmanager
    def _index_update(self):
        """Read-modify-write the index under its own lock; a corrupt index starts over empty."""
        from credhelper.locks import release, try_acquire

        _private_dir(self.runtime_dir)
        path = self._path("index.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            while not try_acquire(fd, path):  # held only for a read and a write of a small file
                time.sleep(LOCK_POLL_MIN_SECS)
            try:
                entries = dict(self._index_entries())
                yield entries
                import json  # only to write: a mint or a cache command, never a hit

                data = json.dumps({"version": INDEX_VERSION, "entries": entries}, sort_keys=True, indent=1)
                _write_private(self._path(INDEX_FILE), data.encode("utf-8"))
            finally:
                release(fd, path)
        finally:
            os.close(fd)

    # messages

    def _warn_untrusted(self, why):
        if why in _warned_untrusted:
            return
        _warned_untrusted.add(why)
        (self._stderr or sys.stderr).write(f"credhelper: warning: not using the token cache: {why}; "
                                           "treating it as a miss\n")

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


class NullCache:
    """The cache that keeps nothing ([cache] backend = none, --no-cache): every get is a miss."""

    backend = "none"
    backend_name = "none"

    def __init__(self, lock_timeout_secs=DEFAULT_LOCK_TIMEOUT_SECS, runtime_dir=None, stderr=None):
        self.lock_timeout_secs = lock_timeout_secs

    def get(self, key, margin_secs, now=None):
        return None

    def put(self, key, token, meta):
        pass

    def delete(self, key):
        pass

    def clear(self, profile=None, keys=()):
        return 0

    def entries(self):
        return []

    @_contextmanager
    def lock(self, key, timeout_secs=None):
        yield


NULL_CACHE = NullCache()


class CachedMinter:
    """The cache wrapped around a minter (as aws-vault's CachedSessionProvider): serve the cached token
    while more than margin_secs remain; otherwise take the key's lock, look again (another process may
    have minted meanwhile), mint, store. When minting fails upstream, a token still valid (inside the
    margin) is served with a warning.

    mint(request) -> Token; new_request(deadline_secs) -> a transport made only when minting.
    """

    def __init__(self, cache, key, mint, meta, margin_secs, new_request, deadline_secs, warn, now=None):
        self.cache, self.key, self.mint, self.meta = cache, key, mint, meta
        self.margin_secs, self.new_request, self.deadline_secs = margin_secs, new_request, deadline_secs
        self.warn, self.now = warn, now

    def get(self, request=None, refresh=False):
        cache, key, now = self.cache, self.key, self.now
        if not refresh:
            hit = cache.get(key, self.margin_secs, now=now)
            if hit is not None:
                return hit
        # the command's deadline covers waiting for the lock too; the transport is made only once this
        # process is the one to mint
        remaining = getattr(request, "remaining", None)
        deadline = time.monotonic() + (remaining() if remaining else self.deadline_secs)
        try:
            with cache.lock(key, timeout_secs=deadline - time.monotonic()):
                if not refresh:
                    hit = cache.get(key, self.margin_secs, now=now)
                    if hit is not None:
                        return hit
                try:
                    token = self.mint(request or self.new_request(deadline - time.monotonic()))
                except (UpstreamError, SourceError) as exc:
                    return self._stale_or_raise(exc)
                cache.put(key, token, self.meta)
                return token
        except LockDeadlineExceeded as exc:  # another process is (slowly) minting it: its answer, or a valid one
            hit = None if refresh else cache.get(key, self.margin_secs, now=now)
            return hit or self._stale_or_raise(exc)

    def _stale_or_raise(self, exc):
        """The cached token when it is still valid (only inside the margin), with a warning; else raise exc."""
        stale = self.cache.get(self.key, 0, now=self.now)
        if stale is None:
            raise exc
        self.warn(f"refresh failed ({exc.message}); serving the cached token, valid for "
                  f"{stale.expires_in(self.now)} s more")
        return stale


def _earlier_keyring_write(entries, key):
    """The index fields of key's own earlier keyring write, else of the latest one (by expiry), or None."""
    mine = entries.get(key)
    if isinstance(mine, dict) and mine.get("store") in KEYRING_STORES:
        return mine
    earlier = [e for e in entries.values() if isinstance(e, dict) and e.get("store") in KEYRING_STORES]
    return max(earlier, key=lambda e: e.get("expiry") if isinstance(e.get("expiry"), (int, float)) else 0,
               default=None)


def _keyring_store(log):
    from credhelper.stores import keyring as keyring_store  # only for the keyring backend

    return keyring_store.Store(log)


def _is_hex(key):
    return isinstance(key, str) and 0 < len(key) <= 128 and not key.strip("0123456789abcdef")


def _checked(key):
    """Cache keys become file names: accept only what cache_key() produces (hex)."""
    if not _is_hex(key):
        raise ValueError("a cache key is a lowercase hex digest (see cache_key)")
    return key


def _lock_holder(path):
    try:
        with open(path, "rb") as f:
            pid = f.read(32).decode().strip()
        return f"credhelper process {int(pid)}" if pid else "another process"
    except (OSError, ValueError):
        return "another process"
