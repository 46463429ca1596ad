"""Issue 8, reliability: upstream faults (the emulator's fault plan), the overall deadline, serving a
still-valid cached token when its refresh fails, and the clock (expiry, margin, RFC 3339 parsing).

Each test prints what it injected and what came out (run with -s, or read the -rA log).
In-process tests record transport's backoff instead of sleeping it (transport.Request(sleep=...));
the end-to-end tests run the real CLI in a subprocess against the same emulator.
"""

import calendar
import datetime
import json
import math
import subprocess
import sys
import time
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credhelper import broker, transport
from credhelper.cache import TokenCache, cache_key
from credhelper.chain import parse_time
from credhelper.errors import (EXIT_AUTH, CredhelperError, ImpersonationError, SourceError, UpstreamError)
from credhelper.profile import load_config
from credhelper.token import ACCESS_TOKEN, ID_TOKEN, JWT, MAX_EXPIRY, Token
from support import DELEGATE_B, DELEGATE_C, TARGET, cli_env, run_cli, write_profiles

RETRYABLE = [429, 500, 502, 503, 504, "reset"]
AUDIENCE = "https://svc.example.com"


@pytest.fixture
def profiles(tmp_path, emulator, sample):
    key = sample.source_key
    host = emulator.url.split("://", 1)[1]
    return write_profiles(tmp_path / "profiles.ini", emulator.url, {
        "default": {"source": key, "target": TARGET},
        "two": {"source": key, "delegates": f"{DELEGATE_B}, {DELEGATE_C}", "target": TARGET},
        "user": {"source": sample.authorized_user, "target": TARGET},
        "ext": {"source": sample.external_account, "target": TARGET},
        "gce": {"source": "metadata", "metadata_host": host, "target": TARGET},
    }, cache="none")


def mint(profiles, name="default", kind=ACCESS_TOKEN, cache=None, deadline_secs=30, **kw):
    """(token or the CredhelperError raised, the Request used, the backoff delays it asked for)."""
    sleeps = []
    request = transport.Request(deadline_secs=deadline_secs, sleep=sleeps.append)
    try:
        token = broker.get_token(load_config(profiles).resolve(name), kind, cache=cache, request=request, **kw)
    except CredhelperError as exc:
        token = exc
    return token, request, sleeps


def assert_backoff(sleeps):
    """Exponential backoff with full jitter: attempt i (from 1) waits uniform(0, min(cap, base * 2**(i-1)))."""
    for i, delay in enumerate(sleeps):
        assert 0 <= delay <= min(transport.BACKOFF_CAP_SECS, transport.BACKOFF_BASE_SECS * 2 ** i), sleeps


# -- retries: N failures then success is N + 1 requests -----------------------------------------------

@pytest.mark.parametrize("endpoint", ["token", "generateAccessToken"])
@pytest.mark.parametrize("status", RETRYABLE)
def test_n_retryable_failures_then_success_takes_n_plus_one_requests(emulator, profiles, endpoint, status):
    rows = []
    for n in range(transport.MAX_ATTEMPTS):  # 0 .. MAX_ATTEMPTS - 1 failures: each still succeeds
        emulator.reset()
        if n:
            emulator.faults.add(endpoint=endpoint, status=status, times=n)
        token, request, sleeps = mint(profiles)
        assert isinstance(token, Token) and token.value.startswith("ya29."), token
        assert emulator.counters[endpoint] == n + 1
        assert len(sleeps) == n
        assert_backoff(sleeps)
        rows.append(f"{n} x {status} -> ok after {emulator.counters[endpoint]} requests, "
                    f"backoff {[round(s, 3) for s in sleeps]}")
    print(f"\n{endpoint}:\n  " + "\n  ".join(rows))


