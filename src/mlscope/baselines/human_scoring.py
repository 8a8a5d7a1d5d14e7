"""Scoring units of (item, reference, prediction) rows with the metric registry, point
values and a paired bootstrap over items, and their summaries for the human ladder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlscope.baselines.human_data import AnnotatedData, BoolArray, FloatArray, IntArray
from mlscope.engine.bootstrap import percentile_interval, resample_counts
from mlscope.engine.rowstats import batched_binary, batched_regression, multiclass_row_codes
from mlscope.metrics.registry import MetricSpec, get_metric
from mlscope.metrics.stats import (
    BinaryStats,
    MulticlassStats,
    RegressionStats,
    Stats,
    binary_stats,
    multiclass_stats,
    regression_stats,
    scores_by_class,
)
from mlscope.result.human import HumanMetricSpec, HumanValue

__all__ = [
    "ResolvedMetric",
    "Scorer",
    "ScoringJob",
    "ScoringUnit",
    "bootstrap_units",
    "few_batched_binary",
    "few_batched_multiclass",
    "hard_pred",
    "models_on_units",
    "nanmean0",
    "resolve_metric",
    "summarise_values",
]

_MIN_DEFINED_SHARE = 0.9  # as the main evaluation: fewer defined replicates, no interval
_CHUNK_CELLS = 4_000_000  # replicate x item cells held at once during the bootstrap
_NO_SCORES = "annotators give labels, not scores"
# Up to this many groups a sum over groups is a product with a one-hot matrix.
_FEW_GROUPS = 64


# --------------------------------------------------------------------------------------
# Scoring units: one set of (item, reference, prediction) rows
# --------------------------------------------------------------------------------------


@dataclass
class ScoringUnit:
    """One set of (item, reference, prediction) rows, scored as a whole."""

    items: IntArray
    y: FloatArray  # class index or value
    pred: FloatArray  # binary score (n,), multiclass proba (n, K), regression (n,)
    hard: bool  # predictions are labels, not scores


# A unit with its point values, reasons and statistics (None for an empty unit).
ScoringJob = tuple[ScoringUnit, list[float], list[str | None], Stats | None]


@dataclass
class ResolvedMetric:
    """A metric resolved in the registry, with its parameters for scores and for labels."""

    id: str
    spec: MetricSpec
    params: dict[str, Any]
    hard_params: dict[str, Any]
    hard_reason: str | None


def resolve_metric(m: HumanMetricSpec, task: str) -> ResolvedMetric:
    """Resolve a metric in the registry, and say why it is undefined on hard labels.

    Parameters
    ----------
    m
        The metric, by registry name with parameters.
    task
        ``"binary"``, ``"multiclass"`` or ``"regression"``.

    Returns
    -------
    ResolvedMetric
        The spec, its parameters for scores and for labels, and why labels have no value
        (``None`` when they have one).
    """
    spec = get_metric(m.name, task=task)
    params = spec.resolve_params(m.params, where=f"metric `{m.id}`: ", task=task)
    hard = dict(params)
    reason: str | None = None
    if spec.name == "log_loss":
        reason = (f"{_NO_SCORES}: the log loss of a hard label is infinite wherever it "
                  "disagrees with the reference")
    elif spec.is_operating_point(params):
        reason = f"{_NO_SCORES}: `{spec.name}` needs a ranking of scores to choose a threshold"
    elif spec.name == "top_k_accuracy" and int(params.get("k", 1)) > 1:
        reason = f"{_NO_SCORES}: top-k accuracy needs a ranking of the classes"
    elif task == "binary" and isinstance(params.get("threshold"), float):
        # A label is its own decision: as a 0/1 score it must be cut between 0 and 1,
        # whatever threshold the models use.
        hard["threshold"] = 0.5
    return ResolvedMetric(m.id, spec, params, hard, reason)


class Scorer:
    """Metric values of units through the registry, point and bootstrap."""

    def __init__(self, data: AnnotatedData, metrics: list[ResolvedMetric]) -> None:
        self.task = data.task
        self.classes = data.classes
        self.metrics = metrics

    def _stats(self, u: ScoringUnit, W: FloatArray | None, point: Stats | None = None) -> Stats:
        if self.task == "binary":
            y = u.y.astype(bool)
            if W is None:
                return binary_stats(y, u.pred)
            return few_batched_binary(y, u.pred, W)
        if self.task == "multiclass":
            yi = u.y.astype(np.int64)
            if W is None:
                return multiclass_stats(np.asarray(self.classes)[yi], u.pred, self.classes)
            return few_batched_multiclass(yi, u.pred, self.classes, W)
        if W is None:
            return regression_stats(u.y, u.pred)
        # Replicates share the point estimate's centre, as the main evaluation does.
        shift = point.y_shift if isinstance(point, RegressionStats) else float(u.y.mean())
        return batched_regression(u.y, u.pred, W, y_shift=shift, unit_weights=True)

    def point(self, u: ScoringUnit) -> tuple[list[float], list[str | None], Stats]:
        stats = self._stats(u, None)
        values: list[float] = []
        reasons: list[str | None] = []
        for m in self.metrics:
            params = m.hard_params if u.hard else m.params
            why = m.hard_reason if u.hard else None
            why = why or m.spec.undefined(stats, **params)
            v = float("nan") if why else float(m.spec.fn(stats, **params))
            if not why and not np.isfinite(v):
                why = "undefined on these items"
            values.append(v)
            reasons.append(why)
        return values, reasons, stats

    def replicates(self, u: ScoringUnit, W: FloatArray, point: Stats | None,
                   defined: list[bool]) -> FloatArray:
        out = np.full((len(self.metrics), W.shape[0]), np.nan)
        if not any(defined):
            return out
        stats = self._stats(u, W, point)
        for j, m in enumerate(self.metrics):
            if defined[j]:
                out[j] = m.spec.fn(stats, **(m.hard_params if u.hard else m.params))
        return out


def _group_sum(W: FloatArray, group: IntArray, m: int) -> FloatArray:
    """Sum the columns of ``W`` (``(R, n)``) within each of ``m`` groups -> ``(R, m)``.

    A product with a one-hot matrix for few groups (a fraction of the cost of a weighted
    bincount over ``R × n`` cells), the bincount otherwise.
    """
    r, n = W.shape
    if m <= _FEW_GROUPS:
        onehot = np.zeros((n, m))
        onehot[np.arange(n), group] = 1.0
        return np.asarray(W @ onehot, dtype=np.float64)
    flat = (np.arange(r, dtype=np.int64)[:, None] * m + group[None, :]).ravel()
    out = np.bincount(flat, weights=W.ravel(), minlength=r * m)
    return np.asarray(out, dtype=np.float64).reshape(r, m)


def _few_scores_binary(y: BoolArray, score: FloatArray, W: FloatArray) -> BinaryStats | None:
    """:func:`~mlscope.engine.rowstats.batched_binary` when there are few distinct scores.

    Label rungs have two distinct scores (0 and 1), where the sums are cheap products.
    """
    values, inv = np.unique(score, return_inverse=True)
    m = values.size
    if m > _FEW_GROUPS // 2:
        return None
    # Positives in groups 0..m-1, negatives in m..2m-1; flipped to descending scores.
    sums = _group_sum(W, inv.astype(np.int64) + m * (~y), 2 * m)
    pos = np.ascontiguousarray(sums[:, m - 1::-1])
    neg = np.ascontiguousarray(sums[:, :m - 1:-1])
    return BinaryStats(values[::-1].copy(), pos, neg, int(y.size))


def few_batched_binary(y: BoolArray, score: FloatArray, W: FloatArray) -> BinaryStats:
    """Batched binary statistics, cheaper when there are few distinct scores.

    Parameters
    ----------
    y
        ``(n,)`` positive or not.
    score
        ``(n,)`` scores.
    W
        ``(R, n)`` replicate weights of the rows.

    Returns
    -------
    BinaryStats
        The statistics of each replicate.
    """
    return _few_scores_binary(y, score, W) or batched_binary(y, score, W)


def few_batched_multiclass(yi: IntArray, proba: FloatArray, classes: tuple[str, ...],
                        W: FloatArray) -> MulticlassStats:
    """:func:`~mlscope.engine.rowstats.batched_multiclass` with :func:`_group_sum`."""
    k = len(classes)
    pred, rank, nll = multiclass_row_codes(yi, proba)
    confusion = _group_sum(W, yi * k + pred, k * k).reshape(W.shape[0], k, k)
    topk = np.cumsum(_group_sum(W, np.minimum(rank, k - 1), k), axis=-1)
    ovr = tuple(few_batched_binary(yi == c, proba[:, c], W) for c in range(k))
    return MulticlassStats(
        classes=classes, confusion=confusion, topk_hits=topk,
        log_loss_sum=np.asarray(W @ nll), one_vs_rest=ovr,
        total=np.asarray(W.sum(axis=-1), dtype=np.float64), n_rows=int(yi.size),
        by_class=tuple(scores_by_class(yi, proba[:, c], k, W) for c in range(k)),
    )


def hard_pred(data: AnnotatedData, codes: FloatArray) -> FloatArray:
    """Labels (class codes or values) as predictions: one-hot rows for multiclass.

    Parameters
    ----------
    data
        The normalised labels (for the task and number of classes).
    codes
        ``(n,)`` class codes or values.

    Returns
    -------
    numpy.ndarray
        ``(n, K)`` for multiclass, else ``(n,)``.
    """
    if data.task == "multiclass":
        return np.eye(data.k)[codes.astype(np.int64)]
    return codes.astype(np.float64)


def models_on_units(data: AnnotatedData, units: Sequence[ScoringUnit]
                    ) -> dict[str, list[ScoringUnit]]:
    """Each model's units on exactly the items and references of ``units``.

    Parameters
    ----------
    data
        The normalised labels and model scores.
    units
        The human units.

    Returns
    -------
    dict
        Model name -> one unit per human unit, with the model's scores as predictions.
    """
    return {name: [ScoringUnit(u.items, u.y, arr[u.items], hard=False) for u in units]
            for name, arr in data.models.items()}


# --------------------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------------------


def nanmean0(a: FloatArray) -> FloatArray:
    """Mean over axis 0 of the finite values; NaN where a column has none.

    Parameters
    ----------
    a
        An array of values, NaN where undefined.

    Returns
    -------
    numpy.ndarray
        The column means.
    """
    ok = np.isfinite(a)
    n = ok.sum(axis=0)
    s = np.where(ok, a, 0.0).sum(axis=0)
    return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def summarise_values(metric: str, values: list[float], reasons: list[str | None],
             reps: FloatArray | None, level: float, unit_word: str) -> HumanValue:
    """One metric's value on a rung: the mean over units, their spread, and an interval.

    Parameters
    ----------
    metric
        The metric id.
    values, reasons
        Each unit's point value and why it is undefined (``None`` when defined).
    reps
        ``(n_units, R)`` bootstrap replicates, or ``None`` for no interval.
    level
        The interval's confidence level.
    unit_word
        What a unit is (``"annotator"``, ``"draw"``), for messages.

    Returns
    -------
    HumanValue
        The value, or why it is undefined.
    """
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    if not ok.any():
        why = next((r for r in reasons if r), "undefined")
        if len(values) > 1:
            why = f"undefined for every {unit_word}: {why}"
        return HumanValue(metric, undefined=why)
    d = v[ok]
    lower = upper = None
    if reps is not None and reps.shape[1] > 0:
        ci = percentile_interval(nanmean0(reps[ok]), level, min_defined=_MIN_DEFINED_SHARE)
        if ci is not None:
            lower, upper = ci
    return HumanValue(
        metric,
        value=float(d.mean()),
        lower=lower,
        upper=upper,
        spread=float(d.std(ddof=1)) if d.size >= 2 else None,
        minimum=float(d.min()),
        maximum=float(d.max()),
        n_units=int(d.size),
    )


def bootstrap_units(scorer: Scorer, jobs: list[ScoringJob], n_items: int, resamples: int,
               seed: int) -> list[FloatArray]:
    """Replicate values ``(n_metrics, resamples)`` per job; every job sees the same draws."""
    n_metrics = len(scorer.metrics)
    if resamples == 0 or not jobs:
        return [np.zeros((n_metrics, 0)) for _ in jobs]
    rng = np.random.default_rng([seed, 0])
    chunk = max(1, min(resamples, _CHUNK_CELLS // max(n_items, 1)))
    parts: list[list[FloatArray]] = [[] for _ in jobs]
    done = 0
    while done < resamples:
        r = min(chunk, resamples - done)
        counts = resample_counts(rng, n_items, r)
        for i, (u, vals, _, st) in enumerate(jobs):
            defined = [bool(np.isfinite(v)) for v in vals]
            if u.items.size == 0:
                parts[i].append(np.full((n_metrics, r), np.nan))
            else:
                parts[i].append(scorer.replicates(u, counts[:, u.items], st, defined))
        done += r
    return [np.concatenate(p, axis=1) for p in parts]
