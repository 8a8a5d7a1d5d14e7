"""The recalibration fit's warm start (the fit on a compressed histogram, then Newton on
the full data) and its cheaper separation check: statsmodels' MLE as the oracle, the fit
from (0, 1) as the reference, and the cases where the compression must step aside."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logit

from mlscope.metrics.calibration import (
    _ascending,
    _nondecreasing,
    _separated,
    recalibration,
    recalibration_fit,
)
from mlscope.metrics.logistic_fit import WARM_BLOCKS, fit_logistic, warm_start
from mlscope.metrics.stats import BinaryStats, binary_stats
from tests.test_calibration_fast import _loglik, _reference_recalibration, _stats

sm = pytest.importorskip("statsmodels.api")

_BIG = 5 * WARM_BLOCKS  # distinct scores: above the size the warm start needs


def _rows(seed: int, n: int, *, ties: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 3, n)
    if ties:
        p = np.round(p, 5)  # fewer distinct scores than rows, several rows at most
    y = (rng.random(n) < np.clip(p * 0.8 + 0.1, 0, 1)).astype(int)
    w = rng.integers(1, 4, n).astype(float)
    return y, np.clip(p, 0.001, 0.999), w


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("score_type", ["probability", "logit"])
def test_warm_started_fit_matches_statsmodels(seed: int, score_type: str) -> None:
    y, p, w = _rows(200 + seed, 30_000, ties=seed % 2 == 1)
    x = logit(p)
    st = binary_stats(y, x if score_type == "logit" else p, w)
    st = BinaryStats(st.scores, st.pos, st.neg, st.n_rows, score_type=score_type)
    assert st.scores.size >= 4 * WARM_BLOCKS
    a, b, se = recalibration_fit(st)
    glm = sm.GLM(y, sm.add_constant(x), family=sm.families.Binomial(),
                 freq_weights=w).fit(tol=1e-14)
    ra, rb = _reference_recalibration(st)
    # At least as close to the MLE as the fit from (0, 1) (up to rounding).
    assert abs(float(a) - glm.params[0]) <= abs(float(ra) - glm.params[0]) + 1e-12
    assert abs(float(b) - glm.params[1]) <= abs(float(rb) - glm.params[1]) + 1e-12
    # The slope's standard error: statsmodels' from the same information matrix.
    assert float(se) == pytest.approx(glm.bse[1], rel=1e-9)


def test_passes_fewer_than_from_the_neutral_start() -> None:
    st = _stats(np.random.default_rng(5), 60_000, scale=3.0)
    _p, x, pos, neg = (np.asarray(v) for v in _ascending_of(st))
    ok = np.ones((), dtype=bool)
    warm, cold = [0], [0]
    start = warm_start(x, pos, neg, ok)
    assert start is not None
    got = fit_logistic(x, pos, neg, ok, start=start, counter=warm)
    ref = fit_logistic(x, pos, neg, ok, counter=cold)
    np.testing.assert_allclose(np.asarray(got[:2]), np.asarray(ref[:2]), rtol=1e-9)
    # Two passes from the warm start (the standard error from the last one), against
    # about thirteen from (0, 1).
    assert warm[0] <= 2 < cold[0]


def _ascending_of(st: BinaryStats) -> tuple[np.ndarray, ...]:
    return _ascending(st)


def test_compressed_separation_falls_back_to_the_neutral_start() -> None:
    # Positives above the middle, negatives below, but for one swapped pair inside a
    # block: the full data overlap (a finite MLE); in the compression that block's
    # negatives sit at their mean, below its positives' mean: separated.
    m = _BIG
    p = np.linspace(0.01, 0.99, m)
    c = m // 2 + 2  # inside a block (the blocks of equal counts hold 5 scores here)
    y = (np.arange(m) >= c).astype(float)
    y[c - 1], y[c] = 1.0, 0.0
    st = binary_stats(y, p)
    _p, x, pos, neg = _ascending_of(st)
    start = warm_start(x, pos, neg, np.ones((), dtype=bool))
    assert start is not None
    assert float(start[0]) == 0.0
    assert float(start[1]) == 1.0
    a, b = recalibration(st)
    ra, rb = _reference_recalibration(st)
    assert np.isfinite(ra)
    assert np.isfinite(a)
    assert float(a) == pytest.approx(float(ra), rel=1e-9)
    assert float(b) == pytest.approx(float(rb), rel=1e-9)
    assert _loglik(st, a, b) >= _loglik(st, ra, rb) - 1e-12 * abs(_loglik(st, ra, rb))


def test_undefined_replicates_in_a_warm_batch() -> None:
    st = _stats(np.random.default_rng(9), _BIG, batch=4)
    pos, neg = st.pos.copy(), st.neg.copy()
    pos[0] = 0.0  # one class
    half = st.scores.size // 2  # descending scores: the first half are the higher
    pos[1, half:], neg[1, :half] = 0.0, 0.0  # perfectly separated
    neg[1, half:] += 1.0
    pos[1, :half] += 1.0
    st = BinaryStats(st.scores, pos, neg, st.n_rows)
    a, b = recalibration(st)
    ra, rb = _reference_recalibration(st)
    assert np.isnan(a[:2]).all()
    assert np.isnan(b[:2]).all()
    assert np.isnan(ra[:2]).all()
    assert np.isnan(rb[:2]).all()
    np.testing.assert_allclose(a[2:], ra[2:], rtol=1e-9)
    np.testing.assert_allclose(b[2:], rb[2:], rtol=1e-9)
    # Each replicate alone: the same fit (each element follows its own path).
    for i in range(2, 4):
        one = BinaryStats(st.scores, pos[i], neg[i], st.n_rows)
        ai, bi = recalibration(one)
        assert float(ai) == pytest.approx(float(a[i]), rel=1e-12)
        assert float(bi) == pytest.approx(float(b[i]), rel=1e-12)


def test_deterministic() -> None:
    st = _stats(np.random.default_rng(2), _BIG, weighted=True)
    first = recalibration_fit(st)
    for _ in range(2):
        again = recalibration_fit(st)
        assert all(np.array_equal(u, v) for u, v in zip(first, again, strict=True))


def test_no_warm_start_on_few_scores() -> None:
    st = _stats(np.random.default_rng(3), 2000)
    _p, x, pos, neg = _ascending_of(st)
    assert warm_start(x, pos, neg, np.ones((), dtype=bool)) is None


def test_one_class_and_single_score() -> None:
    s = np.linspace(0.9, 0.1, _BIG)
    for pos, neg in ((np.ones(_BIG), np.zeros(_BIG)), (np.zeros(_BIG), np.ones(_BIG))):
        assert np.isnan(recalibration_fit(BinaryStats(s, pos, neg, _BIG))).all()
    one = BinaryStats(np.array([0.4]), np.array([3.0]), np.array([2.0]), 5)
    assert np.isnan(recalibration_fit(one)).all()


@pytest.mark.parametrize("seed", range(6))
def test_separation_check_equals_the_masked_extremes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 60))
    x = np.sort(rng.normal(size=m))
    if seed % 3 == 0:
        x = np.round(x, 1)  # repeated log-odds (clipped probabilities)
    shape = (3, m) if seed % 2 else (m,)
    pos = rng.poisson(0.3, shape).astype(float)
    neg = rng.poisson(0.3, shape).astype(float)
    if seed == 4:
        pos[..., : m // 2], neg[..., m // 2:] = 0.0, 0.0  # separated
    assert _nondecreasing(x)
    inf = np.inf
    masked = ((np.where(neg > 0, x, -inf).max(axis=-1, initial=-inf)
               <= np.where(pos > 0, x, inf).min(axis=-1, initial=inf))
              | (np.where(pos > 0, x, -inf).max(axis=-1, initial=-inf)
                 <= np.where(neg > 0, x, inf).min(axis=-1, initial=inf)))
    assert np.array_equal(_separated(x, pos, neg), masked)
    assert np.array_equal(_separated(x, pos, neg, False), masked)
    # Out of order: the masked extremes are taken.
    assert not _nondecreasing(x[::-1]) or m == 1 or np.all(x == x[0])
