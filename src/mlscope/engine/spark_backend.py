"""The distributed engine: the aggregation runs in Apache Spark, only statistics come back.

Same interface as :mod:`mlscope.engine.duckdb_backend`: :func:`aggregate_binary`,
:func:`aggregate_regression` and :func:`aggregate_errors` return, for every split, model
and slice cell, the exact per-distinct-value histograms (:class:`BinaryStats`,
:class:`RegressionStats`, :class:`ErrorStats`) that the DuckDB engine returns, so every
metric finalised from them is identical. Each is one Spark job: the rows of every slice
grouping and model are expanded (``stack``) into (split, grouping, cell, model, value)
keys and summed with one ``groupBy``, so the data are read once per call and the
aggregation is partial (map-side) before any shuffle. The result is collected as Arrow.

For intervals, :func:`bucket_histogram` computes the (bucket, cell, score bin, label)
histogram of :mod:`mlscope.engine.bucketed` in Spark (the bucket is a seeded hash of the
row id; score bins are quantiles of a sample plus every operating threshold as an exact
edge), and :func:`fetch_rows` brings the rows of a *small* split to the driver for the
ordinary row bootstrap. See ``docs/spark.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from mlscope.data.source import EvalTable
from mlscope.data.spark_source import (
    DEFAULT_MASTER,
    SparkEvalTable,
    get_session,
    open_spark_evaluation,
    run_spark,
    sql_str,
)
from mlscope.engine.bucketed import cells_from_bucket_histogram
from mlscope.engine.duckdb_backend import (
    BINARY_SUMS,
    ERROR_SUMS,
    MAX_LEVELS,
    CellKey,
    Hist,
    binary_stats,
    error_stats,
    regression_stats,
    regression_sums,
)
from mlscope.engine.numpy_backend import Columns, RowData
from mlscope.engine.plan import Grouping, SliceCell
from mlscope.errors import InputError
from mlscope.metrics.stats import BinaryStats, ErrorStats, RegressionStats

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = [
    "DEFAULT_MASTER",
    "MAX_DRIVER_ROWS",
    "BucketHistogram",
    "SparkEvalTable",
    "aggregate_binary",
    "aggregate_errors",
    "aggregate_regression",
    "bucket_histogram",
    "fetch_rows",
    "get_session",
    "label_mean",
    "open_spark_evaluation",
    "slice_levels",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# The row bootstrap needs a split's rows on the driver; above this many rows a split is
# never collected (binary splits use the bucket bootstrap computed in Spark instead).
MAX_DRIVER_ROWS = 2_000_000
# Scores sampled to place the quantile bin edges of the bucket bootstrap (as bucketed.py).
_EDGE_SAMPLE = 200_000
# Entries of one dense (bucket, cell, bin, label) histogram built at once on the driver.
_MAX_HIST = 1 << 24


def _spark(t: EvalTable) -> SparkEvalTable:
    if not isinstance(t, SparkEvalTable):
        raise TypeError("the Spark engine needs a table opened by open_spark_evaluation")
    return t


def _in_splits(splits: Sequence[str]) -> str:
    return f"__split IN ({', '.join(sql_str(s) for s in splits)})"


def _array(values: Sequence[str]) -> str:
    return "array(" + ", ".join(sql_str(v) for v in values) + ")"


def slice_levels(t: EvalTable, splits: Sequence[str]) -> list[list[str]]:
    """Distinct values of each slice column over the evaluated splits, sorted.

    One job; at most ``MAX_LEVELS + 1`` values per column reach the driver.
    """
    st = _spark(t)
    n_c = len(st.slice_columns)
    if not n_c:
        return []
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    pairs = ", ".join(f"{i}, {st.slice_col(i)}" for i in range(n_c))
    distinct = (st.df.where(_in_splits(splits))
                .selectExpr(f"stack({n_c}, {pairs}) AS (i, v)").distinct())
    ranked = distinct.withColumn(
        "r", F.row_number().over(Window.partitionBy("i").orderBy("v"))
    ).where(F.col("r") <= MAX_LEVELS + 1)
    res = run_spark(lambda: ranked.select("i", "v").toArrow(), "cannot read the slice columns")
    ii = np.asarray(res.column("i").to_numpy(zero_copy_only=False), dtype=np.int64)
    vv = res.column("v").to_pylist()
    levels: list[list[str]] = [[] for _ in range(n_c)]
    for i, v in zip(ii, vv, strict=True):
        levels[int(i)].append(str(v))
    levels = [sorted(lv) for lv in levels]
    for name, lv in zip(st.slice_columns, levels, strict=True):
        if len(lv) > MAX_LEVELS:
            raise InputError(
                f"slice column `{name}` has more than {MAX_LEVELS} distinct values; slice on "
                "a coarser column, or bucket it with a `where` predicate"
            )
    return levels


def label_mean(t: EvalTable) -> float:
    """The mean label over every row (computed with the checks; regression only)."""
    return _spark(t).label_mean


def _code_exprs(t: EvalTable, splits: Sequence[str], levels: list[list[str]]) -> list[str]:
    """Split index ``sp``, slice level codes ``k{i}`` and predicates ``q{j}`` as SQL."""
    out = [f"CAST(array_position({_array(splits)}, __split) - 1 AS INT) AS sp"]
    out += [f"CAST(array_position({_array(levels[i])}, {t.slice_col(i)}) - 1 AS BIGINT) AS k{i}"
            for i in range(len(t.slice_columns))]
    out += [f"{t.where_col(j)} AS q{j}" for j in range(len(t.where))]
    return out


def _cell_expr(g: Grouping, levels: list[list[str]]) -> str:
    """A grouping's cell code: mixed radix over its columns' levels; NULL: in no cell."""
    if g.kind == "overall":
        return "CAST(0 AS BIGINT)"
    if g.kind == "where":
        return f"CASE WHEN q{g.where} THEN CAST(0 AS BIGINT) END"
    expr = ""
    for i in g.columns:
        expr = f"k{i}" if not expr else f"({expr}) * {len(levels[i])} + k{i}"
    return f"CAST({expr} AS BIGINT)"


def _cell(g: Grouping, code: int, levels: list[list[str]]) -> SliceCell:
    """The slice cell of a grouping's cell code (the inverse of :func:`_cell_expr`)."""
    vals: list[str] = []
    rem = code
    for i in reversed(g.columns):
        vals.append(levels[i][rem % len(levels[i])])
        rem //= len(levels[i])
    return SliceCell(g, tuple(reversed(vals)))


