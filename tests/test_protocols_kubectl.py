"""kubectl exec credential plugin: real `kubectl get --raw /version` against an HTTPS API stub."""

import argparse
import json
import os
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credhelper.errors import ProtocolError
from credhelper.protocols import kubectl
from protocols_stubs import StubServer, protocol_env, run_in_process, self_signed_cert, token_email
from support import write_profiles

EXIT_CODES = {0, 1, 2, 3, 130}
VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-credhelper-stub", "platform": "linux/amd64"}


@pytest.fixture
def world(tmp_path, emulator, sample):
    config = write_profiles(tmp_path / "profiles.ini", emulator.url, {
        "t": {"source": sample.source_key, "target": sample.target},
        "denied": {"source": sample.source_key, "target": sample.delegate_c},
    }, cache="file")
    return config, protocol_env(tmp_path, config, KUBECONFIG=str(tmp_path / "kubeconfig"))


@pytest.fixture
def api_server(tmp_path, emulator, sample):
    def respond(h):
        auth = h.headers.get("Authorization") or ""
        if not auth.startswith("Bearer ") or token_email(emulator.url, auth[7:]) != sample.target:
            return 401, {"Content-Type": "application/json"}, json.dumps(
                {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Unauthorized", "code": 401}).encode()
        if h.path == "/version":
            return 200, {"Content-Type": "application/json"}, json.dumps(VERSION).encode()
        return 404, {"Content-Type": "application/json"}, b'{"kind":"Status","code":404}'

    with StubServer(respond, tls=self_signed_cert(str(tmp_path))) as server:
        yield server


def kubectl_(env, *args):
    return subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True, timeout=120)


def setup_cluster(env, server, profile):
    assert kubectl_(env, "config", "set-cluster", "stub", f"--server=https://127.0.0.1:{server.port}",
                    "--insecure-skip-tls-verify=true").returncode == 0
    return subprocess.run(["credhelper", "configure", "kubectl", "--cluster", "stub", "--profile", profile], env=env,
                          capture_output=True, text=True, timeout=60)


def test_kubectl_get_raw_version_with_configure_kubectl(world, api_server):
    _, env = world
    done = setup_cluster(env, api_server, "t")
    assert done.returncode == 0, done.stderr
    view = json.loads(kubectl_(env, "config", "view", "-o", "json").stdout)
    user = next(u for u in view["users"] if u["name"] == "credhelper-stub")["user"]["exec"]
    assert user["apiVersion"] == kubectl.V1 and user["interactiveMode"] == "Never"
    assert user["args"][:1] == ["kubectl"] or user["args"][:3] == ["-m", "credhelper", "kubectl"]
    assert "--profile" in user["args"] and user.get("provideClusterInfo") in (None, False)
    got = kubectl_(env, "--context", "stub", "get", "--raw", "/version")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout) == VERSION
    assert any(auth and auth.startswith("Bearer ") for _, _, auth in api_server.requests)


def test_denied_chain_shows_credhelpers_message_through_kubectl(world, api_server):
    _, env = world
    assert setup_cluster(env, api_server, "denied").returncode == 0
    got = kubectl_(env, "--context", "stub", "get", "--raw", "/version")
    assert got.returncode != 0 and "cannot impersonate" in got.stderr and "ya29." not in got.stderr


def test_exec_credential_api_versions(world):
    _, env = world
    for info, expected in [(None, kubectl.V1BETA1), ("", kubectl.V1BETA1),
                           (json.dumps({"kind": "ExecCredential", "apiVersion": kubectl.V1, "spec": {"interactive": False}}), kubectl.V1),
                           (json.dumps({"kind": "ExecCredential", "apiVersion": kubectl.V1BETA1, "spec": {}}), kubectl.V1BETA1)]:
        e = dict(env)
        e.pop("KUBERNETES_EXEC_INFO", None)
        if info is not None:
            e["KUBERNETES_EXEC_INFO"] = info
        done = subprocess.run(["credhelper", "kubectl", "--profile", "t"], env=e, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and done.stderr == ""
        body = json.loads(done.stdout)
        assert body["kind"] == "ExecCredential" and body["apiVersion"] == expected
        assert body["status"]["token"].startswith("ya29.") and body["status"]["expirationTimestamp"].endswith("Z")


@pytest.mark.parametrize("info", ["{", "[]", '{"apiVersion": "client.authentication.k8s.io/v1alpha1"}', '{"kind": "Pod"}',
                                  '{"kind": "ExecCredential"}'])
def test_invalid_exec_info_is_an_error_on_stderr(world, info):
    _, env = world
    done = subprocess.run(["credhelper", "kubectl", "--profile", "t"], env={**env, "KUBERNETES_EXEC_INFO": info},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == "" and done.stderr.startswith("credhelper: KUBERNETES_EXEC_INFO")


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=300), st.dictionaries(st.sampled_from(["kind", "apiVersion", "spec"]),
                                                         st.one_of(st.none(), st.integers(), st.text(max_size=40),
                                                                   st.sampled_from(list(kubectl.API_VERSIONS)))
                                                         ).map(json.dumps)))
def test_any_exec_info_parses_or_raises_protocol_error(info):
    try:
        assert kubectl.requested_api_version({"KUBERNETES_EXEC_INFO": info}) in kubectl.API_VERSIONS
    except ProtocolError:
        pass


