"""docker credential helper: the real docker CLI against a TLS registry stub that checks Basic credentials."""

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credhelper.errors import ProtocolError
from credhelper.protocols import docker
from protocols_stubs import StubServer, basic_credentials, protocol_env, run_in_process, self_signed_cert, token_email
from support import write_profiles

EXIT_CODES = {0, 1, 2, 3, 130}
CONFIG_BLOB = b"{}"
CONFIG_DIGEST = "sha256:" + hashlib.sha256(CONFIG_BLOB).hexdigest()
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                                  "size": len(CONFIG_BLOB), "digest": CONFIG_DIGEST},
                       "layers": []}).encode()


def registry(check):
    """A registry answering 401 + Basic challenge until check(username, password), then img:tag.

    The docker CLI's `manifest inspect` pings /v2/, fetches the manifest and then its config blob."""
    api = {"Docker-Distribution-API-Version": "registry/2.0"}

    def respond(h):
        user, password = basic_credentials(h)
        if not check(user, password):
            return 401, {**api, "WWW-Authenticate": 'Basic realm="credhelper-test"', "Content-Type": "application/json"}, \
                b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
        if h.path == "/v2/":
            return 200, {**api, "Content-Type": "application/json"}, b"{}"
        if h.path == "/v2/img/manifests/tag":
            return 200, {**api, "Content-Type": "application/vnd.docker.distribution.manifest.v2+json",
                         "Docker-Content-Digest": "sha256:" + hashlib.sha256(MANIFEST).hexdigest()}, MANIFEST
        if h.path == f"/v2/img/blobs/{CONFIG_DIGEST}":
            return 200, {**api, "Content-Type": "application/octet-stream", "Docker-Content-Digest": CONFIG_DIGEST}, CONFIG_BLOB
        return 404, {**api, "Content-Type": "application/json"}, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}'

    return respond


@pytest.fixture
def world(tmp_path, emulator, sample):
    def make(docker_section=""):
        config = write_profiles(tmp_path / "profiles.ini", emulator.url, {
            "t": {"source": sample.source_key, "target": sample.target},
            "denied": {"source": sample.source_key, "target": sample.delegate_c},
        }, cache="file")
        if docker_section:
            with open(config, "a") as f:
                f.write("\n[docker]\n" + docker_section)
        dc = tmp_path / "docker"
        dc.mkdir(exist_ok=True)
        return config, protocol_env(tmp_path, config, DOCKER_CONFIG=str(dc))
    return make


@pytest.fixture
def registry_stub(tmp_path, emulator, sample):
    check = lambda user, pw: user == "oauth2accesstoken" and bool(pw) and token_email(emulator.url, pw) == sample.target  # noqa: E731
    with StubServer(registry(check), tls=self_signed_cert(str(tmp_path))) as server:
        yield server, f"127.0.0.1:{server.port}"


def helper(env, op, input=""):
    return subprocess.run(["docker-credential-credhelper", op], env=env, capture_output=True, text=True, input=input,
                          timeout=60)


