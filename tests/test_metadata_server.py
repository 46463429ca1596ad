"""credhelper serve-metadata: the profile's target identity as a GCE metadata server on 127.0.0.1,
driven over real HTTP, by google-auth's compute_engine credentials, and by the real gcloud."""

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import requests

from credhelper.errors import EXIT_AUTH
from support import SOURCE, TARGET, cli_env, write_profiles

FLAVOR = {"Metadata-Flavor": "Google"}
SA = "computeMetadata/v1/instance/service-accounts"
READ_ONLY = "https://www.googleapis.com/auth/devstorage.read_only"


@pytest.fixture
def config(tmp_path, emulator, sample):
    return write_profiles(tmp_path / "profiles.ini", emulator.url, {
        "t": {"source": sample.source_key, "target": TARGET},
        "billed": {"source": sample.source_key, "target": TARGET, "quota_project": "billing-project"},
        "denied": {"source": sample.source_key, "delegates": sample.delegate_c, "target": TARGET},
    })


class Served:
    def __init__(self, proc, host, url_file):
        self.proc, self.host, self.url_file = proc, host, url_file

    def get(self, path, headers=FLAVOR, **kw):
        return requests.get(f"http://{self.host}/{path}", headers=headers, timeout=10, **kw)


def start(tmp_path, config, profile="t", *extra):
    url_file = tmp_path / "metadata-url"
    proc = subprocess.Popen([sys.executable, "-m", "credhelper", "serve-metadata", "--profile", profile,
                             "--url-file", str(url_file), *extra],
                            env=cli_env(tmp_path, config), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not url_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"serve-metadata did not start (exit {proc.returncode}): {err}")
        time.sleep(0.05)
    host = url_file.read_text().strip()
    assert proc.stdout.readline().strip() == host
    return Served(proc, host, url_file)


def stop(served, sig=signal.SIGTERM):
    served.proc.send_signal(sig)
    out, err = served.proc.communicate(timeout=20)
    return served.proc.returncode, err


@pytest.fixture
def served(tmp_path, config):
    s = start(tmp_path, config)
    yield s
    if s.proc.poll() is None:
        stop(s)


# -- the protocol over HTTP -------------------------------------------------------------------------------

def test_identity_entries_answer_as_the_target(served):
    assert served.get(f"{SA}/default/email").text == TARGET
    assert served.get(f"{SA}/{TARGET}/email").text == TARGET
    assert served.get(f"{SA}/default/aliases").text.split() == ["default"]
    assert served.get(f"{SA}/default/scopes").text.split() == ["https://www.googleapis.com/auth/cloud-platform"]
    assert served.get("computeMetadata/v1/project/project-id").text == "credhelper-demo"
    assert served.get("computeMetadata/v1/project/numeric-project-id").text.isdigit()
    assert served.get(f"{SA}/default/email").headers["Metadata-Flavor"] == "Google"


def test_directory_listings_that_client_libraries_probe(served):
    assert served.get(f"{SA}/").text.split() == ["default/", f"{TARGET}/"]
    assert set(served.get(f"{SA}/default/").text.split()) >= {"email", "token", "identity", "scopes", "aliases"}
    info = served.get(f"{SA}/default/", params={"recursive": "true"}).json()
    assert info["email"] == TARGET and info["aliases"] == ["default"]


def test_requests_without_the_flavor_header_or_with_x_forwarded_for_are_refused(served):
    assert served.get(f"{SA}/default/token", headers={}).status_code == 403
    refused = served.get(f"{SA}/default/token", headers={**FLAVOR, "X-Forwarded-For": "10.0.0.1"})
    assert refused.status_code == 403 and "ya29." not in refused.text


def test_access_tokens_come_through_the_cache_with_the_requested_scopes(emulator, served):
    first = served.get(f"{SA}/default/token").json()
    assert served.get(f"{SA}/default/token").json()["access_token"] == first["access_token"]
    assert first["token_type"] == "Bearer" and 3000 < first["expires_in"] <= 3600
    assert emulator.counters["generateAccessToken"] == 1  # minted once, at start; then cached
    narrow = served.get(f"{SA}/default/token", params={"scopes": READ_ONLY}).json()
    info = requests.post(f"{emulator.url}/oauth2/v3/tokeninfo", data={"access_token": narrow["access_token"]}).json()
    assert info["email"] == TARGET and info["scope"] == READ_ONLY


def test_identity_tokens_for_an_audience_with_format_full(served):
    standard = claims(served.get(f"{SA}/default/identity", params={"audience": "https://svc.example"}).text)
    assert standard["aud"] == "https://svc.example" and "email" not in standard
    full = claims(served.get(f"{SA}/default/identity", params={"audience": "https://svc.example", "format": "full"}).text)
    assert full["email"] == TARGET
    assert served.get(f"{SA}/default/identity").status_code == 400


