"""The HTML report: one self-contained file (inline CSS and SVG, no network access).

:func:`render_html` turns an :class:`~mlscope.result.EvaluationResult` into a page that
leads with the decision (the selected model, the rule, whether the requirements hold)
and then shows the evidence: what other rules would pick, who was dropped and why, every
metric with its interval on the selection and report splits, the trade-off between the
charter's two key metrics, and the metrics per slice. The page only reads the result; it
never recomputes a metric.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from mlscope.atomic import write_atomic
from mlscope.report.best import best_candidates
from mlscope.report.charts import (
    FEASIBLE,
    LADDER_LABEL,
    difference_chart,
    forest_chart,
    format_bound,
    format_value,
    gap_chart,
    ladder_chart,
    metric_decimals,
    model_colors,
    slice_chart,
    slice_groups,
    slice_label,
    slice_metric,
    too_small,
    tradeoff_chart,
    tradeoff_metrics,
)
from mlscope.report.diagnosis_charts import history_chart, learning_curve_chart
from mlscope.report.scripts import REPORT_CSP, SORT_JS
from mlscope.report.verdict import is_check, keep_lines, verdict_view
from mlscope.result import OVERALL, EvaluationResult, MetricValue, RuleOutcome

__all__ = ["EXIT_CODES", "STATUS_TEXT", "render_html", "write_html"]

STATUS_TEXT: dict[str, str] = {
    "requirements_met": "Requirements met",
    "requirements_not_met": "Requirements not met",
    "no_decision": "No decision",
}
"""A short heading per :attr:`EvaluationResult.status`."""

EXIT_CODES: dict[int, str] = {
    0: "a model was selected and meets every requirement; a CI step passes",
    1: "no model could be selected, or the selected model misses a requirement; "
       "a CI step fails",
    2: "bad input",
    3: "an internal error",
}
"""What each exit code of ``mlscope run`` means."""

RULE_NAMES = {
    "satisficing": "Satisficing",
    "weighted": "Weighted",
    "formula": "Formula",
    "pareto": "Pareto",
}

# -- view model ------------------------------------------------------------------------


@dataclass
class Cell:
    """One table cell: the value, its interval, and why it is undefined."""

    text: str
    interval: str = ""
    sort: str = ""
    title: str = ""
    best: bool = False
    undefined: bool = False
    css: str = ""


@dataclass
class Row:
    label: str
    cells: list[Cell]
    css: str = ""
    note: str = ""
    color: str = ""
    sort: str = ""


@dataclass
class Table:
    title: str
    caption: str
    headers: list[dict[str, str]]
    rows: list[Row]
    anchor: str = ""


@dataclass
class Page:
    """Everything the template shows, already formatted."""

    title: str
    result: EvaluationResult
    header: dict[str, Any]
    decision: dict[str, Any]
    requirements: list[dict[str, Any]]
    rules: list[dict[str, Any]]
    dropped: list[dict[str, Any]]
    metric_tables: list[Table]
    forests: list[Markup]
    forest_caption: str
    tradeoff: Markup
    tradeoff_caption: str
    slices: Markup
    slice_table: Table | None
    slice_caption: str
    thresholds: Table | None
    differences: Table | None
    warnings: list[str]
    footer: dict[str, Any]
    colors: dict[str, str]
    sort_js: Markup
    csp: str = REPORT_CSP  # the <meta> policy: only sort_js (by its hash) may run
    feasible: str = FEASIBLE
    nav: list[tuple[str, str]] = field(default_factory=list)
    confusion: dict[str, Any] | None = None
    baselines: dict[str, Any] | None = None
    comparison: dict[str, Any] | None = None
    diagnosis: dict[str, Any] | None = None
    pairs: list[Table] = field(default_factory=list)  # the charter's compare.pairs
    verdict: dict[str, Any] | None = None  # mlscope check's verdict: the first box


def _label(result: EvaluationResult, metric: str) -> str:
    try:
        return result.metric_info(metric).label
    except KeyError:
        return metric


def _decimals_by_metric(result: EvaluationResult) -> dict[str, int]:
    vals: dict[str, list[float | None]] = {}
    for v in result.values:
        if v.slice == OVERALL:
            vals.setdefault(v.metric, []).append(v.value)
    out = {}
    for m in result.metrics:
        out[m.id] = metric_decimals(m, vals.get(m.id, []))
    return out


def _interval(v: MetricValue | Any, dec: int) -> str:
    lo, hi = getattr(v, "lower", None), getattr(v, "upper", None)
    if lo is None or hi is None:
        return ""
    return f"[{format_value(lo, dec)}, {format_value(hi, dec)}]"


def _signed(x: float | None, dec: int) -> str:
    if x is None or not math.isfinite(x):
        return "—"
    text = format_value(abs(x), dec)
    if float(text) == 0:
        return text
    return ("+" if x > 0 else "−") + text


def _date(created_at: str) -> str:
    try:
        dt = datetime.fromisoformat(created_at)
    except ValueError:
        return created_at
    tz = " UTC" if dt.utcoffset() == timedelta(0) else ""
    return dt.strftime("%Y-%m-%d %H:%M") + tz


def _bytes(n: Any) -> str:
    if not isinstance(n, int | float):
        return ""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def _header(result: EvaluationResult) -> dict[str, Any]:
    data = result.data or {}
    per_split = data.get("rows_per_split") or {}
    roles = {v: k for k, v in result.splits.items() if v}
    splits = [
        {"name": s, "rows": f"{int(n):,}", "role": roles.get(s, "")}
        for s, n in per_split.items()
    ]
    sources = [
        {"path": str(src.get("path", "")), "size": _bytes(src.get("bytes")),
         "extra": str(src.get("table") or src.get("model") or "")}
        for src in data.get("sources") or [] if isinstance(src, dict)
    ]
    n_slices = sum(1 for s in result.slices if s.kind != "overall")
    charter = result.charter if isinstance(result.charter, dict) else {}
    planning = charter.get("planning") if isinstance(charter.get("planning"), dict) else {}
    return {
        "project": result.project,
        "task": result.task,
        "date": _date(result.created_at),
        "description": charter.get("description") or "",
        "rows": f"{int(data['rows']):,}" if isinstance(data.get("rows"), int) else "",
        "splits": splits,
        "sources": sources,
        "engine": data.get("engine", ""),
        "n_models": sum(1 for m in result.models if m.kind == "candidate"),
        "n_baselines": sum(1 for m in result.models if m.kind == "baseline"),
        "n_metrics": len(result.metrics),
        "n_slices": n_slices,
        "charter_path": result.charter_path or "",
        "deployment": (planning or {}).get("deployment") or "",
    }


def _requirement_confidence(lower: float | None, upper: float | None, bound: str,
                            met: bool) -> tuple[str, str]:
    """Whether the interval lies on one side of the bound: (text, css class)."""
    op = bound.strip()[:2].strip()
    try:
        b = float(bound.strip().lstrip("<>=").strip())
    except ValueError:
        return ("met" if met else "not met"), ("ok" if met else "bad")
    if lower is None or upper is None:
        return ("met (no interval)" if met else "not met (no interval)"), \
            ("ok" if met else "bad")
    higher = op.startswith(">")
    all_in = lower >= b if higher else upper <= b
    all_out = upper < b if higher else lower > b
    if met:
        return ("met with confidence", "ok") if all_in else \
            ("met, but the interval crosses the bound", "warn")
    return ("not met, clearly", "bad") if all_out else \
        ("not met; the interval crosses the bound", "bad")


def requirements_summary(result: EvaluationResult) -> str:
    """One sentence: how many requirements the chosen model meets, and where."""
    req = result.requirements
    if result.status == "no_decision":
        return "The rule chose no model, so no requirement was checked."
    if not req:
        return "The charter states no requirements."
    n_met = sum(1 for r in req if r.met)
    return f"{n_met} of {len(req)} requirements met on the {req[0].split} split."


def _decision(result: EvaluationResult, dec: dict[str, int]) -> dict[str, Any]:
    sel = result.selection
    primary = sel.primary if sel else None
    summary = requirements_summary(result)
    lead = ""
    if primary is not None and primary.winner is not None and primary.rule == "satisficing":
        lead = _lead_text(result, primary, dec)
    tie = ""
    if primary is not None and primary.winner is None:
        tie = primary.note or "no model is eligible"
    return {
        "winner": primary.winner if primary else None,
        "rule": RULE_NAMES.get(primary.rule, primary.rule) if primary else "",
        "description": primary.description if primary else "",
        "note": primary.note if primary and primary.winner else "",
        "status": result.status,
        "status_text": STATUS_TEXT.get(result.status, result.status),
        "status_class": {"requirements_met": "ok", "requirements_not_met": "bad"}.get(
            result.status, "none"),
        "summary": summary,
        # After `check` the verdict box above states the one exit code; this box none.
        "exit_code": None if is_check(result) else result.exit_code,
        "exit_meaning": EXIT_CODES.get(result.exit_code, ""),
        "split": sel.split if sel else result.splits.get("selection"),
        "keep": keep_lines(result),
        "lead": lead,
        "tie": tie,
        "tied": primary.tied if primary else [],
    }


def _lead_text(result: EvaluationResult, primary: RuleOutcome, dec: dict[str, int]) -> str:
    """How far the winner is ahead of the runner-up on the optimized metric (paired)."""
    rule = result.charter.get("selection") if isinstance(result.charter, dict) else None
    metric = rule.get("optimize") if isinstance(rule, dict) else None
    eligible = [r for r in primary.ranking if r.get("eligible")]
    if not isinstance(metric, str) or len(eligible) < 2 or primary.winner is None:
        return ""
    runner = str(eligible[1]["model"])
    split = result.selection.split if result.selection else result.splits.get("selection")
    diff = next((d for d in result.differences if d.split == split and d.slice == OVERALL
                 and d.metric == metric and d.model == runner
                 and d.reference == primary.winner), None)
    if diff is None or diff.value is None:
        return ""
    d = dec.get(metric, 3)
    higher = result.metric_info(metric).direction == "higher"
    win_v: float | None
    run_v: float | None
    try:
        win_v = result.value(metric, primary.winner, split=split).value
        run_v = result.value(metric, runner, split=split).value
    except KeyError:
        win_v = run_v = None
    # diff is runner − winner; the winner's advantage, positive when it is better:
    sign = -1.0 if higher else 1.0
    if not sign * diff.value > 0:
        return ""  # tied (a tie-break decided: the rule's note says how)
    text = f"Ahead of the runner-up {runner} on {metric} by {format_value(sign * diff.value, d)}"
    if win_v is not None and run_v is not None:
        text += f" ({format_value(win_v, d)} against {format_value(run_v, d)}, " \
                f"{'higher' if higher else 'lower'} is better)"
    if diff.lower is not None and diff.upper is not None:
        lo, hi = sorted((sign * diff.lower, sign * diff.upper))
        text += (f"; paired {round(result.interval.level * 100):g}% interval of the lead "
                 f"{_signed(lo, d)} to {_signed(hi, d)}")
        text += ": clearly ahead." if lo > 0 else ": it includes 0, so not clearly better."
    else:
        text += "."
    return text


def _requirements(result: EvaluationResult, dec: dict[str, int]) -> list[dict[str, Any]]:
    rows = []
    for r in result.requirements:
        d = dec.get(r.metric, 3)
        conf, css = _requirement_confidence(r.lower, r.upper, r.bound, r.met)
        rows.append({
            "metric": r.metric,
            "label": _label(result, r.metric),
            "bound": format_bound(r.bound),
            "split": r.split,
            "model": r.model,
            "value": format_value(r.value, d),
            "interval": _interval(r, d),
            "margin": _signed(r.margin, d),
            "met": r.met,
            "confidence": conf,
            "css": css,
        })
    return rows


def _rules(result: EvaluationResult) -> list[dict[str, Any]]:
    if result.selection is None:
        return []
    primary = result.selection.primary
    out = []
    for i, r in enumerate([primary, *result.selection.alternatives]):
        if i == 0:
            role = "primary (decides)"
        elif r.configured:
            role = "alternative"
        elif r.winner is None and not r.ranking:
            role = "not configured"
        else:
            role = "derived by mlscope"
        pick = r.winner or ""
        detail = ""
        if r.winner is None and r.front:
            detail = "front: " + ", ".join(r.front)
        elif r.winner is None and r.tied:
            detail = "tied: " + ", ".join(r.tied)
        note = r.note
        out.append({
            "kind": RULE_NAMES.get(r.rule, r.rule),
            "role": role,
            "primary": i == 0,
            "description": r.description,
            "winner": pick,
            "detail": detail,
            "differs": i > 0 and r.winner is not None and r.winner != primary.winner,
            "agrees": i > 0 and r.winner is not None and r.winner == primary.winner,
            "note": note,
            "muted": role == "not configured",
        })
    return out


def _dropped(result: EvaluationResult) -> list[dict[str, Any]]:
    if result.selection is None:
        return []
    return [{"model": str(d["model"]), "reasons": [str(x) for x in d.get("reasons", [])]}
            for d in result.selection.primary.dropped]


def _metric_table(result: EvaluationResult, split: str, role: str,
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
                format_value(v.value, d), _interval(v, d), sort=repr(v.value),
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


def key_metrics(result: EvaluationResult) -> list[str]:
    """The metrics the decision turns on: the rule's, then the requirements' (at most 3)."""
    sel = result.charter.get("selection") if isinstance(result.charter, dict) else None
    out: list[str] = []
    if isinstance(sel, dict):
        for k in ("optimize",):
            if isinstance(sel.get(k), str):
                out.append(sel[k])
        for k in ("weights", "constraints"):
            if isinstance(sel.get(k), dict):
                out += [str(x) for x in sel[k]]
        if isinstance(sel.get("metrics"), list):
            out += [str(x) for x in sel["metrics"]]
    out += [r.metric for r in result.requirements]
    known = {m.id for m in result.metrics}
    if not out:
        out = [m.id for m in result.metrics[:1]]
    return [m for m in dict.fromkeys(out) if m in known][:3]


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def _gap_cell(st: Any, family: str | None) -> Cell:
    if family == "trivial":
        return Cell("0%", title="a trivial baseline: the floor of the gap", sort="0",
                    css="muted")
    if st is None or st.gap_closed is None:
        why = (st.note if st is not None and st.note else
               "no upper baseline better than the trivial one")
        return Cell("—", title=why, undefined=True, sort="", css="undef")
    interval = (f"[{_pct(st.lower)}, {_pct(st.upper_ci)}]"
                if st.lower is not None and st.upper_ci is not None else "")
    title = (f"{st.model} closes {_pct(st.gap_closed)} of the gap between {st.trivial} "
             f"({st.trivial_value:.4g}) and {st.upper} ({st.upper_value:.4g})")
    if st.gap_rows is not None:
        title = st.note or title
    if st.ceiling_note:
        title += "; " + st.ceiling_note
    if st.flag:
        title += "; " + st.flag
    return Cell(_pct(st.gap_closed), interval, sort=repr(st.gap_closed), title=title,
                css="flag" if st.flag else "")


def _baselines(result: EvaluationResult, dec: dict[str, int]) -> dict[str, Any] | None:
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
        heads.append({"metric": k, "label": _label(result, k), "floor": floor, "ceil": ceil,
                      "why": st0.ceiling_note})
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
            vs = f"{_signed(st.vs_trivial, d)} vs {st.trivial}"
            if st.vs_trivial_lower is not None:
                vs += f" [{_signed(st.vs_trivial_lower, d)}, {_signed(st.vs_trivial_upper, d)}]"
            g = st.gap_closed
            gap = ("—" if g is None else "< −100%" if g < -1 else "> 200%" if g > 2
                   else _pct(g))
            ci = (f"[{_pct(st.lower)}, {_pct(st.upper_ci)}]" if st.lower is not None
                  and st.upper_ci is not None and g is not None and -1 <= g <= 2 else "")
            title = st.note or (f"closes {_pct(g)} of the gap from {st.trivial} to {st.upper}"
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
            if hv.spread is not None:
                ci += f" sd {num(hv.spread, d)}"
            cells.append({"text": num(hv.value, d), "ci": ci, "title": "",
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
        "agree": "—" if ag.percent_agreement is None else _pct(ag.percent_agreement),
        "n_items": f"{ag.n_items:,}", "n_annotators": ag.n_annotators,
        "per_item": f"{ag.labels_per_item:.1f}", "warning": ag.warning,
        "metrics": [{"id": m, "label": _label(result, m)} for m in metrics],
        "rows": rows, "notes": list(dict.fromkeys([*ag.notes, *hl.notes])),
    }


def _slice_table(result: EvaluationResult, metric: str, split: str, dec: dict[str, int],
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
                                  title=_interval(v, d)))
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


def _thresholds(result: EvaluationResult) -> Table | None:
    if not result.thresholds:
        return None
    metrics = list(dict.fromkeys(t.metric for t in result.thresholds))
    by = {(t.model, t.metric): t for t in result.thresholds}
    headers = [{"text": "model", "title": "", "arrow": "", "id": ""}]
    headers += [{"text": _label(result, m), "title": m, "arrow": "", "id": m} for m in metrics]
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
                cells.append(Cell(text, sort=repr(t.threshold),
                                  title=t.note or f"chosen on {t.chosen_on}"))
        rows.append(Row(mod.name, cells, css="winner" if mod.name == result.winner else ""))
    chosen = {t.chosen_on for t in result.thresholds}
    caption = ("Chosen once per model on the " + ", ".join(sorted(chosen))
               + " split and carried unchanged to every other split and slice.")
    return Table("Operating thresholds", caption, headers, rows, anchor="thresholds")


def _differences(result: EvaluationResult, dec: dict[str, int],
                 reference: str | None = None, split: str | None = None) -> Table | None:
    split = split or (result.selection.split if result.selection
                      else result.splits.get("selection"))
    diffs = [d for d in result.differences if d.split == split and d.slice == OVERALL]
    if not diffs:
        return None
    reference = reference or diffs[0].reference
    diffs = [d for d in diffs if d.reference == reference]
    by = {(d.model, d.metric): d for d in diffs}
    headers = [{"text": "model", "title": "", "arrow": "", "id": ""}]
    headers += [{"text": m.label, "title": f"{m.id} ({m.direction} is better)",
                 "arrow": "↑" if m.direction == "higher" else "↓", "id": m.id}
                for m in result.metrics]
    rows = []
    for mod in result.models:
        if mod.name == reference:
            continue
        cells = []
        for m in result.metrics:
            d = by.get((mod.name, m.id))
            dd = dec.get(m.id, 3)
            if d is None or d.value is None:
                cells.append(Cell("—", title="undefined for one of the two models",
                                  undefined=True, css="undef"))
                continue
            css = ""
            if d.lower is not None and d.upper is not None and (d.lower > 0 or d.upper < 0):
                better = (d.lower > 0) == (m.direction == "higher")
                css = "sig-better" if better else "sig-worse"
            interval = (f"[{_signed(d.lower, dd)}, {_signed(d.upper, dd)}]"
                        if d.lower is not None and d.upper is not None else "")
            title = {"sig-better": f"clearly better than {reference}",
                     "sig-worse": f"clearly worse than {reference}"}.get(
                css, "the interval includes 0: not distinguishable")
            if d.p_value is not None:
                title += f"; p = {d.p_value:.3g} ({_TEST_NAMES.get(d.test, d.test)})"
            cells.append(Cell(_signed(d.value, dd), interval, sort=repr(d.value), css=css,
                              title=title))
        rows.append(Row(mod.name, cells))
    caption = (f"Each model minus {reference} on the {split} split, with paired intervals: "
               "DeLong's test for ROC AUC, McNemar's for accuracy, the paired bootstrap (the "
               "same resamples for both models) for every other metric; hover for the p-value. "
               f"Tinted: the interval excludes 0 (blue: better than {reference}, orange: "
               "worse).")
    return Table(f"Difference to {reference}", caption, headers, rows, anchor="differences")


_TEST_NAMES = {"delong": "DeLong", "mcnemar": "McNemar", "bootstrap": "paired bootstrap",
               "unpaired": "unpaired: stored value held fixed"}


def _comparison(result: EvaluationResult, dec: dict[str, int]) -> dict[str, Any] | None:
    """The comparison panel: against the blessed model (else the selected one), with the
    gate verdict when ``mlscope check`` ran, and the decision confidence."""
    c = result.check
    blessed = c.blessed if c is not None else None
    charter_blessed = result.charter.get("blessed") if isinstance(result.charter, dict) else None
    if blessed is None and isinstance(charter_blessed, str):
        blessed = charter_blessed
    reference = blessed or result.winner
    if reference is None:
        return None
    # Against the blessed model: on the split the gates are decided on (the report split);
    # against the selected model: on the selection split, where it was chosen.
    split = str(c.split if c is not None else (
        (result.splits.get("report") or result.splits.get("selection")) if blessed
        else result.splits.get("selection")) or "")
    keys = key_metrics(result)
    charts = [Markup(difference_chart(result, k, reference, split=split)) for k in keys
              if any(d.metric == k and d.reference == reference for d in result.differences)]
    table = (_differences(result, dec, reference, split=split)
             if reference != result.winner else None)
    conf = result.selection.confidence if result.selection else None
    confidence = None
    if conf is not None and conf.resamples:
        shares = sorted(((m, v) for m, v in conf.chosen.items() if v > 0),
                        key=lambda p: -p[1])
        confidence = {
            "flips": _pct(conf.flips) if conf.flips is not None else "",
            "runner_up": conf.runner_up or "",
            "resamples": f"{conf.resamples:,}",
            "shares": [{"model": m, "pct": _pct(v), "width": f"{v * 100:.1f}",
                        "winner": m == result.winner} for m, v in shares],
            "none": _pct(conf.no_decision) if conf.no_decision > 0 else "",
            "none_width": f"{conf.no_decision * 100:.1f}",
            "constraints": [
                {"model": m, "text": ", ".join(f"{k} {_pct(v)}" for k, v in d.items())}
                for m, d in conf.constraints.items() if any(v < 0.95 for v in d.values())
                and conf.chosen.get(m, 0) > 0],
        }
    check = None
    if c is not None:
        from mlscope.compare.check import verdict_lines

        check = {"passed": c.passed, "lines": verdict_lines(c), "candidate": c.candidate,
                 "blessed": c.blessed, "split": c.split, "decides": is_check(result),
                 "exit_code": c.exit_code, "keep": c.keep}
    return {"reference": reference, "blessed": blessed is not None, "split": split,
            "charts": charts, "table": table, "confidence": confidence, "check": check}


def _diagnosis(result: EvaluationResult, dec: dict[str, int]) -> dict[str, Any] | None:
    """The diagnosis panel (``mlscope diagnose``)."""
    dg = result.diagnosis
    if dg is None:
        return None
    d = dec.get(dg.metric, 3)
    stage = {"baseline": "upper baseline", "train": "train", "train_dev": "train-dev",
             "validation": "validation", "test": "test"}
    values = [{"stage": stage.get(v.role, v.role), "split": v.split or "",
               "value": format_value(v.value, d),
               "interval": (f"[{format_value(v.lower, d)}, {format_value(v.upper, d)}]"
                            if v.lower is not None and v.upper is not None else ""),
               "note": v.note} for v in dg.values]
    gaps = [{"label": g.label, "value": _signed(g.value, d) if g.value is not None else "—",
             "interval": (f"[{_signed(g.lower, d)}, {_signed(g.upper, d)}]"
                          if g.lower is not None and g.upper is not None else ""),
             "counts": g.counts, "bottleneck": g.name == dg.bottleneck,
             "reason": g.reason} for g in dg.gaps]
    # A binary model's slice is compared with its value at the slice's base rate: that is
    # what "worse by" is measured from, so that is the column shown.
    weak = [{"slice": w.slice, "n": f"{w.n_rows:,}", "value": format_value(w.value, d),
             "overall": format_value(w.expected if w.expected is not None else w.overall,
                                     d), "gap": _signed(w.gap, d),
             "harm": f"{w.harm:.3g}", "p": f"{w.adjusted_p:.2g}"}
            for w in dg.weak_slices if w.significant][:12]
    errors = None
    if dg.errors:
        e = dg.errors
        errors = {
            "threshold": f"{e['threshold']:.3g}", "split": e["split"],
            "fp": f"{e['false_positives']:,} of {e['negatives']:,}",
            "fn": f"{e['false_negatives']:,} of {e['positives']:,}",
            "fp_rate": _pct(e["fp_rate"]) if e.get("fp_rate") is not None else "—",
            "fn_rate": _pct(e["fn_rate"]) if e.get("fn_rate") is not None else "—",
            "fp_examples": e.get("fp_examples", []), "fn_examples": e.get("fn_examples", []),
        }
    bottleneck = next((g["label"] for g in gaps if g["bottleneck"]), None)
    return {
        "model": dg.model, "metric": dg.metric, "label": _label(result, dg.metric),
        "margin": f"{dg.margin:.3g}", "chart": Markup(gap_chart(dg)), "stages": values,
        "gaps": gaps, "bottleneck": bottleneck, "steps": dg.steps, "sanity": dg.sanity,
        "weak": weak, "tested": dg.slices_tested,
        "weak_ref": ("at its base rate" if any(w.expected is not None for w in dg.weak_slices)
                     else "overall"), "errors": errors,
        "rare": [r for r in dg.rare_classes if r.get("rare")], "notes": dg.notes,
        "extras": _diagnosis_extras(dg),
    }


def _diagnosis_extras(dg: Any) -> dict[str, Any]:
    """Training history, learning curve and metric focus, when the diagnosis has them."""
    out: dict[str, Any] = {"history": None, "learning_curve": None, "focus": None}
    if dg.history:
        h = dg.history
        out["history"] = {
            "svg": Markup(history_chart(h)), "source": h.get("source"),  # not h["svg"]
            "findings": [f for f in h.get("findings", []) if not f.get("ok")],
            "ok": [f for f in h.get("findings", []) if f.get("ok")],
        }
    if dg.learning_curve:
        lc = dg.learning_curve
        out["learning_curve"] = {
            "svg": Markup(learning_curve_chart(lc, label=dg.metric)), "source": lc.get("source"),
            "headline": lc.get("headline") if lc.get("stand_in") else None,
            "needed": (lc.get("needed") or {}).get("note"),
            "note": (lc.get("curve") or {}).get("note"),
            "nines": [n for n in lc.get("nines") or [] if isinstance(n, dict)],
        }
    if dg.focus:
        f = dg.focus
        rule = f.get("proposed_rule") or {}
        out["focus"] = {
            "rows": f.get("rows", []), "notes": f.get("notes", []),
            "rule": ", ".join(f"{k}: {v}" for k, v in rule.items()),
        }
    return out


def _confusion(result: EvaluationResult) -> dict[str, Any] | None:
    """Confusion matrices on the report split (else the selection split), winner first.

    Cells are shaded by the share of the true class's rows (each row sums to 1), so that
    a rare class's errors are as visible as a common one's; the count is shown under it.
    """
    if not result.confusion:
        return None
    present = {c.split for c in result.confusion}
    rep = result.splits.get("report")
    split = rep if rep in present else result.splits.get("selection")
    mats = [c for c in result.confusion if c.split == split]
    if not mats:
        return None
    winner = result.selection.primary.winner if result.selection else None
    mats.sort(key=lambda c: c.model != winner)
    out = []
    for c in mats:
        rows = []
        total = correct = 0.0
        for i, (cls, counts) in enumerate(zip(c.classes, c.counts, strict=True)):
            n = float(sum(counts))
            total += n
            correct += float(counts[i])
            cells = []
            for j, v in enumerate(counts):
                share = v / n if n > 0 else 0.0
                cells.append({
                    "count": f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}",
                    "share": f"{share:.0%}" if n > 0 else "—",
                    "alpha": f"{0.06 + 0.6 * share:.2f}" if v > 0 else "0",
                    "diag": i == j,
                    "title": f"true {cls}, predicted {c.classes[j]}: {v:g} rows"
                             + (f" ({share:.1%} of {cls})" if n > 0 else ""),
                })
            rows.append({"cls": cls, "n": f"{n:,.0f}", "cells": cells})
        out.append({"model": c.model, "winner": c.model == winner, "classes": c.classes,
                    "rows": rows,
                    "accuracy": f"{correct / total:.3f}" if total > 0 else "—"})
    return {"split": split, "matrices": out}


def _footer(result: EvaluationResult) -> dict[str, Any]:
    iv = result.interval
    method = {"percentile": "percentile bootstrap"}.get(iv.method, iv.method)
    return {
        "method": method,
        "level": f"{round(iv.level * 100):g}%",
        "resamples": f"{iv.resamples:,}",
        "seed": iv.seed,
        "note": iv.note,
        "intervals": iv.resamples > 0,
        "version": result.mlscope_version,
        "schema": result.schema,
        "created": result.created_at,
        "run_id": result.run_id or "",
        "charter_path": result.charter_path or "",
        "engine": (result.data or {}).get("engine", ""),
        "total": result.timings.get("total"),
    }


def _page(result: EvaluationResult) -> Page:
    dec = _decimals_by_metric(result)
    colors = model_colors([m.name for m in result.models])
    charter = result.charter if isinstance(result.charter, dict) else {}
    report = charter.get("report") if isinstance(charter.get("report"), dict) else {}
    title = (report or {}).get("title") or result.project

    sel_split = str(result.splits.get("selection") or "")
    rep_split = result.splits.get("report")
    tables = [_metric_table(result, sel_split, "selection", dec, colors)]
    present = {v.split for v in result.values}
    if rep_split and rep_split in present and rep_split != sel_split:
        tables.append(_metric_table(result, rep_split, "report", dec, colors))

    forests = [Markup(forest_chart(result, m.id)) for m in result.metrics]
    shown_splits = [s for s in (sel_split, rep_split) if s and s in present]
    forest_caption = (
        (" and ".join(f"{s} ({'hollow' if i == 0 else 'filled'})"
                      for i, s in enumerate(shown_splits)) if len(shown_splits) > 1
         else ", ".join(shown_splits))
        + (f"; lines are {round(result.interval.level * 100):g}% intervals"
           if result.interval.resamples else "")
        + "; dashed: the charter's requirement."
    )

    pair = tradeoff_metrics(result)
    tradeoff = Markup(tradeoff_chart(result)) if pair else Markup("")
    tradeoff_caption = ""
    if pair:
        tradeoff_caption = (
            f"Each model at its {sel_split} values of {pair[0]} and {pair[1]}. Dashed lines: "
            "the rule's constraints (applied on this split) and the charter's requirements "
            "(checked on the report split). The dotted step line links the models no other "
            "model beats on both metrics."
        )
    smetric = slice_metric(result)
    slice_split = str(rep_split if rep_split and rep_split in present else sel_split)
    slices_svg = Markup(slice_chart(result, metric=smetric, split=slice_split)) if smetric \
        else Markup("")
    slice_tbl = (_slice_table(result, smetric, slice_split, dec, colors)
                 if smetric and any(s.kind != "overall" for s in result.slices) else None)
    slice_caption = ""
    if smetric:
        slice_caption = (
            f"{_label(result, smetric)} ({smetric}) on the {slice_split} split. A slice with "
            "fewer rows than the charter's minimum has no numbers: at that size they would "
            "be noise. Shaded: the best candidate in the row (baselines are never shaded)."
        )

    warnings = list(dict.fromkeys(
        [*result.warnings, *(result.selection.warnings if result.selection else [])]))
    nav = [("decision", "Decision"), ("rules", "Rules"), ("metrics", "Metrics")]
    if tradeoff:
        nav.append(("tradeoff", "Trade-off"))
    if slices_svg:
        nav.append(("slices", "Slices"))
    baselines = _baselines(result, dec)
    comparison = _comparison(result, dec)
    diagnosis = _diagnosis(result, dec)
    if diagnosis:
        nav.insert(1, ("diagnosis", "Diagnosis"))
    if comparison:
        nav.insert(1, ("comparison", "Comparison"))
    if baselines:
        nav.insert(4 if comparison else 3, ("baselines", "Baselines"))
    confusion = _confusion(result)
    if confusion:
        nav.append(("confusion", "Confusion"))
    from mlscope.report.pairs import pair_tables

    pairs = pair_tables(result)
    if pairs:
        nav.append(("pairs", "Pairs"))
    if result.thresholds:
        nav.append(("thresholds", "Thresholds"))
    if warnings:
        nav.append(("warnings", f"Warnings ({len(warnings)})"))
    verdict = verdict_view(result)
    if verdict:
        nav.insert(0, ("verdict", "Check"))  # last: the other sections keep their places
    return Page(
        title=str(title),
        result=result,
        header=_header(result),
        decision=_decision(result, dec),
        requirements=_requirements(result, dec),
        rules=_rules(result),
        dropped=_dropped(result),
        metric_tables=tables,
        forests=forests,
        forest_caption=forest_caption,
        tradeoff=tradeoff,
        tradeoff_caption=tradeoff_caption,
        slices=slices_svg,
        slice_table=slice_tbl,
        slice_caption=slice_caption,
        thresholds=_thresholds(result),
        differences=_differences(result, dec),
        warnings=warnings,
        footer=_footer(result),
        colors=colors,
        sort_js=Markup(SORT_JS),
        nav=nav,
        confusion=confusion,
        baselines=baselines,
        comparison=comparison,
        diagnosis=diagnosis,
        pairs=pairs,
        verdict=verdict,
    )


def _template() -> jinja2.Template:
    text = (resources.files("mlscope.report") / "templates" / "report.html.j2").read_text(
        encoding="utf-8")
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    return env.from_string(text)


def render_html(result: EvaluationResult) -> str:
    """Render a result as one self-contained HTML page.

    Parameters
    ----------
    result
        The evaluation result (e.g. from :func:`mlscope.evaluate` or
        :meth:`EvaluationResult.from_json`).

    Returns
    -------
    str
        A complete HTML document: inline CSS and SVG, a few lines of inline JavaScript
        (sortable tables), no external references, so it works offline and as an e-mail
        attachment.
    """
    return _template().render(page=_page(result))


def write_html(result: EvaluationResult, path: str | Path) -> Path:
    """Write :func:`render_html` of ``result`` to ``path`` (UTF-8), creating folders.

    The file is replaced atomically (:func:`mlscope.atomic.write_atomic`): a reader, or a
    process killed while writing, never sees a truncated report. The page carries the
    result's run id (``<meta name="mlscope-run-id">``), the same as in ``result.json``.

    Parameters
    ----------
    result
        The evaluation result.
    path
        Target file, e.g. ``out/report.html``.

    Returns
    -------
    Path
        The path written.
    """
    return write_atomic(Path(path), render_html(result))