def requested_api_version_with_json(raw):
    """requested_api_version as it was with json.loads (before credhelper.jsontext): the reference."""
    if raw is None or not raw.strip():
        return kubectl.V1BETA1
    try:
        info = json.loads(raw)
    except (ValueError, RecursionError):
        raise ProtocolError("KUBERNETES_EXEC_INFO is not JSON") from None
    if not isinstance(info, dict):
        raise ProtocolError("KUBERNETES_EXEC_INFO is not a JSON object")
    if info.get("kind", "ExecCredential") != "ExecCredential":
        raise ProtocolError(f"KUBERNETES_EXEC_INFO kind is {str(info.get('kind'))[:60]!r}, not ExecCredential")
    version = info.get("apiVersion")
    if version not in kubectl.API_VERSIONS:
        shown = str(version)[:80] if version is not None else "missing"
        raise ProtocolError(f"KUBERNETES_EXEC_INFO apiVersion {shown!r} is not supported")
    return version


def outcome(read, raw):
    try:
        return "ok", read(raw)
    except ProtocolError as exc:
        return "error", exc.message


exec_info_pieces = st.sampled_from(['{', '}', '[', ']', ',', ':', ' ', '"kind"', '"apiVersion"', '"spec"', '{}', 'null',
                                    '"ExecCredential"', f'"{kubectl.V1}"', f'"{kubectl.V1BETA1}"', '"Pod"', '1', 'NaN',
                                    '"\\u0045xecCredential"', '\ufeff', '\x00', 'true', '"interactive":false'])


@settings(max_examples=1000, deadline=None)
@given(st.one_of(st.lists(exec_info_pieces, max_size=14).map("".join), st.text(max_size=60),
                 st.dictionaries(st.sampled_from(["kind", "apiVersion", "spec"]),
                                 st.one_of(st.none(), st.integers(), st.text(max_size=20), st.sampled_from(
                                     ["ExecCredential", *kubectl.API_VERSIONS]))).map(json.dumps)))
def test_exec_info_is_read_as_json_loads_read_it(raw):
    """The same version, or the same ProtocolError, as with json.loads, for any KUBERNETES_EXEC_INFO."""
    assert outcome(lambda r: kubectl.requested_api_version({"KUBERNETES_EXEC_INFO": r}), raw) == \
        outcome(requested_api_version_with_json, raw)


def test_the_exec_credential_is_what_json_dumps_writes():
    from credhelper.token import Token

    token = Token("access_token", "ya29.a-b_c", 1_900_000_000.0)
    for version in kubectl.API_VERSIONS:
        assert kubectl.format_exec_credential(token, version) == json.dumps(
            {"kind": "ExecCredential", "apiVersion": version, "spec": {},
             "status": {"token": token.value, "expirationTimestamp": token.expiry_rfc3339()}})


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_plugin_in_process_never_prints_a_partial_credential(tmp_path_factory, capsys, info):
    config = tmp_path_factory.getbasetemp() / "kubectl-hostile.ini"
    config.write_text("[cache]\nbackend = none\n[default]\nsource = /nonexistent.json\n")
    status, out, err = run_in_process("kubectl", argparse.Namespace(config=str(config), profile=None),
                                      env={"KUBERNETES_EXEC_INFO": info})
    assert status in EXIT_CODES - {0} and out == "" and err.startswith("credhelper: ")
    assert "Traceback" not in err and "internal error" not in err


# -- configure kubectl: the cluster must exist, the command is absolute ------------------------------

def test_configure_writes_an_absolute_command_even_under_the_kubeconfigs_directory(tmp_path, world, api_server):
    """kubectl relativizes a path under the kubeconfig's directory; configure puts the absolute one back."""
    _, env = world
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("credhelper", path=env["PATH"]), bin_dir / "credhelper")
    env = {**env, "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}"}
    done = setup_cluster(env, api_server, "t")
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "kubeconfig").read_text()
    assert f"command: {json.dumps(str(bin_dir / 'credhelper'))}" in text and "command: bin/" not in text
    got = kubectl_(env, "--context", "stub", "get", "--raw", "/version")
    assert got.returncode == 0 and json.loads(got.stdout) == VERSION, got.stderr


def test_configure_refuses_a_cluster_the_kubeconfig_lacks_and_names_those_it_has(world, api_server):
    _, env = world
    kubectl_(env, "config", "set-cluster", "stub", f"--server=https://127.0.0.1:{api_server.port}")
    kubectl_(env, "config", "set-cluster", "other", "--server=https://127.0.0.1:1")
    done = subprocess.run(["credhelper", "configure", "kubectl", "--cluster", "prod", "--profile", "t"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "no cluster 'prod'" in done.stderr and "other, stub" in done.stderr
    assert "credhelper-prod" not in kubectl_(env, "config", "view").stdout


def test_configure_without_a_kubeconfig_says_so(world, tmp_path):
    _, env = world
    done = subprocess.run(["credhelper", "configure", "kubectl", "--cluster", "prod", "--profile", "t"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "no kubeconfig at" in done.stderr and "set-cluster" in done.stderr
    assert not (tmp_path / "kubeconfig").exists()
