"""Calibration of binary probabilities, exact functions of :class:`BinaryStats`.

Every function reads the per-score histogram only (the weighted positives and negatives at
each distinct score) and is vectorised over bootstrap replicates (leading batch
dimensions); weights are frequency weights.

Equal-mass bins
    A distinct score is never split between bins (rows with the same score are
    indistinguishable). Sorting the scores by probability, a score with weight ``w_i`` after
    ``C_{i−1}`` of the total weight ``W`` goes to bin ``⌊B (C_{i−1} + w_i / 2) / W⌋`` (the
    bin that holds the middle of its mass). With distinct scores and ``n`` divisible by
    ``B`` this is exactly scikit-learn's ``calibration_curve(strategy="quantile")``; with
    ties a bin holds more or less than ``W / B``. Each replicate bins its own weights.

``ece``
    ``Σ_b (W_b / W) |ȳ_b − p̄_b|``: the weighted mean absolute gap between the observed
    rate ``ȳ_b`` and the mean probability ``p̄_b`` of each bin (the ℓ1 binned ECE).
``ece_debiased``
    The debiased estimator of the *squared* (ℓ2) binned calibration error of Kumar, Liang
    and Ma (2019, "Verified uncertainty calibration"), reported as its square root:
    ``√max(0, Σ_b (W_b / W) [(ȳ_b − p̄_b)² − ȳ_b (1 − ȳ_b) / (W_b − 1)])``. The plug-in
    ``(ȳ_b − p̄_b)²`` overestimates the squared gap by the sampling variance of ``ȳ_b``
    (even perfectly calibrated probabilities show a gap of order ``1/√W_b``); the
    subtracted term is that variance's unbiased estimate, so the sum is unbiased for the
    squared calibration error of the binned model. Bins with ``W_b ≤ 1`` get no
    correction.
``calibration_slope_error``, ``calibration_intercept_error``
    Logistic recalibration (Cox 1958): ``logit P(y = 1) = a + b · logit(p)`` fitted by
    weighted maximum likelihood over the distinct scores (Newton's method with step
    halving on the histogram: the same estimate as a logistic regression on the rows).
    Calibrated probabilities have ``b = 1`` and ``a = 0``; the registry needs a direction,
    so the metrics are ``|b − 1|`` and ``|a|`` (lower is better); the signed ``a`` and
    ``b`` are :func:`recalibration` and the result's reliability curves. ``b < 1``:
    over-confident probabilities (too extreme); ``b > 1``: under-confident. ``a`` is the
    recalibrated log-odds at ``p = 0.5``, taken jointly with ``b``. Undefined when the
    score separates the classes (the maximum-likelihood slope is infinite).

Probabilities of exactly 0 or 1 are clipped to ``[eps, 1 − eps]`` before their logit, as
for log loss; logit scores are used as they are. All are undefined for ``score_type:
score`` (no probabilities), on no rows and on one class.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from mlscope.metrics import fast
from mlscope.metrics.arith import INT32_SUM_LIMIT, cumsum_exact
from mlscope.metrics.arith import safe_div as _div
from mlscope.metrics.binary_proba import not_probability_reason
from mlscope.metrics.binary_reasons import one_class_reason, rows_reason
from mlscope.metrics.links import CLIP_EPS, probability
from mlscope.metrics.logistic_fit import fit_logistic, separated, warm_start
from mlscope.metrics.pairwise import BLOCK
from mlscope.metrics.spec import MetricSpec, ParamSpec
from mlscope.metrics.stats import BinaryStats

__all__ = [
    "SPECS",
    "bin_index",
    "ece",
    "ece_debiased",
    "recalibration",
    "recalibration_fit",
    "reliability_bins",
    "reliability_figures",
]

FloatArray = npt.NDArray[np.float64]
DEFAULT_BINS = 15


def _ascending(stats: BinaryStats, *, log_odds: bool = True
               ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``(p, x, pos, neg)`` in ascending order of probability: ``x`` is the log-odds
    (an empty array when ``log_odds`` is False: the bins do not read it, and its two
    logarithms per distinct score are most of this function's cost)."""
    if stats.score_type == "logit":
        x = np.asarray(stats.scores, dtype=np.float64)[::-1]
        p = probability(x, "logit")
    else:
        p = np.asarray(stats.scores, dtype=np.float64)[::-1]
        x = _log_odds(p) if log_odds else np.zeros(0)
    return p, x, stats.pos[..., ::-1], stats.neg[..., ::-1]


