"""The decisions: select, compare, place against the baselines and human level, check the
requirements and the gates, and diagnose."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from mlscope.charter.schema import HumanBaseline
from mlscope.compare.wiring import (
    SliceMasks,
    blessed_model,
    check_verdict,
    paired_difference,
    requirement_checks,
)
from mlscope.engine.plan import OVERALL
from mlscope.engine.protocol import Statistics
from mlscope.pipeline.software import explain_undefined, held_fixed, software_difference
from mlscope.pipeline.types import (
    Choice,
    Comparisons,
    Decision,
    HumanLevel,
    MetricTable,
    Replicates,
    Run,
    RunPlan,
)
from mlscope.result import Difference, RequirementCheck

__all__ = ["compare_models", "decide", "diagnose", "human_level", "select_models"]


def select_models(run: Run, plan: RunPlan, table: MetricTable, reps: Replicates) -> Choice:
    """The charter's selection rule on the selection split (overall), with how sure it is;
    and the blessed model, if the charter names one."""
    from mlscope.select import decision_confidence, select

    ch, t, sel_split = run.charter, run.table, plan.selection_split
    values = {name: {met.id: table.index[(sel_split, mi, OVERALL, met.id)].value
                     for met in plan.metrics} for mi, name in enumerate(t.models)}
    infos = {met.id: met.info for met in plan.metrics}
    baseline_models = [m for m in t.models if t.kinds.get(m, "candidate") != "candidate"]
    selection = select(ch, values, infos, split=sel_split, baselines=baseline_models)
    if any(met.software is not None for met in plan.metrics):
        explain_undefined(selection, table.index, t.models, sel_split)
    # The loader already warns about selecting on the report split; keep one such warning.
    run.warnings.extend(w for w in selection.warnings
                        if not (run.charter_warnings and "biases the reported estimate" in w))
    winner = selection.primary.winner
    if reps.values:
        sel_reps = {name: {met.id: reps.values[(sel_split, mi, OVERALL, met.id)]
                           for met in plan.metrics
                           if (sel_split, mi, OVERALL, met.id) in reps.values}
                    for mi, name in enumerate(t.models)}
        held_fixed(sel_reps, values, plan)  # a profile figure does not move with rows
        selection.confidence = decision_confidence(
            ch.selection, sel_reps, infos,
            candidates=[m for m in t.models if m not in baseline_models], winner=winner)
    blessed, stored, source = blessed_model(ch, t, run.base_dir)
    top = winner or (selection.primary.ranking[0]["model"]
                     if selection.primary.ranking else None)
    return Choice(selection=selection, winner=winner, top=top, blessed=blessed,
                  blessed_stored=stored, blessed_source=source,
                  baseline_models=baseline_models)


def compare_models(run: Run, plan: RunPlan, stats: Statistics, table: MetricTable,
                   reps: Replicates, choice: Choice, *,
                   pairs: Sequence[tuple[str, str]] | None = None,
                   mcnemar: str | None = None) -> Comparisons:
    """Every model's paired difference to the selected (or best-ranked) model and to the
    blessed one, on every split with intervals, slice and metric; then the pairs the
    charter (or ``mlscope compare``) asks for, with the same tests."""
    ch, t = run.charter, run.table
    t4 = time.perf_counter()
    references = list(dict.fromkeys(r for r in (choice.top, choice.blessed) if r is not None))
    differences: list[Difference] = []
    masks = SliceMasks(stats.exact, table.slices)
    for reference in references:
        ri = t.models.index(reference)
        for split in plan.boot_splits:
            for mi in range(len(t.models)):
                if mi == ri:
                    continue
                for skey in table.slices:
                    for met in plan.metrics:
                        if met.software is not None:
                            # A profile figure: no paired resamples of rows; overall only.
                            d = software_difference(
                                table.index[(split, mi, skey, met.id)],
                                table.index[(split, ri, skey, met.id)],
                                run.data.get("profile", {}).get("confidence"))
                            if skey == OVERALL and d.value is not None:
                                differences.append(d)
                            continue
                        a = table.index[(split, mi, skey, met.id)]
                        b = table.index[(split, ri, skey, met.id)]
                        if a.value is None or b.value is None:
                            continue
                        differences.append(paired_difference(
                            t, met, split, skey, mi, ri, a.value - b.value, reps.values,
                            table.thresholds, masks, run.level, seed=run.seed,
                            trials=table.trials))
    wanted = list(ch.compare.pairs) if pairs is None else list(pairs)
    comparisons: list[Any] = []
    if wanted:
        from mlscope.compare.pairs import compare_pairs

        comparisons = compare_pairs(
            t, wanted, metrics=[m for m in plan.metrics if m.software is None],
            splits=plan.boot_splits,
            slices=list(table.slices), index=table.index, reps=reps.values,
            thresholds=table.thresholds, masks=masks, level=run.level,
            mcnemar=mcnemar or ch.compare.mcnemar, seed=run.seed,
            where="compare.pairs" if pairs is None else "compare", trials=table.trials)
    run.timings["differences"] = time.perf_counter() - t4
    return Comparisons(differences=differences, pairs=comparisons, masks=masks)


def human_level(run: Run, plan: RunPlan) -> HumanLevel:
    """The human-level ladder of the charter's ``human`` baseline, with item-bootstrap
    replicates for paired intervals of the gap to it."""
    ch = run.charter
    hb = [b for b in ch.baselines.values() if isinstance(b, HumanBaseline)]
    if not hb:
        return HumanLevel()
    from mlscope.baselines.build import human_level as ladder

    th = time.perf_counter()
    split = hb[0].split or plan.selection_split
    # Humans give labels: metrics at an operating point chosen per model, custom metrics
    # and error columns are not scored on them.
    hmetrics = [(met.id, met.spec.name, dict(met.params)) for met in plan.metrics
                if met.spec is not None and met.custom is None
                and met.error_index is None and not met.info.operating_point]
    out = HumanLevel(split=split)
    out.result = ladder(ch, run.table, run.base_dir, hmetrics, split=split,
                        resamples=min(run.resamples, 1000) if run.resamples else 0,
                        level=run.level, seed=run.seed, replicates=out.replicates)
    run.warnings.extend(f"human level: {w}" for w in out.result.warnings)
    run.timings["human"] = time.perf_counter() - th
    return out


def decide(run: Run, plan: RunPlan, table: MetricTable, reps: Replicates, choice: Choice,
           comparisons: Comparisons, human: HumanLevel, *,
           candidate: str | None = None) -> Decision:
    """Standings against the baselines (and their warnings), the requirements on the
    winner, the check verdict, and the status that sets the exit code."""
    from mlscope.pipeline.standings import standings_of

    ch, t = run.charter, run.table
    families: dict[str, str | None] = {m: None for m in t.kinds}
    if any(k != "candidate" for k in t.kinds.values()):
        # Imported only for a charter with baselines: the baselines bring pandas (~0.2 s of
        # start-up) that an evaluation of candidates alone never needs.
        from mlscope.baselines.build import baseline_family

        families = {m: (None if k == "candidate" else baseline_family(k))
                    for m, k in t.kinds.items()}
    standings, flags = standings_of(run, plan, table, reps, families, human)
    req_split = plan.requirement_split
    requirements: list[RequirementCheck] = []
    if choice.winner is not None:
        requirements = requirement_checks(ch, t, table.index, choice.winner, req_split,
                                          trials=table.trials, reps=reps.values)
    check = None
    if ch.gates or ch.blessed is not None or candidate is not None:
        check = check_verdict(
            ch, t, candidate=candidate, winner=choice.winner, blessed_name=choice.blessed,
            stored=choice.blessed_stored, source=choice.blessed_source, split=req_split,
            index=table.index, differences=comparisons.differences, reps=reps.values,
            infos={met.id: met.info for met in plan.metrics}, slices=list(table.slices),
            level=run.level, ranking=choice.selection.primary.ranking, trials=table.trials)
    if choice.winner is None:
        status: Any = "no_decision"
    elif all(r.met for r in requirements):
        status = "requirements_met"
    else:
        status = "requirements_not_met"
    return Decision(standings=standings, families=families, requirements=requirements,
                    check=check, status=status, flags=flags)


def diagnose(run: Run, plan: RunPlan, stats: Statistics, table: MetricTable,
             reps: Replicates, choice: Choice, human: HumanLevel,
             decision: Decision) -> Any:
    """What holds the model back and what to try next (``mlscope diagnose``)."""
    if not plan.diagnose:
        return None
    from mlscope.diagnose.wiring import diagnose as run_diagnosis

    return run_diagnosis(
        run.charter, run.table, run.base_dir,
        model=plan.diagnose_model or choice.winner or choice.top, index=table.index,
        reps=reps.values, families=decision.families,
        infos={met.id: met.info for met in plan.metrics}, slices=list(table.slices.values()),
        standings=decision.standings, baselines=run.baselines, human=human.result,
        confusion=table.confusion, level=run.level, sel_split=plan.selection_split,
        rep_split=plan.report_split, thresholds=table.thresholds, metrics=plan.metrics,
        slicing=(plan.groupings, plan.levels, stats.rows.get(plan.selection_split),
                 run.resamples, run.seed))

