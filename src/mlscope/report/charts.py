"""Small, dependency-free SVG charts of an :class:`~mlscope.result.EvaluationResult`.

Every builder returns one ``<svg>`` element as a string (well-formed XML, text escaped)
that can be inlined into HTML or written to a ``.svg`` file. Charts only *read* the
result: they place the numbers the evaluation computed and never recompute a metric.

Colours follow the Okabe–Ito palette (distinguishable with the common colour-vision
deficiencies); a model keeps its colour in every chart (:func:`model_colors`). The
selected model is marked by shape and weight as well as by colour, so the charts also
read in greyscale.

The charts live in modules by family: :mod:`mlscope.report.svg` (the escaping writer,
palette, scales and number formats), :mod:`mlscope.report.chart_data` (what the charts
read from a result), :mod:`mlscope.report.forest` (forest, ladder, difference and gap
charts), :mod:`mlscope.report.tradeoff` and :mod:`mlscope.report.slices`. This module
re-exports them, so ``mlscope.report.charts`` keeps its names.
"""

from __future__ import annotations

from mlscope.report.forest import LADDER_LABEL as LADDER_LABEL
from mlscope.report.forest import LADDER_ORDER as LADDER_ORDER
from mlscope.report.forest import difference_chart as difference_chart
from mlscope.report.forest import forest_chart
from mlscope.report.forest import gap_chart as gap_chart
from mlscope.report.forest import ladder_chart as ladder_chart
from mlscope.report.forest import ladder_rows as ladder_rows
from mlscope.report.slices import (
    SliceGroup,
    slice_chart,
    slice_groups,
    slice_label,
    slice_metric,
    too_small,
)
from mlscope.report.svg import CHAR_W as CHAR_W
from mlscope.report.svg import FAINT as FAINT
from mlscope.report.svg import FEASIBLE as FEASIBLE
from mlscope.report.svg import FONT as FONT
from mlscope.report.svg import GRID as GRID
from mlscope.report.svg import INK as INK
from mlscope.report.svg import MUTED as MUTED
from mlscope.report.svg import (
    OKABE_ITO,
    format_bound,
    format_value,
    metric_decimals,
    model_colors,
    nice_ticks,
)
from mlscope.report.tradeoff import software_tradeoff_metrics, tradeoff_chart, tradeoff_metrics

__all__ = [
    "OKABE_ITO",
    "SliceGroup",
    "forest_chart",
    "format_bound",
    "format_value",
    "metric_decimals",
    "model_colors",
    "nice_ticks",
    "slice_chart",
    "slice_groups",
    "slice_label",
    "slice_metric",
    "software_tradeoff_metrics",
    "too_small",
    "tradeoff_chart",
    "tradeoff_metrics",
]
