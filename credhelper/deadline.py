"""The command's deadline: one number every upstream request and every lock wait of a command shares.

Below the transport and the broker, which both ask it: $CREDHELPER_DEADLINE_SECS, default 30 s.
"""

import os

DEFAULT_DEADLINE_SECS = 30.0  # for everything one command does upstream, waiting for the cache lock included
MIN_DEADLINE_SECS = 0.1


def deadline_from_env(env=os.environ):
    """The command's deadline in seconds: $CREDHELPER_DEADLINE_SECS, default 30, at least 0.1."""
    try:
        secs = float(env.get("CREDHELPER_DEADLINE_SECS", DEFAULT_DEADLINE_SECS))
    except ValueError:
        secs = DEFAULT_DEADLINE_SECS
    if secs != secs:  # NaN
        secs = DEFAULT_DEADLINE_SECS
    return max(secs, MIN_DEADLINE_SECS)
