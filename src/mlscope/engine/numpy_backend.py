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
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from mlscope.data.checks import not_finite_error
from mlscope.data.source import EvalTable, ql
from mlscope.engine.plan import Grouping, SliceCell
from mlscope.metrics.stats import BinaryStats, ErrorStats, RegressionStats
from mlscope.sql import is_masked

__all__ = [
    "CodeArray",
    "Columns",
    "Layout",
    "RowData",
    "binary_cells",
    "cell_codes",
    "cell_counts",
    "cell_sum",
    "code_dtype",
    "error_cells",
    "fetch_rows",
    "regression_cells",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
# Cell and slice codes, in the narrowest signed type that holds them (`code_dtype`).
CodeArray = npt.NDArray[np.signedinteger[Any]]
_EPS = float(np.finfo(np.float64).eps)


class Columns(Sequence[FloatArray]):
    """The models' score columns as read, each handed out as float64.

    A file's ``FLOAT`` scores are kept in 4 bytes a row (five models at 10M rows: 191 MiB
    instead of 381 MiB) and widened when taken: ``columns[m]`` is a fresh float64 array
    of the same values (widening is exact), so every reader computes on what it did when
    the rows were held as float64. A reader that needs a few rows takes them with
    :meth:`take` (gathered, then widened); :meth:`raw` is the column as held, for code
    that widens it itself.
    """

    def __init__(self, columns: Sequence[npt.NDArray[Any]]) -> None:
        self._columns = list(columns)

    @overload
    def __getitem__(self, i: int) -> FloatArray: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[FloatArray]: ...

    def __getitem__(self, i: int | slice) -> FloatArray | Sequence[FloatArray]:
        if isinstance(i, slice):
            return [_wide(c) for c in self._columns[i]]
        return _wide(self._columns[i])

    def __len__(self) -> int:
        return len(self._columns)

    def raw(self, i: int) -> npt.NDArray[Any]:
        """Column ``i`` as held (float32 where the file holds float32; not a copy)."""
        return self._columns[i]

    def take(self, i: int, index: npt.NDArray[Any]) -> FloatArray:
        """Rows ``index`` (positions or a boolean mask) of column ``i``, as float64."""
        return _wide(self._columns[i][index])


def _wide(a: npt.NDArray[Any]) -> FloatArray:
    out: FloatArray = np.asarray(a, dtype=np.float64)
    return out


@dataclass
class RowData:
    """The evaluated rows of one split as NumPy columns."""

    split: str
    w: FloatArray
    y: npt.NDArray[np.float64]  # 0/1 for binary, value for regression, class index for mc
    codes: list[CodeArray]  # slice column codes (level index, `code_dtype` of the levels)
    where: list[npt.NDArray[np.bool_]]
    # Per model (binary/regression), float64 when taken (float32 files held narrow) ...
    scores: Columns
    proba: list[FloatArray]  # ... or per model an (n, K) matrix (multiclass)
    errors: dict[tuple[int, int], FloatArray]  # (error index, model) -> values
    ids: npt.NDArray[np.str_] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.scores, Columns):  # a list of columns (other engines)
            self.scores = Columns(self.scores)

    @property
    def n(self) -> int:
        return int(self.w.size)


def code_dtype(n_cells: int) -> type[np.signedinteger[Any]]:
    """The narrowest signed integer type holding the codes ``-1 .. n_cells - 1``.

    One-byte codes make the gathers, comparisons and counting sorts over them several
    times cheaper than 64-bit ones, and cost an eighth of the memory.
    """
    for dtype in (np.int8, np.int16, np.int32):
        if n_cells <= np.iinfo(dtype).max:
            return dtype
    return np.int64


def _code_sql(n: int) -> str:
    return {np.int8: "TINYINT", np.int16: "SMALLINT", np.int32: "INTEGER"}.get(
        code_dtype(n), "BIGINT")


