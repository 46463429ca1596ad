"""The keyring store's first write without keyring: stores.keyring.secret_service_is_keyrings_choice against
keyring.get_keyring() itself, in fresh processes (keyring decides once per process), on the real Secret
Service of tests/run and with real third-party backends installed on PYTHONPATH."""

import json
import os
import subprocess
import sys
import textwrap
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# what keyring chooses, as credhelper's choose() reads it (a chainer's first backend), and what our check says
CHOICES = """
    import json, sys
    from credhelper.stores import keyring as store
    ours = store.secret_service_is_keyrings_choice()
    assert "keyring" not in sys.modules  # the check imports nothing of keyring's
    import keyring
    kr = keyring.get_keyring()
    if type(kr).__module__ == "keyring.backends.chainer":
        kr = kr.backends[0] if kr.backends else None
    print(json.dumps({"ours": ours, "keyring": type(kr).__module__ + "." + type(kr).__name__}))
"""

# one token put into a fresh cache (nothing known): where it went, and whether keyring was imported
PUT = """
    import json, sys, time
    from credhelper.cache import TokenCache
    from credhelper.token import Token
    cache = TokenCache(backend="keyring", runtime_dir=sys.argv[1])
    cache.put(sys.argv[2], Token("access_token", sys.argv[3], time.time() + 3600), {"profile": "p", "kind": "access_token"})
    imported = "keyring" in sys.modules
    [entry] = cache.entries()
    hit = cache.get(sys.argv[2], 300)
    print(json.dumps({"keyring_imported": imported, "backend": entry["backend"], "read": hit and hit.value}))
"""

SECRET_SERVICE = "keyring.backends.SecretService.Keyring"


def _env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (extra.pop("PYTHONPATH", None), ROOT) if p)
    env.update(extra)
    return env


def _run(code, *args, **env):
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], env=_env(**env),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


@pytest.fixture
def secret_service():
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        pytest.skip("no D-Bus session (tests/run provides one with gnome-keyring)")
    if _run(CHOICES)["keyring"] != SECRET_SERVICE:
        pytest.skip("keyring's backend here is not the Secret Service")


def _backend_site(tmp_path, name, priority, entry_point=True):
    """A directory for PYTHONPATH holding an installed third-party keyring backend of this priority, which
    keeps each password in a file of its own, in a directory beside it."""
    site = tmp_path / f"site-{name}"
    (site / name).mkdir(parents=True)
    store = tmp_path / f"{name}-passwords"
    (site / name / "__init__.py").write_text(textwrap.dedent(f"""
        import os
        from keyring.backend import KeyringBackend
        DIRECTORY = {str(store)!r}
        class Backend(KeyringBackend):
            priority = {priority}
            def _path(self, service, username):
                os.makedirs(DIRECTORY, exist_ok=True)
                return os.path.join(DIRECTORY, service + "." + username)
            def get_password(self, service, username):
                try:
                    with open(self._path(service, username)) as f:
                        return f.read()
                except FileNotFoundError:
                    return None
            def set_password(self, service, username, password):
                with open(self._path(service, username), "w") as f:
                    f.write(password)
            def delete_password(self, service, username):
                os.remove(self._path(service, username))
    """))
    dist = site / f"{name}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    if entry_point:
        (dist / "entry_points.txt").write_text(f"[console_scripts]\n{name} = {name}:main\n\n"
                                               f"[keyring.backends]\n{name} = {name}\n")
    return site, store


def test_on_the_secret_service_the_check_agrees_with_keyring_and_the_first_write_skips_it(secret_service, tmp_path):
    assert _run(CHOICES) == {"ours": True, "keyring": SECRET_SERVICE}
    import keyring

    from credhelper.cache import SERVICE_NAME

    key = uuid.uuid4().hex
    try:
        put = _run(PUT, str(tmp_path / "run"), key, "ya29.EMULATED-first")
        assert put == {"keyring_imported": False, "backend": "keyring (SecretService)", "read": "ya29.EMULATED-first"}
        assert "ya29.EMULATED-first" in keyring.get_password(SERVICE_NAME, key)  # keyring finds it as its own
    finally:
        keyring.delete_password(SERVICE_NAME, key)


@pytest.mark.parametrize("priority", [20, 0.5])
def test_a_third_party_backend_leaves_the_choice_to_keyring(secret_service, tmp_path, priority):
    """Above the Secret Service it wins; below it, keyring chains the two and the Secret Service comes
    first. Either way the check does not guess: keyring is asked, and the token goes where it says."""
    site, store = _backend_site(tmp_path, "thirdparty_backend", priority)
    chosen = _run(CHOICES, PYTHONPATH=str(site))
    assert chosen == {"ours": False,
                      "keyring": "thirdparty_backend.Backend" if priority > 5 else SECRET_SERVICE}
    key = uuid.uuid4().hex
    put = _run(PUT, str(tmp_path / "run"), key, "ya29.EMULATED-third", PYTHONPATH=str(site))
    assert put["keyring_imported"] and put["read"] == "ya29.EMULATED-third"
    if priority > 5:
        assert put["backend"] == "keyring (thirdparty_backend.Backend)" and (store / f"credhelper.{key}").exists()
    else:
        assert put["backend"] == "keyring (SecretService)" and not store.exists()
        import keyring

        from credhelper.cache import SERVICE_NAME

        keyring.delete_password(SERVICE_NAME, key)


