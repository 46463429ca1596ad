"""Token: what every stage passes along. Its repr never shows the secret."""

import math
import time
from collections import namedtuple

ACCESS_TOKEN = "access_token"
ID_TOKEN = "id_token"
JWT = "jwt"
KINDS = (ACCESS_TOKEN, ID_TOKEN, JWT)
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
    if not (math.isfinite(value) and 0 <= value <= MAX_EXPIRY):
        raise ValueError("expiry out of range")
    return value


class Token(namedtuple("Token", "kind value expiry token_type", defaults=("Bearer",))):
    """kind: ACCESS_TOKEN, ID_TOKEN or JWT; value: the secret; expiry: epoch seconds, UTC.

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
        if kind not in KINDS or not isinstance(value, str) or not value or not isinstance(token_type, str):
            raise ValueError("malformed token entry")
        return cls(kind, value, expiry, token_type)
