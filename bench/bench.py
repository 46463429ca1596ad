"""How fast is every path of credhelper? Interleaved fresh processes against the local emulator.

    python3 bench/bench.py [--runs N] [--slow-runs N] [--only TEXT] [--json FILE] [--markdown FILE] [--readme]

Every path of issue 15 is a case: `python -c pass` (the floor); warm hits of `credhelper
print-access-token` (Secret Service and file store) and of the docker, git and kubectl helpers
(through their own scripts; kubectl's with KUBERNETES_EXEC_INFO set, as kubectl always sets it);
a mint stored in the Secret Service (`--refresh`, the source token cached) of an access token,
an ID token and a signed JWT; a mint from an empty cache (two requests, stored); a mint from
nothing (`--no-cache`); the warm hit, and a mint and store, with 1,000 profiles in the file and
1,000 entries in the index and the keyring; and, when installed, the gcloud tools a user would
otherwise run. Each round runs every case once, in turn, so the machine's load falls on all of
them alike: the ratio to `python -c pass` is taken within each round and the table shows the
median ratio over the rounds (and the median milliseconds); the same for CPU time (user +
system, of the process and its children), which other processes' load changes less than wall
time (a Secret Service call's wait for the daemon is not in it). Peak RSS is GNU time's, the
maximum of 3 more runs; requests are the emulator's counters per run.

credhelper runs from a virtual environment of its own (.venv/bench), built with the
interpreter running this script, with the checkout installed as a user installs it (`pip
install .`, not editable: an editable install's import hook costs every Python start, floor
included), reinstalled on every run. --python-only skips that and runs `python -m credhelper`
with this interpreter.

Runs on a private D-Bus session bus with its own unlocked gnome-keyring in a temporary
directory (it re-executes itself under dbus-run-session), a private HOME and runtime
directory: it touches none of your keyrings, caches or gcloud configuration. The scale cases
have a second bus and keyring daemon of their own: gnome-keyring rewrites its whole keyring
file on every store, so 1,000 items in the daemon the other cases use would slow every store
there (about +50 ms of daemon time), and the other cases would no longer measure what they name.
"""

import argparse
import hashlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
INNER = "CREDHELPER_BENCH_INNER"
TIME = "/usr/bin/time"  # GNU time, for peak RSS
KEYRING_PASSWORD = "credhelper-bench"  # of a keyring that lives in a temporary directory
SCALE = 1000  # profiles in the file, entries in the index and the keyring, for the scale case
AUDIENCE = "https://bench.example.com"
GIT_INPUT = "protocol=https\nhost=source.developers.google.com\n\n"
DOCKER_INPUT = "us-docker.pkg.dev\n"
# what kubectl always sets for an exec plugin (interactiveMode Never, no cluster info)
EXEC_INFO = '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":false}}'