def _expanded(
    t: SparkEvalTable,
    groupings: Sequence[Grouping],
    splits: Sequence[str],
    levels: list[list[str]],
    values: Mapping[int, str],
    keep: Sequence[str],
) -> DataFrame:
    """One row per (input row, grouping cell, key): ``sp, g, cell, key, v`` and ``keep``."""
    codes = _code_exprs(t, splits, levels)
    cols = [f"{c} AS x{key}" for key, c in values.items()]
    base = t.df.where(_in_splits(splits)).selectExpr(*codes, *keep, *cols)
    names = [_alias(k) for k in keep]
    cells = ", ".join(f"{gi}, {_cell_expr(g, levels)}" for gi, g in enumerate(groupings))
    xs = [f"x{key}" for key in values]
    by_cell = base.selectExpr("sp", *names, *xs,
                              f"stack({len(groupings)}, {cells}) AS (g, cell)")
    by_cell = by_cell.where("cell IS NOT NULL")
    pairs = ", ".join(f"{key}, x{key}" for key in values)
    return by_cell.selectExpr("sp", "g", "cell", *names,
                              f"stack({len(values)}, {pairs}) AS (key, v)")


def _alias(expr: str) -> str:
    """The output name of ``"<expr> AS <name>"``."""
    return expr.rsplit(" AS ", 1)[-1]


