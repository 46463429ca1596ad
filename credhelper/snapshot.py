"""Parsed files kept in marshal, so a cache hit does not parse them again.

A hit reads the profile file every time (it may have changed since the last call), but parsing it
(configparser, its regular expressions, the line-number pass) grows with the file: with a thousand
profiles it was most of a hit. remember() keeps the parsed value together with the whole text it came
from, and returns it only for the same text, byte for byte: nothing to invalidate, no clock or
mtime granularity involved, and an edit is simply a miss.

Loading a snapshot still grows with the file: unmarshalling a thousand parsed profiles took longer
than the rest of a hit's reading. A value can keep its parts for later (deferred()): each part stays
marshalled bytes inside the snapshot, and the Deferred mapping it comes back as unmarshals a part
only when it is asked for, so a hit that resolves one profile builds that one. Reading and comparing
the text itself is cheap (for 260 KB, about 0.03 ms against 5 ms for the whole parse's unmarshal).

Snapshots live in the runtime directory (snapshots/NAME-SOURCE.marshal), written and read through
privatefile (the user's own, mode 0600, no symlink on the way). marshal's format belongs to the
interpreter that wrote it: a snapshot records its interpreter, and another one's is a miss. A
snapshot that cannot be read, or written, only costs a parse. Standard library only.
"""

import marshal
import os
import sys
from collections.abc import Mapping

from credhelper import privatefile

FORMAT = 2  # bump when what is stored changes shape
MAX_SNAPSHOT_BYTES = 16 << 20
_INTERPRETER = (FORMAT, sys.implementation.cache_tag, marshal.version)


def remember(directory, name, source, text, make, maker=()):
    """make(), or what make() returned before for the same source (a path), text (str or bytes) and maker.

    maker: whatever identifies the code behind make() (version, its module file's mtime...), so that
    a changed parser never gets an old parse.

    make() returns plain data marshal can write (tuples, lists, dicts, strings, numbers, deferred()
    parts; no namedtuples); exceptions from it pass through and nothing is stored. The value returned
    is the stored one, deferred parts still marshalled: Deferred(part) reads one.
    """
    path = os.path.join(directory, "snapshots", f"{name}-{_file_name(source)}.marshal")
    try:
        interpreter, saved_maker, saved_source, saved_text, value = marshal.loads(
            privatefile.read_private(path, max_bytes=MAX_SNAPSHOT_BYTES))
        if (interpreter == _INTERPRETER and saved_maker == maker and saved_source == source
                and type(saved_text) is type(text) and saved_text == text):
            return value
    except (OSError, ValueError, EOFError, TypeError):
        pass  # none yet, or not one we can trust: a miss
    value = make()
    try:
        privatefile.write(path, marshal.dumps((_INTERPRETER, maker, source, text, value)))
    except (OSError, ValueError):
        pass  # the next call parses again
    return value


def deferred(mapping):
    """A part of a snapshot's value kept marshalled per key until asked for: give it to make()'s value,
    read it back with Deferred(part)."""
    return {key: marshal.dumps(value) for key, value in mapping.items()}


class Deferred(Mapping):
    """A read-only mapping over a deferred() part: keys in their order, each value unmarshalled (once)
    when first asked for. Equal to a dict with the same items."""

    __slots__ = ("_parts", "_values")

    def __init__(self, parts):
        self._parts = parts
        self._values = {}

    def __getitem__(self, key):
        try:
            return self._values[key]
        except KeyError:
            value = self._values[key] = marshal.loads(self._parts[key])
            return value

    def __contains__(self, key):
        return key in self._parts

    def __iter__(self):
        return iter(self._parts)

    def __len__(self):
        return len(self._parts)

    def __repr__(self):
        return f"Deferred({dict(self)!r})"


def _file_name(source):
    """A file name for source (a path): its characters, others as "_", the last 100, and its length.
    Two paths that share one (absurdly alike) only take turns: each snapshot names its source."""
    return "".join(c if c.isalnum() or c in "-." else "_" for c in source)[-100:] + f"-{len(source)}"
