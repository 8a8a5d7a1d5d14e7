"""The dashboard's own SVG charts: a metric over runs, and slices as a model × slice heatmap.

Like :mod:`mlscope.report.charts`, each builder returns one ``<svg>`` element as a string
and only places numbers that were computed and stored; nothing is recomputed. The history
chart is built from a neutral record (:class:`HistoryData`) that the dashboard assembles
from :meth:`mlscope.store.Store.history` and the run summaries, so the chart never touches
the store. Colours, fonts and number formats are the report's, so a model looks the same
on every page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape
from typing import Any

from mlscope.report.charts import (
    FAINT,
    FEASIBLE,
    GRID,
    INK,
    MUTED,
    format_value,
    metric_decimals,
    model_colors,
    slice_groups,
    slice_label,
    too_small,
)
from mlscope.report.svg import Svg as _ReportSvg
from mlscope.report.svg import coord as _n
from mlscope.report.svg import domain_ticks as _domain_ticks
from mlscope.report.svg import outlier_limits as _outlier_limits
from mlscope.report.svg import svg_attrs as _attrs
from mlscope.report.svg import tick_decimals as _tick_decimals
from mlscope.result import OVERALL, EvaluationResult, MetricInfo, MetricValue

__all__ = [
    "HistoryData",
    "HistoryPointView",
    "HistorySeries",
    "Marker",
    "RefLine",
    "history_chart",
    "slice_heatmap",
]

CHAR_W = 0.58  # average glyph width as a share of the font size (sans-serif)
BETTER = "#0072B2"  # Okabe–Ito blue
WORSE = "#D55E00"  # Okabe–Ito vermillion
BASELINE_INK = "#6e7781"


# -- the report's SVG writer, with groups ----------------------------------------------


class _Svg(_ReportSvg):
    """The report's SVG writer plus ``<g>`` groups with a hover title."""

    def el(self, tag: str, text: str | None = None, **attrs: Any) -> None:
        self.add(tag, text, **attrs)

    def open(self, css: str | None = None, title: str | None = None, **attrs: Any) -> None:
        a = _attrs({"class": css, **attrs})
        self.parts.append(f"<g {a}>" if a else "<g>")
        if title:
            self.parts.append(f"<title>{escape(title, quote=False)}</title>")

    def close(self) -> None:
        self.parts.append("</g>")


def _width(text: str, size: float) -> float:
    return len(text) * size * CHAR_W


def _clip(text: str, size: float, room: float) -> str:
    if _width(text, size) <= room:
        return text
    keep = max(int(room / (size * CHAR_W)) - 1, 1)
    return text[:keep] + "…"


# -- (1) a metric over runs -----------------------------------------------------------------


@dataclass
class HistoryPointView:
    """One stored value of a model in one run (``x``: the run's position, oldest = 0)."""

    x: int
    run_id: int
    value: float | None
    lower: float | None = None
    upper: float | None = None


@dataclass
class HistorySeries:
    """A model's values over runs; baselines are drawn dashed and grey (yardsticks)."""

    model: str
    kind: str  # "candidate" or "baseline"
    label: str
    color: str
    points: list[HistoryPointView]
    emphasis: bool = False  # the latest run's selected model


@dataclass
class RefLine:
    """A horizontal reference: the charter's requirement, or a fixed upper baseline."""

    value: float
    label: str
    kind: str  # "requirement" or "upper"
    op: str = ""  # ">=", "<=", ... for a requirement: the side that meets it is shaded


@dataclass
class Marker:
    """A run where something changed (charter edited, new models, ...)."""

    x: int
    number: int
    run_id: int
    text: str


@dataclass
class HistoryData:
    """Everything the history chart shows, already read from the store."""

    metric: MetricInfo
    split: str
    runs: list[tuple[int, str]]  # (run id, short date), oldest first
    series: list[HistorySeries]
    refs: list[RefLine] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    level: str = ""  # "95%" when the points carry intervals


def _segments(points: list[HistoryPointView]) -> list[list[HistoryPointView]]:
    """Runs of consecutive defined points: a line breaks where a run lacks the model."""
    out: list[list[HistoryPointView]] = []
    cur: list[HistoryPointView] = []
    last_x: int | None = None
    for p in sorted(points, key=lambda p: p.x):
        if p.value is None or not math.isfinite(p.value):
            if cur:
                out.append(cur)
            cur, last_x = [], None
            continue
        if last_x is not None and p.x != last_x + 1 and cur:
            out.append(cur)
            cur = []
        cur.append(p)
        last_x = p.x
    if cur:
        out.append(cur)
    return out


