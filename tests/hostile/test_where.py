"""`slices.where` is untrusted SQL: only an allow-listed condition runs, on a sealed connection.

Every hostile predicate is refused by `mlscope validate` (exit 2, the charter's file:line and
the offending part named) and by `mlscope run` (exit 2) before any SQL runs; the project
folder is left byte-for-byte as it was and nothing read (a planted file, an environment
variable) reaches the output. Ordinary predicates keep working and count the same rows as
pandas. Under the checker, every DuckDB connection mlscope opens can read only the charter's
files and cannot be reconfigured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from mlscope.charter import load_charter
from mlscope.charter.predicate import Predicate, PredicateError, parse_predicate
from mlscope.charter.schema import Charter
from mlscope.cli import main
from mlscope.data import source
from mlscope.data.source import open_evaluation
from mlscope.errors import InputError
from mlscope.sql import connect, safe_error, seal
from tests.conftest import base_charter, binary_frame
from tests.hostile.snapshot import assert_unchanged, snapshot

FILE_MARKER = "FILE-SECRET-7f3a9c"
ENV_MARKER = "ENV-SECRET-51b2e8"

# (predicate, a part of the message that names what is refused). `{secret}` is a planted
# file holding FILE_MARKER, `{out}` a path inside the project folder that must not appear.
HOSTILE: list[tuple[str, str]] = [
    ("read_csv('{secret}') IS NOT NULL", "`read_csv`"),
    ("read_parquet('{data}') IS NOT NULL", "`read_parquet`"),
    ("read_json('{secret}') IS NOT NULL", "`read_json`"),
    ("read_text('{secret}') IS NOT NULL", "`read_text`"),
    ("CAST(read_text('{secret}') AS INTEGER) = 1", "`read_text`"),
    ("read_blob('{secret}') IS NOT NULL", "`read_blob`"),
    ("glob('/etc/*') IS NOT NULL", "`glob`"),
    ("getenv('MLSCOPE_SECRET') = 'x'", "`getenv`"),
    ("current_setting('home_directory') = 'x'", "`current_setting`"),
    ("query('SELECT 1') IS NOT NULL", "`query`"),
    ("region IN (SELECT * FROM '{secret}')", "subquery"),
    ("region IN (SELECT content FROM read_text('{secret}'))", "subquery"),
    ("EXISTS (SELECT 1 FROM read_csv('{secret}'))", "subquery"),
    ("CAST((SELECT content FROM read_text('{secret}')) AS INTEGER) = 1", "subquery"),
    ("COPY (SELECT 1) TO '{out}'", "`COPY …`"),
    ("ATTACH '{out}' AS evil", "`ATTACH …`"),
    ("INSTALL httpfs", "`INSTALL …`"),
    ("LOAD httpfs", "`LOAD …`"),
    ("PRAGMA version", "`PRAGMA …`"),
    ("SET enable_external_access = true", "`SET …`"),
    ("CREATE TABLE evil AS SELECT 1", "`CREATE …`"),
    ("EXPORT DATABASE '{out}'", "`EXPORT …`"),
    ("balance > 1; COPY (SELECT 1) TO '{out}'", "`;`"),
    ("balance > 1; ATTACH '{out}' AS e; CREATE TABLE e.t AS SELECT 1", "`;`"),
    ("region = 'x'); COPY (SELECT 1) TO '{out}'; SELECT ('", "`;`"),
    ("balance > 1 -- ) OR read_text('{secret}') IS NOT NULL", "comment"),
    ("balance > 1 /* hidden */ OR true", "comment"),
    ("region = E'north\\' OR 1=1'", "string"),
    ("region = $$north$$", "string"),
    ("balance > 1) OR (SELECT content FROM read_text('{secret}')", 'near ")"'),
    ("balance > 1 UNION SELECT content FROM read_text('{secret}')", "a query"),
    ("1 FROM read_text('{secret}')", "FROM clause"),
    ("row_number() OVER () > 1", "window function"),
    ("sum(balance) > 1", "`sum`"),
    ("* IS NOT NULL", "`*`"),
    ("balance > ?", "parameter"),
    ("balance > 1 AS flag", "AS flag"),
    ("src.balance > 1", "`src.balance`"),
    ("CAST(balance AS INTEGER[]) IS NULL", "a cast to `"),
    ("region COLLATE nocase = 'north'", "COLLATE"),
]


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A project folder with data, a planted secret file and a secret in the environment."""
    root = tmp_path / "proj"
    root.mkdir()
    df = binary_frame(n=300)
    df.to_parquet(root / "eval.parquet", index=False)
    secret = root / "secret.txt"
    secret.write_text(f"{FILE_MARKER}\n", encoding="utf-8")
    monkeypatch.setenv("MLSCOPE_SECRET", ENV_MARKER)
    return {"root": root, "secret": secret, "data": root / "eval.parquet",
            "out": root / "written.out"}


