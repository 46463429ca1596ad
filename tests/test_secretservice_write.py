"""secretservice.write_secret against keyring, the library whose writes it replaces: the item it
creates is the one keyring's SecretService backend would create, found, read and deleted by keyring."""

import os
import uuid

import pytest
from jeepney.low_level import Endianness, parse_signature

from credhelper import secretservice

SERVICE = "credhelper-tests-write"
CREATE_ITEM = "a{sv}(oayays)b"


def _keyring_backend():
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        pytest.skip("no D-Bus session (tests/run provides one with gnome-keyring)")
    import keyring

    kr = keyring.get_keyring()
    if type(kr).__module__ != "keyring.backends.SecretService":
        pytest.skip(f"keyring's backend here is {type(kr).__module__}, not SecretService")
    return kr


def _attributes(username):
    return {"service": SERVICE, "username": username, "application": secretservice.KEYRING_APPLICATION}


def _items(kr, username, service=SERVICE):
    """(label, attributes) of every item keyring would find for (service, username)."""
    collection = kr.get_preferred_collection()
    try:
        return [(item.get_label(), item.get_attributes())
                for item in collection.search_items({"service": service, "username": username})]
    finally:
        collection.connection.close()


def _forget(kr, service, *usernames):
    for username in usernames:
        try:
            kr.delete_password(service, username)
        except Exception:
            pass


def test_the_create_item_call_is_marshalled_as_jeepney_marshals_it():
    body = ({"org.freedesktop.Secret.Item.Label": ("s", "Password for 'k' on 's'"),
             "org.freedesktop.Secret.Item.Attributes": ("a{ss}", {"service": "s", "username": "k"})},
            ("/org/freedesktop/secrets/session/s1", b"", "ya29.secret".encode(), "text/plain"), True)
    ours = bytearray()  # a message body starts 8-aligned
    for sig, value in zip(secretservice.split_signature(CREATE_ITEM), body):
        secretservice.marshal(ours, sig, value)
    theirs = b"".join(parse_signature(list(sig)).serialise(value, 0, Endianness.little) if i == 0 else b""
                      for i, (sig, value) in enumerate(zip(secretservice.split_signature(CREATE_ITEM), body)))
    whole = parse_signature(list("(" + CREATE_ITEM + ")")).serialise(body, 0, Endianness.little)
    assert bytes(ours) == whole and whole.startswith(theirs)


def test_an_item_written_directly_is_the_one_keyring_writes():
    kr = _keyring_backend()
    ours, theirs = f"ours-{uuid.uuid4().hex}", f"theirs-{uuid.uuid4().hex}"
    try:
        kr.set_password(SERVICE, theirs, "ya29.EMULATED-by-keyring")
        secretservice.write_secret(_attributes(ours), f"Password for '{ours}' on '{SERVICE}'", "ya29.EMULATED-direct",
                                   getattr(kr, "preferred_collection", None))
        [(their_label, their_attributes)] = _items(kr, theirs)
        [(our_label, our_attributes)] = _items(kr, ours)
        assert our_label == their_label.replace(theirs, ours)
        # keyring's items here sometimes carry gnome-keyring's default schema attribute as well
        # (xdg:schema = org.freedesktop.Secret.Generic); keyring searches by service and username only
        their_attributes.pop("xdg:schema", None)
        assert our_attributes == {**their_attributes, "username": ours}
        assert kr.get_password(SERVICE, ours) == "ya29.EMULATED-direct"
        assert secretservice.read_secret({"service": SERVICE, "username": ours}, getattr(kr, "preferred_collection", None)) \
            == "ya29.EMULATED-direct"
    finally:
        _forget(kr, SERVICE, ours, theirs)


def test_writing_again_replaces_the_item_and_keyring_deletes_it():
    kr = _keyring_backend()
    username = f"again-{uuid.uuid4().hex}"
    label = f"Password for '{username}' on '{SERVICE}'"
    try:
        secretservice.write_secret(_attributes(username), label, "ya29.EMULATED-first", getattr(kr, "preferred_collection", None))
        secretservice.write_secret(_attributes(username), label, "ya29.EMULATED-second", getattr(kr, "preferred_collection", None))
        assert len(_items(kr, username)) == 1
        assert kr.get_password(SERVICE, username) == "ya29.EMULATED-second"
        kr.delete_password(SERVICE, username)
        assert secretservice.read_secret({"service": SERVICE, "username": username}, getattr(kr, "preferred_collection", None)) is None
    finally:
        _forget(kr, SERVICE, username)