def _histograms(
    t: EvalTable,
    groupings: Sequence[Grouping],
    splits: Sequence[str],
    levels: list[list[str]],
    values: Mapping[int, str],
    value_expr: str,
    sum_exprs: list[str],
    keep: Sequence[str] = (),
) -> list[Hist]:
    """Run the aggregation in Spark and cut its output into per-cell histograms."""
    st = _spark(t)
    if not values or not splits:
        return []
    ex = _expanded(st, groupings, splits, levels, values, ["__w AS w", *keep])
    agg = ex.selectExpr("sp", "g", "cell", "key", "v", f"{value_expr} AS val", "w",
                        *[_alias(k) for k in keep])
    out_df = agg.groupBy("sp", "g", "cell", "key", "val").agg(
        *[_agg(e).alias(f"s{i}") for i, e in enumerate(sum_exprs)])
    res = run_spark(out_df.toArrow, "cannot aggregate the evaluation table in Spark")
    n = res.num_rows
    if n == 0:
        return []

    def col(name: str, dtype: Any) -> Any:
        return np.asarray(res.column(name).to_numpy(zero_copy_only=False), dtype=dtype)

    sp, g, cell, key = (col(c, np.int64) for c in ("sp", "g", "cell", "key"))
    val = col("val", np.float64)
    sums = [col(f"s{i}", np.float64) for i in range(len(sum_exprs))]
    order = np.lexsort((val, cell, key, g, sp))
    sp, g, cell, key, val = sp[order], g[order], cell[order], key[order], val[order]
    sums = [s[order] for s in sums]
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for arr in (sp, g, cell, key):
        change[1:] |= arr[1:] != arr[:-1]
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:], n)
    out: list[Hist] = []
    for s, e in zip(starts, ends, strict=True):
        gr = groupings[int(g[s])]
        out.append(Hist(
            split=splits[int(sp[s])], key=int(key[s]), cell=_cell(gr, int(cell[s]), levels),
            values=val[s:e], sums=[x[s:e] for x in sums],
        ))
    return out


def _agg(expr: str) -> Any:
    from pyspark.sql import functions as F

    return F.expr(expr)


def aggregate_binary(
    t: EvalTable, groupings: Sequence[Grouping], splits: Sequence[str], levels: list[list[str]]
) -> dict[CellKey, tuple[SliceCell, BinaryStats]]:
    """Exact per-score histograms of positives and negatives for every split/model/slice.

    Parameters
    ----------
    t
        A table opened by :func:`open_spark_evaluation`.
    groupings
        The slice groupings (:func:`mlscope.engine.plan.plan_groupings`).
    splits
        The splits to aggregate.
    levels
        Each slice column's levels (:func:`slice_levels`).

    Returns
    -------
    dict
        ``(split, model index, slice key) -> (cell, BinaryStats)``, as
        :func:`mlscope.engine.duckdb_backend.aggregate_binary` returns it.
    """
    values = {m: t.score_col(m) for m in range(len(t.models))}
    hists = _histograms(t, groupings, splits, levels, values, "v", BINARY_SUMS,
                        keep=["__label AS y"])
    return {(h.split, h.key, h.cell.key): (h.cell, binary_stats(h.values, h.sums))
            for h in hists}


def aggregate_regression(
    t: EvalTable, groupings: Sequence[Grouping], splits: Sequence[str], levels: list[list[str]]
) -> dict[CellKey, tuple[SliceCell, RegressionStats]]:
    """Sums of errors and a histogram of absolute errors for every split/model/slice.

    Same parameters and result as :func:`aggregate_binary`, with
    :class:`RegressionStats` whose ``y`` sums are centred on the mean label of every row.
    """
    shift = label_mean(t)
    values = {m: t.score_col(m) for m in range(len(t.models))}
    hists = _histograms(t, groupings, splits, levels, values, "abs(v - y)",
                        regression_sums(shift), keep=["__label AS y"])
    unit = not t.has_weight
    return {(h.split, h.key, h.cell.key): (h.cell, regression_stats(h.values, h.sums, shift, unit))
            for h in hists}


