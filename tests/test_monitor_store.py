"""``mlscope monitor`` results in the store: the record round trip, re-runs that replace
windows in the series instead of doubling them, the CLI's --store/--no-store, the upgrade of
a revision-0002 store in place, and records the store refuses or cannot read. Tests taking
``store_url`` run on SQLite and on PostgreSQL where there is a server
(``tests/store_backends.py``)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from mlscope.charter import charter_to_dict, load_charter
from mlscope.cli import main
from mlscope.data.source import file_fingerprint, read_file
from mlscope.monitor import monitor
from mlscope.store import HEAD_REVISION, Store, StoreError, migrate
from mlscope.store import store as store_mod
from mlscope.store.records import charter_hash
from mlscope.store.schema import MONITORS_TABLE, RUNS_TABLE, VERSION_TABLE
from tests.factories import make_result
from tests.monitor_store_data import SHIFTED_DAY, project


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two real monitor results of one project: a six-day log and an overlapping one."""
    folder = tmp_path_factory.mktemp("monitored")
    charter, first, second = project(folder)
    ch = load_charter(charter)
    res = [monitor(ch, charter, read_file(p, "--log"), log_info=file_fingerprint(p))
           for p in (first, second)]
    return {"folder": folder, "charter": charter, "logs": (first, second), "results": res,
            "hash": charter_hash(charter_to_dict(ch))}


def test_a_monitor_result_round_trips(monitored: dict[str, Any], store_url: str) -> None:
    res = monitored["results"][0]
    with Store.open(store_url) as store:
        rid = store.save_monitor(res.to_dict(), command="mlscope monitor",
                                 charter_hash=monitored["hash"],
                                 created_at="2026-01-07T06:00:00+00:00")
        assert rid == 1
        (summary,) = store.monitors("monitor-test")
        assert store.monitors("another project") == []
        assert (summary.id, summary.project, summary.created_at) == (
            1, "monitor-test", "2026-01-07T06:00:00+00:00")
        assert summary.log_name == "log.parquet"
        assert summary.log_hash == res.log["sha256_sampled"]
        assert summary.charter_hash == monitored["hash"]
        assert (summary.n_windows, summary.alerting, summary.exit_code) == (6, 1, 1)
        assert summary.first_start.startswith("2026-01-01")
        assert summary.last_end.startswith("2026-01-07")
        assert summary.decision is None
        # The whole monitor.json comes back as it was written.
        assert store.monitor_result(rid) == json.loads(json.dumps(res.to_dict()))
        windows = store.monitor_windows("monitor-test")
        assert [w.status for w in windows] == [w.status for w in res.windows]
        assert [w.start[:10] for w in windows if w.status == "alert"] == [SHIFTED_DAY]
        assert [w.alerts for w in windows] == [len(w.alerts) for w in res.windows]
        with pytest.raises(StoreError, match="no monitor record 9"):
            store.monitor_result(9)


def test_reruns_replace_windows_in_the_series(monitored: dict[str, Any],
                                              store_url: str) -> None:
    first, second = monitored["results"]
    with Store.open(store_url) as store:
        for res in (first, first, second):
            store.save_monitor(res.to_dict(), command="mlscope monitor",
                               charter_hash=monitored["hash"])
        assert [m.id for m in store.monitors("monitor-test")] == [3, 2, 1]
        windows = store.monitor_windows("monitor-test")
    starts = [w.start[:10] for w in windows]
    # Days 1..8, each once: days 1-3 from the second save of the first log (record 2),
    # days 4-8 from the overlapping log (record 3), the latest record that has them.
    assert starts == [f"2026-01-0{d}" for d in range(1, 9)]
    assert [w.monitor_id for w in windows] == [2, 2, 2, 3, 3, 3, 3, 3]
    assert [w.position for w in windows] == [0, 1, 2, 0, 1, 2, 3, 4]
    assert [w.rows for w in windows] == [300] * 8


