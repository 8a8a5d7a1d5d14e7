"""In-memory aggregation: DuckDB returns the needed columns once, NumPy builds the histograms.

For each model the rows are sorted by score once; each slice grouping then needs only a
stable counting sort by its (small integer) cell code to lay every cell's rows out in
score order, so the exact per-cell histograms of all slices cost O(rows) per grouping. The
same layout serves the bootstrap: a replicate's statistics are ``np.add.reduceat`` of its
resampling weights over that layout, with no further sorting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mlscope.data.checks import not_finite_error
from mlscope.data.source import EvalTable, ql
from mlscope.engine.plan import Grouping, SliceCell
from mlscope.metrics.stats import BinaryStats, ErrorStats, RegressionStats

__all__ = [
    "Layout",
    "RowData",
    "binary_cells",
    "cell_codes",
    "cell_sum",
    "error_cells",
    "fetch_rows",
    "regression_cells",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_EPS = float(np.finfo(np.float64).eps)


@dataclass
class RowData:
    """The evaluated rows of one split as NumPy columns."""

    split: str
    w: FloatArray
    y: npt.NDArray[np.float64]  # 0/1 for binary, value for regression, class index for mc
    codes: list[IntArray]  # slice column codes
    where: list[npt.NDArray[np.bool_]]
    scores: list[FloatArray]  # per model (binary/regression) ...
    proba: list[FloatArray]  # ... or per model an (n, K) matrix (multiclass)
    errors: dict[tuple[int, int], FloatArray]  # (error index, model) -> values
    ids: npt.NDArray[np.str_] | None = None

    @property
    def n(self) -> int:
        return int(self.w.size)


def fetch_rows(
    t: EvalTable, splits: Sequence[str], levels: list[list[str]], *, with_ids: bool = False
) -> dict[str, RowData]:
    """Read the columns the metrics need for ``splits`` in one query."""
    split_list = "[" + ", ".join(ql(s) for s in splits) + "]"
    cols = [f"CAST(list_position({split_list}, __split) - 1 AS TINYINT) AS sp", "__w AS w"]
    if t.task == "multiclass":
        cls = "[" + ", ".join(ql(c) for c in t.classes) + "]"
        cols.append(f"CAST(list_position({cls}, __label) - 1 AS INTEGER) AS y")
    elif t.task != "errors":
        cols.append("CAST(__label AS DOUBLE) AS y")
    for i in range(len(t.slice_columns)):
        lv = "[" + ", ".join(ql(v) for v in levels[i]) + "]"
        cols.append(f"CAST(list_position({lv}, {t.slice_col(i)}) - 1 AS INTEGER) AS k{i}")
    cols += [f"{t.where_col(j)} AS q{j}" for j in range(len(t.where))]
    nk = len(t.classes)
    for m in range(len(t.models)):
        if t.task == "multiclass":
            cols += [f"{t.score_col(m, k)} AS s{m}_{k}" for k in range(nk)]
        elif t.task != "errors":
            cols.append(f"{t.score_col(m)} AS s{m}")
        if t.has_errors(m):
            cols += [f"{t.error_col(e, m)} AS e{e}_{m}" for e in range(len(t.errors))]
    if with_ids:
        cols.append("__id AS id")
    in_splits = ", ".join(ql(s) for s in splits)
    res = t.con.execute(
        f"SELECT {', '.join(cols)} FROM ev WHERE __split IN ({in_splits})"
    ).fetchnumpy()
    _check_finite(t, res)
    sp = np.asarray(res["sp"])
    out: dict[str, RowData] = {}
    for si, split in enumerate(splits):
        sel: IntArray | None = np.flatnonzero(sp == si)
        if sel is not None and sel.size == sp.size:
            sel = None  # every row is in this split: no copy needed

        def take(name: str, dtype: type, sel: IntArray | None = sel) -> Any:
            col = np.asarray(res[name])
            if sel is None:
                return col.astype(dtype, copy=False)
            return col[sel].astype(dtype)

        y = take("y", np.float64) if "y" in res else np.zeros(sp.size if sel is None else sel.size)
        scores: list[FloatArray] = []
        proba: list[FloatArray] = []
        for m in range(len(t.models)):
            if t.task == "multiclass":
                proba.append(np.column_stack([take(f"s{m}_{k}", np.float64) for k in range(nk)]))
            elif t.task != "errors":
                scores.append(take(f"s{m}", np.float64))
        out[split] = RowData(
            split=split,
            w=take("w", np.float64),
            y=y,
            codes=[take(f"k{i}", np.int64) for i in range(len(t.slice_columns))],
            where=[take(f"q{j}", np.bool_) for j in range(len(t.where))],
            scores=scores,
            proba=proba,
            errors={
                (e, m): take(f"e{e}_{m}", np.float64)
                for e in range(len(t.errors))
                for m in range(len(t.models)) if t.has_errors(m)
            },
            ids=take("id", np.str_) if with_ids else None,
        )
    return out


def _check_finite(t: EvalTable, res: dict[str, Any]) -> None:
    """Every number the metrics read must be finite, checked on the arrays themselves.

    :func:`~mlscope.data.checks.check_rows` has checked the values in SQL already; this
    O(rows) pass keeps a NaN from ever reaching a metric should a file get past it.
    """
    cols: list[tuple[str, str, str]] = [("w", "__w", "weight")]
    if t.task == "regression":
        cols.append(("y", "__label", "label"))
    for m, name in enumerate(t.models):
        if t.task == "multiclass":
            cols += [(f"s{m}_{k}", t.score_col(m, k), f"model `{name}` probability of "
                      f"class {c!r}") for k, c in enumerate(t.classes)]
        elif t.task != "errors":
            cols.append((f"s{m}", t.score_col(m), f"model `{name}` score"))
        cols += [(f"e{e}_{m}", t.error_col(e, m), f"model `{name}` error `{en}`")
                 for e, en in enumerate(t.errors) if t.has_errors(m)]
    for key, column, what in cols:
        values = res[key]
        if isinstance(values, np.ma.MaskedArray) and values.mask.any():
            raise not_finite_error(t, column, what)
        if not np.isfinite(np.asarray(values, dtype=np.float64)).all():
            raise not_finite_error(t, column, what)


def cell_codes(
    rows: RowData, g: Grouping, levels: list[list[str]]
) -> tuple[IntArray, list[SliceCell]]:
    """Each row's cell index under grouping ``g`` (-1: not in any cell) and the cells."""
    n = rows.n
    if g.kind == "overall":
        return np.zeros(n, dtype=np.int64), [SliceCell(g, ())]
    if g.kind == "where":
        assert g.where is not None
        code = np.where(rows.where[g.where], 0, -1).astype(np.int64)
        return code, [SliceCell(g, ())]
    code = np.zeros(n, dtype=np.int64)
    sizes = [len(levels[i]) for i in g.columns]
    for i, size in zip(g.columns, sizes, strict=True):
        code = code * size + rows.codes[i]
    present = np.unique(code)
    cells = []
    for c in present:
        vals = []
        rem = int(c)
        for i, size in reversed(list(zip(g.columns, sizes, strict=True))):
            vals.append(levels[i][rem % size])
            rem //= size
        cells.append(SliceCell(g, tuple(reversed(vals))))
    # Re-index to 0..len(present)-1 so cells line up with `cells`.
    return np.searchsorted(present, code).astype(np.int64), cells


