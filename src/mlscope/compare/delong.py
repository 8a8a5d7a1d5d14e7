"""DeLong's test for two correlated ROC AUCs (DeLong, DeLong & Clarke-Pearson, 1988), in
O(n log n) from midranks (the placement-value shortcut of Sun & Xu, 2014), and the
covariance matrix of k AUCs. Re-exported by :mod:`mlscope.compare.paired`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mlscope.compare.paired_common import (
    BoolArray,
    FloatArray,
    as_binary,
    as_scores,
    check_level,
    normal_two_sided,
    z_crit,
)
from mlscope.errors import InputError

__all__ = ["DeLong", "Placements", "delong_placements", "delong_test", "delong_test_of",
           "delong_variance", "delong_variance_of"]


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


@dataclass(frozen=True)
class Placements:
    """One model's DeLong structural components on a set of rows, computed once and
    shared by every test, interval and covariance on those rows.

    Attributes
    ----------
    v10
        Per positive (rows' order): the share of negatives scored below, ties half.
    v01
        Per negative (rows' order): the share of positives scored above, ties half.
    n_pos, n_neg
        Rows of each class (both at least 2).
    """

    v10: FloatArray
    v01: FloatArray
    n_pos: int
    n_neg: int


def delong_placements(y_true: npt.ArrayLike, scores: npt.ArrayLike,
                      name: str = "scores") -> Placements:
    """DeLong's structural components of one model's ``scores`` on labelled rows.

    Two models' placements on the same rows give :func:`delong_test_of` and
    :func:`delong_variance_of` the same bits as :func:`delong_test` and
    :func:`delong_variance` on the raw rows, without sorting a model's scores again for
    every comparison it takes part in.

    Raises
    ------
    InputError
        As :func:`delong_test`: a class with fewer than 2 rows, or malformed inputs.
    """
    pos = as_binary(y_true, "y_true")
    n_pos, n_neg = _two_classes(pos)
    v10, v01 = _placements(pos, as_scores(scores, pos.size, name))
    return Placements(v10=v10, v01=v01, n_pos=n_pos, n_neg=n_neg)


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
    pos = as_binary(y_true, "y_true")
    n_pos, n_neg = _two_classes(pos)
    cols = [as_scores(s, pos.size, f"scores_list[{i}]") for i, s in enumerate(scores_list)]
    if not cols:
        raise InputError("`scores_list` must hold at least one score vector; got none")
    parts = []
    for s in cols:
        v10, v01 = _placements(pos, s)
        parts.append(Placements(v10=v10, v01=v01, n_pos=n_pos, n_neg=n_neg))
    return delong_variance_of(parts)


def delong_variance_of(parts: Sequence[Placements]) -> tuple[FloatArray, FloatArray]:
    """:func:`delong_variance` from k models' placements on the same rows (same bits)."""
    if not parts:
        raise InputError("`parts` must hold at least one model's placements; got none")
    n_pos, n_neg = parts[0].n_pos, parts[0].n_neg
    v10 = np.empty((len(parts), n_pos))
    v01 = np.empty((len(parts), n_neg))
    for i, p in enumerate(parts):
        v10[i], v01[i] = p.v10, p.v01
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
    level = check_level(level)
    pos = as_binary(y_true, "y_true")
    n_pos, n_neg = _two_classes(pos)
    a = as_scores(score_a, pos.size, "score_a")
    b = as_scores(score_b, pos.size, "score_b")
    v10_a, v01_a = _placements(pos, a)
    v10_b, v01_b = _placements(pos, b)
    return delong_test_of(Placements(v10=v10_a, v01=v01_a, n_pos=n_pos, n_neg=n_neg),
                          Placements(v10=v10_b, v01=v01_b, n_pos=n_pos, n_neg=n_neg),
                          level=level)


def delong_test_of(a: Placements, b: Placements, *, level: float = 0.95) -> DeLong:
    """:func:`delong_test` from the two models' placements on the same rows (same bits)."""
    level = check_level(level)
    if (a.n_pos, a.n_neg) != (b.n_pos, b.n_neg):
        raise InputError("the two models' placements are not on the same rows: "
                         f"{a.n_pos}/{a.n_neg} against {b.n_pos}/{b.n_neg} positives/negatives")
    n_pos, n_neg = a.n_pos, a.n_neg
    v10_a, v01_a, v10_b, v01_b = a.v10, a.v01, b.v10, b.v01
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
        p_value = normal_two_sided(z)
    elif diff == 0.0:
        z, p_value = 0.0, 1.0
        note = ("the difference has zero variance (the models rank the rows identically, "
                "or both are perfect): no evidence of a difference")
    else:
        z = p_value = None
        note = ("the difference has zero estimated variance but is not 0 (e.g. a perfect "
                "model against a constant one): the normal test is undefined; use a "
                "paired bootstrap")
    half = z_crit(level) * se
    return DeLong(auc_a=auc_a, auc_b=auc_b, diff=diff, se=se, z=z, p_value=p_value,
                  lower=diff - half, upper=diff + half, level=level, n_pos=n_pos,
                  n_neg=n_neg, note=note)
