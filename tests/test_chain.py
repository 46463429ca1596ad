"""The impersonation chain over real HTTP against the emulator: chains of 0, 1 and 2 delegates,
every output format, denials that name the hop, and upstream errors."""

import json
import time

import pytest
from google.oauth2 import id_token as google_id_token

from credhelper import broker, transport
from credhelper.errors import EXIT_AUTH, EXIT_USAGE, ImpersonationError, UpstreamError
from credhelper.profile import load_config
from credhelper.token import ACCESS_TOKEN, ID_TOKEN, JWT
from support import DELEGATE_B, DELEGATE_C, SOURCE, TARGET, cli_env, run_cli, write_profiles


@pytest.fixture
def profiles(tmp_path, emulator, sample):
    key = sample.source_key
    return write_profiles(tmp_path / "profiles.ini", emulator.url, {
        "default": {"source": key, "target": TARGET},
        "none": {"source": key},
        "one": {"source": key, "delegates": DELEGATE_B, "target": DELEGATE_C},
        "two": {"source": key, "delegates": f"{DELEGATE_B}, {DELEGATE_C}", "target": TARGET},
        "skip": {"source": key, "delegates": DELEGATE_C, "target": TARGET},
        "long": {"source": key, "target": TARGET, "lifetime": "12h"},
        "toolong": {"source": key, "delegates": DELEGATE_B, "target": DELEGATE_C, "lifetime": "2h"},
        "next": {"source": "profile:one", "target": TARGET},
    }, cache="none")


def get(profiles, name, kind=ACCESS_TOKEN, **kw):
    return broker.get_token(load_config(profiles).resolve(name), kind, cache=None, request=transport.Request(), **kw)


def read_object(emulator, token):
    resp = transport.Request()(f"{emulator.url}/storage/v1/b/credhelper-demo-test/o/foo.txt?alt=media",
                               headers={"Authorization": f"Bearer {token.value}"})
    return resp.status, resp.data


@pytest.mark.parametrize("name, account", [("none", SOURCE), ("default", TARGET), ("one", DELEGATE_C), ("two", TARGET)])
def test_chains_of_zero_one_and_two_delegates(emulator, profiles, name, account):
    token = get(profiles, name)
    info = json.loads(transport.Request()(f"{emulator.url}/oauth2/v3/tokeninfo?access_token={token.value}").data)
    assert info["email"] == account
    assert 3500 < token.expires_in() <= 3600


def test_seed_flow_source_denied_target_reads(emulator, profiles):
    assert read_object(emulator, get(profiles, "none"))[0] == 403
    assert read_object(emulator, get(profiles, "default")) == (200, b"bar")
    assert read_object(emulator, get(profiles, "two")) == (200, b"bar")


def test_one_iam_call_per_mint_once_the_source_token_is_fresh(emulator, profiles):
    get(profiles, "default")
    assert emulator.counters["token"] == 1 and emulator.counters["generateAccessToken"] == 1


def test_denied_hop_is_named_with_the_grant_command(profiles):
    with pytest.raises(ImpersonationError) as info:
        get(profiles, "skip")
    err = info.value
    assert "hop 1 of 2" in err.message and f"{SOURCE} cannot impersonate {DELEGATE_C}" in err.message
    assert "iam.serviceAccounts.getAccessToken" in err.message
    assert f"or {DELEGATE_C} does not exist" in err.message  # Google answers 403 for both
    assert err.hint.startswith(f"check that it exists with: gcloud iam service-accounts describe {DELEGATE_C} ")
    assert err.hint.split("; then ")[1] == (f"grant it with: gcloud iam service-accounts add-iam-policy-binding {DELEGATE_C} "
                        f"--member=serviceAccount:{SOURCE} --role=roles/iam.serviceAccountTokenCreator "
                        f"--project=credhelper-demo")


def test_lifetime_above_one_hour(profiles):
    assert get(profiles, "long").expires_in() > 11 * 3600
    with pytest.raises(ImpersonationError) as info:
        get(profiles, "toolong")
    assert "lifetime" in str(info.value).lower()


def test_id_token_verifies_with_audience_and_email(emulator, profiles):
    for name, account in (("default", TARGET), ("two", TARGET), ("none", SOURCE)):
        token = get(profiles, name, ID_TOKEN, audience="https://svc.example.com", include_email=True)
        claims = google_id_token.verify_token(token.value, transport.Request(), audience="https://svc.example.com",
                                              certs_url=f"{emulator.url}/oauth2/v1/certs")
        assert claims["email"] == account and abs(token.expiry - claims["exp"]) < 1