def fetch_rows(
    t: EvalTable, splits: Sequence[str], levels: list[list[str]], *, with_ids: bool = False
) -> dict[str, RowData]:
    """Read the columns the metrics need for ``splits`` in one query.

    Columns are fetched as narrow as their values allow (one byte per slice code and
    binary label, FLOAT for scores the file holds as FLOAT) and widened in NumPy, so that
    DuckDB's copy of the result is small; constant columns (unit weights, one split) are
    not fetched at all. Each column of the result is dropped once every split has its
    rows, so at most one column is held twice.
    """
    one_split = len(splits) == 1
    # Every fetched row is in the one split: no split column to fetch or select by.
    cols = [] if one_split else [
        f"CAST(list_position([{', '.join(ql(s) for s in splits)}], __split) - 1 AS TINYINT)"
        " AS sp"]
    if t.has_weight:
        cols.append("__w AS w")
    if t.task == "multiclass":
        cls = "[" + ", ".join(ql(c) for c in t.classes) + "]"
        cols.append(f"CAST(list_position({cls}, __label) - 1 AS INTEGER) AS y")
    elif t.task == "binary":
        cols.append("CAST(__label AS TINYINT) AS y")  # 0/1: exact in one byte
    elif t.task != "errors":
        cols.append("CAST(__label AS DOUBLE) AS y")
    for i in range(len(t.slice_columns)):
        lv = "[" + ", ".join(ql(v) for v in levels[i]) + "]"
        cols.append(f"CAST(list_position({lv}, {t.slice_col(i)}) - 1 AS "
                    f"{_code_sql(len(levels[i]))}) AS k{i}")
    cols += [f"{t.where_col(j)} AS q{j}" for j in range(len(t.where))]
    nk = len(t.classes)

    def score(col: str, alias: str) -> str:
        narrow = t.narrow.get(col)
        return f"CAST({col} AS {narrow}) AS {alias}" if narrow else f"{col} AS {alias}"

    for m in range(len(t.models)):
        if t.task == "multiclass":
            cols += [score(t.score_col(m, k), f"s{m}_{k}") for k in range(nk)]
        elif t.task != "errors":
            cols.append(score(t.score_col(m), f"s{m}"))
        if t.has_errors(m):
            cols += [f"{t.error_col(e, m)} AS e{e}_{m}" for e in range(len(t.errors))]
    if with_ids:
        cols.append("__id AS id")
    in_splits = ", ".join(ql(s) for s in splits)
    # (A table with nothing to fetch still needs its number of rows.)
    res = t.con.execute(
        f"SELECT {', '.join(cols) or 'count(*) AS n'} FROM ev WHERE __split IN ({in_splits})"
    ).fetchnumpy()
    n_all = int(np.asarray(res.pop("n"))[0]) if not cols else int(
        np.asarray(next(iter(res.values()))).size)
    _check_finite(t, res)
    sels: list[IntArray | None] = [None]
    if not one_split:
        sp = np.asarray(res.pop("sp"))
        where_split = [np.flatnonzero(sp == si) for si in range(len(splits))]
        del sp
        # Every row is in one split: no copy needed.
        sels = [None if s.size == n_all else s for s in where_split]
    sizes = [n_all if s is None else int(s.size) for s in sels]

    def take(name: str, dtype: Any) -> list[Any]:
        """Column ``name`` per split as ``dtype``, dropped from the result once taken."""
        col = np.asarray(res.pop(name))
        return [col.astype(dtype, copy=False) if sel is None else col[sel].astype(dtype)
                for sel in sels]

    def take_score(name: str) -> list[Any]:
        """A score column per split: float32 kept (:class:`Columns` widens it when
        read), anything else as float64."""
        col = np.asarray(res.pop(name))
        if col.dtype != np.float32:
            col = col.astype(np.float64, copy=False)
        return [col if sel is None else col[sel] for sel in sels]

    def const(value: float) -> list[FloatArray]:
        # A read-only view of one value, not a row-sized array: the unit weights of an
        # unweighted table were 8 bytes a row (80 MB at 10M rows) that only ever read 1.
        return [np.broadcast_to(np.float64(value), (n,)) for n in sizes]

    w = take("w", np.float64) if t.has_weight else const(1.0)
    y = take("y", np.float64) if "y" in res else const(0.0)
    codes = [take(f"k{i}", code_dtype(len(levels[i]))) for i in range(len(t.slice_columns))]
    where = [take(f"q{j}", np.bool_) for j in range(len(t.where))]
    scores: list[list[npt.NDArray[Any]]] = []
    proba: list[list[FloatArray]] = []
    for m in range(len(t.models)):
        if t.task == "multiclass":
            per_class = [take(f"s{m}_{k}", np.float64) for k in range(nk)]
            proba.append([np.column_stack([c[si] for c in per_class])
                          for si in range(len(splits))])
            del per_class
        elif t.task != "errors":
            scores.append(take_score(f"s{m}"))
    errors = {(e, m): take(f"e{e}_{m}", np.float64)
              for e in range(len(t.errors))
              for m in range(len(t.models)) if t.has_errors(m)}
    ids = take("id", np.str_) if with_ids else None
    return {
        split: RowData(
            split=split, w=w[si], y=y[si], codes=[c[si] for c in codes],
            where=[q[si] for q in where], scores=Columns([s[si] for s in scores]),
            proba=[p[si] for p in proba], errors={k: v[si] for k, v in errors.items()},
            ids=None if ids is None else ids[si],
        )
        for si, split in enumerate(splits)
    }


