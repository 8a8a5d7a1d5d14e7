"""The scope stage: where could the recommended model launch? (docs/deciding.md, "Scope").

Gathers, for the verdict's model on the requirement split, every slice cell's point
values, intervals, trials and bootstrap replicates of each requirement, and hands them to
:func:`mlscope.compare.scope.search_scope`; writes the verdict's ``scope`` section.
"""

from __future__ import annotations

from mlscope.charter.guarantees import EXACT_RATES
from mlscope.charter.schema import Bound
from mlscope.compare.scope import (
    ALL_TRAFFIC,
    MEAN_LIKE,
    CellInput,
    Evidence,
    bootstrap_p_value,
    exact_p_value,
    scope_lines,
    search_scope,
)
from mlscope.engine.plan import OVERALL
from mlscope.pipeline.types import Choice, MetricTable, Replicates, Run, RunPlan
from mlscope.result import Scope, SliceInfo, Verdict

__all__ = ["launch_scope"]


def _partition(info: SliceInfo) -> str:
    """The partition of the traffic a slice cell belongs to: all traffic, a column, a
    cross of columns, or (``where`` predicates overlap) the named slice on its own."""
    if info.kind == "overall":
        return ALL_TRAFFIC
    if info.kind == "where":
        return info.key
    return " × ".join(info.columns)


def _evidence(run: Run, plan: RunPlan, table: MetricTable, reps: Replicates, mi: int,
              skey: str, mid: str, bound: Bound) -> Evidence:
    split = plan.requirement_split
    key = (split, mi, skey, mid)
    mv = table.index.get(key)
    if mv is None or mv.value is None:
        return Evidence(mid, bound, None, why=(mv.undefined if mv is not None and
                                               mv.undefined else "not computed"))
    ev = Evidence(mid, bound, mv.value, mv.lower, mv.upper)
    met = next((m for m in plan.metrics if m.id == mid), None)
    name = met.info.name if met is not None and not met.info.custom else None
    trials = table.trials.get(key)
    # Exact only where the trials are counts: weights make them sums of weights.
    if name in EXACT_RATES and trials is not None and trials >= 1 and not run.table.has_weight:
        ev.p_value = exact_p_value(mv.value, trials, bound)
        ev.test = f"exact binomial, {round(trials):,} trials"
        return ev
    r = reps.values.get(key)
    p = bootstrap_p_value(r, bound) if r is not None else None
    if p is None:
        ev.why = ("no bootstrap replicates (intervals are off) and not a rate at a fixed "
                  "threshold")
        return ev
    ev.p_value = p
    ev.test = f"bootstrap, {int(r.size) if r is not None else 0:,} resamples"
    return ev


def launch_scope(run: Run, plan: RunPlan, table: MetricTable, reps: Replicates,
                 choice: Choice, launch: Verdict | None) -> Scope | None:
    """The launch scope of the verdict's model (else the selected model) on the
    requirement split, at α = ``guarantees.delta`` (0.05 without it); adds the verdict's
    ``scope`` section. None when the charter sets no requirements or there is no model."""
    ch, t = run.charter, run.table
    model = (launch.model if launch is not None else None) or choice.winner
    if not ch.requirements or model is None or model not in t.models:
        return None
    mi = t.models.index(model)
    split = plan.requirement_split
    alpha = ch.guarantees.delta if ch.guarantees is not None else 0.05
    min_size = ch.slices.min_size
    cells = []
    # The charter's slices only: `mlscope diagnose` adds every cross of the slice columns
    # for its error analysis, and a scope searched over those too (another Holm family)
    # could disagree with `mlscope run`'s on the same charter.
    crosses = {frozenset(c) for c in ch.slices.crosses}
    for skey, info in table.slices.items():
        rows = int(info.sizes.get(split, 0))
        if rows == 0 or (info.kind == "cross" and frozenset(info.columns) not in crosses):
            continue
        cell = CellInput(slice=skey, partition=_partition(info), rows=rows,
                         too_small=skey != OVERALL and rows < min_size)
        if not cell.too_small:
            cell.evidence = [_evidence(run, plan, table, reps, mi, skey, mid, bound)
                             for mid, bound in ch.requirements.items()]
        cells.append(cell)
    names = {m.id: (None if m.info.custom else m.info.name) for m in plan.metrics}
    mean_like = {mid: names.get(mid) in MEAN_LIKE for mid in ch.requirements}
    rows_total = int(table.slices[OVERALL].sizes.get(split, 0)) if OVERALL in table.slices \
        else 0
    scope = search_scope(model, split, cells, rows_total, alpha, min_size=min_size,
                         mean_like=mean_like)
    if launch is not None:
        default = ch.guarantees.decide_on if ch.guarantees is not None else "point"
        on_points = any((b.decide_on or default) == "point" for b in ch.requirements.values())
        # The model's own slice requirements, which the scope does not test (it holds every
        # slice to the overall ones): its lines say what they gave.
        own = {(r.slice, r.metric): (r.bound, r.met) for r in launch.requirements
               if r.model == model and r.slice != OVERALL}
        launch.sections["scope"] = scope_lines(scope, on_points=on_points, own=own)
    return scope
