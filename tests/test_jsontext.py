"""credhelper.jsontext against the json package it stands in for on the hit path."""

import json
import math
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credhelper import jsontext

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
# text that looks like JSON often: pieces of documents, broken and glued
pieces = st.sampled_from(['{', '}', '[', ']', ',', ':', '"', '\\', '\\u', 'd83d', 'de00', '\\ud83d', 'true', 'fals',
                          'null', 'NaN', '-Infinity', '1', '-0', '.5', 'e9', '1e400', ' ', '\t', '\n', '\r', '\x0b',
                          '\x00', '\ufeff', 'é', '\U0001f600', '"kind"', '"apiVersion"', '"a"', '00', '0x1'])


def outcome(read, text):
    """('ok', a comparable form of the value) or ('error', a kind both readers must agree on)."""
    try:
        return "ok", comparable(read(text))
    except (ValueError, RecursionError) as exc:
        return "error", type(exc) is RecursionError


def comparable(value):
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    if isinstance(value, dict):
        return ("dict", [(k, comparable(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [comparable(v) for v in value])
    return (type(value).__name__, value)


@settings(max_examples=400)
@given(values)
def test_dumps_writes_what_json_dumps_writes(value):
    assert jsontext.dumps(value) == json.dumps(value)


@settings(max_examples=400)
@given(values)
def test_loads_reads_what_json_loads_reads(value):
    text = json.dumps(value)
    assert outcome(jsontext.loads, text) == outcome(json.loads, text)


@settings(max_examples=1000)
@given(st.lists(pieces, max_size=12).map("".join) | st.text(max_size=30))
def test_loads_accepts_and_refuses_what_json_loads_does(text):
    assert outcome(jsontext.loads, text) == outcome(json.loads, text)


@settings(max_examples=1000)
@given(st.lists(pieces, max_size=12).map("".join) | st.text(max_size=30), st.integers(0, 12))
def test_value_at_reads_what_raw_decode_reads(text, index):
    """jsontext.value_at (a cache hit's index entry) stands in for json.JSONDecoder().raw_decode(text, index)."""
    index = min(index, len(text))
    assert outcome(lambda t: jsontext.value_at(t, index), text) == \
        outcome(lambda t: json.JSONDecoder().raw_decode(t, index)[0], text)


def test_loads_agrees_on_deep_nesting_and_edges():
    for text in ("[" * 100000 + "]" * 100000, " 1 ", "1 x", "", " ", '"\\ud800"', "\ufeff{}", "[1,]", '{"a":1,}',
                 '{"a" 1}', "01", "-", "1.", "[NaN, Infinity, -Infinity]", '"\x1f"', "1e400", "9" * 5000):
        assert outcome(jsontext.loads, text) == outcome(json.loads, text), text


def test_dumps_refuses_what_it_cannot_write():
    for bad in ({1: "a"}, {"a": {1, 2}}, object()):
        with pytest.raises(TypeError):
            jsontext.dumps(bad)


def test_reading_and_writing_import_neither_json_nor_re_and_bad_json_is_a_value_error():
    code = ("import sys\nfrom credhelper import jsontext\n"
            "assert jsontext.loads(' {\"a\": [1, 2.5, null, true, \"\\\\u00e9\"]} ') == {'a': [1, 2.5, None, True, 'é']}\n"
            "assert jsontext.dumps({'kind': 'ExecCredential', 'n': [1, None]}) == '{\"kind\": \"ExecCredential\", \"n\": [1, null]}'\n"
            "print(sorted(m for m in ('json', 're', 'enum') if m in sys.modules))\n"
            "for bad in ('{', '[1,', '\"\\\\x\"', '{\"a\" 1}', 'nul'):\n"  # errors from a process that has no json yet
            "    try:\n        jsontext.loads(bad)\n    except ValueError:\n        pass\n"
            "    else:\n        raise AssertionError(bad)\n")
    # -S: the test venv's .pth files (the editable install's) import re at every start
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=ROOT))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]"]