def aggregate_errors(
    t: EvalTable, groupings: Sequence[Grouping], splits: Sequence[str], levels: list[list[str]]
) -> dict[CellKey, tuple[SliceCell, ErrorStats]]:
    """Histograms of each user error column; the key is ``error_index * n_models + model``.

    Same parameters as :func:`aggregate_binary`.
    """
    nm = len(t.models)
    values = {e * nm + m: t.error_col(e, m) for e in range(len(t.errors)) for m in range(nm)
              if t.has_errors(m)}
    if not values:
        return {}
    hists = _histograms(t, groupings, splits, levels, values, "v", ERROR_SUMS)
    unit = not t.has_weight
    return {(h.split, h.key, h.cell.key): (h.cell, error_stats(h.values, h.sums, unit))
            for h in hists}


def fetch_rows(
    t: EvalTable, splits: Sequence[str], levels: list[list[str]], sizes: Mapping[str, int]
) -> dict[str, RowData]:
    """The rows of small splits on the driver, for the row bootstrap, in Spark's read order.

    Parameters
    ----------
    t, splits, levels
        As for :func:`aggregate_binary`.
    sizes
        Rows per split (from the point estimates), checked against ``MAX_DRIVER_ROWS``
        before anything is collected.

    Raises
    ------
    InputError
        When a split has more than ``MAX_DRIVER_ROWS`` rows.
    """
    st = _spark(t)
    if not splits:
        return {}
    big = {s: sizes.get(s, 0) for s in splits if sizes.get(s, 0) > MAX_DRIVER_ROWS}
    if big:
        s, n = next(iter(big.items()))
        raise InputError(
            f"intervals with engine spark: split {s!r} has {n:,} rows, and the row bootstrap "
            f"of a {t.task} task needs them on the driver (at most {MAX_DRIVER_ROWS:,}); "
            "turn intervals off (`intervals.resamples: 0` or --resamples 0)"
            + (", or use `intervals.resampling: auto`/`buckets` (computed in Spark)"
               if t.task == "binary" else "")
        )
    cols = [*_code_exprs(st, splits, levels), "__w AS w", "__row"]
    if t.task != "errors":
        cols.append("CAST(__label AS DOUBLE) AS y")
    for m in range(len(t.models)):
        if t.task != "errors":
            cols.append(f"{t.score_col(m)} AS s{m}")
        cols += [f"{t.error_col(e, m)} AS e{e}_{m}" for e in range(len(t.errors))]
    df = st.df.where(_in_splits(splits)).selectExpr(*cols).orderBy("__row")
    res = run_spark(df.toArrow, "cannot read the evaluation rows")

    def arr(name: str) -> Any:
        return res.column(name).to_numpy(zero_copy_only=False)

    sp = np.asarray(arr("sp"), dtype=np.int64)
    out: dict[str, RowData] = {}
    for si, split in enumerate(splits):
        sel = np.flatnonzero(sp == si)

        def take(name: str, dtype: type, sel: IntArray = sel) -> Any:
            return np.asarray(arr(name))[sel].astype(dtype)

        out[split] = RowData(
            split=split,
            w=take("w", np.float64),
            y=take("y", np.float64) if t.task != "errors" else np.zeros(sel.size),
            codes=[take(f"k{i}", np.int64) for i in range(len(t.slice_columns))],
            where=[take(f"q{j}", np.bool_) for j in range(len(t.where))],
            scores=Columns([take(f"s{m}", np.float64) for m in range(len(t.models))
                            if t.task != "errors"]),
            proba=[],
            errors={(e, m): take(f"e{e}_{m}", np.float64)
                    for e in range(len(t.errors)) for m in range(len(t.models))
                    if t.has_errors(m)},
        )
    return out


