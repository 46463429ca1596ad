"""The documentation cannot drift from the code.

  - every page in man/ lints clean with mandoc;
  - credhelper(1) documents exactly the commands and options of cli.build_parser(): one
    subsection per command under COMMANDS whose synopsis lists that command's options (required
    ones bare, optional ones in .Op, a value where the option takes one, named by its metavar),
    and no option the CLI lacks anywhere on the page;
  - its EXIT STATUS lists exactly the exit codes of errors.py and exec, and its ENVIRONMENT every
    variable credhelper reads (every CREDHELPER_* name in credhelper/, and the names read through
    env.get / environ[...] / getenv);
  - credhelper-profiles(5) documents exactly the profile keys, cache keys and cache backends of
    profile.py, each key with its default, every source type, and its examples parse;
  - every command's --help ends with an example that the parser accepts;
  - README.md names the test command, the demo, every command, a quick start per protocol and the
    benchmark, and every credhelper command line in it (and in the man pages) parses;
  - setup.cfg installs every page into the right man section.
"""

import argparse
import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from credhelper import arguments, cache, cli, errors, execute, profile

ROOT = Path(__file__).resolve().parent.parent
MAN = ROOT / "man"
PAGES = sorted(p for p in MAN.iterdir() if re.fullmatch(r"[a-z-]+\.[1-9]", p.name))
README = ROOT / "README.md"
ENTRY_POINTS = {"credhelper": [], "git-credential-credhelper": ["git-credential"],
                "docker-credential-credhelper": ["docker-credential"]}


# -- roff helpers -------------------------------------------------------------------------------

def unescape(text):
    """mdoc source text -> what a reader sees (enough for comparing names and shell lines)."""
    for old, new in ((r"\(dq", '"'), (r"\(aq", "'"), (r"\-", "-"), (r"\&", ""), (r"\e", "\\"), (r"\ ", " "),
                     (r"\:", "")):
        text = text.replace(old, new)
    return text


def page_lines(path):
    return [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith('.\\"')]


def sections(path, macro=".Sh"):
    """{section title: [lines]} for .Sh (or .Ss) headings, in page order."""
    out, current = {}, None
    for line in page_lines(path):
        if line.startswith(macro + " "):
            current = unescape(line[len(macro) + 1:]).strip().strip('"')
            out[current] = []
        elif macro == ".Ss" and line.startswith(".Sh "):
            current = None
        elif current is not None:
            out[current].append(line)
    return out


def subsections(lines):
    """{subsection title: [lines]} for the .Ss headings inside one section's lines."""
    out, current = {}, None
    for line in lines:
        if line.startswith(".Ss "):
            current = unescape(line[4:]).strip()
            out[current] = []
        elif current is not None:
            out[current].append(line)
    return out


def list_items(lines, depth=1):
    """The .It lines of a section's lists at the given nesting depth (1: the outermost list)."""
    items, level = [], 0
    for line in lines:
        if line.startswith(".Bl"):
            level += 1
        elif line.startswith(".El"):
            level -= 1
        elif line.startswith(".It") and level == depth:
            items.append(line)
    return items


def item_bodies(lines, depth=1):
    """{.It line: [body lines up to the next item of that depth]} for one section's lists."""
    out, level, current = {}, 0, None
    for line in lines:
        if line.startswith(".Bl"):
            level += 1
        elif line.startswith(".El"):
            level -= 1
            if level < depth:
                current = None
        if line.startswith(".It") and level == depth:
            current = line
            out[current] = []
        elif current is not None:
            out[current].append(line)
    return out


MACRO = re.compile(r"^[A-Z][a-z]{1,2}$")
PUNCT = {",", ".", ";", ":", "(", ")", "[", "]", "|", "?", "!"}


def words(line):
    return line[1:].split() if line.startswith(".") else []


