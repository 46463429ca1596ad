"""The token cache against the real Secret Service (the gnome-keyring that tests/run starts) and the file store.

Every cache test runs twice, once per backend ("keyring", "file"). Cross-process behaviour
(locks, SIGKILL, 32 concurrent minters, warn-once) is tested with real subprocesses.
"""

import io
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credhelper import secretservice
from credhelper.cache import SERVICE_NAME, TokenCache, cache_key
from credhelper.credentials import source_identity
from credhelper.errors import CacheError
from credhelper.profile import Profile, parse_config
from credhelper.token import Token

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOW = 1_800_000_000.0
TARGET = "deploy@p.iam.gserviceaccount.com"


def secret_service_problem():
    """None when the Secret Service answers on the session bus, else why not."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return "no DBUS_SESSION_BUS_ADDRESS"
    try:
        secretservice.read_secret({"service": "credhelper-tests", "username": "probe"}, timeout_secs=10)
    except secretservice.Unavailable as exc:
        return str(exc)
    return None


def require_secret_service():
    """Skip without a Secret Service, unless tests/run (which starts one) says it must be there."""
    problem = secret_service_problem()
    if problem and os.environ.get("CREDHELPER_TEST_REQUIRE_KEYRING") == "1":
        pytest.fail(f"the Secret Service started by tests/run is not usable: {problem}")
    if problem:
        pytest.skip(f"no Secret Service ({problem}): run the suite with tests/run")


@pytest.fixture(params=["keyring", "file"])
def backend(request):
    if request.param == "keyring":
        require_secret_service()
    return request.param


@pytest.fixture
def runtime(tmp_path):
    return str(tmp_path / "run")


@pytest.fixture
def cache(backend, runtime):
    return TokenCache(backend=backend, runtime_dir=runtime, stderr=io.StringIO())


@pytest.fixture
def keyfile(tmp_path):
    path = tmp_path / "source.json"
    path.write_text(json.dumps({"type": "service_account", "client_email": "src@p.iam.gserviceaccount.com",
                                "private_key_id": uuid.uuid4().hex}))
    return str(path)


@pytest.fixture
def profile(keyfile):
    return Profile(name="deploy", source=keyfile, target=TARGET)


def token(expiry=NOW + 3600, kind="access_token"):
    return Token(kind, f"ya29.credhelper-test-{uuid.uuid4().hex}", expiry)


def meta(profile, kind="access_token", **extra):
    return {"profile": profile.name, "kind": kind, "scopes": list(profile.scopes), "target": profile.target, **extra}


def subprocess_env(**extra):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(extra)
    return env


HOLD_LOCK = """
    import sys
    from credhelper.cache import TokenCache
    with TokenCache(backend=sys.argv[1], runtime_dir=sys.argv[2]).lock(sys.argv[3]):
        print("locked", flush=True)
        sys.stdin.readline()  # until told (or killed)
"""


def hold_lock(backend, runtime, key):
    """A process holding the cache lock of key: release it with holder.communicate("\\n"), or kill it."""
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(HOLD_LOCK), backend, runtime, key],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=subprocess_env())
    assert holder.stdout.readline() == "locked\n"
    return holder


def run_python(code, *args, env=None, timeout=60, **kw):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], env=env or subprocess_env(),
                          capture_output=True, text=True, timeout=timeout, **kw)


def keyring_value(key):
    import keyring

    return keyring.get_password(SERVICE_NAME, key)


# -- keys ------------------------------------------------------------------------------------------

def test_key_is_a_stable_hex_digest(profile):
    key = cache_key(profile, "access_token", scopes=("s",), lifetime_secs=3600)
    assert key == cache_key(profile, "access_token", scopes=["s"], lifetime_secs=3600)
    assert len(key) == 64 and int(key, 16) >= 0


@pytest.mark.parametrize("change", [
    {"target": "other@p.iam.gserviceaccount.com"},
    {"delegates": ("d@p.iam.gserviceaccount.com",)},
    {"scopes": ("https://www.googleapis.com/auth/devstorage.read_only",)},
    {"lifetime_secs": 600},
    {"iam_endpoint": "http://127.0.0.1:1"},
    {"token_endpoint": "http://127.0.0.1:1/token"},
    {"quota_project": "billing"},
    {"name": "other"},
])
def test_editing_the_profile_changes_the_key(profile, change):
    edited = profile.replace(**change)
    assert cache_key(edited, "access_token") != cache_key(profile, "access_token")


def test_kind_and_parameters_change_the_key(profile):
    keys = {
        cache_key(profile, "access_token", scopes=("a",)),
        cache_key(profile, "access_token", scopes=("b",)),
        cache_key(profile, "access_token", scopes=("a",), lifetime_secs=600),
        cache_key(profile, "id_token", audience="https://a", include_email=False),
        cache_key(profile, "id_token", audience="https://a", include_email=True),
        cache_key(profile, "id_token", audience="https://b", include_email=False),
        cache_key(profile, "jwt", claims={"aud": "x"}),
        cache_key(profile, "jwt", claims={"aud": "y"}),
        cache_key(profile, "source", scopes=("a",)),
    }
    assert len(keys) == 9


def test_a_parameter_of_none_is_the_same_as_absent(profile):
    assert cache_key(profile, "id_token", audience="a", include_email=None) == cache_key(profile, "id_token", audience="a")


def test_replacing_the_key_file_changes_the_key(profile, keyfile):
    before = cache_key(profile, "access_token")
    with open(keyfile, "a") as f:
        f.write(" ")
    assert cache_key(profile, "access_token") != before


def test_editing_the_access_boundary_rules_file_changes_the_key(profile, tmp_path):
    rules = tmp_path / "boundary.json"
    rules.write_text('{"accessBoundary": {"accessBoundaryRules": []}}')
    bounded = profile.replace(access_boundary=str(rules))
    before = cache_key(bounded, "access_token")
    assert before != cache_key(profile, "access_token")
    rules.write_text('{"accessBoundary": {"accessBoundaryRules": [{"availableResource": "x"}]}}')
    assert cache_key(bounded, "access_token") != before


def test_a_source_profile_key_file_change_reaches_the_profile_that_uses_it(profile, keyfile):
    user = Profile(name="user", source="profile:deploy", source_profile=profile, target="u@p.iam.gserviceaccount.com")
    before = cache_key(user, "access_token")
    with open(keyfile, "a") as f:
        f.write("\n")
    assert cache_key(user, "access_token") != before


def test_adc_source_is_identified_by_the_file_in_use(tmp_path, monkeypatch):
    adc = Profile(name="adc", source="adc")
    gac = tmp_path / "gac.json"
    gac.write_text('{"type": "authorized_user"}')
    gcloud = tmp_path / "gcloud"
    gcloud.mkdir()
    (gcloud / "application_default_credentials.json").write_text('{"type": "authorized_user", "account": "x"}')
    monkeypatch.setenv("HOME", str(tmp_path / "nohome"))
    monkeypatch.delenv("GCE_METADATA_HOST", raising=False)
    monkeypatch.delenv("GCE_METADATA_ROOT", raising=False)

    assert source_identity(adc, env={}) == {"metadata": "metadata.google.internal"}
    by_gac = source_identity(adc, env={"GOOGLE_APPLICATION_CREDENTIALS": str(gac)})
    assert by_gac["adc"] == str(gac) and len(by_gac["sha256"]) == 64
    by_gcloud = source_identity(adc, env={"CLOUDSDK_CONFIG": str(gcloud)})
    assert by_gcloud["adc"] == str(gcloud / "application_default_credentials.json")
    assert by_gcloud["sha256"] != by_gac["sha256"]
    assert source_identity(Profile(name="m", source="metadata"), env={}) == {"metadata": "metadata.google.internal"}
    assert source_identity(Profile(name="m", source="metadata"), env={"GCE_METADATA_HOST": "127.0.0.1:1"}) == \
        {"metadata": "127.0.0.1:1"}


def test_source_identity_is_the_source_infos_without_parsing_the_file(profile, keyfile, tmp_path):
    from credhelper.credentials import source_info

    gac = tmp_path / "gac.json"
    gac.write_text('{"type": "authorized_user", "account": "x"}')
    user = Profile(name="user", source="profile:deploy", source_profile=profile)
    for p, env in ((profile, {}), (Profile(name="adc", source="adc"), {"GOOGLE_APPLICATION_CREDENTIALS": str(gac)}),
                   (Profile(name="m", source="metadata", metadata_host="127.0.0.1:9"), {}), (user, {})):
        expected = source_info(p, env).identity()
        assert source_identity(p, env) == ({"profile": expected} if p is user else expected)


def decode_canonical(text):
    """The value credhelper.cache.canonical wrote, read back (tuples and sets come back as lists)."""
    def value(i):
        tag = text[i]
        if tag in "ntf":
            return {"n": None, "t": True, "f": False}[tag], i + 1
        if tag in "id":
            end = text.index(";", i)
            return (int if tag == "i" else float)(text[i + 1:end]), end + 1
        colon = text.index(":", i)
        count, i = int(text[i + 1:colon]), colon + 1
        if tag == "s":
            return text[i:i + count], i + count
        items = []
        for _ in range(count * (2 if tag == "m" else 1)):
            item, i = value(i)
            items.append(item)
        return (dict(zip(items[::2], items[1::2])) if tag == "m" else items), i

    decoded, end = value(0)
    assert end == len(text)
    return decoded


def typed(value):
    """value with every scalar tagged by its type (True is not 1, 1.0 is not 1), tuples and sets as lists."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [typed(v) for v in (sorted(value) if isinstance(value, (set, frozenset)) else value)]
    return (type(value).__name__, "nan" if value != value else value)


