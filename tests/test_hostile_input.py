"""Issue 8, hostile and broken input: the profile parser, upstream JSON (the fault plan's bodies, and
wrong types), hostile cache entries, and the CLI as a whole under random argv. Only clean errors
with the documented exit codes, never a traceback, an "internal error" or a hang.

Already proven elsewhere, not repeated here: each protocol's stdin / environment as properties
(tests/test_protocols_git.py, _docker.py, _kubectl.py (KUBERNETES_EXEC_INFO), _executable.py
(GOOGLE_EXTERNAL_ACCOUNT_*)), and malformed / html / huge IAM answers through the broker
(tests/test_chain.py).
"""

import argparse
import collections
import configparser
import io
import json
import logging
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credhelper import broker, cli, transport
from credhelper.cache import TokenCache, cache_key
from credhelper.errors import CredhelperError, ProfileError
from credhelper.profile import CACHE_KEYS, PROFILE_KEYS, Profile, parse_config
from credhelper.token import ACCESS_TOKEN, MAX_EXPIRY, Token
from support import TARGET, cli_env, run_cli, write_profiles

EXIT_CODES = {0, 1, 2, 3}
PATH = "/hostile/profiles.ini"
FUNCTION_FIXTURES = [HealthCheck.function_scoped_fixture]


# -- the profile parser ---------------------------------------------------------------------------------

def configparser_truth(text):
    """{section: line}, {(section, key): line} as configparser itself reads them (the oracle for messages)."""
    state = {"line": 0}

    class Recorded(dict):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            self.lines = {}

        def __setitem__(self, key, value):
            self.lines.setdefault(key, state["line"])
            super().__setitem__(key, value)

    def numbered(lines):
        for state["line"], line in enumerate(lines, 1):
            yield line

    parser = configparser.RawConfigParser(strict=True, interpolation=None, inline_comment_prefixes=(";", "#"),
                                          delimiters=("=",), default_section="\x00none", dict_type=Recorded)
    parser.optionxform = str
    parser.read_file(numbered(io.StringIO(text)))
    sections = parser._sections  # noqa: SLF001 - a test oracle
    keys = {(s, k): line for s, d in sections.items() for k, line in d.lines.items()}
    return dict(sections.lines), keys


headers = st.sampled_from(["[default]", "[profile a]", "[profile b]", "[cache]", "[git]", "[docker]", "[profile ]",
                           "[x]", "[ default ]", "[default] ; comment", "[a]b]", "[profile a", "[[default]]",
                           "[DEFAULT]", "[profile a.b@c-d_e]", "[profile a b]"])
keys = st.sampled_from(list(PROFILE_KEYS) + list(CACHE_KEYS) + ["targte", "Target", "x", "https://h/p", "*.g.com",
                                                               "gcr.io:443"])
values = st.one_of(st.text(max_size=20), st.sampled_from([
    "profile:a", "profile:default", "profile:", "adc", "metadata", "/nonexistent.json", ".", "~", "1h", "30m", "0",
    "99999h", "a@b.com", "a@b.com, c@d.com", "not-an-email", "%(x)s", "true", "maybe", "http://x", "ftp://x",
    "bucket=b, role=r", "b=1", "file", "keyring", "none", "-1", " ; comment", "# c", "a\\"]))
line = st.one_of(headers, st.tuples(st.sampled_from(["", " ", "\t"]), keys, st.sampled_from([" = ", "=", " =", "= "]),
                                    values).map("".join),
                 st.sampled_from(["", "#c", ";c", "   ", "  continued", "\x0b", "\x0c", "\u2028", "\x85", "\r",
                                  "\ufeff[default]", "key without value", "=value", "[", "]"]))