def flags_in(lines):
    """Every option written with Fl in these lines: 'Fl \\-profile' -> '--profile', 'Fl p' -> '-p'."""
    found = []
    for line in lines:
        w = words(line)
        for i, word in enumerate(w):
            if word == "Fl" and i + 1 < len(w) and not MACRO.match(w[i + 1]) and w[i + 1] not in PUNCT:
                flag = "-" + unescape(w[i + 1]).rstrip(",.;:)")
                if flag.strip("-"):
                    found.append(flag)
    return found


def literal_blocks(path):
    """The text of each .Bd -literal ... .Ed display, unescaped."""
    blocks, current = [], None
    for line in page_lines(path):
        if line.startswith(".Bd") and "-literal" in line:
            current = []
        elif line.startswith(".Ed") and current is not None:
            blocks.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(unescape(line))
    return blocks


def plain(lines):
    """Lines of mdoc as running text, macro names dropped: '.Li https://x' -> 'https://x'."""
    out = []
    for line in lines:
        if line.startswith("."):
            line = " ".join(w for w in line[1:].split() if not MACRO.match(w))
        out.append(unescape(line))
    return " ".join(out)


def page_text(path):
    return unescape(path.read_text(encoding="utf-8"))


# -- the parser ---------------------------------------------------------------------------------

def commands(parser=None, path=()):
    """{("configure", "git"): its ArgumentParser, ...} for every command and subcommand."""
    parser = parser or cli.build_parser()
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out[(*path, name)] = sub
                out.update(commands(sub, (*path, name)))
    return out


def options(parser):
    """The optional actions of one parser, without --help and subcommands."""
    return [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]


def positionals(parser):
    return [a for a in parser._actions if not a.option_strings and not isinstance(a, argparse._SubParsersAction)]


def canonical(action):
    return next(s for s in action.option_strings if s.startswith("--"))


def all_option_strings():
    strings = {s for a in cli.build_parser()._actions for s in a.option_strings}
    for sub in commands().values():
        strings |= {s for a in sub._actions for s in a.option_strings}
    return strings


# -- mandoc ---------------------------------------------------------------------------------------

def _mandoc():
    path = shutil.which("mandoc")
    if path is None:
        if os.environ.get("CREDHELPER_TEST_TMP"):  # set by tests/run, which installs mandoc
            pytest.fail("mandoc is not installed, but tests/run should have installed it")
        pytest.skip("mandoc is not installed (tests/run installs it)")
    return path


# "referenced manual not found" is a STYLE note about the machine, not the page: the credhelper
# pages are not installed while the tests run, and gcloud(1), kubectl(1) or gitcredentials(7) may
# not be either. test_cross_references_resolve checks the references among our own pages instead.
IGNORED_STYLE = ("referenced manual not found",)


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_man_page_lints_clean(page):
    """mandoc -T lint at its most demanding level (-W style): nothing but the one ignored note."""
    done = subprocess.run([_mandoc(), "-T", "lint", "-W", "style", str(page)], capture_output=True, text=True,
                          timeout=60)
    messages = [line for line in (done.stdout + done.stderr).splitlines()
                if line.startswith(f"mandoc: {page}:")]  # not the notes about the system's mandoc.db
    problems = [m for m in messages if not any(note in m for note in IGNORED_STYLE)]
    assert not problems, "\n".join(problems)
    # at warning level mandoc must also exit 0
    strict = subprocess.run([_mandoc(), "-T", "lint", "-W", "warning", str(page)], capture_output=True, text=True,
                            timeout=60)
    assert strict.returncode == 0 and not strict.stdout.strip(), strict.stdout + strict.stderr


def test_there_are_the_five_pages():
    assert [p.name for p in PAGES] == ["credhelper-emulator.7", "credhelper-profiles.5",
                                      "credhelper-protocols.7", "credhelper-security.7", "credhelper.1"]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_header_matches_file_name(page):
    name, section = page.name.rsplit(".", 1)
    dt = next(line for line in page_lines(page) if line.startswith(".Dt "))
    assert dt.split()[1:] == [name.upper(), section]
    nm = next(line for line in page_lines(page) if line.startswith(".Nm "))
    assert nm.split()[1].rstrip(",") == name


