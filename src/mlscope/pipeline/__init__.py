"""The evaluation as named stages, each a function with typed inputs and outputs.

open → fit baselines → plan → aggregate → finalise → intervals → select → compare →
human level → decide → diagnose → verdict → assemble. :func:`mlscope.evaluation.evaluate` is the
list of these stages; other commands reuse the ones they need.
"""

from mlscope.pipeline.assemble import assemble
from mlscope.pipeline.decide import compare_models, decide, diagnose, human_level, select_models
from mlscope.pipeline.intervals import intervals
from mlscope.pipeline.measure import aggregate, finalise
from mlscope.pipeline.open import fit_baselines, open_run, plan_run
from mlscope.pipeline.types import (
    Choice,
    Comparisons,
    Decision,
    HumanLevel,
    MetricTable,
    Replicates,
    Run,
    RunPlan,
)
from mlscope.pipeline.verdict import verdict

__all__ = [
    "Choice",
    "Comparisons",
    "Decision",
    "HumanLevel",
    "MetricTable",
    "Replicates",
    "Run",
    "RunPlan",
    "aggregate",
    "assemble",
    "compare_models",
    "decide",
    "diagnose",
    "finalise",
    "fit_baselines",
    "human_level",
    "intervals",
    "open_run",
    "plan_run",
    "select_models",
    "verdict",
]
