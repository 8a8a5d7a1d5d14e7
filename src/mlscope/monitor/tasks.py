"""Per-task pieces of the monitor's loop: a regression's and a multiclass model's setup and
window performance, and the reference's confusion rates per slice for BBSE per slice
(binary)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlscope.charter.schema import Charter
from mlscope.monitor.checks import LABEL, Context, pred_col, proba_col, score_col
from mlscope.monitor.multiclass import (
    ClassCalibration,
    ConfusionMetric,
    confusion_stats,
    estimate_multiclass,
    estimate_multiclass_slice,
    fit_multiclass,
    multiclass_metrics,
    separated_classes,
)
from mlscope.monitor.performance import judge_trust
from mlscope.monitor.regression import (
    RealisedMetric,
    Reference,
    realised_slice,
    realised_window,
    reference_values,
    regression_metrics,
)
from mlscope.monitor.result import Check, Window

__all__ = ["BBSE_MIN_ROWS", "multiclass_model", "multiclass_performance", "regression_model",
           "regression_performance", "slice_confusion_rates"]

# BBSE per slice needs this many rows of the slice in the window: its standard error is
# about sqrt(q(1 − q) / n) / (TPR − FPR), 0.1 at 100 rows and TPR − FPR = 0.5 (an interval
# of ± 0.2): with fewer rows the interval spans most of [0, 1] and says nothing.
BBSE_MIN_ROWS = 100
# ... and the slice's reference rows this many of each class, for its TPR and FPR.
_BBSE_MIN_CLASS = 20


def regression_model(charter: Charter, ref: pd.DataFrame, m: str, col: str,
                     warnings: list[str], *, rng: np.random.Generator, resamples: int
                     ) -> tuple[list[RealisedMetric], dict[str, Reference], dict[str, Any]]:
    """A regression model's metrics, their values on the reference and its info."""
    metrics, notes = regression_metrics(charter)
    warnings.extend(f"{m}: {n}" for n in notes)
    keep = ref[[score_col(m), LABEL]].dropna()
    pred, y = keep[score_col(m)].to_numpy(np.float64), keep[LABEL].to_numpy(np.float64)
    refs = reference_values(metrics, pred, y, rng, resamples)
    ae = np.abs(pred - y)
    cv = float(ae.std() / ae.mean()) if ae.size and ae.mean() > 0 else float("nan")
    info = {"task": "regression", "log_column": col, "metrics": [e.id for e in metrics],
            "reference_values": {k: v.value for k, v in refs.items()},
            "abs_error_cv": cv,
            "label_free_estimate": None}
    return metrics, refs, info


def multiclass_model(charter: Charter, setup: Any, ref: pd.DataFrame, m: str,
                     warnings: list[str], *, rng: np.random.Generator, resamples: int
                     ) -> tuple[ClassCalibration, list[ConfusionMetric], dict[str, Any]]:
    """A multiclass model's one-vs-rest recalibration, metrics and info."""
    cols = [proba_col(m, c) for c in setup.classes]
    keep = ref[[*cols, LABEL]].dropna()
    proba = keep[cols].to_numpy(np.float64)
    y = keep[LABEL].to_numpy(np.float64).astype(np.int64)
    cal = fit_multiclass(y, proba, rng=rng, resamples=resamples)
    metrics, notes = multiclass_metrics(charter)
    warnings.extend(f"{m}: {n}" for n in notes)
    k = len(setup.classes)
    pred = np.argmax(proba, axis=1)
    stats = confusion_stats(np.eye(k)[y].T @ np.eye(k)[pred], tuple(setup.classes), y.size)
    with np.errstate(all="ignore"):
        values = {e.id: float(np.asarray(e.call(stats))) for e in metrics}
    missing = [c for i, c in enumerate(setup.classes) if not (y == i).any()]
    if missing:
        warnings.append(f"{m}: the reference has no rows of class(es) "
                        f"{', '.join(missing)}: their probability cannot be recalibrated, "
                        "and the estimates are marked not trustworthy")
    apart = separated_classes(cal, tuple(setup.classes))
    if apart:
        warnings.append(f"{m}: class(es) {', '.join(apart)} are separated by their "
                        "probability on the reference (no error between them and the rest "
                        "there): they have no finite recalibration, and the estimates are "
                        "marked not trustworthy (realised values still come once labels "
                        "arrive)")
    gate = setup.spec.alert.calibration
    if not np.isfinite(cal.ece) or cal.ece > gate:
        warnings.append(f"{m}: a class's probabilities stay poorly calibrated after "
                        f"one-vs-rest recalibration (largest debiased ECE {cal.ece:.3f} > "
                        f"{gate:g}); estimates are marked not trustworthy")
    info = {"task": "multiclass", "log_columns": setup.class_columns[m],
            "classes": list(setup.classes),
            "recalibration": [{"class": c, "a": x.a, "b": x.b}
                              for c, x in zip(setup.classes, cal.per_class, strict=True)],
            "ece_after_recalibration": cal.ece,
            "reference_accuracy": float((pred == y).mean()) if y.size else float("nan"),
            "reference_values": values, "metrics": [e.id for e in metrics]}
    return cal, metrics, info


