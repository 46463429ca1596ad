"""The command line: a cache hit builds only the parser of its own command, with the same result."""

import contextlib
import io

import pytest

from credhelper import cli


def full_parser_commands():
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    return list(sub.choices)


def test_commands_lists_every_subcommand_in_order():
    assert full_parser_commands() == list(cli.COMMANDS)


@pytest.mark.parametrize("argv, word", [
    (["print-access-token"], "print-access-token"),
    (["-v", "git-credential", "get"], "git-credential"),
    (["-vv", "--verbose", "kubectl"], "kubectl"),
    (["--help"], None), (["--version"], None), (["print-acess-token"], None), ([], None),
    (["-p", "x", "print-access-token"], None),
])
def test_the_command_word_is_found_only_where_parsing_would_find_it(argv, word):
    assert cli._command_word(argv) == word


def run_main(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit:
        cli.main(argv)
    return exit.value.code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("command", cli.COMMANDS)
def test_a_command_alone_parses_and_helps_exactly_as_in_the_whole_parser(command):
    alone = cli.build_parser(only=command)
    (sub,) = [a for a in alone._actions if a.dest == "command"]
    assert list(sub.choices) == [command]
    whole = cli.build_parser()
    (whole_sub,) = [a for a in whole._actions if a.dest == "command"]
    assert sub.choices[command].format_help() == whole_sub.choices[command].format_help()
    status, out, _ = run_main([command, "--help"])
    assert status == 0 and out == whole_sub.choices[command].format_help()


def test_a_misspelt_command_gets_the_whole_parser_and_a_suggestion_free_usage_error():
    status, _, err = run_main(["print-acess-token"])
    assert status == cli.EXIT_USAGE
    assert "invalid choice" in err and "print-access-token" in err  # the choices are listed
