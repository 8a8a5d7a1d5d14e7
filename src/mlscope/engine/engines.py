"""The engines behind :class:`~mlscope.engine.protocol.Engine`, and the one place that
chooses among them.

- ``numpy`` (the default): DuckDB reads and checks the data, NumPy aggregates every split
  exactly in memory (:class:`~mlscope.engine.exact.ExactSplit`).
- ``duckdb``: the point statistics are aggregated in SQL (data past memory); only the
  splits with intervals come to memory, for the bootstrap.
- ``spark``: the data are read, checked and aggregated in Spark; small splits' rows reach
  the driver for the row bootstrap, large binary ones are bucket-bootstrapped in Spark.
- binned (``binned=N``, any of the first two): one streaming pass into N score bins per
  model; ROC AUC and average precision carry a guaranteed error bound.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlscope.charter.schema import Charter
from mlscope.data.source import EvalTable, open_evaluation
from mlscope.engine import duckdb_backend as ddb
from mlscope.engine.binned import COARSE_BINS, BinnedPass, binned_pass
from mlscope.engine.binned import error_bound as binned_error_bound
from mlscope.engine.bootstrap import resample_counts
from mlscope.engine.exact import ExactSplit
from mlscope.engine.kernel_choice import preload
from mlscope.engine.numpy_backend import RowData, fetch_rows
from mlscope.engine.plan import OVERALL, Grouping, SliceCell
from mlscope.engine.protocol import Edges, Engine, Progress, ReplicateBatch, Request, Statistics
from mlscope.engine.resample import bucket_replicates, row_replicates
from mlscope.engine.split import GroupedCells, SplitStatistics
from mlscope.errors import InputError
from mlscope.metrics.stats import BinaryStats, Stats
from mlscope.sql import connect

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "ENGINES",
    "BinnedEngine",
    "DuckDBEngine",
    "NumpyEngine",
    "SparkEngine",
    "choose_engine",
    "sql_point",
]

ENGINES = ("numpy", "duckdb", "spark")


def choose_engine(name: str, *, binned: int | None = None,
                  spark: SparkSession | str | None = None) -> Engine:
    """The engine for ``--engine NAME`` (and ``--binned N``): chosen once per run."""
    if name not in ENGINES:
        raise InputError(f"unknown engine {name!r} (engines: {', '.join(ENGINES)})")
    if name == "spark":
        if binned is not None:
            raise InputError("binned mode (--binned) reads the rows with DuckDB; engine spark "
                             "aggregates exactly in Spark: drop one of the two")
        return SparkEngine(spark)
    if binned is not None:
        return BinnedEngine(name, binned)
    return DuckDBEngine() if name == "duckdb" else NumpyEngine()


def sql_point(
    t: EvalTable, groupings: list[Grouping], splits: list[str], levels: list[list[str]],
    backend: Any = ddb, *, errors: bool = True, cells_only: bool = False,
) -> dict[str, SplitStatistics]:
    """Point statistics from an SQL engine: ``backend`` is duckdb_backend or spark_backend.

    ``errors``: also the error columns' statistics (of every model); ``cells_only``: a
    binary task's cells and their sizes without any model's statistics (DuckDB: the
    models' come one grouping at a time, :class:`DuckDBStatistics`)."""
    out = {s: SplitStatistics() for s in splits}
    agg: Mapping[Any, tuple[SliceCell, Any]]
    if t.task == "binary" and cells_only:
        for (split, skey), (cell, n) in backend.cell_sizes(t, groupings, splits,
                                                             levels).items():
            out[split].sizes[skey] = n
            out[split].cells[skey] = cell
        agg = {}
    elif t.task == "binary":
        agg = backend.aggregate_binary(t, groupings, splits, levels)
    elif t.task == "regression":
        agg = backend.aggregate_regression(t, groupings, splits, levels)
    else:
        agg = {}
    for (split, m, skey), (cell, st) in agg.items():
        out[split].task[(m, skey)] = st
        if m == 0:
            out[split].sizes[skey] = st.n_rows
            out[split].cells[skey] = cell
    if not errors:
        return out
    nm = max(len(t.models), 1)
    for (split, key, skey), (cell, est) in backend.aggregate_errors(
        t, groupings, splits, levels
    ).items():
        e, m = divmod(key, nm)
        out[split].errors[(e, m, skey)] = est
        if t.task == "errors" and m == 0 and e == 0:
            out[split].sizes[skey] = est.n_rows
            out[split].cells[skey] = cell
    return out


@dataclass
class RowStatistics(Statistics):
    """Statistics whose replicates are drawn from rows in memory (row or bucket bootstrap)."""

    def replicates(self, split: str, split_index: int, edges: Edges,
                   tick: Progress) -> Iterator[ReplicateBatch]:
        req = self.request
        bucketed = self.resampling.get(split) == "buckets"
        eng = self.exact.get(split) or ExactSplit(
            self.table, self.rows[split], req.groupings, req.levels, req.y_shift,
            cache=not bucketed)
        if bucketed:
            yield from bucket_replicates(eng, split, split_index, req.n_boot, req.seed,
                                         req.buckets.buckets, req.buckets.bins, edges, tick)
        else:
            yield from row_replicates(eng, split, split_index, req.n_boot, req.seed, tick)


def _rows_in_memory(st: Statistics, rows: dict[str, RowData], *, exact: bool,
                    tick: Progress) -> dict[str, bool]:
    """Keep ``rows``; decide each interval split's resampling; with ``exact``, lay out
    every split with rows for the exact in-memory statistics (their cells now, each
    model's statistics on demand, so only one model's histograms are held at a time)."""
    t, req = st.table, st.request
    st.rows = rows
    bucketed = {s: req.n_boot > 0 and s in rows and req.buckets.applies(rows[s].n)
                for s in req.boot_splits}
    tick("point estimates", 0, len(req.eval_splits))
    for si, split in enumerate(req.eval_splits):
        if split in rows and exact:
            st.exact[split] = ExactSplit(
                t, rows[split], req.groupings, req.levels, req.y_shift,
                cache=req.n_boot > 0 and split in req.boot_splits and not bucketed[split],
                loss_terms=req.loss_terms)
            st.point[split] = st.exact[split].shell()
        tick("point estimates", si + 1, len(req.eval_splits))
    return bucketed


def _resampling(bucketed: Mapping[str, bool]) -> dict[str, str]:
    return {s: "buckets" if b else "rows" for s, b in bucketed.items()}


class NumpyEngine:
    """DuckDB reads and checks the data; NumPy aggregates every split exactly in memory."""

    name = "numpy"
    predicts_baselines = True

    def open(self, charter: Charter, base_dir: Path) -> EvalTable:
        return open_evaluation(charter, base_dir)

    def slice_levels(self, t: EvalTable, splits: Sequence[str]) -> list[list[str]]:
        return ddb.slice_levels(t, splits)

    def label_mean(self, t: EvalTable) -> float:
        row = t.con.execute("SELECT avg(__label) FROM ev").fetchone()
        return float(row[0]) if row and row[0] is not None else 0.0

    def aggregate(self, t: EvalTable, request: Request, tick: Progress) -> Statistics:
        st = RowStatistics(t, request)
        if t.task == "binary" and not t.has_weight:
            # The compiled kernel of the unit-weight binary path loads while DuckDB reads.
            preload(t.n_rows * len(t.models))
        rows = fetch_rows(t, request.eval_splits, request.levels)
        st.resampling = _resampling(_rows_in_memory(st, rows, exact=True, tick=tick))
        return st


class _GroupingQueries:
    """Model ``mi``'s binary histograms from DuckDB, one slice grouping at a time.

    A grouping's query covers every split; each split's part is handed out once (to that
    split's :class:`~mlscope.engine.split.GroupedCells`, which keeps it while its cells
    are read). The metrics stage reads grouping by grouping, so memory holds about one
    grouping's histograms (a row per distinct score and cell) instead of every grouping's.
    """

    def __init__(self, t: EvalTable, req: Request, mi: int) -> None:
        self.t, self.req, self.mi = t, req, mi
        self._held: dict[tuple[str, int], dict[str, Stats]] = {}
        self._lock = threading.Lock()

    def take(self, split: str, gi: int) -> dict[str, Stats]:
        """Split ``split``'s histograms of grouping ``gi``, by cell key."""
        with self._lock:
            if (split, gi) not in self._held:
                req = self.req
                # A grouping read again (after it was dropped) is queried again: same sums.
                for s in req.eval_splits:
                    self._held[(s, gi)] = {}
                got = ddb.binary_grouping(self.t, req.groupings[gi], req.eval_splits,
                                          req.levels, self.mi)
                for (s, skey), st in got.items():
                    self._held[(s, gi)][skey] = st
                del got
            return self._held.pop((split, gi))


@dataclass
class DuckDBStatistics(RowStatistics):
    """:class:`RowStatistics` whose binary point statistics DuckDB aggregates one model and
    one slice grouping at a time, when the metrics stage reads them (``per_model``)."""

    per_model: bool = False

    def model(self, mi: int) -> dict[str, SplitStatistics]:
        if not self.per_model or self.exact:
            return super().model(mi)
        req = self.request
        queries = _GroupingQueries(self.table, req, mi)
        out: dict[str, SplitStatistics] = {}
        for split in req.eval_splits:
            kept = self.point[split]
            # Per grouping, the split's cells (every model's histograms have the same).
            keys = [[k for k, c in kept.cells.items() if c.grouping == g]
                    for g in req.groupings]
            task = GroupedCells(mi, keys, functools.partial(_cells_of, queries, split, keys))
            out[split] = SplitStatistics(
                task=task, errors={k: v for k, v in kept.errors.items() if k[1] == mi},
                sizes=kept.sizes, cells=kept.cells)
        return out


def _cells_of(queries: _GroupingQueries, split: str, keys: list[list[str]],
              gi: int) -> list[Stats]:
    got = queries.take(split, gi)
    return [got[k] for k in keys[gi]]


class DuckDBEngine(NumpyEngine):
    """The point statistics aggregated in DuckDB (spilling to disk past memory); only the
    splits with intervals are read into memory, for the bootstrap. Multiclass statistics
    and custom metrics need every row: they are computed in memory as with ``numpy``."""

    name = "duckdb"

    def open(self, charter: Charter, base_dir: Path) -> EvalTable:
        # Memory freed by each aggregation goes back to the system before the next
        # (mlscope.sql.connect): this engine is the one chosen to bound memory.
        return open_evaluation(charter, base_dir, con=connect(release_memory=True))

    def aggregate(self, t: EvalTable, request: Request, tick: Progress) -> Statistics:
        req = request
        st = DuckDBStatistics(t, req)
        # Multiclass statistics and custom metrics (Python functions of the rows) need every
        # row in memory: those runs aggregate as the numpy engine does.
        in_memory = t.task == "multiclass" or req.custom
        rows = (fetch_rows(t, req.eval_splits, req.levels) if in_memory
                else fetch_rows(t, req.boot_splits, req.levels) if req.n_boot > 0 else {})
        st.resampling = _resampling(_rows_in_memory(st, rows, exact=in_memory, tick=tick))
        if not in_memory and t.task == "binary":
            # One query per model and slice grouping, each when the metrics stage reads
            # it: memory holds one grouping's histograms and one query's result, not every
            # model's. Here only the cells and their sizes (a query that reads no score)
            # and the error columns' statistics.
            st.point.update(sql_point(t, req.groupings, req.eval_splits, req.levels, ddb,
                                      cells_only=True))
            st.per_model = True
        elif not in_memory:
            st.point.update(sql_point(t, req.groupings, req.eval_splits, req.levels, ddb))
        return st


@dataclass
class BinnedStatistics(Statistics):
    """Statistics of the binned streaming pass: its point and bucket-bootstrap histograms."""

    binned: BinnedPass | None = None
    n_bins: int = 0

    @property
    def score_bins(self) -> int | None:
        return self.n_bins

    @property
    def interval_bins(self) -> int:
        return COARSE_BINS

    def error_bound(self, metric: str, stats: BinaryStats) -> float | None:
        return binned_error_bound(metric, stats)

    def replicates(self, split: str, split_index: int, edges: Edges,
                   tick: Progress) -> Iterator[ReplicateBatch]:
        assert self.binned is not None
        boot = self.binned.boot
        for mi in range(len(self.table.models)):
            task = {(mi, key): st for (sp, m, key), st in boot.items() if sp == split and m == mi}
            yield ReplicateBatch(stats=SplitStatistics(task=dict(task)), models=[mi],
                                 size=self.request.n_boot, centred=True)


class BinnedEngine(NumpyEngine):
    """One streaming pass over the rows into ``n_bins`` score bins per model (binary)."""

    def __init__(self, name: str, n_bins: int) -> None:
        # The result records the engine the user named; binning is the interval note's.
        self.name = name
        self.n_bins = n_bins

    def aggregate(self, t: EvalTable, request: Request, tick: Progress) -> Statistics:
        req = request
        if t.task != "binary" or req.custom:
            raise InputError(
                "binned mode applies to binary tasks without custom metrics (this charter: "
                f"task {t.task}" + (", custom metrics" if req.custom else "")
                + "); evaluate exactly instead (drop --binned)"
            )
        if t.errors:
            # The pass bins scores only; error columns would need their exact histograms.
            raise InputError(
                "binned mode bins the models' scores; the charter's error columns "
                f"(data.errors: {', '.join(t.errors)}) need the exact engine: drop --binned, "
                "or evaluate the error columns in a charter of their own")
        if req.per_row_probability:
            raise InputError(
                "binned mode bins the models' scores; the calibration metrics "
                f"({', '.join(sorted(req.per_row_probability))}) read each row's probability "
                "and need the exact engine: drop --binned, or evaluate them in a charter of "
                "their own")
        if self.n_bins < 16:
            raise InputError(f"binned mode needs at least 16 bins, got {self.n_bins}")
        bp = binned_pass(
            t, req.groupings, req.eval_splits, req.levels, n_bins=self.n_bins,
            thresholds=set(req.fixed_edges), loss_terms=set(req.loss_terms),
            boot_splits=req.boot_splits, n_boot=req.n_boot, n_buckets=req.buckets.buckets,
            seed=req.seed, progress=lambda done: tick("rows read", done, t.n_rows),
        )
        st = BinnedStatistics(t, req, binned=bp, n_bins=self.n_bins)
        st.point = {s: SplitStatistics(task=dict(bp.point[s]), sizes=bp.sizes[s],
                                       cells=bp.cells[s]) for s in req.eval_splits}
        st.resampling = {s: "buckets" for s in req.boot_splits} if req.n_boot > 0 else {}
        return st


def _spark() -> Any:
    """The Spark engine module, imported only when engine spark is asked for."""
    from mlscope.engine import spark_backend

    return spark_backend


@dataclass
class SparkStatistics(RowStatistics):
    """Small splits' rows on the driver (row bootstrap); large binary splits bucket-
    bootstrapped with their histogram built in Spark."""

    def replicates(self, split: str, split_index: int, edges: Edges,
                   tick: Progress) -> Iterator[ReplicateBatch]:
        if self.resampling.get(split) != "buckets":
            yield from super().replicates(split, split_index, edges, tick)
            return
        t, req = self.table, self.request
        rng = np.random.default_rng([req.seed, split_index])
        counts = resample_counts(rng, req.buckets.buckets, req.n_boot)
        hist = _spark().bucket_histogram(
            t, split, split_index, req.groupings, req.levels,
            [edges(mi) for mi in range(len(t.models))],
            n_rows=self.point[split].sizes.get(OVERALL, 0), n_buckets=req.buckets.buckets,
            n_bins=req.buckets.bins, seed=req.seed)
        stage = f"intervals {split}"
        tick(stage, 0, len(t.models))
        for mi in range(len(t.models)):
            ss = SplitStatistics(task={(mi, k): s for k, s in hist.model_stats(mi, counts).items()})
            yield ReplicateBatch(stats=ss, models=[mi], size=req.n_boot, centred=True)
            tick(stage, mi + 1, len(t.models))


class SparkEngine:
    """The data read, checked and aggregated in Apache Spark; only statistics (and small
    splits' rows) come back to the driver (docs/spark.md)."""

    name = "spark"
    # Baselines that predict are fitted with DuckDB and NumPy on the rows.
    predicts_baselines = False

    def __init__(self, spark: SparkSession | str | None) -> None:
        self.spark = spark

    def open(self, charter: Charter, base_dir: Path) -> EvalTable:
        return _spark().open_spark_evaluation(charter, base_dir, self.spark)  # type: ignore[no-any-return]

    def slice_levels(self, t: EvalTable, splits: Sequence[str]) -> list[list[str]]:
        return _spark().slice_levels(t, splits)  # type: ignore[no-any-return]

    def label_mean(self, t: EvalTable) -> float:
        return float(_spark().label_mean(t))

    def aggregate(self, t: EvalTable, request: Request, tick: Progress) -> Statistics:
        req = request
        st = SparkStatistics(t, req)
        multiclass = t.task == "multiclass"
        rows = (fetch_rows(t, req.eval_splits, req.levels) if req.custom or multiclass
                else {})
        bucketed = _rows_in_memory(st, rows, exact=multiclass, tick=tick)
        if not multiclass:
            st.point.update(sql_point(t, req.groupings, req.eval_splits, req.levels, _spark()))
        if req.n_boot > 0:
            n_split = {s: st.point[s].sizes.get(OVERALL, 0) for s in req.boot_splits}
            bucketed = {s: req.buckets.applies(n_split[s]) for s in req.boot_splits}
            st.rows = _spark().fetch_rows(
                t, [s for s in req.boot_splits if not bucketed[s]], req.levels, n_split)
        st.resampling = _resampling(bucketed)
        return st
