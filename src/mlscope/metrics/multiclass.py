"""Multiclass metrics, exact functions of :class:`~mlscope.metrics.stats.MulticlassStats`.

``accuracy`` and ``log_loss`` apply to binary and multiclass tasks under one registry name
each; they are registered here, dispatching on the statistics' type, because this module
already builds on the binary one (one-vs-rest average precision) and the dependency then
runs one way only.

Deliberate differences from scikit-learn (which warns and substitutes 0):

* a macro average with a class whose per-class value is 0/0 (precision: never predicted;
  recall: no rows; F1: neither) is **undefined**, with a reason naming the classes;
* ``precision_weighted`` is undefined when a class that has rows is never predicted
  (classes without rows carry no weight and are ignored);
* ``mean_average_precision`` is undefined when a class has no rows;
* ``log_loss`` normalises each row's scores to sum 1 before clipping
  (:func:`~mlscope.metrics.stats.multiclass_stats`); scikit-learn >= 1.9 warns about rows
  that do not sum to 1 and uses them as they are. For rows summing to 1 the two agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from mlscope.metrics.arith import safe_div as _div
from mlscope.metrics.binary import (
    average_precision,
    binary_log_loss,
    not_probability_reason,
    threshold_spec_fn,
    threshold_spec_undefined,
)
from mlscope.metrics.errors import no_rows_reason
from mlscope.metrics.spec import MetricSpec, ParamSpec
from mlscope.metrics.stats import BinaryStats, MulticlassStats

__all__ = [
    "SPECS",
    "class_average_precision",
    "class_score",
    "confusion_matrix",
    "mean_average_precision",
    "multiclass_accuracy",
    "multiclass_log_loss",
    "per_class",
    "top_k_accuracy",
]

# This module's metric specifications, in order; mlscope.metrics.registry registers them.
SPECS: list[MetricSpec] = []

FloatArray = npt.NDArray[np.float64]



def _rows_reason(stats: MulticlassStats) -> str | None:
    return no_rows_reason(stats.n_rows, stats.total)


def _names(stats: MulticlassStats, mask: npt.NDArray[np.bool_]) -> str:
    return ", ".join(f"`{c}`" for c, m in zip(stats.classes, mask, strict=True) if m)


def confusion_matrix(stats: MulticlassStats) -> FloatArray:
    """The weighted confusion matrix, ``[true class, predicted class]``.

    Parameters
    ----------
    stats
        Multiclass statistics.

    Returns
    -------
    numpy.ndarray
        ``(*batch, K, K)`` in the order of ``stats.classes`` (a copy).
    """
    return np.array(stats.confusion, dtype=np.float64)


def multiclass_accuracy(stats: MulticlassStats) -> FloatArray:
    """Share of rows whose arg-max class is the true class."""
    return _div(np.trace(stats.confusion, axis1=-2, axis2=-1), stats.total)


def multiclass_log_loss(stats: MulticlassStats) -> FloatArray:
    """Mean ``-log p_true`` (rows normalised, clipped to ``[eps, 1 − eps]``)."""
    return _div(stats.log_loss_sum, stats.total)


def top_k_accuracy(stats: MulticlassStats, k: int) -> FloatArray:
    """Share of rows whose true class is among the ``k`` highest-scored classes.

    Ties are broken as ``top_k_accuracy_score`` does; ``k`` at or above the number of
    classes gives 1.
    """
    kk = min(max(int(k), 1), len(stats.classes))
    return _div(stats.topk_hits[..., kk - 1], stats.total)


def per_class(stats: MulticlassStats) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(true positives, support, predicted)`` per class, each ``(*batch, K)``."""
    c = stats.confusion
    return np.diagonal(c, axis1=-2, axis2=-1), c.sum(axis=-1), c.sum(axis=-2)