def test_id_token_uses_iam_endpoint_override(emulator, profiles):
    get(profiles, "default", ID_TOKEN, audience="https://a")
    assert emulator.counters["generateIdToken"] == 1


def test_sign_jwt_through_the_chain_and_locally(emulator, profiles):
    exp = int(time.time()) + 600
    claims = {"aud": "https://endpoints.example.com", "sub": TARGET, "exp": exp, "iat": exp - 600}
    token = get(profiles, "two", JWT, claims=claims)
    assert token.expiry == exp and token.value.count(".") == 2
    assert emulator.counters["signJwt"] == 1
    local = get(profiles, "none", JWT, claims=claims)  # a key source signs by itself
    assert local.value.count(".") == 2 and emulator.counters["signJwt"] == 1


def test_profile_source_chains_through_another_profile(emulator, profiles):
    # profile one mints for delegate-c (through delegate-b); delegate-c holds Token Creator on the target
    assert read_object(emulator, get(profiles, "next")) == (200, b"bar")
    assert emulator.counters["generateAccessToken"] == 2


def test_upstream_5xx_is_retried_then_succeeds(emulator, profiles):
    emulator.faults.add(endpoint="generateAccessToken", status=503, times=2)
    get(profiles, "default")
    assert emulator.counters["generateAccessToken"] == 3


def test_permanent_upstream_failure_names_the_endpoint(emulator, profiles):
    emulator.faults.add(endpoint="generateAccessToken", status=500, times=100)
    with pytest.raises(UpstreamError) as info:
        get(profiles, "default")
    assert "generateAccessToken" in str(info.value) and "500" in str(info.value)
    assert emulator.counters["generateAccessToken"] == transport.MAX_ATTEMPTS


@pytest.mark.parametrize("body", ["malformed", "html", "huge"])
def test_unreadable_upstream_answers_are_clean_errors(emulator, profiles, body):
    emulator.faults.add(endpoint="generateAccessToken", status=200, times=1, body=body)
    with pytest.raises(UpstreamError):
        get(profiles, "default")


def test_truncated_answer_is_retried_like_a_reset(emulator, profiles):
    emulator.faults.add(endpoint="generateAccessToken", status=200, times=1, body="truncated")
    get(profiles, "default")
    assert emulator.counters["generateAccessToken"] == 2


def test_unreachable_endpoint_is_named(tmp_path, sample):
    config = write_profiles(tmp_path / "p.ini", "http://127.0.0.1:9", {"default": {"source": sample.source_key,
                                                                                  "target": TARGET}}, cache="none")
    with pytest.raises(UpstreamError) as info:
        broker.get_token(load_config(config).resolve(None), ACCESS_TOKEN, cache=None,
                         request=transport.Request(deadline_secs=3))
    assert "127.0.0.1:9" in str(info.value)


# -- the CLI, in a subprocess ----------------------------------------------------------

@pytest.mark.parametrize("fmt", ["bare", "json", "header", "env"])
def test_print_access_token_formats(tmp_path, profiles, fmt):
    result = run_cli(["print-access-token", "--format", fmt], cli_env(tmp_path, profiles))
    assert result.returncode == 0, result.stderr
    out = result.stdout.strip()
    if fmt == "bare":
        assert out.startswith("ya29.") and "\n" not in out
    elif fmt == "json":
        data = json.loads(out)
        assert data["access_token"] == data["token"] and data["token_type"] == "Bearer"
        assert 3500 < data["expires_in"] <= 3600 and data["expiry"].endswith("Z")
    elif fmt == "header":
        assert out.startswith("Authorization: Bearer ya29.")
    else:
        lines = out.splitlines()
        assert lines[0].startswith("export CLOUDSDK_AUTH_ACCESS_TOKEN=ya29.")
        assert lines[1].startswith("export GOOGLE_OAUTH_ACCESS_TOKEN=ya29.")


def test_print_identity_token_cli(tmp_path, profiles, emulator):
    env = cli_env(tmp_path, profiles)
    result = run_cli(["print-identity-token", "--audience", "https://x.example", "--include-email"], env)
    assert result.returncode == 0, result.stderr
    claims = google_id_token.verify_token(result.stdout.strip(), transport.Request(), audience="https://x.example",
                                          certs_url=f"{emulator.url}/oauth2/v1/certs")
    assert claims["email"] == TARGET
    missing = run_cli(["print-identity-token"], env)
    assert missing.returncode == EXIT_USAGE and "needs an audience" in missing.stderr


