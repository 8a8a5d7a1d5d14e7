"""The monitor's statistics: effect sizes and tests, the alert gate, the label-free
estimators (CBPE, BBSE) against planted truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlscope.charter.monitor import AlertSpec
from mlscope.metrics.registry import get_metric
from mlscope.metrics.stats import binary_stats
from mlscope.monitor.checks import Context, decide, window_checks
from mlscope.monitor.performance import (
    EstimatedMetric,
    estimate_window,
    expected_stats,
    fit_calibration,
)
from mlscope.monitor.shift import categorical_shift, numeric_shift
from tests.monitor_data import label_shifted, population


def test_no_shift_small_effects_and_a_plain_p_value() -> None:
    rng = np.random.default_rng(0)
    s = numeric_shift(rng.normal(size=5000), rng.normal(size=500))
    assert s is not None
    assert s.psi < 0.1
    assert s.js < 0.1
    assert s.wasserstein is not None
    assert s.wasserstein < 0.1
    assert s.p > 0.01


def test_a_large_shift_has_large_effects() -> None:
    rng = np.random.default_rng(1)
    s = numeric_shift(rng.normal(size=5000), rng.normal(1.0, 1.0, size=500))
    assert s is not None
    # PSI of a one-standard-deviation shift of a normal is close to d² = 1 (deciles
    # under-estimate it a little); the Wasserstein distance is d / IQR = 1 / 1.349.
    assert 0.6 < s.psi < 1.2
    assert s.wasserstein == pytest.approx(1 / 1.349, rel=0.15)
    assert s.p < 1e-20


def test_categorical_shift_pools_rare_categories_and_matches_scipy_when_none_are() -> None:
    from scipy import stats

    ref = ["a"] * 500 + ["b"] * 300 + ["c"] * 200
    win = ["a"] * 50 + ["b"] * 60 + ["c"] * 40
    s = categorical_shift(ref, win)
    assert s is not None
    expected = stats.chi2_contingency([[500, 300, 200], [50, 60, 40]], correction=False)
    assert s.p == pytest.approx(expected.pvalue)
    rare = categorical_shift([*ref, "z"], [*win, "y"])  # two singletons: pooled
    assert rare is not None
    assert np.isfinite(rare.p)


def _context(ref: pd.DataFrame, **gates: float) -> Context:
    return Context(ref, ["x"], {"x"}, [], [], {}, AlertSpec(**gates), {}, 30).prepare()


def test_a_tiny_shift_on_many_rows_is_significant_but_does_not_alert() -> None:
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({"x": rng.normal(size=200_000)})
    win = pd.DataFrame({"x": rng.normal(0.03, 1.0, size=200_000)})
    checks = decide(window_checks(_context(ref), win), 0.05)
    shift = next(c for c in checks if c.kind == "shift")
    assert shift.q is not None
    assert shift.q < 1e-6
    assert not shift.gate_met
    assert not shift.alert


def test_missing_values_and_out_of_range_values_alert() -> None:
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"x": rng.normal(size=2000)})
    x = rng.normal(size=300)
    x[:60] = np.nan
    x[60:75] = 50.0
    checks = decide(window_checks(_context(ref), pd.DataFrame({"x": x})), 0.05)
    kinds = {c.kind for c in checks if c.alert}
    assert {"missing", "out_of_range"} <= kinds


def test_expected_statistics_with_zero_one_weights_are_the_labels_statistics() -> None:
    # Oracle: with weights equal to the labels, the expected statistics are the ordinary
    # ones, so every registry metric gives its exact value.
    rng = np.random.default_rng(4)
    s = rng.random(400).round(2)
    y = (rng.random(400) < s).astype(np.float64)
    a, b = expected_stats(s, y, "probability"), binary_stats(y, s)
    for name, params in (("roc_auc", {}), ("accuracy", {"threshold": 0.5}),
                         ("f1", {"threshold": 0.3}), ("log_loss", {})):
        fn = get_metric(name).fn
        assert float(fn(a, **params)) == pytest.approx(float(fn(b, **params)))


def _metrics() -> list[EstimatedMetric]:
    return [EstimatedMetric("roc_auc", lambda st: get_metric("roc_auc").fn(st)),
            EstimatedMetric("accuracy", lambda st: get_metric("accuracy").fn(st,
                                                                          threshold=0.5))]


def _calibrated(seed: int) -> tuple[object, np.random.Generator]:
    rng = np.random.default_rng(seed)
    ref = population(3000, rng)
    cal = fit_calibration(ref["label"].to_numpy(np.float64), ref["p_model"].to_numpy(),
                          0.5, "probability", rng=rng, resamples=200)
    return cal, rng


def test_cbpe_covers_the_realised_metric_under_covariate_shift() -> None:
    cal, rng = _calibrated(5)
    inside = {"roc_auc": [], "accuracy": []}
    for _ in range(80):
        w = population(300, rng, age_shift=8)
        perf = estimate_window("m", cal, 0.5, w["p_model"].to_numpy(),  # type: ignore[arg-type]
                               w["label"].to_numpy(np.float64), _metrics(), rng=rng,
                               resamples=200, level=0.95)
        for e in perf.estimates:
            inside[e.metric].append(e.inside)
    # Nominal 95%; 80 windows leave a binomial standard error of 2.4 points.
    for metric, flags in inside.items():
        assert np.mean(flags) >= 0.88, (metric, np.mean(flags))


def test_under_concept_drift_the_realised_metric_falls_outside() -> None:
    cal, rng = _calibrated(6)
    outside = 0
    for _ in range(10):
        w = population(300, rng, concept=True)
        perf = estimate_window("m", cal, 0.5, w["p_model"].to_numpy(),  # type: ignore[arg-type]
                               w["label"].to_numpy(np.float64), _metrics(), rng=rng,
                               resamples=200, level=0.95)
        outside += not perf.estimates[0].inside
    assert outside >= 9


@pytest.mark.parametrize("prior", [0.15, 0.5, 0.6])
def test_bbse_recovers_a_planted_label_shift(prior: float) -> None:
    cal, rng = _calibrated(7)
    hits, bbse, cbpe = 0, [], []
    for _ in range(12):
        w = label_shifted(1000, prior, rng)
        perf = estimate_window("m", cal, 0.5, w["p_model"].to_numpy(),  # type: ignore[arg-type]
                               None, _metrics(), rng=rng, resamples=200, level=0.95)
        b = perf.prior_bbse
        assert b.low is not None
        assert b.high is not None
        assert b.estimate is not None
        hits += b.low <= prior <= b.high
        bbse.append(b.estimate)
        cbpe.append(perf.prior_cbpe.estimate)
    assert hits >= 10, hits  # nominal 95% of 12
    assert abs(np.mean(bbse) - prior) < 0.04
    # CBPE assumes P(y | x) fixed, which label shift breaks: it stays near the
    # reference's share (28%), and BBSE is the closer of the two.
    assert abs(np.mean(cbpe) - prior) > abs(np.mean(bbse) - prior)


def test_the_disagreement_interval_stays_within_a_difference_of_shares() -> None:
    """A window where almost every row is predicted positive while the calibrated scores
    stay low: BBSE's unclipped inversion runs past 1, and the reported interval of the two
    estimates' difference must still lie in [−1, 1] (and still exclude 0). Seeded."""
    import re

    from mlscope.monitor.performance import estimate_window, fit_calibration

    rng = np.random.default_rng(5)
    y = (rng.random(3000) < 0.3).astype(np.float64)
    s = np.clip(0.3 + 0.12 * (y - 0.3) + rng.normal(0, 0.12, y.size), 0.001, 0.999)
    cal = fit_calibration(y, s, 0.35, "probability", rng=rng, resamples=50)
    window = np.full(300, 0.36)  # every row just above the threshold
    perf = estimate_window("m", cal, 0.35, window, None, [], rng=rng, resamples=200,
                           level=0.95)
    (reason,) = [r for r in perf.reasons if "disagree" in r]
    low, high = (float(v.replace("−", "-")) / 100 for v in
                 re.findall(r"interval ([+−]\d+\.\d)% to ([+−]\d+\.\d)%", reason)[0])
    assert -1.0 <= low <= high <= 1.0, reason
    assert low > 0 or high < 0, reason


