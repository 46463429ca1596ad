"""Read one secret from the Secret Service over D-Bus, fast.

`import keyring` costs about three interpreter starts, so the cache-hit path reads items
written by keyring's SecretService backend directly with jeepney (which keyring itself uses
underneath, through SecretStorage). Items are found by the attributes that backend writes
(service, username; it also sets application = "Python keyring library"), in the collection
it writes to, so whatever keyring stored is readable here and vice versa.

The session uses the "plain" algorithm: the secret crosses the per-user session bus socket
unencrypted, as it does when SecretStorage has no `cryptography`. Writes and deletes stay
with keyring. Anything unexpected (no session bus, no daemon, a locked item, a D-Bus error,
a timeout) raises Unavailable, and the caller falls back to keyring.
"""

BUS_NAME = "org.freedesktop.secrets"
SERVICE_PATH = "/org/freedesktop/secrets"
SERVICE_IFACE = "org.freedesktop.Secret.Service"
ALIAS_PREFIX = "/org/freedesktop/secrets/aliases/"
DEFAULT_TIMEOUT_SECS = 2.0


class Unavailable(Exception):
    """The fast path cannot answer; ask keyring instead. The message names the reason only."""


def read_secret(attributes, collection=None, *, timeout_secs=DEFAULT_TIMEOUT_SECS):
    """The secret (str) of the first unlocked item matching attributes, or None if there is none.

    collection: the D-Bus object path keyring writes to (its preferred_collection), default: the
    "default" alias. Raises Unavailable if the answer cannot be trusted to match keyring's.
    """
    try:
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection
        from jeepney.wrappers import unwrap_msg
    except ImportError as exc:
        raise Unavailable("jeepney is not installed") from exc

    service = DBusAddress(SERVICE_PATH, bus_name=BUS_NAME, interface=SERVICE_IFACE)

    def call(address, method, signature=None, body=()):
        reply = conn.send_and_get_reply(new_method_call(address, method, signature, body), timeout=timeout_secs)
        return unwrap_msg(reply)

    try:
        conn = open_dbus_connection(bus="SESSION", auth_timeout=timeout_secs)
    except Exception as exc:  # no DBUS_SESSION_BUS_ADDRESS, socket gone, auth refused
        raise Unavailable(f"no D-Bus session ({type(exc).__name__})") from exc
    try:
        collection = collection or ALIAS_PREFIX + "default"
        if collection.startswith(ALIAS_PREFIX):  # items live under the real path, not the alias
            (collection,) = call(service, "ReadAlias", "s", (collection[len(ALIAS_PREFIX):],))
            if collection == "/":
                raise Unavailable("no such collection alias")
        unlocked, locked = call(service, "SearchItems", "a{ss}", (attributes,))
        prefix = collection.rstrip("/") + "/"
        unlocked = sorted(p for p in unlocked if p.startswith(prefix))
        if not unlocked:
            if any(p.startswith(prefix) for p in locked):
                raise Unavailable("item is locked")
            return None
        _, session = call(service, "OpenSession", "sv", ("plain", ("s", "")))
        item = DBusAddress(unlocked[0], bus_name=BUS_NAME, interface="org.freedesktop.Secret.Item")
        ((_, _parameters, value, _content_type),) = call(item, "GetSecret", "o", (session,))
        return bytes(value).decode("utf-8")
    except Unavailable:
        raise
    except Exception as exc:  # D-Bus error reply, timeout, undecodable secret
        raise Unavailable(f"Secret Service read failed ({type(exc).__name__})") from exc
    finally:
        conn.close()
