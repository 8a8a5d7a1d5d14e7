"""Aggregate the rows into statistics, then finalise every metric from them."""

from __future__ import annotations

import os
import time

import numpy as np

from mlscope.engine.bounded import effective_trials
from mlscope.engine.exact import MAX_THREADS
from mlscope.engine.plan import OVERALL, SliceCell
from mlscope.engine.protocol import BucketPolicy, Progress, Request, Statistics
from mlscope.engine.split import SplitStatistics
from mlscope.measure import (
    choose_threshold,
    compute,
    is_number,
    safe_float,
    threshold_note,
    with_score_type,
)
from mlscope.metrics.links import threshold_on_scores
from mlscope.metrics.multiclass import confusion_matrix
from mlscope.metrics.spec import threshold_ref
from mlscope.metrics.stats import BinaryStats, MulticlassStats
from mlscope.pipeline.calibration import curve_statistics, reliability_curve
from mlscope.pipeline.model_pool import per_model
from mlscope.pipeline.software import software_values
from mlscope.pipeline.types import MetricTable, Run, RunPlan, ValueKey
from mlscope.result import (
    FLAGS_NONE,
    ConfusionMatrix,
    MetricValue,
    ReliabilityCurve,
    SliceInfo,
    ThresholdChoice,
)

__all__ = ["aggregate", "finalise"]

# A model's statistics per split, and its reliability curve: made, or the statistics to
# make it from (taken by the curve's part).
_Loaded = tuple[dict[str, SplitStatistics], list[BinaryStats | ReliabilityCurve]]


def _request(run: Run, plan: RunPlan) -> Request:
    ch, t, metrics = run.charter, run.table, plan.metrics
    custom = any(m.custom is not None for m in metrics)
    policy = BucketPolicy(
        mode=ch.intervals.resampling, eligible=t.task == "binary" and not custom,
        refusal=("intervals.resampling: buckets applies to binary tasks without custom "
                 f"metrics (this charter: task {t.task}"
                 + (", custom metrics" if custom else "") + "); use `rows` or `auto`"),
        buckets=ch.intervals.buckets, bins=ch.intervals.bins)
    # Fixed thresholds on the scale of each model's scores (a logit for logits): exact bin
    # edges in binned mode; an edge another model does not need only splits one of its bins.
    fixed = frozenset(
        edge for m in metrics if is_number(th := m.params.get("threshold"))
        for mi in range(len(t.models))
        if np.isfinite(edge := threshold_on_scores(th, t.score_type_of(mi))))
    loss = frozenset(m.spec.name for m in metrics
                     if m.spec is not None and m.spec.name in ("brier", "log_loss"))
    from mlscope.pipeline.calibration import CALIBRATION_METRICS

    per_row = frozenset(m.spec.name for m in metrics
                        if m.spec is not None and m.spec.name in CALIBRATION_METRICS)
    return Request(groupings=plan.groupings, levels=plan.levels, eval_splits=plan.eval_splits,
                   boot_splits=plan.boot_splits, n_boot=run.resamples, seed=run.seed,
                   y_shift=plan.y_shift, custom=custom, buckets=policy, fixed_edges=fixed,
                   loss_terms=loss, per_row_probability=per_row)


def aggregate(run: Run, plan: RunPlan, tick: Progress) -> Statistics:
    """The engine's statistics per split × model × cell (and what the replicates need)."""
    t1 = time.perf_counter()
    stats = run.engine.aggregate(run.table, _request(run, plan), tick)
    run.timings["aggregate"] = time.perf_counter() - t1
    return stats


def _level_order(cell: SliceCell, levels: list[list[str]]) -> tuple[int, ...]:
    return tuple(
        levels[i].index(v) if v in levels[i] else 10**6
        for i, v in zip(cell.grouping.columns, cell.values, strict=True)
    )