def test_cross_references_resolve():
    have = {p.name for p in PAGES}
    for page in PAGES:
        for line in page_lines(page):
            w = words(line)
            for i, word in enumerate(w):
                if word == "Xr" and w[i + 1].startswith("credhelper"):
                    assert f"{w[i + 1]}.{w[i + 2]}" in have, f"{page.name}: {line}"


# -- credhelper(1) against the parser -----------------------------------------------------------------

def command_sections():
    return subsections(sections(MAN / "credhelper.1")["COMMANDS"])


def synopsis(lines):
    """A command subsection's synopsis: its lines up to the first paragraph break."""
    out = []
    for line in lines:
        if line.startswith(".Pp"):
            break
        out.append(line)
    return out


def synopsis_entries(lines):
    """{flag: {"optional": bool, "arg": str or None}} and the positional names, from synopsis lines."""
    flags, args = {}, []
    for line in lines:
        w = words(line)
        if not w:
            continue
        optional = w[0] == "Op"
        body = w[1:] if optional else w
        if body and body[0] == "Fl" and len(body) > 1 and not MACRO.match(body[1]):
            flag = "-" + unescape(body[1])
            arg = unescape(" ".join(body[3:])) if len(body) > 2 and body[2] == "Ar" else None
            if flag != "--":
                flags[flag] = {"optional": optional, "arg": arg}
        elif body and body[0] == "Ar":
            args.append((unescape(body[1]), optional))
    return flags, args


def test_every_command_has_a_subsection_and_every_subsection_a_command():
    documented = set(command_sections())
    actual = {" ".join(path) for path in commands()}
    assert documented - actual == set(), "documented in credhelper.1 but not in the CLI"
    assert actual - documented == set(), "in the CLI but without a subsection under COMMANDS in credhelper.1"


@pytest.mark.parametrize("path", sorted(commands()), ids=lambda p: " ".join(p))
def test_command_synopsis_matches_its_options(path):
    parser = commands()[path]
    documented = command_sections()
    assert " ".join(path) in documented, f"credhelper.1 has no subsection .Ss {' '.join(path)} under COMMANDS"
    lines = documented[" ".join(path)]
    syn = synopsis(lines)
    assert syn and syn[0] == ".Nm" and unescape(" ".join(words(syn[1])[1:])) == " ".join(path), \
        f"the subsection of {' '.join(path)} must open with its synopsis: .Nm, then .Cm {' '.join(path)}"
    flags, args = synopsis_entries(syn)
    wanted = {canonical(a): a for a in options(parser)}
    assert set(flags) - set(wanted) == set(), f"credhelper.1 lists options that {' '.join(path)} lacks"
    assert set(wanted) - set(flags) == set(), f"{' '.join(path)} has options missing from its synopsis"
    for flag, action in wanted.items():
        entry = flags[flag]
        assert entry["optional"] == (not action.required), f"{flag}: .Op exactly when the option is optional"
        takes_value = action.nargs != 0
        assert (entry["arg"] is not None) == takes_value, f"{flag}: an Ar exactly when the option takes a value"
        if takes_value and action.metavar:
            assert entry["arg"] == action.metavar, f"{flag}: the synopsis names its value {action.metavar}"
    documented_args = {name for name, _ in args}
    for action in positionals(parser):
        names = re.findall(r"[A-Z][A-Z_]+", action.metavar or action.dest.upper())
        assert names and set(names) <= documented_args, f"{' '.join(path)}: positional {action.metavar}"
        if action.nargs == "?":
            assert dict(args)[names[0]], f"{' '.join(path)}: an optional {names[0]} goes in .Op"
    # aliases and short forms (-p, -f, -o, --audiences) are described in this subsection or under OPTIONS
    described = set(flags_in(lines)) | set(flags_in(sections(MAN / "credhelper.1")["OPTIONS"]))
    for action in options(parser):
        missing = set(action.option_strings) - described
        assert not missing, f"{' '.join(path)}: {sorted(missing)} not described in credhelper.1"


