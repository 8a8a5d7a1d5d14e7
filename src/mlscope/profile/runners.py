"""The load generators: single-stream, server (open-loop Poisson), the QPS search, offline
and the batch-size sweep (the scenarios of MLPerf LoadGen).

Every runner takes ``predict`` (one call on one prepared batch) and ``batches`` (inputs
prepared before the clock starts, so slicing a DataFrame is not measured) and returns raw
latencies in nanoseconds from :func:`time.perf_counter_ns`. The clock and the sleep are
parameters so that the scheduling logic can be tested on a simulated clock; a real run
uses the defaults.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from mlscope.errors import InputError
from mlscope.profile.statistics import percentile_estimate

__all__ = [
    "Clock",
    "QpsSearch",
    "ServerRun",
    "offline",
    "poisson_schedule",
    "qps_search",
    "server",
    "single_stream",
]

IntArray = npt.NDArray[np.int64]
Predict = Callable[[Any], Any]
# time.sleep overshoots by ~0.1 ms at 1 ms: sleep to this much before the arrival, then
# spin, so that requests start on their schedule rather than a sleep's wake-up late.
_SPIN_NS = 200_000


@dataclass
class Clock:
    """The clock and sleep a runner uses (defaults: the process's real ones)."""

    now_ns: Callable[[], int] = time.perf_counter_ns
    sleep_s: Callable[[float], None] = time.sleep

    def wait_until(self, t_ns: int) -> None:
        """Return at ``t_ns`` (or at once if it has passed)."""
        while True:
            left = t_ns - self.now_ns()
            if left <= 0:
                return
            if left > _SPIN_NS:
                self.sleep_s((left - _SPIN_NS) / 1e9)
            elif self.sleep_s is not time.sleep:
                self.sleep_s(left / 1e9)  # a simulated clock has nothing to spin on


REAL_CLOCK = Clock()


def _check_batches(batches: Sequence[Any]) -> None:
    if len(batches) == 0:
        raise InputError("no input rows to profile with; the data sample is empty")


def single_stream(predict: Predict, batches: Sequence[Any], calls: int,
                  clock: Clock = REAL_CLOCK) -> IntArray:
    """Closed loop: one query at a time, the next issued when the previous returns.

    Returns the ``calls`` latencies (ns) in call order, warm-up included (detect it with
    :func:`mlscope.profile.statistics.detect_warmup`).
    """
    _check_batches(batches)
    if calls < 1:
        raise InputError(f"--calls must be at least 1, got {calls}")
    out = np.empty(calls, dtype=np.int64)
    now = clock.now_ns
    for i in range(calls):
        x = batches[i % len(batches)]
        t0 = now()
        predict(x)
        out[i] = now() - t0
    return out


def poisson_schedule(qps: float, calls: int, seed: int) -> IntArray:
    """Arrival times (ns after the start) of a Poisson process at ``qps``, computed up front.

    Interarrival times are exponential with mean ``1/qps``; the first arrival is at 0.
    """
    if not qps > 0:
        raise InputError(f"--qps must be greater than 0, got {qps!r}; give the target "
                         "queries per second, e.g. --qps 50")
    if calls < 1:
        raise InputError(f"--calls must be at least 1, got {calls}")
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1e9 / qps, calls)
    gaps[0] = 0.0
    return np.cumsum(gaps).astype(np.int64)


@dataclass(frozen=True)
class ServerRun:
    """One open-loop run: the schedule, and per request its start and completion (ns
    after the run's start). ``latencies`` are completion − scheduled arrival, so the time
    a request waited behind slower ones is counted (no coordinated omission)."""

    qps: float
    seed: int
    scheduled: IntArray
    started: IntArray
    completed: IntArray

    @property
    def latencies(self) -> IntArray:
        return self.completed - self.scheduled

    @property
    def queueing(self) -> IntArray:
        return self.started - self.scheduled

    @property
    def achieved_qps(self) -> float:
        """Requests completed per second of the run (≤ the target when the model lags)."""
        span = int(self.completed[-1])
        return float(self.completed.size / (span / 1e9)) if span > 0 else float("inf")


