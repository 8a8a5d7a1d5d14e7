"""The evaluation commands (``run``, ``evaluate``, ``check``, ``diagnose``) behind
:mod:`mlscope.cli`: their shared options, the progress bar, the evaluation, and the
outputs written all or nothing (result.json, report.html, check.md and the store).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mlscope.errors import InputError

if TYPE_CHECKING:
    from mlscope.result import EvaluationResult

__all__ = ["RUN_OPTIONS", "apply_options", "run_command"]

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def progress_bar(*, enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress bar on stderr for long evaluations; nothing when stderr is not a terminal.

    It appears only after a second, so that quick runs print nothing extra.
    """
    from rich.console import Console  # here, not at import: see cli._console

    err = Console(stderr=True)
    if not enabled or not err.is_terminal:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    start = time.monotonic()
    with Progress(TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                  console=err, transient=True, auto_refresh=True) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            # The run's stages share one bar, named by the stage it is in; a long stage
            # (reading rows, each split's intervals) has a bar of its own under it.
            key, name = ("step", stage[6:]) if stage.startswith("step: ") else (stage, stage)
            if key not in tasks:
                tasks[key] = bar.add_task(name, total=total,
                                          visible=time.monotonic() - start > 1.0)
            bar.update(tasks[key], completed=done, total=total, description=name)
            if time.monotonic() - start > 1.0:
                for task_id in tasks.values():
                    bar.update(task_id, visible=True)

        yield update


def run_command(
    charter: Path, out: Path | None, resamples: int | None, seed: int | None, engine: str,
    quiet: bool, html: bool, binned: int | None = None, candidate: str | None = None,
    check: bool = False, diagnose: bool | str = False,
) -> int:
    from mlscope.engine.kernel_choice import kernel_setting
    from mlscope.evaluation import evaluate
    from mlscope.malloc import keep_freed_memory
    from mlscope.report import render_terminal

    keep_freed_memory()  # a batch command: faster on large tables (mlscope.malloc)
    kernel_setting()  # a bad MLSCOPE_KERNEL is refused up front, whatever the task
    # Temporary files that killed runs left in --out and that are older than this are
    # removed when this run's outputs are committed.
    started = time.time()
    ctx = click.get_current_context(silent=True)
    spark_master = ctx.meta.get(SPARK_MASTER) if ctx is not None else None
    if spark_master is not None and engine != "spark":
        raise InputError("--spark-master only applies with --engine spark")
    from mlscope.compare.keep import CandidateIsBlessed

    try:
        with progress_bar(enabled=not quiet) as bar:
            result = evaluate(charter, resamples=resamples, seed=seed,
                              engine=engine,  # type: ignore[arg-type]
                              progress=bar, binned=binned, spark=spark_master,
                              candidate=candidate, diagnose=diagnose)
    except CandidateIsBlessed as exc:
        raise InputError(f"--candidate {exc.candidate} is the blessed model itself: `mlscope "
                         "check` compares a candidate with the blessed model; name another "
                         "model with --candidate, or leave it out to check the model the "
                         "selection rule picks (when that is the blessed model, the verdict "
                         "is to keep it)") from None
    if check and result.check is None:
        raise InputError("mlscope check needs something to check against: set `blessed:` "
                         "(and `gates:`) in the charter, or give --candidate to check a model "
                         "against the requirements")
    ctx_meta = ctx.meta if ctx is not None else {}
    command = ctx.info_name if ctx is not None and ctx.info_name else "run"
    # One folder per command by default, so `check` never replaces what `run` or
    # `diagnose` wrote beside the same charter.
    out_dir = out or (charter.parent / "mlscope-out" / command)
    result.command = command
    if check:
        # One exit code: after `check` the verdict decides it, in result.json, the report,
        # the store and the process alike.
        assert result.check is not None
        result.exit_code = result.check.exit_code
    paths = write_outputs(result, charter, out_dir, html=html, check=check, started=started,
                          record=not ctx_meta.get(NO_STORE), store=ctx_meta.get(STORE),
                          command=command)
    if check:
        from mlscope.report.terminal import check_verdict_text

        assert result.check is not None
        # The verdict leads (and is printed even with --quiet): the first line of a CI log
        # says pass or fail, and the exit code is stated once, with it.
        if quiet:
            for line in check_verdict_text(result):
                click.echo(line)
        else:
            render_terminal(result, paths=paths, verbose=bool(ctx_meta.get(VERBOSE)))
        return result.check.exit_code
    if diagnose:
        if not quiet:
            from mlscope.report.terminal import render_diagnosis

            render_diagnosis(result, paths=paths)
        return 0
    if not quiet:
        render_terminal(result, paths=paths, verbose=bool(ctx_meta.get(VERBOSE)))
    return result.exit_code


# The outputs of a run, in the order they replace the previous ones: result.json last, so
# that a result.json is never newer than the report and summary beside it (docs/cli.md).
OUTPUTS = ("check.md", "report.html", "result.json")


