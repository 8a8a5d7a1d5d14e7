"""The one registry of metrics: name → specification with direction and task metadata.

Selection, diagnosis and reports read a metric's direction from here; nothing else
hard-codes whether higher or lower is better. The registry is complete as soon as this
module is imported: it imports the definitions and registers their ``SPECS``.
"""

from __future__ import annotations

from mlscope.errors import InputError, did_you_mean
from mlscope.metrics import binary, binary_costs, calibration, errors, multiclass, regression
from mlscope.metrics.spec import (
    ChooserFn,
    Direction,
    FloatArray,
    MetricFn,
    MetricSpec,
    ParamSpec,
    Task,
    UndefinedFn,
)

__all__ = [
    "REGISTRY",
    "ChooserFn",
    "Direction",
    "FloatArray",
    "MetricFn",
    "MetricSpec",
    "ParamSpec",
    "Task",
    "UndefinedFn",
    "get_metric",
    "metrics_for_task",
    "register",
]

# "errors" is the task of a user's per-row error columns; "error" is accepted as an alias.
_TASK_ALIASES = {"error": "errors"}

REGISTRY: dict[str, MetricSpec] = {}


def register(spec: MetricSpec) -> MetricSpec:
    """Add ``spec`` to the registry (names are unique)."""
    if spec.name in REGISTRY:
        raise ValueError(f"metric {spec.name!r} is registered twice")
    REGISTRY[spec.name] = spec
    return spec


# Registration order is the order of `metrics_for_task` and of the metric reference:
# the error-column summaries, then binary (costs, then calibration last), multiclass and
# regression metrics.
for _module in (errors, binary, binary_costs, calibration, multiclass, regression):
    for _spec in _module.SPECS:
        register(_spec)


def get_metric(name: str, *, task: str | None = None) -> MetricSpec:
    """Look up a metric by name, with a "did you mean" when it is unknown."""
    task = _TASK_ALIASES.get(task, task) if task is not None else None
    spec = REGISTRY.get(name)
    if spec is None:
        pool = [n for n, s in REGISTRY.items() if task is None or task in s.tasks]
        raise InputError(
            f"unknown metric `{name}`{did_you_mean(name, pool)} "
            f"(metrics for {task or 'all tasks'}: {', '.join(sorted(pool))})"
        )
    if task is not None and task not in spec.tasks:
        pool = [n for n, s in REGISTRY.items() if task in s.tasks]
        raise InputError(
            f"metric `{name}` does not apply to a {task} task"
            f"{did_you_mean(name, pool)} (it applies to: {', '.join(sorted(spec.tasks))})"
        )
    return spec


def metrics_for_task(task: str) -> list[MetricSpec]:
    """Every registered metric that applies to ``task``, in registration order."""
    task = _TASK_ALIASES.get(task, task)
    return [s for s in REGISTRY.values() if task in s.tasks]