def _write_charter(root: Path, where: dict[str, str]) -> tuple[Path, dict[str, int]]:
    c = base_charter("eval.parquet")
    c["slices"]["where"] = where
    c["intervals"] = {"resamples": 0}
    cpath = root / "mlscope.yaml"
    text = yaml.safe_dump(c, sort_keys=False, allow_unicode=True, width=10_000)
    cpath.write_text(text, encoding="utf-8")
    lines = {name: i + 1 for i, line in enumerate(text.splitlines())
             for name in where if line.strip().startswith(f"{name}:")}
    return cpath, lines


def _fill(pred: str, p: dict[str, Any]) -> str:
    return pred.format(secret=p["secret"], data=p["data"], out=p["out"])


def _no_leak(text: str) -> None:
    assert FILE_MARKER not in text
    assert ENV_MARKER not in text
    assert "Traceback" not in text


@pytest.mark.parametrize(("pred", "part"), HOSTILE, ids=[h[0][:40] for h in HOSTILE])
def test_hostile_predicate_is_refused(proj: dict[str, Any], pred: str, part: str) -> None:
    root = proj["root"]
    cpath, lines = _write_charter(root, {"rich": "balance > 2000", "evil": _fill(pred, proj)})
    before = snapshot(root)

    r = CliRunner().invoke(main, ["validate", str(cpath)])
    assert r.exit_code == 2, r.output
    assert f"{cpath}:{lines['evil']}: slices.where.evil:" in r.output
    assert part in r.output
    _no_leak(r.output)

    for cmd in (["run"], ["evaluate"], ["check"], ["diagnose"]):
        r = CliRunner().invoke(main, [*cmd, str(cpath), "--resamples", "0", "-q"])
        assert r.exit_code == 2, (cmd, r.output)
        assert part in r.output
        _no_leak(r.output)

    assert_unchanged(before, root)
    assert not proj["out"].exists()


def test_hostile_predicate_is_refused_by_the_library(proj: dict[str, Any]) -> None:
    """A Charter built in Python (no YAML validation) is checked by the data layer too."""
    c = base_charter("eval.parquet")
    c["slices"]["where"] = {"evil": f"CAST(read_text('{proj['secret']}') AS INTEGER) = 1"}
    with pytest.raises(InputError, match="slice `evil`: function `read_text` is not allowed"):
        open_evaluation(Charter.model_validate(c), proj["root"])


