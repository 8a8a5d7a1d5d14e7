"""The exact binary histograms of every slice from one sort per model: the point estimate's
fast path when every row weighs 1.

The general path (:class:`~mlscope.engine.numpy_backend.Layout`) sums weights over
segments with ``np.add.reduceat``, whose summation order is part of the result when the
weights are fractional. With unit weights every sum is a count of rows: integers, exact in
float64 whatever the order, so here any layout gives the same bits. That frees this path
to work on the rows sorted once by *descending* score, as narrow integer codes and one
byte per label, with no index array per grouping beyond one radix sort of one-byte cell
codes, and no reversed copies (the histograms come out descending, as
:class:`~mlscope.metrics.stats.BinaryStats` holds them).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from mlscope.engine.kernel_choice import Cells, Scratch, compiled_cells, compiled_sort, give_up
from mlscope.engine.numpy_backend import cell_counts
from mlscope.metrics.stats import BinaryStats

__all__ = ["NarrowCodes", "binary_unit_cells", "binary_unit_groupings", "narrow_codes",
           "score_order"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
NarrowCodes = npt.NDArray[np.signedinteger]


def narrow_codes(code: IntArray, n_cells: int) -> NarrowCodes:
    """``code`` (cell index per row, ``-1``: in no cell) in the narrowest signed type.

    One-byte codes make the gather through the score order and the stable sort by cell
    (a radix sort in NumPy) several times cheaper than on 64-bit codes.
    """
    for dtype in (np.int8, np.int16, np.int32):
        if n_cells <= np.iinfo(dtype).max:
            return code.astype(dtype, copy=False)  # cell_codes may already give it
    return code


def score_order(value: FloatArray) -> npt.NDArray[np.intp]:
    """An ascending order of ``value`` (ties in any order).

    Scores that are float32 values (what most models write) are sorted as packed 64-bit
    keys, the score's order-preserving 32 bits above the row's 32-bit index: sorting values
    is about twice as fast as ``argsort``, which moves an index array beside them. Other
    scores use ``argsort``.
    """
    n = int(value.size)
    if 0 < n < 2**32:
        f32 = value.astype(np.float32)
        if np.array_equal(f32, value):
            bits = f32.view(np.uint32)
            # IEEE order: flip every bit of a negative number, only the sign of the others.
            neg = (bits >> np.uint32(31)).astype(bool)
            key32 = np.where(neg, ~bits, bits | np.uint32(0x80000000))
            key = key32.astype(np.uint64) << np.uint64(32)
            key |= np.arange(n, dtype=np.uint64)
            key.sort()
            # The row indices in the key's own buffer (they are below 2**32, so the
            # unsigned bits read as the same signed numbers): no further row-sized arrays.
            np.bitwise_and(key, np.uint64(0xFFFFFFFF), out=key)
            if np.dtype(np.intp).itemsize == 8:
                return key.view(np.intp)
            return key.astype(np.intp)
    return np.argsort(value)


def binary_unit_cells(
    value: FloatArray, y8: npt.NDArray[np.int8],
    groupings: list[tuple[NarrowCodes, int]], scratch: Scratch | None = None,
    work_rows: int | None = None, counts: list[IntArray] | None = None,
) -> list[list[BinaryStats]]:
    """:class:`BinaryStats` of every cell of every grouping, all rows weighing 1.

    Parameters
    ----------
    value
        Each row's score (float64, or float32 as a file holds it: the statistics hold
        the same values as float64).
    y8
        Each row's label, 0 or 1, one byte per row.
    groupings
        Per grouping: each row's cell (:func:`narrow_codes`, ``-1`` drops the row) and the
        number of cells.
    scratch, work_rows
        Buffers the compiled kernel may reuse from one model to the next, and the rows
        of every model the caller runs here (whether loading the kernel pays; see
        :func:`~mlscope.engine.kernel_choice.compiled_cells`).
    counts
        Per grouping, the rows in each cell when the caller has them (the same for every
        model); counted here otherwise.

    Returns
    -------
    list of list of BinaryStats
        Per grouping, per cell: the distinct scores (descending) and the number of positive
        and negative rows at each, as float64 (equal to the weighted path's sums, which are
        these same integers).

    Notes
    -----
    On large tables with float32 scores, the compiled kernel
    (:mod:`mlscope.engine.kernel_choice`, optional) computes the same arrays bit for bit.
    """
    fast = compiled_cells(value, y8, groupings, scratch, work_rows)
    if fast is not None:
        return [_stats_of(cells) for cells in fast]
    return _numpy_cells(value, y8, groupings, counts)


def binary_unit_groupings(
    value: FloatArray, y8: npt.NDArray[np.int8],
    groupings: list[tuple[NarrowCodes, int]], work_rows: int | None = None,
    counts: list[IntArray] | None = None,
) -> Callable[[int], list[BinaryStats]]:
    """:func:`binary_unit_cells` one grouping at a time: ``build(gi)`` gives grouping
    ``gi``'s cells (the same bits), so that the caller need not hold every grouping's
    histograms at once.

    With the compiled kernel the rows are sorted here, once, and each ``build`` runs the
    kernel's two passes over the sorted rows (which stay allocated, 8 bytes a row, as
    long as ``build`` is kept); a pass that fails falls back to the NumPy code for that
    grouping. Without the kernel, NumPy builds every grouping here, as
    :func:`binary_unit_cells`.
    """
    sorted_rows = compiled_sort(value, y8, groupings, None, work_rows)
    if sorted_rows is None:
        return _numpy_cells(value, y8, groupings, counts).__getitem__

    def build(gi: int) -> list[BinaryStats]:
        try:
            cells = sorted_rows.cells(gi)
        except Exception as exc:  # the optional kernel failed: NumPy, the same bits
            give_up(f"the kernel failed ({type(exc).__name__}: {exc})")
            return _numpy_cells(value, y8, [groupings[gi]],
                                None if counts is None else [counts[gi]])[0]
        return _stats_of(cells)

    return build


def _stats_of(cells: Cells) -> list[BinaryStats]:
    scores, pos, neg, b, rows = cells
    return [BinaryStats(scores[b[i]:b[i + 1]], pos[b[i]:b[i + 1]], neg[b[i]:b[i + 1]],
                        int(rows[i])) for i in range(len(rows))]


def _numpy_cells(value: FloatArray, y8: npt.NDArray[np.int8],
                 groupings: list[tuple[NarrowCodes, int]],
                 counts: list[IntArray] | None) -> list[list[BinaryStats]]:
    """The NumPy code of :func:`binary_unit_cells`."""
    # Scores held as float32 (RowData's Columns): their distinct values as float64.
    value = np.asarray(value, dtype=np.float64)
    n = int(value.size)
    # One sort per model; ties form one segment, so their order is irrelevant (unstable).
    order = score_order(value)[::-1]
    vs = value[order]
    ys = y8[order]
    out: list[list[BinaryStats]] = []
    for gi, (code, n_cells) in enumerate(groupings):
        if n == 0:
            empty = np.zeros(0)
            out.append([BinaryStats(empty, empty, empty, 0) for _ in range(n_cells)])
            continue
        cs = code[order] if not (n_cells == 1 and code.min() >= 0) else None
        if cs is None:
            vv, yy = vs, ys
            per_cell = np.array([n], dtype=np.int64)
        else:
            # A stable sort by cell keeps the descending score order inside each cell; rows
            # in no cell (-1) sort first and are cut off.
            perm = np.argsort(cs, kind="stable")
            dropped = int(np.count_nonzero(cs < 0))
            if dropped:
                perm = perm[dropped:]
            per_cell = counts[gi] if counts is not None else cell_counts(code, n_cells)
            vv, yy = vs[perm], ys[perm]
        m = int(vv.size)
        bounds = np.zeros(n_cells + 1, dtype=np.int64)
        np.cumsum(per_cell, out=bounds[1:])
        if m == 0:
            empty = np.zeros(0)
            out.append([BinaryStats(empty, empty, empty, 0) for _ in range(n_cells)])
            continue
        new = np.empty(m, dtype=bool)
        new[0] = True
        np.not_equal(vv[1:], vv[:-1], out=new[1:])
        inner = bounds[1:-1]
        new[inner[inner < m]] = True  # a cell's first row starts a segment
        starts = np.flatnonzero(new)
        # Positives per segment summed segment by segment (integers: exact), with no
        # row-sized running count; int32 holds any count below 2**31 rows. Rows per
        # segment from the starts.
        pos = np.add.reduceat(yy, starts, dtype=np.int32 if m < 2**31 else np.int64
                              ).astype(np.float64)
        neg = np.diff(starts, append=m).astype(np.float64)
        neg -= pos
        scores = vv[starts]
        lo = np.searchsorted(starts, bounds[:-1])
        hi = np.searchsorted(starts, bounds[1:])
        out.append([
            BinaryStats(scores[lo[i]:hi[i]], pos[lo[i]:hi[i]], neg[lo[i]:hi[i]],
                        int(per_cell[i]))
            for i in range(n_cells)
        ])
    return out
