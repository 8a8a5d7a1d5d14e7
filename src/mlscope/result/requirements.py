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
    interval, whether it is ``met``, and by how much (``margin``: positive when met)."""

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