def test_global_options_are_documented():
    documented = set(flags_in(subsections(sections(MAN / "credhelper.1")["OPTIONS"])["Global options"]))
    for action in cli.build_parser()._actions:
        assert set(action.option_strings) <= documented, action.option_strings


def test_no_option_on_the_page_is_missing_from_the_cli():
    known = all_option_strings()
    shorts = {s[1] for s in known if re.fullmatch(r"-[a-zA-Z]", s)}
    for flag in flags_in(page_lines(MAN / "credhelper.1")):
        if flag.startswith("--"):
            assert flag in known, f"credhelper.1 documents {flag}, which no command has"
        else:  # -p, -hv, -vv
            assert set(flag[1:]) <= shorts, f"credhelper.1 documents {flag}, which no command has"


def test_name_section_lists_the_entry_points():
    import ast

    tree = ast.parse((ROOT / "setup.py").read_text())
    launchers = next(ast.literal_eval(node.value) for node in tree.body
                     if isinstance(node, ast.Assign) and node.targets[0].id == "LAUNCHERS")
    scripts = set(launchers)
    assert scripts == set(ENTRY_POINTS) == {p.name for p in (ROOT / "scripts").iterdir()}
    for name, func in launchers.items():  # each POSIX script calls the function its Windows entry point names
        assert f"from credhelper.cli import {func}\n" in (ROOT / "scripts" / name).read_text()
    name = sections(MAN / "credhelper.1")["NAME"]
    assert {words(line)[1] for line in name if line.startswith(".Nm ")} == scripts


def test_exit_status_matches_the_code():
    codes = {v for k, v in vars(errors).items() if k.startswith("EXIT_")}
    codes |= {v for k, v in vars(execute).items() if k.startswith("EXIT_") and isinstance(v, int)}
    documented = {int(words(line)[1]) for line in list_items(sections(MAN / "credhelper.1")["EXIT STATUS"])}
    assert documented == codes
    in_help = {int(m) for m in re.findall(r"^\s+(\d+)\s", arguments.EXIT_CODES_EPILOG, re.MULTILINE)}
    assert in_help == {v for k, v in vars(errors).items() if k.startswith("EXIT_")}


def _sources():
    return sorted((ROOT / "credhelper").rglob("*.py"))


READ_PATTERNS = (
    r"""(?:environ|env)\s*\.get\(\s*["']([A-Z][A-Z0-9_]+)["']""",
    r"""(?:environ|env)\s*\[\s*["']([A-Z][A-Z0-9_]+)["']\s*\]""",
    r"""getenv\(\s*["']([A-Z][A-Z0-9_]+)["']""",
    r"""_env\(\s*\w+\s*,\s*["']([A-Z][A-Z0-9_]+)["']""",
    r"""["']([A-Z][A-Z0-9_]+)["']\s+in\s+(?:os\.)?environ""",
)


def environment_documented():
    return {unescape(w[i + 1]) for line in sections(MAN / "credhelper.1")["ENVIRONMENT"]
            for w in [words(line)] for i, word in enumerate(w[:-1]) if word == "Ev"}


def test_environment_variables_read_by_credhelper_are_documented():
    documented = environment_documented()
    read, ours, codes = set(), set(), set()
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        for pattern in READ_PATTERNS:
            read |= set(re.findall(pattern, text))
        ours |= set(re.findall(r"""["'](CREDHELPER_[A-Z0-9_]+)["']""", text))
        codes |= set(re.findall(r"""\bcode\s*=\s*["'](CREDHELPER_[A-Z0-9_]+)["']""", text))  # error codes
    assert {"CREDHELPER_CONFIG", "CREDHELPER_PROFILE", "CREDHELPER_DEADLINE_SECS"} <= read  # the scan works
    missing = (read | (ours - codes)) - documented
    assert not missing, f"read by credhelper but not under ENVIRONMENT in credhelper.1: {sorted(missing)}"
    stale = {name for name in documented if name.startswith("CREDHELPER_")} - ours
    assert not stale, f"documented in credhelper.1 but nowhere in credhelper/: {sorted(stale)}"


