"""search_right is np.searchsorted(edges, values, side="right"), element for element."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlscope.engine import searchbins
from mlscope.engine.searchbins import search_right


def _check(edges: np.ndarray, values: np.ndarray) -> None:
    want = np.searchsorted(edges, values, side="right")
    got = search_right(edges, values)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.fixture(autouse=True)
def _table_always(monkeypatch: pytest.MonkeyPatch) -> None:
    # The table from the first value (the default starts at 65,536 values).
    monkeypatch.setattr(searchbins, "_TABLE_FROM", 1)


@pytest.mark.parametrize("seed", range(6))
def test_quantile_edges_of_continuous_scores(seed: int) -> None:
    rng = np.random.default_rng(seed)
    s = rng.random(200_000).astype(np.float32).astype(np.float64)
    edges = np.unique(np.concatenate([np.quantile(s[:5000], np.linspace(0, 1, 513)[1:-1]),
                                      [0.5]]))
    _check(edges, s)
    _check(edges, np.concatenate([edges, np.nextafter(edges, 2), np.nextafter(edges, -1)]))


def test_zeros_of_both_signs_and_tiny_values() -> None:
    tiny = np.array([-0.0, 0.0, 5e-324, -5e-324, 1e-308, -1e-308, 2.0, -2.0, np.inf, -np.inf])
    vals = np.tile(tiny, 50)
    for edges in ([0.0], [-0.0], [-0.0, 1.0], [-1.0, 0.0], [0.0, 5e-324], [-5e-324, 0.0],
                  [-np.finfo(float).max, 0.0, np.finfo(float).max], [1e-308, 2.0]):
        _check(np.asarray(edges), vals)


def test_values_outside_the_edges_and_nan() -> None:
    rng = np.random.default_rng(1)
    edges = np.sort(rng.normal(size=40))
    vals = np.concatenate([rng.normal(scale=10, size=5000), [np.nan, -np.nan, np.inf, -np.inf]])
    _check(edges, vals)
    _check(edges, -np.abs(vals) - 100)  # everything below the first edge
    _check(edges, np.abs(vals) + 100)  # everything above the last


def test_single_edge_repeated_values_and_small_span() -> None:
    _check(np.array([0.25]), np.full(1000, 0.25))
    _check(np.array([1.0, np.nextafter(1.0, 2)]), np.array([1.0, np.nextafter(1.0, 2), 0.0, 3.0]))
    _check(np.array([0.1, 0.2]), np.linspace(0.0, 0.3, 10_001))


def test_plain_search_where_the_table_does_not_apply() -> None:
    _check(np.array([]), np.arange(5.0))
    _check(np.array([0.0, np.nan]), np.arange(5.0) - 2)
    _check(np.array([1.0, 0.0]), np.arange(5.0) - 2)  # unsorted edges: searchsorted's own answer


@settings(max_examples=200, deadline=None)
@given(
    edges=st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1,
                   max_size=30),
    values=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1,
                    max_size=300),
)
def test_any_floats(edges: list[float], values: list[float]) -> None:
    e = np.unique(np.asarray(edges, dtype=np.float64))
    v = np.asarray(values, dtype=np.float64)
    _check(e, np.concatenate([v, e, -e]))
