"""The risk–coverage chart of ``result.human_in_the_loop``: the share of cases the model
decides (x) against the error among them (y) on the report rows, with the simultaneous
band, the ``max_error`` line and the certified rule marked. Read from the result only."""

from __future__ import annotations

from html import escape
from typing import Any

from markupsafe import Markup

from mlscope.report.svg import (
    FAINT,
    GRID,
    INK,
    MUTED,
    Scale,
    Svg,
    nice_ticks,
    tick_decimals,
    tick_text,
)
from mlscope.result import CoveragePoint, EvaluationResult, HumanInTheLoop

__all__ = ["hitl_panel", "risk_coverage_chart"]

BAND = "#56B4E9"  # Okabe–Ito sky blue
LIMIT = "#D55E00"  # Okabe–Ito vermillion


def risk_coverage_chart(h: HumanInTheLoop, *, width: float = 420.0) -> str:
    """The overall risk–coverage curve with its band (an ``<svg>`` element).

    The band is drawn where cases are decided; the horizontal line is ``max_error``; the
    marked point is the certified rule read on the report rows.
    """
    pts: list[CoveragePoint] = sorted(
        (c for c in h.curve if c.slice == "overall" and c.risk is not None),
        key=lambda c: c.coverage)
    left, right, top, bottom = 44.0, 14.0, 16.0, 36.0
    plot_w, plot_h = width - left - right, 200.0
    height = top + plot_h + bottom
    hi = max([*(c.upper or 0.0 for c in pts), h.max_error * 1.3, 0.01])
    yt = [t for t in nice_ticks(0.0, min(1.0, hi), 4) if t >= 0.0]
    x = Scale(0.0, 1.0, left, left + plot_w)
    y = Scale(0.0, yt[-1], top + plot_h, top)
    svg = Svg(width, height, f"Risk–coverage curve of {h.model}",
              f"share of {h.report_split or h.calibration_split} cases decided against the "
              f"error among them; band simultaneous at {1 - (h.band_delta or h.delta):.0%}")
    for t in (0.0, 0.25, 0.5, 0.75, 1.0):
        svg.line(x(t), top, x(t), top + plot_h, stroke=GRID)
        svg.text(x(t), top + plot_h + 13, f"{t:.0%}", font_size=9.5, fill=MUTED,
                 text_anchor="middle")
    dec = tick_decimals(yt)
    for t in yt:
        svg.line(left, y(t), left + plot_w, y(t), stroke=GRID)
        svg.text(left - 4, y(t) + 3.5, tick_text(t, dec), font_size=9.5, fill=MUTED,
                 text_anchor="end")
    svg.add("rect", x=left, y=top, width=plot_w, height=plot_h, fill="none", stroke=FAINT)
    svg.text(left + plot_w / 2, height - 6, "share of cases the model decides (coverage)",
             font_size=10, fill=MUTED, text_anchor="middle")
    svg.text(10, top + plot_h / 2, "error on decided", font_size=10, fill=MUTED,
             text_anchor="middle", transform=f"rotate(-90 10 {top + plot_h / 2:.1f})")
    if pts:
        upper = [f"{x(c.coverage):.1f},{y(c.upper if c.upper is not None else 0):.1f}"
                 for c in pts]
        lower = [f"{x(c.coverage):.1f},{y(c.lower if c.lower is not None else 0):.1f}"
                 for c in reversed(pts)]
        svg.add("polygon", points=" ".join(upper + lower), fill=BAND, fill_opacity=0.25,
                stroke="none")
        svg.add("polyline", points=" ".join(f"{x(c.coverage):.1f},{y(c.risk or 0):.1f}"
                                            for c in pts),
                fill="none", stroke=INK, stroke_width=1.5)
    svg.line(left, y(h.max_error), left + plot_w, y(h.max_error), stroke=LIMIT,
             stroke_dasharray="5 3", stroke_width=1.2)
    svg.text(left + plot_w - 4, y(h.max_error) - 4, f"max_error {h.max_error:g}",
             font_size=9.5, fill=LIMIT, text_anchor="end")
    ov = h.overall()
    if h.lam is not None and ov is not None and ov.error is not None and ov.defer is not None:
        cx, cy = x(1.0 - ov.defer), y(ov.error)
        svg.raw(f"<g><title>{escape(_tip(h), quote=False)}</title>")
        svg.add("circle", cx=cx, cy=cy, r=4.5, fill=LIMIT, stroke="#ffffff",
                stroke_width=1.0)
        svg.raw("</g>")
    return svg.render("chart risk-coverage")


def _tip(h: HumanInTheLoop) -> str:
    ov = h.overall()
    assert ov is not None
    return (f"certified rule: decides {1 - (ov.defer or 0):.1%} of the cases, error "
            f"{ov.error or 0:.1%} on them")


def hitl_panel(result: EvaluationResult) -> dict[str, Any] | None:
    """The report's human-in-the-loop chart, or None without the section."""
    h = result.human_in_the_loop
    if h is None or not any(c.slice == "overall" and c.risk is not None for c in h.curve):
        return None
    return {"model": h.model, "split": h.report_split or h.calibration_split,
            "level": 1 - (h.band_delta or h.delta), "chart": Markup(risk_coverage_chart(h))}
