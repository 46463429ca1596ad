"""Google's error answers, read in one place and made safe to print.

Google endpoints answer errors in two JSON shapes:
  - the API shape (IAM Credentials, STS v1 errors): {"error": {"code": 403, "status": "PERMISSION_DENIED",
    "message": "..."}}
  - the OAuth shape (token endpoints, STS): {"error": "invalid_grant", "error_description": "..."}
google-auth puts the parsed answer into its RefreshError args. Every message credhelper builds from
upstream text goes through redact(): tokens, refresh tokens and key material removed, control
characters escaped, so a message stays one line of what was sent and never carries a secret.

An upstream may quote a secret in another form than it was sent: URL-encoded, JSON- or HTML-escaped,
base64 (a Basic header), split or spaced, or only a JWT's signature part. redact() cuts long
token-like runs (a signature alone), and then, when in doubt, shows nothing of the upstream's text:
the text is decoded (percent, JSON and HTML escapes, base64 runs), reduced to its letters and digits,
and if a secret's token shape survives the decoding, or any 12 consecutive letters and digits of a
secret credhelper sent appear in it, the whole text is replaced by WITHHELD.
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
_RUN = re.compile(r"[A-Za-z0-9_-]{40,}")  # a run this long mixing cases and digits: a signature, a key
WITHHELD = "<not shown: the answer quoted what credhelper sent>"
MAX_TEXT_CHARS = 1 << 16  # what is read of an upstream's text; messages keep far less
WINDOW = 12  # letters and digits of a secret that, found in a text, withhold it


def redact(text, secrets=()):
    """Upstream or library text made safe to print: the secrets credhelper sent (an upstream may quote its
    request) and anything shaped like a token or key redacted, non-printable characters escaped; WITHHELD
    when the text still holds a secret in another form (see the module's docstring)."""
    text = str(text)[:MAX_TEXT_CHARS]
    secrets = [s for s in secrets if isinstance(s, str) and len(s) >= 4]
    for secret in secrets:
        text = text.replace(secret, "<redacted>")
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    if secrets and _quotes_a_secret(_decoded(text), secrets):
        return WITHHELD
    text = _RUN.sub(_cut_run, text)
    decoded = _decoded(text)
    return WITHHELD if _cut(decoded) != decoded else text  # a token shape behind an encoding


def _cut(text):
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return _RUN.sub(_cut_run, text)


def _cut_run(match):
    run = match.group()
    mixed = any(c.isupper() for c in run) and any(c.islower() for c in run) and any(c.isdigit() for c in run)
    return "<redacted>" if mixed else run


def _quotes_a_secret(decoded, secrets):
    """Whether any WINDOW consecutive letters and digits of a secret (or all of a shorter one, from 8)
    appear in the letters and digits of `decoded`."""
    plain = _letters_and_digits(decoded)
    seen = {plain[i:i + WINDOW] for i in range(len(plain) - WINDOW + 1)}
    for secret in secrets:
        core = _letters_and_digits(secret)
        if len(core) < WINDOW:
            if len(core) >= 8 and core in plain:
                return True
        elif any(core[i:i + WINDOW] in seen for i in range(len(core) - WINDOW + 1)):
            return True
    return False


def _decoded(text):
    """text with its percent, backslash (\\uXXXX, \\xXX, \\/, \\n) and HTML escapes undone (twice over, for escapes of
    escapes), and the decoding of each base64 run added."""
    import base64
    import binascii
    import html
    import urllib.parse

    for _ in range(3):
        before = text
        text = urllib.parse.unquote_plus(text)
        text = html.unescape(re.sub(r"\\(?:u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|(.))", _unescaped, text))
        if text == before:
            break
    decodings = []
    for run in re.findall(r"[A-Za-z0-9+/_-]{16,}={0,2}", text):
        for offset in range(4):  # a run cut out of a longer one: every alignment
            piece = run[offset:]
            piece = piece[:len(piece) - len(piece) % 4]
            try:
                decodings.append(base64.b64decode(piece.replace("-", "+").replace("_", "/")).decode("latin-1"))
            except (binascii.Error, ValueError):
                pass
    return "\n".join([text, *decodings])


def _unescaped(match):
    """One backslash escape (JSON's, Python's): \\uXXXX and \\xXX as their character, \\n and the like as a
    space, \\/ and \\" as what they escape."""
    code = match.group(1) or match.group(2)
    if code:
        return chr(int(code, 16))
    return " " if match.group(3) in "nrtbfv" else match.group(3)


def _letters_and_digits(text):
    return "".join(c for c in text if c.isascii() and c.isalnum())


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
