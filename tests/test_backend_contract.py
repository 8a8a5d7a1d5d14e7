"""Backend contract: every metric is identical on the numpy, DuckDB and Spark engines.

Seeded tables with the awkward cases (tied scores, weights, slice columns, a cross, a
`where` predicate that matches no row, a slice with one class, a slice below min_size)
are evaluated with each engine; point estimates must agree to 1e-12 (counts exactly),
undefined reasons and operating thresholds must be the same, and so must the row-bootstrap
intervals (the Spark engine brings a small split's rows to the driver in file order). The
bucket-bootstrap histogram that Spark computes for large splits is checked against the
NumPy one for the same buckets. Spark runs in local mode with one session for the module.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mlscope
from mlscope.charter import load_charter
from mlscope.errors import InputError
from mlscope.metrics.registry import metrics_for_task
from mlscope.result import EvaluationResult
from tests.contract_tables import (
    binary_charter,
    binary_table,
    errors_charter,
    regression_charter,
    regression_table,
)
from tests.contract_tables import write_case as _write

pytest.importorskip("pyspark", reason="the Spark engine needs pyspark (pip install mlscope[spark])")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("the Spark engine's local session needs Java 17+", allow_module_level=True)

ENGINES = ("numpy", "duckdb", "spark")


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """One local[2] session for the whole module (starting Spark takes seconds)."""
    from mlscope.engine.spark_backend import get_session

    session = get_session("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the two base tables (binary.parquet, regression.parquet)."""
    path = tmp_path_factory.mktemp("contract")
    binary_table().to_parquet(path / "binary.parquet", index=False)
    regression_table().to_parquet(path / "regression.parquet", index=False)
    return path


def _evaluate_all(cpath: Path, spark: Any) -> dict[str, EvaluationResult]:
    out = {eng: mlscope.evaluate(cpath, engine=eng) for eng in ("numpy", "duckdb")}
    out["spark"] = mlscope.evaluate(cpath, engine="spark", spark=spark)
    return out


def _assert_identical(res: dict[str, EvaluationResult], *, intervals: bool = True) -> None:
    ref = res["numpy"]
    for eng in ENGINES[1:]:
        other = res[eng]
        assert other.data["engine"] == eng
        assert other.data["rows"] == ref.data["rows"]
        assert other.data["rows_per_split"] == ref.data["rows_per_split"]
        assert [s.key for s in other.slices] == [s.key for s in ref.slices]
        assert [s.sizes for s in other.slices] == [s.sizes for s in ref.slices]
        assert [(r.model, r.metric, r.threshold) for r in other.thresholds] == [
            (r.model, r.metric, r.threshold) for r in ref.thresholds]
        assert len(other.values) == len(ref.values)
        for a, b in zip(ref.values, other.values, strict=True):
            where = (eng, a.split, a.model, a.slice, a.metric)
            assert (a.split, a.model, a.slice, a.metric) == (b.split, b.model, b.slice,
                                                             b.metric), where
            assert a.n_rows == b.n_rows, where
            assert a.undefined == b.undefined, where
            if a.value is None:
                assert b.value is None, where
            else:
                assert b.value is not None, where
                assert abs(a.value - b.value) <= 1e-12 * max(1.0, abs(a.value)), where
            if intervals and a.lower is not None:
                assert b.lower is not None, where
                assert b.upper is not None, where
                assert a.upper is not None, where
                assert abs(a.lower - b.lower) <= 1e-9 * max(1.0, abs(a.lower)), where
                assert abs(a.upper - b.upper) <= 1e-9 * max(1.0, abs(a.upper)), where
            elif intervals:
                assert b.lower is None, where
        assert other.selection is not None
        assert ref.selection is not None
        assert other.selection.primary.winner == ref.selection.primary.winner
        assert other.status == ref.status


# ---------------------------------------------------------------------------------------
# Identical results
# ---------------------------------------------------------------------------------------


