"""search_right is np.searchsorted(edges, values, side="right"), element for element."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlscope.engine import searchbins
from mlscope.engine.searchbins import search_right
from tests.conftest import base_charter, binary_frame


def _check(edges: np.ndarray, values: np.ndarray) -> None:
    want = np.searchsorted(edges, values, side="right")
    got = search_right(edges, values)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.fixture(autouse=True)
def _table_always(monkeypatch: pytest.MonkeyPatch) -> None:
    # The table from the first value (the default starts at 65,536 values), built in
    # blocks of 1,000 ranges (a table has 1,024 to 2**20).
    monkeypatch.setattr(searchbins, "_TABLE_FROM", 1)
    monkeypatch.setattr(searchbins, "_BUILD_BLOCK", 1000)


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


def test_one_table_for_many_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(4)
    edges = np.sort(rng.random(300))
    search = searchbins.EdgeSearch(edges)
    builds = []
    build = searchbins.EdgeSearch._build

    def counted(self: searchbins.EdgeSearch):  # type: ignore[no-untyped-def]
        builds.append(1)
        return build(self)

    monkeypatch.setattr(searchbins.EdgeSearch, "_build", counted)
    for k in range(5):
        v = rng.random(1000 + k) * 1.2 - 0.1
        np.testing.assert_array_equal(search(v), np.searchsorted(edges, v, side="right"))
    assert builds == [1]
    f32 = rng.random(500).astype(np.float32)  # float32 values: compared as float64
    np.testing.assert_array_equal(search(f32), np.searchsorted(edges, f32, side="right"))


@pytest.mark.parametrize("binned", [False, True])
def test_runs_by_table_equal_runs_by_search(
        project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, binned: bool) -> None:
    """A whole run (binned mode, or the bucket bootstrap) binning by table gives the
    result of the same run searching every row."""
    import mlscope

    df = binary_frame(n=140_000, seed=2, grid=10**6)
    df["p_cont"] = np.random.default_rng(5).random(len(df))
    ch = base_charter()
    ch["data"]["models"]["cont"] = "p_cont"
    ch["intervals"] = {"resamples": 20, "resampling": "buckets"}
    cpath = project(df, ch)

    builds: list[int] = []
    build = searchbins.EdgeSearch._build

    def counted(self: searchbins.EdgeSearch):  # type: ignore[no-untyped-def]
        builds.append(1)
        return build(self)

    monkeypatch.setattr(searchbins.EdgeSearch, "_build", counted)

    def run(table_from: int) -> str:
        monkeypatch.setattr(searchbins, "_TABLE_FROM", table_from)
        res = mlscope.evaluate(cpath, binned=4096 if binned else None).to_dict()
        for key in ("timings", "provenance", "created_at", "run_id"):
            res.pop(key, None)
        return json.dumps(res, sort_keys=True)

    by_table = run(1 << 15)  # the splits hold about 56,000 rows each
    assert builds, "the tables were not used"
    assert by_table == run(1 << 62)