class Layout:
    """Rows laid out by (cell, value): the reusable part of building histograms.

    Parameters
    ----------
    value
        The per-row value to histogram (a score, an absolute error).
    by_value
        ``argsort(value)``, when the caller already has it (it is shared by groupings).
    cell
        Per-row cell index (``-1`` drops the row), as from :func:`cell_codes`.
    n_cells
        Number of cells.
    """

    def __init__(
        self, value: FloatArray, cell: IntArray, n_cells: int, by_value: IntArray | None = None
    ) -> None:
        if by_value is None:
            # Any order of tied values will do (ties become one segment): the unstable sort
            # is faster.
            by_value = np.argsort(value)
        ck = cell[by_value]
        if n_cells == 1 and ck.size and ck.min() >= 0:
            perm = by_value  # one cell holding every row: already in value order
        else:
            keep = by_value if (ck.size == 0 or ck.min() >= 0) else by_value[ck >= 0]
            if keep is not by_value:
                ck = cell[keep]
            # A stable sort by cell keeps the value order inside each cell; small integer
            # codes let NumPy use a radix sort, linear in the number of rows.
            if n_cells <= 2**7:
                ck = ck.astype(np.int8)
            elif n_cells < 2**15:
                ck = ck.astype(np.int16)
            perm = keep[np.argsort(ck, kind="stable")]
        c = cell[perm]
        v = value[perm]
        new = np.ones(perm.size, dtype=bool)
        new[1:] = (c[1:] != c[:-1]) | (v[1:] != v[:-1])
        self.perm: IntArray = perm
        self.starts: IntArray = np.flatnonzero(new)
        self.values: FloatArray = v[self.starts]
        seg_cell = c[self.starts]
        # Per cell: the slice [lo, hi) of distinct-value segments, and its row count.
        self.cell_lo: IntArray = np.searchsorted(seg_cell, np.arange(n_cells), side="left")
        self.cell_hi: IntArray = np.searchsorted(seg_cell, np.arange(n_cells), side="right")
        self.cell_rows: IntArray = np.bincount(c, minlength=n_cells).astype(np.int64)
        self.seg_rows: IntArray = np.diff(np.append(self.starts, perm.size))

    def sums(self, W: FloatArray) -> FloatArray:
        """Per-segment sums of ``W`` (``(n,)`` or ``(R, n)``) -> ``(..., segments)``."""
        if self.perm.size == 0:
            return np.zeros((*W.shape[:-1], 0))
        return np.add.reduceat(W[..., self.perm], self.starts, axis=-1)

    def cell(self, i: int) -> slice:
        return slice(int(self.cell_lo[i]), int(self.cell_hi[i]))


