"""No printed interval leaves its metric's range (issue 12, item 6).

A grid of tiny slices (2–5 rows, 1–2 positives), a 2-positive slice where the candidate is
perfect and the blessed model is not (DeLong's Wald interval gave [−0.22, +1.25] there),
and a perfect slice, evaluated end to end with every binary metric against a blessed
model: every metric interval lies in the metric's range, every difference interval in
``[lo − hi, hi − lo]``, and a perfect slice's accuracy interval is not [1, 1].
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import mlscope
from mlscope.compare.intervals import auc_difference_interval
from mlscope.compare.paired import delong_test
from mlscope.engine.bounded import boundary_interval, difference_bounds, logit_interval, mover

_METRICS: list[Any] = [
    "roc_auc", "average_precision", "brier", "log_loss",
    {"metric": "accuracy", "threshold": 0.5}, {"metric": "precision", "threshold": 0.5},
    {"metric": "recall", "threshold": 0.5}, {"metric": "specificity", "threshold": 0.5},
    {"metric": "balanced_accuracy", "threshold": 0.5}, {"metric": "f1", "threshold": 0.5},
    {"metric": "mcc", "threshold": 0.5}, {"metric": "positive_rate", "threshold": 0.5},
    {"metric": "fbeta", "threshold": 0.5, "beta": 2.0},
]


def _frame(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []

    def block(name: str, y: np.ndarray, cand: np.ndarray, prod: np.ndarray) -> None:
        parts.append(pd.DataFrame({"grp": name, "y": y, "cand": cand, "prod": prod}))

    # The bulk: two ordinary models.
    n = 400
    s = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-2 * s))).astype(int)
    block("bulk", y, 1 / (1 + np.exp(-(2 * s + rng.normal(size=n)))),
          1 / (1 + np.exp(-(2 * s + rng.normal(scale=2, size=n)))))
    # Tiny slices: 2–5 rows with 1–2 positives, random scores.
    for rows, pos in ((2, 1), (3, 1), (4, 1), (4, 2), (5, 1), (5, 2)):
        yy = np.array([1] * pos + [0] * (rows - pos))
        block(f"tiny{rows}_{pos}", yy, rng.random(rows), rng.random(rows))
    # Two positives among 40: the candidate ranks them first, production near the bottom.
    yy = np.array([1, 1] + [0] * 38)
    block("twopos", yy, np.r_[0.9, 0.8, rng.uniform(0, 0.4, 38)],
          np.r_[0.1, 0.45, rng.uniform(0.2, 0.6, 38)])
    # A perfect slice: both models right on every row, by a wide margin.
    yy = np.array([1] * 20 + [0] * 40)
    perfect = np.where(yy == 1, 0.99, 0.01)
    block("perfect", yy, perfect, perfect.copy())
    df = pd.concat(parts, ignore_index=True)
    df["id"] = np.arange(len(df))
    df["split"] = "test"
    return df


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("ranges")
    _frame().to_parquet(tmp / "eval.parquet", index=False)
    charter = {
        "project": "ranges", "task": "binary", "seed": 3,
        "data": {"table": "eval.parquet", "id": "id", "label": "y", "split": "split",
                 "models": {"cand": "cand", "prod": "prod"}},
        "splits": {"selection": "test", "report": "test", "train": None},
        "slices": {"columns": ["grp"], "min_size": 1},
        "metrics": _METRICS,
        "selection": {"rule": "satisficing", "optimize": "roc_auc"},
        "blessed": "prod",
        "intervals": {"resamples": 200},
    }
    path = tmp / "mlscope.yaml"
    path.write_text(yaml.safe_dump(charter, sort_keys=False), encoding="utf-8")
    return mlscope.evaluate(path)


def test_metric_intervals_stay_in_range(result: Any) -> None:
    bounds = {m.id: m.bounds for m in result.metrics}
    checked = 0
    for v in result.values:
        if v.lower is None or v.upper is None:
            continue
        lo, hi = bounds[v.metric]
        checked += 1
        assert lo is None or v.lower >= lo, v
        assert hi is None or v.upper <= hi, v
        assert v.lower <= v.upper, v
    assert checked > 50


def test_difference_intervals_stay_in_range(result: Any) -> None:
    bounds = {m.id: difference_bounds(m.bounds) for m in result.metrics}
    checked = 0
    for d in result.differences:
        if d.lower is None or d.upper is None:
            continue
        lo, hi = bounds[d.metric]
        checked += 1
        assert lo is None or d.lower >= lo, d
        assert hi is None or d.upper <= hi, d
    assert checked > 20
    two = next(d for d in result.differences if d.slice == "grp=twopos"
               and d.metric == "roc_auc" and d.reference == "prod")
    assert two.test == "delong"
    assert two.upper <= 1.0
    assert two.lower < two.value < two.upper


def test_perfect_slice_gets_an_exact_interval(result: Any) -> None:
    """Every resample of a perfect slice is perfect: the percentile interval is [1, 1].
    Accuracy (60 rows) gets Clopper–Pearson's [(0.025)^(1/60), 1] instead."""
    acc = result.value("accuracy", "cand", split="test", slice="grp=perfect")
    assert acc.value == 1.0
    assert acc.upper == 1.0
    assert acc.lower is not None
    assert acc.lower < 1.0
    assert acc.lower == pytest.approx(0.025 ** (1 / 60))
    rec = result.value("recall", "cand", split="test", slice="grp=perfect")
    assert rec.lower == pytest.approx(0.025 ** (1 / 20))  # 20 positives are the trials
    auc = result.value("roc_auc", "cand", split="test", slice="grp=perfect")
    assert auc.lower is not None
    assert auc.lower < 1.0