def _log_odds(p: FloatArray) -> FloatArray:
    """``log(q) − log1p(−q)`` of ``q = clip(p, eps, 1 − eps)``, a block of
    :data:`~mlscope.metrics.logistic_fit.BLOCK` values at a time: each operation is
    elementwise (the same value at any position), so the whole array's bits, with two
    block-sized buffers instead of two temporaries the size of ``p``."""
    x = np.empty(p.shape)
    q = np.empty(min(p.size, BLOCK))
    lq = np.empty_like(q)
    for lo in range(0, p.size, BLOCK):
        hi = min(lo + BLOCK, p.size)
        qb, lb = q[:hi - lo], lq[:hi - lo]
        np.clip(p[lo:hi], CLIP_EPS, 1.0 - CLIP_EPS, out=qb)
        np.negative(qb, out=lb)
        np.log1p(lb, out=lb)
        np.log(qb, out=qb)
        np.subtract(qb, lb, out=x[lo:hi])
    return x


def bin_index(weight: FloatArray, bins: int, whole: bool | None = None
              ) -> npt.NDArray[np.intp]:
    """Equal-mass bin of each distinct score (ascending order), per batch element.

    Parameters
    ----------
    weight
        ``(*batch, m)`` weight at each distinct score, in ascending order of probability.
    bins
        Number of bins ``B``.
    whole
        True when the caller knows that ``weight`` holds row counts that int32 sums
        exactly (:func:`~mlscope.metrics.arith.is_whole`); the cumulative weight is then
        summed in int32 (the same numbers). None: unknown.

    Returns
    -------
    numpy.ndarray
        Integer bin in ``[0, B)`` of shape ``weight.shape``: the bin holding the middle of
        the score's mass. Scores without weight go to a bin but add nothing to it.
    """
    total = weight.sum(axis=-1, keepdims=True)
    # One row (a curve) of unknown weights: NumPy's own cumsum, which cumsum_exact equals
    # bit for bit and which is the faster of the two there when it must check the weights.
    # Then, in the cumsum's buffer, the same operations as
    # ``min(floor(where(total > 0, mid / total, 0) · B), B − 1)``.
    if whole:
        mid = cumsum_exact(weight, whole=True)
    else:
        mid = np.cumsum(weight, axis=-1) if weight.ndim == 1 else cumsum_exact(weight)
    mid -= 0.5 * weight
    has = total > 0
    np.divide(mid, np.where(has, total, 1.0), out=mid)
    if not bool(has.all()):
        np.copyto(mid, 0.0, where=~has)
    mid *= bins
    np.floor(mid, out=mid)
    np.minimum(mid, bins - 1, out=mid)
    idx: npt.NDArray[np.intp] = mid.astype(np.intp)
    return idx


def _run_sums(idx: npt.NDArray[np.intp], bins: int,
              values: tuple[tuple[FloatArray, bool], ...]) -> list[FloatArray] | None:
    """Per bin, the sum of each of ``values`` over one row's bins ``idx``, when ``idx``
    is non-decreasing (each bin a run of consecutive scores); None otherwise.

    ``np.bincount`` adds each bin's values one after the other in index order, from 0:
    a run's cumulative sum makes the same additions in the same order (its last element,
    plus 0 for bincount's start: ``-0.0 + 0 = 0``), so the same bits. Values flagged
    whole (row counts, :func:`~mlscope.metrics.arith.is_whole`) sum exactly in any order:
    their runs take NumPy's pairwise sum, several times faster.
    """
    m = idx.size
    if m == 0 or idx[0] < 0 or idx[-1] >= bins or not bool(np.all(idx[1:] >= idx[:-1])):
        return None
    edges = np.searchsorted(idx, np.arange(bins + 1)).tolist()
    out = []
    for val, whole in values:
        v = np.asarray(val, dtype=np.float64)
        sums = np.zeros(bins)
        for b in range(bins):
            lo, hi = edges[b], edges[b + 1]
            if hi <= lo:
                continue
            if whole:
                sums[b] = v[lo:hi].sum()
            else:
                sums[b] = np.cumsum(v[lo:hi])[-1] + 0.0
        out.append(sums)
    return out


