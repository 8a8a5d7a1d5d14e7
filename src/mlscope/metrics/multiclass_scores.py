"""Multiclass values of metrics that binary tasks share by name: ROC AUC (one-vs-rest and
one-vs-one), Brier, MCC, Cohen's kappa and balanced accuracy.

:mod:`mlscope.metrics.binary` registers each under its binary name for both tasks and
dispatches here on the statistics' type (as ``accuracy`` and ``log_loss`` do), so that a
multiclass charter asks for ``roc_auc`` like a binary one. Every value equals
scikit-learn's (with ``sample_weight``, ``labels`` = the charter's classes):

* ``roc_auc``, ``multi_class: ovr`` — ``roc_auc_score(multi_class="ovr", average=...)``:
  each class's score against the rest, averaged (``weighted``: by each class's weight).
  Undefined when a class has no rows or all of them (scikit-learn refuses too).
* ``roc_auc``, ``multi_class: ovo`` — Hand & Till (2001), ``roc_auc_score(multi_class=
  "ovo")``: for each pair of classes present, the mean of AUC(a vs b, ``score_a``) and
  AUC(b vs a, ``score_b``) on the rows of the two classes; averaged over pairs
  (``weighted``: by the pair's share of the rows). Like scikit-learn, pairs are formed
  from the classes that have rows. scikit-learn refuses ``sample_weight`` here; mlscope
  weights rows in the pairwise AUCs and the pair shares, which reduces to scikit-learn's
  value with unit weights.
* ``brier`` — ``brier_score_loss`` on the probability matrix: the mean over rows of
  ``Σ_k (p_k − 1[y = k])²``, in ``[0, 2]`` (scikit-learn's default for multiclass).
* ``mcc`` — ``matthews_corrcoef`` of the arg-max class; undefined (scikit-learn: 0) when
  the label or the prediction is constant.
* ``cohen_kappa`` — ``cohen_kappa_score`` of label and arg-max class; undefined when the
  two agree on one constant class (no chance disagreement).
* ``balanced_accuracy`` — ``balanced_accuracy_score``: the mean recall over the classes
  that have rows (scikit-learn drops the others with a warning).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import numpy.typing as npt

from mlscope.metrics.arith import safe_div as _div
from mlscope.metrics.errors import no_rows_reason
from mlscope.metrics.ranking import roc_auc
from mlscope.metrics.stats import BinaryStats, MulticlassStats, ScoresByClass

__all__ = [
    "AVERAGES",
    "MULTI_CLASS",
    "mc_balanced_accuracy",
    "mc_brier",
    "mc_cohen_kappa",
    "mc_mcc",
    "mc_roc_auc",
    "why_mc_balanced_accuracy",
    "why_mc_brier",
    "why_mc_cohen_kappa",
    "why_mc_mcc",
    "why_mc_roc_auc",
]

FloatArray = npt.NDArray[np.float64]
MULTI_CLASS = ("ovr", "ovo")
AVERAGES = ("macro", "weighted")


def _names(stats: MulticlassStats, mask: npt.NDArray[np.bool_]) -> str:
    return ", ".join(f"`{c}`" for c, m in zip(stats.classes, mask, strict=True) if m)


def _rows_reason(stats: MulticlassStats) -> str | None:
    return no_rows_reason(stats.n_rows, stats.total)


def _margins(stats: MulticlassStats) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``(correct, total, true per class, predicted per class)`` of the arg-max confusion.

    The total is the sum of the predicted counts (not ``stats.total``) so that a constant
    prediction gives ``total² − Σ predicted²`` exactly 0.
    """
    c = stats.confusion
    predicted = c.sum(axis=-2)
    true = c.sum(axis=-1)
    return np.trace(c, axis1=-2, axis2=-1), predicted.sum(axis=-1), true, predicted


# --------------------------------------------------------------------------------------
# ROC AUC
# --------------------------------------------------------------------------------------


def _ovr(stats: MulticlassStats) -> FloatArray:
    """One-vs-rest AUC of each class, ``(*batch, K)``."""
    return np.stack([roc_auc(b) for b in stats.one_vs_rest], axis=-1)


def _pair_auc(h: ScoresByClass, a: int, b: int, batch: tuple[int, ...]) -> FloatArray:
    """AUC of the rows of class ``a`` against those of class ``b`` on one score column."""
    sel = (h.cls == a) | (h.cls == b)
    s, c, w = h.scores[sel], h.cls[sel], h.weight[..., sel]
    if s.size == 0:
        return np.full(batch, np.nan)
    # Entries are sorted by descending score, a score's classes adjacent: sum per score.
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    pos = np.add.reduceat(np.where(c == a, w, 0.0), starts, axis=-1)
    neg = np.add.reduceat(np.where(c == b, w, 0.0), starts, axis=-1)
    return roc_auc(BinaryStats(s[starts], pos, neg, int(s.size)))


def _ovo(stats: MulticlassStats, average: str) -> FloatArray:
    by = stats.by_class
    if by is None:  # a producer without the pairwise statistic (reported by the reason)
        return np.full(stats.batch_shape, np.nan)
    support = stats.confusion.sum(axis=-1)
    present = support > 0
    k = len(stats.classes)
    num = np.zeros(stats.batch_shape)
    den = np.zeros(stats.batch_shape)
    for a, b in combinations(range(k), 2):
        both = present[..., a] & present[..., b]
        pair = (_pair_auc(by[a], a, b, stats.batch_shape)
                + _pair_auc(by[b], b, a, stats.batch_shape)) / 2
        weight = support[..., a] + support[..., b] if average == "weighted" else 1.0
        weight = np.where(both, weight, 0.0)
        # A pair with a class absent (in this replicate or slice) is no pair at all.
        num = num + np.where(both, weight * np.where(both, pair, 0.0), 0.0)
        den = den + weight
    # NaN where fewer than two classes are present (no pair).
    return np.where(present.sum(axis=-1) >= 2, _div(num, den), np.nan)