key_material = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(st.characters(codec="utf-8") | st.just("\udcff")),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.frozensets(st.text(max_size=3), max_size=3)
    | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=25)


@settings(max_examples=500)
@given(key_material)
def test_the_key_encoding_is_one_to_one(value):
    """Two different materials never share a key: canonical() reads back to the value it was given."""
    from credhelper.cache import canonical

    text = canonical(value)
    assert typed(decode_canonical(text)) == typed(value)
    text.encode("utf-8", "surrogatepass")  # a path from non-UTF-8 bytes (surrogate escapes) still has a key


def test_the_key_encoding_refuses_what_is_not_plain_data():
    from credhelper.cache import canonical

    for bad in (object(), {1: "a"}, {"a": b"bytes"}):
        with pytest.raises(TypeError):
            canonical(bad)


# -- get and put -------------------------------------------------------------------------------------

def test_a_stored_token_is_served(cache, profile):
    key = cache_key(profile, "access_token")
    t = token()
    cache.put(key, t, meta(profile))
    assert cache.get(key, 300, now=NOW) == t


def test_an_absent_key_is_a_miss(cache, profile):
    assert cache.get(cache_key(profile, "access_token"), 300, now=NOW) is None


def test_a_token_is_served_until_less_than_the_margin_remains(cache, profile):
    key = cache_key(profile, "access_token")
    t = token(expiry=NOW + 1000)
    cache.put(key, t, meta(profile))
    assert cache.get(key, 300, now=NOW + 699) == t
    assert cache.get(key, 300, now=NOW + 700) is None  # exactly the margin left: refresh
    assert cache.get(key, 300, now=NOW + 2000) is None  # expired
    assert cache.get(key, 0, now=NOW + 999) == t  # the broker's "still valid" look when a refresh fails


def test_put_replaces_the_previous_token(cache, profile):
    key = cache_key(profile, "access_token")
    cache.put(key, token(), meta(profile))
    newer = token(expiry=NOW + 7200)
    cache.put(key, newer, meta(profile))
    assert cache.get(key, 300, now=NOW) == newer
    assert len(cache.entries()) == 1


def test_a_corrupt_entry_is_discarded(cache, backend, profile, runtime):
    key = cache_key(profile, "access_token")
    cache.put(key, token(), meta(profile))
    if backend == "keyring":
        import keyring

        keyring.set_password(SERVICE_NAME, key, '{"kind": "access_token", "value": ')
    else:
        with open(os.path.join(runtime, "tokens", f"{key}.json"), "w") as f:
            f.write("\x00garbage")
    assert cache.get(key, 300, now=NOW) is None
    assert cache.entries() == []
    if backend == "keyring":
        assert keyring_value(key) is None
    else:
        assert not os.path.exists(os.path.join(runtime, "tokens", f"{key}.json"))
    cache.put(key, token(), meta(profile))  # and the next mint is stored again
    assert cache.get(key, 300, now=NOW) is not None


def test_a_corrupt_index_is_a_miss_and_is_rebuilt(cache, profile, runtime):
    key = cache_key(profile, "access_token")
    cache.put(key, token(), meta(profile))
    with open(os.path.join(runtime, "index.json"), "w") as f:
        f.write("{not json")
    assert cache.get(key, 300, now=NOW) is None
    assert cache.entries() == []
    cache.put(key, token(), meta(profile))
    assert cache.get(key, 300, now=NOW) is not None


