"""Rendering a ranked portfolio: the terminal tables, the 2×2 SVG and ``portfolio.html``.

The scores come from :mod:`mlscope.plan.portfolio`; nothing is recomputed here. The files
(``portfolio.svg``, ``portfolio.html``, ``portfolio.json``) are written together and
atomically: a reader sees all of the old ones or all of the new ones.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mlscope.atomic import StagedFiles
from mlscope.plan.portfolio import DriverScore, Portfolio, Score
from mlscope.report.portfolio_chart import portfolio_svg

__all__ = ["FILES", "portfolio_html", "print_portfolio", "write_portfolio"]

FILES = ("portfolio.svg", "portfolio.html", "portfolio.json")


def _score(s: Score) -> str:
    return f"{s.point:.2f} [{s.lo:.2f}, {s.hi:.2f}]"


def _driver_text(d: DriverScore) -> str:
    if d.given is None:
        return f"{d.driver}: not given → [0, 1]"
    shown = d.given if d.given == d.level else f"{d.given} → {d.level}"
    return f"{d.driver}: {shown} [{d.lo:.2f}, {d.hi:.2f}]"


def print_portfolio(portfolio: Portfolio, console: Console) -> None:
    """The ranking and what drives each score, as terminal tables."""
    t = Table(title=portfolio.title, title_justify="left", box=None, header_style="bold",
              caption="~ the ranges cross the 0.5 line: the quadrant is not settled",
              caption_justify="left")
    for col in ("#", "project", "impact", "feasibility", "quadrant", "archetype"):
        t.add_column(col, no_wrap=col not in ("project", "archetype"), min_width=3)
    for p in portfolio.projects:
        t.add_row(str(p.rank), p.name, _score(p.impact), _score(p.feasibility),
                  p.quadrant + ("" if p.settled else " ~"), p.archetype or "")
    console.print(t)
    d = Table(title="What drives each score", title_justify="left")
    d.add_column("project")
    d.add_column("impact drivers")
    d.add_column("feasibility drivers")
    for p in portfolio.projects:
        d.add_row(p.name, "\n".join(_driver_text(x) for x in p.impact.drivers),
                  "\n".join(_driver_text(x) for x in p.feasibility.drivers))
    console.print(d)
    console.print("Scores: each driver's level is a third of 0–1 (low [0, 1/3], medium "
                  "[1/3, 2/3], high [2/3, 1]); a score is the mean of its drivers, a "
                  "driver not given spans [0, 1]. docs/planning-portfolio.md", style="dim")


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1f2328;
max-width:1100px;margin:2rem auto;padding:0 1.25rem;line-height:1.45}
h1{font-size:1.5rem;margin-bottom:.25rem}h2{font-size:1.15rem;margin-top:2rem}
.sub{color:#6e7781;margin-top:0}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;font-size:.92rem}
th,td{border-bottom:1px solid #d0d7de;padding:.4rem .55rem;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600}td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
.chart{overflow-x:auto}.chart svg{max-width:100%;height:auto}.scroll{overflow-x:auto}
.muted{color:#6e7781}.lvl{font-weight:600}.unk{color:#9a6700}
ul.drv{margin:0;padding-left:1rem}ul.drv li{margin:.1rem 0}
"""


def _drivers_html(drivers: list[DriverScore]) -> str:
    items = []
    for d in drivers:
        if d.given is None:
            items.append(f'<li><code>{escape(d.driver)}</code>: <span class="unk">not given'
                         "</span> <span class=\"muted\">[0, 1]</span></li>")
            continue
        shown = escape(d.given) if d.given == d.level else (
            f"{escape(d.given)} → {escape(d.level)}")
        note = f' <span class="muted">— {escape(d.note)}</span>' if d.note else ""
        items.append(f'<li><code>{escape(d.driver)}</code>: <span class="lvl">{shown}</span> '
                     f'<span class="muted">[{d.lo:.2f}, {d.hi:.2f}]</span>{note}</li>')
    return '<ul class="drv">' + "".join(items) + "</ul>"


def portfolio_html(portfolio: Portfolio) -> str:
    """``portfolio.html``: the 2×2, the ranking, and what drives each score."""
    rows = "".join(
        f"<tr><td class=num>{p.rank}</td><td><strong>{escape(p.name)}</strong>"
        + (f'<br><span class="muted">{escape(p.note)}</span>' if p.note else "")
        + f"</td><td class=num>{_score(p.impact)}</td><td class=num>{_score(p.feasibility)}"
        f"</td><td>{escape(p.quadrant)}"
        + ("" if p.settled else '<br><span class="muted">ranges cross the 0.5 line</span>')
        + f"</td><td>{escape(p.archetype or '')}</td><td>{escape(p.source)}</td></tr>"
        for p in portfolio.projects)
    drivers = "".join(
        f"<tr><td><strong>{escape(p.name)}</strong></td><td>{_drivers_html(p.impact.drivers)}"
        f"</td><td>{_drivers_html(p.feasibility.drivers)}</td></tr>"
        for p in portfolio.projects)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{escape(portfolio.title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{escape(portfolio.title)}</h1><p class=sub>{len(portfolio.projects)} candidate "
        "projects, ranked by impact + feasibility. Boxes and whiskers span the range each "
        "project's drivers allow.</p>"
        f'<div class="chart">{portfolio_svg(portfolio)}</div>'
        "<h2>Ranking</h2><div class=scroll><table><thead><tr><th>#</th><th>project</th>"
        "<th>impact</th><th>feasibility</th><th>quadrant</th><th>archetype</th>"
        f"<th>drivers from</th></tr></thead><tbody>{rows}</tbody></table></div>"
        "<h2>What drives each score</h2><div class=scroll><table><thead><tr><th>project</th>"
        "<th>impact drivers</th><th>feasibility drivers</th></tr></thead>"
        f"<tbody>{drivers}</tbody></table></div>"
        "<p class=muted>How a score is made: each driver's level is a third of the 0–1 scale "
        "(low [0, 1/3], medium [1/3, 2/3], high [2/3, 1], its point the middle); the accuracy "
        "requirement and the cost of errors count reversed; <code>human_can_do</code> "
        "yes/partly/no is high/medium/low; <code>labelled_rows</code> ≥ 100,000 is high, "
        "≥ 1,000 medium, fewer low; a driver not given spans [0, 1]. A score is the mean of "
        "its drivers' points, its range the means of their ends.</p></body></html>")


def write_portfolio(portfolio: Portfolio, out: Path) -> list[Path]:
    """Write ``portfolio.svg``, ``portfolio.html`` and ``portfolio.json`` into ``out``,
    all together and atomically; returns their paths."""
    data = {
        "portfolio.svg": portfolio_svg(portfolio),
        "portfolio.html": portfolio_html(portfolio),
        "portfolio.json": json.dumps(portfolio.to_dict(), indent=2, allow_nan=False,
                                     ensure_ascii=False) + "\n",
    }
    with StagedFiles(out) as staged:
        for name in FILES:
            staged.put(name, data[name])
        staged.commit()
    return [out / n for n in FILES]
