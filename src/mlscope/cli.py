"""The ``mlscope`` command line: a thin shell over the Python API.

Exit codes (``run``, ``evaluate``: the launch verdict's): 0 what the verdict recommends meets
every requirement (ship, keep production, ship the rule; undecided with the selected model
meeting them); 1 it recommends nothing (not good enough; undecided otherwise);
2 bad input (charter, data, options); 3 an internal error (a bug: please report it with the
traceback). docs/cli.md has every command's.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from rich.console import Console

from mlscope._version import __version__
from mlscope.cli_run import RUN_OPTIONS, apply_options, run_command
from mlscope.errors import CharterError, InputError

__all__ = ["main"]

EXIT_OK, EXIT_UNMET, EXIT_INPUT, EXIT_BUG = 0, 1, 2, 3
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a process the pipe killed
F = TypeVar("F", bound=Callable[..., Any])


def _console(*, stderr: bool = False) -> Console:
    # rich is imported on first output, not with the CLI: `mlscope --version` and
    # `--help` never need it (about a third of their start-up).
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _err_console() -> Console:
    return _console(stderr=True)


def escape(text: str) -> str:
    """``rich.markup.escape``, imported when first needed (see :func:`_console`)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


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
    Start with a charter (mlscope.yaml; `mlscope init DATA` writes one), then:
      mlscope validate mlscope.yaml     check it, with file/line and fixes
      mlscope run mlscope.yaml          every metric, per slice, with intervals,
                                        a decision, JSON + HTML report
    Exit codes: 0 the verdict recommends something that meets every
    requirement, 1 it recommends nothing (not good enough), 2 bad input.
    """


@main.command()
@click.argument("charter", type=click.Path(path_type=Path), default="mlscope.yaml")
@click.option("--data/--no-data", "open_data", default=True, show_default=True,
              help="Also open the charter's data and report every data problem (a missing "
                   "file or column, labels, splits) at its charter line.")
@_guard
def validate(charter: Path, open_data: bool) -> int | None:
    """Check a charter (and its data) and report every problem with file, line and the fix."""
    from mlscope.charter import validate_charter

    report = validate_charter(charter)
    con = _console()
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
        # "charter": the data's problems, if any, follow (it read "✓ x.yaml is valid", then
        # "2 data problem(s)" and exit 2).
        f"[green]✓[/] charter {escape(str(charter))} is valid: project "
        f"[bold]{escape(c.project)}[/] "
        f"({c.task}), "
        f"{len(c.metrics)} metric(s), rule [bold]{c.selection.rule}[/]"
    )
    if open_data:
        from mlscope.cli_validate import check_data

        return None if check_data(charter, c, con, _err_console()) else EXIT_INPUT
    return None


@main.command()
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--out", "-o", type=click.Path(path_type=Path), default=Path("mlscope.yaml"),
              show_default=True, help="The charter to write.")
@click.option("--project", default=None, help="The project's name (default: the file's).")
@click.option("--label", default=None, metavar="COLUMN", help="The label column.")
@click.option("--task", type=click.Choice(["binary", "multiclass", "regression"]),
              default=None, help="The task (default: from the label's values).")
@click.option("--positive", default=None, metavar="VALUE", help="Binary: the positive class.")
@click.option("--id", "id_column", default=None, metavar="COLUMN", help="The row id column.")
@click.option("--split", default=None, metavar="COLUMN", help="The split column.")
@click.option("--models", default=None, metavar="A,B",
              help="The models: score columns, or NAME=COLUMN (multiclass: model names "
                   "whose columns are <model>_<class>).")
@click.option("--slices", default=None, metavar="A,B", help="Columns to slice by.")
@click.option("--metric", default=None, help="The metric the selection rule optimises.")
@click.option("--yes", "--non-interactive", "yes", is_flag=True,
              help="Never ask: stop with exit 2 naming the flag for what cannot be told.")
@click.option("--force", is_flag=True, help="Overwrite an existing charter.")
@_guard
def init(data: Path, out: Path, project: str | None, label: str | None, task: str | None,
         positive: str | None, id_column: str | None, split: str | None, models: str | None,
         slices: str | None, metric: str | None, yes: bool, force: bool) -> int:
    """Start a project: propose a charter from a data file, write it and validate it.

    From the columns' names, types and values: the label, the task, the positive class,
    the row id, the split, the models' score columns and the slices; what cannot be told
    is asked (or, with --yes or without a terminal, named with its flag, exit 2). The
    charter is commented, has a `planning:` checklist, and is never written over an
    existing file without --force.
    """
    from mlscope.cli_init import init_command, split_list
    from mlscope.data.propose import Hints

    hints = Hints(label=label, task=task, positive=positive,  # type: ignore[arg-type]
                  id=id_column, split=split, models=split_list(models),
                  slices=split_list(slices), metric=metric)
    return init_command(data, out, hints, project, yes, force)


@main.command()
@click.argument("charter", type=click.Path(path_type=Path), default="mlscope.yaml")
@click.option("--result", "result", type=click.Path(path_type=Path), default=None,
              help="A stored result.json of this charter, for figures.")
@click.option("--json", "as_json", is_flag=True, help="Print the check as JSON.")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="Output folder for the brief (default: mlscope-out/plan/ next to the "
                   "charter) or the portfolio's files.")
@_guard
def plan(charter: Path, result: Path | None, as_json: bool, out: Path | None) -> int:
    """Check the planning checklist against the evidence: readiness per stage; write the brief.

    Each checklist item with the evidence the charter (and --result, else the latest run
    in the store beside the charter) holds, or what is missing and the fix; a budget
    nothing measures is unverified, never met. Writes brief.md and brief.html into --out.
    Exit 0; 2 for bad input.
    """
    from mlscope.cli_plan import plan_command

    return plan_command(charter, result, as_json, out)


@main.command()
@click.argument("charter", type=click.Path(path_type=Path))
@click.option("--log", "log", type=click.Path(path_type=Path), required=True,
              help="The production log (Parquet, CSV, or a DuckDB database with --table): "
                   "the time, features and scores named in the charter's monitor: section, "
                   "labels where arrived.")
@click.option("--table", default=None, metavar="NAME",
              help="The table holding the log, when --log is a DuckDB database "
                   "(.duckdb, .ddb, .db), attached read-only.")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="Where monitor.json goes (default: mlscope-out/monitor/ next to the "
                   "charter).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--store", default=None, metavar="URL",
              help="Where monitor results are recorded, beside the runs: a SQLAlchemy URL or "
                   "a SQLite file (default: .mlscope/store.sqlite next to the charter).")
@click.option("--no-store", is_flag=True, help="Do not record this result in the store.")
@click.option("--digest", "digest", type=click.Path(path_type=Path), default=None,
              metavar="PATH", help="Also write the Markdown alert digest to PATH (and its "
                                   "JSON beside it, PATH with .json); digest.md is always "
                                   "written into --out.")
@_guard
def monitor(charter: Path, log: Path, table: str | None, out: Path | None, as_json: bool,
            store: str | None, no_store: bool, digest: Path | None) -> int:
    """Watch the model in production: each window of the log against the reference.

    Input checks (missing values, ranges, new categories, shift per feature and slice),
    output checks (score shift, positive rate, missing scores, feedback), performance
    estimated before labels and back-tested when they arrive (docs/monitoring.md).
    Exit code 0: no alert (and a rollout candidate promoted); 1: an alert was raised, or
    the rollout holds or rolls back; 2: bad input.
    """
    from mlscope.cli_monitor import monitor_command

    return monitor_command(charter, log, out, as_json, store=store, record=not no_store,
                           digest=digest, table=table)


@main.command()
@click.argument("portfolio", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="Where portfolio.svg, portfolio.html and portfolio.json go "
                   "(default: out/ next to the portfolio file).")
@_guard
def portfolio(portfolio: Path, out: Path | None) -> int:
    """Score candidate projects by impact and feasibility, rank them and draw the 2×2.

    Each project is a charter (its `planning:` drivers) or an inline entry with `impact:`
    and `feasibility:` drivers; scores carry ranges (docs/planning-portfolio.md).
    """
    from mlscope.cli_portfolio import run_portfolio

    return run_portfolio(portfolio, out=out, console=_console())


@main.command()
@apply_options(RUN_OPTIONS)
@_guard
def run(charter: Path, out: Path | None, resamples: int | None, seed: int | None, engine: str,
        binned: int | None, quiet: bool) -> int:
    """Evaluate, select, and write result.json and report.html (the main job)."""
    return run_command(charter, out, resamples, seed, engine, quiet, html=True, binned=binned)


@main.command()
@apply_options(RUN_OPTIONS)
@_guard
def evaluate(charter: Path, out: Path | None, resamples: int | None, seed: int | None,
             engine: str, binned: int | None, quiet: bool) -> int:
    """Evaluate and select, writing result.json only (no HTML).

    An earlier report.html or check.md in the output folder is removed: it would describe
    another run.
    """
    return run_command(charter, out, resamples, seed, engine, quiet, html=False, binned=binned)


@main.command()
@apply_options(RUN_OPTIONS)
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
    return run_command(charter, out, resamples, seed, engine, quiet, html=True, binned=binned,
                       candidate=candidate, check=True)


@main.command()
@apply_options(RUN_OPTIONS)
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
    return run_command(charter, out, resamples, seed, engine, quiet, html=True, binned=binned,
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
@click.argument("charter", type=click.Path(path_type=Path), default="mlscope.yaml")
@click.option("--model", "models", multiple=True, metavar="NAME",
              help="A model to profile (repeat for several; default: every model with an "
                   "artifact). Models given an --artifact are profiled too.")
@click.option("--artifact", "artifacts", multiple=True, metavar="NAME=PATH",
              help="A model's artifact (.joblib/.pkl, .onnx, .pt, or module:function), "
                   "besides the charter's profile.artifacts.")
@click.option("--scenario", type=click.Choice(["single-stream", "server", "offline", "all"]),
              default="all", show_default=True, help="Which load to generate.")
@click.option("--calls", type=int, default=1000, show_default=True,
              help="Calls per run (single-stream, server, each QPS trial).")
@click.option("--qps", type=float, default=None,
              help="Server: the target queries per second (Poisson arrivals).")
@click.option("--latency-bound-ms", type=float, default=None,
              help="Server: search the highest QPS whose p99 upper bound stays within this "
                   "(default: planning.deployment.latency_budget_ms).")
@click.option("--batch-sizes", default="1,8,64", show_default=True,
              help="Batch sizes of the sweep; the largest is the offline batch.")
@click.option("--confidence", type=float, default=0.95, show_default=True,
              help="Confidence of the percentile bounds.")
@click.option("--seed", type=int, default=None, help="Seed of the arrival schedule "
              "(default: the charter's).")
@click.option("--memory/--no-memory", default=True, show_default=True,
              help="Measure peak memory in a child process.")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="Output folder (default: mlscope-out/profile/ next to the charter).")
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
@_guard
def profile(charter: Path, models: tuple[str, ...], artifacts: tuple[str, ...], scenario: str,
            calls: int, qps: float | None, latency_bound_ms: float | None, batch_sizes: str,
            confidence: float, seed: int | None, memory: bool, out: Path | None,
            as_json: bool) -> int:
    """Latency percentiles with confidence bounds, throughput and memory of model artifacts.

    Single-stream (one call at a time), server (open-loop Poisson arrivals at --qps; with
    --latency-bound-ms, the highest QPS whose p99 stays within it), offline (the largest
    batch) and a batch-size sweep. Writes profile.json. Exit 0; 2 for bad input.
    """
    from mlscope.cli_profile import parse_batch_sizes, profile_command, scenario_of
    from mlscope.profile.session import ProfileOptions

    if not 0 < confidence < 1:
        raise InputError(f"--confidence must lie strictly between 0 and 1, got {confidence:g}")
    opts = ProfileOptions(scenario=scenario_of(scenario), calls=calls, qps=qps,
                          latency_bound_ms=latency_bound_ms,
                          batch_sizes=parse_batch_sizes(batch_sizes), confidence=confidence,
                          seed=0 if seed is None else seed)
    return profile_command(charter, models=models, artifacts=artifacts, opts=opts, out=out,
                           as_json=as_json, memory=memory, seed_from_charter=seed is None)


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
@click.option("--split", default=None,
              help="The labels' split column, for the snippet (default: a column of the "
                   "labels file named split, fold, partition, subset or set).")
@_guard
def mlflow_import(tracking_uri: str, experiment: str, out_dir: Path, artifact: str,
                  id_column: str, score_column: str, classes: tuple[str, ...],
                  run_filter: str | None, labels: Path | None, label: str | None,
                  split: str | None) -> None:
    """Import an experiment's runs as candidate models (predictions + a charter snippet)."""
    from mlscope.cli_mlflow import mlflow_import_command

    mlflow_import_command(tracking_uri, experiment, out_dir, artifact, id_column, score_column,
                          classes, run_filter, labels, label, split)


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
@click.option("--json", "as_json", is_flag=True,
              help="Print everything written as JSON (for scripts) instead of a summary.")
