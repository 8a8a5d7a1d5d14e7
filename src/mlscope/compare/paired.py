"""Paired comparisons of two models scored on the same rows.

Every function here is pure NumPy plus the standard library (the normal quantiles come from
:class:`statistics.NormalDist`, the normal and chi-square tails from :func:`math.erfc`, the
binomial tail from exact integer arithmetic), so none of them needs SciPy.

* :func:`delong_test` — two correlated ROC AUCs (DeLong, DeLong & Clarke-Pearson, 1988),
  in O(n log n) from midranks (the placement-value shortcut of Sun & Xu, 2014);
  :func:`delong_variance` gives the covariance matrix of k AUCs.
* :func:`mcnemar_test` — paired right/wrong outcomes: mid-p binomial test below 25
  discordant pairs, the uncorrected chi-square from 25 on, and Tango's score interval for
  the difference of accuracies.
* :func:`paired_bootstrap` — percentile interval and centred (basic-bootstrap) p-values
  from replicates of a difference computed on the same resamples for both models.
* :func:`fdr_bh` — Benjamini–Hochberg adjusted p-values.

The choices (mid-p, no continuity correction, the centred bootstrap p-value) were made by
simulating the type-I error at nominal 5 %; ``docs/comparisons.md`` gives the
formulas and the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np
import numpy.typing as npt

from mlscope.errors import InputError

__all__ = [
    "DeLong",
    "McNemar",
    "McNemarMethod",
    "PairedBootstrap",
    "delong_test",
    "delong_variance",
    "fdr_bh",
    "mcnemar_counts",
    "mcnemar_test",
    "paired_bootstrap",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
McNemarMethod = Literal["auto", "mid-p", "exact", "chi2", "chi2-cc"]

# Below this many discordant pairs ``method="auto"`` uses the binomial (mid-p) tail, the
# usual cut-off for trusting McNemar's chi-square; both held their level in simulation on
# their side of it (docs/comparisons.md).
EXACT_BELOW = 25
# Up to this many discordant pairs the binomial tail is summed in exact integers; beyond
# it (only when a binomial method is forced) in log space, where the integers get slow.
_EXACT_INTEGERS_UP_TO = 1000
# The bootstrap interval is reported only when at least this share of the replicates is
# finite: dropping more would bias the interval towards the resamples where the metric
# happens to be defined.
MIN_FINITE_SHARE = 0.9
_MCNEMAR_METHODS = ("auto", "mid-p", "exact", "chi2", "chi2-cc")
METHOD_BOOTSTRAP = "percentile interval; centred bootstrap p-values, (1 + count) / (1 + R)"


# --------------------------------------------------------------------------- results


@dataclass
class DeLong:
    """DeLong's test for the difference of two correlated ROC AUCs (``a − b``).

    Attributes
    ----------
    auc_a, auc_b
        The two AUCs (ties between a positive and a negative count half).
    diff
        ``auc_a − auc_b``.
    se
        Standard error of ``diff`` (DeLong's structural-components estimate).
    z
        ``diff / se``; ``None`` when ``se`` is 0 but ``diff`` is not.
    p_value
        Two-sided normal p-value for H0: equal AUCs; ``None`` when ``z`` is.
    lower, upper
        Normal (Wald) interval of ``diff`` at ``level``.
    level
        Confidence level of the interval.
    n_pos, n_neg
        Number of positive and negative rows.
    note
        Why a value is degenerate, or ``None``.
    """

    auc_a: float
    auc_b: float
    diff: float
    se: float
    z: float | None
    p_value: float | None
    lower: float
    upper: float
    level: float
    n_pos: int
    n_neg: int
    note: str | None = None


@dataclass
class McNemar:
    """McNemar's test for paired 0/1 outcomes (e.g. "row classified correctly").

    Attributes
    ----------
    n
        Number of rows.
    n10
        Rows where ``a`` is 1 (right) and ``b`` is 0 (wrong).
    n01
        Rows where ``a`` is 0 and ``b`` is 1.
    diff
        ``(sum(a) − sum(b)) / n = (n10 − n01) / n``: the difference of accuracies.
    statistic
        ``(n10 − n01)² / (n10 + n01)`` for the chi-square methods (minus 1 inside the
        square for ``chi2-cc``); ``min(n10, n01)`` for the binomial methods.
    p_value
        Two-sided p-value for H0: equal accuracies.
    method
        The method used: ``mid-p``, ``exact``, ``chi2`` or ``chi2-cc``.
    lower, upper
        Tango's (1998) asymptotic score interval of ``diff`` at ``level``. It contains 0
        exactly when the uncorrected chi-square test does not reject at ``1 − level``.
    level
        Confidence level of the interval.
    note
        Why a value is degenerate, or ``None``.
    """

    n: int
    n10: int
    n01: int
    diff: float
    statistic: float
    p_value: float
    method: str
    lower: float
    upper: float
    level: float
    note: str | None = None


@dataclass
class PairedBootstrap:
    """Interval and p-values of a paired difference from its bootstrap replicates.

    Attributes
    ----------
    estimate
        The point estimate of the difference (on the original rows).
    lower, upper
        Percentile interval at ``level``; ``None`` when too few replicates are finite.
    level
        Confidence level of the interval.
    null
        The difference under H0.
    p_value
        Two-sided p-value for H0: difference = ``null``, from the replicates centred on
        the estimate ``d̂``: ``(1 + #{|d* − d̂| ≥ |d̂ − null|}) / (1 + R)`` over the ``R``
        finite replicates ``d*``.
    p_greater
        One-sided p-value for H1: difference > ``null``:
        ``(1 + #{d* − d̂ ≥ d̂ − null}) / (1 + R)``.
    p_less
        One-sided p-value for H1: difference < ``null``:
        ``(1 + #{d* − d̂ ≤ d̂ − null}) / (1 + R)``.
    n_replicates
        Replicates received.
    n_finite
        Finite replicates among them (the others are ignored).
    method
        How the interval and p-values were computed.
    note
        Why values are missing, or ``None``.
    """

    estimate: float
    lower: float | None
    upper: float | None
    level: float
    null: float
    p_value: float | None
    p_greater: float | None
    p_less: float | None
    n_replicates: int
    n_finite: int
    method: str = METHOD_BOOTSTRAP
    note: str | None = None


# --------------------------------------------------------------------------- checks


def _check_level(level: float) -> float:
    if not (isinstance(level, int | float) and 0.0 < float(level) < 1.0):
        raise InputError(f"`level` must be a number strictly between 0 and 1; got {level!r}")
    return float(level)


def _binary(values: npt.ArrayLike, name: str) -> BoolArray:
    """``values`` as a 1-D boolean array; they must be bool or 0/1."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InputError(f"`{name}` must be one-dimensional; got shape {arr.shape}")
    if arr.dtype == np.bool_:
        same: BoolArray = arr.astype(np.bool_, copy=False)
        return same
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise InputError(f"`{name}` must be boolean or 0/1; got dtype {arr.dtype}")
    bad = ~((arr == 0) | (arr == 1))
    if bad.any():
        example = arr[np.flatnonzero(bad)[0]]
        raise InputError(
            f"`{name}` must hold only 0 and 1 (or booleans); {int(bad.sum())} value(s) "
            f"do not, e.g. {example!r}"
        )
    out: BoolArray = arr == 1
    return out


def _scores(values: npt.ArrayLike, n: int, name: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (n,):
        raise InputError(f"`{name}` must have shape ({n},) like the labels; got {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise InputError(
            f"`{name}` must be finite; {int(bad.sum())} value(s) are not "
            f"(first at position {int(np.flatnonzero(bad)[0])})"
        )
    return arr


def _z_crit(level: float) -> float:
    return NormalDist().inv_cdf(0.5 + level / 2.0)


def _normal_two_sided(z: float) -> float:
    # 2·(1 − Φ(|z|)) = erfc(|z|/√2), accurate far into the tail (no 1 − Φ cancellation).
    return math.erfc(abs(z) / math.sqrt(2.0))


# --------------------------------------------------------------------------- DeLong


def _placements(pos: BoolArray, scores: FloatArray) -> tuple[FloatArray, FloatArray]:
    """DeLong's structural components V10 (per positive) and V01 (per negative).

    ``V10[i]`` is the share of negatives scored below positive ``i`` and ``V01[j]`` the
    share of positives scored above negative ``j``, ties counting half; both in the rows'
    own order, so that two models' components pair up row by row for the covariance. With
    each class's scores sorted once, binary searches count the other class's scores below
    and equal to every score: this replaces the O(n_pos · n_neg) comparison matrix.
    """
    xp, xn = scores[pos], scores[~pos]
    # Searching with sorted queries walks memory in order (several times faster on
    # millions of rows); the results are put back in the rows' order afterwards.
    op, on = np.argsort(xp), np.argsort(xn)
    sp, sn = xp[op], xn[on]
    n_pos, n_neg = sp.size, sn.size
    lo = np.searchsorted(sn, sp, side="left")  # negatives strictly below each positive
    hi = np.searchsorted(sn, sp, side="right")  # ... and those tied with it
    v10 = np.empty(n_pos)
    v10[op] = (lo + 0.5 * (hi - lo)) / n_neg
    lo_p = np.searchsorted(sp, sn, side="left")
    hi_p = np.searchsorted(sp, sn, side="right")  # positives at or below each negative
    v01 = np.empty(n_neg)
    v01[on] = ((n_pos - hi_p) + 0.5 * (hi_p - lo_p)) / n_pos
    return v10, v01


def _two_classes(pos: BoolArray) -> tuple[int, int]:
    n_pos = int(pos.sum())
    n_neg = pos.size - n_pos
    if n_pos == 0 or n_neg == 0:
        only = "negative" if n_pos == 0 else "positive"
        raise InputError(
            f"ROC AUC needs both classes; all {pos.size} row(s) are {only}"
        )
    if n_pos < 2 or n_neg < 2:
        # The structural components' variances have n − 1 in the denominator.
        raise InputError(
            "DeLong's variance needs at least 2 positives and 2 negatives; "
            f"got {n_pos} positive(s) and {n_neg} negative(s)"
        )
    return n_pos, n_neg


def _cov_rows(v: FloatArray) -> FloatArray:
    """Sample covariance (n − 1 denominator) of the rows of ``v`` (k × n)."""
    centred = v - v.mean(axis=1, keepdims=True)
    out: FloatArray = centred @ centred.T / (v.shape[1] - 1)
    return out


def delong_variance(
    y_true: npt.ArrayLike, scores_list: Iterable[npt.ArrayLike]
) -> tuple[FloatArray, FloatArray]:
    """ROC AUCs of k models on the same rows and DeLong's estimate of their covariance.

    Parameters
    ----------
    y_true
        Labels, boolean or 0/1 (1 = positive), shape ``(n,)``.
    scores_list
        k score vectors of shape ``(n,)`` (or a ``(k, n)`` array); higher means more
        likely positive. Scores must be finite.

    Returns
    -------
    aucs : ndarray, shape (k,)
        The AUCs, ties counting half.
    cov : ndarray, shape (k, k)
        ``S10 / n_pos + S01 / n_neg``, with ``S10``/``S01`` the sample covariance matrices
        of the structural components over positives/negatives.

    Raises
    ------
    InputError
        If a class has fewer than 2 rows (AUC undefined with one class; its variance
        needs 2 of each), or the inputs are malformed.
    """
    pos = _binary(y_true, "y_true")
    n_pos, n_neg = _two_classes(pos)
    cols = [_scores(s, pos.size, f"scores_list[{i}]") for i, s in enumerate(scores_list)]
    if not cols:
        raise InputError("`scores_list` must hold at least one score vector; got none")
    v10 = np.empty((len(cols), n_pos))
    v01 = np.empty((len(cols), n_neg))
    for i, s in enumerate(cols):
        v10[i], v01[i] = _placements(pos, s)
    cov = _cov_rows(v10) / n_pos + _cov_rows(v01) / n_neg
    aucs: FloatArray = v10.mean(axis=1)
    return aucs, cov


def delong_test(
    y_true: npt.ArrayLike,
    score_a: npt.ArrayLike,
    score_b: npt.ArrayLike,
    *,
    level: float = 0.95,
) -> DeLong:
    """DeLong's test for two correlated ROC AUCs computed on the same rows.

    Parameters
    ----------
    y_true
        Labels, boolean or 0/1 (1 = positive), shape ``(n,)``.
    score_a, score_b
        The two models' scores on the same rows (higher = more likely positive).
    level
        Confidence level of the interval of the difference.

    Returns
    -------
    DeLong
        The AUCs, their difference ``a − b`` with standard error, z, two-sided p-value and
        normal interval. When the variance of the difference is 0 (identical rankings, or
        both models perfect), ``se`` is 0 and the interval is ``[diff, diff]``; the
        p-value is 1 if ``diff`` is 0, and undefined (``None``) otherwise.

    Raises
    ------
    InputError
        If a class has fewer than 2 rows (the AUC, or its variance, is undefined), or the
        inputs are malformed.

    Examples
    --------
    >>> r = delong_test([0, 0, 1, 1, 0, 1], [.1, .4, .35, .8, .2, .9], [.2, .3, .1, .7, .6, .8])
    >>> round(r.auc_a, 4), round(r.auc_b, 4), round(r.diff, 4)
    (0.8889, 0.6667, 0.2222)
    """
    level = _check_level(level)
    pos = _binary(y_true, "y_true")
    n_pos, n_neg = _two_classes(pos)
    a = _scores(score_a, pos.size, "score_a")
    b = _scores(score_b, pos.size, "score_b")
    v10_a, v01_a = _placements(pos, a)
    v10_b, v01_b = _placements(pos, b)
    auc_a, auc_b = float(v10_a.mean()), float(v10_b.mean())
    diff = auc_a - auc_b
    # The variance of the difference straight from the differences of the components:
    # no cancellation in var_a + var_b − 2·cov, and exactly 0 for identical rankings.
    d10, d01 = v10_a - v10_b, v01_a - v01_b
    var = float(np.var(d10, ddof=1) / n_pos + np.var(d01, ddof=1) / n_neg)
    se = math.sqrt(max(var, 0.0))
    z: float | None
    p_value: float | None
    note: str | None = None
    if se > 0.0:
        z = diff / se
        p_value = _normal_two_sided(z)
    elif diff == 0.0:
        z, p_value = 0.0, 1.0
        note = ("the difference has zero variance (the models rank the rows identically, "
                "or both are perfect): no evidence of a difference")
    else:
        z = p_value = None
        note = ("the difference has zero estimated variance but is not 0 (e.g. a perfect "
                "model against a constant one): the normal test is undefined; use a "
                "paired bootstrap")
    half = _z_crit(level) * se
    return DeLong(auc_a=auc_a, auc_b=auc_b, diff=diff, se=se, z=z, p_value=p_value,
                  lower=diff - half, upper=diff + half, level=level, n_pos=n_pos,
                  n_neg=n_neg, note=note)


# --------------------------------------------------------------------------- McNemar


def _binomial_half_cdf(k: int, n: int) -> tuple[float, float]:
    """``P(X ≤ k)`` and ``P(X = k)`` for ``X ~ Binomial(n, 1/2)``."""
    if n <= _EXACT_INTEGERS_UP_TO:
        # Exact integers: the division by 2**n is the only rounding.
        pmf = math.comb(n, k)
        cdf = sum(math.comb(n, i) for i in range(k + 1))
        return cdf / 2**n, pmf / 2**n
    i = np.arange(k + 1)
    log_pmf = (math.lgamma(n + 1) - np.array([math.lgamma(j + 1) for j in i])
               - np.array([math.lgamma(n - j + 1) for j in i]) - n * math.log(2.0))
    top = float(log_pmf.max())
    return float(math.exp(top) * np.exp(log_pmf - top).sum()), math.exp(float(log_pmf[-1]))


def _tango_score(n10: int, n01: int, n: int, delta: float) -> float:
    """Tango's (1998) score statistic for H0: ``p10 − p01 = delta``.

    ``(n10 − n01 − n·delta) / sqrt(n·(2·q + delta·(1 − delta)))`` with ``q`` the maximum
    likelihood estimate of ``p01`` under H0: the positive root of
    ``2n·q² + w·q − n01·delta·(1 − delta) = 0``, ``w = (2n − n10 + n01)·delta − n10 − n01``.
    At ``delta = 0`` it is the signed square root of McNemar's uncorrected statistic.
    """
    w = (2 * n - n10 + n01) * delta - n10 - n01
    c = n01 * delta * (1.0 - delta)
    root = math.sqrt(max(w * w + 8.0 * n * c, 0.0))
    # The two algebraically equal forms of the root; each avoids cancellation on its side.
    q = (root - w) / (4.0 * n) if w <= 0 else 2.0 * c / (root + w)
    var = n * (2.0 * max(q, 0.0) + delta * (1.0 - delta))
    num = n10 - n01 - n * delta
    if var <= 0.0:
        return 0.0 if num == 0 else math.copysign(math.inf, num)
    return num / math.sqrt(var)


def _tango_interval(n10: int, n01: int, n: int, z: float) -> tuple[float, float]:
    """Tango's asymptotic score interval for ``p10 − p01`` (the difference of accuracies).

    The set of ``delta`` whose score test is not rejected at ``z``; the statistic decreases
    in ``delta``, so each end is found by bisection between the estimate and ±1.
    """
    estimate = (n10 - n01) / n

    def solve(target: float, inside: float, outside: float) -> float:
        # Z(inside) is on the accepted side of target; find where it crosses.
        if abs(_tango_score(n10, n01, n, outside)) <= z:
            return outside
        for _ in range(200):
            mid = (inside + outside) / 2.0
            if mid in (inside, outside):
                break
            if (_tango_score(n10, n01, n, mid) - target) * (1 if target > 0 else -1) < 0:
                inside = mid
            else:
                outside = mid
        return (inside + outside) / 2.0

    return solve(z, estimate, -1.0), solve(-z, estimate, 1.0)


def mcnemar_test(
    correct_a: npt.ArrayLike,
    correct_b: npt.ArrayLike,
    *,
    level: float = 0.95,
    method: McNemarMethod = "auto",
) -> McNemar:
    """McNemar's test for two models' paired 0/1 outcomes on the same rows.

    Parameters
    ----------
    correct_a, correct_b
        Per row, 1 (or True) where the model was right; shape ``(n,)`` each.
    level
        Confidence level of Tango's score interval of the difference of accuracies
        (chosen over Newcombe's and the Wald interval for its coverage in simulations,
        as Fagerland, Lydersen & Laake (2014) recommend).
    method
        ``auto`` (default): ``mid-p`` below 25 discordant pairs, else ``chi2``. Chosen
        because their simulated type-I error at nominal 5 % stays closest to 5 %; the
        exact binomial test and the continuity-corrected chi-square are conservative
        (see ``docs/comparisons.md``). ``exact`` and ``chi2-cc`` are available for
        callers who need a test that never exceeds its level.

    Returns
    -------
    McNemar
        Discordant counts, the difference of accuracies with its interval, the statistic
        and the two-sided p-value. With no discordant pairs the p-value is 1 (with a
        note).

    Raises
    ------
    InputError
        If the outcomes are not 0/1, differ in length, or are empty.

    Examples
    --------
    >>> r = mcnemar_test([1, 1, 1, 0, 1, 1, 0, 1], [1, 0, 0, 0, 1, 0, 1, 1])
    >>> r.n10, r.n01, r.diff, r.method, round(r.p_value, 4)
    (3, 1, 0.25, 'mid-p', 0.375)
    """
    level = _check_level(level)
    if method not in _MCNEMAR_METHODS:
        raise InputError(f"`method` must be one of {', '.join(_MCNEMAR_METHODS)}; "
                         f"got {method!r}")
    a = _binary(correct_a, "correct_a")
    b = _binary(correct_b, "correct_b")
    if a.shape != b.shape:
        raise InputError(f"`correct_a` and `correct_b` must have the same length; "
                         f"got {a.size} and {b.size}")
    n = a.size
    if n == 0:
        raise InputError("`correct_a` and `correct_b` are empty: nothing to compare")
    return mcnemar_counts(int(np.count_nonzero(a & ~b)), int(np.count_nonzero(~a & b)), n,
                          level=level, method=method)


def mcnemar_counts(n10: int, n01: int, n: int, *, level: float = 0.95,
                   method: str = "auto") -> McNemar:
    """:func:`mcnemar_test` from the counts: ``n10`` rows only model a gets right, ``n01``
    rows only model b gets right, ``n`` rows in all (e.g. counted per slice in one pass)."""
    if method not in _MCNEMAR_METHODS:
        raise InputError(f"`method` must be one of {', '.join(_MCNEMAR_METHODS)}; "
                         f"got {method!r}")
    if n <= 0:
        raise InputError("no rows: nothing to compare")
    discordant = n10 + n01
    used = ("mid-p" if discordant < EXACT_BELOW else "chi2") if method == "auto" else method
    lower, upper = _tango_interval(n10, n01, n, _z_crit(level))
    note: str | None = None
    if discordant == 0:
        statistic, p_value = 0.0, 1.0
        note = "no discordant pairs: the models are right on the same rows"
    elif used in ("chi2", "chi2-cc"):
        gap = abs(n10 - n01) - (1.0 if used == "chi2-cc" else 0.0)
        statistic = max(gap, 0.0) ** 2 / discordant
        # Survival function of chi-square with 1 degree of freedom.
        p_value = math.erfc(math.sqrt(statistic / 2.0))
    else:
        k = min(n10, n01)
        cdf, pmf = _binomial_half_cdf(k, discordant)
        statistic = float(k)
        # exact: 2·P(X ≤ k); mid-p: 2·(P(X ≤ k) − P(X = k)/2) (Lancaster's mid-p).
        p_value = min(1.0, 2.0 * cdf - (pmf if used == "mid-p" else 0.0))
    return McNemar(n=n, n10=n10, n01=n01, diff=(n10 - n01) / n, statistic=statistic,
                   p_value=p_value, method=used, lower=lower, upper=upper, level=level,
                   note=note)


# --------------------------------------------------------------------------- bootstrap


def paired_bootstrap(
    diff_replicates: npt.ArrayLike,
    estimate: float,
    *,
    level: float = 0.95,
    null: float = 0.0,
) -> PairedBootstrap:
    """Percentile interval and p-values of a paired difference from bootstrap replicates.

    Parameters
    ----------
    diff_replicates
        The difference (model a − model b) of a metric on each bootstrap resample, the
        same resamples for both models so that the pairing is kept. Non-finite replicates
        (the metric undefined on that resample) are ignored.
    estimate
        The difference on the original rows: the centre of the p-values' null
        distribution.
    level
        Confidence level of the percentile interval.
    null
        The difference under H0 (0: "equally good").

    Returns
    -------
    PairedBootstrap
        The percentile interval (NumPy's default linear quantiles of the finite
        replicates) and p-values that take ``d* − d̂`` as the null distribution of
        ``d̂ − null`` (the "basic" bootstrap), with the +1 that counts the observed sample
        as a resample: ``p_value = (1 + #{|d* − d̂| ≥ |d̂ − null|}) / (1 + R)``,
        ``p_greater = (1 + #{d* − d̂ ≥ d̂ − null}) / (1 + R)``,
        ``p_less = (1 + #{d* − d̂ ≤ d̂ − null}) / (1 + R)``. In simulations (see
        ``docs/comparisons.md``) these held their level better at 50–100 rows than
        the p-values that invert the percentile interval, and equally well from 200
        rows; they can therefore disagree slightly with the interval near 0.05.
        With fewer than 90 % finite replicates, or a non-finite estimate, the interval
        and p-values are ``None`` (with a note).

    Examples
    --------
    >>> r = paired_bootstrap([0.25, 0.5, 0.75, -0.25, 0.5, 1.0, 0.0, 0.75], 0.5)
    >>> r.lower < 0 < r.upper, round(r.p_greater, 4), round(r.p_less, 4), round(r.p_value, 4)
    (True, 0.2222, 1.0, 0.4444)
    """
    level = _check_level(level)
    reps = np.asarray(diff_replicates, dtype=np.float64).ravel()
    finite = reps[np.isfinite(reps)]
    n_rep, n_fin = reps.size, finite.size
    est, null = float(estimate), float(null)
    if not math.isfinite(null):
        raise InputError(f"`null` must be a finite number; got {null!r}")
    note = None
    if n_rep == 0 or n_fin < MIN_FINITE_SHARE * n_rep:
        note = (f"only {n_fin} of {n_rep} bootstrap replicates are finite (at least 90 % "
                "needed): the metric is too often undefined on a resample")
    elif not math.isfinite(est):
        note = f"the estimate is {est!r}: no p-values or interval"
    if note is not None:
        return PairedBootstrap(estimate=est, lower=None, upper=None, level=level, null=null,
                               p_value=None, p_greater=None, p_less=None,
                               n_replicates=n_rep, n_finite=n_fin, note=note)
    alpha = 1.0 - level
    lower, upper = (float(q) for q in np.quantile(finite, [alpha / 2, 1 - alpha / 2]))
    # d* − d̂ stands in for the sampling distribution of d̂ − θ; under H0 θ = null, so a
    # replicate is "as extreme as observed" when its deviation reaches d̂ − null. The +1
    # counts the observed sample as one of the resamples: a p-value is never 0, and the
    # test keeps its level when R is small.
    centred, observed = finite - est, est - null
    share = 1.0 + n_fin
    p_value = (1.0 + int(np.count_nonzero(np.abs(centred) >= abs(observed)))) / share
    p_greater = (1.0 + int(np.count_nonzero(centred >= observed))) / share
    p_less = (1.0 + int(np.count_nonzero(centred <= observed))) / share
    return PairedBootstrap(estimate=est, lower=lower, upper=upper, level=level, null=null,
                           p_value=p_value, p_greater=p_greater, p_less=p_less,
                           n_replicates=n_rep, n_finite=n_fin)


# --------------------------------------------------------------------------- FDR


def fdr_bh(p_values: npt.ArrayLike, alpha: float = 0.05) -> tuple[BoolArray, FloatArray]:
    """Benjamini–Hochberg step-up: which hypotheses to reject, and adjusted p-values.

    Parameters
    ----------
    p_values
        p-values in [0, 1], any shape. NaN marks a test that could not be done: it is
        never rejected, stays NaN, and does not count among the m tests.
    alpha
        The false discovery rate to control.

    Returns
    -------
    rejected : ndarray of bool
        Same shape as ``p_values``.
    adjusted : ndarray of float
        ``min over j ≥ i of m · p_(j) / j``, capped at 1 (the q-values); a hypothesis is
        rejected iff its adjusted p-value is ≤ ``alpha``, which is the step-up rule.

    Examples
    --------
    >>> rejected, adjusted = fdr_bh([0.01, 0.04, 0.03, float("nan")])
    >>> rejected.tolist(), adjusted.round(3).tolist()
    ([True, True, True, False], [0.03, 0.04, 0.04, nan])
    """
    if not (isinstance(alpha, int | float) and 0.0 < float(alpha) < 1.0):
        raise InputError(f"`alpha` must be a number strictly between 0 and 1; got {alpha!r}")
    p = np.asarray(p_values, dtype=np.float64)
    flat = p.ravel()
    known = ~np.isnan(flat)
    q = flat[known]
    if ((q < 0) | (q > 1)).any():
        raise InputError(f"`p_values` must lie in [0, 1] (or be NaN); got values from "
                         f"{q.min()!r} to {q.max()!r}")
    m = q.size
    adjusted = np.full(flat.shape, np.nan)
    if m:
        order = np.argsort(q, kind="stable")
        scaled = q[order] * m / np.arange(1, m + 1)
        # Step-up: each adjusted value is the smallest scaled value at its rank or above.
        monotone = np.minimum.accumulate(scaled[::-1])[::-1]
        ranked = np.empty(m)
        ranked[order] = np.minimum(monotone, 1.0)
        adjusted[known] = ranked
    shaped: FloatArray = adjusted.reshape(p.shape)
    rejected: BoolArray = np.zeros(p.shape, dtype=bool)
    np.less_equal(shaped, alpha, out=rejected, where=~np.isnan(shaped))
    return rejected, shaped
