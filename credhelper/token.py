"""Token: what every stage passes along. Its repr never shows the secret."""

import time
from collections import namedtuple

ACCESS_TOKEN = "access_token"
ID_TOKEN = "id_token"
JWT = "jwt"
KINDS = (ACCESS_TOKEN, ID_TOKEN, JWT)
# a protocol's own kind (e.g. "aws_credentials", credhelper.protocols.aws) needs no entry here: any name of
# lowercase letters, digits and "_" is a kind the stores accept (is_kind); its cache key holds it as any other
_KIND_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
MAX_KIND_CHARS = 64
MAX_EXPIRY = 253402300799.0  # 9999-12-31T23:59:59Z, the last instant RFC 3339 (and kubectl) can write


def checked_expiry(value):
    """An expiry as epoch seconds: a finite number from 1970 to 9999 (bools and strings refused); ValueError otherwise.

    Upstream JSON may say NaN, Infinity or 1e300; such a token must be refused, not served forever
    (NaN never compares as stale) nor crash the formats that print its expiry.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("an expiry must be a number")
    try:
        value = float(value)
    except OverflowError:  # an int beyond float range
        raise ValueError("expiry out of range") from None
    if not 0 <= value <= MAX_EXPIRY:  # False for NaN and the infinities too
        raise ValueError("expiry out of range")
    return value


class Token(namedtuple("Token", "kind value expiry token_type", defaults=("Bearer",))):
    """kind: ACCESS_TOKEN, ID_TOKEN or JWT, or a protocol's own (is_kind); value: the secret; expiry: epoch seconds, UTC.

    A namedtuple rather than a dataclass: `dataclasses` imports `inspect`, several milliseconds
    of every cache hit.
    """

    __slots__ = ()

    def __repr__(self):
        return f"Token(kind={self.kind!r}, value=<redacted>, expiry={self.expiry_rfc3339()!r})"

    __str__ = __repr__

    def expires_in(self, now=None):
        """Whole seconds left before expiry (negative once expired)."""
        return int(self.expiry - (time.time() if now is None else now))

    def expiry_rfc3339(self):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.expiry))

    def to_dict(self):
        return {"kind": self.kind, "value": self.value, "expiry": self.expiry, "token_type": self.token_type}

    @classmethod
    def from_dict(cls, data):
        """Rebuild from to_dict() output; raises ValueError (without the value) on a bad entry."""
        try:
            kind, value, expiry = data["kind"], data["value"], checked_expiry(data["expiry"])
            token_type = data.get("token_type", "Bearer")
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ValueError("malformed token entry") from None
        if not is_kind(kind) or not isinstance(value, str) or not value or not isinstance(token_type, str):
            raise ValueError("malformed token entry")
        return cls(kind, value, expiry, token_type)


def is_kind(name):
    """A built-in kind (KINDS), or a protocol's own: 1 to 64 of a-z, 0-9 and "_", starting with a letter."""
    return name in KINDS or (isinstance(name, str) and 0 < len(name) <= MAX_KIND_CHARS and name[0].isalpha()
                             and set(name) <= _KIND_CHARS)


def is_token_value(value):
    """A token as it may be passed on: a non-empty string of visible ASCII, no space, no line break.

    Tokens go into HTTP headers and line-based protocols (git's credential protocol, --format header,
    env); an upstream value with a line break would inject lines of its choosing there.
    """
    return isinstance(value, str) and bool(value) and value.isascii() and value.isprintable() and " " not in value


def parse_time(value):
    """RFC 3339 ('2026-11-28T19:00:00.123456789Z', offsets allowed) or epoch seconds -> epoch float.

    Exact: the fraction is added in integer arithmetic and divided once (Python's int / int is
    correctly rounded), so the result is the float nearest the instant written. 'T' and 'Z' may be lower case and 'T' a space (RFC 3339 section 5.6); a time
    without an offset is read as UTC. ValueError for anything else, and for instants that are not
    finite or fall outside 1970..9999 (see checked_expiry).
    """
    import datetime

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return checked_expiry(value)
    if not isinstance(value, str):
        raise ValueError("not a time")
    text = value.strip()
    if text.isascii() and text.replace(".", "", 1).isdigit():
        return checked_expiry(float(text))
    if not text.isascii():
        raise ValueError("not an RFC 3339 time")
    date, sep, rest = text.replace("t", "T").replace(" ", "T", 1).partition("T")
    if not sep or not rest:
        raise ValueError("not an RFC 3339 time")
    numerator, denominator = 0, 1  # the fraction of a second
    offset = "+00:00"
    if rest.endswith(("Z", "z")):
        rest = rest[:-1]
    elif len(rest) > 6 and rest[-6] in "+-" and rest[-3] == ":":
        rest, offset = rest[:-6], rest[-6:]
    if "." in rest:
        rest, digits = rest.split(".", 1)
        if not digits.isdigit():
            raise ValueError("bad fraction")
        numerator, denominator = int(digits), 10 ** len(digits)
    if not (len(date) == 10 and len(rest) == 8 and len(offset) == 6):
        raise ValueError("not an RFC 3339 time")
    try:
        parsed = datetime.datetime.fromisoformat(f"{date}T{rest}{offset}")
    except OverflowError:
        raise ValueError("time out of range") from None
    whole = (parsed - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)) // datetime.timedelta(seconds=1)
    return checked_expiry((whole * denominator + numerator) / denominator)


def jwt_claims(value):
    """The payload of a JWT as a dict, decoded without verifying; ValueError if it is not one.

    The one decoder of JWT payloads (expiry of ID tokens, the executable protocol's aud check).
    """
    import base64
    import json

    try:
        payload = value.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (AttributeError, IndexError, ValueError, TypeError, RecursionError):
        raise ValueError("not a JWT") from None
    if not isinstance(claims, dict):
        raise ValueError("not a JWT")
    return claims


def jwt_expiry(value):
    """exp of a JWT as checked epoch seconds; ValueError if it has none."""
    try:
        return checked_expiry(float(jwt_claims(value)["exp"]))
    except (KeyError, TypeError, OverflowError):
        raise ValueError("a JWT without a usable exp claim") from None
