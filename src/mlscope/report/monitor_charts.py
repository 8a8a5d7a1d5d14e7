"""The charts of ``monitor.html`` and of the dashboard's monitoring page: a status strip
over the windows and time series with a band (the report's escaping
:class:`~mlscope.report.svg.Svg`, palette and ticks). The x axis is the window; its ticks
say ``#index`` unless the caller names the windows (the dashboard: their dates)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from mlscope.report.svg import (
    FAINT,
    GRID,
    MUTED,
    OKABE_ITO,
    Scale,
    Svg,
    nice_ticks,
    tick_decimals,
    tick_text,
)

__all__ = ["STATUS_COLOURS", "Series", "series_chart", "status_strip"]

STATUS_COLOURS = {"ok": "#2da44e", "alert": "#cf222e", "untrusted": "#bf8700"}
WIDTH = 960.0
_LEFT, _RIGHT, _TOP, _BOTTOM = 56.0, 150.0, 30.0, 30.0


@dataclass
class Series:
    """One line over the windows: its values, an optional band, optional extra points
    (the realised values) and its name."""

    name: str
    values: Sequence[float | None]
    low: Sequence[float | None] | None = None
    high: Sequence[float | None] | None = None
    points: Sequence[float | None] | None = None
    # The reference's value: a dashed line in the series' colour.
    reference: float | None = None


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _segments(values: Sequence[float | None], x: Scale, y: Scale
              ) -> list[list[tuple[float, float]]]:
    """The runs of consecutive present values, as points."""
    runs: list[list[tuple[float, float]]] = [[]]
    for i, v in enumerate(values):
        if v is not None and _finite(v):
            runs[-1].append((x(i), y(v)))
        elif runs[-1]:
            runs.append([])
    return [r for r in runs if r]


def _tick(names: Sequence[str] | None, i: int) -> str:
    return names[i] if names is not None else f"#{i}"


def status_strip(statuses: Sequence[str], labels: Sequence[str],
                 names: Sequence[str] | None = None) -> str:
    """One coloured cell per window (ok, alert, untrusted), its label as a tooltip;
    ``names`` name the windows on the axis (default ``#index``)."""
    n = max(len(statuses), 1)
    svg = Svg(WIDTH, 46.0, "Status of each window",
              f"{sum(s == 'alert' for s in statuses)} of {len(statuses)} windows alert")
    cell = (WIDTH - 2.0) / n
    for i, (st, lab) in enumerate(zip(statuses, labels, strict=True)):
        svg.open(title=f"{lab}: {st}")
        svg.add("rect", x=1.0 + i * cell, y=4.0, width=max(cell - 1.0, 1.0), height=22.0,
                fill=STATUS_COLOURS.get(st, MUTED), rx=2.0)
        svg.close()
    step = max(1, math.ceil(n / 12))
    for i in range(0, len(statuses), step):
        svg.text(1.0 + (i + 0.5) * cell, 40.0, _tick(names, i), text_anchor="middle",
                 fill=MUTED, font_size=11)
    return svg.render("strip")


def series_chart(title: str, series: Sequence[Series], *, y_label: str,
                 gate: float | None = None, zero: bool = False, height: float = 220.0,
                 names: Sequence[str] | None = None, marks: Sequence[int] = (),
                 gate_label: str = "gate", tips: bool = False) -> str:
    """Lines over the windows (x: the window's index), bands shaded, realised values as
    dots, each series' reference as a dashed line, an optional dashed gate line (labelled
    ``gate_label``, e.g. ``reference``); the legend on the right. ``names`` name the
    windows on the axis; ``marks`` are windows shaded red behind the lines (the
    dashboard's alerting windows); ``tips`` gives each dot a tooltip with its window and
    value (three decimals)."""
    n = max((len(s.values) for s in series), default=0)
    ys: list[float] = []
    for s in series:
        for seq in (s.values, s.low, s.high, s.points):
            ys.extend(v for v in (seq or []) if v is not None and _finite(v))
        if s.reference is not None and _finite(s.reference):
            ys.append(s.reference)
    if gate is not None:
        ys.append(gate)
    if zero:
        ys.append(0.0)
    ticks = nice_ticks(min(ys), max(ys), 4) if ys else [0.0, 1.0]
    dec = tick_decimals(ticks)
    svg = Svg(WIDTH, height, title, f"{title} over {n} windows")
    x = Scale(0.0, max(n - 1, 1), _LEFT, WIDTH - _RIGHT)
    y = Scale(ticks[0], ticks[-1], height - _BOTTOM, _TOP)
    for t in ticks:
        svg.line(_LEFT, y(t), WIDTH - _RIGHT, y(t), stroke=GRID)
        svg.text(_LEFT - 6, y(t) + 4, tick_text(t, dec), text_anchor="end", fill=MUTED,
                 font_size=11)
    svg.text(12.0, 14.0, y_label, fill=MUTED, font_size=11)
    step = max(1, math.ceil(n / 12))
    for i in range(0, n, step):
        svg.text(x(i), height - 10, _tick(names, i), text_anchor="middle", fill=MUTED,
                 font_size=11)
    half = (x(1) - x(0)) / 2.0 if n > 1 else 6.0
    for i in marks:
        if 0 <= i < n:
            svg.open(title=f"{_tick(names, i)}: alert")
            svg.add("rect", x=x(i) - half, y=_TOP, width=2.0 * half,
                    height=height - _BOTTOM - _TOP, fill="#cf222e", opacity=0.09)
            svg.close()
    if gate is not None:
        svg.line(_LEFT, y(gate), WIDTH - _RIGHT, y(gate), stroke="#cf222e",
                 stroke_dasharray="5 4")
        # A white halo keeps the label legible where a series' line crosses it.
        svg.text(WIDTH - _RIGHT - 4, y(gate) - 5, f"{gate_label} {gate:.4g}", fill="#cf222e",
                 font_size=11, text_anchor="end", stroke="#ffffff", stroke_width=3.0,
                 paint_order="stroke")
    if zero:
        svg.line(_LEFT, y(0.0), WIDTH - _RIGHT, y(0.0), stroke=FAINT)
    for k, s in enumerate(series):
        colour = OKABE_ITO[k % len(OKABE_ITO)]
        svg.open(title=s.name)
        # Several models' bands side by side at a window, not on top of each other.
        dodge = (k - (len(series) - 1) / 2.0) * 6.0 if len(series) > 1 else 0.0
        if s.reference is not None and _finite(s.reference):
            svg.line(_LEFT, y(s.reference), WIDTH - _RIGHT, y(s.reference), stroke=colour,
                     stroke_dasharray="2 4", opacity=0.8)
        if s.low is not None and s.high is not None:
            for i in range(len(s.values)):
                lo, hi = s.low[i], s.high[i]
                if _finite(lo) and _finite(hi):
                    assert lo is not None
                    assert hi is not None
                    svg.add("rect", x=x(i) - 3.0 + dodge, y=y(hi), width=6.0,
                            height=max(y(lo) - y(hi), 1.0), fill=colour, opacity=0.22)
        # The line breaks where a value is missing (a window without an estimate): joining
        # across it would draw values that were never measured.
        for seg in _segments(s.values, x, y):
            if len(seg) > 1:
                svg.add("polyline", points=" ".join(f"{a:.1f},{b:.1f}" for a, b in seg),
                        fill="none", stroke=colour, stroke_width=1.6)
        for i, v in enumerate(s.values):
            if v is not None and _finite(v):
                if tips:
                    # Hover a dot for its figure: the y axis alone reads it to a tick.
                    svg.open(title=f"{_tick(names, i)}: " + f"{v:.3f}".replace("-", "−"))
                svg.add("circle", cx=x(i), cy=y(v), r=2.2, fill=colour)
                if tips:
                    svg.close()
        for i, v in enumerate(s.points or []):
            if v is not None and _finite(v):
                svg.add("circle", cx=x(i), cy=y(v), r=3.2, fill="#fff", stroke=colour,
                        stroke_width=1.6)
        svg.close()
        ly = _TOP + 8 + k * 16
        svg.line(WIDTH - _RIGHT + 6, ly - 4, WIDTH - _RIGHT + 20, ly - 4, stroke=colour,
                 stroke_width=2.0)
        name = s.name if len(s.name) <= 18 else s.name[:17] + "…"
        svg.text(WIDTH - _RIGHT + 24, ly, name, font_size=11)
    if any(v is not None and _finite(v) for s in series for v in (s.points or [])):
        # Which mark is which, where rings are drawn (the performance chart): a filled dot
        # is the estimate before the labels, a ring the value realised once they arrived.
        ly = _TOP + 8 + len(series) * 16 + 6
        if any(v is not None and _finite(v) for s in series for v in s.values):
            svg.add("circle", cx=WIDTH - _RIGHT + 13, cy=ly - 4, r=2.2, fill=MUTED)
            svg.text(WIDTH - _RIGHT + 24, ly, "estimate", font_size=11, fill=MUTED)
            ly += 16
        svg.add("circle", cx=WIDTH - _RIGHT + 13, cy=ly - 4, r=3.2, fill="#fff",
                stroke=MUTED, stroke_width=1.6)
        svg.text(WIDTH - _RIGHT + 24, ly, "realised", font_size=11, fill=MUTED)
    return svg.render("series")