@pytest.mark.parametrize("name, kind, endpoint", [
    ("user", ACCESS_TOKEN, "token"),  # authorized_user refresh
    ("ext", ACCESS_TOKEN, "sts"),  # external_account exchange
    ("gce", ACCESS_TOKEN, "metadata"),  # metadata server source
    ("two", ACCESS_TOKEN, "generateAccessToken"),  # a chain of two delegates
    ("default", ID_TOKEN, "generateIdToken"),
    ("default", JWT, "signJwt"),
])
def test_every_upstream_request_gets_the_same_retry_policy(emulator, profiles, name, kind, endpoint, monkeypatch):
    params = {ID_TOKEN: {"audience": AUDIENCE}, JWT: {"claims": {"aud": AUDIENCE, "exp": int(time.time()) + 600}}}
    params = params.get(kind, {})
    token, _, _ = mint(profiles, name, kind, **params)
    assert isinstance(token, Token), token
    baseline = emulator.counters[endpoint]  # requests to it when nothing fails 
    n = transport.MAX_ATTEMPTS - 1
    emulator.reset()
    emulator.faults.add(endpoint=endpoint, status=503, times=n)
    token, _, sleeps = mint(profiles, name, kind, **params)
    assert isinstance(token, Token), token
    assert emulator.counters[endpoint] == baseline + n and len(sleeps) == n
    assert_backoff(sleeps)
    emulator.reset()
    emulator.faults.add(endpoint=endpoint, status=503, times=None)
    err, request, sleeps = mint(profiles, name, kind, **params)
    assert isinstance(err, (UpstreamError, SourceError)), err
    # bounded: MAX_ATTEMPTS in all (google-auth's own retry loops do not multiply them)
    assert emulator.counters[endpoint] == transport.MAX_ATTEMPTS
    print(f"\n{name} {kind}: {n} x 503 on {endpoint} -> ok with {baseline + n} requests; 503 forever -> "
          f"{type(err).__name__} after {emulator.counters[endpoint]} requests: {err.message[:110]}...")


def test_timeouts_are_retried_like_resets(emulator, profiles, monkeypatch):
    monkeypatch.setattr(transport, "REQUEST_TIMEOUT_SECS", 0.3)
    n = transport.MAX_ATTEMPTS - 1
    emulator.faults.add(endpoint="generateAccessToken", status=None, latency_secs=2, times=n)
    start = time.monotonic()
    token, _, sleeps = mint(profiles)
    assert isinstance(token, Token), token
    assert emulator.counters["generateAccessToken"] == n + 1 and len(sleeps) == n
    print(f"\n{n} answers slower than the 0.3 s request timeout, then a prompt one: ok after "
          f"{emulator.counters['generateAccessToken']} requests in {time.monotonic() - start:.2f} s")


def test_retry_after_is_honoured_and_capped(emulator, profiles):
    emulator.faults.add(endpoint="generateAccessToken", status=429, times=2, retry_after=3)
    token, _, sleeps = mint(profiles)
    assert isinstance(token, Token) and sleeps == [3.0, 3.0]
    emulator.reset()
    emulator.faults.add(endpoint="generateAccessToken", status=503, times=1, retry_after=3600)
    token, _, sleeps = mint(profiles, deadline_secs=3600 * 2)
    assert isinstance(token, Token) and sleeps == [transport.RETRY_AFTER_CAP_SECS]
    print(f"\nRetry-After: 3 -> waited {[3.0, 3.0]}; Retry-After: 3600 -> waited {sleeps} "
          f"(capped at {transport.RETRY_AFTER_CAP_SECS} s)")


def test_a_retry_after_beyond_the_deadline_ends_at_once(emulator, profiles):
    emulator.faults.add(endpoint="generateAccessToken", status=503, times=None, retry_after=60)
    err, _, sleeps = mint(profiles, deadline_secs=5)
    assert isinstance(err, UpstreamError) and "503" in err.message and "generateAccessToken" in err.message
    assert emulator.counters["generateAccessToken"] == 1 and sleeps == []
    print(f"\nRetry-After 60 s with a 5 s deadline: no retry, {type(err).__name__}: {err.message}")


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 412])
def test_other_4xx_are_never_retried(emulator, profiles, status):
    emulator.faults.add(endpoint="generateAccessToken", status=status, times=None)
    err, _, sleeps = mint(profiles)
    assert isinstance(err, (ImpersonationError, UpstreamError)), err
    assert emulator.counters["generateAccessToken"] == 1 and sleeps == []
    emulator.reset()
    emulator.faults.add(endpoint="token", status=status, times=None)
    src_err, _, sleeps = mint(profiles)
    assert isinstance(src_err, (SourceError, UpstreamError)), src_err
    assert emulator.counters["token"] == 1 and sleeps == []
    print(f"\nHTTP {status}: generateAccessToken 1 request -> {type(err).__name__}; token endpoint 1 request -> "
          f"{type(src_err).__name__}")


