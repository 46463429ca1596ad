"""The keyring store: tokens through the `keyring` package (service "credhelper", username = the key).

Writes need keyring; reads of keyring's Secret Service items go through credhelper.secretservice
(jeepney-free D-Bus, a few ms) and fall back to keyring. keyrings.alt's plaintext backends are used
only when keyring's own configuration names them. choose() is the capability check: it raises
Unusable with the reason when no fit backend exists, and the cache falls back to files.
"""

from credhelper.stores import KEYRING_STORES as NAMES  # noqa: F401
from credhelper.stores import SERVICE_NAME, STORE_KEYRING, STORE_SECRET_SERVICE, Unusable


SECRET_SERVICE_LABEL = "keyring (SecretService)"


class Store:
    name = STORE_KEYRING

    def __init__(self, log):
        self._log = log
        self._chosen = None  # (backend, label, store name, collection) or an Unusable, on first write

    def chosen(self):
        """(backend, label, store name, collection) of the backend writes go to; raises Unusable."""
        if self._chosen is None:
            try:
                self._chosen = choose()
            except Unusable as exc:
                self._chosen = exc
        if isinstance(self._chosen, Unusable):
            raise self._chosen
        return self._chosen

    @property
    def label(self):
        return self.chosen()[1]

    def read(self, key, entry):
        if entry.get("store") == STORE_SECRET_SERVICE:
            from credhelper import secretservice

            try:
                return secretservice.read_secret({"service": SERVICE_NAME, "username": key}, entry.get("collection"))
            except secretservice.Unavailable as exc:
                self._log(f"fast Secret Service read unavailable ({exc}); asking keyring")
        try:
            import keyring

            return keyring.get_password(SERVICE_NAME, key)
        except Exception as exc:  # a broken keyring is a miss; a write will fall back and say so
            self._log(f"keyring read failed ({type(exc).__name__})")
            return None

    def write(self, key, value, known=None):
        """known: the index fields of an earlier write. When they say keyring chose the Secret Service,
        or (no earlier write) keyring would choose it (secret_service_is_keyrings_choice), and keyring's
        choice is not configured (PYTHON_KEYRING_BACKEND, keyringrc.cfg, KEYRING_PROPERTY_*), the item
        is written there directly, as keyring's SecretService backend writes it
        (credhelper.secretservice), without importing keyring and discovering its backends: about
        0.1 s and 5 MB of a mint. When that write fails (no Secret Service on the bus, the collection
        locked or missing), keyring is asked, as before."""
        if self._chosen is None and not _configured():
            if known and known.get("store") == STORE_SECRET_SERVICE:
                fields = {name: known[name] for name in ("store", "backend", "collection") if known.get(name)}
            elif not known and secret_service_is_keyrings_choice():
                fields = {"store": STORE_SECRET_SERVICE, "backend": SECRET_SERVICE_LABEL}
            else:
                fields = None
            if fields is not None:
                from credhelper import secretservice

                try:
                    secretservice.write_secret({"service": SERVICE_NAME, "username": key,
                                                "application": secretservice.KEYRING_APPLICATION},
                                               f"Password for '{key}' on '{SERVICE_NAME}'", value,
                                               fields.get("collection"))
                    return fields
                except secretservice.Unavailable as exc:
                    self._log(f"fast Secret Service write unavailable ({exc}); asking keyring")
        kr, label, store, collection = self.chosen()
        try:
            kr.set_password(SERVICE_NAME, key, value)
        except Exception as exc:
            self._chosen = Unusable(f"write-{type(exc).__name__}",
                                    f"the keyring backend {label} refused to store a token ({type(exc).__name__})")
            raise self._chosen from None
        fields = {"store": store, "backend": label}
        if collection:
            fields["collection"] = collection
        return fields

    def delete(self, key):
        try:
            import keyring
            import keyring.errors

            try:
                keyring.delete_password(SERVICE_NAME, key)
            except keyring.errors.PasswordDeleteError:
                pass
        except Exception as exc:
            self._log(f"keyring delete failed ({type(exc).__name__})")


def choose():
    """The keyring backend writes go to, as (backend, label, store name, collection); Unusable if none is fit."""
    try:
        import keyring
        import keyring.core
    except Exception as exc:
        raise Unusable("no-keyring-package", f"the keyring package cannot be imported ({type(exc).__name__})") from None
    try:
        kr = keyring.get_keyring()
        chained = getattr(kr, "backends", None)
        if type(kr).__module__ == "keyring.backends.chainer":
            kr = chained[0] if chained else None
    except Exception as exc:
        raise Unusable("no-backend", f"no keyring backend works ({type(exc).__name__})") from None
    module = type(kr).__module__ if kr is not None else "keyring.backends.fail"
    if module in ("keyring.backends.fail", "keyring.backends.null"):
        raise Unusable("no-backend", "no keyring backend is available (no Secret Service on the D-Bus session?)")
    if module.startswith("keyrings.alt") and not _configured_explicitly(kr):
        raise Unusable("plaintext", f"the only keyring backend is {module}, which stores secrets "
                                    "unencrypted; credhelper uses it only if keyring's configuration names it")
    if module == "keyring.backends.SecretService" and getattr(kr, "scheme", "default") == "default":
        # (another attribute scheme, KEYRING_PROPERTY_SCHEME=KeePassXC, names items by other attributes
        # than the fast read looks for: such a backend is read through keyring, as any other)
        try:
            collection = kr.get_preferred_collection()  # creates or unlocks it, as a write would
            locked = collection.is_locked()
            collection.connection.close()
        except Exception as exc:
            raise Unusable(f"secretservice-{type(exc).__name__}",
                           f"the Secret Service keyring cannot be used ({type(exc).__name__}: locked, "
                           "or no default collection)") from None
        if locked:
            raise Unusable("secretservice-locked", "the Secret Service keyring is locked")
        # the fast read looks in the same collection: keyring's preferred one, else the default alias
        return kr, SECRET_SERVICE_LABEL, STORE_SECRET_SERVICE, getattr(kr, "preferred_collection", None)
    return kr, f"keyring ({module.rsplit('.', 1)[-1]}.{type(kr).__name__})", STORE_KEYRING, None


