"""Paired model comparisons: DeLong, McNemar, the paired bootstrap p-values and BH-FDR.

Oracles: pROC's published numbers on the aSAH data, a slow DeLong written straight from
the 1988 paper, statsmodels' McNemar, SciPy's ``false_discovery_control``. Type-I errors
are simulated under the null (seeded, so deterministic) and must lie in [3.5 %, 6.5 %] at
nominal 5 %.
"""

from __future__ import annotations

import dataclasses
import doctest
import json
import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

import mlscope.compare.delong as delong_module
import mlscope.compare.mcnemar as mcnemar_module
import mlscope.compare.paired as paired_module
from mlscope.compare.paired import (
    DeLong,
    McNemar,
    PairedBootstrap,
    delong_test,
    delong_variance,
    fdr_bh,
    mcnemar_test,
    paired_bootstrap,
)
from mlscope.errors import InputError

ASAH = Path(__file__).resolve().parent / "data" / "aSAH.csv"
NOMINAL = 0.05
TYPE_I_BAND = (0.035, 0.065)


# --------------------------------------------------------------------------- DeLong oracle


def slow_delong(y: np.ndarray, scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """DeLong, DeLong & Clarke-Pearson (1988), literally: the kernel ψ on every
    (positive, negative) pair, the structural components V10 (per positive) and V01 (per
    negative), their covariance matrices S10 and S01, and S = S10/m + S01/n."""
    pos = y.astype(bool)
    m, n = int(pos.sum()), int((~pos).sum())
    v10 = np.empty((len(scores), m))
    v01 = np.empty((len(scores), n))
    for r, s in enumerate(scores):
        x, yy = s[pos], s[~pos]
        psi = (x[:, None] > yy[None, :]) + 0.5 * (x[:, None] == yy[None, :])  # m × n
        v10[r] = psi.mean(axis=1)
        v01[r] = psi.mean(axis=0)
    theta = v10.mean(axis=1)
    s10 = np.array([[np.sum((v10[r] - theta[r]) * (v10[q] - theta[q])) / (m - 1)
                     for q in range(len(scores))] for r in range(len(scores))])
    s01 = np.array([[np.sum((v01[r] - theta[r]) * (v01[q] - theta[q])) / (n - 1)
                     for q in range(len(scores))] for r in range(len(scores))])
    return theta, s10 / m + s01 / n


def _random_case(rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray]]:
    n = int(rng.integers(4, 120))
    y = rng.random(n) < rng.uniform(0.1, 0.9)
    y[:2], y[2:4] = True, False  # at least 2 of each class
    latent = y * rng.uniform(0, 2) + rng.normal(size=n)
    scores = []
    for _ in range(3):
        s = latent + rng.normal(scale=rng.uniform(0.2, 2.0), size=n)
        grid = rng.choice([0, 2, 5, 20])  # 0: continuous, else heavy ties
        scores.append(np.round(s * grid) / grid if grid else s)
    return y.astype(int), scores


def test_delong_matches_the_1988_definition_on_random_inputs_with_ties() -> None:
    rng = np.random.default_rng(20240601)
    for _ in range(300):
        y, scores = _random_case(rng)
        aucs, cov = delong_variance(y, scores)
        ref_aucs, ref_cov = slow_delong(y, scores)
        np.testing.assert_allclose(aucs, ref_aucs, rtol=0, atol=1e-12)
        np.testing.assert_allclose(cov, ref_cov, rtol=0, atol=1e-12)
        r = delong_test(y, scores[0], scores[1])
        var = ref_cov[0, 0] + ref_cov[1, 1] - 2 * ref_cov[0, 1]
        assert r.auc_a == pytest.approx(ref_aucs[0], abs=1e-12)
        assert r.auc_b == pytest.approx(ref_aucs[1], abs=1e-12)
        assert r.diff == pytest.approx(ref_aucs[0] - ref_aucs[1], abs=1e-12)
        assert r.se == pytest.approx(math.sqrt(max(var, 0.0)), abs=1e-10)
        if r.se > 0:
            z = (ref_aucs[0] - ref_aucs[1]) / math.sqrt(var)
            assert r.z == pytest.approx(z, rel=1e-9, abs=1e-10)
            assert r.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9, abs=1e-12)
        assert r.n_pos == int(y.sum())
        assert r.n_neg == int((1 - y).sum())


