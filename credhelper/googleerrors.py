"""Google's error answers, read in one place and made safe to print.

Google endpoints answer errors in two JSON shapes:
  - the API shape (IAM Credentials, STS v1 errors): {"error": {"code": 403, "status": "PERMISSION_DENIED",
    "message": "..."}}
  - the OAuth shape (token endpoints, STS): {"error": "invalid_grant", "error_description": "..."}
google-auth puts the parsed answer into its RefreshError args. Every message credhelper builds from
upstream text goes through redact(): tokens, refresh tokens and key material removed, control
characters escaped, so a message stays one line of what was sent and never carries a secret.
"""

import re

STATUS_MAX_CHARS = 100
MESSAGE_MAX_CHARS = 300
_SECRETS = (
    (re.compile(r"ya29\.[\w.-]+"), "ya29.<redacted>"),
    (re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*"), "<redacted-jwt>"),
    (re.compile(r"1//[\w.-]+"), "1//<redacted>"),
    (re.compile(r'("?(access_token|id_token|refresh_token|assertion|subject_token|private_key|client_secret)"?'
                r'\s*[:=]\s*)"?[^",}\s]+'), r"\1<redacted>"),
    (re.compile(r"-----BEGIN[^-]*-----.*?(-----END[^-]*-----|$)", re.S), "<redacted-key>"),
)


def redact(text, secrets=()):
    """Upstream or library text made safe to print: the secrets credhelper sent (an upstream may quote its
    request) and anything shaped like a token or key redacted, non-printable characters escaped."""
    text = str(text)
    for secret in secrets:
        if isinstance(secret, str) and len(secret) >= 4:
            text = text.replace(secret, "<redacted>")
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def google_error(data, secrets=()):
    """(status, message) from an error answer of either shape; ("", "") when it is neither."""
    if not isinstance(data, dict):
        return "", ""
    err = data.get("error")
    if isinstance(err, dict):
        return (redact(str(err.get("status") or ""), secrets)[:STATUS_MAX_CHARS],
                redact(str(err.get("message") or ""), secrets)[:MESSAGE_MAX_CHARS])
    if isinstance(err, str):
        return (redact(err, secrets)[:STATUS_MAX_CHARS],
                redact(str(data.get("error_description") or ""), secrets)[:MESSAGE_MAX_CHARS])
    return "", ""


def error_text(data, secrets=()):
    """One line for a message: "STATUS message" / "error: description", or "" when the answer says nothing."""
    status, message = google_error(data, secrets)
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return f"{status} {message}".strip()
    return f"{status}: {message}".strip(": ")


def exception_reason(exc, secrets=()):
    """A one-line reason from a google-auth error, without tokens or request bodies.

    google-auth's RefreshError carries the server's parsed answer as its second argument: only the
    error fields of it are kept.
    """
    args = getattr(exc, "args", None) or ()
    for arg in args[1:2]:
        text = error_text(arg, secrets)
        if text:
            return text[:MESSAGE_MAX_CHARS]
    text = str(args[0]) if args else type(exc).__name__
    return redact(text, secrets)[:MESSAGE_MAX_CHARS]
