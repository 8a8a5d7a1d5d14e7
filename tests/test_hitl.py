"""Selective prediction (issue 14, "Human in the loop"): the risk–coverage curve against a
brute force, the exact intervals against SciPy, top-k against scikit-learn, and by
simulation the certified deferral rule's guarantee (overall and in every slice at once)
and the band's simultaneous coverage.

The simulated model scores ``s ~ U(0, 1)`` with ``P(y = 1 | s) = 0.5 + a(s − 0.5)``; at
threshold 0.5 the confidence is ``u = |2s − 1|`` (uniform) and a decision at ``u`` is
wrong with probability ``(1 − a·u)/2``, so the population error among the rows decided
at λ is ``R(λ) = 1/2 − a(1 + λ)/4`` (``(1 − λ)/4`` when calibrated, ``a = 1``).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import beta
from sklearn.metrics import top_k_accuracy_score

from mlscope.compare.deferral import GRID, certify_deferral, reachable_at
from mlscope.metrics.selective import (
    band_grid,
    binary_confidence,
    decided_counts,
    multiclass_confidence,
    risk_coverage_band,
    top_k_hits,
    two_sided,
)


def _draw(rng: np.random.Generator, n: int, a: float = 1.0
          ) -> tuple[np.ndarray, np.ndarray]:
    s = rng.uniform(size=n)
    y = rng.uniform(size=n) < 0.5 + a * (s - 0.5)
    conf, positive = binary_confidence(s, 0.5)
    return conf, positive != y


def _risk(lam: float | np.ndarray, a: float = 1.0) -> float | np.ndarray:
    return 0.5 - a * (1.0 + np.asarray(lam)) / 4.0


def test_confidence_is_the_two_threshold_rule() -> None:
    s = np.array([0.0, 0.1, 0.3, 0.5, 0.69, 0.7, 0.9, 1.0])
    conf, positive = binary_confidence(s, 0.4)
    lam = 0.5  # accept at ≥ 0.4 + 0.5·0.6 = 0.7, reject at ≤ 0.4 − 0.5·0.4 = 0.2
    decided = conf >= lam - 1e-12
    assert decided.tolist() == [True, True, False, False, False, True, True, True]
    assert positive.tolist() == [False, False, False, True, True, True, True, True]
    with pytest.raises(ValueError, match="strictly between"):
        binary_confidence(s, 1.0)


def test_curve_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    conf = np.round(rng.uniform(size=400), 2)  # ties on the grid's points
    wrong = rng.uniform(size=400) < 0.3
    grid = np.linspace(0, 1, 101)
    n, k = decided_counts(conf, wrong, grid)
    for i, lam in enumerate(grid):
        m = conf >= lam
        assert n[i] == m.sum()
        assert k[i] == (wrong & m).sum()
    band = risk_coverage_band(conf, wrong, band_grid(), 0.1)
    for i, lam in enumerate(band.grid):
        m = conf >= lam
        assert band.coverage[i] == pytest.approx(m.mean())
        assert band.risk[i] == pytest.approx(wrong[m].mean())
        assert band.lower[i] <= band.risk[i] <= band.upper[i]
    assert band.delta_point == pytest.approx(0.1 / 20)


def test_intervals_are_clopper_pearson() -> None:
    k = np.array([0, 1, 7, 50, 99, 100])
    n = np.array([100, 100, 40, 120, 100, 100])
    lo, hi = two_sided(k, n, 0.05)
    ref_lo = np.where(k > 0, beta.ppf(0.025, k, n - k + 1), 0.0)
    ref_hi = np.where(k < n, beta.ppf(0.975, k + 1, n - k), 1.0)
    np.testing.assert_allclose(lo, ref_lo, atol=1e-10)
    np.testing.assert_allclose(hi, ref_hi, atol=1e-10)
    lo0, hi0 = two_sided(np.array([0]), np.array([0]), 0.05)
    assert np.isnan(lo0[0])
    assert np.isnan(hi0[0])


def test_top_k_matches_scikit_learn() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 5, size=600)
    logits = rng.normal(size=(600, 5))
    logits[np.arange(600), y] += 1.0
    p = np.round(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), 1)  # ties
    hits = top_k_hits(y, p, [1, 2, 3, 4])
    for k, h in hits.items():
        assert h / 600 == pytest.approx(
            top_k_accuracy_score(y, p, k=k, labels=list(range(5))), abs=1e-12)
    conf, pred = multiclass_confidence(p)
    assert np.array_equal(pred, p.argmax(axis=1))
    assert np.array_equal(conf, p.max(axis=1))


def test_certified_rule_and_its_bound() -> None:
    rng = np.random.default_rng(11)
    conf, wrong = _draw(rng, 3000)
    r = certify_deferral(0.05, 0.1, conf, wrong)
    assert r.lam is not None
    assert r.message == ""
    m = conf >= r.lam
    assert r.decided["overall"] == m.sum()
    assert r.errors["overall"] == (wrong & m).sum()
    # The bound is the exact one at the level the procedure used (δ over the 8 starts).
    assert r.delta_used == pytest.approx(0.1 / 8)
    ref = beta.ppf(1 - r.delta_used, r.errors["overall"] + 1,
                   r.decided["overall"] - r.errors["overall"])
    assert r.certified["overall"] == pytest.approx(ref, abs=1e-10)
    assert r.certified["overall"] <= 0.05
    assert _risk(r.lam) <= 0.05  # true here for this seed; the simulation checks the rate


def test_infeasible_says_how_many_rows() -> None:
    rng = np.random.default_rng(2)
    conf, wrong = _draw(rng, 150)
    r = certify_deferral(0.1, 0.05, conf, wrong)
    assert r.lam is None
    assert r.more_rows is not None
    assert r.more_rows > 0
    assert f"about {r.more_rows:,} more labelled rows" in r.message
    # A target no confidence level reaches: more data at these rates would not help.
    conf2, wrong2 = _draw(rng, 2000, a=0.2)  # R(λ) ≥ 0.4 everywhere
    r2 = certify_deferral(0.05, 0.05, conf2, wrong2)
    assert r2.lam is None
    assert r2.more_rows is None
    assert "would not certify it" in r2.message


def test_reachable_at_a_deferral_limit() -> None:
    rng = np.random.default_rng(4)
    conf, wrong = _draw(rng, 1000)
    lam, nd, k, bound, more = reachable_at(0.3, 0.02, 0.01, conf, wrong)
    assert (conf >= lam).sum() == nd
    assert nd >= 700
    assert nd / 1000 < 0.7 + 0.01  # the most deferring λ within the limit
    assert k == (wrong & (conf >= lam)).sum()
    assert bound is not None
    assert bound > 0.02
    assert more is None  # … which no amount of data brings to 2%


def _coverage_failures(draws: int, n: int, max_error: float, delta: float,
                       a: tuple[float, ...], seed: int) -> tuple[float, float]:
    """The share of draws whose certified rule misses ``max_error`` in some slice (the
    overall rows included), and the same for the naive rule (the most rows decided with
    the calibration error at most the target)."""
    rng = np.random.default_rng(seed)
    fail = naive_fail = 0
    for _ in range(draws):
        parts = [_draw(rng, n, ai) for ai in a]
        conf = np.concatenate([c for c, _ in parts])
        wrong = np.concatenate([w for _, w in parts])
        masks = {"overall": np.ones(conf.size, dtype=bool)}
        if len(a) > 1:
            for j in range(len(a)):
                m = np.zeros(conf.size, dtype=bool)
                m[j * n:(j + 1) * n] = True
                masks[f"s{j}"] = m
        r = certify_deferral(max_error, delta, conf, wrong, masks)
        worst = lambda lam: max(float(_risk(lam, ai)) for ai in a)  # noqa: E731
        if r.lam is not None and worst(r.lam) > max_error:
            fail += 1
        nd, k = decided_counts(conf, wrong, GRID)
        ok = (nd > 0) & (k <= max_error * nd)
        if ok.any() and worst(float(GRID[np.flatnonzero(ok)[0]])) > max_error:
            naive_fail += 1
    return fail / draws, naive_fail / draws


def test_guarantee_holds_by_simulation() -> None:
    """1,000 calibration draws: the certified rule's population error on the decided rows
    exceeds the target in at most δ of them; the naive rule does in about half."""
    fail, naive = _coverage_failures(1000, 1000, 0.05, 0.1, (1.0,), seed=20)
    assert fail <= 0.1
    assert naive > 0.3  # the check has teeth: choosing on the point estimate fails


@pytest.mark.slow
def test_guarantee_holds_in_every_slice_by_simulation() -> None:
    """Two slices, one noisier (R reaches 5% only above λ ≈ 0.89): the rule misses the
    target in some slice in at most δ of 1,000 draws."""
    fail, naive = _coverage_failures(1000, 800, 0.05, 0.1, (1.0, 0.95), seed=21)
    assert fail <= 0.1
    assert naive > 0.3


def test_band_is_simultaneous_by_simulation() -> None:
    """1,000 report draws of 400 rows: all 20 points of the band hold the true curve at
    once in ≥ 1 − δ of them; pointwise intervals at δ do not."""
    rng = np.random.default_rng(9)
    grid, delta, draws = band_grid(), 0.1, 1000
    ns, ks = [], []
    for _ in range(draws):
        conf, wrong = _draw(rng, 400)
        n, k = decided_counts(conf, wrong, grid)
        ns.append(n)
        ks.append(k)
    n_all, k_all = np.array(ns), np.array(ks)
    truth = np.broadcast_to(_risk(grid), n_all.shape)

    def simultaneous(level: float) -> float:
        lo, hi = two_sided(k_all.ravel(), n_all.ravel(), level)
        lo, hi = lo.reshape(n_all.shape), hi.reshape(n_all.shape)
        held = (n_all == 0) | ((lo <= truth) & (truth <= hi))
        return float(held.all(axis=1).mean())

    assert simultaneous(delta / grid.size) >= 1 - delta
    assert simultaneous(delta) < 1 - delta
