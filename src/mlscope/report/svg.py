"""The escaping SVG writer of the report's charts, with their palette, scales and number formats.

Every text and attribute goes through :func:`html.escape`; charts build on :class:`Svg`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from mlscope.result import MetricInfo

__all__ = [
    "BASELINE_SHAPES",
    "CHAR_W",
    "FAINT",
    "FEASIBLE",
    "FONT",
    "GRID",
    "INK",
    "MUTED",
    "OKABE_ITO",
    "PALETTE",
    "Scale",
    "Svg",
    "clip_text",
    "coord",
    "domain_ticks",
    "format_bound",
    "format_value",
    "marker",
    "metric_decimals",
    "model_colors",
    "nice_ticks",
    "outlier_limits",
    "short_number",
    "spaced_ticks",
    "svg_attrs",
    "text_width",
    "tick_decimals",
    "tick_text",
]


OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#E69F00",  # orange (after sky blue: next to vermillion it is the hardest pair)
    "#000000",  # black
    "#B8A200",  # yellow, darkened to be visible on white
)
"""The Okabe–Ito palette, in the order models receive it."""

PALETTE: tuple[str, ...] = (
    *OKABE_ITO,
    "#332288",  # indigo
    "#661100",  # dark brown
    "#E15759",  # coral red
    "#2CA02C",  # green
    "#3D405B",  # slate
    "#882255",  # wine
    "#8C564B",  # brown
    "#F4A261",  # sand
    "#9467BD",  # purple
    "#0A9396",  # teal
    "#6A994E",  # moss
    "#FF9DA7",  # pink
)
"""Twenty colours for models: Okabe–Ito first, then twelve picked greedily (from Tableau 20,
Paul Tol's and a few others) to be as far as possible (CIE L*a*b*) from those already taken,
from white and from the baselines' grey; no two are closer than ΔE*76 ≈ 23. Past twenty
models colours repeat, and names and shapes tell them apart."""

BASELINE_SHAPES: dict[str, str] = {
    "trivial": "square",
    "learned": "triangle",
    "rule": "diamond",
    "human": "star",
    "external": "cross",
}
"""The marker of each baseline family, in every chart; candidates are filled circles and
baselines are hollow, so a baseline reads as a yardstick even in greyscale."""

FONT = ("system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, "
        "sans-serif")
INK = "#1f2328"
MUTED = "#6e7781"
FAINT = "#d0d7de"
GRID = "#eaeef2"
FEASIBLE = "#009E73"
CHAR_W = 0.58  # average glyph width as a share of the font size (sans-serif)


# -- numbers -------------------------------------------------------------------------


def metric_decimals(info: MetricInfo | None, values: Iterable[float | None]) -> int:
    """Decimals that show a metric's values with about three significant digits.

    Parameters
    ----------
    info
        The metric (its ``bounds``); ``None`` when unknown.
    values
        The values to be shown together (e.g. one column of a table).

    Returns
    -------
    int
        At least 3 for metrics bounded to [0, 1]; otherwise enough for three significant
        digits of the median magnitude (``14.8``, ``0.205``, ``1.207``).
    """
    finite = sorted(abs(v) for v in values if v is not None and math.isfinite(v) and v != 0)
    typical = finite[len(finite) // 2] if finite else 1.0  # the median magnitude
    decimals = max(0, 2 - math.floor(math.log10(typical)))
    unit = info is not None and info.bounds == (0.0, 1.0)
    if unit:
        decimals = max(3, decimals)
    return min(decimals, 6)


def format_value(x: float | None, decimals: int = 3) -> str:
    """A number with fixed decimals; ``—`` when undefined; ``−`` as the minus sign."""
    if x is None or not math.isfinite(x):
        return "—"
    text = f"{x:.{decimals}f}"
    if text.startswith("-"):
        text = "−" + text[1:] if float(text) != 0 else text[1:]
    return text


def format_bound(bound: str) -> str:
    """A charter bound for display: ``>= 0.7`` → ``≥ 0.7``."""
    return bound.replace(">=", "≥").replace("<=", "≤").strip()


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering ``[lo, hi]`` (steps 1, 2, 2.5, 5 × 10^k).

    Parameters
    ----------
    lo, hi
        The range to cover; a degenerate range is widened around its value.
    count
        The approximate number of intervals.

    Returns
    -------
    list of float
        Ascending ticks; the first is ``<= lo`` and the last ``>= hi``.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi < lo:
        lo, hi = hi, lo
    if hi - lo < 1e-12:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(count, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = mag
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        step = m * mag
        if step >= raw * 0.999:
            break
    start = math.floor(lo / step + 1e-9) * step
    ticks: list[float] = []
    k = 0
    while True:
        t = start + k * step
        ticks.append(round(t, 12))
        if t >= hi - 1e-9 * step:
            break
        k += 1
    return ticks


def tick_decimals(ticks: Sequence[float]) -> int:
    """Decimals that tell apart consecutive ``ticks`` (2 when fewer than two)."""
    if len(ticks) < 2:
        return 2
    step = abs(ticks[1] - ticks[0])
    d = max(0, -math.floor(math.log10(step) + 1e-9))
    if abs(round(step * 10**d) - step * 10**d) > 1e-6:
        d += 1
    return d


def tick_text(t: float, decimals: int) -> str:
    """A tick label: ``t`` with ``decimals`` decimals (:func:`format_value`)."""
    return format_value(t, decimals)


def short_number(x: float) -> str:
    """A number in up to six significant digits, ``−`` as the minus sign."""
    text = f"{x:.6g}"
    return text.replace("-", "−")


# -- colours -------------------------------------------------------------------------


def model_colors(models: Sequence[str]) -> dict[str, str]:
    """A distinct colour per model, from :data:`PALETTE` in model order (cycling after 20).

    Parameters
    ----------
    models
        Model names in the result's order.

    Returns
    -------
    dict
        Model name → ``#rrggbb``.
    """
    return {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(models)}


# -- SVG building ---------------------------------------------------------------------


def coord(x: float) -> str:
    """A coordinate: one decimal at most."""
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def svg_attrs(attrs: dict[str, Any]) -> str:
    """SVG attributes as escaped ``name="value"`` text.

    ``stroke_width`` becomes ``stroke-width``; None values are skipped; floats go through
    :func:`coord`.
    """
    parts = []
    for k, v in attrs.items():
        if v is None:
            continue
        name = k.rstrip("_").replace("_", "-")
        value = coord(v) if isinstance(v, float) else str(v)
        parts.append(f'{name}="{escape(value, quote=True)}"')
    return " ".join(parts)


@dataclass
class Svg:
    """An SVG element under construction: escaped parts appended in order, rendered once."""

    width: float
    height: float
    title: str
    desc: str = ""
    parts: list[str] = field(default_factory=list)

    def add(self, tag: str, text: str | None = None, **attrs: Any) -> None:
        a = svg_attrs(attrs)
        if text is None:
            self.parts.append(f"<{tag} {a}/>")
        else:
            self.parts.append(f"<{tag} {a}>{escape(text, quote=False)}</{tag}>")

    def open(self, css: str | None = None, title: str | None = None, **attrs: Any) -> None:
        """Start a ``<g>``; ``title`` becomes its hover tooltip (a ``<title>`` child)."""
        a = svg_attrs({"class": css, **attrs})
        self.parts.append(f"<g {a}>" if a else "<g>")
        if title:
            self.parts.append(f"<title>{escape(title, quote=False)}</title>")

    def close(self) -> None:
        """End the group :meth:`open` started."""
        self.parts.append("</g>")

    def raw(self, fragment: str) -> None:
        self.parts.append(fragment)

    def line(self, x1: float, y1: float, x2: float, y2: float, **attrs: Any) -> None:
        self.add("line", x1=float(x1), y1=float(y1), x2=float(x2), y2=float(y2), **attrs)

    def text(self, x: float, y: float, text: str, **attrs: Any) -> None:
        self.add("text", text, x=float(x), y=float(y), **attrs)

    def render(self, css_class: str) -> str:
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="{escape(css_class)}" '
            f'viewBox="0 0 {coord(self.width)} {coord(self.height)}" width="{coord(self.width)}" '
            f'height="{coord(self.height)}" role="img" font-family="{escape(FONT)}" '
            f'font-size="12" fill="{INK}">'
            f"<title>{escape(self.title, quote=False)}</title>"
        )
        if self.desc:
            head += f"<desc>{escape(self.desc, quote=False)}</desc>"
        return head + "".join(self.parts) + "</svg>"


def text_width(text: str, size: float = 12.0) -> float:
    """Estimated width in pixels of ``text`` at font ``size`` (:data:`CHAR_W` per glyph)."""
    return len(text) * size * CHAR_W


def clip_text(text: str, room: float, size: float = 12.0) -> str:
    """``text``, or its head and "…", within ``room`` pixels at font ``size``
    (:func:`text_width`; a hair of slack, as a column sized to the text comes back from
    its sums a rounding error short: "prior" was cut to "pri…" in one made for it)."""
    room += 1e-6
    if text_width(text, size) <= room:
        return text
    k = len(text)
    while k > 1 and text_width(text[:k - 1] + "…", size) > room:
        k -= 1
    return text[:k - 1] + "…"


@dataclass(frozen=True)
class Scale:
    """A linear map from data ``[lo, hi]`` to pixels ``[a, b]`` (the middle when ``lo == hi``)."""

    lo: float
    hi: float
    a: float  # pixel of lo
    b: float  # pixel of hi

    def __call__(self, x: float) -> float:
        if self.hi == self.lo:
            return (self.a + self.b) / 2
        t = (x - self.lo) / (self.hi - self.lo)
        return self.a + t * (self.b - self.a)


def domain_ticks(points: Iterable[float | None], bounds: tuple[float | None, float | None],
                 count: int = 5, pad: float = 0.04) -> list[float]:
    """Nice ticks over the finite points, padded a little, kept within the metric bounds."""
    xs = [p for p in points if p is not None and math.isfinite(p)]
    if not xs:
        lo_b, hi_b = bounds
        return nice_ticks(lo_b if lo_b is not None else 0.0,
                          hi_b if hi_b is not None else 1.0, count)
    lo, hi = min(xs), max(xs)
    span = hi - lo or abs(hi) * 0.1 or 1.0
    lo, hi = lo - pad * span, hi + pad * span
    b_lo, b_hi = bounds
    if b_lo is not None:
        lo = max(lo, b_lo)
    if b_hi is not None:
        hi = min(hi, b_hi)
    ticks = nice_ticks(lo, hi, count)
    if b_lo is not None and ticks[0] < b_lo:
        ticks = [t for t in ticks if t >= b_lo - 1e-12] or ticks
    if b_hi is not None and ticks[-1] > b_hi:
        ticks = [t for t in ticks if t <= b_hi + 1e-12] or ticks
    return ticks


def marker(svg: Svg, shape: str, cx: float, cy: float, r: float, *, fill: str, stroke: str,
           stroke_width: float = 1.8) -> None:
    """A point marker of ``shape`` (``circle``, ``square``, ``triangle``, ``diamond``,
    ``star``, ``cross``) centred on ``(cx, cy)`` with about the area of a circle of radius
    ``r`` (:data:`BASELINE_SHAPES` says which baseline family gets which)."""
    if shape == "square":
        a = r * 0.9
        svg.add("rect", x=float(cx - a), y=float(cy - a), width=float(2 * a),
                height=float(2 * a), fill=fill, stroke=stroke, stroke_width=stroke_width)
        return
    if shape in ("triangle", "diamond", "star", "cross"):
        if shape == "triangle":
            a = r * 1.25
            pts = [(cx, cy - a), (cx + a * 0.95, cy + a * 0.65), (cx - a * 0.95, cy + a * 0.65)]
        elif shape == "diamond":
            a = r * 1.25
            pts = [(cx, cy - a), (cx + a, cy), (cx, cy + a), (cx - a, cy)]
        elif shape == "star":
            a, b = r * 1.35, r * 0.6
            pts = [(cx + (a if k % 2 == 0 else b) * math.sin(k * math.pi / 5),
                    cy - (a if k % 2 == 0 else b) * math.cos(k * math.pi / 5))
                   for k in range(10)]
        else:  # a plus with arms of width r * 0.7
            a, w = r * 1.15, r * 0.38
            pts = [(cx - w, cy - a), (cx + w, cy - a), (cx + w, cy - w), (cx + a, cy - w),
                   (cx + a, cy + w), (cx + w, cy + w), (cx + w, cy + a), (cx - w, cy + a),
                   (cx - w, cy + w), (cx - a, cy + w), (cx - a, cy - w), (cx - w, cy - w)]
        svg.add("polygon", points=" ".join(f"{coord(px)},{coord(py)}" for px, py in pts),
                fill=fill, stroke=stroke, stroke_width=stroke_width, stroke_linejoin="round")
        return
    svg.add("circle", cx=float(cx), cy=float(cy), r=float(r), fill=fill, stroke=stroke,
            stroke_width=stroke_width)


def outlier_limits(values: Iterable[float | None]) -> tuple[float, float] | None:
    """The range to draw when a few values lie far out, else None.

    A value is far out when its distance to its nearest neighbour (toward the rest) exceeds
    five times the span of the values closer in: one model at log loss 17.2 beside ten between
    0.2 and 0.3 would squash the ten into a pixel. At most a quarter of the values are
    cut, from either end; charts draw a cut value at the edge with its number (``▸ 17.2``).
    """
    xs = sorted(v for v in values if v is not None and math.isfinite(v))
    n = len(xs)
    if n < 4:
        return None
    keep = xs
    for _ in range(2):  # a cut at each end at most
        if len(keep) < 3:
            break
        gaps = [(keep[k + 1] - keep[k], k) for k in range(len(keep) - 1)]
        gap, k = max(gaps)
        left, right = keep[:k + 1], keep[k + 1:]
        small, big = (left, right) if len(left) < len(right) else (right, left)
        if len(small) > n // 4 or gap <= 5 * (big[-1] - big[0]) or big[-1] == big[0]:
            break
        keep = big
    if len(keep) == n:
        return None
    return keep[0], keep[-1]


def spaced_ticks(ticks: Sequence[float], px: Callable[[float], float], labels: Sequence[str],
                 size: float, gap: float = 6.0) -> list[int]:
    """Indices of the ticks whose centred labels fit side by side, left to right.

    A narrow chart (long model names leave little room for the axis) would print its tick
    labels on each other; every tick keeps its grid line, and only labels that clear the
    last one kept by ``gap`` pixels are written.
    """
    kept: list[int] = []
    last_right = -math.inf
    for i, t in enumerate(ticks):
        w = text_width(labels[i], size)
        left = px(t) - w / 2
        if left >= last_right + gap:
            kept.append(i)
            last_right = left + w
    return kept
