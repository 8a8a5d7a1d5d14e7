"""``mlscope portfolio PORTFOLIO.yaml``: score, rank and draw candidate projects.

Reading and scoring are :mod:`mlscope.plan.portfolio`; the tables, the 2×2 and the HTML
page are :mod:`mlscope.report.portfolio`. Each project also gets its brief in
``out/<project>/`` (:mod:`mlscope.plan.brief`): the full brief of a charter's plan and
evidence, or the short brief of an inline entry's drivers. A bad portfolio raises
:class:`~mlscope.plan.portfolio.PortfolioError` (an ``InputError``): the command's guard
prints every problem with its file, line and fix, and exits 2.
"""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from mlscope.charter import load_charter
from mlscope.plan.brief import Brief, compose_brief, portfolio_brief
from mlscope.plan.portfolio import Portfolio, load_portfolio
from mlscope.report.brief import write_brief
from mlscope.report.portfolio import print_portfolio, write_portfolio

__all__ = ["brief_folder", "portfolio_briefs", "run_portfolio"]


def brief_folder(name: str) -> str:
    """The folder name of a project's brief: its name with anything but letters, digits,
    ``.``, ``_`` and ``-`` turned into ``-`` (never empty, never hidden)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.").lower()
    return slug or "project"


def portfolio_briefs(portfolio: Portfolio) -> dict[str, Brief]:
    """``{folder: brief}`` of every project: a charter's from its plan (charter only, so
    the bundled example does not depend on a local store), an inline entry's from its
    drivers. Folders that would clash get the project's rank appended."""
    base = Path(portfolio.path).expanduser().resolve().parent
    out: dict[str, Brief] = {}
    for p in portfolio.projects:
        folder = brief_folder(p.name)
        if folder in out:
            folder = f"{folder}-{p.rank}"
        if p.source == "inline":
            out[folder] = portfolio_brief(p)
        else:
            out[folder] = compose_brief(load_charter(base / p.source))
    return out


def run_portfolio(path: Path, *, out: Path | None, console: Console) -> int:
    """Score and rank the portfolio at ``path``, print it, and write its files.

    Parameters
    ----------
    path
        The portfolio YAML.
    out
        The folder for ``portfolio.svg``, ``portfolio.html``, ``portfolio.json`` and a
        folder per project with its brief (default: ``out/`` in the portfolio file's
        folder).
    console
        Where the tables go.

    Returns
    -------
    int
        0 (problems raise ``PortfolioError``, exit 2 through the guard).
    """
    portfolio = load_portfolio(path)
    folder = out if out is not None else Path(path).expanduser().resolve().parent / "out"
    briefs = portfolio_briefs(portfolio)  # all composed before anything is written
    print_portfolio(portfolio, console)
    written = write_portfolio(portfolio, folder)
    for name, brief in briefs.items():
        written += write_brief(brief, folder / name)
    console.print("wrote " + ", ".join(escape(str(p)) for p in written))
    return 0
