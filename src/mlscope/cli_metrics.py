"""``mlscope metrics``: the metric registry as a table (wide terminals), one block per
metric (narrow ones), or the Markdown reference of docs/metrics.md."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

__all__ = ["metrics_command"]


def metrics_command(task: str | None, markdown: bool) -> None:
    """``mlscope metrics``: list the metrics mlscope computes, with direction and parameters
    (``task``: only this task's; ``markdown``: the full reference, docs/metrics.md)."""
    from rich.console import Console
    from rich.table import Table

    if markdown:
        from mlscope.metrics.reference import markdown as reference

        click.echo(reference(), nl=False)
        return

    from rich.padding import Padding
    from rich.text import Text

    from mlscope.metrics.registry import REGISTRY

    con = Console()
    specs = [spec for spec in REGISTRY.values() if not task or task in spec.tasks]
    # Everything is plain Text: descriptions hold brackets (`[eps, 1 − eps]`) that rich
    # would otherwise read as markup and drop.
    if con.width >= 110:
        table = Table(box=None, header_style="bold")
        table.add_column("metric", no_wrap=True)
        table.add_column("better", no_wrap=True)
        table.add_column("tasks", max_width=24)
        table.add_column("parameters", max_width=32)
        table.add_column("description", ratio=1)
        for spec in specs:
            params = _params_text(spec.params)
            table.add_row(Text(spec.name), Text(spec.direction),
                          Text(", ".join(sorted(spec.tasks))), Text(params),
                          Text(spec.description))
        con.print(table)
        return
    # A narrow terminal: one block per metric, so no column squeezes a name mid-word.
    for spec in specs:
        params = _params_text(spec.params)
        head = Text(spec.name, style="bold")
        head.append(f"  {spec.direction} is better · {', '.join(sorted(spec.tasks))}",
                    style="dim")
        con.print(head)
        if params:
            con.print(Padding(Text(f"parameters: {params}"), (0, 0, 0, 2)))
        con.print(Padding(Text(spec.description), (0, 0, 1, 2)))


def _params_text(params: Mapping[str, Any]) -> str:
    # A parameter without a default is named alone (the charter must give it).
    return ", ".join(k if v.default in (None, "") else f"{k}={v.default}"
                     for k, v in params.items())
