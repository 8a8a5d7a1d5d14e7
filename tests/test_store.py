"""The store of results: round trip, run listing and changes, history, concurrency,
migrations, and the stores it must refuse without touching them.

Results come from real evaluations of small generated tables (see ``tests/conftest.py``),
so what is saved is what ``mlscope run`` would save. Tests taking ``store_url`` run on
SQLite and on a real PostgreSQL server (skipped where there is none; see
``tests/store_backends.py``); ``tests/test_store_contract.py`` holds the rest of the
contract both must meet.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

import mlscope
from mlscope.result import EvaluationResult
from mlscope.store import HEAD_REVISION, HistoryPoint, RunSummary, Store, StoreError, migrate
from mlscope.store import store as store_mod
from mlscope.store.changes import describe_changes
from mlscope.store.schema import META_TABLE, RUNS_TABLE, VALUES_TABLE, VERSION_TABLE
from tests.conftest import base_charter, binary_frame
from tests.store_backends import database_snapshot
from tests.store_backends import run_sql as _sql
from tests.store_fill import PROJECT as BIG
from tests.store_fill import bulk_fill

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
        note="first", changes=[], requirements=1)  # the charter's one requirement
    assert s.created_at.endswith("+00:00")
    fp = s.data_fingerprint
    assert fp["sources"] == res.data["sources"]
    assert fp["rows"] == 400
    assert fp["columns"] == ["row_id", "label", "split", "p_good", "p_fair", "region"]
    assert len(fp["hash"]) == 64


def test_runs_newest_first_with_changes(
    store_url: str, evaluations: list[tuple[EvaluationResult, str]]
) -> None:
    other = EvaluationResult.from_dict({**evaluations[0][0].to_dict(), "project": "other"})
    with Store.open(store_url) as store:
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
    store_url: str, evaluations: list[tuple[EvaluationResult, str]]
) -> None:
    with Store.open(store_url) as store:
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
def _save_many(url: str, payload: str, worker: int, n: int) -> None:
    # Each worker saves its own seed, so that a run's `changes` (against whichever run was
    # saved just before it) tell whether saves really took turns.
    res = EvaluationResult.from_dict({**json.loads(payload), "seed": 100 + worker})
    # Every worker opens the fresh database itself: creating the schema races too.
    with Store.open(url) as store:
        for i in range(n):
            store.save(res, command="mlscope run", note=f"{worker}-{i}")


def _facts(run: RunSummary) -> dict[str, Any]:
    return {"charter_hash": run.charter_hash, "models": run.models,
            "data_hash": run.data_fingerprint["hash"], "seed": run.seed}


def test_concurrent_writers_lose_nothing(
    store_url: str, evaluations: list[tuple[EvaluationResult, str]]
) -> None:
    res = evaluations[0][0]
    payload = res.to_json(indent=0)
    ctx = multiprocessing.get_context("spawn")  # separate interpreters, like separate CLIs
    procs = [ctx.Process(target=_save_many, args=(store_url, payload, w, 10))
             for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    with Store.open(store_url, create=False) as store:
        runs = store.runs()
        assert len(runs) == 40
        assert sorted(r.note or "" for r in runs) == sorted(
            f"{w}-{i}" for w in range(4) for i in range(10))
        # Ids are 1..40 in the order the saves committed: each run's changes are against
        # the run with the id before it, as if the saves had run one after another.
        assert sorted(r.id for r in runs) == list(range(1, 41))
        ordered = runs[::-1]
        assert ordered[0].changes == []
        for prev, run in itertools.pairwise(ordered):
            assert run.changes == describe_changes(_facts(prev), _facts(run)), run.id
        assert len(store.history(PROJECT, "roc_auc")) == 40 * len(res.models)
    if store_url.startswith("sqlite"):
        assert _sql(store_url, "PRAGMA integrity_check") == [("ok",)]
    orphans = _sql(store_url, f"SELECT COUNT(*) FROM {VALUES_TABLE} v LEFT JOIN {RUNS_TABLE} r "
                              "ON r.id = v.run_id WHERE r.id IS NULL")
    assert orphans == [(0,)]
    n_values = _sql(store_url, f"SELECT COUNT(*) FROM {VALUES_TABLE}")[0][0]
    assert n_values == 40 * len(store_mod.value_rows(res))


def test_saves_take_turns(
    store_url: str, evaluations: list[tuple[EvaluationResult, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A save that began holds off the next one until it commits: run ids follow the
    commits, and each run's changes are against the run saved just before it."""
    first = EvaluationResult.from_dict({**evaluations[0][0].to_dict(), "seed": 1})
    second = EvaluationResult.from_dict({**evaluations[0][0].to_dict(), "seed": 2})
    real = store_mod.insert_values
    inside, release = threading.Event(), threading.Event()
    holder: list[int] = []

    def held(conn: sa.Connection, run_id: int, rows: list[dict[str, Any]]) -> None:
        real(conn, run_id, rows)
        if not holder:  # only the first save waits, its run row written, not committed
            holder.append(threading.get_ident())
            inside.set()
            assert release.wait(60)

    monkeypatch.setattr(store_mod, "insert_values", held)
    ids: dict[str, int] = {}
    with Store.open(store_url) as store, ThreadPoolExecutor(2) as pool:
        a = pool.submit(lambda: ids.setdefault("first", store.save(first, command="a")))
        try:
            assert inside.wait(60)
            b = pool.submit(lambda: ids.setdefault("second", store.save(second, command="b")))
            # The second save must still be waiting for the first (not merely slow: it is
            # only released below), whatever the database.
            with pytest.raises(TimeoutError):
                b.result(timeout=0.5)
        finally:
            release.set()
        a.result(timeout=60)
        b.result(timeout=60)
        assert ids["second"] > ids["first"]
        assert store.run(ids["second"]).changes == ["seed changed"]


