"""Host patterns (`*.googlesource.com`, the [git] section's hosts): fnmatch.fnmatchcase without re.

fnmatch translates every pattern into a regular expression, and `import fnmatch` imports re: about
5 ms of a 10 ms Python start on every git and docker hit. Patterns of literal characters, `*` and
`?` (every pattern credhelper ships, and every documented [git] form) are matched here with the
classic two-pointer wildcard walk; a pattern with a `[...]` set still goes to fnmatch.
tests/test_protocols_git.py holds the two together (hypothesis).
"""


def matches(name, pattern):
    """fnmatch.fnmatchcase(name, pattern): `*` any run of characters, `?` any one, case-sensitive, whole name."""
    if "[" in pattern:
        import fnmatch
        import re

        try:
            return fnmatch.fnmatchcase(name, pattern)
        except re.error:  # a set Python's fnmatch cannot compile (3.9: '[?-.]', a reversed range): no host
            return False
    n = p = 0
    star, resume = -1, 0  # the last `*` seen, and where in name its match ends so far
    while n < len(name):
        if p < len(pattern) and pattern[p] == "*":
            star, resume, p = p, n, p + 1
        elif p < len(pattern) and pattern[p] in ("?", name[n]):
            n, p = n + 1, p + 1
        elif star >= 0:  # let the last `*` take one more character, and try again after it
            resume += 1
            n, p = resume, star + 1
        else:
            return False
    return pattern[p:].strip("*") == ""
