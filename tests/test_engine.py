"""Backend contract: every engine yields the same statistics, equal to a pandas oracle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlscope.charter.schema import Charter
from mlscope.data.source import open_evaluation
from mlscope.engine import duckdb_backend as ddb
from mlscope.engine.engines import sql_point
from mlscope.engine.exact import ExactSplit
from mlscope.engine.numpy_backend import Layout, binary_cells, cell_codes, fetch_rows
from mlscope.engine.plan import plan_groupings
from mlscope.metrics.stats import binary_stats, error_stats, regression_stats
from tests.conftest import base_charter, binary_frame

SPLITS = ["validation", "test"]


def _open(tmp_path: Path, df: pd.DataFrame, **over: object) -> tuple[object, Charter]:
    path = tmp_path / "eval.parquet"
    df.to_parquet(path, index=False)
    ch = Charter.model_validate(base_charter(str(path), **over))
    return open_evaluation(ch, tmp_path), ch


def _masks(df: pd.DataFrame) -> dict[str, pd.Series]:
    out = {"overall": pd.Series(True, index=df.index), "rich": df.balance > 2000}
    for r in df.region.unique():
        out[f"region={r}"] = df.region == r
        for d in df.device.unique():
            out[f"region={r} × device={d}"] = (df.region == r) & (df.device == d)
    for d in df.device.unique():
        out[f"device={d}"] = df.device == d
    return out


def _numpy_point(t, ch, splits=SPLITS):  # type: ignore[no-untyped-def]
    gs = plan_groupings(t.slice_columns, ch.slices.columns, ch.slices.crosses, ch.slices.where)
    levels = ddb.slice_levels(t, splits)
    rows = fetch_rows(t, splits, levels)
    out = {}
    for s in splits:
        eng = ExactSplit(t, rows[s], gs, levels, y_shift=0.0)
        out[s] = eng.stats(rows[s].w)
    return out, gs, levels


@pytest.mark.parametrize("engine", ["numpy", "duckdb"])
def test_binary_histograms_match_pandas_oracle(tmp_path: Path, engine: str) -> None:
    df = binary_frame(n=800, seed=3)
    t, ch = _open(tmp_path, df)
    if engine == "numpy":
        point, _, _ = _numpy_point(t, ch)
    else:
        gs = plan_groupings(t.slice_columns, ch.slices.columns, ch.slices.crosses,
                            ch.slices.where)
        levels = ddb.slice_levels(t, SPLITS)
        point = sql_point(t, gs, SPLITS, levels)
    masks = _masks(df)
    checked = 0
    for split in SPLITS:
        for key, mask in masks.items():
            sub = df[mask & (df.split == split)]
            for mi, col in enumerate(["p_good", "p_fair", "p_weak"]):
                got = point[split].task.get((mi, key))
                if sub.empty:
                    assert got is None
                    continue
                ref = binary_stats(sub.label, sub[col])
                assert got is not None, (split, key, col)
                np.testing.assert_array_equal(got.scores, ref.scores)
                np.testing.assert_allclose(got.pos, ref.pos, rtol=0, atol=1e-12)
                np.testing.assert_allclose(got.neg, ref.neg, rtol=0, atol=1e-12)
                assert got.n_rows == len(sub)
                checked += 1
    assert checked > 100


def test_weighted_rows_and_logits(tmp_path: Path) -> None:
    df = binary_frame(n=400, seed=5)
    df["w"] = np.random.default_rng(1).integers(1, 4, len(df)).astype(float)
    df["logit_good"] = np.log(np.clip(df.p_good, 1e-3, 1 - 1e-3) / (
        1 - np.clip(df.p_good, 1e-3, 1 - 1e-3)))
    c = base_charter("eval.parquet")
    c["data"] = {**c["data"], "weight": "w", "score_type": "logit",
                 "models": {"good": "logit_good"}}
    path = tmp_path / "eval.parquet"
    df.to_parquet(path, index=False)
    ch = Charter.model_validate(c)
    t = open_evaluation(ch, tmp_path)
    point, _, _ = _numpy_point(t, ch)
    sub = df[df.split == "validation"]
    # Logits are kept raw (their order is exact); the metrics apply the link.
    ref = binary_stats(sub.label, sub.logit_good, sub.w)
    got = point["validation"].task[(0, "overall")]
    np.testing.assert_allclose(got.scores, ref.scores, rtol=1e-12)
    np.testing.assert_allclose(got.pos, ref.pos, atol=1e-12)
    np.testing.assert_allclose(got.neg, ref.neg, atol=1e-12)


@pytest.mark.parametrize("engine", ["numpy", "duckdb"])
def test_regression_and_error_columns_match_oracle(tmp_path: Path, engine: str) -> None:
    rng = np.random.default_rng(11)
    n = 500
    df = binary_frame(n=n, seed=11)
    df["y"] = rng.normal(10, 3, n).round(1)
    df["pred_a"] = (df.y + rng.normal(0, 1, n)).round(1)
    df["pred_b"] = (df.y + rng.normal(0.5, 2, n)).round(1)
    df["err_a"] = rng.gamma(1.0, 1.0, n).round(2)
    df["err_b"] = rng.gamma(2.0, 1.0, n).round(2)
    c = base_charter("eval.parquet")
    c["task"] = "regression"
    c["data"] = {**c["data"], "label": "y", "models": {"a": "pred_a", "b": "pred_b"},
                 "errors": {"pos_cm": {"a": "err_a", "b": "err_b"}}}
    c["metrics"] = ["mae"]
    c["selection"] = {"rule": "satisficing", "optimize": "mae"}
    path = tmp_path / "eval.parquet"
    df.to_parquet(path, index=False)
    ch = Charter.model_validate(c)
    t = open_evaluation(ch, tmp_path)
    shift = float(df.y.mean())
    if engine == "numpy":
        gs = plan_groupings(t.slice_columns, ch.slices.columns, ch.slices.crosses,
                            ch.slices.where)
        levels = ddb.slice_levels(t, SPLITS)
        rows = fetch_rows(t, SPLITS, levels)
        point = {s: ExactSplit(t, rows[s], gs, levels, shift).stats(rows[s].w) for s in SPLITS}
    else:
        gs = plan_groupings(t.slice_columns, ch.slices.columns, ch.slices.crosses,
                            ch.slices.where)
        point = sql_point(t, gs, SPLITS, ddb.slice_levels(t, SPLITS))
    for key, mask in _masks(df).items():
        sub = df[mask & (df.split == "test")]
        if sub.empty:
            continue
        got = point["test"].task[(1, key)]
        ref = regression_stats(sub.y, sub.pred_b, y_shift=got.y_shift)
        for f in ("total", "sum_err", "sum_abs", "sum_sq", "sum_ape", "sum_y", "sum_y2"):
            np.testing.assert_allclose(getattr(got, f), getattr(ref, f), rtol=1e-10, atol=1e-9)
        np.testing.assert_array_equal(got.abs_errors.values, ref.abs_errors.values)
        np.testing.assert_allclose(got.abs_errors.weights, ref.abs_errors.weights)
        gerr = point["test"].errors[(0, 0, key)]
        rerr = error_stats(sub.err_a)
        np.testing.assert_array_equal(gerr.values, rerr.values)
        np.testing.assert_allclose(gerr.weights, rerr.weights)
    assert shift  # the DuckDB engine uses the overall mean as its shift; both are exact


@settings(max_examples=40, deadline=None)
@given(
    scores=st.lists(st.integers(0, 6), min_size=1, max_size=60),
    data=st.data(),
)
def test_layout_matches_per_cell_oracle(scores: list[int], data: st.DataObject) -> None:
    n = len(scores)
    s = np.asarray(scores, dtype=float) / 6
    y = np.asarray(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), float)
    cell = np.asarray(data.draw(st.lists(st.integers(-1, 3), min_size=n, max_size=n)))
    w = np.asarray(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), float)
    W = np.stack([w, np.ones(n), w * 2])  # a batch of three weightings
    lay = Layout(s, cell, 4)
    per = binary_cells(lay, y, W, 4)
    for c in range(4):
        sel = cell == c
        assert per[c].n_rows == sel.sum()
        for b in range(3):
            ref = binary_stats(y[sel], s[sel], W[b, sel])
            np.testing.assert_array_equal(per[c].scores, ref.scores)
            np.testing.assert_allclose(per[c].pos[b], ref.pos)
            np.testing.assert_allclose(per[c].neg[b], ref.neg)


def test_cell_codes_cross(tmp_path: Path) -> None:
    df = binary_frame(n=300, seed=2)
    t, ch = _open(tmp_path, df)
    gs = plan_groupings(t.slice_columns, ch.slices.columns, ch.slices.crosses, ch.slices.where)
    levels = ddb.slice_levels(t, SPLITS)
    rows = fetch_rows(t, SPLITS, levels)
    cross = next(g for g in gs if g.kind == "cross")
    code, cells = cell_codes(rows["test"], cross, levels)
    sub = df[df.split == "test"].reset_index(drop=True)
    for i, cell in enumerate(cells):
        region, device = cell.values
        expect = ((sub.region == region) & (sub.device == device)).to_numpy()
        np.testing.assert_array_equal(code == i, expect)


def test_unit_weights_hold_no_row_sized_array(tmp_path: Path) -> None:
    """An unweighted table's weights are a read-only view of 1.0, not 8 bytes a row (80 MB
    at 10M rows); every path that reads them sees ones, and none may write to them."""
    df = binary_frame(n=400, seed=5)
    t, ch = _open(tmp_path, df)
    assert not t.has_weight
    levels = ddb.slice_levels(t, SPLITS)
    rows = fetch_rows(t, SPLITS, levels)
    for s in SPLITS:
        w = rows[s].w
        assert w.shape == ((df.split == s).sum(),)
        assert w.dtype == np.float64
        assert w.strides == (0,)
        assert not w.flags.writeable
        assert bool(np.all(w == 1.0))
    # The point estimate under these weights is the one under a real array of ones.
    gs = plan_groupings(t.slice_columns, ch.slices.columns, ch.slices.crosses, ch.slices.where)
    view = ExactSplit(t, rows["test"], gs, levels, y_shift=0.0).stats(rows["test"].w)
    ones = ExactSplit(t, rows["test"], gs, levels, y_shift=0.0).stats(
        np.ones(rows["test"].n))
    assert view.task.keys() == ones.task.keys()
    for key, got in view.task.items():
        np.testing.assert_array_equal(got.pos, ones.task[key].pos)
        np.testing.assert_array_equal(got.neg, ones.task[key].neg)
