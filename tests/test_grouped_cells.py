"""One slice grouping's histograms at a time (mlscope.engine.split.GroupedCells).

The metrics stage reads a model's unit-weight binary statistics through GroupedCells:
each grouping is built when first read, and only the one being read is kept (the
reliability curve holds the overall slice's own statistics while it needs them).
Checked: the mapping's semantics, that the lazily built statistics are those of the eager
path bit for bit (compiled kernel and NumPy), that a whole evaluation builds each grouping
of each model exactly once (it reads them in order), and that nothing holds the overall
grouping once the next is built.
"""

from __future__ import annotations

import threading
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import mlscope
from mlscope.engine import split as split_module
from mlscope.engine.kernel_choice import KERNEL_ENV
from mlscope.engine.split import GroupedCells
from tests.conftest import base_charter, binary_frame


def _cells(calls: list[int]) -> GroupedCells:
    keys = [["overall"], ["r=a", "r=b"], ["d=x", "d=y", "d=z"]]

    def build(gi: int) -> list[Any]:
        calls.append(gi)
        return [f"{key}#{len(calls)}" for key in keys[gi]]

    return GroupedCells(3, keys, build)  # type: ignore[arg-type]


def test_each_grouping_is_built_once_when_read_in_order() -> None:
    calls: list[int] = []
    cells = _cells(calls)
    assert calls == []  # nothing built up front
    assert cells[(3, "overall")] == "overall#1"
    assert cells[(3, "r=a")] == "r=a#2"
    assert cells[(3, "r=b")] == "r=b#2"
    assert cells[(3, "d=z")] == "d=z#3"
    assert calls == [0, 1, 2]
    assert cells.builds == 3
    assert cells[(3, "overall")] == "overall#4"  # dropped like any other: rebuilt
    assert cells.builds == 4


def test_reading_another_grouping_drops_the_previous_one() -> None:
    calls: list[int] = []
    cells = _cells(calls)
    cells[(3, "r=a")]
    cells[(3, "d=x")]  # drops grouping 1
    assert cells[(3, "r=b")] == "r=b#3"  # rebuilt
    assert calls == [1, 2, 1]


def test_mapping_semantics_without_building() -> None:
    calls: list[int] = []
    cells = _cells(calls)
    assert (3, "r=a") in cells
    assert (4, "r=a") not in cells  # another model's key
    assert cells.get((3, "nope")) is None
    with pytest.raises(KeyError):
        cells[(3, "nope")]
    assert len(cells) == 6
    assert set(cells) == {(3, k) for k in ("overall", "r=a", "r=b", "d=x", "d=y", "d=z")}
    assert calls == []
    cells[(3, "extra")] = "set"  # type: ignore[assignment]
    assert cells[(3, "extra")] == "set"
    del cells[(3, "r=a")]
    assert (3, "r=a") not in cells
    with pytest.raises(KeyError):
        cells[(3, "r=a")]
    assert len(cells) == 6
    assert calls == []


