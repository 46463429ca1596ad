"""The command line: the helpers' usual command lines parse without argparse, to exactly argparse's answer."""

import contextlib
import importlib
import io
import json
import os
import shutil
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credhelper import cli, commandtable


def full_parser_commands():
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    return list(sub.choices)


def test_the_parser_has_exactly_the_command_table_in_order():
    assert full_parser_commands() == list(cli.COMMANDS) == [row.name for row in commandtable.COMMANDS]


@pytest.mark.parametrize("path,row", list(commandtable.walk()), ids=lambda x: " ".join(x) if isinstance(x, tuple) else "")
def test_every_row_names_a_handler_and_writer_that_exist(path, row):
    for name in (row.handler, row.report):
        if name:
            module, _, func = name.partition(":")
            assert callable(getattr(importlib.import_module(module), func)), name
    assert row.handler or row.sub_required, f"{' '.join(path)}: no handler and no required subcommand"


def run_main(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit:
        cli.main(argv)
    return exit.value.code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("command", cli.COMMANDS)
def test_every_command_helps_with_an_example(command):
    whole = cli.build_parser()
    (whole_sub,) = [a for a in whole._actions if a.dest == "command"]
    status, out, _ = run_main([command, "--help"])
    assert status == 0 and out == whole_sub.choices[command].format_help() and "example:" in out


def test_a_misspelt_command_is_a_usage_error_listing_the_commands():
    status, _, err = run_main(["print-acess-token"])
    assert status == cli.EXIT_USAGE
    assert "invalid choice" in err and "print-access-token" in err  # the choices are listed


# -- the hot path without argparse gives exactly argparse's answer, or none ----------------------------

VOCABULARY = ["print-access-token", "git-credential", "docker-credential", "kubectl", "executable", "whoami",
              "-v", "-vv", "--verbose", "--config", "--config=p.ini", "--profile", "--profile=", "-p", "-p=x", "-px",
              "--prof", "--format", "-f", "--format=json", "json", "xml", "--no-cache", "--no-cache=1", "--refresh",
              "--scopes", "--lifetime", "30m", "--source", "--impersonate-service-account", "a@b.cc", "get", "store",
              "", "-", "--", "-h", "--help", "--version", "-5", "demo", "print-identity-token", "--audience",
              "--audiences=a", "--include-email", "sign-jwt", "--claims", "c.json", "doctor", "profiles", "exec"]


def argparse_answer(argv):
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            return vars(cli.parse_args(argv))
    except SystemExit:
        return None


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(VOCABULARY), max_size=7))
def test_parse_fast_agrees_with_argparse_or_steps_aside(argv):
    fast = cli.parse_fast(argv)
    if fast is not None:
        assert vars(fast) == argparse_answer(argv)


@pytest.mark.parametrize("argv", [
    ["print-access-token"], ["-v", "print-access-token", "--profile", "p", "--format=json", "--no-cache"],
    ["print-access-token", "-p", "x", "-f", "header", "--refresh", "--scopes", "a,b", "--lifetime", "30m",
     "--config", "c.ini", "--source", "k.json", "--impersonate-service-account=a@b.cc"],
    ["git-credential", "get"], ["git-credential", "--profile", "x", "get"], ["git-credential", "store", "-p", "y"],
    ["docker-credential", "get"], ["docker-credential", "--config=c.ini", "list"],
    ["kubectl"], ["kubectl", "--profile=gke"], ["executable", "--profile", "wif"], ["-vv", "--verbose", "kubectl"],
    ["whoami"], ["-p", "deploy", "print-access-token"], ["--config", "c.ini", "-v", "--profile=x", "kubectl"],
    ["-p", "a", "git-credential", "--profile", "b", "get"],
])
def test_the_helpers_usual_command_lines_take_the_fast_path(argv):
    fast = cli.parse_fast(argv)
    assert fast is not None and vars(fast) == argparse_answer(argv)


