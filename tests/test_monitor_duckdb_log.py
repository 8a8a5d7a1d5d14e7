"""`mlscope monitor --log warehouse.duckdb --table NAME`: a log kept in a DuckDB database
gives the same result as the same rows in Parquet; the database is only read; mistakes
exit 2 naming the fix. Data: the seeded synthetic population of tests/monitor_data.py."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pytest
from click.testing import CliRunner

from mlscope.cli import main
from tests.monitor_data import population, stamp, write_project


def _project(tmp_path: Path) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(23)
    path = write_project(tmp_path, population(3000, rng))
    log = stamp([population(300, rng) for _ in range(2)]
                + [population(300, rng, age_shift=10)])
    parquet = tmp_path / "log.parquet"
    log.to_parquet(parquet, index=False)
    db = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(db))
    con.register("frame", log)
    con.execute("CREATE TABLE scored AS SELECT * FROM frame")
    con.execute("CREATE TABLE other (x INTEGER)")
    con.close()
    return path, parquet, db


def _run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["monitor", *args])
    return r.exit_code, " ".join(r.output.split())


def test_a_duckdb_table_gives_the_same_windows_and_alerts_as_parquet(tmp_path: Path) -> None:
    path, parquet, db = _project(tmp_path)
    before = db.read_bytes()
    code_p, _ = _run(str(path), "--log", str(parquet), "--json", "--no-store",
                         "--out", str(tmp_path / "p"))
    code_d, _ = _run(str(path), "--log", str(db), "--table", "scored", "--json",
                         "--no-store", "--out", str(tmp_path / "d"))
    assert code_p == code_d == 1
    from_parquet = json.loads((tmp_path / "p" / "monitor.json").read_text())
    from_db = json.loads((tmp_path / "d" / "monitor.json").read_text())
    assert from_db["log"]["table"] == "scored"
    assert from_db["log"]["path"].endswith("warehouse.duckdb")
    assert [w["status"] for w in from_db["windows"]] == [w["status"] for w in
                                                          from_parquet["windows"]]
    assert [w["status"] for w in from_db["windows"]] == ["ok", "ok", "alert"]
    for a, b in zip(from_db["windows"], from_parquet["windows"], strict=True):
        assert a["alerts"] == b["alerts"]
        assert a["performance"] == b["performance"]
    assert db.read_bytes() == before  # attached read-only


@pytest.mark.parametrize(("args", "expect"), [
    pytest.param([], "is a DuckDB database; name the table that holds the log with --table",
                 id="no-table"),
    pytest.param(["--table", "scord"], "table `scord` is not in warehouse.duckdb; did you "
                 "mean `scored`?", id="unknown-table"),
])
def test_duckdb_log_mistakes_exit_2_with_the_fix(tmp_path: Path, args: list[str],
                                                  expect: str) -> None:
    path, _, db = _project(tmp_path)
    code, out = _run(str(path), "--log", str(db), *args, "--no-store")
    assert code == 2, out
    assert expect in out
    assert "Traceback" not in out


def test_table_with_a_parquet_log_or_a_file_that_is_not_duckdb_exits_2(tmp_path: Path) -> None:
    path, parquet, _ = _project(tmp_path)
    code, out = _run(str(path), "--log", str(parquet), "--table", "scored", "--no-store")
    assert code == 2
    assert "drop --table for a Parquet or CSV log" in out
    fake = tmp_path / "fake.duckdb"
    fake.write_text("not a database\n")
    code, out = _run(str(path), "--log", str(fake), "--table", "scored", "--no-store")
    assert code == 2, out
    assert "cannot open fake.duckdb as a DuckDB database" in out
    code, out = _run(str(path), "--log", str(tmp_path / "absent.duckdb"), "--table", "t",
                     "--no-store")
    assert code == 2
    assert "DuckDB database not found" in out