def test_a_checker_bypass_still_cannot_read_a_file(
    proj: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defence in depth: were a predicate to slip through, the sealed connection refuses."""
    sneaky = f"CAST((SELECT content FROM read_text('{proj['secret']}')) AS INTEGER) = 1"

    def unchecked(where: dict[str, str]) -> dict[str, Any]:
        return {n: Predicate(t, sneaky, sneaky, ()) for n, t in where.items()}

    monkeypatch.setattr(source, "check_where", unchecked)
    ch = load_charter(_write_charter(proj["root"], {"evil": "balance > 1"})[0])
    with pytest.raises(InputError) as info:
        open_evaluation(ch, proj["root"])
    assert "Permission Error" in str(info.value)
    _no_leak(str(info.value))


def test_the_evaluation_connection_is_sealed(proj: dict[str, Any]) -> None:
    ch = load_charter(_write_charter(proj["root"], {"rich": "balance > 2000"})[0])
    before = snapshot(proj["root"])
    t = open_evaluation(ch, proj["root"])
    assert t.con.execute("SELECT count(*) FROM ev").fetchone() == (300,)  # data still reads
    for sql in (
        f"SELECT * FROM read_text('{proj['secret']}')",
        "SELECT * FROM read_text('/etc/hostname')",
        f"SELECT * FROM read_csv('{proj['secret']}')",
        "SELECT * FROM glob('/etc/*')",
        f"COPY (SELECT 1) TO '{proj['out']}'",
        f"ATTACH '{proj['out']}' AS evil",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET allowed_paths = ['/etc/hostname']",
        "SET autoload_known_extensions = true",
        "SET lock_configuration = false",
    ):
        with pytest.raises(duckdb.Error):
            t.con.execute(sql)
    settings = dict(t.con.execute(
        "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', "
        "'lock_configuration', 'autoinstall_known_extensions', 'autoload_known_extensions', "
        "'allow_community_extensions')").fetchall())
    assert settings == {"enable_external_access": "false", "lock_configuration": "true",
                        "autoinstall_known_extensions": "false",
                        "autoload_known_extensions": "false",
                        "allow_community_extensions": "false"}
    # DataFrames registered by mlscope itself (baselines) still work on a sealed connection.
    t.con.register("frame", pd.DataFrame({"a": [1, 2]}))
    assert t.con.execute("SELECT sum(a) FROM frame").fetchone() == (3,)
    assert_unchanged(before, proj["root"])


def test_a_duckdb_table_source_is_sealed_too(proj: dict[str, Any]) -> None:
    db = proj["root"] / "eval.duckdb"
    with duckdb.connect(str(db)) as w:
        w.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet('{proj['data']}')")
    c = base_charter("eval.parquet")
    del c["data"]["table"]
    c["data"]["duckdb"] = {"database": "eval.duckdb", "table": "t"}
    t = open_evaluation(Charter.model_validate(c), proj["root"])
    assert t.con.execute("SELECT count(*) FROM ev WHERE __p0").fetchone() == (
        int((binary_frame(n=300).balance > 2000).sum()),)
    with pytest.raises(duckdb.Error):
        t.con.execute(f"SELECT * FROM read_text('{proj['secret']}')")


def test_errors_never_echo_a_cast_value() -> None:
    con = connect()
    seal(con, [])
    with pytest.raises(duckdb.Error) as info:
        con.execute(f"SELECT CAST('{FILE_MARKER} line1\nline2' AS INTEGER)")
    msg = safe_error(info.value)
    assert FILE_MARKER not in msg
    assert "\n" not in msg
    assert msg.startswith("Conversion Error")
    assert len(safe_error(RuntimeError("x" * 5000))) <= 200


def test_a_data_value_in_a_conversion_error_is_not_shown(proj: dict[str, Any]) -> None:
    """A predicate that casts a text column: the error names the slice, not the value."""
    df = binary_frame(n=50)
    df["note"] = FILE_MARKER
    df.to_parquet(proj["data"], index=False)
    cpath, _ = _write_charter(proj["root"], {"odd": "CAST(note AS INTEGER) = 1"})
    r = CliRunner().invoke(main, ["run", str(cpath), "--resamples", "0", "-q"])
    assert r.exit_code == 2, r.output
    assert "Conversion Error" in r.output
    _no_leak(r.output)


# --- ordinary predicates keep working ------------------------------------------------------

def _frame() -> pd.DataFrame:
    df = binary_frame(n=400)
    rng = np.random.default_rng(3)
    df["x"] = rng.uniform(0, 3, size=len(df)).round(2)
    df["maybe"] = np.where(rng.random(len(df)) < 0.3, np.nan, rng.random(len(df)))
    df["my col"] = rng.choice(["a b", "c"], size=len(df))
    df["ñame"] = rng.choice(["é", "o"], size=len(df))
    df["when"] = pd.to_datetime("2023-06-01") + pd.to_timedelta(
        rng.integers(0, 400, size=len(df)), unit="D")
    return df


POSITIVE: list[tuple[str, Any]] = [
    ("balance > 2000", lambda d: d.balance > 2000),
    ("region IN ('north','south')", lambda d: d.region.isin(["north", "south"])),
    ("lower(device) LIKE 'i%'", lambda d: d.device.str.lower().str.startswith("i")),
    ("CASE WHEN balance > 1000 THEN 1 ELSE 0 END = 1", lambda d: d.balance > 1000),
    ("maybe IS NULL", lambda d: d.maybe.isna()),
    ("maybe IS NOT NULL AND maybe > 0.5", lambda d: d.maybe > 0.5),
    ("x BETWEEN 1 AND 2", lambda d: d.x.between(1, 2)),
    ("\"my col\" = 'a b'", lambda d: d["my col"] == "a b"),
    ("\"ñame\" = 'é'", lambda d: d["ñame"] == "é"),
    ("ñame <> 'é'", lambda d: d["ñame"] != "é"),
    ("NOT (region = 'north') AND balance <= 3000",
     lambda d: (d.region != "north") & (d.balance <= 3000)),
    ("abs(x - 1.5) < 0.25 OR starts_with(device, 'an')",
     lambda d: ((d.x - 1.5).abs() < 0.25) | d.device.str.startswith("an")),
    ("coalesce(maybe, 0) > 0.5", lambda d: d.maybe.fillna(0) > 0.5),
    ("CAST(balance AS INTEGER) % 2 = 0", lambda d: d.balance.astype(int) % 2 == 0),
    ("region NOT IN ('east') AND device NOT LIKE 'w%'",
     lambda d: (d.region != "east") & ~d.device.str.startswith("w")),
    ("upper(region) ILIKE 'no%'", lambda d: d.region.str.startswith("no")),
    ("year(\"when\") = 2024 AND month(\"when\") <= 3",
     lambda d: (d["when"].dt.year == 2024) & (d["when"].dt.month <= 3)),
    ("length(region) = 4", lambda d: d.region.str.len() == 4),
    ("region = 'it''s'", lambda d: d.region == "it's"),
    ("-balance < -2500", lambda d: -d.balance < -2500),
]


@pytest.mark.parametrize(("pred", "expected"), POSITIVE, ids=[p[0] for p in POSITIVE])
def test_ordinary_predicates_count_as_pandas(tmp_path: Path, pred: str, expected: Any) -> None:
    df = _frame()
    df.to_parquet(tmp_path / "eval.parquet", index=False)
    c = base_charter("eval.parquet")
    c["slices"]["where"] = {"s": pred}
    cpath = tmp_path / "mlscope.yaml"
    cpath.write_text(yaml.safe_dump(c, allow_unicode=True), encoding="utf-8")
    t = open_evaluation(load_charter(cpath), tmp_path)
    got = t.con.execute("SELECT count(*) FROM ev WHERE __p0").fetchone()
    assert got == (int(expected(df).fillna(False).sum()),)


def test_ordinary_predicates_run_end_to_end(tmp_path: Path) -> None:
    df = _frame()
    df.to_parquet(tmp_path / "eval.parquet", index=False)
    c = base_charter("eval.parquet")
    c["slices"]["where"] = {f"s{i}": p for i, (p, _) in enumerate(POSITIVE[:8])}
    c["intervals"] = {"resamples": 0}
    cpath = tmp_path / "mlscope.yaml"
    cpath.write_text(yaml.safe_dump(c, allow_unicode=True), encoding="utf-8")
    assert CliRunner().invoke(main, ["validate", str(cpath)]).exit_code == 0
    r = CliRunner().invoke(main, ["run", str(cpath), "-q", "--no-store"])
    assert r.exit_code in (0, 1), r.output
    assert (tmp_path / "mlscope-out" / "run" / "result.json").exists()


# --- the checker itself ---------------------------------------------------------------------

def test_rendering_quotes_names_and_strings_for_each_dialect() -> None:
    p = parse_predicate("\"a`b\"\"c\" = 'it''s' AND starts_with(d, 'p\\')")
    assert p.duckdb == "((\"a`b\"\"c\" = 'it''s') AND starts_with(\"d\", 'p\\'))"
    # Spark reads backslash escapes in strings: mlscope escapes them itself.
    assert p.spark == "((`a``b\"c` = 'it\\'s') AND startswith(`d`, 'p\\\\'))"
    assert p.columns == ('a`b"c', "d")


def test_a_value_is_not_a_condition() -> None:
    with pytest.raises(PredicateError, match="is a value, not a condition"):
        parse_predicate("balance + 1")


@pytest.mark.parametrize("fn", ["log", "regexp_matches", "concat", "now", "random"])
def test_functions_outside_the_common_list_are_refused(fn: str) -> None:
    with pytest.raises(PredicateError, match=f"function `{fn}` is not allowed"):
        parse_predicate(f"{fn}(balance) > 1")


def test_the_spark_engine_refuses_before_starting_spark(proj: dict[str, Any]) -> None:
    from mlscope.data import spark_source

    c = base_charter("eval.parquet")
    c["slices"]["where"] = {"evil": f"read_text('{proj['secret']}') IS NOT NULL"}

    def no_spark(*_: Any) -> Any:
        raise AssertionError("Spark was started for a charter with a hostile predicate")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(spark_source, "get_session", no_spark)
        with pytest.raises(InputError, match="function `read_text` is not allowed"):
            spark_source.open_spark_evaluation(Charter.model_validate(c), proj["root"])
