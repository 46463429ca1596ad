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
    global _scan
    if _make_scanner is None:
        import json

        return json.loads(text)
    if not isinstance(text, str):
        raise TypeError("JSON text must be a str")
    if text.startswith("\ufeff"):
        raise ValueError("Unexpected UTF-8 BOM (decode using utf-8-sig)")
    if _scan is None:
        _scan = _make_scanner(_Decoder())
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration as exc:
        raise ValueError(f"Expecting value: char {exc.value}") from None
    except RecursionError:
        raise
    except Exception:  # malformed: the scanner raises json.decoder's error, and fails oddly (SystemError) when
        import json  # json.decoder is not imported yet (3.11 looks it up in sys.modules); json says what is wrong

        return json.loads(text)
    if end != len(text) and text[end:].strip(_WHITESPACE):
        raise ValueError(f"Extra data: char {end}")
    return value


def value_at(text, index):
    """json.JSONDecoder().raw_decode(text, index)[0]: the one JSON value that starts at text[index] (no
    whitespace skipped), whatever follows it; ValueError (or RecursionError) when none does."""
    global _scan
    if _make_scanner is None:
        import json

        return json.JSONDecoder().raw_decode(text, index)[0]
    if _scan is None:
        _scan = _make_scanner(_Decoder())
    try:
        return _scan(text, index)[0]
    except StopIteration as exc:
        raise ValueError(f"Expecting value: char {exc.value}") from None
    except RecursionError:
        raise
    except Exception:  # malformed: json says what is wrong (see loads)
        import json

        return json.JSONDecoder().raw_decode(text, index)[0]


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