@pytest.mark.parametrize("endpoint", ["token", "generateAccessToken"])
@pytest.mark.parametrize("status", RETRYABLE)
def test_permanent_failure_is_a_clear_error_after_max_attempts(emulator, profiles, endpoint, status):
    emulator.faults.add(endpoint=endpoint, status=status, times=None)
    err, request, sleeps = mint(profiles, deadline_secs=30)
    assert isinstance(err, (UpstreamError, SourceError)), err
    assert emulator.counters[endpoint] == transport.MAX_ATTEMPTS and len(sleeps) == transport.MAX_ATTEMPTS - 1
    assert_backoff(sleeps)
    where = "/token" if endpoint == "token" else "generateAccessToken"
    assert where in err.message
    assert str(status) in err.message or (status == "reset" and "connection failed" in err.message)
    assert "\n" not in err.message  # one line (the fix, when there is one, is the next)
    print(f"\n{status} forever on {endpoint}: {emulator.counters[endpoint]} requests, backoff total "
          f"{sum(sleeps):.2f} s (< deadline), {type(err).__name__}: ...{err.message[-90:]}")


# -- the real CLI: permanent failures and hanging upstreams end within the deadline --------------------

def run_timed(args, env, timeout=60, **kw):
    start = time.monotonic()
    result = run_cli(args, env, timeout=timeout, **kw)  # subprocess.TimeoutExpired would fail the test
    return result, time.monotonic() - start


@pytest.mark.parametrize("endpoint, status", [("token", 503), ("generateAccessToken", "reset"),
                                              ("generateAccessToken", 500)])
def test_cli_permanent_failure_exits_1_with_one_clear_message(emulator, profiles, tmp_path, endpoint, status):
    emulator.faults.add(endpoint=endpoint, status=status, times=None)
    result, secs = run_timed(["print-access-token"], cli_env(tmp_path, profiles, CREDHELPER_DEADLINE_SECS="20"))
    assert result.returncode == EXIT_AUTH and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("credhelper: ") and all(line.startswith("  fix: ") for line in lines[1:]), lines
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert emulator.counters[endpoint] == transport.MAX_ATTEMPTS
    print(f"\n{status} forever on {endpoint}: exit {result.returncode} after {secs:.2f} s, "
          f"{emulator.counters[endpoint]} requests: {lines[0][:160]}")


HANGS = [
    (["print-access-token"], "token", {}),
    (["print-access-token"], "generateAccessToken", {}),
    (["kubectl"], "generateAccessToken", {}),
    (["executable"], "generateIdToken", {"GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE": AUDIENCE}),
]


@pytest.mark.parametrize("args, endpoint, extra", HANGS, ids=[f"{a[0]}-{e}" for a, e, _ in HANGS])
def test_a_hanging_upstream_does_not_hang_the_caller_past_the_deadline(emulator, profiles, tmp_path, args,
                                                                       endpoint, extra):
    deadline = 2
    emulator.faults.add(endpoint=endpoint, status=None, latency_secs=60, times=None)  # answers after 60 s
    env = cli_env(tmp_path, profiles, CREDHELPER_DEADLINE_SECS=str(deadline), **extra)
    result, secs = run_timed(args, env, timeout=45)
    assert result.returncode == EXIT_AUTH
    if args == ["executable"]:  # the executable protocol answers on stdout only
        body = json.loads(result.stdout)
        assert result.stderr == "" and body["success"] is False and body["code"] == "UPSTREAM"
        message = body["message"]
    else:
        assert result.stdout == "" and result.stderr.startswith("credhelper: ")
        message = result.stderr
    assert "deadline" in message and "CREDHELPER_DEADLINE_SECS" in message and "Traceback" not in message
    print(f"\n{args[0]} with {endpoint} hanging (60 s), CREDHELPER_DEADLINE_SECS={deadline}: exit "
          f"{result.returncode} after {secs:.2f} s: {message.splitlines()[0][:170]}")