def mc_roc_auc(stats: MulticlassStats, multi_class: str = "ovr",
               average: str = "macro") -> FloatArray:
    """Multiclass ROC AUC, one-vs-rest or one-vs-one, macro or weighted.

    Parameters
    ----------
    stats
        Multiclass statistics, batch dimensions allowed.
    multi_class
        ``"ovr"`` or ``"ovo"``.
    average
        ``"macro"`` or ``"weighted"``.

    Returns
    -------
    numpy.ndarray
        Shape ``stats.batch_shape``; NaN where undefined.
    """
    if multi_class == "ovo":
        return _ovo(stats, average)
    auc = _ovr(stats)  # NaN for a class with no rows or all rows: the average is NaN
    if average == "macro":
        return np.asarray(auc.mean(axis=-1), dtype=np.float64)
    support = stats.confusion.sum(axis=-1)
    return _div((support * auc).sum(axis=-1), support.sum(axis=-1))


def why_mc_roc_auc(stats: MulticlassStats, multi_class: str = "ovr",
                   average: str = "macro") -> str | None:
    """Why :func:`mc_roc_auc` is undefined on point-estimate statistics, or None."""
    if why := _rows_reason(stats):
        return why
    if multi_class == "ovo":
        if stats.by_class is None:
            return "these statistics lack the per-class score split one-vs-one AUC needs"
        present = stats.confusion.sum(axis=-1) > 0
        if present.sum() < 2:
            return f"one-vs-one needs two classes with rows; only {_names(stats, present)}"
        return None
    one = np.array([not (float(b.total_pos) > 0 and float(b.total_neg) > 0)
                    for b in stats.one_vs_rest])
    if one.any():
        return ("one-vs-rest AUC is undefined for class(es) with no rows or every row: "
                f"{_names(stats, one)}")
    return None


# --------------------------------------------------------------------------------------
# Brier, MCC, Cohen's kappa, balanced accuracy
# --------------------------------------------------------------------------------------


def mc_brier(stats: MulticlassStats) -> FloatArray:
    """Mean over rows of ``Σ_k (p_k − 1[y = k])²``: the one-vs-rest squared errors summed."""
    sq = np.zeros(stats.batch_shape)
    for b in stats.one_vs_rest:
        if b.loss_sums is not None and "brier" in b.loss_sums:
            sq = sq + b.loss_sums["brier"].sum(axis=-1)
        else:
            sq = sq + (b.pos * (1.0 - b.scores) ** 2 + b.neg * b.scores**2).sum(axis=-1)
    return _div(sq, stats.total)


def why_mc_brier(stats: MulticlassStats) -> str | None:
    return _rows_reason(stats)


def mc_mcc(stats: MulticlassStats) -> FloatArray:
    """Matthews correlation of label and arg-max class (Gorodkin's K-category form)."""
    correct, s, true, predicted = _margins(stats)
    cov = correct * s - (true * predicted).sum(axis=-1)
    # Square roots taken separately keep the product of large weighted sums in range.
    den = np.sqrt(np.maximum(s * s - (predicted**2).sum(axis=-1), 0.0)) * np.sqrt(
        np.maximum(s * s - (true**2).sum(axis=-1), 0.0))
    constant = ((true > 0).sum(axis=-1) < 2) | ((predicted > 0).sum(axis=-1) < 2)
    # The separate square roots can round a perfect correlation to 1 + 2e-16: clip.
    return np.where(constant, np.nan, np.clip(_div(cov, den), -1.0, 1.0))


def why_mc_mcc(stats: MulticlassStats) -> str | None:
    if why := _rows_reason(stats):
        return why
    _, _, true, predicted = _margins(stats)
    if (true > 0).sum() < 2:
        return f"the label is constant (only class {_names(stats, true > 0)} has rows)"
    if (predicted > 0).sum() < 2:
        return f"the prediction is constant (every row is predicted {_names(stats, predicted > 0)})"
    return None


def mc_cohen_kappa(stats: MulticlassStats) -> FloatArray:
    """Cohen's kappa of label and arg-max class: ``(s·correct − Σ t_k p_k) / (s² − Σ t_k p_k)``."""
    correct, s, true, predicted = _margins(stats)
    chance = (true * predicted).sum(axis=-1)
    same = ((true > 0).sum(axis=-1) < 2) & ((predicted > 0).sum(axis=-1) < 2) & (
        (true > 0) == (predicted > 0)).all(axis=-1)
    return np.where(same, np.nan, _div(correct * s - chance, s * s - chance))


def why_mc_cohen_kappa(stats: MulticlassStats) -> str | None:
    if why := _rows_reason(stats):
        return why
    if np.isnan(mc_cohen_kappa(stats)):
        _, _, true, _ = _margins(stats)
        return (f"label and prediction are the same constant class ({_names(stats, true > 0)}):"
                " no disagreement is expected by chance")
    return None


def mc_balanced_accuracy(stats: MulticlassStats) -> FloatArray:
    """Mean recall over the classes that have rows (``balanced_accuracy_score``)."""
    correct = np.diagonal(stats.confusion, axis1=-2, axis2=-1)
    support = stats.confusion.sum(axis=-1)
    has = support > 0
    recall = np.where(has, correct / np.where(has, support, 1.0), 0.0)
    return _div(recall.sum(axis=-1), has.sum(axis=-1))


def why_mc_balanced_accuracy(stats: MulticlassStats) -> str | None:
    return _rows_reason(stats)