well_formed = st.lists(  # known sections and keys, unique: what is left to fail is the values
    st.tuples(st.sampled_from(["[default]", "[profile a]", "[profile b]", "[cache]"]),
              st.lists(st.tuples(st.sampled_from(PROFILE_KEYS), values), max_size=4, unique_by=lambda kv: kv[0])),
    max_size=3, unique_by=lambda section: section[0],
).map(lambda sections: "\n".join(header + "".join(f"\n{k} = {v}" for k, v in items
                                                   if header != "[cache]" or k in CACHE_KEYS)
                                 for header, items in sections))
profile_texts = st.one_of(st.text(max_size=300), st.lists(line, max_size=14).map("\n".join),
                          st.lists(st.one_of(headers, line), max_size=14).map("\r\n".join), well_formed)
seen_errors = collections.Counter()


@settings(max_examples=1500, deadline=None)
@given(profile_texts)
def test_any_text_parses_or_is_a_profile_error_naming_file_and_line(text):
    lines = text.split("\n")
    try:
        config = parse_config(text, PATH)
    except ProfileError as exc:
        assert exc.message.startswith(f"{PATH}, line "), exc.message  # every parse error names its line
        number = int(exc.message[len(f"{PATH}, line "):].split(":", 1)[0])
        assert 1 <= number <= len(lines), (number, exc.message)
        seen_errors["parse error with its line"] += 1
        return
    sections, key_lines = configparser_truth(text)
    for name, items in config.sections.items():  # every key knows the line configparser read it from
        section = "default" if name == "default" else next(s for s in sections if s.startswith("profile ")
                                                            and s[len("profile "):].strip() == name)
        for key, (_, number) in items.items():
            assert number == key_lines[section, key], (section, key, number, key_lines)
    for name in [*config.sections, "default", "missing"]:
        try:
            profile = config.resolve(name)
        except ProfileError as exc:
            assert exc.message.startswith(PATH), exc.message
            if ", line " in exc.message:  # a key's value: the line holds that key
                number = int(exc.message.split(", line ", 1)[1].split(":", 1)[0])
                key = exc.message.split("] ", 1)[1].split(":", 1)[0]
                assert key in lines[number - 1], (exc.message, lines[number - 1])
                seen_errors["resolve error with its line"] += 1
            else:
                seen_errors["resolve error without a line (loop, unknown profile)"] += 1
        else:
            assert isinstance(profile, Profile)
            seen_errors["resolved"] += 1
    for check in (config.cache_backend, config.lock_timeout_secs):
        try:
            check()
        except ProfileError as exc:
            assert exc.message.startswith(PATH)


def test_profile_parser_figures():
    """Runs after the property above (file order): what the generated texts exercised."""
    print(f"\nprofile parser outcomes over the generated texts: {dict(seen_errors)}")
    assert seen_errors["parse error with its line"] and seen_errors["resolve error with its line"]


@pytest.mark.parametrize("content", [b"\xff\xfe[default]\n", b"[default]\nsource = \xc3\n", "x" * (1 << 20),
                                     b"\x00" * 64, "[default]\n" + "target = a@b.com\n" * 2],
                         ids=["bom-not-utf8", "not-utf8-value", "1MiB-no-section", "nul-bytes", "key-twice"])
def test_a_hostile_profile_file_is_exit_3_with_the_file_named(tmp_path, content):
    path = tmp_path / "profiles.ini"
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    result = run_cli(["print-access-token", "--config", str(path)], cli_env(tmp_path))
    assert result.returncode == 3 and result.stdout == "", result.stderr
    assert result.stderr.startswith(f"credhelper: {path}") and "Traceback" not in result.stderr


def test_a_directory_or_unreadable_path_as_profile_file_is_exit_3(tmp_path):
    for path in (tmp_path, tmp_path / "missing.ini"):
        result = run_cli(["profiles", "list", "--config", str(path)], cli_env(tmp_path))
        assert result.returncode == 3 and str(path) in result.stderr and "Traceback" not in result.stderr


# -- upstream JSON: the fault plan's bodies, through the CLI ------------------------------------------------

