"""The keyring store: tokens through the `keyring` package (service "credhelper", username = the key).

Writes need keyring; reads of keyring's Secret Service items go through credhelper.secretservice
(jeepney-free D-Bus, a few ms) and fall back to keyring. keyrings.alt's plaintext backends are used
only when keyring's own configuration names them. choose() is the capability check: it raises
Unusable with the reason when no fit backend exists, and the cache falls back to files.
"""

from credhelper.stores import KEYRING_STORES as NAMES  # noqa: F401
from credhelper.stores import SERVICE_NAME, STORE_KEYRING, STORE_SECRET_SERVICE, Unusable


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
        and keyring's choice is not configured (PYTHON_KEYRING_BACKEND, keyringrc.cfg), the item is
        written there directly, as keyring's SecretService backend writes it (credhelper.secretservice),
        without importing keyring and discovering its backends: about 0.1 s of a mint."""
        if self._chosen is None and known and known.get("store") == STORE_SECRET_SERVICE and not _configured():
            from credhelper import secretservice

            try:
                secretservice.write_secret({"service": SERVICE_NAME, "username": key,
                                            "application": secretservice.KEYRING_APPLICATION},
                                           f"Password for '{key}' on '{SERVICE_NAME}'", value, known.get("collection"))
                return {name: known[name] for name in ("store", "backend", "collection") if known.get(name)}
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
    if module == "keyring.backends.SecretService":
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
        return kr, "keyring (SecretService)", STORE_SECRET_SERVICE, getattr(kr, "preferred_collection", None)
    return kr, f"keyring ({module.rsplit('.', 1)[-1]}.{type(kr).__name__})", STORE_KEYRING, None


def _configured(env=None):
    """Whether keyring's backend is chosen by configuration rather than discovery: PYTHON_KEYRING_BACKEND,
    or a keyringrc.cfg where keyring looks for one on Linux ($XDG_CONFIG_HOME or ~/.config, python_keyring/;
    elsewhere keyring's own lookup is not repeated here, and the answer is yes)."""
    import os
    import sys

    env = os.environ if env is None else env
    if env.get("PYTHON_KEYRING_BACKEND") or not sys.platform.startswith("linux"):
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
