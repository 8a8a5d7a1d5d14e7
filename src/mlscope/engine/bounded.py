"""Intervals that respect a metric's range.

Every metric in the registry knows its range (:attr:`MetricSpec.bounds`); no interval
mlscope prints may leave it, nor may an interval of a difference leave the range the
difference can attain (``[lo − hi, hi − lo]``, e.g. [−1, 1] for metrics in [0, 1]).

* :func:`boundary_interval` — a metric at the edge of its range whose bootstrap replicates
  all equal the estimate (a perfect slice: every resample is perfect too) gets the exact
  Clopper–Pearson interval of ``n`` successes in ``n`` trials, ``[(α/2)^(1/n), 1]``
  (mirrored at 0), instead of ``[1, 1]``.
* :func:`logit_interval` — a Wald interval on the logit scale, mapped back: inside (0, 1)
  by construction (used for one ROC AUC with DeLong's standard error).
* :func:`mover` — the interval of a difference of two correlated estimates from their own
  intervals (Zou & Donner's MOVER, the "hybrid" of Newcombe 1998 for proportions): it
  lies within ``[l_a − u_b, u_a − l_b]``, so within the attainable range when the two
  intervals are within the metric's range.
* :func:`clip` — the last guard: an interval cut to a range.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

__all__ = ["boundary_interval", "clip", "difference_bounds", "logit_interval", "mover",
           "wilson"]

Bounds = tuple[float | None, float | None]


def clip(lower: float, upper: float, bounds: Bounds) -> tuple[float, float]:
    """``[lower, upper]`` cut to ``bounds`` (``None``: open on that side)."""
    lo, hi = bounds
    if lo is not None:
        lower, upper = max(lower, lo), max(upper, lo)
    if hi is not None:
        lower, upper = min(lower, hi), min(upper, hi)
    return lower, upper


def difference_bounds(bounds: Bounds) -> Bounds:
    """The range a difference of two values in ``bounds`` can attain."""
    lo, hi = bounds
    if lo is None or hi is None:
        return (None, None)
    return (lo - hi, hi - lo)


def boundary_interval(value: float, n: float, level: float, bounds: Bounds
                      ) -> tuple[float, float] | None:
    """Exact (Clopper–Pearson) interval of a proportion-like metric observed at an end of
    its range ``bounds`` on ``n`` trials; None when it is not at an end, the range is not
    finite, or ``n`` < 1.

    All ``n`` trials successes: lower bound ``(α/2)^(1/n)`` (Clopper–Pearson's beta
    quantile in closed form), rescaled to the range; all failures, the mirror image.
    """
    lo, hi = bounds
    if lo is None or hi is None or not n >= 1:
        return None
    alpha = 1.0 - level
    share = (alpha / 2.0) ** (1.0 / n)
    if value == hi:
        return lo + (hi - lo) * share, hi
    if value == lo:
        return lo, lo + (hi - lo) * (1.0 - share)
    return None


def wilson(p: float, n: float, z: float) -> tuple[float, float]:
    """Wilson's score interval of a proportion ``p`` observed on ``n`` trials."""
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(p * (1 - p) / n + z * z / (4 * n * n), 0.0)) / denom
    return max(centre - half, 0.0), min(centre + half, 1.0)


def logit_interval(estimate: float, se: float, z: float) -> tuple[float, float] | None:
    """Wald interval on the logit scale, back-transformed (delta method:
    ``se_logit = se / (p(1 − p))``); None at 0 or 1, where the logit is infinite."""
    if not 0.0 < estimate < 1.0:
        return None
    theta = math.log(estimate / (1.0 - estimate))
    half = z * se / (estimate * (1.0 - estimate))

    def expit(x: float) -> float:
        return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))

    return expit(theta - half), expit(theta + half)


