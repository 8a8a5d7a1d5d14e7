"""Intervals: bootstrap replicates of every value, the same resamples for every model."""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

from mlscope.engine.bootstrap import percentile_interval
from mlscope.engine.protocol import Progress, Statistics
from mlscope.measure import compute, in_range, threshold_edges
from mlscope.pipeline.types import MetricTable, Replicates, Run, RunPlan, ValueKey

__all__ = ["MIN_DEFINED_SHARE", "intervals"]

FloatArray = npt.NDArray[np.float64]
# An interval is only formed when most replicates define the metric (a tiny slice may have
# one class in many resamples); otherwise it is left out and the reason recorded.
MIN_DEFINED_SHARE = 0.9


def _replicates(run: Run, plan: RunPlan, stats: Statistics, table: MetricTable,
                split: str, split_index: int, tick: Progress) -> dict[ValueKey, FloatArray]:
    """One split's replicate values of every defined metric, from the engine's batches."""
    t, metrics, index = run.table, plan.metrics, table.index

    def edges(mi: int) -> set[float]:
        return threshold_edges(metrics, table.thresholds, mi, t.score_type_of(mi))

    out: dict[ValueKey, list[FloatArray]] = {}
    done = 0
    for batch in stats.replicates(split, split_index, edges, tick):
        ss = batch.stats
        for j, mi in enumerate(batch.models):
            if not batch.centred and j:
                # A batch may hold every resample at once (small data): move the display
                # model by model while its metrics are read, not in one jump at the end.
                tick(f"intervals {split}", done + batch.size * j // len(batch.models),
                     run.resamples)
            for skey in table.slices:
                if batch.centred and (mi, skey) not in ss.task:
                    continue
                for met in metrics:
                    key = (split, mi, skey, met.id)
                    value = index[key].value
                    if value is None or met.software is not None:  # no rows behind it
                        continue
                    if batch.centred:
                        # Element 0 is the estimate on the same (binned) statistics: only
                        # the spread is used, centred on the reported estimate.
                        val, _ = compute(met, ss, mi, skey, table.thresholds, None,
                                         np.empty(0), score_type=t.score_type_of(mi),
                                         charter_scale=t.score_type)
                        arr = np.asarray(val, dtype=np.float64).reshape(-1)
                        out[key] = [arr[1:] + (value - arr[0])]
                        continue
                    val, _ = compute(met, ss, mi, skey, table.thresholds, batch.rows,
                                     batch.weights, score_type=t.score_type_of(mi),
                                     charter_scale=t.score_type)
                    arr = np.broadcast_to(np.asarray(val, dtype=np.float64), (batch.size,))
                    out.setdefault(key, []).append(arr)
        done += batch.size
    return {k: np.concatenate(v) for k, v in out.items()}


def intervals(run: Run, plan: RunPlan, stats: Statistics, table: MetricTable,
              tick: Progress) -> Replicates:
    """Replicates of every value on the splits with intervals; each value's percentile
    interval, kept inside the metric's range, is written onto the table's values."""
    ch, level = run.charter, run.level
    t3 = time.perf_counter()
    out = Replicates()
    if run.resamples > 0:
        for si, split in enumerate(plan.boot_splits):
            out.values.update(_replicates(run, plan, stats, table, split, si, tick))
        bounds_of = {met.id: met.info.bounds for met in plan.metrics}
        for key, arr in out.values.items():
            mv = table.index[key]
            if mv.value is None:
                continue
            ci = percentile_interval(arr, level, min_defined=MIN_DEFINED_SHARE)
            if ci is not None:
                mv.lower, mv.upper = in_range(ci, mv.value, bounds_of[key[3]],
                                              table.trials.get(key), level)
        out.note = (
            "percentile bootstrap over rows of each split; the same resamples for every model "
            "and slice (paired); operating thresholds held at the value chosen on the "
            "selection split"
        )
        bucketed = [s for s in plan.boot_splits if stats.resampling.get(s) == "buckets"]
        if bucketed:
            out.note += (
                f"; {' and '.join(bucketed)}: rows resampled in "
                f"{ch.intervals.buckets} random buckets with scores in up to "
                f"{stats.interval_bins} quantile bins (every "
                "threshold an exact bin edge), each interval shifted to centre on the "
                + ("exact" if stats.score_bins is None else "binned") + " estimate"
            )
    run.timings["bootstrap"] = time.perf_counter() - t3
    return out
