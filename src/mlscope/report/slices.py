"""The per-slice bars of one metric for the selected model, and how the result's slices are
grouped and named.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from mlscope.report.chart_data import (
    baseline_shapes,
    charter_report,
    direction_arrow,
    direction_note,
    interval_level,
    primary_rule,
    reference_model,
)
from mlscope.report.svg import (
    FAINT,
    GRID,
    INK,
    MUTED,
    Scale,
    Svg,
    clip_text,
    domain_ticks,
    format_value,
    marker,
    metric_decimals,
    model_colors,
    text_width,
    tick_decimals,
    tick_text,
)
from mlscope.result import OVERALL, EvaluationResult, MetricValue, SliceInfo

__all__ = [
    "SliceGroup",
    "slice_chart",
    "slice_groups",
    "slice_label",
    "slice_metric",
    "too_small",
]


# -- (c) per-slice bars -----------------------------------------------------------------


def slice_metric(result: EvaluationResult) -> str | None:
    """The metric id shown per slice: ``charter.report.slice_metric``, else the rule's.

    Falls back to the satisficing rule's optimized metric, then the first metric.
    """
    ids = [m.id for m in result.metrics]
    chosen = charter_report(result).get("slice_metric")
    if isinstance(chosen, str) and chosen in ids:
        return chosen
    opt = primary_rule(result).get("optimize")
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
    model = model or reference_model(result)
    assert model is not None
    models = [m.name for m in result.models]
    colors = model_colors(models)
    shapes = baseline_shapes(result)
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
    ticks = domain_ticks(pts, info.bounds, count=6, pad=0.03)
    dec = metric_decimals(info, [p for p in pts if p is not None])
    tdec = tick_decimals(ticks)

    label_w = max([text_width(r[1], 12) for r in rows if r[0] == "slice"] + [80.0]) + 16
    label_w = min(label_w, width * 0.36)
    value_w = 190.0
    left, right = label_w, value_w
    # The legend of the other models wraps onto as many lines as it needs; the plot
    # starts below it (eleven models in one line ran into the overall label).
    others = [m for m in models if m != model]
    legend_rows: list[list[tuple[float, str]]] = [[]]
    lx = text_width("other models:", 11) + 10
    for m in others:
        w = 24 + text_width(m, 11)
        if lx + w > width and legend_rows[-1]:
            legend_rows.append([])
            lx = text_width("other models:", 11) + 10
        legend_rows[-1].append((lx, m))
        lx += w
    top = 100.0 + 16.0 * (len(legend_rows) - 1 if others else 0)
    row_h, group_h = 21.0, 30.0
    heights = [group_h if r[0] == "group" else row_h for r in rows]
    height = top + sum(heights) + 40
    plot_right = width - right - 22
    x = Scale(ticks[0], ticks[-1], left, plot_right)
    svg = Svg(width, height, f"{info.label} per slice for {model} on {split}",
              "Bars run from the overall value to each slice's value; whiskers are "
              "intervals; small markers are the other models.")
    svg.text(0, 16, f"{info.label} per slice — {model} on {split}", font_size=14,
             font_weight="600")
    legend = f"bar: {model} (from its overall value)"
    if result.interval.resamples:
        legend += f", whisker: {interval_level(result)} interval"
    svg.text(0, 34, legend + f"; {direction_note(info)}", font_size=11.5, fill=MUTED)
    # Legend of the other models.
    if others:
        svg.text(0, 54, "other models:", font_size=11, fill=MUTED)
        for k, line in enumerate(legend_rows):
            for lx, m in line:
                marker(svg, shapes.get(m, "circle"), lx + 4, 50.0 + 16 * k, 3.5,
                       fill="#ffffff" if m in shapes else colors[m], stroke=colors[m],
                       stroke_width=1.4)
                svg.text(lx + 12, 54 + 16 * k, m, font_size=11, fill=MUTED)

    bottom = top + sum(heights)
    for t in ticks:
        svg.line(x(t), top - 6, x(t), bottom, stroke=GRID)
        for ty in (top - 10, bottom + 16):
            svg.text(x(t), ty, tick_text(t, tdec), font_size=10.5, fill=MUTED,
                     text_anchor="middle")
    svg.line(left, bottom, plot_right, bottom, stroke=FAINT)
    if ref is not None:
        rx = x(ref)
        svg.line(rx, top - 26, rx, bottom, stroke=INK, stroke_width=1.3)
        svg.text(rx, top - 30, f"overall {format_value(ref, dec)}", font_size=11.5,
                 text_anchor="middle", font_weight="600", stroke="#ffffff", stroke_width=3.0,
                 paint_order="stroke")
    head = f"{model} [{interval_level(result)} interval]" if result.interval.resamples else model
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
        shown_label = clip_text(label, label_w - 14, 12)
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
                marker(svg, shapes.get(m, "circle"), x(o.value), cy, 2.8,
                       fill="#ffffff" if m in shapes else colors[m], stroke=colors[m],
                       stroke_width=1.2)
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
             f"{info.label} ({direction_arrow(info, 'x')})", font_size=12, text_anchor="middle",
             font_weight="600")
    return svg.render("chart slices")
