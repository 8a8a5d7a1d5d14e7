"""The first stages: open the run, fit the baselines, plan what to evaluate."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from mlscope.charter.schema import Charter
from mlscope.engine.engines import choose_engine
from mlscope.engine.plan import plan_groupings
from mlscope.errors import CharterError, InputError
from mlscope.measure import resolve_metrics
from mlscope.pipeline.types import Run, RunPlan

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["fit_baselines", "open_run", "plan_run"]


def open_run(
    charter: str | Path | Charter, *, base_dir: str | Path | None, resamples: int | None,
    seed: int | None, engine: str, binned: int | None, spark: SparkSession | str | None,
) -> Run:
    """Validate the charter (a path) or take it as given, choose the engine, open the data.

    Raises
    ------
    CharterError
        The charter has problems (every one, with file and line).
    InputError
        Negative resamples, an engine that cannot run these flags, or bad data.
    """
    t0 = time.perf_counter()
    charter_path: Path | None = None
    charter_warnings: list[str] = []
    if isinstance(charter, Charter):
        ch = charter
        bdir = Path(base_dir) if base_dir is not None else Path.cwd()
    else:
        from mlscope.charter import validate_charter

        charter_path = Path(charter)
        report = validate_charter(charter_path)
        if report.problems or report.charter is None:
            raise CharterError(report.problems)
        ch = report.charter
        charter_warnings = [str(w) for w in report.warnings]
        bdir = Path(base_dir) if base_dir is not None else charter_path.resolve().parent
    n_boot = ch.intervals.resamples if resamples is None else resamples
    if n_boot < 0:
        raise InputError(f"resamples must be >= 0, got {n_boot}")
    eng = choose_engine(engine, binned=binned, spark=spark)
    t = eng.open(ch, bdir)
    run = Run(charter=ch, charter_path=charter_path, base_dir=bdir, engine=eng, table=t,
              seed=ch.seed if seed is None else seed, resamples=n_boot,
              level=ch.intervals.level, charter_warnings=charter_warnings,
              warnings=charter_warnings + list(t.warnings))
    run.timings["open"] = time.perf_counter() - t0
    return run


def fit_baselines(run: Run) -> None:
    """Fit or run the charter's predicting baselines; their scores join the table as
    models (``run.baselines`` lists them)."""
    ch = run.charter
    if not ch.baselines:
        return
    if not run.engine.predicts_baselines and any(
            b.kind not in ("human", "external") for b in ch.baselines.values()):
        raise InputError(
            "baselines that predict (trivial, learned, rule) are built with DuckDB and "
            f"NumPy; engine {run.engine.name} cannot use them yet: run with the default "
            "engine, or keep only `external` baselines")
    from mlscope.baselines.build import build_baselines

    tb = time.perf_counter()
    brun = build_baselines(ch, run.table, run.base_dir, run.seed)
    run.baselines = brun.infos
    run.warnings.extend(brun.warnings)
    run.timings["baselines"] = time.perf_counter() - tb


def plan_run(run: Run, diagnose: bool | str = False) -> RunPlan:
    """The splits to evaluate (and bootstrap), the slice groupings and the metrics.

    With ``diagnose``, the training splits get intervals too (the gaps need them) and every
    pair of slice columns is searched for weak slices.
    """
    ch, t = run.charter, run.table
    sel_split = ch.selection.split or ch.splits.selection
    rep_split = ch.splits.report if ch.splits.report in t.splits else None
    if rep_split == sel_split:
        rep_split = None
    order = [ch.splits.train] + [s for s in t.splits if s not in (
        ch.splits.train, sel_split, rep_split)] + [sel_split, rep_split]
    eval_splits = [s for s in dict.fromkeys(order) if s is not None and s in t.splits]
    boot_splits = [s for s in (sel_split, rep_split) if s is not None]
    crosses = list(ch.slices.crosses)
    diag_model: str | None = None
    if diagnose:
        diag_model = diagnose if isinstance(diagnose, str) else None
        from mlscope.diagnose.wiring import check_diagnosis_splits

        check_diagnosis_splits(ch, t, sel_split)
        boot_splits += [s for s in (ch.splits.train, ch.splits.train_dev)
                        if s is not None and s in t.splits and s not in boot_splits]
        cols = list(ch.slices.columns)
        crosses += [[a, b] for i, a in enumerate(cols) for b in cols[i + 1:]]
    metrics = resolve_metrics(ch, t, run.base_dir)
    groupings = plan_groupings(t.slice_columns, ch.slices.columns, crosses, ch.slices.where)
    levels = run.engine.slice_levels(t, eval_splits)
    y_shift = run.engine.label_mean(t) if t.task == "regression" else 0.0
    return RunPlan(selection_split=sel_split, report_split=rep_split, eval_splits=eval_splits,
                   boot_splits=boot_splits, groupings=groupings, levels=levels,
                   metrics=metrics, y_shift=y_shift, diagnose=bool(diagnose),
                   diagnose_model=diag_model)
