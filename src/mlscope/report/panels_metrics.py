"""The report's metric panels: the metric table per split, the baselines and human level,
the slice table, and the operating thresholds.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from mlscope.report.best import best_candidates
from mlscope.report.cells import (
    Cell,
    Row,
    Table,
    interval_text,
    key_metrics,
    metric_label,
    percent,
    signed,
)
from mlscope.report.charts import (
    LADDER_LABEL,
    format_value,
    ladder_chart,
    slice_groups,
    slice_label,
    too_small,
)
from mlscope.result import FLAGS_NONE, OVERALL, EvaluationResult, MetricValue

__all__ = [
    "baselines_panel",
    "metric_table",
    "slices_table",
    "thresholds_table",
]


def metric_table(result: EvaluationResult, split: str, role: str,
                 dec: dict[str, int], colors: dict[str, str]) -> Table:
    vals = {(v.model, v.metric): v for v in result.values
            if v.split == split and v.slice == OVERALL}
    headers = [{"text": "model", "title": "", "arrow": "", "id": ""}]
    for m in result.metrics:
        headers.append({
            "text": m.label,
            "title": f"{m.id}: {m.description} ({m.direction} is better)",
            "arrow": "↑" if m.direction == "higher" else "↓",
            "id": m.id,
        })
    # "Best" is among the candidates: a baseline is a yardstick, not a contender.
    best = {m.id: best_candidates(result, {mod.name: (vals[(mod.name, m.id)].value
                                                      if (mod.name, m.id) in vals else None)
                                           for mod in result.models}, m.direction)
            for m in result.metrics}
    dropped = {str(d["model"]) for d in (result.selection.primary.dropped
                                         if result.selection else [])}
    key = key_metrics(result)[:1]
    gaps = {(st.model, st.metric): st for st in result.standings if st.split == split}
    # Without a ceiling (no upper baseline better than the trivial one) every candidate's gap
    # is undefined: a column of dashes beside the trivial baseline's 0% says nothing.
    if key and not any(st.gap_closed is not None for (_, mid), st in gaps.items()
                       if mid == key[0]):
        gaps = {}
    if key and gaps:
        headers.append({
            "text": f"gap closed ({key[0]})", "arrow": "↑", "id": "",
            "title": f"share of the gap on {key[0]} between the best trivial baseline (0%) "
                     "and the best upper baseline (100%) that the model closes",
        })
    rows = []
    for i, mod in enumerate(result.models):
        cells = []
        for m in result.metrics:
            v = vals.get((mod.name, m.id))
            d = dec.get(m.id, 3)
            if v is None or v.value is None:
                why = v.undefined if v is not None and v.undefined else "not computed"
                cells.append(Cell("—", title=f"undefined: {why}", undefined=True, sort="",
                                  css="undef"))
                continue
            is_best = mod.name in best[m.id]
            notes = [f"best on {split} ({m.direction} is better)"] if is_best else []
            if v.error_bound:
                # Binned mode: say how far the value may be from the exact one.
                notes.append(f"binned: within ±{v.error_bound:.2g} of the exact value")
            cells.append(Cell(
                format_value(v.value, d), interval_text(v, d), sort=repr(v.value),
                title="; ".join(notes), best=is_best,
            ))
        if key and gaps:
            cells.append(_gap_cell(gaps.get((mod.name, key[0])), mod.family))
        css = "winner" if mod.name == result.winner else ("dropped" if mod.name in dropped
                                                          else "")
        note = "selected" if mod.name == result.winner else (
            "dropped" if mod.name in dropped else "")
        if mod.kind == "baseline":
            css, note = "baseline", f"baseline · {LADDER_LABEL.get(mod.family, mod.family)}"
        rows.append(Row(mod.name, cells, css=css, note=note, color=colors[mod.name],
                        sort=str(i)))
    n = result.data.get("rows_per_split", {}).get(split) if result.data else None
    size = f", {int(n):,} rows" if isinstance(n, int) else ""
    caption = {
        "selection": f"The split the model and every operating threshold are chosen on"
                     f"{size}.",
        "report": f"Held out from every choice: the estimate to report{size}.",
    }.get(role, f"{size[2:]}.")
    return Table(f"{split}", caption, headers, rows, anchor=f"metrics-{split}")


def _gap_cell(st: Any, family: str | None) -> Cell:
    if family == "trivial":
        return Cell("0%", title="a trivial baseline: the floor of the gap", sort="0",
                    css="muted")
    if st is None or st.gap_closed is None:
        why = (st.note if st is not None and st.note else
               "no upper baseline better than the trivial one")
        return Cell("—", title=why, undefined=True, sort="", css="undef")
    interval = (f"[{percent(st.lower)}, {percent(st.upper_ci)}]"
                if st.lower is not None and st.upper_ci is not None else "")
    title = (f"{st.model} closes {percent(st.gap_closed)} of the gap between {st.trivial} "
             f"({st.trivial_value:.4g}) and {st.upper} ({st.upper_value:.4g})")
    if st.gap_rows is not None:
        title = st.note or title
    if st.ceiling_note:
        title += "; " + st.ceiling_note
    if st.flag:
        title += "; " + st.flag
    return Cell(percent(st.gap_closed), interval, sort=repr(st.gap_closed), title=title,
                css="flag" if st.flag else "")


def baselines_panel(result: EvaluationResult, dec: dict[str, int]) -> dict[str, Any] | None:
    """The baselines section: ladders, where each model stands, how baselines were made."""
    if not result.baselines and not any(m.kind == "baseline" for m in result.models):
        return None
    keys = key_metrics(result)
    sel = str(result.splits.get("selection") or "")
    ladders = [Markup(ladder_chart(result, k, split=sel)) for k in keys]
    by = {(st.model, st.metric): st for st in result.standings if st.split == sel}
    fam_of = {m.name: m.family for m in result.models}
    cols = [k for k in keys if any(st.metric == k for st in by.values())]
    heads = []
    for k in cols:
        st0 = next(st for st in by.values() if st.metric == k)
        d = dec.get(k, 3)
        floor = f"{st0.trivial} {format_value(st0.trivial_value, d)}"
        ceil = (f"{st0.upper} {format_value(st0.upper_value, d)}" if st0.upper is not None
                and st0.upper_value is not None else "no upper baseline")
        if st0.gap_rows is not None and st0.gap_trivial_value is not None:
            floor += (f" ({format_value(st0.gap_trivial_value, d)} on the "
                      f"{st0.gap_rows:,} annotated items)")
        # Why a column has no gaps at all (a ceiling no better than the floor): said once,
        # under the table, not only in each cell's hover.
        none = next((st.note for st in by.values() if st.metric == k
                     and st.note.startswith("the upper baseline")), "")
        why = "; ".join(x for x in (st0.ceiling_note, none) if x)
        heads.append({"metric": k, "label": metric_label(result, k), "floor": floor, "ceil": ceil,
                      "why": why})
    matrix = []
    flags: list[str] = []
    for m in result.models:
        if fam_of.get(m.name) == "trivial" or not any((m.name, k) in by for k in cols):
            continue
        cells = []
        for k in cols:
            st = by.get((m.name, k))
            if st is None:
                cells.append({"gap": "—", "ci": "", "vs": "", "title": "undefined", "flag": False})
                continue
            d = dec.get(k, 3)
            vs = f"{signed(st.vs_trivial, d)} vs {st.trivial}"
            if st.vs_trivial_lower is not None:
                vs += f" [{signed(st.vs_trivial_lower, d)}, {signed(st.vs_trivial_upper, d)}]"
            g = st.gap_closed
            gap = ("—" if g is None else "< −100%" if g < -1 else "> 200%" if g > 2
                   else percent(g))
            ci = (f"[{percent(st.lower)}, {percent(st.upper_ci)}]" if st.lower is not None
                  and st.upper_ci is not None and g is not None and -1 <= g <= 2 else "")
            title = st.note or (f"closes {percent(g)} of the gap from {st.trivial} to {st.upper}"
                                if g is not None else "")
            if st.flag:
                flags.append(st.flag)
            cells.append({"gap": gap, "ci": ci, "vs": vs, "title": title,
                          "flag": bool(st.flag)})
        matrix.append({"model": m.name, "baseline": m.kind == "baseline",
                       "family": LADDER_LABEL.get(m.family, m.family), "cells": cells,
                       "winner": m.name == result.winner})
    made = []
    for b in result.baselines:
        if b.family == "external":
            vals = ", ".join(f"{k} {format_value(v, dec.get(k, 3))}" for k, v in b.values.items())
            how = (f"{b.role or 'published'}: {vals}. Source: {b.source}. Measured on: "
                   f"{b.data}.")
            warn = [] if b.same_data else [
                "measured on other data: a reference line, not a like-for-like comparison"]
        elif b.family == "human":
            how = (f"annotators' labels: {b.fit.get('annotations')}; reference: "
                   f"{b.fit.get('reference')}; scored on the {b.fit.get('split')} split")
            warn = []
        elif b.family == "rule":
            how = f"the rule `{b.fit.get('function')}` run on every row"
            warn = list(b.warnings)
        else:
            f = b.fit
            feats = f.get("features")
            how = (f"fitted on the {f.get('fit_on')} split ({f.get('n_train', 0):,} rows, "
                   f"seed {f.get('seed')})")
            if f.get("estimator"):
                how += (f"; {f['estimator']} on {len(feats or [])} feature(s)"
                        + (f" ({f.get('n_features_encoded')} after encoding)"
                           if f.get("n_features_encoded") else ""))
            how += f"; {b.seconds:.2f} s"
            warn = list(b.warnings)
        made.append({"name": b.name, "family": LADDER_LABEL.get(b.family, b.family),
                     "description": b.description or "", "how": how, "warnings": warn,
                     "features": ", ".join(b.fit.get("features") or [])})
    return {"ladders": ladders, "heads": heads, "matrix": matrix, "flags": flags,
            "made": made, "split": sel, "keys": keys, "human": _human(result, dec)}


def _human(result: EvaluationResult, dec: dict[str, int]) -> dict[str, Any] | None:
    """The human-level panel: agreement, the ladder of rungs, the typical human."""
    hl = result.human
    if hl is None:
        return None
    metrics = [m.id for m in result.metrics
               if any(r.value(m.id) is not None for r in hl.rungs)]
    ag = hl.agreement

    def num(x: float | None, d: int = 3) -> str:
        return "—" if x is None else format_value(x, d)

    rows = []
    for r in hl.rungs:
        cells = []
        for mid in metrics:
            hv = r.value(mid)
            d = dec.get(mid, 3)
            if hv is None or hv.value is None:
                why = hv.undefined if hv is not None and hv.undefined else "not scored"
                cells.append({"text": "—", "ci": "", "title": why, "best": False})
                continue
            ci = (f"[{num(hv.lower, d)}, {num(hv.upper, d)}]"
                  if hv.lower is not None and hv.upper is not None else "")
            # The interval is over items; the spread is between annotators (or draws of a
            # majority). A spread that rounds to zero says nothing beside a wide interval,
            # so it is left out of the cell and kept, explained, in the tooltip.
            units = "annotators" if r.kind == "single" else "draws"
            title = ""
            if hv.spread is not None and hv.n_units >= 2:
                spread = (f"sd {num(hv.spread, d)} across {hv.n_units} {units} (the interval "
                          "is over items)")
                title = spread
                if round(hv.spread, d) > 0:
                    ci += f" · sd {num(hv.spread, d)} across {units}"
            cells.append({"text": num(hv.value, d), "ci": ci, "title": title,
                          "best": hl.best.get(mid) == r.name})
        rows.append({"name": r.name, "n": f"{r.n_items:,}", "cells": cells,
                     "typical": r.name == hl.typical_human,
                     "note": r.note if not r.scored or not r.eligible else ""})
    return {
        "reference": {"gold": "independent gold labels",
                      "from_annotators": "labels derived from the same annotators: each "
                                         "human scored leave-one-out against the others",
                      "none": "no reference labels"}.get(hl.reference_kind, hl.reference_kind),
        "alpha": num(ag.krippendorff_alpha), "kappa": num(ag.fleiss_kappa),
        "agree": "—" if ag.percent_agreement is None else percent(ag.percent_agreement),
        "n_items": f"{ag.n_items:,}", "n_annotators": ag.n_annotators,
        "per_item": f"{ag.labels_per_item:.1f}", "warning": ag.warning,
        "metrics": [{"id": m, "label": metric_label(result, m)} for m in metrics],
        "rows": rows, "notes": list(dict.fromkeys([*ag.notes, *hl.notes])),
    }


def slices_table(result: EvaluationResult, metric: str, split: str, dec: dict[str, int],
                 colors: dict[str, str]) -> Table:
    info = result.metric_info(metric)
    d = dec.get(metric, 3)
    min_size = 30
    sl = result.charter.get("slices") if isinstance(result.charter, dict) else None
    if isinstance(sl, dict) and isinstance(sl.get("min_size"), int):
        min_size = int(sl["min_size"])
    by: dict[str, dict[str, MetricValue]] = {}
    for v in result.values:
        if v.split == split and v.metric == metric:
            by.setdefault(v.slice, {})[v.model] = v
    headers = [{"text": "slice", "title": "", "arrow": "", "id": ""},
               {"text": "n", "title": f"rows in the slice on {split}", "arrow": "", "id": ""}]
    headers += [{"text": m.name, "title": "", "arrow": "", "id": m.name}
                for m in result.models]
    rows: list[Row] = []

    def add(key: str, label: str, size: int, css: str = "") -> None:
        vals = by.get(key, {})
        # Baselines are shown per slice too, but only a candidate is shaded best.
        best = best_candidates(result, {m.name: (vals[m.name].value if m.name in vals else None)
                                        for m in result.models}, info.direction)
        cells = [Cell(f"{size:,}", sort=str(size), css="num muted")]
        for m in result.models:
            v = vals.get(m.name)
            if v is None or v.value is None:
                why = v.undefined if v is not None and v.undefined else "not computed"
                cells.append(Cell("—", title=f"undefined: {why}", undefined=True,
                                  css="undef"))
            else:
                cells.append(Cell(format_value(v.value, d), sort=repr(v.value),
                                  best=m.name in best,
                                  title=interval_text(v, d)))
        rows.append(Row(label, cells, css=css))

    overall = next((s for s in result.slices if s.key == OVERALL), None)
    if overall is not None:
        add(OVERALL, "overall", overall.sizes.get(split, 0), css="overall")
    for g in slice_groups(result):
        rows.append(Row(g.title, [], css="group"))
        hidden = 0
        for s in g.slices:
            size = s.sizes.get(split, 0)
            ref = by.get(s.key, {})
            small = too_small(next(iter(ref.values()), None), size, min_size)
            if g.kind == "cross" and small:
                hidden += 1
                continue
            add(s.key, slice_label(s), size, css="small" if small else "")
        if hidden:
            rows.append(Row(f"+ {hidden} cells with n < {min_size} not listed", [],
                            css="more"))
    return Table(f"{info.label} per slice on {split}", "", headers, rows, anchor="slice-table")


def thresholds_table(result: EvaluationResult) -> Table | None:
    """The operating thresholds per model and metric; None without any."""
    if not result.thresholds:
        return None
    # A metric measured at another's threshold (`threshold: net_value`) would repeat that
    # column: named in the caption instead.
    # (Read from the result: the report loads no metric code, so not metrics.spec's
    # threshold_ref.)
    shared = {m.id: m.params["threshold"] for m in result.metrics
              if isinstance(m.params.get("threshold"), str)
              and m.params["threshold"] != "optimize"}
    metrics = [m for m in dict.fromkeys(t.metric for t in result.thresholds)
               if m not in shared]
    by = {(t.model, t.metric): t for t in result.thresholds}
    headers = [{"text": "model", "title": "", "arrow": "", "id": ""}]
    headers += [{"text": metric_label(result, m), "title": m, "arrow": "", "id": m}
                for m in metrics]
    rows = []
    for mod in result.models:
        cells = []
        for m in metrics:
            t = by.get((mod.name, m))
            if t is None or t.threshold is None:
                note = t.note if t is not None and t.note else "no threshold"
                cells.append(Cell("—", title=note, undefined=True, css="undef"))
            else:
                text = f"{t.threshold:.3f}" if 0 <= t.threshold <= 1 else f"{t.threshold:.4g}"
                if t.note.startswith(FLAGS_NONE):
                    text = "none flagged"  # acting on no case is best
                cells.append(Cell(text, sort=repr(t.threshold),
                                  title=t.note or f"chosen on {t.chosen_on}"))
        rows.append(Row(mod.name, cells, css="winner" if mod.name == result.winner else ""))
    chosen = {t.chosen_on for t in result.thresholds}
    caption = ("Chosen once per model on the " + ", ".join(sorted(chosen))
               + " split and carried unchanged to every other split and slice.")
    by_source: dict[str, list[str]] = {}
    for mid, src in shared.items():
        by_source.setdefault(src, []).append(metric_label(result, mid))
    for src, labels in by_source.items():
        caption += (f" {' and '.join(labels)} {'takes' if len(labels) == 1 else 'take'} "
                    f"the threshold that {metric_label(result, src)} chooses.")
    return Table("Operating thresholds", caption, headers, rows, anchor="thresholds")
