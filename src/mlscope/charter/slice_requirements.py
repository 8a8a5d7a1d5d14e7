"""Checks on the charter's ``slice_requirements:`` that the schema cannot make.

A per-slice requirement (``{metric: roc_auc, slice: no_car_policy, bound: ">= 0.6"}``)
must name a computed metric and a slice the charter defines (a ``slices.where`` name, or
``column=value`` over ``slices.columns`` / ``slices.crosses`` columns, crossed cells
joined with `` × ``), once per (metric, slice). A failure mode under
``planning.failure_modes`` that states a requirement on the same metric and slice must
state the same bound: the checked requirement is the one source of truth, and a plan that
contradicts it is refused rather than silently overruled.

Whether a ``column=value`` cell exists in the data is known only once the data is read:
:func:`mlscope.compare.wiring.requirement_checks` refuses an unknown cell then (exit 2,
with "did you mean").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from mlscope.errors import did_you_mean

__all__ = ["check_slice_requirements", "defined_slices", "slice_defined"]

CROSS = " × "


class _Reporter(Protocol):
    raw: dict[Any, Any]

    def add(self, path: tuple[Any, ...], message: str, fix: str | None = None, *,
            at: tuple[Any, ...] | None = None) -> None: ...


def defined_slices(raw: dict[Any, Any]) -> tuple[set[str], set[str]]:
    """The slice columns (``columns`` and those in ``crosses``) and the ``where`` names."""
    slices = raw.get("slices")
    slices = slices if isinstance(slices, dict) else {}
    cols = slices.get("columns")
    columns = {c for c in cols if isinstance(c, str)} if isinstance(cols, list) else set()
    crosses = slices.get("crosses")
    for cross in crosses if isinstance(crosses, list) else []:
        if isinstance(cross, list):
            columns |= {c for c in cross if isinstance(c, str)}
    where = slices.get("where")
    return columns, {str(k) for k in where} if isinstance(where, dict) else set()


def slice_defined(name: str, columns: set[str], where: set[str]) -> bool:
    """Whether ``name`` is a slice the charter defines (its values unchecked)."""
    if name in where:
        return True
    parts = [p.strip() for p in name.split(CROSS.strip())]
    return all("=" in p and p.split("=", 1)[0].strip() in columns for p in parts)


def _forms(columns: set[str], where: set[str]) -> list[str]:
    return sorted(where) + [f"{c}=" for c in sorted(columns)]


def check_slice_requirements(report: _Reporter, metric_ids: list[str] | None,
                             parse_bound: Callable[[Any], object]) -> None:
    """Report per-slice requirements naming an unknown metric or slice, or given twice,
    and failure modes whose requirement contradicts the checked one.

    Parameters
    ----------
    report
        Receives the problems (``add``); ``raw`` is the charter as read.
    metric_ids
        The metric ids computed, or ``None`` when the metrics did not pass the schema.
    parse_bound
        Reads a bound (``schema.parse_bound``), raising ``ValueError``.
    """
    raw = report.raw
    entries = raw.get("slice_requirements")
    entries = entries if isinstance(entries, list) else []
    columns, where = defined_slices(raw)
    checked: dict[tuple[str, str], str] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        metric, name = entry.get("metric"), entry.get("slice")
        if isinstance(metric, str) and metric_ids is not None and metric not in metric_ids:
            report.add(("slice_requirements", i, "metric"),
                       f"metric `{metric}` is not computed{did_you_mean(metric, metric_ids)} "
                       f"(computed: {', '.join(metric_ids)})",
                       fix="name a metric id listed under `metrics:`, or add the metric there")
        if isinstance(name, str) and not slice_defined(name, columns, where):
            head = name.split("=", 1)[0].strip()
            hint = did_you_mean(name, sorted(where)) or did_you_mean(head, sorted(columns))
            report.add(("slice_requirements", i, "slice"),
                       f"slice `{name}` is not defined{hint} (slices: "
                       f"{', '.join(_forms(columns, where)) or 'none'})",
                       fix="name a `slices.where` name or `column=value` over a column under "
                           "`slices.columns`; or define the slice under `slices:`")
        if isinstance(metric, str) and isinstance(name, str):
            try:
                text = str(parse_bound(entry.get("bound")))
            except (ValueError, TypeError):
                continue  # the schema reports the bound at its own line
            if (metric, name) in checked:
                report.add(("slice_requirements", i),
                           f"`{metric}` in slice `{name}` is required twice",
                           fix="keep one entry per metric and slice")
            checked[(metric, name)] = text
    _check_failure_modes(report, checked, parse_bound)


def _check_failure_modes(report: _Reporter, checked: dict[tuple[str, str], str],
                         parse_bound: Callable[[Any], object]) -> None:
    plan = report.raw.get("planning")
    modes = plan.get("failure_modes") if isinstance(plan, dict) else None
    for i, fm in enumerate(modes if isinstance(modes, list) else []):
        if not isinstance(fm, dict) or fm.get("requirement") is None:
            continue
        key = (fm.get("metric"), fm.get("slice"))
        if not all(isinstance(k, str) for k in key) or key not in checked:
            continue
        try:
            stated = str(parse_bound(fm["requirement"]))
        except (ValueError, TypeError):
            continue  # check_planning reports it
        if stated != checked[key]:
            report.add(("planning", "failure_modes", i, "requirement"),
                       f"the failure mode requires `{key[0]}` {stated} in slice `{key[1]}`, "
                       f"but `slice_requirements:` checks {checked[key]}",
                       fix="state one bound: drop `requirement:` here (the checked one "
                           "applies) or make the two agree")