def mover(a: float, ci_a: tuple[float, float], b: float, ci_b: tuple[float, float],
          r: float) -> tuple[float, float]:
    """MOVER interval of ``a − b`` from each estimate's interval and their correlation.

    ``L = d − sqrt((a − l_a)² + (u_b − b)² − 2r(a − l_a)(u_b − b))``,
    ``U = d + sqrt((u_a − a)² + (b − l_b)² − 2r(u_a − a)(b − l_b))`` (Zou & Donner 2008;
    Newcombe 1998 for independent proportions, r = 0).
    """
    r = min(max(r, -1.0), 1.0)
    la, ua = ci_a
    lb, ub = ci_b
    d = a - b
    down = (a - la) ** 2 + (ub - b) ** 2 - 2.0 * r * (a - la) * (ub - b)
    up = (ua - a) ** 2 + (b - lb) ** 2 - 2.0 * r * (ua - a) * (b - lb)
    return d - math.sqrt(max(down, 0.0)), d + math.sqrt(max(up, 0.0))


# Metrics that are a share of some rows: (metric, which rows are the trials).
_TRIALS = {"accuracy": "rows", "positive_rate": "rows", "top_k_accuracy": "rows",
           "recall": "pos", "specificity": "neg", "precision": "predicted"}
# Ranking and combined threshold metrics: the smaller class bounds their variance like a
# proportion on that many trials (for ROC AUC: Birnbaum & Klose, 1957), so an interval on
# that many trials is not too narrow.
_SMALLER_CLASS = frozenset({"roc_auc", "average_precision", "balanced_accuracy", "f1",
                            "mean_average_precision", "class_average_precision"})


# Multiclass averages that equal accuracy (micro averages, and recall weighted by the
# classes' shares): the rows are their trials.
_MULTI_ROWS = frozenset({"recall_micro", "precision_micro", "f1_micro", "recall_weighted"})
# Per-class metrics: the class's rows (recall, F1) or its predictions (precision).
_MULTI_CLASS = {"class_recall": "true", "class_f1": "true", "class_precision": "predicted"}
# Averages over classes at an end of the range only when every class is: the smallest
# class bounds them as for the ranking metrics (a conservative choice).
_MULTI_SMALLEST = frozenset({"recall_macro", "precision_macro", "f1_macro",
                             "precision_weighted", "f1_weighted"})


def effective_trials(name: str, stats: object, threshold: float | None,
                     params: Mapping[str, object] | None = None) -> float | None:
    """The number of trials behind a proportion-like metric on ``stats`` (a slice's
    statistics), for :func:`boundary_interval`; None when the metric is not one.
    ``params``: the metric's parameters (a multiclass per-class metric's ``cls``)."""
    from mlscope.metrics.stats import BinaryStats, MulticlassStats

    kind = _TRIALS.get(name)
    if isinstance(stats, BinaryStats):
        pos, neg = float(stats.total_pos), float(stats.total_neg)
        if kind == "rows":
            return pos + neg
        if kind == "pos":
            return pos
        if kind == "neg":
            return neg
        if kind == "predicted":
            if threshold is None:
                return None
            if math.isnan(threshold):
                return 0.0  # no score is at or above NaN
            # Scores are distinct and descending: those at or above the threshold are the
            # first k (a view; the same elements, in the same order, as a boolean mask).
            k = int(np.searchsorted(-stats.scores, -threshold, side="right"))
            return float((stats.pos[..., :k] + stats.neg[..., :k]).sum())
        if name in _SMALLER_CLASS:
            counts = [c for c in (pos, neg) if c > 0]
            return min(counts) if counts else None
        return None
    if isinstance(stats, MulticlassStats):
        if kind == "rows" or name in _MULTI_ROWS:
            return float(stats.total)
        if name in _MULTI_CLASS:
            cls = (params or {}).get("cls")
            if cls not in stats.classes:
                return None
            i = stats.classes.index(cls)
            axis = _MULTI_CLASS[name]
            # The class's rows (true class) or its predictions (the arg-max).
            rows = stats.confusion[..., i, :] if axis == "true" else stats.confusion[..., :, i]
            return float(rows.sum())
        if name in _SMALLER_CLASS or name in _MULTI_SMALLEST or kind is not None:
            per_class = stats.confusion.sum(axis=-1).ravel()
            present = per_class[per_class > 0]
            return float(present.min()) if present.size else None
    return None