def test_bbse_needs_a_reference_that_tells_the_classes_apart_beyond_chance() -> None:
    """ISLP's Weekly data: a chance-level model at a low threshold, TPR 52/52 and FPR 49/53
    on the reference (separation 0.075, above the 0.05 floor). On 13-row windows every row
    was predicted positive, BBSE's inversion gave a 100% positive share whose interval
    was a point (the binomial draws of a TPR of 1 never vary), and the monitor reported
    it "disagrees" with CBPE. Seeded."""
    from mlscope.monitor.performance import estimate_window, fit_calibration

    rng = np.random.default_rng(3)
    y = np.r_[np.ones(52), np.zeros(53)]
    s = np.r_[rng.uniform(0.31, 0.6, 52), rng.uniform(0.31, 0.6, 49),
              rng.uniform(0.1, 0.29, 4)]
    cal = fit_calibration(y, s, 0.3, "probability", rng=rng, resamples=100)
    assert (cal.tpr, cal.fpr) == (1.0, 49 / 53)
    window = rng.uniform(0.35, 0.55, 13)  # every row above the threshold
    perf = estimate_window("m", cal, 0.3, window, None, [], rng=rng, resamples=100,
                           level=0.95)
    assert perf.prior_bbse.estimate is None
    assert not [r for r in perf.reasons if "disagree" in r]
    # A reference that does separate the classes keeps its estimate.
    good = fit_calibration(y, np.r_[rng.uniform(0.5, 0.9, 52), rng.uniform(0.1, 0.5, 53)],
                           0.5, "probability", rng=rng, resamples=100)
    perf = estimate_window("m", good, 0.5, rng.uniform(0.2, 0.8, 200), None, [], rng=rng,
                           resamples=100, level=0.95)
    assert perf.prior_bbse.estimate is not None
