"""The software metrics' values: one figure per model, read from the stored profile.

A software metric (``latency_p99_ms``, ``peak_memory_mb`` …; docs/profiling.md) is a
figure of the model, not of rows: it is given on every evaluated split, on the overall
slice only (the same figure on each split: the profile measured the model once), with
the profile's order-statistic interval as the value's interval where it has one
(latency percentiles). On the other slices it is undefined, and says why; a model the
profile does not hold (a baseline, a model not profiled) is undefined with the reason, so
a constraint or requirement on the metric drops or fails it with that reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from mlscope.data.profile_results import (
    ProfileResults,
    profile_results_path,
    read_profile_results,
)
from mlscope.engine.plan import OVERALL
from mlscope.metrics.software import SOFTWARE_METRICS
from mlscope.pipeline.types import Run, RunPlan, ValueKey
from mlscope.result import Difference, MetricValue, Selection

__all__ = ["SLICE_NOTE", "explain_undefined", "held_fixed", "software_difference",
           "software_values"]

FloatArray = npt.NDArray[np.float64]

SLICE_NOTE = "a model-level figure from the profile: given on the overall slice only"


def software_values(run: Run, plan: RunPlan, index: dict[ValueKey, MetricValue]) -> None:
    """Write the profile's figures onto ``index``'s values of the software metrics (in
    place), and what was read into ``run.data["profile"]``.

    Raises
    ------
    InputError
        The profile record is missing, malformed, stale or names none of the models
        (:func:`~mlscope.data.profile_results.read_profile_results`).
    """
    sw = [m for m in plan.metrics if m.software is not None]
    if not sw:
        return
    ch, t = run.charter, run.table
    path = profile_results_path(ch, run.base_dir)
    # The profiled files (a `module:function` artifact is no file and is skipped): one
    # changed after the record was written makes the record stale. Only their times are
    # read, never their contents.
    named = (ch.profile.artifacts or {}).values() if ch.profile else []
    artifacts = [run.base_dir / spec for spec in named if (run.base_dir / spec).is_file()]
    # Every figure is read (and checked): the budgets need some the charter may not name.
    prof = read_profile_results(path, metrics=SOFTWARE_METRICS, models=t.models,
                                artifacts=artifacts)
    for (_split, mi, skey, mid), mv in index.items():
        met = next((m for m in sw if m.id == mid), None)
        if met is None or met.software is None:
            continue
        if skey != OVERALL:
            mv.value, mv.lower, mv.upper, mv.undefined = None, None, None, SLICE_NOTE
            continue
        fig = prof.figure(t.models[mi], met.software.name)
        mv.value, mv.lower, mv.upper, mv.undefined = (fig.value, fig.lower, fig.upper,
                                                      fig.undefined)
    try:
        shown = str(path.relative_to(run.base_dir))
    except ValueError:
        shown = str(path)
    run.data["profile"] = {
        "results": shown, "created": prof.created, "confidence": prof.confidence,
        "models": sorted(prof.figures), "metrics": [m.id for m in sw],
        "interval": "latency percentiles: the profile's two-sided order-statistic interval "
                    "at its confidence; other figures: none",
    }
    budgets = _budgets(run, prof)
    if budgets:
        run.data["profile"]["budgets"] = budgets


def _budgets(run: Run, prof: ProfileResults) -> dict[str, dict[str, Any]]:
    """``planning.deployment``'s budgets against each candidate's figures: ``met``, ``not
    met`` or ``unverified`` (no figure: the model or the figure was not profiled). The
    latency budget holds the p99's upper confidence bound, as ``mlscope profile`` does."""
    plan_ = run.charter.planning
    dep = plan_.deployment if plan_ is not None else None
    if dep is None:
        return {}
    wanted = [(b, m, op) for b, m, op in (
        (dep.latency_budget_ms, "latency_p99_ms", "<="), (dep.memory_mb, "peak_memory_mb", "<="),
        (dep.qps, "throughput_qps", ">=")) if b]
    if not wanted:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for model in run.table.models:
        if run.table.kinds.get(model, "candidate") != "candidate":
            continue
        row: dict[str, Any] = {}
        for budget, metric, op in wanted:
            fig = prof.figure(model, metric)
            x = fig.bound if metric == "latency_p99_ms" else fig.value
            ok = None if x is None else (x <= budget if op == "<=" else x >= budget)
            row[metric] = {"budget": budget, "figure": x,
                           "status": "unverified" if ok is None else
                           "met" if ok else "not met"}
        out[model] = row
    return out


def explain_undefined(selection: Selection, index: dict[ValueKey, MetricValue],
                      models: list[str], split: str) -> None:
    """Add to each rule's dropped-model reasons why a software metric is undefined for
    that model (``latency_p99_ms is undefined … (model `weak` is not in the profile …)``):
    the rules see only the values, the reason is the table's."""
    why = {(models[mi], mid): mv.undefined for (s, mi, skey, mid), mv in index.items()
           if s == split and skey == OVERALL and mv.value is None and mv.undefined}
    for outcome in [selection.primary, *selection.alternatives]:
        for row in outcome.dropped:
            row["reasons"] = [
                next((f"{r} ({why[(row['model'], mid)]})" for mid in _ids(r)
                      if (row["model"], mid) in why), r)
                for r in row["reasons"]]


def _ids(reason: str) -> list[str]:
    # A rule's reason for an undefined value starts with the metric's id.
    head, sep, _ = reason.partition(" is undefined")
    return [head] if sep else []


def held_fixed(reps: dict[str, dict[str, FloatArray]],
               values: dict[str, dict[str, float | None]], plan: RunPlan) -> None:
    """Give each software metric a replicate array that repeats its figure (in place),
    for the decision confidence: the rows' resamples do not move a figure measured on the
    model, so each resample reads it as measured (NaN where the model has none)."""
    n = max((len(a) for per in reps.values() for a in per.values()), default=0)
    if n == 0:
        return
    for model, per in reps.items():
        for met in plan.metrics:
            if met.software is not None:
                v = values.get(model, {}).get(met.id)
                per[met.id] = np.full(n, np.nan if v is None else float(v))


def software_difference(a: MetricValue, b: MetricValue, level: float | None) -> Difference:
    """``a − b`` for a software metric (overall slice): the difference of the two figures,
    with the interval the two profiles' intervals give together, ``[a.lower − b.upper,
    a.upper − b.lower]`` (each figure's interval at its confidence 1 − α: the two hold
    together with probability at least 1 − 2α; conservative, as a gate needs). No interval
    when either figure has none; no p-value (the profiles were measured apart, not on the
    same rows)."""
    value = None if a.value is None or b.value is None else a.value - b.value
    both = None not in (a.lower, a.upper, b.lower, b.upper)
    lower = a.lower - b.upper if both else None  # type: ignore[operator]
    upper = a.upper - b.lower if both else None  # type: ignore[operator]
    conf = f"{level:.0%} " if level else ""
    return Difference(
        split=a.split, slice=a.slice, metric=a.metric, model=a.model, reference=b.model,
        value=value, lower=lower, upper=upper, test="profile",
        note=("difference of two profile figures; interval from each figure's "
              f"{conf}order-statistic interval (jointly at least 1 − 2α)") if both else
        "difference of two profile figures; no interval (a figure has none)")
