"""A few terminal lines on the guarantees: requirements decided on their bound, and the
risk-controlled thresholds (docs/deciding.md). The report's panel is drawn elsewhere."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from mlscope.result import EvaluationResult

__all__ = ["guarantee_lines"]


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def guarantee_lines(result: EvaluationResult) -> Group | None:
    """The lines, or None when the result has no guarantees."""
    bound = [r for r in result.requirements if r.decided_on == "bound"]
    if not bound and not result.guarantees:
        return None
    out = Text("Guarantees", style="bold")
    for r in bound:
        mark = ("✓", "green") if r.met else ("✗", "red")
        out.append(f"\n  {mark[0]} ", style=mark[1])
        out.append(f"{r.metric} {r.bound} on its bound {_num(r.certified)} "
                   f"(point {_num(r.value)}; {r.how})")
        if r.more_data:
            out.append(f"\n      {r.more_data}", style="dim")
    for g in result.guarantees:
        if g.slice != "overall":
            continue
        slices = [s for s in result.guarantees if s.slice != "overall" and s.metric == g.metric
                  and s.model == g.model]
        head = f"{g.metric} {g.requirement} with probability ≥ {1 - g.delta:g} ({g.model})"
        if slices:
            head += f", in the overall rows and {len(slices)} slices at once"
        if g.threshold is None:
            out.append("\n  ✗ ", style="red")
            out.append(f"{head}: {g.message}")
            continue
        out.append("\n  ✓ ", style="green")
        out.append(f"{head}: threshold {g.threshold:g}, certified {_num(g.certified)}, "
                   f"calibration {_num(g.calibration)}, report {_num(g.report)}")
        known = [s for s in slices if s.certified is not None]
        if known:
            sign = 1.0 if g.requirement.startswith(">") else -1.0
            worst = min(known, key=lambda s: sign * (s.certified or 0.0))
            out.append(f"\n      weakest slice {worst.slice}: certified "
                       f"{_num(worst.certified)}", style="dim")
    return Group(out)
