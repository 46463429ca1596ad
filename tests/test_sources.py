"""Every source credential type, loaded with google-auth and refreshed against the emulator,
then used as the start of an impersonation chain. The CLI runs in a subprocess so each test
gets a fresh google-auth (it reads GCE_METADATA_HOST at import)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


from support import SOURCE, TARGET, cli_env, run_cli, write_profiles


def tokeninfo_email(emulator, token):
    from credhelper import transport

    data = transport.Request()(f"{emulator.url}/oauth2/v3/tokeninfo", method="POST",
                               body=f"access_token={token}".encode(),
                               headers={"Content-Type": "application/x-www-form-urlencoded"}).data
    return json.loads(data).get("email")


def mint(tmp_path, emulator, source, target=TARGET, extra_env=None, **keys):
    keys = {"source": source, **({"target": target} if target else {}), **keys}
    config = write_profiles(tmp_path / "profiles.ini", emulator.url, {"default": keys}, cache="none")
    env = cli_env(tmp_path, config, **(extra_env or {}))
    result = run_cli(["print-access-token"], env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout.strip()


def test_service_account_key(tmp_path, emulator, sample):
    assert tokeninfo_email(emulator, mint(tmp_path, emulator, sample.source_key)) == TARGET
    assert tokeninfo_email(emulator, mint(tmp_path, emulator, sample.source_key, target=None)) == SOURCE


def test_authorized_user(tmp_path, emulator, sample):
    token = mint(tmp_path, emulator, sample.authorized_user)
    assert tokeninfo_email(emulator, token) == TARGET


def test_external_account_file_sourced(tmp_path, emulator, sample):
    token = mint(tmp_path, emulator, sample.external_account)
    assert tokeninfo_email(emulator, token) == TARGET
    assert emulator.counters["sts"] == 1


def _external_account(sample, tmp_path, credential_source):
    info = json.load(open(sample.external_account))
    info["credential_source"] = credential_source
    path = tmp_path / "ext.json"
    path.write_text(json.dumps(info))
    return str(path)


def test_external_account_url_sourced(tmp_path, emulator, sample):
    subject = open(sample.subject_token).read().strip()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"id_token": subject}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        path = _external_account(sample, tmp_path, {
            "url": f"http://127.0.0.1:{server.server_port}/token",
            "format": {"type": "json", "subject_token_field_name": "id_token"}})
        assert tokeninfo_email(emulator, mint(tmp_path, emulator, path)) == TARGET
    finally:
        server.shutdown()


def test_external_account_executable_sourced(tmp_path, emulator, sample):
    subject = open(sample.subject_token).read().strip()
    script = tmp_path / "subject.sh"
    response = json.dumps({"version": 1, "success": True, "token_type": "urn:ietf:params:oauth:token-type:jwt",
                           "id_token": subject, "expiration_time": 4102444800})
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{response}\nEOF\n")
    script.chmod(0o700)
    path = _external_account(sample, tmp_path, {"executable": {"command": str(script), "timeout_millis": 5000}})
    token = mint(tmp_path, emulator, path, extra_env={"GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES": "1"})
    assert tokeninfo_email(emulator, token) == TARGET


def test_external_account_authorized_user(tmp_path, emulator, sample):
    """A workforce identity user (gcloud auth application-default login for a workforce pool)."""
    user = json.load(open(sample.authorized_user))
    path = tmp_path / "workforce.json"
    path.write_text(json.dumps({
        "type": "external_account_authorized_user",
        "audience": "//iam.googleapis.com/locations/global/workforcePools/pool/providers/idp",
        "refresh_token": user["refresh_token"], "client_id": user["client_id"],
        "client_secret": user["client_secret"],
        "token_url": "https://sts.googleapis.com/v1/oauth/token",  # redirected by sts_endpoint
    }))
    assert tokeninfo_email(emulator, mint(tmp_path, emulator, str(path))) == TARGET
    assert emulator.counters["sts"] == 1


def test_impersonated_service_account_adc_file(tmp_path, emulator, sample):
    """What `gcloud auth application-default login --impersonate-service-account` writes."""
    user = json.load(open(sample.authorized_user))
    path = tmp_path / "impersonated.json"
    path.write_text(json.dumps({
        "type": "impersonated_service_account",
        "service_account_impersonation_url":
            f"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{TARGET}:generateAccessToken",
        "delegates": [],
        "source_credentials": {k: user[k] for k in ("type", "client_id", "client_secret", "refresh_token")},
    }))
    # no profile target: the file's own impersonation, redirected to the emulator by iam_endpoint
    token = mint(tmp_path, emulator, str(path), target=None)
    assert tokeninfo_email(emulator, token) == TARGET


def test_metadata_server(tmp_path, emulator):
    host = emulator.url.split("://", 1)[1]
    token = mint(tmp_path, emulator, "metadata", metadata_host=host)
    assert tokeninfo_email(emulator, token) == TARGET
    assert emulator.counters["metadata"] >= 1


def test_adc_discovery_order(tmp_path, emulator, sample):
    host = emulator.url.split("://", 1)[1]
    # 1. GOOGLE_APPLICATION_CREDENTIALS
    token = mint(tmp_path, emulator, "adc", target=None,
                 extra_env={"GOOGLE_APPLICATION_CREDENTIALS": sample.source_key})
    assert tokeninfo_email(emulator, token) == SOURCE
    # 2. the well-known file in the gcloud config directory
    gcloud = tmp_path / "gcloud"
    gcloud.mkdir()
    (gcloud / "application_default_credentials.json").write_text(open(sample.authorized_user).read())
    token = mint(tmp_path, emulator, "adc", extra_env={"CLOUDSDK_CONFIG": str(gcloud)})
    assert tokeninfo_email(emulator, token) == TARGET
    # 3. the metadata server
    token = mint(tmp_path, emulator, "adc", target=None, metadata_host=host,
                 extra_env={"CLOUDSDK_CONFIG": str(tmp_path / "empty")})
    assert tokeninfo_email(emulator, token) == SOURCE


def test_revoked_refresh_token_is_a_clean_error_without_the_secret(tmp_path, emulator, sample):
    user = json.load(open(sample.authorized_user))
    user["refresh_token"] = "1//EMULATED-revoked-not-a-real-token"
    path = tmp_path / "user.json"
    path.write_text(json.dumps(user))
    config = write_profiles(tmp_path / "profiles.ini", emulator.url, {"default": {"source": str(path),
                                                                                  "target": TARGET}}, cache="none")
    result = run_cli(["print-access-token"], cli_env(tmp_path, config))
    assert result.returncode == 1
    assert "could not be refreshed" in result.stderr and "gcloud auth application-default login" in result.stderr
    assert "revoked-not-a-real-token" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


# -- one owner for source credentials (issue 11.2) ---------------------------------------------------

def test_a_tilde_in_google_application_credentials_is_an_error_not_a_stale_token(tmp_path, emulator, sample):
    """google-auth reads GOOGLE_APPLICATION_CREDENTIALS as written (no ~ expansion): so does the cache key.
    On main before, the key recorded a path that does not exist, and replacing the key file served the old token."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "k.json").write_text(open(sample.source_key).read())
    config = write_profiles(tmp_path / "profiles.ini", emulator.url, {"default": {"source": "adc", "target": TARGET}})
    env = cli_env(tmp_path, config, HOME=str(home), GOOGLE_APPLICATION_CREDENTIALS="~/k.json")
    result = run_cli(["print-access-token"], env)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "GOOGLE_APPLICATION_CREDENTIALS names ~/k.json, which does not exist" in result.stderr
    assert 'GOOGLE_APPLICATION_CREDENTIALS="$HOME/k.json"' in result.stderr and result.stdout == ""


