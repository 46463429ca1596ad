"""Read one secret from the Secret Service over D-Bus, fast.

`import keyring` costs about three interpreter starts, and jeepney (which keyring uses
underneath, through SecretStorage) another 10 ms with its typing and auth machinery, so
the cache-hit path speaks the few D-Bus calls it needs itself, marshalled as the D-Bus
specification describes: SASL EXTERNAL, BEGIN and Hello in one write (as sd-bus pipelines its
handshake), then SearchItems on the collection and OpenSession("plain") together, then
GetSecret. Items are found as keyring's SecretService backend finds them: SearchItems on its
preferred collection (the "default" alias unless configured) with the attributes it writes
(service, username), first match.

SearchItems grows with the collection: with 1,000 items gnome-keyring spends about 0.8 ms more
of its own CPU per read (1.4 against 0.6 ms), and a hit about 1 to 2 ms more wall time. Reading
the item by its object path instead (kept from CreateItem) was measured and not done: in loops
of 3,000 reads, each on a fresh gnome-keyring 42.1, asking an item object directly crashed the
daemon far more often (Properties.Get of its attributes, with or without overlapping calls: 9
of 9 loops; GetSecret alone, its secret checked against a digest: 9 of 18) than SearchItems with
OpenSession (1 of 18; about once in 3,000 reads it answers UnknownMethod, and keyring answers
instead). D-Bus then starts a new daemon, its keyring locked. A user's keyring is worth more
than a millisecond at 1,000 items.

write_secret() stores an item exactly as that backend does (CreateItem, replacing), for a
caller that already knows keyring's choice is the Secret Service (the cache index says so) and
so need not import keyring and discover its backends (about 0.1 s); deletes stay with keyring.

The "plain" session algorithm sends the secret over the per-user session bus socket
unencrypted, as SecretStorage does without `cryptography`. Anything unexpected (no session
bus, no daemon, a locked item, a D-Bus error, a timeout, a malformed message) raises
Unavailable, and the caller falls back to keyring.
"""

import _socket  # socket.py builds its enums at import, 3 ms of a 30 ms cache hit; this needs none of it
import os
import struct

BUS_NAME = "org.freedesktop.secrets"
SERVICE_PATH = "/org/freedesktop/secrets"
SERVICE_IFACE = "org.freedesktop.Secret.Service"
COLLECTION_IFACE = "org.freedesktop.Secret.Collection"
ITEM_IFACE = "org.freedesktop.Secret.Item"
DEFAULT_COLLECTION = "/org/freedesktop/secrets/aliases/default"
DEFAULT_TIMEOUT_SECS = 2.0
MAX_MESSAGE_BYTES = 1 << 20  # a token entry is a few KiB; refuse anything absurd

_METHOD_CALL, _METHOD_RETURN, _ERROR = 1, 2, 3
_PATH, _INTERFACE, _MEMBER, _ERROR_NAME, _REPLY_SERIAL, _DESTINATION, _SIGNATURE = 1, 2, 3, 4, 5, 6, 8
# fixed-size basic types: struct format and alignment
_FIXED = {"y": "B", "b": "I", "n": "h", "q": "H", "i": "i", "u": "I", "x": "q", "t": "Q", "d": "d", "h": "I"}


class Unavailable(Exception):
    """The fast path cannot answer; ask keyring instead. The message names the reason only."""


class ErrorReply(Unavailable):
    """A call answered with a D-Bus error: name is the error's name."""

    def __init__(self, name):
        super().__init__(f"D-Bus error {name}")
        self.name = name


UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"


def read_secret(attributes, collection=None, *, timeout_secs=DEFAULT_TIMEOUT_SECS):
    """The secret (str) of the first item matching attributes in the collection, or None if there is none.

    collection: the D-Bus object path keyring writes to (its preferred_collection), default: the
    "default" alias. Raises Unavailable if the answer cannot be trusted to match keyring's.

    gnome-keyring 42.1 answers UnknownMethod to about one read in 3,000 (calls overlapping or not):
    such a read is made once more, on a new connection, before the caller falls back to keyring.
    """
    try:
        return _read_secret(attributes, collection, timeout_secs)
    except ErrorReply as exc:
        if exc.name != UNKNOWN_METHOD:
            raise
        return _read_secret(attributes, collection, timeout_secs)


