"""Interval coverage by simulation: nominal 95% percentile intervals cover the truth.

Data with known truth is generated (seeded): scores are logistic of a normal with mean
depending on the label, so the population ROC AUC and accuracy at 0.5 are known exactly.
The intervals are computed with the same code the pipeline uses (resampling counts as
weights over the exact per-score layout).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from mlscope.engine.bootstrap import percentile_interval, resample_counts
from mlscope.engine.numpy_backend import Layout, binary_cells
from mlscope.metrics.registry import get_metric

N_DATASETS = 600
N_ROWS = 300
N_BOOT = 300
PREVALENCE = 0.4
MU0, MU1 = -0.5, 0.7


def _truth() -> dict[str, float]:
    # AUC of two unit-variance normals: Phi((mu1 - mu0) / sqrt(2)); accuracy at score 0.5
    # (x >= 0): prevalence * P(x1 >= 0) + (1 - prevalence) * P(x0 < 0).
    return {
        "roc_auc": float(norm.cdf((MU1 - MU0) / np.sqrt(2))),
        "accuracy": float(PREVALENCE * norm.cdf(MU1) + (1 - PREVALENCE) * norm.cdf(-MU0)),
    }


@pytest.mark.slow
@pytest.mark.parametrize("metric", ["roc_auc", "accuracy"])
def test_percentile_interval_coverage(metric: str) -> None:
    spec = get_metric(metric)
    truth = _truth()[metric]
    rng = np.random.default_rng(20261124)
    covered = 0
    for _ in range(N_DATASETS):
        y = (rng.random(N_ROWS) < PREVALENCE).astype(float)
        x = np.where(y == 1, MU1, MU0) + rng.normal(size=N_ROWS)
        s = 1 / (1 + np.exp(-x))
        lay = Layout(s, np.zeros(N_ROWS, dtype=np.int64), 1)
        W = resample_counts(rng, N_ROWS, N_BOOT)
        (stats,) = binary_cells(lay, y, W, 1)
        params = spec.resolve_params({})
        reps = np.asarray(spec.fn(stats, **params), dtype=float)
        ci = percentile_interval(reps, 0.95)
        assert ci is not None
        covered += ci[0] <= truth <= ci[1]
    coverage = covered / N_DATASETS
    assert 0.93 <= coverage <= 0.97, f"{metric}: coverage {coverage:.3f}"


def test_resample_counts_are_multinomial() -> None:
    rng = np.random.default_rng(0)
    c = resample_counts(rng, 50, 400)
    assert c.shape == (400, 50)
    assert np.all(c.sum(axis=1) == 50)
    # Each row is drawn Binomial(n, 1/n) times: mean 1.
    assert abs(c.mean() - 1.0) < 1e-12
    assert 0.8 < c.var() < 1.2


def test_percentile_interval_needs_defined_replicates() -> None:
    reps = np.array([np.nan] * 20 + list(np.linspace(0, 1, 80)))
    assert percentile_interval(reps, 0.95) is None
    lo, hi = percentile_interval(np.linspace(0, 1, 1001), 0.9) or (0, 0)
    assert lo == pytest.approx(0.05)
    assert hi == pytest.approx(0.95)


# --- the bucket bootstrap for large binary splits ----------------------------------------

BUCKET_ROWS = 4000
N_BUCKETS = 256


def _bucket_interval(rng: np.random.Generator, metric: str, y: np.ndarray, s: np.ndarray,
                     n_boot: int, level: float = 0.95) -> tuple[float, float] | None:
    """The pipeline's bucket-bootstrap interval: binned replicates shifted to the exact."""
    from mlscope.engine.bucketed import bin_scores, bucketed_binary_cells

    spec = get_metric(metric)
    params = spec.resolve_params({})
    n = y.size
    (exact_stats,) = binary_cells(Layout(s, np.zeros(n, dtype=np.int64), 1), y, np.ones(n), 1)
    exact = float(spec.fn(exact_stats, **params))
    bucket = rng.integers(0, N_BUCKETS, n, dtype=np.int32)
    counts = resample_counts(rng, N_BUCKETS, n_boot)
    binned = bin_scores(s, 512, [0.5], rng)
    (st,) = bucketed_binary_cells(binned, y.astype(np.int8), None, np.zeros(n, dtype=np.int64),
                                  1, bucket, N_BUCKETS, counts)
    vals = np.asarray(spec.fn(st, **params), dtype=float)
    return percentile_interval(vals[1:] + (exact - vals[0]), level)


@pytest.mark.slow
@pytest.mark.parametrize("metric", ["roc_auc", "accuracy"])
def test_bucket_bootstrap_coverage(metric: str) -> None:
    truth = _truth()[metric]
    rng = np.random.default_rng(20261126)
    covered = 0
    n_sets = 500
    for _ in range(n_sets):
        y = (rng.random(BUCKET_ROWS) < PREVALENCE).astype(float)
        x = np.where(y == 1, MU1, MU0) + rng.normal(size=BUCKET_ROWS)
        ci = _bucket_interval(rng, metric, y, 1 / (1 + np.exp(-x)), 300)
        assert ci is not None
        covered += ci[0] <= truth <= ci[1]
    coverage = covered / n_sets
    assert 0.93 <= coverage <= 0.97, f"{metric}: coverage {coverage:.3f}"


@pytest.mark.parametrize("metric", ["roc_auc", "average_precision", "log_loss", "brier",
                                    "precision", "recall", "f1"])
def test_bucket_and_row_bootstrap_agree_on_width(metric: str) -> None:
    """On one data set, the two schemes give intervals of about the same width and place."""
    rng = np.random.default_rng(11)
    n = 20_000
    y = (rng.random(n) < 0.1).astype(float)
    s = np.round(1 / (1 + np.exp(-(2.0 * y - 2.5 + rng.normal(size=n)))), 4)
    spec = get_metric(metric)
    params = spec.resolve_params({})
    lay = Layout(s, np.zeros(n, dtype=np.int64), 1)
    reps = []
    for _ in range(4):  # 400 row-bootstrap replicates, in chunks to bound memory
        (st,) = binary_cells(lay, y, resample_counts(rng, n, 100), 1)
        reps.append(np.asarray(spec.fn(st, **params), dtype=float))
    row = percentile_interval(np.concatenate(reps), 0.95)
    bucket = _bucket_interval(rng, metric, y, s, 400)
    assert row is not None
    assert bucket is not None
    width_row, width_bucket = row[1] - row[0], bucket[1] - bucket[0]
    assert 0.8 < width_bucket / width_row < 1.25, (metric, row, bucket)
    assert abs((bucket[0] + bucket[1]) - (row[0] + row[1])) / 2 < 0.25 * width_row


def test_bins_put_every_threshold_on_an_edge() -> None:
    from mlscope.engine.bucketed import bin_scores

    rng = np.random.default_rng(3)
    s = np.round(rng.random(50_000), 3)
    binned = bin_scores(s, 64, [0.5, 0.123], rng)
    assert np.all(np.diff(binned.values) > 0)
    rep = binned.values[binned.codes]
    for t in (0.5, 0.123):
        np.testing.assert_array_equal(rep >= t, s >= t)
