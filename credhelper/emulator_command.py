"""`credhelper emulator` (serve) and `credhelper emulator init DIR` (write the sample world).

The command glue lives outside the emulator package, which imports nothing of credhelper's but the
standard-library metadata protocol (tests/test_emulator_fidelity.py holds it to that).
"""

import json
import shutil
import signal
import sys
import tempfile
import threading
import urllib.parse
from pathlib import Path

from credhelper import urlfile
from credhelper.emulator import INSTALL_HINT, missing_dependency
from credhelper.emulator.faults import FaultPlan
from credhelper.errors import ProfileError, UsageError

_SAMPLE_FILES = ("world.json", "source-key.json", "authorized_user.json", "external_account.json",
                 "subject-token.jwt")


def require_emulator(command):
    """Raise a UsageError saying what to install when a package the emulator needs is missing."""
    name = missing_dependency()
    if name:
        raise UsageError(f"{command} needs the Python package '{name}', which is not installed",
                         hint=INSTALL_HINT)


def serve(args):
    require_emulator("credhelper emulator")
    from credhelper.emulator.server import Emulator
    from credhelper.emulator.world import WorldError

    faults = _parse_faults(args.faults)
    log = lambda line: print(f"credhelper emulator: {line}", file=sys.stderr, flush=True)  # noqa: E731
    if args.audit_log:
        try:
            open(args.audit_log, "a").close()
        except OSError as exc:
            raise UsageError(f"cannot write the audit log {args.audit_log}: {exc.strerror}") from None
    options = dict(port=args.port, audit_log=args.audit_log, faults=faults, log=log)
    tmp = None
    try:
        if args.world:
            emulator, files = Emulator(args.world, **options), None
        else:
            tmp = tempfile.mkdtemp(prefix="credhelper-emulator-")
            emulator, files = Emulator.sample(tmp, **options)
    except WorldError as exc:
        raise ProfileError(str(exc)) from None
    except OSError as exc:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        raise UsageError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror}",
                         hint="pick another --port, or --port 0 for a free one") from None
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        with emulator:
            print(emulator.url, flush=True)
            if files:
                _print_files(files, "sample world (removed on exit)")
            with urlfile.published(args.url_file, emulator.url + "\n"):
                while not stop.wait(0.5):
                    pass
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def init(args):
    require_emulator("credhelper emulator init")
    from credhelper.emulator import sample

    url = args.url.rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
        raise UsageError(f"--url {args.url!r} must look like http://127.0.0.1:8642")
    directory = Path(args.dir)
    existing = [name for name in _SAMPLE_FILES if (directory / name).exists()]
    if existing:
        raise UsageError(f"{directory} already holds {existing[0]}; refusing to overwrite it",
                         hint="choose an empty or new directory")
    try:
        files = sample.write_sample(directory, url)
    except OSError as exc:
        raise UsageError(f"cannot write the sample world into {directory}: {exc.strerror}") from None
    _print_files(files, f"sample world for an emulator at {url}")
    print(f"start it with: credhelper emulator --world {files.world} --port {parts.port or 80}")
    return 0


def _print_files(files, title):
    print(f"{title}:")
    for label, path in (("world", files.world), ("service account key (source)", files.source_key),
                        ("authorized_user", files.authorized_user), ("external_account", files.external_account),
                        ("subject token", files.subject_token)):
        print(f"  {label + ':':30} {path}")
    print(f"  {'accounts:':30} {files.source}, {files.delegate_b}, {files.delegate_c}, {files.target}")
    print(f"  {'bucket:':30} gs://{files.bucket}/foo.txt (readable by the target only)", flush=True)


def _parse_faults(text):
    if not text:
        return None
    try:
        faults = json.loads(text)
        FaultPlan().load(faults)  # validate before binding
    except ValueError as exc:
        raise UsageError(f"--faults: {exc}",
                         hint='e.g. --faults \'[{"endpoint": "token", "status": 503, "times": 2}]\'') from None
    return faults