# -- load under faults (load without faults: tests/test_cache.py) -------------------------------------------

def run_concurrently(n, args, env, timeout=60):
    """n CLI processes started together: [(exit code, stdout, stderr, seconds)]."""
    start = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-m", "credhelper", *args], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(n)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        results.append((proc.returncode, out, err, time.monotonic() - start))
    return results


def test_concurrent_callers_on_a_cold_cache_ride_out_transient_503s_with_one_mint(emulator, sample, tmp_path):
    config = write_profiles(tmp_path / "p.ini", emulator.url, {"default": {"source": sample.source_key,
                                                                           "target": TARGET}}, cache="file")
    emulator.faults.add(endpoint="generateAccessToken", status=503, times=2)
    results = run_concurrently(12, ["print-access-token"], cli_env(tmp_path, config))
    assert [r[0] for r in results] == [0] * 12, {r[2] for r in results}
    assert len({r[1] for r in results}) == 1 and all(r[2] == "" for r in results)
    assert emulator.counters["generateAccessToken"] == 3 and emulator.counters["token"] == 1  # 2 failures + 1 mint
    print(f"\n12 concurrent callers, 2 x 503 injected: all exit 0 with one token in {max(r[3] for r in results):.2f} s; "
          f"upstream requests {dict(emulator.counters)}")


def test_concurrent_callers_on_a_hanging_upstream_all_end_within_their_deadline(emulator, sample, tmp_path):
    config = write_profiles(tmp_path / "p.ini", emulator.url, {"default": {"source": sample.source_key,
                                                                           "target": TARGET}}, cache="file")
    emulator.faults.add(endpoint="generateAccessToken", status=None, latency_secs=60, times=None)
    deadline = 2
    results = run_concurrently(8, ["print-access-token"], cli_env(tmp_path, config,
                                                                    CREDHELPER_DEADLINE_SECS=str(deadline)))
    codes = sorted(r[0] for r in results)
    assert codes == [EXIT_AUTH] * 8 and all(r[1] == "" for r in results)
    for _, _, err, _ in results:
        assert err.startswith("credhelper: ") and "deadline" in err and "Traceback" not in err, err
    # waiting for another process's (hanging) mint counts against the waiter's own deadline: a waiter does
    # not wait out the holder's deadline and then spend a whole one of its own (8 requests, the last caller
    # returning after about 8 x 2 s); only one that got the lock with time left tries again
    assert emulator.counters["generateAccessToken"] < 8
    assert any("waiting for the cache lock" in r[2] for r in results)
    print(f"\n8 concurrent callers, upstream hanging, CREDHELPER_DEADLINE_SECS={deadline}: all exit 1, the last after "
          f"{max(r[3] for r in results):.2f} s; IAM requests: {emulator.counters['generateAccessToken']}; e.g. "
          f"{sorted({r[2].splitlines()[0][:90] for r in results})}")


# -- a still-valid cached token is served when its refresh fails ----------------------------------------

@pytest.fixture
def short_lived(tmp_path, emulator, sample):
    """A profile whose 10-minute tokens are always inside its 50-minute refresh margin: every call refreshes."""
    config = write_profiles(tmp_path / "short.ini", emulator.url, {
        "default": {"source": sample.source_key, "target": TARGET, "lifetime": "600", "refresh_margin": "3000"},
    }, cache="file")
    return cli_env(tmp_path, config, CREDHELPER_DEADLINE_SECS="3")


@pytest.mark.parametrize("fault", [{"status": 503}, {"status": "reset"}, {"status": None, "latency_secs": 60}],
                         ids=["503", "reset", "hang"])
