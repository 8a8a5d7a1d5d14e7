"""What a metric is: :class:`MetricSpec` and its :class:`ParamSpec`, with the vocabulary
(:data:`Direction`, :data:`Task`) the definitions and the registry share.

The definitions (``binary``, ``multiclass``, ``regression``, ``errors``) import this module
only and list their specifications in a module-level ``SPECS``;
:mod:`mlscope.metrics.registry` imports the definitions and builds the registry from them,
so nothing here imports a definition and there is no cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from mlscope.errors import InputError, did_you_mean

__all__ = [
    "ChooserFn",
    "Direction",
    "FloatArray",
    "MetricFn",
    "MetricSpec",
    "ParamSpec",
    "Task",
    "UndefinedFn",
    "threshold_ref",
]

Direction = Literal["higher", "lower"]
# "errors" is the task of a user's per-row error columns (e.g. position error in cm), as the
# charter spells it; the registry's lookups also accept "error".
Task = Literal["binary", "multiclass", "regression", "errors"]
FloatArray = npt.NDArray[np.float64]

MetricFn = Callable[..., FloatArray]
UndefinedFn = Callable[..., "str | None"]
ChooserFn = Callable[..., float]


@dataclass(frozen=True)
class ParamSpec:
    """A metric parameter: its type, default and meaning.

    ``kind`` is ``"float"``, ``"int"``, ``"str"``, ``"matrix"`` (a mapping of mappings of
    numbers, e.g. a cost matrix ``{true class: {predicted class: cost}}``) or
    ``"threshold"`` (a float in [0, 1] for probabilities; the string ``"optimize"``:
    choose the threshold that maximises the metric on the selection split and carry it to
    the other splits; or the id of another metric of the charter that chooses its
    threshold so: that threshold, :func:`threshold_ref`).
    """

    kind: Literal["float", "int", "threshold", "str", "matrix"]
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    # The tasks the parameter applies to (None: every task of the metric). A metric shared
    # by several tasks (``expected_cost``) reads different parameters in each.
    tasks: frozenset[str] | None = None
    # Set on a `threshold` that only `optimize` may take (an operating point chooses its
    # own threshold): a number is refused with this explanation and fix, never ignored.
    only_optimize: str | None = None
    # Set on a `threshold` whose best value over every threshold is at an extreme (one row
    # flagged or all of them: precision, recall, ...): `optimize` is refused with this
    # explanation, as it would report no operating point at all.
    no_optimize: str | None = None
    # For a `str` parameter with a fixed vocabulary (`average: macro|weighted`): anything
    # else is refused with a did-you-mean.
    choices: tuple[str, ...] | None = None


@dataclass(frozen=True)
class MetricSpec:
    """Everything mlscope knows about one metric.

    Attributes
    ----------
    name
        Registry key, e.g. ``"roc_auc"``.
    tasks
        Tasks the metric applies to.
    direction
        ``"higher"`` or ``"lower"`` is better.
    fn
        ``fn(stats, **params) -> array`` of shape ``stats.batch_shape``; NaN where the
        metric is undefined for a batch element.
    undefined
        ``undefined(stats, **params) -> reason | None`` for the point estimate, e.g.
        ``"only one class present (0 positives)"``.
    params
        Accepted parameters.
    chooser
        For operating-point metrics: ``chooser(stats, **params) -> threshold`` picks the
        operating threshold on the selection split; ``fn`` is then evaluated at
        ``threshold=`` that value on every split and slice. A metric that also has a
        ``threshold`` parameter uses its chooser only for ``threshold: optimize``.
    bounds
        The metric's range, for charts (``None`` when unbounded).
    needs_probability
        The metric reads the scores as probabilities; refused with ``score_type: score``.
    label
        Short human name for reports.
    """

    name: str
    tasks: frozenset[str]
    direction: Direction
    fn: MetricFn
    undefined: UndefinedFn
    description: str
    label: str
    params: Mapping[str, ParamSpec] = field(default_factory=dict)
    chooser: ChooserFn | None = None
    bounds: tuple[float | None, float | None] = (None, None)
    # Reads the scores as probabilities (log loss, Brier): refused for binary scores that
    # only rank rows (`score_type: score`).
    needs_probability: bool = False
    # A range that differs by task (multiclass Brier lies in [0, 2], binary in [0, 1]).
    task_bounds: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "higher"

    def bounds_for(self, task: str | None) -> tuple[float | None, float | None]:
        """The metric's range on ``task`` (:attr:`bounds` unless the task has its own)."""
        return self.task_bounds.get(task or "", self.bounds)

    def resolve_params(self, given: Mapping[str, Any], *, where: str = "",
                       score_type: str = "probability", task: str | None = None
                       ) -> dict[str, Any]:
        """Check ``given`` against :attr:`params` and fill in defaults.

        ``score_type`` is the charter's ``data.score_type``: a threshold is a probability
        in [0, 1] for ``probability`` and ``logit`` scores, and any number on the scale of
        the scores for ``score``, where no default threshold has a meaning, so one must
        be given. With ``task``, parameters of the metric's other tasks are refused when
        given and left out otherwise.
        """
        out: dict[str, Any] = {}
        mine = {k: p for k, p in self.params.items()
                if task is None or p.tasks is None or task in p.tasks}
        for key in given:
            if key in self.params and key not in mine:
                tasks = " and ".join(sorted(self.params[key].tasks or ()))
                raise InputError(
                    f"{where}metric `{self.name}` parameter `{key}` applies to {tasks} "
                    f"tasks only, and this task is {task} (parameters here: "
                    f"{', '.join(mine) or 'none'})"
                )
            if key not in self.params:
                known = ", ".join(mine) or "none"
                raise InputError(
                    f"{where}metric `{self.name}` has no parameter `{key}`"
                    f"{did_you_mean(key, mine)} (parameters: {known})"
                )
        for key, spec in mine.items():
            if (score_type == "score" and spec.kind == "threshold" and key not in given
                    and spec.default != "optimize"):
                raise InputError(
                    f"{where}metric `{self.name}` parameter `{key}` must be given with "
                    f"`score_type: score`: its default {spec.default!r} is a probability, "
                    "and these scores are not probabilities"
                )
            value = given.get(key, spec.default)
            out[key] = _check_param(self.name, key, spec, value, where,
                                    unbounded=score_type == "score" and spec.kind == "threshold")
        return out

    def is_operating_point(self, params: Mapping[str, Any]) -> bool:
        """True when the metric picks its threshold on the selection split: with
        ``threshold: optimize`` (given, or the declared default of a threshold that applies
        to every task, as for ``precision_at_recall`` written without one), with another
        metric's threshold, or with a chooser and no threshold parameter at all (a metric
        with a threshold parameter that is not given, as in a task where it does not
        apply, is no operating point)."""
        t = params.get("threshold")
        if t is None and "threshold" in self.params and self.params["threshold"].tasks is None:
            t = self.params["threshold"].default
        if isinstance(t, str):
            return True  # `optimize`, or another metric's chosen threshold
        return (self.chooser is not None and "threshold" not in params
                and "threshold" not in self.params)