def _binned(stats: BinaryStats, bins: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per bin: weight ``W_b``, weighted sum of probabilities and of labels, ``(*batch, B)``."""
    # Row counts (the point estimate of unweighted rows): their sums are exact.
    whole_pos = stats.pos.ndim == 1 and stats.whole("pos")
    total = float(stats.total_pos + stats.total_neg) if whole_pos else 0.0
    whole_w = whole_pos and stats.whole("neg") and total <= INT32_SUM_LIMIT
    if whole_w and stats.score_type == "probability":
        # One compiled pass when the engine loaded the kernels: the same bins and sums.
        got = fast.curve_bins(stats.scores, stats.pos, stats.neg, total, bins)
        if got is not None:
            return got[0], got[1], got[2]
    p, _, pos, neg = _ascending(stats, log_odds=False)
    w = pos + neg
    idx = bin_index(w, bins, whole=whole_w or None)
    if w.ndim == 1:
        runs = _run_sums(idx, bins, ((w, whole_w), (w * p, False), (pos, whole_pos)))
        if runs is not None:
            return runs[0], runs[1], runs[2]
    shape = (*w.shape[:-1], bins)
    # One weighted bincount per sum over the flattened batch (batch element × bin): it adds
    # the values in the same order as ``np.add.at`` did, so the sums are the same bits, at
    # a fraction of the cost on a histogram of a million distinct scores.
    flat = int(np.prod(shape[:-1], dtype=np.int64))
    per = idx.reshape(flat, -1)
    if flat > 1:
        per = per + (np.arange(flat, dtype=np.intp) * bins)[:, None]
    key = per.ravel()
    sums = [
        np.bincount(key, weights=np.asarray(val, dtype=np.float64).reshape(-1),
                    minlength=flat * bins).astype(np.float64).reshape(shape)
        for val in (w, w * p, pos)
    ]
    return sums[0], sums[1], sums[2]


def _defined(stats: BinaryStats) -> npt.NDArray[np.bool_]:
    """Batch elements with both classes present (and probabilities)."""
    ok = (stats.total_pos > 0) & (stats.total_neg > 0)
    return np.asarray(ok & (stats.score_type != "score"), dtype=np.bool_)


def ece(stats: BinaryStats, bins: int = DEFAULT_BINS) -> FloatArray:
    """Expected calibration error with ``bins`` equal-mass bins (ℓ1).

    Parameters
    ----------
    stats
        Binary statistics, batch dimensions allowed.
    bins
        Number of equal-mass bins.

    Returns
    -------
    numpy.ndarray
        Shape ``stats.batch_shape``; NaN without rows, with one class, or for
        ``score_type: score``.
    """
    if stats.score_type == "score":
        return np.full(stats.batch_shape, np.nan)
    return _ece_of(stats, *_binned(stats, bins))


def _ece_of(stats: BinaryStats, w: FloatArray, sp: FloatArray, sy: FloatArray
            ) -> FloatArray:
    gap = np.abs(sy - sp).sum(axis=-1)  # Σ_b W_b |ȳ_b − p̄_b|
    out = _div(gap, w.sum(axis=-1))
    return np.where(_defined(stats), out, np.nan)


def ece_debiased(stats: BinaryStats, bins: int = DEFAULT_BINS) -> FloatArray:
    """Square root of Kumar et al.'s debiased squared (ℓ2) calibration error.

    Parameters
    ----------
    stats
        Binary statistics, batch dimensions allowed.
    bins
        Number of equal-mass bins.

    Returns
    -------
    numpy.ndarray
        Shape ``stats.batch_shape``; 0 where the debiased estimate is negative (no
        miscalibration detectable beyond the noise); NaN as for :func:`ece`.
    """
    if stats.score_type == "score":
        return np.full(stats.batch_shape, np.nan)
    return _ece_debiased_of(stats, *_binned(stats, bins))


def _ece_debiased_of(stats: BinaryStats, w: FloatArray, sp: FloatArray, sy: FloatArray
                     ) -> FloatArray:
    has = w > 0
    wsafe = np.where(has, w, 1.0)
    ybar, pbar = sy / wsafe, sp / wsafe
    big = w > 1
    var = np.where(big, ybar * (1.0 - ybar) / np.where(big, w - 1.0, 1.0), 0.0)
    terms = np.where(has, w * ((ybar - pbar) ** 2 - var), 0.0)
    sq = _div(terms.sum(axis=-1), w.sum(axis=-1))
    out = np.sqrt(np.maximum(sq, 0.0))
    return np.where(_defined(stats), out, np.nan)


def reliability_figures(stats: BinaryStats, bins: int = DEFAULT_BINS
                        ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """:func:`reliability_bins`, :func:`ece` and :func:`ece_debiased` from one binning.

    Parameters
    ----------
    stats
        Binary statistics without batch dimensions.
    bins
        Number of equal-mass bins.

    Returns
    -------
    tuple of numpy.ndarray
        ``(mean probability, observed rate, weight, ece, ece_debiased)``: the same values
        as the three functions, which would each bin the scores again.
    """
    if stats.score_type == "score" or stats.batch_shape:
        empty = np.zeros(0)
        return empty, empty, empty, ece(stats, bins), ece_debiased(stats, bins)
    w, sp, sy = _binned(stats, bins)
    keep = w > 0
    return (sp[keep] / w[keep], sy[keep] / w[keep], w[keep], _ece_of(stats, w, sp, sy),
            _ece_debiased_of(stats, w, sp, sy))


def _nondecreasing(x: FloatArray) -> bool:
    """Whether the log-odds ``x`` (one row) are finite and in nondecreasing order."""
    return bool(x.ndim == 1 and x.size and np.isfinite(x[0]) and np.isfinite(x[-1])
                and np.all(x[1:] >= x[:-1]))


def _separated(x: FloatArray, pos: FloatArray, neg: FloatArray,
               ascending: bool | None = None) -> npt.NDArray[np.bool_]:
    """Whether the log-odds weakly separate the classes (or are all equal): no finite MLE.

    ``x`` is in ascending order of probability, and the log-odds are nondecreasing in it
    (checked: rounding could in principle reorder neighbours): then the extremes of ``x``
    over the scores with positives are at the first and last such score, found from one
    boolean array instead of four float ones. The same values as the masked extremes.
    ``ascending`` is :func:`_nondecreasing` of ``x`` when the caller has it.
    """
    if ascending is None:
        ascending = _nondecreasing(x)
    if ascending:
        return _separated_sorted(x, pos, neg)
    return separated(x, pos, neg)


def _extremes(x: FloatArray, has: npt.NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
    """``(min, max)`` of the nondecreasing ``x`` where ``has``, per batch element
    (``+inf``, ``-inf`` where none)."""
    m = x.size
    first = np.argmax(has, axis=-1)
    last = m - 1 - np.argmax(has[..., ::-1], axis=-1)
    some = np.take_along_axis(has, first[..., None], axis=-1)[..., 0]
    return np.where(some, x[first], np.inf), np.where(some, x[last], -np.inf)


def _separated_sorted(x: FloatArray, pos: FloatArray, neg: FloatArray
                      ) -> npt.NDArray[np.bool_]:
    min_pos, max_pos = _extremes(x, pos > 0)
    min_neg, max_neg = _extremes(x, neg > 0)
    return np.asarray((max_neg <= min_pos) | (max_pos <= min_neg), dtype=np.bool_)


def recalibration(stats: BinaryStats) -> tuple[FloatArray, FloatArray]:
    """Logistic recalibration ``logit P(y = 1) = a + b · logit(p)`` by maximum likelihood.

    Newton's method on the distinct scores, their weighted positives and negatives the
    binomial counts, with step halving (the log-likelihood never decreases), to a step
    below ``1e-10``; started from the same fit on a compression of the histogram
    (:func:`mlscope.metrics.logistic_fit.warm_start`) on many distinct scores, from
    ``(0, 1)`` on few.

    Parameters
    ----------
    stats
        Binary statistics, batch dimensions allowed.

    Returns
    -------
    tuple of numpy.ndarray
        ``(a, b)``: intercept and slope, each of shape ``stats.batch_shape``; NaN where the
        fit has no finite maximum (one class, the classes separated by the score, a
        single distinct score), without rows, or for ``score_type: score``.
    """
    a, b, _se = recalibration_fit(stats, with_se=False)
    return a, b


def recalibration_fit(stats: BinaryStats, counter: list[int] | None = None,
                      with_se: bool = True) -> tuple[FloatArray, FloatArray, FloatArray]:
    """:func:`recalibration` and the slope's standard error, from one fit.

    Parameters
    ----------
    stats
        Binary statistics, batch dimensions allowed.
    counter
        When given, its first item is increased by the number of full passes over the
        distinct scores that the fit made (benchmarks, tests).
    with_se
        Whether to compute the standard error (all NaN when False).

    Returns
    -------
    tuple of numpy.ndarray
        ``(a, b, se_b)``, each of shape ``stats.batch_shape``: ``se_b`` is the square root
        of the inverse Fisher information's slope entry at the fit (NaN where ``b`` is, or
        where the information is singular).
    """
    batch = stats.batch_shape
    if stats.score_type == "score":
        nan = np.full(batch, np.nan)
        return nan, nan.copy(), nan.copy()
    _, x, pos, neg = _ascending(stats)
    pos = np.asarray(pos, dtype=np.float64)
    neg = np.asarray(neg, dtype=np.float64)
    ascending = _nondecreasing(x)
    ok = _defined(stats) & ~_separated(x, pos, neg, ascending)
    # The compression cuts ``x`` into consecutive blocks: it needs them in order.
    start = warm_start(x, pos, neg, ok) if ascending else None
    return fit_logistic(x, pos, neg, ok, start=start, counter=counter, with_se=with_se)


def reliability_bins(stats: BinaryStats, bins: int = DEFAULT_BINS
                     ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The reliability diagram's points: per non-empty equal-mass bin, in ascending order.

    Parameters
    ----------
    stats
        Binary statistics without batch dimensions.
    bins
        Number of equal-mass bins.

    Returns
    -------
    tuple of numpy.ndarray
        ``(mean probability, observed positive rate, weight)`` of each non-empty bin;
        empty for ``score_type: score``.
    """
    if stats.score_type == "score" or stats.batch_shape:
        empty = np.zeros(0)
        return empty, empty, empty
    w, sp, sy = _binned(stats, bins)
    keep = w > 0
    return sp[keep] / w[keep], sy[keep] / w[keep], w[keep]


