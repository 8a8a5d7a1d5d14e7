"""The trade-off scatter of two metrics: a point per model with intervals on both axes,
the charter's bounds, and the Pareto front.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from mlscope.report.chart_data import (
    baseline_shapes,
    charter_report,
    direction_arrow,
    dropped_models,
    interval_level,
    metric_values,
    parse_bound,
    primary_rule,
)
from mlscope.report.svg import (
    BASELINE_SHAPES,
    FAINT,
    FEASIBLE,
    GRID,
    INK,
    MUTED,
    Scale,
    Svg,
    coord,
    domain_ticks,
    format_bound,
    format_value,
    marker,
    metric_decimals,
    model_colors,
    short_number,
    text_width,
    tick_decimals,
    tick_text,
)
from mlscope.result import EvaluationResult, MetricInfo, MetricValue

__all__ = [
    "software_tradeoff_metrics",
    "tradeoff_chart",
    "tradeoff_metrics",
]


# -- (b) trade-off scatter --------------------------------------------------------------


def tradeoff_metrics(result: EvaluationResult) -> tuple[str, str] | None:
    """The (x, y) metric ids of the trade-off chart.

    ``charter.report.tradeoff`` when it names two computed metrics; else the satisficing
    rule's first constraint (x) against its optimized metric (y); else the first two
    metrics. None when the result has fewer than two metrics.
    """
    ids = [m.id for m in result.metrics]
    pair = charter_report(result).get("tradeoff")
    if isinstance(pair, list) and len(pair) == 2 and all(p in ids for p in pair) \
            and pair[0] != pair[1]:
        return str(pair[0]), str(pair[1])
    rule = primary_rule(result)
    if rule.get("rule") == "satisficing":
        opt = rule.get("optimize")
        cons = [k for k in (rule.get("constraints") or {}) if k in ids and k != opt]
        if opt in ids and cons:
            return str(cons[0]), str(opt)
    if len(ids) >= 2:
        return ids[0], ids[1]
    return None


def software_tradeoff_metrics(result: EvaluationResult) -> tuple[str, str] | None:
    """The (x, y) metric ids of the accuracy–latency panel: a software metric (the first
    latency among the charter's software metrics, else the first of them) against the
    selection's main metric (a satisficing rule's ``optimize``, else the first metric
    that is not a software metric). None without software metrics, or when the main
    trade-off chart already shows that pair."""
    prof = result.data.get("profile") if isinstance(result.data, dict) else None
    sw = [str(m) for m in (prof or {}).get("metrics") or []]
    ids = [m.id for m in result.metrics]
    sw = [m for m in sw if m in ids]
    if not sw:
        return None
    lat = [m for m in sw if result.metric_info(m).name.startswith("latency_")]
    x = (lat or sw)[0]
    opt = primary_rule(result).get("optimize")
    y = opt if opt in ids and opt not in sw else next((m for m in ids if m not in sw), None)
    if y is None:
        return None
    main = tradeoff_metrics(result)
    if main is not None and set(main) == {x, y}:
        return None
    return x, str(y)


@dataclass
class _Line:
    axis: str  # "x" or "y"
    op: str
    value: float
    sources: list[str]


def _bound_lines(result: EvaluationResult, x_id: str, y_id: str) -> list[_Line]:
    lines: list[_Line] = []

    def add(metric: str, text: str, source: str) -> None:
        parsed = parse_bound(text)
        if parsed is None:
            return
        axis = "x" if metric == x_id else "y"
        for ln in lines:
            if ln.axis == axis and ln.op == parsed[0] and ln.value == parsed[1]:
                if source not in ln.sources:
                    ln.sources.append(source)
                return
        lines.append(_Line(axis, parsed[0], parsed[1], [source]))

    rule = primary_rule(result)
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


def _tip(model: str, vx: MetricValue, vy: MetricValue, xi: MetricInfo, yi: MetricInfo
         ) -> str:
    """A point's tooltip: both values with their intervals and the rows they rest on."""
    parts = []
    for v, info in ((vx, xi), (vy, yi)):
        dec = metric_decimals(info, [v.value])
        ci = (f" [{format_value(v.lower, dec)}, {format_value(v.upper, dec)}]"
              if v.lower is not None and v.upper is not None else "")
        parts.append(f"{info.label} {format_value(v.value, dec)}{ci}")
    n = max(vx.n_rows, vy.n_rows)
    return f"{model}: " + "; ".join(parts) + (f"; n = {n:,}" if n else "")


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
    w, h = text_width(text, size), size * 1.05
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
    # When every spot beside the point is taken (a cluster of models), a greedy vertical
    # nudge: the label moves up or down in steps of a line until it is clear, and a leader
    # line (drawn by the caller) ties it to its point.
    for k in range(1, 13):
        for sign in (-1, 1):
            for side in (1, -1):
                ty = py + size * 0.35 + sign * k * (h + 1)
                candidates.append((px + side * (gap + 10), ty, "start" if side > 0 else "end"))
    best: tuple[float, int, tuple[float, float, str, _Box]] | None = None
    for i, (tx, ty, anchor) in enumerate(candidates):
        x0 = tx if anchor == "start" else tx - w if anchor == "end" else tx - w / 2
        box = _Box(x0 - 1, ty - h * 0.8, x0 + w + 1, ty + h * 0.25)
        cost = sum(box.overlap(t) for t in taken) + 2 * sum(box.overlap(t) for t in soft)
        outside = (max(0.0, area.x0 - box.x0) + max(0.0, box.x1 - area.x1)
                   + max(0.0, area.y0 - box.y0) + max(0.0, box.y1 - area.y1))
        cost += outside * h * 4
        if i >= 8:  # a nudged label costs its distance, so near spots win among clear ones
            cost += 0.5 + abs(ty - py) * 0.01
            if any(box.overlap(t) for t in taken):
                cost += w * h * 4  # nudging is only worth it to clear every label
        if cost == 0:  # no cost is negative and the earlier spot wins a tie: the best
            return tx, ty, anchor, box
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
    vals = metric_values(result, split)
    models = [m.name for m in result.models]
    colors = model_colors(models)
    shapes = baseline_shapes(result)
    winner = result.winner
    dropped = dropped_models(result)
    lines = _bound_lines(result, x_id, y_id)

    shown: dict[str, tuple[MetricValue, MetricValue]] = {}
    missing: list[str] = []
    for m in models:
        vx, vy = vals.get((m, x_id)), vals.get((m, y_id))
        if vx is None or vy is None or vx.value is None or vy.value is None:
            missing.append(m)
        else:
            shown[m] = (vx, vy)

    # A trivial baseline far off the others (a majority class's log loss of 32 beside the
    # models' 0.1–0.4) would squeeze every model into a corner: it is named below the
    # chart with its values instead of drawn.
    trivial = {b.name for b in result.baselines if str(b.family) == "trivial"}
    far = _off_scale(shown, trivial, lines)
    for m in far:
        del shown[m]
    xs = [p for vx, _ in shown.values() for p in (vx.value, vx.lower, vx.upper)]
    ys = [p for _, vy in shown.values() for p in (vy.value, vy.lower, vy.upper)]
    xs += [ln.value for ln in lines if ln.axis == "x"]
    ys += [ln.value for ln in lines if ln.axis == "y"]
    xt = domain_ticks(xs, xi.bounds, count=6, pad=0.06)
    yt = domain_ticks(ys, yi.bounds, count=6, pad=0.06)
    ydec, xdec = tick_decimals(yt), tick_decimals(xt)
    ylab_w = max(text_width(tick_text(t, ydec), 11) for t in yt)
    left, right, top, bottom_pad = 34 + ylab_w, 24.0, 54.0, 70.0
    bottom = height - bottom_pad
    x = Scale(xt[0], xt[-1], left, width - right)
    y = Scale(yt[0], yt[-1], bottom, top)
    svg = Svg(width, height, f"Trade-off: {xi.label} against {yi.label} on {split}",
              "Each model with its intervals on both axes; dashed lines are bounds; the "
              "shaded region meets all of them; the step line is the Pareto front.")

    # Title and legend line.
    svg.text(0, 16, f"{yi.label} vs {xi.label}", font_size=14, font_weight="600")
    how = (f"point estimates with {interval_level(result)} intervals" if result.interval.resamples
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
        svg.text(x(t), bottom + 17, tick_text(t, xdec), font_size=11, fill=MUTED,
                 text_anchor="middle")
    for t in yt:
        svg.line(left, y(t), width - right, y(t), stroke=GRID)
        svg.text(left - 8, y(t) + 4, tick_text(t, ydec), font_size=11, fill=MUTED,
                 text_anchor="end")
    svg.add("rect", x=float(left), y=float(top), width=float(width - right - left),
            height=float(bottom - top), fill="none", stroke=FAINT)
    svg.text((left + width - right) / 2, bottom + 40,
             f"{xi.label} ({direction_arrow(xi, 'x')})", font_size=12.5, text_anchor="middle",
             font_weight="600")
    cy = (top + bottom) / 2
    svg.text(14, cy, f"{yi.label} ({direction_arrow(yi, 'y')})", font_size=12.5,
             text_anchor="middle", font_weight="600", transform=f"rotate(-90 14 {coord(cy)})")

    taken: list[_Box] = []
    # Bound lines, labelled at their end.
    for ln in lines:
        who = " & ".join("rule" if s == "rule" else "requirement" for s in ln.sources)
        label = f"{(xi if ln.axis == 'x' else yi).id} {format_bound(ln.op)} " \
                f"{short_number(ln.value)} ({who})"
        if ln.axis == "x":
            px = x(ln.value)
            svg.line(px, top, px, bottom, stroke="#444c56", stroke_dasharray="5 4",
                     stroke_width=1.2)
            # Right of the line, or left of it when it would run past the plot's edge (a
            # bound near the axis's end: "accuracy ≥ 0.9 (require" was cut off).
            tw = text_width(label, 10.5)
            after = px + 4 + tw <= width - right
            lo, hi = (px, px + 4 + tw) if after else (px - 4 - tw, px)
            # Two bounds close together on x (a rule's 0.72 and a requirement's 0.7) would
            # print on each other: step the label down until it is clear.
            ty = top + 13
            box = _Box(lo, ty - 11, hi, ty + 3)
            while any(box.overlap(t) for t in taken) and ty < bottom - 20:
                ty += 14
                box = _Box(lo, ty - 11, hi, ty + 3)
            svg.text(px + 4 if after else px - 4, ty, label, font_size=10.5, fill="#444c56",
                     stroke="#ffffff", stroke_width=3.0, paint_order="stroke",
                     text_anchor="start" if after else "end")
            taken.append(box)
        else:
            py = y(ln.value)
            svg.line(left, py, width - right, py, stroke="#444c56", stroke_dasharray="5 4",
                     stroke_width=1.2)
            tw = text_width(label, 10.5)
            ty = py - 5
            box = _Box(width - right - 4 - tw, ty - 11, width - right, ty + 3)
            while any(box.overlap(t) for t in taken) and ty > top + 14:
                ty -= 14
                box = _Box(width - right - 4 - tw, ty - 11, width - right, ty + 3)
            svg.text(width - right - 4, ty, label, font_size=10.5, fill="#444c56",
                     text_anchor="end", stroke="#ffffff", stroke_width=3.0,
                     paint_order="stroke")
            taken.append(box)

    # Pareto front (over the two shown metrics) as a step line.
    sx = 1.0 if xi.direction == "higher" else -1.0
    sy = 1.0 if yi.direction == "higher" else -1.0
    pts = {m: (float(vx.value), float(vy.value)) for m, (vx, vy) in shown.items()
           if vx.value is not None and vy.value is not None}
    front = _pareto_front(pts, sx, sy)
    if len(front) >= 2:
        order = sorted(front, key=lambda m: sx * pts[m][0])
        path = [f"M{coord(x(pts[order[0]][0]))},{coord(y(pts[order[0]][1]))}"]
        for prev, cur in itertools.pairwise(order):
            # Down (or up) to the next point's level, then across: the dominated region's edge.
            path.append(f"L{coord(x(pts[prev][0]))},{coord(y(pts[cur][1]))}")
            path.append(f"L{coord(x(pts[cur][0]))},{coord(y(pts[cur][1]))}")
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
                     stroke_opacity="0.75", data_model=m)
            whiskers.append(_Box(x(vx.lower), py - 1.5, x(vx.upper), py + 1.5))
        if vy.lower is not None and vy.upper is not None:
            svg.line(px, y(vy.lower), px, y(vy.upper), stroke=c, stroke_width=1.5,
                     stroke_opacity="0.75", data_model=m)
            whiskers.append(_Box(px - 1.5, y(vy.upper), px + 1.5, y(vy.lower)))
    for m, (vx, vy) in shown.items():
        assert vx.value is not None
        assert vy.value is not None
        px, py = x(vx.value), y(vy.value)
        r = 7.0 if m == winner else 5.0
        if m == winner:
            svg.add("circle", cx=float(px), cy=float(py), r=11.0, fill="none", stroke=INK,
                    stroke_width=1.6, data_model=m)
        # Baselines are hollow, in their family's shape; candidates are filled circles
        # (hollow too when the rule dropped them).
        shape = shapes.get(m, "circle")
        hollow = m in dropped or m in shapes
        svg.open("point", title=_tip(m, vx, vy, xi, yi), data_model=m)
        marker(svg, shape, px, py, r, fill="#ffffff" if hollow else colors[m],
               stroke=colors[m], stroke_width=2.2)
        svg.close()
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
        if abs(ty - size * 0.35 - py) > size * 1.2 and abs(tx - px) > 12:
            # A nudged label: a leader line from the point to the label's near end.
            svg.line(px, py, tx, ty - size * 0.35, stroke=colors[m], stroke_width=0.8,
                     stroke_opacity="0.8", data_model=m)
        svg.text(tx, ty, label, font_size=size, text_anchor=anchor,
                 font_weight="700" if m == winner else "500",
                 fill=INK, stroke="#ffffff", stroke_width=3.0, paint_order="stroke",
                 stroke_linejoin="round", data_model=m)

    # Footer: legend and what is not shown.
    ly = height - 10
    lx = 0.0
    if len(front) >= 2:
        svg.line(lx, ly - 4, lx + 22, ly - 4, stroke="#57606a", stroke_width=1.8,
                 stroke_dasharray="1 3", stroke_linecap="round")
        svg.text(lx + 28, ly, "Pareto front on these two metrics", font_size=11, fill=MUTED)
        lx += 38 + text_width("Pareto front on these two metrics", 11)
    if dropped & set(shown):
        svg.add("circle", cx=float(lx + 5), cy=float(ly - 4), r=4.5, fill="#ffffff",
                stroke=MUTED, stroke_width=2)
        svg.text(lx + 14, ly, "hollow: dropped by the rule", font_size=11, fill=MUTED)
        lx += 24 + text_width("hollow: dropped by the rule", 11)
    fams = {sh: fam for fam, sh in BASELINE_SHAPES.items()}
    for sh in dict.fromkeys(shapes[m] for m in shown if m in shapes):
        marker(svg, sh, lx + 5, ly - 4, 4.0, fill="#ffffff", stroke=MUTED, stroke_width=1.6)
        text = f"{fams.get(sh, 'baseline')} baseline"
        svg.text(lx + 14, ly, text, font_size=11, fill=MUTED)
        lx += 24 + text_width(text, 11)
    notes = []
    if far:
        xdig = metric_decimals(xi, [v[0] for v in far.values()])
        ydig = metric_decimals(yi, [v[1] for v in far.values()])
        notes.append("off the chart: " + "; ".join(
            f"{m} ({xi.label} {format_value(far[m][0], xdig)}, "
            f"{yi.label} {format_value(far[m][1], ydig)})" for m in far))
    if missing:
        notes.append("not shown (undefined): " + ", ".join(missing))
    if notes:
        svg.text(lx, ly, " · ".join(notes), font_size=11, fill=MUTED)
    return svg.render("chart tradeoff")