def _read_secret(attributes, collection, timeout_secs):
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if not address:
        raise Unavailable("no D-Bus session (DBUS_SESSION_BUS_ADDRESS is not set)")
    try:
        bus = Bus(address, timeout_secs)
    except (OSError, ValueError) as exc:  # socket gone, refused, timed out, bad address
        raise Unavailable(f"no D-Bus session ({type(exc).__name__})") from None
    try:
        # sent together, with the authentication and Hello: one round trip through the bus, not three
        search = bus.send(BUS_NAME, collection or DEFAULT_COLLECTION, COLLECTION_IFACE, "SearchItems", "a{ss}",
                          (dict(attributes),))
        opened = bus.send(BUS_NAME, SERVICE_PATH, SERVICE_IFACE, "OpenSession", "sv", ("plain", ("s", "")))
        (items,) = bus.reply(search)
        if not items:
            return None
        _, session = bus.reply(opened)
        # a locked item answers org.freedesktop.Secret.Error.IsLocked: Unavailable, and keyring decides
        ((_, _parameters, value, _content_type),) = bus.call(BUS_NAME, items[0], ITEM_IFACE, "GetSecret", "o",
                                                             (session,))
        return bytes(value).decode("utf-8")
    except Unavailable:
        raise
    except (OSError, ValueError, struct.error, IndexError, TypeError) as exc:  # timeout, malformed reply
        raise Unavailable(f"Secret Service read failed ({type(exc).__name__})") from None
    finally:
        bus.close()


KEYRING_APPLICATION = "Python keyring library"  # the "application" attribute keyring's SecretService backend writes


def write_secret(attributes, label, secret, collection=None, *, timeout_secs=DEFAULT_TIMEOUT_SECS):
    """Create (or replace) the item with these attributes in the collection, holding secret (str).

    As keyring's SecretService backend writes it (CreateItem with replace, content type text/plain),
    so keyring reads, finds and deletes it as its own. Unavailable when the collection is locked
    (the unlock prompt is keyring's business) or anything else is off: the caller asks keyring.
    """
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if not address:
        raise Unavailable("no D-Bus session (DBUS_SESSION_BUS_ADDRESS is not set)")
    try:
        bus = Bus(address, timeout_secs)
    except (OSError, ValueError) as exc:
        raise Unavailable(f"no D-Bus session ({type(exc).__name__})") from None
    try:
        _, session = bus.call(BUS_NAME, SERVICE_PATH, SERVICE_IFACE, "OpenSession", "sv", ("plain", ("s", "")))
        properties = {"org.freedesktop.Secret.Item.Label": ("s", label),
                      "org.freedesktop.Secret.Item.Attributes": ("a{ss}", dict(attributes))}
        _, prompt = bus.call(BUS_NAME, collection or DEFAULT_COLLECTION, COLLECTION_IFACE, "CreateItem",
                             "a{sv}(oayays)b", (properties, (session, b"", secret.encode("utf-8"), "text/plain"), True))
        if prompt != "/":  # the collection is locked: unlocking it prompts the user
            raise Unavailable("the Secret Service collection is locked")
    except Unavailable:
        raise
    except (OSError, ValueError, struct.error, IndexError, TypeError) as exc:
        raise Unavailable(f"Secret Service write failed ({type(exc).__name__})") from None
    finally:
        bus.close()


