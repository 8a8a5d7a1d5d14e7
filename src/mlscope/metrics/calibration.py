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

from mlscope.metrics.arith import cumsum_exact
from mlscope.metrics.arith import safe_div as _div
from mlscope.metrics.binary_proba import not_probability_reason
from mlscope.metrics.binary_reasons import one_class_reason, rows_reason
from mlscope.metrics.links import probability
from mlscope.metrics.spec import MetricSpec, ParamSpec
from mlscope.metrics.stats import BinaryStats

__all__ = [
    "SPECS",
    "bin_index",
    "ece",
    "ece_debiased",
    "recalibration",
    "reliability_bins",
    "reliability_figures",
]

FloatArray = npt.NDArray[np.float64]
_EPS = float(np.finfo(np.float64).eps)
DEFAULT_BINS = 15
_MAX_ITER = 100
_TOL = 1e-10


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
        if log_odds:
            q = np.clip(p, _EPS, 1.0 - _EPS)
            # ``log(q) − log1p(−q)`` on two arrays instead of five (the same operations).
            lq = np.negative(q)
            np.log1p(lq, out=lq)
            x = np.log(q, out=q)
            x -= lq
            del lq
        else:
            x = np.zeros(0)
    return p, x, stats.pos[..., ::-1], stats.neg[..., ::-1]


def bin_index(weight: FloatArray, bins: int) -> npt.NDArray[np.intp]:
    """Equal-mass bin of each distinct score (ascending order), per batch element.

    Parameters
    ----------
    weight
        ``(*batch, m)`` weight at each distinct score, in ascending order of probability.
    bins
        Number of bins ``B``.

    Returns
    -------
    numpy.ndarray
        Integer bin in ``[0, B)`` of shape ``weight.shape``: the bin holding the middle of
        the score's mass. Scores without weight go to a bin but add nothing to it.
    """
    total = weight.sum(axis=-1, keepdims=True)
    mid = cumsum_exact(weight) - 0.5 * weight
    frac = np.where(total > 0, mid / np.where(total > 0, total, 1.0), 0.0)
    idx: npt.NDArray[np.intp] = np.minimum(np.floor(frac * bins), bins - 1).astype(np.intp)
    return idx


