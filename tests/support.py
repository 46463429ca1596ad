"""Helpers shared by the tests: profile files pointing at the emulator, and running the real CLI."""

import os
import subprocess
import sys

PROJECT = "credhelper-demo"


def email(name):
    return f"{name}@{PROJECT}.iam.gserviceaccount.com"


SOURCE = email("source-serviceaccount")
TARGET = email("target-serviceaccount")
DELEGATE_B = email("delegate-b")
DELEGATE_C = email("delegate-c")


def endpoints(url):
    return f"token_endpoint = {url}/token\niam_endpoint = {url}\nsts_endpoint = {url}\n"


def write_profiles(path, url, profiles, cache="file"):
    """profiles: {name: {key: value}}; endpoint overrides for the emulator are added to each."""
    parts = [f"[cache]\nbackend = {cache}\n"] if cache else []
    for name, keys in profiles.items():
        header = "[default]" if name == "default" else f"[profile {name}]"
        body = "".join(f"{k} = {v}\n" for k, v in keys.items())
        parts.append(f"{header}\n{body}{endpoints(url)}")
    path.write_text("\n".join(parts))
    return str(path)


def cli_env(tmp_path, config=None, **extra):
    """An environment for running credhelper in a subprocess, isolated from the user's files."""
    env = dict(os.environ)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env.update({"XDG_RUNTIME_DIR": str(runtime), "XDG_CONFIG_HOME": str(tmp_path / "config"),
                "HOME": env.get("HOME", str(tmp_path)), "PYTHONDONTWRITEBYTECODE": "1"})
    for var in ("GOOGLE_APPLICATION_CREDENTIALS", "CREDHELPER_PROFILE", "CLOUDSDK_CONFIG", "GCE_METADATA_HOST"):
        env.pop(var, None)
    if config:
        env["CREDHELPER_CONFIG"] = str(config)
    env.update(extra)
    return env


def run_cli(args, env, input=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "credhelper", *args], env=env, input=input,
                          capture_output=True, text=True, timeout=timeout)
