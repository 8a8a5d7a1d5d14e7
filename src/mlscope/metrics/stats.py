"""Sufficient statistics: what a backend aggregates rows into, and metrics are computed from.

Every statistic is a weighted *sum or count* (never a mean), so statistics of disjoint row
sets merge by addition and bootstrap replicates are the same statistics computed with
resampling weights. Count arrays may carry leading *batch* dimensions (one per bootstrap
replicate); metric functions are vectorised over them.

The histograms over distinct values are what make the metrics exact: ROC AUC, average
precision, log loss, and every threshold metric are functions of the weighted number of
positives and negatives at each distinct score, exactly as scikit-learn computes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mlscope.metrics.arith import INT32_SUM_LIMIT, cumsum_exact, is_whole

__all__ = [
    "BinaryStats",
    "ErrorStats",
    "MulticlassStats",
    "RegressionStats",
    "ScoresByClass",
    "Stats",
    "binary_stats",
    "error_stats",
    "multiclass_stats",
    "regression_stats",
    "scores_by_class",
]

FloatArray = npt.NDArray[np.float64]
# Multiclass log loss clips probabilities like scikit-learn does (to the dtype's eps).
_EPS = float(np.finfo(np.float64).eps)


def _bincount(idx: npt.NDArray[np.intp], weights: FloatArray, m: int) -> FloatArray:
    # Weighted bincount is float64 at run time; NumPy's stubs type it as integer.
    return np.asarray(np.bincount(idx, weights=weights, minlength=m), dtype=np.float64)


def _as_weights(n: int, weight: npt.ArrayLike | None) -> FloatArray:
    if weight is None:
        return np.ones(n, dtype=np.float64)
    return np.asarray(weight, dtype=np.float64)


@dataclass(frozen=True)
class BinaryStats:
    """Weighted positives and negatives at each distinct score.

    Attributes
    ----------
    scores
        Distinct scores, shape ``(m,)``, strictly **descending**.
    pos, neg
        Weighted count of positive / negative rows at each score, shape ``(*batch, m)``.
        Bins may be empty (zero in both) in bootstrap replicates.
    n_rows
        Number of rows (unweighted) the point estimate was computed on.
    loss_sums
        Optional exact sums of per-row loss terms (``"brier"``: weighted ``(s − y)²``;
        ``"log_loss"``: weighted clipped ``−log p(y)``), summed over the last axis by the
        metric: per bin (shape like ``pos``) when a bin holds several scores (binned
        mode), so that these metrics stay exact, or one sum per cell (shape ``(*batch,
        1)``) when the engine summed the rows' terms directly; without them they are
        computed from ``scores``.
    score_type
        What the scores are (:mod:`mlscope.metrics.links`): ``"probability"``, ``"logit"``
        (kept raw so that ranking is exact; log loss and Brier apply the link) or
        ``"score"`` (ranking only).
    counts
        True when the producer knows that ``pos`` and ``neg`` are row counts (every row
        weighing 1: whole numbers, none negative nor ``-0.0``), so that :meth:`whole`
        need not check them. False: unknown (checked when asked).
    """

    scores: FloatArray
    pos: FloatArray
    neg: FloatArray
    n_rows: int
    loss_sums: Mapping[str, FloatArray] | None = None
    score_type: str = "probability"
    counts: bool = False

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self.pos.shape[:-1])

    @property
    def total_pos(self) -> FloatArray:
        return self._totals()[0].copy()

    @property
    def total_neg(self) -> FloatArray:
        return self._totals()[1].copy()

    def _totals(self) -> tuple[FloatArray, FloatArray]:
        # Every metric of a slice reads the class totals, each a sum over up to a million
        # distinct scores: summed once per statistics object (which is frozen), handed
        # out as copies so that no caller can change the kept ones.
        got = self.__dict__.get("_totals_kept")
        if got is None:
            got = (np.asarray(self.pos.sum(axis=-1), dtype=np.float64),
                   np.asarray(self.neg.sum(axis=-1), dtype=np.float64))
            object.__setattr__(self, "_totals_kept", got)
        return got

    def _kept(self, name: str) -> dict[Any, Any]:
        """The dict ``name`` of values kept on this (frozen) object, made on first use."""
        kept: dict[Any, Any] | None = self.__dict__.get(name)
        if kept is None:
            kept = {}
            object.__setattr__(self, name, kept)
        return kept

    def memo(self, key: str, make: Callable[[], FloatArray]) -> FloatArray:
        """``make()``, computed once per statistics object (which is frozen) and ``key``,
        handed out as copies: for a metric that more than one stage reads (the ROC AUC of
        the overall slice: its value, and the reliability curve's)."""
        kept: dict[str, FloatArray] = self._kept("_memo_kept")
        got = kept.get(key)
        if got is None:
            got = make()
            kept[key] = got
        return got.copy()

    def whole(self, which: str) -> bool:
        """:func:`~mlscope.metrics.arith.is_whole` of ``pos`` or ``neg`` (``which``):
        whether they are row counts that int32 sums exactly. Checked once per statistics
        object (every ranking metric and the reliability bins ask)."""
        kept: dict[str, bool] = self._kept("_whole_kept")
        got = kept.get(which)
        if got is None:
            if self.counts and self.pos.dtype == np.float64 == self.neg.dtype:
                # Known counts: only their sums must stay below int32's limit.
                total = self._totals()[0 if which == "pos" else 1]
                got = bool(self.pos.size) and float(np.max(total)) <= INT32_SUM_LIMIT
            else:
                got = is_whole(self.pos if which == "pos" else self.neg)
            kept[which] = got
        return got

    def cum_pos(self) -> FloatArray:
        """``np.cumsum(pos, axis=-1)`` in a fresh array: the positives at or above each
        score (ROC AUC and average precision start from it). Row counts (:meth:`whole`)
        are summed in int32 (the same numbers as float64's sum, several times faster),
        other weights by ``np.cumsum``. Not kept: a charter that asks for one of the two
        metrics would otherwise hold an extra array per cell for the model's lifetime."""
        return cumsum_exact(self.pos, whole=self.whole("pos"))

    def split_at(self, k: int) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Weighted ``(pos, neg)`` summed over the first ``k`` bins (the highest scores)
        and over the rest: ``(tp, fp, fn, tn)`` when those ``k`` bins are predicted positive.

        Each count is summed from its own bins (not as total minus the rest), so that an
        empty side is exactly 0. Kept per ``k``: a slice's threshold metrics (accuracy,
        precision, recall, F1, ... and their reasons) all read the same four sums, each
        over up to a million bins; handed out as copies like the class totals.
        """
        kept: dict[int, tuple[FloatArray, ...]] = self._kept("_split_kept")
        got = kept.get(k)
        if got is None:
            got = tuple(np.asarray(part.sum(axis=-1), dtype=np.float64) for part in (
                self.pos[..., :k], self.neg[..., :k], self.pos[..., k:], self.neg[..., k:]))
            kept[k] = got
        tp, fp, fn, tn = (c.copy() for c in got)
        return tp, fp, fn, tn

    def merge(self, other: BinaryStats) -> BinaryStats:
        """Statistics of the union of two disjoint row sets."""
        scores = np.unique(np.concatenate([self.scores, other.scores]))[::-1]
        pos = np.zeros((*self.batch_shape, scores.size))
        neg = np.zeros_like(pos)
        for part in (self, other):
            idx = np.searchsorted(-scores, -part.scores)
            pos[..., idx] += part.pos
            neg[..., idx] += part.neg
        return BinaryStats(scores, pos, neg, self.n_rows + other.n_rows,
                           score_type=self.score_type, counts=self.counts and other.counts)


@dataclass(frozen=True)
class ScoresByClass:
    """One score column's weighted histogram over (score, true class) pairs.

    What one-vs-one ROC AUC needs: the AUC of class ``a`` against class ``b`` ranks
    ``score_a`` on the rows of ``a`` against ``score_a`` on the rows of ``b``, which the
    one-vs-rest histogram (rows of ``b`` pooled with every other class) cannot give.
    Stored sparsely (only pairs that occur), so it is no larger than that histogram.

    Attributes
    ----------
    scores
        ``(m,)`` the score of each pair, **descending** (a score occurs once per true
        class holding it, in adjacent entries).
    cls
        ``(m,)`` the pair's true class, an index into ``MulticlassStats.classes``.
    weight
        ``(*batch, m)`` weighted count of rows of that class at that score.
    """

    scores: FloatArray
    cls: npt.NDArray[np.int64]
    weight: FloatArray


@dataclass(frozen=True)
class MulticlassStats:
    """Statistics for a multiclass classifier that outputs one probability per class.

    Attributes
    ----------
    classes
        Class labels, in the order of the score columns.
    confusion
        ``(*batch, K, K)`` weighted counts, ``[true class, predicted class]``; the predicted
        class is the arg-max of the scores (the first one on ties, like ``numpy.argmax``).
    topk_hits
        ``(*batch, K)``: weighted count of rows whose true class is among the ``k``
        highest-scored classes, for ``k = 1..K`` (ties broken as scikit-learn's
        ``top_k_accuracy_score`` does).
    log_loss_sum
        ``(*batch,)``: weighted sum of ``-log p_true`` after normalising each row to sum 1
        and clipping to ``[eps, 1 - eps]``.
    one_vs_rest
        One :class:`BinaryStats` per class: that class's score against "is this class".
    total
        ``(*batch,)``: total weight.
    by_class
        One :class:`ScoresByClass` per class: that class's score split by true class (for
        one-vs-one ROC AUC); None where a producer does not collect it.
    """

    classes: tuple[str, ...]
    confusion: FloatArray
    topk_hits: FloatArray
    log_loss_sum: FloatArray
    one_vs_rest: tuple[BinaryStats, ...]
    total: FloatArray
    n_rows: int
    by_class: tuple[ScoresByClass, ...] | None = None

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self.total.shape)


@dataclass(frozen=True)
class ErrorStats:
    """Weighted histogram of a per-row error (absolute error, or a user's error column).

    Attributes
    ----------
    values
        Distinct values, shape ``(m,)``, ascending.
    weights
        ``(*batch, m)`` weight at each value (a count when rows are unweighted).
    unit_weights
        True when every row had weight 1, so that quantiles follow NumPy's default
        (linear interpolation between order statistics); otherwise the weighted
        (inverted-CDF) definition is used.
    """

    values: FloatArray
    weights: FloatArray
    n_rows: int
    unit_weights: bool = True

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self.weights.shape[:-1])

    @property
    def total(self) -> FloatArray:
        return np.asarray(self.weights.sum(axis=-1), dtype=np.float64)


@dataclass(frozen=True)
class RegressionStats:
    """Sums for regression metrics; ``y`` sums are taken around ``y_shift`` for stability.

    ``sum_y`` is the weighted sum of ``y - y_shift`` and ``sum_y2`` of its square, so the
    total sum of squares is ``sum_y2 - sum_y**2 / total`` without cancellation when
    ``y_shift`` is near the mean.
    """

    total: FloatArray
    sum_err: FloatArray
    sum_abs: FloatArray
    sum_sq: FloatArray
    sum_ape: FloatArray
    sum_y: FloatArray
    sum_y2: FloatArray
    y_shift: float
    abs_errors: ErrorStats
    n_rows: int

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self.total.shape)


Stats = BinaryStats | MulticlassStats | RegressionStats | ErrorStats


# --------------------------------------------------------------------------------------
# Reference constructors from row arrays (NumPy). Backends produce the same objects from
# their aggregated tables; these are used by tests and by the bootstrap.
# --------------------------------------------------------------------------------------


def binary_stats(
    y_true: npt.ArrayLike, score: npt.ArrayLike, weight: npt.ArrayLike | None = None
) -> BinaryStats:
    """Aggregate rows of a binary classifier (labels in {0, 1}) into :class:`BinaryStats`."""
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(score, dtype=np.float64)
    w = _as_weights(y.size, weight)
    scores, inv = np.unique(s, return_inverse=True)
    m = scores.size
    pos = _bincount(inv, w * y, m)
    neg = _bincount(inv, w * ~y, m)
    return BinaryStats(scores[::-1].copy(), pos[::-1].copy(), neg[::-1].copy(), int(y.size))


def error_stats(values: npt.ArrayLike, weight: npt.ArrayLike | None = None) -> ErrorStats:
    """Aggregate a per-row error into :class:`ErrorStats`."""
    v = np.asarray(values, dtype=np.float64)
    w = _as_weights(v.size, weight)
    distinct, inv = np.unique(v, return_inverse=True)
    weights = _bincount(inv, w, distinct.size)
    unit = weight is None or bool(np.all(w == 1.0))
    return ErrorStats(distinct, weights, int(v.size), unit)


def regression_stats(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    weight: npt.ArrayLike | None = None,
    *,
    y_shift: float | None = None,
) -> RegressionStats:
    """Aggregate rows of a regression model into :class:`RegressionStats`."""
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    w = _as_weights(y.size, weight)
    if y_shift is not None:
        shift = y_shift
    elif w.sum() > 0:
        shift = float(np.average(y, weights=w))
    else:
        # All-zero weights (possible, e.g. a bootstrap replicate) have no weighted mean.
        shift = float(y.mean()) if y.size else 0.0
    e = p - y
    ae = np.abs(e)
    yc = y - shift
    # scikit-learn's MAPE divides by max(|y|, eps) so that y == 0 does not divide by zero.
    ape = ae / np.maximum(np.abs(y), _EPS)
    return RegressionStats(
        total=np.asarray(w.sum()),
        sum_err=np.asarray((w * e).sum()),
        sum_abs=np.asarray((w * ae).sum()),
        sum_sq=np.asarray((w * e * e).sum()),
        sum_ape=np.asarray((w * ape).sum()),
        sum_y=np.asarray((w * yc).sum()),
        sum_y2=np.asarray((w * yc * yc).sum()),
        y_shift=shift,
        abs_errors=error_stats(ae, weight),
        n_rows=int(y.size),
    )


def scores_by_class(yi: npt.ArrayLike, score: npt.ArrayLike, k: int,
                    weight: npt.ArrayLike | None = None) -> ScoresByClass:
    """Aggregate one score column by (score, true class) into :class:`ScoresByClass`.

    ``yi`` holds class indices in ``[0, k)``; ``weight`` is ``(n,)`` or, for ``R``
    bootstrap replicates, ``(R, n)`` (the result's weight is then ``(R, m)``).
    """
    y = np.asarray(yi, dtype=np.int64).ravel()
    s = np.asarray(score, dtype=np.float64).ravel()
    W = _as_weights(y.size, weight)
    values, s_inv = np.unique(s, return_inverse=True)
    keys, inv = np.unique(s_inv.ravel().astype(np.int64) * k + y, return_inverse=True)
    m = keys.size
    inv = inv.ravel()
    if W.ndim == 1:
        w = _bincount(inv, W, m)
    else:
        r = W.shape[0]
        flat = (np.arange(r, dtype=np.int64)[:, None] * m + inv[None, :]).ravel()
        w = _bincount(flat, W.ravel(), r * m).reshape(r, m)
    return ScoresByClass(values[keys // k][::-1].copy(), (keys % k)[::-1].copy(),
                         np.ascontiguousarray(w[..., ::-1]))


def multiclass_stats(
    y_true: npt.ArrayLike,
    proba: npt.ArrayLike,
    classes: tuple[str, ...] | list[str],
    weight: npt.ArrayLike | None = None,
) -> MulticlassStats:
    """Aggregate rows of a multiclass classifier into :class:`MulticlassStats`.

    ``y_true`` holds class labels (matched against ``classes`` as strings) and ``proba`` is
    ``(n, K)`` with columns in the order of ``classes``.
    """
    cls = tuple(str(c) for c in classes)
    k = len(cls)
    lookup = {c: i for i, c in enumerate(cls)}
    y_str = np.asarray(y_true).astype(str)
    yi = np.fromiter((lookup[v] for v in y_str), dtype=np.int64, count=y_str.size)
    p = np.asarray(proba, dtype=np.float64).reshape(y_str.size, k)
    w = _as_weights(yi.size, weight)
    pred = np.argmax(p, axis=1) if yi.size else np.zeros(0, dtype=np.int64)
    confusion = _bincount(yi * k + pred, w, k * k).reshape(k, k)
    # Rank of the true class as scikit-learn's top_k_accuracy_score sees it: it sorts the
    # scores with a stable ascending argsort and reverses, so among tied scores the class
    # with the larger index comes first.
    p_true = p[np.arange(yi.size), yi] if yi.size else np.zeros(0)
    above = (p > p_true[:, None]).sum(axis=1)
    idx = np.arange(k)[None, :]
    tied_before = ((p == p_true[:, None]) & (idx > yi[:, None])).sum(axis=1)
    rank = above + tied_before  # 0-based position of the true class
    hits_at = _bincount(rank, w, k)[:k]
    topk_hits = np.cumsum(hits_at)
    norm = p / p.sum(axis=1, keepdims=True) if yi.size else p
    pt = np.clip(norm[np.arange(yi.size), yi], _EPS, 1 - _EPS) if yi.size else np.zeros(0)
    log_loss_sum = np.asarray((w * -np.log(pt)).sum())
    ovr = tuple(binary_stats(yi == c, p[:, c], w) for c in range(k))
    return MulticlassStats(
        classes=cls,
        confusion=confusion,
        topk_hits=topk_hits,
        log_loss_sum=log_loss_sum,
        one_vs_rest=ovr,
        total=np.asarray(w.sum()),
        n_rows=int(yi.size),
        by_class=tuple(scores_by_class(yi, p[:, c], k, w) for c in range(k)),
    )