def _f(x: float | None) -> float:
    """A value known to be defined (filtered before): for the type checker."""
    assert x is not None
    return x


def _spread(wanted: list[float], gap: float, lo: float, hi: float) -> list[float]:
    """Label positions near ``wanted`` (sorted ascending) at least ``gap`` apart in [lo, hi]."""
    pos: list[float] = []
    for w in wanted:
        pos.append(max(w, pos[-1] + gap) if pos else max(w, lo))
    overflow = (pos[-1] - hi) if pos else 0.0
    if overflow > 0:
        # Push the stack back up, keeping the spacing, as far as the top allows.
        for i in range(len(pos) - 1, -1, -1):
            limit = hi if i == len(pos) - 1 else pos[i + 1] - gap
            pos[i] = min(pos[i], limit)
        pos = [max(p, lo) for p in pos]
    return pos


def history_chart(data: HistoryData, *, width: float = 1220.0, height: float = 440.0) -> str:
    """A metric over runs: one line per model, its intervals as a band, with references.

    Parameters
    ----------
    data
        The series, reference lines and change markers (:class:`HistoryData`).
    width, height
        Size in pixels (the chart scales down with its container).

    Returns
    -------
    str
        An ``<svg>`` element: x is the run order (oldest left), y the metric. Candidates
        are solid lines in their colours (the latest selected model thicker), baselines
        dashed grey; bands are the stored intervals; the charter's requirement is a dashed
        line with the side that meets it tinted; a fixed upper baseline (human level, a
        published figure) is dotted; runs where something changed carry a numbered marker
        whose tooltip says what changed.
    """
    info = data.metric
    n = len(data.runs)
    n_cand = sum(1 for s in data.series if s.kind == "candidate")
    # The axis zooms to the lines: intervals count only where a band is drawn, and a
    # far-out line (a trivial baseline at 0.5 under five models at 0.97–0.99) is cut and
    # pinned to the edge with its value, instead of packing the five into a few pixels.
    values = [p.value for s in data.series for p in s.points] + [r.value for r in data.refs]
    limits = _outlier_limits(values)
    pts: list[float | None] = [r.value for r in data.refs]
    for s in data.series:
        banded = s.emphasis or (n_cand <= 3 and s.kind == "candidate")
        for p in s.points:
            pts += [p.value, p.lower, p.upper] if banded else [p.value]
    if limits is not None:
        pts = [p for p in pts if p is not None and limits[0] <= p <= limits[1]]
    yt = _domain_ticks(pts, info.bounds, count=6, pad=0.05)
    ydec = _tick_decimals(yt)
    dec = metric_decimals(info, [p for p in pts if p is not None])

    # End labels need room on the right: as wide as the longest (clipped) name.
    label_size = 11.5
    names = [_clip(s.label, label_size, 170) for s in data.series]
    right = min(max((_width(t, label_size) for t in names), default=40.0) + 22
                + (_width(" ▾ 0.0000", label_size) if limits is not None else 0.0), 260.0)
    ylab = max(_width(format_value(t, ydec), 11) for t in yt)
    left, top, bottom = 22 + ylab, 62.0, height - 58
    plot_r = width - right
    svg = _Svg(width, height, f"{info.label} over runs on {data.split}",
               "One line per model, oldest run on the left; bands are intervals; dashed "
               "lines are baselines and the requirement; numbered markers are changes.")

    def x_of(i: float) -> float:
        if n <= 1:
            return (left + plot_r) / 2
        pad = min(18.0, (plot_r - left) / (2 * n))
        return left + pad + i * (plot_r - left - 2 * pad) / (n - 1)

    def y_of(v: float) -> float:
        lo, hi = yt[0], yt[-1]
        v = min(max(v, lo), hi)  # a cut value sits on the edge (its label says so)
        return bottom - (v - lo) / (hi - lo or 1.0) * (bottom - top)

    def off_axis(v: float | None) -> str:
        if v is None or yt[0] <= v <= yt[-1]:
            return ""
        return f" {'▴' if v > yt[-1] else '▾'} {format_value(v, dec)}"

    direction = "higher is better ↑" if info.direction == "higher" else "lower is better ↓"
    svg.text(0, 16, f"{info.label} over runs", font_size=15, font_weight="600")
    sub = f"on the {data.split} split, {direction}"
    if data.level:
        who = "each candidate's" if sum(1 for s in data.series if s.kind == "candidate") <= 3 \
            else "the selected model's"
        sub += f"; band: {who} {data.level} interval (every point's in its tooltip)"
    svg.text(0, 34, sub, font_size=11.5, fill=MUTED)

    # Requirement: tint the side that meets it, like the report's feasible region.
    for r in data.refs:
        if r.kind == "requirement" and yt[0] <= r.value <= yt[-1] and r.op:
            y0 = y_of(r.value)
            y_hi, y_lo = (top, y0) if r.op.startswith(">") else (y0, bottom)
            svg.el("rect", x=float(left), y=float(y_hi), width=float(plot_r - left),
                   height=float(max(y_lo - y_hi, 0.0)), fill=FEASIBLE, fill_opacity="0.06")
    for t in yt:
        svg.line(left, y_of(t), plot_r, y_of(t), stroke=GRID)
        svg.text(left - 8, y_of(t) + 4, format_value(t, ydec), font_size=11, fill=MUTED,
                 text_anchor="end")
    svg.el("rect", x=float(left), y=float(top), width=float(plot_r - left),
           height=float(bottom - top), fill="none", stroke=FAINT)

    # x ticks: about eight run ids, always the first and the last.
    if n:
        step = max(1, math.ceil(n / 8))
        idx = sorted({*range(0, n, step), n - 1})
        if len(idx) > 1 and idx[-1] - idx[-2] < step / 2:
            idx.pop(-2)
        for i in idx:
            rid, _ = data.runs[i]
            svg.line(x_of(i), bottom, x_of(i), bottom + 4, stroke=FAINT)
            svg.text(x_of(i), bottom + 17, f"#{rid}", font_size=11, fill=MUTED,
                     text_anchor="middle")
        first, last = data.runs[0][1], data.runs[-1][1]
        span = first if first == last else f"{first} → {last}"
        svg.text((left + plot_r) / 2, bottom + 38,
                 f"run, oldest to newest ({n} run{'s' if n != 1 else ''}: {span})",
                 font_size=12, text_anchor="middle", fill=INK)

    # Change markers: a faint line through the plot, a numbered badge above it. Where
    # changes crowd, badges that would overlap the previous one are left out (the line
    # and its tooltip stay; the list below the chart has every change).
    last_badge = -math.inf
    for m in data.markers:
        mx = x_of(m.x)
        svg.open("change", title=f"run #{m.run_id}: {m.text}", data_run=m.run_id)
        svg.line(mx, top - 8, mx, bottom, stroke="#8c959f", stroke_dasharray="2 3")
        if mx - last_badge >= 18:
            last_badge = mx
            svg.el("circle", cx=float(mx), cy=float(top - 14), r=8.0, fill="#ffffff",
                   stroke="#57606a", stroke_width=1.2)
            svg.text(mx, top - 10.5, str(m.number), font_size=10, text_anchor="middle",
                     font_weight="600", fill="#57606a")
        svg.close()

    # Reference lines, labelled at their left end above the line; a label that would sit
    # on another line's label (two references at about the same value) goes below its line.
    placed: list[float] = []
    for r in data.refs:
        if not yt[0] <= r.value <= yt[-1]:
            # Off the zoomed axis: said at the edge it lies beyond, not drawn as a line.
            above = r.value > yt[-1]
            ey = top + 13 if above else bottom - 6
            ey = ey + 13 if any(abs(ey - p) < 13 for p in placed) else ey
            placed.append(ey)
            svg.open(f"ref {r.kind}", title=r.label)
            svg.text(left + 6, ey, f"{'▴' if above else '▾'} {r.label} (off the axis)",
                     font_size=10.5, fill="#444c56", stroke="#ffffff", stroke_width=3.0,
                     paint_order="stroke")
            svg.close()
            continue
        ry = y_of(r.value)
        below = any(abs(ry - p) < 13 for p in placed)
        placed.append(ry)
        dash = "6 4" if r.kind == "requirement" else "1.5 3"
        svg.open(f"ref {r.kind}", title=r.label)
        svg.line(left, ry, plot_r, ry, stroke="#444c56", stroke_dasharray=dash,
                 stroke_width=1.3)
        svg.text(left + 6, ry + 13 if below else ry - 5, r.label, font_size=10.5,
                 fill="#444c56", stroke="#ffffff", stroke_width=3.0, paint_order="stroke")
        svg.close()

    # Bands first, so that every line is drawn over every band. Overlapping bands of many
    # models blend into mud: past three candidates only the selected model keeps its band
    # (every point's interval is still in its tooltip).
    for s in data.series:
        if not (s.emphasis or (n_cand <= 3 and s.kind == "candidate")):
            continue
        for seg in _segments(s.points):
            ok = [p for p in seg if p.lower is not None and p.upper is not None]
            if len(ok) < 2 or len(ok) != len(seg):
                continue
            up = " ".join(f"{_n(x_of(p.x))},{_n(y_of(_f(p.upper)))}" for p in ok)
            down = " ".join(f"{_n(x_of(p.x))},{_n(y_of(_f(p.lower)))}"
                            for p in reversed(ok))
            svg.el("polygon", points=f"{up} {down}", fill=s.color, fill_opacity="0.14",
                   class_="band", data_model=s.model)

    show_points = n <= 60
    ends: list[tuple[float, HistorySeries, str]] = []
    for s, name in zip(data.series, names, strict=True):
        segs = _segments(s.points)
        base = s.kind == "baseline"
        color = BASELINE_INK if base else s.color
        d = " ".join("M" + " L".join(f"{_n(x_of(p.x))},{_n(y_of(_f(p.value)))}"
                                     for p in seg) for seg in segs)
        latest = max((p for seg in segs for p in seg), key=lambda p: p.x, default=None)
        tip = f"{s.label}" + (f": {format_value(latest.value, dec)} in run #{latest.run_id}"
                              if latest is not None else ": no value in these runs")
        svg.open("series-group", title=tip, data_model=s.model)
        # One path per model even when it has no value in these runs, so that the chart
        # always holds a line per model shown (an empty one says "no value").
        svg.el("path", d=d or "M0,0", fill="none", stroke=color,
               stroke_width=2.6 if s.emphasis else (1.4 if base else 1.7),
               stroke_dasharray="6 4" if base else None, stroke_linejoin="round",
               stroke_linecap="round", class_="series", data_model=s.model,
               data_kind=s.kind, visibility=None if d else "hidden")
        # A lone point (a run between gaps) would be invisible as a path: mark it.
        for seg in segs:
            if len(seg) == 1 or show_points:
                for p in seg:
                    assert p.value is not None
                    ci = (f" [{format_value(p.lower, dec)}, {format_value(p.upper, dec)}]"
                          if p.lower is not None and p.upper is not None else "")
                    svg.open(title=f"{s.label} · run #{p.run_id}: "
                                   f"{format_value(p.value, dec)}{ci}")
                    if len(seg) == 1 and p.lower is not None and p.upper is not None:
                        svg.line(x_of(p.x), y_of(p.lower), x_of(p.x), y_of(p.upper),
                                 stroke=color, stroke_width=1.5)
                    svg.el("circle", cx=float(x_of(p.x)), cy=float(y_of(p.value)),
                           r=3.6 if s.emphasis else 2.8, fill=color if not base else "#ffffff",
                           stroke=color, stroke_width=1.2)
                    svg.close()
        svg.close()
        if latest is not None:
            ends.append((y_of(_f(latest.value)), s, name + off_axis(latest.value)))

    # Names at the right end of each line, spread so that they do not overlap.
    ends.sort(key=lambda e: e[0])
    ys = _spread([e[0] + 4 for e in ends], 13.5, top + 6, bottom + 4)
    for (ly, s, name), ty in zip(ends, ys, strict=True):
        color = BASELINE_INK if s.kind == "baseline" else s.color
        if abs(ty - 4 - ly) > 3:
            svg.line(plot_r + 2, ly, plot_r + 8, ty - 4, stroke=color, stroke_width=0.8,
                     data_model=s.model)
        svg.text(plot_r + 10, ty, name, font_size=label_size, fill=color,
                 font_weight="700" if s.emphasis else "500", data_model=s.model)
    return svg.render("chart history")


