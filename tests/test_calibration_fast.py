"""The faster recalibration fit agrees with the fit it replaced (written out here as the
reference: Newton from (0, 1), two ``logaddexp`` per log-likelihood) to the convergence
tolerance, at a log-likelihood no lower; the one-binning reliability figures give the same
bits as the three functions."""

from __future__ import annotations

import numpy as np
import pytest

from mlscope.metrics.calibration import (
    ece,
    ece_debiased,
    recalibration,
    reliability_bins,
    reliability_figures,
)
from mlscope.metrics.logistic_fit import WARM_BLOCKS
from mlscope.metrics.stats import BinaryStats

_EPS = float(np.finfo(np.float64).eps)


def _reference_recalibration(stats: BinaryStats) -> tuple[np.ndarray, np.ndarray]:
    """The fit as first written: two ``logaddexp`` per log-likelihood, fresh arrays."""
    batch = stats.batch_shape
    if stats.score_type == "logit":
        x = np.asarray(stats.scores, dtype=np.float64)[::-1]
    else:
        q = np.clip(np.asarray(stats.scores, dtype=np.float64)[::-1], _EPS, 1.0 - _EPS)
        x = np.log(q) - np.log1p(-q)
    pos = np.asarray(stats.pos[..., ::-1], dtype=np.float64)
    neg = np.asarray(stats.neg[..., ::-1], dtype=np.float64)

    def loglik(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        eta = a[..., None] + b[..., None] * x
        return np.asarray(-(pos * np.logaddexp(0.0, -eta) + neg * np.logaddexp(0.0, eta))
                          .sum(axis=-1), dtype=np.float64)

    inf = np.inf
    sep = ((np.where(neg > 0, x, -inf).max(axis=-1, initial=-inf)
            <= np.where(pos > 0, x, inf).min(axis=-1, initial=inf))
           | (np.where(pos > 0, x, -inf).max(axis=-1, initial=-inf)
              <= np.where(neg > 0, x, inf).min(axis=-1, initial=inf)))
    ok = (stats.total_pos > 0) & (stats.total_neg > 0) & ~sep
    a, b = np.zeros(batch), np.ones(batch)
    done = ~ok
    ll = loglik(a, b)
    n = pos + neg
    for _ in range(100):
        if bool(done.all()):
            break
        eta = a[..., None] + b[..., None] * x
        with np.errstate(over="ignore"):  # exp(−η) = inf: μ = 0, as it should
            mu = 1.0 / (1.0 + np.exp(-eta))
        r = pos - n * mu
        g0, g1 = r.sum(axis=-1), (r * x).sum(axis=-1)
        v = n * mu * (1.0 - mu)
        h00, h01, h11 = v.sum(axis=-1), (v * x).sum(axis=-1), (v * x * x).sum(axis=-1)
        det = h00 * h11 - h01 * h01
        good = ~done & (det > 0) & np.isfinite(det)
        dsafe = np.where(good, det, 1.0)
        da = np.where(good, (h11 * g0 - h01 * g1) / dsafe, 0.0)
        db = np.where(good, (h00 * g1 - h01 * g0) / dsafe, 0.0)
        step, accepted = 1.0, ~good
        for _half in range(40):
            na, nb = a + step * da, b + step * db
            nll = loglik(na, nb)
            take = ~accepted & (nll >= ll - 1e-12 * np.abs(ll))
            a, b = np.where(take, na, a), np.where(take, nb, b)
            ll = np.where(take, nll, ll)
            accepted = accepted | take
            if bool(accepted.all()):
                break
            step /= 2.0
        small = ((np.abs(da) <= 1e-10 * (1.0 + np.abs(a)))
                 & (np.abs(db) <= 1e-10 * (1.0 + np.abs(b))))
        done = done | small | ~good
    ok = ok & np.isfinite(a) & np.isfinite(b)
    return np.where(ok, a, np.nan), np.where(ok, b, np.nan)


def _stats(rng: np.random.Generator, m: int, *, batch: int = 0, weighted: bool = False,
           logit: bool = False, ties: bool = False, scale: float = 1.0) -> BinaryStats:
    z = rng.normal(scale=scale, size=m)
    if ties:
        z = np.round(z * 4) / 4
    z = np.unique(z)[::-1]  # distinct, descending
    scores = z if logit else 1 / (1 + np.exp(-z))
    scores = np.unique(scores)[::-1]
    k = scores.size
    shape = (batch, k) if batch else (k,)
    q = np.clip(scores, 1e-12, 1 - 1e-12)
    p_true = 1 / (1 + np.exp(-(0.7 * (np.log(q / (1 - q)) if not logit else scores) + 0.2)))
    if weighted:
        pos = rng.gamma(1.0, size=shape) * (rng.random(shape) < p_true)
        neg = rng.gamma(1.0, size=shape) * (rng.random(shape) >= p_true)
    else:
        pos = rng.poisson(2 * p_true, size=shape).astype(float)
        neg = rng.poisson(2 * (1 - p_true), size=shape).astype(float)
    st = BinaryStats(scores, pos, neg, int(k))
    return BinaryStats(st.scores, st.pos, st.neg, st.n_rows, score_type="logit") if logit else st


CASES = [
    dict(m=2000), dict(m=2000, ties=True), dict(m=1500, weighted=True),
    dict(m=1000, batch=7), dict(m=1000, batch=5, weighted=True),
    dict(m=800, logit=True, scale=20.0), dict(m=800, scale=12.0),  # extreme probabilities
    dict(m=3), dict(m=40, ties=True, batch=4),
]


def _loglik(stats: BinaryStats, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The log-likelihood at ``(a, b)`` written plainly (two ``logaddexp``), per element."""
    if stats.score_type == "logit":
        x = np.asarray(stats.scores, dtype=np.float64)
    else:
        q = np.clip(np.asarray(stats.scores, dtype=np.float64), _EPS, 1.0 - _EPS)
        x = np.log(q) - np.log1p(-q)
    eta = np.asarray(a)[..., None] + np.asarray(b)[..., None] * x
    with np.errstate(invalid="ignore"):  # NaN (a, b): NaN
        return np.asarray(-(stats.pos * np.logaddexp(0.0, -eta)
                            + stats.neg * np.logaddexp(0.0, eta)).sum(axis=-1))


def _assert_agrees(st: BinaryStats) -> None:
    """Same definedness as the reference; the same (a, b) to the convergence tolerance; a
    log-likelihood at least the reference's (less 1e-12 relative: rounding)."""
    a, b = recalibration(st)
    ra, rb = _reference_recalibration(st)
    assert np.array_equal(np.isnan(a), np.isnan(ra))
    assert np.array_equal(np.isnan(b), np.isnan(rb))
    fine = ~np.isnan(ra)
    for got, ref in ((a, ra), (b, rb)):
        tol = 1e-9 * (1 + np.abs(ref[fine])).max(initial=0)
        np.testing.assert_allclose(got[fine], ref[fine], rtol=0, atol=tol)
    ll, rll = _loglik(st, a, b), _loglik(st, ra, rb)
    assert np.all(ll[fine] >= rll[fine] - 1e-12 * np.abs(rll[fine]))


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()))
def test_recalibration_agrees_with_reference(case: dict) -> None:  # type: ignore[type-arg]
    rng = np.random.default_rng(len(str(case)))
    _assert_agrees(_stats(rng, **case))