def _binned(stats: BinaryStats, bins: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per bin: weight ``W_b``, weighted sum of probabilities and of labels, ``(*batch, B)``."""
    p, _, pos, neg = _ascending(stats, log_odds=False)
    w = pos + neg
    idx = bin_index(w, bins)
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


def _separated(x: FloatArray, pos: FloatArray, neg: FloatArray) -> npt.NDArray[np.bool_]:
    """Whether the log-odds weakly separate the classes (or are all equal): no finite MLE."""
    inf = np.inf
    min_pos = np.where(pos > 0, x, inf).min(axis=-1, initial=inf)
    max_pos = np.where(pos > 0, x, -inf).max(axis=-1, initial=-inf)
    min_neg = np.where(neg > 0, x, inf).min(axis=-1, initial=inf)
    max_neg = np.where(neg > 0, x, -inf).max(axis=-1, initial=-inf)
    return np.asarray((max_neg <= min_pos) | (max_pos <= min_neg), dtype=np.bool_)


def _loglik(a: FloatArray, b: FloatArray, x: FloatArray, pos: FloatArray,
            neg: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The log-likelihood at ``(a, b)``, and the linear predictor ``η = a + b·x`` it used.

    ``−Σ [pos · log(1 + e^(−η)) + neg · log(1 + e^η)]``, both terms from one ``logaddexp``
    per distinct score: NumPy's ``logaddexp(0, ±η)`` is ``L = log1p(exp(−|η|))`` for its
    smaller term and ``|η| + L`` for the larger, and ``L = logaddexp(0, −|η|)``; so the
    terms are ``L + max(∓η, 0)``, the same bits as two ``logaddexp`` calls (checked in the
    tests) at about half the cost: ``logaddexp`` is scalar code, the rest vectorised.
    """
    eta = b[..., None] * x
    eta += a[..., None]
    big = np.abs(eta)
    np.negative(big, out=big)
    L = np.logaddexp(0.0, big, out=big)
    term = np.negative(eta)
    np.maximum(term, 0.0, out=term)
    term += L
    term *= pos  # pos · log(1 + e^(−η))
    # ``max(η, 0) + L`` in L's own buffer: ``η + L`` where η is positive (or NaN, which
    # max propagates), ``L`` itself elsewhere (``0 + L`` is ``L`` exactly, L ≥ 0): the
    # same bits as ``np.maximum(eta, 0.0) + L`` without a third row-sized array.
    np.add(L, eta, out=L, where=~(eta <= 0.0))
    L *= neg  # neg · log(1 + e^η)
    term += L
    # Σ(−v) is −Σv exactly (negation commutes with rounding): no negated array.
    return np.asarray(-term.sum(axis=-1), dtype=np.float64), eta


def recalibration(stats: BinaryStats) -> tuple[FloatArray, FloatArray]:
    """Logistic recalibration ``logit P(y = 1) = a + b · logit(p)`` by maximum likelihood.

    Newton's method on the distinct scores, their weighted positives and negatives the
    binomial counts, started at ``(a, b) = (0, 1)`` with step halving (the log-likelihood
    never decreases), to a step below ``1e-10``.

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
    batch = stats.batch_shape
    if stats.score_type == "score":
        return np.full(batch, np.nan), np.full(batch, np.nan)
    _, x, pos, neg = _ascending(stats)
    pos = np.asarray(pos, dtype=np.float64)
    neg = np.asarray(neg, dtype=np.float64)
    ok = _defined(stats) & ~_separated(x, pos, neg)
    a, b = np.zeros(batch), np.ones(batch)
    done = ~ok
    # ``eta`` is always ``a + b·x`` at the current (a, b): the accepted candidate's, kept
    # from its log-likelihood rather than computed again (the same bits).
    ll, eta = _loglik(a, b, x, pos, neg)
    n = pos + neg
    for _ in range(_MAX_ITER):
        if bool(done.all()):
            break
        mu = np.negative(eta)
        np.exp(mu, out=mu)
        mu += 1.0
        np.divide(1.0, mu, out=mu)  # 1 / (1 + e^(−η))
        nmu = n * mu
        r = pos - nmu
        g0 = r.sum(axis=-1)
        r *= x  # in place (each sum is taken before): the same bits, fewer arrays
        g1 = r.sum(axis=-1)
        del r
        np.subtract(1.0, mu, out=mu)
        v = nmu
        v *= mu  # n·μ·(1 − μ)
        del mu
        h00 = v.sum(axis=-1)
        v *= x
        h01 = v.sum(axis=-1)
        v *= x
        h11 = v.sum(axis=-1)
        del nmu, v
        det = h00 * h11 - h01 * h01
        good = ~done & (det > 0) & np.isfinite(det)
        dsafe = np.where(good, det, 1.0)
        da = np.where(good, (h11 * g0 - h01 * g1) / dsafe, 0.0)
        db = np.where(good, (h00 * g1 - h01 * g0) / dsafe, 0.0)
        step, accepted = 1.0, ~good
        for _half in range(40):
            na, nb = a + step * da, b + step * db
            nll, neta = _loglik(na, nb, x, pos, neg)
            take = ~accepted & (nll >= ll - 1e-12 * np.abs(ll))
            a, b = np.where(take, na, a), np.where(take, nb, b)
            ll = np.where(take, nll, ll)
            if bool(take.all()):
                eta = neta
            elif bool(take.any()):
                eta = np.where(take[..., None], neta, eta)
            accepted = accepted | take
            if bool(accepted.all()):
                break
            step /= 2.0
        small = (np.abs(da) <= _TOL * (1.0 + np.abs(a))) & (np.abs(db) <= _TOL * (1.0 + np.abs(b)))
        done = done | small | ~good
    ok = ok & np.isfinite(a) & np.isfinite(b)
    return np.where(ok, a, np.nan), np.where(ok, b, np.nan)


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
