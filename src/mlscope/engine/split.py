"""What an engine hands the metric stages: one split's statistics per model and cell."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field

from mlscope.engine.plan import SliceCell
from mlscope.metrics.stats import Stats

__all__ = ["GroupedCells", "SplitStatistics"]

TaskKey = tuple[int, str]


@dataclass
class SplitStatistics:
    """Statistics of one split under one weight matrix (or the point weights).

    ``task[(model, cell key)]`` are the task's statistics (a batch over resamples when the
    weights had one), ``errors[(error column, model, cell key)]`` those of the charter's
    error columns; ``sizes`` and ``cells`` are the split's cells and their row counts.
    """

    task: MutableMapping[tuple[int, str], Stats] = field(default_factory=dict)
    errors: dict[tuple[int, int, str], Stats] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    cells: dict[str, SliceCell] = field(default_factory=dict)


class GroupedCells(MutableMapping[TaskKey, Stats]):
    """One model's statistics per cell, ``{(model, cell key): stats}``, built one slice
    grouping at a time when first read.

    A model's histograms hold about one bin per row in every grouping (three groupings:
    three times the rows). The metrics stage reads the cells grouping by grouping, so
    only the grouping being read is kept: reading a cell of another grouping drops the
    one built before (it is rebuilt, the same bits, should it be read again; a reader
    that still holds one of its cells keeps that cell's arrays). Safe for the threads
    that read one model's statistics side by side.

    Parameters
    ----------
    model
        The model index of every key.
    keys
        Per grouping, its cells' keys in the order ``build`` returns their statistics.
    build
        ``build(gi)``: grouping ``gi``'s statistics.
    """

    def __init__(self, model: int, keys: Sequence[Sequence[str]],
                 build: Callable[[int], Sequence[Stats]]) -> None:
        self._where = {(model, key): (gi, i)
                       for gi, per in enumerate(keys) for i, key in enumerate(per)}
        self._build = build
        self._built: tuple[int, Sequence[Stats]] | None = None  # the grouping kept
        self._set: dict[TaskKey, Stats] = {}
        self._gone: set[TaskKey] = set()
        self._lock = threading.Lock()
        self.builds = 0  # groupings built (a grouping read again after it was dropped: 2)

    def __getitem__(self, key: TaskKey) -> Stats:
        if key in self._set:
            return self._set[key]
        if key in self._gone or key not in self._where:
            raise KeyError(key)
        gi, i = self._where[key]
        with self._lock:
            if self._built is None or self._built[0] != gi:
                self._built = None  # dropped before the next is built
                self._built = (gi, self._build(gi))
                self.builds += 1
            got = self._built[1]
        return got[i]

    def __contains__(self, key: object) -> bool:
        # Without building anything.
        return key in self._set or (key in self._where and key not in self._gone)

    def __setitem__(self, key: TaskKey, value: Stats) -> None:
        self._set[key] = value
        self._gone.discard(key)

    def __delitem__(self, key: TaskKey) -> None:
        if key not in self:
            raise KeyError(key)
        self._set.pop(key, None)
        if key in self._where:
            self._gone.add(key)

    def __iter__(self) -> Iterator[TaskKey]:
        yield from (k for k in self._where if k not in self._gone and k not in self._set)
        yield from self._set

    def __len__(self) -> int:
        return sum(1 for _ in self)
