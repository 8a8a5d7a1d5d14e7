"""The project before the model (``mlscope plan``): the planning checklist checked
against the evidence the charter and its results hold, and readiness per stage
(:mod:`~mlscope.plan.evidence`, :mod:`~mlscope.plan.readiness`); feasibility from evidence
(:mod:`~mlscope.plan.feasibility`: the rows, money and weeks each target needs from a
learning curve and a label cost); and the portfolio (:mod:`~mlscope.plan.portfolio`:
candidate projects scored and ranked by impact and feasibility).

Layer: above :mod:`mlscope.evaluation` (it reads charters and stored results), below the
report and the CLI, where the rendering lives.
"""

from mlscope.plan.evidence import READY, Gap, ItemEvidence, check_items
from mlscope.plan.readiness import PlanCheck, StageReadiness, plan_check

__all__ = ["READY", "Gap", "ItemEvidence", "PlanCheck", "StageReadiness", "check_items",
           "plan_check"]