def _configured(env=None):
    """Whether keyring's backend is chosen (or set up) by configuration rather than discovery:
    PYTHON_KEYRING_BACKEND, a KEYRING_PROPERTY_* variable (keyring sets a backend property from every
    variable whose name holds that string: the collection, the attribute scheme), or a keyringrc.cfg
    where keyring looks for one on Linux ($XDG_CONFIG_HOME or ~/.config, python_keyring/; elsewhere
    keyring's own lookup is not repeated here, and the answer is yes)."""
    import os
    import sys

    env = os.environ if env is None else env
    if env.get("PYTHON_KEYRING_BACKEND") or not sys.platform.startswith("linux"):
        return True
    if any("KEYRING_PROPERTY_" in name for name in env):
        return True
    root = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.exists(os.path.join(root, "python_keyring", "keyringrc.cfg"))


def _configured_explicitly(kr):
    import keyring.core

    try:
        named = keyring.core.load_env() or keyring.core.load_config()
    except Exception:
        return False
    return named is not None and type(named) is type(kr)


# keyring's own backends (its entry points); any other module in the group is a third-party backend
KEYRING_OWN_BACKENDS = "keyring.backends."
# modules that can make another of keyring's own backends viable on Linux: KWallet (dbus-python), libsecret
# (gi), and WinVaultKeyring, whose only check is that pywin32 (or pywin32-ctypes) imports
OTHER_BACKEND_MODULES = ("dbus", "gi", "win32ctypes", "win32cred")
SECRETSTORAGE_MIN_VERSION = (3, 2)  # what keyring's SecretService backend requires


def secret_service_is_keyrings_choice(path=None):
    """Whether keyring, unconfigured on Linux, would choose its SecretService backend, provided the Secret
    Service answers on the session bus (the caller's write finds that out): keyring and SecretStorage
    (3.2 or newer) are installed, and no backend that could outrank or be chained before it is: no
    third-party backend (an entry point in the keyring.backends group outside keyring's own modules),
    neither dbus-python (KWallet), gi (libsecret) nor pywin32. keyring picks the viable backend of highest
    priority; on Linux without those, that is the Secret Service (5) when it answers, and its
    chainer only chains backends of priority above 0, so it has nothing to chain. Metadata keyring
    would find anywhere but in sys.path's directories (a zip, an .egg, another distribution finder)
    makes the answer no, and so does keyring already imported (a backend class defined by whatever imported it
    registers itself without an entry point). tests/test_keyring_store.py holds this to keyring.get_keyring()."""
    import importlib.machinery
    import importlib.util
    import sys

    if "keyring" in sys.modules:  # something imported it (a .pth file, a plugin): backends may be registered
        return False
    if any(getattr(finder, "find_distributions", None) is not None and finder is not importlib.machinery.PathFinder
           for finder in sys.meta_path):
        return False
    try:
        if any(importlib.util.find_spec(name) is not None for name in OTHER_BACKEND_MODULES):
            return False
        if importlib.util.find_spec("keyring") is None or importlib.util.find_spec("secretstorage") is None:
            return False
    except (ImportError, ValueError):
        return False
    secretstorage = _scan_distributions(sys.path if path is None else path)
    return secretstorage is not None and secretstorage >= SECRETSTORAGE_MIN_VERSION


def _scan_distributions(path):
    """The lowest SecretStorage version installed in path's directories, or None when there is none, or
    a third-party keyring backend is installed, or anything would make the scan differ from
    importlib.metadata's (a sys.path entry that is not a directory, an .egg, unreadable metadata)."""
    import os

    versions = []
    for entry in path:
        entry = entry or "."
        try:
            names = os.listdir(entry)
        except FileNotFoundError:
            continue
        except OSError:  # a zip, or a directory it cannot list: its metadata is out of this scan's reach
            return None
        for name in names:
            if name.endswith(".egg"):
                return None
            stem, dot, suffix = name.rpartition(".")
            if suffix not in ("dist-info", "egg-info"):
                continue
            if stem.partition("-")[0].replace("_", "").replace(".", "").replace("-", "").lower() == "secretstorage":
                versions.append(_version(stem.partition("-")[2]))
            try:
                text = _read_small_file(os.path.join(entry, name, "entry_points.txt"))
            except (FileNotFoundError, NotADirectoryError):
                continue
            except (OSError, UnicodeDecodeError):
                return None
            if text is None or _third_party_backends(text):
                return None
    return min(versions) if versions else None


def _read_small_file(path, limit=1 << 20):
    """The text of a regular file of at most limit bytes; None for anything else (a FIFO planted in a
    directory on sys.path must not hang the write: it is opened without blocking and not read)."""
    import os
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(limit + 1).decode("utf-8")
    finally:
        os.close(fd)


def _third_party_backends(text):
    """Whether an entry_points.txt lists a keyring.backends entry point outside keyring's own modules."""
    section = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]").strip()
        elif section == "keyring.backends" and not line.partition("=")[2].strip().startswith(KEYRING_OWN_BACKENDS):
            return True
    return False


def _version(text):
    """(major, minor) of a version string; (0, 0) when it does not start with two numbers."""
    parts = text.split(".")
    try:
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or "x")
    except (IndexError, ValueError):
        return (0, 0)
