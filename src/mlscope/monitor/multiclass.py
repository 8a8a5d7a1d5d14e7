"""A multiclass model's performance before labels: CBPE generalised to K classes.

Each class's probability is recalibrated on the reference one-vs-rest (the binary
logistic recalibration, ``logit P(y = k) = a_k + b_k · logit(p_k)``), and the K
recalibrated probabilities are renormalised to sum to 1. In a window each row then
counts ``q̂_k`` of class ``k`` at the class the model predicts (the arg-max of its own
probabilities): the **expected confusion matrix**. The charter's metrics that are
functions of a confusion matrix (accuracy; precision, recall and F1, macro, micro or
weighted, or of one class) evaluated on it are the estimates.

The interval draws labels ``y* ~ Categorical(q̂)`` on the window's own rows, with ``q̂``
from a recalibration refitted on a bootstrap resample of the reference each time (as the
binary CBPE does), so it holds the realised value's sampling error and the
recalibration's. Assumes no concept drift (``P(y | x)`` as in the reference) and
probabilities that recalibrate well one class at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import numpy.typing as npt

from mlscope.charter.costs import cost_params
from mlscope.charter.schema import Charter
from mlscope.errors import InputError
from mlscope.metrics.calibration import ece_debiased
from mlscope.metrics.registry import get_metric
from mlscope.metrics.stats import MulticlassStats, binary_stats
from mlscope.monitor.performance import Calibrated, fit_calibration, percentile_interval
from mlscope.monitor.result import Estimate, Performance

__all__ = ["ClassCalibration", "ConfusionMetric", "confusion_stats", "estimate_multiclass",
           "estimate_multiclass_slice",
           "fit_multiclass", "multiclass_metrics", "separated_classes"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
# The registry's multiclass metrics that are functions of the confusion matrix alone.
_CONFUSION = {"accuracy", "class_precision", "class_recall", "class_f1", "expected_cost",
              *(f"{k}_{a}" for k in ("precision", "recall", "f1")
                for a in ("macro", "micro", "weighted"))}
_DEFAULT_METRICS = ("accuracy", "f1_macro")


@dataclass(frozen=True)
class ConfusionMetric:
    """A metric the monitor estimates from a (batched) confusion matrix."""

    id: str
    call: Callable[[MulticlassStats], FloatArray]


@dataclass(frozen=True)
class ClassCalibration:
    """The reference's one-vs-rest recalibration of each class's probability."""

    per_class: tuple[Calibrated, ...]
    ece: float  # the largest debiased ECE over classes, after renormalising

    @property
    def fitted(self) -> bool:
        return all(c.fitted for c in self.per_class)

    def probability(self, proba: FloatArray) -> FloatArray:
        """Recalibrated, renormalised probabilities, ``(n, K)``."""
        q = np.column_stack([c.probability(proba[:, k])
                             for k, c in enumerate(self.per_class)])
        return np.asarray(q / q.sum(axis=1, keepdims=True), dtype=np.float64)

    def probability_draws(self, proba: FloatArray, resamples: int) -> FloatArray:
        """One ``(n, K)`` of probabilities per bootstrap refit: ``(resamples, n, K)``."""
        q = np.stack([c.probability_draws(proba[:, k], resamples)
                      for k, c in enumerate(self.per_class)], axis=-1)
        return np.asarray(q / q.sum(axis=-1, keepdims=True), dtype=np.float64)


def fit_multiclass(labels: IntArray, proba: FloatArray, *, rng: np.random.Generator,
                   resamples: int) -> ClassCalibration:
    """Recalibrate each class's probability on the reference (``labels``: class indices)."""
    k = proba.shape[1]
    cals = tuple(fit_calibration((labels == c).astype(np.float64), proba[:, c], 0.5,
                                 "probability", rng=rng, resamples=resamples)
                 for c in range(k))
    cal = ClassCalibration(cals, float("nan"))
    q = cal.probability(proba)
    eces = [float(ece_debiased(binary_stats(labels == c, q[:, c]))) for c in range(k)]
    return ClassCalibration(cals, float(np.max(eces)) if eces else float("nan"))


def multiclass_metrics(charter: Charter) -> tuple[list[ConfusionMetric], list[str]]:
    """The charter's metrics a confusion matrix gives, then accuracy and macro F1; a note
    for each charter metric left out."""
    out: list[ConfusionMetric] = []
    notes: list[str] = []
    for e in charter.metrics:
        if e.metric is None:
            notes.append(f"`{e.id}` is a custom metric: not estimated")
            continue
        spec = get_metric(e.metric)
        if spec.name not in _CONFUSION:
            notes.append(f"`{e.id}` is not a function of the confusion matrix: not "
                         "estimated before labels (realised values come with `mlscope "
                         "evaluate` on the labelled log)")
            continue
        try:
            # The charter's cost matrix, for `expected_cost` (the arg-max decision's mean
            # cost: the confusion matrix weighted by it).
            given = cost_params(e.params, spec.params, charter.costs, spec.name,
                                task="multiclass")
            params = spec.resolve_params(given, task="multiclass")
        except InputError as exc:
            notes.append(f"`{e.id}` not estimated ({exc})")
            continue
        out.append(ConfusionMetric(e.id, partial(spec.fn, **params)))
    seen = {m.id for m in out}
    for name in _DEFAULT_METRICS:
        if name not in seen:
            out.append(ConfusionMetric(name, get_metric(name).fn))
    return out, notes