def test_a_backend_module_without_an_entry_point_is_not_a_backend_to_either(secret_service, tmp_path):
    site, _ = _backend_site(tmp_path, "not_registered", 20, entry_point=False)
    assert _run(CHOICES, PYTHONPATH=str(site)) == {"ours": True, "keyring": SECRET_SERVICE}


@pytest.mark.parametrize("module", ["gi", "dbus", "win32ctypes"])
def test_a_module_another_builtin_backend_needs_leaves_the_choice_to_keyring(secret_service, tmp_path, module):
    """With dbus-python, gi or pywin32-ctypes importable, KWallet, libsecret or Windows might be viable:
    keyring is asked (here they are empty packages, so it still picks the Secret Service)."""
    site = tmp_path / "site"
    (site / module).mkdir(parents=True)
    (site / module / "__init__.py").write_text("")
    assert _run(CHOICES, PYTHONPATH=str(site)) == {"ours": False, "keyring": SECRET_SERVICE}


@pytest.mark.parametrize("setting", ["PYTHON_KEYRING_BACKEND", "KEYRING_PROPERTY_SCHEME", "keyringrc.cfg"])
def test_keyrings_configuration_leaves_the_choice_to_keyring(secret_service, tmp_path, setting):
    """Configured, keyring decides (and a property such as the KeePassXC scheme changes the item's
    attributes): the first write imports keyring, and the token is where keyring reads it."""
    import keyring

    from credhelper.cache import SERVICE_NAME

    env = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    if setting == "keyringrc.cfg":
        (tmp_path / "config" / "python_keyring").mkdir(parents=True)
        (tmp_path / "config" / "python_keyring" / "keyringrc.cfg").write_text(
            f"[backend]\ndefault-keyring = {SECRET_SERVICE}\n")
    else:
        env[setting] = SECRET_SERVICE if setting == "PYTHON_KEYRING_BACKEND" else "KeePassXC"
    key = uuid.uuid4().hex
    put = _run(PUT, str(tmp_path / "run"), key, "ya29.EMULATED-configured", **env)
    try:
        assert put["keyring_imported"] and put["read"] == "ya29.EMULATED-configured"
        if setting == "KEYRING_PROPERTY_SCHEME":  # other attribute names: read back through keyring, not directly
            assert put["backend"] == "keyring (SecretService.Keyring)"
            assert keyring.get_password(SERVICE_NAME, key) is None  # not under the default scheme's names
        else:
            assert put["backend"] == "keyring (SecretService)"
    finally:
        _run(FORGET, key, **env)


FORGET = """
    import json, sys, keyring
    from credhelper.cache import SERVICE_NAME
    keyring.delete_password(SERVICE_NAME, sys.argv[1])
    print(json.dumps(None))
"""


def test_without_a_secret_service_the_direct_write_fails_and_keyring_decides(tmp_path):
    """The check cannot see the bus; the write does: with no Secret Service to answer, keyring is asked,
    finds no backend, and the cache keeps the token in a file, as before."""
    env = {"DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path / 'no-bus'}"}
    chosen = _run(CHOICES, **env)
    assert chosen == {"ours": True, "keyring": "keyring.backends.fail.Keyring"}
    put = _run(PUT, str(tmp_path / "run"), uuid.uuid4().hex, "ya29.EMULATED-nobus", **env)
    assert put == {"keyring_imported": True, "backend": "file (keyring unavailable)", "read": "ya29.EMULATED-nobus"}


def test_a_fifo_planted_as_metadata_does_not_hang_the_check(tmp_path):
    """A directory on sys.path (the working directory, under python -m) may hold files of another
    user's: a FIFO where entry_points.txt should be is not read (keyring's own discovery would block on
    it); the check answers no and leaves the choice to keyring."""
    site = tmp_path / "site"
    (site / "planted-1.0.dist-info").mkdir(parents=True)
    os.mkfifo(site / "planted-1.0.dist-info" / "entry_points.txt")
    code = ("import json\nfrom credhelper.stores import keyring as store\n"
            "print(json.dumps(store.secret_service_is_keyrings_choice()))\n")
    assert _run(code, PYTHONPATH=str(site)) is False


def test_a_backend_registered_by_whatever_imported_keyring_first_leaves_the_choice_to_keyring(secret_service, tmp_path):
    """A backend class registers itself when its module is imported, entry point or not (a .pth file, a
    plugin): once keyring is imported, the check does not guess."""
    site, _ = _backend_site(tmp_path, "imported_backend", 20, entry_point=False)
    code = ("import json, sys\nimport imported_backend\nfrom credhelper.stores import keyring as store\n"
            "import keyring\nkr = keyring.get_keyring()\n"
            "print(json.dumps({'ours': store.secret_service_is_keyrings_choice(), "
            "'keyring': type(kr).__module__ + '.' + type(kr).__name__}))\n")
    assert _run(code, PYTHONPATH=str(site)) == {"ours": False, "keyring": "imported_backend.Backend"}
