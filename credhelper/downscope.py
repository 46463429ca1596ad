"""source -> impersonated -> downscoped: exchange the target's access token at STS for one
that a Credential Access Boundary limits (RFC 8693 token exchange, as google-auth's
google.auth.downscoped does).

A profile's access_boundary is either the path of a Credential Access Boundary JSON file
(`{"accessBoundary": {"accessBoundaryRules": [...]}}`, or the bare `{"accessBoundaryRules": [...]}`)
or the inline form `bucket=B, role=R[, condition=EXPR]`, which makes one rule for one bucket.
"""

import json
import math
import re
import time
import urllib.parse

import google.auth.exceptions

from credhelper.errors import ImpersonationError, ProfileError, UpstreamError
from credhelper.googleerrors import error_text, exception_reason
from credhelper.source import GOOGLE_STS_BASE
from credhelper.token import ACCESS_TOKEN, Token
from credhelper.transport import endpoint_name

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
MAX_RULES = 10  # STS rejects a boundary with more rules
STORAGE_RESOURCE = "//storage.googleapis.com/projects/_/buckets/{bucket}"
_INLINE_KEYS = ("bucket", "role", "condition")
_INLINE_SPLIT = re.compile(r",\s*(?=\w+\s*=)")
_CONDITION_START = re.compile(r"(?:^|,)\s*condition\s*=")
FILE_EXAMPLE = ('{"accessBoundary": {"accessBoundaryRules": [{"availableResource": '
                '"//storage.googleapis.com/projects/_/buckets/B", '
                '"availablePermissions": ["inRole:roles/storage.objectViewer"]}]}}')


def sts_url(profile):
    return (profile.sts_endpoint or GOOGLE_STS_BASE).rstrip("/") + "/v1/token"


def boundary(profile):
    """The profile's boundary as STS wants it: {"accessBoundary": {"accessBoundaryRules": [...]}}."""
    value = profile.access_boundary
    if _looks_inline(value):
        rules = [inline_rule(value, profile.name)]
    else:
        rules = load_rules(value)
    return {"accessBoundary": {"accessBoundaryRules": rules}}


def _looks_inline(value):
    return "=" in value and not value.startswith("/")


def inline_rule(value, profile_name="?"):
    """'bucket=B, role=R[, condition=EXPR]' -> one access boundary rule. The condition may hold commas."""
    fields = {}
    head = value.strip()
    m = _CONDITION_START.search(head)
    if m:  # the condition comes last and is taken whole: CEL may hold commas and '='
        head, fields["condition"] = head[:m.start()], head[m.end():].strip()
    for part in _INLINE_SPLIT.split(head):
        key, sep, val = part.partition("=")
        key, val = key.strip(), val.strip()
        if not sep or key not in _INLINE_KEYS or not val:
            raise _inline_error(profile_name, f"cannot read {part.strip()!r}")
        if key in fields:
            raise _inline_error(profile_name, f"{key} is given twice")
        fields[key] = val
    if "bucket" not in fields or "role" not in fields:
        raise _inline_error(profile_name, "needs both bucket=NAME and role=ROLE")
    role = fields["role"]
    rule = {"availableResource": STORAGE_RESOURCE.format(bucket=fields["bucket"]),
            "availablePermissions": [role if role.startswith("inRole:") else f"inRole:{role}"]}
    if "condition" in fields:
        rule["availabilityCondition"] = {"expression": fields["condition"]}
    return rule


def _inline_error(profile_name, what):
    return ProfileError(f"profile '{profile_name}': access_boundary: {what}",
                        hint="write access_boundary = bucket=B, role=roles/storage.objectViewer"
                             "[, condition=resource.name.startsWith('projects/_/buckets/B/objects/PREFIX')]")


