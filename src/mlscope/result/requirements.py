"""A requirement checked for one model: :class:`RequirementCheck`.

Its own module so that the result's parts that list requirement checks (the result itself,
the check verdict, the launch verdict) can all name it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RequirementCheck"]


@dataclass
class RequirementCheck:
    """One requirement (``metric`` ``bound``) for ``model`` on ``split``: its value and
    interval, whether it is ``met``, and by how much (``margin``: positive when met).

    ``slice`` is ``"overall"`` for a charter ``requirements:`` entry, else the slice of a
    ``slice_requirements:`` entry (results written before per-slice requirements read as
    ``"overall"``); ``undefined`` says why the value could not be computed (then not
    met), e.g. a slice too small to measure."""

    metric: str
    bound: str
    split: str
    model: str
    value: float | None
    lower: float | None
    upper: float | None
    met: bool
    margin: float | None
    # ``decide_on: bound`` (docs/deciding.md): the bound decided on, how it was computed,
    # and how much more data would certify a requirement met only on the point.
    decided_on: str = "point"
    certified: float | None = None
    how: str = ""
    more_data: str = ""
    slice: str = "overall"
    undefined: str = ""

    @property
    def label(self) -> str:
        """``"roc_auc"``, or ``"roc_auc in no_car_policy"`` for a per-slice requirement."""
        return self.metric if self.slice == "overall" else f"{self.metric} in {self.slice}"