# -- credhelper-profiles(5) against profile.py ----------------------------------------------------------

def keys_in(section_lines, depth=1):
    return [unescape(words(line)[2]) for line in list_items(section_lines, depth) if words(line)[1:2] == ["Cm"]]


def profile_key_bodies():
    bodies = item_bodies(sections(MAN / "credhelper-profiles.5")["PROFILE KEYS"])
    return {unescape(words(k)[2]): plain(v) for k, v in bodies.items() if words(k)[1:2] == ["Cm"]}


def test_profile_keys_are_exactly_those_the_parser_accepts():
    documented = keys_in(sections(MAN / "credhelper-profiles.5")["PROFILE KEYS"])
    assert sorted(documented) == sorted(profile.PROFILE_KEYS)


def test_cache_keys_and_backends_are_exactly_those_the_parser_accepts():
    lines = sections(MAN / "credhelper-profiles.5")["THE CACHE SECTION"]
    assert sorted(keys_in(lines)) == sorted(profile.CACHE_KEYS)
    assert sorted(keys_in(lines, depth=2)) == sorted(profile.CACHE_BACKENDS) == sorted(cache.BACKENDS)


def test_every_key_states_its_default():
    from credhelper.source import GOOGLE_IAM_BASE, GOOGLE_STS_BASE, GOOGLE_TOKEN_URI

    bodies = profile_key_bodies()
    for key in profile.PROFILE_KEYS:
        assert key in bodies, f"credhelper-profiles.5 does not describe {key}"
        assert "Default" in bodies[key] or "default" in bodies[key], f"{key}: no default stated"
    assert f"Default: {profile.DEFAULT_LIFETIME_SECS} seconds" in bodies["lifetime"]
    assert f"{profile.MAX_LIFETIME_SECS} seconds" in bodies["lifetime"]
    assert f"Default: {profile.REFRESH_MARGIN_SECS} seconds" in bodies["refresh_margin"]
    assert f"Default: {profile.DEFAULT_SCOPES[0]}" in bodies["scopes"] and len(profile.DEFAULT_SCOPES) == 1
    assert GOOGLE_IAM_BASE in bodies["iam_endpoint"]
    assert GOOGLE_STS_BASE in bodies["sts_endpoint"]
    assert GOOGLE_TOKEN_URI in bodies["token_endpoint"]
    assert "metadata.google.internal" in bodies["metadata_host"]
    cache_bodies = item_bodies(sections(MAN / "credhelper-profiles.5")["THE CACHE SECTION"])
    lock = next(plain(v) for k, v in cache_bodies.items() if "lock_timeout" in k)
    assert f"Default: {cache.DEFAULT_LOCK_TIMEOUT_SECS} seconds" in lock
    backend = next(plain(v) for k, v in cache_bodies.items() if "backend" in k)
    assert "This is the default" in backend


def test_every_source_type_is_documented():
    source = profile_key_bodies()["source"]
    for kind in (*profile.CREDENTIAL_TYPES, "adc", "metadata", "profile:"):
        assert kind in source, kind
    examples = unescape(" ".join(sections(MAN / "credhelper-profiles.5")["SOURCE EXAMPLES"]))
    for kind in profile.CREDENTIAL_TYPES:  # an example for each source type
        assert kind in examples, kind


def test_sections_are_documented():
    text = page_text(MAN / "credhelper-profiles.5")
    for name in re.findall(r"\[([a-z]+)", profile.SECTIONS_HELP):
        assert f"[{name}" in text, name
    titles = sections(MAN / "credhelper-profiles.5")
    assert {"THE CACHE SECTION", "THE GIT SECTION", "THE DOCKER SECTION"} <= set(titles)


