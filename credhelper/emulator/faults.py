"""The fault plan: make chosen endpoints fail, slow down or answer garbage, a set number of times.

A fault as JSON (for --faults and POST /_emulator/faults):

    {"endpoint": "generateAccessToken",  # a counter name, or "*" for every endpoint
     "status": 503,                      # HTTP status; "reset" drops the connection; null answers normally
     "times": 2,                         # how many requests it hits (default 1); null: until cleared
     "latency_secs": 0.5,                # sleep before answering
     "body": "malformed",                # null: a Google-shaped error; "malformed" JSON, "truncated"
                                         # (Content-Length longer than the body), "huge" (5 MB), "html"
     "retry_after": 2}                   # Retry-After header, in seconds

Faults are tried in the order they were added; the first that still has requests left applies.
"""

import threading
from dataclasses import asdict, dataclass

ENDPOINTS = ("token", "generateAccessToken", "generateIdToken", "signJwt", "signBlob", "sts", "introspect",
             "metadata", "tokeninfo", "certs", "storage")
BODIES = (None, "malformed", "truncated", "huge", "html")


@dataclass
class Fault:
    endpoint: str = "*"
    status: object = 503  # int, "reset" or None
    times: object = 1  # int or None (unlimited)
    latency_secs: float = 0
    body: str = None
    retry_after: object = None  # int or None


class FaultPlan:
    def __init__(self):
        self._faults = []
        self._lock = threading.Lock()

    def add(self, endpoint="*", status=503, times=1, latency_secs=0, body=None, retry_after=None):
        """Validate and append a fault; raises ValueError with the reason."""
        if endpoint != "*" and endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r} (known: *, {', '.join(ENDPOINTS)})")
        if not (status is None or status == "reset" or (isinstance(status, int) and 100 <= status <= 599)):
            raise ValueError("status must be an HTTP status code, \"reset\" or null")
        if times is not None and (not isinstance(times, int) or times < 1):
            raise ValueError("times must be a positive integer or null")
        if not isinstance(latency_secs, (int, float)) or latency_secs < 0:
            raise ValueError("latency_secs must be a non-negative number")
        if body not in BODIES:
            raise ValueError(f"body must be one of {', '.join(str(b) for b in BODIES)}")
        if retry_after is not None and (not isinstance(retry_after, int) or retry_after < 0):
            raise ValueError("retry_after must be a non-negative integer")
        fault = Fault(endpoint, status, times, latency_secs, body, retry_after)
        with self._lock:
            self._faults.append(fault)
        return fault

    def load(self, specs):
        """Add faults from parsed JSON: a list of fault objects, or one object."""
        for spec in specs if isinstance(specs, list) else [specs]:
            if not isinstance(spec, dict):
                raise ValueError("a fault must be a JSON object")
            unknown = set(spec) - set(Fault.__dataclass_fields__)
            if unknown:
                raise ValueError(f"unknown fault field {sorted(unknown)[0]!r}")
            self.add(**spec)

    def clear(self):
        with self._lock:
            self._faults.clear()

    def take(self, endpoint):
        """The fault that applies to one request to `endpoint`, using up one of its times; or None."""
        with self._lock:
            for fault in self._faults:
                if fault.endpoint in ("*", endpoint):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    return Fault(**asdict(fault))
        return None

    def to_list(self):
        with self._lock:
            return [asdict(f) for f in self._faults]