def test_delong_auc_is_sklearns() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(7)
    for _ in range(20):
        y, scores = _random_case(rng)
        aucs, _ = delong_variance(y, scores)
        np.testing.assert_allclose(aucs, [roc_auc_score(y, s) for s in scores], atol=1e-12)


# pROC (xrobin/pROC) tests/testthat/test-roc.test.R, "roc.test statistic and p are as
# expected with defaults" (https://rdrr.io/cran/pROC/src/tests/testthat/test-roc.test.R):
# t1 <- roc.test(r.wfns, r.s100b); t2 <- roc.test(r.wfns, r.ndka); t3 <- roc.test(r.ndka,
# r.s100b), with r.x <- roc(aSAH$outcome, aSAH$x) (controls Good, cases Poor). Only t3's
# statistic appears in the published excerpt, so its p-value is not checked here.
PROC_ROC_TEST = [
    pytest.param("wfns", "s100b", 2.20898359144091, 0.0271757822291882,
                 (0.0104061769564846, 0.174214419249478), id="wfns-vs-s100b"),
    pytest.param("wfns", "ndka", 2.79777591868904, 0.00514557970691098,
                 (0.0634011709339876, 0.3600405634833566), id="wfns-vs-ndka"),
    pytest.param("ndka", "s100b", -1.39077002573558, None, None, id="ndka-vs-s100b"),
]


@pytest.fixture(scope="module")
def asah() -> dict[str, np.ndarray]:
    import pandas as pd

    df = pd.read_csv(ASAH)
    return {"poor": (df["outcome"] == "Poor").to_numpy(),
            **{c: df[c].to_numpy(dtype=float) for c in ("wfns", "s100b", "ndka")}}


@pytest.mark.parametrize(("a", "b", "z", "p", "ci"), PROC_ROC_TEST)
def test_delong_reproduces_proc_roc_test(
    asah: dict[str, np.ndarray], a: str, b: str, z: float, p: float | None,
    ci: tuple[float, float] | None,
) -> None:
    r = delong_test(asah["poor"], asah[a], asah[b])
    assert r.z == pytest.approx(z, rel=1e-12)
    if p is not None:
        assert r.p_value == pytest.approx(p, rel=1e-12)
    if ci is not None:
        assert (r.lower, r.upper) == pytest.approx(ci, rel=1e-12)
    assert (r.n_pos, r.n_neg) == (41, 72)


def test_delong_reproduces_proc_aucs_and_variances(asah: dict[str, np.ndarray]) -> None:
    # Variances: pROC tests/testthat/test-var.R, "var with delong works"
    # (https://rdrr.io/cran/pROC/src/tests/testthat/test-var.R). AUCs: as commonly quoted
    # for these curves, to 4 decimals (ndka's 0.61196 appears truncated as 0.6119).
    aucs, cov = delong_variance(asah["poor"], [asah["wfns"], asah["s100b"], asah["ndka"]])
    np.testing.assert_allclose(aucs, [0.8237, 0.7314, 0.6119], atol=1e-4)
    np.testing.assert_allclose(
        np.diag(cov), [0.00146991470882363, 0.00266868245717244, 0.0031908105493913],
        rtol=1e-12)


def test_delong_is_antisymmetric_in_the_two_models() -> None:
    rng = np.random.default_rng(11)
    for _ in range(30):
        y, (a, b, _) = _random_case(rng)
        ab, ba = delong_test(y, a, b), delong_test(y, b, a)
        assert ba.diff == pytest.approx(-ab.diff, abs=1e-15)
        assert ba.se == pytest.approx(ab.se, rel=1e-12)
        if ab.z is not None and ba.z is not None:
            assert ba.z == pytest.approx(-ab.z, rel=1e-12, abs=1e-15)
        assert ba.p_value == pytest.approx(ab.p_value, rel=1e-12)
        assert (ba.lower, ba.upper) == pytest.approx((-ab.upper, -ab.lower), abs=1e-12)


