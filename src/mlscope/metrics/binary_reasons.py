"""Why a binary metric is undefined on some data: no rows, one class, no positives.

Shared by :mod:`mlscope.metrics.binary` and :mod:`mlscope.metrics.binary_threshold`.
"""

from __future__ import annotations

from mlscope.metrics.errors import fmt_weight, no_rows_reason
from mlscope.metrics.stats import BinaryStats

__all__ = ["class_counts", "no_positives_reason", "one_class_reason", "rows_reason"]


def class_counts(stats: BinaryStats) -> str:
    pos, neg = float(stats.total_pos), float(stats.total_neg)
    return f"{fmt_weight(pos)} positives, {fmt_weight(neg)} negatives"


def rows_reason(stats: BinaryStats) -> str | None:
    return no_rows_reason(stats.n_rows, stats.total_pos + stats.total_neg)


def one_class_reason(stats: BinaryStats) -> str | None:
    if not (float(stats.total_pos) > 0 and float(stats.total_neg) > 0):
        return f"only one class present ({class_counts(stats)})"
    return None


def no_positives_reason(stats: BinaryStats) -> str | None:
    if not float(stats.total_pos) > 0:
        return f"no positives ({class_counts(stats)})"
    return None
