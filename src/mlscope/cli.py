"""The ``mlscope`` command line: a thin shell over the Python API.

Exit codes: 0 a model was chosen and meets every requirement; 1 requirements not met (or no
model could be chosen); 2 bad input (charter, data, options); 3 an internal error (a bug:
please report it with the traceback).
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from mlscope._version import __version__
from mlscope.errors import CharterError, InputError

if TYPE_CHECKING:
    from mlscope.result import EvaluationResult

__all__ = ["main"]

EXIT_OK, EXIT_UNMET, EXIT_INPUT, EXIT_BUG = 0, 1, 2, 3
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a process the pipe killed
F = TypeVar("F", bound=Callable[..., Any])


def _err_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _broken_pipe() -> None:
    """The reader of stdout went away (``mlscope run … | head``): end quietly, not as a bug.

    The outputs are written before anything is printed, so nothing is lost. The exit code is
    the shell's for a process killed by SIGPIPE (141): never a success, since the verdict
    was not delivered (rich raises ``SystemExit(1)`` from the ``BrokenPipeError``).
    """
    # Python would flush stdout again at exit and print a second error.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(EXIT_BROKEN_PIPE)


def _guard(fn: F) -> F:
    """Turn user mistakes into a clear message and exit 2; never a traceback for them.

    A guarded command returns its exit code rather than calling ``sys.exit``: the code is
    mlscope's own decision. A ``SystemExit`` out of the command's body can then only come
    from something that should not end the process (a library, or a user's metric or rule
    that a guard in :mod:`mlscope.plugins` missed) and is reported as an internal error,
    exit 3, never passed on: ``sys.exit(0)`` there would pass a CI gate with nothing checked.
    """

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            code = fn(*args, **kwargs)
        except CharterError as exc:
            con = _err_console()
            con.print(f"[bold red]error:[/] the charter has {len(exc.problems)} problem(s)")
            for p in exc.problems:
                con.print(f"  • {p}", markup=False)
            sys.exit(EXIT_INPUT)
        except InputError as exc:
            # Escaped: the message may quote the user's code (`y[keep]`), not markup.
            _err_console().print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            sys.exit(EXIT_INPUT)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            sys.exit(130)
        except BaseException as exc:  # SystemExit and GeneratorExit too: see above
            if isinstance(exc, BrokenPipeError) or isinstance(exc.__context__, BrokenPipeError):
                _broken_pipe()
            con = _err_console()
            con.print("[bold red]internal error[/] (this is a bug in mlscope; please report it "
                      "with the traceback below)")
            con.print(traceback.format_exc(), markup=False)
            sys.exit(EXIT_BUG)
        if code is not None:
            sys.exit(code)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlscope")
def main() -> None:
    """mlscope: charter, evaluate and select machine-learning models.

    \b
    Start with a charter (mlscope.yaml), then:
      mlscope validate mlscope.yaml     check it, with file/line and fixes
      mlscope run mlscope.yaml          every metric, per slice, with intervals,
                                        a decision, JSON + HTML report
    Exit codes: 0 requirements met, 1 not met / no decision, 2 bad input.
    """


@main.command()
@click.argument("charter", type=click.Path(path_type=Path), default="mlscope.yaml")
@_guard
def validate(charter: Path) -> int | None:
    """Check a charter and report every problem with file, line and the fix."""
    from mlscope.charter import validate_charter

    report = validate_charter(charter)
    con = Console(highlight=False, soft_wrap=True)
    for w in report.warnings:
        con.print(f"[yellow]warning:[/] {escape(str(w))}")
    if report.problems:
        err = _err_console()
        err.print(f"[bold red]{len(report.problems)} problem(s)[/] in {escape(str(charter))}:")
        for p in report.problems:
            err.print(f"  • {p}", markup=False)
        return EXIT_INPUT
    assert report.charter is not None
    c = report.charter
    # Paths and charter text are the user's: escaped, or `[...]` in them reads as markup.
    con.print(
        f"[green]✓[/] {escape(str(charter))} is valid: project [bold]{escape(c.project)}[/] "
        f"({c.task}), "
        f"{len(c.metrics)} metric(s), rule [bold]{c.selection.rule}[/]"
    )
    return None


@contextmanager
def _progress_bar(*, enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress bar on stderr for long evaluations; nothing when stderr is not a terminal.

    It appears only after a second, so that quick runs print nothing extra.
    """
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
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total,
                                            visible=time.monotonic() - start > 1.0)
            bar.update(tasks[stage], completed=done, total=total)
            if time.monotonic() - start > 1.0:
                for task_id in tasks.values():
                    bar.update(task_id, visible=True)

        yield update


