"""DeLong from placements computed once per model and slice (issue 16): the same bits as the
raw-row functions, on their own and in every difference an evaluation reports."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import mlscope
from mlscope.compare.intervals import auc_difference_interval, auc_difference_interval_of
from mlscope.compare.paired import (
    delong_placements,
    delong_test,
    delong_test_of,
    delong_variance,
    delong_variance_of,
)
from mlscope.engine.bounded import clip, difference_bounds
from mlscope.errors import InputError
from mlscope.result import OVERALL, Difference
from tests.conftest import base_charter, binary_frame


def _same(a: Any, b: Any) -> bool:
    """Equal bit for bit (NaN equal to NaN, 0.0 not equal to -0.0)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.copysign(1.0, a) == math.copysign(1.0, b) and (
            a == b or (math.isnan(a) and math.isnan(b)))
    return bool(a == b) and type(a) is type(b)


def _inputs(seed: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Random labels and two correlated models: many ties (a coarse grid), continuous
    scores, a model against itself, tiny classes (2 of one), perfect separation."""
    rng = np.random.default_rng(seed)
    out = []
    for n, grid in ((7, 3), (40, 5), (300, 20), (2_000, 0), (5_000, 100)):
        y = (rng.random(n) < 0.3).astype(np.float64)
        y[:2], y[2:4] = 1.0, 0.0  # both classes, at least 2 of each
        latent = y + rng.normal(size=n)
        a = latent + rng.normal(scale=0.5, size=n)
        b = latent + rng.normal(scale=1.5, size=n)
        if grid:
            a, b = np.round(a * grid) / grid, np.round(b * grid) / grid
        out += [(y, a, b), (y, a, a.copy()), (y, a.astype(np.float32), b)]
    y = np.array([1.0, 1.0, 0.0, 0.0, 0.0])
    out.append((y, np.array([0.9, 0.8, 0.1, 0.2, 0.3]), np.full(5, 0.5)))  # perfect vs constant
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_placements_give_the_raw_functions_bits(seed: int) -> None:
    for y, a, b in _inputs(seed):
        pa, pb = delong_placements(y, a), delong_placements(y, b)
        for level in (0.9, 0.95):
            raw = dataclasses.astuple(delong_test(y, a, b, level=level))
            fast = dataclasses.astuple(delong_test_of(pa, pb, level=level))
            assert all(_same(u, v) for u, v in zip(raw, fast, strict=True)), (raw, fast)
            aucs, cov = delong_variance_of([pa, pb])
            raw_ci = auc_difference_interval(y, a, b, level=level)
            fast_ci = auc_difference_interval_of(aucs, cov, pa.n_pos, y.size, level=level)
            assert all(_same(u, v) for u, v in zip(raw_ci, fast_ci, strict=True))
        raw_aucs, raw_cov = delong_variance(y, [a, b])
        assert raw_aucs.tobytes() == aucs.tobytes()
        assert raw_cov.tobytes() == cov.tobytes()


def test_placements_refuse_what_delong_refuses() -> None:
    for y in (np.zeros(6), np.ones(6), np.array([1.0, 0, 0, 0, 0])):
        s = np.linspace(0.0, 1.0, y.size)
        with pytest.raises(InputError) as raw:
            delong_test(y, s, s)
        with pytest.raises(InputError) as fast:
            delong_placements(y, s)
        assert str(raw.value) == str(fast.value)
    p4, p5 = delong_placements([0, 0, 1, 1], [1, 2, 3, 4]), delong_placements(
        [0, 0, 1, 1, 1], [1, 2, 3, 4, 5])
    with pytest.raises(InputError, match="not on the same rows"):
        delong_test_of(p4, p5)


def _project(root: Path, weighted: bool = False) -> Path:
    df = binary_frame(n=1_500, seed=5)
    df["p_cont"] = np.random.default_rng(1).random(len(df))  # continuous, no ties
    # Tiny slices: one with a single positive (DeLong refuses: bootstrap with a note),
    # one with two of each class, one with only negatives (AUC undefined: no difference).
    tiny = np.full(len(df), "big", dtype=object)
    pos, neg = np.flatnonzero(df["label"] == 1), np.flatnonzero(df["label"] == 0)
    tiny[np.r_[pos[:1], neg[:12]]] = "one_pos"
    tiny[np.r_[pos[1:3], neg[12:14]]] = "two_each"
    tiny[neg[14:30]] = "negatives"
    df["tiny"] = tiny
    if weighted:
        df["w"] = np.random.default_rng(2).uniform(0.5, 2.0, len(df))
    df.to_parquet(root / "eval.parquet", index=False)
    ch = base_charter()
    ch["data"]["models"]["cont"] = "p_cont"
    if weighted:
        ch["data"]["weight"] = "w"
    ch["slices"] = {"columns": ["region", "device", "tiny"], "min_size": 1}
    ch["intervals"] = {"resamples": 30}
    ch["compare"] = {"pairs": [["good", "fair"], ["cont", "good"], ["fair", "cont"]]}
    path = root / "mlscope.yaml"
    path.write_text(yaml.safe_dump(ch, sort_keys=False), encoding="utf-8")
    return path


def _old_delong(d: Difference, df: pd.DataFrame, terms: bool) -> dict[str, Any]:
    """The difference as the code before the placements cache computed it: DeLong's test,
    the MOVER interval and (pairs) the covariance, each from the slice's raw rows."""
    rows = df[df["split"] == d.split]
    if d.slice != OVERALL:
        col, val = d.slice.split("=", 1)
        rows = rows[rows[col] == val]
    models = {"good": "p_good", "fair": "p_fair", "weak": "p_weak", "cont": "p_cont"}
    y = rows["label"].to_numpy(np.float64)
    a = rows[models[d.model]].to_numpy()
    b = rows[models[d.reference]].to_numpy()
    try:
        r = delong_test(y, a, b, level=0.95)
    except ValueError as exc:
        return {"note": f"paired test not possible here ({exc}); bootstrap used"}
    lo, hi = clip(*auc_difference_interval(y, a, b, level=0.95), difference_bounds((0.0, 1.0)))
    out = {"lower": lo, "upper": hi, "p_value": r.p_value, "se": r.se, "statistic": r.z,
           "note": r.note or "", "n_pos": r.n_pos, "n_neg": r.n_neg}
    if terms:
        _, cov = delong_variance(y, [a, b])
        out |= {"var_a": float(cov[0, 0]), "var_b": float(cov[1, 1]), "cov": float(cov[0, 1])}
    return out


@pytest.mark.parametrize("weighted", [False, True])
def test_every_difference_as_before(tmp_path: Path, weighted: bool) -> None:
    path = _project(tmp_path, weighted)
    df = pd.read_parquet(tmp_path / "eval.parquet")
    res = mlscope.evaluate(path)
    diffs = [(d, False) for d in res.differences]
    diffs += [(d, True) for c in res.comparisons for d in c.differences]
    auc = [(d, terms) for d, terms in diffs if d.metric == "roc_auc"]
    checked = refused = 0
    for d, terms in auc:
        if weighted:
            assert d.test != "delong"  # weighted rows: the bootstrap, as before
            continue
        old = _old_delong(d, df, terms)
        if "lower" not in old:
            assert d.note == old["note"]
            assert d.test != "delong"
            refused += 1
            continue
        assert d.test == "delong"
        assert d.detail is not None
        got = {"lower": d.lower, "upper": d.upper, "p_value": d.p_value, "se": d.se,
               "statistic": d.detail.statistic, "note": d.note, "n_pos": d.detail.n_pos,
               "n_neg": d.detail.n_neg}
        if terms:
            got |= {"var_a": d.detail.var_a, "var_b": d.detail.var_b, "cov": d.detail.cov}
        assert all(_same(got[k], old[k]) for k in old), (d, got, old)
        checked += 1
    if not weighted:
        # every slice's DeLong path taken, and the one-positive slice refused on each split
        assert checked >= 2 * 4 * 9
        assert refused >= 2
    assert not any(d.slice == "tiny=negatives" for d, _ in auc)


def test_mcnemar_counts_with_rows_outside_every_slice(tmp_path: Path) -> None:
    # A `where:` slice leaves the rows it does not match outside every cell of its
    # grouping (code -1): the one-bincount counts must leave them out there, and keep
    # them overall and in the region cells.
    df = binary_frame(n=1_200, seed=8)
    df.to_parquet(tmp_path / "eval.parquet", index=False)
    ch = base_charter()
    ch["slices"] = {"columns": ["region"], "where": {"rich": "balance > 2000"},
                    "min_size": 1}
    ch["metrics"] = ["accuracy", "roc_auc"]
    ch["selection"] = {"rule": "satisficing", "optimize": "accuracy", "constraints": {}}
    ch["requirements"] = {}
    ch["intervals"] = {"resamples": 20}
    ch["compare"] = {"pairs": [["good", "weak"]]}
    path = tmp_path / "mlscope.yaml"
    path.write_text(yaml.safe_dump(ch, sort_keys=False), encoding="utf-8")
    res = mlscope.evaluate(path)
    diffs = [d for c in res.comparisons for d in c.differences if d.metric == "accuracy"]
    assert {d.test for d in diffs} == {"mcnemar"}
    seen = set()
    for d in diffs:
        rows = df[df["split"] == d.split]
        if d.slice == "rich":
            rows = rows[rows["balance"] > 2000]
        elif d.slice != OVERALL:
            col, val = d.slice.split("=", 1)
            rows = rows[rows[col] == val]
        y = rows["label"].to_numpy() == 1
        right_a = (rows["p_good"].to_numpy() >= 0.5) == y
        right_b = (rows["p_weak"].to_numpy() >= 0.5) == y
        assert d.detail is not None
        assert (d.detail.b, d.detail.c, d.detail.n) == (
            int((right_a & ~right_b).sum()), int((~right_a & right_b).sum()), len(rows))
        seen.add(d.slice)
    assert {OVERALL, "rich"} <= seen
    assert len(seen) == 6
