"""The bootstrap's whole-number path in binary_cells gives the same bits as the general one.

Seeded random tables with known structure: distinct scores (every segment one row), heavy
ties (segments of many rows), rows in no cell, empty cells, one class.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlscope.engine.bootstrap import resample_counts
from mlscope.engine.numpy_backend import Layout, binary_cells


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    # Strides too: the metrics' row sums follow the memory order, so a column-major batch
    # with equal values still gives other bits downstream.
    return (a.shape == b.shape and a.dtype == b.dtype
            and a.flags.c_contiguous == b.flags.c_contiguous
            and a.flags.f_contiguous == b.flags.f_contiguous
            and a.tobytes() == b.tobytes())


@pytest.mark.parametrize("case", ["distinct", "ties", "few", "dropped", "one_class", "tiny"])
@pytest.mark.parametrize("replicates", [1, 7])
def test_whole_counts_same_bits(case: str, replicates: int) -> None:
    rng = np.random.default_rng(abs(hash((case, replicates))) % 2**32)
    n = {"tiny": 3, "few": 40}.get(case, 2_000)
    score = rng.random(n).astype(np.float32).astype(np.float64)
    if case == "ties":
        score = np.round(score * 20) / 20
    if case == "few":
        score = np.round(score * 3) / 3
    y = (rng.random(n) < 0.3).astype(np.float64)
    if case == "one_class":
        y[:] = 0.0
    n_cells = 5
    cell = rng.integers(0, n_cells - 1, n)  # the last cell stays empty
    if case == "dropped":
        cell[rng.random(n) < 0.2] = -1
    W = resample_counts(rng, n, replicates)
    layout = Layout(score, cell, n_cells)
    fast = binary_cells(layout, y, W, n_cells, whole=True)
    slow = binary_cells(layout, y, W, n_cells)
    assert len(fast) == len(slow) == n_cells
    for f, s in zip(fast, slow, strict=True):
        assert _same(f.scores, s.scores)
        assert _same(f.pos, s.pos)
        assert _same(f.neg, s.neg)
        assert f.n_rows == s.n_rows


def test_not_whole_labels_keep_the_general_path() -> None:
    # Labels other than 0/1 (never from a binary table, but binary_cells does not assume
    # it): the whole-number shortcut W·(1 − y) = W − W·y would not hold, so it is skipped.
    rng = np.random.default_rng(3)
    n = 50
    score = rng.random(n)
    y = rng.random(n)
    W = resample_counts(rng, n, 3)
    layout = Layout(score, np.zeros(n, dtype=np.int64), 1)
    f = binary_cells(layout, y, W, 1, whole=True)[0]
    s = binary_cells(layout, y, W, 1)[0]
    assert _same(f.neg, s.neg)
    assert _same(f.pos, s.pos)
