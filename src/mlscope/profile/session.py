"""Profile one loaded model through the scenarios asked for, into plain data.

The record of a model (``profile_model``) holds, per scenario, the raw-latency summary
(warm-up detected and set aside, never rounded), p50/p90/p95/p99 with their order-statistic
bounds, and for the server the schedule's figures; every latency is in milliseconds in the
record (computed from integer nanoseconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from mlscope.errors import InputError
from mlscope.profile.loaders import LoadedModel, prepare_batches
from mlscope.profile.runners import REAL_CLOCK, Clock, offline, qps_search, server, single_stream
from mlscope.profile.statistics import detect_warmup, min_calls_for_upper_bound, percentile_estimate

__all__ = ["PERCENTILES", "ProfileOptions", "latency_summary", "profile_model"]

PERCENTILES = (50.0, 90.0, 95.0, 99.0)
Scenario = Literal["single-stream", "server", "offline", "all"]


@dataclass(frozen=True)
class ProfileOptions:
    """What to run: the scenario(s), calls per run, the server's QPS and latency bound, the
    batch sizes (the largest is the offline batch), confidence and seed."""

    scenario: Scenario = "all"
    calls: int = 1000
    qps: float | None = None
    latency_bound_ms: float | None = None
    batch_sizes: tuple[int, ...] = (1, 8, 64)
    confidence: float = 0.95
    seed: int = 0
    sweep_calls: int = 50

    def check(self) -> None:
        """Raise :class:`InputError` for a value no run can use (exit 2)."""
        if self.calls < 1:
            raise InputError(f"--calls must be at least 1, got {self.calls}")
        if self.qps is not None and not self.qps > 0:
            raise InputError(f"--qps must be greater than 0, got {self.qps:g}; give the "
                             "target queries per second, e.g. --qps 50")
        if self.latency_bound_ms is not None and not self.latency_bound_ms > 0:
            raise InputError(f"--latency-bound-ms must be greater than 0, got "
                             f"{self.latency_bound_ms:g}; e.g. --latency-bound-ms 50")
        bad = [b for b in self.batch_sizes if b < 1]
        if bad or not self.batch_sizes:
            raise InputError(f"a batch size must be at least 1, got {bad[0] if bad else 'none'}"
                             "; write e.g. --batch-sizes 1,8,64")
        need = min_calls_for_upper_bound(99, self.confidence)
        if self.latency_bound_ms is not None and self.scenario in ("server", "all") \
                and self.calls < need:
            raise InputError(f"the QPS search bounds p99 from above, which needs at least "
                             f"{need} calls per trial at {self.confidence:.0%} confidence; "
                             f"got --calls {self.calls}: raise it, e.g. --calls 1000 (or "
                             "drop the latency bound)")
        if self.scenario == "server" and self.qps is None and self.latency_bound_ms is None:
            raise InputError("the server scenario needs a target: --qps Q (one run at Q "
                             "queries per second) or --latency-bound-ms B (search the "
                             "highest QPS whose p99 stays within B)")


def latency_summary(lat_ns: npt.NDArray[np.int64], confidence: float, *,
                    warmup: bool = True) -> dict[str, Any]:
    """Summary of raw latencies (ns): warm-up detected and set aside, then n, mean, min,
    max and each of :data:`PERCENTILES` with its bounds, in milliseconds."""
    lat = np.asarray(lat_ns, dtype=np.int64)
    w = detect_warmup(lat) if warmup and lat.size >= 20 else None
    kept = lat[w.calls:] if w is not None else lat
    ms = kept.astype(np.float64) / 1e6
    pct = {}
    for p in PERCENTILES:
        e = percentile_estimate(ms, p, confidence)
        pct[f"p{p:g}"] = {"value_ms": e.value, "upper_ms": e.upper, "low_ms": e.low,
                          "high_ms": e.high, "min_calls_for_upper": e.min_calls}
    return {
        "calls": int(lat.size), "measured": int(kept.size),
        "warmup": None if w is None else {**w.to_dict(), "threshold_ms": w.threshold / 1e6,
                                          "steady_median_ms": w.steady_median / 1e6},
        "mean_ms": float(ms.mean()), "min_ms": float(ms.min()), "max_ms": float(ms.max()),
        "std_ms": float(ms.std(ddof=1)) if ms.size > 1 else None,
        "confidence": confidence, "percentiles": pct,
        # The raw latencies, in call order and integer nanoseconds: nothing is rounded.
        "latencies_ns": [int(v) for v in lat],
    }


def profile_model(model: LoadedModel, rows: Any, opts: ProfileOptions,
                  clock: Clock = REAL_CLOCK) -> dict[str, Any]:
    """Run ``opts``' scenarios on ``model`` fed from ``rows`` (a DataFrame sample).

    Returns
    -------
    dict
        ``single_stream``, ``server``, ``qps_search``, ``offline`` and ``batch_sweep``
        (each ``None`` when not run, with ``notes`` saying why), plus the model's kind,
        predict method, serialized size and parameter count.
    """
    opts.check()
    scen = opts.scenario
    notes: list[str] = []
    out: dict[str, Any] = {
        "kind": model.kind, "source": model.source, "method": model.method,
        "size_mb": None if model.size_bytes is None else model.size_bytes / 1e6,
        "parameters": model.parameters, "single_stream": None, "server": None,
        "qps_search": None, "offline": None, "batch_sweep": None, "notes": notes,
    }
    one = prepare_batches(model, rows, 1, min(len(rows), opts.calls))
    notes.extend(model.notes)
    mean_ms: float | None = None
    if scen in ("single-stream", "server", "all"):
        ss = latency_summary(single_stream(model.predict, one, opts.calls, clock),
                             opts.confidence)
        mean_ms = ss["mean_ms"]
        if scen != "server":
            out["single_stream"] = ss
        need = min_calls_for_upper_bound(99, opts.confidence)
        if ss["measured"] < need:
            notes.append(f"single-stream: {ss['measured']} calls after warm-up give no upper "
                         f"bound on p99 (it needs {need}); raise --calls")
    if scen in ("server", "all"):
        if opts.qps is not None:
            run = server(model.predict, one, opts.qps, opts.calls, seed=opts.seed, clock=clock)
            s = latency_summary(run.latencies, opts.confidence, warmup=False)
            q = run.queueing.astype(np.float64) / 1e6
            s.update({"target_qps": opts.qps, "achieved_qps": run.achieved_qps,
                      "seed": opts.seed, "queueing_mean_ms": float(q.mean()),
                      "queueing_max_ms": float(q.max()),
                      "schedule": "Poisson, computed up front; latency from the scheduled "
                                  "arrival; one worker, first in first out"})
            out["server"] = s
        if opts.latency_bound_ms is not None:
            guess = 1e3 / mean_ms if mean_ms and mean_ms > 0 else 100.0
            found = qps_search(model.predict, one, latency_bound_ms=opts.latency_bound_ms,
                               start_qps=opts.qps or guess, calls=opts.calls,
                               confidence=opts.confidence, seed=opts.seed, clock=clock)
            out["qps_search"] = found.to_dict()
        if opts.qps is None and opts.latency_bound_ms is None:
            notes.append("server: not run (give --qps or --latency-bound-ms)")
    if scen in ("offline", "all"):
        sweep = []
        for b in sorted(set(opts.batch_sizes)):
            batches = prepare_batches(model, rows, b, 1)
            res = offline(model.predict, batches[0], b, opts.sweep_calls, clock)
            s = latency_summary(res.pop("latency_ns"), opts.confidence,
                                warmup=opts.sweep_calls >= 20)
            sweep.append({"batch_size": b, **res, "latency": s})
        out["batch_sweep"] = sweep
        out["offline"] = sweep[-1]
    return out