def test_cli_serves_the_cached_token_when_its_refresh_fails(emulator, short_lived, fault):
    first, _ = run_timed(["print-access-token"], short_lived)
    assert first.returncode == 0 and first.stderr == "", first.stderr
    assert emulator.counters["generateAccessToken"] == 1
    emulator.faults.add(endpoint="generateAccessToken", times=None, **fault)
    served, secs = run_timed(["print-access-token"], short_lived)
    assert served.returncode == 0, served.stderr
    assert served.stdout == first.stdout  # the cached token, still valid for about 10 minutes
    assert served.stderr.startswith("credhelper: warning: refresh failed (") and "serving the cached token" in served.stderr
    assert served.stderr.count("\n") == 1 and "ya29." not in served.stderr
    print(f"\n{fault} on every refresh: exit 0 after {secs:.2f} s with the cached token "
          f"({emulator.counters['generateAccessToken'] - 1} failed requests); stderr: {served.stderr.strip()[:200]}")


def test_concurrent_callers_get_the_cached_token_while_the_upstream_hangs(emulator, short_lived):
    first = run_cli(["print-access-token"], short_lived)
    assert first.returncode == 0, first.stderr
    emulator.faults.add(endpoint="generateAccessToken", status=None, latency_secs=60, times=None)
    results = run_concurrently(8, ["print-access-token"], short_lived)
    assert [r[0] for r in results] == [0] * 8 and {r[1] for r in results} == {first.stdout}
    assert all("serving the cached token" in r[2] for r in results)
    print(f"\n8 concurrent callers, refresh hanging (deadline 3 s): all exit 0 with the cached token, the last after "
          f"{max(r[3] for r in results):.2f} s; IAM requests: {emulator.counters['generateAccessToken'] - 1}")


def test_a_denied_refresh_is_reported_not_masked_by_the_cache(emulator, short_lived):
    assert run_cli(["print-access-token"], short_lived).returncode == 0
    emulator.faults.add(endpoint="generateAccessToken", status=403, times=None)
    denied = run_cli(["print-access-token"], short_lived)
    assert denied.returncode == EXIT_AUTH and denied.stdout == "" and "warning" not in denied.stderr
    print(f"\n403 on refresh: exit {denied.returncode}, {denied.stderr.splitlines()[0][:150]}")


def test_an_expired_cached_token_is_never_served_when_refresh_fails(emulator, profiles, tmp_path):
    cache = TokenCache(backend="file", runtime_dir=str(tmp_path / "run"))
    token, _, _ = mint(profiles, cache=cache)
    margin = load_config(profiles).resolve("default").refresh_margin_secs
    emulator.faults.add(endpoint="generateAccessToken", status=503, times=None)
    warned = []
    inside, _, _ = mint(profiles, cache=cache, now=token.expiry - margin / 2, warn=warned.append)
    assert inside == token and len(warned) == 1  # inside the margin but valid: served, with a warning
    for now in (token.expiry, token.expiry + 1, token.expiry + 86400):
        err, _, _ = mint(profiles, cache=cache, now=now, warn=warned.append)
        assert isinstance(err, UpstreamError), err
    assert len(warned) == 1
    print(f"\nrefresh failing: served at expiry - {margin / 2:.0f} s ({warned[0][:80]}...); "
          f"at expiry, +1 s, +1 day: {type(err).__name__}")


# -- the clock: expired or inside the margin means a new token ----------------------------------------------

def test_a_cached_token_past_its_expiry_or_inside_the_margin_is_reminted(emulator, profiles, tmp_path):
    profile = load_config(profiles).resolve("default")
    params = broker.token_params(profile, ACCESS_TOKEN, None, None, None, None, None)
    key = cache_key(profile, ACCESS_TOKEN, **params)
    first, _, _ = mint(profiles)
    margin = profile.refresh_margin_secs
    rows = []
    for offset in (-margin - 60, -margin - 1, -margin, -margin + 1, -1, 0, 1, 3600, 10 ** 8):
        emulator.reset()
        cache = TokenCache(backend="file", runtime_dir=str(tmp_path / f"run{offset}"))
        cache.put(key, first, {"profile": profile.name, "kind": ACCESS_TOKEN})
        got, _, _ = mint(profiles, cache=cache, now=first.expiry + offset)
        reminted = emulator.counters["generateAccessToken"] == 1
        assert reminted == (offset >= -margin), offset  # exactly the margin left: refresh
        assert (got == first) == (not reminted)
        rows.append(f"now = expiry {offset:+d} s: {'re-minted' if reminted else 'served from the cache'}")
    print(f"\nrefresh margin {margin} s:\n  " + "\n  ".join(rows))


