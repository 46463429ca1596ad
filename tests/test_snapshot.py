"""credhelper.snapshot: the parsed profile file kept in marshal, used only for the same text."""

import marshal
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credhelper import profile, snapshot
from support import TARGET, cli_env, write_profiles


def _snapshots(runtime):
    directory = os.path.join(runtime, "credhelper", "snapshots")
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def test_a_remembered_parse_is_the_parse(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir(mode=0o700)
    path = tmp_path / "profiles.ini"
    path.write_text("[cache]\nbackend = file\n\n[default]\nsource = adc\ntarget = " + TARGET + "\n\n"
                    "[profile b]\nsource = profile:default\n\n[git]\nhttps://source.developers.google.com = b\n\n"
                    "[docker]\ngcr.io = default\n")
    first = profile.load_config(str(path))
    assert _snapshots(tmp_path / "run") and first == profile.parse_config(path.read_text(), str(path))
    second = profile.load_config(str(path))  # from the snapshot
    assert second == first and second.resolve("b") == first.resolve("b")


def test_an_edit_is_seen_even_within_the_same_mtime_and_size(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir(mode=0o700)
    path = tmp_path / "profiles.ini"
    path.write_text(f"[default]\nsource = adc\ntarget = {TARGET}\nlifetime = 1h\n")
    stat = os.stat(path)
    assert profile.load_config(str(path)).resolve().lifetime_secs == 3600
    path.write_text(f"[default]\nsource = adc\ntarget = {TARGET}\nlifetime = 2h\n")  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same mtime
    assert profile.load_config(str(path)).resolve().lifetime_secs == 7200


def _many_profiles(n, lifetime="1h"):
    text = "[cache]\nbackend = file\n\n[default]\nsource = profile:p0000\n"
    for i in range(n):
        text += f"\n[profile p{i:04d}]\nsource = adc\ntarget = {TARGET}\nlifetime = {lifetime if i == 0 else '1h'}\n"
    return text


def test_an_edit_of_one_profile_among_many_is_seen_within_the_same_mtime_and_size(tmp_path, monkeypatch):
    """The deferred sections come from the snapshot of exactly these bytes: never an old profile."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir(mode=0o700)
    path = tmp_path / "profiles.ini"
    path.write_text(_many_profiles(300))
    stat = os.stat(path)
    for _ in range(2):  # the parse, then the snapshot
        config = profile.load_config(str(path))
        assert config.resolve().source_profile.lifetime_secs == 3600 and len(config.sections) == 301
    assert isinstance(config.sections, snapshot.Deferred)
    path.write_text(_many_profiles(300, lifetime="2h"))  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same mtime
    assert os.stat(path).st_size == stat.st_size and os.stat(path).st_ino == stat.st_ino
    assert profile.load_config(str(path)).resolve().source_profile.lifetime_secs == 7200
    assert profile.load_config(str(path)).resolve().source_profile.lifetime_secs == 7200  # its own snapshot


def test_deferred_parts_are_unmarshalled_only_when_asked_for():
    keys, ends, blob = snapshot.deferred({"a": {"k": ("v", 1)}, "b": 2, "c": [3]})
    end_a = int.from_bytes(ends[:4], "little")
    lazy = snapshot.Deferred((keys, ends, blob[:end_a] + b"\xff" * (len(blob) - end_a)))  # b and c: not marshal
    assert list(lazy) == ["a", "b", "c"] and len(lazy) == 3 and "c" in lazy and "d" not in lazy
    assert lazy["a"] == {"k": ("v", 1)} and lazy.get("d") is None
    assert lazy["a"] is lazy["a"]  # unmarshalled once
    with pytest.raises(ValueError):
        lazy["b"]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=5),
                                                       st.tuples(st.text(max_size=3), st.integers())), max_size=12),
       st.lists(st.text(max_size=8), max_size=5))
def test_a_deferred_mapping_is_the_mapping_it_was_made_of(mapping, others):
    lazy = snapshot.Deferred(marshal.loads(marshal.dumps(snapshot.deferred(mapping))))  # as a snapshot holds it
    assert lazy == mapping and list(lazy) == list(mapping) and len(lazy) == len(mapping)
    for key in [*mapping, *others]:
        assert (key in lazy) == (key in mapping) and lazy.get(key) == mapping.get(key)


def _snapshot_bytes(directory, source, text, value, maker=()):
    """The bytes of the snapshot remember() writes for these."""
    directory.mkdir(mode=0o700)
    snapshot.remember(str(directory), "t", source, text, lambda: value, maker)
    [name] = os.listdir(directory / "snapshots")
    return (directory / "snapshots" / name).read_bytes()


def _framed(head, data, value):
    """A snapshot file as remember() lays one out (see its docstring), from its parts."""
    head = marshal.dumps(head)
    return len(head).to_bytes(4, "little") + head + data + marshal.dumps(value)


def test_a_snapshot_that_is_not_ours_or_not_marshal_is_a_miss(tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    path = tmp_path / "profiles.ini"
    path.write_text(f"[default]\nsource = adc\ntarget = {TARGET}\n")
    made = []

    def make():
        made.append(1)
        return ("parsed",)

    assert snapshot.remember(str(run), "t", str(path), path.read_text(), make) == ("parsed",)
    [name] = os.listdir(run / "snapshots")
    snap = run / "snapshots" / name
    assert snapshot.remember(str(run), "t", str(path), path.read_text(), make) == ("parsed",) and len(made) == 1
    # planted: a snapshot of the same text, another value (as remember writes one), but readable by
    # others (not a file credhelper wrote)
    planted = _snapshot_bytes(tmp_path / "scratch", str(path), path.read_text(), ("planted",))
    snap.write_bytes(planted)
    os.chmod(snap, 0o644)
    assert snapshot.remember(str(run), "t", str(path), path.read_text(), make) == ("parsed",) and len(made) == 2
    data = path.read_bytes()
    for junk in (b"", b"\x00garbage", b"\xff\xff\xff\xff", marshal.dumps(("other", "shape")),
                 _framed((snapshot._INTERPRETER, (), str(path), 999), data, ("x",)),  # another length
                 _framed((("old", 0), (), str(path), len(data)), data, ("x",)),  # another interpreter
                 _snapshot_bytes(tmp_path / "parser", str(path), path.read_text(), ("x",), maker=("another parser",)),
                 _snapshot_bytes(tmp_path / "text", str(path), path.read_text() + "\n", ("x",)),
                 planted[:-1]):  # cut short
        snap.write_bytes(junk)
        os.chmod(snap, 0o600)
        assert snapshot.remember(str(run), "t", str(path), path.read_text(), make) == ("parsed",)
    # ours and 0600, and all that the cases above change as it should be: taken
    for good, value in ((planted, ("planted",)), (_framed((snapshot._INTERPRETER, (), str(path), len(data)), data,
                                                          ("framed",)), ("framed",))):
        snap.write_bytes(good)
        os.chmod(snap, 0o600)
        assert snapshot.remember(str(run), "t", str(path), path.read_text(), make) == value
    # a symlink to a snapshot of ours, 0600, but not where credhelper writes (read_private follows none)
    elsewhere = tmp_path / "elsewhere.marshal"
    elsewhere.write_bytes(planted)
    elsewhere.chmod(0o600)
    snap.unlink()
    snap.symlink_to(elsewhere)
    made.clear()
    assert snapshot.remember(str(run), "t", str(path), path.read_text(), make) == ("parsed",) and made == [1]
    # another file's snapshot (a different path) is never taken for this one's
    assert snapshot.remember(str(run), "t", str(tmp_path / "other.ini"), path.read_text(), lambda: ("other",)) == ("other",)


def test_a_snapshot_of_another_shape_is_parsed_again(tmp_path, monkeypatch):
    """A snapshot of the right text but a value profile.py never stores (written by hand): the file is parsed."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir(mode=0o700)
    path = tmp_path / "profiles.ini"
    path.write_text(f"[default]\nsource = adc\ntarget = {TARGET}\nlifetime = 2h\n")
    assert profile.load_config(str(path)).resolve().lifetime_secs == 7200
    [name] = os.listdir(tmp_path / "run" / "credhelper" / "snapshots")
    snap = tmp_path / "run" / "credhelper" / "snapshots" / name
    raw = snap.read_bytes()
    start = 4 + int.from_bytes(raw[:4], "little")
    _, maker, source, size = marshal.loads(raw[4:start])
    for value in (("too", "short"), (str(path), True, ("a", "b"), {}, [], {}, ("", b"", b""))):
        snap.write_bytes(_framed((snapshot._INTERPRETER, maker, source, size), path.read_bytes(), value))
        snap.chmod(0o600)
        assert profile.load_config(str(path)).resolve().lifetime_secs == 7200


def test_an_unparsable_file_leaves_no_snapshot(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir(mode=0o700)
    path = tmp_path / "profiles.ini"
    path.write_text("[default]\nsource = adc\n[nonsense]\n")
    for _ in range(2):
        try:
            profile.load_config(str(path))
        except Exception as exc:  # ProfileError, each time: parsed again, not remembered
            assert "unknown section" in str(exc)
    assert _snapshots(tmp_path / "run") == []


def test_a_cache_hit_with_a_snapshot_imports_no_configparser(tmp_path, emulator, sample):
    config = write_profiles(tmp_path / "p.ini", emulator.url, {"default": {"source": sample.source_key,
                                                                           "target": TARGET}}, cache="file")
    env = cli_env(tmp_path, config)
    code = ("import sys, runpy\nsys.argv = ['credhelper', 'print-access-token']\n"
            "try:\n    runpy.run_module('credhelper', run_name='__main__')\nexcept SystemExit as e:\n    code = e.code\n"
            "sys.stdout.write('\\n' + str('configparser' in sys.modules))\nsys.exit(code)\n")
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    hit = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0 and hit.returncode == 0, (first.stderr, hit.stderr)
    assert first.stdout.split("\n")[0] == hit.stdout.split("\n")[0]  # the same token, from the cache
    assert hit.stdout.endswith("False"), hit.stdout
