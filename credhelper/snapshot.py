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

from credhelper import privatefile

FORMAT = 4  # bump when what is stored changes shape
MAX_SNAPSHOT_BYTES = 16 << 20
_INTERPRETER = (FORMAT, sys.implementation.cache_tag, marshal.version)


def remember(directory, name, source, text, make, maker=()):
    """make(), or what make() returned before for the same source (a path), text (bytes, or str) and maker.

    maker: whatever identifies the code behind make() (version, its module file's mtime...), so that
    a changed parser never gets an old parse.

    make() returns plain data marshal can write (tuples, lists, dicts, strings, numbers, deferred()
    parts; no namedtuples); exceptions from it pass through and nothing is stored. The value returned
    is the stored one, deferred parts still marshalled: Deferred(part) reads one.

    A snapshot file is the length of its head (4 bytes, little-endian), the head (marshal: the
    interpreter, maker, source and the text's length), the text as it is, and the value (marshal):
    the text is compared where it lies in what was read, and only the value is unmarshalled.
    """
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    path = os.path.join(directory, "snapshots", f"{name}-{_file_name(source)}.marshal")
    try:
        raw = privatefile.read_private(path, max_bytes=MAX_SNAPSHOT_BYTES)
        start = 4 + int.from_bytes(raw[:4], "little")
        interpreter, saved_maker, saved_source, size = marshal.loads(raw[4:start])
        if (interpreter == _INTERPRETER and saved_maker == maker and saved_source == source and size == len(data)
                and raw.startswith(data, start)):
            return marshal.loads(memoryview(raw)[start + size:])
    except (OSError, ValueError, EOFError, TypeError):
        pass  # none yet, or not one we can trust: a miss
    value = make()
    try:
        head = marshal.dumps((_INTERPRETER, maker, source, len(data)))
        privatefile.write(path, len(head).to_bytes(4, "little") + head + data + marshal.dumps(value))
    except (OSError, ValueError):
        pass  # the next call parses again
    return value


def deferred(mapping):
    """A part of a snapshot's value kept marshalled per key until asked for: give it to make()'s value,
    read it back with Deferred(part).

    Three objects, whatever the number of keys (unmarshalling a dict of a thousand keys and values
    costs a thousand objects): the keys joined by newlines, the end offset of each value in the blob
    as 4 little-endian bytes, and the blob of the values marshalled one after another. A mapping with
    a key that is not str, or holds a newline, is kept as it is (a dict: Deferred takes that too)."""
    if not all(isinstance(key, str) and "\n" not in key for key in mapping):
        return dict(mapping)
    keys, ends, blob = [], bytearray(), bytearray()
    for key, value in mapping.items():
        keys.append(key)
        blob += marshal.dumps(value)
        ends += len(blob).to_bytes(4, "little")
    return "\n".join(keys), bytes(ends), bytes(blob)


class Deferred:
    """A read-only mapping over a deferred() part: keys in their order, each value unmarshalled (once)
    when first asked for. Equal to a dict with the same items. (A plain class: deriving from
    collections.abc.Mapping cost every hit about 0.1 ms of ABC class creation.)"""

    __slots__ = ("_keys", "_ends", "_blob", "_values")

    def __init__(self, part):
        if isinstance(part, dict):  # kept as it was (see deferred)
            part, self._values = ("", b"", b""), part
        else:
            self._values = {}
        keys, self._ends, self._blob = part
        self._keys = "\n" + keys + "\n" if self._ends else "\n"

    def _index(self, key):
        """The position of key among the keys, or -1."""
        if not isinstance(key, str) or "\n" in key:
            return -1
        at = self._keys.find("\n" + key + "\n")
        return -1 if at < 0 else self._keys.count("\n", 0, at)

    def __getitem__(self, key):
        try:
            return self._values[key]
        except KeyError:
            pass
        index = self._index(key)
        if index < 0:
            raise KeyError(key)
        start = int.from_bytes(self._ends[4 * index - 4:4 * index], "little") if index else 0
        end = int.from_bytes(self._ends[4 * index:4 * index + 4], "little")
        value = self._values[key] = marshal.loads(self._blob[start:end])
        return value

    def __contains__(self, key):
        return self._index(key) >= 0 if self._ends else key in self._values

    def __iter__(self):
        return iter(self._keys[1:-1].split("\n") if self._ends else self._values)

    def __len__(self):
        return len(self._ends) // 4 if self._ends else len(self._values)

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def keys(self):
        return list(self)

    def items(self):
        return [(key, self[key]) for key in self]

    def values(self):
        return [self[key] for key in self]

    def __eq__(self, other):
        if isinstance(other, (dict, Deferred)):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None

    def __repr__(self):
        return f"Deferred({dict(self.items())!r})"


def _file_name(source):
    """A file name for source (a path): its characters, others as "_", the last 100, and its length.
    Two paths that share one (absurdly alike) only take turns: each snapshot names its source."""
    return "".join(c if c.isalnum() or c in "-." else "_" for c in source)[-100:] + f"-{len(source)}"
