"""The bucket bootstrap's compiled kernels (:mod:`mlscope.engine.bucket_kernels`) give the
NumPy code's values.

``search_bins`` must be ``np.searchsorted(edges, values, side="right")`` element for element,
with ``np.bincount``'s counts and (weighted) sums, bit for bit; ``bucket_hist`` the
``bincount`` of the histogram keys. Then :func:`mlscope.engine.bucketed.bin_scores` and
:func:`~mlscope.engine.bucketed.bucketed_binary_cells` must give the same arrays with the
kernels (``MLSCOPE_KERNEL=numba``) as without (``numpy``), and the kernels must have run.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlscope.engine import kernel_choice, searchbins
from mlscope.engine.bootstrap import resample_counts
from mlscope.engine.bucketed import bin_scores, bucketed_binary_cells
from mlscope.engine.searchbins import EdgeSearch
from tests.kernel_calls import CountingKernels

pytest.importorskip("numba")
from mlscope.engine import kernels


def _bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a).tobytes()


def _search_bins(edges: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, ...]:
    table = EdgeSearch(edges).table_for(values)
    assert table is not None
    lo, hi, shift, at_first, ambiguous = table
    raw = np.empty(values.size, np.int32)
    counts = np.zeros(edges.size + 1, np.int64)
    sums = np.zeros(edges.size + 1)
    kernels.search_bins(values.view(np.uint64), values, edges, lo, hi, np.uint64(shift),
                        at_first, ambiguous, raw, counts, sums)
    return raw, counts, sums


def _check(edges: np.ndarray, values: np.ndarray) -> None:
    raw, counts, sums = _search_bins(edges, values)
    want = np.searchsorted(edges, values, side="right")
    np.testing.assert_array_equal(raw, want)
    np.testing.assert_array_equal(counts, np.bincount(want, minlength=edges.size + 1))
    with np.errstate(all="ignore"):
        assert _bits(sums) == _bits(np.bincount(want, weights=values,
                                                minlength=edges.size + 1))


@pytest.fixture
def small_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    # The table from the first value (the default starts at 65,536 values).
    monkeypatch.setattr(searchbins, "_TABLE_FROM", 1)


@pytest.mark.usefixtures("small_tables")
@pytest.mark.parametrize("seed", range(4))
def test_search_bins_on_quantile_edges(seed: int) -> None:
    rng = np.random.default_rng(seed)
    s = rng.random(100_000).astype(np.float32).astype(np.float64)
    edges = np.unique(np.concatenate([np.quantile(s[:5000], np.linspace(0, 1, 513)[1:-1]),
                                      [0.5]]))
    _check(edges, s)
    # Every edge and its neighbours: the values a range with an edge inside must search.
    _check(edges, np.concatenate([edges, np.nextafter(edges, 2), np.nextafter(edges, -1)]))


@pytest.mark.usefixtures("small_tables")
def test_search_bins_at_zeros_tiny_and_outside_values() -> None:
    tiny = np.array([-0.0, 0.0, 5e-324, -5e-324, 1e-308, -1e-308, 2.0, -2.0, np.inf, -np.inf])
    vals = np.tile(tiny, 50)
    for edges in ([0.0], [-0.0, 1.0], [-1.0, 0.0], [0.0, 5e-324], [-5e-324, 0.0],
                  [-np.finfo(float).max, 0.0, np.finfo(float).max], [1e-308, 2.0]):
        _check(np.asarray(edges), vals)
    rng = np.random.default_rng(1)
    edges = np.sort(rng.normal(size=40))
    _check(edges, -np.abs(rng.normal(scale=10, size=500)) - 100)  # all below the edges
    _check(edges, np.abs(rng.normal(scale=10, size=500)) + 100)  # all above


@pytest.mark.usefixtures("small_tables")
@settings(max_examples=200, deadline=None)
@given(
    edges=st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1,
                   max_size=30),
    values=st.lists(st.floats(allow_nan=False, allow_infinity=True, width=64), min_size=1,
                    max_size=300),
)
def test_search_bins_any_floats(edges: list[float], values: list[float]) -> None:
    e = np.unique(np.asarray(edges, dtype=np.float64))
    _check(e, np.concatenate([np.asarray(values, dtype=np.float64), e, -e]))


def test_no_table_for_nan_or_few_values() -> None:
    search = EdgeSearch(np.array([0.25, 0.5]))
    assert search.table_for(np.full(10, 0.3)) is None  # below 2**16 values: searched
    many = np.linspace(0.0, 1.0, 1 << 16)
    assert search.table_for(many) is not None
    many[7] = np.nan
    assert search.table_for(many) is None


@pytest.fixture
def counting_bucket(monkeypatch: pytest.MonkeyPatch) -> CountingKernels:
    """The kernels, as :func:`kernel_choice.loaded` hands them out, counting their calls."""
    k = CountingKernels(kernels)
    monkeypatch.setattr(kernel_choice, "loaded", lambda n: k)
    return k


def _rows(n: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    score = rng.random(n).astype(np.float32).astype(np.float64)
    score[:: 97] = 0.5  # rows exactly at the threshold edge
    y = (rng.random(n) < score).astype(np.int8)
    return score, y


@pytest.mark.parametrize("n", [70_000, 200_003])
def test_bin_scores_same_with_and_without_kernels(counting_bucket: CountingKernels,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  n: int) -> None:
    score, _ = _rows(n, seed=n)
    sample = np.random.default_rng(0).integers(0, n, 20_000)
    got = bin_scores(score, 128, [0.5, 0.25], None, sample=sample)
    assert counting_bucket.calls.get("search_bins") == 1
    monkeypatch.setattr(kernel_choice, "loaded", lambda n: None)
    want = bin_scores(score, 128, [0.5, 0.25], None, sample=sample)
    np.testing.assert_array_equal(got.codes, want.codes)
    assert _bits(got.values) == _bits(want.values)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32])
@pytest.mark.parametrize("n_cells", [1, 3, 7])
def test_bucketed_cells_same_with_and_without_kernels(
        counting_bucket: CountingKernels, monkeypatch: pytest.MonkeyPatch,
        dtype: type[np.integer], n_cells: int) -> None:
    n, n_buckets = 90_000, 64
    score, y = _rows(n, seed=n_cells)
    rng = np.random.default_rng(n_cells)
    code = rng.integers(0, n_cells, n).astype(dtype)
    bucket = rng.integers(0, n_buckets, n, dtype=np.int32)
    counts = resample_counts(rng, n_buckets, 20)
    binned = bin_scores(score, 64, [0.5], None, sample=None)
    got = bucketed_binary_cells(binned, y, None, code, n_cells, bucket, n_buckets, counts)
    assert counting_bucket.calls.get("bucket_hist") == 1
    monkeypatch.setattr(kernel_choice, "loaded", lambda n: None)
    want = bucketed_binary_cells(binned, y, None, code, n_cells, bucket, n_buckets, counts)
    assert len(got) == len(want) == n_cells
    for g, w in zip(got, want, strict=True):
        assert g.n_rows == w.n_rows
        for a, b in ((g.scores, w.scores), (g.pos, w.pos), (g.neg, w.neg)):
            assert _bits(a) == _bits(b)
    # The histogram holds every row once: the point estimate's counts are the cell's rows.
    assert sum(float(g.pos[0].sum() + g.neg[0].sum()) for g in got) == n


def test_weighted_rows_stay_in_numpy_and_uncovered_rows_are_left_out(
        counting_bucket: CountingKernels, monkeypatch: pytest.MonkeyPatch) -> None:
    n, n_buckets = 80_000, 32
    score, y = _rows(n, seed=3)
    rng = np.random.default_rng(3)
    bucket = rng.integers(0, n_buckets, n, dtype=np.int32)
    counts = resample_counts(rng, n_buckets, 5)
    binned = bin_scores(score, 32, [0.5], None, sample=None)
    code = rng.integers(0, 2, n).astype(np.int8)
    bucketed_binary_cells(binned, y, rng.random(n), code, 2, bucket, n_buckets, counts)
    assert "bucket_hist" not in counting_bucket.calls  # row weights: NumPy's bincount
    code[::5] = -1  # rows in no cell: selected first, then counted by the kernel
    got = bucketed_binary_cells(binned, y, None, code, 2, bucket, n_buckets, counts)
    assert counting_bucket.calls.get("bucket_hist") == 1
    monkeypatch.setattr(kernel_choice, "loaded", lambda n: None)
    want = bucketed_binary_cells(binned, y, None, code, 2, bucket, n_buckets, counts)
    for g, w in zip(got, want, strict=True):
        assert _bits(g.pos) == _bits(w.pos)
        assert _bits(g.neg) == _bits(w.neg)
    assert sum(float(g.pos[0].sum() + g.neg[0].sum()) for g in got) == n - code[::5].size


def test_loaded_never_loads_and_respects_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(kernel_choice.KERNEL_ENV, "numpy")
    assert kernel_choice.loaded(10**8) is None
    monkeypatch.setenv(kernel_choice.KERNEL_ENV, "numba")
    got = kernel_choice.loaded(10)
    assert isinstance(got, ModuleType)
    assert got is kernels
