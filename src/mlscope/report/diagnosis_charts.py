"""The diagnosis' charts (training history, learning curve), drawn from a result's numbers.

A result is untrusted input (a result.json can be hand-written, a shared store's row can be
edited), so the report never inlines markup found in it: these charts are drawn at render
time from the numbers the diagnosis stored (``diagnosis.history.curves``,
``diagnosis.learning_curve.curve``/``band``/``needed``), with the SVG writer of
:mod:`mlscope.report.charts`, which escapes every text. An ``svg`` field that older results
carry is ignored. Numbers that are not numbers give no chart (an empty string), never an
error: a damaged result still renders.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlscope.report.svg import (
    FAINT,
    GRID,
    INK,
    MUTED,
    OKABE_ITO,
    Scale,
    Svg,
    nice_ticks,
)

if TYPE_CHECKING:
    from mlscope.diagnose.curve_fit import LearningCurve
    from mlscope.diagnose.history_read import History

__all__ = ["history_chart", "history_svg", "learning_curve_chart", "learning_curve_svg"]

LOG_SPAN = 10.0
"""The history's y axis is logarithmic when the losses span more than this factor."""
_BLUE = OKABE_ITO[0]
_CHAR_W = 0.58
_MAX_POINTS = 1_000_000  # more points than any chart needs: a crafted result, not drawn


class _Bad(ValueError):
    """The stored numbers cannot be drawn."""


# -- reading the stored numbers -------------------------------------------------------------


def _num(v: Any, *, finite: bool = True) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise _Bad(f"not a number: {type(v).__name__}")
    x = float(v)
    if finite and not math.isfinite(x):
        raise _Bad("not finite")
    return x


def _opt(v: Any) -> float | None:
    return None if v is None else _num(v)


def _nums(v: Any) -> list[float]:
    if not isinstance(v, list) or len(v) > _MAX_POINTS:
        raise _Bad("not a list of numbers")
    return [_num(x) for x in v]


def _losses(v: Any) -> list[float]:
    """Losses as stored: numbers, ``None`` where the logged loss was NaN or infinite."""
    if not isinstance(v, list) or len(v) > _MAX_POINTS:
        raise _Bad("not a list of losses")
    return [math.nan if x is None else _num(x, finite=False) for x in v]


def _series(v: Any) -> tuple[list[float], list[float]]:
    if not isinstance(v, Mapping):
        raise _Bad("not a series")
    steps, losses = _nums(v.get("step")), _losses(v.get("loss"))
    if len(steps) != len(losses):
        raise _Bad("steps and losses differ in length")
    return steps, losses


# -- training history ------------------------------------------------------------------------


def _log_ticks(lo: float, hi: float) -> list[float]:
    """Ticks 1-2-5 × 10^k covering [lo, hi] (only powers of 10 beyond two decades)."""
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    seq = [m * 10.0**e for e in range(a, b + 1) for m in (1, 2, 5)]
    start = max(t for t in seq if t <= lo * (1 + 1e-9))
    stop = min(t for t in seq if t >= hi * (1 - 1e-9))
    ticks = [t for t in seq if start <= t <= stop]
    if b - a > 2:
        inner = [t for t in ticks if math.isclose(math.log10(t) % 1, 0, abs_tol=1e-9)
                 or math.isclose(math.log10(t) % 1, 1, abs_tol=1e-9)]
        ticks = sorted({start, *inner, stop})
    return ticks


def _short(t: float) -> str:
    if abs(t) >= 1e6:
        return f"{t / 1e6:g}M"
    if abs(t) >= 1e4:
        return f"{t / 1e3:g}k"
    return f"{t:g}"


