"""How fast is a cached token? Medians of repeated fresh processes, against the local emulator.

    python3 bench/bench.py [--runs N] [--json FILE] [--markdown FILE]

Measures, each as the median wall time of N fresh processes (after one warm-up run), with the
peak RSS (GNU time, max of 3 more runs) and the upstream requests each made (emulator
counters): `python -c pass` from this interpreter (the floor); `credhelper print-access-token`
on a warm cache with the Secret Service backend and with the file store; credhelper's docker,
git and kubectl helpers warm; a cold mint with a fresh and with a stale source token; and the
tools a user would otherwise run, pointed at the same emulator: `gcloud auth print-access-token
--impersonate-service-account`, `docker-credential-gcloud get`, `git-credential-gcloud.sh get`
and `gke-gcloud-auth-plugin` on its own warm cache.

Runs on a private D-Bus session bus with its own unlocked gnome-keyring in a temporary
directory (it re-executes itself under dbus-run-session), a private HOME for gcloud and
kubectl's plugin cache, and a private runtime directory: it touches none of your keyrings,
caches or gcloud configuration. credhelper's modules are byte-compiled first, as an installed
wheel would be, so a hit is not timed compiling them.
"""

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INNER = "CREDHELPER_BENCH_INNER"
TIME = "/usr/bin/time"  # GNU time, for peak RSS
KEYRING_PASSWORD = "credhelper-bench"  # of a keyring that lives in a temporary directory


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="timed runs per fast command (default 21)")
    parser.add_argument("--slow-runs", type=int, default=7, help="timed runs per gcloud command (default 7)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown (for README.md)")
    args = parser.parse_args(argv)
    if os.environ.get(INNER) != "1":
        return _reexec_in_private_session(argv)
    with tempfile.TemporaryDirectory(prefix="credhelper-bench-") as tmp:
        _start_keyring(tmp)
        rows = Bench(tmp, args).run_all()
    _print_table(rows)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(_markdown(rows))
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


def _start_keyring(tmp):
    data = os.path.join(tmp, "keyring-data")
    os.makedirs(data, mode=0o700)
    out = subprocess.run(["gnome-keyring-daemon", "--components=secrets", "--unlock"], input=KEYRING_PASSWORD,
                         capture_output=True, text=True, env=dict(os.environ, XDG_DATA_HOME=data), timeout=30)
    for line in out.stdout.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            os.environ[name] = value


