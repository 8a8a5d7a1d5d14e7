"""The key table of ``mlscope run``'s compact summary: every model on the metrics the
decision turns on, on the split the requirements are checked on (``--verbose`` prints
every metric on the selection split instead; the HTML report has everything).
"""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from mlscope.report.best import best_candidates
from mlscope.report.cells import key_metrics
from mlscope.report.charts import format_bound, format_value, metric_decimals
from mlscope.report.panels_verdict import verdict_role
from mlscope.result import OVERALL, EvaluationResult

__all__ = ["key_table"]

# The table shows at most this many metrics: beyond, it would wrap on an 80-column terminal.
_MAX_METRICS = 4


def _metrics(result: EvaluationResult) -> list[str]:
    """The decision's metrics (the rule's and the requirements'), then the charter's other
    metrics in its order while there is room: a charter that names only the metric to
    optimize still shows a few."""
    known = [m.id for m in result.metrics]
    ids = key_metrics(result) + [r.metric for r in result.requirements if r.slice == OVERALL]
    decision = [m for m in dict.fromkeys(ids) if m in set(known)]
    return list(dict.fromkeys(decision + known))[:_MAX_METRICS]


def key_table(result: EvaluationResult) -> Group | None:
    """Models × the decision's metrics on the requirement split (else the report, else the
    selection split): values, the best candidate starred, a requirement missed marked ✗,
    and the role of each model (selected ◆; ← the verdict's model: recommended, or the
    nearest to the requirements under "not good enough"); below it, a
    legend of the marks it shows (on its own line, not wrapped to the table's width)."""
    v = result.verdict
    role = verdict_role(v) if v is not None else None
    split = ((v.split if v is not None else None) or result.splits.get("report")
             or result.splits.get("selection"))
    metrics = _metrics(result)
    if split is None or not metrics:
        return None
    vals = {(x.model, x.metric): x.value for x in result.values
            if x.split == split and x.slice == OVERALL}
    infos = {m.id: m for m in result.metrics}
    bounds = {r.metric: r.bound for r in result.requirements if r.slice == OVERALL}
    missed = {(r.model, r.metric) for r in (v.requirements if v is not None else [])
              if r.slice == OVERALL and not r.met}
    table = Table(title=f"Key metrics on {split}", title_justify="left", title_style="bold",
                  box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    # Names and headers wrap between words, never inside one (no "@recall≥0…").
    table.add_column("model", width=max(len(m.name) for m in result.models) + 4)
    for mid in metrics:
        info = infos[mid]
        arrow = "↑" if info.direction == "higher" else "↓"
        head = Text(f"{info.label} {arrow}")
        if mid in bounds:
            head.append(f"\n{format_bound(bounds[mid])}", style="dim")
        table.add_column(head, justify="right",
                         min_width=max(len(w) for w in head.plain.split()))
    best = {mid: best_candidates(result, {m.name: vals.get((m.name, mid))
                                          for m in result.models}, infos[mid].direction)
            for mid in metrics}
    decs = {mid: metric_decimals(infos[mid], [x.value for x in result.values
                                              if x.metric == mid and x.split == split])
            for mid in metrics}
    for m in result.models:
        name = Text(m.name, style="bold cyan" if m.name == result.winner else "")
        if m.name == result.winner:
            name.append(" ◆")
        if role is not None and v is not None and m.name == v.model:
            name.append(" ←", style="bold")
        if m.kind == "baseline":
            name.stylize("dim italic")
        row = [name]
        for mid in metrics:
            x = vals.get((m.name, mid))
            if x is None:
                row.append(Text("—", style="dim"))
                continue
            # One mark column: * best candidate, ✗ a missed requirement.
            if (m.name, mid) in missed:
                # The best candidate that still misses: bold (its mark column holds the ✗).
                cell = Text(format_value(x, decs[mid]) + "✗",
                            style="bold red" if m.name in best[mid] else "red")
            elif m.name in best[mid]:
                cell = Text(format_value(x, decs[mid]) + "*", style="bold green")
            else:
                cell = Text(format_value(x, decs[mid]) + " ")
            row.append(cell)
        table.add_row(*row)
    return Group(table, _legend(result, missed, role[0] if role is not None else None))


def _legend(result: EvaluationResult, missed: set[tuple[str, str]],
            verdict_mark: str | None) -> Text:
    """The marks the table shows, and only those."""
    marks = ["* best candidate"]
    if missed:
        marks.append("✗ misses the requirement")
    if result.winner is not None:
        marks.append("◆ selected by the rule")
    if verdict_mark is not None:
        marks.append(f"← {verdict_mark}")
    if any(m.kind == "baseline" for m in result.models):
        marks.append("baselines in italics")
    return Text(" · ".join(marks), style="dim")
