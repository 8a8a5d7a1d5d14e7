"""Dot-and-interval row charts, one row per model: the forest chart, the baseline ladder,
the differences from a reference model, and the diagnosis gaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from mlscope.report.chart_data import (
    direction_note,
    metric_values,
    requirement_bound,
)
from mlscope.report.svg import (
    BASELINE_SHAPES,
    FAINT,
    GRID,
    INK,
    MUTED,
    Scale,
    Svg,
    clip_text,
    domain_ticks,
    format_bound,
    format_value,
    marker,
    model_colors,
    outlier_limits,
    short_number,
    spaced_ticks,
    text_width,
    tick_decimals,
    tick_text,
)
from mlscope.result import OVERALL, EvaluationResult

__all__ = [
    "LADDER_LABEL",
    "LADDER_ORDER",
    "difference_chart",
    "forest_chart",
    "gap_chart",
    "ladder_chart",
    "ladder_rows",
]


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
    by_split = {s: metric_values(result, s, slice_key) for s in splits}
    bound = requirement_bound(result, metric)

    pts: list[float | None] = []
    for s in splits:
        for m in models:
            v = by_split[s].get((m, metric))
            if v is not None:
                pts += [v.value, v.lower, v.upper]
    if bound is not None:
        pts.append(bound[1])
    ticks = domain_ticks(pts, info.bounds, count=4)
    # A long model name is clipped to 40% of the width rather than pushing the plot out.
    label_w = min(max((text_width(m, 11.5) for m in models), default=40.0) + 14, width * 0.4)
    left, right, top = label_w, 14.0, 40.0
    sub = 9.0 if len(splits) > 1 else 0.0
    row_h = 14.0 + 2 * sub if sub else 21.0
    height = top + row_h * len(models) + (34 if len(splits) > 1 else 22)
    x = Scale(ticks[0], ticks[-1], left, width - right)
    svg = Svg(width, height, f"{info.label}: each model with its interval",
              "; ".join(f"{s}: {'hollow' if i == 0 else 'filled'} circles"
                        for i, s in enumerate(splits)))
    svg.text(0, 15, info.label, font_size=13, font_weight="600")
    svg.text(0, 30, direction_note(info), font_size=11, fill=MUTED)
    bottom = top + row_h * len(models)
    dec = tick_decimals(ticks)
    for i in range(1, len(models), 2):
        svg.add("rect", x=float(left), y=float(top + row_h * i),
                width=float(width - right - left), height=float(row_h), fill="#f6f8fa")
    texts = [tick_text(t, dec) for t in ticks]
    shown = spaced_ticks(ticks, x, texts, 10.5)
    for i, t in enumerate(ticks):
        svg.line(x(t), top - 4, x(t), bottom, stroke=GRID)
        if i in shown:
            svg.text(x(t), bottom + 15, texts[i], font_size=10.5, fill=MUTED,
                     text_anchor="middle")
    svg.line(left, bottom, width - right, bottom, stroke=FAINT)
    if bound is not None and ticks[0] <= bound[1] <= ticks[-1]:
        bx = x(bound[1])
        svg.line(bx, top - 6, bx, bottom, stroke=INK, stroke_dasharray="4 3",
                 stroke_width=1.2)
        svg.text(bx, top - 9, f"{format_bound(bound[0])} {short_number(bound[1])}", font_size=10,
                 fill=INK, text_anchor="middle")
    for i, m in enumerate(models):
        cy = top + row_h * (i + 0.5)
        is_w = m == winner
        svg.text(left - 8, cy + 4, clip_text(m, left - 14, 11.5), font_size=11.5,
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
        x2 = left + 22 + text_width(splits[0], 10.5)
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
    vals = metric_values(result, split)
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
    # One far-out value (a baseline at log loss 17.2) would squash every other row: the
    # axis covers the rest, and the far-out row is drawn at the edge with its number.
    centres = [vals[(m, metric)].value for m, _ in rows if (m, metric) in vals]
    limits = outlier_limits(centres + [hv.value for _, hv in human])
    if limits is not None:
        pts = [p for p in pts if p is not None and limits[0] <= p <= limits[1]]
    ticks = domain_ticks(pts, info.bounds, count=4)
    names = [m for m, _ in rows] + [f"humans: {n}" for n, _ in human]
    fams = [LADDER_LABEL[f] for _, f in rows] + ["human level"] * len(human)
    label_w = max((text_width(n, 11.5) for n in names), default=40.0) + 14
    fam_w = max((text_width(f, 10) for f in fams), default=30.0) + 12
    left, right = label_w + fam_w, 16.0
    top = 40.0 + (14.0 if refs else 0.0)
    row_h = 20.0
    n_rows = len(names)
    height = top + row_h * n_rows + 24
    x = Scale(ticks[0], ticks[-1], left, width - right)
    svg = Svg(width, height, f"{info.label}: the baseline ladder on {split}",
              "rows from the trivial baselines at the top to human level at the bottom; "
              "vertical lines: external figures")
    svg.text(0, 15, f"{info.label} — {split}", font_size=13, font_weight="600")
    svg.text(0, 30, direction_note(info), font_size=11, fill=MUTED)
    bottom = top + row_h * n_rows
    dec = tick_decimals(ticks)
    winner = result.winner
    colors = model_colors([m.name for m in result.models])
    prev_f: Any = object()
    for i, (_, f) in enumerate([*rows, *[(h, "human") for h, _ in human]]):
        if f != prev_f and i > 0:
            svg.line(0, top + row_h * i, width - right, top + row_h * i, stroke=GRID)
        prev_f = f
    texts = [tick_text(t, dec) for t in ticks]
    shown = spaced_ticks(ticks, x, texts, 10.5)
    for i, t in enumerate(ticks):
        svg.line(x(t), top - 4, x(t), bottom, stroke=GRID)
        if i in shown:
            svg.text(x(t), bottom + 15, texts[i], font_size=10.5, fill=MUTED,
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
        lo_t, hi_t = ticks[0], ticks[-1]
        ci = (f" [{format_value(lo, dec + 1)}, {format_value(hi, dec + 1)}]"
              if lo is not None and hi is not None else "")
        svg.open(title=f"{names[i]}: {format_value(val, dec + 1)}{ci}")
        if lo is not None and hi is not None:
            svg.line(x(min(max(lo, lo_t), hi_t)), cy, x(min(max(hi, lo_t), hi_t)), cy,
                     stroke=color, stroke_width=1.6, stroke_linecap="round")
        # Candidates are filled circles; baselines hollow, in their family's shape (the
        # same in every chart); human rungs are stars.
        shape = ("star" if i >= len(rows) else
                 "circle" if rows[i][1] is None else BASELINE_SHAPES.get(str(rows[i][1]),
                                                                        "square"))
        fill = color if shape == "circle" else "#ffffff"
        if val > hi_t or val < lo_t:
            # Off the axis: an arrow at the edge and the value beside it.
            edge = x(hi_t if val > hi_t else lo_t)
            svg.text(edge + (-4 if val > hi_t else 4), cy + 4,
                     f"{'▸' if val > hi_t else '◂'} {short_number(round(val, dec + 1))}",
                     font_size=10.5, fill=INK, font_weight="600",
                     text_anchor="end" if val > hi_t else "start", stroke="#ffffff",
                     stroke_width=3.0, paint_order="stroke")
        else:
            marker(svg, shape, x(val), cy, 4.2 if is_w else 3.6, fill=fill, stroke=color,
                   stroke_width=1.6)
        svg.close()
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
    # A model far from the rest (log loss +17 beside differences of 0.01) is drawn at the
    # edge with its number, so that the others stay readable.
    limits = outlier_limits([0.0, *(sign * d.value for d in diffs.values()
                                    if d.value is not None)])
    if limits is not None:
        pts = [p for p in pts if p is not None and limits[0] <= p <= limits[1]]
    ticks = domain_ticks(pts, (None, None), count=4)
    lo_t, hi_t = ticks[0], ticks[-1]

    def cx(v: float) -> float:
        return x(min(max(v, lo_t), hi_t))
    colors = model_colors([m.name for m in result.models])
    label_w = max((text_width(m, 11.5) for m in models), default=40.0) + 14
    left, right, top, row_h = label_w, 14.0, 44.0, 21.0
    height = top + row_h * max(len(models), 1) + 26
    x = Scale(ticks[0], ticks[-1], left, width - right)
    svg = Svg(width, height, f"{info.label}: each model minus {reference}",
              "right of the solid line is better than the reference")
    svg.text(0, 15, f"{info.label}: minus {reference}", font_size=13, font_weight="600")
    svg.text(0, 30, "right is better" + ("" if sign > 0 else " (lower values)"),
             font_size=11, fill=MUTED)
    bottom = top + row_h * max(len(models), 1)
    dec = tick_decimals(ticks)
    texts = [tick_text(sign * t, dec) for t in ticks]
    shown = spaced_ticks(ticks, x, texts, 10.5)
    for i, t in enumerate(ticks):
        svg.line(x(t), top - 4, x(t), bottom, stroke=GRID)
        if i in shown:
            svg.text(x(t), bottom + 15, texts[i], font_size=10.5, fill=MUTED,
                     text_anchor="middle")
    svg.line(x(0.0), top - 6, x(0.0), bottom, stroke=INK, stroke_width=1.2)
    if gate is not None and ticks[0] <= gate <= ticks[-1]:
        svg.line(x(gate), top - 6, x(gate), bottom, stroke=INK, stroke_dasharray="4 3",
                 stroke_width=1.2)
        svg.text(x(gate), top - 9, f"gate {short_number(sign * gate)}", font_size=10, fill=INK,
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
            svg.line(cx(sign * d.lower), cy, cx(sign * d.upper), cy, stroke=colors[m],
                     stroke_width=1.8, stroke_linecap="round")
        v = sign * d.value
        if lo_t <= v <= hi_t:
            svg.add("circle", cx=float(x(v)), cy=float(cy), r=3.8, fill=colors[m],
                    stroke=colors[m])
        else:  # off the axis: an arrow at the edge it lies beyond, with the difference
            far = v > hi_t
            svg.text(x(hi_t if far else lo_t) + (-4 if far else 4), cy + 4,
                     f"{'▸' if far else '◂'} {d.value:+.3g}".replace("-", "−"),
                     font_size=10.5, font_weight="600", fill=INK,
                     text_anchor="end" if far else "start", stroke="#ffffff",
                     stroke_width=3.0, paint_order="stroke")
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
    ticks = domain_ticks(pts, (None, None), count=5)
    label_w = max((text_width(t, 11.5) for t in labels), default=60.0) + 14
    left, right, top, row_h = label_w, 16.0, 40.0, 26.0
    height = top + row_h * max(len(gaps), 1) + 26
    x = Scale(ticks[0], ticks[-1], left, width - right)
    svg = Svg(width, height, f"the gaps on {diagnosis.metric}",
              "bars to the right: the later stage is worse than the earlier one")
    svg.text(0, 15, f"Gaps on {diagnosis.metric}", font_size=13, font_weight="600")
    svg.text(0, 30, f"{diagnosis.error_note}; right = worse; shaded: ± the practical margin "
                    f"{diagnosis.margin:.3g}", font_size=11, fill=MUTED)
    bottom = top + row_h * max(len(gaps), 1)
    svg.add("rect", x=float(x(-diagnosis.margin)), y=float(top - 4),
            width=float(max(x(diagnosis.margin) - x(-diagnosis.margin), 0.5)),
            height=float(bottom - top + 4), fill="#eef1f4")
    dec = tick_decimals(ticks)
    texts = [tick_text(t, dec) for t in ticks]
    shown = spaced_ticks(ticks, x, texts, 10.5)
    for i, t in enumerate(ticks):
        svg.line(x(t), top - 4, x(t), bottom, stroke=GRID)
        if i in shown:
            svg.text(x(t), bottom + 15, texts[i], font_size=10.5, fill=MUTED,
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
