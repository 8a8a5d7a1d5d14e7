"""The metrics stage's scheduler (mlscope.pipeline.model_pool.per_model)."""

from __future__ import annotations

import gc
import json
import os
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlscope.pipeline.model_pool import per_model
from tests.conftest import base_charter, binary_frame


class _Tracker:
    """Counts the statistics alive at once (loaded, not yet released by every part)."""

    def __init__(self, n_parts: int) -> None:
        self.lock = threading.Lock()
        self.alive = 0
        self.peak = 0
        self.loaded: list[int] = []
        self.left: dict[int, int] = {}
        self.n_parts = n_parts

    def load(self, mi: int) -> dict[str, int]:
        with self.lock:
            self.alive += 1
            self.peak = max(self.peak, self.alive)
            self.loaded.append(mi)
            self.left[mi] = self.n_parts
        return {"model": mi}

    def done(self, mi: int) -> None:
        with self.lock:
            self.left[mi] -= 1
            if self.left[mi] == 0:
                self.alive -= 1


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("n", [0, 1, 2, 5, 7])
def test_results_in_order_and_bounded_memory(n: int, workers: int) -> None:
    tr = _Tracker(2)

    def square(mi: int, st: dict[str, int]) -> int:
        tr.done(mi)
        return st["model"] ** 2

    def name(mi: int, st: dict[str, int]) -> str:
        tr.done(mi)
        return f"m{st['model']}"

    out = per_model(n, workers, tr.load, [square, name])
    assert out == [[mi * mi, f"m{mi}"] for mi in range(n)]
    assert sorted(tr.loaded) == list(range(n))
    assert tr.peak <= max(workers, 1)
    assert tr.alive == 0


def test_parts_of_one_model_run_side_by_side() -> None:
    # Both parts of the only model must be running at once to pass the barrier (a
    # one-task-per-model pool would run them one after the other and break it).
    barrier = threading.Barrier(2, timeout=30)

    def part(mi: int, st: int) -> int:
        barrier.wait()
        return st

    assert per_model(1, 2, lambda mi: 7, [part, part]) == [[7, 7]]


def test_a_freed_slot_loads_the_next_model_before_waiting_parts() -> None:
    # Two threads, three models. Model 0's last part ends only once one of model 1's parts
    # runs, so model 1's other part is waiting in the queue when model 0 frees its slot;
    # model 1's parts then wait until model 2's statistics start loading. The thread that
    # freed the slot must take model 2's load before that waiting part: taken in arrival
    # order, both threads would sit in model 1's parts and nobody would load model 2
    # (the waits time out and the test fails).
    m0_started = threading.Event()
    m1_started = threading.Event()
    m2_loading = threading.Event()
    timed_out: list[str] = []

    def wait(event: threading.Event, what: str, timeout: float) -> None:
        if not event.wait(timeout):
            timed_out.append(what)

    def load(mi: int) -> int:
        if mi == 1:
            wait(m0_started, "model 0", 30)  # model 1's parts are queued after model 0's
        if mi == 2:
            m2_loading.set()
        return mi

    def first(mi: int, st: int) -> int:
        if mi == 0:
            m0_started.set()
        if mi == 1:
            m1_started.set()
            wait(m2_loading, "model 2", 10)
        return st

    def second(mi: int, st: int) -> int:
        if mi == 0:
            wait(m1_started, "model 1", 30)
        if mi == 1:
            m1_started.set()
            wait(m2_loading, "model 2", 10)
        return st

    assert per_model(3, 2, load, [first, second]) == [[0, 0], [1, 1], [2, 2]]
    assert timed_out == []


