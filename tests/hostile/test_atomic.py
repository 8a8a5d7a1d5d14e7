"""Outputs are written atomically, as a set, and a failing command changes nothing.

* the helper (:mod:`mlscope.atomic`): content, permissions, nothing left on an error;
* ``kill -9`` during ``mlscope run`` / ``mlscope check``: ``out/`` holds the previous complete
  set of outputs or the new one, never a truncated file, never files of two runs (each file
  carries the run id);
* failing commands (exit 2) leave the project folder byte-for-byte as it was: data,
  charter, earlier outputs and the store. Add a case to ``FAILING`` for a new failure kind.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from mlscope import atomic
from mlscope.atomic import StagedFiles, remove_stale_temps, write_atomic
from mlscope.cli import main
from tests.conftest import base_charter, binary_frame
from tests.hostile.snapshot import assert_unchanged, snapshot

OUTPUTS = ("result.json", "report.html", "check.md")
TEMP = re.compile(r"^\.(result\.json|report\.html|check\.md)\.\d+\.[0-9a-f]{8}\.tmp$")


def temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# -- the helper ----------------------------------------------------------------------------
@pytest.fixture
def umask_022() -> Any:
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.usefixtures("umask_022")
def test_write_atomic_content_and_permissions(tmp_path: Path) -> None:
    target = write_atomic(tmp_path / "a.json", "{\"é\": 1}\n")
    assert target.read_text(encoding="utf-8") == "{\"é\": 1}\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # as open() would create it
    write_atomic(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert os.listdir(tmp_path) == ["a.json"]  # no temporary file left


def test_write_atomic_respects_umask_and_keeps_mode(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        private = write_atomic(tmp_path / "private.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    shared = tmp_path / "shared.txt"
    shared.write_text("old", encoding="utf-8")
    shared.chmod(0o640)
    write_atomic(shared, "new")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o640  # as an in-place write keeps it


def test_symlink_at_target_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    link = tmp_path / "result.json"
    link.symlink_to(victim)
    write_atomic(link, "{}")
    assert victim.read_text(encoding="utf-8") == "precious"
    assert not link.is_symlink()
    assert link.read_text(encoding="utf-8") == "{}"


@pytest.mark.parametrize("fail", ["copyfileobj", "fsync", "replace"])
def test_error_leaves_target_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         fail: str) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(b"new" * 1000)
    out = tmp_path / "out"
    out.mkdir()
    target = out / "result.json"
    target.write_text("old and complete", encoding="utf-8")

    def boom(*_a: Any, **_k: Any) -> None:
        raise OSError(28, "No space left on device")

    # copyfileobj: the temporary file exists and is half written when the error comes.
    monkeypatch.setattr(atomic.shutil if fail == "copyfileobj" else atomic.os, fail, boom)
    def write() -> object:
        if fail == "copyfileobj":
            return atomic.copy_atomic(source, target)
        return write_atomic(target, "new")

    with pytest.raises(OSError, match="No space"):
        write()
    assert target.read_text(encoding="utf-8") == "old and complete"
    assert os.listdir(out) == ["result.json"]


def test_staged_set_replaces_nothing_before_commit(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for name in OUTPUTS:
        (out / name).write_text(f"old {name}", encoding="utf-8")
    before = snapshot(tmp_path)
    with StagedFiles(out) as staged:
        staged.drop("check.md")
        staged.put("report.html", "new html")
        staged.put("result.json", "new json")
        assert_unchanged_visible(before, out)
        assert len(temps(out)) == 2
        assert all(TEMP.match(n) for n in temps(out))
        written = staged.commit()
    assert written == [out / "report.html", out / "result.json"]
    assert sorted(os.listdir(out)) == ["report.html", "result.json"]
    assert (out / "result.json").read_text(encoding="utf-8") == "new json"

    with pytest.raises(KeyboardInterrupt):
        stage(out, {"result.json": "never"}, then=KeyboardInterrupt())
    assert sorted(os.listdir(out)) == ["report.html", "result.json"]
    assert (out / "result.json").read_text(encoding="utf-8") == "new json"


def stage(folder: Path, files: dict[str, str], then: BaseException | None = None) -> None:
    """Stage ``files``; raise ``then`` before the commit, else commit."""
    with StagedFiles(folder) as staged:
        for name, text in files.items():
            staged.put(name, text)
        if then is not None:
            raise then
        staged.commit()


def assert_unchanged_visible(before: dict[str, str], out: Path) -> None:
    now = {k: v for k, v in snapshot(out.parent).items() if not k.endswith(".tmp")}
    assert now == before


def test_discard_removes_the_folders_it_created(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        stage(tmp_path / "a" / "b", {"result.json": "x"}, then=RuntimeError())
    assert os.listdir(tmp_path) == []


def test_a_target_that_is_a_folder_fails_before_anything_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "report.html").mkdir()
    (tmp_path / "result.json").write_text("old", encoding="utf-8")
    with pytest.raises(IsADirectoryError):
        stage(tmp_path, {"result.json": "new", "report.html": "new"})
    assert (tmp_path / "result.json").read_text(encoding="utf-8") == "old"
    assert temps(tmp_path) == []


def test_stale_temps_of_dead_writers_are_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".result.json.{dead.pid}.0badc0de.tmp"
    live = tmp_path / f".result.json.{os.getppid()}.0badc0de.tmp"  # a running writer's
    other = tmp_path / f".notes.txt.{dead.pid}.0badc0de.tmp"  # not a name being written
    for p in (stale, live, other):
        p.write_text("partial", encoding="utf-8")
        os.utime(p, (time.time() - 60, time.time() - 60))
    fresh = tmp_path / f".result.json.{dead.pid}.0000beef.tmp"  # newer than the run start
    fresh.write_text("partial", encoding="utf-8")
    started = time.time() - 30
    os.utime(fresh, (started + 1, started + 1))
    with StagedFiles(tmp_path, started=started) as staged:
        staged.put("result.json", "{}")
        staged.commit()
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["result.json", live.name, other.name, fresh.name])
    assert remove_stale_temps(tmp_path, ["result.json"], older_than=time.time() + 1) == \
        [fresh]


# -- a project -----------------------------------------------------------------------------
def charter() -> dict[str, Any]:
    c = base_charter()
    c["blessed"] = "fair"
    c["gates"] = {"roc_auc": {"regress": 0.05}}
    return c


def write_project(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    binary_frame().to_parquet(folder / "eval.parquet", index=False)
    path = folder / "mlscope.yaml"
    path.write_text(yaml.safe_dump(charter(), sort_keys=False), encoding="utf-8")
    return path


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mlscope.cli", *args]


def run_ids(out: Path) -> dict[str, str | None]:
    """The run id in each output present; every file must be whole to have one."""
    ids: dict[str, str | None] = {}
    ids["result.json"] = json.loads((out / "result.json").read_text(encoding="utf-8"))["run_id"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.rstrip().endswith("</html>"), "a truncated report.html"
    m = re.search(r'<meta name="mlscope-run-id" content="([0-9a-f]+)">', page)
    ids["report.html"] = m and m[1]
    if (out / "check.md").exists():
        m = re.search(r"<!-- mlscope-run-id: ([0-9a-f]+) -->\n\Z",
                      (out / "check.md").read_text(encoding="utf-8"))
        ids["check.md"] = m and m[1]
    return ids


def outputs(out: Path) -> dict[str, str]:
    return {k: v for k, v in snapshot(out).items() if not k.startswith(".")}


def test_outputs_of_one_run_carry_one_id_and_stale_ones_go(tmp_path: Path) -> None:
    path = write_project(tmp_path)
    out = tmp_path / "out"
    runner = CliRunner()
    r = runner.invoke(main, ["check", str(path), "--out", str(out), "-q"])
    assert r.exit_code in (0, 1), r.output
    ids = run_ids(out)
    assert len(set(ids.values())) == 1
    assert None not in ids.values()
    assert sorted(os.listdir(out)) == ["check.md", "report.html", "result.json"]
    # A plain run does not write check.md: the one of the earlier check would describe
    # another run, so it goes with the rest of the old set.
    r = runner.invoke(main, ["run", str(path), "--out", str(out), "-q"])
    assert r.exit_code in (0, 1), r.output
    assert sorted(os.listdir(out)) == ["report.html", "result.json"]
    assert len(set(run_ids(out).values())) == 1
    r = runner.invoke(main, ["evaluate", str(path), "--out", str(out), "-q"])
    assert r.exit_code in (0, 1), r.output
    assert sorted(os.listdir(out)) == ["result.json"]
    # `mlscope report` renders the same run id again, atomically.
    r = runner.invoke(main, ["report", str(out / "result.json")])
    assert r.exit_code in (0, 1), r.output
    assert len(set(run_ids(out).values())) == 1
    assert sorted(os.listdir(out)) == ["report.html", "result.json"]


# -- kill -9 -------------------------------------------------------------------------------
def first_temp_seen(proc: subprocess.Popen[bytes], out: Path, t0: float) -> float | None:
    """Seconds from start until a temporary output file appears (the write phase)."""
    while proc.poll() is None:
        if out.exists() and any(TEMP.match(n) for n in os.listdir(out)):
            return time.monotonic() - t0
        time.sleep(0.002)
    return None


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_kill_9_leaves_the_old_set_or_the_new_one(tmp_path: Path) -> None:
    path = write_project(tmp_path)
    out = tmp_path / "out"
    env = dict(os.environ)
    t0 = time.monotonic()
    first = subprocess.Popen(cli("check", str(path), "--out", str(out), "-q"), env=env,
                             stdout=subprocess.DEVNULL)
    seen = first_temp_seen(first, out, t0)
    assert first.wait() in (0, 1)
    duration = time.monotonic() - t0
    # From the first temporary file to the exit: staging, the store, the renames.
    write_phase = duration - seen if seen is not None else 0.2 * duration
    assert len(set(run_ids(out).values())) == 1

    rng = random.Random(11)
    prev = outputs(out)
    kinds: dict[str, int] = {"old": 0, "new": 0, "torn": 0, "killed": 0, "in write phase": 0}
    for trial in range(20):
        command = ("check", "run")[trial % 2]
        proc = subprocess.Popen(
            cli(command, str(path), "--out", str(out), "-q", "--seed", str(100 + trial)),
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        start = time.monotonic()
        if trial % 3 == 0:  # anywhere in the run
            time.sleep(rng.uniform(0.0, duration))
        else:  # in the write phase, whenever it comes under the machine's load
            if first_temp_seen(proc, out, start) is not None:
                kinds["in write phase"] += 1
            time.sleep(rng.uniform(0.0, write_phase))
        if proc.poll() is None:
            kinds["killed"] += 1
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

        now = outputs(out)
        ids = run_ids(out)  # each file whole, or this fails
        assert set(now) - {"check.md"} == {"result.json", "report.html"}, now
        old_id = json.loads((out / "result.json").read_text(encoding="utf-8"))["run_id"]
        if now == prev:
            kinds["old"] += 1
        elif len(set(ids.values())) == 1:
            kinds["new"] += 1
            assert ("check.md" in now) == (command == "check")
        else:
            # The documented window of a few microseconds between two renames: result.json
            # (renamed last) is still the old, whole one; the others are the new run's and
            # say so with their id.
            kinds["torn"] += 1
            assert now["result.json"] == prev["result.json"]
            assert all(v != old_id for k, v in ids.items() if k != "result.json")
        assert all(TEMP.match(n) for n in os.listdir(out) if n.startswith("."))
        prev = now

    assert kinds["killed"] >= 5, kinds
    r = subprocess.run(cli("run", str(path), "--out", str(out), "-q"), env=env, check=False,
                       stdout=subprocess.DEVNULL)
    assert r.returncode in (0, 1)
    assert sorted(os.listdir(out)) == ["report.html", "result.json"]  # temps cleaned
    assert len(set(run_ids(out).values())) == 1
    print(f"kill -9 outcomes: {kinds}, run {duration:.2f} s, write phase {write_phase:.2f} s")


# -- a failing command changes nothing -----------------------------------------------------
def edit(**changes: Any) -> Callable[[Path], None]:
    """A case setup: change top-level keys (or ``data.<key>``) of the charter."""

    def apply(folder: Path) -> None:
        path = folder / "mlscope.yaml"
        c = yaml.safe_load(path.read_text(encoding="utf-8"))
        for key, value in changes.items():
            if key.startswith("data_"):
                c["data"][key.removeprefix("data_")] = value
            else:
                c[key] = value
        path.write_text(yaml.safe_dump(c, sort_keys=False), encoding="utf-8")

    return apply


def nothing(_folder: Path) -> None:
    pass


def junk_store(folder: Path) -> None:
    (folder / "junk.sqlite").write_bytes(b"not a database\x00" * 200)


def truncate_result(folder: Path) -> None:
    path = folder / "out" / "result.json"
    path.write_bytes(path.read_bytes()[:1000])


def folder_at_report(folder: Path) -> None:
    (folder / "out2").mkdir()
    (folder / "out2" / "result.json").write_text("{}", encoding="utf-8")
    (folder / "out2" / "report.html").mkdir()


# (id, setup of the project folder before the snapshot, command; {d} is the folder)
FAILING: list[tuple[str, Callable[[Path], None], list[str]]] = [
    ("missing-column", edit(data_label="no_such_column"), ["run", "{d}/mlscope.yaml"]),
    ("bad-metric-id", edit(metrics=["roc_auc", "roc_acu"]), ["run", "{d}/mlscope.yaml"]),
    ("requirement-typo", edit(requirements={"roc_acu": ">= 0.6"}),
     ["run", "{d}/mlscope.yaml"]),
    ("missing-data-file", edit(data_table="missing.parquet"), ["run", "{d}/mlscope.yaml"]),
    ("unknown-model-for-diagnose", nothing,
     ["diagnose", "{d}/mlscope.yaml", "--model", "nosuch"]),
    ("unknown-candidate", nothing, ["check", "{d}/mlscope.yaml", "--candidate", "nosuch"]),
    ("check-unknown-blessed", edit(blessed="production"), ["check", "{d}/mlscope.yaml"]),
    ("check-without-blessed", edit(blessed=None, gates=None), ["check", "{d}/mlscope.yaml"]),
    ("store-not-a-database", junk_store,
     ["run", "{d}/mlscope.yaml", "--store", "{d}/junk.sqlite"]),
    ("output-is-a-folder", folder_at_report, ["run", "{d}/mlscope.yaml", "--out", "{d}/out2"]),
    ("report-corrupt-result", truncate_result, ["report", "{d}/out/result.json"]),
    ("report-missing-result", nothing, ["report", "{d}/out/nothing.json"]),
]


@pytest.fixture(scope="module")
def good_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project after a good `mlscope check`: data, charter, out/ and the store."""
    folder = tmp_path_factory.mktemp("good") / "project"
    path = write_project(folder)
    r = CliRunner().invoke(main, ["check", str(path), "--out", str(folder / "out"), "-q"])
    assert r.exit_code in (0, 1), r.output
    assert (folder / ".mlscope" / "store.sqlite").exists()
    assert sorted(os.listdir(folder / "out")) == ["check.md", "report.html", "result.json"]
    return folder


@pytest.mark.parametrize(("setup", "command"), [pytest.param(s, c, id=i) for i, s, c in FAILING])
def test_a_failing_command_changes_nothing(good_project: Path, tmp_path: Path,
                                           setup: Callable[[Path], None],
                                           command: list[str]) -> None:
    folder = tmp_path / "project"
    shutil.copytree(good_project, folder)
    setup(folder)
    before = snapshot(folder)
    args = [a.format(d=folder) for a in command]
    if args[0] != "report" and "--out" not in args:
        args += ["--out", str(folder / "out")]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    assert_unchanged(before, folder)
