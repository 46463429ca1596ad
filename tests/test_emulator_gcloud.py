"""Fidelity: the real gcloud, in a private config, impersonates through the emulator."""

import os
import shutil
import subprocess

import pytest
from google.auth.transport.requests import Request
from google.oauth2 import id_token

pytestmark = pytest.mark.skipif(shutil.which("gcloud") is None, reason="gcloud is not installed")


@pytest.fixture(scope="module")
def gcloud(emulator_session, sample, tmp_path_factory):
    config = tmp_path_factory.mktemp("gcloud-config")
    (config / "gce").write_text("False")  # never probe for a metadata server
    env = dict(os.environ, CLOUDSDK_CONFIG=str(config), CLOUDSDK_AUTH_TOKEN_HOST=f"{emulator_session.url}/token",
               CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS=f"{emulator_session.url}/",
               CLOUDSDK_CORE_DISABLE_USAGE_REPORTING="true", CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK="true")

    def run(*args):
        return subprocess.run(["gcloud", *args], env=env, capture_output=True, text=True, timeout=120)

    activated = run("auth", "activate-service-account", f"--key-file={sample.source_key}")
    assert activated.returncode == 0, activated.stderr
    return run


def test_gcloud_impersonates_through_the_full_delegate_chain(gcloud, emulator, sample):
    r = gcloud("auth", "print-access-token",
               f"--impersonate-service-account={sample.delegate_b},{sample.delegate_c},{sample.target}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith("ya29.EMULATED-")
    assert emulator.counters["generateAccessToken"] == 1


def test_gcloud_is_denied_a_chain_that_skips_a_hop(gcloud, emulator, sample):
    r = gcloud("auth", "print-access-token", f"--impersonate-service-account={sample.delegate_c},{sample.target}")
    assert r.returncode != 0
    assert "PERMISSION_DENIED" in r.stderr and "iam.serviceAccounts.getAccessToken" in r.stderr


def test_gcloud_identity_token_verifies_with_audience_and_email(gcloud, emulator, sample):
    r = gcloud("auth", "print-identity-token", f"--impersonate-service-account={sample.target}",
               "--audiences=https://example.com", "--include-email")
    assert r.returncode == 0, r.stderr
    claims = id_token.verify_token(r.stdout.strip(), Request(), audience="https://example.com",
                                   certs_url=f"{emulator.url}/oauth2/v1/certs")
    assert claims["email"] == sample.target and claims["email_verified"] is True