@pytest.fixture
def world(tmp_path, emulator, sample):
    config = write_profiles(tmp_path / "profiles.ini", emulator.url, {
        "default": {"source": sample.source_key, "target": TARGET},
        "ext": {"source": sample.external_account, "target": TARGET},
    }, cache="none")
    env = {"CREDHELPER_CONFIG": config, "XDG_RUNTIME_DIR": str(tmp_path / "run"), "CREDHELPER_PROFILE": "",
           "GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE": "https://svc.example.com", "KUBERNETES_EXEC_INFO": ""}
    return config, env


@pytest.fixture
def in_process(monkeypatch):
    """Run cli.main(argv) in this process with stdin bytes; (exit code, stdout, stderr).

    stdout is strict UTF-8 (as under LANG=en_US.UTF-8) and stderr backslashreplace (as Python sets
    it up), so text a real terminal could not take fails here too.
    """
    root = logging.getLogger()
    saved = root.handlers[:], root.level

    def run(argv, stdin=b"", env=None):
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        out, err = io.BytesIO(), io.BytesIO()
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
        monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(out, encoding="utf-8", errors="strict", write_through=True))
        monkeypatch.setattr(sys, "stderr", io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace",
                                                            write_through=True))
        try:
            code = cli.main(argv)
        except SystemExit as exc:  # argparse: usage errors, --help, --version
            code = 0 if exc.code is None else exc.code
        finally:
            for handler in root.handlers[len(saved[0]):]:  # -v: basicConfig's handler on this stderr
                root.removeHandler(handler)
            root.setLevel(saved[1])
            sys.stdout.flush()
            sys.stderr.flush()
        return code, out.getvalue().decode("utf-8"), err.getvalue().decode("utf-8")

    yield run
    root.handlers[:] = saved[0]


BODIES = ["malformed", "truncated", "huge", "html", None]  # None: Google's error JSON, with status 200
ROUTES = [  # (argv, stdin, endpoint)
    (["print-access-token"], b"", "token"),
    (["kubectl"], b"", "generateAccessToken"),
    (["git-credential", "get"], b"protocol=https\nhost=source.developers.google.com\n\n", "generateAccessToken"),
    (["docker-credential", "get"], b"gcr.io", "generateAccessToken"),
    (["print-identity-token", "--audience", "https://a"], b"", "generateIdToken"),
    (["sign-jwt", "--claims", "-"], b'{"aud": "https://a"}', "signJwt"),
    (["executable"], b"", "generateIdToken"),
    (["print-access-token", "--profile", "ext"], b"", "sts"),
]


def clean_failure(argv, code, out, err):
    """The failure is exit 1 with one message where the protocol puts it; returns that message."""
    assert code == 1, (argv, code, out, err)
    assert "Traceback" not in out + err and "internal error" not in out + err, (out, err)
    if argv[0] == "executable":
        body = json.loads(out)
        assert err == "" and body["success"] is False
        return body["message"]
    if argv[0] == "docker-credential":  # docker reads errors on stdout
        assert out.count("\n") == 1 and err == ""
        return out
    assert out == "" and err.startswith("credhelper: ") and len(err.splitlines()) <= 2, err
    return err


@pytest.mark.parametrize("body", BODIES, ids=[str(b) for b in BODIES])
def test_unusable_upstream_answers_are_clean_errors_in_every_protocol(emulator, world, in_process, body):
    _, env = world
    rows = []
    for argv, stdin, endpoint in ROUTES:
        emulator.reset()
        emulator.faults.add(endpoint=endpoint, status=200, body=body, times=None)
        code, out, err = in_process(argv, stdin, env)
        message = clean_failure(argv, code, out, err)
        rows.append(f"{' '.join(argv[:2]):36} {endpoint:20} {emulator.counters[endpoint]} req -> exit {code}: "
                    f"{message.strip().splitlines()[0][-90:]}")
    print(f"\nHTTP 200 with body {body!r}:\n  " + "\n  ".join(rows))


