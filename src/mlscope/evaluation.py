"""Evaluate every model named by a charter: metrics, slices, intervals, selection.

:func:`evaluate` is the list of the pipeline's stages (:mod:`mlscope.pipeline`): open the
charter and its data with the chosen engine, fit the baselines, plan the splits and
slices, aggregate the rows into statistics, finalise every metric, bootstrap intervals,
select, compare, place against the baselines, decide, diagnose, give the launch verdict
(docs/deciding.md) and its scope, and assemble the result.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mlscope.charter.schema import Charter
from mlscope.pipeline import (
    aggregate,
    assemble,
    compare_models,
    decide,
    finalise,
    fit_baselines,
    human_level,
    intervals,
    open_run,
    plan_run,
    select_models,
    verdict,
)
from mlscope.pipeline import (
    diagnose as diagnose_stage,
)
from mlscope.pipeline.calibration import reliability
from mlscope.pipeline.guarantees import certify_thresholds
from mlscope.pipeline.hitl import add_to_verdict, human_in_the_loop
from mlscope.pipeline.scope import launch_scope
from mlscope.pipeline.stability import data_stability
from mlscope.result import EvaluationResult

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["EngineName", "Progress", "evaluate"]

EngineName = Literal["numpy", "duckdb", "spark"]
Progress = Callable[[str, int, int], None]


class _Steps:
    """Reports the stage the run is in as ``progress("step: <name>", i, total)``: one
    display over every stage (the CLI shows it as one named bar)."""

    TOTAL = 9

    def __init__(self, tick: Progress) -> None:
        self.tick, self.i = tick, 0

    def __call__(self, name: str) -> None:
        self.tick(f"step: {name}", self.i, self.TOTAL)
        self.i += 1

    def done(self) -> None:
        self.tick("step: done", self.TOTAL, self.TOTAL)


def evaluate(
    charter: str | Path | Charter,
    *,
    base_dir: str | Path | None = None,
    resamples: int | None = None,
    seed: int | None = None,
    engine: EngineName = "numpy",
    progress: Progress | None = None,
    binned: int | None = None,
    spark: SparkSession | str | None = None,
    candidate: str | None = None,
    diagnose: bool | str = False,
    pairs: Sequence[tuple[str, str]] | None = None,
    mcnemar: str | None = None,
) -> EvaluationResult:
    """Evaluate the charter's models and select one.

    Parameters
    ----------
    charter
        Path to a charter YAML file, or a :class:`~mlscope.charter.schema.Charter`.
    base_dir
        Directory relative data paths are resolved against (default: the charter's).
    resamples
        Override the charter's number of bootstrap resamples (0 turns intervals off).
    seed
        Override the charter's seed.
    engine, spark, binned
        ``"numpy"`` (default, exact in memory), ``"duckdb"`` (aggregates in SQL, past
        memory) or ``"spark"`` (aggregates in the cluster; ``spark`` is its session or a
        master URL); ``binned=N`` streams the rows into N score bins per model, ROC AUC and
        average precision within a stated bound (docs/computation.md, docs/spark.md).
    diagnose
        ``True`` (the selected model) or a model name: add ``result.diagnosis`` — gaps,
        bottleneck, next steps, weak slices (docs/diagnosis.md).
    candidate
        The model ``mlscope check`` holds to the gates (default: the selected model; the
        verdict is ``result.check``); naming the blessed model raises
        :class:`~mlscope.compare.keep.CandidateIsBlessed`.
    pairs, mcnemar
        ``(a, b)`` pairs to compare (``a − b``) with paired tests on every metric, split
        and slice (``result.comparisons``), replacing the charter's ``compare.pairs``; and
        McNemar's method for them (default: ``compare.mcnemar``).
    progress
        Called as ``progress(stage, done, total)`` as work completes (the CLI's bar):
        ``stage`` is ``"step: <name>"`` for the run's stages (``done`` of ``total``
        stages), or a long stage's own count (``"intervals test"``: resamples).

    Returns
    -------
    EvaluationResult
        Every metric per split, model and slice with intervals, the selection and the
        requirement checks; ``exit_code`` 0 when the chosen model meets every requirement.

    Raises
    ------
    InputError
        For any problem with the charter or the data (the CLI exits with code 2).
    """
    t0 = time.perf_counter()
    tick = progress or (lambda stage, done, total: None)
    step = _Steps(tick)
    step("opening the data")
    run = open_run(charter, base_dir=base_dir, resamples=resamples, seed=seed, engine=engine,
                   binned=binned, spark=spark)
    step("fitting baselines")
    fit_baselines(run)
    plan = plan_run(run, diagnose)
    data_stability(run, plan)
    step("reading the rows")
    stats = aggregate(run, plan, tick)
    table = finalise(run, plan, stats)
    step("bootstrap intervals")
    reps = intervals(run, plan, stats, table, tick)
    step("selecting and comparing")
    choice = select_models(run, plan, table, reps)
    compared = compare_models(run, plan, stats, table, reps, choice, pairs=pairs,
                              mcnemar=mcnemar)
    step("human level")
    human = human_level(run, plan)
    decision = decide(run, plan, table, reps, choice, compared, human, candidate=candidate)
    step("diagnosis")
    diagnosis = diagnose_stage(run, plan, stats, table, reps, choice, human, decision)
    step("guarantees and calibration")
    guarantees = certify_thresholds(run, plan, choice)
    curves = reliability(run, plan, table, decision)
    deferral = human_in_the_loop(run, plan, choice)
    step("verdict and scope")
    launch = verdict(run, plan, table, choice, compared, decision, diagnosis,
                     guarantees=guarantees, reps=reps)
    add_to_verdict(launch, deferral)
    scope = launch_scope(run, plan, table, reps, choice, launch)
    step.done()
    return assemble(run, plan, table, reps, choice, compared, human, decision, diagnosis,
                    started=t0, now=time.perf_counter(), verdict=launch,
                    guarantees=guarantees, reliability=curves, scope=scope,
                    human_in_the_loop=deferral)