@pytest.mark.parametrize("argv", [
    ["print-access-token", "--help"], ["print-access-token", "--prof", "x"], ["print-access-token", "-px"],
    ["print-access-token", "--format", "xml"], ["git-credential"], ["git-credential", "get", "store"],
    ["kubectl", "--profile"], ["kubectl", "--profile", "-x"], ["--version"], [], ["kubectl", "-v"],
    ["kubectl", "-p=x"], ["print-access-token", "-f=json"], ["git-credential", "-", "get"], ["kubectl", "--", "x"],
])
def test_everything_else_goes_to_argparse(argv):
    assert cli.parse_fast(argv) is None


# -- options before the command ------------------------------------------------------------------

@pytest.mark.parametrize("argv,profile,config", [
    (["-p", "deploy", "print-access-token"], "deploy", None),
    (["--profile", "deploy", "--config", "f.ini", "print-access-token"], "deploy", "f.ini"),
    (["--config", "f.ini", "doctor"], None, "f.ini"),
    (["-v", "--profile=deploy", "exec", "--", "true"], "deploy", None),
    (["-p", "outer", "kubectl", "-p", "inner"], "inner", None),  # the command's own option wins
])
def test_profile_and_config_before_the_command_apply_to_it(argv, profile, config):
    args = cli.parse_args(argv)
    assert (args.profile, args.config) == (profile, config)
    assert not any(name.startswith("global_") for name in vars(args))


def test_an_option_before_a_command_that_does_not_take_it_is_a_usage_error():
    status, _, err = run_main(["-p", "deploy", "demo"])
    assert status == cli.EXIT_USAGE and "demo takes no --profile" in err


@pytest.mark.parametrize("argv,usage,suggestion", [
    (["print-access-token", "--profle", "x"], "usage: credhelper print-access-token", "did you mean --profile?"),
    (["configure", "git", "--hots", "h"], "usage: credhelper configure git", "did you mean --host?"),
    (["cache", "clear", "--prfile=x"], "usage: credhelper cache clear", "did you mean --profile?"),
])
def test_a_mistyped_option_gets_its_commands_usage_and_a_suggestion(argv, usage, suggestion):
    status, _, err = run_main(argv)
    assert status == cli.EXIT_USAGE and err.startswith(usage) and suggestion in err


# -- one failure path ----------------------------------------------------------------------------

PROTOCOL_ROWS = [row for row in commandtable.COMMANDS if row.handler and ".protocols." in row.handler]


def broken_handler(monkeypatch, row):
    module, _, func = row.handler.partition(":")

    def boom(args, *a, **kw):
        raise RuntimeError("secret-looking message that must not be shown")

    monkeypatch.setattr(importlib.import_module(module), func, boom)


ARGV = {"git-credential": ["git-credential", "get"], "docker-credential": ["docker-credential", "get"]}


@pytest.mark.parametrize("row", PROTOCOL_ROWS, ids=lambda r: r.name)
def test_an_internal_error_in_a_protocol_is_named_by_type_where_its_client_reads(monkeypatch, capfd, row):
    broken_handler(monkeypatch, row)
    monkeypatch.delenv("CREDHELPER_DEBUG_TRACEBACK", raising=False)
    assert cli.main(ARGV.get(row.name, [row.name])) == cli.EXIT_AUTH
    out, err = capfd.readouterr()
    shown = out if row.report else err
    assert "internal error (RuntimeError)" in shown and "secret-looking" not in out + err
    assert (out if not row.report else err) == ""


@pytest.mark.parametrize("row", PROTOCOL_ROWS, ids=lambda r: r.name)
def test_debug_traceback_takes_effect_in_every_protocol(monkeypatch, row):
    broken_handler(monkeypatch, row)
    monkeypatch.setenv("CREDHELPER_DEBUG_TRACEBACK", "1")
    with pytest.raises(RuntimeError):
        cli.main(ARGV.get(row.name, [row.name]))