def test_replacing_the_adc_file_is_a_miss(tmp_path, emulator, sample):
    config = write_profiles(tmp_path / "profiles.ini", emulator.url, {"default": {"source": "adc"}})
    key = tmp_path / "k.json"
    key.write_text(open(sample.source_key).read())
    env = cli_env(tmp_path, config, GOOGLE_APPLICATION_CREDENTIALS=str(key))
    first = run_cli(["print-access-token"], env)
    assert first.returncode == 0, first.stderr
    assert tokeninfo_email(emulator, first.stdout.strip()) == SOURCE
    key.write_text(open(sample.authorized_user).read())  # another identity in the same file
    second = run_cli(["print-access-token"], env)
    assert second.returncode == 0, second.stderr
    assert second.stdout != first.stdout and tokeninfo_email(emulator, second.stdout.strip()) != SOURCE


def test_another_metadata_host_is_another_source(tmp_path, emulator):
    """On main before, pointing GCE_METADATA_HOST at another server served the first server's cached token."""
    port = emulator.url.rsplit(":", 1)[1]
    config = write_profiles(tmp_path / "profiles.ini", emulator.url, {"default": {"source": "metadata"}})
    first = run_cli(["print-access-token"], cli_env(tmp_path, config, GCE_METADATA_HOST=f"127.0.0.1:{port}"))
    assert first.returncode == 0, first.stderr
    asked = emulator.counters["metadata"]
    again = run_cli(["print-access-token"], cli_env(tmp_path, config, GCE_METADATA_HOST=f"127.0.0.1:{port}"))
    assert again.stdout == first.stdout and emulator.counters["metadata"] == asked  # a hit
    other = run_cli(["print-access-token"], cli_env(tmp_path, config, GCE_METADATA_HOST=f"localhost:{port}"))
    assert other.returncode == 0, other.stderr
    assert emulator.counters["metadata"] > asked  # the other server was asked, not the cache


def test_an_id_token_without_a_target_makes_one_token_request(tmp_path, emulator, sample):
    """issue 11.10: no source access token is minted first (one POST /token, not two)."""
    config = write_profiles(tmp_path / "profiles.ini", emulator.url,
                            {"default": {"source": sample.source_key}}, cache="none")
    result = run_cli(["print-identity-token", "--audience", "https://svc.example"], cli_env(tmp_path, config))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("eyJ")
    assert emulator.counters["token"] == 1


