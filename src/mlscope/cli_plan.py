"""``mlscope plan CHARTER``: the planning checklist checked against the evidence.

Prints the readiness of each stage (planning, evaluation, deployment, monitoring) and
each checklist item with the evidence found or what is missing and the fix; ``--json``
prints the same as data; ``--result`` reads a stored ``result.json`` for figures (without
it, the latest run of the project in the store beside the charter, when there is one).
Writes the brief (``brief.md``, ``brief.html``; :mod:`mlscope.plan.brief`,
:mod:`mlscope.report.brief`) into ``--out`` (default ``mlscope-out/plan/`` beside the
charter). Exit 0 (the plan is information, not a gate), 2 for bad input.

A YAML file with a top-level ``projects:`` key is a portfolio: it is handed to
``mlscope portfolio`` (:func:`mlscope.cli_portfolio.run_portfolio`).
"""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from mlscope.charter import load_charter
from mlscope.errors import InputError
from mlscope.plan import PlanCheck, plan_check
from mlscope.plan.brief import compose_brief
from mlscope.report.brief import write_brief
from mlscope.result import EvaluationResult

__all__ = ["is_portfolio", "plan_command", "render_plan"]

_MARK = {"evidence": ("✓", "green"), "attested": ("✓", "green"),
         "not_applicable": ("–", "dim"), "partial": ("◐", "yellow"),
         "unverified": ("?", "yellow"), "missing": ("✗", "red"), "open": ("○", "red")}
_WORD = {"evidence": "evidence", "attested": "answered (a person's word)",
         "not_applicable": "not applicable", "partial": "partly evidenced",
         "unverified": "unverified", "missing": "evidence missing", "open": "open"}


def is_portfolio(path: Path) -> bool:
    """Whether ``path`` is a portfolio file: a top-level ``projects:`` key. Read as lines
    (a charter is parsed, with its limits, by the charter loader; a portfolio by its own)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            return any(line.startswith(("projects:", "projects :"))
                       for line in islice(fh, 10_000))
    except OSError:
        return False  # the charter loader reports it


def _portfolio(path: Path, out: Path | None, console: Console) -> int:
    from mlscope.cli_portfolio import run_portfolio

    return run_portfolio(path, out=out, console=console)


def _read_result(path: Path) -> EvaluationResult:
    if not path.is_file():
        raise InputError(f"--result {path}: no such file; pass the result.json of a run "
                         "(`mlscope run` writes it into its output folder)")
    try:
        return EvaluationResult.from_json(path)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"--result {path} is not an mlscope result.json ({exc}); pass the "
                         "result.json a run wrote") from None


def _stored_run(charter: Path, project: str) -> tuple[EvaluationResult, str] | None:
    """The latest run of ``project`` in the store beside the charter, if there is one.

    A store that cannot be read is not an error here: the plan is made from the charter
    alone and says so (the brief lists the figures it lacks)."""
    from mlscope.store import Store, StoreError

    folder = charter.expanduser().resolve().parent
    if not (folder / ".mlscope" / "store.sqlite").is_file():
        return None
    try:
        store = Store.open(project_dir=folder, create=False)
    except StoreError:
        return None
    try:
        runs = store.runs(project, limit=1)
        if not runs:
            return None
        return store.result(runs[0].id), f"run #{runs[0].id} of the store"
    except StoreError:
        return None
    finally:
        store.close()


def render_plan(check: PlanCheck, console: Console) -> None:
    """Readiness per stage, then every item with its evidence or what is missing."""
    console.print(f"[bold]Plan of {escape(check.project)}[/]"
                  + (f"  ·  figures from {escape(check.result)}" if check.result else
                     "  ·  charter only (pass --result for figures)"))
    console.print()
    console.print("[bold]Readiness[/] (items with evidence, or not applicable with the reason)")
    for s in check.stages:
        colour = "green" if s.ready == s.total else "yellow" if s.ready else "red"
        console.print(f"  {s.stage:<11} [{colour}]{s.ready:>2}/{s.total:<2} "
                      f"{100 * s.share:3.0f}%[/]"
                      + (f"  not ready: {', '.join(s.not_ready)}" if s.not_ready else ""))
    for stage in (s.stage for s in check.stages):
        console.print()
        console.print(f"[bold]{stage.capitalize()}[/]")
        for it in (i for i in check.items if i.stage == stage):
            mark, colour = _MARK[it.outcome]
            console.print(f"  [{colour}]{mark}[/] [bold]{escape(it.title)}[/] "
                          f"({it.key}): {_WORD[it.outcome]}"
                          + (f" — {escape(it.note)}" if it.note else ""))
            for line in it.found:
                console.print(f"      [green]found[/] {escape(line)}")
            for g in it.missing:
                console.print(f"      [red]missing[/] {escape(g.what)}")
                console.print(f"        fix: {escape(g.fix)}", style="dim")
            for g in it.unverified:
                console.print(f"      [yellow]unverified[/] {escape(g.what)}")
                console.print(f"        fix: {escape(g.fix)}", style="dim")
            for flag in it.flags:
                console.print(f"      [yellow]note[/] {escape(flag)}")


def plan_command(charter: Path, result: Path | None, as_json: bool, out: Path | None,
                 console: Console | None = None) -> int:
    """Run ``mlscope plan``; returns the exit code (0).

    Raises
    ------
    InputError, CharterError
        The charter or the result cannot be read (exit 2).
    """
    con = console or Console(highlight=False, soft_wrap=True)
    if is_portfolio(charter):
        return _portfolio(charter, out, con)
    ch = load_charter(charter)
    stored = _read_result(result) if result is not None else None
    if stored is not None and stored.project != ch.project:
        raise InputError(f"--result {result} is of project `{stored.project}`, the charter "
                         f"of `{ch.project}`; pass a result of this charter")
    source = str(result) if result else None
    if stored is None:
        got = _stored_run(charter, ch.project)
        if got is not None:
            stored, source = got
    check = plan_check(ch, stored, result_path=source)
    folder = out if out is not None else charter.parent / "mlscope-out" / "plan"
    written = write_brief(compose_brief(ch, stored, source=source, check=check), folder)
    if as_json:
        data: dict[str, Any] = check.to_dict()
        # Plain print: rich would wrap long lines and break the JSON for a pipe.
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    render_plan(check, con)
    con.print()
    con.print("wrote the brief: " + ", ".join(escape(str(p)) for p in written))
    return 0
