"""Which loss trains on a charter's optimised metric: :func:`for_charter` and
:func:`for_metric`, or :class:`NoSurrogateError` with the reason and the fix.

The table (also in ``docs/losses.md``):

==========================  =================================================
metric                      loss
==========================  =================================================
``f1``, ``fbeta``           :class:`SoftFBeta` (``beta`` from the entry)
``mcc`` (binary)            :class:`SoftMCC`
``roc_auc`` (binary)        :class:`PairwiseAUCLoss` (logistic)
``average_precision``       :class:`SmoothAPLoss`
``precision_at_recall``     :class:`PrecisionAtRecallLoss` (``recall``)
``recall_at_precision``     :class:`RecallAtPrecisionLoss` (``precision``)
``expected_cost``,          :class:`CostWeightedCrossEntropy` (the charter's
``net_value`` (binary)      ``costs:`` or the entry's ``tp``/``fp``/``fn``/``tn``)
==========================  =================================================

Every other metric raises :class:`NoSurrogateError`, with the reason in
:data:`NO_SURROGATE`: either it is already a differentiable loss (train on it), or a
surrogate would be degenerate (precision alone is maximised by one confident positive),
or it is not a function the model's outputs can be trained on (calibration errors, error
columns), or it is multiclass (only the binary surrogates are matched to the registry).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from mlscope.charter import Charter, load_charter
from mlscope.charter.costs import cost_params
from mlscope.errors import InputError
from mlscope.losses.confusion import CostWeightedCrossEntropy, SoftFBeta, SoftMCC
from mlscope.losses.constrained import PrecisionAtRecallLoss, RecallAtPrecisionLoss
from mlscope.losses.ranking import PairwiseAUCLoss, SmoothAPLoss
from mlscope.metrics import get_metric

__all__ = ["NO_SURROGATE", "NoSurrogateError", "for_charter", "for_metric"]


class NoSurrogateError(InputError):
    """The metric has no loss in :mod:`mlscope.losses`; the message says why and what to
    train on instead."""


_CE = ("train with cross-entropy (torch.nn.BCEWithLogitsLoss) and choose the threshold on "
       "validation (the metric with `threshold: optimize`)")
_CALIBRATION = ("a calibration error is a property of the probabilities, not a loss of the "
                "predictions", "train with cross-entropy, then recalibrate on validation "
                "(Platt or isotonic scaling)")
_REGRESSION = "regression metrics are functions of the errors, mostly losses themselves"
#: Regression: (why, fix) per metric.
_REGRESSION_USE: dict[str, tuple[str, str]] = {
    "mae": (_REGRESSION, "train on torch.nn.L1Loss: the metric is its own loss"),
    "rmse": (_REGRESSION, "train on torch.nn.MSELoss (the square root has the same "
             "minimiser)"),
    "r2": (_REGRESSION, "train on torch.nn.MSELoss: R² is 1 − MSE / variance of the labels"),
    "mape": (_REGRESSION, "train on torch.nn.L1Loss of (prediction − label) / "
             "max(|label|, eps): the metric is its own loss"),
    "median_absolute_error": ("the median of the errors has gradient on one row only",
                              "train on torch.nn.L1Loss (its minimiser is the conditional "
                              "median)"),
    "p90_absolute_error": ("a percentile of the errors has gradient on one row only",
                           "train on a pinball (quantile) loss at 0.9, or L1"),
    "p95_absolute_error": ("a percentile of the errors has gradient on one row only",
                           "train on a pinball (quantile) loss at 0.95, or L1"),
    "max_absolute_error": ("the maximum has gradient on one row only and chases outliers",
                           "train on torch.nn.L1Loss or MSELoss"),
    "abs_bias": ("the bias alone is minimised by a constant shift, not a model",
                 "train on torch.nn.MSELoss"),
    "expected_cost": (_REGRESSION, "train on a pinball loss weighted by `over` and `under` "
                      "(its minimiser is the under / (over + under) quantile): the metric "
                      "is its own loss"),
}

#: Why each binary or shared metric without a loss here has none, and the fix.
NO_SURROGATE: dict[str, tuple[str, str]] = {
    "log_loss": ("log loss is itself differentiable, so no surrogate is needed",
                 "train on it: torch.nn.BCEWithLogitsLoss (multiclass: "
                 "torch.nn.CrossEntropyLoss)"),
    "brier": ("the Brier score is itself differentiable (a proper scoring rule like log "
              "loss), so no surrogate is needed",
              "train on torch.nn.MSELoss of torch.sigmoid(logits) against the labels"),
    "accuracy": ("a calibrated probability thresholded at 0.5 is already optimal for "
                 "accuracy", _CE),
    "balanced_accuracy": ("balanced accuracy is accuracy with the classes reweighted to "
                          "equal mass", "train with torch.nn.BCEWithLogitsLoss(pos_weight="
                          "n_neg / n_pos), or cross-entropy with the threshold chosen on "
                          "validation"),
    "precision": ("precision alone is maximised by predicting one confident positive, so a "
                  "surrogate is degenerate", "optimise precision_at_recall (a recall floor) "
                  f"instead, or {_CE}"),
    "recall": ("recall alone is maximised by predicting everything positive, so a "
               "surrogate is degenerate", "optimise recall_at_precision (a precision "
               f"floor) instead, or {_CE}"),
    "specificity": ("specificity alone is maximised by predicting everything negative",
                    f"optimise it under a recall floor, or {_CE}"),
    "positive_rate": ("the share predicted positive is a budget, not a goal",
                      "use it as a constraint (e.g. precision_at_recall) or choose the "
                      "threshold for it"),
    "cohen_kappa": ("none is matched to kappa; it orders models like MCC at a fixed "
                    "prevalence", f"use SoftMCC (for_metric('mcc')), or {_CE}"),
    "ece": _CALIBRATION,
    "ece_debiased": _CALIBRATION,
    "calibration_slope_error": _CALIBRATION,
    "calibration_intercept_error": _CALIBRATION,
}


def _refuse(name: str, task: str, why: str, fix: str) -> NoSurrogateError:
    return NoSurrogateError(f"metric `{name}` ({task}) has no surrogate loss in "
                            f"mlscope.losses: {why}\nfix: {fix}")


def for_metric(metric: str, *, task: str = "binary", costs: Mapping[str, float] | None = None,
               **params: Any) -> torch.nn.Module:
    """The recommended loss for the registry metric ``metric`` with ``params``.

    Parameters
    ----------
    metric
        A registry metric name (``"precision_at_recall"``).
    task
        The task (``binary``, ``multiclass``, ``regression``, ``errors``).
    costs
        For ``expected_cost`` and ``net_value``: ``{"tp", "fp", "fn", "tn"}`` when
        ``params`` does not give them.
    **params
        The metric's parameters as a charter entry gives them (``recall=0.65``); checked
        against the registry.

    Returns
    -------
    torch.nn.Module
        A loss with ``.metric == metric`` (``f1`` for ``fbeta`` with ``beta = 1``).

    Raises
    ------
    InputError
        An unknown metric, a metric of another task, or a bad parameter (with a
        did-you-mean).
    NoSurrogateError
        The metric has no loss here; the message says why and what to train on.
    """
    spec = get_metric(metric, task=task)
    given = dict(params) if not costs else {**costs, **params}
    name = spec.name
    if task == "binary" and name in ("expected_cost", "net_value"):
        missing = [k for k in ("tp", "fp", "fn", "tn") if given.get(k) is None]
        if missing:
            raise InputError(f"`{name}` needs the cost of each outcome, and "
                             f"{', '.join(missing)} are not given\nfix: pass costs={{'tp': "
                             "-49, 'fp': 1, 'fn': 0, 'tn': 0}} or the charter's `costs:`")
    p = spec.resolve_params(given, task=task)
    if task == "regression":
        raise _refuse(name, task, *_REGRESSION_USE.get(
            name, (_REGRESSION, "train on torch.nn.MSELoss or L1Loss")))
    if task == "errors" or name.startswith("error_"):
        raise _refuse(name, task, "an error column is measured outside the model's outputs "
                      "(latency, a position error), so no loss of the predictions stands "
                      "in for it", "train on the loss of whatever produces the column's "
                      "error, or optimise a metric of the predictions")
    if task == "multiclass":
        raise _refuse(name, task, "the surrogates here are matched to the binary metrics",
                      "train with torch.nn.CrossEntropyLoss (for mean IoU, fine-tune "
                      "after it with LovaszSoftmaxLoss)")
    if name in ("f1", "fbeta"):
        return SoftFBeta(beta=float(p.get("beta", 1.0)))
    if name == "mcc":
        return SoftMCC()
    if name == "roc_auc":
        return PairwiseAUCLoss("logistic")
    if name == "average_precision":
        return SmoothAPLoss()
    if name == "precision_at_recall":
        return PrecisionAtRecallLoss(recall=float(p["recall"]))
    if name == "recall_at_precision":
        return RecallAtPrecisionLoss(precision=float(p["precision"]))
    if name in ("expected_cost", "net_value"):
        return CostWeightedCrossEntropy({k: float(p[k]) for k in ("tp", "fp", "fn", "tn")})
    # A metric registered after this table: say so rather than guess.
    why, fix = NO_SURROGATE.get(name, ("none is matched to it yet", _CE))
    raise _refuse(name, task, why, fix)


def for_charter(charter: Charter | str | Path) -> torch.nn.Module:
    """The recommended loss for the metric a charter optimises.

    Parameters
    ----------
    charter
        A loaded :class:`~mlscope.charter.Charter` or the path of its YAML file.

    Returns
    -------
    torch.nn.Module
        The loss of :func:`for_metric` for ``selection.optimize``'s metric entry, with
        its parameters (``recall: 0.65``) and, for cost metrics, the charter's
        ``costs:``.

    Raises
    ------
    InputError
        The charter cannot be read, or its rule optimises no single metric (``weighted``,
        ``formula``, ``pareto``).
    NoSurrogateError
        The optimised metric is custom or has no surrogate (the message says why).
    """
    ch = charter if isinstance(charter, Charter) else load_charter(charter)
    optimize = getattr(ch.selection, "optimize", None)
    if optimize is None:
        raise InputError(
            f"selection rule `{ch.selection.rule}` optimises no single metric, so there is "
            "no one metric to train on\nfix: train on the loss of the metric that matters "
            "most (for_metric(...)), or use `rule: satisficing` with `optimize:`",
            key=("selection", "rule"))
    entry = next((m for m in ch.metrics if m.id == optimize), None)
    if entry is None:
        raise InputError(f"`selection.optimize: {optimize}` names no metric id of the "
                         f"charter (ids: {', '.join(ch.metric_ids())})\nfix: run `mlscope "
                         "validate` on the charter", key=("selection", "optimize"))
    if entry.metric is None:
        raise NoSurrogateError(
            f"`selection.optimize: {optimize}` is the custom metric `{entry.custom}`: "
            "mlscope cannot know its form, so it has no surrogate\nfix: train on the loss "
            "of the registry metric closest to it (for_metric(...)), or write a "
            "differentiable version next to the custom metric")
    params = dict(entry.params)
    params.pop("threshold", None)  # the loss sets its own operating point
    spec = get_metric(entry.metric, task=ch.task)
    if ch.task == "binary":
        params = cost_params(params, spec.params, ch.costs, entry.id, ch.task)
    params.pop("unit", None)
    try:
        return for_metric(entry.metric, task=ch.task, **params)
    except NoSurrogateError as exc:
        raise NoSurrogateError(f"`selection.optimize: {optimize}`: {exc}",
                               key=("selection", "optimize")) from None