def write_outputs(result: EvaluationResult, charter: Path, out_dir: Path, *, html: bool,
                  check: bool, started: float, record: bool, store: str | None,
                  command: str) -> dict[str, str]:
    """Write a run's outputs to ``out_dir`` and record it in the store, all or nothing.

    Every file is rendered in memory, then written and synced to a hidden temporary file;
    only then is the run saved to the store (one transaction), and only when that succeeded
    are the files renamed onto result.json etc., in :data:`OUTPUTS` order. An output this
    command does not produce (check.md after ``run``, report.html after ``evaluate``) is
    removed in the same sequence, so the folder never mixes files of two runs. Any failure
    before the renames leaves ``out_dir`` and the store as they were. ``record`` is False
    with --no-store; ``store`` is the --store value (None: the default location).
    """
    from mlscope.atomic import StagedFiles
    from mlscope.report import render_html

    texts: dict[str, str | None] = {
        "check.md": check_markdown(result) if check else None,
        "report.html": render_html(result) if html else None,
        "result.json": result.to_json() + "\n",
    }
    # Read now, with the other inputs: nothing may fail after the first file is replaced.
    charter_text = charter.read_text(encoding="utf-8") if record else None
    keys = {"result.json": "json", "report.html": "html", "check.md": "markdown"}
    paths = {keys[n]: str(out_dir / n) for n in OUTPUTS if texts[n] is not None}
    with StagedFiles(out_dir, started=started) as staged:
        try:
            for name in OUTPUTS:
                text = texts[name]
                if text is None:
                    staged.drop(name)
                else:
                    staged.put(name, text)
        except OSError as exc:
            raise InputError(f"cannot write the outputs to {out_dir}: "
                             f"{exc.strerror or exc}") from None
        if record:
            from mlscope.store.quick import save_run

            # Saved before the outputs are replaced: the store is what most often fails
            # (locked, newer schema, a server down), and then out_dir stays untouched.
            # An up-to-date SQLite store is written with sqlite3 alone (no SQLAlchemy);
            # anything else, or any doubt, goes through Store.
            project_dir = charter.resolve().parent
            saved = save_run(result, location=store, project_dir=project_dir,
                             command=command, charter_text=charter_text)
            if saved is None:
                from mlscope.store import Store

                with Store.open(store, project_dir=project_dir) as db:
                    saved = db.url, db.save(result, command=command, charter_text=charter_text)
            paths["store"] = f"{saved[0]} (run {saved[1]})"
        try:
            staged.commit()
        except OSError as exc:
            raise InputError(f"cannot write the outputs to {out_dir}: "
                             f"{exc.strerror or exc}") from None
    return paths


def check_markdown(result: EvaluationResult) -> str:
    """check.md, ending with the run id (an HTML comment: invisible in a PR comment)."""
    from mlscope.compare.check import markdown_summary

    assert result.check is not None
    text = markdown_summary(result.check, result.project).rstrip("\n")
    stamp = f"\n\n<!-- mlscope-run-id: {result.run_id} -->" if result.run_id else ""
    return f"{text}{stamp}\n"


SPARK_MASTER = "mlscope.spark_master"
STORE = "mlscope.store"
NO_STORE = "mlscope.no_store"
VERBOSE = "mlscope.verbose"


def _keep_store(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    ctx.meta[STORE] = value


def _keep_no_store(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    ctx.meta[NO_STORE] = value


def _keep_verbose(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    ctx.meta[VERBOSE] = value


def _keep_spark_master(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    # Kept in the context rather than passed as an argument, so the commands' signatures
    # stay as they are; run_command reads it.
    ctx.meta[SPARK_MASTER] = value


RUN_OPTIONS = [
    click.argument("charter", type=click.Path(path_type=Path), default="mlscope.yaml"),
    click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
                 help="Output folder (default: mlscope-out/<command>/ next to the charter, e.g. "
                      "mlscope-out/run/)."),
    click.option("--resamples", type=click.IntRange(min=0), default=None,
                 help="Bootstrap resamples (overrides the charter; 0 turns intervals off)."),
    click.option("--seed", type=int, default=None, help="Seed (overrides the charter)."),
    click.option("--engine", type=click.Choice(["numpy", "duckdb", "spark"]), default="numpy",
                 show_default=True,
                 help="numpy: aggregate in memory; duckdb: aggregate in SQL (out of core); "
                      "spark: read, check and aggregate in Apache Spark (docs/spark.md)."),
    click.option("--spark-master", default=None, metavar="URL", expose_value=False,
                 callback=_keep_spark_master,
                 help="With --engine spark: master of a new Spark session, e.g. local[4], "
                      "spark://host:7077, or sc://host:15002 for Spark Connect (default: "
                      "the active session, else local[2])."),
    click.option("--binned", type=click.IntRange(min=16), default=None, metavar="BINS",
                 help="Opt-in approximation for very large binary data: one streaming pass "
                      "with BINS score bins per model (e.g. 16384); ROC AUC and average "
                      "precision carry an error bound, other metrics stay exact."),
    click.option("--store", default=None, metavar="URL", expose_value=False,
                 callback=_keep_store,
                 help="Where runs are recorded: a SQLAlchemy URL or a SQLite file (default: "
                      ".mlscope/store.sqlite next to the charter); see docs/store.md."),
    click.option("--no-store", is_flag=True, expose_value=False, callback=_keep_no_store,
                 help="Do not record this run in the store."),
    click.option("--quiet", "-q", is_flag=True, help="No terminal summary."),
    click.option("--verbose", "-v", is_flag=True, expose_value=False, callback=_keep_verbose,
                 help="The full terminal summary: every metric on the selection split, the "
                      "standings, what each rule would pick (default: the key metrics)."),
]


def apply_options(options: list[Callable[[F], F]]) -> Callable[[F], F]:
    def deco(fn: F) -> F:
        for opt in reversed(options):
            fn = opt(fn)
        return fn

    return deco