def test_google_hosts_are_documented():
    from credhelper.protocols import docker, git

    for page, section in ((MAN / "credhelper-profiles.5", "THE GIT SECTION"),):
        text = unescape(" ".join(sections(page)[section]))
        assert all(host in text for host in git.GOOGLE_HOSTS)
    text = unescape(" ".join(sections(MAN / "credhelper-profiles.5")["THE DOCKER SECTION"]))
    assert all(host in text for host in docker.GOOGLE_REGISTRIES)
    protocols = page_text(MAN / "credhelper-protocols.7")
    assert all(host in protocols for host in (*git.GOOGLE_HOSTS, *docker.GOOGLE_REGISTRIES))


def ini_blocks():
    """(where, text) of every profile-file example: man page displays and README ini blocks."""
    out = []
    for page in PAGES:
        for i, block in enumerate(literal_blocks(page)):
            if block.lstrip().startswith("["):
                out.append((f"{page.name} display {i + 1}", block))
            for m in re.finditer(r"<<\s*'?EOF'?\n(.*?)\nEOF", block, re.DOTALL):  # heredocs in examples
                if m.group(1).lstrip().startswith("["):
                    out.append((f"{page.name} heredoc", m.group(1)))
    for i, m in enumerate(re.finditer(r"```ini\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)):
        out.append((f"README.md ini block {i + 1}", m.group(1)))
    return out


def test_profile_examples_parse():
    blocks = ini_blocks()
    assert len(blocks) >= 10
    for where, text in blocks:
        try:
            config = profile.parse_config(text, where)
        except errors.ProfileError as exc:
            pytest.fail(f"{where} does not parse: {exc}")
        if config.cache:
            config.cache_backend()
            config.lock_timeout_secs()


# -- --help -----------------------------------------------------------------------------------------

def example_lines(help_text):
    """The lines under 'example:' in a help text."""
    m = re.search(r"^example:\n((?:  .*\n)+)", help_text, re.MULTILINE)
    return [line.strip() for line in m.group(1).splitlines()] if m else []


@pytest.mark.parametrize("path", [()] + sorted(commands()), ids=lambda p: " ".join(p) or "credhelper")
def test_help_shows_an_example_the_parser_accepts(path):
    parser = commands()[path] if path else cli.build_parser()
    text = parser.format_help()
    lines = example_lines(text)
    assert lines, f"credhelper {' '.join(path)} --help has no example"
    invocations = [inv for line in lines for inv in credhelper_invocations(line)]
    # git-credential's example is the git config line that makes git run it
    assert invocations or "credhelper" in " ".join(lines), f"the example of {' '.join(path)} is not about credhelper"
    for argv in invocations:
        check_parses(argv, f"the --help example of {' '.join(path) or 'credhelper'}")
    assert "exit codes:" in text


def test_help_of_the_installed_command_shows_the_example():
    done = subprocess.run([sys.executable, "-m", "credhelper", "print-access-token", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "example:\n  credhelper print-access-token" in done.stdout


# -- command lines in the docs ------------------------------------------------------------------------

OPERATORS = {"|", "||", "&", "&&", ";", ";;", ">", ">>", "<", "<<", "(", ")", "<<<", "2>", "&>"}


def credhelper_invocations(shell):
    """argv lists (for cli.main) of the credhelper commands in shell text: at the start of a simple
    command (after VAR=value words), or inside $(...); heredoc bodies are skipped."""
    shell = re.sub(r"\\\n", " ", shell)
    lines, skip_until = [], None
    for line in shell.splitlines():
        if skip_until is not None:
            if line.strip() == skip_until:
                skip_until = None
            continue
        m = re.search(r"<<-?\s*'?(\w+)'?", line)
        if m:
            skip_until = m.group(1)
        lines.append(line)
    out = []
    for line in lines:
        if line.lstrip().startswith("#"):
            continue
        for inner in re.findall(r"\$\((credhelper [^()]*)\)", line):
            out += credhelper_invocations(inner)
        try:
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            tokens = list(lexer)
        except ValueError:
            continue
        command = []
        for token in [*tokens, ";"]:
            if token in OPERATORS or set(token) <= set("|&;<>()"):
                words_ = command
                while words_ and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words_[0]):
                    words_ = words_[1:]
                if words_ and words_[0] in ENTRY_POINTS:
                    out.append(ENTRY_POINTS[words_[0]] + words_[1:])
                command = []
            else:
                command.append(token)
    return out


def check_parses(argv, where):
    try:
        args = cli.build_parser().parse_args(argv)
    except SystemExit as exc:
        if exc.code not in (0, None):
            pytest.fail(f"{where}: credhelper {' '.join(argv)} is not a valid command line")
        return
    if not getattr(args, "handler", None) and argv and argv[0] != "configure":
        pytest.fail(f"{where}: credhelper {' '.join(argv)} names no command")


def readme_shell_blocks():
    return re.findall(r"```(?:sh|shell|bash|console)\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


def test_every_command_line_in_the_man_pages_parses():
    count = 0
    for page in PAGES:
        for block in literal_blocks(page):
            for argv in credhelper_invocations(block):
                check_parses(argv, page.name)
                count += 1
        for line in page_lines(page):
            if line.startswith(".Dl credhelper "):
                argv = shlex.split(unescape(line[4:]))
                if "Oo" not in argv and "Ar" not in argv:  # not a synopsis
                    check_parses(argv[1:], page.name)
    assert count >= 20


def test_every_command_line_in_the_readme_parses():
    invocations = [argv for block in readme_shell_blocks() for argv in credhelper_invocations(block)]
    assert len(invocations) >= 20
    for argv in invocations:
        check_parses(argv, "README.md")


# -- README -------------------------------------------------------------------------------------------

def test_readme_covers_setup_tests_and_every_protocol():
    text = README.read_text(encoding="utf-8")
    for needle in (
        "tests/run",  # the test command, as CI runs it
        "credhelper demo",
        "pip install",
        "Only ServiceAccountCredential and UserCredential support impersonation",
        # a quick start per protocol
        "credhelper print-access-token", "credhelper print-identity-token", "credhelper sign-jwt",
        "credhelper exec", "credhelper configure git", "git-credential-credhelper",
        "credhelper configure docker", "docker-credential-credhelper", "credhelper configure kubectl",
        "credhelper configure external-account", "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1",
        "credhelper serve-metadata", "GCE_METADATA_HOST",
        # tokens: where and how to clear them
        "credhelper cache list", "credhelper cache clear", "$XDG_RUNTIME_DIR/credhelper",
        "man credhelper",
    ):
        assert needle in text, f"README.md does not mention {needle!r}"
    for name in commands():
        if len(name) == 1:
            assert f"credhelper {name[0]}" in text or f"{name[0]}-credhelper" in text, \
                f"README.md never mentions the command {name[0]}"


def test_readme_has_the_benchmark_section():
    text = README.read_text(encoding="utf-8")
    assert re.search(r"^## Speed", text, re.MULTILINE)
    begin, end = text.find("<!-- bench:begin -->"), text.find("<!-- bench:end -->")
    assert 0 <= begin < end, "the benchmark table goes between <!-- bench:begin --> and <!-- bench:end -->"
    assert "|" in text[begin:end]
    assert "bench/bench.py" in text


def test_readme_references_existing_man_pages():
    text = README.read_text(encoding="utf-8")
    have = {p.name for p in PAGES}
    refs = re.findall(r"\b(credhelper(?:-[a-z]+)?)\(([1-9])\)", text)
    assert refs
    for name, section in refs:
        assert f"{name}.{section}" in have, f"README.md refers to {name}({section})"


# -- installation ------------------------------------------------------------------------------------

def test_setup_cfg_installs_every_page_in_its_section():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    installed = {}
    for target, value in cfg["options.data_files"].items():
        for item in value.split():
            installed[item] = target
    expected = {f"man/{p.name}": f"share/man/man{p.suffix[1:]}" for p in PAGES}
    assert installed == expected
