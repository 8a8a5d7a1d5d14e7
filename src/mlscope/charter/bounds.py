"""Bounds and figures checked against the range of their metric.

A registered metric knows its range (:attr:`mlscope.metrics.registry.MetricSpec.bounds`,
e.g. precision in [0, 1], log loss at least 0). A bound that no value in the range can
meet (``precision: ">= 2"``) is an error, usually a percentage written for a fraction, so
the fix offers the value divided by 10 or 100 when that lands in the range. A bound that
every value meets (``recall: "<= 1"``) checks nothing and is a warning.

Checked: ``requirements``, the ``constraints`` of satisficing rules (``selection`` and
``alternatives``), absolute ``gates`` margins (``improve``/``regress``) and the figures of
``external`` baselines. Custom metrics and metrics without a declared range are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Protocol

from mlscope.charter.schema import Bound, MetricEntry, SatisficingRule, format_number
from mlscope.errors import InputError

__all__ = ["check_metric_ranges"]

KeyPath = tuple[str | int, ...]
Range = tuple[float | None, float | None]


class _Reporter(Protocol):
    raw: dict[Any, Any]

    def add(self, path: KeyPath, message: str, fix: str | None = None, *,
            at: KeyPath | None = None) -> None: ...

    def warn(self, path: KeyPath, message: str, fix: str | None = None) -> None: ...


def check_metric_ranges(report: _Reporter, metrics: Iterable[tuple[int, MetricEntry]],
                        rules: Iterable[tuple[KeyPath, Any]]) -> None:
    """Report bounds and figures that lie outside their metric's range.

    Parameters
    ----------
    report
        Receives ``add`` (errors: a bound that can never be met, a figure outside the
        range) and ``warn`` (a bound every value meets); ``raw`` is the charter as read.
    metrics
        The metric entries that passed the schema, as ``(index, entry)``.
    rules
        The rules that passed the schema, as ``(path, rule)``.
    """
    ranges = _ranges(metrics)
    if not ranges:
        return
    raw = report.raw
    requirements = raw.get("requirements")
    if isinstance(requirements, dict):
        for key, value in requirements.items():
            bound = _parse(value)
            if bound is not None:
                _check_bound(report, ("requirements", key), str(key), bound, ranges)
    entries = raw.get("slice_requirements")
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        if isinstance(entry, dict) and isinstance(entry.get("metric"), str):
            bound = _parse(entry.get("bound"))
            if bound is not None:
                _check_bound(report, ("slice_requirements", i, "bound"), entry["metric"],
                             bound, ranges)
    for path, rule in rules:
        if isinstance(rule, SatisficingRule):
            for key, bound in rule.constraints.items():
                _check_bound(report, (*path, "constraints", key), key, bound, ranges)
    gates = raw.get("gates")
    if isinstance(gates, dict):
        for key, gate in gates.items():
            if isinstance(gate, dict) and not gate.get("relative"):
                _check_gate(report, ("gates", key), str(key), gate, ranges)
    baselines = raw.get("baselines")
    if isinstance(baselines, dict):
        for name, spec in baselines.items():
            if isinstance(spec, dict) and spec.get("kind") == "external":
                values = spec.get("values")
                if isinstance(values, dict):
                    for key, v in values.items():
                        _check_figure(report, ("baselines", name, "values", key), str(key),
                                      v, ranges)


def _ranges(metrics: Iterable[tuple[int, MetricEntry]]) -> dict[str, tuple[str, Range]]:
    """Metric id -> (registry name, range) for registered metrics with a declared range."""
    try:
        # The same late import as the loader's metric-name check: the charter layer reads
        # the registry's metadata and nothing else of the metrics layer.
        from mlscope.metrics.registry import get_metric
    except ImportError:
        return {}
    out: dict[str, tuple[str, Range]] = {}
    for _, entry in metrics:
        if entry.metric is None:  # a custom metric: no declared range
            continue
        try:
            spec = get_metric(entry.metric)
        except InputError:  # unknown: reported by the metric check
            continue
        if spec.bounds != (None, None):
            out[entry.id] = (spec.name, spec.bounds)
    return out


def _parse(value: Any) -> Bound | None:
    try:
        return Bound.model_validate(value)
    except ValueError:  # pydantic's ValidationError; the schema check reports it
        return None


def _describe(mid: str, name: str, rng: Range) -> str:
    lo, hi = rng
    who = f"`{mid}`" + (f" ({name})" if name != mid else "")
    if lo is not None and hi is not None:
        return f"{who} is in [{format_number(lo)}, {format_number(hi)}]"
    if lo is not None:
        return f"{who} is at least {format_number(lo)}"
    assert hi is not None
    return f"{who} is at most {format_number(hi)}"


def _verdict(bound: Bound, rng: Range) -> str | None:
    """``"never"`` when no value in the range meets it, ``"always"`` when every one does."""
    lo, hi = rng
    op, v = bound.op, bound.value
    if not math.isfinite(v):
        return None
    if op in (">=", ">"):
        if hi is not None and (v > hi or (op == ">" and v == hi)):
            return "never"
        if lo is not None and (v < lo or (op == ">=" and v == lo)):
            return "always"
    else:
        if lo is not None and (v < lo or (op == "<" and v == lo)):
            return "never"
        if hi is not None and (v > hi or (op == "<=" and v == hi)):
            return "always"
    return None


def _useful(bound: Bound, rng: Range) -> bool:
    return _verdict(bound, rng) is None


def _check_bound(report: _Reporter, path: KeyPath, mid: str, bound: Bound,
                 ranges: dict[str, tuple[str, Range]]) -> None:
    if mid not in ranges:
        return
    name, rng = ranges[mid]
    verdict = _verdict(bound, rng)
    if verdict is None:
        return
    where = _describe(mid, name, rng)
    v = bound.value
    if verdict == "never":
        # Percent typos (80 for 0.8), a stray factor of ten, a minus sign too many.
        tries = [v / 10, v / 100] + ([-v] if v < 0 else [])
        fix = _first_useful(bound.op, tries, rng)
        hint = f"; did you mean `{fix}`?" if fix else ""
        # Quoted as YAML needs it: unquoted, `>` starts a block of text.
        report.add(path, f"{where}: `{bound}` can never be met{hint}",
                   fix=f"write `{mid}: \"{fix}\"`" if fix else
                   f"write a bound inside the range ({where})")
        return
    fix = _first_useful(_flip(bound.op), [-v], rng) if v < 0 else None
    report.warn(path, f"{where}: every value meets `{bound}`, so the bound checks nothing"
                + (f"; did you mean `{fix}`?" if fix else ""),
                fix=f"write `{mid}: \"{fix}\"`" if fix else "remove it, or tighten it")


def _flip(op: str) -> str:
    return {">=": "<=", "<=": ">=", ">": "<", "<": ">"}[op]


def _first_useful(op: str, values: list[float], rng: Range) -> str | None:
    for x in values:
        b = Bound(op=op, value=x)
        if _useful(b, rng):
            return str(b)
    return None


def _number(v: Any) -> float | None:
    if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
        return float(v)
    return None


def _check_gate(report: _Reporter, path: KeyPath, mid: str, gate: dict[Any, Any],
                ranges: dict[str, tuple[str, Range]]) -> None:
    if mid not in ranges:
        return
    name, rng = ranges[mid]
    lo, hi = rng
    if lo is None or hi is None:
        return
    width = hi - lo
    where = _describe(mid, name, rng)
    gain = _number(gate.get("improve"))
    loss = _number(gate.get("regress"))
    # Percentage points are the usual slip here (`improve: 2` for two points).
    if gain is not None and gain > width:
        fix = next((x for x in (gain / 100, gain / 10) if 0 < x <= width), None)
        shown = f"improve: {format_number(fix)}" if fix is not None else None
        report.add((*path, "improve"),
                   f"{where}, so a candidate gains at most {format_number(width)} on it: "
                   f"`improve: {format_number(gain)}` can never be met"
                   + (f"; did you mean `{shown}`?" if shown else ""),
                   fix=f"write `{shown}`" if shown else
                   f"give a margin below {format_number(width)}")
    if loss is not None and loss >= width:
        fix = next((x for x in (loss / 100, loss / 10) if 0 < x < width), None)
        shown = f"regress: {format_number(fix)}" if fix is not None else None
        report.warn((*path, "regress"),
                    f"{where}, so a candidate loses at most {format_number(width)} on it: "
                    f"`regress: {format_number(loss)}` allows any loss and the gate checks "
                    "nothing" + (f"; did you mean `{shown}`?" if shown else ""),
                    fix=f"write `{shown}`" if shown else
                    f"give a margin below {format_number(width)}")


def _check_figure(report: _Reporter, path: KeyPath, mid: str, value: Any,
                  ranges: dict[str, tuple[str, Range]]) -> None:
    v = _number(value)
    if v is None or mid not in ranges:
        return
    name, rng = ranges[mid]
    lo, hi = rng
    if (lo is None or v >= lo) and (hi is None or v <= hi):
        return
    fix = next((x for x in (v / 10, v / 100)
                if (lo is None or x >= lo) and (hi is None or x <= hi)), None)
    shown = format_number(fix) if fix is not None else None
    report.add(path, f"{_describe(mid, name, rng)}: the figure {format_number(v)} is outside "
               "that range" + (f"; did you mean `{shown}`?" if shown else ""),
               fix=f"write `{mid}: {shown}`" if shown else "give the figure on the metric's "
               "scale (a fraction, not a percentage)")
