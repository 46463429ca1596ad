"""Request and Response: the HTTP messages endpoint handlers see, independent of http.server."""

import json
import urllib.parse
from dataclasses import dataclass, field

from credhelper.emulator.state import ApiError


@dataclass
class Request:
    method: str
    path: str  # as sent (still percent-encoded), without the query string
    query: dict  # name -> first value
    headers: object  # case-insensitive mapping (http.client.HTTPMessage)
    body: bytes
    base_url: str  # http://127.0.0.1:PORT

    def form(self):
        """The urlencoded body as name -> first value (blank values kept, as OAuth servers do)."""
        pairs = urllib.parse.parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        out = {}
        for name, value in pairs:
            out.setdefault(name, value)
        return out

    def json(self, allowed_fields):
        """The JSON body as a dict; unknown fields are rejected the way Google's JSON mapping does."""
        try:
            data = json.loads(self.body or b"{}")
        except ValueError:
            raise ApiError(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unexpected token.") from None
        if not isinstance(data, dict):
            raise ApiError(400, "INVALID_ARGUMENT",
                           "Invalid JSON payload received. Root element must be a message.")
        for name in data:
            if name not in allowed_fields:
                raise ApiError(400, "INVALID_ARGUMENT",
                               f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.')
        return data

    def bearer(self):
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@dataclass
class Response:
    status: int
    body: object = b""  # dict/list -> JSON, str -> text, bytes -> as is
    content_type: str = None
    headers: dict = field(default_factory=dict)

    def encode(self):
        """(content type, bytes)."""
        if isinstance(self.body, (dict, list)):
            return self.content_type or "application/json; charset=UTF-8", json.dumps(self.body, indent=2).encode()
        if isinstance(self.body, str):
            return self.content_type or "text/plain; charset=UTF-8", self.body.encode("utf-8")
        return self.content_type or "application/octet-stream", self.body