def test_delong_is_invariant_to_monotone_transforms_of_each_score() -> None:
    rng = np.random.default_rng(12)
    for _ in range(30):
        y, (a, b, _) = _random_case(rng)
        base = delong_test(y, a, b, level=0.9)
        moved = delong_test(y, np.exp(a / 3), 5 * b**3 - 2, level=0.9)
        assert dataclasses.asdict(moved) == pytest.approx(dataclasses.asdict(base), abs=1e-12)


def test_delong_interval_uses_the_level() -> None:
    rng = np.random.default_rng(13)
    y, (a, b, _) = _random_case(rng)
    for level in (0.8, 0.95, 0.99):
        r = delong_test(y, a, b, level=level)
        half = stats.norm.ppf(0.5 + level / 2) * r.se
        assert (r.lower, r.upper) == pytest.approx((r.diff - half, r.diff + half), abs=1e-12)
        assert r.level == level


def test_delong_zero_variance_cases() -> None:
    y = np.array([0, 0, 0, 1, 1, 1, 0, 1])
    s = np.array([0.1, 0.3, 0.2, 0.7, 0.9, 0.8, 0.4, 0.6])
    same = delong_test(y, s, s**2)  # same ranking
    assert (same.diff, same.se, same.z, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert (same.lower, same.upper) == (0.0, 0.0)
    assert same.note is not None
    assert "zero variance" in same.note

    perfect = delong_test(y, s, y + 0.01 * s)  # both perfect
    assert perfect.auc_a == perfect.auc_b == 1.0
    assert (perfect.p_value, perfect.se) == (1.0, 0.0)

    against_constant = delong_test(y, s, np.full(y.size, 0.5))
    assert against_constant.diff == 0.5
    assert against_constant.se == 0.0
    assert against_constant.z is None
    assert against_constant.p_value is None
    assert (against_constant.lower, against_constant.upper) == (0.5, 0.5)
    assert against_constant.note is not None
    assert "undefined" in against_constant.note


@pytest.mark.parametrize(("y", "match"), [
    pytest.param([0, 0, 0, 0], "all 4 row.s. are negative", id="only-negatives"),
    pytest.param([1, 1, 1, 1], "all 4 row.s. are positive", id="only-positives"),
    pytest.param([1, 0, 0, 0], "at least 2 positives and 2 negatives", id="one-positive"),
    pytest.param([1, 0, 2, 0], "only 0 and 1", id="not-binary"),
])
def test_delong_rejects_undefined_inputs(y: list[int], match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        delong_test(y, [0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1])
    assert isinstance(info.value, InputError)


def test_delong_rejects_bad_scores_and_level() -> None:
    y = [0, 1, 0, 1]
    with pytest.raises(InputError, match="finite"):
        delong_test(y, [0.1, np.nan, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1])
    with pytest.raises(InputError, match="shape"):
        delong_test(y, [0.1, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1])
    with pytest.raises(InputError, match="level"):
        delong_test(y, [0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1], level=95)


def test_delong_type_i_error_under_equal_true_aucs() -> None:
    # Both scores are the same signal plus independent noise of equal variance: equal true
    # AUCs, strongly correlated estimates (the case DeLong's covariance term is for).
    rng = np.random.default_rng(2024)
    sims, n = 3000, 300
    p = np.empty(sims)
    for i in range(sims):
        y = rng.random(n) < 0.4
        latent = y + rng.normal(size=n)
        p[i] = delong_test(y, latent + rng.normal(size=n), latent + rng.normal(size=n)).p_value
    rate = float(np.mean(p <= NOMINAL))
    assert TYPE_I_BAND[0] <= rate <= TYPE_I_BAND[1], rate


def test_delong_has_power_against_a_real_difference() -> None:
    rng = np.random.default_rng(5)
    n = 400
    y = rng.random(n) < 0.4
    latent = y + rng.normal(size=n)
    r = delong_test(y, latent + rng.normal(scale=0.3, size=n),
                    latent + rng.normal(scale=2.0, size=n))
    assert r.diff > 0.1
    assert r.p_value is not None
    assert r.p_value < 1e-4
    assert r.lower > 0


# --------------------------------------------------------------------------- McNemar


def _rows(n11: int, n10: int, n01: int, n00: int) -> tuple[np.ndarray, np.ndarray]:
    a = np.repeat([1, 1, 0, 0], [n11, n10, n01, n00])
    b = np.repeat([1, 0, 1, 0], [n11, n10, n01, n00])
    return a, b


def test_mcnemar_counts_and_difference() -> None:
    a, b = _rows(30, 7, 3, 10)
    r = mcnemar_test(a.astype(bool), b.astype(bool))
    assert (r.n, r.n10, r.n01) == (50, 7, 3)
    assert r.diff == pytest.approx((a.sum() - b.sum()) / 50)
    assert r.method == "mid-p"
    assert r.lower < r.diff < r.upper


@pytest.mark.parametrize("method", ["exact", "mid-p", "chi2", "chi2-cc"])
def test_mcnemar_matches_statsmodels(method: str) -> None:
    rng = np.random.default_rng(99)
    for _ in range(200):
        n11, n10, n01, n00 = (int(v) for v in rng.integers(0, 40, size=4))
        if n10 + n01 == 0 or (method == "chi2-cc" and n10 == n01):
            continue  # statsmodels' corrected statistic is 1/(b+c) there, not 0
        table = [[n11, n10], [n01, n00]]
        r = mcnemar_test(*_rows(n11, n10, n01, n00), method=method)  # type: ignore[arg-type]
        assert r.method == method
        if method in ("exact", "mid-p"):
            ref = sm_mcnemar(table, exact=True)
            k, disc = min(n10, n01), n10 + n01
            # statsmodels has no mid-p: it is the exact p minus P(X = k), X ~ Bin(b+c, 1/2).
            want = ref.pvalue if method == "exact" else min(
                1.0, 2 * stats.binom.cdf(k, disc, 0.5) - stats.binom.pmf(k, disc, 0.5))
        else:
            ref = sm_mcnemar(table, exact=False, correction=method == "chi2-cc")
            want = ref.pvalue
        assert r.statistic == pytest.approx(ref.statistic, rel=1e-12)
        assert r.p_value == pytest.approx(want, rel=1e-10, abs=1e-15)


@pytest.mark.parametrize(("n10", "n01"), [(700, 640), (3000, 2890), (600, 601)])
def test_mcnemar_binomial_methods_with_many_discordant_pairs(n10: int, n01: int) -> None:
    a, b = _rows(5, n10, n01, 5)
    exact = mcnemar_test(a, b, method="exact")
    mid = mcnemar_test(a, b, method="mid-p")
    k, disc = min(n10, n01), n10 + n01
    assert exact.p_value == pytest.approx(sm_mcnemar([[5, n10], [n01, 5]]).pvalue, rel=1e-9)
    want = min(1.0, 2 * stats.binom.cdf(k, disc, 0.5) - stats.binom.pmf(k, disc, 0.5))
    assert mid.p_value == pytest.approx(want, rel=1e-9)


def test_mcnemar_auto_switches_to_chi_square_at_25_discordant_pairs() -> None:
    assert mcnemar_test(*_rows(50, 15, 9, 20)).method == "mid-p"
    assert mcnemar_test(*_rows(50, 15, 10, 20)).method == "chi2"


def test_mcnemar_mid_p_is_below_exact_and_at_most_one() -> None:
    for n10, n01 in [(0, 1), (3, 3), (2, 9), (12, 12), (0, 24)]:
        a, b = _rows(10, n10, n01, 5)
        exact = mcnemar_test(a, b, method="exact").p_value
        mid = mcnemar_test(a, b, method="mid-p").p_value
        assert mid < exact or exact == mid == 1.0
        assert 0 < mid <= 1


def test_mcnemar_without_discordant_pairs() -> None:
    r = mcnemar_test(*_rows(20, 0, 0, 5))
    assert (r.statistic, r.p_value, r.diff) == (0.0, 1.0, 0.0)
    assert r.note is not None
    assert "no discordant pairs" in r.note
    assert r.lower <= 0 <= r.upper


def test_mcnemar_rejects_bad_inputs() -> None:
    with pytest.raises(InputError, match="same length"):
        mcnemar_test([1, 0, 1], [1, 0])
    with pytest.raises(InputError, match="only 0 and 1"):
        mcnemar_test([1, 0, 0.5], [1, 0, 1])
    with pytest.raises(InputError, match="empty"):
        mcnemar_test([], [])
    with pytest.raises(InputError, match="method"):
        mcnemar_test([1, 0], [0, 1], method="yates")  # type: ignore[arg-type]


def _paired_outcomes(rng: np.random.Generator, n: int, discordant: float,
                     sims: int) -> np.ndarray:
    """Tables (n11, n10, n01, n00) of two classifiers, both 80 % accurate, whose errors
    overlap except on a share ``discordant`` of the rows (equal accuracies: H0 holds)."""
    probs = [0.8 - discordant / 2, discordant / 2, discordant / 2, 0.2 - discordant / 2]
    return rng.multinomial(n, probs, size=sims)


@pytest.mark.parametrize(("n", "discordant", "method"), [
    pytest.param(100, 0.12, "mid-p", id="about-12-discordant"),
    pytest.param(250, 0.08, None, id="about-20-discordant-auto"),
    pytest.param(600, 0.10, "chi2", id="about-60-discordant"),
])
def test_mcnemar_type_i_error(n: int, discordant: float, method: str | None) -> None:
    rng = np.random.default_rng(31)
    sims = 4000
    tables = _paired_outcomes(rng, n, discordant, sims)
    results = [mcnemar_test(*_rows(*(int(v) for v in t))) for t in tables]
    if method is not None:  # a handful of tables fall on the other side of 25
        assert sum(r.method == method for r in results) >= 0.99 * sims
    rate = float(np.mean([r.p_value <= NOMINAL for r in results]))
    assert TYPE_I_BAND[0] <= rate <= TYPE_I_BAND[1], rate


def _tango_score_by_likelihood(n10: int, n01: int, n: int, delta: float) -> float:
    """Tango's score statistic with the constrained MLE of p01 found numerically (the
    module solves the quadratic in closed form)."""
    from scipy.optimize import minimize_scalar

    rest = n - n10 - n01

    def negloglik(q: float) -> float:
        return -(n10 * math.log(q + delta) + n01 * math.log(q)
                 + rest * math.log(1 - 2 * q - delta))

    lo, hi = max(0.0, -delta) + 1e-13, (1 - delta) / 2 - 1e-13
    q = minimize_scalar(negloglik, bounds=(lo, hi), method="bounded",
                        options={"xatol": 1e-14}).x
    return (n10 - n01 - n * delta) / math.sqrt(n * (2 * q + delta * (1 - delta)))


def test_mcnemar_interval_is_tangos_score_interval() -> None:
    z = stats.norm.ppf(0.975)
    for n11, n10, n01, n00 in [(30, 7, 3, 10), (14, 5, 1, 22), (200, 40, 25, 35),
                               (5, 12, 2, 1), (50, 3, 9, 38)]:
        r = mcnemar_test(*_rows(n11, n10, n01, n00))
        n = n11 + n10 + n01 + n00
        assert _tango_score_by_likelihood(n10, n01, n, r.lower) == pytest.approx(z, abs=1e-5)
        assert _tango_score_by_likelihood(n10, n01, n, r.upper) == pytest.approx(-z, abs=1e-5)


def test_mcnemar_interval_agrees_with_the_chi_square_test() -> None:
    # Tango's score statistic at 0 is McNemar's: the interval excludes 0 iff chi2 rejects.
    for n10 in range(0, 40):
        for n01 in (0, 5, 13, 21):
            if n10 + n01 == 0:
                continue
            r = mcnemar_test(*_rows(20, n10, n01, 20), method="chi2")
            assert (r.p_value < 0.05) == (not r.lower <= 0 <= r.upper), (n10, n01)


def test_mcnemar_interval_without_discordant_pairs() -> None:
    r = mcnemar_test(*_rows(40, 0, 0, 10))
    z2 = stats.norm.ppf(0.975) ** 2
    assert (r.lower, r.upper) == pytest.approx((-z2 / (50 + z2), z2 / (50 + z2)), rel=1e-9)


def test_mcnemar_interval_covers_the_true_difference() -> None:
    rng = np.random.default_rng(32)
    # (n, P(a right, b wrong), P(a wrong, b right), P(both right)); true diff = p10 − p01.
    for n, p10, p01, p11 in [(40, 0.1, 0.1, 0.5), (60, 0.15, 0.05, 0.6),
                             (200, 0.06, 0.03, 0.8), (30, 0.05, 0.05, 0.8)]:
        tables = rng.multinomial(n, [p11, p10, p01, 1 - p11 - p10 - p01], size=1000)
        covered = [r.lower <= p10 - p01 <= r.upper
                   for r in (mcnemar_test(*_rows(*(int(v) for v in t))) for t in tables)]
        assert 0.935 <= np.mean(covered) <= 0.98, (n, np.mean(covered))


def test_mcnemar_has_power_against_a_real_difference() -> None:
    r = mcnemar_test(*_rows(300, 60, 20, 120))
    assert r.method == "chi2"
    assert r.p_value < 1e-4
    assert r.lower > 0


# --------------------------------------------------------------------------- bootstrap


def test_paired_bootstrap_interval_and_p_values() -> None:
    rng = np.random.default_rng(41)
    reps = rng.normal(0.3, 0.2, size=999)
    r = paired_bootstrap(reps, 0.3, level=0.9, null=0.1)
    assert (r.lower, r.upper) == pytest.approx(tuple(np.quantile(reps, [0.05, 0.95])))
    centred, observed = reps - 0.3, 0.3 - 0.1
    assert r.p_value == pytest.approx((1 + np.sum(np.abs(centred) >= observed)) / 1000)
    assert r.p_greater == pytest.approx((1 + np.sum(centred >= observed)) / 1000)
    assert r.p_less == pytest.approx((1 + np.sum(centred <= observed)) / 1000)
    assert (r.n_replicates, r.n_finite, r.null, r.level) == (999, 999, 0.1, 0.9)


def test_paired_bootstrap_p_values_are_never_zero() -> None:
    r = paired_bootstrap(np.linspace(1.0, 2.0, 199), 1.5)
    assert r.p_value == r.p_greater == pytest.approx(1 / 200)
    assert r.p_less == 1.0


def test_paired_bootstrap_ignores_non_finite_replicates() -> None:
    reps = np.r_[np.linspace(-1, 1, 95), [np.nan] * 4, np.inf]
    r = paired_bootstrap(reps, 0.0)
    assert (r.n_replicates, r.n_finite) == (100, 95)
    assert (r.lower, r.upper) == pytest.approx(tuple(np.quantile(reps[:95], [0.025, 0.975])))

    too_few = paired_bootstrap(np.r_[np.linspace(-1, 1, 89), [np.nan] * 11], 0.0)
    assert too_few.lower is too_few.upper is too_few.p_value is None
    assert too_few.p_greater is too_few.p_less is None
    assert too_few.note is not None
    assert "89 of 100" in too_few.note

    assert paired_bootstrap([], 0.0).p_value is None
    assert paired_bootstrap([0.1, 0.2], float("nan")).p_value is None


def _bootstrap_null_rates(rng: np.random.Generator, n: int, resamples: int,
                          sims: int) -> tuple[float, float, float]:
    """Rejection rates of the two-sided and the two one-sided p-values at 5 % for the
    difference of mean squared errors of two equally good predictors."""
    rejected = np.zeros(3)
    for _ in range(sims):
        f = rng.normal(size=n)
        y = f + rng.normal(size=n)
        loss_a = (y - f - rng.normal(scale=0.7, size=n)) ** 2
        loss_b = (y - f - rng.normal(scale=0.7, size=n)) ** 2
        # Resample rows once for both models (the pairing): a (resamples × n) count
        # matrix turns every replicate's mean into one matrix product.
        rows = rng.integers(0, n, size=(resamples, n)) + n * np.arange(resamples)[:, None]
        counts = np.bincount(rows.ravel(), minlength=resamples * n).reshape(resamples, n)
        diffs = counts @ (loss_a - loss_b) / n
        r = paired_bootstrap(diffs, float(np.mean(loss_a - loss_b)))
        assert r.p_value is not None
        assert r.p_greater is not None
        assert r.p_less is not None
        rejected += [r.p_value <= NOMINAL, r.p_greater <= NOMINAL, r.p_less <= NOMINAL]
    two, greater, less = rejected / sims
    return float(two), float(greater), float(less)


def test_paired_bootstrap_type_i_error() -> None:
    rng = np.random.default_rng(51)
    for rate in _bootstrap_null_rates(rng, n=200, resamples=200, sims=3000):
        assert TYPE_I_BAND[0] <= rate <= TYPE_I_BAND[1], rate


def test_paired_bootstrap_has_power_against_a_real_difference() -> None:
    rng = np.random.default_rng(52)
    n = 300
    f = rng.normal(size=n)
    y = f + rng.normal(size=n)
    loss = (y - f - rng.normal(scale=0.3, size=n)) ** 2 - (y - f - rng.normal(size=n)) ** 2
    reps = loss[rng.integers(0, n, size=(999, n))].mean(axis=1)
    r = paired_bootstrap(reps, float(loss.mean()))
    assert r.p_value == pytest.approx(1 / 1000)
    assert r.p_less == pytest.approx(1 / 1000)
    assert r.upper is not None
    assert r.upper < 0


# --------------------------------------------------------------------------- FDR


def test_fdr_bh_matches_scipy() -> None:
    rng = np.random.default_rng(61)
    for _ in range(100):
        m = int(rng.integers(1, 60))
        p = np.concatenate([rng.uniform(size=m), rng.uniform(0, 0.01, size=m // 3)])
        p[rng.random(p.size) < 0.1] = 0.02  # ties
        rng.shuffle(p)
        rejected, adjusted = fdr_bh(p, alpha=0.1)
        np.testing.assert_allclose(adjusted, stats.false_discovery_control(p), rtol=1e-12)
        # The step-up rule itself: reject the k smallest, k the largest i with p_(i) ≤ iα/m.
        ranked = np.sort(p)
        below = np.flatnonzero(ranked <= 0.1 * np.arange(1, p.size + 1) / p.size)
        k = below[-1] + 1 if below.size else 0
        np.testing.assert_array_equal(rejected, p <= (ranked[k - 1] if k else -1.0))


def test_fdr_bh_leaves_nan_out() -> None:
    p = np.array([0.001, np.nan, 0.04, 0.03, np.nan, 0.5])
    rejected, adjusted = fdr_bh(p, alpha=0.06)  # m = 4: 0.04 ≤ 3·0.06/4 rejects 3
    known = ~np.isnan(p)
    assert np.isnan(adjusted[~known]).all()
    assert not rejected[~known].any()
    np.testing.assert_allclose(adjusted[known], stats.false_discovery_control(p[known]))
    np.testing.assert_array_equal(rejected, [True, False, True, True, False, False])


def test_fdr_bh_shapes_and_checks() -> None:
    rejected, adjusted = fdr_bh(np.array([[0.01, 0.2], [0.03, 0.04]]))
    assert rejected.shape == adjusted.shape == (2, 2)
    empty_rejected, empty_adjusted = fdr_bh([])
    assert empty_rejected.size == empty_adjusted.size == 0
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        fdr_bh([0.1, 1.2])
    with pytest.raises(InputError, match="alpha"):
        fdr_bh([0.1], alpha=5)


# --------------------------------------------------------------------------- results


def test_results_are_plain_json_data() -> None:
    rng = np.random.default_rng(71)
    y, (a, b, _) = _random_case(rng)
    results: list[DeLong | McNemar | PairedBootstrap] = [
        delong_test(y, a, b),
        delong_test(y, a, np.full(y.size, 0.5) + (a > 10**6)),
        mcnemar_test(*_rows(10, 4, 2, 3)),
        mcnemar_test(*_rows(10, 40, 20, 3)),
        paired_bootstrap(rng.normal(size=100), 0.1),
        paired_bootstrap([np.nan] * 10, 0.1),
    ]
    for r in results:
        for f in dataclasses.fields(r):
            value = getattr(r, f.name)
            assert type(value) in (float, int, str, type(None)), (type(r).__name__, f.name)
        json.dumps(dataclasses.asdict(r), allow_nan=False)


@pytest.mark.parametrize("module", [paired_module, delong_module, mcnemar_module],
                         ids=lambda m: m.__name__)
def test_docstring_examples(module: ModuleType) -> None:
    failures, tried = doctest.testmod(module, raise_on_error=False)
    assert tried > 0
    assert failures == 0
