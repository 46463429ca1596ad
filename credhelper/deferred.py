"""Modules google-auth imports at the top but a mint never uses, loaded only when first used.

google-auth imports `asyncio` (in google.auth._regional_access_boundary_utils, for its async
credentials), `cryptography.x509` (in google.auth.crypt, for certificate verifiers), and
`tempfile` and `subprocess` (in google.auth.transport._mtls_helper, for client certificates from a
provider command) whenever a credentials module is imported; a synchronous mint with a key touches
none of them. Under `-X importtime` they are about 14, 16 and 3 ms of a 130 ms mint. Nor does a
source that signs nothing (a refresh token, an external account) use cryptography's key
serialization (with its SSH key module, ciphers and bcrypt), which google.auth.crypt imports for
keys, `inspect` (with `ast` and `dis`; google-auth's regional access boundary code and dataclasses
use it only in functions), or `hashlib` (google-auth hashes only what it logs at debug level):
about 2 MB of such a mint's peak RSS (a key's mint loads the first two, and pays as before). `defer` puts a stand-in module in
`sys.modules`: the `import` statements bind it, and the first attribute anyone reads from it
imports the real module, which then answers every attribute read, so whatever does use it gets the
whole module, as before. (The standard library's `importlib.util.LazyLoader` would be the library
for this, but before Python 3.12 the import statement itself reads the module's `__spec__`, which
makes LazyLoader load it at once.)
"""

import importlib
import importlib.util
import sys
import threading
import types

# what credhelper's mints import through google-auth and never use (tests/test_deferred.py)
UNUSED_BY_MINTS = ("asyncio", "cryptography.x509", "tempfile", "subprocess",
                   "cryptography.hazmat.primitives.serialization", "inspect", "hashlib")

_lock = threading.Lock()


class _Deferred(types.ModuleType):
    """Stands in for a module until an attribute it does not have is read (`__getattr__` runs only then)."""

    def __getattr__(self, attr):
        return getattr(_load(self), attr)

    def __dir__(self):
        return dir(_load(self))


def _load(stand_in):
    real = stand_in.__dict__.get("_deferred_real")
    if real is None:
        name = stand_in.__name__
        with _lock:
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]
        # not under _lock: the import system's own module locks order concurrent first uses
        real = importlib.import_module(name)  # sets sys.modules[name] and the parent's attribute
        stand_in.__dict__["_deferred_real"] = real
    return real


def defer(*names):
    """Make each module in names load on first use; one already imported, or not installed, is left alone."""
    for name in names:
        with _lock:
            if name in sys.modules:
                continue
            try:
                spec = importlib.util.find_spec(name)  # imports the parent package of a submodule
            except (ImportError, ValueError):
                continue
            if spec is None or name in sys.modules:
                continue
            stand_in = _Deferred(name)
            stand_in.__spec__ = spec
            sys.modules[name] = stand_in
            parent, _, child = name.rpartition(".")
            if parent:  # as the import system does: `import a.b` then reads a.b from a
                setattr(sys.modules[parent], child, stand_in)
