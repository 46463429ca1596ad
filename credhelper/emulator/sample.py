"""The sample world of the seed write-up, and credential files that point at an emulator URL.

Project credhelper-demo: source-serviceaccount holds Token Creator on target-serviceaccount
and on delegate-b; delegate-b on delegate-c; delegate-c on the target. Only the target may
read gs://credhelper-demo-test/foo.txt (= "bar"). The target may get 12-hour tokens. The
metadata server runs as the source. User alice holds Token Creator on the target. Pool
credhelper-pool trusts an example IdP (whose signed subject token is written out) and the
emulator's own Google ID tokens; both federated subjects hold Token Creator on the target.
"""

import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from credhelper.emulator import jwt
from credhelper.emulator.world import CLOUD_PLATFORM_SCOPE, EXTENDED_MAX_LIFETIME_SECS, GOOGLE_ISSUER, POOL_PREFIX

PROJECT_ID = "credhelper-demo"
PROJECT_NUMBER = "424242424242"
SOURCE = f"source-serviceaccount@{PROJECT_ID}.iam.gserviceaccount.com"
DELEGATE_B = f"delegate-b@{PROJECT_ID}.iam.gserviceaccount.com"
DELEGATE_C = f"delegate-c@{PROJECT_ID}.iam.gserviceaccount.com"
TARGET = f"target-serviceaccount@{PROJECT_ID}.iam.gserviceaccount.com"
USER = "alice@credhelper-demo.example.com"
BUCKET = f"{PROJECT_ID}-test"
POOL = "credhelper-pool"
IDP_PROVIDER = "credhelper-idp"
GOOGLE_PROVIDER = "credhelper-google"
IDP_ISSUER = "https://idp.credhelper.example"
IDP_SUBJECT = "credhelper-ci"
UNIQUE_IDS = {SOURCE: "100000000000000000001", DELEGATE_B: "100000000000000000002",
              DELEGATE_C: "100000000000000000003", TARGET: "100000000000000000004", USER: "110000000000000000001"}
SUBJECT_TOKEN_LIFETIME_SECS = 10 * 365 * 24 * 3600
_POOL = POOL_PREFIX.format(number=PROJECT_NUMBER, pool=POOL)
IDP_AUDIENCE = f"//{_POOL}/providers/{IDP_PROVIDER}"
GOOGLE_PROVIDER_AUDIENCE = f"//{_POOL}/providers/{GOOGLE_PROVIDER}"
IDP_PRINCIPAL = f"principal://{_POOL}/subject/{IDP_SUBJECT}"
SOURCE_FEDERATED_PRINCIPAL = f"principal://{_POOL}/subject/{UNIQUE_IDS[SOURCE]}"  # via credhelper-google


@dataclass(frozen=True)
class SampleFiles:
    """Where the sample went, plus the names in it (so tests need no literals)."""

    directory: Path
    url: str
    world: Path
    source_key: Path
    authorized_user: Path
    external_account: Path
    subject_token: Path
    project_id: str = PROJECT_ID
    project_number: str = PROJECT_NUMBER
    source: str = SOURCE
    delegate_b: str = DELEGATE_B
    delegate_c: str = DELEGATE_C
    target: str = TARGET
    user: str = USER
    bucket: str = BUCKET
    idp_audience: str = IDP_AUDIENCE
    google_provider_audience: str = GOOGLE_PROVIDER_AUDIENCE
    idp_principal: str = IDP_PRINCIPAL


@dataclass(frozen=True)
class Generated:
    """Fresh secrets for one sample: keys and the user's OAuth client."""

    source_key: object
    idp_key: object
    google_key: object
    client_id: str
    client_secret: str
    refresh_token: str


def generate():
    return Generated(jwt.new_rsa_key(), jwt.new_rsa_key(), jwt.new_rsa_key(),
                     client_id=f"{PROJECT_NUMBER}-emulated.apps.googleusercontent.com",
                     client_secret="EMULATED-secret-" + secrets.token_urlsafe(16),
                     refresh_token="1//EMULATED-" + secrets.token_urlsafe(32))


def _token_creators(*members):
    return {"bindings": [{"role": "roles/iam.serviceAccountTokenCreator", "members": list(members)}]}