def claims(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_upstream_failures_become_metadata_errors_without_details_that_could_leak(emulator, served):
    emulator.faults.add(endpoint="generateIdToken", status=403, times=1)
    denied = served.get(f"{SA}/default/identity", params={"audience": "https://svc.example"})
    assert denied.status_code == 403 and denied.text.startswith("credhelper: ") and "cannot impersonate" in denied.text
    emulator.faults.add(endpoint="generateIdToken", status=503, times=None)
    unavailable = served.get(f"{SA}/default/identity", params={"audience": "https://other.example"})
    assert unavailable.status_code == 503  # clients may retry this one
    assert "ya29." not in denied.text + unavailable.text and "eyJ" not in denied.text + unavailable.text


def test_project_id_is_the_profiles_quota_project_when_set(tmp_path, config):
    served = start(tmp_path, config, "billed")
    try:
        assert served.get("computeMetadata/v1/project/project-id").text == "billing-project"
    finally:
        stop(served)


# -- lifecycle ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_on_sigterm_and_sigint_and_removes_the_url_file(tmp_path, config, sig):
    served = start(tmp_path, config)
    assert served.get(f"{SA}/default/email").ok
    status, err = stop(served, sig)
    assert status == 0, err
    assert not served.url_file.exists()
    assert "Traceback" not in err


def test_listens_on_loopback_only_and_names_itself_on_stderr(served):
    host, port = served.host.split(":")
    assert host == "127.0.0.1"
    _, err = stop(served)
    assert f"GCE_METADATA_HOST={served.host}" in err and TARGET in err


def test_a_denied_profile_fails_before_serving(tmp_path, config):
    proc = subprocess.run([sys.executable, "-m", "credhelper", "serve-metadata", "--profile", "denied",
                           "--url-file", str(tmp_path / "url")], env=cli_env(tmp_path, config),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == EXIT_AUTH
    assert f"{SOURCE} cannot impersonate {TARGET}" in proc.stderr or "cannot impersonate" in proc.stderr
    assert not (tmp_path / "url").exists()


# -- real clients ---------------------------------------------------------------------------------------

GOOGLE_AUTH_CLIENT = """
import json
import google.auth.transport.requests
from google.auth import compute_engine
request = google.auth.transport.requests.Request()
creds = compute_engine.Credentials(scopes=[%r])
creds.refresh(request)
ids = compute_engine.IDTokenCredentials(request, "https://svc.example", use_metadata_identity_endpoint=True)
ids.refresh(request)
from google.oauth2 import id_token
print(json.dumps({"email": creds.service_account_email, "token": creds.token, "expiry": creds.expiry.isoformat(),
                  "id_token": ids.token}))
""" % READ_ONLY


def test_google_auth_compute_engine_credentials_run_as_the_target(emulator, served):
    env = dict(os.environ, GCE_METADATA_HOST=served.host, GCE_METADATA_IP=served.host)
    env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    result = subprocess.run([sys.executable, "-c", GOOGLE_AUTH_CLIENT], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["email"] == TARGET
    info = requests.post(f"{emulator.url}/oauth2/v3/tokeninfo", data={"access_token": seen["token"]}).json()
    assert info["email"] == TARGET and info["scope"] == READ_ONLY
    id_claims = claims(seen["id_token"])
    assert id_claims["aud"] == "https://svc.example" and id_claims["email"] == TARGET
    verified = requests.post(f"{emulator.url}/oauth2/v3/tokeninfo", data={"id_token": seen["id_token"]}).json()
    assert verified["email"] == TARGET


def gcloud_env(tmp_path, **extra):
    gcloud_config = tmp_path / "gcloud"
    gcloud_config.mkdir()  # private and fresh: no 'gce' cache file, so gcloud probes the metadata server
    env = dict(os.environ, CLOUDSDK_CONFIG=str(gcloud_config), CLOUDSDK_CORE_DISABLE_PROMPTS="1",
               CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK="1", **extra)
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_AUTH_ACCESS_TOKEN", "CLOUDSDK_CORE_ACCOUNT",
                 "GCE_METADATA_HOST", "GCE_METADATA_IP"):
        if name not in extra:
            env.pop(name, None)
    return env


def run_gcloud(env, *args, prefix=()):
    result = subprocess.run([*prefix, "gcloud", *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


needs_gcloud = pytest.mark.skipif(shutil.which("gcloud") is None, reason="gcloud is not installed")


@needs_gcloud
def test_gcloud_runs_as_the_target_through_the_metadata_server(tmp_path, emulator, served):
    # gcloud reads GCE_METADATA_ROOT for its own probes (GCE_METADATA_HOST alone is not enough for it)
    env = gcloud_env(tmp_path, GCE_METADATA_ROOT=served.host)
    token = run_gcloud(env, "auth", "print-access-token")
    info = requests.post(f"{emulator.url}/oauth2/v3/tokeninfo", data={"access_token": token}).json()
    assert info["email"] == TARGET
    assert run_gcloud(env, "config", "list", "account", "--format=value(core.account)") == TARGET
    assert run_gcloud(env, "config", "list", "project", "--format=value(core.project)") == "credhelper-demo"


@needs_gcloud
def test_gcloud_under_exec_metadata(tmp_path, emulator, config):
    env = gcloud_env(tmp_path, CREDHELPER_CONFIG=config, XDG_RUNTIME_DIR=cli_env(tmp_path)["XDG_RUNTIME_DIR"])
    exec_ = (sys.executable, "-m", "credhelper", "exec", "--profile", "t", "--metadata", "--")
    token = run_gcloud(env, "auth", "print-access-token", prefix=exec_)
    info = requests.post(f"{emulator.url}/oauth2/v3/tokeninfo", data={"access_token": token}).json()
    assert info["email"] == TARGET