def test_threads_reading_one_grouping_build_it_once() -> None:
    calls: list[int] = []
    start = threading.Barrier(4, timeout=30)
    cells = _cells(calls)
    got: list[Any] = []

    def read() -> None:
        start.wait()
        got.append(cells[(3, "overall")])

    threads = [threading.Thread(target=read) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert calls == [0]
    assert got == ["overall#1"] * 4


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("grouped")
    # Generated (seeded): float32 scores (the kernel's path) on a fine grid (ties and
    # distinct scores), two slice columns and their cross.
    df = binary_frame(n=3000, seed=4, grid=1000)
    for col in ("p_good", "p_fair", "p_weak"):
        df[col] = df[col].astype(np.float32)
    df.to_parquet(root / "eval.parquet", index=False)
    ch = base_charter()
    ch["slices"] = {"columns": ["region", "device"], "crosses": [["region", "device"]],
                    "min_size": 5}
    (root / "mlscope.yaml").write_text(yaml.safe_dump(ch, sort_keys=False), encoding="utf-8")
    return root / "mlscope.yaml"


@pytest.mark.parametrize(("kernel", "threads"),
                         [("numba", False), ("numpy", False), ("numba", True)])
def test_a_whole_evaluation_builds_each_grouping_once(
        project: Path, kernel: str, threads: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if kernel == "numba":
        pytest.importorskip("numba")
    monkeypatch.setenv(KERNEL_ENV, kernel)
    if threads:  # models side by side, each curve beside another model's values
        from mlscope.engine import exact as exact_module

        monkeypatch.setattr(exact_module, "THREAD_ROWS", 1)
        monkeypatch.setattr("os.cpu_count", lambda: 2)
    from mlscope.pipeline import measure as measure_module

    workers: list[int] = []
    real_pool = measure_module.per_model

    def pool(n: int, w: int, *args: Any) -> Any:
        workers.append(w)
        return real_pool(n, w, *args)

    monkeypatch.setattr(measure_module, "per_model", pool)
    made: list[GroupedCells] = []
    real = split_module.GroupedCells.__init__

    def spy(self: GroupedCells, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(split_module.GroupedCells, "__init__", spy)
    lazy = mlscope.evaluate(project, resamples=0)
    # Models x evaluated splits, each built grouping by grouping, every grouping once.
    splits = {v.split for v in lazy.values}
    models = {v.model for v in lazy.values}
    assert len(made) == len(models) * len(splits) >= 3 * 2
    groupings = 1 + 2 + 1  # overall, region, device, region x device
    assert all(c.builds == groupings for c in made), [c.builds for c in made]
    assert workers == [2 if threads else 1]
    monkeypatch.setattr(split_module.GroupedCells, "__init__", real)

    # The same values as the eager path (every grouping built at once).
    from mlscope.engine import exact

    eager_stats = exact.ExactSplit.model_stats

    def eager(self: Any, m: int, W: Any, *, lazy: bool = False) -> Any:
        return eager_stats(self, m, W)

    monkeypatch.setattr(exact.ExactSplit, "model_stats", eager)
    whole = mlscope.evaluate(project, resamples=0)
    a = [(v.split, v.model, v.slice, v.metric, v.value) for v in lazy.values]
    b = [(v.split, v.model, v.slice, v.metric, v.value) for v in whole.values]
    assert len(a) > 100
    assert [x[:4] for x in a] == [x[:4] for x in b]
    assert all((x[4] is None and y[4] is None) or
               (x[4] is not None and y[4] is not None and
                float(x[4]).hex() == float(y[4]).hex()) for x, y in zip(a, b, strict=True))
    assert [c.slope for c in lazy.reliability] == [c.slope for c in whole.reliability]
    assert len(lazy.reliability) == 3


def test_the_overall_histograms_are_freed_before_the_next_grouping_is_built(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The reliability curve reads the overall slice: it is made with the model's sort, so
    # that by the time the values build the next grouping, nothing holds the overall
    # grouping's arrays (one row-sized grouping at a time, not two).
    pytest.importorskip("numba")
    monkeypatch.setenv(KERNEL_ENV, "numba")
    real = split_module.GroupedCells.__init__
    checked: list[int] = []

    def spy(self: GroupedCells, model: int, keys: Any, build: Any) -> None:
        refs: list[weakref.ref[np.ndarray]] = []

        def tracked(gi: int) -> Any:
            if gi >= 1:
                assert refs
                assert all(r() is None for r in refs), "overall still held"
                checked.append(gi)
            out = build(gi)
            if gi == 0:
                for st in out:
                    for a in (st.scores, st.pos, st.neg):
                        refs.append(weakref.ref(a if a.base is None else a.base))
            return out

        real(self, model, keys, tracked)

    monkeypatch.setattr(split_module.GroupedCells, "__init__", spy)
    result = mlscope.evaluate(project, resamples=0)
    assert len(result.reliability) == 3
    assert len(checked) >= 3 * 2 * 3  # models x splits x later groupings
