"""Reliability diagrams: each binary model's predicted probability against the observed rate.

Small multiples, one square panel per model (the selected model first, then the other
candidates, then the baselines), read from ``result.reliability`` only. Each panel has its
own range (both axes alike, so the diagonal is perfect calibration): imbalanced data
keeps most probabilities near 0, and a shared 0–1 range would hide them in a corner.
"""

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
    model_colors,
    nice_ticks,
    text_width,
    tick_decimals,
    tick_text,
)
from mlscope.result import EvaluationResult, ReliabilityCurve

__all__ = ["reliability_chart", "reliability_panel"]


def _fmt(x: float | None, spec: str) -> str:
    return "—" if x is None else format(x, spec).replace("-", "−")


def _figures(c: ReliabilityCurve) -> str:
    return (f"ECE {_fmt(c.ece, '.3f')} · slope {_fmt(c.slope, '.2f')} · "
            f"intercept {_fmt(c.intercept, '+.2f')}")


def reliability_chart(curve: ReliabilityCurve, *, color: str = INK, winner: bool = False,
                      kind: str = "candidate", width: float = 230.0) -> str:
    """One model's reliability diagram.

    Parameters
    ----------
    curve
        The model's reliability curve (one point per non-empty equal-mass bin).
    color
        The model's colour.
    winner
        The selected model: its name is bold.
    kind
        ``candidate`` or a baseline's family, written after the name.
    width
        Width in pixels (the panel is about as tall; it scales down with its container).

    Returns
    -------
    str
        An ``<svg>`` element: the bins as dots (area ∝ the bin's weight) joined by a line,
        the dashed diagonal of perfect calibration, the ECE, slope and intercept above.
    """
    left, right, top, bottom_pad = 38.0, 10.0, 44.0, 34.0
    side = width - left - right
    height = top + side + bottom_pad
    xs, ys, ws = curve.mean_predicted, curve.observed, curve.weight
    hi = max([*xs, *ys, 0.01])
    ticks = [t for t in nice_ticks(0.0, min(1.0, hi * 1.05), 4) if t >= 0.0]
    top_v = ticks[-1]
    x = Scale(0.0, top_v, left, left + side)
    y = Scale(0.0, top_v, top + side, top)
    svg = Svg(width, height, f"Reliability diagram of {curve.model}",
              f"{len(xs)} equal-mass bins on the {curve.split} split; {_figures(curve)}")
    name = curve.model
    fit = max(4, int((width - 14) / (12.5 * 0.6)))
    label = name if len(name) <= fit else name[: fit - 1] + "…"
    svg.add("circle", cx=5.0, cy=10.0, r=4.0, fill=color)
    svg.text(14, 14, label, font_size=12.5, font_weight="700" if winner else "600")
    if kind != "candidate":
        svg.text(22 + text_width(label, 13.5), 14, kind, font_size=10.5, fill=MUTED)
    svg.text(0, 30, _figures(curve), font_size=10.5, fill=MUTED)
    dec = tick_decimals(ticks)
    for t in ticks:
        svg.line(x(t), top, x(t), top + side, stroke=GRID)
        svg.line(left, y(t), left + side, y(t), stroke=GRID)
        svg.text(x(t), top + side + 13, tick_text(t, dec), font_size=9.5, fill=MUTED,
                 text_anchor="middle")
        if t > 0.0:  # the origin's 0 is written once, under the x axis
            svg.text(left - 4, y(t) + 3.5, tick_text(t, dec), font_size=9.5, fill=MUTED,
                     text_anchor="end")
    svg.add("rect", x=float(left), y=float(top), width=float(side), height=float(side),
            fill="none", stroke=FAINT)
    svg.line(x(0.0), y(0.0), x(top_v), y(top_v), stroke=MUTED, stroke_dasharray="4 3",
             stroke_width=1.0)
    svg.text(left + side / 2, height - 6, "mean predicted probability", font_size=10,
             fill=MUTED, text_anchor="middle")
    svg.text(10, top + side / 2, "observed rate", font_size=10, fill=MUTED,
             text_anchor="middle",
             transform=f"rotate(-90 10 {top + side / 2:.1f})")
    if not xs:
        svg.text(left + side / 2, top + side / 2, "no probabilities", font_size=10.5,
                 fill=MUTED, text_anchor="middle")
        return svg.render("chart reliability")
    if len(xs) > 1:
        pts = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in zip(xs, ys, strict=True))
        svg.add("polyline", points=pts, fill="none", stroke=color, stroke_width=1.4,
                stroke_opacity=0.8)
    total = sum(ws) or 1.0
    n = len(ws)
    for a, b, w in zip(xs, ys, ws, strict=True):
        r = 1.6 + 2.8 * min(1.0, (w / total * n) ** 0.5 / 1.5)
        svg.raw(f"<g><title>{_tip(a, b, w)}</title>")
        svg.add("circle", cx=float(x(a)), cy=float(y(b)), r=float(r), fill=color,
                fill_opacity=0.85, stroke="#ffffff", stroke_width=0.8)
        svg.raw("</g>")
    return svg.render("chart reliability")


def _tip(p: float, rate: float, w: float) -> str:
    n = f"{w:,.0f}" if float(w).is_integer() else f"{w:,.2f}"
    return escape(f"predicted {p:.3f}, observed {rate:.3f} ({n} rows)", quote=False)


def reliability_panel(result: EvaluationResult) -> dict[str, Any] | None:
    """The report's calibration section: a reliability diagram per model, or None.

    Returns
    -------
    dict or None
        ``split``, ``bins`` and ``charts`` (one ``Markup`` SVG per model: the selected
        model, the other candidates, then the baselines); None when the result holds no
        reliability curves (other tasks, scores that are not probabilities, old results).
    """
    curves = [c for c in result.reliability if c.slice == "overall"]
    if not curves:
        return None
    colors = model_colors([m.name for m in result.models])
    family = {m.name: m.family for m in result.models}
    winner = result.winner
    order = {m.name: i for i, m in enumerate(result.models)}
    curves.sort(key=lambda c: (c.model != winner, family.get(c.model) is not None,
                               order.get(c.model, 10**6)))
    charts = [Markup(reliability_chart(c, color=colors.get(c.model, INK),
                                       winner=c.model == winner,
                                       kind=family.get(c.model) or "candidate"))
              for c in curves]
    return {"split": curves[0].split, "bins": curves[0].bins, "charts": charts}
