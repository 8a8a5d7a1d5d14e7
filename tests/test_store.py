"""The store of results: round trip, run listing and changes, history, concurrency,
migrations, and the stores it must refuse without touching them.

Results come from real evaluations of small generated tables (see ``tests/conftest.py``),
so what is saved is what ``mlscope run`` would save.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
import yaml

import mlscope
from mlscope.result import EvaluationResult
from mlscope.store import HEAD_REVISION, HistoryPoint, RunSummary, Store, StoreError, migrate
from mlscope.store import store as store_mod
from mlscope.store.schema import META_TABLE, RUNS_TABLE, VALUES_TABLE, VERSION_TABLE
from tests.conftest import base_charter, binary_frame

PROJECT = "store-test"


def _evaluate(folder: Path, charter: dict[str, Any], *, data_seed: int = 0) -> tuple[
        EvaluationResult, str]:
    folder.mkdir(parents=True, exist_ok=True)
    binary_frame(n=400, seed=data_seed).to_parquet(folder / "eval.parquet", index=False)
    text = yaml.safe_dump(charter, sort_keys=False)
    (folder / "mlscope.yaml").write_text(text, encoding="utf-8")
    return mlscope.evaluate(folder / "mlscope.yaml"), text


def _charter(models: dict[str, str], *, seed: int = 7) -> dict[str, Any]:
    return base_charter(
        project=PROJECT,
        seed=seed,
        data={"table": "eval.parquet", "id": "row_id", "label": "label", "split": "split",
              "models": models},
        slices={"columns": ["region"], "min_size": 10},
        metrics=["roc_auc", "log_loss", "recall"],
        selection={"rule": "satisficing", "optimize": "roc_auc"},
        requirements={"roc_auc": ">= 0.5"},
        baselines={"prior": {"kind": "prior"}},
        intervals={"resamples": 30},
    )


@pytest.fixture(scope="module")
def evaluations(tmp_path_factory: pytest.TempPathFactory
                ) -> list[tuple[EvaluationResult, str]]:
    """Three runs of one project: a first one, a new model added, then new data and seed."""
    tmp = tmp_path_factory.mktemp("store_eval")
    two = {"good": "p_good", "fair": "p_fair"}
    three = {**two, "weak": "p_weak"}
    return [
        _evaluate(tmp / "a", _charter(two)),
        _evaluate(tmp / "b", _charter(three)),
        _evaluate(tmp / "c", _charter({"good": "p_good", "weak": "p_weak"}, seed=8),
                  data_seed=1),
    ]


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / ".mlscope" / "store.sqlite"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# -- round trip and listing --------------------------------------------------------------
def test_default_location_wal_and_round_trip(
    tmp_path: Path, evaluations: list[tuple[EvaluationResult, str]]
) -> None:
    res, text = evaluations[0]
    with Store.open(project_dir=tmp_path) as store:
        run_id = store.save(res, command="mlscope run mlscope.yaml", charter_text=text,
                            note="first")
        assert store.result(run_id).to_dict() == res.to_dict()
        assert store.charter_text(run_id) == text
        s = store.run(run_id)
    path = tmp_path / ".mlscope" / "store.sqlite"
    assert store.path == path
    assert store.url == f"sqlite:///{path}"
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    canonical = json.dumps(res.charter, sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False)
    assert s == RunSummary(
        id=run_id, created_at=res.created_at, project=PROJECT,
        command="mlscope run mlscope.yaml", task="binary", status=res.status,
        exit_code=res.exit_code, winner=res.winner, n_models=2, models=["good", "fair"],
        baselines=["prior"], metrics=["roc_auc", "log_loss", "recall"],
        selection_metric="roc_auc", selection_split="validation",
        charter_hash=hashlib.sha256(canonical.encode()).hexdigest(),
        data_fingerprint=s.data_fingerprint, mlscope_version=mlscope.__version__, seed=7,
        note="first", changes=[])
    assert s.created_at.endswith("+00:00")
    fp = s.data_fingerprint
    assert fp["sources"] == res.data["sources"]
    assert fp["rows"] == 400
    assert fp["columns"] == ["row_id", "label", "split", "p_good", "p_fair", "region"]
    assert len(fp["hash"]) == 64


def test_runs_newest_first_with_changes(
    store_path: Path, evaluations: list[tuple[EvaluationResult, str]]
) -> None:
    other = EvaluationResult.from_dict({**evaluations[0][0].to_dict(), "project": "other"})
    with Store.open(store_path) as store:
        ids = [store.save(r, command="mlscope run") for r, _ in evaluations]
        other_id = store.save(other, command="mlscope run")
        runs = store.runs(PROJECT)
        assert [r.id for r in runs] == ids[::-1]
        assert [r.changes for r in runs[::-1]] == [
            [],
            ["charter edited", "new models: weak"],
            ["charter edited", "models removed: fair", "data changed", "seed changed"],
        ]
        assert [r.id for r in store.runs()] == [other_id, *ids[::-1]]
        assert store.run(other_id).changes == []  # projects are compared only with themselves
        assert [r.id for r in store.runs(limit=2, offset=1)] == ids[::-1][:2]
        assert store.runs("nobody") == []
        assert store.projects() == ["other", PROJECT]
        assert store.count() == 4
        assert store.count(PROJECT) == 3


def test_history_matches_the_results(
    store_path: Path, evaluations: list[tuple[EvaluationResult, str]]
) -> None:
    with Store.open(store_path) as store:
        ids = [store.save(r, command="mlscope run") for r, _ in evaluations]
        for split in (None, "test"):
            points = store.history(PROJECT, "roc_auc", split=split)
            expected = []
            for run_id, (res, _) in zip(ids, evaluations, strict=True):
                for m in res.models:
                    v = res.value("roc_auc", m.name, split=split)
                    expected.append(HistoryPoint(
                        run_id=run_id, created_at=store.run(run_id).created_at, model=m.name,
                        kind=m.kind, split=split or "validation", value=v.value,
                        lower=v.lower, upper=v.upper))
            assert points == expected
        assert {p.kind for p in points} == {"candidate", "baseline"}
        weak = store.history(PROJECT, "log_loss", models=["weak"])
        assert [p.run_id for p in weak] == ids[1:]
        assert store.history(PROJECT, "log_loss", models=[]) == []
        assert store.history(PROJECT, "no_such_metric") == []


# -- concurrency -------------------------------------------------------------------------
def _save_many(path: str, payload: str, worker: int, n: int) -> None:
    res = EvaluationResult.from_dict(json.loads(payload))
    # Every worker opens the fresh file itself: creating the schema races too.
    with Store.open(path) as store:
        for i in range(n):
            store.save(res, command="mlscope run", note=f"{worker}-{i}")


def test_concurrent_writers_lose_nothing(
    store_path: Path, evaluations: list[tuple[EvaluationResult, str]]
) -> None:
    res = evaluations[0][0]
    payload = res.to_json(indent=0)
    ctx = multiprocessing.get_context("spawn")  # separate interpreters, like separate CLIs
    store_path.parent.mkdir(parents=True)
    procs = [ctx.Process(target=_save_many, args=(str(store_path), payload, w, 10))
             for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    with Store.open(store_path, create=False) as store:
        runs = store.runs()
        assert len(runs) == 40
        assert sorted(r.note or "" for r in runs) == sorted(
            f"{w}-{i}" for w in range(4) for i in range(10))
        assert sorted(r.id for r in runs) == list(range(1, 41))
        assert len(store.history(PROJECT, "roc_auc")) == 40 * len(res.models)
    with closing(sqlite3.connect(store_path)) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n_values = con.execute(f"SELECT COUNT(*) FROM {VALUES_TABLE}").fetchone()[0]
    assert n_values == 40 * len(store_mod._value_rows(res))


def test_a_failed_save_writes_nothing(
    store_path: Path, evaluations: list[tuple[EvaluationResult, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    res = evaluations[0][0]
    real = store_mod._insert_values

    def half_then_fail(conn: sa.Connection, run_id: int, rows: list[dict[str, Any]]) -> None:
        real(conn, run_id, rows[: len(rows) // 2])  # the run row and half its values are in
        raise RuntimeError("disk pulled out mid-save")

    with Store.open(store_path) as store:
        monkeypatch.setattr(store_mod, "_insert_values", half_then_fail)
        with pytest.raises(RuntimeError, match="mid-save"):
            store.save(res, command="mlscope run")
        assert store.runs() == []
        monkeypatch.undo()
        run_id = store.save(res, command="mlscope run")
        assert store.run(run_id).changes == []  # the failed save is no "previous run"
    with closing(sqlite3.connect(store_path)) as con:
        assert con.execute(f"SELECT COUNT(*) FROM {RUNS_TABLE}").fetchone()[0] == 1
        n_values = con.execute(f"SELECT COUNT(*) FROM {VALUES_TABLE}").fetchone()[0]
    assert n_values == len(store_mod._value_rows(res))


# -- migrations ----------------------------------------------------------------------------
def _schema(path: Path) -> dict[str, Any]:
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        insp = sa.inspect(engine)
        return {t: ({c["name"]: str(c["type"]) for c in insp.get_columns(t)},
                    sorted((i["name"], tuple(i["column_names"])) for i in insp.get_indexes(t)))
                for t in sorted(insp.get_table_names())}
    finally:
        engine.dispose()


def test_revisions_and_schema_module_agree(tmp_path: Path) -> None:
    assert migrate.known_revisions() == ["0001", "0002"]
    assert migrate.alembic_head() == HEAD_REVISION
    Store.open(tmp_path / "fresh.sqlite").close()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'declared.sqlite'}")
    store_mod.runs_table.metadata.create_all(engine)
    engine.dispose()
    migrated = _schema(tmp_path / "fresh.sqlite")
    assert migrated.pop(VERSION_TABLE)
    assert migrated == _schema(tmp_path / "declared.sqlite")


def test_upgrade_from_revision_1_keeps_the_runs(
    store_path: Path, evaluations: list[tuple[EvaluationResult, str]]
) -> None:
    store_path.parent.mkdir(parents=True)
    engine = sa.create_engine(f"sqlite:///{store_path}")
    with engine.begin() as conn:
        migrate.upgrade(conn, "0001")
        old_runs = sa.Table(RUNS_TABLE, sa.MetaData(), autoload_with=conn)
        assert "changes" not in old_runs.c  # really the old schema
        for res, _ in evaluations:
            rec = store_mod._run_record(res, command="mlscope run", charter_text=None,
                                        note="old")
            run_id = conn.execute(sa.insert(old_runs).values(**rec)).inserted_primary_key[0]
            store_mod._insert_values(conn, run_id, store_mod._value_rows(res))
        assert conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() \
            == "0001"
    engine.dispose()

    with Store.open(store_path, create=False) as store:
        runs = store.runs()
        assert [r.id for r in runs] == [3, 2, 1]
        assert [r.changes for r in runs[::-1]] == [
            [],
            ["charter edited", "new models: weak"],
            ["charter edited", "models removed: fair", "data changed", "seed changed"],
        ]
        assert store.result(2).to_dict() == evaluations[1][0].to_dict()
        assert len(store.history(PROJECT, "roc_auc", split="test")) == sum(
            len(r.models) for r, _ in evaluations)
        new_id = store.save(evaluations[2][0], command="mlscope run")
        assert store.run(new_id).changes == []
    with closing(sqlite3.connect(store_path)) as con:
        assert con.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall() == [
            (HEAD_REVISION,)]
        assert dict(con.execute(f"SELECT key, value FROM {META_TABLE}").fetchall())[
            "schema_written_by"] == mlscope.__version__
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    assert "ix_mlscope_run_values_history" in names


# -- stores refused, untouched -------------------------------------------------------------
def test_newer_schema_is_refused_untouched(
    store_path: Path, evaluations: list[tuple[EvaluationResult, str]]
) -> None:
    with Store.open(store_path) as store:
        store.save(evaluations[0][0], command="mlscope run")
    with closing(sqlite3.connect(store_path)) as con, con:
        con.execute(f"UPDATE {VERSION_TABLE} SET version_num = '0007'")
        con.execute(f"UPDATE {META_TABLE} SET value = '9.1.0' WHERE key = 'schema_written_by'")
    assert sorted(p.name for p in store_path.parent.iterdir()) == ["store.sqlite"]
    before = _snapshot(store_path.parent)
    with pytest.raises(StoreError) as err:
        Store.open(store_path)
    msg = str(err.value)
    for part in ("revision 0007", "mlscope 9.1.0", f"up to revision {HEAD_REVISION}",
                 "pip install --upgrade mlscope", str(store_path), "untouched"):
        assert part in msg
    assert _snapshot(store_path.parent) == before


def test_a_text_file_is_refused_untouched(store_path: Path) -> None:
    store_path.parent.mkdir(parents=True)
    store_path.write_text("results: not a database\n", encoding="utf-8")
    before = _snapshot(store_path.parent)
    with pytest.raises(StoreError, match="not an SQLite database") as err:
        Store.open(store_path)
    assert str(store_path) in str(err.value)
    assert _snapshot(store_path.parent) == before


def test_an_unrelated_sqlite_file_is_refused_untouched(store_path: Path) -> None:
    store_path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(store_path)) as con, con:
        con.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
        con.execute("INSERT INTO customers VALUES (1, 'Ada')")
    before = _snapshot(store_path.parent)
    with pytest.raises(StoreError, match=r"other tables \(customers\)") as err:
        Store.open(f"sqlite:///{store_path}")
    assert str(store_path) in str(err.value)
    assert _snapshot(store_path.parent) == before


@pytest.mark.parametrize(("location", "create", "match"), [
    pytest.param("missing.sqlite", False, "no mlscope store", id="missing-no-create"),
    pytest.param(".", True, "is a directory", id="directory"),
    pytest.param("nosuchdb+nodriver://host/db", True, "cannot use", id="unknown-dialect"),
    pytest.param("sqlite://:bad", True, "not a database URL", id="bad-url"),
])
def test_unusable_locations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, location: str,
                            create: bool, match: str) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match=match):
        Store.open(location, create=create)
    assert not (tmp_path / "missing.sqlite").exists()


def test_an_empty_database_without_create_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.sqlite").touch()
    with pytest.raises(StoreError, match="no mlscope store"):
        Store.open(tmp_path / "empty.sqlite", create=False)
    assert (tmp_path / "empty.sqlite").read_bytes() == b""


def test_missing_run_and_closed_store(store_path: Path) -> None:
    store = Store.open(store_path)
    with pytest.raises(StoreError, match=r"no run 3 .* no runs yet"):
        store.run(3)
    with pytest.raises(StoreError, match="no run 3"):
        store.result(3)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.runs()
    assert isinstance(StoreError("x"), ValueError)  # the CLI's InputError path: exit 2


# -- performance ---------------------------------------------------------------------------
def _bulk_insert(path: Path, res: EvaluationResult, *, n_runs: int, n_models: int,
                 n_metrics: int) -> None:
    """Fill a store directly (not through `save`): ``n_runs`` runs of one project, each
    with every model × metric on two splits."""
    models = [f"model_{i:02d}" for i in range(n_models)]
    metrics = [f"metric_{i}" for i in range(n_metrics)]
    rec = store_mod._run_record(res, command="mlscope run", charter_text=None, note=None)
    rec |= {"project": "big", "models": json.dumps(models), "n_models": n_models,
            "metrics": json.dumps(metrics), "result": b"", "changes": "[]"}
    rng = np.random.default_rng(0)
    values = iter(rng.random(n_runs * n_models * n_metrics * 2).tolist())
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.insert(store_mod.runs_table),
                     [{**rec, "id": i + 1} for i in range(n_runs)])
    engine.dispose()
    # 400,000 value rows: plain sqlite3 tuples, several times faster than dicts through Core.
    rows = [
        (r + 1, "big", s, m, k, "candidate", t, v, v - 0.1, v + 0.1)
        for r in range(n_runs) for s in ("validation", "test")
        for k, m in enumerate(models) for t in metrics for v in (next(values),)
    ]
    with closing(sqlite3.connect(path)) as con, con:
        con.executemany(f"INSERT INTO {VALUES_TABLE} (run_id, project, split, model, position, "
                        "kind, metric, value, lower, upper) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)


def test_runs_and_history_are_fast_on_a_large_store(
    store_path: Path, evaluations: list[tuple[EvaluationResult, str]]
) -> None:
    Store.open(store_path).close()
    _bulk_insert(store_path, evaluations[0][0], n_runs=1000, n_models=20, n_metrics=10)
    with Store.open(store_path) as store:
        timings = {}
        for name, call in {
            "runs": lambda: store.runs("big"),
            "history": lambda: store.history("big", "metric_3"),
            "history_test": lambda: store.history("big", "metric_3", split="test"),
            "history_models": lambda: store.history("big", "metric_3",
                                                    models=["model_01", "model_07"]),
        }.items():
            start = time.perf_counter()
            out = call()
            timings[name] = time.perf_counter() - start
            assert out
        assert len(store.runs("big")) == 1000
        points = store.history("big", "metric_3")
        assert len(points) == 1000 * 20
        assert points[0].run_id == 1
        assert points[-1].run_id == 1000
        assert {p.split for p in points} == {"validation"}
    assert max(timings.values()) < 1.0, timings