def _scores(kind: str, stats: MulticlassStats) -> tuple[FloatArray, FloatArray]:
    """Per-class precision, recall or F1, and the denominator that must be positive."""
    tp, support, predicted = per_class(stats)
    den = {"precision": predicted, "recall": support, "f1": support + predicted}[kind]
    num = 2 * tp if kind == "f1" else tp
    return _div(num, den), den


def averaged(stats: MulticlassStats, kind: str, average: str) -> FloatArray:
    """Precision, recall or F1 averaged over classes.

    Parameters
    ----------
    stats
        Multiclass statistics.
    kind
        ``"precision"``, ``"recall"`` or ``"f1"``.
    average
        ``"macro"`` (unweighted mean over classes), ``"micro"`` (from the pooled counts,
        which for single-label data is the accuracy) or ``"weighted"`` (mean weighted by
        each class's number of rows).

    Returns
    -------
    numpy.ndarray
        Shape ``stats.batch_shape``; NaN where a class that counts has a 0/0 value.
    """
    if average == "micro":
        return multiclass_accuracy(stats)
    value, _ = _scores(kind, stats)
    if average == "macro":
        # NaN propagates: one undefined class makes the macro average undefined.
        return np.asarray(value.mean(axis=-1), dtype=np.float64)
    _, support, _ = per_class(stats)
    counts = support > 0
    contrib = np.where(counts, support * np.where(counts, value, 0.0), 0.0)
    bad = (counts & np.isnan(value)).any(axis=-1)
    return np.where(bad, np.nan, _div(contrib.sum(axis=-1), stats.total))


def _averaged_reason(stats: MulticlassStats, kind: str, average: str) -> str | None:
    if why := _rows_reason(stats):
        return why
    if average == "micro":
        return None
    value, _den = _scores(kind, stats)
    bad = np.isnan(value)
    if average == "weighted":
        # Classes without rows carry no weight: their 0/0 does not matter.
        bad &= per_class(stats)[1] > 0
    if not bad.any():
        return None
    what = {
        "precision": "never predicted",
        "recall": "without rows",
        "f1": "neither present nor predicted",
    }[kind]
    return f"{kind} is undefined for class(es) {what}: {_names(stats, bad)}"


def _ovr_ap(stats: MulticlassStats) -> FloatArray:
    """Average precision of each class against the rest, ``(*batch, K)``."""
    return np.stack([average_precision(b) for b in stats.one_vs_rest], axis=-1)


def mean_average_precision(stats: MulticlassStats) -> FloatArray:
    """Unweighted mean over classes of one-vs-rest average precision."""
    return np.asarray(_ovr_ap(stats).mean(axis=-1), dtype=np.float64)


def class_average_precision(stats: MulticlassStats, cls: str) -> FloatArray:
    """One-vs-rest average precision of class ``cls``; NaN for an unknown class."""
    if cls not in stats.classes:
        return np.full(stats.batch_shape, np.nan)
    return average_precision(stats.one_vs_rest[stats.classes.index(cls)])


def _absent(stats: MulticlassStats) -> npt.NDArray[np.bool_]:
    return np.array([not float(b.total_pos) > 0 for b in stats.one_vs_rest], dtype=bool)


# --------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------

_MULTI = frozenset({"multiclass"})
_SHARED = frozenset({"binary", "multiclass"})
_binary_accuracy = threshold_spec_fn("accuracy")
_binary_accuracy_why = threshold_spec_undefined("accuracy")


def _fn_accuracy(stats: BinaryStats | MulticlassStats, threshold: float | str = 0.5,
                 **params: Any) -> FloatArray:
    if isinstance(stats, MulticlassStats):
        return multiclass_accuracy(stats)
    return _binary_accuracy(stats, threshold=threshold, **params)


def _why_accuracy(stats: BinaryStats | MulticlassStats, threshold: float | str = 0.5,
                  **params: Any) -> str | None:
    if isinstance(stats, MulticlassStats):
        return _rows_reason(stats)
    return _binary_accuracy_why(stats, threshold=threshold, **params)


