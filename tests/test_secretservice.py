"""credhelper's own D-Bus marshalling (the cache-hit read path) against jeepney's, an independent
implementation that keyring itself uses; the live read against gnome-keyring is in test_cache.py."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jeepney.low_level import Endianness, parse_signature

from credhelper import secretservice

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=40)
path = st.lists(st.from_regex(r"[A-Za-z0-9_]{1,8}", fullmatch=True), max_size=4).map(lambda p: "/" + "/".join(p))
CASES = {
    "s": text, "o": path, "u": st.integers(0, 2**32 - 1), "y": st.integers(0, 255),
    "a{ss}": st.dictionaries(text, text, max_size=5), "ao": st.lists(path, max_size=5),
    "ay": st.binary(max_size=64), "(oayays)": st.tuples(path, st.binary(max_size=20), st.binary(max_size=20), text),
    "a(yv)": st.lists(st.tuples(st.integers(0, 255), st.tuples(st.just("s"), text)), max_size=4),
}


def jeepney_type(sig):
    return parse_signature(list(sig))




@pytest.mark.parametrize("sig", sorted(CASES))
@settings(max_examples=60, deadline=None)
@given(data=st.data(), offset=st.integers(0, 15))
def test_marshalling_matches_jeepney_byte_for_byte(sig, data, offset):
    value = data.draw(CASES[sig])
    ours = bytearray(b"\0" * offset)
    secretservice.marshal(ours, sig, value)
    theirs = jeepney_type(sig).serialise(value, offset, Endianness.little)
    assert bytes(ours[offset:]) == theirs


@pytest.mark.parametrize("sig", sorted(CASES))
@pytest.mark.parametrize("endianness, prefix", [(Endianness.little, "<"), (Endianness.big, ">")])
@settings(max_examples=40, deadline=None)
@given(data=st.data(), offset=st.integers(0, 15))
def test_unmarshalling_reads_what_jeepney_writes(sig, endianness, prefix, data, offset):
    value = data.draw(CASES[sig])
    buf = b"\0" * offset + jeepney_type(sig).serialise(value, offset, endianness)
    parsed, end = secretservice.unmarshal(buf, offset, sig, prefix)
    expected = value if sig != "a(yv)" else [(code, v) for code, (_, v) in value]  # a variant reads as its value
    if sig == "(oayays)":
        expected = tuple(value)
    assert parsed == expected and end == len(buf)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64), st.sampled_from(sorted(CASES) + ["v", "sv", "aoao"]))
def test_garbage_is_a_value_error_never_another_exception(data, sig):
    for part in secretservice.split_signature(sig):
        try:
            secretservice.unmarshal(data, 0, part)
        except (ValueError, IndexError, __import__("struct").error):
            pass


@pytest.mark.parametrize("address, path", [
    ("unix:path=/run/user/1000/bus", "/run/user/1000/bus"),
    ("unix:abstract=/tmp/dbus-XYZ,guid=0123", "\0/tmp/dbus-XYZ"),
    ("tcp:host=x,port=1;unix:path=/tmp/a%20b", "/tmp/a b"),
])
def test_socket_path_of_a_bus_address(address, path):
    assert secretservice.socket_path(address) == path


def test_an_address_without_a_unix_socket_is_a_value_error():
    with pytest.raises(ValueError):
        secretservice.socket_path("tcp:host=localhost,port=1")


def test_no_session_bus_is_unavailable(monkeypatch, tmp_path):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/absent")
    with pytest.raises(secretservice.Unavailable, match="no D-Bus session"):
        secretservice.read_secret({"service": "x", "username": "y"})
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS")
    with pytest.raises(secretservice.Unavailable, match="not set"):
        secretservice.read_secret({"service": "x", "username": "y"})
