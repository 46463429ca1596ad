"""The command line: the helpers' usual command lines parse without argparse, to exactly argparse's answer."""

import contextlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credhelper import cli


def full_parser_commands():
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    return list(sub.choices)


def test_commands_lists_every_subcommand_in_order():
    assert full_parser_commands() == list(cli.COMMANDS)


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
              "", "-", "--", "-h", "--help", "--version", "-5"]


def argparse_answer(argv):
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            return vars(cli.build_parser().parse_args(argv))
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
])
def test_the_helpers_usual_command_lines_take_the_fast_path(argv):
    fast = cli.parse_fast(argv)
    assert fast is not None and vars(fast) == argparse_answer(argv)


@pytest.mark.parametrize("argv", [
    ["print-access-token", "--help"], ["print-access-token", "--prof", "x"], ["print-access-token", "-px"],
    ["print-access-token", "--format", "xml"], ["git-credential"], ["git-credential", "get", "store"],
    ["kubectl", "--profile"], ["kubectl", "--profile", "-x"], ["--version"], [], ["whoami"], ["kubectl", "-v"],
    ["kubectl", "-p=x"], ["print-access-token", "-f=json"], ["git-credential", "-", "get"], ["kubectl", "--", "x"],
])
def test_everything_else_goes_to_argparse(argv):
    assert cli.parse_fast(argv) is None