def _fn_log_loss(stats: BinaryStats | MulticlassStats, **_: Any) -> FloatArray:
    if isinstance(stats, MulticlassStats):
        return multiclass_log_loss(stats)
    return binary_log_loss(stats)


def _why_log_loss(stats: BinaryStats | MulticlassStats, **_: Any) -> str | None:
    if isinstance(stats, MulticlassStats):
        return _rows_reason(stats)
    return (no_rows_reason(stats.n_rows, stats.total_pos + stats.total_neg)
            or not_probability_reason(stats))


SPECS.append(MetricSpec(
    name="accuracy", tasks=_SHARED, direction="higher", fn=_fn_accuracy,
    undefined=_why_accuracy, label="Accuracy", bounds=(0.0, 1.0),
    description="Share of rows predicted correctly (binary: score >= threshold is "
                "positive; multiclass: the arg-max class).",
    params={"threshold": ParamSpec(
        kind="threshold", default=0.5, low=0.0, high=1.0,
        doc="binary only: rows with score >= threshold are predicted positive (a "
            "probability, also for logits; on the scores' own scale with `score_type: "
            "score`); `optimize` picks the best threshold on the selection split",
    )},
))
SPECS.append(MetricSpec(
    name="log_loss", tasks=_SHARED, direction="lower", fn=_fn_log_loss,
    undefined=_why_log_loss, label="Log loss", bounds=(0.0, None),
    description="Mean negative log of the probability given to the true class, "
                "probabilities clipped to [eps, 1 − eps] (binary logits: exact, unclipped).",
    needs_probability=True,
))


def _fn_top_k(stats: MulticlassStats, k: int = 2, **_: Any) -> FloatArray:
    return top_k_accuracy(stats, k)


def _why_rows(stats: MulticlassStats, **_: Any) -> str | None:
    return _rows_reason(stats)


SPECS.append(MetricSpec(
    name="top_k_accuracy", tasks=_MULTI, direction="higher", fn=_fn_top_k,
    undefined=_why_rows, label="Top-k accuracy", bounds=(0.0, 1.0),
    description="Share of rows whose true class is among the k highest-scored classes.",
    params={"k": ParamSpec(kind="int", default=2, low=1, doc="how many top classes count")},
))


def _averaged_fns(kind: str, average: str) -> tuple[Callable[..., FloatArray],
                                                     Callable[..., str | None]]:
    def fn(stats: MulticlassStats, **_: Any) -> FloatArray:
        return averaged(stats, kind, average)

    def why(stats: MulticlassStats, **_: Any) -> str | None:
        return _averaged_reason(stats, kind, average)

    return fn, why


_HOW = {
    "macro": "unweighted mean over classes of each class's",
    "micro": "from counts pooled over classes (equal to accuracy):",
    "weighted": "mean over classes, weighted by each class's rows, of its",
}
_WHAT = {
    "precision": "precision (share of the rows predicted as the class that are of it)",
    "recall": "recall (share of the class's rows predicted as it)",
    "f1": "F1 (harmonic mean of its precision and recall)",
}
for _kind in ("precision", "recall", "f1"):
    for _avg in ("macro", "micro", "weighted"):
        _fn, _why = _averaged_fns(_kind, _avg)
        _label = "F1" if _kind == "f1" else _kind.capitalize()
        SPECS.append(MetricSpec(
            name=f"{_kind}_{_avg}", tasks=_MULTI, direction="higher", fn=_fn,
            undefined=_why, label=f"{_label} ({_avg})", bounds=(0.0, 1.0),
            description=f"{_kind.capitalize() if _kind != 'f1' else 'F1'}, "
                        f"{_HOW[_avg]} {_WHAT[_kind]}.",
        ))


def _fn_map(stats: MulticlassStats, **_: Any) -> FloatArray:
    return mean_average_precision(stats)