class Bus:
    """A D-Bus connection on a unix socket: method calls, and their replies by serial.

    Nothing is read until the first reply is asked for: the authentication, Hello and the calls sent
    before it go out without waiting, as the D-Bus specification allows after BEGIN, and the bus
    answers them in order."""

    def __init__(self, address, timeout_secs):
        self._sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        self._in = b""
        self._serial = 0
        self._replies = {}  # serial -> a reply read while waiting for another
        try:
            self._sock.settimeout(timeout_secs)
            self._sock.connect(socket_path(address))
            auth = b"\0AUTH EXTERNAL " + str(os.geteuid()).encode().hex().encode() + b"\r\nBEGIN\r\n"
            hello = self._message("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello", "", ())
            self._sock.sendall(auth + hello)
            self._hello = self._serial  # its reply is checked before any other
        except BaseException:
            self._sock.close()
            raise

    def close(self):
        self._sock.close()

    def call(self, destination, path, interface, member, signature, args):
        """Call a method; its reply body as a tuple, or Unavailable for an error reply."""
        return self.reply(self.send(destination, path, interface, member, signature, args))

    def send(self, destination, path, interface, member, signature, args):
        """Send a method call without waiting; its serial, for reply()."""
        self._sock.sendall(self._message(destination, path, interface, member, signature, args))
        return self._serial

    def reply(self, serial):
        """The reply body (a tuple) of the call sent as serial, or Unavailable for an error reply."""
        if self._hello is not None:
            hello, self._hello = self._hello, None
            if not self._readline().startswith(b"OK "):
                raise Unavailable("the D-Bus session refused authentication")
            self.reply(hello)
        return self._reply(serial)

    def _message(self, destination, path, interface, member, signature, args):
        self._serial += 1
        body = bytearray()
        for sig, value in zip(split_signature(signature), args):
            marshal(body, sig, value)
        fields = [(_PATH, ("o", path)), (_INTERFACE, ("s", interface)), (_MEMBER, ("s", member)),
                  (_DESTINATION, ("s", destination))]
        if signature:
            fields.append((_SIGNATURE, ("g", signature)))
        message = bytearray(b"l" + bytes([_METHOD_CALL, 0, 1]) + struct.pack("<II", len(body), self._serial))
        marshal(message, "a(yv)", fields)
        return bytes(message + b"\0" * (-len(message) % 8) + body)

    def _reply(self, serial):
        while serial not in self._replies:  # skip signals (NameAcquired); keep replies to our other calls
            kind, headers, body, endian = self._read_message()
            answered = headers.get(_REPLY_SERIAL)
            if kind in (_METHOD_RETURN, _ERROR) and isinstance(answered, int) and 0 < answered <= self._serial:
                self._replies[answered] = kind, headers, body, endian
        kind, headers, body, endian = self._replies.pop(serial)
        if kind == _ERROR:
            raise ErrorReply(headers.get(_ERROR_NAME, "?"))
        values, pos = [], 0
        for sig in split_signature(headers.get(_SIGNATURE, "")):
            value, pos = unmarshal(body, pos, sig, endian)
            values.append(value)
        return tuple(values)

    def _read_message(self):
        fixed = self._read(16)
        endian = {108: "<", 66: ">"}.get(fixed[0])  # 'l' or 'B'
        if endian is None:
            raise ValueError("not a D-Bus message")
        body_len, _, fields_len = struct.unpack(endian + "III", fixed[4:16])
        header_len = 16 + fields_len + (-(16 + fields_len) % 8)
        if header_len + body_len > MAX_MESSAGE_BYTES:
            raise ValueError("D-Bus message too large")
        header = fixed + self._read(header_len - 16)
        fields, _ = unmarshal(header, 12, "a(yv)", endian)
        return fixed[1], dict(fields), self._read(body_len), endian

    def _read(self, n):
        while len(self._in) < n:
            chunk = self._sock.recv(max(65536, n - len(self._in)))
            if not chunk:
                raise ConnectionError("the D-Bus session closed the connection")
            self._in += chunk
        data, self._in = self._in[:n], self._in[n:]
        return data

    def _readline(self):
        while b"\r\n" not in self._in:
            if len(self._in) > 4096:
                raise ValueError("D-Bus authentication line too long")
            chunk = self._sock.recv(4096)
            if not chunk:
                raise ConnectionError("the D-Bus session closed the connection")
            self._in += chunk
        line, _, self._in = self._in.partition(b"\r\n")
        return line


def socket_path(address):
    """The socket of the first unix: address in a D-Bus address list ('\\0'-prefixed if abstract)."""
    for entry in address.split(";"):
        transport, _, info = entry.partition(":")
        if transport != "unix":
            continue
        keys = dict(kv.partition("=")[::2] for kv in info.split(",") if "=" in kv)
        if "path" in keys:
            return _unescape(keys["path"])
        if "abstract" in keys:
            return "\0" + _unescape(keys["abstract"])
    raise ValueError("no unix: address in DBUS_SESSION_BUS_ADDRESS")