def test_a_failing_part_is_raised_and_stops_new_models() -> None:
    loaded: list[int] = []
    hold = threading.Event()  # never set: model 1 holds its slot for a second

    def load(mi: int) -> int:
        loaded.append(mi)
        return mi

    def boom(mi: int, st: int) -> int:
        if mi == 0:
            raise ValueError("model 0 failed")
        hold.wait(timeout=1.0)
        return st

    with pytest.raises(ValueError, match="model 0 failed"):
        per_model(6, 2, load, [boom])
    # Models 0 and 1 start together; the slot model 0 frees comes after its failure, so
    # no further model starts.
    assert loaded == [0, 1] or loaded == [1, 0]
    loaded.clear()
    with pytest.raises(ValueError, match="model 0 failed"):
        per_model(6, 1, load, [boom])
    assert loaded == [0]


def test_a_failing_load_is_raised() -> None:
    def load(mi: int) -> int:
        if mi == 1:
            raise KeyError("no statistics")
        return mi

    with pytest.raises(KeyError, match="no statistics"):
        per_model(4, 2, load, [lambda mi, st: st])
    with pytest.raises(KeyError, match="no statistics"):
        per_model(4, 1, load, [lambda mi, st: st])


def test_no_parts() -> None:
    assert per_model(3, 2, lambda mi: mi, []) == [[], [], []]


def test_threaded_metrics_stage_equals_the_serial_one(
        project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole result of a run finalised on threads (forced on a small table) is the
    serial run's, value for value and bit for bit (curves, thresholds, intervals)."""
    import mlscope
    import mlscope.engine.exact as exact

    df = binary_frame(n=3000, seed=11, grid=400)
    df["p_cont"] = np.random.default_rng(3).random(len(df))
    ch = base_charter()
    ch["data"]["models"]["cont"] = "p_cont"
    cpath = project(df, ch)

    def run(rows: int) -> dict[str, Any]:
        monkeypatch.setattr(exact, "THREAD_ROWS", rows)
        monkeypatch.setattr(os, "cpu_count", lambda: 2)
        out = mlscope.evaluate(cpath, resamples=20).to_dict()
        for key in ("timings", "provenance", "created_at", "run_id"):
            out.pop(key, None)
        return out

    serial = run(10**12)
    threaded = run(0)
    assert json.dumps(threaded, sort_keys=True) == json.dumps(serial, sort_keys=True)


class _Stats:
    """A model's statistics, weakly referenced to see when they are freed."""

    def __init__(self, mi: int) -> None:
        self.mi = mi


@pytest.mark.parametrize("workers", [2, 3])
def test_statistics_are_freed_before_later_models_load(workers: int) -> None:
    # Each load counts the statistics of earlier models still alive (not garbage): at most
    # the other threads' models. A thread that waited for its next task still holding
    # its last part (and so that part's model) kept one model too many per thread.
    alive: list[weakref.ref[_Stats]] = []
    seen: list[int] = []
    lock = threading.Lock()

    def load(mi: int) -> _Stats:
        with lock:
            seen.append(sum(r() is not None for r in alive))
            st = _Stats(mi)
            alive.append(weakref.ref(st))
        return st

    def part(mi: int, st: _Stats) -> int:
        time.sleep(0.002 * (mi % 3))  # uneven parts: threads wait for work at times
        return st.mi

    out = per_model(24, workers, load, [part, part])
    assert out == [[mi, mi] for mi in range(24)]
    assert max(seen) <= workers - 1, seen


def test_nothing_is_kept_alive_after_the_stage() -> None:
    # Without the cyclic garbage collector: everything the stage referenced (the loader's
    # owner, which holds the rows in the real stage) is freed when per_model returns.
    # (Closures that refer to one another form a cycle that only the collector frees: a
    # notebook evaluating in a loop then held every earlier run's rows.)
    class Owner:
        def load(self, mi: int) -> _Stats:
            return _Stats(mi)

    def part(mi: int, st: _Stats) -> int:
        return st.mi

    owner = Owner()
    ref = weakref.ref(owner)
    enabled = gc.isenabled()
    gc.disable()
    try:
        out = per_model(5, 2, owner.load, [part, part])
        del owner
        assert ref() is None
    finally:
        if enabled:
            gc.enable()
    assert out == [[mi, mi] for mi in range(5)]
