"""The charter's ``costs:`` section: what each outcome of a binary prediction costs per
case, and how the cost metrics (``expected_cost``, ``net_value``) get their costs from it.

Sign convention: every number is a **cost** per case in ``unit``; a gain is a negative
cost. ``costs: {unit: EUR, tp: -49, fp: 1, fn: 0, tn: 0}`` says: a true positive earns
49 EUR (a customer kept), a false positive costs 1 EUR (an offer sent for nothing), a
missed or rightly ignored case costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlscope.errors import InputError

# The outcomes a binary cost names, in mlscope.metrics.binary_costs's order (a test keeps
# the two equal); defined here so that reading a charter never imports the metrics.
COST_KEYS: tuple[str, ...] = ("tp", "fp", "fn", "tn")

__all__ = ["COST_EXAMPLE", "CostsSpec", "cost_params", "equal_costs_problem"]

COST_EXAMPLE = "costs: {unit: EUR, tp: -49, fp: 1, fn: 0, tn: 0}"
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
    """The cost per case of each outcome of a binary prediction, in ``unit``.

    ``tp``, ``fp``, ``fn``, ``tn``: true positive, false positive, false negative and true
    negative; a gain is a negative cost. ``unit`` is a short name (``EUR``, ``hours``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: str = ""
    tp: _Cost
    fp: _Cost
    fn: _Cost
    tn: _Cost

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
        if why := equal_costs_problem(self.as_params()):
            raise ValueError(why)
        return self

    def as_params(self) -> dict[str, Any]:
        """The costs as a cost metric's parameters."""
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn,
                "unit": self.unit}


def cost_params(params: Mapping[str, Any], metric_params: Mapping[str, Any],
                costs: CostsSpec | None, name: str) -> dict[str, Any]:
    """A metric entry's parameters with the charter's costs filled in.

    Parameters
    ----------
    params
        The parameters the metric entry gives.
    metric_params
        The registry metric's parameter specifications: a metric without ``fp`` reads no
        costs and gets ``params`` back unchanged.
    costs
        The charter's ``costs:`` section, if any.
    name
        The metric's name, for messages.

    Returns
    -------
    dict
        ``params`` with ``tp``, ``fp``, ``fn``, ``tn`` (and ``unit``) from ``costs`` when
        the entry gives none of the four.

    Raises
    ------
    InputError
        The entry gives some of the four costs but not all, gives four equal costs, or
        gives none while the charter has no ``costs:`` section. The message ends with
        ``"\\nfix: ..."``.
    """
    out = dict(params)
    if "fp" not in metric_params:
        return out
    given = [k for k in COST_KEYS if k in params]
    if not given:
        if costs is None:
            raise InputError(
                f"`{name}` needs the cost of each outcome, and the charter has no "
                f"`costs:` section\nfix: add `{COST_EXAMPLE}` (the cost per case of each "
                "outcome; a gain is a negative cost), or give `tp`, `fp`, `fn` and `tn` "
                "in this metric entry")
        for k, v in costs.as_params().items():
            out.setdefault(k, v)
        return out
    if missing := [k for k in COST_KEYS if k not in params]:
        raise InputError(
            f"`{name}` gives the costs {', '.join(given)} but not {', '.join(missing)}"
            f"\nfix: give all four of tp, fp, fn and tn in this entry, or none of them to "
            "use the charter's `costs:`")
    if costs is not None and "unit" not in params:
        out["unit"] = costs.unit
    numbers = all(isinstance(params[k], int | float) and not isinstance(params[k], bool)
                  for k in COST_KEYS)
    if numbers and (why := equal_costs_problem(params)):
        raise InputError(why)
    return out