def _off_scale(shown: dict[str, tuple[MetricValue, MetricValue]], trivial: set[str],
               lines: Sequence[_Line]) -> dict[str, tuple[float, float]]:
    """The trivial baselines among ``shown`` whose point lies more than twice the span of
    everything else (the other models' points and intervals, the bounds) beyond it on
    either axis, with their ``(x, y)`` values; none when nothing else is drawn."""
    core = [v for m, v in shown.items() if m not in trivial]
    if not core:
        return {}
    out: dict[str, tuple[float, float]] = {}
    spans = []
    for axis in (0, 1):
        pts = [p for pair in core for p in (pair[axis].value, pair[axis].lower,
                                               pair[axis].upper) if p is not None]
        pts += [ln.value for ln in lines if ln.axis == ("x" if axis == 0 else "y")]
        lo, hi = min(pts), max(pts)
        spans.append((lo, hi, max(hi - lo, 1e-9 * max(abs(lo), abs(hi), 1.0))))
    for m, (vx, vy) in shown.items():
        if m not in trivial or vx.value is None or vy.value is None:
            continue
        if any(v < lo - 2 * span or v > hi + 2 * span
               for v, (lo, hi, span) in zip((vx.value, vy.value), spans, strict=True)):
            out[m] = (float(vx.value), float(vy.value))
    return out