def test_replies_are_matched_to_their_calls_whatever_order_they_are_asked_for_in():
    """read_secret sends SearchItems and OpenSession together: each reply goes to its own call."""
    kr = _keyring_backend()
    username = f"order-{uuid.uuid4().hex}"
    collection = getattr(kr, "preferred_collection", None) or secretservice.DEFAULT_COLLECTION
    try:
        kr.set_password(SERVICE, username, "ya29.EMULATED-order")
        bus = secretservice.Bus(os.environ["DBUS_SESSION_BUS_ADDRESS"], 10)
        try:
            search = bus.send(secretservice.BUS_NAME, collection, secretservice.COLLECTION_IFACE, "SearchItems",
                              "a{ss}", ({"service": SERVICE, "username": username},))
            opened = bus.send(secretservice.BUS_NAME, secretservice.SERVICE_PATH, secretservice.SERVICE_IFACE,
                              "OpenSession", "sv", ("plain", ("s", "")))
            _, session = bus.reply(opened)  # the later call's reply first
            (items,) = bus.reply(search)
            assert len(items) == 1 and session.startswith("/org/freedesktop/secrets/session/")
            ((_, _, value, _),) = bus.call(secretservice.BUS_NAME, items[0], secretservice.ITEM_IFACE, "GetSecret",
                                           "o", (session,))
            assert bytes(value) == b"ya29.EMULATED-order"
            with pytest.raises(secretservice.Unavailable):  # an error reply is still the call's own
                bus.call(secretservice.BUS_NAME, "/org/freedesktop/secrets/no/such/object",
                         secretservice.ITEM_IFACE, "GetSecret", "o", (session,))
        finally:
            bus.close()
    finally:
        _forget(kr, SERVICE, username)


def test_an_error_reply_names_its_error_and_a_read_that_keeps_failing_is_unavailable():
    """read_secret makes an UnknownMethod read once more (gnome-keyring's rare answer), then gives up."""
    _keyring_backend()
    missing = "/org/freedesktop/secrets/collection/no_such_collection"
    with pytest.raises(secretservice.ErrorReply) as caught:
        secretservice.read_secret({"service": SERVICE, "username": "x"}, missing, timeout_secs=10)
    assert isinstance(caught.value, secretservice.Unavailable) and caught.value.name.startswith("org.freedesktop.")
    assert str(caught.value) == f"D-Bus error {caught.value.name}"


def test_no_session_bus_is_unavailable(monkeypatch):
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    with pytest.raises(secretservice.Unavailable):
        secretservice.write_secret(_attributes("x"), "label", "secret")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
    with pytest.raises(secretservice.Unavailable):
        secretservice.write_secret(_attributes("x"), "label", "secret")


# -- the cache's keyring store writes through it once keyring's choice is known ------------------------------

PUT = """
import json, sys
from credhelper.cache import TokenCache
from credhelper.token import Token
cache = TokenCache(backend="keyring", runtime_dir=sys.argv[1])
cache.put(sys.argv[2], Token("access_token", sys.argv[3], 4000000000.0), {"profile": "p", "kind": "access_token"})
print(json.dumps({"keyring_imported": "keyring" in sys.modules, "entry": cache._index_entries()[sys.argv[2]]}))
"""


def _put(runtime, key, value, **env):
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", PUT, str(runtime), key, value], capture_output=True, text=True,
                         env={**os.environ, **env}, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_the_cache_writes_to_the_secret_service_without_keyring_once_keyring_chose_it(tmp_path):
    import keyring

    from credhelper.cache import SERVICE_NAME, TokenCache

    kr = _keyring_backend()
    runtime = tmp_path / "run"
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    try:
        # nothing known yet: keyring would choose the Secret Service here (tests/test_keyring_store.py)
        cold = _put(runtime, first, "ya29.EMULATED-first")
        assert not cold["keyring_imported"] and cold["entry"]["store"] == "secretservice"
        warm = _put(runtime, second, "ya29.EMULATED-second")  # known: written directly
        assert not warm["keyring_imported"]
        assert {k: warm["entry"].get(k) for k in ("store", "backend", "collection")} \
            == {k: cold["entry"].get(k) for k in ("store", "backend", "collection")}
        assert keyring.get_password(SERVICE_NAME, second) == json_value("ya29.EMULATED-second")
        assert TokenCache(backend="keyring", runtime_dir=str(runtime)).get(second, 0).value == "ya29.EMULATED-second"
        again = _put(runtime, second, "ya29.EMULATED-third")  # a refresh replaces the item
        assert not again["keyring_imported"] and len(_items(kr, second, SERVICE_NAME)) == 1
        configured = _put(runtime, second, "ya29.EMULATED-fourth",
                          PYTHON_KEYRING_BACKEND="keyring.backends.SecretService.Keyring")
        assert configured["keyring_imported"]  # keyring's choice is configured: keyring writes
        assert keyring.get_password(SERVICE_NAME, second) == json_value("ya29.EMULATED-fourth")
    finally:
        _forget(kr, SERVICE_NAME, first, second)


def json_value(value):
    from credhelper.token import Token

    import json

    return json.dumps(Token("access_token", value, 4000000000.0).to_dict())

