"""What an edit of the charter changed, key by key: ``requirements.roc_auc: ">= 0.7" → ">= 0.75"``.

The store records only that the charter's hash changed ("charter edited"); the dashboard
compares the two stored charters to say which keys changed, old → new. Pure functions over
the parsed charters (mappings, lists and scalars), so that the text is the same wherever it
is shown; the pages escape it like every other string.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlscope.store import RunSummary, Store

__all__ = ["charter_diff", "charter_diffs", "flatten"]

MAX_VALUE = 48  # characters of a value before it is shortened with "…"


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """A nested mapping as ``{"a.b.c": leaf}``; lists and scalars are leaves.

    Parameters
    ----------
    value
        A parsed charter (or any part of it).
    prefix
        The dotted key of ``value`` itself (empty at the top).

    Returns
    -------
    dict
        Dotted key → value, in the mapping's order. An empty mapping is a leaf (``{}``),
        so that adding or removing one shows.

    Examples
    --------
    >>> flatten({"requirements": {"roc_auc": ">= 0.7"}, "seed": 1})
    {'requirements.roc_auc': '>= 0.7', 'seed': 1}
    """
    if isinstance(value, Mapping) and not value and not prefix:
        return {}  # an empty charter has no keys
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _show(value: Any) -> str:
    """A value as short JSON-like text: strings quoted, long values shortened."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))
    except (TypeError, ValueError):  # a value JSON cannot hold: its repr says enough
        text = repr(value)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def charter_diff(old: Any, new: Any, *, limit: int = 8) -> list[str]:
    """The keys that differ between two charters, one line each, old → new.

    Parameters
    ----------
    old, new
        The two parsed charters (the previous run's and this run's); anything that is not
        a mapping counts as an empty charter.
    limit
        At most this many lines; a last line says how many more keys changed.

    Returns
    -------
    list of str
        ``key: old → new`` for a changed value, ``key: added new`` and ``key: removed
        (was old)``, in the new charter's key order (removed keys last). Empty when the
        charters are equal.

    Examples
    --------
    >>> charter_diff({"requirements": {"roc_auc": ">= 0.7"}},
    ...              {"requirements": {"roc_auc": ">= 0.75", "log_loss": "<= 0.3"}})
    ['requirements.roc_auc: ">= 0.7" → ">= 0.75"', 'requirements.log_loss: added "<= 0.3"']
    """
    a = flatten(old if isinstance(old, Mapping) else {})
    b = flatten(new if isinstance(new, Mapping) else {})
    lines: list[str] = []
    for key, value in b.items():
        if key not in a:
            lines.append(f"{key}: added {_show(value)}")
        elif a[key] != value:
            lines.append(f"{key}: {_show(a[key])} → {_show(value)}")
    lines += [f"{key}: removed (was {_show(value)})" for key, value in a.items() if key not in b]
    if len(lines) > limit:
        more = len(lines) - (limit - 1)
        lines = [*lines[: limit - 1], f"… and {more} more keys"]
    return lines


def _parsed(store: Store, run_id: int, fallback: Callable[[int], Any]) -> Any:
    """A run's charter: its stored text parsed, else the charter its result carries."""
    import yaml

    text = store.charter_text(run_id)
    if text:
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            pass  # a text the store kept but YAML cannot read: the result's copy is exact
    return fallback(run_id)


def _previous(store: Store, run: RunSummary, newer: Sequence[RunSummary], offset: int
              ) -> RunSummary | None:
    """The project's run before ``run``: next in ``newer`` (newest first), else the store's."""
    ids = [r.id for r in newer]
    if run.id in ids and ids.index(run.id) + 1 < len(ids):
        return newer[ids.index(run.id) + 1]
    page, start = 200, offset
    while True:  # the run's position is not known: walk the project's runs, newest first
        batch = store.runs(run.project, limit=page, offset=start)
        older = [r for r in batch if r.id < run.id]
        if older:
            return older[0]
        if len(batch) < page:
            return None
        start += page


def charter_diffs(store: Store, runs: Sequence[RunSummary], result_charter: Callable[[int], Any],
                  *, offset: int = 0) -> dict[int, list[str]]:
    """For each run whose changes say ``charter edited``: the lines of :func:`charter_diff`.

    Parameters
    ----------
    store
        The store the runs come from.
    runs
        Runs of one project, newest first (a page of the runs list, or one run).
    result_charter
        Run id → the charter its stored result carries (used when no charter text was kept).
    offset
        How many newer runs precede ``runs`` (where to look for the run before the last).

    Returns
    -------
    dict
        Run id → diff lines; runs without an edited charter are absent.
    """
    out: dict[int, list[str]] = {}
    for run in runs:
        if "charter edited" not in (run.changes or []):
            continue
        prev = _previous(store, run, runs, offset)
        if prev is None:
            continue
        out[run.id] = charter_diff(_parsed(store, prev.id, result_charter),
                                   _parsed(store, run.id, result_charter))
    return out