def history_chart(data: Mapping[str, Any] | None, *,
                  baseline_label: str = "trivial baseline", width: float = 460.0) -> str:
    """Training and validation loss against the step, with the best validation step.

    Parameters
    ----------
    data
        A result's ``diagnosis.history``: ``curves`` (``{"train": {"step": [...],
        "loss": [...]}, "val": {...}}``, a loss ``None`` where it was NaN or infinite) and
        ``baseline_loss`` (a reference loss drawn as a dashed line, or ``None``).
    baseline_label
        The baseline line's label.
    width
        Width in pixels.

    Returns
    -------
    str
        An ``<svg>`` element; the y axis is logarithmic when the finite losses span more
        than 10×, and non-finite losses break the line (the first is marked). An empty
        string when ``data`` holds no drawable curves.
    """
    try:
        if not isinstance(data, Mapping) or not isinstance(data.get("curves"), Mapping):
            return ""
        curves = data["curves"]
        ts, tl = _series(curves.get("train"))
        vs, vl = _series(curves.get("val"))
        baseline = _opt(data.get("baseline_loss"))
        steps = sorted({*ts, *vs})
        if len(steps) < 2:
            return ""
        return _draw_history(ts, tl, vs, vl, (steps[0], steps[-1]), baseline,
                             baseline_label, width)
    except (_Bad, ArithmeticError, ValueError):
        return ""


def _draw_history(ts: list[float], tl: list[float], vs: list[float], vl: list[float],
                  span: tuple[float, float],
                  baseline: float | None, baseline_label: str, width: float) -> str:
    ys = [float(y) for y in (*tl, *vl) if math.isfinite(y)]
    if baseline is not None:
        ys.append(float(baseline))
    lo, hi = (min(ys), max(ys)) if ys else (0.0, 1.0)
    log_y = lo > 0 and hi / lo > LOG_SPAN
    yt = _log_ticks(lo, hi) if log_y else nice_ticks(lo, hi, 4)
    xt = nice_ticks(span[0], span[1], 5)

    left, right, top, height = 48.0, 14.0, 50.0, 260.0
    bottom = height - 40.0
    x = Scale(xt[0], xt[-1], left, width - right)
    ys_ = Scale(math.log10(yt[0]), math.log10(yt[-1]), bottom, top) if log_y else \
        Scale(yt[0], yt[-1], bottom, top)

    def y(v: float) -> float:
        return ys_(math.log10(v)) if log_y else ys_(v)

    train_c, val_c = OKABE_ITO[0], OKABE_ITO[1]
    svg = Svg(width, height, "Training history: loss by step",
              "training and validation loss against the step"
              + ("; logarithmic loss axis" if log_y else "")
              + ("; dashed line: " + baseline_label if baseline is not None else ""))
    svg.text(0, 15, "Loss by step" + (" (log scale)" if log_y else ""), font_size=13,
             font_weight="600")
    # Legend: colour and weight (train thin, validation thick with dots) read in grey too.
    svg.line(0, 30, 20, 30, stroke=train_c, stroke_width=1.6)
    svg.text(26, 34, "training", font_size=11, fill=MUTED)
    val_dots = len(vs) <= 60  # dots mark sparse evaluations; dense ones read as a line
    svg.line(90, 30, 110, 30, stroke=val_c, stroke_width=2.4)
    if val_dots:
        svg.add("circle", cx=100.0, cy=30.0, r=2.4, fill=val_c)
    svg.text(116, 34, "validation", font_size=11, fill=MUTED)

    for t in yt:
        svg.line(left, y(t), width - right, y(t), stroke=GRID)
        svg.text(left - 6, y(t) + 3.5, f"{t:g}", font_size=10.5, fill=MUTED,
                 text_anchor="end")
    for t in xt:
        svg.line(x(t), top, x(t), bottom, stroke=GRID)
        svg.text(x(t), bottom + 15, _short(t), font_size=10.5, fill=MUTED,
                 text_anchor="middle")
    svg.line(left, bottom, width - right, bottom, stroke=FAINT)
    svg.text((left + width - right) / 2, bottom + 32, "step", font_size=11.5, fill=MUTED,
             text_anchor="middle")

    if baseline is not None and (baseline > 0 or not log_y):
        by = y(baseline)
        svg.line(left, by, width - right, by, stroke=INK, stroke_width=1.2,
                 stroke_dasharray="5 4")
        svg.text(width - right, by - 5, f"{baseline_label} {baseline:.3g}", font_size=10.5,
                 fill=INK, text_anchor="end", stroke="#ffffff", stroke_width=3.0,
                 paint_order="stroke")

    def curve(ss: list[float], vv: list[float], color: str, w: float, dots: bool,
              row: int) -> None:
        seg: list[str] = []
        paths: list[list[str]] = []
        for s, v in zip(ss, vv, strict=True):
            if math.isfinite(v) and (v > 0 or not log_y):
                seg.append(f"{x(float(s)):.1f},{y(float(v)):.1f}")
            elif seg:
                paths.append(seg)
                seg = []
        if seg:
            paths.append(seg)
        for p in paths:
            if len(p) > 1:
                svg.add("polyline", points=" ".join(p), fill="none", stroke=color,
                        stroke_width=w, stroke_linejoin="round")
        if dots:
            for s, v in zip(ss, vv, strict=True):
                if math.isfinite(v) and (v > 0 or not log_y):
                    svg.add("circle", cx=float(x(float(s))), cy=float(y(float(v))), r=2.2,
                            fill=color)
        bad = [float(s) for s, v in zip(ss, vv, strict=True) if not math.isfinite(v)]
        if bad:
            bx = x(bad[0])
            # One label line per curve, so that both read when both break at once.
            svg.text(bx, top + 4 + 12 * row, "×", font_size=14, fill=color,
                     text_anchor="middle", font_weight="700")
            svg.text(bx + (-8 if bx > width / 2 else 8), top + 4 + 12 * row,
                     f"{'training' if row == 0 else 'validation'} non-finite from step "
                     f"{bad[0]:g}", font_size=10, fill=color,
                     text_anchor="end" if bx > width / 2 else "start")

    curve(ts, tl, train_c, 1.6, dots=False, row=0)
    curve(vs, vl, val_c, 2.4, dots=val_dots, row=1)

    finite = [(v, s) for s, v in zip(vs, vl, strict=True) if math.isfinite(v)]
    if finite:
        bv, bs = min(finite, key=lambda p: p[0])  # the first of equal minima, as argmin
        if bv > 0 or not log_y:
            bx, by = x(bs), y(bv)
            svg.line(bx, top, bx, bottom, stroke=MUTED, stroke_dasharray="1.5 2.5")
            svg.add("circle", cx=float(bx), cy=float(by), r=4.5, fill="#ffffff",
                    stroke=val_c, stroke_width=2.0)
            # Below the point in the upper half of the plot, above it in the lower half.
            ly = by + 16 if by < (top + bottom) / 2 else by - 9
            svg.text(bx + (-6 if bx > width * 0.6 else 6), ly,
                     f"best validation {bv:.3g} at step {bs:g}", font_size=10.5, fill=INK,
                     text_anchor="end" if bx > width * 0.6 else "start", stroke="#ffffff",
                     stroke_width=3.0, paint_order="stroke")
    return svg.render("chart history")


