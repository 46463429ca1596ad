"""JSON read and written on a cache hit without the json package.

`import json` imports re (json.decoder and json.encoder compile patterns at import): about 6 ms of
a 10 ms Python start, on every hit that reads a cached token, KUBERNETES_EXEC_INFO, or writes a
docker or kubectl answer. json's speed comes from its C half, `_json`, which needs no re: this
module drives the same scanner (`_json.make_scanner`, with a plain context object in place of a
JSONDecoder) and the same string encoder (`_json.encode_basestring_ascii`), so it reads and writes
exactly what json.loads and json.dumps do (tests/test_jsontext.py holds them together). Where
`_json` is missing (another Python implementation) it is json itself.
"""

try:
    from _json import encode_basestring_ascii as _quoted
    from _json import make_scanner as _make_scanner
except ImportError:  # no C accelerator: the json package, which is then no slower than json.loads/dumps
    _quoted = _make_scanner = None

_WHITESPACE = " \t\n\r"  # what json's WHITESPACE pattern skips around a document


class _Decoder:
    """What _json.make_scanner reads from a json.JSONDecoder (the default one's settings)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__
    memo = {}


_scan = None


def loads(text):
    """json.loads(text) for a str: the value, or ValueError (json.JSONDecodeError is one) or RecursionError."""
    if _make_scanner is None:
        import json

        return json.loads(text)
    if not isinstance(text, str):
        raise TypeError("JSON text must be a str")
    if text.startswith("\ufeff"):
        raise ValueError("Unexpected UTF-8 BOM (decode using utf-8-sig)")
    start = len(text) - len(text.lstrip(_WHITESPACE))
    scanned = _scan_at(text, start)
    if scanned is None:  # malformed: json says what is wrong
        import json

        return json.loads(text)
    value, end = scanned
    if end != len(text) and text[end:].strip(_WHITESPACE):
        raise ValueError(f"Extra data: char {end}")
    return value


def value_at(text, index):
    """json.JSONDecoder().raw_decode(text, index)[0]: the one JSON value that starts at text[index] (no
    whitespace skipped), whatever follows it; ValueError (or RecursionError) when none does."""
    scanned = None if _make_scanner is None else _scan_at(text, index)
    if scanned is None:  # no C scanner, or malformed: json says what is wrong
        import json

        return json.JSONDecoder().raw_decode(text, index)[0]
    return scanned[0]


def _scan_at(text, index):
    """(value, end) of the JSON value at text[index] by json's C scanner; ValueError when there is none;
    None when the text is malformed in a way the scanner reports through json.decoder (which it looks up
    in sys.modules, failing oddly, SystemError on 3.11, when json is not imported): json then decides."""
    global _scan
    if _scan is None:
        _scan = _make_scanner(_Decoder())
    try:
        return _scan(text, index)
    except StopIteration as exc:
        raise ValueError(f"Expecting value: char {exc.value}") from None
    except RecursionError:
        raise
    except Exception:
        return None


def dumps(value):
    """json.dumps(value) (default settings) for dicts with str keys, lists, tuples, str, int, float, bool, None."""
    if _quoted is None:
        import json

        return json.dumps(value)
    parts = []
    _write(value, parts)
    return "".join(parts)


def _write(value, parts):
    if isinstance(value, str):
        parts.append(_quoted(value))
    elif value is None:
        parts.append("null")
    elif value is True or value is False:
        parts.append("true" if value else "false")
    elif isinstance(value, int):
        parts.append(int.__repr__(value))
    elif isinstance(value, float):
        if value != value:
            parts.append("NaN")
        elif value in (float("inf"), float("-inf")):
            parts.append("Infinity" if value > 0 else "-Infinity")
        else:
            parts.append(float.__repr__(value))
    elif isinstance(value, dict):
        parts.append("{")
        for i, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise TypeError(f"keys must be str, not {type(key).__name__}")
            parts.append(", " if i else "")
            parts.append(_quoted(key))
            parts.append(": ")
            _write(item, parts)
        parts.append("}")
    elif isinstance(value, (list, tuple)):
        parts.append("[")
        for i, item in enumerate(value):
            parts.append(", " if i else "")
            _write(item, parts)
        parts.append("]")
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
