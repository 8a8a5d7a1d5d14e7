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

DeLong's test lives in :mod:`mlscope.compare.delong`, McNemar's in
:mod:`mlscope.compare.mcnemar` (their shared input checks in
:mod:`mlscope.compare.paired_common`); both are re-exported here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mlscope.compare.delong import (
    DeLong,
    Placements,
    delong_placements,
    delong_test,
    delong_test_of,
    delong_variance,
    delong_variance_of,
)
from mlscope.compare.mcnemar import McNemar, McNemarMethod, mcnemar_counts, mcnemar_test
from mlscope.compare.paired_common import BoolArray, FloatArray, check_level
from mlscope.errors import InputError

__all__ = [
    "DeLong",
    "McNemar",
    "McNemarMethod",
    "PairedBootstrap",
    "Placements",
    "delong_placements",
    "delong_test",
    "delong_test_of",
    "delong_variance",
    "delong_variance_of",
    "fdr_bh",
    "mcnemar_counts",
    "mcnemar_test",
    "paired_bootstrap",
]


# The bootstrap interval is reported only when at least this share of the replicates is
# finite: dropping more would bias the interval towards the resamples where the metric
# happens to be defined.
MIN_FINITE_SHARE = 0.9
METHOD_BOOTSTRAP = "percentile interval; centred bootstrap p-values, (1 + count) / (1 + R)"


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
    level = check_level(level)
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