def _run(
    charter: Path, out: Path | None, resamples: int | None, seed: int | None, engine: str,
    quiet: bool, html: bool, binned: int | None = None, candidate: str | None = None,
    check: bool = False, diagnose: bool | str = False,
) -> int:
    from mlscope.evaluation import evaluate
    from mlscope.report import render_terminal

    # Temporary files that killed runs left in --out and that are older than this are
    # removed when this run's outputs are committed.
    started = time.time()
    ctx = click.get_current_context(silent=True)
    spark_master = ctx.meta.get(_SPARK_MASTER) if ctx is not None else None
    if spark_master is not None and engine != "spark":
        raise InputError("--spark-master only applies with --engine spark")
    from mlscope.compare.keep import CandidateIsBlessed

    try:
        with _progress_bar(enabled=not quiet) as bar:
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
    out_dir = out or (charter.parent / "mlscope-out")
    ctx_meta = ctx.meta if ctx is not None else {}
    command = ctx.info_name if ctx is not None and ctx.info_name else "run"
    result.command = command
    if check:
        # One exit code: after `check` the verdict decides it, in result.json, the report,
        # the store and the process alike.
        assert result.check is not None
        result.exit_code = result.check.exit_code
    paths = _write_outputs(result, charter, out_dir, html=html, check=check, started=started,
                           record=not ctx_meta.get(_NO_STORE), store=ctx_meta.get(_STORE),
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
            render_terminal(result, paths=paths)
        return result.check.exit_code
    if diagnose:
        if not quiet:
            from mlscope.report.terminal import render_diagnosis

            render_diagnosis(result, paths=paths)
        return 0
    if not quiet:
        render_terminal(result, paths=paths)
    return result.exit_code


# The outputs of a run, in the order they replace the previous ones: result.json last, so
# that a result.json is never newer than the report and summary beside it (docs/cli.md).
_OUTPUTS = ("check.md", "report.html", "result.json")


def _write_outputs(result: EvaluationResult, charter: Path, out_dir: Path, *, html: bool,
                   check: bool, started: float, record: bool, store: str | None,
                   command: str) -> dict[str, str]:
    """Write a run's outputs to ``out_dir`` and record it in the store, all or nothing.

    Every file is rendered in memory, then written and synced to a hidden temporary file;
    only then is the run saved to the store (one transaction), and only when that succeeded
    are the files renamed onto result.json etc., in :data:`_OUTPUTS` order. An output this
    command does not produce (check.md after ``run``, report.html after ``evaluate``) is
    removed in the same sequence, so the folder never mixes files of two runs. Any failure
    before the renames leaves ``out_dir`` and the store as they were. ``record`` is False
    with --no-store; ``store`` is the --store value (None: the default location).
    """
    from mlscope.atomic import StagedFiles
    from mlscope.report import render_html

    texts: dict[str, str | None] = {
        "check.md": _check_markdown(result) if check else None,
        "report.html": render_html(result) if html else None,
        "result.json": result.to_json() + "\n",
    }
    # Read now, with the other inputs: nothing may fail after the first file is replaced.
    charter_text = charter.read_text(encoding="utf-8") if record else None
    keys = {"result.json": "json", "report.html": "html", "check.md": "markdown"}
    paths = {keys[n]: str(out_dir / n) for n in _OUTPUTS if texts[n] is not None}
    with StagedFiles(out_dir, started=started) as staged:
        try:
            for name in _OUTPUTS:
                text = texts[name]
                if text is None:
                    staged.drop(name)
                else:
                    staged.put(name, text)
        except OSError as exc:
            raise InputError(f"cannot write the outputs to {out_dir}: "
                             f"{exc.strerror or exc}") from None
        if record:
            from mlscope.store import Store

            # Saved before the outputs are replaced: the store is what most often fails
            # (locked, newer schema, a server down), and then out_dir stays untouched.
            with Store.open(store, project_dir=charter.resolve().parent) as db:
                run_id = db.save(result, command=command, charter_text=charter_text)
                paths["store"] = f"{db.url} (run {run_id})"
        try:
            staged.commit()
        except OSError as exc:
            raise InputError(f"cannot write the outputs to {out_dir}: "
                             f"{exc.strerror or exc}") from None
    return paths


def _check_markdown(result: EvaluationResult) -> str:
    """check.md, ending with the run id (an HTML comment: invisible in a PR comment)."""
    from mlscope.compare.check import markdown_summary

    assert result.check is not None
    text = markdown_summary(result.check, result.project).rstrip("\n")
    stamp = f"\n\n<!-- mlscope-run-id: {result.run_id} -->" if result.run_id else ""
    return f"{text}{stamp}\n"


_SPARK_MASTER = "mlscope.spark_master"
_STORE = "mlscope.store"
_NO_STORE = "mlscope.no_store"


def _keep_store(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    ctx.meta[_STORE] = value


def _keep_no_store(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    ctx.meta[_NO_STORE] = value


def _keep_spark_master(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    # Kept in the context rather than passed as an argument, so the commands' signatures
    # stay as they are; _run reads it.
    ctx.meta[_SPARK_MASTER] = value


_run_options = [
    click.argument("charter", type=click.Path(path_type=Path), default="mlscope.yaml"),
    click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
                 help="Output folder (default: mlscope-out/ next to the charter)."),
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
]


def _apply(options: list[Callable[[F], F]]) -> Callable[[F], F]:
    def deco(fn: F) -> F:
        for opt in reversed(options):
            fn = opt(fn)
        return fn

    return deco


@main.command()
@_apply(_run_options)
@_guard
def run(charter: Path, out: Path | None, resamples: int | None, seed: int | None, engine: str,
        binned: int | None, quiet: bool) -> int:
    """Evaluate, select, and write result.json and report.html (the main job)."""
    return _run(charter, out, resamples, seed, engine, quiet, html=True, binned=binned)


@main.command()
@_apply(_run_options)
@_guard
def evaluate(charter: Path, out: Path | None, resamples: int | None, seed: int | None,
             engine: str, binned: int | None, quiet: bool) -> int:
    """Evaluate and select, writing result.json only (no HTML).

    An earlier report.html or check.md in the output folder is removed: it would describe
    another run.
    """
    return _run(charter, out, resamples, seed, engine, quiet, html=False, binned=binned)


@main.command()
@_apply(_run_options)
@click.option("--candidate", default=None, metavar="MODEL",
              help="The model to check (default: the one the selection rule chooses).")
@_guard
def check(charter: Path, out: Path | None, resamples: int | None, seed: int | None,
          engine: str, binned: int | None, quiet: bool, candidate: str | None) -> int:
    """Gate a candidate against the blessed model and the requirements (a CI step).

    Exit code 0: every gate and requirement passes; 1: something fails (each failing
    metric, slice, bound and margin is printed); 2: bad input. Writes result.json,
    report.html and check.md (a pull-request comment).
    """
    return _run(charter, out, resamples, seed, engine, quiet, html=True, binned=binned,
                candidate=candidate, check=True)


@main.command()
@_apply(_run_options)
@click.option("--model", default=None, metavar="MODEL",
              help="The model to diagnose (default: the one the selection rule chooses).")
@_guard
def diagnose(charter: Path, out: Path | None, resamples: int | None, seed: int | None,
             engine: str, binned: int | None, quiet: bool, model: str | None) -> int:
    """What holds the model back, and what to try next.

    The four gaps (avoidable bias, variance, distribution mismatch, overfitting the
    validation set) against the upper baseline, the bottleneck and ranked next steps, the
    slices significantly worse than overall, the training history and learning curve when
    the charter gives them. Writes result.json and report.html (with a diagnosis panel).
    Exit code 0, or 2 on bad input.
    """
    return _run(charter, out, resamples, seed, engine, quiet, html=True, binned=binned,
                diagnose=model or True)


@main.command()
@click.argument("charter", type=click.Path(path_type=Path))
@click.argument("model")
@click.argument("reference")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="Folder to write compare.json into (default: print only).")
@click.option("--resamples", type=click.IntRange(min=0), default=None,
              help="Bootstrap resamples (overrides the charter; 0 turns intervals off).")
@click.option("--seed", type=int, default=None, help="Seed (overrides the charter).")
@click.option("--mcnemar", type=click.Choice(["auto", "mid-p", "exact", "chi2", "chi2-cc"]),
              default=None,
              help="McNemar's method for accuracy (default: the charter's compare.mcnemar, "
                   "else auto: mid-p below 25 discordant pairs, else chi2).")
@_guard
def compare(charter: Path, model: str, reference: str, out: Path | None,
            resamples: int | None, seed: int | None, mcnemar: str | None) -> int:
    """Compare MODEL with REFERENCE (MODEL − REFERENCE) with paired tests.

    Any two models or baselines of the charter, on the same rows of the selection and the
    report split: every metric, overall and per slice, with intervals and p-values (DeLong
    for ROC AUC, McNemar for accuracy, the paired bootstrap otherwise; Benjamini–Hochberg
    across the slices). Prints a table; with --out, writes compare.json. Records nothing in
    the store. Exit code 0, or 2 on bad input (e.g. an unknown model).
    """
    from mlscope.cli_compare import compare_command

    compare_command(charter, model, reference, out=out, resamples=resamples, seed=seed,
                    mcnemar=mcnemar)
    return EXIT_OK


def _host_names(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
                ) -> tuple[str, ...]:
    """Refuse an ``--allow-host`` that is not a host name or an address (exit 2)."""
    from mlscope.server.security import normalize_host

    for v in values:
        try:
            normalize_host(v)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return values


@main.command()
@click.argument("project_dir", type=click.Path(path_type=Path), default=".")
@click.option("--store", "location", default=None, metavar="URL",
              help="The store to read: a SQLAlchemy URL or a SQLite file (default: "
                   "PROJECT_DIR/.mlscope/store.sqlite).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; anything but loopback exposes the dashboard, which has "
                   "no authentication, to the network (a warning is printed).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              callback=_host_names,
              help="A further name the dashboard answers to in the Host header (repeatable), "
                   "e.g. a DNS name of this machine; requests naming any other host are "
                   "refused (DNS rebinding).")
@click.option("--open", "open_browser", is_flag=True, help="Open the dashboard in a browser.")
@_guard
def serve(project_dir: Path, location: str | None, host: str, port: int,
          allow_hosts: tuple[str, ...], open_browser: bool) -> None:
    """A local web dashboard of every recorded run: decision, history, comparisons."""
    from mlscope import server
    from mlscope.server.security import bind_error
    from mlscope.store import Store

    if location is None and not (project_dir / ".mlscope" / "store.sqlite").exists():
        raise InputError(f"no store at {project_dir / '.mlscope' / 'store.sqlite'}: run "
                         "`mlscope run` on a charter in that folder first, or give --store")
    store = Store.open(location, project_dir=project_dir, create=False)
    try:
        server.serve(store, host=host, port=port, open_browser=open_browser,
                     allow_hosts=allow_hosts)
    except OSError as exc:
        raise InputError(bind_error(host, port, exc)) from None
    finally:
        store.close()


@main.group()
def mlflow() -> None:
    """Import candidates from an MLflow tracking store; write the decision back."""


@mlflow.command("import")
@click.argument("tracking_uri")
@click.option("--experiment", required=True, help="The MLflow experiment to import.")
@click.option("--out-dir", type=click.Path(path_type=Path), required=True,
              help="Where each run's predictions are written as <model>.parquet.")
@click.option("--artifact", default="predictions.parquet", show_default=True,
              help="The predictions artifact of each run (Parquet or CSV).")
@click.option("--id-column", default="id", show_default=True)
@click.option("--score-column", default="score", show_default=True)
@click.option("--class", "classes", multiple=True, metavar="CLASS=COLUMN",
              help="Multiclass: a probability column per class (repeat).")
@click.option("--filter", "run_filter", default=None, help="An MLflow run filter.")
@click.option("--labels", type=click.Path(path_type=Path), default=None,
              help="The labels file, for the printed charter snippet.")
@click.option("--label", default=None, help="The label column, for the snippet.")
@_guard
def mlflow_import(tracking_uri: str, experiment: str, out_dir: Path, artifact: str,
                  id_column: str, score_column: str, classes: tuple[str, ...],
                  run_filter: str | None, labels: Path | None, label: str | None) -> None:
    """Import an experiment's runs as candidate models (predictions + a charter snippet)."""
    import json

    from mlscope.integrations.mlflow import import_runs

    class_columns = None
    if classes:
        pairs = [c.split("=", 1) for c in classes]
        if any(len(p) != 2 for p in pairs):
            raise InputError("--class takes CLASS=COLUMN, e.g. --class cat=p_cat")
        class_columns = {k: v for k, v in pairs}
    runs = import_runs(tracking_uri, experiment=experiment, out_dir=out_dir,
                       predictions_artifact=artifact, id_column=id_column,
                       score_column=score_column, class_columns=class_columns,
                       run_filter=run_filter)
    from mlscope.atomic import write_atomic

    record = write_atomic(out_dir / "mlflow-runs.json", json.dumps(runs.to_dict(), indent=2))
    click.echo(f"Imported {len(runs.models)} run(s) from {experiment}: "
               f"{', '.join(runs.models)}; record: {record}")
    click.echo(runs.charter_snippet(relative_to=Path.cwd(), labels=labels, label=label))


@mlflow.command("tag")
@click.argument("charter", type=click.Path(path_type=Path), default="mlscope.yaml")
@click.option("--runs", "runs_path", type=click.Path(path_type=Path), required=True,
              help="The mlflow-runs.json written by `mlscope mlflow import`.")
@click.option("--tracking-uri", required=True, help="The MLflow tracking store.")
@click.option("--result", "result_path", type=click.Path(path_type=Path), default=None,
              help="A saved result.json (default: evaluate the charter now).")
@click.option("--prefix", default="mlscope", show_default=True, help="Tag prefix.")
@click.option("--register", default=None, metavar="NAME",
              help="Register the winner as this model and set the alias on it.")
@click.option("--alias", default="champion", show_default=True)
@_guard
def mlflow_tag(charter: Path, runs_path: Path, tracking_uri: str, result_path: Path | None,
               prefix: str, register: str | None, alias: str) -> None:
    """Tag the runs with the decision (and register the winner under an alias)."""
    import json

    from mlscope.integrations.mlflow import ImportedRuns, write_decision
    from mlscope.result import EvaluationResult

    if not runs_path.exists():
        raise InputError(f"--runs: {runs_path} does not exist; run `mlscope mlflow import` "
                         "first")
    runs = ImportedRuns.from_dict(json.loads(runs_path.read_text(encoding="utf-8")))
    if result_path is not None:
        result = EvaluationResult.from_json(result_path)
    else:
        from mlscope.evaluation import evaluate

        result = evaluate(charter)
    written = write_decision(tracking_uri, result, runs, tag_prefix=prefix,
                             register=register, alias=alias)
    click.echo(json.dumps(written, indent=2, default=str))


@main.command()
@click.argument("result", type=click.Path(path_type=Path))
@click.option("--html", "html_path", type=click.Path(path_type=Path), default=None,
              help="Where to write the HTML report (default: next to the JSON).")
@_guard
def report(result: Path, html_path: Path | None) -> int:
    """Render a saved result.json again (terminal summary and HTML); never recomputes."""
    from mlscope.report import render_terminal, write_html
    from mlscope.result import EvaluationResult

    if not result.exists():
        raise InputError(f"result file not found: {result}")
    try:
        res = EvaluationResult.from_json(result)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{result} is not an mlscope result: {exc}") from None
    target = html_path or result.with_name("report.html")
    try:
        write_html(res, target)  # atomic: an interrupted re-render keeps the old report
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror or exc}") from None
    render_terminal(res, paths={"json": str(result), "html": str(target)})
    return res.exit_code


@main.command(name="metrics")
@click.option("--task", type=click.Choice(["binary", "multiclass", "regression", "errors"]),
              default=None, help="Only metrics for this task.")
@click.option("--markdown", is_flag=True,
              help="Print the full metric reference as Markdown (docs/metrics.md).")
def list_metrics(task: str | None, markdown: bool) -> None:
    """List the metrics mlscope computes, with direction and parameters."""
    from rich.table import Table

    if markdown:
        from mlscope.metrics.reference import markdown as reference

        click.echo(reference(), nl=False)
        return

    from mlscope.metrics.registry import REGISTRY

    table = Table(box=None, header_style="bold")
    for col in ("metric", "better", "tasks", "parameters", "description"):
        table.add_column(col, overflow="fold")
    for spec in REGISTRY.values():
        if task and task not in spec.tasks:
            continue
        params = ", ".join(f"{k}={v.default}" for k, v in spec.params.items())
        table.add_row(spec.name, spec.direction, ", ".join(sorted(spec.tasks)), params,
                      spec.description)
    Console().print(table)


if __name__ == "__main__":  # pragma: no cover
    main()
