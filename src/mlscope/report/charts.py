"""Small, dependency-free SVG charts of an :class:`~mlscope.result.EvaluationResult`.

Every builder returns one ``<svg>`` element as a string (well-formed XML, text escaped)
that can be inlined into HTML or written to a ``.svg`` file. Charts only *read* the
result: they place the numbers the evaluation computed and never recompute a metric.

Colours follow the Okabe–Ito palette (distinguishable with the common colour-vision
deficiencies); a model keeps its colour in every chart (:func:`model_colors`). The
selected model is marked by shape and weight as well as by colour, so the charts also
read in greyscale.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from mlscope.result import OVERALL, EvaluationResult, MetricInfo, MetricValue, SliceInfo

__all__ = [
    "OKABE_ITO",
    "SliceGroup",
    "forest_chart",
    "format_bound",
    "format_value",
    "metric_decimals",
    "model_colors",
    "nice_ticks",
    "slice_chart",
    "slice_groups",
    "slice_label",
    "slice_metric",
    "too_small",
    "tradeoff_chart",
    "tradeoff_metrics",
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


def _tick_decimals(ticks: Sequence[float]) -> int:
    if len(ticks) < 2:
        return 2
    step = abs(ticks[1] - ticks[0])
    d = max(0, -math.floor(math.log10(step) + 1e-9))
    if abs(round(step * 10**d) - step * 10**d) > 1e-6:
        d += 1
    return d


def _tick_text(t: float, decimals: int) -> str:
    return format_value(t, decimals)


# -- colours -------------------------------------------------------------------------


def model_colors(models: Sequence[str]) -> dict[str, str]:
    """A colour per model, from :data:`OKABE_ITO` in model order (cycling after eight).

    Parameters
    ----------
    models
        Model names in the result's order.

    Returns
    -------
    dict
        Model name → ``#rrggbb``.
    """
    return {m: OKABE_ITO[i % len(OKABE_ITO)] for i, m in enumerate(models)}


# -- SVG building ---------------------------------------------------------------------


def _n(x: float) -> str:
    """A coordinate: one decimal at most."""
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _attrs(attrs: dict[str, Any]) -> str:
    parts = []
    for k, v in attrs.items():
        if v is None:
            continue
        name = k.rstrip("_").replace("_", "-")
        value = _n(v) if isinstance(v, float) else str(v)
        parts.append(f'{name}="{escape(value, quote=True)}"')
    return " ".join(parts)


@dataclass
class _Svg:
    width: float
    height: float
    title: str
    desc: str = ""
    parts: list[str] = field(default_factory=list)

    def add(self, tag: str, text: str | None = None, **attrs: Any) -> None:
        a = _attrs(attrs)
        if text is None:
            self.parts.append(f"<{tag} {a}/>")
        else:
            self.parts.append(f"<{tag} {a}>{escape(text, quote=False)}</{tag}>")

    def raw(self, fragment: str) -> None:
        self.parts.append(fragment)

    def line(self, x1: float, y1: float, x2: float, y2: float, **attrs: Any) -> None:
        self.add("line", x1=float(x1), y1=float(y1), x2=float(x2), y2=float(y2), **attrs)

    def text(self, x: float, y: float, text: str, **attrs: Any) -> None:
        self.add("text", text, x=float(x), y=float(y), **attrs)

    def render(self, css_class: str) -> str:
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="{escape(css_class)}" '
            f'viewBox="0 0 {_n(self.width)} {_n(self.height)}" width="{_n(self.width)}" '
            f'height="{_n(self.height)}" role="img" font-family="{escape(FONT)}" '
            f'font-size="12" fill="{INK}">'
            f"<title>{escape(self.title, quote=False)}</title>"
        )
        if self.desc:
            head += f"<desc>{escape(self.desc, quote=False)}</desc>"
        return head + "".join(self.parts) + "</svg>"


def _text_width(text: str, size: float = 12.0) -> float:
    return len(text) * size * CHAR_W


@dataclass(frozen=True)
class _Scale:
    lo: float
    hi: float
    a: float  # pixel of lo
    b: float  # pixel of hi

    def __call__(self, x: float) -> float:
        if self.hi == self.lo:
            return (self.a + self.b) / 2
        t = (x - self.lo) / (self.hi - self.lo)
        return self.a + t * (self.b - self.a)


def _domain(points: Iterable[float | None], bounds: tuple[float | None, float | None],
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


def _direction_note(info: MetricInfo) -> str:
    return "higher is better" if info.direction == "higher" else "lower is better"


def _values(result: EvaluationResult, split: str | None, slice_key: str = OVERALL
            ) -> dict[tuple[str, str], MetricValue]:
    """(model, metric) → value on a split and slice."""
    return {(v.model, v.metric): v for v in result.values
            if v.split == split and v.slice == slice_key}


def _charter_report(result: EvaluationResult) -> dict[str, Any]:
    rep = result.charter.get("report") if isinstance(result.charter, dict) else None
    return rep if isinstance(rep, dict) else {}


def _primary_rule(result: EvaluationResult) -> dict[str, Any]:
    sel = result.charter.get("selection") if isinstance(result.charter, dict) else None
    return sel if isinstance(sel, dict) else {}


def _reference_model(result: EvaluationResult) -> str | None:
    """The selected model, else the best-ranked one under the primary rule."""
    if result.winner is not None:
        return result.winner
    if result.selection is not None and result.selection.primary.ranking:
        return str(result.selection.primary.ranking[0]["model"])
    return result.models[0].name if result.models else None


def _dropped_models(result: EvaluationResult) -> set[str]:
    if result.selection is None:
        return set()
    return {str(d["model"]) for d in result.selection.primary.dropped}


def _parse_bound(text: str) -> tuple[str, float] | None:
    t = text.strip()
    for op in (">=", "<=", ">", "<"):
        if t.startswith(op):
            try:
                return op, float(t[len(op):])
            except ValueError:
                return None
    return None


# -- (a) forest chart ----------------------------------------------------------------


def forest_chart(
    result: EvaluationResult,
    metric: str,
    *,
    splits: Sequence[str] | None = None,
    slice_key: str = OVERALL,
    width: float = 300.0,
) -> str:
    """A dot-and-interval ("forest") chart of one metric: a row per model.

    Parameters
    ----------
    result
        The evaluation result.
    metric
        The metric id.
    splits
        The splits to show, at most two (default: the selection split, then the report
        split): the first as hollow circles, the second as filled ones.
    slice_key
        The slice (``overall`` by default).
    width
        Width in pixels (the chart scales down with its container).

    Returns
    -------
    str
        An ``<svg>`` element. Undefined values are written as ``—``; the charter's
        requirement on the metric, if any, is a dashed line.
    """
    info = result.metric_info(metric)
    if splits is None:
        splits = [s for s in (result.splits.get("selection"), result.splits.get("report"))
                  if s]
    splits = list(splits)[:2]
    models = [m.name for m in result.models]
    colors = model_colors(models)
    winner = result.winner
    by_split = {s: _values(result, s, slice_key) for s in splits}
    bound = _requirement_bound(result, metric)

    pts: list[float | None] = []
    for s in splits:
        for m in models:
            v = by_split[s].get((m, metric))
            if v is not None:
                pts += [v.value, v.lower, v.upper]
    if bound is not None:
        pts.append(bound[1])
    ticks = _domain(pts, info.bounds, count=4)
    # A long model name is clipped to 40% of the width rather than pushing the plot out.
    label_w = min(max((_text_width(m, 11.5) for m in models), default=40.0) + 14, width * 0.4)
    left, right, top = label_w, 14.0, 40.0
    sub = 9.0 if len(splits) > 1 else 0.0
    row_h = 14.0 + 2 * sub if sub else 21.0
    height = top + row_h * len(models) + (34 if len(splits) > 1 else 22)
    x = _Scale(ticks[0], ticks[-1], left, width - right)
    svg = _Svg(width, height, f"{info.label}: each model with its interval",
               "; ".join(f"{s}: {'hollow' if i == 0 else 'filled'} circles"
                         for i, s in enumerate(splits)))
    svg.text(0, 15, info.label, font_size=13, font_weight="600")
    svg.text(0, 30, _direction_note(info), font_size=11, fill=MUTED)
    bottom = top + row_h * len(models)
    dec = _tick_decimals(ticks)
    for i in range(1, len(models), 2):
        svg.add("rect", x=float(left), y=float(top + row_h * i),
                width=float(width - right - left), height=float(row_h), fill="#f6f8fa")
    for t in ticks:
        svg.line(x(t), top - 4, x(t), bottom, stroke=GRID)
        svg.text(x(t), bottom + 15, _tick_text(t, dec), font_size=10.5, fill=MUTED,
                 text_anchor="middle")
    svg.line(left, bottom, width - right, bottom, stroke=FAINT)
    if bound is not None and ticks[0] <= bound[1] <= ticks[-1]:
        bx = x(bound[1])
        svg.line(bx, top - 6, bx, bottom, stroke=INK, stroke_dasharray="4 3",
                 stroke_width=1.2)
        svg.text(bx, top - 9, f"{format_bound(bound[0])} {_short(bound[1])}", font_size=10,
                 fill=INK, text_anchor="middle")
    for i, m in enumerate(models):
        cy = top + row_h * (i + 0.5)
        is_w = m == winner
        fit = max(1, int((left - 14) / (11.5 * CHAR_W)))
        svg.text(left - 8, cy + 4, m if len(m) <= fit else m[: fit - 1] + "…", font_size=11.5,
                 text_anchor="end", font_weight="700" if is_w else None,
                 fill=INK if is_w else "#424a53")
        for j, s in enumerate(splits):
            v = by_split[s].get((m, metric))
            yy = cy + (-sub if j == 0 else sub) * (1 if len(splits) > 1 else 0) / 1.6
            if v is None or v.value is None:
                why = v.undefined if v is not None and v.undefined else "not computed"
                svg.raw(f"<g><title>{escape(f'{s}: undefined: {why}')}</title>")
                svg.text(left + 4, yy + 3.5, f"— undefined on {s}", font_size=10, fill=MUTED)
                svg.raw("</g>")
                continue
            if v.lower is not None and v.upper is not None:
                svg.line(x(v.lower), yy, x(v.upper), yy, stroke=colors[m], stroke_width=1.6,
                         stroke_linecap="round")
            filled = j == 1 or len(splits) == 1
            svg.add("circle", cx=float(x(v.value)), cy=float(yy), r=4.2 if is_w else 3.6,
                    fill=colors[m] if filled else "#ffffff", stroke=colors[m],
                    stroke_width=1.8)
    if len(splits) > 1:
        ly = height - 6
        svg.add("circle", cx=float(left + 4), cy=float(ly - 4), r=3.5, fill="#ffffff",
                stroke=MUTED, stroke_width=1.6)
        svg.text(left + 12, ly, splits[0], font_size=10.5, fill=MUTED)
        x2 = left + 22 + _text_width(splits[0], 10.5)
        svg.add("circle", cx=float(x2), cy=float(ly - 4), r=3.5, fill=MUTED, stroke=MUTED)
        svg.text(x2 + 8, ly, splits[1], font_size=10.5, fill=MUTED)
    return svg.render("chart forest")


# -- (a') baseline ladder ---------------------------------------------------------

LADDER_ORDER = ("trivial", "learned", "rule", None, "human", "external")
LADDER_LABEL = {"trivial": "trivial", "learned": "simple model", "rule": "rule",
                None: "candidate", "human": "human level", "external": "external"}


def ladder_rows(result: EvaluationResult) -> list[tuple[str, str | None]]:
    """``(model, family)`` from the bottom of the ladder to the top (family None:
    candidate)."""
    fam = {m.name: m.family for m in result.models}
    out: list[tuple[str, str | None]] = []
    for f in LADDER_ORDER:
        out += [(m.name, f) for m in result.models if fam.get(m.name) == f]
    return out


def ladder_chart(result: EvaluationResult, metric: str, *, split: str | None = None,
                 width: float = 460.0) -> str:
    """The baseline ladder of one metric: trivial → simple → rule → candidates → human.

    Each model or baseline is a row with its value and interval on ``split`` (default: the
    selection split); the family is written beside it. External figures are vertical
    reference lines (dotted when they were measured on other data), never intervals.
    """
    info = result.metric_info(metric)
    split = split or str(result.splits.get("selection") or "")
    rows = ladder_rows(result)
    vals = _values(result, split)
    hl = result.human
    human = [(r.name, hv) for r in (hl.rungs if hl else [])
             if r.scored and (hv := r.value(metric)) is not None and hv.value is not None]
    refs = [(b, b.values[metric]) for b in result.baselines
            if b.family == "external" and metric in b.values]
    pts: list[float | None] = []
    for m, _ in rows:
        v = vals.get((m, metric))
        if v is not None:
            pts += [v.value, v.lower, v.upper]
    for _, hv in human:
        pts += [hv.value, hv.lower, hv.upper]
    pts += [x for _, x in refs]
    ticks = _domain(pts, info.bounds, count=4)
    names = [m for m, _ in rows] + [f"humans: {n}" for n, _ in human]
    fams = [LADDER_LABEL[f] for _, f in rows] + ["human level"] * len(human)
    label_w = max((_text_width(n, 11.5) for n in names), default=40.0) + 14
    fam_w = max((_text_width(f, 10) for f in fams), default=30.0) + 12
    left, right = label_w + fam_w, 16.0
    top = 40.0 + (14.0 if refs else 0.0)
    row_h = 20.0
    n_rows = len(names)
    height = top + row_h * n_rows + 24
    x = _Scale(ticks[0], ticks[-1], left, width - right)
    svg = _Svg(width, height, f"{info.label}: the baseline ladder on {split}",
               "rows from the trivial baselines at the top to human level at the bottom; "
               "vertical lines: external figures")
    svg.text(0, 15, f"{info.label} — {split}", font_size=13, font_weight="600")
    svg.text(0, 30, _direction_note(info), font_size=11, fill=MUTED)
    bottom = top + row_h * n_rows
    dec = _tick_decimals(ticks)
    winner = result.winner
    colors = model_colors([m.name for m in result.models])
    prev_f: Any = object()
    for i, (_, f) in enumerate([*rows, *[(h, "human") for h, _ in human]]):
        if f != prev_f and i > 0:
            svg.line(0, top + row_h * i, width - right, top + row_h * i, stroke=GRID)
        prev_f = f
    for t in ticks:
        svg.line(x(t), top - 4, x(t), bottom, stroke=GRID)
        svg.text(x(t), bottom + 15, _tick_text(t, dec), font_size=10.5, fill=MUTED,
                 text_anchor="middle")
    svg.line(left, bottom, width - right, bottom, stroke=FAINT)
    for k, (b, xv) in enumerate(refs):
        if not ticks[0] <= xv <= ticks[-1]:
            continue
        bx = x(xv)
        svg.raw(f"<g><title>{escape(f'{b.name}: {xv:g} — {b.source}; measured on {b.data}')}"
                "</title>")
        svg.line(bx, top - 8, bx, bottom, stroke=INK, stroke_width=1.2,
                 stroke_dasharray="4 3" if b.same_data else "1.5 2.5")
        label = b.name + ("" if b.same_data else " (other data)")
        svg.text(bx, top - 11 - 12 * (k % 2), label, font_size=10, fill=INK,
                 text_anchor="middle")
        svg.raw("</g>")
    for i, name in enumerate(names):
        cy = top + row_h * (i + 0.5)
        is_w = name == winner
        svg.text(label_w - 8, cy + 4, name, font_size=11.5, text_anchor="end",
                 font_weight="700" if is_w else None, fill=INK if is_w else "#424a53")
        svg.text(label_w, cy + 4, fams[i], font_size=10, fill=MUTED)
        if i < len(rows):
            v = vals.get((name, metric))
            lo, hi, val = (v.lower, v.upper, v.value) if v is not None else (None, None, None)
            why = (v.undefined if v is not None and v.undefined else "not computed")
            color = colors.get(name, MUTED) if rows[i][1] is None else "#6e7781"
        else:
            hv = human[i - len(rows)][1]
            lo, hi, val, why, color = hv.lower, hv.upper, hv.value, hv.undefined or "", "#8250df"
        if val is None:
            svg.raw(f"<g><title>{escape(f'undefined: {why}')}</title>")
            svg.text(left + 4, cy + 3.5, "— undefined", font_size=10, fill=MUTED)
            svg.raw("</g>")
            continue
        if lo is not None and hi is not None:
            svg.line(x(lo), cy, x(hi), cy, stroke=color, stroke_width=1.6,
                     stroke_linecap="round")
        shape = "rect" if i >= len(rows) or rows[i][1] is not None else "circle"
        if shape == "circle":
            svg.add("circle", cx=float(x(val)), cy=float(cy), r=4.2 if is_w else 3.6,
                    fill=color, stroke=color, stroke_width=1.6)
        else:
            svg.add("rect", x=float(x(val) - 3.4), y=float(cy - 3.4), width=6.8, height=6.8,
                    fill="#ffffff", stroke=color, stroke_width=1.6)
    return svg.render("chart ladder")


# -- (a'') paired differences ------------------------------------------------------


def difference_chart(result: EvaluationResult, metric: str, reference: str, *,
                     split: str | None = None, width: float = 380.0) -> str:
    """Each candidate minus ``reference`` on one metric, with its paired interval.

    A solid line marks 0 (no difference); a dashed line marks the charter's gate on the
    metric, if any (the bound the interval must clear). Points are placed so that right is
    always better: for a lower-is-better metric the axis runs from high to low.
    """
    info = result.metric_info(metric)
    split = split or str(result.splits.get("selection") or "")
    fam = {m.name: m.kind for m in result.models}
    diffs = {d.model: d for d in result.differences if d.split == split and d.slice == OVERALL
             and d.metric == metric and d.reference == reference
             and fam.get(d.model) == "candidate"}
    models = [m.name for m in result.models if m.name in diffs]
    sign = 1.0 if info.direction == "higher" else -1.0
    gate = None
    gates = result.charter.get("gates") if isinstance(result.charter, dict) else None
    if isinstance(gates, dict) and isinstance(gates.get(metric), dict) and (
            result.check is None or result.check.blessed == reference):
        g = gates[metric]
        if g.get("relative"):
            gate = None  # a relative margin has no single line on the absolute axis
        elif g.get("improve") is not None:
            gate = float(g["improve"])
        elif g.get("regress") is not None:
            gate = -float(g["regress"])
    pts: list[float | None] = [0.0]
    if gate is not None:
        pts.append(gate)
    for d in diffs.values():
        for v in (d.value, d.lower, d.upper):
            pts.append(None if v is None else sign * v)
    ticks = _domain(pts, (None, None), count=4)
    colors = model_colors([m.name for m in result.models])
    label_w = max((_text_width(m, 11.5) for m in models), default=40.0) + 14
    left, right, top, row_h = label_w, 14.0, 44.0, 21.0
    height = top + row_h * max(len(models), 1) + 26
    x = _Scale(ticks[0], ticks[-1], left, width - right)
    svg = _Svg(width, height, f"{info.label}: each model minus {reference}",
               "right of the solid line is better than the reference")
    svg.text(0, 15, f"{info.label}: minus {reference}", font_size=13, font_weight="600")
    svg.text(0, 30, "right is better" + ("" if sign > 0 else " (lower values)"),
             font_size=11, fill=MUTED)
    bottom = top + row_h * max(len(models), 1)
    dec = _tick_decimals(ticks)
    for t in ticks:
        svg.line(x(t), top - 4, x(t), bottom, stroke=GRID)
        svg.text(x(t), bottom + 15, _tick_text(sign * t, dec), font_size=10.5, fill=MUTED,
                 text_anchor="middle")
    svg.line(x(0.0), top - 6, x(0.0), bottom, stroke=INK, stroke_width=1.2)
    if gate is not None and ticks[0] <= gate <= ticks[-1]:
        svg.line(x(gate), top - 6, x(gate), bottom, stroke=INK, stroke_dasharray="4 3",
                 stroke_width=1.2)
        svg.text(x(gate), top - 9, f"gate {_short(sign * gate)}", font_size=10, fill=INK,
                 text_anchor="middle")
    for i, m in enumerate(models):
        cy = top + row_h * (i + 0.5)
        d = diffs[m]
        svg.text(left - 8, cy + 4, m, font_size=11.5, text_anchor="end",
                 font_weight="700" if m == result.winner else None)
        if d.value is None:
            continue
        title = (f"{m} − {reference}: {d.value:+.4g}"
                 + (f" [{d.lower:+.4g}, {d.upper:+.4g}]" if d.lower is not None
                    and d.upper is not None else "")
                 + (f"; p = {d.p_value:.3g} ({d.test})" if d.p_value is not None else ""))
        svg.raw(f"<g><title>{escape(title)}</title>")
        if d.lower is not None and d.upper is not None:
            svg.line(x(sign * d.lower), cy, x(sign * d.upper), cy, stroke=colors[m],
                     stroke_width=1.8, stroke_linecap="round")
        svg.add("circle", cx=float(x(sign * d.value)), cy=float(cy), r=3.8, fill=colors[m],
                stroke=colors[m])
        svg.raw("</g>")
    return svg.render("chart diff")


# -- diagnosis: the gaps -------------------------------------------------------------


def gap_chart(diagnosis: Any, *, width: float = 520.0) -> str:
    """The four gaps as bars (right = worse), with their intervals and the practical
    margin shaded around 0; the gaps that count are drawn in red, the bottleneck bold."""
    gaps = [g for g in diagnosis.gaps if g.value is not None]
    labels = [g.label for g in gaps]
    pts: list[float | None] = [0.0, diagnosis.margin, -diagnosis.margin]
    for g in gaps:
        pts += [g.value, g.lower, g.upper]
    ticks = _domain(pts, (None, None), count=5)
    label_w = max((_text_width(t, 11.5) for t in labels), default=60.0) + 14
    left, right, top, row_h = label_w, 16.0, 40.0, 26.0
    height = top + row_h * max(len(gaps), 1) + 26
    x = _Scale(ticks[0], ticks[-1], left, width - right)
    svg = _Svg(width, height, f"the gaps on {diagnosis.metric}",
               "bars to the right: the later stage is worse than the earlier one")
    svg.text(0, 15, f"Gaps on {diagnosis.metric}", font_size=13, font_weight="600")
    svg.text(0, 30, f"{diagnosis.error_note}; right = worse; shaded: ± the practical margin "
                    f"{diagnosis.margin:.3g}", font_size=11, fill=MUTED)
    bottom = top + row_h * max(len(gaps), 1)
    svg.add("rect", x=float(x(-diagnosis.margin)), y=float(top - 4),
            width=float(max(x(diagnosis.margin) - x(-diagnosis.margin), 0.5)),
            height=float(bottom - top + 4), fill="#eef1f4")
    dec = _tick_decimals(ticks)
    for t in ticks:
        svg.line(x(t), top - 4, x(t), bottom, stroke=GRID)
        svg.text(x(t), bottom + 15, _tick_text(t, dec), font_size=10.5, fill=MUTED,
                 text_anchor="middle")
    svg.line(x(0.0), top - 6, x(0.0), bottom, stroke=INK, stroke_width=1.2)
    for i, g in enumerate(gaps):
        cy = top + row_h * (i + 0.5)
        bold = g.name == diagnosis.bottleneck
        svg.text(left - 8, cy + 4, g.label, font_size=11.5, text_anchor="end",
                 font_weight="700" if bold else None)
        color = "#cf222e" if g.counts else "#8c959f"
        x0, x1 = sorted((x(0.0), x(g.value)))
        title = (f"{g.label}: {g.value:+.4g}"
                 + (f" [{g.lower:+.4g}, {g.upper:+.4g}]" if g.lower is not None
                    and g.upper is not None else "")
                 + (" — counts" if g.counts else f" — {g.reason}"))
        svg.raw(f"<g><title>{escape(title)}</title>")
        svg.add("rect", x=float(x0), y=float(cy - 7), width=float(max(x1 - x0, 1.0)),
                height=14.0, fill=color, fill_opacity="0.85" if g.counts else "0.45")
        if g.lower is not None and g.upper is not None:
            svg.line(x(g.lower), cy, x(g.upper), cy, stroke=INK, stroke_width=1.4)
            for e in (g.lower, g.upper):
                svg.line(x(e), cy - 4, x(e), cy + 4, stroke=INK, stroke_width=1.4)
        svg.raw("</g>")
    return svg.render("chart gaps")


def _short(x: float) -> str:
    text = f"{x:.6g}"
    return text.replace("-", "−")


def _requirement_bound(result: EvaluationResult, metric: str) -> tuple[str, float] | None:
    reqs = result.charter.get("requirements") if isinstance(result.charter, dict) else None
    if isinstance(reqs, dict) and metric in reqs:
        return _parse_bound(str(reqs[metric]))
    for r in result.requirements:
        if r.metric == metric:
            return _parse_bound(r.bound)
    return None


# -- (b) trade-off scatter --------------------------------------------------------------


def tradeoff_metrics(result: EvaluationResult) -> tuple[str, str] | None:
    """The (x, y) metric ids of the trade-off chart.

    ``charter.report.tradeoff`` when it names two computed metrics; else the satisficing
    rule's first constraint (x) against its optimized metric (y); else the first two
    metrics. None when the result has fewer than two metrics.
    """
    ids = [m.id for m in result.metrics]
    pair = _charter_report(result).get("tradeoff")
    if isinstance(pair, list) and len(pair) == 2 and all(p in ids for p in pair) \
            and pair[0] != pair[1]:
        return str(pair[0]), str(pair[1])
    rule = _primary_rule(result)
    if rule.get("rule") == "satisficing":
        opt = rule.get("optimize")
        cons = [k for k in (rule.get("constraints") or {}) if k in ids and k != opt]
        if opt in ids and cons:
            return str(cons[0]), str(opt)
    if len(ids) >= 2:
        return ids[0], ids[1]
    return None


@dataclass
class _Line:
    axis: str  # "x" or "y"
    op: str
    value: float
    sources: list[str]


def _bound_lines(result: EvaluationResult, x_id: str, y_id: str) -> list[_Line]:
    lines: list[_Line] = []

    def add(metric: str, text: str, source: str) -> None:
        parsed = _parse_bound(text)
        if parsed is None:
            return
        axis = "x" if metric == x_id else "y"
        for ln in lines:
            if ln.axis == axis and ln.op == parsed[0] and ln.value == parsed[1]:
                if source not in ln.sources:
                    ln.sources.append(source)
                return
        lines.append(_Line(axis, parsed[0], parsed[1], [source]))

    rule = _primary_rule(result)
    if rule.get("rule") == "satisficing":
        for k, b in (rule.get("constraints") or {}).items():
            if k in (x_id, y_id):
                add(k, str(b), "rule")
    reqs = result.charter.get("requirements") if isinstance(result.charter, dict) else None
    if isinstance(reqs, dict):
        for k, b in reqs.items():
            if k in (x_id, y_id):
                add(k, str(b), "requirement")
    return lines


def _pareto_front(points: dict[str, tuple[float, float]], sx: float, sy: float
                  ) -> list[str]:
    """Models not dominated on the two shown metrics (oriented by ``sx``, ``sy``)."""
    front = []
    for m, (a, b) in points.items():
        oa, ob = sx * a, sy * b
        dominated = any(
            sx * c >= oa and sy * d >= ob and (sx * c > oa or sy * d > ob)
            for o, (c, d) in points.items() if o != m
        )
        if not dominated:
            front.append(m)
    return front


@dataclass
class _Box:
    x0: float
    y0: float
    x1: float
    y1: float

    def overlap(self, other: _Box) -> float:
        w = min(self.x1, other.x1) - max(self.x0, other.x0)
        h = min(self.y1, other.y1) - max(self.y0, other.y0)
        return w * h if w > 0 and h > 0 else 0.0


def _place_label(text: str, px: float, py: float, size: float, taken: list[_Box],
                 area: _Box, r: float, soft: Sequence[_Box] = ()
                 ) -> tuple[float, float, str, _Box]:
    """Put a label next to a point where it overlaps least with what is already drawn."""
    w, h = _text_width(text, size), size * 1.05
    gap = r + 4
    candidates = [
        (px + gap, py + size * 0.35, "start"),
        (px - gap, py + size * 0.35, "end"),
        (px + gap * 0.7, py - gap * 0.9, "start"),
        (px + gap * 0.7, py + gap * 0.9 + size * 0.7, "start"),
        (px - gap * 0.7, py - gap * 0.9, "end"),
        (px - gap * 0.7, py + gap * 0.9 + size * 0.7, "end"),
        (px, py - gap - 2, "middle"),
        (px, py + gap + size, "middle"),
    ]
    best: tuple[float, int, tuple[float, float, str, _Box]] | None = None
    for i, (tx, ty, anchor) in enumerate(candidates):
        x0 = tx if anchor == "start" else tx - w if anchor == "end" else tx - w / 2
        box = _Box(x0 - 1, ty - h * 0.8, x0 + w + 1, ty + h * 0.25)
        cost = sum(box.overlap(t) for t in taken) + 2 * sum(box.overlap(t) for t in soft)
        outside = (max(0.0, area.x0 - box.x0) + max(0.0, box.x1 - area.x1)
                   + max(0.0, area.y0 - box.y0) + max(0.0, box.y1 - area.y1))
        cost += outside * h * 4
        if best is None or (cost, i) < (best[0], best[1]):
            best = (cost, i, (tx, ty, anchor, box))
    assert best is not None
    return best[2]


def tradeoff_chart(
    result: EvaluationResult,
    *,
    x_metric: str | None = None,
    y_metric: str | None = None,
    split: str | None = None,
    width: float = 900.0,
    height: float = 520.0,
) -> str:
    """The trade-off between two metrics: each model as a point with intervals on both axes.

    Parameters
    ----------
    result
        The evaluation result.
    x_metric, y_metric
        Metric ids (default: :func:`tradeoff_metrics`).
    split
        The split whose values are drawn (default: the selection split, where the rule
        is applied).
    width, height
        Size in pixels.

    Returns
    -------
    str
        An ``<svg>`` element with the rule's constraints and the charter's requirements on
        these metrics as dashed lines, the region meeting all of them lightly shaded, the
        Pareto front over the two metrics as a step line, the selected model ringed and
        models dropped by the rule drawn hollow. Empty string when fewer than two metrics.
    """
    pair = (x_metric, y_metric) if x_metric and y_metric else tradeoff_metrics(result)
    if pair is None or pair[0] is None or pair[1] is None:
        return ""
    x_id, y_id = pair
    xi, yi = result.metric_info(x_id), result.metric_info(y_id)
    split = split or str(result.splits.get("selection"))
    vals = _values(result, split)
    models = [m.name for m in result.models]
    colors = model_colors(models)
    winner = result.winner
    dropped = _dropped_models(result)
    lines = _bound_lines(result, x_id, y_id)

    shown: dict[str, tuple[MetricValue, MetricValue]] = {}
    missing: list[str] = []
    for m in models:
        vx, vy = vals.get((m, x_id)), vals.get((m, y_id))
        if vx is None or vy is None or vx.value is None or vy.value is None:
            missing.append(m)
        else:
            shown[m] = (vx, vy)

    xs = [p for vx, _ in shown.values() for p in (vx.value, vx.lower, vx.upper)]
    ys = [p for _, vy in shown.values() for p in (vy.value, vy.lower, vy.upper)]
    xs += [ln.value for ln in lines if ln.axis == "x"]
    ys += [ln.value for ln in lines if ln.axis == "y"]
    xt = _domain(xs, xi.bounds, count=6, pad=0.06)
    yt = _domain(ys, yi.bounds, count=6, pad=0.06)
    ydec, xdec = _tick_decimals(yt), _tick_decimals(xt)
    ylab_w = max(_text_width(_tick_text(t, ydec), 11) for t in yt)
    left, right, top, bottom_pad = 34 + ylab_w, 24.0, 54.0, 70.0
    bottom = height - bottom_pad
    x = _Scale(xt[0], xt[-1], left, width - right)
    y = _Scale(yt[0], yt[-1], bottom, top)
    svg = _Svg(width, height, f"Trade-off: {xi.label} against {yi.label} on {split}",
               "Each model with its intervals on both axes; dashed lines are bounds; the "
               "shaded region meets all of them; the step line is the Pareto front.")

    # Title and legend line.
    svg.text(0, 16, f"{yi.label} vs {xi.label}", font_size=14, font_weight="600")
    how = (f"point estimates with {_level(result)} intervals" if result.interval.resamples
           else "point estimates (intervals were turned off)")
    svg.text(0, 34, f"on the {split} split, {how}" + ("; shaded: meets every bound" if lines
                                                      else ""), font_size=11.5, fill=MUTED)

    # Feasible region.
    fx0, fx1, fy0, fy1 = xt[0], xt[-1], yt[0], yt[-1]
    for ln in lines:
        if ln.axis == "x":
            fx0, fx1 = (max(fx0, ln.value), fx1) if ln.op in (">=", ">") else \
                (fx0, min(fx1, ln.value))
        else:
            fy0, fy1 = (max(fy0, ln.value), fy1) if ln.op in (">=", ">") else \
                (fy0, min(fy1, ln.value))
    if lines and fx0 < fx1 and fy0 < fy1:
        svg.add("rect", x=float(x(fx0)), y=float(y(fy1)), width=float(x(fx1) - x(fx0)),
                height=float(y(fy0) - y(fy1)), fill=FEASIBLE, fill_opacity="0.07")

    # Grid and axes.
    for t in xt:
        svg.line(x(t), top, x(t), bottom, stroke=GRID)
        svg.text(x(t), bottom + 17, _tick_text(t, xdec), font_size=11, fill=MUTED,
                 text_anchor="middle")
    for t in yt:
        svg.line(left, y(t), width - right, y(t), stroke=GRID)
        svg.text(left - 8, y(t) + 4, _tick_text(t, ydec), font_size=11, fill=MUTED,
                 text_anchor="end")
    svg.add("rect", x=float(left), y=float(top), width=float(width - right - left),
            height=float(bottom - top), fill="none", stroke=FAINT)
    svg.text((left + width - right) / 2, bottom + 40,
             f"{xi.label} ({_arrow(xi, 'x')})", font_size=12.5, text_anchor="middle",
             font_weight="600")
    cy = (top + bottom) / 2
    svg.text(14, cy, f"{yi.label} ({_arrow(yi, 'y')})", font_size=12.5,
             text_anchor="middle", font_weight="600", transform=f"rotate(-90 14 {_n(cy)})")

    taken: list[_Box] = []
    # Bound lines, labelled at their end.
    for ln in lines:
        who = " & ".join("rule" if s == "rule" else "requirement" for s in ln.sources)
        label = f"{(xi if ln.axis == 'x' else yi).id} {format_bound(ln.op)} " \
                f"{_short(ln.value)} ({who})"
        if ln.axis == "x":
            px = x(ln.value)
            svg.line(px, top, px, bottom, stroke="#444c56", stroke_dasharray="5 4",
                     stroke_width=1.2)
            svg.text(px + 4, top + 13, label, font_size=10.5, fill="#444c56")
            taken.append(_Box(px, top + 2, px + 4 + _text_width(label, 10.5), top + 16))
        else:
            py = y(ln.value)
            svg.line(left, py, width - right, py, stroke="#444c56", stroke_dasharray="5 4",
                     stroke_width=1.2)
            tw = _text_width(label, 10.5)
            svg.text(width - right - 4, py - 5, label, font_size=10.5, fill="#444c56",
                     text_anchor="end")
            taken.append(_Box(width - right - 4 - tw, py - 16, width - right, py - 2))

    # Pareto front (over the two shown metrics) as a step line.
    sx = 1.0 if xi.direction == "higher" else -1.0
    sy = 1.0 if yi.direction == "higher" else -1.0
    pts = {m: (float(vx.value), float(vy.value)) for m, (vx, vy) in shown.items()
           if vx.value is not None and vy.value is not None}
    front = _pareto_front(pts, sx, sy)
    if len(front) >= 2:
        order = sorted(front, key=lambda m: sx * pts[m][0])
        path = [f"M{_n(x(pts[order[0]][0]))},{_n(y(pts[order[0]][1]))}"]
        for prev, cur in itertools.pairwise(order):
            # Down (or up) to the next point's level, then across: the dominated region's edge.
            path.append(f"L{_n(x(pts[prev][0]))},{_n(y(pts[cur][1]))}")
            path.append(f"L{_n(x(pts[cur][0]))},{_n(y(pts[cur][1]))}")
        svg.add("path", d=" ".join(path), fill="none", stroke="#57606a", stroke_width=1.8,
                stroke_dasharray="1 3", stroke_linecap="round")

    # Whiskers, then points, then labels on top.
    whiskers: list[_Box] = []
    for m, (vx, vy) in shown.items():
        assert vx.value is not None
        assert vy.value is not None
        px, py = x(vx.value), y(vy.value)
        c = colors[m]
        if vx.lower is not None and vx.upper is not None:
            svg.line(x(vx.lower), py, x(vx.upper), py, stroke=c, stroke_width=1.5,
                     stroke_opacity="0.75")
            whiskers.append(_Box(x(vx.lower), py - 1.5, x(vx.upper), py + 1.5))
        if vy.lower is not None and vy.upper is not None:
            svg.line(px, y(vy.lower), px, y(vy.upper), stroke=c, stroke_width=1.5,
                     stroke_opacity="0.75")
            whiskers.append(_Box(px - 1.5, y(vy.upper), px + 1.5, y(vy.lower)))
    for m, (vx, vy) in shown.items():
        assert vx.value is not None
        assert vy.value is not None
        px, py = x(vx.value), y(vy.value)
        r = 7.0 if m == winner else 5.0
        if m == winner:
            svg.add("circle", cx=float(px), cy=float(py), r=11.0, fill="none", stroke=INK,
                    stroke_width=1.6)
        svg.add("circle", cx=float(px), cy=float(py), r=r,
                fill="#ffffff" if m in dropped else colors[m], stroke=colors[m],
                stroke_width=2.2)
        taken.append(_Box(px - r - 2, py - r - 2, px + r + 2, py + r + 2))
    area = _Box(left + 2, top + 2, width - right - 2, bottom - 2)
    for m in sorted(shown, key=lambda k: (k != winner, models.index(k))):
        vx, vy = shown[m]
        assert vx.value is not None
        assert vy.value is not None
        px, py = x(vx.value), y(vy.value)
        label = m + (" — selected" if m == winner else " (dropped)" if m in dropped else "")
        size = 12.5 if m == winner else 11.5
        tx, ty, anchor, box = _place_label(label, px, py, size, taken, area,
                                           11.0 if m == winner else 5.0, whiskers)
        taken.append(box)
        svg.text(tx, ty, label, font_size=size, text_anchor=anchor,
                 font_weight="700" if m == winner else "500",
                 fill=INK, stroke="#ffffff", stroke_width=3.0, paint_order="stroke",
                 stroke_linejoin="round")

    # Footer: legend and what is not shown.
    ly = height - 10
    lx = 0.0
    if len(front) >= 2:
        svg.line(lx, ly - 4, lx + 22, ly - 4, stroke="#57606a", stroke_width=1.8,
                 stroke_dasharray="1 3", stroke_linecap="round")
        svg.text(lx + 28, ly, "Pareto front on these two metrics", font_size=11, fill=MUTED)
        lx += 38 + _text_width("Pareto front on these two metrics", 11)
    if dropped & set(shown):
        svg.add("circle", cx=float(lx + 5), cy=float(ly - 4), r=4.5, fill="#ffffff",
                stroke=MUTED, stroke_width=2)
        svg.text(lx + 14, ly, "hollow: dropped by the rule", font_size=11, fill=MUTED)
        lx += 24 + _text_width("hollow: dropped by the rule", 11)
    if missing:
        svg.text(lx, ly, "not shown (undefined): " + ", ".join(missing), font_size=11,
                 fill=MUTED)
    return svg.render("chart tradeoff")


def _level(result: EvaluationResult) -> str:
    return f"{round(result.interval.level * 100):g}%"


def _arrow(info: MetricInfo, axis: str) -> str:
    if axis == "x":
        return "higher is better →" if info.direction == "higher" else "← lower is better"
    return "higher is better ↑" if info.direction == "higher" else "lower is better ↓"


# -- (c) per-slice bars -----------------------------------------------------------------


def slice_metric(result: EvaluationResult) -> str | None:
    """The metric id shown per slice: ``charter.report.slice_metric``, else the rule's.

    Falls back to the satisficing rule's optimized metric, then the first metric.
    """
    ids = [m.id for m in result.metrics]
    chosen = _charter_report(result).get("slice_metric")
    if isinstance(chosen, str) and chosen in ids:
        return chosen
    opt = _primary_rule(result).get("optimize")
    if isinstance(opt, str) and opt in ids:
        return opt
    return ids[0] if ids else None


def _min_size(result: EvaluationResult) -> int:
    sl = result.charter.get("slices") if isinstance(result.charter, dict) else None
    if isinstance(sl, dict) and isinstance(sl.get("min_size"), int):
        return int(sl["min_size"])
    return 30


_Row = tuple[str, str, SliceInfo | None, str]  # kind, label, slice, note


@dataclass
class SliceGroup:
    """Slices shown together: one column, one cross, or the named predicates."""

    title: str
    kind: str
    slices: list[SliceInfo]


def slice_groups(result: EvaluationResult) -> list[SliceGroup]:
    """The result's slices (not ``overall``) grouped by column, cross, and ``where``."""
    groups: dict[str, SliceGroup] = {}
    for s in result.slices:
        if s.kind == "overall":
            continue
        title = "named subsets (where)" if s.kind == "where" else " × ".join(s.columns)
        key = f"{s.kind}:{title}"
        groups.setdefault(key, SliceGroup(title, s.kind, [])).slices.append(s)
    return list(groups.values())


