"""Google's own client libraries, unmodified, against serve-metadata and exec --metadata.

Node.js google-auth-library (from npm, installed by tests/run into .venv/node) finds the server
without METADATA_SERVER_DETECTION: it probes `instance` (no trailing slash) and needs a 200 with
Metadata-Flavor. Python's google-cloud-storage reads through it from the emulator.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
import requests

from support import TARGET, cli_env, write_profiles
from test_metadata_server import PROJECT_NUMBER, start, stop

AUDIENCE = "https://svc.example"
NODE_MODULES = os.environ.get("CREDHELPER_TEST_NODE_MODULES", "")
NODE_SKIP = os.environ.get("CREDHELPER_TEST_NODE_SKIP") or (
    None if NODE_MODULES and os.path.isdir(os.path.join(NODE_MODULES, "google-auth-library"))
    else "google-auth-library is not installed (tests/run installs it with npm into .venv/node)")
needs_node = pytest.mark.skipif(bool(NODE_SKIP) or shutil.which("node") is None, reason=NODE_SKIP or "no node")

NODE_CLIENT = """
const {GoogleAuth} = require('google-auth-library');
(async () => {
  const auth = new GoogleAuth({scopes: ['https://www.googleapis.com/auth/cloud-platform']});
  const client = await auth.getClient();
  const {token} = await client.getAccessToken();
  const projectId = await auth.getProjectId();
  const idClient = await auth.getIdTokenClient(process.argv[1]);
  const idToken = await idClient.idTokenProvider.fetchIdToken(process.argv[1]);
  const credentials = await auth.getCredentials();
  console.log(JSON.stringify({kind: client.constructor.name, token, projectId, idToken,
                              email: credentials.client_email}));
})().catch(e => { console.error('node client failed: ' + (e && e.message || e)); process.exit(1); });
"""


@pytest.fixture
def config(tmp_path, emulator, sample):
    return write_profiles(tmp_path / "profiles.ini", emulator.url, {
        "t": {"source": sample.source_key, "target": TARGET, "project_number": PROJECT_NUMBER}})


def client_env(tmp_path, config, **extra):
    env = cli_env(tmp_path, config, NODE_PATH=NODE_MODULES, **extra)
    for name in ("METADATA_SERVER_DETECTION", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "GCE_METADATA_IP",
                 "GCE_METADATA_HOST", "CLOUDSDK_CONFIG"):
        if name not in extra:
            env.pop(name, None)
    return env


def check_node_answer(emulator, stdout):
    seen = json.loads(stdout)
    assert seen["kind"] == "Compute"
    info = requests.post(f"{emulator.url}/oauth2/v3/tokeninfo", data={"access_token": seen["token"]}).json()
    assert info["email"] == TARGET
    assert seen["projectId"] == "credhelper-demo" and seen["email"] == TARGET
    claims = requests.post(f"{emulator.url}/oauth2/v3/tokeninfo", data={"id_token": seen["idToken"]}).json()
    assert claims["aud"] == AUDIENCE and claims["email"] == TARGET


@needs_node
def test_node_google_auth_library_under_serve_metadata(tmp_path, emulator, config):
    served = start(tmp_path, config)
    try:
        env = client_env(tmp_path, config, GCE_METADATA_HOST=served.host, GCE_METADATA_IP=served.host)
        done = subprocess.run(["node", "-e", NODE_CLIENT, AUDIENCE], env=env, capture_output=True, text=True,
                              timeout=120)
    finally:
        stop(served)
    assert done.returncode == 0, done.stderr
    check_node_answer(emulator, done.stdout)


@needs_node
def test_node_google_auth_library_under_exec_metadata(tmp_path, emulator, config):
    done = subprocess.run([sys.executable, "-m", "credhelper", "exec", "--profile", "t", "--metadata", "--",
                           "node", "-e", NODE_CLIENT, AUDIENCE], env=client_env(tmp_path, config),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    check_node_answer(emulator, done.stdout)


STORAGE_CLIENT = """
import json, sys
from google.api_core.client_options import ClientOptions
from google.cloud import storage
client = storage.Client(client_options=ClientOptions(api_endpoint=sys.argv[1]))
bucket = client.bucket(sys.argv[2])
print(json.dumps({"project": client.project, "content": bucket.blob("foo.txt").download_as_bytes().decode()}))
"""


def test_google_cloud_storage_reads_as_the_target_under_exec_metadata(tmp_path, emulator, config, sample):
    done = subprocess.run([sys.executable, "-m", "credhelper", "exec", "--profile", "t", "--metadata", "--",
                           sys.executable, "-c", STORAGE_CLIENT, emulator.url, sample.bucket],
                          env=client_env(tmp_path, config), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"project": "credhelper-demo", "content": "bar"}
