"""git credential helper: real `git clone` over HTTP from git http-backend behind Basic auth."""

import argparse
import io
import os
import shlex
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credhelper.errors import ProtocolError
from credhelper.protocols import git
from protocols_stubs import StubServer, git_http_backend, protocol_env, run_in_process, token_email
from support import write_profiles

EXIT_CODES = {0, 1, 2, 3, 130}


@pytest.fixture
def world(tmp_path, emulator, sample):
    config = write_profiles(tmp_path / "profiles.ini", emulator.url, {
        "t": {"source": sample.source_key, "target": sample.target},
        "denied": {"source": sample.source_key, "target": sample.delegate_c},
    }, cache="file")
    env = protocol_env(tmp_path, config, GIT_CONFIG_GLOBAL=str(tmp_path / "gitconfig"), GIT_CONFIG_NOSYSTEM="1",
                       GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="", SSH_ASKPASS="")
    env.pop("GIT_ASKPASS")
    return config, env


@pytest.fixture
def repo_server(tmp_path, emulator, sample):
    root = tmp_path / "srv"
    work = tmp_path / "seed"
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / "README").write_text("hello from the emulator world\n")
    subprocess.run(["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com", "add", "README"], check=True)
    subprocess.run(["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "seed"],
                   check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(root / "repo.git")], check=True)
    check = lambda password: token_email(emulator.url, password) == sample.target  # noqa: E731
    with StubServer(git_http_backend(root, check)) as server:
        yield server, f"http://127.0.0.1:{server.port}/repo.git"


def git_(env, *args, input=None):
    return subprocess.run(["git", *args], env=env, capture_output=True, text=True, input=input, timeout=120)


def helper(env, *args, input=""):
    return subprocess.run(["git-credential-credhelper", *args], env=env, capture_output=True, text=True,
                          input=input, timeout=60)


