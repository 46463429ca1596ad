"""The one HTTP stack: a google-auth transport with bounded retries and an overall deadline.

google-auth's credentials refresh through it, and chain.py's IAM calls use it too, so every
upstream request gets the same policy:
  - retry 429, 500, 502, 503, 504, connection resets and timeouts, at most MAX_ATTEMPTS times,
    with exponential backoff and full jitter, honouring Retry-After;
  - never retry other 4xx;
  - never run past the command's deadline (CREDHELPER_DEADLINE_SECS, default 30 s): each request's
    timeout is cut to what is left, and no retry starts once the deadline has passed.
Nothing here logs a URL's query string or a body (either may carry a secret).
"""

import contextlib
import email.utils
import logging
import random
import threading
import time
import urllib.parse

import google.auth.exceptions
import google.auth.transport
import google.auth.transport.requests
import requests

from credhelper import __version__

log = logging.getLogger("credhelper.transport")

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_ATTEMPTS = 4
BACKOFF_BASE_SECS = 0.25
BACKOFF_CAP_SECS = 4.0
RETRY_AFTER_CAP_SECS = 10.0
REQUEST_TIMEOUT_SECS = 15.0
MAX_RESPONSE_BYTES = 1 << 20  # an answer bigger than 1 MiB is not a token response


def endpoint_name(url):
    """scheme://host/path, without the query: safe to put in a message."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class DeadlineExceeded(google.auth.exceptions.TransportError):
    pass


class _Response(google.auth.transport.Response):
    def __init__(self, status, headers, data):
        self._status, self._headers, self._data = status, headers, data

    @property
    def status(self):
        return self._status

    @property
    def headers(self):
        return self._headers

    @property
    def data(self):
        return self._data


class Request(google.auth.transport.Request):
    """A google.auth.transport.Request with retries, backoff and a deadline shared by all calls."""

    def __init__(self, deadline_secs=None, session=None, sleep=time.sleep, clock=time.monotonic):
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = f"credhelper/{__version__}"
        self.clock, self.sleep = clock, sleep
        if deadline_secs is None:
            from credhelper.broker import deadline_from_env

            deadline_secs = deadline_from_env()
        self.deadline_secs = deadline_secs
        self.deadline = clock() + self.deadline_secs
        self.attempts = 0  # total HTTP attempts made through this object
        self.last_answer = None  # (endpoint_name, HTTP status) of the last response, for messages

    def remaining(self):
        return self.deadline - self.clock()

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        where = endpoint_name(url)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            left = self.remaining()
            if left <= 0:
                raise DeadlineExceeded(f"the {self.deadline_secs:g} s deadline (CREDHELPER_DEADLINE_SECS) ran out "
                                       f"before a request to {where} could be made")
            per_try = min(timeout or REQUEST_TIMEOUT_SECS, REQUEST_TIMEOUT_SECS, left)
            self.attempts += 1
            try:
                resp = self.session.request(method, url, data=body, headers=headers, timeout=per_try,
                                            stream=True, **kwargs)
                data = _read_limited(resp)
                status = resp.status_code
                self.last_answer = (where, status)
                log.debug("%s %s -> %s", method, where, status)
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                    requests.exceptions.ChunkedEncodingError) as exc:
                kind = "timed out" if isinstance(exc, requests.exceptions.Timeout) else "connection failed"
                log.info("%s %s: %s (attempt %d)", method, where, kind, attempt)
                if attempt == MAX_ATTEMPTS or not self._backoff(attempt, None):
                    if self.remaining() <= 0 or (kind == "timed out" and per_try >= left):
                        kind = (f"no answer within the {self.deadline_secs:g} s deadline "
                                f"(CREDHELPER_DEADLINE_SECS); {kind}")
                    raise google.auth.exceptions.TransportError(f"{where}: {kind} after {attempt} attempt(s)") from None
                continue
            except _TooLarge:
                raise google.auth.exceptions.TransportError(
                    f"{where}: answered more than {MAX_RESPONSE_BYTES >> 20} MiB, which is not a token response") from None
            except requests.exceptions.RequestException as exc:
                raise google.auth.exceptions.TransportError(f"{where}: {type(exc).__name__}") from None
            if status in RETRY_STATUS and attempt < MAX_ATTEMPTS:
                log.info("%s %s -> %s, retrying (attempt %d)", method, where, status, attempt)
                if self._backoff(attempt, resp.headers.get("Retry-After")):
                    continue
            return _Response(status, resp.headers, data)
        raise AssertionError("unreachable")

    def _backoff(self, attempt, retry_after):
        """Sleep before the next attempt; False when the deadline leaves no room for one."""
        delay = random.uniform(0, min(BACKOFF_CAP_SECS, BACKOFF_BASE_SECS * 2 ** (attempt - 1)))
        hinted = _parse_retry_after(retry_after)
        if hinted is not None:
            delay = min(hinted, RETRY_AFTER_CAP_SECS)
        if delay >= self.remaining():
            return False
        self.sleep(delay)
        return True


class _TooLarge(requests.exceptions.RequestException):
    pass


# -- google-auth's own retry loops ------------------------------------------------------------------
# google-auth retries the token endpoint (3 attempts) and the metadata server (5) itself, with
# time.sleep between attempts. On top of this transport that would make 4 x 3 requests to a failing
# token endpoint and sleep past the deadline. While credhelper refreshes a credential, google-auth's
# loops make one attempt: the retry policy is this module's alone. Elsewhere (other code using
# google-auth in the same process) they behave as google-auth made them.

_refreshing = threading.local()


def _install_single_attempt_backoff():
    try:
        from google.auth._exponential_backoff import ExponentialBackoff
    except ImportError:
        return
    original = ExponentialBackoff.__next__
    if getattr(original, "_credhelper_single_attempt", False):
        return

    def __next__(self):
        if getattr(_refreshing, "depth", 0) and getattr(self, "_backoff_count", 0) >= 1:
            raise StopIteration
        return original(self)

    __next__._credhelper_single_attempt = True
    ExponentialBackoff.__next__ = __next__


@contextlib.contextmanager
def google_auth_single_attempt():
    """Inside: google-auth's own retry loops stop after one attempt (this transport retries)."""
    _install_single_attempt_backoff()
    _refreshing.depth = getattr(_refreshing, "depth", 0) + 1
    try:
        yield
    finally:
        _refreshing.depth -= 1


def _read_limited(resp):
    chunks, size = [], 0
    for chunk in resp.iter_content(65536):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            resp.close()
            raise _TooLarge("response too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_retry_after(value):
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
