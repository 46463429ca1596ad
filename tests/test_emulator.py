"""The emulator against Google's own client library, over real HTTP with real signatures."""

import base64
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests
from google.auth import downscoped, exceptions, identity_pool, impersonated_credentials, jwt as google_jwt
from google.auth.transport.requests import Request
from google.oauth2 import credentials as user_credentials
from google.oauth2 import id_token, service_account

from credhelper.emulator import Emulator, jwt
from credhelper.emulator.world import World, WorldError

CLOUD_PLATFORM = ["https://www.googleapis.com/auth/cloud-platform"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def stranger_key():
    return jwt.new_rsa_key()


@pytest.fixture
def source(sample):
    return service_account.Credentials.from_service_account_file(str(sample.source_key), scopes=CLOUD_PLATFORM)


def impersonated(emulator, source, target, delegates=(), lifetime=3600):
    return impersonated_credentials.Credentials(
        source, target, CLOUD_PLATFORM, delegates=list(delegates), lifetime=lifetime,
        iam_endpoint_override=f"{emulator.url}/v1/projects/-/serviceAccounts/{target}:generateAccessToken")


def iam(emulator, token, email, verb, body):
    return requests.post(f"{emulator.url}/v1/projects/-/serviceAccounts/{email}:{verb}", json=body,
                         headers={"Authorization": f"Bearer {token}"} if token else {})


def read_object(emulator, token, bucket, name, media=True):
    return requests.get(f"{emulator.url}/storage/v1/b/{bucket}/o/{name}", params={"alt": "media"} if media else {},
                        headers={"Authorization": f"Bearer {token}"} if token else {})


def assertion(key, claims, kid=None):
    now = int(time.time())
    return jwt.encode(key, {"iat": now, "exp": now + 3600, "aud": "https://oauth2.googleapis.com/token",
                            "scope": CLOUD_PLATFORM[0], **claims}, kid=kid)


def source_private_key(sample):
    return jwt.load_private_pem(json.loads(sample.source_key.read_text())["private_key"])


def jwt_bearer(emulator, token):
    return requests.post(f"{emulator.url}/token",
                         data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": token})


# -- OAuth token endpoint --------------------------------------------------------------

def test_service_account_key_gets_an_easy_to_spot_access_token(emulator, source):
    source.refresh(Request())
    assert source.token.startswith("ya29.EMULATED-")
    assert emulator.counters["token"] == 1


def test_service_account_id_token_verifies_against_emulator_certs(emulator, sample):
    creds = service_account.IDTokenCredentials.from_service_account_file(
        str(sample.source_key), target_audience="https://svc.example")
    creds.refresh(Request())
    claims = id_token.verify_token(creds.token, Request(), audience="https://svc.example",
                                   certs_url=f"{emulator.url}/oauth2/v1/certs")
    assert claims["iss"] == "https://accounts.google.com"
    assert claims["email"] == sample.source and claims["email_verified"] is True


def test_assertion_signed_by_an_unregistered_key_is_rejected(emulator, sample, stranger_key):
    r = jwt_bearer(emulator, assertion(stranger_key, {"iss": sample.source}))
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}


def test_expired_or_overlong_assertion_is_rejected(emulator, sample):
    key = source_private_key(sample)
    now = int(time.time())
    for claims in ({"iat": now - 7200, "exp": now - 3600}, {"iat": now, "exp": now + 7200}):
        r = jwt_bearer(emulator, assertion(key, {"iss": sample.source, **claims}))
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
        assert "short-lived token" in r.json()["error_description"]


def test_assertion_for_the_wrong_audience_or_without_scope_is_rejected(emulator, sample):
    key = source_private_key(sample)
    r = jwt_bearer(emulator, assertion(key, {"iss": sample.source, "aud": "https://elsewhere.example/token"}))
    assert r.json()["error"] == "invalid_grant"
    r = jwt_bearer(emulator, assertion(key, {"iss": sample.source, "scope": ""}))
    assert r.json()["error"] == "invalid_scope"


def test_authorized_user_refreshes_and_gets_an_id_token(emulator, sample):
    info = json.loads(sample.authorized_user.read_text())
    # google-auth ignores token_uri in authorized_user files, so a client must apply it itself
    creds = user_credentials.Credentials.from_authorized_user_info(info).with_token_uri(info["token_uri"])
    creds.refresh(Request())
    assert creds.token.startswith("ya29.EMULATED-")
    claims = google_jwt.decode(creds.id_token, verify=False)
    assert claims["email"] == sample.user and claims["aud"] == creds.client_id
    r = iam(emulator, creds.token, sample.target, "generateAccessToken", {"scope": CLOUD_PLATFORM})
    assert r.status_code == 200  # alice holds Token Creator on the target


def test_refresh_with_wrong_client_secret_is_invalid_client(emulator, sample):
    info = json.loads(sample.authorized_user.read_text())
    r = requests.post(f"{emulator.url}/token", data={
        "grant_type": "refresh_token", "refresh_token": info["refresh_token"], "client_id": info["client_id"],
        "client_secret": "wrong"})
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")


# -- IAM Credentials ---------------------------------------------------------------------

def test_delegation_chain_b_c_target_mints_a_target_token_that_reads_the_object(emulator, sample, source):
    creds = impersonated(emulator, source, sample.target, delegates=[sample.delegate_b, sample.delegate_c])
    creds.refresh(Request())
    r = read_object(emulator, creds.token, sample.bucket, "foo.txt")
    assert (r.status_code, r.text) == (200, "bar")
    read = emulator.audit[-1]["protoPayload"]
    assert read["methodName"] == "storage.objects.get"
    assert read["authenticationInfo"]["principalEmail"] == sample.target
    assert [d["firstPartyPrincipal"]["principalEmail"] for d in read["authenticationInfo"]
            ["serviceAccountDelegationInfo"]] == [sample.source, sample.delegate_b, sample.delegate_c]


def test_chain_that_skips_a_hop_is_denied_with_googles_error(emulator, sample, source):
    source.refresh(Request())
    r = iam(emulator, source.token, sample.target, "generateAccessToken",
            {"delegates": [f"projects/-/serviceAccounts/{sample.delegate_c}"], "scope": CLOUD_PLATFORM})
    assert r.status_code == 403
    error = r.json()["error"]
    assert error["status"] == "PERMISSION_DENIED"
    assert error["message"] == ("Permission 'iam.serviceAccounts.getAccessToken' denied on resource "
                                "(or it may not exist).")
    assert error["details"][0]["reason"] == "IAM_PERMISSION_DENIED"
    assert error["details"][0]["metadata"] == {"permission": "iam.serviceAccounts.getAccessToken"}
    denied = emulator.audit[-1]["protoPayload"]
    assert denied["status"]["code"] == 7
    assert denied["authorizationInfo"] == [{"resource": f"projects/-/serviceAccounts/{sample.delegate_c}",
                                            "permission": "iam.serviceAccounts.implicitDelegation", "granted": False}]
    with pytest.raises(exceptions.RefreshError):
        impersonated(emulator, source, sample.target, delegates=[sample.delegate_c]).refresh(Request())


def test_direct_impersonation_needs_token_creator_on_the_target(emulator, sample, source):
    impersonated(emulator, source, sample.target).refresh(Request())
    source.refresh(Request())
    r = iam(emulator, source.token, sample.delegate_c, "generateAccessToken", {"scope": CLOUD_PLATFORM})
    assert r.status_code == 403
    r = iam(emulator, source.token, "nobody@credhelper-demo.iam.gserviceaccount.com", "generateAccessToken",
            {"scope": CLOUD_PLATFORM})
    assert r.status_code == 403  # a missing account looks like a denied one


def test_id_token_denial_names_get_open_id_token(emulator, sample, source):
    source.refresh(Request())
    r = iam(emulator, source.token, sample.delegate_c, "generateIdToken", {"audience": "https://a.example"})
    assert r.json()["error"]["details"][0]["metadata"]["permission"] == "iam.serviceAccounts.getOpenIdToken"


def test_impersonated_id_token_carries_email_only_when_asked(emulator, sample, source, monkeypatch):
    # google-auth has no endpoint override for impersonated ID tokens
    monkeypatch.setattr("google.auth.iam._IAM_IDTOKEN_ENDPOINT",
                        emulator.url + "/v1/projects/-/serviceAccounts/{}:generateIdToken")
    target = impersonated(emulator, source, sample.target)
    for include_email in (True, False):
        creds = impersonated_credentials.IDTokenCredentials(target, target_audience="https://a.example",
                                                            include_email=include_email)
        creds.refresh(Request())
        claims = id_token.verify_token(creds.token, Request(), audience="https://a.example",
                                       certs_url=f"{emulator.url}/oauth2/v1/certs")
        assert claims["sub"] == "100000000000000000004"
        assert ("email" in claims) is include_email


def test_lifetime_is_capped_at_one_hour_unless_the_account_allows_twelve(emulator, sample, source):
    creds = impersonated(emulator, source, sample.target, lifetime=43200)
    creds.refresh(Request())
    assert creds.expiry.timestamp() - time.time() > 43000
    source.refresh(Request())
    r = iam(emulator, source.token, sample.delegate_b, "generateAccessToken",
            {"scope": CLOUD_PLATFORM, "lifetime": "3601s"})
    assert (r.status_code, r.json()["error"]["status"]) == (400, "INVALID_ARGUMENT")
    r = iam(emulator, source.token, sample.target, "generateAccessToken",
            {"scope": CLOUD_PLATFORM, "lifetime": "43201s"})
    assert r.status_code == 400


def test_malformed_requests_get_invalid_argument(emulator, sample, source):
    source.refresh(Request())
    for body in ({}, {"scope": CLOUD_PLATFORM, "lifetime": 3600}, {"scope": CLOUD_PLATFORM, "include_email": True},
                 {"scope": CLOUD_PLATFORM, "delegates": ["projects/p/not-an-account"]}):
        r = iam(emulator, source.token, sample.target, "generateAccessToken", body)
        assert (r.status_code, r.json()["error"]["status"]) == (400, "INVALID_ARGUMENT"), body
    assert "Scope required" in iam(emulator, source.token, sample.target, "generateAccessToken", {}).text


def test_missing_or_unknown_bearer_is_unauthenticated(emulator, sample):
    for token in (None, "ya29.EMULATED-not-issued"):
        r = iam(emulator, token, sample.target, "generateAccessToken", {"scope": CLOUD_PLATFORM})
        assert (r.status_code, r.json()["error"]["status"]) == (401, "UNAUTHENTICATED")


def test_token_without_an_iam_scope_is_refused(emulator, sample):
    token = emulator.issue_access_token(sample.source, ["https://www.googleapis.com/auth/devstorage.read_only"])
    r = iam(emulator, token, sample.target, "generateAccessToken", {"scope": CLOUD_PLATFORM})
    assert r.status_code == 403 and "insufficient authentication scopes" in r.json()["error"]["message"]


def test_sign_jwt_and_sign_blob_verify_against_the_account_certs(emulator, sample):
    token = emulator.issue_access_token(sample.source, CLOUD_PLATFORM)
    r = iam(emulator, token, sample.target, "signJwt", {"payload": json.dumps({"sub": "x", "iat": int(time.time())})})
    assert r.status_code == 200
    certs = requests.get(f"{emulator.url}/service_accounts/v1/metadata/x509/{sample.target}").json()
    claims = google_jwt.decode(r.json()["signedJwt"], certs=certs, verify=True)
    assert claims["sub"] == "x" and claims["exp"] > time.time()
    r = iam(emulator, token, sample.target, "signBlob", {"payload": base64.b64encode(b"blob").decode()})
    key = jwt.load_public_pem(certs[r.json()["keyId"]])
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    key.verify(base64.b64decode(r.json()["signedBlob"]), b"blob", padding.PKCS1v15(), hashes.SHA256())


# -- Storage ------------------------------------------------------------------------------

def test_storage_enforces_object_viewer_before_existence(emulator, sample):
    source = emulator.issue_access_token(sample.source, CLOUD_PLATFORM)
    target = emulator.issue_access_token(sample.target, CLOUD_PLATFORM)
    r = read_object(emulator, source, sample.bucket, "foo.txt")
    assert r.status_code == 403
    assert r.json()["error"]["message"] == (
        f"{sample.source} does not have storage.objects.get access to the Google Cloud Storage object. "
        "Permission 'storage.objects.get' denied on resource (or it may not exist).")
    assert read_object(emulator, source, sample.bucket, "missing.txt").status_code == 403
    assert read_object(emulator, target, sample.bucket, "missing.txt").status_code == 404
    assert read_object(emulator, None, sample.bucket, "foo.txt").status_code == 401
    meta = read_object(emulator, target, sample.bucket, "foo.txt", media=False).json()
    assert (meta["name"], meta["size"], meta["contentType"]) == ("foo.txt", "3", "text/plain")


def test_downscoped_token_reads_inside_its_boundary_only(emulator, sample, source):
    target = impersonated(emulator, source, sample.target)

    def downscoped_read(prefix):
        rule = downscoped.AccessBoundaryRule(
            f"//storage.googleapis.com/projects/_/buckets/{sample.bucket}", ["inRole:roles/storage.objectViewer"],
            downscoped.AvailabilityCondition(
                f"resource.name.startsWith('projects/_/buckets/{sample.bucket}/objects/{prefix}')"))
        creds = downscoped.Credentials(target, downscoped.CredentialAccessBoundary([rule]))
        creds._sts_client._token_exchange_endpoint = f"{emulator.url}/v1/token"
        creds.refresh(Request())
        return read_object(emulator, creds.token, sample.bucket, "foo.txt")

    assert downscoped_read("foo").text == "bar"
    denied = downscoped_read("other/")
    assert denied.status_code == 403 and sample.target in denied.json()["error"]["message"]


def test_unsupported_boundary_condition_is_refused_clearly(emulator, sample):
    token = emulator.issue_access_token(sample.target, CLOUD_PLATFORM)
    options = {"accessBoundary": {"accessBoundaryRules": [{
        "availableResource": f"//storage.googleapis.com/projects/_/buckets/{sample.bucket}",
        "availablePermissions": ["inRole:roles/storage.objectViewer"],
        "availabilityCondition": {"expression": "resource.name.endsWith('.txt')"}}]}}
    r = requests.post(f"{emulator.url}/v1/token", data={
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": token,
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token", "options": json.dumps(options)})
    assert r.status_code == 400 and "startsWith" in r.json()["error_description"]


# -- STS and workload identity federation ---------------------------------------------------

def test_external_account_file_exchanges_and_impersonates(emulator, sample):
    info = json.loads(sample.external_account.read_text())
    federated = identity_pool.Credentials.from_info(info, scopes=CLOUD_PLATFORM)
    federated.refresh(Request())
    assert federated.token.startswith("ya29.EMULATED-")
    r = requests.post(f"{emulator.url}/v1/introspect", data={"token": federated.token})
    assert r.json()["active"] is True and r.json()["sub"] == sample.idp_principal
    info["service_account_impersonation_url"] = (f"{emulator.url}/v1/projects/-/serviceAccounts/"
                                                 f"{sample.target}:generateAccessToken")
    chained = identity_pool.Credentials.from_info(info, scopes=CLOUD_PLATFORM)
    chained.refresh(Request())
    assert read_object(emulator, chained.token, sample.bucket, "foo.txt").text == "bar"
    assert emulator.audit[-1]["protoPayload"]["authenticationInfo"]["serviceAccountDelegationInfo"] == [
        {"firstPartyPrincipal": {"principalSubject": sample.idp_principal}}]


def test_emulator_id_tokens_federate_through_the_google_provider(emulator, sample):
    creds = service_account.IDTokenCredentials.from_service_account_file(
        str(sample.source_key), target_audience=sample.google_provider_audience)
    creds.refresh(Request())
    form = {"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "audience": sample.google_provider_audience, "scope": CLOUD_PLATFORM[0], "subject_token": creds.token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token"}
    federated = requests.post(f"{emulator.url}/v1/token", data=form).json()["access_token"]
    r = iam(emulator, federated, sample.target, "generateAccessToken", {"scope": CLOUD_PLATFORM})
    assert r.status_code == 200
    form["audience"] = sample.idp_audience  # right token, wrong provider: the issuer does not match
    r = requests.post(f"{emulator.url}/v1/token", data=form)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")


def test_tokeninfo_describes_access_and_id_tokens(emulator, sample):
    token = emulator.issue_access_token(sample.target, CLOUD_PLATFORM)
    info = requests.get(f"{emulator.url}/oauth2/v3/tokeninfo", params={"access_token": token}).json()
    assert (info["email"], info["scope"], info["email_verified"]) == (sample.target, CLOUD_PLATFORM[0], "true")
    assert 3590 < int(info["expires_in"]) <= 3600
    r = requests.get(f"{emulator.url}/oauth2/v3/tokeninfo", params={"access_token": "nope"})
    assert r.status_code == 400
    jwks = requests.get(f"{emulator.url}/oauth2/v3/certs").json()
    assert jwks["keys"][0]["alg"] == "RS256"


# -- Metadata server ----------------------------------------------------------------------

def test_metadata_refuses_requests_without_the_flavor_header(emulator):
    base = f"{emulator.url}/computeMetadata/v1/instance/service-accounts/default/token"
    r = requests.get(base)
    assert r.status_code == 403 and r.headers["Metadata-Flavor"] == "Google"
    r = requests.get(base, headers={"Metadata-Flavor": "Google", "X-Forwarded-For": "10.0.0.1"})
    assert r.status_code == 403
    r = requests.get(f"{base}?scopes=a,b", headers={"Metadata-Flavor": "Google"})
    assert r.status_code == 200 and r.json()["token_type"] == "Bearer"


def test_compute_engine_credentials_work_through_gce_metadata_host(emulator, sample):
    script = """if True:
        import json
        from google.auth import compute_engine
        from google.auth.transport.requests import Request
        creds = compute_engine.Credentials()
        creds.refresh(Request())
        ident = compute_engine.IDTokenCredentials(Request(), "https://aud.example", use_metadata_identity_endpoint=True)
        ident.refresh(Request())
        print(json.dumps({"token": creds.token, "email": creds.service_account_email, "id_token": ident.token}))
    """
    env = dict(os.environ, GCE_METADATA_HOST=emulator.url.split("//")[1], GCE_METADATA_IP=emulator.url.split("//")[1])
    out = json.loads(subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True,
                                    text=True, timeout=60).stdout)
    assert out["email"] == sample.source and out["token"].startswith("ya29.EMULATED-")
    claims = id_token.verify_token(out["id_token"], Request(), audience="https://aud.example",
                                   certs_url=f"{emulator.url}/oauth2/v1/certs")
    assert claims["sub"] == "100000000000000000001"


def test_metadata_project_and_listing(emulator, sample):
    get = lambda path: requests.get(f"{emulator.url}/computeMetadata/v1/{path}",  # noqa: E731
                                    headers={"Metadata-Flavor": "Google"})
    assert get("project/project-id").text == sample.project_id
    assert get("project/numeric-project-id").text == sample.project_number
    assert get("instance/service-accounts/default/?recursive=true").json()["email"] == sample.source
    assert get("instance/service-accounts/").text == f"default/\n{sample.source}/\n"
    assert get("instance/service-accounts/default/identity").status_code == 400


# -- Faults, counters, controls, audit --------------------------------------------------------

def test_fault_plan_fails_then_recovers(emulator, sample, source):
    source.refresh(Request())
    emulator.faults.add(endpoint="generateAccessToken", status=503, times=2, retry_after=3)
    body = {"scope": CLOUD_PLATFORM}
    first = iam(emulator, source.token, sample.target, "generateAccessToken", body)
    assert (first.status_code, first.headers["Retry-After"]) == (503, "3")
    assert first.json()["error"]["status"] == "UNAVAILABLE"
    assert iam(emulator, source.token, sample.target, "generateAccessToken", body).status_code == 503
    assert iam(emulator, source.token, sample.target, "generateAccessToken", body).status_code == 200
    assert emulator.counters["generateAccessToken"] == 3


@pytest.mark.parametrize("body, error", [("malformed", ValueError), ("truncated", requests.exceptions.RequestException),
                                         ("html", ValueError)])
def test_fault_bodies_break_clients(emulator, body, error):
    emulator.faults.add(endpoint="certs", status=200, body=body)
    with pytest.raises(error):
        requests.get(f"{emulator.url}/oauth2/v3/certs").json()


def test_huge_fault_body_is_five_megabytes(emulator):
    emulator.faults.add(endpoint="certs", status=502, body="huge")
    r = requests.get(f"{emulator.url}/oauth2/v1/certs")
    assert r.status_code == 502 and len(r.content) > 5_000_000


def test_reset_fault_drops_the_connection_and_latency_delays(emulator):
    emulator.faults.add(endpoint="*", status="reset")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{emulator.url}/oauth2/v3/certs")
    emulator.faults.add(endpoint="certs", status=None, latency_secs=0.3)
    started = time.monotonic()
    assert requests.get(f"{emulator.url}/oauth2/v3/certs").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_http_controls_drive_a_standalone_emulator(emulator, sample):
    url = f"{emulator.url}/_emulator"
    assert requests.post(f"{url}/faults", json=[{"endpoint": "tokeninfo", "status": 500}]).status_code == 200
    assert requests.post(f"{url}/faults", json={"endpoint": "nope"}).status_code == 400
    assert requests.get(f"{emulator.url}/oauth2/v3/tokeninfo").status_code == 500
    assert requests.get(f"{url}/counters").json() == {"tokeninfo": 1}
    token = requests.post(f"{url}/tokens", json={"principal": sample.target, "scopes": CLOUD_PLATFORM}).json()
    assert read_object(emulator, token["access_token"], sample.bucket, "foo.txt").text == "bar"
    assert requests.get(f"{url}/audit").json()[-1]["protoPayload"]["methodName"] == "storage.objects.get"
    requests.post(f"{url}/reset")
    assert requests.get(f"{url}/counters").json() == {} and emulator.audit == []


def test_audit_log_file_has_one_line_per_decision_and_no_tokens(sample, source, tmp_path):
    log = tmp_path / "audit.jsonl"
    with Emulator(sample.world, audit_log=str(log)) as emulator:
        creds = impersonated(emulator, source.with_token_uri(f"{emulator.url}/token"), sample.target)
        creds.refresh(Request())
        read_object(emulator, creds.token, sample.bucket, "foo.txt")
    text = log.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert [e["protoPayload"]["methodName"] for e in lines] == ["google.identity.oauth2.Token", "GenerateAccessToken",
                                                                 "storage.objects.get"]
    assert "ya29." not in text and "PRIVATE KEY" not in text


def test_world_file_mistakes_are_reported_with_their_location():
    for data, fragment in (({"serviceAcounts": []}, "unknown key 'serviceAcounts'"),
                           ({"buckets": [{"name": "bkt", "iamPolicy": {"bindings": [
                               {"role": "roles/storage.objectReader", "members": []}]}}]}, "unknown role"),
                           ({"buckets": [{"name": "bkt", "iamPolicy": {"bindings": [
                               {"role": "roles/storage.objectViewer", "members": ["alice@x.com"]}]}}]},
                            "buckets[0].iamPolicy.bindings[0].members[0]")):
        with pytest.raises(WorldError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
            World.from_dict(data)


def test_emulator_listens_on_loopback_only(emulator):
    assert emulator._server.server_address[0] == "127.0.0.1"
    assert emulator.url == f"http://127.0.0.1:{emulator.port}"


# -- CLI ----------------------------------------------------------------------------------------

def run_cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "credhelper", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, PYTHONPATH=ROOT), **kwargs)


def test_cli_serves_writes_url_file_logs_and_stops_on_sigterm(tmp_path):
    url_file = tmp_path / "url"
    proc = subprocess.Popen([sys.executable, "-m", "credhelper", "emulator", "--port", "0", "--url-file", str(url_file),
                             "--faults", '[{"endpoint": "tokeninfo", "status": 503}]'],
                            cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not url_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        url = url_file.read_text().strip()
        assert requests.get(f"{url}/oauth2/v3/tokeninfo?access_token=secret-ish").status_code == 503
        assert requests.get(f"{url}/oauth2/v1/certs").status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert not url_file.exists()  # a stale address never outlives its server
    assert out.splitlines()[0] == url and "source-key.json" in out
    assert "GET /oauth2/v3/tokeninfo 503" in err and "secret-ish" not in err and "Traceback" not in err


def test_cli_rejects_bad_faults_and_bad_world_without_traceback(tmp_path):
    r = run_cli("emulator", "--faults", '[{"endpoint": "nope"}]')
    assert r.returncode == 2 and "unknown endpoint 'nope'" in r.stderr
    (tmp_path / "w.json").write_text('{"users": [{}]}')
    r = run_cli("emulator", "--world", str(tmp_path / "w.json"))
    assert r.returncode == 3 and "users[0]: missing" in r.stderr and "Traceback" not in r.stderr


def test_cli_init_writes_a_sample_pointing_at_the_url(tmp_path):
    r = run_cli("emulator", "init", str(tmp_path / "w"), "--url", "http://127.0.0.1:9999")
    assert r.returncode == 0 and "source-key.json" in r.stdout
    key = json.loads((tmp_path / "w" / "source-key.json").read_text())
    assert key["token_uri"] == "http://127.0.0.1:9999/token"
    world = World.from_dict(json.loads((tmp_path / "w" / "world.json").read_text()))
    assert world.metadata_account == key["client_email"]
    assert run_cli("emulator", "init", str(tmp_path / "w")).returncode == 2  # never overwrites


def test_demo_and_emulator_say_how_to_install_the_emulator_extra_when_it_is_missing(tmp_path):
    hide = ("import sys; sys.modules['cryptography'] = None\n"
            "from credhelper.cli import main; sys.exit(main(sys.argv[1:]))")
    for argv in (["demo"], ["emulator", "--port", "0"], ["emulator", "init", str(tmp_path / "w")]):
        done = subprocess.run([sys.executable, "-c", hide, *argv], capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        assert "needs the Python package 'cryptography'" in done.stderr
        assert "pip install 'credhelper[emulator]'" in done.stderr and "Traceback" not in done.stderr
