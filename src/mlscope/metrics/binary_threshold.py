"""Binary metrics at a threshold: the confusion counts at every candidate threshold, the
threshold metrics (accuracy, precision, recall, F-beta, MCC, ...), the choice of the best
threshold, and the operating points (precision at a recall, recall at a precision).

Registered, with the rest of the binary metrics, by :mod:`mlscope.metrics.binary`, which
re-exports the public names; the threshold semantics are described there.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mlscope.metrics.arith import safe_div as _div
from mlscope.metrics.binary_reasons import no_positives_reason, rows_reason
from mlscope.metrics.errors import fmt_weight
from mlscope.metrics.spec import Direction
from mlscope.metrics.stats import BinaryStats, Stats

__all__ = [
    "THRESHOLD_METRICS",
    "ThresholdMetric",
    "best_threshold",
    "choose_precision_at_recall",
    "choose_recall_at_precision",
    "confusion_at",
    "fn_precision_at_recall",
    "fn_recall_at_precision",
    "precision_at_recall",
    "recall_at_precision",
    "threshold_spec_fn",
    "threshold_spec_undefined",
    "why_precision_at_recall",
    "why_recall_at_precision",
]

FloatArray = npt.NDArray[np.float64]
# Values this close (relative) count as tied when choosing a threshold: metrics that are
# mathematically equal at two thresholds can differ in the last bits.
_TIE_RTOL = 1e-12


def _fmt_t(t: float) -> str:
    return f"{t:g}"



# --------------------------------------------------------------------------------------
# Threshold metrics
# --------------------------------------------------------------------------------------


def confusion_at(
    stats: BinaryStats, threshold: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Weighted ``(tp, fp, fn, tn)`` when rows with ``score >= threshold`` are positive.

    Returns
    -------
    tuple of numpy.ndarray
        Each of shape ``stats.batch_shape``.
    """
    # Scores are descending, so the rows predicted positive are the first k bins: slicing
    # (a view) instead of a boolean mask (a copy) keeps this cheap on million-bin layouts.
    return stats.split_at(predicted_bins(stats.scores, threshold))


def predicted_bins(scores: FloatArray, threshold: float) -> int:
    """How many of the descending ``scores`` are ``>= threshold`` (a binary search).

    The same count as ``np.searchsorted(-scores, -threshold, side="right")``, without
    negating (copying) a million scores for each of a slice's threshold metrics.
    """
    s = scores
    return bisect.bisect_left(range(s.size), True, key=lambda i: bool(s[i] < threshold))


def _below(x: FloatArray) -> FloatArray:
    """Sum of the bins strictly after each bin (lower scores); exactly 0 for the last."""
    out = np.zeros_like(x)
    out[..., :-1] = np.cumsum(x[..., :0:-1], axis=-1)[..., ::-1]
    return out


