"""Bootstrap replicates of binary statistics in time linear in the rows, for large splits.

The row bootstrap draws a count for every row in every replicate: ``R × n`` work per
model and slice, hours at 10 million rows. This module resamples *buckets* instead:

1. every row is assigned to one of ``B`` buckets uniformly at random (seeded), so bucket
   contents are independent and identically distributed;
2. one pass per model and grouping builds the histogram of (bucket, cell, score bin,
   label) with a single ``bincount``; score bins are quantiles of the model's scores plus
   every operating threshold as an exact edge, so threshold metrics see exactly the rows
   on each side of their threshold;
3. a replicate's histogram is ``Σ_b C[r, b] · H_b`` with ``C[r]`` the counts of an ordinary
   bootstrap of the ``B`` buckets (a matrix product), the same ``C`` for every model and
   slice, so model differences stay paired.

Resampling iid buckets of rows is the bootstrap of bucket totals; for statistics that
are smooth functions of such totals (every binary metric here) it estimates the same
sampling distribution as the row bootstrap once ``B`` is in the hundreds. Binning moves
a replicate's value by at most the within-bin ties it introduces; the pipeline therefore
uses the replicates only for their *spread*: each interval is shifted by the difference
between the exact point estimate and the binned one (see ``docs/computation.md``).
Coverage is checked by simulation in ``tests/test_intervals.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from mlscope.engine import kernel_choice
from mlscope.engine.searchbins import EdgeSearch
from mlscope.metrics.stats import BinaryStats

__all__ = ["BinnedScores", "bin_scores", "bucketed_binary_cells", "cells_from_bucket_histogram",
           "edge_sample"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Entries of one (bucket, cell, bin, label) histogram held at once; larger groupings are
# processed in chunks of cells, so memory does not grow with the number of slices.
_MAX_HIST = 1 << 24
_EDGE_SAMPLE = 200_000


class BinnedScores:
    """Each row's score bin and every bin's representative score.

    ``codes[i]`` is row ``i``'s bin (``0 .. n_bins - 1``, ascending score); ``values`` the
    mean score of the rows in each bin (strictly increasing, as bins do not overlap).
    """

    def __init__(self, codes: npt.NDArray[np.int32], values: FloatArray) -> None:
        self.codes = codes
        self.values = values

    @property
    def n_bins(self) -> int:
        return int(self.values.size)


def edge_sample(n: int, rng: np.random.Generator) -> npt.NDArray[np.int64] | None:
    """The rows whose scores place the quantile edges of :func:`bin_scores` (None: all).

    Drawn apart from the binning so that a caller binning several models on threads draws
    the samples first, in model order: the same draws as binning them one after another.
    """
    return None if n <= _EDGE_SAMPLE else rng.integers(0, n, _EDGE_SAMPLE)


def bin_scores(
    score: FloatArray, n_bins: int, thresholds: Iterable[float],
    rng: np.random.Generator | None, *, sample: npt.NDArray[np.int64] | None = None,
) -> BinnedScores:
    """Bin ``score`` at (sampled) quantiles plus every threshold as an exact edge.

    A row is in bin ``k`` when ``edges[k-1] <= score < edges[k]``, so for a threshold ``t``
    that is an edge, the bins at or above it hold exactly the rows with ``score >= t``:
    the rule of every threshold metric. The quantiles are those of the rows ``sample``
    (from :func:`edge_sample`) when given, else of a sample drawn from ``rng`` now.
    """
    n = score.size
    if sample is None and rng is not None:
        sample = edge_sample(n, rng)
    sample_scores = score if sample is None else score[sample]
    qs = np.quantile(sample_scores, np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
    edges = np.unique(np.concatenate([qs, np.asarray(list(thresholds), dtype=np.float64)]))
    # np.searchsorted(edges, score, side="right") by table: the same bins, in a fraction
    # of the binary searches' time on millions of rows (mlscope.engine.searchbins).
    search = EdgeSearch(edges)
    got = _compiled_bins(search, score)
    raw: npt.NDArray[np.signedinteger[Any]]
    sums: FloatArray
    if got is None:
        raw = search(score)
        counts = np.bincount(raw, minlength=edges.size + 1)
        sums = np.bincount(raw, weights=score, minlength=edges.size + 1).astype(np.float64,
                                                                                copy=False)
    else:
        raw, counts, sums = got
    keep = counts > 0
    remap = (np.cumsum(keep) - 1).astype(np.int32)
    codes = remap[raw]
    values = sums[keep] / counts[keep]
    return BinnedScores(codes, values)


def _compiled_bins(search: EdgeSearch, score: FloatArray
                   ) -> tuple[npt.NDArray[np.int32], IntArray, FloatArray] | None:
    """``search(score)`` and the bins' counts and score sums, as NumPy's two ``bincount``
    calls give them, from the compiled kernel in one pass (0.03 s against 0.18 s at 10M
    rows); None where NumPy must run (no kernel loaded, no table for these scores)."""
    kernels = kernel_choice.loaded(int(score.size))
    table = search.table_for(score) if kernels is not None else None
    if kernels is None or table is None or table[3].dtype != np.int32 or not (
            score.flags.c_contiguous):
        return None
    lo, hi, shift, at_first, ambiguous = table
    raw = np.empty(score.size, dtype=np.int32)
    counts = np.zeros(search.edges.size + 1, dtype=np.int64)
    sums = np.zeros(search.edges.size + 1)
    try:
        kernels.search_bins(score.view(np.uint64), score, search.edges, lo, hi,
                            np.uint64(shift), at_first, ambiguous, raw, counts, sums)
    except Exception as exc:  # a compilation or runtime failure of the optional kernel
        kernel_choice.give_up(f"the bucket kernel failed ({type(exc).__name__}: {exc})")
        return None
    return raw, counts, sums


def _compiled_hist(b: npt.NDArray[np.int32], cc: npt.NDArray[np.integer],
                   bc: npt.NDArray[np.int32], yy: npt.NDArray[np.int8], nc: int, nb: int,
                   size: int) -> FloatArray | None:
    """One grouping's histogram (:func:`bucketed_binary_cells`' ``bincount`` of its keys,
    as float64) from the compiled kernel in one pass, or None where NumPy must run."""
    kernels = kernel_choice.loaded(int(b.size))
    if kernels is None or b.size >= 2**31 or cc.dtype not in (np.int8, np.int16, np.int32) or (
            not all(a.flags.c_contiguous for a in (b, cc, bc, yy))):
        return None
    # Filled, not calloc'ed: the kernel's scattered first writes would fault its pages in
    # one at a time (0.09 against 0.065 s at 10M rows and 2.6M entries).
    hist = np.full(size, 0, dtype=np.int32)
    try:
        kernels.bucket_hist(b, cc, bc, yy, nc, nb, hist)
    except Exception as exc:  # a compilation or runtime failure of the optional kernel
        kernel_choice.give_up(f"the bucket kernel failed ({type(exc).__name__}: {exc})")
        return None
    return hist.astype(np.float64)


def bucketed_binary_cells(
    binned: BinnedScores,
    y: npt.NDArray[np.int8],
    w: FloatArray | None,
    code: IntArray,
    n_cells: int,
    bucket: npt.NDArray[np.int32],
    n_buckets: int,
    counts: FloatArray,
) -> list[BinaryStats]:
    """Binned :class:`BinaryStats` of every cell, batch ``(1 + R,)``.

    Batch element 0 is the whole split (every bucket once, the binned point estimate);
    elements ``1..R`` are the replicates whose bucket counts are the rows of ``counts``
    (``(R, n_buckets)``). Rows with ``code < 0`` belong to no cell.
    """
    nb = binned.n_bins
    per_cell = 2 * nb
    chunk = max(1, _MAX_HIST // max(1, n_buckets * per_cell))
    # Every row in a cell and one chunk (the usual case): no row selection at all.
    every = n_cells <= chunk and code.size > 0 and int(code.min()) >= 0
    ok = None if every else code >= 0
    out: list[BinaryStats] = []
    for c0 in range(0, n_cells, chunk):
        c1 = min(n_cells, c0 + chunk)
        nc = c1 - c0
        sel = None if ok is None else ok & (code >= c0) & (code < c1)
        if sel is None or sel.all():
            b, cc, bc, yy, ww = bucket, code - c0 if c0 else code, binned.codes, y, w
        else:
            b, cc, bc, yy = bucket[sel], code[sel] - c0, binned.codes[sel], y[sel]
            ww = None if w is None else w[sel]
        size = n_buckets * nc * per_cell
        flat = (_compiled_hist(b, cc, bc, yy, nc, nb, size)
                if ww is None and bc.dtype == np.int32 else None)
        if flat is None:
            # ((b·nc + cc)·nb + bc)·2 + yy, in place in one int64 array (exact integers).
            key = b.astype(np.int64)
            key *= nc
            key += cc
            key *= nb
            key += bc
            key *= 2
            key += yy
            flat = np.bincount(key, weights=ww, minlength=size).astype(np.float64)
        hist = flat.reshape(n_buckets, nc, nb, 2)
        out += cells_from_bucket_histogram(hist, binned.values, counts,
                                           np.bincount(cc, minlength=nc))
    return out


def cells_from_bucket_histogram(
    hist: FloatArray, values: FloatArray, counts: FloatArray, rows_per_cell: npt.ArrayLike
) -> list[BinaryStats]:
    """Per-cell :class:`BinaryStats` (batch ``1 + R``) from a bucket histogram.

    Parameters
    ----------
    hist
        ``(B, n_cells, n_bins, 2)`` weighted counts of negatives (``[..., 0]``) and
        positives (``[..., 1]``) per bucket, cell and score bin (bins ascending). Any engine
        that can group by (bucket, cell, bin, label) can produce it.
    values
        ``(n_bins,)`` strictly increasing representative score of each bin.
    counts
        ``(R, B)`` bucket counts of the replicates.
    rows_per_cell
        Unweighted row count of each cell.
    """
    n_buckets, nc, nb, _ = hist.shape
    # Bucket weights of the binned point estimate (every bucket once) stacked on the
    # replicates', so element 0 of the batch is the full split.
    weights = np.vstack([np.ones((1, n_buckets)), counts])
    rep = (weights @ hist.reshape(n_buckets, nc * nb * 2)).reshape(-1, nc, nb, 2)
    sizes = np.asarray(rows_per_cell, dtype=np.int64)
    return [
        BinaryStats(values[::-1].copy(), np.ascontiguousarray(rep[:, i, ::-1, 1]),
                    np.ascontiguousarray(rep[:, i, ::-1, 0]), int(sizes[i]))
        for i in range(nc)
    ]