def test_a_damaged_index_is_a_miss_never_a_crash(runtime):
    """Random bytes, the index cut short or with bytes changed, JSON of other shapes: get() and
    entries() answer (a miss, or the entry that survived), and nothing raises. The index is read
    with credhelper.jsontext on a hit."""
    cache = TokenCache(backend="file", runtime_dir=runtime, stderr=io.StringIO())
    key, t = "ab" * 32, token()
    cache.put(key, t, {"profile": "p", "kind": "access_token"})
    path = os.path.join(runtime, "index.json")
    valid = open(path, "rb").read()

    @settings(max_examples=400, deadline=None)
    @given(st.one_of(
        st.binary(max_size=200),
        st.integers(0, len(valid)).map(lambda n: valid[:n]),
        st.lists(st.tuples(st.integers(0, len(valid) - 1), st.integers(0, 255)), min_size=1, max_size=4).map(
            lambda edits: bytes(dict(edits).get(i, b) for i, b in enumerate(valid))),
        st.sampled_from([None, 1, {"version": 1, "entries": [1]}, {"version": 1, "entries": {key: "x"}},
                         {"version": 1, "entries": {key: {"store": "file", "expiry": "soon"}}}, {"version": 2},
                         {"version": 1, "entries": {key: {"store": ["x"], "expiry": 1e400}}},
                         {"version": 1, "entries": {key: {"store": "file", "expiry": 10 ** 400}}}]).map(
            lambda value: json.dumps(value).encode())))
    def check(damaged):
        with open(path, "wb") as f:
            f.write(damaged)
        hit = cache.get(key, 300, now=NOW)
        assert hit is None or hit == t
        cache.entries()

    check()


def test_keyring_backend_keeps_tokens_in_the_secret_service_only(profile, runtime):
    require_secret_service()
    cache = TokenCache(backend="keyring", runtime_dir=runtime)
    key = cache_key(profile, "access_token")
    t = token()
    cache.put(key, t, meta(profile))
    assert cache.backend_name == "keyring (SecretService)"
    assert json.loads(keyring_value(key)) == t.to_dict()
    assert not os.path.exists(os.path.join(runtime, "tokens", f"{key}.json"))
    assert cache.entries()[0]["backend"] == "keyring (SecretService)"
    assert_no_token_in_files(runtime, t)


def test_the_fast_path_reads_what_keyring_wrote(profile):
    require_secret_service()
    import keyring

    username = uuid.uuid4().hex
    keyring.set_password(SERVICE_NAME, username, "välue")
    try:
        assert secretservice.read_secret({"service": SERVICE_NAME, "username": username}) == "välue"
        assert secretservice.read_secret({"service": SERVICE_NAME, "username": "absent"}) is None
    finally:
        keyring.delete_password(SERVICE_NAME, username)


def test_a_hit_imports_neither_keyring_nor_google_auth_nor_requests(cache, profile, runtime):
    key = cache_key(profile, "access_token")
    t = token(expiry=time.time() + 3600)
    cache.put(key, t, meta(profile))
    out = run_python("""
        import sys
        from credhelper.cache import TokenCache
        hit = TokenCache(backend=sys.argv[1], runtime_dir=sys.argv[2]).get(sys.argv[3], 300)
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("keyring", "google", "requests", "secretstorage"))
        print(hit.value if hit else None, heavy)
    """, cache.backend, runtime, key)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [t.value, "[]"]


# -- backends and fallback --------------------------------------------------------------------------

def test_the_cache_section_picks_the_backend(runtime):
    from credhelper.cache import NULL_CACHE

    for section, expected in (("", "keyring"), ("backend = file\n", "file")):
        config = parse_config(f"[cache]\n{section}lock_timeout = 7\n")
        c = TokenCache.for_config(config, runtime_dir=runtime)
        assert (c.backend, c.lock_timeout_secs) == (expected, 7)
    none = TokenCache.for_config(parse_config("[cache]\nbackend = none\n"), runtime_dir=runtime)
    assert none is NULL_CACHE and none.backend == "none"  # one null cache, however it is asked for


def test_file_backend_never_writes_the_keyring(runtime, profile):
    require_secret_service()
    cache = TokenCache(backend="file", runtime_dir=runtime)
    key = cache_key(profile, "access_token")
    cache.put(key, token(), meta(profile))
    assert keyring_value(key) is None
    assert cache.get(key, 300, now=NOW) is not None
    assert cache.entries()[0]["backend"] == "file"


def test_backend_none_stores_nothing(runtime, profile):
    cache = TokenCache(backend="none", runtime_dir=runtime)
    key = cache_key(profile, "access_token")
    cache.put(key, token(), meta(profile))
    with cache.lock(key):
        pass
    assert cache.get(key, 300, now=NOW) is None
    assert not os.path.exists(runtime)
    assert cache.backend_name == "none"


PUT_SCRIPT = """
    import sys, time
    from credhelper.cache import TokenCache
    from credhelper.token import Token
    cache = TokenCache(backend="keyring", runtime_dir=sys.argv[1])
    key = sys.argv[2]
    cache.put(key, Token("access_token", sys.argv[3], time.time() + 3600), {"profile": "p", "kind": "access_token"})
    hit = cache.get(key, 300)
    print(cache.backend_name, hit.value == sys.argv[3] if hit else None)
"""