def server(predict: Predict, batches: Sequence[Any], qps: float, calls: int, *,
           seed: int = 0, clock: Clock = REAL_CLOCK) -> ServerRun:
    """Open loop: requests arrive on a Poisson schedule at ``qps``, whatever the model does.

    One worker serves a first-in, first-out queue: the schedule is computed before the
    run, and request ``i`` starts at its scheduled arrival or when request ``i − 1``
    completes, whichever is later. This is exactly a single-server queue (the model is
    called from one thread, as a single-instance server would), and it needs no
    dispatcher thread whose own delays would shift arrivals. Latency is measured from the
    *scheduled* arrival, so a slow call delays the requests behind it and their waiting is
    reported (a closed-loop tool that waits for each reply before sending the next hides
    it: coordinated omission).
    """
    _check_batches(batches)
    sched = poisson_schedule(qps, calls, seed)
    started = np.empty(calls, dtype=np.int64)
    completed = np.empty(calls, dtype=np.int64)
    now = clock.now_ns
    t0 = now()
    for i in range(calls):
        clock.wait_until(t0 + int(sched[i]))
        started[i] = now() - t0
        predict(batches[i % len(batches)])
        completed[i] = now() - t0
    return ServerRun(qps, seed, sched, started, completed)


@dataclass(frozen=True)
class QpsSearch:
    """The highest QPS found whose p-th percentile latency's upper bound stays within the
    bound, with every trial made (``trials``: qps, upper bound in ms, passed)."""

    qps: float | None
    latency_bound_ms: float
    percentile: float
    confidence: float
    calls_per_trial: int
    trials: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"qps": self.qps, "latency_bound_ms": self.latency_bound_ms,
                "percentile": self.percentile, "confidence": self.confidence,
                "calls_per_trial": self.calls_per_trial, "trials": self.trials}


def qps_search(predict: Predict, batches: Sequence[Any], *, latency_bound_ms: float,
               start_qps: float, calls: int, percentile: float = 99.0,
               confidence: float = 0.95, steps: int = 6, seed: int = 0,
               clock: Clock = REAL_CLOCK) -> QpsSearch:
    """Bisection for the highest Poisson QPS whose ``percentile`` latency's upper bound
    (order statistic, at ``confidence``) stays within ``latency_bound_ms``.

    ``start_qps`` is a first guess (e.g. 1 / the single-stream mean latency: the most one
    worker can serve). The bracket is found by doubling (at most 12 times) or halving (at
    most 4 times: at a sixteenth of the capacity a request rarely waits, so a model that
    fails there fails at every rate) from it, then halved ``steps`` times; each trial is a
    :func:`server` run of ``calls`` requests with its own seed. A trial without enough
    calls for the bound fails (an unbounded p99 is no pass).
    """
    if not latency_bound_ms > 0:
        raise InputError(f"--latency-bound-ms must be greater than 0, got {latency_bound_ms!r}")
    if not start_qps > 0:
        raise InputError(f"--qps must be greater than 0, got {start_qps!r}")
    trials: list[dict[str, Any]] = []

    def passes(q: float) -> bool:
        run = server(predict, batches, q, calls, seed=seed + len(trials), clock=clock)
        est = percentile_estimate(run.latencies, percentile, confidence)
        up = None if est.upper is None else est.upper / 1e6
        ok = up is not None and up <= latency_bound_ms
        trials.append({"qps": q, "upper_ms": up, "value_ms": est.value / 1e6,
                       "achieved_qps": run.achieved_qps, "passed": ok})
        return ok

    lo, hi = 0.0, start_qps
    if passes(hi):
        lo = hi
        for _ in range(12):  # at most 4096 × the guess
            hi = lo * 2
            if not passes(hi):
                break
            lo = hi
        else:
            hi = lo
    else:
        # Below a sixteenth of the guess (≈ the capacity) requests hardly queue: the p99 is
        # the model's own, and no lower QPS will pass. Stop there (and spare runs of
        # `calls / qps` seconds each at ever lower rates).
        for _ in range(4):
            cand = hi / 2
            if passes(cand):
                lo = cand
                break
            hi = cand
    if lo > 0:
        for _ in range(steps):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if passes(mid) else (lo, mid)
    return QpsSearch(lo if lo > 0 else None, latency_bound_ms, percentile, confidence,
                     calls, trials)


def offline(predict: Predict, batch: Any, rows: int, repeats: int,
            clock: Clock = REAL_CLOCK) -> dict[str, Any]:
    """Throughput on one large batch: ``repeats`` calls on ``batch`` of ``rows`` rows.

    Returns the per-call latencies (ns) and rows per second at their median (the median
    call: robust to one slow call; the mean is given too).
    """
    if rows < 1:
        raise InputError(f"a batch size must be at least 1, got {rows}")
    lat = single_stream(predict, [batch], repeats, clock)
    med = float(np.median(lat))
    return {"rows": rows, "calls": repeats, "latency_ns": lat,
            "throughput_rows_per_s": rows / (med / 1e9) if med > 0 else float("inf"),
            "throughput_mean_rows_per_s": rows * repeats / (float(lat.sum()) / 1e9)
            if lat.sum() > 0 else float("inf")}
