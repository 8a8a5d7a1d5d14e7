"""Data stability (issue 15, item 3): with `data.time`, a run measures each split's time
range, whether the splits follow each other in time, and whether the label's rate drifts
between the selection and report splits; `mlscope plan` reads it as evidence or a gap."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import mlscope
from mlscope.charter import load_charter
from mlscope.cli import main
from mlscope.compare.stability import (
    ALPHA,
    SplitTime,
    order_problems,
    stability,
    two_means,
    two_proportions,
)
from mlscope.pipeline import open_run, plan_run
from mlscope.pipeline.stability import data_stability
from mlscope.plan import check_items
from mlscope.result import EvaluationResult
from tests.conftest import base_charter, binary_frame

START = {"train": "2023-01-01", "validation": "2024-01-01", "test": "2024-07-01"}


def timed_frame(n: int = 3000, *, test_rate: float | None = None, overlap: bool = False,
                seed: int = 0) -> pd.DataFrame:
    """``binary_frame`` with a `ts` column: each split within 150 days of its own start
    (train 2023, validation then test in 2024), or validation drawn over train's period
    (``overlap``); ``test_rate`` redraws the test split's labels at that rate."""
    df = binary_frame(n, seed=seed)
    rng = np.random.default_rng(seed + 1)
    start = dict(START, validation="2023-03-01") if overlap else START
    df["ts"] = [pd.Timestamp(start[s]) + pd.Timedelta(days=int(d))
                for s, d in zip(df["split"], rng.integers(0, 150, size=n), strict=True)]
    if test_rate is not None:
        test = df["split"] == "test"
        df.loc[test, "label"] = (rng.random(int(test.sum())) < test_rate).astype(int)
    return df


def timed_charter(**data: Any) -> dict[str, Any]:
    ch = base_charter()
    ch["data"]["time"] = "ts"
    ch["data"].update(data)
    return ch


def _metadata(ch_path: Path, result: EvaluationResult | None) -> Any:
    return {i.key: i for i in check_items(load_charter(ch_path), result)}["metadata"]


# -- the pure test ---------------------------------------------------------------------
def test_two_proportions_matches_statsmodels() -> None:
    sm = pytest.importorskip("statsmodels.stats.proportion")
    d = two_proportions(120, 400, 165, 410)
    _z, p = sm.proportions_ztest([165, 120], [410, 400])
    assert d.p_value == pytest.approx(p, rel=1e-10)
    assert d.difference == pytest.approx(165 / 410 - 120 / 400)
    lo, hi = sm.confint_proportions_2indep(165, 410, 120, 400, method="wald", compare="diff")
    assert (d.lower, d.upper) == (pytest.approx(lo), pytest.approx(hi))
    assert d.drifts


def test_two_means_is_welch_z() -> None:
    d = two_means(10.0, 4.0, 100, 10.5, 9.0, 200)
    se = math.sqrt(4 / 100 + 9 / 200)
    assert d.difference == pytest.approx(0.5)
    assert d.upper - d.lower == pytest.approx(2 * 1.959963984540054 * se)
    assert d.p_value == pytest.approx(math.erfc(0.5 / se / math.sqrt(2)))


def test_no_drift_rejects_at_the_stated_rate() -> None:
    """Type-I error: 300 seeded draws of two splits from one population reject about 5%."""
    rng = np.random.default_rng(20240601)
    rejected = [two_proportions(rng.binomial(800, 0.3), 800, rng.binomial(700, 0.3), 700)
                .drifts for _ in range(300)]
    assert abs(np.mean(rejected) - ALPHA) <= 0.03
    rejected = [two_means(*_moments(rng.normal(5, 2, 400)), *_moments(rng.normal(5, 2, 300)))
                .drifts for _ in range(300)]
    assert abs(np.mean(rejected) - ALPHA) <= 0.03


def _moments(x: np.ndarray) -> tuple[float, float, int]:
    return float(x.mean()), float(x.var(ddof=1)), len(x)


def test_order_names_overlaps_and_reversals() -> None:
    a = SplitTime(1, 5, 10)
    b = SplitTime(4, 8, 10)
    c = SplitTime(9, 12, 10)
    assert order_problems([("train", a), ("validation", c)]) == []
    assert order_problems([("train", a), ("validation", b)]) == \
        ["train (1 – 5) overlaps validation (4 – 8)"]
    assert order_problems([("validation", c), ("test", a)]) == \
        ["test (1 – 5) comes before validation (9 – 12)"]
    # A split with no time at all is left out of the order.
    assert order_problems([("train", a), ("x", SplitTime(None, None, 3)), ("test", c)]) == []
    # Multiclass: ranges, no drift.
    out = stability("t", {"validation": a, "test": c}, ["validation", "test"],
                    "validation", "test", "multiclass")
    assert out["ordered"]
    assert out["drift"] is None