def test_binary_every_metric_identical(spark: Any, folder: Path) -> None:
    cpath = _write(folder, "binary", binary_charter(), {})
    res = _evaluate_all(cpath, spark)
    _assert_identical(res)
    sp = res["spark"]
    # The awkward cases are really there.
    reasons = {v.undefined for v in sp.values if v.undefined}
    assert "no rows in this slice" in reasons
    assert any(r.startswith("slice too small") for r in reasons)
    assert any("one class" in r or "positives" in r for r in reasons)
    arctic = sp.value("roc_auc", "good", split="validation", slice="region=arctic")
    assert arctic.value is None
    assert arctic.undefined
    assert {m.name for m in sp.metrics} >= {s.name for s in metrics_for_task("binary")}
    assert any(v.lower is not None for v in sp.values)


def test_regression_and_errors_every_metric_identical(spark: Any, folder: Path) -> None:
    tables: dict[str, pd.DataFrame] = {}
    res = _evaluate_all(_write(folder, "regression", regression_charter(), tables), spark)
    _assert_identical(res)
    r2 = res["spark"].value("r2", "ridge", split="test", slice="season=spring")
    assert r2.value is None
    assert r2.undefined
    res = _evaluate_all(_write(folder, "errors", errors_charter(), tables), spark)
    _assert_identical(res)
    assert {m.name for m in res["spark"].metrics} == {s.name for s in metrics_for_task("errors")}


def test_catalog_table_csv_and_logit_scores(spark: Any, folder: Path) -> None:
    """`table: spark:<name>` reads the Spark catalog; CSV and logit scores work too."""
    df = binary_table(n=500, seed=3)
    df["z_good"] = np.log(df.p_good.clip(0.01, 0.99) / (1 - df.p_good.clip(0.01, 0.99)))
    path = folder / "logit.csv"
    df.to_csv(path, index=False)
    spark.read.csv(str(path), header=True, inferSchema=True).createOrReplaceTempView(
        "contract_events")
    ch = binary_charter("logit.csv", metrics=["roc_auc", "log_loss", "brier", "accuracy"],
                        intervals={"resamples": 0})
    ch["data"]["score_type"] = "logit"
    del ch["data"]["errors"]
    ch["data"]["models"] = {"good": "z_good"}
    cpath = _write(folder, "logit", ch, {})
    res = _evaluate_all(cpath, spark)
    _assert_identical(res)
    ch["data"]["table"] = "spark:contract_events"
    cat = mlscope.evaluate(_write(folder, "catalog", ch, {}), engine="spark", spark=spark)
    assert cat.data["sources"] == [{"table": "spark:contract_events"}]
    for a, b in zip(res["spark"].values, cat.values, strict=True):
        assert (a.value, a.undefined) == (b.value, b.undefined)