def _curve(stats: BinaryStats) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``(tp, fp, fn, tn)`` at every distinct score as threshold, shape ``(*batch, m)``."""
    return (np.cumsum(stats.pos, axis=-1), np.cumsum(stats.neg, axis=-1),
            _below(stats.pos), _below(stats.neg))


Kernel = Callable[..., FloatArray]
# reason(tp, fp, fn, tn, threshold_text) for the point estimate at one threshold.
Reason = Callable[[float, float, float, float, str], "str | None"]


@dataclass(frozen=True)
class ThresholdMetric:
    """A metric of the confusion counts at a threshold.

    ``kernel(tp, fp, fn, tn, **params)`` is vectorised and NaN where undefined;
    ``reason`` explains the NaN for one threshold (given as text).
    """

    kernel: Kernel
    reason: Reason
    direction: Direction = "higher"


def _counts_text(tp: float, fp: float, fn: float, tn: float) -> str:
    return f"{fmt_weight(tp + fn)} positives, {fmt_weight(fp + tn)} negatives"


def _k_accuracy(tp: FloatArray, fp: FloatArray, fn: FloatArray, tn: FloatArray,
                **_: Any) -> FloatArray:
    return _div(tp + tn, tp + fp + fn + tn)


def _k_balanced(tp: FloatArray, fp: FloatArray, fn: FloatArray, tn: FloatArray,
                **_: Any) -> FloatArray:
    return (_div(tp, tp + fn) + _div(tn, tn + fp)) / 2


def _k_precision(tp: FloatArray, fp: FloatArray, fn: FloatArray, tn: FloatArray,
                 **_: Any) -> FloatArray:
    return _div(tp, tp + fp)


def _k_recall(tp: FloatArray, fp: FloatArray, fn: FloatArray, tn: FloatArray,
              **_: Any) -> FloatArray:
    return _div(tp, tp + fn)


def _k_specificity(tp: FloatArray, fp: FloatArray, fn: FloatArray, tn: FloatArray,
                   **_: Any) -> FloatArray:
    return _div(tn, tn + fp)


def _k_fbeta(tp: FloatArray, fp: FloatArray, fn: FloatArray, tn: FloatArray,
             beta: float = 1.0, **_: Any) -> FloatArray:
    b2 = float(beta) ** 2
    return _div((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp)


def _k_mcc(tp: FloatArray, fp: FloatArray, fn: FloatArray, tn: FloatArray,
           **_: Any) -> FloatArray:
    # Square roots taken separately keep the product of four large weighted counts in range.
    den = np.sqrt(tp + fp) * np.sqrt(tp + fn) * np.sqrt(tn + fp) * np.sqrt(tn + fn)
    return _div(tp * tn - fp * fn, den)


def _k_kappa(tp: FloatArray, fp: FloatArray, fn: FloatArray, tn: FloatArray,
             **_: Any) -> FloatArray:
    # Cohen's kappa of the 2×2 table, (p_o − p_e) / (1 − p_e) multiplied out so that the
    # only division is by the chance disagreement (0 only when both raters are constant).
    return _div(2 * (tp * tn - fn * fp), (tp + fp) * (fp + tn) + (tp + fn) * (fn + tn))


def _k_positive_rate(tp: FloatArray, fp: FloatArray, fn: FloatArray, tn: FloatArray,
                     **_: Any) -> FloatArray:
    return _div(tp + fp, tp + fp + fn + tn)


def _r_none(tp: float, fp: float, fn: float, tn: float, t: str) -> str | None:
    return None


def _r_one_class(tp: float, fp: float, fn: float, tn: float, t: str) -> str | None:
    if tp + fn > 0 and fp + tn > 0:
        return None
    return f"only one class present ({_counts_text(tp, fp, fn, tn)})"


def _r_precision(tp: float, fp: float, fn: float, tn: float, t: str) -> str | None:
    return None if tp + fp > 0 else f"no predicted positives at threshold {t}"


def _r_recall(tp: float, fp: float, fn: float, tn: float, t: str) -> str | None:
    return None if tp + fn > 0 else f"no positives ({_counts_text(tp, fp, fn, tn)})"


def _r_specificity(tp: float, fp: float, fn: float, tn: float, t: str) -> str | None:
    return None if fp + tn > 0 else f"no negatives ({_counts_text(tp, fp, fn, tn)})"


def _r_fbeta(tp: float, fp: float, fn: float, tn: float, t: str) -> str | None:
    if tp + fn > 0 or tp + fp > 0:
        return None
    return f"no positives and no predicted positives at threshold {t}"


def _r_mcc(tp: float, fp: float, fn: float, tn: float, t: str) -> str | None:
    if why := _r_one_class(tp, fp, fn, tn, t):
        return why
    if tp + fp == 0:
        return f"every row is predicted negative at threshold {t}"
    if fn + tn == 0:
        return f"every row is predicted positive at threshold {t}"
    return None


def _r_kappa(tp: float, fp: float, fn: float, tn: float, t: str) -> str | None:
    if (tp + fp) * (fp + tn) + (tp + fn) * (fn + tn) > 0:
        return None
    side = "positive" if tp + fp > 0 else "negative"
    return (f"label and prediction are the same constant (every row is {side} and "
            f"predicted {side} at threshold {t}): no disagreement is expected by chance")


THRESHOLD_METRICS: dict[str, ThresholdMetric] = {
    "accuracy": ThresholdMetric(_k_accuracy, _r_none),
    "balanced_accuracy": ThresholdMetric(_k_balanced, _r_one_class),
    "precision": ThresholdMetric(_k_precision, _r_precision),
    "recall": ThresholdMetric(_k_recall, _r_recall),
    "specificity": ThresholdMetric(_k_specificity, _r_specificity),
    "f1": ThresholdMetric(_k_fbeta, _r_fbeta),
    "fbeta": ThresholdMetric(_k_fbeta, _r_fbeta),
    "mcc": ThresholdMetric(_k_mcc, _r_mcc),
    "cohen_kappa": ThresholdMetric(_k_kappa, _r_kappa),
    # Lower is better: the share of rows flagged is a budget (alerts, reviews).
    "positive_rate": ThresholdMetric(_k_positive_rate, _r_none, direction="lower"),
}


def _curve_values(name: str, stats: BinaryStats, params: dict[str, Any]) -> FloatArray:
    """The metric at every candidate threshold, ``(*batch, m)``; NaN at empty bins."""
    metric = THRESHOLD_METRICS[name]
    values = metric.kernel(*_curve(stats), **params)
    # A bin without weight is not a distinct score of that replicate: thresholding there
    # repeats its upper neighbour, or (above every weighted score) predicts nothing.
    return np.where((stats.pos + stats.neg) > 0, values, np.nan)


def _pick(values: FloatArray, maximise: bool, prefer_low: bool = False) -> int | None:
    """Index of the best finite value of a 1-d array (ties within ``_TIE_RTOL``).

    Indices follow descending scores, so the first tied index is the highest threshold.
    """
    finite = np.isfinite(values)
    if not finite.any():
        return None
    v = values if maximise else -values
    best = float(np.max(v[finite]))
    tied = np.flatnonzero(finite & (v >= best - _TIE_RTOL * max(1.0, abs(best))))
    return int(tied[-1] if prefer_low else tied[0])


def _threshold_value(name: str, stats: BinaryStats, threshold: float | str,
                     params: dict[str, Any]) -> FloatArray:
    metric = THRESHOLD_METRICS[name]
    if threshold == "optimize":
        values = _curve_values(name, stats, params)
        finite = np.isfinite(values)
        if metric.direction == "lower":
            best = np.where(finite, values, np.inf).min(axis=-1, initial=np.inf)
        else:
            best = np.where(finite, values, -np.inf).max(axis=-1, initial=-np.inf)
        return np.where(finite.any(axis=-1), best, np.nan)
    return metric.kernel(*confusion_at(stats, float(threshold)), **params)


def _threshold_reason(name: str, stats: BinaryStats, threshold: float | str,
                      params: dict[str, Any]) -> str | None:
    if why := rows_reason(stats):
        return why
    metric = THRESHOLD_METRICS[name]
    if threshold == "optimize":
        if np.isfinite(_threshold_value(name, stats, threshold, params)):
            return None
        # Undefined at every candidate: the reason at the lowest one (everything predicted
        # positive) names the missing class.
        lowest = float(stats.scores[(stats.pos + stats.neg) > 0][-1])
        tp, fp, fn, tn = (float(c) for c in confusion_at(stats, lowest))
        why = metric.reason(tp, fp, fn, tn, _fmt_t(lowest))
        return why or "undefined at every candidate threshold"
    tp, fp, fn, tn = (float(c) for c in confusion_at(stats, float(threshold)))
    return metric.reason(tp, fp, fn, tn, _fmt_t(float(threshold)))


def best_threshold(spec_name: str, stats: Stats, **params: Any) -> float:
    """The distinct score that, as threshold, optimises a threshold metric.

    Parameters
    ----------
    spec_name
        A threshold metric's registry name (``"f1"``, ``"precision"``, ...), or an
        operating-point metric (``"precision_at_recall"``, ``"recall_at_precision"``),
        which is delegated to its chooser.
    stats
        Point-estimate statistics (no batch dimensions) of the selection split.
    **params
        The metric's parameters (``threshold`` is ignored; ``beta`` for ``fbeta``).

    Returns
    -------
    float
        The distinct score with positive weight that maximises the metric (minimises it
        for ``positive_rate``). Ties, up to a relative ``1e-12`` of rounding, go to the
        **highest** threshold (the fewest predicted positives). NaN when the metric is
        undefined at every candidate.

    Raises
    ------
    ValueError
        For statistics that are not point-estimate :class:`BinaryStats`, or a metric
        without a threshold.
    """
    if not isinstance(stats, BinaryStats):
        raise ValueError(f"`{spec_name}` needs a threshold, which only binary tasks have")
    if stats.batch_shape:
        raise ValueError("a threshold is chosen on point-estimate statistics only")
    if spec_name in _CHOOSERS:
        return _CHOOSERS[spec_name](stats, **params)
    if spec_name not in THRESHOLD_METRICS:
        raise ValueError(f"metric `{spec_name}` has no threshold to optimise")
    rest = {k: v for k, v in params.items() if k != "threshold"}
    values = _curve_values(spec_name, stats, rest)
    i = _pick(values, maximise=THRESHOLD_METRICS[spec_name].direction == "higher")
    return float("nan") if i is None else float(stats.scores[i])


# --------------------------------------------------------------------------------------
# Operating points
# --------------------------------------------------------------------------------------


def _pr_curve(stats: BinaryStats) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """Precision, recall and "is a candidate" at every distinct score, ``(*batch, m)``."""
    tp, fp, _, _ = _curve(stats)
    precision = _div(tp, tp + fp)
    # Recall relative to the last cumulative count, as scikit-learn computes it, so that
    # the lowest threshold has recall exactly 1 whatever the rounding of the weights.
    recall = _div(tp, tp[..., -1:])
    candidate = ((stats.pos + stats.neg) > 0) & np.isfinite(precision) & np.isfinite(recall)
    return precision, recall, candidate


def precision_at_recall(stats: BinaryStats, recall: float = 0.8) -> FloatArray:
    """Highest precision among thresholds whose recall is at least ``recall``.

    The candidates are scikit-learn's ``precision_recall_curve`` points without its final
    ``(precision=1, recall=0)`` sentinel, which is no threshold.

    Returns
    -------
    numpy.ndarray
        Shape ``stats.batch_shape``; NaN where there are no positives.
    """
    precision, rec, candidate = _pr_curve(stats)
    ok = candidate & (rec >= recall)
    best = np.where(ok, precision, -np.inf).max(axis=-1, initial=-np.inf)
    return np.where(ok.any(axis=-1), best, np.nan)


def recall_at_precision(stats: BinaryStats, precision: float = 0.8) -> FloatArray:
    """Highest recall among thresholds whose precision is at least ``precision``.

    As :func:`precision_at_recall`, the ``(1, 0)`` sentinel is no candidate: when no
    threshold reaches the precision the value is NaN, not a recall of 0.
    """
    prec, rec, candidate = _pr_curve(stats)
    ok = candidate & (prec >= precision)
    best = np.where(ok, rec, -np.inf).max(axis=-1, initial=-np.inf)
    return np.where(ok.any(axis=-1), best, np.nan)


def choose_precision_at_recall(stats: BinaryStats, recall: float = 0.8,
                               **_: Any) -> float:
    if stats.batch_shape:
        raise ValueError("a threshold is chosen on point-estimate statistics only")
    precision, rec, candidate = _pr_curve(stats)
    values = np.where(candidate & (rec >= recall), precision, np.nan)
    # Equal precision at a lower threshold comes with at least the recall: prefer it.
    i = _pick(values, maximise=True, prefer_low=True)
    return float("nan") if i is None else float(stats.scores[i])


def choose_recall_at_precision(stats: BinaryStats, precision: float = 0.8,
                               **_: Any) -> float:
    if stats.batch_shape:
        raise ValueError("a threshold is chosen on point-estimate statistics only")
    prec, rec, candidate = _pr_curve(stats)
    values = np.where(candidate & (prec >= precision), rec, np.nan)
    # Equal recall at a higher threshold comes with at most the false positives: prefer it.
    i = _pick(values, maximise=True)
    return float("nan") if i is None else float(stats.scores[i])


_CHOOSERS: dict[str, Callable[..., float]] = {
    "precision_at_recall": choose_precision_at_recall,
    "recall_at_precision": choose_recall_at_precision,
}


def fn_precision_at_recall(stats: BinaryStats, recall: float = 0.8,
                           threshold: float | str = "optimize", **_: Any) -> FloatArray:
    if threshold == "optimize":
        return precision_at_recall(stats, recall)
    return _k_precision(*confusion_at(stats, float(threshold)))


def fn_recall_at_precision(stats: BinaryStats, precision: float = 0.8,
                           threshold: float | str = "optimize", **_: Any) -> FloatArray:
    if threshold == "optimize":
        return recall_at_precision(stats, precision)
    return _k_recall(*confusion_at(stats, float(threshold)))


def why_precision_at_recall(stats: BinaryStats, recall: float = 0.8,
                            threshold: float | str = "optimize", **_: Any) -> str | None:
    if threshold != "optimize":
        return _threshold_reason("precision", stats, threshold, {})
    if why := rows_reason(stats) or no_positives_reason(stats):
        return why
    if not np.isfinite(precision_at_recall(stats, recall)):
        return f"no threshold reaches recall ≥ {recall:g}"
    return None


def why_recall_at_precision(stats: BinaryStats, precision: float = 0.8,
                            threshold: float | str = "optimize", **_: Any) -> str | None:
    if threshold != "optimize":
        return _threshold_reason("recall", stats, threshold, {})
    if why := rows_reason(stats) or no_positives_reason(stats):
        return why
    if not np.isfinite(recall_at_precision(stats, precision)):
        prec, _rec, candidate = _pr_curve(stats)
        top = float(np.max(prec[candidate])) if candidate.any() else float("nan")
        return f"no threshold reaches precision ≥ {precision:g} (highest: {top:.4g})"
    return None


def threshold_spec_fn(name: str) -> Callable[..., FloatArray]:
    """``fn(stats, threshold=..., **params)`` of a binary threshold metric."""

    def fn(stats: BinaryStats, threshold: float | str = 0.5, **params: Any) -> FloatArray:
        return _threshold_value(name, stats, threshold, params)

    return fn


def threshold_spec_undefined(name: str) -> Callable[..., str | None]:
    """``undefined(stats, threshold=..., **params)`` of a binary threshold metric."""

    def undefined(stats: BinaryStats, threshold: float | str = 0.5,
                  **params: Any) -> str | None:
        return _threshold_reason(name, stats, threshold, params)

    return undefined
