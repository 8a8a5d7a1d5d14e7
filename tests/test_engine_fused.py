"""The unit-weight fused path gives the same bits as the general layout path.

:func:`mlscope.engine.fused.binary_unit_cells` (one descending sort per model, one pass per
grouping) replaces :class:`~mlscope.engine.numpy_backend.Layout` + ``binary_cells`` for the
point estimate of an unweighted binary table; every array must be identical, on ties
(few distinct scores), tiny, empty and single-class cells, rows in no cell, and many cells.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlscope.engine.fused import binary_unit_cells, narrow_codes
from mlscope.engine.numpy_backend import Layout, binary_cells
from mlscope.metrics.binary import average_precision, roc_auc
from mlscope.metrics.stats import binary_stats


def _corpus() -> list[tuple[str, np.ndarray, np.ndarray, list[tuple[np.ndarray, int]]]]:
    rng = np.random.default_rng(16)
    out = []
    for name, n, distinct in (("continuous", 5000, None), ("ties-100", 4000, 100),
                              ("ties-2", 500, 2), ("one-row", 1, None), ("empty", 0, None)):
        s = rng.random(n) if distinct is None else rng.integers(0, distinct, n) / distinct
        y = (rng.random(n) < 0.2).astype(np.float64)
        overall = np.zeros(n, dtype=np.int64)
        where = np.where(rng.random(n) < 0.3, 0, -1).astype(np.int64)
        region = rng.integers(0, 7, n).astype(np.int64)
        # A cell holding only negatives, one of one row, and rows in no cell.
        if n > 10:
            region[:3] = 7
            y[:3] = 0.0
            region[3] = 8
            region[4:9] = -1
        many = rng.integers(0, 300, n).astype(np.int64)  # int16 codes, tiny cells
        groupings = [(overall, 1), (where, 1), (region, 9), (many, 300)]
        out.append((name, s, y, groupings))
    return out


@pytest.mark.parametrize("case", _corpus(), ids=lambda c: c[0])
def test_fused_equals_layout_bit_for_bit(case: tuple) -> None:
    _, s, y, groupings = case
    fused = binary_unit_cells(s, (y != 0).astype(np.int8),
                              [(narrow_codes(c, k), k) for c, k in groupings])
    for (code, k), cells in zip(groupings, fused, strict=True):
        ref = binary_cells(Layout(s, code, k), y, np.ones(s.size), k)
        assert len(cells) == len(ref) == k
        for a, b in zip(cells, ref, strict=True):
            assert a.n_rows == b.n_rows
            for x, z in ((a.scores, b.scores), (a.pos, b.pos), (a.neg, b.neg)):
                assert x.dtype == z.dtype
                assert x.shape == z.shape
                assert np.array_equal(x, z)  # bit for bit: no tolerance


def test_fused_matches_reference_statistics() -> None:
    rng = np.random.default_rng(3)
    s = rng.integers(0, 100, 3000) / 100.0
    y = (rng.random(3000) < 0.3).astype(np.float64)
    (cells,) = binary_unit_cells(s, y.astype(np.int8), [(np.zeros(3000, np.int8), 1)])
    ref = binary_stats(y, s)
    assert np.array_equal(cells[0].scores, ref.scores)
    assert roc_auc(cells[0]) == roc_auc(ref)
    assert average_precision(cells[0]) == average_precision(ref)


def test_narrow_codes_keeps_every_code() -> None:
    for k in (1, 127, 128, 40_000):
        code = np.arange(-1, k, dtype=np.int64)
        narrow = narrow_codes(code, k)
        assert np.array_equal(narrow.astype(np.int64), code)
        assert narrow.itemsize <= code.itemsize


def test_score_order_sorts_float32_and_float64_scores() -> None:
    from mlscope.engine.fused import score_order

    rng = np.random.default_rng(5)
    f32 = np.concatenate([rng.standard_normal(2000).astype(np.float32),
                          np.array([0.0, -0.0, 3.0, 3.0, -np.float32(1e-40)], np.float32)])
    for value in (f32.astype(np.float64), rng.random(3000), np.zeros(0), np.ones(1)):
        order = score_order(value)
        assert sorted(order.tolist()) == list(range(value.size))  # a permutation
        assert np.all(np.diff(value[order]) >= 0)


def test_exact_split_paths_agree_bit_for_bit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """On a charter's table (overall, columns, crosses, where): the unit-weight point path,
    and the layout path (weights 1.0 that are not recognised as unit: a batch of one) give
    the same bits."""
    from mlscope.engine.exact import ExactSplit
    from tests.exact_rows import charter_rows

    splits = ["validation", "test"]
    t, gs, levels, rows = charter_rows(tmp_path, 900, 11, splits)
    for s in splits:
        eng = ExactSplit(t, rows[s], gs, levels, y_shift=0.0, cache=False)
        for m in range(len(t.models)):
            fused, _ = eng.model_stats(m, rows[s].w)
            layout, _ = eng.model_stats(m, rows[s].w[None, :])  # the general path
            assert set(fused) == set(layout)
            for key, a in fused.items():
                b = layout[key]
                assert a.n_rows == b.n_rows
                assert np.array_equal(a.scores, b.scores)
                assert np.array_equal(a.pos, b.pos[0])
                assert np.array_equal(a.neg, b.neg[0])
