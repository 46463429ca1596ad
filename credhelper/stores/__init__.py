"""Token stores: where the cache keeps token values, one backend per module (as keyring has).

Every store has the same small interface:
    name                    what the cache index records as the entry's "store"
    read(key, entry)        the stored text for key, or None (absent, unreadable, not trustworthy)
    write(key, value)       store value; returns the index fields to record (store, backend label...);
                            raises Unusable (with a short reason) when it cannot work
    delete(key)             forget key (absent is fine)
Stores: file (0600 files in the 0700 runtime directory), keyring (the keyring package; on Linux its
Secret Service items are read back without it, by credhelper.secretservice). The cache with no
store at all is credhelper.cache.NullCache.
"""

SERVICE_NAME = "credhelper"  # the keyring service every token is stored under
STORE_FILE = "file"
STORE_SECRET_SERVICE = "secretservice"  # keyring's SecretService backend: readable without keyring
STORE_KEYRING = "keyring"  # another keyring backend: read through keyring
KEYRING_STORES = (STORE_SECRET_SERVICE, STORE_KEYRING)


class Unusable(Exception):
    """A store cannot work here; reason is short and stable (it names the warn-once marker)."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason
        self.message = message


class Untrusted(Exception):
    """A stored file exists but is not the user's own private file (planted, or too open): a miss."""
