"""Calibration metrics (ECE, debiased ECE, logistic recalibration) against oracles."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, logit

from mlscope.metrics.calibration import (
    bin_index,
    ece,
    ece_debiased,
    recalibration,
    recalibration_fit,
    reliability_bins,
)
from mlscope.metrics.registry import get_metric
from mlscope.metrics.stats import BinaryStats, binary_stats

sm = pytest.importorskip("statsmodels.api")


def _ece_rows(y: np.ndarray, p: np.ndarray, w: np.ndarray, bins: int) -> float:
    """Direct row-level ECE with the documented equal-mass rule (ties kept together)."""
    order = np.argsort(p, kind="stable")
    y, p, w = y[order], p[order], w[order]
    _uniq, inv = np.unique(p, return_inverse=True)
    wu = np.bincount(inv, weights=w)
    mid = (np.cumsum(wu) - wu / 2) / wu.sum()
    b_of_uniq = np.minimum(np.floor(mid * bins), bins - 1).astype(int)
    b = b_of_uniq[inv]
    total = 0.0
    for k in range(bins):
        m = b == k
        if w[m].sum() > 0:
            total += abs(np.average(y[m], weights=w[m]) - np.average(p[m], weights=w[m])) \
                * w[m].sum()
    return total / w.sum()


def _random(rng: np.random.Generator, n: int, ties: bool = True):
    p = rng.beta(2, 3, n)
    if ties:
        p = np.round(p, 2)
    y = (rng.random(n) < np.clip(p * 0.8 + 0.1, 0, 1)).astype(int)
    w = rng.integers(1, 4, n).astype(float)
    return y, p, w


@pytest.mark.parametrize("seed", range(5))
def test_ece_matches_direct_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y, p, w = _random(rng, 400)
    st = binary_stats(y, p, w)
    for bins in (1, 5, 15):
        assert float(ece(st, bins)) == pytest.approx(_ece_rows(y, p, w, bins), abs=1e-12)


def test_ece_matches_sklearn_calibration_curve_where_binning_matches() -> None:
    from sklearn.calibration import calibration_curve

    rng = np.random.default_rng(3)
    n, bins = 1500, 15
    p = rng.permutation(np.linspace(0.01, 0.99, n))  # distinct, n divisible by bins
    y = (rng.random(n) < p).astype(int)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=bins, strategy="quantile")
    mean_p, rate, weight = reliability_bins(binary_stats(y, p), bins)
    np.testing.assert_allclose(mean_p, prob_pred, atol=1e-12)
    np.testing.assert_allclose(rate, prob_true, atol=1e-12)
    assert np.all(weight == n / bins)
    expected = np.mean(np.abs(prob_true - prob_pred))  # equal-mass: equal weights
    assert float(ece(binary_stats(y, p), bins)) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("score_type", ["probability", "logit"])
def test_recalibration_matches_statsmodels(seed: int, score_type: str) -> None:
    rng = np.random.default_rng(100 + seed)
    y, p, w = _random(rng, 500)
    p = np.clip(p, 0.01, 0.99)
    x = logit(p)
    st = binary_stats(y, x if score_type == "logit" else p, w)
    st = BinaryStats(st.scores, st.pos, st.neg, st.n_rows, score_type=score_type)
    a, b = recalibration(st)
    glm = sm.GLM(y, sm.add_constant(x), family=sm.families.Binomial(),
                 freq_weights=w).fit(tol=1e-14)
    assert float(a) == pytest.approx(glm.params[0], abs=1e-7)
    assert float(b) == pytest.approx(glm.params[1], abs=1e-7)
    # Logit on rows repeated by their (whole-number) weights: the same fit.
    rep = np.repeat(np.arange(y.size), w.astype(int))
    lr = sm.Logit(y[rep], sm.add_constant(x[rep])).fit(disp=0, tol=1e-12)
    np.testing.assert_allclose([float(a), float(b)], lr.params, atol=1e-6)
    assert float(get_metric("calibration_slope_error").fn(st)) == pytest.approx(abs(b - 1))
    assert float(get_metric("calibration_intercept_error").fn(st)) == pytest.approx(abs(a))
    # The slope's standard error (the reliability curve's): statsmodels' from the same
    # Fisher information, and the fit the same as recalibration's.
    fa, fb, se = recalibration_fit(st)
    assert (float(fa), float(fb)) == (float(a), float(b))
    assert float(se) == pytest.approx(glm.bse[1], rel=1e-9)


def test_perfect_calibration_simulation() -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    p = rng.beta(1.5, 4, n)
    y = (rng.random(n) < p).astype(int)
    st = binary_stats(y, p)
    plain, deb = float(ece(st)), float(ece_debiased(st))
    assert plain < 0.02
    assert deb < plain
    a, b = recalibration(st)
    assert float(b) == pytest.approx(1.0, abs=0.06)
    assert float(a) == pytest.approx(0.0, abs=0.1)


def test_squashed_probabilities_are_miscalibrated_but_rank_the_same() -> None:
    rng = np.random.default_rng(8)
    n = 5000
    p = rng.beta(1.5, 4, n)
    y = (rng.random(n) < p).astype(int)
    squashed = expit(0.3 * logit(p))  # under-confident: b ≈ 1 / 0.3
    st = binary_stats(y, squashed)
    assert float(ece(st)) > 0.1
    assert float(recalibration(st)[1]) == pytest.approx(1 / 0.3, rel=0.15)


def test_undefined_cases_have_reasons() -> None:
    empty = binary_stats(np.zeros(0), np.zeros(0))
    one = binary_stats(np.zeros(5), np.linspace(0.1, 0.5, 5))
    sep = binary_stats([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    single = binary_stats([0, 1, 1], [0.4, 0.4, 0.4])
    for name in ("ece", "ece_debiased", "calibration_slope_error",
                 "calibration_intercept_error"):
        spec = get_metric(name, task="binary")
        assert spec.needs_probability
        assert spec.direction == "lower"
        assert np.isnan(spec.fn(empty))
        assert spec.undefined(empty)
        assert np.isnan(spec.fn(one))
        assert "one class" in spec.undefined(one)
        score = BinaryStats(sep.scores, sep.pos, sep.neg, 4, score_type="score")
        assert np.isnan(spec.fn(score))
        assert "not probabilities" in spec.undefined(score)
    for name in ("calibration_slope_error", "calibration_intercept_error"):
        spec = get_metric(name)
        for st in (sep, single):
            assert np.isnan(spec.fn(st))
            assert "separates" in spec.undefined(st)
    # Defined, not separated: ece on a separated slice is fine.
    assert float(ece(sep, 2)) == pytest.approx((0.15 + 0.15) / 2)


def test_tiny_slices() -> None:
    st = binary_stats([0, 1], [0.3, 0.6])
    # 15 bins on 2 rows: each row its own bin.
    assert float(ece(st)) == pytest.approx((0.3 + 0.4) / 2)
    assert float(ece_debiased(st)) == pytest.approx(np.sqrt((0.09 + 0.16) / 2))
    st3 = binary_stats([0, 1, 0, 1], [0.3, 0.3, 0.6, 0.6])
    a, b = recalibration(st3)  # both scores at rate 1/2: a + b·x = 0 at both
    assert float(a) == pytest.approx(0.0, abs=1e-8)
    assert float(b) == pytest.approx(0.0, abs=1e-8)


def test_batched_replicates_equal_unbatched() -> None:
    rng = np.random.default_rng(11)
    y, p, _w = _random(rng, 300)
    st = binary_stats(y, p)
    k = 6
    reps = rng.poisson(1.0, (k, st.scores.size)).astype(float)
    pos, neg = st.pos * reps, st.neg * reps
    pos[0] = 0.0  # a one-class replicate
    batched = BinaryStats(st.scores, pos, neg, st.n_rows)
    for name in ("ece", "ece_debiased", "calibration_slope_error",
                 "calibration_intercept_error"):
        fn = get_metric(name).fn
        got = fn(batched)
        assert got.shape == (k,)
        for i in range(k):
            one = fn(BinaryStats(st.scores, pos[i], neg[i], st.n_rows))
            np.testing.assert_allclose(got[i], one, rtol=1e-9, atol=1e-12)
        assert np.isnan(got[0])
    batched2 = BinaryStats(st.scores, pos.reshape(2, 3, -1), neg.reshape(2, 3, -1), 1)
    assert ece(batched2).shape == (2, 3)


def test_weights_equal_repeated_rows() -> None:
    rng = np.random.default_rng(12)
    y, p, w = _random(rng, 200)
    rep = np.repeat(np.arange(y.size), w.astype(int))
    a = binary_stats(y, p, w)
    b = binary_stats(y[rep], p[rep])
    for fn in (ece, ece_debiased):
        assert float(fn(a)) == pytest.approx(float(fn(b)), abs=1e-12)
    np.testing.assert_allclose(recalibration(a), recalibration(b), atol=1e-9)


def test_bin_index_equal_mass() -> None:
    idx = bin_index(np.ones(30), 15)
    assert np.array_equal(idx, np.repeat(np.arange(15), 2))
    assert np.array_equal(bin_index(np.zeros(3), 5), [0, 0, 0])