def threshold_ref(params: Mapping[str, Any]) -> str | None:
    """The id of the metric whose chosen threshold ``params`` take (``threshold: <id>``),
    or None (a number, ``optimize``, or no threshold)."""
    t = params.get("threshold")
    return t if isinstance(t, str) and t != "optimize" else None


def _check_param(metric: str, key: str, spec: ParamSpec, value: Any, where: str,
                 unbounded: bool = False) -> Any:
    bad = f"{where}metric `{metric}` parameter `{key}` "
    if spec.kind == "threshold" and value == "optimize":
        if spec.no_optimize is not None:
            raise InputError(f"{bad}cannot be `optimize`: {spec.no_optimize}")
        return value
    if spec.only_optimize is not None:
        raise InputError(f"{bad}cannot be {value!r}: {spec.only_optimize}")
    if spec.kind == "threshold" and isinstance(value, str) and value.isidentifier():
        # Another metric's chosen threshold: that the id names such a metric is checked
        # where every metric of the charter is known.
        return value
    if spec.kind == "matrix":
        return _check_matrix(bad, value)
    if spec.kind == "str":
        if not isinstance(value, str):
            raise InputError(f"{bad}must be text, got {value!r}")
        if spec.choices is not None and value not in spec.choices:
            raise InputError(f"{bad}must be one of {', '.join(spec.choices)}, got "
                             f"{value!r}{did_you_mean(value, spec.choices)}")
        return value
    if spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{bad}must be a whole number, got {value!r}")
    elif isinstance(value, bool) or not isinstance(value, int | float):
        hint = (", `optimize` or the id of a metric that chooses its threshold"
                if spec.kind == "threshold" else "")
        raise InputError(f"{bad}must be a number{hint}, got {value!r}")
    if not np.isfinite(value):
        raise InputError(f"{bad}must be a finite number, got {value!r}")
    if unbounded:
        pass  # a threshold on the scale of `score_type: score` scores
    elif (spec.low is not None and value < spec.low) or (
            spec.high is not None and value > spec.high):
        raise InputError(f"{bad}must be in [{spec.low}, {spec.high}], got {value!r}")
    return int(value) if spec.kind == "int" else float(value)


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and bool(np.isfinite(x))


def _check_matrix(bad: str, value: Any) -> dict[str, dict[str, float]]:
    """A mapping of mappings of finite numbers, its keys as text (labels as in the data)."""
    if not isinstance(value, Mapping) or not all(isinstance(r, Mapping)
                                                 for r in value.values()):
        raise InputError(f"{bad}must be a mapping {{true class: {{predicted class: "
                         f"number}}}}, got {value!r}")
    out: dict[str, dict[str, float]] = {}
    for row, cells in value.items():
        for col, x in cells.items():
            if not _is_number(x):
                raise InputError(f"{bad}cell [{row}][{col}] must be a finite number, "
                                 f"got {x!r}")
        out[str(row)] = {str(c): float(x) for c, x in cells.items()}
    return out