# --------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------

_BINS = ParamSpec(kind="int", default=DEFAULT_BINS, low=1, high=10_000,
                  doc="number of equal-mass (quantile) bins of the probabilities")


def _why(stats: BinaryStats, **_: Any) -> str | None:
    return rows_reason(stats) or not_probability_reason(stats) or one_class_reason(stats)


def _why_fit(stats: BinaryStats, **_: Any) -> str | None:
    reason = _why(stats)
    if reason is not None:
        return reason
    _p, x, pos, neg = _ascending(stats)
    if bool(_separated(x, pos, neg)):
        return ("the score separates the classes (or takes a single value): the "
                "recalibration slope has no finite maximum-likelihood estimate")
    return None


def _fn_ece(stats: BinaryStats, bins: int = DEFAULT_BINS, **_: Any) -> FloatArray:
    return ece(stats, bins)


def _fn_ece_debiased(stats: BinaryStats, bins: int = DEFAULT_BINS, **_: Any) -> FloatArray:
    return ece_debiased(stats, bins)


def _fn_slope_error(stats: BinaryStats, **_: Any) -> FloatArray:
    return np.asarray(np.abs(recalibration(stats)[1] - 1.0), dtype=np.float64)


def _fn_intercept_error(stats: BinaryStats, **_: Any) -> FloatArray:
    return np.asarray(np.abs(recalibration(stats)[0]), dtype=np.float64)


