"""What the charts read from a result: values by split and slice, the charter's rule and
bounds, the reference model, and direction notes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from mlscope.report.svg import BASELINE_SHAPES
from mlscope.result import OVERALL, EvaluationResult, MetricInfo, MetricValue

__all__ = [
    "baseline_shapes",
    "charter_report",
    "direction_arrow",
    "direction_note",
    "dropped_models",
    "interval_level",
    "metric_values",
    "parse_bound",
    "primary_rule",
    "reference_model",
    "requirement_bound",
    "values_indexed",
]


# -- reading the result ---------------------------------------------------------------


def direction_note(info: MetricInfo) -> str:
    """``higher is better`` or ``lower is better`` for a metric."""
    return "higher is better" if info.direction == "higher" else "lower is better"


_ValuesIndex = dict[tuple[str | None, str], dict[tuple[str, str], MetricValue]]
# The result being rendered and its values by (split, slice), while a page is built.
_INDEX: ContextVar[tuple[EvaluationResult, _ValuesIndex] | None] = ContextVar(
    "mlscope_report_values", default=None)


@contextmanager
def values_indexed(result: EvaluationResult) -> Iterator[None]:
    """Within the block, :func:`metric_values` of ``result`` reads its values grouped once
    by split and slice instead of scanning them all on every call (a page's charts call it
    dozens of times; Caravan's result holds 25,410 values). The index lives only as long
    as the block, so a result changed between two renders is never read stale."""
    index: _ValuesIndex = {}
    for v in result.values:
        index.setdefault((v.split, v.slice), {})[(v.model, v.metric)] = v
    token = _INDEX.set((result, index))
    try:
        yield
    finally:
        _INDEX.reset(token)


def metric_values(result: EvaluationResult, split: str | None, slice_key: str = OVERALL
                  ) -> dict[tuple[str, str], MetricValue]:
    """(model, metric) → value on a split and slice."""
    scope = _INDEX.get()
    if scope is not None and scope[0] is result:
        return dict(scope[1].get((split, slice_key), {}))
    return {(v.model, v.metric): v for v in result.values
            if v.split == split and v.slice == slice_key}


def charter_report(result: EvaluationResult) -> dict[str, Any]:
    """The charter's ``report`` mapping (empty when absent)."""
    rep = result.charter.get("report") if isinstance(result.charter, dict) else None
    return rep if isinstance(rep, dict) else {}


def primary_rule(result: EvaluationResult) -> dict[str, Any]:
    """The charter's ``selection`` mapping (empty when absent)."""
    sel = result.charter.get("selection") if isinstance(result.charter, dict) else None
    return sel if isinstance(sel, dict) else {}


def reference_model(result: EvaluationResult) -> str | None:
    """The selected model, else the best-ranked one under the primary rule."""
    if result.winner is not None:
        return result.winner
    if result.selection is not None and result.selection.primary.ranking:
        return str(result.selection.primary.ranking[0]["model"])
    return result.models[0].name if result.models else None


def baseline_shapes(result: EvaluationResult) -> dict[str, str]:
    """Baseline model → its family's marker (:data:`~mlscope.report.svg.BASELINE_SHAPES`).

    Candidates are absent (they are filled circles); a baseline of an unknown family is a
    square, like the trivial ones.
    """
    family = {b.name: str(b.family) for b in result.baselines}
    return {m.name: BASELINE_SHAPES.get(family.get(m.name, ""), "square")
            for m in result.models if m.kind == "baseline"}


def dropped_models(result: EvaluationResult) -> set[str]:
    """Models the primary selection rule dropped (empty without a selection)."""
    if result.selection is None:
        return set()
    return {str(d["model"]) for d in result.selection.primary.dropped}


def parse_bound(text: str) -> tuple[str, float] | None:
    """A bound such as ``>= 0.7`` as ``(op, value)``; None when it does not parse."""
    t = text.strip()
    for op in (">=", "<=", ">", "<"):
        if t.startswith(op):
            try:
                return op, float(t[len(op):])
            except ValueError:
                return None
    return None


def requirement_bound(result: EvaluationResult, metric: str) -> tuple[str, float] | None:
    """The charter's requirement on ``metric`` as ``(op, value)``, else None."""
    reqs = result.charter.get("requirements") if isinstance(result.charter, dict) else None
    if isinstance(reqs, dict) and metric in reqs:
        return parse_bound(str(reqs[metric]))
    for r in result.requirements:
        if r.metric == metric and r.slice == "overall":
            return parse_bound(r.bound)
    return None


def interval_level(result: EvaluationResult) -> str:
    """The result's interval level as a percentage, e.g. ``95%``."""
    return f"{round(result.interval.level * 100):g}%"


def direction_arrow(info: MetricInfo, axis: str) -> str:
    """The direction note with an arrow along ``axis`` (``x`` or ``y``)."""
    if axis == "x":
        return "higher is better →" if info.direction == "higher" else "← lower is better"
    return "higher is better ↑" if info.direction == "higher" else "lower is better ↓"
