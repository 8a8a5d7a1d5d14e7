"""The charter's metrics resolved and computed from an engine's statistics.

Shared by the evaluation's stages and by the decisions that re-run a metric (paired
tests, the diagnosis): :class:`Metric` and :func:`resolve_metrics` turn the charter's
``metrics:`` into registry specs with checked parameters; :func:`compute` gives a
metric's value (or the reason it is undefined) from
:class:`~mlscope.engine.split.SplitStatistics`.
"""

from mlscope.measure.compute import (
    choose_threshold,
    compute,
    in_range,
    is_number,
    safe_float,
    threshold_edges,
    threshold_note,
    with_score_type,
)
from mlscope.measure.metric import Metric, metric_label, resolve_metrics

__all__ = [
    "Metric",
    "choose_threshold",
    "compute",
    "in_range",
    "is_number",
    "metric_label",
    "resolve_metrics",
    "safe_float",
    "threshold_edges",
    "threshold_note",
    "with_score_type",
]
