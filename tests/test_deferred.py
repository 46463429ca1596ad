"""credhelper.deferred: modules google-auth imports but a mint does not use load on first use, and then
are the real modules (checked against a fresh import of each)."""

import subprocess
import sys

from support import cli_env, write_profiles


def run_python(code, env=None):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_a_mint_from_a_key_loads_none_of_the_deferred_modules(emulator, sample, tmp_path):
    config = write_profiles(tmp_path / "profiles.ini", emulator.url,
                            {"default": {"source": sample.source_key, "target": sample.target}})
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "credhelper", "print-access-token", "--no-cache"],
                         env=cli_env(tmp_path, config), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert "google.oauth2.service_account" in imported and "google.auth.crypt.rsa" in imported
    assert not {m for m in imported if m.startswith(("asyncio.", "cryptography.x509."))}
    assert not imported & {"tempfile", "subprocess", "shutil"}
    assert emulator.counters["generateAccessToken"] == 1


def test_the_first_use_loads_the_real_module_for_every_way_of_importing_it():
    real = run_python("import sys, asyncio, asyncio.events, cryptography.x509 as x\n"
                      "print(asyncio.Future.__qualname__, asyncio.events.__name__, x.load_pem_x509_certificate.__name__,"
                      " sorted(dir(x)) == sorted(dir(sys.modules['cryptography.x509'])))\n")
    deferred = run_python(
        "import sys\nfrom credhelper import deferred\ndeferred.defer('asyncio', 'cryptography.x509')\n"
        "import asyncio, cryptography.x509 as x\nfrom cryptography import x509\n"
        "assert 'asyncio.events' not in sys.modules and 'cryptography.x509.base' not in sys.modules\n"
        "stand_in = asyncio\n"
        "import asyncio.events\n"  # a submodule import loads the package
        "assert 'asyncio.base_events' in sys.modules and sys.modules['asyncio'] is not stand_in\n"
        "assert stand_in.Future is sys.modules['asyncio'].Future and asyncio.run(asyncio.sleep(0, 7)) == 7\n"
        "assert x.Certificate is x509.Certificate is sys.modules['cryptography.x509'].Certificate\n"
        "import cryptography\nassert cryptography.x509 is sys.modules['cryptography.x509']\n"
        "print(asyncio.Future.__qualname__, asyncio.events.__name__, x.load_pem_x509_certificate.__name__,"
        " sorted(dir(x)) == sorted(dir(sys.modules['cryptography.x509'])))\n")
    assert deferred == real


def test_a_module_already_imported_or_not_installed_is_left_alone():
    run_python("import sys, json\nfrom credhelper import deferred\n"
               "deferred.defer('json', 'credhelper_no_such_module', 'no_such_package.sub')\n"
               "assert sys.modules['json'] is json and 'credhelper_no_such_module' not in sys.modules\n"
               "try:\n    import credhelper_no_such_module\nexcept ImportError:\n    pass\n"
               "else:\n    raise AssertionError('imported a module that does not exist')\n")


def test_threads_that_use_it_first_at_once_get_one_real_module():
    run_python("import sys, threading\nfrom credhelper import deferred\ndeferred.defer('asyncio')\nimport asyncio\n"
               "seen, start = [], threading.Barrier(8)\n"
               "def use():\n    start.wait()\n    seen.append(asyncio.Future)\n"
               "threads = [threading.Thread(target=use) for _ in range(8)]\n"
               "[t.start() for t in threads]\n[t.join() for t in threads]\n"
               "assert len(seen) == 8 and all(f is sys.modules['asyncio'].Future for f in seen), seen\n")


def imported_by(args, env):
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "credhelper", *args], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}


def test_a_target_mint_with_the_source_token_cached_loads_no_key(emulator, sample, tmp_path):
    """The source's google-auth object is built only to refresh or sign: a --refresh of a target token
    (every kind) whose source token is cached imports no credential module and no cryptography."""
    claims = tmp_path / "claims.json"
    claims.write_text('{"aud": "https://svc.example", "sub": "x"}')
    config = write_profiles(tmp_path / "profiles.ini", emulator.url,
                            {"default": {"source": sample.source_key, "target": sample.target,
                                         "audience": "https://svc.example"}})
    env = cli_env(tmp_path, config)
    first = imported_by(["print-access-token"], env)  # mints and caches the source token
    assert "google.oauth2.service_account" in first and emulator.counters["token"] == 1
    for args in (["print-access-token", "--refresh"], ["print-identity-token", "--refresh"],
                 ["sign-jwt", "--claims", str(claims), "--refresh"]):
        imported = imported_by(args, env)
        assert not {m for m in imported if m.startswith(("google.oauth2", "cryptography", "google.auth.crypt"))}, args
    assert emulator.counters["token"] == 1  # the cached source token served every mint
    assert emulator.counters["generateAccessToken"] == 2 and emulator.counters["generateIdToken"] == 1
    assert emulator.counters["signJwt"] == 1


def test_a_mint_from_a_refresh_token_loads_no_key_serialization_inspect_or_hashlib(emulator, sample, tmp_path):
    """An authorized_user source signs nothing: cryptography's key serialization (with its SSH module,
    ciphers and bcrypt), inspect (with ast and dis) and hashlib (google-auth hashes only what it logs)
    stay unloaded; together about 2 MB of the mint's peak RSS."""
    config = write_profiles(tmp_path / "profiles.ini", emulator.url,
                            {"default": {"source": sample.authorized_user, "target": sample.target}})
    imported = imported_by(["print-access-token", "--no-cache"], cli_env(tmp_path, config))
    assert "google.oauth2.credentials" in imported and "google.auth.crypt" in imported
    assert not imported & {"cryptography.hazmat.primitives.serialization", "inspect", "hashlib", "ast", "dis",
                           "cryptography.hazmat.primitives.serialization.ssh", "bcrypt"}
    assert emulator.counters["token"] == 1 and emulator.counters["generateAccessToken"] == 1


def test_an_undocumented_dataclass_gets_its_signature_from_the_deferred_inspect():
    """dataclasses imports inspect at its top and uses it only for a class without a docstring."""
    code = ("from dataclasses import dataclass\n@dataclass\nclass Hop:\n    account: str\n    index: int = 0\n"
            "import sys\nprint(Hop.__doc__, 'inspect.signature' if hasattr(sys.modules['inspect'], 'signature') else '')\n")
    real = run_python(code)
    deferred = run_python("from credhelper import deferred\ndeferred.defer('inspect')\n" + code)
    assert deferred == real and real[0].startswith("Hop(account:")