class BucketHistogram:
    """A split's (bucket, cell, score bin, label) histograms, computed in Spark.

    :meth:`model_stats` turns one model's histograms into the per-cell bucket-bootstrap
    statistics of :func:`mlscope.engine.bucketed.cells_from_bucket_histogram`.
    """

    def __init__(
        self, groupings: Sequence[Grouping], levels: list[list[str]], n_buckets: int,
        n_bins: list[int], parts: list[Any],
    ) -> None:
        self.groupings = list(groupings)
        self.levels = levels
        self.n_buckets = n_buckets
        self.n_bins = n_bins  # raw bins per model (edges + 1)
        self.parts = parts  # per model: a pyarrow Table (g, cell, packed, sw, n, sv)

    def model_stats(self, m: int, counts: FloatArray) -> dict[str, BinaryStats]:
        """Per slice key, model ``m``'s statistics with batch ``1 + R``.

        Element 0 of the batch is the binned point estimate (every bucket once), elements
        ``1..R`` the replicates whose bucket counts are the rows of ``counts``.
        """
        res = self.parts[m]
        if res.num_rows == 0:
            return {}

        def col(name: str, dtype: Any) -> Any:
            return np.asarray(res.column(name).to_numpy(zero_copy_only=False), dtype=dtype)

        g, cell, packed = col("g", np.int64), col("cell", np.int64), col("packed", np.int64)
        sw, cnt, sv = col("sw", np.float64), col("n", np.int64), col("sv", np.float64)
        nb_raw, nbk = self.n_bins[m], self.n_buckets
        y = packed % 2
        rest = packed // 2
        raw_bin = rest % nb_raw
        bucket = rest // nb_raw
        # Bin values: the mean score of the split's rows in each bin (overall grouping),
        # empty bins dropped, exactly as bucketed.bin_scores does.
        ov = g == 0
        bin_n = np.bincount(raw_bin[ov], weights=cnt[ov], minlength=nb_raw)
        bin_s = np.bincount(raw_bin[ov], weights=sv[ov], minlength=nb_raw)
        keep = bin_n > 0
        remap = np.cumsum(keep) - 1
        values = bin_s[keep] / bin_n[keep]
        nb = int(values.size)
        out: dict[str, BinaryStats] = {}
        for gi, gr in enumerate(self.groupings):
            sel = np.flatnonzero(g == gi)
            if not sel.size:
                continue
            present, cidx = np.unique(cell[sel], return_inverse=True)
            rows = np.bincount(cidx, weights=cnt[sel], minlength=present.size).astype(np.int64)
            bins = remap[raw_bin[sel]]
            chunk = max(1, _MAX_HIST // max(1, nbk * nb * 2))
            for c0 in range(0, present.size, chunk):
                c1 = min(present.size, c0 + chunk)
                part = (cidx >= c0) & (cidx < c1)
                nc = c1 - c0
                idx = ((bucket[sel][part] * nc + (cidx[part] - c0)) * nb
                       + bins[part]) * 2 + y[sel][part]
                hist = np.asarray(np.bincount(idx, weights=sw[sel][part],
                                              minlength=nbk * nc * nb * 2),
                                  dtype=np.float64).reshape(nbk, nc, nb, 2)
                stats = cells_from_bucket_histogram(hist, values, counts, rows[c0:c1])
                for k, st in zip(range(c0, c1), stats, strict=True):
                    out[_cell(gr, int(present[k]), self.levels).key] = st
        return out


def bucket_histogram(
    t: EvalTable,
    split: str,
    split_index: int,
    groupings: Sequence[Grouping],
    levels: list[list[str]],
    thresholds: Sequence[set[float]],
    *,
    n_rows: int,
    n_buckets: int,
    n_bins: int,
    seed: int,
) -> BucketHistogram:
    """The bucket-bootstrap histograms of one binary split, computed in Spark.

    Parameters
    ----------
    t, groupings, levels
        As for :func:`aggregate_binary`.
    split, split_index
        The split, and its index among the bootstrapped splits (part of the seed).
    thresholds
        Per model, the thresholds its metrics are evaluated at: each is an exact bin edge.
    n_rows
        Rows in the split (sizes the edge sample).
    n_buckets, n_bins
        ``intervals.buckets`` and ``intervals.bins`` of the charter.
    seed
        The evaluation seed.

    Notes
    -----
    Row ``i`` is in bucket ``pmod(xxhash64(id_i, seed, split_index), n_buckets)``. Bin
    edges are the ``n_bins`` quantiles of the model's scores (of every row when the split
    has at most 200,000, else of a seeded sample of about that many) plus each threshold;
    a row is in bin ``k`` when ``edges[k-1] <= score < edges[k]`` (Spark's Bucketizer).
    One Spark job aggregates every model and grouping; each model's part is collected
    separately, so the driver holds one model's histogram at a time.
    """
    st = _spark(t)
    from pyspark.ml.feature import Bucketizer

    nm = len(st.models)
    df = st.df.where(f"__split = {sql_str(split)}")
    scores = [st.score_col(m) for m in range(nm)]
    sample = df.select(*scores)
    if n_rows > _EDGE_SAMPLE:
        frac = min(1.0, 1.2 * _EDGE_SAMPLE / n_rows)
        sample = sample.sample(False, frac, seed=int(seed) * 1009 + split_index).limit(
            _EDGE_SAMPLE)
    got = run_spark(sample.toArrow, "cannot sample the scores")
    splits_arr: list[list[float]] = []
    for m in range(nm):
        s = np.asarray(got.column(scores[m]).to_numpy(zero_copy_only=False), dtype=np.float64)
        qs: FloatArray = (np.quantile(s, np.linspace(0.0, 1.0, n_bins + 1)[1:-1]) if s.size
                          else np.zeros(0))
        edges = np.unique(np.concatenate([qs,
                                          np.asarray(sorted(thresholds[m]), dtype=np.float64)]))
        splits_arr.append([-np.inf, *map(float, edges), np.inf])
    bucketizer = Bucketizer(splitsArray=splits_arr, inputCols=scores,
                            outputCols=[f"__b{m}" for m in range(nm)])
    binned = bucketizer.transform(df)
    keep_cols = [*_code_exprs(st, [split], levels), "__w AS w", "__label AS y",
                 f"pmod(xxhash64(__id, {int(seed)}, {split_index}), {n_buckets}) AS bucket"]
    nbs = [len(s) - 1 for s in splits_arr]
    vals = [f"named_struct('b', CAST(__b{m} AS BIGINT), 's', {scores[m]})" for m in range(nm)]
    base = binned.selectExpr(*keep_cols, *[f"{v} AS x{m}" for m, v in enumerate(vals)])
    cells = ", ".join(f"{gi}, {_cell_expr(g, levels)}" for gi, g in enumerate(groupings))
    by_cell = base.selectExpr("w", "y", "bucket", *[f"x{m}" for m in range(nm)],
                              f"stack({len(groupings)}, {cells}) AS (g, cell)")
    by_cell = by_cell.where("cell IS NOT NULL")
    pairs = ", ".join(f"{m}, x{m}" for m in range(nm))
    per = by_cell.selectExpr("g", "cell", "w", "y", "bucket",
                             f"stack({nm}, {pairs}) AS (key, x)")
    packed = "((bucket * CASE key " + " ".join(
        f"WHEN {m} THEN {nbs[m]}" for m in range(nm)) + " END + x.b) * 2 + y)"
    agg = per.selectExpr("g", "cell", "key", f"CAST({packed} AS BIGINT) AS packed", "w",
                         "x.s AS s").groupBy("g", "cell", "key", "packed").agg(
        _agg("sum(w)").alias("sw"), _agg("count(*)").alias("n"), _agg("sum(s)").alias("sv"))
    from pyspark import StorageLevel

    cached = False
    try:
        agg = agg.persist(StorageLevel.MEMORY_AND_DISK)
        cached = True
    except Exception:  # e.g. serverless compute without caching: recompute per model
        cached = False
    try:
        parts = [run_spark(agg.where(f"key = {m}").drop("key").toArrow,
                           "cannot aggregate the bucket histogram in Spark") for m in range(nm)]
    finally:
        if cached:
            agg.unpersist()
    return BucketHistogram(groupings, levels, n_buckets, nbs, parts)