def slice_label(s: SliceInfo) -> str:
    """How a slice is named within its group (its values, or the predicate's name)."""
    if s.kind == "where":
        text = f"{s.key}: {s.definition}" if s.definition else s.key
        return text if len(text) <= 40 else s.key
    if s.values:
        return " × ".join(s.values)
    return s.key


def too_small(v: MetricValue | None, size: int, min_size: int) -> bool:
    """Whether a slice value is missing because the slice is below ``min_size``."""
    if v is not None and v.undefined:
        return v.undefined.startswith("slice too small") or v.undefined.startswith("no rows")
    return size < min_size


def slice_chart(
    result: EvaluationResult,
    *,
    metric: str | None = None,
    split: str | None = None,
    model: str | None = None,
    width: float = 940.0,
    max_cross_rows: int = 24,
) -> str:
    """One metric per slice for the selected model, as bars from the overall value.

    Parameters
    ----------
    result
        The evaluation result.
    metric
        Metric id (default: :func:`slice_metric`).
    split
        Split (default: the report split, else the selection split).
    model
        The model drawn as bars (default: the selected model); the other models are
        small markers in their colours.
    width
        Width in pixels.
    max_cross_rows
        At most this many cells of a cross are drawn (largest first); the others, and
        every cell below the minimum size, are summarised on one line.

    Returns
    -------
    str
        An ``<svg>`` element: a vertical reference line at the overall value, for every
        slice a bar from it to the slice's value with the interval as a whisker, slices
        below the minimum size greyed with ``n=12 < 30``, and other undefined values with
        their reason. Empty string when there is no metric or no slice.
    """
    metric = metric or slice_metric(result)
    groups = slice_groups(result)
    if metric is None or not groups or not result.models:
        return ""
    info = result.metric_info(metric)
    split = split or result.splits.get("report") or str(result.splits.get("selection"))
    model = model or _reference_model(result)
    assert model is not None
    models = [m.name for m in result.models]
    colors = model_colors(models)
    min_size = _min_size(result)
    by_slice: dict[str, dict[str, MetricValue]] = {}
    for v in result.values:
        if v.split == split and v.metric == metric:
            by_slice.setdefault(v.slice, {})[v.model] = v
    overall = by_slice.get(OVERALL, {}).get(model)
    ref = overall.value if overall is not None else None

    rows: list[_Row] = []
    for g in groups:
        rows.append(("group", g.title, None, ""))
        hidden: list[SliceInfo] = []
        shown: list[SliceInfo] = []
        for s in g.slices:
            sv = by_slice.get(s.key, {}).get(model)
            if g.kind == "cross" and too_small(sv, s.sizes.get(split, 0), min_size):
                hidden.append(s)
            else:
                shown.append(s)
        if g.kind == "cross" and len(shown) > max_cross_rows:
            shown.sort(key=lambda s: -s.sizes.get(split, 0))
            hidden += shown[max_cross_rows:]
            shown = sorted(shown[:max_cross_rows], key=g.slices.index)
        for s in shown:
            note = s.definition if s.kind == "where" else ""
            rows.append(("slice", slice_label(s), s, note))
        if hidden:
            n_small = sum(1 for s in hidden
                          if too_small(by_slice.get(s.key, {}).get(model),
                                       s.sizes.get(split, 0), min_size))
            text = f"+ {len(hidden)} more cells not drawn"
            if n_small == len(hidden):
                text = f"+ {len(hidden)} cells with n < {min_size} (too small, not drawn)"
            elif n_small:
                text += f" ({n_small} of them with n < {min_size})"
            rows.append(("more", text, None, ""))

    pts: list[float | None] = [ref]
    for _, _, rs, _ in rows:
        if rs is None:
            continue
        for m, v in by_slice.get(rs.key, {}).items():
            if m == model:
                pts += [v.value, v.lower, v.upper]
            else:
                pts.append(v.value)
    ticks = _domain(pts, info.bounds, count=6, pad=0.03)
    dec = metric_decimals(info, [p for p in pts if p is not None])
    tdec = _tick_decimals(ticks)

    label_w = max([_text_width(r[1], 12) for r in rows if r[0] == "slice"] + [80.0]) + 16
    label_w = min(label_w, width * 0.36)
    value_w = 190.0
    left, right = label_w, value_w
    top = 96.0
    row_h, group_h = 21.0, 30.0
    heights = [group_h if r[0] == "group" else row_h for r in rows]
    height = top + sum(heights) + 40
    plot_right = width - right - 22
    x = _Scale(ticks[0], ticks[-1], left, plot_right)
    svg = _Svg(width, height, f"{info.label} per slice for {model} on {split}",
               "Bars run from the overall value to each slice's value; whiskers are "
               "intervals; small markers are the other models.")
    svg.text(0, 16, f"{info.label} per slice — {model} on {split}", font_size=14,
             font_weight="600")
    legend = f"bar: {model} (from its overall value)"
    if result.interval.resamples:
        legend += f", whisker: {_level(result)} interval"
    svg.text(0, 34, legend + f"; {_direction_note(info)}", font_size=11.5, fill=MUTED)
    # Legend of the other models.
    lx = 0.0
    others = [m for m in models if m != model]
    if others:
        svg.text(lx, 54, "other models:", font_size=11, fill=MUTED)
        lx += _text_width("other models:", 11) + 10
        for m in others:
            svg.add("circle", cx=float(lx + 4), cy=50.0, r=3.5, fill=colors[m])
            svg.text(lx + 12, 54, m, font_size=11, fill=MUTED)
            lx += 24 + _text_width(m, 11)

    bottom = top + sum(heights)
    for t in ticks:
        svg.line(x(t), top - 6, x(t), bottom, stroke=GRID)
        for ty in (top - 10, bottom + 16):
            svg.text(x(t), ty, _tick_text(t, tdec), font_size=10.5, fill=MUTED,
                     text_anchor="middle")
    svg.line(left, bottom, plot_right, bottom, stroke=FAINT)
    if ref is not None:
        rx = x(ref)
        svg.line(rx, top - 26, rx, bottom, stroke=INK, stroke_width=1.3)
        svg.text(rx, top - 30, f"overall {format_value(ref, dec)}", font_size=11.5,
                 text_anchor="middle", font_weight="600", stroke="#ffffff", stroke_width=3.0,
                 paint_order="stroke")
    head = f"{model} [{_level(result)} interval]" if result.interval.resamples else model
    svg.text(width - right + 12, top - 10, head, font_size=11, fill=MUTED)
    svg.text(width - 4, top - 10, "n", font_size=11, fill=MUTED, text_anchor="end")

    yy = top
    base = colors[model]
    for (kind, label, row_slice, note), h in zip(rows, heights, strict=True):
        if kind == "group":
            svg.text(0, yy + h - 9, label, font_size=12, font_weight="700")
            svg.line(0, yy + h - 4, width, yy + h - 4, stroke=FAINT)
            yy += h
            continue
        cy = yy + h / 2
        if kind == "more":
            svg.text(10, cy + 4, label, font_size=11, fill=MUTED, font_style="italic")
            yy += h
            continue
        assert row_slice is not None
        n = row_slice.sizes.get(split, 0)
        vals = by_slice.get(row_slice.key, {})
        cur = vals.get(model)
        small = too_small(cur, n, min_size)
        undefined = cur is None or cur.value is None
        grey = "#8c959f"
        shown_label = label if _text_width(label, 12) <= label_w - 14 else \
            label[: int((label_w - 16) / (12 * CHAR_W)) - 1] + "…"
        if note or shown_label != label:
            svg.raw(f"<g><title>{escape(label + (': ' + note if note else ''))}</title>")
        svg.text(left - 10, cy + 4, shown_label, font_size=12, text_anchor="end",
                 fill=grey if undefined else INK)
        if note or shown_label != label:
            svg.raw("</g>")
        if small:
            svg.text(left + 6, cy + 4, f"n={n} < {min_size}", font_size=11, fill=grey)
            svg.text(width - right + 12, cy + 4, "too small", font_size=11, fill=grey)
            yy += h
            continue
        if undefined:
            why = (cur.undefined if cur is not None and cur.undefined else "undefined")
            svg.text(left + 6, cy + 4, f"— {why}", font_size=11, fill=grey)
            svg.text(width - right + 12, cy + 4, f"—   n={n}", font_size=11, fill=grey)
            yy += h
            continue
        assert cur is not None
        assert cur.value is not None
        vx = x(cur.value)
        if ref is not None:
            x0, x1 = sorted((x(ref), vx))
            svg.add("rect", x=float(x0), y=float(cy - 6), width=float(max(x1 - x0, 1.0)),
                    height=12.0, fill=base, fill_opacity="0.35")
        for m in others:
            o = vals.get(m)
            if o is not None and o.value is not None:
                svg.add("circle", cx=float(x(o.value)), cy=float(cy), r=2.8, fill=colors[m],
                        fill_opacity="0.9")
        if cur.lower is not None and cur.upper is not None:
            svg.line(x(cur.lower), cy, x(cur.upper), cy, stroke=base, stroke_width=1.6)
            for e in (cur.lower, cur.upper):
                svg.line(x(e), cy - 4, x(e), cy + 4, stroke=base, stroke_width=1.6)
        svg.add("circle", cx=float(vx), cy=float(cy), r=3.6, fill=base, stroke="#ffffff",
                stroke_width=1.0)
        interval = (f" [{format_value(cur.lower, dec)}, {format_value(cur.upper, dec)}]"
                    if cur.lower is not None and cur.upper is not None else "")
        svg.text(width - right + 12, cy + 4, f"{format_value(cur.value, dec)}{interval}",
                 font_size=11.5, font_variant_numeric="tabular-nums")
        svg.text(width - 4, cy + 4, f"{n:,}", font_size=11, fill=MUTED, text_anchor="end")
        yy += h
    svg.text((left + plot_right) / 2, bottom + 34,
             f"{info.label} ({_arrow(info, 'x')})", font_size=12, text_anchor="middle",
             font_weight="600")
    return svg.render("chart slices")

