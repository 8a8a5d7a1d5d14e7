"""``mlscope portfolio PORTFOLIO.yaml``: score, rank and draw candidate projects.

Reading and scoring are :mod:`mlscope.plan.portfolio`; the tables, the 2×2 and the HTML
page are :mod:`mlscope.report.portfolio`. A bad portfolio raises
:class:`~mlscope.plan.portfolio.PortfolioError` (an ``InputError``): the command's guard
prints every problem with its file, line and fix, and exits 2.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from mlscope.plan.portfolio import load_portfolio
from mlscope.report.portfolio import print_portfolio, write_portfolio

__all__ = ["run_portfolio"]


def run_portfolio(path: Path, *, out: Path | None, console: Console) -> int:
    """Score and rank the portfolio at ``path``, print it, and write its files.

    Parameters
    ----------
    path
        The portfolio YAML.
    out
        The folder for ``portfolio.svg``, ``portfolio.html`` and ``portfolio.json``
        (default: ``out/`` in the portfolio file's folder).
    console
        Where the tables go.

    Returns
    -------
    int
        0 (problems raise ``PortfolioError``, exit 2 through the guard).
    """
    portfolio = load_portfolio(path)
    folder = out if out is not None else Path(path).expanduser().resolve().parent / "out"
    print_portfolio(portfolio, console)
    written = write_portfolio(portfolio, folder)
    console.print("wrote " + ", ".join(str(p) for p in written))
    return 0