_BINARY = frozenset({"binary"})
SPECS: list[MetricSpec] = [
    MetricSpec(
        name="ece", tasks=_BINARY, direction="lower", fn=_fn_ece, undefined=_why,
        description="Expected calibration error: weighted mean |observed rate − mean "
                    "probability| over `bins` equal-mass bins of the probabilities.",
        label="ECE", params={"bins": _BINS}, bounds=(0.0, 1.0), needs_probability=True),
    MetricSpec(
        name="ece_debiased", tasks=_BINARY, direction="lower", fn=_fn_ece_debiased,
        undefined=_why,
        description="Square root of the debiased squared calibration error (Kumar et al. "
                    "2019) over `bins` equal-mass bins: the plug-in gap less each bin's "
                    "sampling variance, so calibrated probabilities score near 0.",
        label="ECE (debiased)", params={"bins": _BINS}, bounds=(0.0, 1.0),
        needs_probability=True),
    MetricSpec(
        name="calibration_slope_error", tasks=_BINARY, direction="lower",
        fn=_fn_slope_error, undefined=_why_fit,
        description="|b − 1| for the logistic recalibration logit P(y=1) = a + b·logit(p) "
                    "(maximum likelihood): b < 1 over-confident, b > 1 under-confident.",
        label="Calibration slope error", bounds=(0.0, None), needs_probability=True),
    MetricSpec(
        name="calibration_intercept_error", tasks=_BINARY, direction="lower",
        fn=_fn_intercept_error, undefined=_why_fit,
        description="|a| for the logistic recalibration logit P(y=1) = a + b·logit(p) "
                    "(maximum likelihood): the recalibrated log-odds at p = 0.5.",
        label="Calibration intercept error", bounds=(0.0, None), needs_probability=True),
]