# -- learning curve --------------------------------------------------------------------------


def _size_label(n: float) -> str:
    for unit, div in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= div:
            q = n / div
            return f"{q:.3g}{unit}" if q < 10 else f"{q:,.0f}{unit}"
    return f"{n:.3g}" if n < 10 else f"{n:,.0f}"


def _decades(lo: float, hi: float) -> list[float]:
    """Powers of ten over [lo, hi]; with 2 and 5 between them when the range is short."""
    k0, k1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    mults = (1.0, 2.0, 5.0) if k1 - k0 <= 2 else (1.0,)
    ticks = [m * 10.0**k for k in range(k0, k1 + 1) for m in mults]
    return [t for t in ticks if lo * 0.999 <= t <= hi * 1.001]


def _fmt(x: float) -> str:
    text = f"{x:.4g}"
    return "−" + text[1:] if text.startswith("-") else text


class _Curve:
    """The fitted curve as stored (``LearningCurve.to_dict()``), numbers checked."""

    def __init__(self, d: Any) -> None:
        if not isinstance(d, Mapping):
            raise _Bad("no curve")
        self.sizes, self.values = _nums(d.get("sizes")), _nums(d.get("values"))
        if not self.sizes or len(self.sizes) != len(self.values) or min(self.sizes) <= 0:
            raise _Bad("sizes and values do not match")
        self.a, self.b, self.c = _num(d.get("a")), _num(d.get("b")), _num(d.get("c"))
        self.reference, self.level = _num(d.get("reference")), _num(d.get("level"))
        self.direction = "higher" if d.get("direction") == "higher" else "lower"
        self.floor = d.get("form") == "power+floor"
        self.bounded = d.get("reference_source") == "metric bound"

    def value_at(self, n: float) -> float:
        error = self.a * math.pow(n, -self.b) + self.c
        return self.reference - error if self.direction == "higher" else self.reference + error

    @property
    def asymptote(self) -> float:
        return self.reference - self.c if self.direction == "higher" else self.reference + self.c