# Large enough for the warm start (the compressed fit, then Newton on the full data).
WARM_CASES = [
    dict(m=40_000), dict(m=60_000, scale=3.0), dict(m=30_000, weighted=True),
    dict(m=20_000, batch=3), dict(m=20_000, batch=3, weighted=True),
    dict(m=30_000, logit=True, scale=15.0), dict(m=30_000, scale=12.0),
]


@pytest.mark.parametrize("case", WARM_CASES,
                         ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()))
def test_warm_started_recalibration_agrees_with_reference(case: dict) -> None:  # type: ignore[type-arg]
    rng = np.random.default_rng(len(str(case)))
    st = _stats(rng, **case)
    assert st.scores.size >= 4 * WARM_BLOCKS  # the warm start is taken
    _assert_agrees(st)


def test_recalibration_undefined_cases_unchanged() -> None:
    # One class, and the classes separated by the score: NaN in both.
    s = np.array([0.9, 0.6, 0.3])
    for pos, neg in ((np.array([1.0, 2, 0]), np.zeros(3)),
                     (np.array([1.0, 1, 0]), np.array([0.0, 0, 3]))):
        st = BinaryStats(s, pos, neg, 3)
        assert np.isnan(recalibration(st)).all()
        assert np.array_equal(np.asarray(recalibration(st)),
                              np.asarray(_reference_recalibration(st)), equal_nan=True)


def test_logaddexp_identity_holds_bitwise() -> None:
    """The identity the fit relies on: both of NumPy's ``logaddexp(0, ±η)`` from the one
    ``L = logaddexp(0, −|η|)``, bit for bit, over many magnitudes and the edge values."""
    rng = np.random.default_rng(3)
    eta = np.concatenate([
        rng.normal(size=200_000) * rng.choice([1e-8, 1e-3, 1, 10, 100, 800], size=200_000),
        [0.0, -0.0, 5e-324, -5e-324, 36.9, -36.9, 709.0, -709.0, 800.0, -800.0, np.inf,
         -np.inf]])
    L = np.logaddexp(0.0, -np.abs(eta))
    up = eta > 0
    assert np.array_equal(np.logaddexp(0.0, -eta), np.where(up, L, np.abs(eta) + L))
    assert np.array_equal(np.logaddexp(0.0, eta), np.where(up, np.abs(eta) + L, L))


@pytest.mark.parametrize("case", CASES[:5], ids=str)
def test_reliability_figures_equal_the_three_functions(case: dict) -> None:  # type: ignore[type-arg]
    rng = np.random.default_rng(11)
    st = _stats(rng, **case)
    for bins in (1, 7, 15):
        mp, rate, w, e1, e2 = reliability_figures(st, bins)
        assert np.array_equal(e1, ece(st, bins), equal_nan=True)
        assert np.array_equal(e2, ece_debiased(st, bins), equal_nan=True)
        bm, br, bw = reliability_bins(st, bins)
        assert np.array_equal(mp, bm)
        assert np.array_equal(rate, br)
        assert np.array_equal(w, bw)
