"""source.service_account_signer and the credentials built on it, against google-auth's own
from_service_account_info (the code it replaces on the mint path): the same signatures, the same
fields, tokens from the same emulator."""

import json

from google.auth import crypt
from google.oauth2 import service_account

from credhelper import source, transport


def _info(sample):
    return json.loads(sample.source_key.read_text())


def test_the_signer_signs_as_google_auths(sample):
    info = _info(sample)
    ours = source.service_account_signer(info)
    theirs = crypt.RSASigner.from_service_account_info(info)
    assert ours is not None and ours.key_id == theirs.key_id == info["private_key_id"]
    for message in (b"", b"header.payload", "a str message"):
        assert ours.sign(message) == theirs.sign(message)  # RSASSA-PKCS1-v1_5 is deterministic


def test_credentials_are_google_auths_and_mint(sample, emulator):
    info = _info(sample)
    scopes = ["https://www.googleapis.com/auth/cloud-platform"]
    ours = source.credentials_from_info(info, scopes)
    theirs = service_account.Credentials.from_service_account_info(info, scopes=scopes)
    for name in ("service_account_email", "signer_email", "project_id", "universe_domain", "scopes", "quota_project_id"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.signer.sign(b"x") == theirs.signer.sign(b"x")
    for creds in (ours, theirs):
        with transport.google_auth_single_attempt():
            creds.refresh(transport.Request(deadline_secs=20))
        assert creds.token.startswith("ya29.")


def test_id_token_credentials_are_google_auths(sample, emulator):
    info = _info(sample)
    src = source.Source("service_account", None, info["client_email"], info, str(sample.source_key),
                        build=lambda: source.credentials_from_info(info, []))
    token = source.mint_own_id_token(src, "https://svc.example.com", transport.Request(deadline_secs=20))
    theirs = service_account.IDTokenCredentials.from_service_account_info(
        info, target_audience="https://svc.example.com", token_uri=info["token_uri"])
    with transport.google_auth_single_attempt():
        theirs.refresh(transport.Request(deadline_secs=20))
    ours_claims = json.loads(_payload(token.value))
    theirs_claims = json.loads(_payload(theirs.token))
    for claim in ("aud", "email", "sub", "iss"):
        assert ours_claims.get(claim) == theirs_claims.get(claim), claim


def _payload(jwt_value):
    import base64

    part = jwt_value.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