def learning_curve_chart(data: Mapping[str, Any] | None, *, label: str = "metric",
                         width: float = 460.0) -> str:
    """A small SVG chart of a learning curve, from a result's ``diagnosis.learning_curve``.

    Parameters
    ----------
    data
        ``curve`` (the fit: ``a``, ``b``, ``c``, ``reference``, ``direction``, ``form``,
        ``sizes``, ``values``, ``level``, ``reference_source``), ``target`` (drawn dashed,
        with the size it needs from ``needed``), ``baseline`` (dotted) and ``band`` (the
        fit's bootstrap interval: ``{"n": [...], "lower": [...], "upper": [...]}``).
    label
        The metric's name, for the title.
    width
        Width in pixels.

    Returns
    -------
    str
        An ``<svg>`` element: log-scaled training size across, the metric up; the points,
        the fit (solid over the data, dashed beyond), its band, and a legend. An empty
        string when ``data`` holds no drawable curve.
    """
    try:
        if not isinstance(data, Mapping):
            return ""
        curve = _Curve(data.get("curve"))
        target, baseline = _opt(data.get("target")), _opt(data.get("baseline"))
        need = data.get("needed") if target is not None else None
        need_n: float | None = None
        need_target = target
        reachable = False
        if isinstance(need, Mapping):
            reachable = need.get("reachable") is True
            need_n = _opt(need.get("n"))
            need_target = _opt(need.get("target")) if need.get("target") is not None \
                else target
        band = _band(data.get("band"))
        return _draw_curve(curve, target, baseline, need is not None, reachable, need_n,
                           need_target, band, label, width)
    except (_Bad, ArithmeticError, ValueError):
        return ""


def _band(v: Any) -> tuple[list[float], list[float], list[float]] | None:
    if v is None:
        return None
    if not isinstance(v, Mapping):
        raise _Bad("not a band")
    n, lo, hi = _nums(v.get("n")), _nums(v.get("lower")), _nums(v.get("upper"))
    if not (len(n) == len(lo) == len(hi)) or (n and min(n) <= 0):
        raise _Bad("band lengths differ")
    return (n, lo, hi) if len(n) >= 2 else None


