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
