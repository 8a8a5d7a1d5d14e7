"""Log loss summed per cell from each row's own term: one logarithm per row.

Built from a cell's histogram, log loss takes two logarithms per distinct score (one for
each label) in every grouping the score appears in: with continuous scores, about six
logarithms per row for three slice groupings. Summed straight from the rows it takes one,
only the one the row's label needs, shared by every grouping (a cell's sum is then the
metric's numerator: :func:`mlscope.metrics.binary_proba.binary_log_loss` reads it from
:attr:`~mlscope.metrics.stats.BinaryStats.loss_sums`).

The rows are taken in blocks of :data:`ROWS` (in cache from one operation to the next):
per block, each row's clipped argument, its logarithm (NumPy's ``np.log``, in place), and
each cell's sum of the block's terms in row order; the blocks' sums are added along
NumPy's pairwise tree (:func:`~mlscope.metrics.pairwise.pairwise_blocks`), so a long
cell's sum is as accurate as a pairwise one over its blocks. The compiled kernels
(:mod:`mlscope.engine.kernels`, when loaded) make the arguments and the block sums with
the same operations in the same order as the NumPy code: the same bits.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from mlscope.engine.kernel_choice import give_up, loaded
from mlscope.metrics.links import CLIP_EPS
from mlscope.metrics.pairwise import add_along, pairwise_blocks

__all__ = ["ROWS", "log_loss_cells"]

FloatArray = npt.NDArray[np.float64]
#: Rows per block: a block's arguments stay in cache, and a cell's sum inside a block is
#: a sequential one over at most this many terms (relative error ≤ ~5e-13).
ROWS = 4096


def log_loss_cells(value: npt.NDArray[Any], y8: npt.NDArray[np.int8],
                   groupings: list[tuple[npt.NDArray[Any], int]]) -> list[FloatArray]:
    """Each cell's sum of its rows' log-loss terms ``−log(clip(p))`` (``p``: the
    probability of the row's label), per grouping.

    Parameters
    ----------
    value
        Each row's probability of the positive label (float32 or float64; widened to
        float64 before the ``1 − p`` and the clip, as scikit-learn's ``log_loss``).
    y8
        Each row's label, 0 or 1, one byte per row.
    groupings
        Per grouping: each row's cell (a signed integer array, ``-1``: the row is in no
        cell) and the number of cells.

    Returns
    -------
    list of numpy.ndarray
        Per grouping, shape ``(n_cells,)``: each cell's sum (0 for an empty cell).
    """
    n = int(value.size)
    if n == 0:
        return [np.zeros(k) for _, k in groupings]
    pieces, tree = pairwise_blocks(n, ROWS)
    kernels = loaded(n)
    if kernels is not None:
        try:
            return _sums(value, y8, groupings, pieces, tree, kernels)
        except Exception as exc:  # the optional kernel failed: NumPy, the same bits
            give_up(f"the kernel failed ({type(exc).__name__}: {exc})")
    return _sums(value, y8, groupings, pieces, tree, None)


def _sums(value: npt.NDArray[Any], y8: npt.NDArray[np.int8],
          groupings: list[tuple[npt.NDArray[Any], int]], pieces: list[tuple[int, int]],
          tree: Any, kernels: ModuleType | None) -> list[FloatArray]:
    buf: FloatArray = np.empty(max(hi - lo for lo, hi in pieces))
    parts: list[tuple[FloatArray, ...]] = []
    for lo, hi in pieces:
        logs = buf[:hi - lo]
        if kernels is not None:
            kernels.row_loss_args(value[lo:hi], y8[lo:hi], CLIP_EPS, 1 - CLIP_EPS, logs)
        else:
            s = value[lo:hi].astype(np.float64)
            np.subtract(1.0, s, out=logs, where=y8[lo:hi] == 0)
            np.copyto(logs, s, where=y8[lo:hi] != 0)
            np.clip(logs, CLIP_EPS, 1 - CLIP_EPS, out=logs)
        np.log(logs, out=logs)
        block: list[FloatArray] = []
        for code, k in groupings:
            if kernels is not None:
                out: FloatArray = np.zeros(k)
                kernels.cell_subtract(logs, code[lo:hi], out)
            else:
                # ``0 − (0 + l₁ + l₂ …)`` is ``0 − l₁ − l₂ …`` bit for bit (rounding to
                # nearest is symmetric in sign; an empty cell stays +0): the kernel's.
                out = np.bincount(np.add(code[lo:hi], 1, dtype=np.intp), weights=logs,
                                  minlength=k + 1)[1:k + 1].astype(np.float64, copy=False)
                np.subtract(0.0, out, out=out)
            block.append(out)
        parts.append(tuple(block))
    return list(add_along(tree, parts))
