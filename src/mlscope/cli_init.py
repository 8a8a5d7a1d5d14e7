"""``mlscope init``: a new project's charter from a data file, in one command.

The roles of the columns are proposed by :func:`mlscope.data.propose.propose`; what it
cannot tell is asked on a terminal, or, without one (or with ``--yes``), stops with exit 2
naming the flag that answers it. The charter is written atomically, never over an existing
file without ``--force``, and then validated.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from mlscope.atomic import write_atomic
from mlscope.charter import validate_charter
from mlscope.charter.template import render_charter
from mlscope.data.propose import Hints, Question, propose, read_sample
from mlscope.errors import InputError

__all__ = ["init_command", "split_list"]


def split_list(value: str | None) -> list[str] | None:
    """``"a, b"`` as ``["a", "b"]``; ``None`` for nothing given."""
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


def can_ask() -> bool:
    """Whether a person can be asked: standard input is a terminal."""
    return sys.stdin.isatty()


def _ask(q: Question) -> str:
    """Ask ``q`` on the terminal; the answer goes into the hints like the flag would."""
    choices = click.Choice(q.candidates) if q.candidates else None
    return str(click.prompt(f"{q.text}; {q.flag}", type=choices, err=True))


def _refuse(qs: list[Question]) -> InputError:
    # A question reads "which column is the label? (…)": stated, not asked, here.
    lines = [f"{q.text.replace('?', '', 1)} — pass {q.flag} "
             + ("COLUMN" if q.flag in ("--label", "--id", "--split") else
                "a,b" if q.flag in ("--models", "--slices") else "VALUE") for q in qs]
    return InputError("init cannot tell " + ("; ".join(lines)) + " (or run it on a terminal "
                      "to be asked)")


def _relative_table(data: Path, out: Path) -> str:
    try:
        return Path(os.path.relpath(data.resolve(), out.resolve().parent)).as_posix()
    except ValueError:  # another drive (Windows)
        return data.resolve().as_posix()


def init_command(data: Path, out: Path, hints: Hints, project: str | None, yes: bool,
                 force: bool) -> int:
    """Propose, ask what is unclear, write the charter, validate it; the exit code.

    Raises
    ------
    InputError
        The data cannot be read, a flag names no column, a role cannot be told and no
        terminal can be asked, or the charter exists and ``force`` is off.
    """
    if out.exists() and not force:
        raise InputError(f"{out} already exists; pass --force to overwrite it, or --out "
                         "another file")
    if out.exists() and not out.is_file():
        raise InputError(f"{out} is not a file; pass --out a file name such as mlscope.yaml")
    df = read_sample(data)
    name = project or re.sub(r"[^A-Za-z0-9_-]+", "-", data.name.split(".")[0]).strip("-")
    interactive = not yes and can_ask()
    table = _relative_table(data, out)
    for _ in range(8):  # each round answers at least one question
        proposal, questions = propose(df, hints, project=name or "project", table=table)
        if proposal is not None:
            break
        if not interactive:
            raise _refuse(questions)
        q = questions[0]
        answer = _ask(q)
        if q.role == "models":
            hints.models = split_list(answer)
        elif q.role == "positive":
            hints.positive = answer
        else:
            setattr(hints, q.role, answer)
    else:  # pragma: no cover - every answer settles its question
        raise InputError("init could not settle the columns' roles; pass the flags")
    text = render_charter(proposal)
    try:
        write_atomic(out, text)
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror or exc}") from None
    con = Console(highlight=False, soft_wrap=True)
    models = ", ".join(proposal.models)
    con.print(f"[green]✓[/] wrote {escape(str(out))}: {proposal.task}, label "
              f"[bold]{escape(proposal.label)}[/], {len(proposal.models)} model(s) "
              f"({escape(models)})")
    report = validate_charter(out)
    for w in report.warnings:
        con.print(f"[yellow]warning:[/] {escape(str(w))}")
    if report.problems:
        err = Console(stderr=True, highlight=False, soft_wrap=True)
        err.print(f"[bold red]{len(report.problems)} problem(s)[/] in {escape(str(out))}:")
        for p in report.problems:
            err.print(f"  • {p}", markup=False)
        return 2
    con.print(f"[green]✓[/] {escape(str(out))} is valid.")
    # The data too, as `mlscope validate` checks it: a charter that is valid on data that
    # cannot run (labels missing in some rows, say) must not read as ready.
    from mlscope.cli_validate import check_data

    assert report.charter is not None
    if not check_data(out, report.charter, con, Console(stderr=True, highlight=False,
                                                          soft_wrap=True)):
        con.print(f"Next: fix the data, then mlscope validate {escape(str(out))}")
        return 2
    con.print("Next: check the proposed roles and fill in `planning:`, then\n"
              f"  mlscope run {escape(str(out))}")
    return 0

