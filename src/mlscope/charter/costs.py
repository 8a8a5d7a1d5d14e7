"""The charter's ``costs:`` section: what each outcome of a prediction costs per case,
and how the cost metrics (``expected_cost``, ``net_value``) get their costs from it.

Sign convention: every number is a **cost** per case in ``unit``; a gain is a negative
cost. Three forms, one per task:

* binary: ``costs: {unit: EUR, tp: -49, fp: 1, fn: 0, tn: 0}`` says: a true positive
  earns 49 EUR (a customer kept), a false positive costs 1 EUR (an offer sent for
  nothing), a missed or rightly ignored case costs nothing;
* multiclass: ``costs: {unit: EUR, matrix: {oak: {pine: 5, birch: 1}, ...}}`` gives the
  cost of predicting each class (inner key) for each true class (outer key), labels as
  in the data; a cell not written costs 0;
* regression: ``costs: {unit: EUR, over: 1, under: 3}`` gives the cost per unit of
  over-prediction (prediction above the label) and of under-prediction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from mlscope.errors import InputError

# The outcomes a binary cost names, in mlscope.metrics.binary_costs's order (a test keeps
# the two equal); defined here so that reading a charter never imports the metrics.
COST_KEYS: tuple[str, ...] = ("tp", "fp", "fn", "tn")
# The keys of the multiclass and regression forms.
MATRIX_KEY = "matrix"
REGRESSION_KEYS: tuple[str, ...] = ("over", "under")
# The keys each task's form gives (and a cost metric's entry may give instead).
TASK_KEYS: dict[str, tuple[str, ...]] = {
    "binary": COST_KEYS, "multiclass": (MATRIX_KEY,), "regression": REGRESSION_KEYS}

__all__ = ["COST_EXAMPLE", "EXAMPLES", "TASK_KEYS", "CostsSpec", "cost_params",
           "equal_costs_problem"]

COST_EXAMPLE = "costs: {unit: EUR, tp: -49, fp: 1, fn: 0, tn: 0}"
EXAMPLES: dict[str, str] = {
    "binary": COST_EXAMPLE,
    "multiclass": "costs: {unit: EUR, matrix: {<true class>: {<predicted class>: 5}}}",
    "regression": "costs: {unit: EUR, over: 1, under: 3}",
}
_UNIT_MAX = 16
# A cost is a plain number: no quoted text, no true/false, nothing infinite or NaN.
_Cost = Annotated[float, Field(strict=True, allow_inf_nan=False)]


def equal_costs_problem(costs: Mapping[str, float]) -> str | None:
    """Why four equal costs leave nothing to decide, with the fix; None when they differ."""
    values = {float(costs[k]) for k in COST_KEYS}
    if len(values) > 1:
        return None
    (v,) = values
    return (f"the four costs are all {v:g}: every prediction costs the same, so no model "
            "or threshold is better than another"
            "\nfix: give each outcome its own cost per case (a gain as a negative cost), "
            f"e.g. `{COST_EXAMPLE}`")


class CostsSpec(BaseModel):
    """The cost per case of each outcome of a prediction, in ``unit``.

    Binary: ``tp``, ``fp``, ``fn``, ``tn`` (true positive, false positive, false negative
    and true negative); multiclass: ``matrix`` ``{true class: {predicted class: cost}}``;
    regression: ``over`` and ``under``, the cost per unit of over- and under-prediction.
    A gain is a negative cost. ``unit`` is a short name (``EUR``, ``hours``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: str = ""
    tp: _Cost | None = None
    fp: _Cost | None = None
    fn: _Cost | None = None
    tn: _Cost | None = None
    matrix: dict[str, dict[str, _Cost]] | None = None
    over: _Cost | None = None
    under: _Cost | None = None

    @field_validator("matrix", mode="before")
    @classmethod
    def _matrix_shape(cls, value: Any) -> Any:
        # Labels are matched as text against the data's classes (YAML reads `1:` as 1).
        if value is None:
            return value
        if not isinstance(value, Mapping) or not value or not all(
                isinstance(r, Mapping) for r in value.values()):
            raise ValueError(
                "`matrix` is a mapping {true class: {predicted class: cost}}, got "
                f"{str(value)[:60]!r}\nfix: write e.g. `matrix: {{oak: {{pine: 5, birch: 1}}, "
                "pine: {oak: 2}}}` (a cell not written costs 0)")
        return {str(r): {str(c): x for c, x in cells.items()} for r, cells in value.items()}

    @model_serializer(mode="wrap")
    def _only_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # The keys of the other tasks' forms are not part of this charter: result.json
        # records the costs as written (a binary charter's record is unchanged).
        return {k: v for k, v in handler(self).items() if v is not None}

    @property
    def form(self) -> str:
        """The task the costs are written for: ``binary``, ``multiclass`` or
        ``regression``."""
        if self.matrix is not None:
            return "multiclass"
        if self.over is not None or self.under is not None:
            return "regression"
        return "binary"

    @field_validator("unit", mode="before")
    @classmethod
    def _short_unit(cls, value: Any) -> Any:
        if isinstance(value, str) and (len(value) > _UNIT_MAX or "\n" in value):
            raise ValueError(
                f"`unit` is a short name for reports (at most {_UNIT_MAX} characters on "
                f"one line), got {value[:40]!r}\nfix: write e.g. `unit: EUR` or "
                "`unit: hours`; say more in the charter's `description:`")
        return value

    @model_validator(mode="after")
    def _differ(self) -> CostsSpec:
        forms = [f for f, given in (
            ("binary (tp, fp, fn, tn)", any(getattr(self, k) is not None for k in COST_KEYS)),
            ("multiclass (matrix)", self.matrix is not None),
            ("regression (over, under)", self.over is not None or self.under is not None),
        ) if given]
        if len(forms) > 1:
            raise ValueError(
                f"`costs:` mixes the forms {' and '.join(forms)}; a charter has one task"
                "\nfix: keep the keys of this task only: " + "; ".join(EXAMPLES.values()))
        if not forms:
            raise ValueError(
                "`costs:` gives no cost\nfix: " + "; ".join(EXAMPLES.values()))
        keys = TASK_KEYS[self.form]
        for k in keys:
            if getattr(self, k) is None:
                raise ValueError(f"missing required key `{k}`\nfix: add `{k}:` (cost per "
                                 f"case; a gain is negative), e.g. `{EXAMPLES[self.form]}`")
        if self.form == "binary" and (why := equal_costs_problem(self.as_params())):
            raise ValueError(why)
        if self.form == "regression" and (why := regression_costs_problem(
                self.over, self.under)):
            raise ValueError(why)
        if self.form == "multiclass" and (why := matrix_problem(self.matrix or {})):
            raise ValueError(why)
        return self

    def as_params(self) -> dict[str, Any]:
        """The costs as a cost metric's parameters (those of the costs' task)."""
        out: dict[str, Any] = {k: getattr(self, k) for k in TASK_KEYS[self.form]}
        out["unit"] = self.unit
        return out


def regression_costs_problem(over: Any, under: Any) -> str | None:
    """Why ``over``/``under`` cannot be the costs of a regression, with the fix; or None."""
    for key, v in (("over", over), ("under", under)):
        if isinstance(v, int | float) and not isinstance(v, bool) and v < 0:
            side = "above" if key == "over" else "below"
            return (f"`{key}: {v:g}` is negative: a prediction {side} the label would earn "
                    "money the further off it is, so the worst model would win"
                    f"\nfix: give the cost per unit of {key}-prediction as 0 or more, "
                    f"e.g. `{EXAMPLES['regression']}`")
    if over == 0 and under == 0:
        return ("`over` and `under` are both 0: every prediction costs nothing, so no "
                "model is better than another"
                f"\nfix: give what each unit of error costs, e.g. `{EXAMPLES['regression']}`")
    return None


def matrix_problem(matrix: Mapping[str, Mapping[str, float]]) -> str | None:
    """Why a cost matrix leaves nothing to decide, with the fix; or None."""
    if all(float(x) == 0 for cells in matrix.values() for x in cells.values()):
        return ("every cell of `matrix` is 0 (and a cell not written costs 0): no "
                "prediction costs anything, so no model is better than another"
                f"\nfix: give the cost of each mistake, e.g. `{EXAMPLES['multiclass']}`")
    return None


def cost_params(params: Mapping[str, Any], metric_params: Mapping[str, Any],
                costs: CostsSpec | None, name: str, task: str = "binary") -> dict[str, Any]:
    """A metric entry's parameters with the charter's costs filled in.

    Parameters
    ----------
    params
        The parameters the metric entry gives.
    metric_params
        The registry metric's parameter specifications: a metric without the costs of
        ``task`` reads none and gets ``params`` back unchanged.
    costs
        The charter's ``costs:`` section, if any.
    name
        The metric's name, for messages.
    task
        The charter's task: which costs the metric reads (:data:`TASK_KEYS`).

    Returns
    -------
    dict
        ``params`` with this task's costs (``tp``, ``fp``, ``fn``, ``tn``; ``matrix``;
        ``over`` and ``under``) and ``unit`` from ``costs`` when the entry gives none.

    Raises
    ------
    InputError
        The entry gives some of the costs but not all, gives costs that leave nothing to
        decide, or gives none while the charter has no ``costs:`` section of this task.
        The message ends with ``"\nfix: ..."``.
    """
    out = dict(params)
    keys = TASK_KEYS.get(task)
    if keys is None or not all(k in metric_params for k in keys):
        return out
    example = EXAMPLES[task]
    given = [k for k in keys if k in params]
    if not given:
        if costs is None:
            raise InputError(
                f"`{name}` needs the cost of each outcome, and the charter has no "
                f"`costs:` section\nfix: add `{example}` (the cost per case of each "
                f"outcome; a gain is a negative cost), or give {_listed(keys)} in this "
                "metric entry")
        if costs.form != task:
            raise InputError(
                f"`{name}` needs the costs of a {task} task, and the charter's `costs:` "
                f"gives those of a {costs.form} task\nfix: write `{example}`")
        for k, v in costs.as_params().items():
            out.setdefault(k, v)
        return out
    if missing := [k for k in keys if k not in params]:
        every = "all four of tp, fp, fn and tn" if task == "binary" else "both over and under"
        raise InputError(
            f"`{name}` gives the costs {', '.join(given)} but not {', '.join(missing)}"
            f"\nfix: give {every} in this entry, or none of them to "
            "use the charter's `costs:`")
    if costs is not None and "unit" not in params:
        out["unit"] = costs.unit
    numbers = all(isinstance(params[k], int | float) and not isinstance(params[k], bool)
                  for k in keys if k != MATRIX_KEY)
    if numbers and task == "binary" and (why := equal_costs_problem(params)):
        raise InputError(why)
    if numbers and task == "regression" and (why := regression_costs_problem(
            params["over"], params["under"])):
        raise InputError(why)
    matrix = params.get(MATRIX_KEY)
    if task == "multiclass" and isinstance(matrix, Mapping) and all(
            isinstance(r, Mapping) and all(isinstance(x, int | float) for x in r.values())
            for r in matrix.values()) and (why := matrix_problem(matrix)):
        raise InputError(why)
    return out


def _listed(keys: tuple[str, ...]) -> str:
    if len(keys) == 1:
        return f"`{keys[0]}`"
    return ", ".join(f"`{k}`" for k in keys[:-1]) + f" and `{keys[-1]}`"
