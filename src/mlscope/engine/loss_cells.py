"""Log loss summed per cell from each row's own term: one logarithm per row.

Built from a cell's histogram, log loss takes two logarithms per distinct score (one for
each label) in every grouping the score appears in: with continuous scores, about six
logarithms per row for three slice groupings. Summed straight from the rows it takes one,
only the one the row's label needs, shared by every grouping (a cell's sum is then the
metric's numerator: :func:`mlscope.metrics.binary_proba.binary_log_loss` reads it from
:attr:`~mlscope.metrics.stats.BinaryStats.loss_sums`).

The rows are taken in pieces of :data:`ROWS`, :data:`CHUNK` pieces at a time (in cache
from one operation to the next): each row's clipped argument, its logarithm (NumPy's
``np.log``, in place), and each cell's sum of every piece's terms in row order; the
pieces' sums are added along NumPy's pairwise tree
(:func:`~mlscope.metrics.pairwise.pairwise_blocks`), so a long cell's sum is as accurate
as a pairwise one over its pieces. A grouping of more than :data:`DENSE_CELLS` cells
(slice crosses) is summed row by row in order into one array instead, where a sum per
piece and cell would cost more than the terms. The compiled kernels
(:mod:`mlscope.engine.kernels`, when loaded) make the arguments and the sums with the
same operations in the same order as the NumPy code (``np.bincount`` per piece,
``np.subtract.at`` row by row): the same bits.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from mlscope.engine.kernel_choice import give_up, loaded
from mlscope.metrics.links import CLIP_EPS
from mlscope.metrics.pairwise import add_along, pairwise_blocks

__all__ = ["CHUNK", "DENSE_CELLS", "ROWS", "log_loss_cells"]

FloatArray = npt.NDArray[np.float64]
#: Rows per piece: a cell's sum inside a piece is a sequential one over at most this many
#: terms (relative error ≤ ~5e-13); the pieces' sums are added pairwise.
ROWS = 4096
#: Pieces per pass of the arguments and logarithms (32,768 rows: 256 kB of terms).
CHUNK = 8
#: Cells from which a grouping's sums run over all its rows in order (no per-piece sums).
DENSE_CELLS = 256


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
    # Pieces go CHUNK at a time (fewer calls; a chunk's terms still fit in cache).
    chunks = [pieces[i:i + CHUNK] for i in range(0, len(pieces), CHUNK)]
    buf: FloatArray = np.empty(max(c[-1][1] - c[0][0] for c in chunks))
    parts: list[list[FloatArray]] = []
    # A grouping of many cells is summed row by row into one running array: per-piece
    # arrays of every cell would cost more than the sums (its cells are small).
    running = {gi: np.zeros((1, k)) for gi, (_, k) in enumerate(groupings) if k > DENSE_CELLS}
    for chunk in chunks:
        lo, hi = chunk[0][0], chunk[-1][1]
        logs = buf[:hi - lo]
        if kernels is not None:
            kernels.row_loss_args(value[lo:hi], y8[lo:hi], CLIP_EPS, 1 - CLIP_EPS, logs)
        else:
            s = value[lo:hi].astype(np.float64)
            np.subtract(1.0, s, out=logs, where=y8[lo:hi] == 0)
            np.copyto(logs, s, where=y8[lo:hi] != 0)
            np.clip(logs, CLIP_EPS, 1 - CLIP_EPS, out=logs)
        np.log(logs, out=logs)
        bounds = np.array([a - lo for a, _ in chunk] + [hi - lo], dtype=np.int64)
        per: list[FloatArray] = []
        for gi, (code, k) in enumerate(groupings):
            c = code[lo:hi]
            if gi in running:
                _running(kernels, logs, c, running[gi])
                continue
            out: FloatArray
            if kernels is not None:
                out = np.zeros((len(chunk), k))
                kernels.cell_subtract(logs, c, bounds, out)
            else:
                # Each piece's cells in one bincount (key: piece, then cell + 1), each
                # bin summed in row order; ``0 − (0 + l₁ + l₂ …)`` is ``0 − l₁ − l₂ …``
                # bit for bit (rounding to nearest is symmetric in sign; an empty cell
                # stays +0): the kernel's subtractions.
                key = np.repeat(np.arange(len(chunk), dtype=np.intp) * (k + 1),
                                np.diff(bounds))
                key += c
                key += 1
                out = np.bincount(key, weights=logs, minlength=len(chunk) * (k + 1)
                                  ).astype(np.float64, copy=False).reshape(len(chunk), k + 1)
                out = np.subtract(0.0, out[:, 1:])
            per.append(out)
        parts.extend([o[j] for o in per] for j in range(len(chunk)))
    dense = add_along(tree, [tuple(p) for p in parts]) if parts and parts[0] else ()
    it = iter(dense)
    return [running[gi][0] if gi in running else next(it) for gi in range(len(groupings))]


def _running(kernels: ModuleType | None, logs: FloatArray, code: npt.NDArray[Any],
             total: FloatArray) -> None:
    """``total[0, code[i]] −= logs[i]`` for every row in a cell, in row order."""
    if kernels is not None:
        kernels.cell_subtract(logs, code, np.array([0, logs.size], dtype=np.int64), total)
        return
    keep = code >= 0
    # ufunc.at applies one row after the other: the kernel's order, so its bits.
    np.subtract.at(total[0], code[keep], logs[keep])