def _draw_curve(curve: _Curve, target: float | None, baseline: float | None, has_need: bool,
                reachable: bool, need_n: float | None, need_target: float | None,
                band: tuple[list[float], list[float], list[float]] | None, label: str,
                width: float) -> str:
    # The span is the diagnosis' (its band was computed over it); imported here, not at the
    # top, because the module needs SciPy and most reports have no learning curve.
    from mlscope.diagnose.learning_curve import chart_span

    largest, smallest = max(curve.sizes), min(curve.sizes)
    x_start, x_end = chart_span(curve.sizes, need_n if reachable else None)
    grid_n = [smallest * (x_end / smallest) ** (i / 89) for i in range(90)]
    fit_v = [curve.value_at(k) for k in grid_n]

    ys = [*curve.values, *fit_v]
    ys += [v for v in (target, baseline) if v is not None]
    lo, hi = min(ys), max(ys)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise _Bad("the fit is not finite")
    pad = (hi - lo) * 0.05 or abs(hi) * 0.05 or 0.05
    ticks = nice_ticks(lo - pad, hi + pad, 5)
    if curve.bounded:
        # Keep the axis within the metric's range (e.g. no 1.05 on an accuracy axis).
        keep = [t for t in ticks if (t <= curve.reference + 1e-12 if curve.direction == "higher"
                                     else t >= curve.reference - 1e-12)]
        ticks = keep if len(keep) >= 2 else ticks
    y_lo, y_hi = ticks[0], ticks[-1]

    left, right, top, plot_h = 52.0, 16.0, 46.0, 190.0
    bottom = top + plot_h
    # The legend wraps onto a second row when it does not fit the width.
    items: list[tuple[str, str]] = [("point", "measured"), ("fit", "fit"),
                                    ("extrapolated", "extrapolated")]
    if band is not None:
        items.append(("band", f"{curve.level:.0%} interval"))
    if target is not None:
        items.append(("target", "target"))
    if baseline is not None:
        items.append(("baseline", "baseline"))
    places: list[tuple[float, float]] = []
    lx, ly = 0.0, bottom + 48
    for _, text in items:
        w = 30 + len(text) * 11 * _CHAR_W
        if lx > 0 and lx + w - 10 > width:
            lx, ly = 0.0, ly + 17
        places.append((lx, ly))
        lx += w
    height = ly + 12
    x = Scale(math.log10(x_start), math.log10(x_end), left, width - right)
    y = Scale(y_lo, y_hi, bottom, top)

    def px(n: float) -> float:
        return x(math.log10(n))

    def py(v: float) -> float:
        return y(min(max(v, y_lo), y_hi))

    form = "a·n^−b + c" if curve.floor else "a·n^−b"
    direction = "higher is better" if curve.direction == "higher" else "lower is better"
    svg = Svg(width, height, f"Learning curve of {label}",
              f"{label} against training-set size (log scale); points measured, line fitted: "
              f"error = {form} with b = {curve.b:.3g}" +
              (f", c = {curve.c:.3g}" if curve.floor else ""))
    svg.text(0, 15, f"Learning curve — {label}", font_size=13, font_weight="600")
    sub = f"{direction}; fit: error = {form}, b = {curve.b:.2f}"
    if curve.floor:
        sub += f", levels off at {_fmt(curve.asymptote)}"
    svg.text(0, 30, sub, font_size=11, fill=MUTED)

    for t in ticks:
        svg.line(left, y(t), width - right, y(t), stroke=GRID)
        svg.text(left - 6, y(t) + 3.5, _fmt(t), font_size=10.5, fill=MUTED, text_anchor="end")
    for t in _decades(x_start, x_end):
        svg.line(px(t), top, px(t), bottom, stroke=GRID)
        svg.text(px(t), bottom + 15, _size_label(t), font_size=10.5, fill=MUTED,
                 text_anchor="middle")
    svg.line(left, bottom, width - right, bottom, stroke=FAINT)
    svg.text((left + width - right) / 2, bottom + 31, "training-set size (log scale)",
             font_size=11, fill=MUTED, text_anchor="middle")

    if band is not None:
        inside = [(k, a, b) for k, a, b in zip(*band, strict=True)
                  if x_start <= k <= x_end * 1.0001]
        upper = [f"{px(k):.1f},{py(b):.1f}" for k, _, b in inside]
        lower = [f"{px(k):.1f},{py(a):.1f}" for k, a, _ in inside]
        if len(inside) >= 2:
            svg.add("polygon", points=" ".join(upper + lower[::-1]), fill=_BLUE,
                    fill_opacity="0.12", stroke="none")

    fit = list(zip(grid_n, fit_v, strict=True))
    for part, dash, w in (([p for p in fit if p[0] <= largest * 1.0001], None, 2.0),
                          ([p for p in fit if p[0] >= largest * 0.9999], "5 3", 1.5)):
        pts = [f"{px(k):.1f},{py(v):.1f}" for k, v in part]
        if len(pts) >= 2:
            svg.add("polyline", points=" ".join(pts), fill="none", stroke=_BLUE,
                    stroke_width=w, stroke_dasharray=dash, stroke_linejoin="round")

    for value, dash, name in ((baseline, "1.5 3", "baseline"), (target, "5 3", "target")):
        if value is None:
            continue
        yy = py(value)
        svg.line(left, yy, width - right, yy, stroke=INK if name == "target" else MUTED,
                 stroke_width=1.2, stroke_dasharray=dash)
        svg.text(left + 4, yy - 4, f"{name} {_fmt(value)}", font_size=10.5,
                 fill=INK if name == "target" else MUTED, stroke="#ffffff", stroke_width=3.0,
                 paint_order="stroke")

    if has_need:
        if reachable and need_n is not None and need_target is not None:
            nx = px(max(need_n, x_start))
            svg.line(nx, py(need_target), nx, bottom, stroke=INK, stroke_width=1.0,
                     stroke_dasharray="2 2")
            svg.text(nx - 4, bottom - 6, f"n ≈ {_size_label(need_n)}", font_size=10.5,
                     text_anchor="end", fill=INK, stroke="#ffffff", stroke_width=3.0,
                     paint_order="stroke")
        else:
            svg.text(width - right, top - 4, "target out of reach of this fit", font_size=10.5,
                     text_anchor="end", fill="#D55E00")

    for n_i, v_i in zip(curve.sizes, curve.values, strict=True):
        svg.add("circle", cx=px(n_i), cy=py(v_i), r=3.4, fill="#ffffff", stroke=_BLUE,
                stroke_width=1.6)
    for (kind, text), (lx, ly) in zip(items, places, strict=True):
        if kind == "point":
            svg.add("circle", cx=lx + 5, cy=ly - 4, r=3.4, fill="#ffffff", stroke=_BLUE,
                    stroke_width=1.6)
        elif kind == "band":
            svg.add("rect", x=lx, y=ly - 9, width=12.0, height=10.0, fill=_BLUE,
                    fill_opacity="0.12")
        else:
            color = {"fit": _BLUE, "extrapolated": _BLUE, "target": INK}.get(kind, MUTED)
            dash = {"extrapolated": "5 3", "target": "5 3", "baseline": "1.5 3"}.get(kind)
            svg.line(lx, ly - 4, lx + 16, ly - 4, stroke=color, stroke_width=1.8,
                     stroke_dasharray=dash)
        svg.text(lx + 20, ly, text, font_size=11, fill=MUTED)
    return svg.render("chart learning-curve")


