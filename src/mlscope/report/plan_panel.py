"""The report's "Plan" panel: the planning facts of the charter (the problem and the
decision the prediction feeds, the archetype, deployment and rollout) and the readiness of
each stage against the evidence (:func:`mlscope.plan.plan_check`); ``mlscope plan`` writes
the full brief (docs/planning.md)."""

from __future__ import annotations

from typing import Any

from mlscope.result import EvaluationResult

__all__ = ["plan_panel"]

_ARCHETYPES = {"software_2_0": "software 2.0", "human_in_the_loop": "human in the loop",
               "autonomous": "autonomous"}


def _deployment(dep: Any) -> str:
    if dep is None:
        return ""
    parts = [p for p in (dep.mode, dep.where) if p]
    if dep.latency_budget_ms is not None:
        parts.append(f"≤ {dep.latency_budget_ms:g} ms")
    if dep.qps is not None:
        parts.append(f"{dep.qps:g} queries/s")
    return ", ".join(str(p) for p in parts)


def plan_panel(result: EvaluationResult) -> dict[str, Any] | None:
    """The panel's facts, or None when the charter has no planning section (or the stored
    charter no longer reads as one: an older or edited result)."""
    from pydantic import ValidationError

    from mlscope.charter.planning import CHECKLIST
    from mlscope.charter.schema import Charter
    from mlscope.errors import InputError
    from mlscope.plan import plan_check

    charter = result.charter if isinstance(result.charter, dict) else {}
    if not charter.get("planning"):
        return None
    try:
        ch = Charter.model_validate(charter)
        check = plan_check(ch, result)
    except (ValidationError, InputError, ValueError):
        return None
    p = ch.planning
    facts = [(label, value) for label, value in (
        ("Problem", p.problem), ("Users", p.users), ("Decision", p.decision),
        ("Archetype", _ARCHETYPES.get(p.archetype or "", p.archetype or "")),
        ("Deployment", _deployment(p.deployment)),
        ("Rollout", " → ".join(str(r).replace("_", " ") for r in p.rollout)),
    ) if value]
    stages = [{"stage": s.stage, "ready": s.ready, "total": s.total,
               "share": s.ready / s.total if s.total else 0.0,
               "missing": [CHECKLIST[k].title if k in CHECKLIST else k for k in s.not_ready]}
              for s in check.stages]
    return {"facts": facts, "stages": stages}