def cell_sum(W: FloatArray, cell: IntArray, n_cells: int) -> FloatArray:
    """Sum ``W`` (``(n,)`` or ``(R, n)``) within each cell (rows with cell -1 dropped)."""
    ok = cell >= 0
    c = cell[ok]
    Wk = W[..., ok]
    if Wk.ndim == 1:
        return np.bincount(c, weights=Wk, minlength=n_cells).astype(np.float64)
    r = Wk.shape[0]
    flat = (np.arange(r, dtype=np.int64)[:, None] * n_cells + c[None, :]).ravel()
    out = np.bincount(flat, weights=Wk.ravel(), minlength=r * n_cells).astype(np.float64)
    return out.reshape(r, n_cells)


def _whole_segment_sums(A: FloatArray, starts: IntArray) -> FloatArray:
    """Per-segment sums of whole numbers ``A`` (``(..., n)``, rows in layout order).

    Sums of whole numbers are exact in any order while the total stays below 2**53
    (bootstrap counts of one replicate add up to the row count), so a running sum's
    differences at the segment ends give the same bits as ``np.add.reduceat`` at a
    fraction of its cost on a 2-D batch; when every segment is one row (distinct scores,
    the usual case) the rows are the sums.
    """
    n = A.shape[-1]
    if starts.size == n:
        return A
    run = np.cumsum(A, axis=-1)
    # np.take, not fancy indexing: a C-ordered batch (see _whole_binary_cells).
    out = np.take(run, np.append(starts[1:], n) - 1, axis=-1)
    out[..., 1:] -= np.take(run, starts[1:] - 1, axis=-1)
    return out


