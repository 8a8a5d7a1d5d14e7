"""The verdict's guarantees section: what is certified about the recommended model, in
plain lines (docs/deciding.md, "Guarantees").

Two kinds of guarantee reach it: requirements decided on their confidence bound
(``decide_on: bound``), and risk-controlled thresholds (``guarantees.thresholds``). The
section speaks of the model the verdict recommends; a threshold guarantee for another
model is named with its model, so the panel never lets one model's guarantee read as
another's.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlscope.result import RequirementCheck, ThresholdGuarantee

__all__ = ["guarantee_section"]


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.3g}"


def _requirement_lines(model: str | None,
                       requirements: Sequence[RequirementCheck]) -> list[str]:
    out = []
    for r in requirements:
        if r.decided_on != "bound" or r.model != model:
            continue
        state = "certified" if r.met else "not certified"
        line = (f"{r.metric} {r.bound}: {state} — its bound is {_num(r.certified)} "
                f"(point {_num(r.value)}; {r.how})")
        if not r.met and r.more_data:
            line += f"; {r.more_data}"
        out.append(line)
    return out


def _threshold_lines(model: str | None,
                     guarantees: Sequence[ThresholdGuarantee]) -> list[str]:
    out = []
    for g in guarantees:
        if g.slice != "overall":
            continue
        slices = [s for s in guarantees if s.slice != "overall" and s.metric == g.metric
                  and s.model == g.model]
        who = "" if g.model == model else f" for {g.model}"
        where = (f" in the overall rows and {len(slices)} slices at once" if slices else "")
        head = (f"{g.metric} {g.requirement}{who} with probability ≥ {1 - g.delta:g}"
                f"{where}")
        if g.threshold is None:
            out.append(f"{head}: no threshold qualifies — {g.message}" if g.message
                       else f"{head}: no threshold qualifies")
            continue
        line = (f"{head}: threshold {g.threshold:.4g} (certified bound "
                f"{_num(g.certified)} on the calibration rows; {_num(g.report)} on the "
                "report split)")
        known = [s for s in slices if s.certified is not None]
        if known:
            sign = 1.0 if g.requirement.startswith(">") else -1.0
            worst = min(known, key=lambda s: sign * (s.certified or 0.0))
            line += f"; weakest slice {worst.slice} certified {_num(worst.certified)}"
        out.append(line)
    return out


def guarantee_section(model: str | None, requirements: Sequence[RequirementCheck],
                      guarantees: Sequence[ThresholdGuarantee]) -> list[str]:
    """The section's lines (empty when nothing is guaranteed or asked to be).

    Parameters
    ----------
    model
        The model the verdict recommends (or is nearest), whose requirements decided on
        their bound are listed.
    requirements
        The verdict's requirement checks (every candidate and baseline).
    guarantees
        The run's risk-controlled thresholds (``result.guarantees``).
    """
    return _requirement_lines(model, requirements) + _threshold_lines(model, guarantees)