def test_a_failed_save_writes_nothing(
    store_url: str, evaluations: list[tuple[EvaluationResult, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    res = evaluations[0][0]
    real = store_mod.insert_values

    def half_then_fail(conn: sa.Connection, run_id: int, rows: list[dict[str, Any]]) -> None:
        real(conn, run_id, rows[: len(rows) // 2])  # the run row and half its values are in
        raise RuntimeError("disk pulled out mid-save")

    with Store.open(store_url) as store:
        monkeypatch.setattr(store_mod, "insert_values", half_then_fail)
        with pytest.raises(RuntimeError, match="mid-save"):
            store.save(res, command="mlscope run")
        assert store.runs() == []
        monkeypatch.undo()
        run_id = store.save(res, command="mlscope run")
        assert store.run(run_id).changes == []  # the failed save is no "previous run"
    assert _sql(store_url, f"SELECT COUNT(*) FROM {RUNS_TABLE}") == [(1,)]
    n_values = _sql(store_url, f"SELECT COUNT(*) FROM {VALUES_TABLE}")[0][0]
    assert n_values == len(store_mod.value_rows(res))


# -- migrations ----------------------------------------------------------------------------
def _schema(url: str, schema: str | None = None) -> dict[str, Any]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        insp = sa.inspect(engine)
        return {t: ({c["name"]: (str(c["type"]), c["nullable"])
                     for c in insp.get_columns(t, schema=schema)},
                    insp.get_pk_constraint(t, schema=schema)["constrained_columns"],
                    sorted((i["name"], tuple(i["column_names"]))
                           for i in insp.get_indexes(t, schema=schema)))
                for t in sorted(insp.get_table_names(schema=schema))}
    finally:
        engine.dispose()


def test_revisions_and_schema_module_agree(store_url: str, tmp_path: Path) -> None:
    assert migrate.known_revisions() == ["0001", "0002", "0003", "0004"]
    assert migrate.alembic_head() == HEAD_REVISION
    Store.open(store_url).close()
    # The tables as schema.py declares them, beside the migrated ones: in another SQLite
    # file, or in another schema of the same PostgreSQL database.
    if store_url.startswith("sqlite"):
        declared_url, schema = f"sqlite:///{tmp_path / 'declared.sqlite'}", None
    else:
        declared_url, schema = store_url, "declared"
        _sql(store_url, "CREATE SCHEMA declared")
    engine = sa.create_engine(declared_url, poolclass=sa.pool.NullPool)
    store_mod.runs_table.metadata.create_all(
        engine.execution_options(schema_translate_map={None: schema}))
    engine.dispose()
    migrated = _schema(store_url)
    assert migrated.pop(VERSION_TABLE)
    assert migrated == _schema(declared_url, schema)


def test_upgrade_from_revision_1_keeps_the_runs(
    store_url: str, evaluations: list[tuple[EvaluationResult, str]]
) -> None:
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        migrate.upgrade(conn, "0001")
        old_runs = sa.Table(RUNS_TABLE, sa.MetaData(), autoload_with=conn)
        assert "changes" not in old_runs.c  # really the old schema
        for res, _ in evaluations:
            rec = store_mod.run_record(res, command="mlscope run", charter_text=None,
                                        note="old")
            del rec["requirements"]  # revision 0004's column
            run_id = conn.execute(sa.insert(old_runs).values(**rec)).inserted_primary_key[0]
            store_mod.insert_values(conn, run_id, store_mod.value_rows(res))
        assert conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() \
            == "0001"
    engine.dispose()

    with Store.open(store_url, create=False) as store:
        runs = store.runs()
        assert [r.id for r in runs] == [3, 2, 1]
        assert [r.changes for r in runs[::-1]] == [
            [],
            ["charter edited", "new models: weak"],
            ["charter edited", "models removed: fair", "data changed", "seed changed"],
        ]
        assert store.result(2).to_dict() == evaluations[1][0].to_dict()
        assert [r.requirements for r in runs] == [1, 1, 1]  # read from the results
        assert len(store.history(PROJECT, "roc_auc", split="test")) == sum(
            len(r.models) for r, _ in evaluations)
        new_id = store.save(evaluations[2][0], command="mlscope run")
        assert new_id == 4  # the id sequence carries on after the migrated runs
        assert store.run(new_id).changes == []
    assert _sql(store_url, f"SELECT version_num FROM {VERSION_TABLE}") == [(HEAD_REVISION,)]
    assert dict(_sql(store_url, f"SELECT key, value FROM {META_TABLE}"))[
        "schema_written_by"] == mlscope.__version__
    indexes = [i["name"] for i in _schema_indexes(store_url, VALUES_TABLE)]
    assert "ix_mlscope_run_values_history" in indexes


def _schema_indexes(url: str, table: str) -> list[Any]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return list(sa.inspect(engine).get_indexes(table))
    finally:
        engine.dispose()


# -- stores refused, untouched -------------------------------------------------------------
def test_newer_schema_is_refused_untouched(
    store_url: str, evaluations: list[tuple[EvaluationResult, str]]
) -> None:
    with Store.open(store_url) as store:
        store.save(evaluations[0][0], command="mlscope run")
        where = str(store.path) if store.path is not None else store.url
    _sql(store_url, f"UPDATE {VERSION_TABLE} SET version_num = '0007'")
    _sql(store_url, f"UPDATE {META_TABLE} SET value = '9.1.0' WHERE key = 'schema_written_by'")
    folder = Path(where).parent
    if store_url.startswith("sqlite"):
        assert sorted(p.name for p in folder.iterdir()) == ["store.sqlite"]
        files = _snapshot(folder)
    before = database_snapshot(store_url)
    for create in (True, False):
        with pytest.raises(StoreError) as err:
            Store.open(store_url, create=create)
        msg = str(err.value)
        for part in ("revision 0007", "mlscope 9.1.0", f"up to revision {HEAD_REVISION}",
                     "pip install --upgrade mlscope", where, "untouched"):
            assert part in msg
    if store_url.startswith("sqlite"):
        assert _snapshot(folder) == files  # the very bytes: not even the journal mode
    assert database_snapshot(store_url) == before


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


def test_missing_run_and_closed_store(store_url: str) -> None:
    store = Store.open(store_url)
    with pytest.raises(StoreError, match=r"no run 3 .* no runs yet"):
        store.run(3)
    with pytest.raises(StoreError, match="no run 3"):
        store.result(3)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.runs()
    assert isinstance(StoreError("x"), ValueError)  # the CLI's InputError path: exit 2


# -- reads on a large store ------------------------------------------------------------------
# How long they take is measured by `make bench` (benchmarks/bench_store.py), not here: a
# clock in a unit test fails on a loaded machine. Here: how the reads are made.


def _plan(path: Path, statement: str, parameters: Any) -> list[str]:
    """SQLite's plan for one statement: one line per step (``SEARCH t USING INDEX ...``)."""
    with closing(sqlite3.connect(path)) as con:
        return [str(row[3]) for row in con.execute(f"EXPLAIN QUERY PLAN {statement}",
                                                   tuple(parameters))]


def test_reads_on_a_large_store_are_one_indexed_query_each(
    store_path: Path, evaluations: list[tuple[EvaluationResult, str]]
) -> None:
    """Listing runs and reading history cost one SELECT each, whatever the number of runs
    and models (no query per run), and SQLite answers it from an index: it never scans
    the values table (400,000 rows at 1,000 runs) or the runs table."""
    bulk_fill(store_path, evaluations[0][0], n_runs=200, n_models=20, n_metrics=10)
    with Store.open(store_path) as store:
        selects: list[tuple[str, Any]] = []

        def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                   executemany: bool) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                selects.append((statement, parameters))

        sa.event.listen(store._engine, "before_cursor_execute", record)
        try:
            for name, call in {
                "runs": lambda: store.runs(BIG),
                "runs_page": lambda: store.runs(BIG, limit=25, offset=100),
                "history": lambda: store.history(BIG, "metric_3"),
                "history_test": lambda: store.history(BIG, "metric_3", split="test"),
                "history_models": lambda: store.history(BIG, "metric_3",
                                                        models=["model_01", "model_07"]),
            }.items():
                selects.clear()
                assert call(), name
                assert len(selects) == 1, (name, [s for s, _ in selects])
                plan = _plan(store_path, *selects[0])
                assert any("USING INDEX" in step or "PRIMARY KEY" in step for step in plan), \
                    (name, plan)
                scans = [step for step in plan if step.startswith("SCAN ")]
                assert not scans, (name, plan)
        finally:
            sa.event.remove(store._engine, "before_cursor_execute", record)
        assert len(store.runs(BIG)) == 200
        points = store.history(BIG, "metric_3")
        assert len(points) == 200 * 20
        assert points[0].run_id == 1
        assert points[-1].run_id == 200
        assert {p.split for p in points} == {"validation"}