def regression_performance(w: Window, win: pd.DataFrame, m: str,
                           metrics: list[RealisedMetric], refs: dict[str, Reference],
                           groups: list[tuple[str, Any]], *, rng: np.random.Generator,
                           resamples: int, level: float, gate: float) -> list[Check]:
    """A regression's realised metrics in the window (appended to ``w.performance``);
    returns the ``performance`` checks (tested with the window's other checks)."""
    keep = win[score_col(m)].notna().to_numpy()
    pred = win[score_col(m)].to_numpy(np.float64)[keep]
    y = win[LABEL].to_numpy(np.float64)[keep]
    perf, checks = realised_window(m, pred, y, metrics, refs, rng=rng, resamples=resamples,
                                   level=level, gate=gate)
    if metrics and np.isfinite(y).sum() >= 2:
        for name, mask in groups:
            rows = mask[keep]
            if np.isfinite(y[rows]).sum() >= 2:
                perf.slices[name] = realised_slice(pred[rows], y[rows], metrics[0], rng=rng,
                                                   resamples=resamples, level=level)
    w.performance.append(perf)
    return checks


def multiclass_performance(w: Window, win: pd.DataFrame, m: str, classes: list[str],
                           cal: ClassCalibration, metrics: list[ConfusionMetric], dom: Any,
                           groups: list[tuple[str, Any]], *, rng: np.random.Generator,
                           resamples: int, level: float, gate: float) -> None:
    """A multiclass model's CBPE estimates in the window, overall and per slice level,
    with the reasons not to trust them (appended to ``w.performance``)."""
    keep = win[pred_col(m)].notna().to_numpy()
    if keep.sum() < 2 or not metrics:
        return
    proba = win[[proba_col(m, c) for c in classes]].to_numpy(np.float64)[keep]
    labels = win[LABEL].to_numpy(np.float64)[keep]
    has = labels if np.isfinite(labels).any() else None
    names = tuple(classes)
    perf = estimate_multiclass(m, cal, proba, has, metrics, names, rng=rng,
                               resamples=resamples, level=level)
    judge_trust(perf, dom, cal.ece, gate, what="probabilities",
                ece_name="largest debiased ECE")
    for name, mask in groups:
        rows = mask[keep]
        if rows.sum() >= 2:
            sl = labels[rows]
            perf.slices[name] = estimate_multiclass_slice(
                cal, proba[rows], sl if np.isfinite(sl).any() else None, metrics[0], names,
                rng=rng, resamples=resamples, level=level)
    w.performance.append(perf)


def slice_confusion_rates(ctx: Context, m: str, threshold: float
                          ) -> dict[str, tuple[float, float, int, int]]:
    """Per slice level (``column=level``): the reference's TPR, FPR and class counts at
    ``threshold``, where the level has at least :data:`_BBSE_MIN_CLASS` rows of each
    class. BBSE assumes ``P(x | y)`` unchanged *within* the slice, so the slice's own
    rates invert its predicted-positive rate."""
    out = {}
    ref = ctx.reference
    for s in ctx.slices:
        values = ref[s].astype(str).to_numpy()
        for lvl in ctx.levels[s]:
            rows = ref[values == lvl][[score_col(m), LABEL]].dropna()
            y = rows[LABEL].to_numpy(np.float64) > 0.5
            pred = rows[score_col(m)].to_numpy(np.float64) >= threshold
            n_pos, n_neg = int(y.sum()), int((~y).sum())
            if min(n_pos, n_neg) >= _BBSE_MIN_CLASS:
                out[f"{s}={lvl}"] = (float(pred[y].mean()), float(pred[~y].mean()),
                                     n_pos, n_neg)
    return out