@pytest.mark.parametrize("argv, stdin, endpoint, body", [
    (["kubectl"], "", "token", "html"),
    (["git-credential", "get"], "protocol=https\nhost=source.developers.google.com\n\n", "generateAccessToken", "huge"),
    (["executable"], "", "generateIdToken", "truncated"),
    (["print-access-token", "--profile", "ext"], "", "sts", "malformed"),
])
def test_unusable_upstream_answers_in_a_real_process(emulator, world, tmp_path, argv, stdin, endpoint, body):
    config, env = world
    emulator.faults.add(endpoint=endpoint, status=200, body=body, times=None)
    result = run_cli(argv, cli_env(tmp_path, config, GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE="https://svc.example.com"),
                     input=stdin, timeout=60)
    message = clean_failure(argv, result.returncode, result.stdout, result.stderr)
    print(f"\n{argv[0]} with {body} from {endpoint}: exit {result.returncode}: {message.strip()[:160]}")


# -- upstream JSON of the wrong types, as a property (a fake HTTP session: no sockets) -----------------------

class FakeSession:
    """requests.Session stand-in answering each URL (by substring) with a fixed status and body."""

    def __init__(self, answers):
        self.answers, self.headers = answers, {}

    def request(self, method, url, **kw):
        for part, (status, body) in self.answers.items():
            if part in url:
                return FakeResponse(status, body)
        raise AssertionError(url)


class FakeResponse:
    def __init__(self, status, body):
        self.status_code, self.body, self.headers = status, body, {"Content-Type": "application/json"}

    def iter_content(self, size):
        yield self.body

    def close(self):
        pass


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10 ** 30, 10 ** 30),
                         st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
                         st.sampled_from(["ya29.EMULATED-x", "2030-01-01T00:00:00Z", "3600", "1e400", "NaN", "",
                                          "9999-12-31T23:59:59-23:59", "eyJhbGciOiJub25lIn0.eyJleHAiOiJ4In0.",
                                          "denied\n\x1b[31mFAKE PROMPT\x1b[0m\u202e", "1//EMULATED-leak"]))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                 st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                           max_leaves=6)
GOOD_TOKEN = {"access_token": "ya29.EMULATED-source", "expires_in": 3599, "token_type": "Bearer"}
GOOD_IAM = {"accessToken": "ya29.EMULATED-target", "expireTime": "2030-01-01T00:00:00Z"}


def mutated(good, keys):
    """Mostly a good answer with a field or two replaced or dropped; now and then anything at all."""
    edits = st.dictionaries(st.sampled_from(keys), st.one_of(st.just(None), json_values), max_size=2)
    changed = st.builds(lambda e: {k: v for k, v in {**good, **e}.items() if not (k in e and e[k] is None)}, edits)
    return st.one_of(changed, changed, json_values)


token_answers = mutated(GOOD_TOKEN, ["access_token", "expires_in", "token_type", "id_token", "error",
                                     "error_description"])
iam_answers = mutated(GOOD_IAM, ["accessToken", "expireTime", "error"])
outcomes = collections.Counter()


@settings(max_examples=250, deadline=None, suppress_health_check=FUNCTION_FIXTURES)
@given(token_status=st.sampled_from([200, 200, 200, 200, 400, 401, 500]), token_answer=token_answers,
       iam_status=st.sampled_from([200, 200, 200, 200, 400, 403, 404, 500]), iam_answer=iam_answers,
       raw=st.one_of(st.none(), st.none(), st.binary(max_size=40)))