def test_docker_manifest_inspect_through_configure_docker(tmp_path, world, registry_stub):
    server, host = registry_stub
    config, env = world(f"{host} = t\n")
    existing = {"auths": {"example.com": {"auth": "dTpw"}}, "credHelpers": {"gcr.io": "gcloud"}, "psFormat": "{{.ID}}"}
    (tmp_path / "docker" / "config.json").write_text(json.dumps(existing))
    done = subprocess.run(["credhelper", "configure", "docker", "--registries", host], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    written = json.loads((tmp_path / "docker" / "config.json").read_text())
    assert written == {**existing, "credHelpers": {"gcr.io": "gcloud", host: "credhelper"}}
    inspect = subprocess.run(["docker", "manifest", "inspect", "--insecure", f"{host}/img:tag"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert inspect.returncode == 0, inspect.stderr
    assert json.loads(inspect.stdout)["config"]["digest"] == CONFIG_DIGEST
    assert any(auth and auth.startswith("Basic ") for _, _, auth in server.requests)


def test_unmapped_registry_is_not_found_and_docker_goes_anonymous(tmp_path, world, registry_stub):
    server, host = registry_stub
    _, env = world()
    (tmp_path / "docker" / "config.json").write_text(json.dumps({"credHelpers": {host: "credhelper"}}))
    done = helper(env, "get", host)
    assert (done.returncode, done.stdout) == (1, "credentials not found in native keychain\n")
    inspect = subprocess.run(["docker", "manifest", "inspect", "--insecure", f"{host}/img:tag"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert inspect.returncode != 0 and all(auth is None for _, _, auth in server.requests)


def test_get_prints_server_url_username_and_secret(world, sample):
    _, env = world("registry.example.com:5000 = t\n")
    done = helper(env, "get", "https://registry.example.com:5000/v2/\n")
    assert done.returncode == 0 and done.stderr == ""
    body = json.loads(done.stdout)
    assert set(body) == {"ServerURL", "Username", "Secret"}
    assert body["ServerURL"] == "https://registry.example.com:5000/v2/" and body["Username"] == "oauth2accesstoken"
    assert body["Secret"].startswith("ya29.")


def test_google_registry_uses_the_environment_profile(world):
    _, env = world()
    done = helper({**env, "CREDHELPER_PROFILE": "t"}, "get", "us-docker.pkg.dev")
    assert done.returncode == 0 and json.loads(done.stdout)["Secret"]


def test_denied_chain_is_an_error_on_stdout(world):
    _, env = world("us-docker.pkg.dev = denied\n")
    done = helper(env, "get", "us-docker.pkg.dev")
    assert done.returncode == 1 and "cannot impersonate" in done.stdout and "Secret" not in done.stdout
    assert "Traceback" not in done.stderr


def test_store_list_version_erase(world, emulator):
    _, env = world("a.example.com = t\nb.example.com:5000 = t\n")
    store = helper(env, "store", json.dumps({"ServerURL": "a.example.com", "Username": "u", "Secret": "s"}))
    assert (store.returncode, store.stdout, store.stderr) == (0, "", "")
    listing = helper(env, "list")
    assert listing.returncode == 0
    assert json.loads(listing.stdout) == {"a.example.com": "oauth2accesstoken", "b.example.com:5000": "oauth2accesstoken"}
    version = helper(env, "version")
    assert version.returncode == 0 and version.stdout.startswith("docker-credential-credhelper (credhelper) ")
    assert helper(env, "get", "a.example.com").returncode == 0
    assert helper(env, "get", "a.example.com").returncode == 0
    assert emulator.counters["generateAccessToken"] == 1
    erase = helper(env, "erase", "a.example.com")
    assert (erase.returncode, erase.stdout) == (0, "")
    assert helper(env, "get", "a.example.com").returncode == 0
    assert emulator.counters["generateAccessToken"] == 2


@pytest.mark.parametrize("op, stdin", [("frob", ""), ("get", ""), ("get", "a b"), ("store", "{"), ("store", "[]"),
                                       ("get", "https://"), ("get", "host:99999")])
def test_malformed_request_is_a_stdout_error(world, op, stdin):
    _, env = world()
    done = helper(env, op, stdin)
    assert done.returncode == 2 and done.stdout.strip() and "\n" not in done.stdout.strip()
    assert "Traceback" not in done.stderr


def test_configure_docker_rejects_a_broken_config(tmp_path, world):
    _, env = world()
    (tmp_path / "docker" / "config.json").write_text("{not json")
    done = subprocess.run(["credhelper", "configure", "docker", "--registries", "gcr.io"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and (tmp_path / "docker" / "config.json").read_text() == "{not json"


@pytest.mark.parametrize("url, host", [("us-docker.pkg.dev", "us-docker.pkg.dev"), ("https://GCR.io/v2/", "gcr.io"),
                                       ("127.0.0.1:5000", "127.0.0.1:5000"), ("https://[::1]:443", "[::1]:443")])
def test_registry_host(url, host):
    assert docker.registry_host(url) == host


def registry_host_by_urlsplit(url):
    """registry_host as it was, everything read by urllib.parse.urlsplit (the library the plain-host path replaces)."""
    import urllib.parse

    from credhelper.protocols import selection

    text = url.strip()
    parts = urllib.parse.urlsplit(text if "://" in text else "//" + text)
    host, port = parts.hostname, parts.port  # ValueError as registry_host's ProtocolError
    if not host:
        raise ValueError("no host")
    host = f"[{host}]" if ":" in host else host
    hostport = f"{host}:{port}" if port is not None else host
    if selection.split_host(hostport) is None:
        raise ValueError("not a DNS name or IP literal")
    return hostport


@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.text("aZ09.-_:/@[]%?#", max_size=24),
                 st.builds("{}:{}".format, st.text("aZ09.-_", max_size=12), st.text("0123456789", max_size=7))))
def test_a_plain_host_is_read_as_urlsplit_reads_it(url):
    try:
        expected = registry_host_by_urlsplit(url)
    except ValueError:
        expected = None
    try:
        got = docker.registry_host(url)
    except ProtocolError:
        got = None
    assert got == expected, url


def test_a_plain_host_is_read_without_urllib_parse():
    code = ("import sys\nfrom credhelper.protocols import docker\n"
            "assert docker.registry_host('Us-Docker.pkg.dev:443') == 'us-docker.pkg.dev:443'\n"
            "assert docker.registry_host('gcr.io') == 'gcr.io'\nassert 'urllib.parse' not in sys.modules\n")
    root = os.path.dirname(os.path.dirname(docker.__file__))  # -S: no site, whose .pth files may import it
    done = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.path.dirname(root)})
    assert done.returncode == 0, done.stderr


# -- hostile stdin -------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(op=st.sampled_from(["get", "store", "erase", "list", "version", "x", ""]),
       data=st.one_of(st.binary(max_size=300), st.text(max_size=200).map(str.encode),
                      st.sampled_from([b"gcr.io", b"https://x.pkg.dev/", b'{"ServerURL":"a","Username":"u","Secret":"s"}',
                                       b"127.0.0.1:1", b"\xff"])))
def test_helper_in_process_answers_or_fails_cleanly(tmp_path_factory, op, data):
    config = tmp_path_factory.getbasetemp() / "docker-hostile.ini"
    config.write_text("[cache]\nbackend = none\n[default]\nsource = /nonexistent.json\n[docker]\n127.0.0.1 = default\n")
    args = argparse.Namespace(config=str(config), profile=None, operation=op)
    status, text, _ = run_in_process("docker-credential", args, env={}, stdin=io.BytesIO(data))
    assert status in EXIT_CODES and "Traceback" not in text and "internal error" not in text
    assert '"Secret": "' not in text  # no profile here can mint (an error may name the field)
    if status:
        assert text.endswith("\n") and text.count("\n") == 1


@pytest.mark.parametrize("data", [b"\xff\xfe", b"x" * 100000, b"\x00gcr.io"], ids=["not-utf8", "huge", "nul"])
def test_hostile_stdin_in_a_real_process(world, data):
    _, env = world()
    done = subprocess.run(["docker-credential-credhelper", "get"], env=env, input=data, capture_output=True, timeout=60)
    assert done.returncode in EXIT_CODES - {0} and b"Traceback" not in done.stderr + done.stdout


@pytest.mark.parametrize("url", ["evil.com%2f.gcr.io", "https://evil.com%2f.gcr.io/v2/", "evil.com%2f.pkg.dev",
                                 "evil_.com%23.gcr.io", "gcr.io:0", "gcr.io:65536", "[fe80::1%25eth0].gcr.io"])
def test_a_registry_host_that_is_not_a_dns_name_or_ip_literal_is_refused(world, url):
    _, env = world()
    done = subprocess.run(["docker-credential-credhelper", "get"], env={**env, "CREDHELPER_PROFILE": "t"}, input=url, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and "Secret" not in done.stdout and done.stdout.count("\n") == 1, done.stdout


def test_a_closed_stdin_is_a_protocol_error(world):
    _, env = world()
    done = subprocess.run(["docker-credential-credhelper", "get"], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=60, preexec_fn=lambda: os.close(0))
    assert done.returncode == 2 and "stdin is closed" in done.stdout and "Traceback" not in done.stderr
