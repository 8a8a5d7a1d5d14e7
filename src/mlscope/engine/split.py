"""What an engine hands the metric stages: one split's statistics per model and cell."""

from __future__ import annotations

from dataclasses import dataclass, field

from mlscope.engine.plan import SliceCell
from mlscope.metrics.stats import Stats

__all__ = ["SplitStatistics"]


@dataclass
class SplitStatistics:
    """Statistics of one split under one weight matrix (or the point weights).

    ``task[(model, cell key)]`` are the task's statistics (a batch over resamples when the
    weights had one), ``errors[(error column, model, cell key)]`` those of the charter's
    error columns; ``sizes`` and ``cells`` are the split's cells and their row counts.
    """

    task: dict[tuple[int, str], Stats] = field(default_factory=dict)
    errors: dict[tuple[int, int, str], Stats] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    cells: dict[str, SliceCell] = field(default_factory=dict)