def _check_finite(t: EvalTable, res: dict[str, Any]) -> None:
    """Every number the metrics read must be finite, checked on the arrays themselves.

    :func:`~mlscope.data.checks.check_rows` has checked the values in SQL already; this
    O(rows) pass keeps a NaN from ever reaching a metric should a file get past it.
    """
    cols: list[tuple[str, str, str]] = [("w", "__w", "weight")] if t.has_weight else []
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
        if is_masked(values) and values.mask.any():
            raise not_finite_error(t, column, what)
        values = np.asarray(values)
        # A sum is finite only when every value is (NaN and infinities carry through it):
        # one pass, no row-sized mask. A finite sum can still overflow, so an infinite or
        # NaN sum is settled value by value.
        if values.dtype.kind != "f":
            values = values.astype(np.float64)
        if not np.isfinite(np.add.reduce(values)) and not np.isfinite(values).all():
            raise not_finite_error(t, column, what)


def cell_codes(
    rows: RowData, g: Grouping, levels: list[list[str]]
) -> tuple[CodeArray, list[SliceCell]]:
    """Each row's cell index under grouping ``g`` (-1: not in any cell) and the cells.

    The codes come in the narrowest signed type that holds them (:func:`code_dtype`):
    one byte per row for most groupings.
    """
    n = rows.n
    if g.kind == "overall":
        return np.zeros(n, dtype=np.int8), [SliceCell(g, ())]
    if g.kind == "where":
        assert g.where is not None
        # 0 where the predicate holds, -1 elsewhere: its booleans as bytes, less one.
        code = rows.where[g.where].astype(np.int8)
        code -= 1
        return code, [SliceCell(g, ())]
    sizes = [len(levels[i]) for i in g.columns]
    total = int(np.prod(sizes, dtype=object))
    wide = code_dtype(total)
    if len(g.columns) == 1:
        code = rows.codes[g.columns[0]].astype(wide, copy=False)  # only read
    else:
        code = np.zeros(n, dtype=wide)
        for i, size in zip(g.columns, sizes, strict=True):
            code *= wide(size)
            code += rows.codes[i]
    if total <= max(n // 4, 1 << 16) and (n == 0 or int(code.min()) >= 0):
        # Codes are small integers: which occur, and their new numbers, by one count
        # (linear) instead of a sort of every row's code.
        present = np.flatnonzero(np.bincount(code, minlength=total))
        renumber = np.full(total, -1, dtype=code_dtype(len(present)))
        renumber[present] = np.arange(len(present), dtype=renumber.dtype)
        cell: CodeArray = renumber[code]
    else:
        present = np.unique(code)
        cell = np.searchsorted(present, code).astype(code_dtype(len(present)))
    cells = []
    for c in present:
        vals = []
        rem = int(c)
        for i, size in reversed(list(zip(g.columns, sizes, strict=True))):
            vals.append(levels[i][rem % size])
            rem //= size
        cells.append(SliceCell(g, tuple(reversed(vals))))
    return cell, cells


def cell_counts(code: CodeArray, n_cells: int) -> IntArray:
    """Rows per cell of ``code`` (``-1``: in no cell, not counted), with no row-sized
    temporary for one- and two-byte codes."""
    if code.dtype == np.int8 or code.dtype == np.int16:
        # Seen as unsigned, -1 is the largest value: one bincount, no masking.
        unsigned = code.view(np.uint8 if code.dtype == np.int8 else np.uint16)
        return np.bincount(unsigned, minlength=n_cells)[:n_cells].astype(np.int64)
    return np.bincount(code[code >= 0], minlength=n_cells).astype(np.int64)


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