def test_git_clone_with_configure_git(tmp_path, world, repo_server, emulator):
    _, env = world
    server, url = repo_server
    host = f"http://127.0.0.1:{server.port}"
    done = subprocess.run(["credhelper", "configure", "git", "--host", host, "--profile", "t"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    helpers = git_(env, "config", "--global", "--get-all", f"credential.{host}.helper").stdout.splitlines()
    assert helpers[0] == "" and "--profile t" in helpers[1]
    clone = git_(env, "clone", url, str(tmp_path / "out"))
    assert clone.returncode == 0, clone.stderr
    assert (tmp_path / "out" / "README").read_text().startswith("hello")
    assert any(auth and auth.startswith("Basic ") for _, _, auth in server.requests)
    assert emulator.counters["generateAccessToken"] == 1


def test_git_clone_with_helper_arguments(tmp_path, world, repo_server):
    _, env = world
    _, url = repo_server
    clone = git_(env, "-c", "credential.helper=credhelper --profile t", "clone", url, str(tmp_path / "out"))
    assert clone.returncode == 0, clone.stderr


def test_git_clone_with_git_section_mapping(tmp_path, world, repo_server, emulator, sample):
    config, env = world
    server, url = repo_server
    with open(config, "a") as f:
        f.write(f"\n[git]\n127.0.0.1:{server.port}/repo.git = t\n*.googlesource.com = denied\n")
    clone = git_(env, "-c", "credential.helper=credhelper", "-c", "credential.useHttpPath=true",
                 "clone", url, str(tmp_path / "out"))
    assert clone.returncode == 0, clone.stderr


def test_denied_chain_fails_the_clone_with_credhelpers_message(tmp_path, world, repo_server):
    _, env = world
    _, url = repo_server
    clone = git_(env, "-c", "credential.helper=credhelper --profile denied", "clone", url, str(tmp_path / "out"))
    assert clone.returncode != 0
    assert "credhelper: profile 'denied'" in clone.stderr and "cannot impersonate" in clone.stderr
    assert "ya29." not in clone.stderr and "Traceback" not in clone.stderr


def test_get_answers_username_password_and_expiry(world, sample):
    _, env = world
    done = helper(env, "--profile", "t", "get", input="protocol=https\nhost=example.com\nwwwauth[]=Basic\nfoo=bar\n\n")
    assert done.returncode == 0 and done.stderr == ""
    answer = dict(line.split("=", 1) for line in done.stdout.splitlines())
    assert set(answer) == {"username", "password", "password_expiry_utc"}
    assert answer["username"] == sample.target and answer["password_expiry_utc"].isdigit()


def test_git_credential_fill_uses_the_helper(world, sample):
    _, env = world
    done = git_(env, "-c", "credential.helper=credhelper --profile t", "credential", "fill",
                input="protocol=https\nhost=source.developers.google.com\n\n")
    assert done.returncode == 0, done.stderr
    assert f"username={sample.target}" in done.stdout and "password=ya29." in done.stdout


def test_store_and_erase_are_quiet_and_erase_drops_the_cached_token(world, emulator):
    _, env = world
    request = "protocol=https\nhost=source.developers.google.com\n\n"
    assert helper(env, "--profile", "t", "get", input=request).returncode == 0
    assert helper(env, "--profile", "t", "get", input=request).returncode == 0
    assert emulator.counters["generateAccessToken"] == 1
    for op in ("store", "erase"):
        done = git_(env, "-c", "credential.helper=credhelper --profile t", "credential",
                    "approve" if op == "store" else "reject",
                    input=request[:-1] + "username=u\npassword=p\n\n")
        assert done.returncode == 0 and done.stdout == "" and done.stderr == "", done
    assert helper(env, "--profile", "t", "get", input=request).returncode == 0
    assert emulator.counters["generateAccessToken"] == 2


def test_unknown_operation_is_ignored(world):
    _, env = world
    done = helper(env, "--profile", "t", "frobnicate", input="protocol=https\nhost=x\n\n")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.mark.parametrize("stdin", ["not a key value line\n", "protocol=https\n\n", "=x\nhost=h\n", "host=a\x00b\n"])
def test_malformed_request_is_an_error_on_stderr(world, stdin):
    _, env = world
    done = helper(env, "--profile", "t", "get", input=stdin)
    assert done.returncode == 2 and done.stdout == "" and done.stderr.startswith("credhelper: ")


def test_unmapped_host_without_profile_flag_gets_no_answer(world):
    _, env = world
    done = helper(env, "get", input="protocol=https\nhost=github.com\n\n")
    assert (done.returncode, done.stdout) == (0, "")
    done = helper(env, "--profile", "t", "get", input="protocol=http\nhost=example.com\n\n")
    assert (done.returncode, done.stdout) == (0, "")  # never a token over plain http to a remote host


@pytest.mark.parametrize("patterns, request_, expected", [
    ([("https://source.developers.google.com/p/proj", "a", 1)], ("https", "source.developers.google.com", "p/proj/r/x"), "a"),
    ([("https://source.developers.google.com/p/proj", "a", 1)], ("https", "source.developers.google.com", "p/project"), None),
    ([("https://source.developers.google.com/p/proj", "a", 1)], ("https", "source.developers.google.com", None), None),
    ([("*.googlesource.com", "g", 1)], ("https", "chromium.googlesource.com", None), "g"),
    ([("*.googlesource.com", "g", 1)], ("https", "googlesource.com", None), None),
    ([("*.googlesource.com", "g", 1), ("x.googlesource.com", "x", 2)], ("https", "x.googlesource.com", None), "x"),
    ([("h", "any", 1), ("h/a", "deep", 2)], ("https", "h", "a/b"), "deep"),
    ([("h:8443", "p", 1)], ("https", "H:8443", None), "p"),
    ([("h:8443", "p", 1)], ("https", "h:9000", None), None),
    ([("h", "p", 1)], ("https", "h:9000", None), "p"),
    ([("http://h", "p", 1)], ("https", "h", None), None),
])
def test_git_section_patterns(patterns, request_, expected):
    assert git.match(patterns, *request_) == expected


# -- hostile stdin -------------------------------------------------------------------------------

lines = st.lists(st.one_of(
    st.sampled_from(["protocol=https", "protocol=http", "host=source.developers.google.com", "host=127.0.0.1:1",
                     "path=a/b", "url=https://u:p@h/x", "wwwauth[]=Basic", "capability[]=authtype", "username=",
                     "=", "", "x", "host=", "url=::::"]),
    st.text(max_size=80)), max_size=12)


@settings(max_examples=400, deadline=None)
@given(st.one_of(lines.map("\n".join), st.binary(max_size=300)))
def test_parse_request_returns_a_dict_or_raises_protocol_error(data):
    try:
        request = git.parse_request(data)
    except ProtocolError:
        return
    assert isinstance(request, dict)


@settings(max_examples=200, deadline=None)
@given(op=st.sampled_from(["get", "store", "erase", "capability", "x"]),
       data=st.one_of(lines.map("\n".join).map(str.encode), st.binary(max_size=200)))
def test_helper_in_process_answers_or_fails_cleanly(tmp_path_factory, op, data):
    config = tmp_path_factory.getbasetemp() / "git-hostile.ini"
    config.write_text("[cache]\nbackend = none\n[default]\nsource = /nonexistent.json\n"
                      "[git]\n*.googlesource.com = nope\n127.0.0.1 = default\n")
    args = argparse.Namespace(config=str(config), profile=None, operation=op)
    status, out, err = run_in_process("git-credential", args, env={}, stdin=io.BytesIO(data))
    assert status in EXIT_CODES
    assert "Traceback" not in err and "internal error" not in err
    assert out == ""  # no profile here can mint, so never any credential text
    assert (status == 0) == (err == "")


@pytest.mark.parametrize("data", [b"\xff\xfe\n", "huge", b"protocol=https\nhost=\xc3\n", b"\n\n\n"],
                         ids=["not-utf8", "2MiB", "truncated-utf8", "blank"])
def test_hostile_stdin_in_a_real_process(world, data):
    _, env = world
    if data == "huge":
        data = b"protocol=https\nhost=" + b"a" * (2 << 20)
    done = subprocess.run(["git-credential-credhelper", "--profile", "t", "get"], env=env, input=data,
                          capture_output=True, timeout=60)
    assert done.returncode in EXIT_CODES and b"Traceback" not in done.stderr and b"password=" not in done.stdout


def test_configure_git_without_host_appends_a_guarded_global_helper(world):
    _, env = world
    git_(env, "config", "--global", "--add", "credential.helper", "store")
    for _ in range(2):  # idempotent
        done = subprocess.run(["credhelper", "configure", "git"], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    helpers = git_(env, "config", "--global", "--get-all", "credential.helper").stdout.splitlines()
    assert helpers[0] == "store" and len(helpers) == 2 and "--profile" not in helpers[1]
    refused = subprocess.run(["credhelper", "configure", "git", "--profile", "t"], env=env, capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode == 2 and "--host" in refused.stderr


def test_configure_git_without_host_on_a_fresh_git_config(world):
    _, env = world
    done = subprocess.run(["credhelper", "configure", "git"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    helpers = git_(env, "config", "--global", "--get-all", "credential.helper").stdout.splitlines()
    assert len(helpers) == 1 and "credhelper" in helpers[0]


LIGHT_CHECK = """
import sys, io
from credhelper import cli
sys.stdin = io.TextIOWrapper(io.BytesIO(sys.argv[1].encode()))
status = cli.main(sys.argv[2:])
heavy = sorted(m for m in ("google.auth", "requests", "keyring", "urllib3", "argparse", "jeepney") if m in sys.modules)
sys.stderr.write("HEAVY=" + ",".join(heavy) + "\\n")
sys.exit(status)
"""


host_glob_chars = st.sampled_from(list("ab.-*?[]!"))


@settings(max_examples=3000)
@given(st.text(host_glob_chars, max_size=8), st.text(host_glob_chars, max_size=8))
def test_host_patterns_match_as_fnmatchcase_does(name, pattern):
    """protocols.hostglob.matches stands in for fnmatch.fnmatchcase (which imports re) on the hit."""
    import fnmatch
    import re

    from credhelper.protocols import hostglob

    try:
        expected = fnmatch.fnmatchcase(name, pattern)
    except re.error:  # Python 3.9's fnmatch cannot compile some sets ('[?-.]'): such a pattern matches no host
        expected = False
    assert hostglob.matches(name, pattern) == expected


def test_google_host_patterns_match_as_before():
    import fnmatch

    from credhelper.protocols import docker, hostglob

    for host in ("source.developers.google.com", "x.googlesource.com", "googlesource.com", "a.b.sourcemanager.dev",
                 "gcr.io", "eu.gcr.io", "us-docker.pkg.dev", "pkg.dev", "evil.com", "x.googlesource.com.evil.com",
                 "source.developers.google.comx", ""):
        for pattern in (*git.GOOGLE_HOSTS, *docker.GOOGLE_REGISTRIES):
            assert hostglob.matches(host, pattern) == fnmatch.fnmatchcase(host, pattern), (host, pattern)


@pytest.mark.parametrize("argv, stdin", [
    (["git-credential", "--profile", "t", "get"], "protocol=https\nhost=source.developers.google.com\n\n"),
    (["kubectl", "--profile", "t"], ""),
    (["docker-credential", "get"], "us-docker.pkg.dev\n"),
])
def test_a_cache_hit_imports_neither_google_auth_nor_requests(world, argv, stdin):
    import sys

    _, env = world
    env = {**env, "CREDHELPER_PROFILE": "t"}
    run = lambda: subprocess.run([sys.executable, "-c", LIGHT_CHECK, stdin, *argv], env=env, capture_output=True,  # noqa: E731
                                 text=True, timeout=60)
    first = run()
    assert first.returncode == 0, first.stderr
    second = run()
    assert second.returncode == 0 and "HEAVY=\n" in second.stderr, second.stderr


def test_configure_git_writes_an_absolute_helper_that_works_without_credhelper_on_path(tmp_path, world, repo_server):
    """Issue 14.5: the helper must not depend on the venv's bin being on git's PATH."""
    _, env = world
    server, url = repo_server
    host = f"http://127.0.0.1:{server.port}"
    assert subprocess.run(["credhelper", "configure", "git", "--host", host, "--profile", "t"], env=env,
                          capture_output=True, text=True, timeout=60).returncode == 0
    helper_value = git_(env, "config", "--global", "--get-all", f"credential.{host}.helper").stdout.splitlines()[1]
    assert os.path.isabs(shlex.split(helper_value)[0]), helper_value
    git_dir = os.path.dirname(shutil.which("git"))
    bare = {**env, "PATH": git_dir}  # git itself, but neither credhelper nor its helpers
    clone = git_(bare, "clone", url, str(tmp_path / "out"))
    assert clone.returncode == 0, clone.stderr


# -- issue 12.8 and 12.9: hosts that are not hosts, paths that lead elsewhere, hostile input ------------

@pytest.mark.parametrize("host", ["evil.com/.googlesource.com", "evil.com#.googlesource.com",
                                  "evil.com@.googlesource.com", "evil.com%2f.googlesource.com",
                                  "evil.com\\.googlesource.com", "a.googlesource.com:x", "a.googlesource.com:99999"])
@pytest.mark.parametrize("args", [(), ("--profile", "t")], ids=["global", "with-profile"])
def test_a_host_that_is_not_a_dns_name_or_ip_literal_gets_no_answer(world, host, args):
    _, env = world
    done = helper(env, *args, "get", input=f"protocol=https\nhost={host}\n\n")
    assert (done.returncode, done.stdout) == (0, ""), done.stderr


@pytest.mark.parametrize("path", ["team-a/../team-b", "team-a/./../team-b/repo", "team-a/%2e%2e/team-b",
                                  "team-a%2f..%2fteam-b", "team-a/..", "./team-a/repo",
                                  # what servers also read as '..': Tomcat/Spring path parameters, a second
                                  # decoding, IIS %u escapes, overlong UTF-8, fullwidth dots (NFKC), Windows'
                                  # trailing dots and spaces, a NUL
                                  "team-a/..;/team-b", "team-a/..;jsessionid=1/team-b", "team-a/%2e%2e;x/team-b",
                                  "team-a/%252e%252e/team-b", "team-a%252f..%252fteam-b", "team-a/%25252e%25252e/b",
                                  "team-a/%u002e%u002e/team-b", "team-a/%c0%ae%c0%ae/team-b",
                                  "team-a/\uff0e\uff0e/team-b", "team-a/%ef%bc%8e%ef%bc%8e/team-b",
                                  "team-a/..%20/team-b", "team-a/.../team-b", "team-a/..%00/team-b",
                                  "team-a/.%09./team-b", "team-a/;/../team-b"])
def test_a_path_with_dot_segments_gets_no_answer(tmp_path, world, emulator, sample, path):
    _, env = world
    config = write_profiles(tmp_path / "paths.ini", emulator.url, {"t": {"source": sample.source_key,
                                                                         "target": sample.target}})
    with open(config, "a") as f:
        f.write("[git]\nhttps://git.example.com/team-a = t\n")
    env = {**env, "CREDHELPER_CONFIG": config}
    ok = helper(env, "get", input="protocol=https\nhost=git.example.com\npath=team-a//repo.git\n\n")
    assert ok.returncode == 0 and "password=" in ok.stdout, ok.stderr  # the normalised path matches
    done = helper(env, "get", input=f"protocol=https\nhost=git.example.com\npath={path}\n\n")
    assert (done.returncode, done.stdout) == (0, ""), done.stderr
    done = helper(env, "get", input=f"url=https://git.example.com/{path}\n\n")
    assert (done.returncode, done.stdout) == (0, ""), done.stderr


def test_an_unclosed_ipv6_url_is_a_protocol_error(world):
    _, env = world
    done = helper(env, "--profile", "t", "get", input="url=https://[::1\n\n")
    assert done.returncode == 2 and done.stdout == "" and "not a valid URL" in done.stderr
    assert "internal error" not in done.stderr


def test_a_closed_stdin_is_a_protocol_error(world):
    _, env = world
    done = subprocess.run(["git-credential-credhelper", "--profile", "t", "get"], env=env, capture_output=False,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60,
                          preexec_fn=lambda: os.close(0))
    assert done.returncode == 2 and done.stdout == "" and "stdin is closed" in done.stderr