# -- (2) slices: model × slice ----------------------------------------------------------


def _mix(color: str, alpha: float) -> str:
    """``color`` at ``alpha`` over white, as an opaque ``#rrggbb`` (crisp cell edges)."""
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(255 + (c - 255) * alpha):02x}" for c in (r, g, b))


def slice_heatmap(result: EvaluationResult, *, metric: str, split: str,
                  reference: str | None = None, max_rows: int = 80) -> str:
    """Every model on every slice, coloured by how far it is from a reference value.

    Parameters
    ----------
    result
        The stored result.
    metric
        The metric shown (the charter's slice metric).
    split
        The split whose values are shown.
    reference
        The model whose overall value is the colour's zero (default: the selected model,
        else the first model): blue cells are better than it, vermillion worse, by the
        metric's direction, so weak slices and weak models both stand out.
    max_rows
        At most this many slice rows; crosses give way first (largest cells kept).

    Returns
    -------
    str
        An ``<svg>`` element, or an empty string when the result has no slices. Cells
        below the charter's minimum size are hatched; every cell's tooltip gives the value,
        its interval and the number of rows.
    """
    groups = slice_groups(result)
    models = [m.name for m in result.models]
    if not groups or not models:
        return ""
    info = result.metric_info(metric)
    colors = model_colors(models)
    reference = reference or result.winner or models[0]
    charter = result.charter if isinstance(result.charter, dict) else {}
    sl = charter.get("slices") if isinstance(charter.get("slices"), dict) else {}
    min_size = int(sl.get("min_size", 30)) if isinstance(sl, dict) else 30
    cells: dict[tuple[str, str], MetricValue] = {
        (v.slice, v.model): v for v in result.values if v.metric == metric and v.split == split
    }
    ref_v = cells.get((OVERALL, reference))
    ref = ref_v.value if ref_v is not None else None
    sign = 1.0 if info.direction == "higher" else -1.0

    # Rows: overall, then each group; a cross keeps its largest cells when space is short.
    budget = max_rows - len(groups)
    rows: list[tuple[str, str, Any]] = [("slice", "overall", None)]
    fixed = sum(len(g.slices) for g in groups if g.kind != "cross")
    cross_room = max(budget - fixed, 0)
    n_cross = sum(1 for g in groups if g.kind == "cross") or 1
    for g in groups:
        rows.append(("group", g.title, None))
        shown = list(g.slices)
        hidden = 0
        if g.kind == "cross":
            # Cells too small for every model carry no number: summarise them.
            shown = [s for s in shown if not all(
                too_small(cells.get((s.key, m)), s.sizes.get(split, 0), min_size)
                for m in models)]
            room = max(cross_room // n_cross, 4)
            if len(shown) > room:
                keep = sorted(shown, key=lambda s: -s.sizes.get(split, 0))[:room]
                shown = [s for s in g.slices if s in keep]
            hidden = len(g.slices) - len(shown)
        rows += [("slice", slice_label(s), s) for s in shown]
        if hidden:
            rows.append(("more", f"+ {hidden} smaller cells not shown", None))

    values = [v.value for v in cells.values() if v.value is not None]
    dec = metric_decimals(info, values)
    diffs = [sign * (v.value - ref) for (sk, _), v in cells.items()
             if v.value is not None and ref is not None and math.isfinite(v.value)]
    scale = max((abs(d) for d in diffs), default=0.0) or 1.0

    cell_w = max(max((_width(format_value(v, dec), 10.5) for v in values), default=30) + 12,
                 44.0)
    cell_h = 20.0
    label_w = min(max((_width(r[1], 11.5) for r in rows if r[0] == "slice"), default=60)
                  + 20, 300.0)
    # Heads stand upright (rotated 90°): slanted ones overlap their neighbours' boxes
    # once there are more than a few models.
    head_h = min(max(_width(_clip(m, 11, 170), 11) for m in models) + 22, 194.0)
    top = 74.0 + head_h
    heights = [26.0 if k == "group" else cell_h for k, _, _ in rows]
    width = label_w + cell_w * len(models) + 70
    width = max(width, 560.0)
    height = top + sum(heights) + 24
    svg = _Svg(width, height, f"{info.label} per slice and model on {split}",
               f"Cells are coloured by the difference from {reference}'s overall value.")
    svg.text(0, 16, f"{info.label} per slice and model", font_size=15, font_weight="600")
    if ref is not None:
        svg.text(0, 34, f"on the {split} split; colour: difference from {reference}'s overall "
                        f"{format_value(ref, dec)} ({'higher' if sign > 0 else 'lower'} is "
                        "better)", font_size=11.5, fill=MUTED)
    # Legend: worse ← white → better.
    lx, ly = 0.0, 46.0
    svg.text(lx, ly + 10, f"worse by {format_value(scale, dec)}", font_size=10.5, fill=MUTED)
    lx += _width(f"worse by {format_value(scale, dec)}", 10.5) + 6
    for i in range(11):
        t = (i - 5) / 5
        svg.el("rect", x=float(lx + i * 14), y=ly, width=14.0, height=12.0,
               fill=_mix(BETTER if t > 0 else WORSE, 0.08 + 0.72 * abs(t)) if t else "#ffffff",
               stroke=FAINT, stroke_width=0.5)
    lx += 11 * 14 + 6
    svg.text(lx, ly + 10, f"better by {format_value(scale, dec)}", font_size=10.5, fill=MUTED)
    lx += _width(f"better by {format_value(scale, dec)}", 10.5) + 18
    svg.el("rect", x=float(lx), y=ly, width=14.0, height=12.0, fill="url(#hatch)",
           stroke=FAINT, stroke_width=0.5)
    svg.text(lx + 20, ly + 10, f"fewer than {min_size} rows", font_size=10.5, fill=MUTED)
    svg.parts.append(
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#f6f8fa"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#d0d7de" stroke-width="2"/></pattern>'
        "</defs>")

    # Column heads: model names, slanted, in their colours; the reference bold.
    for j, m in enumerate(models):
        cx = label_w + cell_w * (j + 0.5)
        svg.el("circle", cx=float(cx), cy=float(top - 8), r=3.5, fill=colors[m])
        svg.text(cx + 4, top - 16, _clip(m, 11, 170), font_size=11,
                 font_weight="700" if m == reference else "500",
                 transform=f"rotate(-90 {_n(cx + 4)} {_n(top - 16)})")

    yy = top
    for (kind, label, s), h in zip(rows, heights, strict=True):
        if kind == "group":
            svg.text(0, yy + h - 8, label, font_size=12, font_weight="700")
            svg.line(0, yy + h - 3, label_w + cell_w * len(models), yy + h - 3, stroke=FAINT)
            yy += h
            continue
        if kind == "more":
            svg.text(8, yy + 14, label, font_size=11, fill=MUTED, font_style="italic")
            yy += h
            continue
        key = OVERALL if s is None else s.key
        size = (s.sizes.get(split, 0) if s is not None
                else int((result.data or {}).get("rows_per_split", {}).get(split, 0) or 0))
        svg.text(label_w - 10, yy + 14, _clip(label, 11.5, label_w - 14), font_size=11.5,
                 text_anchor="end", font_weight="700" if s is None else None)
        for j, m in enumerate(models):
            v = cells.get((key, m))
            x0 = label_w + cell_w * j
            small = s is not None and too_small(v, size, min_size)
            where = "overall" if s is None else s.key
            if v is None or v.value is None or small:
                why = (f"{size} rows < {min_size}" if small else
                       (v.undefined if v is not None and v.undefined else "not computed"))
                svg.open("cell", title=f"{m} · {where}: — ({why})")
                svg.el("rect", x=float(x0), y=float(yy), width=float(cell_w),
                       height=float(cell_h), fill="url(#hatch)" if small else "#f6f8fa",
                       stroke="#ffffff")
                svg.text(x0 + cell_w / 2, yy + 14, "—", font_size=10.5, fill=MUTED,
                         text_anchor="middle")
                svg.close()
                continue
            d = sign * (v.value - ref) if ref is not None else 0.0
            alpha = min(abs(d) / scale, 1.0)
            fill = _mix(BETTER if d > 0 else WORSE, 0.06 + 0.74 * alpha) if alpha > 0.005 \
                else "#ffffff"
            ci = (f" [{format_value(v.lower, dec)}, {format_value(v.upper, dec)}]"
                  if v.lower is not None and v.upper is not None else "")
            vs = f"; {'+' if d >= 0 else '−'}{format_value(abs(d), dec)} vs {reference} " \
                 "overall" if ref is not None else ""
            svg.open("cell", title=f"{m} · {where}: {format_value(v.value, dec)}{ci}, "
                                   f"{v.n_rows or size:,} rows{vs}")
            svg.el("rect", x=float(x0), y=float(yy), width=float(cell_w),
                   height=float(cell_h), fill=fill, stroke="#ffffff")
            svg.text(x0 + cell_w / 2, yy + 14, format_value(v.value, dec), font_size=10.5,
                     text_anchor="middle", fill="#ffffff" if alpha > 0.62 else INK,
                     font_variant_numeric="tabular-nums",
                     font_weight="700" if s is None else None)
            svg.close()
        svg.text(label_w + cell_w * len(models) + 8, yy + 14, f"{size:,}", font_size=10.5,
                 fill=MUTED)
        yy += h
    svg.text(label_w + cell_w * len(models) + 8, top - 6, "rows", font_size=10.5, fill=MUTED)
    return svg.render("chart heatmap")