def _slices(plan: RunPlan, stats: Statistics) -> dict[str, SliceInfo]:
    """Every slice with its size per split, in the levels' order."""
    out: dict[str, SliceInfo] = {}
    point = stats.point
    for g in plan.groupings:
        found = {k: c for s in plan.eval_splits for k, c in point[s].cells.items()
                 if c.grouping == g}
        if g.kind in ("overall", "where"):
            found = {c.key: c for c in [SliceCell(g, ())]}
        for cell in sorted(found.values(), key=lambda c: _level_order(c, plan.levels)):
            out[cell.key] = SliceInfo(
                key=cell.key, kind=g.kind, columns=list(g.names), values=list(cell.values),
                definition=g.definition,
                sizes={s: point[s].sizes.get(cell.key, 0) for s in plan.eval_splits},
            )
    return out


def finalise(run: Run, plan: RunPlan, stats: Statistics) -> MetricTable:
    """Every metric per split × model × slice from the statistics.

    Per model: its statistics on every split, then two independent tasks on them: its
    reliability curve, and its operating thresholds (chosen on the selection split, all
    rows) followed by its values. A model's statistics are dropped once both are done, so
    memory holds one model's histograms at a time (as many as threads with threads:
    :func:`~mlscope.pipeline.model_pool.per_model`), and of those one slice grouping's
    (:class:`~mlscope.engine.split.GroupedCells`), plus the overall slice's while the
    curve is being made.
    """
    t, ch, metrics = run.table, run.charter, plan.metrics
    sel_split, min_size = plan.selection_split, ch.slices.min_size
    slice_infos = _slices(plan, stats)
    t2 = time.perf_counter()
    n_models = len(t.models)
    trials: dict[ValueKey, float | None] = {}
    confusion_by: dict[tuple[str, int], ConfusionMatrix] = {}

    def load(mi: int) -> _Loaded:
        pm = stats.model(mi)
        # The curve reads the overall slice's histograms, a row-sized grouping of their
        # own: made here, next to the model's sort, they are free again before the values
        # read the other groupings (GroupedCells keeps one), where a curve made beside
        # the values held them throughout. The last model's curve stays a part of its
        # own, to run beside its values on another thread (no later model waits).
        st = curve_statistics(run, plan, stats, pm, mi)
        if st is None:
            return pm, []
        return pm, [reliability_curve(run, plan, st, mi) if mi < n_models - 1 else st]

    def curve_of(mi: int, loaded: _Loaded) -> ReliabilityCurve | None:
        held = loaded[1]
        if not held:
            return None
        got = held.pop()
        return got if isinstance(got, ReliabilityCurve) else reliability_curve(
            run, plan, got, mi)

    def values_of(mi: int, loaded: _Loaded
                  ) -> tuple[list[ThresholdChoice], dict[tuple[int, str], float | None],
                             dict[ValueKey, MetricValue]]:
        pm, name = loaded[0], t.models[mi]
        rows_thr: list[ThresholdChoice] = []
        thr_m: dict[tuple[int, str], float | None] = {}
        for met in metrics:
            if (met.spec is None or not met.spec.is_operating_point(met.params)
                    or threshold_ref(met.params) is not None):
                continue
            st = with_score_type(pm[sel_split].task.get((mi, OVERALL)), t.score_type_of(mi))
            thr = choose_threshold(met, st) if st is not None else None
            thr_m[(mi, met.id)] = thr
            note = threshold_note(thr, t.score_type_of(mi))
            if (thr is not None and isinstance(st, BinaryStats) and st.scores.size
                    and thr > float(st.scores[0])):
                # Acting on no case is best (a constant score, costs that never pay):
                # the number alone would read as a cut among the scores.
                note = "; ".join(x for x in (f"{FLAGS_NONE} on {sel_split}: flags no row",
                                             note) if x)
            rows_thr.append(ThresholdChoice(
                model=name, metric=met.id, threshold=thr, chosen_on=sel_split, note=note,
            ))
        # `threshold: <id>`: the threshold that metric chose, once every metric chose.
        for met in metrics:
            if met.spec is None or (ref := threshold_ref(met.params)) is None:
                continue
            thr = thr_m.get((mi, ref))
            thr_m[(mi, met.id)] = thr
            rows_thr.append(ThresholdChoice(
                model=name, metric=met.id, threshold=thr, chosen_on=sel_split,
                note=f"the threshold `{ref}` chooses",
            ))
        vals: dict[ValueKey, MetricValue] = {}
        # Slice by slice, every split's cell of it: the splits read the same slice
        # grouping at the same time, so an engine that aggregates a grouping for every
        # split at once (duckdb) hands each split its part as soon as it has it.
        for skey, sinfo in slice_infos.items():
            for split in plan.eval_splits:
                n_rows = sinfo.sizes.get(split, 0)
                for met in metrics:
                    mv = MetricValue(split=split, model=name, slice=skey, metric=met.id,
                                     value=None, n_rows=n_rows)
                    if n_rows == 0:
                        mv.undefined = "no rows in this slice"
                    elif skey != OVERALL and n_rows < min_size:
                        mv.undefined = f"slice too small (n={n_rows} < min_size {min_size})"
                    elif met.error_index is not None and not t.has_errors(mi):
                        mv.undefined = (f"a baseline has no error column "
                                        f"`{t.errors[met.error_index]}`: it predicts the label")
                    else:
                        val, why = compute(met, pm[split], mi, skey, thr_m,
                                           stats.exact.get(split), W=None,
                                           score_type=t.score_type_of(mi),
                                           charter_scale=t.score_type)
                        mv.value, mv.undefined = safe_float(val), why
                        if mv.value is None and mv.undefined is None:
                            mv.undefined = (
                                f"custom metric returned {float(val)!r} on these rows"
                                if met.custom is not None else "not defined on these rows")
                        st = pm[split].task.get((mi, skey))
                        if mv.value is not None and met.spec is not None:
                            thr = (thr_m.get((mi, met.id))
                                   if met.spec.is_operating_point(met.params)
                                   else met.params.get("threshold"))
                            trials[(split, mi, skey, met.id)] = effective_trials(
                                met.spec.name, st,
                                thr if isinstance(thr, int | float) else None, met.params)
                        if (mv.value is not None and met.spec is not None
                                and isinstance(st, BinaryStats)):
                            mv.error_bound = stats.error_bound(met.spec.name, st)
                        # Not held into the next grouping's build (its cells' arrays).
                        del st
                    vals[(split, mi, skey, met.id)] = mv
        for split in plan.eval_splits if t.task == "multiclass" else ():
            mst = pm[split].task.get((mi, OVERALL))
            if isinstance(mst, MulticlassStats):
                confusion_by[(split, mi)] = ConfusionMatrix(
                    split=split, model=name, classes=list(mst.classes),
                    counts=confusion_matrix(mst).tolist())
        return rows_thr, thr_m, vals

    workers = min(n_models, os.cpu_count() or 1, MAX_THREADS) if stats.parallel else 1
    # A model's statistics, then its curve and its values as two tasks (model_pool): the
    # threads stay busy when the models do not divide evenly among them.
    done = per_model(n_models, workers, load, [curve_of, values_of])
    thresholds: dict[tuple[int, str], float | None] = {}
    threshold_rows: list[ThresholdChoice] = []
    found: dict[ValueKey, MetricValue] = {}
    curves: dict[int, ReliabilityCurve] = {}
    for mi, (curve, (rows_thr, thr_m, vals)) in enumerate(done):
        threshold_rows += rows_thr
        thresholds.update(thr_m)
        found.update(vals)
        if curve is not None:
            curves[mi] = curve
    # The documented order: split, then model, slice and metric.
    index = {(split, mi, skey, met.id): found[(split, mi, skey, met.id)]
             for split in plan.eval_splits for mi in range(n_models)
             for skey in slice_infos for met in metrics}
    software_values(run, plan, index)  # the profile's figures: one per model
    if stats.score_bins is not None:
        worst = max((v.error_bound for v in index.values() if v.error_bound), default=0.0)
        run.warnings.append(
            f"binned mode ({stats.score_bins} score bins per model): log loss, Brier and "
            "every threshold metric are exact; ROC AUC and average precision are within "
            f"their stated error bound (largest: {worst:.2g})"
        )
    run.timings["metrics"] = time.perf_counter() - t2
    # Multiclass only: one matrix per split and model, in that order.
    confusion = [confusion_by[(split, mi)] for split in plan.eval_splits
                 for mi in range(n_models) if (split, mi) in confusion_by]
    return MetricTable(slices=slice_infos, index=index, thresholds=thresholds,
                       threshold_rows=threshold_rows, trials=trials, confusion=confusion,
                       curves=curves)