# -- runs -----------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["numpy", "duckdb"])
def test_ordered_splits_and_stable_rate(project: Callable[..., Path], engine: str) -> None:
    df = timed_frame()
    cpath = project(df, timed_charter())
    res = mlscope.evaluate(cpath, resamples=0, engine=engine)  # type: ignore[arg-type]
    t = res.data["time"]
    assert t["column"] == "ts"
    assert t["order"] == ["train", "validation", "test"]
    assert t["ordered"] is True
    assert t["overlap"] is None
    for s in ("train", "validation", "test"):
        rows = df[df["split"] == s]
        got = t["splits"][s]
        assert got["rows"] == len(rows)
        assert got["missing"] == 0
        assert got["start"] == rows["ts"].min().isoformat()
        assert got["end"] == rows["ts"].max().isoformat()
        assert got["label_mean"] == pytest.approx(rows["label"].mean())
    drift = t["drift"]
    assert drift["metric"] == "positive_rate"
    assert drift["drifts"] is False
    assert drift["p_value"] > ALPHA
    assert drift["lower"] < drift["difference"] < drift["upper"]
    assert "is stable between validation and test" in drift["text"]
    assert not any("drifts" in w or "ordered in time" in w for w in res.warnings)
    it = _metadata(cpath, res)
    assert it.outcome == "evidence", (it.missing, it.unverified)
    assert any("ordered in time by `ts`: train 2023-01-01" in f for f in it.found)
    assert any("is stable between validation and test" in f for f in it.found)


def test_a_shifted_rate_on_test_drifts(project: Callable[..., Path], tmp_path: Path) -> None:
    df = timed_frame(test_rate=0.45)
    cpath = project(df, timed_charter())
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", str(cpath), "-o", str(out), "--resamples", "0", "-q"])
    assert r.exit_code in (0, 1), r.output
    res = EvaluationResult.from_json(out / "result.json")
    drift = res.data["time"]["drift"]
    rate = df.groupby("split")["label"].mean()
    assert drift["difference"] == pytest.approx(rate["test"] - rate["validation"], abs=1e-12)
    assert drift["p_value"] < 0.01
    assert drift["drifts"] is True
    assert drift["lower"] > 0
    assert any(w.startswith("the positive rate drifts between validation and test (p = ")
               for w in res.warnings)
    # result.json round trip keeps the finding as written.
    raw = json.loads((out / "result.json").read_text())
    assert raw["data"]["time"] == res.data["time"]
    assert EvaluationResult.from_dict(res.to_dict()).data["time"] == res.data["time"]
    it = _metadata(cpath, res)
    assert it.outcome != "evidence"
    gap = next(g for g in it.missing if "drifts" in g.what)
    assert f"{drift['difference']:+.3f} [{drift['lower']:+.3f}, {drift['upper']:+.3f}]" in gap.what


def test_overlapping_ranges_are_named(project: Callable[..., Path]) -> None:
    cpath = project(timed_frame(overlap=True), timed_charter())
    res = mlscope.evaluate(cpath, resamples=0)
    t = res.data["time"]
    assert t["ordered"] is False
    assert t["overlap"].startswith("train (2023-01-01T00:00:00 – ")
    assert " overlaps validation (2023-03-01T00:00:00 – " in t["overlap"]
    assert any("not ordered in time by `ts`" in w for w in res.warnings)
    it = _metadata(cpath, res)
    assert any("overlaps validation" in g.what for g in it.missing)


def test_text_dates_are_read(project: Callable[..., Path]) -> None:
    df = timed_frame(1200)
    df["ts"] = [x.strftime("%Y-%m-%d") for x in df["ts"]]
    res = mlscope.evaluate(project(df, timed_charter()), resamples=0)
    assert res.data["time"]["splits"]["test"]["start"] == \
        min(df.loc[df["split"] == "test", "ts"]) + "T00:00:00"


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_missing_time_column_is_named(project: Callable[..., Path], command: str) -> None:
    cpath = project(timed_frame(600), timed_charter(time="tss"))
    r = CliRunner().invoke(main, [command, str(cpath)])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    text = " ".join(r.output.split())
    assert "data.time" in text
    assert "column `tss`" in text
    assert "did you mean `ts`?" in text


@pytest.mark.parametrize(("values", "says"), [
    (lambda n: ["not a date"] * n, "do not read as a date or timestamp"),
    (lambda n: [True] * n, "is BOOLEAN"),
])
def test_a_time_column_that_is_not_time(project: Callable[..., Path], values: Any,
                                        says: str) -> None:
    df = timed_frame(600)
    df["ts"] = values(len(df))
    r = CliRunner().invoke(main, ["validate", str(project(df, timed_charter()))])
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    assert "data.time" in text
    assert says in text


def test_plan_without_a_result_or_a_time_column(project: Callable[..., Path]) -> None:
    cpath = project(timed_frame(600), timed_charter())
    it = _metadata(cpath, None)
    assert it.outcome == "unverified"
    assert "run `mlscope run` to measure it" in it.unverified[0].fix
    bare = project(timed_frame(600), base_charter())
    it = _metadata(bare, None)
    assert it.outcome == "unverified"
    assert "add `data.time: <column>`" in it.unverified[0].fix
    # Without data.time a run adds nothing to result.data.
    assert "time" not in mlscope.evaluate(bare, resamples=0).data


def test_spark_skips_with_a_warning(project: Callable[..., Path]) -> None:
    cpath = project(timed_frame(600), timed_charter())
    run = open_run(cpath, base_dir=None, resamples=0, seed=None, engine="numpy", binned=None,
                   spark=None)
    plan = plan_run(run)
    run.engine = SimpleNamespace(name="spark")  # type: ignore[assignment]
    data_stability(run, plan)
    assert "time" not in run.data
    assert any("not read by the spark engine" in w for w in run.warnings)