def _why_map(stats: MulticlassStats, **_: Any) -> str | None:
    if why := _rows_reason(stats):
        return why
    absent = _absent(stats)
    if absent.any():
        return f"class(es) without rows, so without average precision: {_names(stats, absent)}"
    return None


def _fn_class_ap(stats: MulticlassStats, cls: str = "", **_: Any) -> FloatArray:
    return class_average_precision(stats, cls)


def _why_class_ap(stats: MulticlassStats, cls: str = "", **_: Any) -> str | None:
    if cls not in stats.classes:
        return f"no class `{cls}` (classes: {', '.join(stats.classes)})"
    if why := _rows_reason(stats):
        return why
    if _absent(stats)[stats.classes.index(cls)]:
        return f"no rows of class `{cls}`"
    return None


SPECS.append(MetricSpec(
    name="mean_average_precision", tasks=_MULTI, direction="higher", fn=_fn_map,
    undefined=_why_map, label="Mean avg precision", bounds=(0.0, 1.0),
    description="Unweighted mean over classes of one-vs-rest average precision of the "
                "class's score.",
))
SPECS.append(MetricSpec(
    name="class_average_precision", tasks=_MULTI, direction="higher", fn=_fn_class_ap,
    undefined=_why_class_ap, label="Avg precision", bounds=(0.0, 1.0),
    description="Average precision of one class's score against all other classes.",
    params={"cls": ParamSpec(kind="str", default="", doc="the class, as written in the data")},
))


# Per-class precision, recall and F1 of the arg-max class, one class per entry (`cls`).
_CLASS_WHAT = {
    "precision": ("Precision", "Share of the rows predicted as class `cls` that are of it "
                               "(arg-max class)."),
    "recall": ("Recall", "Share of the rows of class `cls` predicted as it (arg-max class)."),
    "f1": ("F1", "Harmonic mean of class `cls`'s precision and recall (arg-max class)."),
}
_CLASS_UNDEFINED = {
    "precision": "class `{}` is never predicted",
    "recall": "no rows of class `{}`",
    "f1": "class `{}` has no rows and is never predicted",
}


def class_score(stats: MulticlassStats, kind: str, cls: str) -> FloatArray:
    """Precision, recall or F1 of one class (``precision_score(labels=[cls], average=None)``).

    Parameters
    ----------
    stats
        Multiclass statistics, batch dimensions allowed.
    kind
        ``"precision"``, ``"recall"`` or ``"f1"``.
    cls
        The class, as in ``stats.classes``.

    Returns
    -------
    numpy.ndarray
        Shape ``stats.batch_shape``; NaN where 0/0 or for an unknown class.
    """
    if cls not in stats.classes:
        return np.full(stats.batch_shape, np.nan)
    value, _ = _scores(kind, stats)
    return np.asarray(value[..., stats.classes.index(cls)], dtype=np.float64)


def _class_fns(kind: str) -> tuple[Callable[..., FloatArray], Callable[..., str | None]]:
    def fn(stats: MulticlassStats, cls: str = "", **_: Any) -> FloatArray:
        return class_score(stats, kind, cls)

    def why(stats: MulticlassStats, cls: str = "", **_: Any) -> str | None:
        if cls not in stats.classes:
            return f"no class `{cls}` (classes: {', '.join(stats.classes)})"
        if reason := _rows_reason(stats):
            return reason
        den = _scores(kind, stats)[1]
        if not float(den[..., stats.classes.index(cls)]) > 0:
            return _CLASS_UNDEFINED[kind].format(cls)
        return None

    return fn, why


_CLS = ParamSpec(kind="str", default="", doc="the class, as written in the data")
for _kind, (_label, _desc) in _CLASS_WHAT.items():
    _fn, _why = _class_fns(_kind)
    SPECS.append(MetricSpec(
        name=f"class_{_kind}", tasks=_MULTI, direction="higher", fn=_fn, undefined=_why,
        label=_label, bounds=(0.0, 1.0), description=_desc, params={"cls": _CLS},
    ))
