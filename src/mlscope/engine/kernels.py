"""Compiled kernels (numba) of the unit-weight binary point estimate: the optional fast path
of :func:`mlscope.engine.fused.binary_unit_cells`.

Importing this module imports numba (about 0.2 s) and loading the cached machine code costs
about 0.4 s more on the first call in a process: :mod:`mlscope.engine.fused` imports it
lazily, and only for tables large enough to repay it. Every function is compiled with
``nogil=True``, so the threads that aggregate models side by side
(:class:`~mlscope.engine.exact.ExactSplit`) run them on every core.

The results are those of the NumPy code bit for bit: every sum is a count of rows (an
integer, exact in float64 in any order), the rows are sorted by the same order-preserving
32-bit key of the float32 score, and each run of equal scores (``-0.0 == +0.0``) is reported
by its first row in descending key order, as ``vs[starts]`` does there.

The metric terms and the recalibration fit's passes, whose sums follow NumPy's pairwise tree,
are in :mod:`mlscope.engine.sum_kernels`; this module carries them too, so that it is the
one set of kernels :mod:`mlscope.metrics.fast` is given.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from mlscope.engine.bucket_kernels import CACHED as _BUCKET_KERNELS_CACHED
from mlscope.engine.bucket_kernels import bucket_hist, search_bins
from mlscope.engine.numba_jit import jit as _jit
from mlscope.engine.sum_kernels import CACHED as _SUM_KERNELS_CACHED
from mlscope.engine.sum_kernels import binary_sums, logistic_arg, logistic_sums

__all__ = ["CACHED", "binary_sums", "bucket_hist", "carried_counts", "carried_fill",
           "cell_counts", "cell_fill", "cell_subtract", "curve_bins", "log_loss_args",
           "log_loss_terms", "logistic_arg", "logistic_sums", "row_loss_args", "search_bins",
           "sort_descending", "warm"]


# Radix sort: the 32 key bits of a packed item (bits 32..63) in four digits of 8 bits. Four
# passes of 256 buckets measured faster than three of 2,048 (10M uniform float32 scores:
# 0.09 s against 0.13 s): a scatter to 2,048 places at once misses the TLB and caches.
_SHIFTS = (32, 40, 48, 56)
_RADIX = 256
# The low word of a packed item: the row index (bits 0..30) and the row's label (bit 31).
_LABEL_BIT = np.uint64(1 << 31)
_ROW_MASK = np.uint64((1 << 31) - 1)
_SIGN = np.uint64(0x80000000)
_LOW31 = np.uint64(0x7FFFFFFF)
_DIGIT = np.uint64(_RADIX - 1)
_U32 = np.uint64(32)
# Descending keys of +0.0 and -0.0 (adjacent): one run of equal scores, as ``==`` sees them.
_PLUS_ZERO = np.uint64(0x7FFFFFFF)
_MINUS_ZERO = np.uint64(0x80000000)
_NO_KEY = np.uint64(1 << 32)  # above every 32-bit key
# Numba widens 32-bit integers in arithmetic and turns uint64 mixed with a signed integer
# into float64: every bit operation below is on uint64 with uint64 constants.


def _sort_descending(value: npt.NDArray[np.float64], y8: npt.NDArray[np.int8],
                     codes: npt.NDArray[Any], a: npt.NDArray[np.uint64],
                     b: npt.NDArray[np.uint64]) -> int:
    """Sort the rows by descending float32 score, packed for :func:`carried_counts` (or
    :func:`cell_counts`).

    Parameters
    ----------
    value
        Each row's score (float64); fewer than ``2**31`` rows.
    y8
        Each row's label, 0 or 1.
    codes
        Each row's cells packed in at most 31 bits (any unsigned integer type), carried in
        the low bits of its item instead of the row's index; empty: the index is carried
        (for :func:`cell_counts`, which gathers each grouping's cell by it).
    a, b
        Two buffers of at least ``value.size`` items: the sorted items end in one of them.

    Returns
    -------
    int
        ``-1`` when some score is not exactly a float32 (nothing is sorted: the caller falls
        back), else which buffer holds the sorted items, ``0`` for ``a`` and ``1`` for ``b``:
        the first ``n`` items, each the row's inverted score key (bits 32..63), label (bit 31)
        and packed ``codes`` or index (bits 0..30), ascending by key (stable: rows of equal
        keys in row order, whatever the low bits), so by descending score.
    """
    # Pass 1: each score as float32 (refusing any that is not exactly a float32, NaN
    # included), its order-preserving key inverted (so that ascending sorts descending),
    # packed above the row's label and its cells (read here in row order, so that no pass
    # after the sort gathers them at random) or index; the three digit histograms on the way.
    n = value.size
    carry = codes.size == n
    f32 = b.view(np.float32)
    u32 = b.view(np.uint32)
    hist = np.zeros((4, _RADIX), dtype=np.int64)
    for i in range(n):
        v = value[i]
        f = np.float32(v)
        if np.float64(f) != v:
            return -1
        f32[i] = f
        bits = np.uint64(u32[i])
        # IEEE order: flip every bit of a negative number, only the sign of the others;
        # then every bit again, to sort descending: a negative number's bits as they are,
        # the others' with the 31 bits below the sign flipped.
        d = bits if bits & _SIGN else bits ^ _LOW31
        item = (d << _U32) | (np.uint64(codes[i]) if carry else np.uint64(i))
        if y8[i] != 0:
            item |= _LABEL_BIT
        a[i] = item
        hist[0, d & _DIGIT] += 1
        hist[1, (d >> np.uint64(8)) & _DIGIT] += 1
        hist[2, (d >> np.uint64(16)) & _DIGIT] += 1
        hist[3, d >> np.uint64(24)] += 1
    # Stable LSD passes; a digit that every row shares is skipped (scores in [0, 1] share
    # the sign and the top of the exponent). Stable, so the order does not depend on the
    # digits: the same items in the same order as any stable sort by the key.
    src, dst = a, b
    where = 0
    offsets = np.empty(_RADIX, dtype=np.int64)
    for p in range(4):
        h = hist[p]
        if n == 0 or h.max() == n:
            continue
        total = 0
        for k in range(_RADIX):
            offsets[k] = total
            total += h[k]
        shift = np.uint64(_SHIFTS[p])
        for i in range(n):
            item = src[i]
            k = (item >> shift) & _DIGIT
            dst[offsets[k]] = item
            offsets[k] += 1
        src, dst = dst, src
        where = 1 - where
    return where


sort_descending, _SORT_CACHED = _jit(_sort_descending)


def _cell_counts(items: npt.NDArray[np.uint64], code: npt.NDArray[Any], whole: bool,
                 cs: npt.NDArray[Any], segs: npt.NDArray[np.int64],
                 rows: npt.NDArray[np.int64]) -> None:
    """Per cell, its rows and its distinct scores: the sizes :func:`cell_fill` needs.

    Parameters
    ----------
    items
        The rows sorted by :func:`sort_descending` (its first ``n`` items).
    code
        Each row's cell (``-1``: in no cell), any signed integer type.
    whole
        Every row is in cell 0 (``code`` and ``cs`` are not used).
    cs
        Filled: each sorted row's cell (``n`` items of ``code``'s type).
    segs, rows
        Zeros, one per cell; filled: the distinct scores and the rows of each cell.
    """
    # Walking the rows in descending score order, each cell's rows arrive in that order
    # too: a row starts a segment of its cell unless its score equals the cell's last one.
    # Each row's cell is gathered once here, then read in order by cell_fill.
    last = np.zeros(segs.size, dtype=np.uint64)
    for i in range(items.size):
        item = items[i]
        if whole:
            c = np.int64(0)
        else:
            c = np.int64(code[np.int64(item & _ROW_MASK)])
            cs[i] = c
            if c < 0:
                continue
        d = item >> _U32
        if d == _MINUS_ZERO:
            d = _PLUS_ZERO
        segs[c] += (rows[c] == 0) | (d != last[c])
        last[c] = d
        rows[c] += 1


def _fill_row(item: np.uint64, c: np.int64, bounds: npt.NDArray[np.int64],
              at: npt.NDArray[np.int64], last: npt.NDArray[np.uint64],
              u: npt.NDArray[np.uint32], f: npt.NDArray[np.float32],
              scores: npt.NDArray[np.float64], pos: npt.NDArray[np.float64],
              neg: npt.NDArray[np.float64]) -> bool:
    """Add sorted row ``item`` to cell ``c``'s histogram: a new segment when its score
    differs from the cell's last one. False when that would pass the segments counted.

    ``at`` is each cell's current segment, ``last`` its last key; ``u``/``f`` a one-item
    buffer viewed as uint32 and float32 (numba has no scalar bit cast): the key turned
    back into the score. Inlined into :func:`cell_fill` and :func:`carried_fill`.
    """
    raw = item >> _U32
    d = _PLUS_ZERO if raw == _MINUS_ZERO else raw
    # Branch-free label (the labels are random); the counts are integers, exact in float64.
    label = np.float64((item & _LABEL_BIT) >> np.uint64(31))
    if at[c] < bounds[c] or d != last[c]:
        at[c] += 1
        k = at[c]
        if k >= bounds[c + 1]:
            return False
        last[c] = d
        # The run's score is its first row's (+0.0 before -0.0).
        u[0] = np.uint32(raw if raw & _SIGN else raw ^ _LOW31)
        scores[k] = np.float64(f[0])
        pos[k] = label
        neg[k] = 1.0 - label
    else:
        k = at[c]
        pos[k] += label
        neg[k] += 1.0 - label
    return True


fill_row, _ROW_CACHED = _jit(_fill_row, inline=True)


def _cell_fill(items: npt.NDArray[np.uint64], cs: npt.NDArray[Any], whole: bool,
               bounds: npt.NDArray[np.int64], scores: npt.NDArray[np.float64],
               pos: npt.NDArray[np.float64], neg: npt.NDArray[np.float64]) -> bool:
    """Per cell, the distinct scores (descending) and the positive and negative rows at each.

    Parameters
    ----------
    items, whole
        As for :func:`cell_counts`.
    cs
        Each sorted row's cell, from :func:`cell_counts`.
    bounds
        Cell ``c``'s segments are ``bounds[c]:bounds[c + 1]`` (the cumulative ``segs``).
    scores, pos, neg
        Filled, ``bounds[-1]`` items each (their previous contents are not read).

    Returns
    -------
    bool
        Whether the segments were those :func:`cell_counts` counted (always, unless the
        inputs changed in between): a guard, so that a mismatch is an error, never a
        write out of bounds.
    """
    # NumPy allocates the outputs: its large arrays are backed by huge pages, where
    # numba's would take a page fault per 4 KiB (as costly as this pass at 10**7 rows).
    n_cells = bounds.size - 1
    at = bounds[:n_cells] - 1  # each cell's current segment
    last = np.zeros(n_cells, dtype=np.uint64)
    # A float32 read back from its bits through a one-item buffer (numba has no scalar
    # bit cast): the key turned back into the score.
    u = np.empty(1, dtype=np.uint32)
    f = u.view(np.float32)
    for i in range(items.size):
        c = 0 if whole else np.int64(cs[i])
        if c < 0:
            continue
        if not fill_row(items[i], c, bounds, at, last, u, f, scores, pos, neg):
            return False
    return bool(np.all(at == bounds[1:] - 1))


def _carried_counts(items: npt.NDArray[np.uint64], shift: np.uint64, mask: np.uint64,
                    off: np.int64, segs: npt.NDArray[np.int64],
                    rows: npt.NDArray[np.int64]) -> None:
    """:func:`cell_counts` of one grouping whose cells the items carry.

    Parameters
    ----------
    items
        The rows sorted by :func:`sort_descending` with their packed cells (its first
        ``n`` items).
    shift, mask, off
        The row's cell is ``((item >> shift) & mask) - off`` (``-1``: in no cell; 0 for
        every row where ``mask`` and ``off`` are 0: the grouping of one cell).
    segs, rows
        Zeros, one per cell; filled as by :func:`cell_counts`.
    """
    # The cell comes with the item, read in order: no gather of the row's cell (a random
    # access per row and grouping) and no row-sized array of the sorted cells for the fill.
    # One pass per grouping with its bits as scalars: a pass over every grouping at once
    # measured twice as slow (the compiler reloads each grouping's parameters per row,
    # as the output arrays might alias them), and rereading the items costs little.
    # Each cell's last key starts at 2**32, which no 32-bit key equals: its first row
    # starts a segment without a test of its row count (a third of this pass's time).
    last = np.full(segs.size, _NO_KEY, dtype=np.uint64)
    for i in range(items.size):
        item = items[i]
        c = np.int64((item >> shift) & mask) - off
        if c < 0:
            continue
        d = item >> _U32
        if d == _MINUS_ZERO:
            d = _PLUS_ZERO
        segs[c] += d != last[c]
        last[c] = d
        rows[c] += 1


def _carried_fill(items: npt.NDArray[np.uint64], shift: np.uint64, mask: np.uint64,
                  off: np.int64, bounds: npt.NDArray[np.int64],
                  scores: npt.NDArray[np.float64], pos: npt.NDArray[np.float64],
                  neg: npt.NDArray[np.float64]) -> bool:
    """:func:`cell_fill` of one grouping whose cells the items carry.

    Parameters
    ----------
    items, shift, mask, off
        As for :func:`carried_counts`.
    bounds, scores, pos, neg
        As for :func:`cell_fill`.

    Returns
    -------
    bool
        As for :func:`cell_fill`: whether the segments were those counted.
    """
    n_cells = bounds.size - 1
    at = bounds[:n_cells] - 1  # each cell's current segment
    last = np.zeros(n_cells, dtype=np.uint64)
    u = np.empty(1, dtype=np.uint32)  # the key turned back into the score (cell_fill)
    f = u.view(np.float32)
    for i in range(items.size):
        item = items[i]
        c = np.int64((item >> shift) & mask) - off
        if c < 0:
            continue
        if not fill_row(item, c, bounds, at, last, u, f, scores, pos, neg):
            return False
    return bool(np.all(at == bounds[1:] - 1))


def _log_loss_args(s: npt.NDArray[np.float64], lo: float, hi: float,
                   out: npt.NDArray[np.float64]) -> None:
    """The arguments of log loss's two logarithms: ``out[0] = clip(s, lo, hi)`` and
    ``out[1] = clip(1 − s, lo, hi)`` (``np.clip``'s values; NaN stays NaN), for NumPy's
    ``np.log`` to take in place (:func:`mlscope.metrics.links.neg_log_likelihood`)."""
    for b in range(s.size):
        x = s[b]
        for k in range(2):
            v = x if k == 0 else 1.0 - x
            if v < lo:
                v = lo
            if v > hi:
                v = hi
            out[k, b] = v


def _log_loss_terms(logs: npt.NDArray[np.float64], pos: npt.NDArray[np.float64],
                    neg: npt.NDArray[np.float64]) -> None:
    """Log loss's per-bin terms into ``logs[0]``: ``(−log p)·pos + (−log(1 − p))·neg``
    from the logarithms NumPy took (``logs[0]``, ``logs[1]``), the operations of
    :func:`mlscope.metrics.binary_proba.binary_log_loss` in their order."""
    for b in range(pos.size):
        logs[0, b] = (-logs[0, b]) * pos[b] + (-logs[1, b]) * neg[b]


def _row_loss_args(s: npt.NDArray[Any], y8: npt.NDArray[np.int8], lo: float, hi: float,
                   out: npt.NDArray[np.float64]) -> None:
    """The argument of each row's log-loss logarithm: ``clip(s, lo, hi)`` for a positive
    row, ``clip(1 − s, lo, hi)`` for a negative one (``s`` widened to float64 first; NaN
    stays NaN), for NumPy's ``np.log`` to take in place
    (:func:`mlscope.engine.loss_cells.log_loss_cells`)."""
    for i in range(out.size):
        x = float(s[i])  # float32 → float64: exact
        v = x if y8[i] != 0 else 1.0 - x
        if v < lo:
            v = lo
        if v > hi:
            v = hi
        out[i] = v


def _cell_subtract(logs: npt.NDArray[np.float64], code: npt.NDArray[Any],
                   bounds: npt.NDArray[np.int64], out: npt.NDArray[np.float64]) -> None:
    """``out[j, code[i]] −= logs[i]`` in row order for every row ``i`` of piece ``j``
    (``bounds[j] ≤ i < bounds[j + 1]``) that is in a cell (``code[i] ≥ 0``): the
    additions of ``np.bincount`` over each piece, subtracted from zero (``a − b`` is
    ``a + (−b)`` bit for bit, and rounding is symmetric in sign), or of
    ``np.subtract.at`` for one piece."""
    for j in range(bounds.size - 1):
        for i in range(bounds[j], bounds[j + 1]):
            c = code[i]
            if c >= 0:
                out[j, c] -= logs[i]


def _curve_bins(s: npt.NDArray[np.float64], pos: npt.NDArray[np.float64],
                neg: npt.NDArray[np.float64], total: float, bins: int,
                out: npt.NDArray[np.float64]) -> None:
    """The reliability curve's equal-mass bins (:func:`mlscope.metrics.calibration.bin_index`
    and its per-bin sums) of row counts, in one pass from the lowest score up.

    ``s``, ``pos``, ``neg`` are a histogram in descending order of probability, its
    weights ``pos + neg`` row counts summing to ``total > 0`` below 2³¹ (every partial sum
    exact, as the NumPy code's int32 cumulative sum). A score goes to bin
    ``min(floor(((C − w/2) / total) · bins), bins − 1)``, NumPy's operations in its order;
    ``out[0]``, ``out[1]``, ``out[2]`` (zeros on entry) get each bin's weight, sum of
    ``w · s`` and positives, added in ascending order of score as ``np.bincount`` adds them
    (the counts are exact in any order).
    """
    c = 0.0
    width = float(bins)
    top = float(bins - 1)
    for j in range(s.size - 1, -1, -1):
        p = pos[j]
        w = p + neg[j]
        c = c + w
        v = math.floor(((c - 0.5 * w) / total) * width)
        b = int(min(v, top))
        out[0, b] += w
        out[1, b] += w * s[j]
        out[2, b] += p


cell_counts, _COUNTS_CACHED = _jit(_cell_counts)
cell_fill, _FILL_CACHED = _jit(_cell_fill)
carried_counts, _CARRIED_COUNTS_CACHED = _jit(_carried_counts)
carried_fill, _CARRIED_FILL_CACHED = _jit(_carried_fill)

log_loss_args, _LL_ARGS_CACHED = _jit(_log_loss_args)
log_loss_terms, _LL_TERMS_CACHED = _jit(_log_loss_terms)
curve_bins, _CURVE_CACHED = _jit(_curve_bins)
row_loss_args, _ROW_LL_CACHED = _jit(_row_loss_args)
cell_subtract, _CELL_SUB_CACHED = _jit(_cell_subtract)

#: Every kernel keeps its machine code on disk: after the first run, a process loads it
#: (~0.4 s) instead of compiling (seconds).
CACHED = (_SORT_CACHED and _COUNTS_CACHED and _FILL_CACHED and _CARRIED_COUNTS_CACHED
          and _CARRIED_FILL_CACHED and _ROW_CACHED and _LL_ARGS_CACHED and _LL_TERMS_CACHED
          and _CURVE_CACHED and _ROW_LL_CACHED and _CELL_SUB_CACHED and _SUM_KERNELS_CACHED
          and _BUCKET_KERNELS_CACHED)


def warm() -> None:
    """Load the machine code of every kernel the unit-weight binary path calls, for the
    argument types it calls them with, by calling each on empty arrays (compiled where
    the on-disk cache has none): what the first real calls would otherwise do, on the
    threads that are waiting for them (:func:`mlscope.engine.kernel_choice.preload`)."""
    f, u = np.empty(0), np.empty(0, np.uint64)
    z64 = np.zeros(0, np.int64)
    sort_descending(f, np.empty(0, np.int8), np.empty(0, np.uint8), u, u.copy())
    carried_counts(u, np.uint64(0), np.uint64(0), np.int64(0), z64, z64.copy())
    carried_fill(u, np.uint64(0), np.uint64(0), np.int64(0), np.zeros(1, np.int64), f, f, f)
    # Log loss's buffer is a whole array (C) or the head of a larger one (any layout);
    # the kernels read as many bins as ``f`` has: none.
    for logs in (np.empty((2, 0)), np.empty((2, 4))[:, :2]):
        log_loss_args(f, 0.0, 1.0, logs)
        log_loss_terms(logs, f, f)
    curve_bins(f, f, f, 1.0, 1, np.zeros((3, 1)))
    # Each row's log loss: float32 or float64 scores, the cell codes' integer types.
    for scores in (f, np.empty(0, np.float32)):
        row_loss_args(scores, np.empty(0, np.int8), 0.0, 1.0, f)
    for code in (np.empty(0, np.int8), np.empty(0, np.int16), np.empty(0, np.int32), z64):
        cell_subtract(f, code, np.zeros(1, np.int64), np.zeros((1, 1)))
    binary_sums(f, f, f, np.zeros(3))
    logistic_arg(0.0, 1.0, f, f)
    logistic_sums(0.0, 1.0, f, f, f, f, f, np.zeros(6))
    # The bucket bootstrap's, for the cell codes' integer types.
    i32 = np.empty(0, np.int32)
    search_bins(u, f, np.zeros(1), np.uint64(0), np.uint64(0), np.uint64(0), i32,
                np.empty(0, np.bool_), i32, np.zeros(1, np.int64), np.zeros(1))
    for code in (np.empty(0, np.int8), np.empty(0, np.int16), i32):
        bucket_hist(i32, code, i32, np.empty(0, np.int8), 1, 1, i32)
