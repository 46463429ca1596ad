"""How fast does the local metadata server answer? Cached-token requests against serve-metadata.

    python3 bench/metadata.py [--requests N] [--rounds N]

Starts the emulator (sample world) and `credhelper serve-metadata` for an impersonating profile,
then, in interleaved rounds, times N token requests over one kept-alive connection and N requests
each on a new connection (what a client without connection reuse does; each new connection also
pays the peer-uid check, a read of /proc/net/tcp). Prints the median milliseconds per request of
each over the rounds. The token comes from the server's cache after the first request, so this
measures the server, not the upstream. Runs in a temporary directory; touches no keyring.
"""

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
HEADERS = {"Metadata-Flavor": "Google"}


def kept_alive(host, port, n):
    conn = http.client.HTTPConnection(host, port, timeout=30)
    start = time.perf_counter()
    for _ in range(n):
        conn.request("GET", PATH, headers=HEADERS)
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
    conn.close()
    return (time.perf_counter() - start) / n


def new_connections(host, port, n):
    start = time.perf_counter()
    for _ in range(n):
        conn = http.client.HTTPConnection(host, port, timeout=30)
        conn.request("GET", PATH, headers=HEADERS)
        response = conn.getresponse()
        response.read()
        conn.close()
        assert response.status == 200, response.status
    return (time.perf_counter() - start) / n


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from credhelper.emulator import Emulator

    with tempfile.TemporaryDirectory(prefix="credhelper-bench-metadata-") as tmp:
        emulator, files = Emulator.sample(os.path.join(tmp, "world"))
        with emulator:
            config = os.path.join(tmp, "profiles.ini")
            with open(config, "w", encoding="utf-8") as f:
                f.write(f"[cache]\nbackend = file\n\n[profile bench]\nsource = {files.source_key}\n"
                        f"target = {files.target}\nproject_number = {files.project_number}\n"
                        f"token_endpoint = {emulator.url}/token\niam_endpoint = {emulator.url}\n")
            runtime = os.path.join(tmp, "run")
            os.mkdir(runtime, 0o700)
            env = dict(os.environ, CREDHELPER_CONFIG=config, XDG_RUNTIME_DIR=runtime)
            env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
            url_file = os.path.join(tmp, "url")
            server = subprocess.Popen([sys.executable, "-m", "credhelper", "serve-metadata", "--profile", "bench",
                                       "--url-file", url_file], env=env, cwd=ROOT,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                deadline = time.monotonic() + 60
                while not os.path.exists(url_file):
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("serve-metadata did not start")
                    time.sleep(0.05)
                host, port = open(url_file, encoding="utf-8").read().strip().split(":")
                kept, fresh = [], []
                for _ in range(args.rounds):
                    kept.append(kept_alive(host, int(port), args.requests))
                    fresh.append(new_connections(host, int(port), args.requests))
            finally:
                server.terminate()
                server.wait()
    print(f"metadata server, cached token, median of {args.rounds} rounds of {args.requests} requests:")
    print(f"  kept-alive connection: {statistics.median(kept) * 1e3:.2f} ms/request")
    print(f"  new connection each:   {statistics.median(fresh) * 1e3:.2f} ms/request")


if __name__ == "__main__":
    main()
