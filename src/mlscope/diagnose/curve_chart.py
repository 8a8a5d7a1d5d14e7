"""What a learning-curve chart is drawn from (its span, the fit's bootstrap band).

The report draws it (:func:`mlscope.report.diagnosis_charts.learning_curve_chart`); for
notebooks, :func:`mlscope.report.diagnosis_charts.learning_curve_svg` draws a
:class:`LearningCurve` directly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mlscope.diagnose.curve_fit import LearningCurve
from mlscope.diagnose.data_needed import N_CAP, data_needed

__all__ = [
    "chart_data",
    "chart_span",
]


# -- chart data -----------------------------------------------------------------------------


def chart_span(sizes: Sequence[float], needed: float | None) -> tuple[float, float]:
    """The training-set sizes a learning-curve chart spans.

    From a little below the smallest measured size to 100× the largest, or to 1.5× the
    size a target needs (``needed``, when reachable); never beyond :data:`N_CAP`.
    """
    largest, smallest = float(max(sizes)), float(min(sizes))
    end = largest * 100 if needed is None else max(needed, largest) * 1.5
    return smallest / 1.3, min(end, N_CAP)


def chart_data(curve: LearningCurve, *, target: float | None = None,
               baseline: float | None = None) -> dict[str, Any]:
    """What a learning-curve chart is drawn from: numbers only (JSON-ready).

    ``curve`` (:meth:`LearningCurve.to_dict`), ``target``, ``baseline``, ``needed`` (the
    data the target needs, when there is a target) and ``band``: the fit's bootstrap
    interval at 90 sizes over :func:`chart_span` (``{"n", "lower", "upper"}``; ``None``
    without a bootstrap), since the replicates it comes from are not kept. The report
    draws the chart from these (:func:`mlscope.report.diagnosis_charts.learning_curve_chart`).
    """
    need = data_needed(curve, target, direction=curve.direction) if target is not None else None
    band: dict[str, list[float]] | None = None
    if curve.replicates:
        reach = need.n if need is not None and need.reachable else None
        grid = np.geomspace(min(curve.sizes), chart_span(curve.sizes, reach)[1], 90)
        reps = np.asarray(curve.replicates)
        errs = reps[:, :1] * grid[None, :] ** -reps[:, 1:2] + reps[:, 2:3]
        alpha = (1 - curve.level) / 2
        lo, hi = np.quantile(errs, [alpha, 1 - alpha], axis=0)
        vals = curve.reference - np.stack([lo, hi]) if curve.direction == "higher" \
            else curve.reference + np.stack([lo, hi])
        band = {"n": [float(k) for k in grid],
                "lower": [float(v) for v in vals.min(axis=0)],
                "upper": [float(v) for v in vals.max(axis=0)]}
    return {"curve": curve.to_dict(), "target": target, "baseline": baseline,
            "needed": need.to_dict() if need is not None else None, "band": band}