def test_sign_jwt_cli(tmp_path, profiles):
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps({"aud": "https://endpoints.example.com"}))
    result = run_cli(["sign-jwt", "--claims", str(claims), "--format", "json"], cli_env(tmp_path, profiles))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["jwt"].count(".") == 2


def test_gcloud_form_without_a_profile_file(tmp_path, sample, emulator):
    env = cli_env(tmp_path, None, GOOGLE_APPLICATION_CREDENTIALS=sample.source_key)
    # endpoints come from the selected profile when a file exists; here they come from a base profile file
    config = write_profiles(tmp_path / "base.ini", emulator.url, {"default": {}}, cache="none")
    result = run_cli(["print-access-token", "--config", config,
                      f"--impersonate-service-account={DELEGATE_B},{DELEGATE_C},{TARGET}"], env)
    assert result.returncode == 0, result.stderr
    denied = run_cli(["print-access-token", "--config", config,
                      f"--impersonate-service-account={DELEGATE_C},{TARGET}"], env)
    assert denied.returncode == EXIT_AUTH
    assert "hop 1 of 2" in denied.stderr and "add-iam-policy-binding" in denied.stderr
    assert "Traceback" not in denied.stderr and denied.stdout == ""


def test_profiles_show_never_prints_a_secret(tmp_path, profiles, sample):
    result = run_cli(["profiles", "show", "two"], cli_env(tmp_path, profiles))
    assert result.returncode == 0, result.stderr
    assert SOURCE in result.stdout and DELEGATE_B in result.stdout and TARGET in result.stdout
    key = json.load(open(sample.source_key))
    assert key["private_key"][40:80] not in result.stdout and "PRIVATE KEY" not in result.stdout
    listing = run_cli(["profiles"], cli_env(tmp_path, profiles))
    assert "two\t" in listing.stdout and "skip\t" in listing.stdout


# -- an absurd expiry is not believed (issue 12.7) ------------------------------------------------------

FAR_FUTURE = 253402300799  # 9999-12-31T23:59:59Z


@pytest.fixture
def liar():
    """A real HTTP server answering every token request with an expiry in the year 9999."""
    import base64
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    def jwt(claims):
        def part(data):
            return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
        return f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln"

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/token":
                body = {"access_token": "ya29.liar-source", "expires_in": 10 ** 9, "token_type": "Bearer",
                        "id_token": jwt({"aud": "x", "exp": FAR_FUTURE})}
            elif self.path.endswith(":generateAccessToken"):
                body = {"accessToken": "ya29.liar-target", "expireTime": "9999-12-31T23:59:59Z"}
            elif self.path.endswith(":generateIdToken"):
                body = {"token": jwt({"aud": "x", "exp": FAR_FUTURE})}
            else:
                body = {"error": {"code": 404, "status": "NOT_FOUND", "message": "no"}}
            data = json.dumps(body).encode()
            self.send_response(200 if "error" not in body else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("kind, params, lifetime", [
    (ACCESS_TOKEN, {}, 1800),
    (ID_TOKEN, {"audience": "x"}, 3600),
])
@pytest.mark.parametrize("target", [TARGET, None])
def test_an_upstream_expiry_is_capped_at_the_requested_lifetime(sample, liar, kind, params, lifetime, target):
    from credhelper.profile import Profile

    profile = Profile(name="liar", source=str(sample.source_key), target=target, lifetime_secs=lifetime,
                      token_endpoint=f"{liar}/token", iam_endpoint=liar)
    asked = time.time()
    token = broker.get_token(profile, kind, cache=None, request=transport.Request(), **params)
    limit = lifetime if kind == ACCESS_TOKEN else 3600  # ID tokens live an hour
    assert asked < token.expiry <= time.time() + limit


def test_a_source_token_expiry_is_capped_at_an_hour(sample, liar):
    from credhelper.profile import Profile

    profile = Profile(name="liar", source=str(sample.source_key), target=TARGET, token_endpoint=f"{liar}/token",
                      iam_endpoint=liar)
    asked = time.time()
    token, _ = broker.source_token(profile, None, transport.Request())
    assert asked < token.expiry <= time.time() + broker.SOURCE_LIFETIME_SECS
