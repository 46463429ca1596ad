"""Every --help example runs as written: each one is run by bash against the emulator, in a world
where the profiles, files, kubeconfig cluster and private git/docker/kube configs it names exist.

The examples come from the command table (the same rows --help is built from). Three cannot run
in a test as written, and say why below."""

import os
import subprocess
import sys

import pytest

from credhelper import arguments, commandtable
from protocols_stubs import moto_sts  # noqa: F401 (a fixture)
from support import cli_env, write_profiles

NOT_RUNNABLE = {
    ("serve-metadata",): "serves until killed, and runs the user's own my-app.py",
    ("exec",): "runs gsutil against a real bucket",
    ("emulator",): "serves until killed",
}

EXAMPLES = [((), arguments.build_parser().epilog.split("example:\n", 1)[1].split("\n\n", 1)[0])] + [
    (path, row.example) for path, row in commandtable.walk()]


@pytest.fixture
def world(tmp_path, emulator, sample, moto_sts):
    profiles = {name: {"source": sample.source_key, "target": sample.target}
                for name in ("default", "deploy", "endpoints", "gke")}
    profiles["deploy"].update(aws_role_arn="arn:aws:iam::123456789012:role/gcp-deploy", aws_sts_endpoint=moto_sts)
    profiles["wif"] = {"source": sample.source_key}
    config = write_profiles(tmp_path / "profiles.ini", emulator.url, profiles)
    work = tmp_path / "work"
    work.mkdir()
    (work / "claims.json").write_text('{"aud": "https://example.com", "sub": "someone"}')
    home = tmp_path / "home"
    home.mkdir()
    env = cli_env(tmp_path, config, HOME=str(home), GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
                  GIT_CONFIG_NOSYSTEM="1", DOCKER_CONFIG=str(home / ".docker"),
                  KUBECONFIG=str(home / ".kube" / "config"), AWS_CONFIG_FILE=str(home / ".aws" / "config"),
                  AWS_SHARED_CREDENTIALS_FILE=str(home / ".aws" / "credentials"), AWS_ENDPOINT_URL_STS=moto_sts,
                  AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(name, None)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    subprocess.run(["kubectl", "config", "set-cluster", "prod", "--server=https://127.0.0.1:1"], env=env,
                   check=True, capture_output=True)
    return work, env


@pytest.mark.parametrize("path,example", EXAMPLES, ids=[" ".join(p) or "credhelper" for p, _ in EXAMPLES])
def test_every_help_example_runs_as_written(world, path, example):
    if path in NOT_RUNNABLE:
        pytest.skip(f"credhelper {' '.join(path)}: {NOT_RUNNABLE[path]}")
    work, env = world
    script = "set -euo pipefail\n" + example.replace("\n  ", "\n")
    done = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{example}\n-> exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"


def test_only_the_examples_that_cannot_run_are_left_out():
    assert set(NOT_RUNNABLE) <= {path for path, _ in EXAMPLES}
    assert len(NOT_RUNNABLE) <= 3