def test_a_protocol_error_gets_the_rows_writer_and_the_errors_exit_code(capfd):
    status = cli.run_handler(lambda args: (_ for _ in ()).throw(cli.CredhelperError("no", hint="fix it")), None,
                             "credhelper.protocols.executable:write_error", quiet=True)
    out, err = capfd.readouterr()
    assert status == 1 and err == ""
    assert json.loads(out) == {"version": 1, "success": False, "code": "CREDHELPER_ERROR", "message": "no; fix: fix it"}


def test_warnings_from_google_modules_are_hidden_and_others_shown(tmp_path):
    """google-auth's import-time warnings never reach a protocol's stderr; the filter is matched without re."""
    code = ("import sys\nfrom credhelper import cli\n"
            "cli.main(['profiles', 'list', '--config', sys.argv[1]])\n"
            "for name in ('google', 'google.auth._default', 'googleapiclient', 'other'):\n"
            "    exec('import warnings; warnings.warn(\"warned by \" + __name__)', {'__name__': name})\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "absent.ini")], capture_output=True, text=True,
                         timeout=60)
    warned = sorted(line.split("warned by ")[1] for line in out.stderr.splitlines() if "warned by " in line)
    assert warned == ["googleapiclient", "other"], out.stderr


# -- the launchers (setup.py) ------------------------------------------------------------------------------

@pytest.mark.skipif(os.name == "nt", reason="POSIX launchers")
def test_the_launchers_run_from_an_environment_whose_path_has_a_space(tmp_path):
    """A plain `#!python` script gets a `#!` line naming the interpreter, which the kernel cuts at the first
    space (and past 127 bytes on older kernels): git-credential-credhelper then did not start at all in
    ~/My Projects/venv. pip's console_scripts wrappers go through /bin/sh there, and setup.py uses them.
    And the helper `configure git` writes must be one git can run from there."""
    venv = tmp_path / "My Projects" / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    installed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps", root],
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr
    env = {**os.environ, "CREDHELPER_CONFIG": str(tmp_path / "none.ini")}
    for name, argv, expected in [("credhelper", ["--version"], "credhelper"),
                                 ("git-credential-credhelper", ["frobnicate"], ""),
                                 ("docker-credential-credhelper", ["version"], "credhelper")]:
        done = subprocess.run([str(venv / "bin" / name), *argv], capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0 and expected in done.stdout, (name, done.returncode, done.stderr)
    # configure git, then git itself: the helper runs (and says its token endpoint does not answer)
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    user = home / "user.json"
    user.write_text(json.dumps({"type": "authorized_user", "client_id": "id", "client_secret": "not-a-secret",
                                "refresh_token": "not-a-token"}))
    user.chmod(0o600)
    config = home / "profiles.ini"
    config.write_text(f"[default]\nsource = {user}\ntoken_endpoint = http://127.0.0.1:9/token\n"
                      "[git]\nexample.com = default\n")
    config.chmod(0o600)
    env = {**env, "HOME": str(home), "CREDHELPER_CONFIG": str(config), "GIT_TERMINAL_PROMPT": "0",
           "GIT_CONFIG_NOSYSTEM": "1", "XDG_CONFIG_HOME": str(home / ".config"), "CREDHELPER_DEADLINE_SECS": "3",
           "PATH": f"{venv / 'bin'}{os.pathsep}{os.path.dirname(shutil.which('git'))}"}
    configured = subprocess.run([str(venv / "bin" / "credhelper"), "configure", "git", "--host", "example.com"],
                                capture_output=True, text=True, timeout=120, env=env)
    assert configured.returncode == 0, configured.stderr
    fill = subprocess.run(["git", "credential", "fill"], input="protocol=https\nhost=example.com\n\n",
                          capture_output=True, text=True, timeout=120, env=env)
    assert "not a git command" not in fill.stderr and "credhelper: " in fill.stderr, fill.stderr
