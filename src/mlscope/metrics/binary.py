"""Binary classification metrics, exact functions of :class:`~mlscope.metrics.stats.BinaryStats`.

Every statistic is a weighted count, so each metric equals scikit-learn's with
``sample_weight``. Count arrays may carry leading batch dimensions (bootstrap replicates);
every function here is vectorised over them, and a bin may be empty in a replicate.

Threshold semantics: a row is predicted positive iff ``score >= threshold`` (the rule of
scikit-learn's curve thresholds). ``threshold="optimize"`` is resolved by the pipeline with
:func:`best_threshold` on the selection split; the metric functions also accept it
directly, and then return the best value over the candidate thresholds of each batch
element. Candidate thresholds are the distinct scores that carry weight.

Deliberate differences from scikit-learn, where scikit-learn warns and returns a number:

* ``precision`` with no predicted positives, ``recall`` with no positives,
  ``specificity`` with no negatives, ``f1``/``fbeta`` with neither positives nor predicted
  positives, ``balanced_accuracy`` and ``roc_auc`` with one class, ``mcc`` with a constant
  label or prediction (scikit-learn returns 0), and ``average_precision`` with no
  positives are **undefined** (NaN with a reason), never 0.
* ``log_loss`` with a single class present is defined (scikit-learn needs
  ``labels=[0, 1]`` to compute it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from mlscope.metrics import multiclass_scores as mcs
from mlscope.metrics.arith import cumsum_exact
from mlscope.metrics.arith import safe_div as _div
from mlscope.metrics.binary_proba import binary_log_loss, brier, not_probability_reason
from mlscope.metrics.binary_reasons import no_positives_reason, one_class_reason, rows_reason
from mlscope.metrics.binary_threshold import (
    THRESHOLD_METRICS,
    best_threshold,
    choose_precision_at_recall,
    choose_recall_at_precision,
    confusion_at,
    fn_precision_at_recall,
    fn_recall_at_precision,
    precision_at_recall,
    recall_at_precision,
    threshold_spec_fn,
    threshold_spec_undefined,
    why_precision_at_recall,
    why_recall_at_precision,
)
from mlscope.metrics.fast import AP, term_sums
from mlscope.metrics.ranking import roc_auc
from mlscope.metrics.spec import Direction, MetricSpec, ParamSpec
from mlscope.metrics.stats import BinaryStats, MulticlassStats

__all__ = [
    "SPECS",
    "THRESHOLD_METRICS",
    "average_precision",
    "best_threshold",
    "binary_log_loss",
    "brier",
    "confusion_at",
    "not_probability_reason",
    "precision_at_recall",
    "recall_at_precision",
    "roc_auc",
    "threshold_spec_fn",
    "threshold_spec_undefined",
]

# This module's metric specifications, in order; mlscope.metrics.registry registers them.
SPECS: list[MetricSpec] = []

FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------------------
# Ranking and probability metrics
# --------------------------------------------------------------------------------------


def average_precision(stats: BinaryStats) -> FloatArray:
    """Average precision, scikit-learn's step sum ``Σ (R_k − R_{k−1}) P_k`` (not interpolated).

    Parameters
    ----------
    stats
        Binary statistics, batch dimensions allowed.

    Returns
    -------
    numpy.ndarray
        Shape ``stats.batch_shape``; NaN where there are no positives.
    """
    pos, neg = stats.pos, stats.neg
    if pos.dtype != np.float64 or neg.dtype != np.float64:
        # Other dtypes keep NumPy's promotion of the plain expression.
        tp_ = np.cumsum(pos, axis=-1)
        has = pos > 0
        p_ = np.where(has, tp_ / np.where(has, tp_ + np.cumsum(neg, axis=-1), 1.0), 0.0)
        return _div((pos * p_).sum(axis=-1), stats.total_pos)
    fast = term_sums(stats)  # one compiled pass, the same bits (metrics.fast)
    if fast is not None:
        return _div(fast[AP], stats.total_pos)
    tp = stats.cum_pos()
    predicted = cumsum_exact(neg, whole=stats.whole("neg"))
    predicted += tp
    # Recall only steps at bins holding positives, so only those bins' precision counts;
    # this also makes empty bootstrap bins (0/0 precision) drop out.
    no_pos = np.greater(pos, 0)
    np.logical_not(no_pos, out=no_pos)
    np.copyto(predicted, 1.0, where=no_pos)
    # In place, the same operations as ``(pos · where(has_pos, tp / predicted, 0)).sum()``
    # (the same bits: IEEE products commute), in two fresh arrays instead of six.
    prec = np.divide(tp, predicted, out=predicted)
    np.copyto(prec, 0.0, where=no_pos)
    prec *= pos
    return _div(prec.sum(axis=-1), stats.total_pos)


# --------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------

_BINARY = frozenset({"binary"})
_THRESHOLD = ParamSpec(
    kind="threshold", default=0.5, low=0.0, high=1.0,
    doc="rows with score >= threshold are predicted positive (a probability, also for "
        "logits; on the scores' own scale with `score_type: score`); `optimize` picks the "
        "best threshold on the selection split; the id of another metric with a chosen "
        "threshold takes that one",
)
_UNIT = (0.0, 1.0)


def _reg(name: str, label: str, direction: Direction, fn: Callable[..., FloatArray],
         undefined: Callable[..., str | None], description: str,
         bounds: tuple[float | None, float | None] = _UNIT,
         params: dict[str, ParamSpec] | None = None,
         chooser: Callable[..., float] | None = None,
         tasks: frozenset[str] = _BINARY, needs_probability: bool = False,
         task_bounds: dict[str, tuple[float | None, float | None]] | None = None) -> None:
    SPECS.append(MetricSpec(
        name=name, tasks=tasks, direction=direction,
        fn=fn, undefined=undefined, description=description, label=label,
        params=params or {}, chooser=chooser, bounds=bounds,
        needs_probability=needs_probability, task_bounds=task_bounds or {},
    ))


# Metrics shared with multiclass tasks under the same name: registered here (where their
# binary definitions live) and dispatched on the statistics' type to
# mlscope.metrics.multiclass_scores, whose module docstring gives the multiclass meaning.
_SHARED = frozenset({"binary", "multiclass"})
_MULTI_ONLY = frozenset({"multiclass"})
# The binary threshold; refused on a multiclass task (the prediction is the arg-max class).
_THRESHOLD_BINARY = replace(_THRESHOLD, tasks=_BINARY)


def _no_optimize(label: str, extreme: str) -> ParamSpec:
    # The best of these over every threshold is an extreme, not an operating point.
    return replace(
        _THRESHOLD,
        doc="rows with score >= threshold are predicted positive (a probability, also for "
            "logits; on the scores' own scale with `score_type: score`), or the id of a "
            "metric that chooses its threshold (`threshold: optimize`, an operating point) "
            "to be measured at that threshold",
        no_optimize=(f"{label} is best {extreme}, which is no operating point; give a "
                     "number, or the id of a metric that chooses its threshold"),
    )


_EXTREME_OPTIMUM = {
    "precision": _no_optimize("precision", "with the top-scored row alone flagged"),
    "recall": _no_optimize("recall", "with every row flagged"),
    "specificity": _no_optimize("specificity", "with no row (or one) flagged"),
    "positive_rate": _no_optimize("the positive rate", "with one row flagged"),
}
_AUC_PARAMS = {
    "multi_class": ParamSpec(
        kind="str", default="ovr", choices=mcs.MULTI_CLASS, tasks=_MULTI_ONLY,
        doc="multiclass only: `ovr` (each class's score against the rest) or `ovo` (Hand & "
            "Till: every pair of classes, each with its own score)"),
    "average": ParamSpec(
        kind="str", default="macro", choices=mcs.AVERAGES, tasks=_MULTI_ONLY,
        doc="multiclass only: `macro` (unweighted mean over classes or pairs) or `weighted` "
            "(by each class's, or pair's, weight of rows)"),
}


def _shared(binary_fn: Callable[..., Any], multi_fn: Callable[..., Any],
            multi_params: tuple[str, ...] = ()) -> Callable[..., Any]:
    """Dispatch on the statistics: ``multi_fn`` gets only the multiclass parameters."""

    def fn(stats: BinaryStats | MulticlassStats, **params: Any) -> Any:
        if isinstance(stats, MulticlassStats):
            return multi_fn(stats, **{k: v for k, v in params.items() if k in multi_params})
        return binary_fn(stats, **{k: v for k, v in params.items() if k not in multi_params})

    return fn


def _fn_roc_auc(stats: BinaryStats, **_: Any) -> FloatArray:
    return roc_auc(stats)


def _why_roc_auc(stats: BinaryStats, **_: Any) -> str | None:
    return rows_reason(stats) or one_class_reason(stats)


def _fn_ap(stats: BinaryStats, **_: Any) -> FloatArray:
    return average_precision(stats)


def _why_ap(stats: BinaryStats, **_: Any) -> str | None:
    return rows_reason(stats) or no_positives_reason(stats)


def _fn_brier(stats: BinaryStats, **_: Any) -> FloatArray:
    return brier(stats)


def _why_brier(stats: BinaryStats, **_: Any) -> str | None:
    return rows_reason(stats) or not_probability_reason(stats)


_AUC_KEYS = ("multi_class", "average")
_reg("roc_auc", "ROC AUC", "higher",
     _shared(_fn_roc_auc, mcs.mc_roc_auc, _AUC_KEYS),
     _shared(_why_roc_auc, mcs.why_mc_roc_auc, _AUC_KEYS),
     "Probability that a random positive scores above a random negative (ties count "
     "half): the area under the ROC curve.",
     params=dict(_AUC_PARAMS), tasks=_SHARED)
_reg("average_precision", "Avg precision", "higher", _fn_ap, _why_ap,
     "Precision at each threshold weighted by the recall gained there (scikit-learn's step "
     "sum, not interpolated).")
_reg("brier", "Brier score", "lower",
     _shared(_fn_brier, mcs.mc_brier), _shared(_why_brier, mcs.why_mc_brier),
     "Mean squared difference between the probability and the 0/1 label.",
     needs_probability=True, tasks=_SHARED, task_bounds={"multiclass": (0.0, 2.0)})


# Threshold metrics that multiclass tasks share, computed there on the arg-max class. Their
# descriptions stay the binary ones (result.json carries them; the Caravan golden digests
# pin them); the multiclass meaning is in multiclass_scores' docstring and docs/deciding.md.
_MULTI_THRESHOLD: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "balanced_accuracy": (mcs.mc_balanced_accuracy, mcs.why_mc_balanced_accuracy),
    "mcc": (mcs.mc_mcc, mcs.why_mc_mcc),
    "cohen_kappa": (mcs.mc_cohen_kappa, mcs.why_mc_cohen_kappa),
}


for _name, _label, _how in (
    ("balanced_accuracy", "Balanced accuracy",
     "Mean of recall and specificity at the threshold."),
    ("precision", "Precision",
     "Share of rows predicted positive (score >= threshold) that are positive."),
    ("recall", "Recall",
     "Share of positive rows predicted positive (score >= threshold)."),
    ("specificity", "Specificity",
     "Share of negative rows predicted negative (score < threshold)."),
    ("f1", "F1", "Harmonic mean of precision and recall at the threshold: 2TP / (2TP + FP + FN)."),
    ("mcc", "MCC",
     "Matthews correlation between the label and the prediction at the threshold."),
    ("cohen_kappa", "Cohen's kappa",
     "Agreement of label and prediction at the threshold beyond chance: (p_o − p_e) / "
     "(1 − p_e)."),
    ("positive_rate", "Positive rate",
     "Share of rows predicted positive (score >= threshold); lower flags fewer rows."),
):
    if _name in _MULTI_THRESHOLD:
        _mfn, _mwhy = _MULTI_THRESHOLD[_name]
        _reg(_name, _label, THRESHOLD_METRICS[_name].direction,
             _shared(threshold_spec_fn(_name), _mfn),
             _shared(threshold_spec_undefined(_name), _mwhy), _how,
             bounds=(-1.0, 1.0) if _name in ("mcc", "cohen_kappa") else _UNIT,
             params={"threshold": _THRESHOLD_BINARY}, tasks=_SHARED)
        continue
    _reg(_name, _label, THRESHOLD_METRICS[_name].direction, threshold_spec_fn(_name),
         threshold_spec_undefined(_name), _how,
         bounds=(-1.0, 1.0) if _name == "mcc" else _UNIT,
         params={"threshold": _EXTREME_OPTIMUM.get(_name, _THRESHOLD)})

_reg("fbeta", "F-beta", "higher", threshold_spec_fn("fbeta"), threshold_spec_undefined("fbeta"),
     "Weighted harmonic mean of precision and recall at the threshold, recall counting "
     "beta times as much: (1+β²)TP / ((1+β²)TP + β²FN + FP).",
     params={
         "threshold": _THRESHOLD,
         "beta": ParamSpec(kind="float", default=1.0, low=0.0,
                           doc="weight of recall relative to precision (1: F1, 2: F2)"),
     })

def _only_optimize(name: str, fixed: str) -> ParamSpec:
    # The operating point *is* the choice of threshold: a number here would either be
    # ignored (the chosen threshold wins) or turn the metric into plain `fixed`.
    return ParamSpec(
        kind="threshold", default="optimize", low=0.0, high=1.0,
        doc="only `optimize` (the default): the threshold is chosen on the selection split",
        only_optimize=(
            f"`{name}` chooses its own threshold (on the selection split); remove "
            f"`threshold`, or to fix a threshold use `metric: {fixed}, threshold: <value>`"
        ),
    )


_reg("precision_at_recall", "Precision", "higher", fn_precision_at_recall,
     why_precision_at_recall,
     "Precision at the threshold with the highest precision among those whose recall "
     "reaches `recall` (chosen on the selection split).",
     params={
         "recall": ParamSpec(kind="float", default=0.8, low=0.0, high=1.0,
                             doc="the recall the threshold must reach"),
         "threshold": _only_optimize("precision_at_recall", "precision"),
     },
     chooser=choose_precision_at_recall)
_reg("recall_at_precision", "Recall", "higher", fn_recall_at_precision,
     why_recall_at_precision,
     "Recall at the threshold with the highest recall among those whose precision "
     "reaches `precision` (chosen on the selection split).",
     params={
         "precision": ParamSpec(kind="float", default=0.8, low=0.0, high=1.0,
                                doc="the precision the threshold must reach"),
         "threshold": _only_optimize("recall_at_precision", "recall"),
     },
     chooser=choose_recall_at_precision)