def test_auc_difference_interval_inside_minus_one_one() -> None:
    """DeLong's Wald interval of the 2-positive slice leaves [−1, 1]; MOVER on logit-DeLong
    intervals does not, and agrees with Wald on a large sample."""
    df = _frame()
    two = df[df.grp == "twopos"]
    y, a, b = two.y.to_numpy(), two.cand.to_numpy(), two["prod"].to_numpy()
    assert delong_test(y, a, b).upper > 1.0  # the problem
    lo, hi = auc_difference_interval(y, a, b)
    assert -1.0 <= lo < hi <= 1.0
    rng = np.random.default_rng(1)
    s = rng.normal(size=20_000)
    yb = (rng.random(s.size) < 1 / (1 + np.exp(-s))).astype(int)
    sa, sb = s + rng.normal(size=s.size), s + rng.normal(scale=1.3, size=s.size)
    w = delong_test(yb, sa, sb)
    lo, hi = auc_difference_interval(yb, sa, sb)
    assert lo == pytest.approx(w.lower, abs=0.05 * (w.upper - w.lower))
    assert hi == pytest.approx(w.upper, abs=0.05 * (w.upper - w.lower))


@pytest.mark.parametrize("n", [2, 3, 5, 30])
def test_bounded_helpers(n: int) -> None:
    lo, hi = boundary_interval(1.0, n, 0.95, (0.0, 1.0)) or (None, None)
    assert hi == 1.0
    assert lo == pytest.approx(0.025 ** (1 / n))
    assert boundary_interval(0.0, n, 0.95, (-1.0, 1.0)) is None  # not at an end
    lo2, hi2 = logit_interval(0.97, 0.05, 1.96) or (0.0, 0.0)
    assert 0.0 < lo2 < 0.97 < hi2 < 1.0
    assert mover(1.0, (0.3, 1.0), 0.0, (0.0, 0.7), 0.0)[1] <= 1.0


def test_multiclass_perfect_class_gets_an_exact_interval(tmp_path: Any) -> None:
    """A class every model recognises without error on a split (digits QA: recall of the
    digit 1, 1.000 [1.000, 1.000]): its per-class recall and precision get the exact
    Clopper–Pearson interval on the class's rows and predictions, never [1, 1]."""
    rng = np.random.default_rng(5)
    n = 300
    y = rng.choice(["a", "b", "c"], n, p=[0.2, 0.4, 0.4])
    p = np.full((n, 3), 0.05)
    p[np.arange(n), np.searchsorted(["a", "b", "c"], y)] = 0.9
    # Class `a` perfect; b and c confused on a fifth of their rows.
    mix = (y != "a") & (rng.random(n) < 0.2)
    p[mix, 1:] = p[mix, 1:][:, ::-1]
    df = pd.DataFrame({"id": np.arange(n), "y": y, "split": "test",
                       "m_a": p[:, 0], "m_b": p[:, 1], "m_c": p[:, 2]})
    df.to_parquet(tmp_path / "eval.parquet", index=False)
    charter = {
        "project": "perfect-class", "task": "multiclass", "seed": 1,
        "data": {"table": "eval.parquet", "id": "id", "label": "y", "split": "split",
                 "models": {"m": {"a": "m_a", "b": "m_b", "c": "m_c"}}},
        "splits": {"selection": "test", "report": "test", "train": None},
        "metrics": ["accuracy",
                    {"id": "recall_a", "metric": "class_recall", "cls": "a"},
                    {"id": "precision_a", "metric": "class_precision", "cls": "a"},
                    {"id": "recall_b", "metric": "class_recall", "cls": "b"}],
        "selection": {"rule": "satisficing", "optimize": "accuracy"},
        "intervals": {"resamples": 200},
    }
    path = tmp_path / "mlscope.yaml"
    path.write_text(yaml.safe_dump(charter, sort_keys=False), encoding="utf-8")
    res = mlscope.evaluate(path)
    n_a = int((y == "a").sum())
    rec = res.value("recall_a", "m", split="test")
    assert rec.value == 1.0
    assert rec.upper == 1.0
    assert rec.lower == pytest.approx(0.025 ** (1 / n_a))  # the class's rows
    prec = res.value("precision_a", "m", split="test")
    assert prec.value == 1.0
    assert prec.lower == pytest.approx(0.025 ** (1 / n_a))  # its predictions: n_a rows
    # Not at an end: the bootstrap's own interval, strictly inside.
    other = res.value("recall_b", "m", split="test")
    assert 0.0 < other.lower < other.value < other.upper < 1.0


def test_two_models_perfect_on_a_slice_get_an_exact_difference_interval(result: Any) -> None:
    """Both models right on every row of the perfect slice: every resample's difference is
    0 and the bootstrap gave [0, 0] (digits QA: recall of d1, both models perfect). A
    proportion-like metric's difference gets the exact bound on the share of trials the two
    could disagree on: ±(1 − 0.025^(1/n)), n its trials on the slice."""
    diffs = {(d.metric, d.slice): d for d in result.differences
             if d.model == "cand" and d.reference == "prod" and d.split == "test"}
    rec = diffs[("recall", "grp=perfect")]
    assert rec.value == 0.0
    half = 1 - 0.025 ** (1 / 20)  # 20 positives
    assert rec.lower == pytest.approx(-half)
    assert rec.upper == pytest.approx(half)
    acc = diffs[("accuracy", "grp=perfect")]
    assert acc.lower is not None
    assert acc.lower < 0.0 < acc.upper
    # Not at agreement everywhere: the bootstrap's own interval.
    bulk = diffs[("recall", "grp=bulk")]
    assert bulk.lower is not None
    assert bulk.lower != -bulk.upper or bulk.value != 0.0
