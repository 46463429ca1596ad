"""One exception tree; each class carries the exit code the CLI returns for it.

Exit codes (documented in credhelper(1)):
  0  success
  1  authentication or upstream failure (denied, network, deadline, bad upstream answer)
  2  usage error (bad arguments, malformed protocol input)
  3  profile or credentials file error
  130 interrupted
Messages never carry a token, key or refresh token.
"""

EXIT_OK = 0
EXIT_AUTH = 1
EXIT_USAGE = 2
EXIT_PROFILE = 3
EXIT_INTERRUPTED = 130


class CredhelperError(Exception):
    """Base of every error credhelper reports to a user."""

    exit_code = EXIT_AUTH
    code = "CREDHELPER_ERROR"  # machine-readable code (used by the executable protocol)

    def __init__(self, message, *, hint=None):
        super().__init__(message)
        self.message = message
        self.hint = hint  # a fix, e.g. the gcloud command that grants a missing role

    def __str__(self):
        if self.hint:
            return f"{self.message}\n  fix: {self.hint}"
        return self.message


class UsageError(CredhelperError):
    exit_code = EXIT_USAGE
    code = "USAGE"


class ProfileError(CredhelperError):
    """The profile file, or a credentials file it names, is missing or malformed."""

    exit_code = EXIT_PROFILE
    code = "PROFILE"


class SourceError(CredhelperError):
    """The source credential could not produce a token (refresh failed, revoked, unreachable)."""

    code = "SOURCE"


class ImpersonationError(CredhelperError):
    """An IAM Credentials call failed: a hop lacked a permission, or the account does not exist."""

    code = "IMPERSONATION"


class UpstreamError(CredhelperError):
    """A Google endpoint could not be reached, timed out, or answered something unreadable."""

    code = "UPSTREAM"


class CacheError(CredhelperError):
    """The token cache could not be used (lock timeout, unusable backend)."""

    code = "CACHE"


class ProtocolError(CredhelperError):
    """A caller sent a request its protocol does not allow (broken stdin, bad environment)."""

    exit_code = EXIT_USAGE
    code = "PROTOCOL"
