"""What the training-history chart is drawn from (the logged points of both curves), and the
chart itself as SVG for notebooks."""

from __future__ import annotations

import math
from typing import Any

from mlscope.diagnose.history_read import History

__all__ = [
    "chart_data",
    "history_svg",
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


def history_svg(history: History, *, baseline: float | None = None,
                baseline_label: str = "trivial baseline", width: float = 460.0) -> str:
    """Training and validation loss against the step, with the best validation step.

    A convenience for notebooks: :func:`chart_data` drawn by
    :func:`mlscope.report.diagnosis_charts.history_chart` (the report draws it the same way
    from a result's numbers).

    Parameters
    ----------
    history
        From :func:`load_history`.
    baseline
        A reference loss drawn as a dashed horizontal line (e.g. the trivial baseline's):
        the same curves read differently against a different baseline.
    baseline_label
        The line's label.
    width
        Width in pixels.

    Returns
    -------
    str
        An ``<svg>`` element in the look of :mod:`mlscope.report.charts`. The y axis is
        logarithmic when the finite losses span more than 10×; non-finite losses break the
        line and the first is marked.
    """
    from mlscope.report.diagnosis_charts import history_chart

    base = baseline if baseline is not None and math.isfinite(baseline) else None
    return history_chart({"curves": chart_data(history), "baseline_loss": base},
                         baseline_label=baseline_label, width=width)