def _whole_binary_cells(
    layout: Layout, y: FloatArray, W: FloatArray, n_cells: int
) -> list[BinaryStats]:
    """:func:`binary_cells` when ``W`` holds whole numbers and ``y`` is 0 or 1.

    Each cell's rows are gathered straight into descending score order (one gather per
    cell, no reversed copies); positives are the counts of positive rows and negatives the
    rest, ``W·(1 − y) = W − W·y`` exactly for ``y`` in {0, 1}.
    """
    perm, starts, n = layout.perm, layout.starts, layout.perm.size
    seg_end = np.append(starts[1:], n)
    out = []
    for i in range(n_cells):
        s = layout.cell(i)
        lo, hi = s.start, s.stop
        r0 = int(starts[lo]) if lo < hi else 0
        r1 = int(seg_end[hi - 1]) if lo < hi else 0
        rows = perm[r0:r1][::-1]
        # The cell's segments in descending order start where the reversed rows do.
        seg_len = (seg_end[lo:hi] - starts[lo:hi])[::-1]
        cstarts = np.zeros(seg_len.size, dtype=np.int64)
        np.cumsum(seg_len[:-1], out=cstarts[1:])
        # np.take keeps the batch C-ordered (fancy indexing on the last axis returns it
        # column-major, which changes the summation order of the metrics' row sums).
        wc = np.take(W, rows, axis=-1)
        pos = wc * y[rows]
        neg = _whole_segment_sums(wc, cstarts)  # wc itself, or a new array
        pos = _whole_segment_sums(pos, cstarts)
        neg -= pos
        out.append(BinaryStats(layout.values[s][::-1].copy(), pos, neg,
                               int(layout.cell_rows[i])))
    return out


def binary_cells(
    layout: Layout, y: FloatArray, W: FloatArray, n_cells: int, *, whole: bool = False
) -> list[BinaryStats]:
    """:class:`BinaryStats` of every cell (scores descending) under weights ``W``.

    ``whole``: ``W`` holds whole numbers (bootstrap counts of an unweighted table), so
    every sum is exact in any order and a cheaper summation gives the same bits.
    """
    if W.ndim == 1 and bool(np.all(W == 1.0)):
        # Unit weights: a segment's negatives are its rows less its positives.
        pos = layout.sums(y)
        neg = layout.seg_rows - pos
    elif whole and bool(np.all((y == 0.0) | (y == 1.0))):
        return _whole_binary_cells(layout, y, W, n_cells)
    else:
        pos = layout.sums(W * y)
        neg = layout.sums(W * (1.0 - y))
    out = []
    for i in range(n_cells):
        s = layout.cell(i)
        out.append(BinaryStats(
            layout.values[s][::-1].copy(),
            np.ascontiguousarray(pos[..., s][..., ::-1]),
            np.ascontiguousarray(neg[..., s][..., ::-1]),
            int(layout.cell_rows[i]),
        ))
    return out


def error_cells(
    layout: Layout, W: FloatArray, n_cells: int, *, unit_weights: bool
) -> list[ErrorStats]:
    """:class:`ErrorStats` of every cell under weights ``W``."""
    sums = layout.sums(W)
    return [
        ErrorStats(layout.values[layout.cell(i)], sums[..., layout.cell(i)],
                   int(layout.cell_rows[i]), unit_weights)
        for i in range(n_cells)
    ]


def regression_cells(
    layout: Layout,
    y: FloatArray,
    pred: FloatArray,
    W: FloatArray,
    cell: IntArray,
    n_cells: int,
    *,
    y_shift: float,
    unit_weights: bool,
) -> list[RegressionStats]:
    """:class:`RegressionStats` of every cell; ``layout`` is over the absolute errors."""
    e = pred - y
    ae = np.abs(e)
    yc = y - y_shift
    ape = ae / np.maximum(np.abs(y), _EPS)
    terms = [np.ones_like(e), e, ae, e * e, ape, yc, yc * yc]
    sums = np.stack([cell_sum(W * t, cell, n_cells) for t in terms], axis=-2)  # (..., 7, cells)
    errs = error_cells(layout, W, n_cells, unit_weights=unit_weights)
    out = []
    for i in range(n_cells):
        s = sums[..., i]
        out.append(RegressionStats(
            total=s[..., 0], sum_err=s[..., 1], sum_abs=s[..., 2], sum_sq=s[..., 3],
            sum_ape=s[..., 4], sum_y=s[..., 5], sum_y2=s[..., 6], y_shift=y_shift,
            abs_errors=errs[i], n_rows=int(layout.cell_rows[i]),
        ))
    return out