def load_rules(path):
    """Read and check a Credential Access Boundary file; ProfileError naming the file when it is wrong."""
    def bad(what):
        return ProfileError(f"access boundary file {path}: {what}",
                            hint=f"write a Credential Access Boundary, e.g. {FILE_EXAMPLE}")

    from credhelper.credentials import read_trusted_file

    raw = read_trusted_file(path, "access boundary file")  # the user's own, bounded (ProfileError otherwise)
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise bad(f"cannot read it ({type(exc).__name__})") from None
    except (ValueError, RecursionError) as exc:
        raise bad(f"not valid JSON (line {getattr(exc, 'lineno', '?')})") from None
    if isinstance(data, dict) and "accessBoundary" in data:
        data = data["accessBoundary"]
    if not isinstance(data, dict) or "accessBoundaryRules" not in data:
        raise bad('no "accessBoundaryRules" (at the top level or under "accessBoundary")')
    rules = data["accessBoundaryRules"]
    if not isinstance(rules, list) or not rules:
        raise bad('"accessBoundaryRules" must be a non-empty list')
    if len(rules) > MAX_RULES:
        raise bad(f"{len(rules)} rules; STS accepts at most {MAX_RULES}")
    for i, rule in enumerate(rules, 1):
        _check_rule(rule, lambda what, i=i: bad(f"rule {i}: {what}"))
    return rules


def _check_rule(rule, bad):
    if not isinstance(rule, dict):
        raise bad("not a JSON object")
    unknown = set(rule) - {"availableResource", "availablePermissions", "availabilityCondition"}
    if unknown:
        raise bad(f"unknown field {sorted(unknown)[0]!r}")
    resource = rule.get("availableResource")
    if not isinstance(resource, str) or not resource.startswith("//"):
        raise bad('"availableResource" must be a resource name such as //storage.googleapis.com/projects/_/buckets/B')
    perms = rule.get("availablePermissions")
    if not isinstance(perms, list) or not perms or not all(isinstance(p, str) and p.startswith("inRole:") for p in perms):
        raise bad('"availablePermissions" must be a non-empty list of "inRole:ROLE" strings')
    cond = rule.get("availabilityCondition")
    if cond is not None:
        if not isinstance(cond, dict) or not isinstance(cond.get("expression"), str) or not cond["expression"].strip():
            raise bad('"availabilityCondition" must be an object with a non-empty "expression"')
        if set(cond) - {"expression", "title", "description"}:
            raise bad('"availabilityCondition" allows only expression, title and description')


def downscope(request, profile, token, now=None):
    """Exchange an access token at STS for one limited by the profile's access boundary."""
    options = boundary(profile)
    body = {
        "grant_type": GRANT_TYPE,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "requested_token_type": ACCESS_TOKEN_TYPE,
        "subject_token": token.value,
        # as google-auth sends it: the JSON, URL-encoded, inside the form body
        "options": urllib.parse.quote(json.dumps(options)),
    }
    url = sts_url(profile)
    where = endpoint_name(url)
    now = time.time() if now is None else now
    try:
        resp = request(url, method="POST", body=urllib.parse.urlencode(body).encode(),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    except google.auth.exceptions.TransportError as exc:
        raise UpstreamError(f"profile '{profile.name}': STS token exchange at {where} failed ({exception_reason(exc)})",
                            hint="check the network, or the profile's sts_endpoint") from None
    try:
        data = json.loads(resp.data.decode("utf-8"))
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        data = None
    if resp.status == 200 and data is not None:
        value = data.get("access_token")
        if not isinstance(value, str) or not value:
            raise UpstreamError(f"{where}: the token exchange answered 200 without an access_token")
        try:
            expiry = now + float(data["expires_in"]) if data.get("expires_in") else token.expiry
        except (TypeError, ValueError, OverflowError):
            expiry = token.expiry
        if not math.isfinite(expiry):  # "NaN" / "Infinity": min() below would keep a NaN
            expiry = token.expiry
        token_type = data.get("token_type") if isinstance(data.get("token_type"), str) else None
        # a downscoped token never outlives the token it came from
        return Token(ACCESS_TOKEN, value, min(expiry, token.expiry), token_type or "Bearer")
    reason = error_text(data, (token.value,))  # an STS may quote the subject token it was sent
    if data is None or resp.status >= 500 or resp.status == 429:
        raise UpstreamError(f"profile '{profile.name}': STS token exchange at {where} failed with HTTP {resp.status}"
                            + (f": {reason}" if reason else ""))
    raise ImpersonationError(
        f"profile '{profile.name}': STS at {where} refused to downscope the token for "
        f"{profile.target or 'the source'} (HTTP {resp.status}: {reason or 'no reason given'})",
        hint=_hint(profile))


def _hint(profile):
    if _looks_inline(profile.access_boundary):
        return "check the profile's access_boundary (bucket, role, condition) and sts_endpoint"
    return f"check the rules in {profile.access_boundary} and the profile's sts_endpoint"