def test_the_cli_records_beside_the_runs_unless_told_not_to(monitored: dict[str, Any]
                                                            ) -> None:
    folder, charter = monitored["folder"], monitored["charter"]
    log = monitored["logs"][0]
    default = folder / ".mlscope" / "store.sqlite"
    runner = CliRunner()
    out = runner.invoke(main, ["monitor", str(charter), "--log", str(log), "--no-store"])
    assert out.exit_code == 1, out.output
    assert not default.exists()
    # Each window's estimate, then the realised value ("not trustworthy real 0.406" read
    # as one phrase).
    assert "; realised " in out.output
    assert " real " not in out.output
    out = runner.invoke(main, ["monitor", str(charter), "--log", str(log)])
    assert out.exit_code == 1, out.output
    assert "monitor record 1" in out.output
    other = folder / "elsewhere.sqlite"
    out = runner.invoke(main, ["monitor", str(charter), "--log", str(log),
                               "--store", str(other)])
    assert out.exit_code == 1, out.output
    with Store.open(default, create=False) as store:
        (rec,) = store.monitors("monitor-test")
        assert rec.command == "mlscope monitor"
        assert rec.charter_hash == monitored["hash"]
    with Store.open(other, create=False) as store:
        assert len(store.monitors("monitor-test")) == 1
    # A store this mlscope cannot use is bad input (exit 2), and nothing is written.
    (folder / "junk.sqlite").write_text("not a database")
    before = (folder / "mlscope-out" / "monitor" / "monitor.json").read_bytes()
    out = runner.invoke(main, ["monitor", str(charter), "--log", str(monitored["logs"][1]),
                               "--store", str(folder / "junk.sqlite")])
    assert out.exit_code == 2, out.output
    assert "is not an mlscope store" in out.output
    assert (folder / "mlscope-out" / "monitor" / "monitor.json").read_bytes() == before


def test_a_revision_2_store_upgrades_in_place(monitored: dict[str, Any],
                                             tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    result = make_result(n_models=2)
    with engine.begin() as conn:
        migrate.upgrade(conn, "0002")
        assert MONITORS_TABLE not in sa.inspect(conn).get_table_names()  # the old schema
        rec = store_mod.run_record(result, command="mlscope run", charter_text=None,
                                   note=None)
        del rec["requirements"]  # revision 0004's column
        runs = sa.Table(RUNS_TABLE, sa.MetaData(), autoload_with=conn)
        run_id = conn.execute(sa.insert(runs).values(**rec, changes="[]")
                              ).inserted_primary_key[0]
        store_mod.insert_values(conn, run_id, store_mod.value_rows(result))
    engine.dispose()

    with Store.open(path, create=False) as store:
        assert [r.id for r in store.runs()] == [1]
        assert store.result(1).to_dict() == result.to_dict()
        assert store.monitors("monitor-test") == []
        rid = store.save_monitor(monitored["results"][0].to_dict(), command="mlscope monitor",
                                 charter_hash=monitored["hash"])
        assert rid == 1
        assert len(store.monitor_windows("monitor-test")) == 6
    with sqlite3.connect(path) as con:
        assert con.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall() == [
            (HEAD_REVISION,)]


def test_what_the_store_refuses_and_cannot_read(monitored: dict[str, Any],
                                                tmp_path: Path) -> None:
    data = monitored["results"][0].to_dict()
    with Store.open(tmp_path / "s.sqlite") as store:
        with pytest.raises(StoreError, match="schema"):
            store.save_monitor({**data, "schema": "mlscope.result/1"}, command="x",
                               charter_hash="h")
        with pytest.raises(StoreError, match="NUL"):
            store.save_monitor({**data, "project": "a\x00b"}, command="x", charter_hash="h")
        bad = json.loads(json.dumps(data))
        bad["windows"][2]["status"] = "fine"
        with pytest.raises(StoreError, match="window 2"):
            store.save_monitor(bad, command="x", charter_hash="h")
        assert store.monitors("monitor-test") == []  # nothing of them was written
        rid = store.save_monitor(data, command="x", charter_hash="h")
    with sqlite3.connect(tmp_path / "s.sqlite") as con:
        con.execute(f"UPDATE {MONITORS_TABLE} SET result = ? WHERE id = ?", (b"junk", rid))
    with Store.open(tmp_path / "s.sqlite", create=False) as store, \
            pytest.raises(StoreError, match=f"monitor record {rid} .* is damaged"):
        store.monitor_result(rid)