def test_upstream_json_of_any_shape_is_a_token_or_a_clean_error(sample, monkeypatch, token_status, token_answer,
                                                                iam_status, iam_answer, raw):
    monkeypatch.setattr(transport, "MAX_ATTEMPTS", 1)  # retries are tested elsewhere; here: parsing only
    profile = Profile(name="hostile", source=str(sample.source_key), target=TARGET,
                      token_endpoint="http://upstream.invalid/token", iam_endpoint="http://upstream.invalid")
    token_body = raw if raw is not None else json.dumps(token_answer).encode()
    session = FakeSession({"/token": (token_status, token_body),
                           ":generateAccessToken": (iam_status, json.dumps(iam_answer).encode())})
    try:
        token = broker.get_token(profile, ACCESS_TOKEN, cache=None, request=transport.Request(session=session))
    except CredhelperError as exc:
        assert exc.exit_code in EXIT_CODES and exc.message.isprintable(), exc.message  # one line, no escapes
        assert "EMULATED-leak" not in str(exc)
        outcomes[type(exc).__name__] += 1
        return
    assert isinstance(token.value, str) and token.value
    assert 0 <= token.expiry <= MAX_EXPIRY  # a finite expiry every format can print
    token.expiry_rfc3339()
    outcomes["token"] += 1


def test_upstream_json_figures():
    print(f"\nupstream answers of any shape, outcomes: {dict(outcomes)}")
    assert outcomes["token"] and outcomes["UpstreamError"]


# -- JSON nested past the parser's limit (json raises RecursionError, not ValueError) ----------------------------

DEEP = "[" * 5000


@pytest.mark.parametrize("case", ["KUBERNETES_EXEC_INFO", "docker store", "sign-jwt claims", "credentials file",
                                  "docker config"])
def test_json_nested_past_the_parsers_limit_is_a_clean_error_in_a_real_process(tmp_path, case):
    deep = tmp_path / "deep.json"
    deep.write_text(DEEP)
    config = tmp_path / "profiles.ini"
    config.write_text(f"[default]\nsource = {deep if case == 'credentials file' else '/nonexistent.json'}\n")
    env = cli_env(tmp_path, config, DOCKER_CONFIG=str(tmp_path))
    argv, stdin, expected = {
        "KUBERNETES_EXEC_INFO": (["kubectl"], "", 2),
        "docker store": (["docker-credential", "store"], DEEP, 2),
        "sign-jwt claims": (["sign-jwt", "--claims", str(deep)], "", 2),
        "credentials file": (["print-access-token"], "", 3),
        "docker config": (["configure", "docker", "--registries", "gcr.io"], "", 1),
    }[case]
    if case == "KUBERNETES_EXEC_INFO":
        env["KUBERNETES_EXEC_INFO"] = DEEP
    if case == "docker config":
        (tmp_path / "config.json").write_text(DEEP)
    result = run_cli(argv, env, input=stdin)
    out = result.stdout + result.stderr
    assert result.returncode == expected and "internal error" not in out and "Traceback" not in out, out
    print(f"\n{case} = '[' x 5000: exit {result.returncode}: {out.strip().splitlines()[0][-100:]}")


def test_json_nested_past_the_parsers_limit_upstream_in_caches_and_output_files(sample, tmp_path, monkeypatch):
    monkeypatch.setattr(transport, "MAX_ATTEMPTS", 1)
    profile = Profile(name="deep", source=str(sample.source_key), target=TARGET,
                      token_endpoint="http://upstream.invalid/token", iam_endpoint="http://upstream.invalid")
    good_token = json.dumps(GOOD_TOKEN).encode()
    for answers in ({"/token": (200, DEEP.encode()), ":generate": (200, b"{}")},
                    {"/token": (200, good_token), ":generate": (200, DEEP.encode())},
                    {"/token": (200, good_token), ":generate": (500, DEEP.encode())}):
        with pytest.raises(CredhelperError) as info:
            broker.get_token(profile, ACCESS_TOKEN, cache=None, request=transport.Request(session=FakeSession(answers)))
        assert info.value.exit_code == 1
    runtime = str(tmp_path / "run")
    cache = TokenCache(backend="file", runtime_dir=runtime)
    key = cache_key(profile, ACCESS_TOKEN)
    cache.put(key, Token(ACCESS_TOKEN, "ya29.EMULATED-cached", 2_000_000_000.0), {"profile": "deep"})
    with open(os.path.join(runtime, "tokens", f"{key}.json"), "w") as f:
        f.write(DEEP)
    assert cache.get(key, 300, now=1_900_000_000.0) is None
    with open(os.path.join(runtime, "index.json"), "w") as f:
        f.write(DEEP)
    assert cache.entries() == []


