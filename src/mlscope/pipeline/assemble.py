"""The last stage: the typed, versioned result of the run."""

from __future__ import annotations

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
from mlscope.result import EvaluationResult, IntervalInfo, ModelInfo, Verdict, new_run_id

__all__ = ["assemble"]


def _charter_dict(run: Run) -> dict[str, Any]:
    from mlscope.charter import charter_to_dict

    return charter_to_dict(run.charter)


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
    small = {v.slice for v in values
             if v.undefined and v.undefined.startswith("slice too small")}
    if small:
        run.warnings.append(
            f"{len(small)} slice(s) have fewer than {min_size} rows on some split; "
            "their metrics are reported as undefined"
        )
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
