"""The portfolio's impact × feasibility 2×2, as SVG, with each score's range as a box.

Feasibility runs along x, impact up y, both 0 to 1; the lines at 0.5 make the four
quadrants (do first, big bet, quick win, not now). Each project is a dot at its points,
a translucent box spanning its two ranges with whiskers, and a label "rank name" placed
where it overlaps no other label, dot or quadrant title (:func:`portfolio_layout`
computes every text box, so tests can check that none overlap).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlscope.plan.portfolio import Portfolio
from mlscope.report.svg import FAINT, GRID, INK, MUTED, Scale, Svg, model_colors, text_width

__all__ = ["Box", "Layout", "portfolio_layout", "portfolio_svg"]

W, H = 760.0, 580.0
LEFT, RIGHT, TOP, BOTTOM = 74.0, 28.0, 52.0, 64.0
SIZE = 12.5  # label font size
QSIZE = 12.0  # quadrant title font size
DOT = 6.0


@dataclass(frozen=True)
class Box:
    """A rectangle in pixels: ``x0 ≤ x1``, ``y0 ≤ y1``."""

    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: Box, pad: float = 0.0) -> bool:
        """Whether the two rectangles intersect (touching with ``pad`` counts)."""
        return not (self.x1 + pad <= other.x0 or other.x1 + pad <= self.x0
                    or self.y1 + pad <= other.y0 or other.y1 + pad <= self.y0)


def _text_box(x: float, y: float, text: str, size: float, anchor: str) -> Box:
    w = text_width(text, size)
    x0 = x if anchor == "start" else x - w if anchor == "end" else x - w / 2
    return Box(x0, y - 0.8 * size, x0 + w, y + 0.25 * size)


@dataclass
class Label:
    """A placed text: where, how anchored, and its box."""

    text: str
    x: float
    y: float
    anchor: str
    box: Box
    size: float = SIZE


@dataclass
class Layout:
    """Everything the chart draws, in pixels."""

    plot: Box
    x: Scale
    y: Scale
    quadrants: list[Label] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)  # one per project, rank order
    dots: list[Box] = field(default_factory=list)
    ranges: list[Box] = field(default_factory=list)

    def text_boxes(self) -> list[Box]:
        """The boxes of every text the chart writes inside the plot."""
        return [q.box for q in self.quadrants] + [lab.box for lab in self.labels]


def _candidates(cx: float, cy: float, text: str) -> list[tuple[float, float, str]]:
    g = DOT + 5
    out = [(cx + g, cy + 4, "start"), (cx - g, cy + 4, "end"),
           (cx, cy - g - 2, "middle"), (cx, cy + g + SIZE, "middle"),
           (cx + g, cy - g, "start"), (cx - g, cy - g, "end"),
           (cx + g, cy + g + SIZE * 0.6, "start"), (cx - g, cy + g + SIZE * 0.6, "end")]
    # Further out, in steps, for crowded charts.
    for step in (1.0, 2.0, 3.0, 4.0):
        d = step * (SIZE + 4)
        out += [(cx + g, cy - d, "start"), (cx + g, cy + d, "start"),
                (cx - g, cy - d, "end"), (cx - g, cy + d, "end")]
    return out


def portfolio_layout(portfolio: Portfolio) -> Layout:
    """Place the plot, the quadrant titles, each project's range box, dot and label.

    Labels try positions around their dot in order (right, left, above, below, the
    diagonals, then further out) and take the first inside the plot that overlaps no
    placed text and no dot; the last resort is the right of the dot.
    """
    plot = Box(LEFT, TOP, W - RIGHT, H - BOTTOM)
    xs = Scale(0.0, 1.0, plot.x0, plot.x1)
    ys = Scale(0.0, 1.0, plot.y1, plot.y0)
    lay = Layout(plot=plot, x=xs, y=ys)
    pad = 8.0
    for text, fx, fy, anchor in (
            ("Big bet", 0.0, 1.0, "start"), ("Do first", 1.0, 1.0, "end"),
            ("Not now", 0.0, 0.0, "start"), ("Quick win", 1.0, 0.0, "end")):
        x = xs(fx) + (pad if anchor == "start" else -pad)
        y = ys(fy) + (pad + QSIZE if fy == 1.0 else -pad)
        lay.quadrants.append(Label(text, x, y, anchor, _text_box(x, y, text, QSIZE, anchor),
                                   QSIZE))
    for p in portfolio.projects:
        cx, cy = xs(p.feasibility.point), ys(p.impact.point)
        lay.dots.append(Box(cx - DOT, cy - DOT, cx + DOT, cy + DOT))
        lay.ranges.append(Box(xs(p.feasibility.lo), ys(p.impact.hi), xs(p.feasibility.hi),
                              ys(p.impact.lo)))
    for p, dot in zip(portfolio.projects, lay.dots, strict=True):
        cx, cy = (dot.x0 + dot.x1) / 2, (dot.y0 + dot.y1) / 2
        text = f"{p.rank} {p.name}"
        placed = [b for b in lay.text_boxes()]
        chosen: Label | None = None
        for x, y, anchor in _candidates(cx, cy, text):
            box = _text_box(x, y, text, SIZE, anchor)
            inside = (box.x0 >= plot.x0 + 2 and box.x1 <= plot.x1 - 2
                      and box.y0 >= plot.y0 + 2 and box.y1 <= plot.y1 - 2)
            if inside and not any(box.overlaps(o, 2) for o in placed + lay.dots):
                chosen = Label(text, x, y, anchor, box)
                break
        if chosen is None:
            x, y = cx + DOT + 5, cy + 4
            chosen = Label(text, x, y, "start", _text_box(x, y, text, SIZE, "start"))
        lay.labels.append(chosen)
    return lay


def portfolio_svg(portfolio: Portfolio) -> str:
    """The impact × feasibility 2×2 of a ranked portfolio, as one ``<svg>`` element."""
    lay = portfolio_layout(portfolio)
    plot, xs, ys = lay.plot, lay.x, lay.y
    names = [p.name for p in portfolio.projects]
    colors = model_colors(names)
    svg = Svg(W, H, f"Impact × feasibility: {portfolio.title}",
              desc="Each project at its impact and feasibility scores (0 to 1); the box and "
                   "whiskers span the range its drivers allow; the lines at 0.5 split the "
                   "quadrants.")
    # Quadrant shading: the do-first corner is tinted so the eye starts there.
    mx, my = xs(0.5), ys(0.5)
    svg.add("rect", None, x=mx, y=plot.y0, width=plot.x1 - mx, height=my - plot.y0,
            fill="#e8f5ee")
    for t in (0.25, 0.75):
        svg.line(xs(t), plot.y0, xs(t), plot.y1, stroke=GRID)
        svg.line(plot.x0, ys(t), plot.x1, ys(t), stroke=GRID)
    svg.add("rect", None, x=plot.x0, y=plot.y0, width=plot.x1 - plot.x0, height=plot.y1 - plot.y0,
            fill="none", stroke=FAINT)
    svg.line(mx, plot.y0, mx, plot.y1, stroke=MUTED, **{"stroke-dasharray": "4 3"})
    svg.line(plot.x0, my, plot.x1, my, stroke=MUTED, **{"stroke-dasharray": "4 3"})
    for q in lay.quadrants:
        svg.text(q.x, q.y, q.text, fill=MUTED, **{"text-anchor": q.anchor,
                                                   "font-size": q.size, "font-weight": 600})
    for t in (0.0, 0.25, 0.5, 0.75, 1.0):
        svg.text(xs(t), plot.y1 + 18, f"{t:g}", fill=MUTED, **{"text-anchor": "middle"})
        svg.text(plot.x0 - 8, ys(t) + 4, f"{t:g}", fill=MUTED, **{"text-anchor": "end"})
    svg.text((plot.x0 + plot.x1) / 2, H - 18, "Feasibility →  (data, stability, human level, "
             "accuracy needed, cost of errors)", fill=INK, **{"text-anchor": "middle"})
    svg.add("text", "Impact →", x=18.0, y=(plot.y0 + plot.y1) / 2, fill=INK,
            transform=f"rotate(-90 18 {(plot.y0 + plot.y1) / 2:.1f})",
            **{"text-anchor": "middle"})
    svg.text(plot.x0, 30, portfolio.title, fill=INK, **{"font-size": 15, "font-weight": 600})
    for p, rng, dot in zip(portfolio.projects, lay.ranges, lay.dots, strict=True):
        c = colors[p.name]
        cx, cy = (dot.x0 + dot.x1) / 2, (dot.y0 + dot.y1) / 2
        svg.add("rect", None, x=rng.x0, y=rng.y0, width=rng.x1 - rng.x0, height=rng.y1 - rng.y0,
                fill=c, **{"fill-opacity": 0.12, "stroke": c, "stroke-opacity": 0.55,
                           "stroke-dasharray": "3 2"})
        svg.line(rng.x0, cy, rng.x1, cy, stroke=c, **{"stroke-width": 1.5})
        svg.line(cx, rng.y0, cx, rng.y1, stroke=c, **{"stroke-width": 1.5})
    for p, dot, lab in zip(portfolio.projects, lay.dots, lay.labels, strict=True):
        c = colors[p.name]
        cx, cy = (dot.x0 + dot.x1) / 2, (dot.y0 + dot.y1) / 2
        svg.add("circle", None, cx=cx, cy=cy, r=DOT, fill=c, stroke="#ffffff",
                **{"stroke-width": 1.5})
        # A white plate under the label keeps it legible over boxes and whiskers.
        b = lab.box
        svg.add("rect", None, x=b.x0 - 3, y=b.y0 - 1, width=b.x1 - b.x0 + 6, height=b.y1 - b.y0 + 2,
                rx=3, fill="#ffffff", **{"fill-opacity": 0.88})
        svg.text(lab.x, lab.y, lab.text, fill=INK, **{"text-anchor": lab.anchor,
                                                       "font-size": lab.size,
                                                       "font-weight": 600})
    return svg.render("portfolio-chart")
