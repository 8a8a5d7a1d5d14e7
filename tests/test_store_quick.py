"""``mlscope.store.quick``: a run recorded with ``sqlite3`` alone is the run ``Store.save``
records, byte for byte, and every case it does not handle is left to ``Store`` untouched.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml

import mlscope
from mlscope.result import EvaluationResult
from mlscope.store import Store
from mlscope.store.quick import save_run, sqlite_file
from mlscope.store.schema import RUNS_TABLE, VALUES_TABLE, VERSION_TABLE
from tests.conftest import base_charter, binary_frame


def _evaluate(folder: Path, models: dict[str, str], seed: int, *,
              requirements: bool = True) -> EvaluationResult:
    folder.mkdir(parents=True, exist_ok=True)
    binary_frame(n=400, seed=seed).to_parquet(folder / "eval.parquet", index=False)
    charter = base_charter(
        project="quick", seed=seed,
        data={"table": "eval.parquet", "id": "row_id", "label": "label", "split": "split",
              "models": models},
        slices={"columns": ["region"], "min_size": 10},
        baselines={"prior": {"kind": "prior"}},
        intervals={"resamples": 20})
    if not requirements:  # as `mlscope init` writes it
        del charter["requirements"]
    (folder / "mlscope.yaml").write_text(yaml.safe_dump(charter), encoding="utf-8")
    return mlscope.evaluate(folder / "mlscope.yaml")


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[EvaluationResult]:
    tmp = tmp_path_factory.mktemp("quick")
    two = {"good": "p_good", "fair": "p_fair"}
    return [_evaluate(tmp / "a", two, 7), _evaluate(tmp / "b", {**two, "weak": "p_weak"}, 8)]


def _rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the store's run tables with each value's SQLite storage class; the
    time of saving is left out (it is the clock's)."""
    out = {}
    with closing(sqlite3.connect(path)) as con:
        for table in (RUNS_TABLE, VALUES_TABLE):
            cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")
                    if r[1] != "saved_at"]
            sel = ", ".join(f"{c}, typeof({c})" for c in cols)
            out[table] = con.execute(f"SELECT {sel} FROM {table} ORDER BY 1, 2, 3, 4, 5"
                                     ).fetchall()
    return out


def _empty_store(path: Path) -> None:
    Store.open(path).close()  # created at the head revision, through SQLAlchemy


def test_quick_save_writes_what_store_save_writes(tmp_path: Path,
                                                  results: list[EvaluationResult]) -> None:
    slow, quick = tmp_path / "slow" / "s.sqlite", tmp_path / "quick" / "s.sqlite"
    _empty_store(slow)
    _empty_store(quick)
    for i, res in enumerate(results, start=1):
        with Store.open(slow) as db:
            assert db.save(res, command="mlscope run", charter_text="x: 1") == i
            url = db.url
        assert save_run(res, location=quick, project_dir=None, command="mlscope run",
                        charter_text="x: 1") == (url.replace(str(slow), str(quick)), i)
    a, b = _rows(slow), _rows(quick)
    assert len(a[RUNS_TABLE]) == 2
    assert len(a[VALUES_TABLE]) > 10
    assert a == b  # the second run's `changes` (a model added, data and seed) included
    with Store.open(quick) as db:  # and Store reads it back
        assert [r.id for r in db.runs()] == [2, 1]
        assert db.runs()[0].changes == Store.open(slow).runs()[0].changes != []
        assert db.result(1).to_dict() == results[0].to_dict()


def test_quick_save_keeps_the_requirement_count_as_store_save(
        tmp_path: Path, results: list[EvaluationResult]) -> None:
    # A charter without requirements: "requirements met" is vacuous, and the row says so
    # with a count of 0 on both paths (the dashboard's run lists read it).
    bare = _evaluate(tmp_path / "bare", {"good": "p_good", "fair": "p_fair"}, 9,
                     requirements=False)
    assert (bare.status, bare.requirements) == ("requirements_met", [])
    runs = [results[0], bare, results[1]]
    slow, quick = tmp_path / "slow" / "s.sqlite", tmp_path / "quick" / "s.sqlite"
    _empty_store(slow)
    _empty_store(quick)
    for res in runs:
        with Store.open(slow) as db:
            db.save(res, command="mlscope run")
        assert save_run(res, location=quick, project_dir=None, command="mlscope run")
    assert _rows(slow) == _rows(quick)
    with closing(sqlite3.connect(quick)) as con:
        assert con.execute(f"SELECT requirements, typeof(requirements) FROM {RUNS_TABLE} "
                           "ORDER BY id").fetchall() == [
            (len(runs[0].requirements), "integer"), (0, "integer"),
            (len(runs[2].requirements), "integer")]
    assert len(runs[0].requirements) >= 1
    with Store.open(quick) as db:
        assert [r.no_requirements for r in db.runs()[::-1]] == [False, True, False]


def test_quick_url_is_the_stores(tmp_path: Path, results: list[EvaluationResult]) -> None:
    path = tmp_path / "a folder with spaces" / "store.sqlite"
    _empty_store(path)
    with Store.open(path) as db:
        url = db.url
    saved = save_run(results[0], location=str(path), project_dir=None, command="c")
    assert saved == (url, 1)
    # The default location, as Store.open finds it.
    assert sqlite_file(None, tmp_path) == (tmp_path / ".mlscope" / "store.sqlite").absolute()


def test_quick_leaves_what_it_does_not_handle_to_store(
    tmp_path: Path, results: list[EvaluationResult]
) -> None:
    res = results[0]
    # No store yet: Store creates it (and the schema).
    missing = tmp_path / "none.sqlite"
    assert save_run(res, location=missing, project_dir=None, command="c") is None
    assert not missing.exists()
    # A database URL, even an SQLite one.
    assert save_run(res, location=f"sqlite:///{tmp_path / 'u.sqlite'}", project_dir=None,
                    command="c") is None
    # Not an SQLite file.
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert save_run(res, location=text, project_dir=None, command="c") is None
    assert text.read_text() == "hello"
    # An SQLite file without a store, and a store at another revision: nothing written.
    other = tmp_path / "other.sqlite"
    with closing(sqlite3.connect(other)) as con:
        con.execute("CREATE TABLE t (x)")
    assert save_run(res, location=other, project_dir=None, command="c") is None
    old = tmp_path / "old.sqlite"
    _empty_store(old)
    with closing(sqlite3.connect(old)) as con, con:
        con.execute(f"UPDATE {VERSION_TABLE} SET version_num = '0001'")
    assert save_run(res, location=old, project_dir=None, command="c") is None
    with closing(sqlite3.connect(old)) as con:
        assert con.execute(f"SELECT count(*) FROM {RUNS_TABLE}").fetchone() == (0,)


def test_quick_gives_way_to_a_held_lock(tmp_path: Path,
                                        results: list[EvaluationResult],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # A writer holding the store past the busy timeout: the quick path writes nothing and
    # hands over to Store, which retries (and explains when it gives up).
    import mlscope.store.quick as quick

    path = tmp_path / "s.sqlite"
    _empty_store(path)
    monkeypatch.setattr(quick, "BUSY_TIMEOUT_S", 0.05)
    with closing(sqlite3.connect(path, isolation_level=None)) as holder:
        holder.execute("BEGIN IMMEDIATE")
        assert save_run(results[0], location=path, project_dir=None, command="c") is None
        holder.execute("ROLLBACK")
    with closing(sqlite3.connect(path)) as con:
        assert con.execute(f"SELECT count(*) FROM {RUNS_TABLE}").fetchone() == (0,)
