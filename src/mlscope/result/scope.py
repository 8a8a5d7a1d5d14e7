"""The launch scope in the result (``result.scope``).

Plain data, written by :mod:`mlscope.pipeline.scope` (the search is
:mod:`mlscope.compare.scope`); see docs/deciding.md, "Scope".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Scope", "ScopeCell", "ScopeCellStatus"]

ScopeCellStatus = Literal["certified", "not_certified", "misses", "too_small", "undefined"]


@dataclass
class ScopeCell:
    """One slice tested for the launch scope: does the model meet every requirement on it
    with confidence?

    ``status`` is ``certified`` (every requirement holds, Holm-adjusted), ``misses`` (a
    requirement's point value misses its bound), ``not_certified`` (every point value
    meets its bound but not with family-wise confidence), ``too_small`` (fewer rows than
    ``slices.min_size``: not tested) or ``undefined`` (a requirement's metric is
    undefined there, or there is no evidence to test it with: not tested). ``p_value``
    is the cell's (the largest over its requirements: intersection–union), ``level``
    the Holm level it was held to (None when not tested). ``metric``, ``bound``,
    ``value``, ``lower``, ``upper`` and ``test`` describe the requirement that decides
    the cell (the one with the largest p-value, or the one that is undefined).
    """

    slice: str
    partition: str
    rows: int
    status: ScopeCellStatus
    p_value: float | None = None
    level: float | None = None
    metric: str | None = None
    bound: str | None = None
    value: float | None = None
    lower: float | None = None
    upper: float | None = None
    test: str = ""
    note: str = ""


@dataclass
class Scope:
    """The largest share of traffic on which ``model`` meets every requirement with
    family-wise confidence ``1 − alpha`` on ``split``.

    ``partition`` is the partition of the traffic the scope is drawn from (``all
    traffic``, a slice column, a cross ``a × b``, or one named ``where`` slice); None
    when no cell of any partition is certified. ``included`` are its certified cells,
    ``rows_in`` of ``rows_total`` rows (``share``); ``tested`` the number of cells in the
    family Holm's procedure controls; ``cells`` every cell considered, tested or not;
    ``union`` says what the per-cell guarantee implies for the included cells together.
    """

    model: str
    split: str
    alpha: float
    method: str
    partition: str | None
    included: list[str]
    rows_in: int
    rows_total: int
    share: float
    tested: int
    cells: list[ScopeCell] = field(default_factory=list)
    union: str = ""
