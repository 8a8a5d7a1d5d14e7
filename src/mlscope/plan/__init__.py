"""The project before the model (``mlscope plan``): the planning checklist checked
against the evidence the charter and its results hold, and readiness per stage.

Layer: above :mod:`mlscope.evaluation` (it reads charters and stored results), below the
report and the CLI.
"""

from mlscope.plan.evidence import READY, Gap, ItemEvidence, check_items
from mlscope.plan.readiness import PlanCheck, StageReadiness, plan_check

__all__ = ["READY", "Gap", "ItemEvidence", "PlanCheck", "StageReadiness", "check_items",
           "plan_check"]