# -- hostile cache entries ------------------------------------------------------------------------------------

@pytest.mark.parametrize("expiry", [float("nan"), float("inf"), 1e300, -5, "soon", None, True, [1]],
                         ids=["nan", "inf", "1e300", "negative", "string", "null", "bool", "list"])
def test_a_cache_entry_with_an_impossible_expiry_is_a_miss_not_served_forever(tmp_path, expiry):
    runtime = str(tmp_path / "run")
    cache = TokenCache(backend="file", runtime_dir=runtime)
    profile = Profile(name="p", source="adc", target=TARGET)
    key = cache_key(profile, ACCESS_TOKEN)
    cache.put(key, Token(ACCESS_TOKEN, "ya29.EMULATED-cached", 2_000_000_000.0), {"profile": "p"})
    with open(os.path.join(runtime, "tokens", f"{key}.json"), "w") as f:
        f.write(json.dumps({"kind": ACCESS_TOKEN, "value": "ya29.EMULATED-cached", "expiry": expiry}))
    assert cache.get(key, 300, now=1_900_000_000.0) is None
    assert cache.entries() == []  # discarded as corrupt


# -- the CLI as a whole: random argv ------------------------------------------------------------------------------

def command_tree(parser, path=()):
    """[(command path, [(option strings, takes a value)], positionals)] for every (sub)command of the real parser."""
    out = []
    for action in parser._actions:  # noqa: SLF001 - argparse keeps no public list
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for name, sub in action.choices.items():
                actions = [a for a in sub._actions if not isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001
                options = [(a.option_strings, a.nargs != 0) for a in actions if a.option_strings]
                positionals = [a.dest for a in actions if not a.option_strings]
                out.append(((*path, name), options, positionals))
                out.extend(command_tree(sub, (*path, name)))
    return out


# `emulator` (serves until killed) and `demo` (a whole private emulator) are left out: they take no
# user input worth fuzzing beyond what tests/test_emulator.py checks, and would only be slow here.
COMMANDS = [c for c in command_tree(cli.build_parser()) if c[0][0] not in ("emulator", "demo")]
NOISE = ["-v", "-vv", "--verbose", "--version", "-h", "--help", "--", "-", "--bogus", "-x"]


@pytest.fixture
def argv_world(tmp_path, sample, monkeypatch):
    """A profile file whose profiles all fail (missing key file; an unreachable endpoint), so no argv mints."""
    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "profiles.ini"
    down = "http://127.0.0.1:9"
    config.write_text(f"[cache]\nbackend = file\n[default]\nsource = /nonexistent/key.json\n"
                      f"[profile net]\nsource = {sample.source_key}\ntarget = {TARGET}\ntoken_endpoint = {down}/token\n"
                      f"iam_endpoint = {down}\nsts_endpoint = {down}\n[docker]\ngcr.io = net\n"
                      f"[git]\nsource.developers.google.com = net\n")
    claims = tmp_path / "claims.json"
    claims.write_text('{"aud": "x", "exp": "soon"}')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(transport, "MAX_ATTEMPTS", 1)  # 127.0.0.1:9 refuses at once; no backoff to wait out
    env = {"HOME": str(home), "CREDHELPER_CONFIG": str(config), "XDG_RUNTIME_DIR": str(tmp_path / "run"),
           "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig"),
           "GIT_CONFIG_NOSYSTEM": "1", "DOCKER_CONFIG": str(tmp_path / "docker"),
           "KUBECONFIG": str(tmp_path / "kubeconfig"), "CREDHELPER_DEADLINE_SECS": "2", "GCE_METADATA_IP": "127.0.0.1:9",
           "GCE_METADATA_HOST": "127.0.0.1:9",
           "CREDHELPER_PROFILE": "", "GOOGLE_APPLICATION_CREDENTIALS": "", "CLOUDSDK_CONFIG": str(tmp_path / "gcloud")}
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "CREDHELPER_PROFILE", "KUBERNETES_EXEC_INFO",
                 "CREDHELPER_DEBUG_TRACEBACK"):
        monkeypatch.delenv(name, raising=False)
    env = {k: v for k, v in env.items() if v}
    return env, [str(config), str(tmp_path / "missing.ini"), str(tmp_path), str(claims), str(sample.source_key)]