@_guard
def mlflow_tag(charter: Path, runs_path: Path, tracking_uri: str, result_path: Path | None,
               prefix: str, register: str | None, alias: str, as_json: bool) -> None:
    """Tag the runs with the decision (and register the winner under an alias)."""
    from mlscope.cli_mlflow import mlflow_tag_command

    mlflow_tag_command(charter, runs_path, tracking_uri, result_path, prefix, register, alias,
                       as_json=as_json)


@main.command()
@click.argument("result", type=click.Path(path_type=Path))
@click.option("--html", "html_path", type=click.Path(path_type=Path), default=None,
              help="Where to write the HTML report (default: next to the JSON).")
@click.option("--verbose", "-v", is_flag=True,
              help="The full terminal summary, as `mlscope run --verbose` prints it: every "
                   "metric on the selection split, the standings, what each rule would pick.")
@_guard
def report(result: Path, html_path: Path | None, verbose: bool) -> int:
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
    render_terminal(res, paths={"json": str(result), "html": str(target)}, verbose=verbose)
    return res.exit_code


@main.command(name="metrics")
@click.option("--task", type=click.Choice(["binary", "multiclass", "regression", "errors"]),
              default=None, help="Only metrics for this task.")
@click.option("--markdown", is_flag=True,
              help="Print the full metric reference as Markdown (docs/metrics.md).")
def list_metrics(task: str | None, markdown: bool) -> None:
    """List the metrics mlscope computes, with direction and parameters."""
    from mlscope.cli_metrics import metrics_command

    metrics_command(task, markdown)


if __name__ == "__main__":  # pragma: no cover
    main()