class Bench:
    def __init__(self, tmp, args):
        self.tmp = tmp
        self.args = args
        self.rows = []

    # -- running one process ------------------------------------------------------------------------

    def measure(self, argv, env, stdin=None):
        """(seconds, exit code, stdout) of one fresh process."""
        with tempfile.TemporaryFile() as err:
            start = time.perf_counter()
            p = subprocess.run(argv, env=env, input=(stdin or "").encode(), stdout=subprocess.PIPE, stderr=err)
            elapsed = time.perf_counter() - start
            if p.returncode != 0:
                err.seek(0)
                sys.stderr.write(f"bench: {' '.join(argv)} exited {p.returncode}: {err.read().decode()[-800:]}\n")
        return elapsed, p.returncode, p.stdout.decode()

    def peak_rss_kib(self, argv, env, stdin=None):
        """Peak RSS of the process and its children, measured by GNU time (not by us: a child forked
        from this big process would inherit our high-water mark across exec)."""
        if not os.path.exists(TIME):
            return None
        with tempfile.NamedTemporaryFile("r") as out:
            subprocess.run([TIME, "-f", "%M", "-o", out.name, *argv], env=env, input=(stdin or "").encode(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return int(out.read().split()[-1])

    def case(self, name, argv, env, *, runs, stdin=None, before_each=None, expect_requests=None):
        """Time `runs` fresh processes after one warm-up; record the median, peak RSS and requests per run."""
        self.measure(argv, env, stdin)  # warm-up: fills caches, page cache, pyc
        times, requests, failures = [], [], 0
        for _ in range(runs):
            if before_each:
                before_each()
            self.emulator.reset_counters()
            seconds, code, _ = self.measure(argv, env, stdin)
            failures += code != 0
            times.append(seconds)
            requests.append(dict(self.emulator.counters))
        rss = []
        for _ in range(3):
            if before_each:
                before_each()
            rss.append(self.peak_rss_kib(argv, env, stdin) or 0)
        totals = [sum(r.values()) for r in requests]
        row = {"name": name, "median_ms": statistics.median(times) * 1000, "min_ms": min(times) * 1000,
               "peak_rss_mb": max(rss) / 1024, "requests_per_run": statistics.median(totals),
               "requests": requests[-1], "runs": runs, "failures": failures}
        if expect_requests is not None and statistics.median(totals) != expect_requests:
            row["note"] = f"expected {expect_requests} upstream requests per run"
        self.rows.append(row)
        sys.stderr.write(f"bench: {name}: {row['median_ms']:.1f} ms\n")
        return row

    # -- the cases ------------------------------------------------------------------------------------

    def run_all(self):
        sys.path.insert(0, ROOT)
        from credhelper.emulator import Emulator

        compileall.compile_dir(os.path.join(ROOT, "credhelper"), quiet=1)
        self.emulator, sample = Emulator.sample(os.path.join(self.tmp, "world"))
        with self.emulator:
            self.url, self.sample = self.emulator.url, sample
            self._python()
            self._credhelper()
            self._google_tools()
        return self.rows

    def base_env(self):
        home = os.path.join(self.tmp, "home")
        os.makedirs(os.path.join(home, ".kube"), exist_ok=True)
        env = dict(os.environ, HOME=home)
        for var in ("GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG", "CREDHELPER_PROFILE", "PYTHONDONTWRITEBYTECODE"):
            env.pop(var, None)
        return env

    def _python(self):
        self.floor = self.case("python -c pass", [sys.executable, "-c", "pass"], self.base_env(), runs=self.args.runs)
        # gcloud runs its interpreter with -S (no site-packages, no .pth files): its floor, for reference
        self.case("python -S -c pass", [sys.executable, "-S", "-c", "pass"], self.base_env(), runs=self.args.runs)

    def credhelper_env(self, backend):
        runtime = os.path.join(self.tmp, f"runtime-{backend}")
        os.makedirs(runtime, mode=0o700, exist_ok=True)
        config = os.path.join(self.tmp, f"profiles-{backend}.ini")
        with open(config, "w") as f:
            f.write(f"[cache]\nbackend = {backend}\n\n[default]\nsource = {self.sample.source_key}\n"
                    f"target = {self.sample.target}\ntoken_endpoint = {self.url}/token\n"
                    f"iam_endpoint = {self.url}\nsts_endpoint = {self.url}\n")
        return dict(self.base_env(), CREDHELPER_CONFIG=config, XDG_RUNTIME_DIR=runtime)

    def _credhelper(self):
        script = os.path.join(os.path.dirname(sys.executable), "credhelper")
        cmd = [script] if os.path.exists(script) else [sys.executable, "-m", "credhelper"]
        runs = self.args.runs
        envs = {b: self.credhelper_env(b) for b in ("keyring", "file")}
        for backend, label in (("keyring", "Secret Service"), ("file", "file store")):
            self.case(f"credhelper print-access-token, warm ({label})", [*cmd, "print-access-token"], envs[backend],
                      runs=runs, expect_requests=0)
            stored = self._stored_backend(envs[backend])
            if stored:
                self.rows[-1]["backend"] = stored
        env = envs["keyring"]
        self.case("credhelper docker-credential get, warm", [*cmd, "docker-credential", "get"], env,
                  stdin="us-docker.pkg.dev\n", runs=runs, expect_requests=0)
        self.case("credhelper git-credential get, warm", [*cmd, "git-credential", "get"], env,
                  stdin="protocol=https\nhost=source.developers.google.com\n\n", runs=runs, expect_requests=0)
        self.case("credhelper kubectl, warm", [*cmd, "kubectl"], env, runs=runs, expect_requests=0)
        self.case("credhelper cold mint, fresh source token", [*cmd, "print-access-token", "--refresh"], env,
                  runs=max(5, runs // 2), expect_requests=1)

        def clear():
            from credhelper.cache import TokenCache

            TokenCache(backend="keyring", runtime_dir=os.path.join(env["XDG_RUNTIME_DIR"], "credhelper")).clear()

        self.case("credhelper cold mint, stale source token", [*cmd, "print-access-token"], env,
                  runs=max(5, runs // 2), before_each=clear, expect_requests=2)

    def _stored_backend(self, env):
        try:
            with open(os.path.join(env["XDG_RUNTIME_DIR"], "credhelper", "index.json")) as f:
                return sorted({e.get("backend") for e in json.load(f)["entries"].values()})
        except (OSError, ValueError, KeyError):
            return None

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
        if not shutil.which("gcloud"):
            sys.stderr.write("bench: gcloud not found: skipping the gcloud comparisons\n")
            return
        env = self.gcloud_env()
        subprocess.run(["gcloud", "auth", "activate-service-account", f"--key-file={self.sample.source_key}"],
                       env=env, check=True, capture_output=True)
        runs = self.args.slow_runs
        self.case("gcloud auth print-access-token --impersonate-service-account",
                  ["gcloud", "auth", "print-access-token", f"--impersonate-service-account={self.sample.target}"],
                  env, runs=runs)
        impersonating = dict(env, CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT=self.sample.target)
        for name, argv, stdin in (
            ("docker-credential-gcloud get", ["docker-credential-gcloud", "get"], "us-docker.pkg.dev\n"),
            ("git-credential-gcloud.sh get", ["git-credential-gcloud.sh", "get"],
             "protocol=https\nhost=source.developers.google.com\n\n"),
            ("gke-gcloud-auth-plugin, warm", ["gke-gcloud-auth-plugin"], None),
        ):
            if shutil.which(argv[0]):
                self.case(f"{name} (impersonating)", argv, impersonating, stdin=stdin, runs=runs)


def _cells(r, floor, hit):
    return (r["name"], f"{r['median_ms']:.1f}", f"{r['median_ms'] / floor:.2f}",
            f"{r['median_ms'] / hit['median_ms']:.1f}" if hit else "-", f"{r['peak_rss_mb']:.1f}",
            f"{r['requests_per_run']:g}" + (" !" if r.get("note") else "")
            + (f" ({r['failures']} failed)" if r["failures"] else ""))


def _markdown(rows):
    floor = next(r for r in rows if r["name"] == "python -c pass")["median_ms"]
    hit = next((r for r in rows if r["name"].startswith("credhelper print-access-token, warm")), None)
    lines = ["| command | median ms | x python | x hit | peak RSS MB | requests/run |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += ["| " + " | ".join(_cells(r, floor, hit)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _print_table(rows):
    floor = next(r for r in rows if r["name"] == "python -c pass")["median_ms"]
    hit = next((r for r in rows if r["name"].startswith("credhelper print-access-token, warm")), None)
    head = ("command", "median ms", "x python", "x hit", "peak RSS MB", "requests/run")
    table = [head]
    for r in rows:
        table.append(_cells(r, floor, hit))
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for i, row in enumerate(table):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    notes = [f"{r['name']}: {r['note']}" for r in rows if r.get("note")]
    if notes:
        print("\n! " + "\n! ".join(notes))
    gcloud = next((r for r in rows if r["name"].startswith("gcloud auth print-access-token")), None)
    if hit:
        hits = [r for r in rows if r["name"].startswith("credhelper") and "warm" in r["name"]]
        checks = [("warm hit within 3x python -c pass", hit["median_ms"] / floor, "<=", 3.0),
                  ("peak RSS of every warm hit under 30 MB", max(r["peak_rss_mb"] for r in hits), "<", 30.0)]
        if gcloud:
            checks.append(("at least 15x faster than gcloud impersonation", gcloud["median_ms"] / hit["median_ms"],
                           ">=", 15.0))
        print("\ntargets:")
        for name, value, op, bound in checks:
            met = value <= bound if op == "<=" else value < bound if op == "<" else value >= bound
            print(f"  {'met    ' if met else 'NOT MET'}  {name}: {value:.2f} ({op} {bound:g})")
    print(f"\n{sys.executable} ({sys.version.split()[0]}); medians of fresh processes after one warm-up; "
          f"x hit: relative to the warm Secret Service hit.")


if __name__ == "__main__":
    sys.exit(main())
