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

from collections.abc import Iterator, Mapping, MutableMapping, Sequence
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
from mlscope.engine.numpy_backend import RowData, fetch_rows
from mlscope.engine.plan import OVERALL, Grouping, SliceCell
from mlscope.engine.protocol import Edges, Engine, Progress, ReplicateBatch, Request, Statistics
from mlscope.engine.resample import bucket_replicates, row_replicates
from mlscope.engine.split import SplitStatistics
from mlscope.errors import InputError
from mlscope.metrics.stats import BinaryStats, Stats

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
    backend: Any = ddb, *, model: int | None = None, errors: bool = True,
) -> dict[str, SplitStatistics]:
    """Point statistics from an SQL engine: ``backend`` is duckdb_backend or spark_backend.

    ``model``: a binary task's statistics of that model only (DuckDB); ``errors``: also the
    error columns' statistics (of every model)."""
    out = {s: SplitStatistics() for s in splits}
    agg: Mapping[Any, tuple[SliceCell, Any]]
    first = 0 if model is None else model
    if t.task == "binary" and model is not None:
        # One query per grouping: a query's result (one row per cell and distinct score,
        # fetched whole) is then a grouping's, at the cost of reading the columns again.
        agg = {}
        for g in groupings:
            agg.update(backend.aggregate_binary(t, [g], splits, levels, models=[model]))
    elif t.task == "binary":
        agg = backend.aggregate_binary(t, groupings, splits, levels)
    elif t.task == "regression":
        agg = backend.aggregate_regression(t, groupings, splits, levels)
    else:
        agg = {}
    for (split, m, skey), (cell, st) in agg.items():
        out[split].task[(m, skey)] = st
        if m == first:
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
                cache=req.n_boot > 0 and split in req.boot_splits and not bucketed[split])
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
        rows = fetch_rows(t, request.eval_splits, request.levels)
        st.resampling = _resampling(_rows_in_memory(st, rows, exact=True, tick=tick))
        return st


@dataclass
class DuckDBStatistics(RowStatistics):
    """:class:`RowStatistics` whose binary point statistics DuckDB aggregates one model at
    a time, when :meth:`model` asks for it (``per_model``)."""

    per_model: bool = False

    def model(self, mi: int) -> dict[str, SplitStatistics]:
        if not self.per_model or self.exact:
            return super().model(mi)
        req = self.request
        out: dict[str, SplitStatistics] = {}
        fresh = None
        for split in req.eval_splits:
            kept = self.point[split]
            task: MutableMapping[tuple[int, str], Stats] = {
                k: v for k, v in kept.task.items() if k[0] == mi}
            if task:
                # Handed out once (model 0's, from the aggregate stage): then dropped.
                for k in task:
                    del kept.task[k]
            else:
                if fresh is None:
                    fresh = sql_point(self.table, req.groupings, req.eval_splits,
                                      req.levels, ddb, model=mi, errors=False)
                task = fresh[split].task
            out[split] = SplitStatistics(
                task=task, errors={k: v for k, v in kept.errors.items() if k[1] == mi},
                sizes=kept.sizes, cells=kept.cells)
        return out


class DuckDBEngine(NumpyEngine):
    """The point statistics aggregated in DuckDB (spilling to disk past memory); only the
    splits with intervals are read into memory, for the bootstrap. Multiclass statistics
    and custom metrics need every row: they are computed in memory as with ``numpy``."""

    name = "duckdb"

    def aggregate(self, t: EvalTable, request: Request, tick: Progress) -> Statistics:
        req = request
        st = DuckDBStatistics(t, req)
        # Multiclass statistics and custom metrics (Python functions of the rows) need every
        # row in memory: those runs aggregate as the numpy engine does.
        in_memory = t.task == "multiclass" or req.custom
        rows = (fetch_rows(t, req.eval_splits, req.levels) if in_memory
                else fetch_rows(t, req.boot_splits, req.levels) if req.n_boot > 0 else {})
        st.resampling = _resampling(_rows_in_memory(st, rows, exact=in_memory, tick=tick))
        if not in_memory and t.task == "binary" and len(t.models) > 1:
            # One query per model, each when the metrics stage asks for that model: memory
            # holds one model's histograms and one query's result, not every model's.
            # Model 0's query runs now (it gives the cells and their sizes) and is handed
            # out once.
            st.point.update(sql_point(t, req.groupings, req.eval_splits, req.levels, ddb,
                                      model=0))
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
