"""The load generators of `mlscope profile`: the open-loop schedule (no coordinated
omission), the QPS search on a simulated clock, and real-time smoke tests that check
structure only (never how fast anything is)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mlscope.errors import InputError
from mlscope.profile.runners import (
    Clock,
    offline,
    poisson_schedule,
    qps_search,
    server,
    single_stream,
)


class FakeClock:
    """A simulated clock: sleeping and the model's service advance it, nothing else."""

    def __init__(self) -> None:
        self.t = 0

    def now_ns(self) -> int:
        return self.t

    def sleep_s(self, s: float) -> None:
        self.t += max(int(s * 1e9), 1)

    def clock(self) -> Clock:
        return Clock(now_ns=self.now_ns, sleep_s=self.sleep_s)

    def model(self, service_ms: float):
        def predict(_x: object) -> None:
            self.t += int(service_ms * 1e6)
        return predict


def test_poisson_schedule_has_the_target_rate() -> None:
    sched = poisson_schedule(200.0, 20_000, seed=4)
    gaps = np.diff(sched) / 1e9
    assert sched[0] == 0
    assert np.all(gaps >= 0)
    assert gaps.mean() == pytest.approx(1 / 200, rel=0.03)
    # Exponential gaps: a share e^-1 longer than the mean, coefficient of variation 1.
    assert (gaps > 1 / 200).mean() == pytest.approx(np.exp(-1), abs=0.02)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.05)
    # Arrivals in each second are Poisson(200): mean and variance both about 200.
    counts = np.bincount((sched // 10**9).astype(int))[:-1]
    assert counts.mean() == pytest.approx(200, rel=0.05)
    assert counts.var() == pytest.approx(200, rel=0.35)
    np.testing.assert_array_equal(sched, poisson_schedule(200.0, 20_000, seed=4))


def test_open_loop_counts_queueing_under_a_slow_model() -> None:
    fake = FakeClock()
    # Interarrival 5 ms, service 10 ms: the model keeps half the pace; requests queue.
    run = server(fake.model(10.0), [0], 200.0, 400, seed=1, clock=fake.clock())
    np.testing.assert_array_equal(run.scheduled, poisson_schedule(200.0, 400, seed=1))
    # A single FIFO worker: each request starts at its arrival or when the previous ends.
    prev_done = np.concatenate([[0], run.completed[:-1]])
    np.testing.assert_array_equal(run.started, np.maximum(run.scheduled, prev_done))
    np.testing.assert_array_equal(run.completed - run.started, 10_000_000)
    lat = run.latencies
    np.testing.assert_array_equal(lat, run.completed - run.scheduled)
    # The last request waited behind ~400 × 10 ms of work that arrived in ~2 s.
    assert lat[-1] == run.completed[-1] - run.scheduled[-1]
    assert lat[-1] / 1e6 > 1500
    assert run.achieved_qps == pytest.approx(100, rel=0.01)
    # A closed loop would have reported 10 ms for every call (coordinated omission).
    closed = single_stream(fake.model(10.0), [0], 400, fake.clock())
    assert np.all(closed == 10_000_000)
    assert np.percentile(lat, 99) > 100 * closed.max()


def test_open_loop_keeps_its_schedule_in_real_time() -> None:
    # A model that sleeps 20 ms at 200 QPS (interarrival 5 ms): request i cannot complete
    # before (i + 1) × 20 ms, so its latency from its *scheduled* arrival is at least that
    # minus the arrival. Lower bounds only: a busy machine makes them larger, not smaller.
    run = server(lambda _x: time.sleep(0.02), [0], 200.0, 15, seed=2)
    need = (np.arange(1, 16) * 20_000_000) - run.scheduled
    assert np.all(run.latencies >= need)
    assert np.all(run.started >= run.scheduled)
    assert np.all(run.completed > run.started)
    assert np.all(run.queueing[1:] > 0)


def test_qps_search_finds_the_capacity_of_a_fixed_service_time() -> None:
    fake = FakeClock()
    capacity = 1000 / 5.0  # 5 ms per request: 200 QPS at most
    tight = qps_search(fake.model(5.0), [0], latency_bound_ms=50.0, start_qps=capacity,
                       calls=2000, clock=fake.clock(), seed=3)
    loose = qps_search(fake.model(5.0), [0], latency_bound_ms=1000.0, start_qps=50.0,
                       calls=2000, clock=fake.clock(), seed=3)
    assert tight.qps is not None
    assert loose.qps is not None
    # With a bound of 10 service times the queue must stay short: well below capacity;
    # with 200 service times the search gets close to it.
    assert 0.6 * capacity < tight.qps < capacity
    assert 0.85 * capacity < loose.qps < 1.15 * capacity
    assert tight.qps < loose.qps
    # Every trial is recorded, and the answer is the highest one that passed.
    assert tight.qps == max(t["qps"] for t in tight.trials if t["passed"])
    assert all(t["upper_ms"] > 50.0 for t in tight.trials if not t["passed"])


def test_qps_search_reports_none_when_even_light_load_fails() -> None:
    fake = FakeClock()
    res = qps_search(fake.model(80.0), [0], latency_bound_ms=50.0, start_qps=12.5,
                     calls=400, clock=fake.clock())
    assert res.qps is None
    assert len(res.trials) == 5
    assert not any(
        t["passed"] for t in res.trials)


def test_offline_throughput_on_a_simulated_clock() -> None:
    fake = FakeClock()
    res = offline(fake.model(4.0), [0] * 64, 64, 10, fake.clock())
    assert res["throughput_rows_per_s"] == pytest.approx(64 / 0.004)
    assert res["latency_ns"].shape == (10,)


def test_real_time_smoke_structure() -> None:
    lat = single_stream(lambda x: sum(x), [[1, 2, 3]], 50)
    assert lat.dtype == np.int64
    assert lat.shape == (50,)
    assert np.all(lat >= 0)
    res = qps_search(lambda x: None, [0], latency_bound_ms=1000.0, start_qps=500.0,
                     calls=300, steps=1)
    assert res.trials
    assert {"qps", "upper_ms", "value_ms", "achieved_qps", "passed"} \
        <= set(res.trials[0])
    assert res.qps is not None
    assert res.qps >= 500.0


@pytest.mark.parametrize(("call", "match"), [
    pytest.param(lambda: poisson_schedule(0, 10, 0), "--qps must be greater than 0", id="qps0"),
    pytest.param(lambda: poisson_schedule(-5, 10, 0), "--qps", id="qps-negative"),
    pytest.param(lambda: single_stream(print, [], 10), "empty", id="no-rows"),
    pytest.param(lambda: offline(print, [], 0, 3), "batch size", id="batch0"),
    pytest.param(lambda: qps_search(print, [0], latency_bound_ms=0, start_qps=1, calls=10),
                 "latency-bound", id="bound0"),
])
def test_bad_arguments(call, match: str) -> None:
    with pytest.raises(InputError, match=match):
        call()
