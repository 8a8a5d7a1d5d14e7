"""``mlscope validate``'s data part: open the charter's data, report every data problem at
its charter line with the fix (:mod:`mlscope.data.inspect`), or say what was found."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

from mlscope.charter.schema import Charter

__all__ = ["check_data"]


def check_data(path: Path, charter: Charter, con: Console, err: Console) -> bool:
    """Open the data of the valid charter at ``path``; print the problems (False) or a
    one-line summary of the data (True)."""
    from mlscope.charter.load import key_problem
    from mlscope.data.inspect import inspect_data

    problems, table = inspect_data(charter, path.parent)
    if problems:
        err.print(f"[bold red]{len(problems)} data problem(s)[/] for {escape(str(path))}:")
        placed = [key_problem(path, p.key, p.message, p.fix) for p in problems]
        # In file order, as the charter's own problems are.
        for q in sorted(placed, key=lambda q: q.line or 0):
            err.print(f"  • {q}", markup=False)
        return False
    assert table is not None
    try:
        splits = ", ".join(table.splits) or "none"
        con.print(f"[green]✓[/] data: {table.n_rows:,} rows, splits {escape(splits)}, "
                  f"{len(table.models)} model(s): {escape(', '.join(table.models))}")
        for w in table.warnings:
            con.print(f"[yellow]warning:[/] {escape(str(w))}")
    finally:
        table.con.close()
    return True