# -- parse_time: RFC 3339 and epoch seconds, exactly --------------------------------------------------------

def exact_epoch(dt, offset_minutes, digits):
    """The instant written as dt (wall time) at UTC offset, plus .digits, as the nearest float."""
    whole = calendar.timegm(dt.timetuple()) - offset_minutes * 60
    frac = Fraction(int(digits), 10 ** len(digits)) if digits else Fraction(0)
    return float(whole + frac)


def rfc3339(dt, offset_minutes, digits, zulu_style, sep):
    text = dt.strftime("%Y-%m-%d") + sep + dt.strftime("%H:%M:%S") + (f".{digits}" if digits else "")
    if offset_minutes == 0 and zulu_style != "offset":
        return text + zulu_style
    sign = "-" if offset_minutes < 0 else "+"
    return text + f"{sign}{abs(offset_minutes) // 60:02d}:{abs(offset_minutes) % 60:02d}"


@settings(max_examples=500, deadline=None)
@given(dt=st.datetimes(min_value=datetime.datetime(1970, 1, 2), max_value=datetime.datetime(9999, 12, 30)),
       offset=st.one_of(st.just(0), st.integers(-23 * 60 - 59, 23 * 60 + 59)),
       digits=st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=12)),
       zulu=st.sampled_from(["Z", "z", "offset"]), sep=st.sampled_from(["T", "t", " "]))
def test_rfc3339_is_parsed_exactly(dt, offset, digits, zulu, sep):
    dt = dt.replace(microsecond=0)
    text = rfc3339(dt, offset, digits, zulu, sep)
    expected = exact_epoch(dt, offset, digits)
    assert parse_time(text) == expected, text
    assert parse_time(f"  {text}\n") == expected


def test_rfc3339_examples_print_their_epoch():
    cases = {
        "2026-11-28T19:00:00Z": 1795892400.0,
        "2026-11-28T19:00:00.5Z": 1795892400.5,
        "2026-11-28T19:00:00.123456789Z": float(1795892400 + Fraction(123456789, 10 ** 9)),
        "2026-11-28T20:30:00+01:30": 1795892400.0,
        "2026-11-28T14:00:00.25-05:00": 1795892400.25,
        "2026-11-28t19:00:00z": 1795892400.0,
        "1795892400": 1795892400.0,
        "1795892400.75": 1795892400.75,
        1795892400: 1795892400.0,
        1795892400.5: 1795892400.5,
    }
    for text, expected in cases.items():
        assert parse_time(text) == expected, text
    print("\n" + "\n".join(f"  {k!r:40} -> {parse_time(k)!r}" for k in cases))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.integers(0, int(MAX_EXPIRY)), st.floats(0, MAX_EXPIRY)))
def test_epoch_seconds_are_parsed_exactly(value):
    assert parse_time(value) == float(value)
    text = repr(value)  # '1795892400', '1795892400.123', or '5e-324' (not an epoch string: skipped)
    if "e" not in text:
        assert parse_time(text) == float(text)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(
    st.text(max_size=40),
    st.text("0123456789-:.TZtz+ ", max_size=40),
    st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.booleans(), st.none(),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sampled_from(["NaN", "Infinity", "1e400", "-1", "9" * 400, "10000-01-01T00:00:00Z", "1969-12-31T23:59:59Z",
                     "9999-12-31T23:59:59-23:59", "2026-02-30T00:00:00Z", "2026-11-28T19:00:60Z",
                     "2026-11-28T19:00Z", "2026-11-28T19:00:00+0100", "2026-11-28T19:00:00.Z", "٢٠٢٦-11-28T19:00:00Z",
                     "2026-11-28T19:00:00." + "9" * 5000 + "Z"])))
def test_anything_else_is_a_value_error_or_an_instant_in_range(value):
    try:
        parsed = parse_time(value)
    except ValueError:
        return
    assert isinstance(parsed, float) and math.isfinite(parsed) and 0 <= parsed <= MAX_EXPIRY, (value, parsed)
