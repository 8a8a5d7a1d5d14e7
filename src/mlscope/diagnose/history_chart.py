"""What the training-history chart is drawn from (the logged points of both curves).

The report draws it (:func:`mlscope.report.diagnosis_charts.history_chart`); for notebooks,
:func:`mlscope.report.diagnosis_charts.history_svg` draws a :class:`History` directly."""

from __future__ import annotations

import math
from typing import Any

from mlscope.diagnose.history_read import History

__all__ = [
    "chart_data",
]


# -- chart --------------------------------------------------------------------------------


def _finite_or_none(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def chart_data(history: History) -> dict[str, dict[str, list[Any]]]:
    """The logged points of both curves (JSON-ready), what the history chart is drawn from.

    ``{"train": {"step": [...], "loss": [...]}, "val": {...}}``: the steps where each loss
    was logged; a loss that was NaN or infinite is ``None`` (JSON has no NaN). A result
    stores these and the report draws them
    (:func:`mlscope.report.diagnosis_charts.history_chart`).
    """
    ts, tl = history.train()
    vs, vl = history.val()
    return {"train": {"step": [float(s) for s in ts], "loss": [_finite_or_none(v) for v in tl]},
            "val": {"step": [float(s) for s in vs], "loss": [_finite_or_none(v) for v in vl]}}
