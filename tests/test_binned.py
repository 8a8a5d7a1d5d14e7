"""Binned mode: exact where promised, within the stated bound elsewhere, on generated data."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import mlscope
from mlscope.cli import main
from mlscope.engine.binned import error_bound
from mlscope.metrics.binary import average_precision, roc_auc
from mlscope.metrics.stats import BinaryStats
from tests.conftest import base_charter, binary_frame


def continuous_frame(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    """binary_frame with continuous scores (the case binning approximates), one tied model."""
    df = binary_frame(n=n, seed=seed, grid=10**9)
    rng = np.random.default_rng(seed + 1)
    df["p_good"] = np.clip(df["p_good"] + rng.normal(scale=1e-4, size=n), 0, 1)
    df["w"] = rng.choice([0.5, 1.0, 2.0], size=n)
    return df


@pytest.mark.parametrize("weighted", [False, True])
def test_binned_values_are_exact_or_within_their_bound(
        project: Callable[..., Path], weighted: bool) -> None:
    df = continuous_frame()
    c = base_charter("eval.parquet")
    if weighted:
        c["data"]["weight"] = "w"
    cpath = project(df, charter=c)
    exact = mlscope.evaluate(cpath, resamples=0)
    binned = mlscope.evaluate(cpath, resamples=0, binned=64)
    checked = {"exact": 0, "bounded": 0}
    searched = {m.id for m in binned.metrics if m.operating_point}
    for a, b in zip(exact.values, binned.values, strict=True):
        assert (a.split, a.model, a.slice, a.metric) == (b.split, b.model, b.slice, b.metric)
        assert (a.value is None) == (b.value is None), (a, b)
        if a.value is None or b.value is None or a.metric in searched:
            continue
        assert b.error_bound is not None
        # Within the bound (plus float rounding); metrics said to be exact are exact.
        assert abs(a.value - b.value) <= b.error_bound + 1e-9, (a, b)
        checked["exact" if b.error_bound == 0 else "bounded"] += 1
    assert checked["exact"] > 100
    assert checked["bounded"] > 20
    assert any("binned mode" in w for w in binned.warnings)
    # An operating threshold is searched among bin edges; the value is exact at the threshold
    # reported.
    from sklearn.metrics import f1_score

    for tc in binned.thresholds:
        assert tc.threshold is not None
        sub = df[df.split == "test"]
        s = sub[f"p_{tc.model}"]
        w = sub["w"] if weighted else None
        v = binned.value("f1_best", tc.model, split="test")
        assert v.value == pytest.approx(
            f1_score(sub.label, s >= tc.threshold, sample_weight=w), abs=1e-12)


def test_binned_bound_shrinks_with_more_bins(project: Callable[..., Path]) -> None:
    cpath = project(continuous_frame(n=6000))
    coarse = mlscope.evaluate(cpath, resamples=0, binned=16)
    fine = mlscope.evaluate(cpath, resamples=0, binned=1024)
    b16 = coarse.value("roc_auc", "fair").error_bound
    b1k = fine.value("roc_auc", "fair").error_bound
    assert b16 is not None
    assert b1k is not None
    assert b1k < b16 / 10


def test_binned_intervals_and_selection(project: Callable[..., Path]) -> None:
    cpath = project(continuous_frame(n=5000))
    exact = mlscope.evaluate(cpath, resamples=100)
    binned = mlscope.evaluate(cpath, resamples=100, binned=512)
    assert binned.selection is not None
    assert exact.selection is not None
    assert binned.selection.primary.winner == exact.selection.primary.winner
    v = binned.value("roc_auc", "good")
    e = exact.value("roc_auc", "good")
    assert v.lower is not None
    assert v.upper is not None
    assert e.lower is not None
    assert e.upper is not None
    assert v.lower <= v.value <= v.upper  # type: ignore[operator]
    assert 0.6 < (v.upper - v.lower) / (e.upper - e.lower) < 1.6
    assert "binned estimate" in binned.interval.note


def test_binned_refuses_other_tasks_and_custom_metrics(project: Callable[..., Path],
                                                       tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def f(y, s, w):\n    return 1.0\n")
    c = base_charter("eval.parquet")
    c["metrics"] = [*c["metrics"], {"id": "mine", "custom": "m:f", "direction": "higher"}]
    with pytest.raises(mlscope.InputError, match="binned mode applies to binary"):
        mlscope.evaluate(project(charter=c), binned=64)


def test_cli_binned_writes_error_bounds(project: Callable[..., Path], tmp_path: Path) -> None:
    cpath = project(continuous_frame(n=3000))
    out = CliRunner().invoke(main, ["evaluate", str(cpath), "--binned", "256",
                                    "--resamples", "20", "--out", str(tmp_path / "o")])
    assert out.exit_code in (0, 1), out.output
    data = json.loads((tmp_path / "o" / "result.json").read_text())
    bounds = [v["error_bound"] for v in data["values"] if v["value"] is not None]
    assert all(b is not None and b >= 0 for b in bounds)
    bad = CliRunner().invoke(main, ["evaluate", str(cpath), "--binned", "3"])
    assert bad.exit_code == 2


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 60), bins=st.integers(1, 8), seed=st.integers(0, 10**6),
)
def test_error_bound_covers_any_order_within_bins(n: int, bins: int, seed: int) -> None:
    """The AUC/AP bound holds whatever the exact order of rows inside each bin."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.4
    w = rng.choice([1.0, 2.0], size=n)
    bin_of = np.sort(rng.integers(0, bins, n))
    # Exact scores: distinct within bins, bins ordered, any arrangement of labels inside.
    score = bin_of + rng.random(n) * 0.9
    exact = BinaryStats(score[::-1].copy(), (w * y)[::-1].copy(), (w * ~y)[::-1].copy(), n)
    order = np.argsort(-score)
    exact = BinaryStats(score[order], (w * y)[order], (w * ~y)[order], n)
    pos = np.bincount(bin_of, weights=w * y, minlength=bins)[::-1]
    neg = np.bincount(bin_of, weights=w * ~y, minlength=bins)[::-1]
    binned = BinaryStats(np.arange(bins, dtype=float)[::-1].copy(), pos, neg, n)
    for name, fn in (("roc_auc", roc_auc), ("average_precision", average_precision)):
        b = error_bound(name, binned)
        ev, bv = float(fn(exact)), float(fn(binned))
        if b is None:
            assert np.isnan(ev)
            continue
        assert abs(ev - bv) <= b + 1e-12, (name, ev, bv, b)


def test_report_shows_binned_error_bounds(project: Callable[..., Path]) -> None:
    from mlscope.report import render_html

    res = mlscope.evaluate(project(continuous_frame(n=3000)), resamples=0, binned=32)
    page = render_html(res)
    assert "binned: within ±" in page
    assert "binned mode" in page  # the warning names the mode and the largest bound
