"""The tables of the HTML report (cells, rows, tables), and what its panels share: number
and label formats and the key metrics of the decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mlscope.report.charts import (
    format_value,
    metric_decimals,
)
from mlscope.result import OVERALL, EvaluationResult, MetricValue

__all__ = [
    "Cell",
    "Row",
    "Table",
    "decimals_by_metric",
    "interval_text",
    "key_metrics",
    "metric_label",
    "percent",
    "signed",
]


# -- view model ------------------------------------------------------------------------


@dataclass
class Cell:
    """One table cell: the value, its interval, and why it is undefined."""

    text: str
    interval: str = ""
    sort: str = ""
    title: str = ""
    best: bool = False
    undefined: bool = False
    css: str = ""


@dataclass
class Row:
    label: str
    cells: list[Cell]
    css: str = ""
    note: str = ""
    color: str = ""
    sort: str = ""


@dataclass
class Table:
    title: str
    caption: str
    headers: list[dict[str, str]]
    rows: list[Row]
    anchor: str = ""


def metric_label(result: EvaluationResult, metric: str) -> str:
    """A metric's label, else its id."""
    try:
        return result.metric_info(metric).label
    except KeyError:
        return metric


def decimals_by_metric(result: EvaluationResult) -> dict[str, int]:
    """Decimals per metric id, from the values the result holds (:func:`metric_decimals`)."""
    vals: dict[str, list[float | None]] = {}
    for v in result.values:
        if v.slice == OVERALL:
            vals.setdefault(v.metric, []).append(v.value)
    out = {}
    for m in result.metrics:
        out[m.id] = metric_decimals(m, vals.get(m.id, []))
    return out


def interval_text(v: MetricValue | Any, dec: int) -> str:
    """A value's interval as ``[lo, hi]`` text with ``dec`` decimals (empty without one)."""
    lo, hi = getattr(v, "lower", None), getattr(v, "upper", None)
    if lo is None or hi is None:
        return ""
    return f"[{format_value(lo, dec)}, {format_value(hi, dec)}]"


def signed(x: float | None, dec: int) -> str:
    """A number with an explicit sign and ``dec`` decimals; ``—`` when undefined."""
    if x is None or not math.isfinite(x):
        return "—"
    text = format_value(abs(x), dec)
    if float(text) == 0:
        return text
    return ("+" if x > 0 else "−") + text


def key_metrics(result: EvaluationResult) -> list[str]:
    """The metrics the decision turns on: the rule's, then the requirements' (at most 3)."""
    sel = result.charter.get("selection") if isinstance(result.charter, dict) else None
    out: list[str] = []
    if isinstance(sel, dict):
        for k in ("optimize",):
            if isinstance(sel.get(k), str):
                out.append(sel[k])
        for k in ("weights", "constraints"):
            if isinstance(sel.get(k), dict):
                out += [str(x) for x in sel[k]]
        if isinstance(sel.get("metrics"), list):
            out += [str(x) for x in sel["metrics"]]
    out += [r.metric for r in result.requirements]
    known = {m.id for m in result.metrics}
    if not out:
        out = [m.id for m in result.metrics[:1]]
    return [m for m in dict.fromkeys(out) if m in known][:3]


def percent(x: float) -> str:
    """A share as a whole percentage, e.g. ``42%``."""
    return f"{x * 100:.0f}%"
