"""What changed between two runs of a project, in words.

Pure functions over a few facts of each run, so that ``Store.save`` and the migration that
fills in older stores describe changes the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["describe_changes"]


def describe_changes(previous: Mapping[str, Any] | None, current: Mapping[str, Any]) -> list[str]:
    """Describe how ``current`` differs from ``previous`` (the project's run before it).

    Parameters
    ----------
    previous, current
        Facts of a run: ``charter_hash`` (str), ``models`` (candidate names),
        ``data_hash`` (str) and ``seed`` (int). ``previous`` is None for a project's first
        run, which has nothing to compare with.

    Returns
    -------
    list of str
        In this order, each when it applies: ``"charter edited"``, ``"new models: x, y"``,
        ``"models removed: z"``, ``"data changed"``, ``"seed changed"``. Empty when nothing
        changed or there is no previous run.

    Examples
    --------
    >>> prev = {"charter_hash": "a", "models": ["lr", "gbdt"], "data_hash": "d", "seed": 1}
    >>> describe_changes(prev, {**prev, "charter_hash": "b", "models": ["lr", "knn"]})
    ['charter edited', 'new models: knn', 'models removed: gbdt']
    """
    if previous is None:
        return []
    out: list[str] = []
    if previous["charter_hash"] != current["charter_hash"]:
        out.append("charter edited")
    before: Sequence[str] = previous["models"]
    after: Sequence[str] = current["models"]
    added = [m for m in after if m not in before]
    removed = [m for m in before if m not in after]
    if added:
        out.append("new models: " + ", ".join(added))
    if removed:
        out.append("models removed: " + ", ".join(removed))
    if previous["data_hash"] != current["data_hash"]:
        out.append("data changed")
    if previous["seed"] != current["seed"]:
        out.append("seed changed")
    return out
