"""Costs of wrong (and right) predictions: the expected cost per case at a threshold, the
net value against doing nothing, the cost-optimal threshold and the break-even prevalence.

Sign convention: every figure is a **cost** per case in the user's unit; a gain is a
negative cost. With costs ``c_tp, c_fp, c_fn, c_tn`` and the weighted confusion counts at
a threshold (a row is predicted positive iff ``score >= threshold``)::

    expected_cost = (TP·c_tp + FP·c_fp + FN·c_fn + TN·c_tn) / (TP + FP + FN + TN)
    net_value     = cost of predicting every case negative − expected_cost
                  = (TP·(c_fn − c_tp) − FP·(c_fp − c_tn)) / (TP + FP + FN + TN)

Both are weighted means when rows carry weights (the counts are weighted). The
cost-optimal threshold is the distinct score with weight that minimises the expected cost
(equivalently maximises the net value, since doing nothing costs the same at every
threshold); ties, up to a relative ``1e-12`` of rounding, go to the **highest** threshold
(the fewest predicted positives), as for every other chosen threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlscope.metrics.arith import safe_div
from mlscope.metrics.binary_reasons import rows_reason
from mlscope.metrics.binary_threshold import confusion_at
from mlscope.metrics.spec import FloatArray, MetricSpec, ParamSpec
from mlscope.metrics.stats import BinaryStats, MulticlassStats, RegressionStats
from mlscope.metrics.task_costs import (
    multiclass_expected_cost,
    regression_expected_cost,
    why_multiclass_cost,
    why_regression_cost,
)

__all__ = [
    "COST_KEYS",
    "COST_METRICS",
    "SPECS",
    "break_even_prevalence",
    "choose_cost_threshold",
    "cost_curve",
    "expected_cost",
    "net_value",
    "why_break_even_prevalence",
]

# The four outcomes a cost is given for, in the order of the confusion counts.
COST_KEYS = ("tp", "fp", "fn", "tn")
# The registry metrics that read costs (from the charter's `costs:` or their own entry).
COST_METRICS = ("expected_cost", "net_value")
_TIE_RTOL = 1e-12


def _costs(params: dict[str, Any]) -> tuple[float, float, float, float]:
    try:
        return tuple(float(params[k]) for k in COST_KEYS)  # type: ignore[return-value]
    except KeyError as exc:
        raise ValueError(f"cost metrics need the costs tp, fp, fn and tn (missing {exc})") \
            from None


def _cost_of(tp: FloatArray, fp: FloatArray, fn: FloatArray, tn: FloatArray,
             c: tuple[float, float, float, float]) -> FloatArray:
    total = tp * c[0] + fp * c[1] + fn * c[2] + tn * c[3]
    return safe_div(total, tp + fp + fn + tn)


def _value_of(tp: FloatArray, fp: FloatArray, fn: FloatArray, tn: FloatArray,
              c: tuple[float, float, float, float]) -> FloatArray:
    gain = tp * (c[2] - c[0]) - fp * (c[1] - c[3])
    return safe_div(gain, tp + fp + fn + tn)


def cost_curve(stats: BinaryStats, tp: float, fp: float, fn: float, tn: float
               ) -> FloatArray:
    """The expected cost per case at every distinct score as threshold.

    Parameters
    ----------
    stats
        Binary statistics, batch dimensions allowed.
    tp, fp, fn, tn
        The cost of each outcome per case (a gain is a negative cost).

    Returns
    -------
    numpy.ndarray
        Shape ``(*batch, m)``, aligned with ``stats.scores`` (descending); NaN at bins
        without weight, which are no candidate threshold of that batch element.
    """
    ctp = np.cumsum(stats.pos, axis=-1)
    cfp = np.cumsum(stats.neg, axis=-1)
    cfn = stats.total_pos[..., None] - ctp
    ctn = stats.total_neg[..., None] - cfp
    values = _cost_of(ctp, cfp, cfn, ctn, (tp, fp, fn, tn))
    return np.where((stats.pos + stats.neg) > 0, values, np.nan)


def _nothing_cost(stats: BinaryStats, c: tuple[float, float, float, float]) -> FloatArray:
    """The expected cost of acting on no case (every case predicted negative)."""
    zero = stats.total_pos * 0.0
    return _cost_of(zero, zero, stats.total_pos, stats.total_neg, c)


def _best_cost(stats: BinaryStats, c: tuple[float, float, float, float]) -> FloatArray:
    # Acting on no case (a threshold above every score) is always a candidate: a model
    # whose every threshold loses money is best left unused, at the cost of doing nothing.
    curve = cost_curve(stats, *c)
    finite = np.isfinite(curve)
    best = np.where(finite, curve, np.inf).min(axis=-1, initial=np.inf)
    best = np.minimum(best, _nothing_cost(stats, c))
    return np.where(finite.any(axis=-1), best, np.nan)


def expected_cost(stats: BinaryStats | MulticlassStats | RegressionStats,
                  threshold: float | str = 0.5, **params: Any) -> FloatArray:
    """Mean cost per case at ``threshold`` (lower is better).

    Parameters
    ----------
    stats
        Binary statistics, batch dimensions allowed; multiclass and regression
        statistics go to :mod:`mlscope.metrics.task_costs` (``matrix``; ``over`` and
        ``under``), where ``threshold`` has no meaning.
    threshold
        Rows with ``score >= threshold`` are predicted positive; ``"optimize"`` returns
        the lowest expected cost over the candidate thresholds of each batch element.
    **params
        ``tp``, ``fp``, ``fn``, ``tn``: the cost of each outcome per case; ``unit`` and
        anything else are ignored.

    Returns
    -------
    numpy.ndarray
        Shape ``stats.batch_shape``; NaN where there is no weight.
    """
    if isinstance(stats, MulticlassStats):
        return multiclass_expected_cost(stats, params["matrix"])
    if isinstance(stats, RegressionStats):
        return regression_expected_cost(stats, float(params["over"]), float(params["under"]))
    c = _costs(params)
    if threshold == "optimize":
        return _best_cost(stats, c)
    return _cost_of(*confusion_at(stats, float(threshold)), c)


def net_value(stats: BinaryStats, threshold: float | str = 0.5, **params: Any
              ) -> FloatArray:
    """Value per case relative to doing nothing (predicting every case negative); higher
    is better. ``net_value = cost of doing nothing − expected_cost``.

    Parameters and returns as :func:`expected_cost`.
    """
    c = _costs(params)
    if threshold == "optimize":
        nothing = _cost_of(stats.total_pos * 0.0, stats.total_neg * 0.0, stats.total_pos,
                           stats.total_neg, c)
        return np.asarray(nothing - _best_cost(stats, c), dtype=np.float64)
    return _value_of(*confusion_at(stats, float(threshold)), c)


def choose_cost_threshold(stats: BinaryStats, **params: Any) -> float:
    """The cost-optimal threshold: the distinct score with weight that, as threshold,
    gives the lowest expected cost; ties go to the highest such score. Acting on no case
    is a candidate too: when it costs less than every score (beyond ties), the threshold
    is the smallest number above the highest score, so no case is predicted positive.

    Parameters
    ----------
    stats
        Point-estimate statistics (no batch dimensions) of the selection split.
    **params
        ``tp``, ``fp``, ``fn``, ``tn`` (``threshold`` and ``unit`` are ignored).

    Returns
    -------
    float
        The threshold, or NaN when the statistics hold no weight.
    """
    if stats.batch_shape:
        raise ValueError("a threshold is chosen on point-estimate statistics only")
    c = _costs(params)
    curve = cost_curve(stats, *c)
    finite = np.isfinite(curve)
    if not finite.any():
        return float("nan")
    best = float(np.min(curve[finite]))
    nothing = float(_nothing_cost(stats, c))
    if nothing <= best + _TIE_RTOL * max(1.0, abs(best)):
        top = float(np.max(stats.scores[finite]))
        return float(np.nextafter(top, np.inf))
    tied = np.flatnonzero(finite & (curve <= best + _TIE_RTOL * max(1.0, abs(best))))
    return float(stats.scores[tied[0]])


def why_cost(stats: BinaryStats | MulticlassStats | RegressionStats,
             threshold: float | str = 0.5, **params: Any) -> str | None:
    """Why a cost metric is undefined: only when the slice has no rows (or no weight),
    or a multiclass cost matrix names a class the data does not have.

    A one-class slice has a cost: every case still has an outcome.
    """
    if isinstance(stats, MulticlassStats):
        return why_multiclass_cost(stats, params["matrix"])
    if isinstance(stats, RegressionStats):
        return why_regression_cost(stats)
    return rows_reason(stats)


def _rates(stats: BinaryStats, threshold: float) -> tuple[FloatArray, FloatArray]:
    tp, fp, fn, tn = confusion_at(stats, threshold)
    return safe_div(tp, tp + fn), safe_div(fp, fp + tn)


def break_even_prevalence(stats: BinaryStats, threshold: float, tp: float, fp: float,
                          fn: float, tn: float) -> FloatArray:
    """The prevalence at which the model, at ``threshold``, is worth exactly as much as
    doing nothing (predicting every case negative).

    With the model's recall ``TPR`` and false-positive rate ``FPR`` at the threshold, the
    value per case at prevalence ``π`` is ``π·TPR·(c_fn − c_tp) − (1 − π)·FPR·(c_fp −
    c_tn)``; it is zero at ``π* = FPR·b / (TPR·a + FPR·b)`` with ``a = c_fn − c_tp`` (what
    catching a positive is worth) and ``b = c_fp − c_tn`` (what a false alarm costs). With
    ``a, b > 0`` the model is worth more than doing nothing above ``π*``.

    Parameters
    ----------
    stats
        Binary statistics, batch dimensions allowed.
    threshold
        The model's threshold on the scale of the scores.
    tp, fp, fn, tn
        The cost of each outcome per case.

    Returns
    -------
    numpy.ndarray
        Shape ``stats.batch_shape``; NaN where a class is missing (no recall or no
        false-positive rate), where the value does not depend on the prevalence's side
        (``TPR·a + FPR·b = 0``), or where ``π*`` falls outside [0, 1] (the model is better,
        or worse, than doing nothing at every prevalence).
    """
    tpr, fpr = _rates(stats, float(threshold))
    a, b = fn - tp, fp - tn
    pi = safe_div(fpr * b, tpr * a + fpr * b)
    return np.where((pi >= 0) & (pi <= 1), pi, np.nan)


def why_break_even_prevalence(stats: BinaryStats, threshold: float, tp: float, fp: float,
                              fn: float, tn: float) -> str | None:
    """Why :func:`break_even_prevalence` is undefined for the point estimate, or None."""
    if why := rows_reason(stats):
        return why
    if not float(stats.total_pos) > 0:
        return "no positives: the model's recall is undefined"
    if not float(stats.total_neg) > 0:
        return "no negatives: the model's false-positive rate is undefined"
    tpr, fpr = (float(r) for r in _rates(stats, float(threshold)))
    a, b = fn - tp, fp - tn
    den = tpr * a + fpr * b
    if den == 0:
        return (f"at threshold {threshold:g} the model's value does not change with the "
                "prevalence (recall × (fn − tp) + false-positive rate × (fp − tn) is 0)")
    pi = fpr * b / den
    if not 0 <= pi <= 1:
        side = "better" if a * tpr > 0 or b * fpr < 0 else "worse"
        return (f"at threshold {threshold:g} the model is {side} than doing nothing at "
                "every prevalence")
    return None


# --------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------

_BINARY = frozenset({"binary"})
_THRESHOLD = ParamSpec(
    kind="threshold", default=0.5, low=0.0, high=1.0, tasks=_BINARY,
    doc="rows with score >= threshold are predicted positive (a probability, also for "
        "logits; on the scores' own scale with `score_type: score`); `optimize` picks the "
        "cost-optimal threshold on the selection split and carries it to the other splits; "
        "the id of another metric with a chosen threshold takes that one",
)


def _cost_param(outcome: str) -> ParamSpec:
    return ParamSpec(
        kind="float", default=None, tasks=_BINARY,
        doc=f"binary: cost per {outcome} (a gain is negative); none: the charter's "
            "`costs:`",
    )


_PARAMS: dict[str, ParamSpec] = {
    "threshold": _THRESHOLD,
    "tp": _cost_param("true positive"),
    "fp": _cost_param("false positive"),
    "fn": _cost_param("false negative"),
    "tn": _cost_param("true negative"),
    "unit": ParamSpec(kind="str", default="",
                      doc="the unit of the costs (EUR, hours); from the charter's `costs:`"),
}

_REGRESSION = frozenset({"regression"})
# `expected_cost` reads the costs of its task: these are its parameters beyond _PARAMS.
_TASK_PARAMS: dict[str, ParamSpec] = {
    "matrix": ParamSpec(
        kind="matrix", default=None, tasks=frozenset({"multiclass"}),
        doc="multiclass: the cost matrix {true class: {predicted class: cost}} (a cell "
            "not given costs 0); none: the charter's `costs:`"),
    "over": ParamSpec(
        kind="float", default=None, low=0.0, tasks=_REGRESSION,
        doc="regression: cost per unit of over-prediction (prediction above the label); "
            "none: the charter's `costs:`"),
    "under": ParamSpec(
        kind="float", default=None, low=0.0, tasks=_REGRESSION,
        doc="regression: cost per unit of under-prediction (prediction below the label); "
            "none: the charter's `costs:`"),
}

SPECS: list[MetricSpec] = [
    MetricSpec(
        name="expected_cost", tasks=frozenset({"binary", "multiclass", "regression"}),
        direction="lower", fn=expected_cost, undefined=why_cost, label="Expected cost",
        description="Mean cost per case, in the unit of the charter's `costs:` (a gain is "
                    "a negative cost). Binary, at the threshold: (TP·tp + FP·fp + FN·fn + "
                    "TN·tn) / N; multiclass, of the arg-max class: Σ confusion × matrix / "
                    "N; regression: mean of over·max(ŷ − y, 0) + under·max(y − ŷ, 0).",
        params={**_PARAMS, **_TASK_PARAMS}, chooser=choose_cost_threshold,
    ),
    MetricSpec(
        name="net_value", tasks=frozenset({"binary"}), direction="higher",
        fn=net_value, undefined=why_cost, label="Net value",
        description="Value per case relative to doing nothing (predicting every case "
                    "negative): the cost of doing nothing minus the expected cost, "
                    "(TP·(fn − tp) − FP·(fp − tn)) / N.",
        params=_PARAMS, chooser=choose_cost_threshold,
    ),
]
