"""Readiness per stage (planning, evaluation, deployment, monitoring) from the checklist's
evidence, and the plain-data form ``mlscope plan --json`` prints.

A stage's readiness is the share of its items that are ready: backed by evidence, not
applicable (with the reason), or — for the items only a person can answer — attested.
An item with missing or unverified evidence is not ready, whatever the checklist claims.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mlscope.charter.planning import STAGES
from mlscope.charter.schema import Charter
from mlscope.plan.evidence import ItemEvidence, check_items
from mlscope.result import EvaluationResult

__all__ = ["PlanCheck", "StageReadiness", "plan_check"]


@dataclass
class StageReadiness:
    """One stage: how many of its items are ready, and which are not."""

    stage: str
    ready: int
    total: int
    not_ready: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        """``ready / total`` (1 for a stage without items)."""
        return self.ready / self.total if self.total else 1.0


@dataclass
class PlanCheck:
    """A charter's plan checked against its evidence: per stage and per item."""

    project: str
    result: str | None
    stages: list[StageReadiness]
    items: list[ItemEvidence]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (``mlscope plan --json``)."""
        return {
            "project": self.project,
            "result": self.result,
            "stages": [{**asdict(s), "share": round(s.share, 4)} for s in self.stages],
            "items": [{**asdict(i), "ready": i.ready} for i in self.items],
        }


def plan_check(ch: Charter, result: EvaluationResult | None = None, *,
               result_path: str | None = None) -> PlanCheck:
    """Check the charter's plan against the evidence and score each stage.

    Parameters
    ----------
    ch
        The charter.
    result
        A stored result of the charter for figures, or ``None``.
    result_path
        Where ``result`` was read from (recorded as given).

    Returns
    -------
    PlanCheck
    """
    items = check_items(ch, result)
    stages = []
    for stage in STAGES:
        mine = [i for i in items if i.stage == stage]
        stages.append(StageReadiness(stage=stage, ready=sum(i.ready for i in mine),
                                     total=len(mine),
                                     not_ready=[i.key for i in mine if not i.ready]))
    return PlanCheck(project=ch.project, result=result_path, stages=stages, items=items)