def safe_text(text):
    """Free text as an argument: no NUL (argv cannot hold one) and no path outside the test directory."""
    return text.replace("\x00", "").replace("/", "_").replace("\\", "_").lstrip(".")


arg_values = st.one_of(
    st.text(max_size=20).map(safe_text),
    st.sampled_from(["", "-", "--", "default", "net", "nope", "a@b.com", f"d@p.iam.gserviceaccount.com,{TARGET}", TARGET,
                     "get", "store", "erase", "list", "version", "frob", "bare", "json", "header", "env", "600", "1h",
                     "-1", "99999h", "https://x.example", "gcr.io", "us-docker.pkg.dev", "s1,s2", "\udcff\udcfe",
                     "é", "x" * 5000, "0", "65536", "-5", "prod", "=", "a=b"]))
argv_counts = collections.Counter()


SUITED = {  # values an option or positional usually gets (still mixed with anything at all)
    "--profile": ["net", "net", "default", "nope", "prod"], "-p": ["net", "default"],
    "--format": ["bare", "json", "header", "env", "xml"], "-f": ["json", "bare"],
    "--impersonate-service-account": [TARGET, f"d@p.iam.gserviceaccount.com,{TARGET}", "not-an-email", ","],
    "--lifetime": ["600", "1h", "13h", "0", "-5", "soon"], "--scopes": ["s1,s2", "", " "],
    "--audience": ["https://a.example", ""], "--registries": ["gcr.io,us-docker.pkg.dev", "a b", ","],
    "--host": ["source.developers.google.com", "ftp://x", "::"], "--cluster": ["prod"], "--port": ["0", "-1", "70000"],
    "operation": ["get", "get", "store", "erase", "list", "version", "capability"],
    "name": ["net", "default", "nope"], "argv": ["--", "true"],
}


@st.composite
def argvs(draw, paths):
    """Mostly well-formed: a command path, some of its options with values, its positionals; plus noise."""
    if draw(st.integers(0, 9)) == 0:  # now and then, no structure at all
        return draw(st.lists(arg_values, max_size=6))

    def value_for(name):
        choices = [st.sampled_from(paths), arg_values] + ([st.sampled_from(SUITED[name])] * 3 if name in SUITED else [])
        return draw(st.one_of(choices))

    path, options, positionals = draw(st.sampled_from(COMMANDS))
    argv = [*draw(st.lists(st.sampled_from(["-v", "-vv", "--verbose"]), max_size=1)), *path]
    if any("--profile" in strings for strings, _ in options) and draw(st.booleans()):
        argv += ["--profile", "net"]  # the profile that gets as far as the (unreachable) network
    for strings, takes_value in draw(st.lists(st.sampled_from(options), max_size=4)) if options else []:
        option = draw(st.sampled_from(strings))
        argv += [option, value_for(option)] if takes_value else [option]
    argv += [value_for(name) for name in positionals]
    if draw(st.integers(0, 3)) == 0:
        argv.insert(draw(st.integers(0, len(argv))), draw(st.one_of(st.sampled_from(NOISE), arg_values)))
    return argv


