"""The default engine: one DuckDB aggregation into exact, mergeable histograms.

For every split, model and slice the query produces, per distinct value (a score, an
absolute error, a user's error), the weighted sums the metrics need. All slices come from
one ``GROUPING SETS`` query over one scan of the data, so the data is never re-read per
slice, and the output is small whenever scores are coarse (and at most rows × groupings
when every score is distinct). Metrics are then finalised in NumPy from these histograms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mlscope.data.source import EvalTable, ql
from mlscope.engine.plan import Grouping, SliceCell
from mlscope.errors import InputError
from mlscope.metrics.stats import BinaryStats, ErrorStats, RegressionStats
from mlscope.sql import is_masked

__all__ = ["MAX_LEVELS", "CellKey", "Hist", "aggregate_binary", "aggregate_errors",
           "aggregate_regression", "slice_levels"]

MAX_LEVELS = 1000
CellKey = tuple[str, int, str]  # (split, model or error-model index, slice key)
FloatArray = npt.NDArray[np.float64]


@dataclass
class Hist:
    """Histogram rows for one (split, key, slice cell), values ascending."""

    split: str
    key: int
    cell: SliceCell
    values: FloatArray
    sums: list[FloatArray]


def slice_levels(t: EvalTable, splits: Sequence[str]) -> list[list[str]]:
    """Distinct values of each slice column over the evaluated splits, sorted."""
    if not t.slice_columns:
        return []
    in_splits = ", ".join(ql(s) for s in splits)
    parts = ", ".join(
        f"list(DISTINCT {t.slice_col(i)} ORDER BY {t.slice_col(i)})"
        for i in range(len(t.slice_columns))
    )
    row = t.con.execute(f"SELECT {parts} FROM ev WHERE __split IN ({in_splits})").fetchone()
    assert row is not None
    levels = [list(map(str, v or [])) for v in row]
    for name, lv in zip(t.slice_columns, levels, strict=True):
        if len(lv) > MAX_LEVELS:
            raise InputError(
                f"slice column `{name}` has {len(lv)} distinct values (more than {MAX_LEVELS}); "
                "slice on a coarser column, or bucket it with a `where` predicate"
            )
    return levels


def _histograms(
    t: EvalTable,
    groupings: Sequence[Grouping],
    splits: Sequence[str],
    levels: list[list[str]],
    unpivot: dict[int, str],
    value_expr: str,
    sum_exprs: list[str],
    extra_cols: str = "",
) -> list[Hist]:
    """Run the grouping-sets query and cut its sorted output into per-cell histograms."""
    split_list = "[" + ", ".join(ql(s) for s in splits) + "]"
    n_c = len(t.slice_columns)
    n_p = len(t.where)
    code_cols = [
        f"CAST(list_position([{', '.join(ql(v) for v in levels[i])}], {t.slice_col(i)}) - 1 "
        f"AS INTEGER) AS k{i}"
        for i in range(n_c)
    ] + [f"{t.where_col(j)} AS q{j}" for j in range(n_p)]
    # Only the columns some grouping uses (GROUPING() refuses others, and a query may be
    # asked for one grouping).
    used_dims = {f"k{i}" for g in groupings for i in g.columns} | {
        f"q{g.where}" for g in groupings if g.where is not None}
    dims = [d for d in [f"k{i}" for i in range(n_c)] + [f"q{j}" for j in range(n_p)]
            if d in used_dims]
    names = ", ".join(f"{col} AS x{key}" for key, col in unpivot.items())
    inner = (
        f"SELECT CAST(list_position({split_list}, __split) - 1 AS INTEGER) AS sp, "
        f"{', '.join([*code_cols, ''])} __w AS w {extra_cols}, {names} FROM ev "
        f"WHERE __split IN ({', '.join(ql(s) for s in splits)})"
    )
    unp = (
        f"SELECT * EXCLUDE (kname), CAST(substr(kname, 2) AS INTEGER) AS key "
        f"FROM (UNPIVOT ({inner}) ON {', '.join(f'x{k}' for k in unpivot)} "
        f"INTO NAME kname VALUE v)"
    )
    sets = []
    for g in groupings:
        cols = [f"k{i}" for i in g.columns] + ([f"q{g.where}"] if g.where is not None else [])
        sets.append("(" + ", ".join(["sp", "key", *cols, "val"]) + ")")
    grouping_fn = f"GROUPING({', '.join(dims)})" if dims else "0"
    having = " AND ".join(f"({d} IS NULL OR {d})" for d in dims if d[0] == "q") or "true"
    sql = (
        f"SELECT {grouping_fn} AS g, sp, key, {', '.join([*dims, ''])} val, "
        f"{', '.join(sum_exprs)} FROM (SELECT *, {value_expr} AS val FROM ({unp})) "
        f"GROUP BY GROUPING SETS ({', '.join(sets)}) HAVING {having} "
        f"ORDER BY g, sp, key, {', '.join([*dims, ''])} val"
    )
    res = t.con.execute(sql).fetchnumpy()
    n = len(res["g"])
    if n == 0:
        return []
    g_arr = np.asarray(res["g"], dtype=np.int64)
    cols_arr = {c: np.asarray(res[c]) for c in ("sp", "key")}
    dim_arr = {}
    for d in dims:
        a = res[d]
        if is_masked(a):
            mask, filled = np.ma.getmaskarray(a), np.ma.filled(a, 0)
        else:
            mask, filled = np.zeros(n, bool), np.asarray(a)
        dim_arr[d] = (np.asarray(filled).astype(np.int64), mask)
    # Segment boundaries: any change of grouping, split, key or cell.
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for arr in [g_arr, cols_arr["sp"], cols_arr["key"]] + [v for v, _ in dim_arr.values()]:
        change[1:] |= arr[1:] != arr[:-1]
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:], n)
    # GROUPING() sets bit i (from the right, last dim = bit 0) when dim i is NOT grouped.
    by_bits: dict[int, Grouping] = {}
    for gr in groupings:
        used = {f"k{i}" for i in gr.columns} | ({f"q{gr.where}"} if gr.where is not None else set())
        bits = 0
        for pos, d in enumerate(dims):
            if d not in used:
                bits |= 1 << (len(dims) - 1 - pos)
        by_bits[bits] = gr
    vals = np.asarray(res["val"], dtype=np.float64)
    sums = [np.asarray(res[f"s{i}"], dtype=np.float64) for i in range(len(sum_exprs))]
    out: list[Hist] = []
    for s, e in zip(starts, ends, strict=True):
        gr = by_bits[int(g_arr[s])]
        cell_values = tuple(levels[i][int(dim_arr[f"k{i}"][0][s])] for i in gr.columns)
        out.append(Hist(
            split=splits[int(cols_arr["sp"][s])],
            key=int(cols_arr["key"][s]),
            cell=SliceCell(gr, cell_values),
            values=vals[s:e],
            sums=[x[s:e] for x in sums],
        ))
    return out


# The sums each task's histograms carry per distinct value, in SQL over the columns
# ``w`` (weight), ``y`` (label) and ``v`` (score); shared with the Spark engine so that the
# two compute the same statistics.
BINARY_SUMS = ["sum(w * y)", "sum(w * (1 - y))", "count(*)"]
ERROR_SUMS = ["sum(w)", "count(*)"]
_EPS = float(np.finfo(np.float64).eps)


def regression_sums(shift: float) -> list[str]:
    """Sums for :func:`regression_stats`; labels are centred on ``shift`` for accuracy."""
    yc = f"(y - {shift!r})"
    return [
        "sum(w)", "count(*)", "sum(w * (v - y))", "sum(w * abs(v - y))",
        "sum(w * (v - y) * (v - y))", f"sum(w * abs(v - y) / greatest(abs(y), {_EPS!r}))",
        f"sum(w * {yc})", f"sum(w * {yc} * {yc})",
    ]


def binary_stats(values: FloatArray, sums: list[FloatArray]) -> BinaryStats:
    """:class:`BinaryStats` from ascending values and the :data:`BINARY_SUMS`."""
    pos, neg, cnt = sums
    return BinaryStats(values[::-1].copy(), pos[::-1].copy(), neg[::-1].copy(), int(cnt.sum()))


def regression_stats(values: FloatArray, sums: list[FloatArray], shift: float,
                     unit_weights: bool) -> RegressionStats:
    """:class:`RegressionStats` from absolute errors (ascending) and :func:`regression_sums`."""
    w, cnt, se, sa, ss, sape, sy, sy2 = sums
    n = int(cnt.sum())
    return RegressionStats(
        total=np.asarray(w.sum()), sum_err=np.asarray(se.sum()), sum_abs=np.asarray(sa.sum()),
        sum_sq=np.asarray(ss.sum()), sum_ape=np.asarray(sape.sum()),
        sum_y=np.asarray(sy.sum()), sum_y2=np.asarray(sy2.sum()), y_shift=shift,
        abs_errors=ErrorStats(values, w, n, unit_weights), n_rows=n,
    )


def error_stats(values: FloatArray, sums: list[FloatArray], unit_weights: bool) -> ErrorStats:
    """:class:`ErrorStats` from ascending values and the :data:`ERROR_SUMS`."""
    w, cnt = sums
    return ErrorStats(values, w, int(cnt.sum()), unit_weights)


def _named(exprs: list[str]) -> list[str]:
    return [f"{e} AS s{i}" for i, e in enumerate(exprs)]


def aggregate_binary(
    t: EvalTable, groupings: Sequence[Grouping], splits: Sequence[str], levels: list[list[str]],
    models: Sequence[int] | None = None,
) -> dict[CellKey, tuple[SliceCell, BinaryStats]]:
    """Exact per-score histograms of positives and negatives for every split/model/slice
    (of ``models`` only, when given: one query's result then holds those models' rows)."""
    unpivot = {m: t.score_col(m)
               for m in (range(len(t.models)) if models is None else models)}
    hists = _histograms(
        t, groupings, splits, levels, unpivot, "v", _named(BINARY_SUMS),
        extra_cols=", __label AS y",
    )
    return {(h.split, h.key, h.cell.key): (h.cell, binary_stats(h.values, h.sums))
            for h in hists}


def aggregate_regression(
    t: EvalTable,
    groupings: Sequence[Grouping],
    splits: Sequence[str],
    levels: list[list[str]],
) -> dict[CellKey, tuple[SliceCell, RegressionStats]]:
    """Sums of errors and a histogram of absolute errors for every split/model/slice."""
    row = t.con.execute("SELECT avg(__label) FROM ev").fetchone()
    shift = float(row[0]) if row and row[0] is not None else 0.0
    unpivot = {m: t.score_col(m) for m in range(len(t.models))}
    hists = _histograms(
        t, groupings, splits, levels, unpivot, "abs(v - y)", _named(regression_sums(shift)),
        extra_cols=", __label AS y",
    )
    unit = not t.has_weight
    return {(h.split, h.key, h.cell.key): (h.cell, regression_stats(h.values, h.sums, shift, unit))
            for h in hists}


def aggregate_errors(
    t: EvalTable,
    groupings: Sequence[Grouping],
    splits: Sequence[str],
    levels: list[list[str]],
) -> dict[CellKey, tuple[SliceCell, ErrorStats]]:
    """Histograms of each user error column; the key is ``error_index * n_models + model``."""
    nm = len(t.models)
    unpivot = {
        e * nm + m: t.error_col(e, m) for e in range(len(t.errors)) for m in range(nm)
        if t.has_errors(m)
    }
    if not unpivot:
        return {}
    hists = _histograms(t, groupings, splits, levels, unpivot, "v", _named(ERROR_SUMS))
    unit = not t.has_weight
    return {(h.split, h.key, h.cell.key): (h.cell, error_stats(h.values, h.sums, unit))
            for h in hists}