def confusion_stats(confusion: FloatArray, classes: tuple[str, ...], n: int
                    ) -> MulticlassStats:
    """Statistics holding only a (batched) confusion matrix: the fields the confusion
    metrics do not read are NaN, so a metric that read them would say so."""
    batch = confusion.shape[:-2]
    k = len(classes)
    return MulticlassStats(classes, confusion, np.full((*batch, k), np.nan),
                           np.full(batch, np.nan), (), confusion.sum(axis=(-2, -1)), n)


def _confusion(truth: IntArray, pred: IntArray, k: int) -> FloatArray:
    """``[true, predicted]`` counts; ``truth`` may be ``(R, n)`` (one row per draw)."""
    t = np.atleast_2d(truth)
    r = t.shape[0]
    flat = (np.arange(r)[:, None] * k * k + t * k + pred[None, :]).ravel()
    c = np.bincount(flat, minlength=r * k * k).reshape(r, k, k).astype(np.float64)
    return c[0] if truth.ndim == 1 else c


def _estimates(cal: ClassCalibration, proba: FloatArray, labels: FloatArray | None,
               metrics: list[ConfusionMetric], classes: tuple[str, ...],
               rng: np.random.Generator, resamples: int, level: float) -> list[Estimate]:
    n, k = proba.shape
    pred = np.argmax(proba, axis=1).astype(np.int64)
    q = cal.probability(proba)
    point = confusion_stats(q.T @ np.eye(k)[pred], classes, n)
    qd = cal.probability_draws(proba, resamples)
    u = rng.random((resamples, n, 1))
    draws = np.minimum((u > np.cumsum(qd, axis=-1)).sum(axis=-1), k - 1).astype(np.int64)
    boot = confusion_stats(_confusion(draws, pred, k), classes, n)
    lab = None
    if labels is not None:
        known = np.isfinite(labels)
        if known.sum() >= 2:
            lab = confusion_stats(_confusion(labels[known].astype(np.int64), pred[known], k),
                                  classes, int(known.sum()))
    out = []
    for mt in metrics:
        with np.errstate(all="ignore"):
            est = float(np.asarray(mt.call(point)))
            lo, hi = percentile_interval(np.asarray(mt.call(boot), dtype=np.float64), level)
            real = float(np.asarray(mt.call(lab))) if lab is not None else float("nan")
        realised = real if np.isfinite(real) else None
        inside = None
        if realised is not None and lo is not None and hi is not None:
            inside = bool(lo - 1e-12 <= realised <= hi + 1e-12)
        out.append(Estimate(mt.id, est if np.isfinite(est) else None, lo, hi, realised, inside))
    return out


def estimate_multiclass(model: str, cal: ClassCalibration, proba: FloatArray,
                        labels: FloatArray | None, metrics: list[ConfusionMetric],
                        classes: tuple[str, ...], *, rng: np.random.Generator,
                        resamples: int, level: float) -> Performance:
    """One multiclass model's estimates in one window (rows with every probability;
    ``labels`` class indices, NaN where not arrived)."""
    est = _estimates(cal, proba, labels, metrics, classes, rng, resamples, level)
    labelled = int(np.isfinite(labels).sum()) if labels is not None else 0
    perf = Performance(model, None, est, labelled=labelled, estimator="cbpe-multiclass")
    # Name the classes, and why: a class without reference rows, or one its probability
    # separates there (a digit the model never confused with another on the reference:
    # no finite recalibration; its raw probabilities, used instead, made the estimate
    # biased: accuracy 0.969 [0.944, 0.988] against a realised 0.992 on digits).
    absent = [c for c, k in zip(classes, cal.per_class, strict=True) if k.n_pos == 0]
    apart = separated_classes(cal, classes)
    if absent:
        perf.reasons.append(f"class(es) {', '.join(absent)} have no rows on the reference: "
                            "their probability cannot be recalibrated")
    if apart:
        perf.reasons.append(f"class(es) {', '.join(apart)} are separated by their "
                            "probability on the reference (no error there): their "
                            "probability has no finite recalibration")
    return perf


def separated_classes(cal: ClassCalibration, classes: tuple[str, ...]) -> list[str]:
    """The classes with reference rows whose probability has no finite recalibration (it
    separates them from the rest there, or takes one value): used as they are."""
    return [c for c, k in zip(classes, cal.per_class, strict=True)
            if k.n_pos > 0 and not k.fitted]


def estimate_multiclass_slice(cal: ClassCalibration, proba: FloatArray,
                              labels: FloatArray | None, metric: ConfusionMetric,
                              classes: tuple[str, ...], *, rng: np.random.Generator,
                              resamples: int, level: float) -> Estimate:
    """The first metric's estimate on a slice's rows of a window."""
    return _estimates(cal, proba, labels, [metric], classes, rng, resamples, level)[0]