def test_bucket_bootstrap_in_spark(spark: Any, folder: Path) -> None:
    """`resampling: buckets`: the histogram built in Spark equals NumPy's for its buckets,
    and the intervals it gives are sensible and centred like the NumPy engine's."""
    from mlscope.data.spark_source import open_spark_evaluation
    from mlscope.engine import spark_backend as sb
    from mlscope.engine.bootstrap import resample_counts
    from mlscope.engine.bucketed import bin_scores, bucketed_binary_cells
    from mlscope.engine.numpy_backend import cell_codes
    from mlscope.engine.plan import plan_groupings

    ch = binary_charter(intervals={"resamples": 200, "resampling": "buckets", "buckets": 64,
                                   "bins": 32})
    cpath = _write(folder, "buckets", ch, {})
    res = _evaluate_all(cpath, spark)
    _assert_identical(res, intervals=False)
    sp, ref = res["spark"], res["numpy"]
    assert "random buckets" in sp.interval.note
    for metric in ("roc_auc", "recall", "brier", "f1_best"):
        a = ref.value(metric, "good", split="test")
        b = sp.value(metric, "good", split="test")
        assert b.value is not None
        assert b.lower is not None
        assert b.upper is not None
        assert a.lower is not None
        assert a.upper is not None
        assert b.lower <= b.value <= b.upper
        ratio = (b.upper - b.lower) / (a.upper - a.lower)
        assert 0.5 < ratio < 2.0, (metric, ratio)

    # The histogram itself, against bucketed.py with the same buckets and edges.
    charter = load_charter(cpath)
    t = open_spark_evaluation(charter, folder, spark)
    groupings = plan_groupings(t.slice_columns, charter.slices.columns,
                               charter.slices.crosses, charter.slices.where)
    levels = sb.slice_levels(t, t.splits)
    split, si, n_buckets, n_bins, seed = "test", 1, 64, 32, 5
    thresholds = [{0.5, 0.35}, {0.3}, set()]
    n_rows = ref.data["rows_per_split"][split]
    hist = sb.bucket_histogram(t, split, si, groupings, levels, thresholds, n_rows=n_rows,
                               n_buckets=n_buckets, n_bins=n_bins, seed=seed)
    rows = sb.fetch_rows(t, [split], levels, {split: n_rows})[split]
    bucket = np.asarray(
        t.df.where(f"__split = '{split}'").orderBy("__row")
        .selectExpr(f"pmod(xxhash64(__id, {seed}, {si}), {n_buckets}) AS b").toArrow()
        .column("b").to_numpy(), dtype=np.int32)
    counts = resample_counts(np.random.default_rng(0), n_buckets, 25)
    for m in range(len(t.models)):
        got = hist.model_stats(m, counts)
        binned = bin_scores(rows.scores[m], n_bins, thresholds[m], np.random.default_rng(0))
        for g in groupings:
            code, cells = cell_codes(rows, g, levels)
            want = bucketed_binary_cells(binned, rows.y.astype(np.int8), rows.w, code,
                                         len(cells), bucket, n_buckets, counts)
            for cell, w in zip(cells, want, strict=True):
                if w.n_rows == 0:  # a predicate that holds nowhere: no histogram rows
                    assert cell.key not in got
                    continue
                st = got[cell.key]
                assert st.n_rows == w.n_rows
                np.testing.assert_allclose(st.scores, w.scores, rtol=0, atol=1e-12)
                np.testing.assert_allclose(st.pos, w.pos, rtol=0, atol=1e-9)
                np.testing.assert_allclose(st.neg, w.neg, rtol=0, atol=1e-9)


def test_cli_engine_spark(spark: Any, folder: Path) -> None:
    from click.testing import CliRunner

    from mlscope.cli import main

    cpath = _write(folder, "cli", binary_charter(intervals={"resamples": 0}),
                   {})
    out = folder / "cli-out"
    run = CliRunner().invoke(main, ["evaluate", str(cpath), "--engine", "spark", "-q",
                                    "-o", str(out)])
    assert run.exit_code in (0, 1), run.output
    back = EvaluationResult.from_json(out / "result.json")
    assert back.data["engine"] == "spark"
    ref = mlscope.evaluate(cpath, engine="duckdb")
    for a, b in zip(ref.values, back.values, strict=True):
        assert (a.slice, a.metric, a.undefined) == (b.slice, b.metric, b.undefined)
    bad = CliRunner().invoke(main, ["evaluate", str(cpath), "--spark-master", "local[1]",
                                    "-q", "-o", str(out)])
    assert bad.exit_code == 2
    assert "--spark-master only applies with --engine spark" in bad.output


# ---------------------------------------------------------------------------------------
# Errors under the Spark engine
# ---------------------------------------------------------------------------------------


def _spark_error(spark: Any, folder: Path, charter: dict[str, Any],
                 df: pd.DataFrame | None = None, name: str = "bad.parquet") -> str:
    if df is not None:
        (folder / name).unlink(missing_ok=True)
    cpath = _write(folder, "bad", charter, {name: df} if df is not None else {})
    with pytest.raises(InputError) as info:
        mlscope.evaluate(cpath, engine="spark", spark=spark)
    return str(info.value)