# name: (target as a ratio to python -c pass, or to the case named, from issue 15)
TARGETS = {
    "warm hit: print-access-token (Secret Service)": ("x python", 2.5),
    "warm hit: print-access-token (file store)": ("x python", 2.5),
    "warm hit: docker-credential-credhelper get": ("x python", 2.5),
    "warm hit: git-credential-credhelper get": ("x python", 2.5),
    "warm hit: credhelper kubectl": ("x python", 2.5),
    "mint and store: access token (--refresh)": ("x python", 10.0),
    "mint and store: ID token (--refresh)": ("x python", 10.0),
    "mint and store: signJwt (--refresh)": ("x python", 10.0),
    "mint from nothing (--no-cache)": ("x python", 10.0),
    f"warm hit, {SCALE} profiles and cache entries": ("x hit", 1.2),
}
HIT = "warm hit: print-access-token (Secret Service)"  # the base of the "x hit" ratios
SCALE_STORE = f"mint and store: access token (--refresh), {SCALE} items in the keyring"
RSS_TARGET_MB = 30.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="rounds: timed runs of each case (default 21)")
    parser.add_argument("--slow-runs", type=int, default=5, help="rounds that include the gcloud tools (default 5; 0: none)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown")
    parser.add_argument("--readme", action="store_true", help="write the table into README.md (between the bench markers)")
    parser.add_argument("--python-only", action="store_true", help="no venv: python -m credhelper with this interpreter")
    parser.add_argument("--no-scale", action="store_true", help=f"skip the {SCALE}-profile case (its setup takes a while)")
    parser.add_argument("--only", metavar="TEXT", action="append",
                        help="run only the cases whose name contains TEXT (repeatable; the floor and the "
                             "Secret Service hit always run, as the ratios' bases)")
    args = parser.parse_args(argv)
    if os.environ.get(INNER) != "1":
        return _reexec_in_private_session(argv)
    with tempfile.TemporaryDirectory(prefix="credhelper-bench-") as tmp:
        _start_keyring(tmp)
        rows = Bench(tmp, args).run_all()
    table = _markdown(rows)
    print(table)
    _print_targets(rows)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    if args.readme:
        _write_readme(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


def _reexec_in_private_session(argv):
    for tool in ("dbus-run-session", "gnome-keyring-daemon"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} not found (apt-get install dbus gnome-keyring)")
    env = dict(os.environ, **{INNER: "1"})
    cmd = ["dbus-run-session", "--", sys.executable, os.path.abspath(__file__), *(argv or sys.argv[1:])]
    return subprocess.call(cmd, env=env)


def _start_keyring(tmp, env=os.environ, name="keyring"):
    """An unlocked gnome-keyring Secret Service on env's session bus, its keyrings in tmp/NAME-data;
    env gains the variables it prints."""
    data = os.path.join(tmp, f"{name}-data")
    os.makedirs(data, mode=0o700)
    out = subprocess.run(["gnome-keyring-daemon", "--components=secrets", "--unlock"], input=KEYRING_PASSWORD,
                         capture_output=True, text=True, env=dict(env, XDG_DATA_HOME=data), timeout=30)
    for line in out.stdout.splitlines():
        var, sep, value = line.partition("=")
        if sep:
            env[var] = value


class PrivateBus:
    """A second session bus (dbus-daemon) with a keyring daemon of its own, in tmp/NAME: env holds its
    DBUS_SESSION_BUS_ADDRESS. Stopping the bus stops the keyring daemon (it leaves with its bus)."""

    def __init__(self, tmp, name, base_env):
        directory = os.path.join(tmp, name)
        os.makedirs(os.path.join(directory, "run"), mode=0o700)
        self.process = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--print-address=1",
             f"--address=unix:path={os.path.join(directory, 'bus')}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        address = self.process.stdout.readline().strip()
        if not address:
            self.process.kill()
            sys.exit(f"bench: dbus-daemon for {name} did not start")
        # its own runtime directory: gnome-keyring-daemon --unlock would otherwise find the first daemon's
        # control socket there and unlock that one instead of starting
        self.env = dict(base_env, DBUS_SESSION_BUS_ADDRESS=address, XDG_RUNTIME_DIR=os.path.join(directory, "run"))
        _start_keyring(directory, self.env)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def bench_venv(python=sys.executable):
    """ROOT/.venv/bench with this checkout installed (not editable); its bin directory."""
    venv = os.path.join(ROOT, ".venv", "bench")
    digest = hashlib.sha256(python.encode())
    for name in ("setup.cfg", "setup.py"):
        with open(os.path.join(ROOT, name), "rb") as f:
            digest.update(f.read())
    stamp = digest.hexdigest()
    stamp_file = os.path.join(venv, ".credhelper-bench-stamp")
    pip = [os.path.join(venv, "bin", "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    fresh = not os.path.exists(stamp_file) or open(stamp_file).read().strip() != stamp
    if fresh:
        sys.stderr.write(f"bench: building {venv} (pip install {ROOT})\n")
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([python, "-m", "venv", venv], check=True)
        subprocess.run([*pip, ROOT], check=True, stdin=subprocess.DEVNULL)
        with open(stamp_file, "w") as f:
            f.write(stamp + "\n")
    else:  # the checkout as it is now
        subprocess.run([*pip, "--no-deps", "--force-reinstall", ROOT], check=True, stdin=subprocess.DEVNULL)
    return os.path.join(venv, "bin")


class Case:
    def __init__(self, name, argv, env, stdin=None, before_each=None, expect_requests=None, slow=False):
        self.name, self.argv, self.env, self.stdin = name, argv, env, stdin
        self.before_each, self.expect_requests, self.slow = before_each, expect_requests, slow
        self.times, self.cpu, self.requests, self.failures = [], [], [], 0


class Bench:
    def __init__(self, tmp, args):
        self.tmp = tmp
        self.args = args
        self.cases = []

    # -- running one process ------------------------------------------------------------------------

    def measure(self, case):
        """(wall seconds, CPU seconds) of one fresh process of case (stdout discarded; stderr shown when it
        fails). CPU: user + system time of the process and what it waited for, which the load of other
        processes on the machine changes far less than the wall time."""
        with tempfile.TemporaryFile() as err:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            p = subprocess.run(case.argv, env=case.env, input=(case.stdin or "").encode(), stdout=subprocess.DEVNULL,
                               stderr=err)
            elapsed = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            if p.returncode != 0:
                case.failures += 1
                err.seek(0)
                sys.stderr.write(f"bench: {' '.join(case.argv)} exited {p.returncode}: {err.read().decode()[-800:]}\n")
        return elapsed, cpu

    def peak_rss_kib(self, case):
        """Peak RSS of the process and its children, measured by GNU time (not by us: a child forked
        from this big process would inherit our high-water mark across exec)."""
        if not os.path.exists(TIME):
            return None
        with tempfile.NamedTemporaryFile("r") as out:
            subprocess.run([TIME, "-f", "%M", "-o", out.name, *case.argv], env=case.env,
                           input=(case.stdin or "").encode(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return int(out.read().split()[-1])

    def add(self, name, argv, env, **kw):
        self.cases.append(Case(name, argv, env, **kw))

    def run_rounds(self):
        for case in self.cases:  # warm-up: fills caches, page cache, pyc
            if case.before_each:
                case.before_each()
            self.measure(case)
        for n in range(self.args.runs):
            for case in self.cases:
                if case.slow and n >= self.args.slow_runs:
                    continue
                if case.before_each:
                    case.before_each()
                self.emulator.reset_counters()
                wall, cpu = self.measure(case)
                case.times.append(wall)
                case.cpu.append(cpu)
                case.requests.append(sum(self.emulator.counters.values()))
            sys.stderr.write(f"bench: round {n + 1}/{self.args.runs}\n")

    def rows(self):
        floor = self.cases[0]
        assert floor.name == "python -c pass"
        hit = next(c for c in self.cases if c.name == HIT)
        rows = []
        for case in self.cases:
            rounds = range(len(case.times))
            rss = []
            for _ in range(3):
                if case.before_each:
                    case.before_each()
                rss.append(self.peak_rss_kib(case) or 0)
            row = {"name": case.name, "median_ms": statistics.median(case.times) * 1000,
                   "x_python": statistics.median(case.times[i] / floor.times[i] for i in rounds),
                   "x_hit": statistics.median(case.times[i] / hit.times[i] for i in rounds),
                   "cpu_ms": statistics.median(case.cpu) * 1000,
                   "cpu_x_python": statistics.median(case.cpu[i] / floor.cpu[i] for i in rounds if floor.cpu[i]),
                   "peak_rss_mb": max(rss) / 1024, "requests_per_run": statistics.median(case.requests),
                   "runs": len(case.times), "failures": case.failures}
            if case.expect_requests is not None and row["requests_per_run"] != case.expect_requests:
                row["note"] = f"expected {case.expect_requests} upstream requests per run"
            rows.append(row)
        return rows

    # -- the cases ------------------------------------------------------------------------------------

    def run_all(self):
        sys.path.insert(0, ROOT)
        from credhelper.emulator import Emulator

        bindir = None if self.args.python_only else bench_venv()
        self.python = os.path.join(bindir, "python") if bindir else sys.executable
        self.emulator, sample = Emulator.sample(os.path.join(self.tmp, "world"))
        with self.emulator:
            self.url, self.sample = self.emulator.url, sample
            self._python()
            self._credhelper(bindir)
            self.scale_bus = None
            try:
                if not self.args.no_scale:
                    self._scale(bindir)
                self._google_tools()
                if self.args.only:
                    self.cases = [c for c in self.cases if c.name in ("python -c pass", HIT)
                                  or any(text in c.name for text in self.args.only)]
                self.run_rounds()
                return self.rows()
            finally:
                if self.scale_bus:
                    self.scale_bus.stop()

    def base_env(self):
        home = os.path.join(self.tmp, "home")
        os.makedirs(os.path.join(home, ".kube"), exist_ok=True)
        env = dict(os.environ, HOME=home)
        for var in ("GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG", "CREDHELPER_PROFILE", "PYTHONDONTWRITEBYTECODE",
                    "PYTHONPATH", "VIRTUAL_ENV"):
            env.pop(var, None)
        return env

    def _python(self):
        self.add("python -c pass", [self.python, "-c", "pass"], self.base_env())
        # gcloud runs its interpreter with -S (no site-packages, no .pth files): its floor, for reference
        self.add("python -S -c pass", [self.python, "-S", "-c", "pass"], self.base_env())

    def profile_text(self, backend, extra_profiles=0):
        common = (f"source = {self.sample.source_key}\ntarget = {self.sample.target}\ntoken_endpoint = {self.url}/token\n"
                  f"iam_endpoint = {self.url}\nsts_endpoint = {self.url}\naudience = {AUDIENCE}\n")
        text = f"[cache]\nbackend = {backend}\n\n[default]\n{common}"
        for i in range(extra_profiles):
            text += f"\n[profile p{i:04d}]\n{common}scopes = https://www.googleapis.com/auth/p{i}\n"
        return text

    def credhelper_env(self, name, backend, extra_profiles=0):
        runtime = os.path.join(self.tmp, f"runtime-{name}")
        os.makedirs(runtime, mode=0o700, exist_ok=True)
        config = os.path.join(self.tmp, f"profiles-{name}.ini")
        with open(config, "w") as f:
            f.write(self.profile_text(backend, extra_profiles))
        os.chmod(config, 0o600)
        return dict(self.base_env(), CREDHELPER_CONFIG=config, XDG_RUNTIME_DIR=runtime)

    def _credhelper(self, bindir):
        if bindir:
            cmd = [os.path.join(bindir, "credhelper")]
            docker = [os.path.join(bindir, "docker-credential-credhelper")]
            git = [os.path.join(bindir, "git-credential-credhelper")]
        else:
            cmd = [sys.executable, "-m", "credhelper"]
            docker, git = [*cmd, "docker-credential"], [*cmd, "git-credential"]
        env = self.credhelper_env("keyring", "keyring")
        file_env = self.credhelper_env("file", "file")
        claims = os.path.join(self.tmp, "claims.json")
        with open(claims, "w") as f:
            json.dump({"aud": AUDIENCE, "sub": "bench", "exp": int(time.time()) + 7200}, f)
        self.add(HIT, [*cmd, "print-access-token"], env, expect_requests=0)
        self.add("warm hit: print-access-token (file store)", [*cmd, "print-access-token"], file_env, expect_requests=0)
        self.add("warm hit: docker-credential-credhelper get", [*docker, "get"], env, stdin=DOCKER_INPUT,
                 expect_requests=0)
        self.add("warm hit: git-credential-credhelper get", [*git, "get"], env, stdin=GIT_INPUT, expect_requests=0)
        self.add("warm hit: credhelper kubectl", [*cmd, "kubectl"], dict(env, KUBERNETES_EXEC_INFO=EXEC_INFO),
                 expect_requests=0)
        self.add("mint and store: access token (--refresh)", [*cmd, "print-access-token", "--refresh"], env,
                 expect_requests=1)
        self.add("mint and store: ID token (--refresh)", [*cmd, "print-identity-token", "--refresh"], env,
                 expect_requests=1)
        self.add("mint and store: signJwt (--refresh)", [*cmd, "sign-jwt", "--claims", claims, "--refresh"], env,
                 expect_requests=1)
        empty_env = self.credhelper_env("empty", "keyring")

        def clear():
            from credhelper.cache import TokenCache

            TokenCache(backend="keyring", runtime_dir=os.path.join(empty_env["XDG_RUNTIME_DIR"], "credhelper")).clear()

        self.add("mint from an empty cache, stored (2 requests)", [*cmd, "print-access-token"], empty_env,
                 before_each=clear, expect_requests=2)
        self.add("mint from nothing (--no-cache)", [*cmd, "print-access-token", "--no-cache"], env, expect_requests=2)
        self.cmd = cmd

    def _scale(self, bindir):
        """A file of SCALE + 1 profiles; SCALE more entries in the index and in a keyring daemon of their
        own (PrivateBus); hit [default], and mint and store it."""
        sys.stderr.write(f"bench: filling the index and the keyring with {SCALE} entries\n")
        fill = ("import hashlib, os, sys, time\n"
                f"sys.path.insert(0, {ROOT!r})\n"
                "from credhelper.cache import TokenCache\n"
                "from credhelper.token import ACCESS_TOKEN, Token\n"
                "cache = TokenCache(backend='keyring', runtime_dir=os.path.join(os.environ['XDG_RUNTIME_DIR'], 'credhelper'))\n"
                "expiry = time.time() + 3000\n"
                f"for i in range({SCALE}):\n"
                "    key = hashlib.sha256(f'bench-scale-{i}'.encode()).hexdigest()\n"
                "    cache.put(key, Token(ACCESS_TOKEN, f'ya29.bench-filler-{i}', expiry),\n"
                f"              {{'profile': f'p{{i:04d}}', 'kind': ACCESS_TOKEN, 'target': {self.sample.target!r}}})\n")
        for attempt in range(1, 4):
            env = self.credhelper_env("scale", "keyring", extra_profiles=SCALE)
            self.scale_bus = PrivateBus(self.tmp, f"scale-bus-{attempt}", os.environ)
            env["DBUS_SESSION_BUS_ADDRESS"] = self.scale_bus.env["DBUS_SESSION_BUS_ADDRESS"]
            subprocess.run([*self.cmd, "print-access-token"], env=env, check=True, stdout=subprocess.DEVNULL)
            # with credhelper's own environment (keyring is installed there, maybe not beside this script)
            subprocess.run([self.python, "-c", fill], env=env, check=True)
            # a store that could not reach the keyring went to the file store (and said so): gnome-keyring
            # 42.1 sometimes dies under a thousand stores in a row, and D-Bus starts another, locked
            tokens = os.path.join(env["XDG_RUNTIME_DIR"], "credhelper", "tokens")
            if not (os.path.isdir(tokens) and os.listdir(tokens)):
                break
            sys.stderr.write(f"bench: the scale keyring daemon failed while filling (attempt {attempt}); again\n")
            self.scale_bus.stop()
            self.scale_bus = None
            shutil.rmtree(env["XDG_RUNTIME_DIR"])
        else:
            sys.exit("bench: the scale case's keyring daemon failed three times while filling")
        self.add(f"warm hit, {SCALE} profiles and cache entries", [*self.cmd, "print-access-token"], env,
                 expect_requests=0)
        self.add(SCALE_STORE, [*self.cmd, "print-access-token", "--refresh"], env, expect_requests=1)

    def gcloud_env(self):
        config = os.path.join(self.tmp, "gcloud")
        os.makedirs(config, exist_ok=True)
        with open(os.path.join(config, "gce"), "w") as f:
            f.write("False")  # not on GCE: do not probe the metadata server
        return dict(self.base_env(), CLOUDSDK_CONFIG=config, CLOUDSDK_AUTH_TOKEN_HOST=f"{self.url}/token",
                    CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS=f"{self.url}/",
                    CLOUDSDK_CORE_DISABLE_USAGE_REPORTING="true", CLOUDSDK_CORE_DISABLE_PROMPTS="1",
                    CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK="true")

    def _google_tools(self):
        if not self.args.slow_runs:
            return
        if not shutil.which("gcloud"):
            sys.stderr.write("bench: gcloud not found: skipping the gcloud comparisons\n")
            return
        env = self.gcloud_env()
        subprocess.run(["gcloud", "auth", "activate-service-account", f"--key-file={self.sample.source_key}"],
                       env=env, check=True, capture_output=True)
        self.add("gcloud auth print-access-token --impersonate-service-account",
                 ["gcloud", "auth", "print-access-token", f"--impersonate-service-account={self.sample.target}"],
                 env, slow=True)
        impersonating = dict(env, CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT=self.sample.target)
        for name, argv, stdin in (
            ("docker-credential-gcloud get", ["docker-credential-gcloud", "get"], DOCKER_INPUT),
            ("git-credential-gcloud.sh get", ["git-credential-gcloud.sh", "get"], GIT_INPUT),
            ("gke-gcloud-auth-plugin, warm", ["gke-gcloud-auth-plugin"], None),
        ):
            if shutil.which(argv[0]):
                self.add(f"{name} (impersonating)", argv, impersonating, stdin=stdin, slow=True)


def _target(row):
    kind, bound = TARGETS.get(row["name"], (None, None))
    if kind is None:
        return "", None
    value = row["x_python"] if kind == "x python" else row["x_hit"]
    return f"<= {bound:g}{' x hit' if kind == 'x hit' else ''}", value <= bound


def _markdown(rows):
    lines = ["| path | median ms | x python | x hit | target | CPU ms | CPU x python | peak RSS MB | requests/run |",
             "|---|---:|---:|---:|---|---:|---:|---:|---:|"]
    for r in rows:
        target, met = _target(r)
        mark = "" if met is None else (" met" if met else " **not met**")
        lines.append(f"| {r['name']} | {r['median_ms']:.1f} | {r['x_python']:.2f} | {r['x_hit']:.2f} | {target}{mark} | "
                     f"{r['cpu_ms']:.1f} | {r['cpu_x_python']:.2f} | {r['peak_rss_mb']:.1f} | {r['requests_per_run']:g}"
                     + (" (!)" if r.get("note") else "") + (f" ({r['failures']} failed)" if r["failures"] else "") + " |")
    return "\n".join(lines) + "\n"


def _print_targets(rows):
    notes = [f"{r['name']}: {r['note']}" for r in rows if r.get("note")]
    if notes:
        print("(!) " + "\n(!) ".join(notes))
    mints = [r for r in rows if r["name"].startswith("mint")]
    if mints:
        worst = max(r["peak_rss_mb"] for r in mints)
        print(f"peak RSS of a mint: {worst:.1f} MB ({'met' if worst <= RSS_TARGET_MB else 'NOT MET'}: "
              f"<= {RSS_TARGET_MB:g} MB)")
    print(f"\n{sys.executable} ({sys.version.split()[0]}); x python and x hit: medians of per-round ratios, "
          "each round running every case once in turn.")


def _write_readme(table):
    with open(README) as f:
        text = f.read()
    new, n = re.subn(r"(<!-- bench:begin -->\n).*?(<!-- bench:end -->)", lambda m: m.group(1) + table + m.group(2),
                     text, flags=re.S)
    if n != 1:
        sys.exit("bench: README.md has no <!-- bench:begin --> ... <!-- bench:end --> block")
    with open(README, "w") as f:
        f.write(new)


if __name__ == "__main__":
    sys.exit(main())
