"""Metrics measured at another metric's chosen threshold (``threshold: <metric id>``),
checked against the charter's metrics.

``{id: flagged, metric: positive_rate, threshold: net_value}`` measures the positive rate
at the threshold that the entry ``net_value`` chooses on the selection split (``threshold:
optimize``, or an operating point such as ``precision_at_recall``), carried like it to
every split and slice. The id must name another entry of the charter that chooses its
threshold itself: not a fixed one, not a custom metric, not one that takes a third
entry's.
"""

from __future__ import annotations

from typing import Any, Protocol

from mlscope.charter.schema import MetricEntry
from mlscope.errors import InputError, did_you_mean

__all__ = ["check_threshold_refs", "chooses_threshold", "optimize_fix"]

KeyPath = tuple[str | int, ...]


class _Reporter(Protocol):
    raw: dict[Any, Any]

    def add(self, path: KeyPath, message: str, fix: str | None = None, *,
            at: KeyPath | None = None) -> None: ...


def chooses_threshold(entry: MetricEntry) -> str | None:
    """None when ``entry`` chooses its own threshold on the selection split; else why not
    (for the message that refuses a reference to it)."""
    if entry.metric is None:
        return "it is a custom metric"
    # Late: the charter layer loads the metrics' metadata only when it checks them.
    from mlscope.metrics.registry import get_metric
    from mlscope.metrics.spec import threshold_ref

    try:
        spec = get_metric(entry.metric)
    except InputError:
        return "its metric is unknown"
    if (other := threshold_ref(entry.params)) is not None:
        return f"it takes the threshold of `{other}` in turn"
    if not spec.is_operating_point(entry.params):
        declared = spec.params.get("threshold")
        fixed = entry.params.get("threshold", None if declared is None else declared.default)
        return (f"its threshold is fixed at {fixed}" if fixed is not None
                else "it has no threshold")
    return None


def optimize_fix(metrics: list[tuple[int, MetricEntry]], entry: MetricEntry) -> str:
    """The fix for ``threshold: optimize`` on a metric whose optimum is an extreme: the
    entries of the charter that choose a threshold, else how to add one."""
    choosers = [e.id for _, e in metrics if e.id != entry.id and chooses_threshold(e) is None]
    if choosers:
        listed = " or ".join(f"`threshold: {c}`" for c in choosers[:3])
        return (f"measure it at the threshold another metric chooses ({listed}), or give a "
                "number")
    return ("add an entry that chooses the operating threshold, e.g. `{id: f1_best, "
            "metric: f1, threshold: optimize}` (or `net_value` with `costs:`), and write "
            "`threshold: f1_best` here; or give a number")


def _path(raw: dict[Any, Any], i: int) -> KeyPath:
    entry = (raw.get("metrics") or [None] * (i + 1))[i]
    if isinstance(entry, dict) and isinstance(entry.get("params"), dict) \
            and "threshold" in entry["params"]:
        return ("metrics", i, "params", "threshold")
    return ("metrics", i, "threshold") if isinstance(entry, dict) else ("metrics", i)


def check_threshold_refs(report: _Reporter, metrics: list[tuple[int, MetricEntry]]) -> None:
    """Report each ``threshold: <id>`` that names no other entry of ``metrics``, or one
    that does not choose its own threshold.

    Parameters
    ----------
    report
        Receives the problems (``add``); ``raw`` is the charter as read.
    metrics
        The entries that passed the schema, with their index under ``metrics:``.
    """
    by_id = {e.id: e for _, e in metrics}
    for i, e in metrics:
        ref = e.params.get("threshold")
        if (e.metric is None or not isinstance(ref, str) or ref == "optimize"
                or not ref.isidentifier()):
            continue  # a number, `optimize`, or text the parameter check refuses
        path = _path(report.raw, i)
        if ref == e.id:
            report.add(path, f"`threshold: {ref}` names this metric itself",
                       fix="write `threshold: optimize` to choose its threshold here, or a "
                       "number")
            continue
        target = by_id.get(ref)
        if target is None:
            others = [x for x in by_id if x != e.id]
            report.add(path, f"`threshold: {ref}` names no metric of the charter"
                       f"{did_you_mean(ref, others)} (a threshold is a number, `optimize`, "
                       f"or the id of a metric that chooses one; metrics: "
                       f"{', '.join(others) or 'none'})",
                       fix="name the id of an entry with `threshold: optimize` (or an "
                       "operating point such as `precision_at_recall`), or write a number")
            continue
        why = chooses_threshold(target)
        if why is not None:
            report.add(path, f"`threshold: {ref}` takes the threshold that `{ref}` chooses "
                       f"on the selection split, but `{ref}` chooses none: {why}",
                       fix=f"give `{ref}` `threshold: optimize`, or write a number here")
