"""The last stage: the typed, versioned result of the run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from mlscope._version import __version__
from mlscope.engine.plan import OVERALL
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
from mlscope.result import (
    EvaluationResult,
    IntervalInfo,
    MetricValue,
    ModelInfo,
    SliceInfo,
    Verdict,
    new_run_id,
)

__all__ = ["assemble", "small_slices_warning"]


def _charter_dict(run: Run) -> dict[str, Any]:
    from mlscope.charter import charter_to_dict

    return charter_to_dict(run.charter)


def small_slices_warning(values: Sequence[MetricValue], slices: Mapping[str, SliceInfo],
                         min_size: int, shown: int = 4) -> str | None:
    """The warning for slices too small to measure on some split: each named with its
    rows there (the first ``shown``), and what to do about it; None when there are none."""
    where: dict[str, list[str]] = {}
    for v in values:
        if v.undefined and v.undefined.startswith("slice too small"):
            splits = where.setdefault(v.slice, [])
            if v.split not in splits:
                splits.append(v.split)
    if not where:
        return None

    def one(key: str) -> str:
        sizes = slices[key].sizes if key in slices else {}
        return key + " (" + ", ".join(
            f"{sizes[s]:,} row{'' if sizes[s] == 1 else 's'} on {s}" if s in sizes else s
            for s in where[key]) + ")"

    names = [one(k) for k in list(where)[:shown]]
    more = len(where) - len(names)
    listed = ", ".join(names) + (f" and {more:,} more" if more else "")
    many = len(where) > 1
    return (f"{len(where):,} slice{'s have' if many else ' has'} fewer than slices.min_size = "
            f"{min_size:,} rows on some split, so {'their' if many else 'its'} metrics there "
            f"are undefined: {listed}; collect more rows for {'them' if many else 'it'}, or "
            f"lower `slices.min_size` to measure {'them' if many else 'it'} with wider "
            "intervals")


def assemble(run: Run, plan: RunPlan, table: MetricTable, reps: Replicates, choice: Choice,
             comparisons: Comparisons, human: HumanLevel, decision: Decision,
             diagnosis: Any, *, started: float, now: float,
             verdict: Verdict | None = None,
             guarantees: list[Any] | None = None,
             reliability: list[Any] | None = None,
             scope: Any = None,
             human_in_the_loop: Any = None) -> EvaluationResult:
    """Everything the stages produced, as one :class:`~mlscope.result.EvaluationResult`.

    The exit code is the launch verdict's when there is one (docs/cli.md: 0 when it
    recommends something that meets every requirement), else the requirement status's.
    """
    ch, t = run.charter, run.table
    values = table.values
    min_size = ch.slices.min_size
    small = small_slices_warning(values, table.slices, min_size)
    if small:
        run.warnings.append(small)
    run.timings["total"] = now - started
    families = decision.families
    return EvaluationResult(
        project=ch.project,
        task=ch.task,
        seed=run.seed,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        mlscope_version=__version__,
        charter_path=str(run.charter_path) if run.charter_path else None,
        charter=_charter_dict(run),
        data={"sources": t.sources, "rows": t.n_rows, "splits": t.splits,
              "rows_per_split": {s: table.slices[OVERALL].sizes.get(s, 0)
                                 for s in plan.eval_splits},
              "engine": run.engine.name, **run.data},
        interval=IntervalInfo(method=ch.intervals.method, level=run.level,
                              resamples=run.resamples, seed=run.seed, note=reps.note),
        splits={"selection": plan.selection_split, "report": plan.report_split, "train": (
            ch.splits.train if ch.splits.train in t.splits else None)},
        models=[ModelInfo(name=m, kind="candidate" if families.get(m) is None else "baseline",
                          family=families.get(m)) for m in t.models],
        metrics=[m.info for m in plan.metrics],
        slices=list(table.slices.values()),
        values=values,
        thresholds=table.threshold_rows,
        differences=comparisons.differences,
        selection=choice.selection,
        requirements=decision.requirements,
        warnings=run.warnings,
        status=decision.status,
        exit_code=(verdict.exit_code if verdict is not None
                   else 0 if decision.status == "requirements_met" else 1),
        confusion=table.confusion,
        baselines=run.baselines,
        standings=decision.standings,
        human=human.result,
        check=decision.check,
        diagnosis=diagnosis,
        comparisons=comparisons.pairs,
        timings={k: round(v, 4) for k, v in run.timings.items()},
        run_id=new_run_id(),
        verdict=verdict,
        guarantees=list(guarantees or []),
        reliability=list(reliability or []),
        scope=scope,
        human_in_the_loop=human_in_the_loop,
    )