# -- for notebooks: a diagnosis' objects drawn directly ---------------------------------------


def history_svg(history: History, *, baseline: float | None = None,
                baseline_label: str = "trivial baseline", width: float = 460.0) -> str:
    """Training and validation loss against the step, with the best validation step.

    A convenience for notebooks: :func:`mlscope.diagnose.history.chart_data` drawn by
    :func:`history_chart` (the report draws it the same way from a result's numbers).

    Parameters
    ----------
    history
        From :func:`mlscope.diagnose.history.load_history`.
    baseline
        A reference loss drawn as a dashed horizontal line (e.g. the trivial baseline's):
        the same curves read differently against a different baseline.
    baseline_label
        The line's label.
    width
        Width in pixels.

    Returns
    -------
    str
        An ``<svg>`` element in the look of :mod:`mlscope.report.charts`. The y axis is
        logarithmic when the finite losses span more than 10×; non-finite losses break the
        line and the first is marked.
    """
    # Imported here: drawing a stored result needs none of the diagnosis' code.
    from mlscope.diagnose.history_chart import chart_data

    base = baseline if baseline is not None and math.isfinite(baseline) else None
    return history_chart({"curves": chart_data(history), "baseline_loss": base},
                         baseline_label=baseline_label, width=width)


def learning_curve_svg(curve: LearningCurve, *, target: float | None = None,
                       baseline: float | None = None, width: float = 460,
                       label: str = "metric") -> str:
    """A small SVG chart of a learning curve.

    A convenience for notebooks: :func:`mlscope.diagnose.learning_curve.chart_data` drawn
    by :func:`learning_curve_chart` (the report draws it the same way from a result's
    numbers).

    Parameters
    ----------
    curve
        The fitted curve.
    target
        A metric value drawn as a dashed line; the fit is extended to the data it needs.
    baseline
        A metric value drawn as a dotted line (e.g. a trivial baseline or human level).
    width
        Width in pixels.
    label
        The metric's name, for the title and the y axis.

    Returns
    -------
    str
        An ``<svg>`` element: log-scaled training size across, the metric up; the points,
        the fit (solid over the data, dashed beyond), its bootstrap band, and a legend.
    """
    # Imported here: drawing a stored result needs none of the diagnosis' code (NumPy).
    from mlscope.diagnose.curve_chart import chart_data

    return learning_curve_chart(chart_data(curve, target=target, baseline=baseline),
                                label=label, width=float(width))
