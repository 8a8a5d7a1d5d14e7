"""The one engine protocol: what the evaluation's stages ask of an engine.

An engine opens the charter's data, lists each slice column's levels and aggregates the
rows into :class:`~mlscope.engine.split.SplitStatistics` — per split × model × cell — for
the point estimates and, with resampling weights, for the bootstrap's replicates. Where an
exact test or a custom metric needs the rows themselves, the statistics carry them.
NumPy (exact, in memory), DuckDB (aggregation in SQL), Spark (aggregation in the cluster)
and the binned streaming pass implement it (:mod:`mlscope.engine.engines`); the engine is
chosen once (:func:`~mlscope.engine.engines.choose_engine`) and nothing outside
``mlscope.engine`` branches on which one it is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from mlscope.charter.schema import Charter
from mlscope.data.source import EvalTable
from mlscope.engine.exact import ExactSplit
from mlscope.engine.numpy_backend import RowData
from mlscope.engine.plan import Grouping
from mlscope.engine.split import SplitStatistics
from mlscope.errors import InputError
from mlscope.metrics.stats import BinaryStats

__all__ = [
    "BUCKET_MIN_ROWS",
    "BucketPolicy",
    "Edges",
    "Engine",
    "Progress",
    "ReplicateBatch",
    "Request",
    "Statistics",
]

FloatArray = npt.NDArray[np.float64]
Progress = Callable[[str, int, int], None]
# Every threshold model ``mi``'s metrics are evaluated at, on the scale of its scores: the
# bucket bootstrap makes each an exact bin edge.
Edges = Callable[[int], set[float]]
# From this many rows a binary split's intervals use the bucket bootstrap (`auto`).
BUCKET_MIN_ROWS = 100_000


@dataclass(frozen=True)
class BucketPolicy:
    """When a split's intervals use the bucket bootstrap (:mod:`mlscope.engine.bucketed`).

    ``mode`` is the charter's ``intervals.resampling``; ``eligible`` says whether the task
    and metrics allow it (binary, no custom metric); ``refusal`` is the error when the
    charter asks for buckets where they do not apply.
    """

    mode: str
    eligible: bool
    refusal: str
    buckets: int
    bins: int
    min_rows: int = BUCKET_MIN_ROWS

    def applies(self, n_rows: int) -> bool:
        """Whether a split of ``n_rows`` rows is bootstrapped in buckets."""
        if self.mode == "rows":
            return False
        if self.mode == "buckets":
            if not self.eligible:
                raise InputError(self.refusal)
            return True
        return self.eligible and n_rows >= self.min_rows


@dataclass(frozen=True)
class Request:
    """What the stages need aggregated: the splits, slices and resampling of one run."""

    groupings: list[Grouping]
    levels: list[list[str]]
    eval_splits: list[str]
    boot_splits: list[str]
    n_boot: int
    seed: int
    y_shift: float
    # Custom metrics are Python functions of the rows: every split's rows must be at hand.
    custom: bool
    buckets: BucketPolicy
    # The binned pass only: fixed thresholds (exact bin edges) and exact loss sums to keep.
    fixed_edges: frozenset[float] = frozenset()
    loss_terms: frozenset[str] = frozenset()
    # Metrics that read each row's probability (calibration): an engine that bins the
    # scores cannot compute them exactly, nor bound its error, and refuses them.
    per_row_probability: frozenset[str] = frozenset()


@dataclass
class ReplicateBatch:
    """Statistics of ``size`` bootstrap replicates of the models in ``models``.

    ``centred``: element 0 of each batched statistic is the estimate on the same (binned)
    statistics and the replicates follow it; their values are shifted by the difference
    between the reported estimate and element 0 (binning moves a value slightly, so only
    the spread is used). Otherwise every element is a replicate. ``weights`` and ``rows``
    are the resampling weights and the rows they apply to, for custom metrics.
    """

    stats: SplitStatistics
    models: Sequence[int]
    size: int
    centred: bool
    weights: FloatArray | None = None
    rows: ExactSplit | None = None


@dataclass
class Statistics(ABC):
    """The aggregate stage's output: every split's cells and each model's statistics.

    ``point[split]`` holds the split's cells and sizes (and, for engines that aggregate
    all models at once, their statistics); :meth:`model` gives one model's statistics on
    every split (built on demand by the in-memory engine, so only a model's histograms are
    held at a time); ``rows``/``exact`` the rows in memory per split, where an exact test,
    a custom metric or the diagnosis needs them; ``resampling[split]`` is ``"rows"`` or
    ``"buckets"`` for each split with intervals.
    """

    table: EvalTable
    request: Request
    point: dict[str, SplitStatistics] = field(default_factory=dict)
    rows: dict[str, RowData] = field(default_factory=dict)
    exact: dict[str, ExactSplit] = field(default_factory=dict)
    resampling: dict[str, str] = field(default_factory=dict)

    def model(self, mi: int) -> dict[str, SplitStatistics]:
        """Model ``mi``'s point statistics on every evaluated split."""
        out: dict[str, SplitStatistics] = {}
        for split in self.request.eval_splits:
            eng = self.exact.get(split)
            if eng is None:
                out[split] = self.point[split]
                continue
            # One slice grouping's histograms at a time where the engine can (the
            # metrics stage reads the cells grouping by grouping).
            task_st, err_st = eng.model_stats(mi, self.rows[split].w, lazy=True)
            out[split] = SplitStatistics(task=task_st, errors=err_st,
                                         sizes=self.point[split].sizes,
                                         cells=self.point[split].cells)
        return out

    @property
    def parallel(self) -> bool:
        """Whether finalising the models on threads pays (rows in memory, many of them)."""
        from mlscope.engine.exact import THREAD_ROWS

        return bool(self.exact) and sum(r.n for r in self.rows.values()) >= THREAD_ROWS

    @property
    def score_bins(self) -> int | None:
        """Score bins per model of approximate (binned) statistics; None when exact."""
        return None

    @property
    def interval_bins(self) -> int:
        """Score bins per model in the bucket bootstrap."""
        return self.request.buckets.bins

    def error_bound(self, metric: str, stats: BinaryStats) -> float | None:
        """The guaranteed error bound of an approximate value (None when exact)."""
        return None

    @abstractmethod
    def replicates(self, split: str, split_index: int, edges: Edges,
                   tick: Progress) -> Iterator[ReplicateBatch]:
        """The bootstrap replicates of ``split`` (the ``split_index``-th with intervals),
        seeded from the request's seed and the split's index."""


class Engine(Protocol):
    """An engine: chosen once per run by :func:`~mlscope.engine.engines.choose_engine`.

    ``name`` is what the result records (``data.engine``); ``predicts_baselines`` says
    whether baselines that predict (trivial, learned, rule) can be built on its tables.
    """

    name: str
    predicts_baselines: bool

    def open(self, charter: Charter, base_dir: Path) -> EvalTable:
        """Open and check the charter's data."""
        ...

    def slice_levels(self, t: EvalTable, splits: Sequence[str]) -> list[list[str]]:
        """Each slice column's levels on ``splits``, in their reported order."""
        ...

    def label_mean(self, t: EvalTable) -> float:
        """The mean regression label (subtracted before sums, for numerical stability)."""
        ...

    def aggregate(self, t: EvalTable, request: Request, tick: Progress) -> Statistics:
        """Aggregate the rows into point statistics (and keep what the replicates need)."""
        ...

