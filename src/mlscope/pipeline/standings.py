"""Where each candidate stands against the trivial baseline and the ceilings above it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlscope.charter.schema import Charter
from mlscope.pipeline.types import (
    FlagWarning,
    HumanLevel,
    MetricTable,
    Replicates,
    Run,
    RunPlan,
)
from mlscope.result import Standing

__all__ = ["standings_of"]


def standings_of(run: Run, plan: RunPlan, table: MetricTable, reps: Replicates,
                 families: dict[str, str | None], human: HumanLevel
                 ) -> tuple[list[Standing], list[FlagWarning]]:
    """Each candidate's standing per metric and split: the gap closed between the trivial
    baseline and the best upper figure (a learned baseline, an external figure measured on
    the same data, human level), with paired intervals. Flags a candidate that does not
    clearly beat the trivial baseline on the metrics the decision turns on (a warning)."""
    if not any(f == "trivial" for f in families.values()):
        return [], []
    from mlscope.baselines.standing import UpperFigure, compute_standings

    t = run.table
    # A requirement (a target) or a figure measured on other data is never the ceiling:
    # both are passed along only to be named as such.
    uppers = [UpperFigure(name=b.name, family="external", metric=k, value=v,
                          same_data=b.same_data, data=b.data, role=b.role)
              for b in run.baselines if b.family == "external"
              for k, v in b.values.items()]
    if human.result is not None:
        uppers += _human_uppers(human.result, human.split or plan.selection_split,
                                human.replicates)
    standings = compute_standings(
        values=table.index, reps=reps.values, models=t.models, families=families,
        metrics=[m.info for m in plan.metrics], splits=plan.boot_splits, level=run.level,
        uppers=uppers)
    return standings, _flag_warnings(standings, families, _decision_metrics(run.charter),
                                     plan.selection_split)


def _human_uppers(human: Any, split: str,
                  reps: Mapping[tuple[str, str | None, str], Any]) -> list[Any]:
    """Human level as a ceiling, per metric: the best rung, with every model's value on
    the rung's own items (so the gap closed compares like with like) and the item
    bootstrap replicates of both (for its interval)."""
    from mlscope.baselines.standing import UpperFigure

    out: list[Any] = []
    for mid, rung in human.best.items():
        hv = human.rung(rung).value(mid) if rung is not None else None
        if hv is None or hv.value is None:
            continue
        on_items: dict[str, float] = {}
        for mo in human.models:
            if mo.rung == rung and (v := mo.value(mid)) is not None and v.value is not None:
                on_items[mo.model] = float(v.value)
        out.append(UpperFigure(
            name=f"human ({rung})", family="human", metric=mid, value=hv.value, split=split,
            n_items=human.rung(rung).n_items, on_items=on_items,
            replicates={who: r for (rn, who, m), r in reps.items() if rn == rung and m == mid}))
    return out


def _flag_warnings(standings: list[Standing], families: dict[str, str | None],
                   decisive: set[str], sel_split: str) -> list[FlagWarning]:
    """One warning per candidate and cause of not clearly beating the trivial baseline on
    the metrics the decision turns on: each names the cause and what to do."""
    by: dict[tuple[str, str], list[str]] = {}
    for st in standings:
        if (st.flag and st.split == sel_split and families.get(st.model) is None
                and st.metric in decisive):
            by.setdefault((st.model, st.flag_cause or "no_skill"), []).append(st.metric)
    out: list[FlagWarning] = []
    for (model, cause), mids in by.items():
        on = f"{', '.join(mids)} ({sel_split} split)"
        if cause == "calibration":
            text = (f"{model} ranks well but is poorly calibrated: {on} no better than "
                    "the trivial baseline; calibrate the scores (Platt or isotonic) "
                    "before reading them as probabilities; see the standings")
        elif cause == "few_rows":
            text = (f"{model} vs the trivial baseline on {on}: too few rows to tell; the "
                    "interval of the difference includes 0 and is wide; evaluate on more "
                    "rows; see the standings")
        else:
            how = ("is worse than the trivial baseline on {on}, beyond the interval"
                   if cause == "worse" else
                   "does not clearly beat the trivial baseline on {on}, and the interval "
                   "rules out a gain of a fifth of the way to the ceiling or the best value")
            text = (f"{model} {how.format(on=on)}: something is wrong — a bug, a leak "
                    "in a baseline, or a model that learned nothing; see the standings")
        out.append(FlagWarning(model=model, cause=cause, metrics=list(mids), text=text))
    return out


def _decision_metrics(ch: Charter) -> set[str]:
    """The metrics the selection rule and the requirements name."""
    from mlscope.select import rule_metrics

    return set(rule_metrics(ch.selection)) | set(ch.requirements)
