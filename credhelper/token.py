"""Token: what every stage passes along. Its repr never shows the secret."""

import time
from dataclasses import dataclass, field

ACCESS_TOKEN = "access_token"
ID_TOKEN = "id_token"
JWT = "jwt"
KINDS = (ACCESS_TOKEN, ID_TOKEN, JWT)


@dataclass(frozen=True)
class Token:
    kind: str  # ACCESS_TOKEN, ID_TOKEN or JWT
    value: str = field(repr=False)
    expiry: float  # epoch seconds, UTC
    token_type: str = "Bearer"

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
            kind, value, expiry = data["kind"], data["value"], float(data["expiry"])
            token_type = data.get("token_type", "Bearer")
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ValueError("malformed token entry") from None
        if kind not in KINDS or not isinstance(value, str) or not value or not isinstance(token_type, str):
            raise ValueError("malformed token entry")
        return cls(kind, value, expiry, token_type)
