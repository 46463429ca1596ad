"""credhelper demo: every step behaves as described, and the output explains itself."""

import shlex
import tempfile
import subprocess
import sys

from credhelper import cli
from support import cli_env


def test_demo_passes_every_step_and_suggests_what_to_run_next(tmp_path):
    done = subprocess.run([sys.executable, "-m", "credhelper", "demo"], env=cli_env(tmp_path), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "all steps behaved as described" in out and "[FAIL]" not in out
    # the temporary directory is not named as if it stayed; no raw JSON nulls in the audit step
    assert tempfile.gettempdir() not in out and "null" not in out and "removed when the demo ends" in out
    audit = out.split("records who impersonated whom\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(audit) >= 5 and all(a != b for a, b in zip(audit, audit[1:])), audit  # runs are counted, not repeated
    assert any("delegated by source-serviceaccount -> delegate-b -> delegate-c" in line for line in audit)
    # the next commands it suggests are real command lines
    nxt = out.split("\nnext:\n", 1)[1]
    commands = [line.strip() for line in nxt.splitlines() if line.strip().startswith("credhelper ")]
    assert len(commands) >= 2
    for line in commands:
        args = cli.parse_args(shlex.split(line)[1:])
        assert args.handler, line