@pytest.mark.parametrize("why, env", [
    ("no session bus", {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus"}),
    ("fail backend", {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}),
    ("null backend", {"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}),
])
def test_without_a_keyring_tokens_fall_back_to_files_and_the_user_is_told_once(runtime, why, env):
    key = "ab" * 32
    outs = [run_python(PUT_SCRIPT, runtime, key, f"ya29.credhelper-test-{i}", env=subprocess_env(**env)) for i in range(3)]
    for out in outs:
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == ["file", "True"]
    assert "warning" in outs[0].stderr and "[cache] backend = file" in outs[0].stderr
    assert "gnome-keyring-daemon" in outs[0].stderr
    assert outs[1].stderr == outs[2].stderr == ""
    assert stat.S_IMODE(os.stat(os.path.join(runtime, "tokens", f"{key}.json")).st_mode) == 0o600


def test_a_plaintext_keyrings_alt_backend_is_not_used_unless_configured(tmp_path, runtime):
    """A keyrings.alt plaintext backend found by keyring's discovery is refused; named in PYTHON_KEYRING_BACKEND it is used."""
    site = tmp_path / "site"
    (site / "keyrings" / "alt").mkdir(parents=True)
    (site / "keyrings" / "__init__.py").write_text("")
    (site / "keyrings" / "alt" / "__init__.py").write_text("")
    store = tmp_path / "plaintext.json"
    (site / "keyrings" / "alt" / "file.py").write_text(textwrap.dedent(f"""
        import json, os
        from keyring.backend import KeyringBackend
        PATH = {str(store)!r}
        class PlaintextKeyring(KeyringBackend):
            priority = 0.5
            def _load(self):
                return json.load(open(PATH)) if os.path.exists(PATH) else {{}}
            def get_password(self, service, username):
                return self._load().get(service + "/" + username)
            def set_password(self, service, username, password):
                data = self._load(); data[service + "/" + username] = password; json.dump(data, open(PATH, "w"))
            def delete_password(self, service, username):
                data = self._load(); data.pop(service + "/" + username); json.dump(data, open(PATH, "w"))
    """))
    dist = site / "fake_keyrings_alt-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-keyrings-alt\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[keyring.backends]\nfile = keyrings.alt.file\n")
    base = {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus", "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
            "PYTHONPATH": f"{site}{os.pathsep}{ROOT}"}

    discovered = run_python(PUT_SCRIPT, runtime, "cd" * 32, "ya29.credhelper-test-alt", env=subprocess_env(**base))
    assert discovered.returncode == 0, discovered.stderr
    assert discovered.stdout.split() == ["file", "True"]
    assert "unencrypted" in discovered.stderr
    assert not store.exists()

    named = run_python(PUT_SCRIPT, runtime, "ef" * 32, "ya29.credhelper-test-alt2", env=subprocess_env(
        **base, PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring"))
    assert named.returncode == 0, named.stderr
    assert named.stdout.splitlines() == ["keyring (file.PlaintextKeyring) True"]
    assert "ya29.credhelper-test-alt2" in store.read_text()


def test_a_locked_keyring_falls_back_to_files_without_hanging(runtime, profile):
    require_secret_service()
    login = secret_service_call("ReadAlias", "s", ("default",))[0]
    secret_service_call("Lock", "ao", ([login],))
    try:
        start = time.monotonic()
        out = run_python(PUT_SCRIPT, runtime, "12" * 32, "ya29.credhelper-test-locked")
        assert time.monotonic() - start < 20
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == ["file", "True"]
        assert "locked" in out.stderr or "cannot be used" in out.stderr
    finally:
        unlock_with_password(login, os.environ.get("CREDHELPER_TEST_KEYRING_PASSWORD", "credhelper-tests"))
    assert secret_service_call("ReadAlias", "s", ("default",))[0] == login


def secret_service_call(method, signature, body, path=secretservice.SERVICE_PATH, interface=secretservice.SERVICE_IFACE):
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection
    from jeepney.wrappers import unwrap_msg

    with open_dbus_connection(bus="SESSION") as conn:
        addr = DBusAddress(path, bus_name=secretservice.BUS_NAME, interface=interface)
        return unwrap_msg(conn.send_and_get_reply(new_method_call(addr, method, signature, body), timeout=5))


def unlock_with_password(collection, password):
    """gnome-keyring's prompt-free unlock (tests only): the collection's password over a plain session."""
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection
    from jeepney.wrappers import unwrap_msg

    with open_dbus_connection(bus="SESSION") as conn:
        service = DBusAddress(secretservice.SERVICE_PATH, bus_name=secretservice.BUS_NAME,
                              interface=secretservice.SERVICE_IFACE)
        _, session = unwrap_msg(conn.send_and_get_reply(new_method_call(service, "OpenSession", "sv", ("plain", ("s", "")))))
        internal = DBusAddress(secretservice.SERVICE_PATH, bus_name=secretservice.BUS_NAME,
                               interface="org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface")
        msg = new_method_call(internal, "UnlockWithMasterPassword", "o(oayays)",
                              (collection, (session, b"", password.encode(), "text/plain")))
        unwrap_msg(conn.send_and_get_reply(msg, timeout=5))


# -- files, index, listing -----------------------------------------------------------------------------

def assert_no_token_in_files(root, t):
    for dirpath, _, files in os.walk(root):
        for name in files:
            if name.endswith(".json") and os.path.basename(dirpath) == "tokens":
                continue  # the file store holds tokens by design
            with open(os.path.join(dirpath, name), "rb") as f:
                assert t.value.encode() not in f.read(), os.path.join(dirpath, name)


def test_directories_are_0700_and_files_0600(cache, profile, runtime):
    os.makedirs(runtime, mode=0o755)
    os.chmod(runtime, 0o755)  # a too-open directory left by someone else is tightened
    key = cache_key(profile, "access_token")
    with cache.lock(key):
        cache.put(key, token(), meta(profile))
    cache._warn_once("test", "a warning")
    seen = 0
    for dirpath, dirs, files in os.walk(runtime):
        assert stat.S_IMODE(os.stat(dirpath).st_mode) == 0o700, dirpath
        for name in files:
            assert stat.S_IMODE(os.stat(os.path.join(dirpath, name)).st_mode) == 0o600, name
            seen += 1
    assert seen >= 4  # index, index lock, key lock, warn marker (+ token file on the file backend)


def test_entries_show_metadata_and_never_the_token(cache, profile, runtime, keyfile):
    t1, t2 = token(), token(kind="id_token")
    cache.put(cache_key(profile, "access_token"), t1, meta(profile, secret=t1.value, value=t1.value))
    cache.put(cache_key(profile, "id_token", audience="https://svc"), t2,
              {"profile": "deploy", "kind": "id_token", "audience": "https://svc", "target": TARGET})
    rows = cache.entries()
    assert [(r["profile"], r["kind"]) for r in rows] == [("deploy", "access_token"), ("deploy", "id_token")]
    assert rows[0]["scopes"] == ["https://www.googleapis.com/auth/cloud-platform"]
    assert rows[1]["audience"] == "https://svc"
    assert rows[0]["expiry"] == "2027-01-15T09:00:00Z"
    assert rows[0]["backend"] in ("keyring (SecretService)", "file")
    for t in (t1, t2):
        assert t.value not in json.dumps(rows)
        assert_no_token_in_files(runtime, t)


def test_cache_list_and_clear_commands(cache, backend, profile, runtime, tmp_path):
    other = Profile(name="other", source=profile.source, target="o@p.iam.gserviceaccount.com")
    tokens = {}
    for p in (profile, other):
        tokens[p.name] = token(expiry=time.time() + 3600)
        cache.put(cache_key(p, "access_token"), tokens[p.name], meta(p))
    config = tmp_path / "profiles.ini"
    config.write_text(f"[cache]\nbackend = {backend}\n")
    env = subprocess_env(XDG_RUNTIME_DIR=os.path.dirname(runtime))
    os.rename(runtime, os.path.join(os.path.dirname(runtime), "credhelper"))  # where platformdirs looks

    def cli(*args):
        return run_python("import sys; from credhelper.cli import main; sys.exit(main(sys.argv[1:]))", *args, env=env)

    listed = cli("cache", "list", "--config", str(config))
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["PROFILE", "KIND", "SCOPES/AUDIENCE", "EXPIRES", "BACKEND"]
    assert [line.split()[0] for line in lines[1:]] == ["deploy", "other"]
    for t in tokens.values():
        assert t.value not in listed.stdout + listed.stderr

    cleared = cli("cache", "clear", "--profile", "deploy", "--config", str(config))
    assert cleared.returncode == 0, cleared.stderr
    assert "removed 1 cached token" in cleared.stderr
    remaining = cli("cache", "list", "--config", str(config)).stdout.splitlines()
    assert [line.split()[0] for line in remaining[1:]] == ["other"]
    if backend == "keyring":
        assert keyring_value(cache_key(profile, "access_token")) is None
        assert keyring_value(cache_key(other, "access_token")) is not None
    assert cli("cache", "clear", "--config", str(config)).stderr.startswith("credhelper: removed 1 ")
    if backend == "keyring":
        assert keyring_value(cache_key(other, "access_token")) is None


def test_clear_by_profile_returns_the_count(cache, profile):
    other = Profile(name="other", source=profile.source, target=TARGET)
    for p in (profile, other):
        cache.put(cache_key(p, "access_token"), token(), meta(p))
        cache.put(cache_key(p, "id_token", audience="a"), token(kind="id_token"), meta(p, "id_token"))
    assert cache.clear(profile="deploy") == 2
    assert cache.get(cache_key(profile, "access_token"), 0, now=NOW) is None
    assert cache.get(cache_key(other, "access_token"), 0, now=NOW) is not None
    assert cache.clear() == 2
    assert cache.entries() == []


CONCURRENT_PUTS = """
    import sys, time
    from credhelper.cache import TokenCache
    from credhelper.token import Token
    cache = TokenCache(backend=sys.argv[1], runtime_dir=sys.argv[2])
    for i in range(int(sys.argv[4])):
        key = "%02x%062x" % (int(sys.argv[3]), i)
        cache.put(key, Token("access_token", "ya29.credhelper-test", time.time() + 3600), {"profile": sys.argv[3]})
"""


def test_concurrent_writers_lose_no_index_entry_and_readers_never_see_a_torn_index(cache, backend, runtime):
    writers, per_writer = 6, 10
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(CONCURRENT_PUTS), backend, runtime, str(w),
                               str(per_writer)], env=subprocess_env()) for w in range(writers)]
    index = os.path.join(runtime, "index.json")
    reads = 0
    while any(p.poll() is None for p in procs):
        try:
            with open(index) as f:
                json.load(f)  # raises on a partially written file
            reads += 1
        except FileNotFoundError:
            pass
    assert all(p.wait() == 0 for p in procs)
    assert len(cache.entries()) == writers * per_writer
    assert reads > 0


# -- locks -------------------------------------------------------------------------------------------

def test_lock_timeout_names_the_lock_file_and_the_fix(runtime, backend):
    key = "ab" * 32
    holder = hold_lock(backend, runtime, key)
    try:
        cache = TokenCache(backend=backend, runtime_dir=runtime, lock_timeout_secs=0.3)
        start = time.monotonic()
        with pytest.raises(CacheError) as err:
            with cache.lock(key):
                pass
        assert 0.3 <= time.monotonic() - start < 10  # it gave up at the timeout, not at once, nor never
        message = str(err.value)
        assert os.path.join(runtime, "locks", f"{key}.lock") in message
        assert f"process {holder.pid}" in message and "lock_timeout" in message and "fix:" in message
    finally:
        holder.kill()
        holder.wait()


def test_a_sigkilled_lock_holder_does_not_block_the_next_caller(runtime, backend):
    key = "cd" * 32
    holder = hold_lock(backend, runtime, key)
    cache = TokenCache(backend=backend, runtime_dir=runtime, lock_timeout_secs=0.2)
    with pytest.raises(CacheError):
        with cache.lock(key):
            pass  # held: proves the lock was really taken
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    start = time.monotonic()
    with TokenCache(backend=backend, runtime_dir=runtime, lock_timeout_secs=30).lock(key):
        waited = time.monotonic() - start
    print(f"\nlock taken {waited * 1000:.1f} ms after its holder was SIGKILLed")
    assert waited < 10  # freed by the kernel at once: no waiting out the 30 s lock timeout


NO_FCNTL = """
    import sys
    sys.modules["fcntl"] = None  # as on Windows (or a Python without it): import fcntl raises ImportError
    import credhelper.cli, credhelper.broker, credhelper.cache  # the package imports without it
    from credhelper import locks
    from credhelper.cache import TokenCache
    from credhelper.errors import CacheError
    assert locks.mechanism() == "exclusive-file", locks.mechanism()
    runtime, key, timeout, hold = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4] == "hold"
    try:
        with TokenCache(backend="file", runtime_dir=runtime, lock_timeout_secs=timeout).lock(key):
            print("locked", flush=True)
            if hold:
                sys.stdin.readline()
    except CacheError as exc:
        print("busy:", exc.message, flush=True)
"""


def test_the_lock_works_without_fcntl(runtime):
    """issue 11.6: no module-level fcntl; without it (and without msvcrt) an O_EXCL lock file holds the lock,
    and a holder that died is taken over."""
    key = "ef" * 32
    script = textwrap.dedent(NO_FCNTL)
    holder = subprocess.Popen([sys.executable, "-c", script, runtime, key, "30", "hold"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=subprocess_env())
    try:
        assert holder.stdout.readline() == "locked\n"
        busy = run_python(NO_FCNTL, runtime, key, "0.3", "once")
        assert busy.returncode == 0, busy.stderr
        assert busy.stdout.startswith("busy: timed out") and f"credhelper process {holder.pid}" in busy.stdout
    finally:
        holder.kill()
        holder.wait()
    taken = run_python(NO_FCNTL, runtime, key, "5", "once")  # its holder was SIGKILLed: the lock is free
    assert taken.stdout == "locked\n", taken.stdout + taken.stderr
    again = run_python(NO_FCNTL, runtime, key, "5", "once")  # and released by the one that took it
    assert again.stdout == "locked\n", again.stdout + again.stderr


MINTER = """
    import sys, time
    from credhelper.cache import TokenCache
    from credhelper.token import Token
    backend, runtime, key, counter = sys.argv[1:5]
    cache = TokenCache(backend=backend, runtime_dir=runtime)
    token = cache.get(key, 300)
    if token is None:
        with cache.lock(key):
            token = cache.get(key, 300)
            if token is None:
                with open(counter, "a") as f:
                    f.write("mint\\n")
                time.sleep(0.2)  # a mint takes a while: everyone else piles up on the lock
                token = Token("access_token", "ya29.credhelper-test-%d" % time.time_ns(), time.time() + 3600)
                cache.put(key, token, {"profile": "p", "kind": "access_token"})
    print(token.value)
"""


def test_32_concurrent_processes_on_a_cold_key_mint_once(runtime, backend, tmp_path):
    key = "ef" * 32
    counter = tmp_path / "mints"
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(MINTER), backend, runtime, key, str(counter)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env())
             for _ in range(32)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 32, [err for _, err in results if err]
    assert counter.read_text() == "mint\n"
    assert len({out for out, _ in results}) == 1


# -- with the broker, the CLI and the emulator ----------------------------------------------------------

@pytest.fixture
def cli_profiles(tmp_path, emulator, sample, backend):
    from support import write_profiles

    def write(**changes):
        keys = {"source": sample.source_key, "target": sample.target, **changes}
        return write_profiles(tmp_path / "profiles.ini", emulator.url, {"default": keys}, cache=backend)

    write()
    return write


@pytest.fixture
def cli(tmp_path, cli_profiles):
    from support import cli_env, run_cli

    env = cli_env(tmp_path, tmp_path / "profiles.ini")

    def run(*args, check=True):
        out = run_cli(list(args or ["print-access-token"]), env)
        if check:
            assert out.returncode == 0, out.stderr
        return out

    run.env = env
    return run


def broker_get(path, backend, runtime, **kw):
    from credhelper import broker
    from credhelper.profile import load_config

    config = load_config(str(path))
    cache = TokenCache.for_config(config, runtime_dir=runtime)
    return broker.get_token(config.resolve("default"), "access_token", cache=cache, **kw)


def test_a_hit_makes_no_request(emulator, cli_profiles, tmp_path, backend, runtime):
    first = broker_get(tmp_path / "profiles.ini", backend, runtime)
    minted = dict(emulator.counters)
    assert minted["generateAccessToken"] == 1 and minted["token"] == 1
    for _ in range(20):
        assert broker_get(tmp_path / "profiles.ini", backend, runtime) == first
    assert dict(emulator.counters) == minted


def test_clearing_a_profile_clears_its_source_token_too(emulator, cli_profiles, tmp_path, backend, runtime):
    broker_get(tmp_path / "profiles.ini", backend, runtime)
    cache = TokenCache(backend=backend, runtime_dir=runtime)
    assert sorted(e["profile"] for e in cache.entries()) == ["(source)", "default"]
    from credhelper import broker
    from credhelper.profile import load_config

    source_key = broker.source_key(load_config(str(tmp_path / "profiles.ini")).resolve("default"))
    assert cache.clear(profile="default", keys=(source_key,)) == 2 and cache.entries() == []
    broker_get(tmp_path / "profiles.ini", backend, runtime)
    assert emulator.counters["token"] == 2  # the source token was minted again: it was gone


def test_profiles_sharing_a_source_share_its_token(emulator, sample, tmp_path, backend, runtime):
    from support import DELEGATE_B, write_profiles

    from credhelper import broker
    from credhelper.profile import load_config

    path = write_profiles(tmp_path / "profiles.ini", emulator.url,
                          {"a": {"source": sample.source_key, "target": sample.target},
                           "b": {"source": sample.source_key, "target": DELEGATE_B},
                           "c": {"source": sample.source_key, "target": sample.target, "lifetime": "30m"}},
                          cache=backend)
    config = load_config(str(path))
    cache = TokenCache.for_config(config, runtime_dir=runtime)
    tokens = {name: broker.get_token(config.resolve(name), "access_token", cache=cache) for name in "abc"}
    assert len(set(tokens.values())) == 3
    assert emulator.counters["generateAccessToken"] == 3
    assert emulator.counters["token"] == 1  # one source refresh for three profiles on one key file
    assert [e["profile"] for e in cache.entries()].count("(source)") == 1


def test_a_token_inside_the_refresh_margin_is_reminted(emulator, cli_profiles, tmp_path, backend, runtime):
    path = tmp_path / "profiles.ini"
    first = broker_get(path, backend, runtime)
    margin = 300
    assert broker_get(path, backend, runtime, now=first.expiry - margin - 5) == first
    assert emulator.counters["generateAccessToken"] == 1
    second = broker_get(path, backend, runtime, now=first.expiry - margin + 1)
    assert second != first and emulator.counters["generateAccessToken"] == 2
    assert broker_get(path, backend, runtime) == second  # and the new one is what is cached now


def test_64_concurrent_cli_processes_on_a_cold_cache_mint_once(emulator, cli, backend):
    start = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-m", "credhelper", "print-access-token"], env=cli.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(64)]
    results = [p.communicate(timeout=180) for p in procs]
    print(f"\n64 concurrent print-access-token ({backend}): {time.monotonic() - start:.1f}s, "
          f"upstream requests: {dict(emulator.counters)}")
    assert [p.returncode for p in procs] == [0] * 64, {err for _, err in results}
    assert len({out for out, _ in results}) == 1
    assert emulator.counters["generateAccessToken"] == 1
    assert emulator.counters["token"] == 1
    assert all(err == "" for _, err in results)


def test_1000_sequential_hits_make_no_request(emulator, cli_profiles, tmp_path, backend, runtime):
    first = broker_get(tmp_path / "profiles.ini", backend, runtime)
    minted = dict(emulator.counters)
    start = time.monotonic()
    for _ in range(1000):
        assert broker_get(tmp_path / "profiles.ini", backend, runtime) == first
    print(f"\n1000 sequential in-process hits ({backend}): {time.monotonic() - start:.2f}s, "
          f"upstream requests after the first mint: {sum(emulator.counters.values()) - sum(minted.values())}")
    assert dict(emulator.counters) == minted


def test_editing_the_profile_or_replacing_the_key_never_serves_the_old_token(emulator, cli, cli_profiles, sample, tmp_path):
    original = cli().stdout
    assert cli().stdout == original and emulator.counters["generateAccessToken"] == 1
    cli_profiles(lifetime="30m")
    edited = cli().stdout
    assert edited != original and emulator.counters["generateAccessToken"] == 2
    cli_profiles(scopes="https://www.googleapis.com/auth/devstorage.read_only")
    assert cli().stdout not in (original, edited) and emulator.counters["generateAccessToken"] == 3
    cli_profiles()
    assert cli().stdout == original and emulator.counters["generateAccessToken"] == 3  # back: the old entry is valid
    key = tmp_path / "key-copy.json"
    key.write_text(sample.source_key.read_text() + "\n")  # same credential, other bytes: a different source
    cli_profiles(source=str(key))
    assert cli().stdout != original and emulator.counters["generateAccessToken"] == 4


def test_a_sigkilled_lock_holder_does_not_block_the_cli(emulator, cli, tmp_path, backend):
    from credhelper.profile import load_config

    profile = load_config(str(tmp_path / "profiles.ini")).resolve("default")
    key = cache_key(profile, "access_token", scopes=tuple(profile.scopes), lifetime_secs=profile.lifetime_secs)
    runtime = os.path.join(cli.env["XDG_RUNTIME_DIR"], "credhelper")
    holder = hold_lock(backend, runtime, key)
    blocked = subprocess.Popen([sys.executable, "-m", "credhelper", "print-access-token"], env=cli.env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    if blocked.poll() is not None:  # it should be waiting on the lock, not minting beside it
        out, err = blocked.communicate()
        pytest.fail(f"not blocked: exit {blocked.returncode}, stderr {err!r}, index "
                    f"{sorted(TokenCache(backend=backend, runtime_dir=runtime)._index_entries())}, key {key}, "
                    f"counters {dict(emulator.counters)}")
    assert emulator.counters["generateAccessToken"] == 0
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    out, err = blocked.communicate(timeout=30)
    assert blocked.returncode == 0, err
    assert out.startswith("ya29.") or len(out) > 20
    assert emulator.counters["generateAccessToken"] == 1


def test_a_caller_that_waited_for_another_minter_takes_its_token_without_loading_the_transport(emulator, cli,
                                                                                              tmp_path, backend):
    from credhelper.profile import load_config

    profile = load_config(str(tmp_path / "profiles.ini")).resolve("default")
    key = cache_key(profile, "access_token", scopes=tuple(profile.scopes), lifetime_secs=profile.lifetime_secs)
    runtime = os.path.join(cli.env["XDG_RUNTIME_DIR"], "credhelper")
    holder = hold_lock(backend, runtime, key)
    waiter = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "credhelper", "print-access-token"],
                              env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    minted = Token("access_token", "ya29.minted-by-the-lock-holder", time.time() + 3600)
    TokenCache(backend=backend, runtime_dir=runtime).put(key, minted, {"profile": "default"})
    holder.communicate("\n", timeout=30)  # the holder releases the lock, as a minter does after put()
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0, err
    assert out.strip() == minted.value and sum(emulator.counters.values()) == 0
    imported = {line.rsplit("|", 1)[-1].strip() for line in err.splitlines() if line.startswith("import time:")}
    assert not {m for m in imported if m.split(".")[0] in ("google", "requests", "urllib3", "keyring")}


def test_a_warm_cli_hit_imports_neither_keyring_nor_google_auth_nor_requests(emulator, cli):
    cli()
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "credhelper", "print-access-token"],
                         env=cli.env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    heavy = sorted(m for m in imported if m.split(".")[0] in ("keyring", "google", "requests", "secretstorage", "urllib3",
                                                               "jeepney", "argparse", "platformdirs", "dataclasses"))
    assert heavy == []
    assert emulator.counters["generateAccessToken"] == 1


HIT_COMMANDS = {  # script, arguments, stdin: the four warm hits of issue 15, as their clients run them
    "print-access-token": ("credhelper", ["print-access-token"], ""),
    "docker": ("docker-credential-credhelper", ["get"], "us-docker.pkg.dev\n"),
    "git": ("git-credential-credhelper", ["get"], "protocol=https\nhost=source.developers.google.com\n\n"),
    "kubectl": ("credhelper", ["kubectl"], ""),
}
EXEC_INFO = '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":false}}'


@pytest.mark.parametrize("command", sorted(HIT_COMMANDS))
def test_a_warm_hit_of_each_helper_imports_no_re_json_or_argparse(emulator, cli, command):
    """issue 15: each of these is 1 to 6 ms of a ~10 ms Python start. The scripts pip installs (scripts/),
    run with -S: the test venv's .pth files (its editable install) import re at every start."""
    script, args, stdin = HIT_COMMANDS[command]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(cli.env, PYTHONPATH=root, KUBERNETES_EXEC_INFO=EXEC_INFO)
    argv = [os.path.join(root, "scripts", script), *args]
    first = subprocess.run([sys.executable, *argv], env=env, input=stdin, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0 and first.stdout, first.stderr  # a mint: it needs the venv's google-auth
    minted = sum(emulator.counters.values())
    out = subprocess.run([sys.executable, "-S", "-X", "importtime", *argv], env=env, input=stdin, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout == first.stdout, out.stderr[-2000:]
    assert sum(emulator.counters.values()) == minted  # a hit
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert "credhelper.cache" in imported
    heavy = sorted(m for m in imported if m.split(".")[0] in ("re", "json", "enum", "fnmatch", "argparse", "google",
                                                               "keyring", "requests", "urllib3", "jeepney"))
    assert heavy == []


def test_signed_jwts_are_not_cached_but_start_from_the_cached_source_token(emulator, cli_profiles, tmp_path,
                                                                          backend, runtime):
    """issue 14.11: sign-jwt adds no cache entry (claims differ every call), and costs one signJwt, no source refresh."""
    from credhelper import broker
    from credhelper.profile import load_config

    broker_get(tmp_path / "profiles.ini", backend, runtime)  # caches the source token and an access token
    config = load_config(str(tmp_path / "profiles.ini"))
    cache = TokenCache.for_config(config, runtime_dir=runtime)
    before = len(cache.entries())
    for i in range(2):
        claims = {"aud": "https://svc.example", "iat": int(time.time()), "exp": int(time.time()) + 600 + i}
        broker.get_token(config.resolve("default"), "jwt", cache=cache, claims=claims)
    assert emulator.counters["signJwt"] == 2 and emulator.counters["token"] == 1
    assert len(cache.entries()) == before and "jwt" not in {e["kind"] for e in cache.entries()}


# -- the read path trusts only our own files (issue 12.4) ----------------------------------------------

def _planted(runtime, profile, backend="file"):
    cache = TokenCache(backend=backend, runtime_dir=runtime, stderr=io.StringIO())
    key = cache_key(profile, "access_token")
    cache.put(key, token(expiry=time.time() + 3600), meta(profile))
    assert cache.get(key, 300) is not None
    reader = TokenCache(backend=backend, runtime_dir=runtime, stderr=io.StringIO())
    return reader, key


def _assert_miss_with_one_warning(reader, key, why):
    from credhelper import cache as cache_module

    cache_module._warned_untrusted.clear()
    reader._stderr = io.StringIO()
    assert reader.get(key, 300) is None and reader.get(key, 300) is None
    warnings = reader._stderr.getvalue().splitlines()
    assert len(warnings) == 1 and "not using the token cache" in warnings[0] and why in warnings[0], warnings


def test_a_runtime_directory_others_can_enter_is_a_miss(runtime, profile):
    reader, key = _planted(runtime, profile)
    os.chmod(runtime, 0o755)
    _assert_miss_with_one_warning(reader, key, "not a private directory of yours")


def test_a_symlinked_runtime_directory_or_index_is_a_miss(runtime, profile, tmp_path):
    reader, key = _planted(runtime, profile)
    os.rename(runtime, str(tmp_path / "elsewhere"))
    os.symlink(str(tmp_path / "elsewhere"), runtime)
    _assert_miss_with_one_warning(reader, key, "not a directory")
    os.unlink(runtime)
    os.rename(str(tmp_path / "elsewhere"), runtime)
    index = os.path.join(runtime, "index.json")
    os.rename(index, index + ".real")
    os.symlink(index + ".real", index)
    _assert_miss_with_one_warning(reader, key, "symlink")


def test_files_another_user_planted_in_the_cache_are_a_miss(runtime, profile):
    from support import other_user

    uid, gid = other_user()
    reader, key = _planted(runtime, profile)
    token_file = os.path.join(runtime, "tokens", f"{key}.json")
    os.chown(token_file, uid, gid)
    _assert_miss_with_one_warning(reader, key, "owned by another user")
    os.chown(token_file, os.getuid(), os.getgid())
    os.chown(os.path.join(runtime, "index.json"), uid, gid)
    _assert_miss_with_one_warning(reader, key, "owned by another user")
    os.chown(os.path.join(runtime, "index.json"), os.getuid(), os.getgid())
    os.chown(runtime, uid, gid)
    _assert_miss_with_one_warning(reader, key, "not a private directory of yours")


def test_the_key_file_is_read_once_per_command(sample, tmp_path, monkeypatch):
    """issue 11.2: validation, the cache key and loading the source all ask credentials, which reads once."""
    from credhelper import broker, credentials, privatefile
    from credhelper import source as sources

    keyfile = str(tmp_path / "key.json")
    with open(keyfile, "w") as f:
        f.write(open(sample.source_key).read())
    reads = []
    real = privatefile.read_owned
    monkeypatch.setattr(privatefile, "read_owned", lambda path, *a: reads.append(path) or real(path, *a))
    credentials._read_cache.clear()
    p = parse_config(f"[default]\nsource = {keyfile}\ntarget = {TARGET}\n", "/p.ini").resolve(None)
    cache_key(p, "access_token")
    broker.source_key(p)
    sources.load_source(p)
    assert reads == [keyfile]
    with open(keyfile, "a") as f:
        f.write(" ")  # changed on disk: read again
    cache_key(p, "access_token")
    assert reads == [keyfile, keyfile]


def test_cache_clear_of_an_unknown_profile_is_an_error_with_a_suggestion(tmp_path):
    from support import cli_env, run_cli

    config = tmp_path / "profiles.ini"
    config.write_text(f"[cache]\nbackend = file\n[profile deploy]\ntarget = {TARGET}\n")
    config.chmod(0o600)
    env = cli_env(tmp_path, config)
    result = run_cli(["cache", "clear", "--profile", "deplyo"], env)
    assert result.returncode == 3 and "no profile named 'deplyo', and no cached tokens of one" in result.stderr
    assert "did you mean 'deploy'?" in result.stderr
    assert run_cli(["cache", "clear", "--profile", "deploy"], env).returncode == 0  # known, even with nothing cached
    listed = run_cli(["cache", "list"], env)
    assert listed.returncode == 0 and "no cached tokens (new tokens go to: file)" in listed.stderr


hex_keys = st.text("0123456789abcdef", min_size=1, max_size=64)
meta_text = st.text(st.sampled_from(list('ab0f"\\: {},\n') + ['\u2028', 'é']), max_size=12)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(hex_keys, st.fixed_dictionaries({"profile": meta_text, "audience": meta_text,
                                                        "expiry": st.floats(0, 2e9), "store": st.just("file")}),
                       max_size=6), hex_keys, st.data())
def test_a_hit_reads_its_index_entry_as_the_whole_index_gives_it(tmp_path_factory, entries, other, data):
    """TokenCache._index_entry (a hit: only the key's entry is parsed) against the whole parse, on indexes
    the writer wrote, whose other entries quote keys, quotes and separators in their values."""
    runtime = str(tmp_path_factory.mktemp("runtime"))
    cache = TokenCache(backend="file", runtime_dir=runtime)
    for key, entry in entries.items():  # values that quote another key as the index writes it
        if entries and data.draw(st.booleans()):
            entry["audience"] += f'"{data.draw(st.sampled_from(sorted(entries)))}": {{'
    with cache._index_update() as index:
        index.update(entries)
    for key in [*entries, other]:
        assert cache._index_entry(key) == cache._index_entries().get(key), key


def test_a_hit_on_an_index_written_otherwise_reads_it_whole(tmp_path):
    """An index not ending as the writer ends it (hand-edited, compact, another version) is parsed whole."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    cache = TokenCache(backend="file", runtime_dir=str(runtime))
    key = "ab" * 32
    for text in (json.dumps({"version": 1, "entries": {key: {"store": "file", "expiry": 5}}}),
                 json.dumps({"entries": {key: {"store": "file"}, key: {"store": "file", "expiry": 7}}, "version": 1},
                            indent=1),
                 '{\n "entries": {\n  "%s": {"expiry": 1}, "%s": {"expiry": 2}\n },\n "version": 1\n}' % (key, key),
                 json.dumps({"version": 2, "entries": {key: {"store": "file"}}}, indent=1, sort_keys=True)):
        (runtime / "index.json").write_text(text)
        (runtime / "index.json").chmod(0o600)
        assert cache._index_entry(key) == cache._index_entries().get(key), text