@settings(max_examples=600, deadline=None, suppress_health_check=FUNCTION_FIXTURES + [HealthCheck.too_slow])
@given(data=st.data())
def test_a_random_argv_never_tracebacks_and_exits_0_1_2_or_3(argv_world, in_process, data):
    env, paths = argv_world
    argv = data.draw(argvs(paths), label="argv")
    stdin = data.draw(st.one_of(st.just(b""), st.binary(max_size=60),
                                st.sampled_from([b"protocol=https\nhost=source.developers.google.com\n\n", b"gcr.io",
                                                 b'{"ServerURL": "gcr.io", "Username": "u", "Secret": "s"}',
                                                 b'{"aud": "x"}'])), label="stdin")
    code, out, err = in_process(argv, stdin, env)
    assert code in EXIT_CODES, (argv, code, err)
    assert "Traceback" not in out + err and "internal error" not in out + err, (argv, out, err)
    argv_counts[code] += 1


def test_random_argv_figures():
    print(f"\nrandom argv: {sum(argv_counts.values())} runs in process, exit codes {dict(sorted(argv_counts.items()))}")
    assert all(argv_counts[code] for code in EXIT_CODES)


HOSTILE_ARGV = [
    [b"print-access-token", b"--profile", b"\xff\xfe"],
    [b"profiles", b"show", b"\xff"],
    [b"print-access-token", b"--config", b"/nonexistent/\xff.ini"],
    [b"print-access-token", b"--format", b"\xff"],
    [b"\xff\xfe"],
    [b"configure", b"external-account", b"--profile", b"\xc3", b"--audience", b"\xff"],
    [b"git-credential", b"--profile", b"x" * 100000, b"get"],
    [b"print-access-token", b"--impersonate-service-account", b"\xff@x.com"],
    [b"exec", b"--profile", b"\xff", b"--", b"\xff"],
]


@pytest.mark.parametrize("argv", HOSTILE_ARGV, ids=range(len(HOSTILE_ARGV)))
def test_hostile_argv_in_a_real_process(tmp_path, argv):
    config = tmp_path / "profiles.ini"
    config.write_text("[default]\nsource = /nonexistent/key.json\n")
    env = {k.encode(): v.encode() for k, v in cli_env(tmp_path, config, PYTHONIOENCODING="utf-8:strict").items()}
    done = subprocess.run([sys.executable.encode(), b"-m", b"credhelper", *argv], env=env, capture_output=True,
                          input=b"protocol=https\nhost=h\n\n", timeout=60)
    out, err = done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")
    assert done.returncode in EXIT_CODES, (done.returncode, err)
    assert "Traceback" not in out + err and "internal error" not in out + err, err
    print(f"\n{[a[:30] for a in argv]}: exit {done.returncode}: {(err or out).strip()[:140]}")


@pytest.mark.parametrize("argv, variable, stdin", [
    (["docker-credential", "get"], b"CREDHELPER_CONFIG", b"gcr.io"),  # docker: the error goes to stdout
    (["profiles"], b"XDG_CONFIG_HOME", b""),  # "no profile file at PATH" on stdout
    (["kubectl"], b"CREDHELPER_CONFIG", b""),
    (["executable"], b"CREDHELPER_CONFIG", b""),
])
def test_a_non_utf8_path_in_the_environment_is_shown_escaped_never_a_crash(tmp_path, argv, variable, stdin):
    env = {k.encode(): v.encode() for k, v in cli_env(tmp_path, PYTHONIOENCODING="utf-8:strict").items()}
    env.pop(b"CREDHELPER_CONFIG", None)
    env[variable] = str(tmp_path).encode() + b"/\xff\xfe"
    done = subprocess.run([sys.executable, "-m", "credhelper", *argv], env=env, capture_output=True, input=stdin,
                          timeout=60)
    out, err = done.stdout.decode("utf-8"), done.stderr.decode("utf-8")  # valid UTF-8: escaped, not raw bytes
    assert done.returncode in EXIT_CODES and "internal error" not in out + err and "Traceback" not in out + err
    assert "\\udcff" in out + err
    print(f"\n{variable.decode()}=.../\\xff\\xfe {argv[0]}: exit {done.returncode}: {(out or err).strip()[-90:]}")