def test_errors_name_table_column_value_and_fix(spark: Any, folder: Path) -> None:
    df = binary_table(n=200)
    small = {"metrics": ["roc_auc"], "intervals": {"resamples": 0}}

    ch = binary_charter("bad.parquet", **small)
    ch["data"]["models"]["fair"] = "p_fiar"
    msg = _spark_error(spark, folder, ch, df)
    assert "column `p_fiar`" in msg
    assert "bad.parquet" in msg
    assert "did you mean `p_fair`?" in msg

    three = df.assign(label=np.resize([0, 1, 2], len(df)))
    msg = _spark_error(spark, folder, binary_charter("bad.parquet", **small), three)
    assert "column `label` has more than two values" in msg
    assert "task: multiclass" in msg

    words = df.assign(label=np.where(df.label == 1, "yes", "no"))
    msg = _spark_error(spark, folder, binary_charter("bad.parquet", **small), words)
    assert "data.positive: 'yes'" in msg

    out = df.assign(p_good=df.p_good * 3)
    msg = _spark_error(spark, folder, binary_charter("bad.parquet", **small), out)
    assert "model `good` score is outside [0, 1]" in msg
    assert "e.g. row id r" in msg
    # All positive (0 to 3): not logits, so the advice is `score_type: score`.
    assert "score_type: score" in msg

    nan = df.assign(p_fair=df.p_fair.where(df.index != 7))
    msg = _spark_error(spark, folder, binary_charter("bad.parquet", **small), nan)
    assert "model `fair` score is missing, NaN or infinite in 1 of 200 rows" in msg
    assert "row id r00007" in msg
    # Both problems at once, each once (a NaN is not also "outside [0, 1]").
    both = df.assign(p_fair=df.p_fair.where(df.index != 7), p_good=df.p_good * 3)
    msg = _spark_error(spark, folder, binary_charter("bad.parquet", **small), both)
    assert msg.count("outside [0, 1]") == 1
    assert "2 problems in the rows" in msg
    assert "model `fair` score is missing, NaN or infinite" in msg

    text = df.assign(p_good=df.p_good.astype(str).where(df.index != 3, "high"))
    msg = _spark_error(spark, folder, binary_charter("bad.parquet", **small), text)
    assert "column `p_good` (scores of model `good`) holds text that is not a number" in msg
    assert "'high'" in msg

    neg = df.assign(weight=-df.weight)
    msg = _spark_error(spark, folder, binary_charter("bad.parquet", **small), neg)
    assert "weight is missing, NaN, infinite or negative" in msg

    ch = binary_charter("bad.parquet", **small)
    ch["slices"]["where"] = {"rich": "balanse > 2000"}
    msg = _spark_error(spark, folder, ch, df)
    assert "slice `rich`: the predicate 'balanse > 2000' does not work" in msg

    ch = binary_charter("spark:contract_evnts", **small)
    spark.range(1).createOrReplaceTempView("contract_events")
    msg = _spark_error(spark, folder, ch)
    assert "table `contract_evnts` is not in the Spark catalog" in msg
    assert "did you mean `contract_events`?" in msg

    msg = _spark_error(spark, folder, binary_charter("missing.parquet", **small))
    assert "data file not found" in msg
    (folder / "scores.xlsx").write_bytes(b"PK")
    msg = _spark_error(spark, folder, binary_charter("scores.xlsx", **small))
    assert "unknown file type `.xlsx`" in msg


def test_unsupported_layouts_say_what_is_supported(spark: Any, folder: Path) -> None:
    small = {"metrics": ["roc_auc"], "intervals": {"resamples": 0}}
    ch = binary_charter(**small)
    del ch["data"]["table"], ch["data"]["models"], ch["data"]["errors"]
    ch["data"]["labels"] = "binary.parquet"
    ch["data"]["predictions"] = {"good": {"path": "binary.parquet", "score": "p_good"}}
    msg = _spark_error(spark, folder, ch)
    assert "engine spark cannot read data given as `labels` + `predictions`" in msg
    assert "wide layout" in msg

    ch = binary_charter(**small)
    ch["metrics"] = ["roc_auc", {"id": "lift", "custom": "my_metrics:lift",
                                 "direction": "higher"}]
    msg = _spark_error(spark, folder, ch)
    assert "custom metric(s) lift" in msg

    with pytest.raises(InputError, match="binned mode"):
        mlscope.evaluate(_write(folder, "binned", binary_charter(**small), {}),
                         engine="spark", spark=spark, binned=64)


def test_large_regression_split_is_never_collected(
    spark: Any, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlscope.engine import spark_backend as sb

    monkeypatch.setattr(sb, "MAX_DRIVER_ROWS", 50)
    cpath = _write(folder, "bigreg", regression_charter(), {})
    with pytest.raises(InputError, match="resamples: 0"):
        mlscope.evaluate(cpath, engine="spark", spark=spark)
    res = mlscope.evaluate(cpath, engine="spark", spark=spark, resamples=0)
    assert all(v.lower is None for v in res.values)