def _unescape(value):
    parts = value.split("%")
    return parts[0] + "".join(chr(int(p[:2], 16)) + p[2:] for p in parts[1:])


# -- the wire format -------------------------------------------------------------------------

def split_signature(signature):
    """'sa{ss}(oay)' -> ['s', 'a{ss}', '(oay)']: the complete types in a signature."""
    types, i = [], 0
    while i < len(signature):
        j = _type_end(signature, i)
        types.append(signature[i:j])
        i = j
    return types


def _type_end(signature, i):
    c = signature[i]
    if c == "a":
        return _type_end(signature, i + 1)
    if c in "({":
        close, depth, j = {"(": ")", "{": "}"}[c], 0, i
        while True:
            if signature[j] == c:
                depth += 1
            elif signature[j] == close:
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
    return i + 1


def _alignment(sig):
    c = sig[0]
    if c in "({xtd":
        return 8
    if c in "sobuiha":
        return 4
    if c in "nq":
        return 2
    return 1  # y, g, v


def marshal(buf, sig, value):
    """Append value, of the single complete type sig, to buf (little-endian, aligned from buf's start)."""
    c = sig[0]
    buf += b"\0" * (-len(buf) % _alignment(sig))
    if c in _FIXED:
        buf += struct.pack("<" + _FIXED[c], value)
    elif c in "so":
        data = value.encode("utf-8")
        buf += struct.pack("<I", len(data)) + data + b"\0"
    elif c == "g":
        data = value.encode("ascii")
        buf += bytes([len(data)]) + data + b"\0"
    elif c == "v":
        inner, inner_value = value
        marshal(buf, "g", inner)
        marshal(buf, inner, inner_value)
    elif c == "a":
        at = len(buf)
        buf += b"\0\0\0\0"
        element = sig[1:]
        buf += b"\0" * (-len(buf) % _alignment(element))
        start = len(buf)
        for item in (value.items() if element[0] == "{" else value):
            marshal(buf, element, item)
        struct.pack_into("<I", buf, at, len(buf) - start)
    elif c in "({":
        for inner, inner_value in zip(split_signature(sig[1:-1]), value):
            marshal(buf, inner, inner_value)
    else:
        raise ValueError(f"cannot marshal D-Bus type {c!r}")


def unmarshal(data, pos, sig, endian="<"):
    """(value, next position) of the single complete type sig at pos. Arrays of bytes are bytes,
    of dict entries dicts; structs are tuples; a variant is its value."""
    c = sig[0]
    pos += -pos % _alignment(sig)
    if c in _FIXED:
        fmt = endian + _FIXED[c]
        return struct.unpack_from(fmt, data, pos)[0], pos + struct.calcsize(fmt)
    if c in "so":
        (n,) = struct.unpack_from(endian + "I", data, pos)
        end = pos + 4 + n
        if end >= len(data):
            raise ValueError("truncated D-Bus string")
        return data[pos + 4:end].decode("utf-8"), end + 1
    if c == "g":
        n = data[pos]
        return data[pos + 1:pos + 1 + n].decode("ascii"), pos + n + 2
    if c == "v":
        inner, pos = unmarshal(data, pos, "g", endian)
        if len(split_signature(inner)) != 1:
            raise ValueError("bad D-Bus variant signature")
        return unmarshal(data, pos, inner, endian)
    if c == "a":
        (n,) = struct.unpack_from(endian + "I", data, pos)
        element = sig[1:]
        pos += 4
        pos += -pos % _alignment(element)
        end = pos + n
        if end > len(data):
            raise ValueError("truncated D-Bus array")
        if element == "y":
            return bytes(data[pos:end]), end
        items = []
        while pos < end:
            item, pos = unmarshal(data, pos, element, endian)
            items.append(item)
        return (dict(items) if element[0] == "{" else items), end
    if c in "({":
        items = []
        for inner in split_signature(sig[1:-1]):
            item, pos = unmarshal(data, pos, inner, endian)
            items.append(item)
        return tuple(items), pos
    raise ValueError(f"cannot unmarshal D-Bus type {c!r}")
