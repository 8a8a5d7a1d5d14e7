"""Slices as groupings of rows: overall, by column values, crossed columns, predicates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["OVERALL", "Grouping", "SliceCell", "plan_groupings"]

OVERALL = "overall"
CROSS = " × "


@dataclass(frozen=True)
class Grouping:
    """A partition of the rows (or, for a predicate, the rows where it holds).

    ``columns`` are indices into the evaluation table's slice columns; ``where`` is the
    index of a named predicate.
    """

    kind: Literal["overall", "column", "cross", "where"]
    columns: tuple[int, ...] = ()
    names: tuple[str, ...] = ()
    where: int | None = None
    definition: str = ""


@dataclass(frozen=True)
class SliceCell:
    """One slice: a grouping and the values of its columns."""

    grouping: Grouping
    values: tuple[str, ...]

    @property
    def key(self) -> str:
        g = self.grouping
        if g.kind == "overall":
            return OVERALL
        if g.kind == "where":
            return g.names[0]
        return CROSS.join(f"{n}={v}" for n, v in zip(g.names, self.values, strict=True))


def plan_groupings(
    slice_columns: list[str],
    columns: list[str],
    crosses: list[list[str]],
    where: dict[str, str],
) -> list[Grouping]:
    """The groupings a charter's ``slices`` section asks for, overall first, no duplicates."""
    idx = {c: i for i, c in enumerate(slice_columns)}
    out = [Grouping("overall", definition="all rows")]
    seen: set[tuple[int, ...]] = {()}
    for c in columns:
        key: tuple[int, ...] = (idx[c],)
        if key not in seen:
            seen.add(key)
            out.append(Grouping("column", key, (c,), definition=f"each value of {c}"))
    for cross in crosses:
        key = tuple(sorted(idx[c] for c in cross))
        if key not in seen:
            seen.add(key)
            names = tuple(slice_columns[i] for i in key)
            out.append(Grouping("cross", key, names, definition=" × ".join(names)))
    for i, (name, pred) in enumerate(where.items()):
        out.append(Grouping("where", (), (name,), where=i, definition=pred))
    return out