# -- no key material in errors (issue 12.5) ---------------------------------------------------------

def _wrong_type(value):
    """A value of another JSON type that still holds the original (so a message quoting it would show it)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, list):
        return {"x": value}
    return "not-a-" + type(value).__name__


def _strings(value):
    if isinstance(value, str):
        return [value] if len(value) >= 6 else []
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def credential_files(sample, tmp_path):
    files = {name: json.load(open(getattr(sample, name)))
             for name in ("source_key", "authorized_user", "external_account")}
    user = files["authorized_user"]
    files["external_account_authorized_user"] = {
        "type": "external_account_authorized_user", "audience": "//iam.googleapis.com/locations/global/"
        "workforcePools/p/providers/x", "client_id": user["client_id"], "client_secret": user["client_secret"],
        "refresh_token": user["refresh_token"], "token_url": user.get("token_uri", "https://sts.googleapis.com/v1/oauth/token"),
        "token_info_url": "https://sts.googleapis.com/v1/introspect"}
    files["impersonated_service_account"] = {
        "type": "impersonated_service_account", "delegates": [],
        "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/"
        f"{TARGET}:generateAccessToken", "source_credentials": files["authorized_user"]}
    return files


def test_no_field_of_any_credentials_type_leaks_its_value_when_it_has_the_wrong_type(tmp_path, emulator, sample):
    from credhelper import broker, transport
    from credhelper.errors import CredhelperError
    from credhelper.credentials import CREDENTIAL_TYPES
    from credhelper.profile import load_config

    key = tmp_path / "key.json"
    config = write_profiles(tmp_path / "profiles.ini", emulator.url, {"default": {"source": str(key)}}, cache="none")
    cases = 0
    for kind, info in credential_files(sample, tmp_path).items():
        for field, value in info.items():
            broken = dict(info, **{field: _wrong_type(value)})
            key.write_text(json.dumps(broken))
            try:
                broker.get_token(load_config(config).resolve(None), "access_token", cache=None,
                                 request=transport.Request(deadline_secs=5))
                continue  # a field google-auth does not need: no error, nothing shown
            except CredhelperError as exc:
                shown = str(exc)
            cases += 1
            for secret in set(_strings(value)) - set(CREDENTIAL_TYPES):  # type names are not secrets
                assert secret not in shown, (kind, field, shown)
                if len(secret) >= 32 and not secret.startswith("/"):  # keys, secrets, tokens: not a fragment either
                    assert secret[:16] not in shown and secret[-16:] not in shown, (kind, field, shown)
            assert "Traceback" not in shown
    assert cases >= 20
    print(f"\n{cases} credentials fields of the wrong type: each refused without its value")


def test_the_gcloud_form_without_a_profile_file_suggests_source(tmp_path):
    env = cli_env(tmp_path, None, GCE_METADATA_HOST="127.0.0.1:9", CLOUDSDK_CONFIG=str(tmp_path / "nogcloud"),
                  CREDHELPER_DEADLINE_SECS="3")
    result = run_cli(["print-access-token", f"--impersonate-service-account={TARGET}"], env)
    assert result.returncode == 1, result.stderr
    assert "no credentials found" in result.stderr and "pass --source KEY_FILE" in result.stderr
    assert "in the profile" not in result.stderr


def test_a_key_google_auth_cannot_use_is_refused_alike_by_every_mint_from_it(tmp_path, emulator, sample):
    """The google-auth object is built only when the source refreshes or signs: every mint that needs
    it still refuses a key it cannot load, with the file named, exit 3, and no part of the key shown."""
    info = json.load(open(sample.source_key))
    key = tmp_path / "key.json"
    key.write_text(json.dumps(dict(info, private_key="-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n"
                                                     "-----END PRIVATE KEY-----\n")))
    key.chmod(0o600)
    claims = tmp_path / "claims.json"
    claims.write_text('{"aud": "https://svc.example", "sub": "x"}')
    config = write_profiles(tmp_path / "profiles.ini", emulator.url,
                            {"default": {"source": str(key), "target": TARGET}, "own": {"source": str(key)}})
    env = cli_env(tmp_path, config)
    for args in (["print-access-token"], ["print-access-token", "--no-cache"], ["--profile", "own", "print-access-token"],
                 ["--profile", "own", "print-identity-token", "--audience", "https://svc.example"],
                 ["--profile", "own", "sign-jwt", "--claims", str(claims)],
                 ["print-identity-token", "--audience", "https://svc.example"]):
        result = run_cli(args, env)
        assert result.returncode == 3, (args, result.stderr)
        assert f"{key}: not a usable service_account credentials file" in result.stderr, (args, result.stderr)
        assert "bm90IGEga2V5" not in result.stderr and "Traceback" not in result.stderr
    assert emulator.counters["token"] == 0 and emulator.counters["generateAccessToken"] == 0