def world_data(g):
    source_pub = g.source_key.public_key()
    idp_pub = g.idp_key.public_key()
    return {
        "projects": [{"projectId": PROJECT_ID, "projectNumber": PROJECT_NUMBER}],
        "serviceAccounts": [
            {"email": SOURCE, "uniqueId": UNIQUE_IDS[SOURCE], "displayName": "Source Identity",
             "keys": [{"keyId": jwt.key_id(source_pub), "publicKeyPem": jwt.public_pem(source_pub)}]},
            {"email": DELEGATE_B, "uniqueId": UNIQUE_IDS[DELEGATE_B],
             "iamPolicy": _token_creators(f"serviceAccount:{SOURCE}")},
            {"email": DELEGATE_C, "uniqueId": UNIQUE_IDS[DELEGATE_C],
             "iamPolicy": _token_creators(f"serviceAccount:{DELEGATE_B}")},
            {"email": TARGET, "uniqueId": UNIQUE_IDS[TARGET], "displayName": "Target Identity",
             "maxTokenLifetimeSecs": EXTENDED_MAX_LIFETIME_SECS,
             "iamPolicy": _token_creators(f"serviceAccount:{SOURCE}", f"serviceAccount:{DELEGATE_C}", f"user:{USER}",
                                          IDP_PRINCIPAL, SOURCE_FEDERATED_PRINCIPAL)},
        ],
        "users": [{"email": USER, "uniqueId": UNIQUE_IDS[USER], "clientId": g.client_id,
                   "clientSecret": g.client_secret, "refreshTokens": [g.refresh_token]}],
        "workloadIdentityPools": [{"projectNumber": PROJECT_NUMBER, "poolId": POOL, "providers": [
            {"providerId": IDP_PROVIDER, "issuer": IDP_ISSUER, "allowedAudiences": [],
             "jwks": {"keys": [jwt.public_jwk(idp_pub, jwt.key_id(idp_pub))]}},
            {"providerId": GOOGLE_PROVIDER, "issuer": GOOGLE_ISSUER, "allowedAudiences": [GOOGLE_PROVIDER_AUDIENCE]},
        ]}],
        "buckets": [{"name": BUCKET, "objects": {"foo.txt": "bar"}, "iamPolicy": {"bindings": [
            {"role": "roles/storage.objectViewer", "members": [f"serviceAccount:{TARGET}"]},
            {"role": "roles/storage.legacyBucketReader", "members": [f"serviceAccount:{TARGET}"]}]}}],
        "metadata": {"serviceAccount": SOURCE, "scopes": [CLOUD_PLATFORM_SCOPE]},
        "signingKey": {"keyId": jwt.key_id(g.google_key.public_key()), "privateKeyPem": jwt.private_pem(g.google_key)},
    }


def write_world(directory, generated):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return _write(directory / "world.json", world_data(generated))


def write_credentials(directory, url, generated, now=None):
    directory = Path(directory)
    url = url.rstrip("/")
    now = int(now or time.time())
    source_pub = generated.source_key.public_key()
    idp_pub = generated.idp_key.public_key()
    subject_token = directory / "subject-token.jwt"
    _write(subject_token, jwt.encode(generated.idp_key, {
        "iss": IDP_ISSUER, "sub": IDP_SUBJECT, "aud": "https:" + IDP_AUDIENCE, "iat": now,
        "exp": now + SUBJECT_TOKEN_LIFETIME_SECS}, kid=jwt.key_id(idp_pub)))
    return SampleFiles(
        directory=directory, url=url, world=directory / "world.json", subject_token=subject_token,
        source_key=_write(directory / "source-key.json", {
            "type": "service_account", "project_id": PROJECT_ID, "private_key_id": jwt.key_id(source_pub),
            "private_key": jwt.private_pem(generated.source_key), "client_email": SOURCE,
            "client_id": UNIQUE_IDS[SOURCE], "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": f"{url}/token", "auth_provider_x509_cert_url": f"{url}/oauth2/v1/certs",
            "client_x509_cert_url": f"{url}/service_accounts/v1/metadata/x509/{SOURCE}",
            "universe_domain": "googleapis.com"}),
        authorized_user=_write(directory / "authorized_user.json", {
            "type": "authorized_user", "client_id": generated.client_id, "client_secret": generated.client_secret,
            "refresh_token": generated.refresh_token, "token_uri": f"{url}/token", "account": USER,
            "quota_project_id": PROJECT_ID, "universe_domain": "googleapis.com"}),
        external_account=_write(directory / "external_account.json", {
            "type": "external_account", "audience": IDP_AUDIENCE,
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt", "token_url": f"{url}/v1/token",
            "token_info_url": f"{url}/v1/introspect", "credential_source": {"file": str(subject_token.resolve())},
            "universe_domain": "googleapis.com"}),
    )


def write_sample(directory, url):
    """`credhelper emulator init`: everything at once, for an emulator that will run at `url`."""
    generated = generate()
    write_world(directory, generated)
    return write_credentials(directory, url, generated)


def _write(path, content):
    """Write atomically with owner-only permissions (the files hold private keys and secrets).

    The temporary file has a random name and is created O_EXCL (mkstemp, 0600), so nothing planted
    beside `path` is followed or overwritten. (The emulator imports nothing of credhelper's but the
    metadata protocol, so this is mkstemp rather than credhelper.privatefile.)"""
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content if isinstance(content, str) else json.dumps(content, indent=2) + "\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
