"""What each dashboard page shows, formatted for its template.

The functions here are pure: they take run summaries, stored results and history points
(already read from the store by :mod:`mlscope.server.app`) and return plain dictionaries
of display strings. Nothing is recomputed: every number is one the evaluation stored.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from markupsafe import Markup

from mlscope.report.best import best_candidates
from mlscope.report.cells import signed
from mlscope.report.charts import (
    LADDER_LABEL,
    format_bound,
    format_value,
    ladder_chart,
    metric_decimals,
    model_colors,
    slice_metric,
    tradeoff_chart,
    tradeoff_metrics,
)
from mlscope.report.html import RULE_NAMES, STATUS_TEXT, key_metrics, requirements_summary
from mlscope.report.panels_decision import status_class, status_text
from mlscope.report.panels_verdict import launch_html
from mlscope.report.verdict import is_check_command, keep_lines, verdict_view
from mlscope.result import OVERALL, EvaluationResult, MetricInfo
from mlscope.server.charts import (
    HistoryData,
    HistoryPointView,
    HistorySeries,
    Marker,
    RefLine,
    history_chart,
    slice_heatmap,
)

if TYPE_CHECKING:
    from mlscope.plan.brief import Brief
    from mlscope.store import HistoryPoint, RunSummary

__all__ = [
    "brief_of",
    "colors_for",
    "decimals",
    "decision_view",
    "default_models",
    "history_view",
    "metric_table",
    "parse_bound",
    "project_href",
    "run_page_view",
    "run_row",
    "short_date",
    "splits_of",
    "standings_view",
    "when",
]

STATUS_CSS = {"requirements_met": "ok", "requirements_not_met": "bad", "no_decision": "warn"}
MAX_DEFAULT_SERIES = 8  # candidates drawn by default on the history chart (the best ones)


# -- small formatting helpers -----------------------------------------------------------


def project_href(project: str, view: str = "", **query: Any) -> str:
    """The URL of a project page (``view``: ``""`` or ``"history"``), names quoted."""
    href = "/p/" + quote(project, safe="") + (f"/{view}" if view else "")
    pairs = [(k, v) for k, v in query.items() if v is not None]
    return href + ("?" + urlencode(pairs, doseq=True) if pairs else "")


def when(created_at: str) -> str:
    """``2025-03-14 09:26`` (UTC marked), or the text as stored when it is not a date."""
    try:
        dt = datetime.fromisoformat(str(created_at))
    except ValueError:
        return str(created_at)
    tz = " UTC" if dt.utcoffset() == timedelta(0) else ""
    return dt.strftime("%Y-%m-%d %H:%M") + tz


def short_date(created_at: str) -> str:
    try:
        return datetime.fromisoformat(str(created_at)).strftime("%Y-%m-%d")
    except ValueError:
        return str(created_at)[:10]


def _pct(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x * 100:.0f}%"


def _interval(lo: float | None, hi: float | None, dec: int) -> str:
    if lo is None or hi is None:
        return ""
    return f"[{format_value(lo, dec)}, {format_value(hi, dec)}]"


def decimals(result: EvaluationResult) -> dict[str, int]:
    """Decimals per metric id, from the overall values of every model and split."""
    vals: dict[str, list[float | None]] = {}
    for v in result.values:
        if v.slice == OVERALL:
            vals.setdefault(v.metric, []).append(v.value)
    return {m.id: metric_decimals(m, vals.get(m.id, [])) for m in result.metrics}


def _label(result: EvaluationResult, metric: str) -> str:
    try:
        return result.metric_info(metric).label
    except KeyError:
        return metric


def parse_bound(text: Any) -> tuple[str, float] | None:
    """``">= 0.7"`` → ``(">=", 0.7)``; None when the text is not a simple bound."""
    if isinstance(text, dict) and "op" in text and "value" in text:
        try:
            return str(text["op"]), float(text["value"])
        except (TypeError, ValueError):
            return None
    from mlscope.report.chart_data import parse_bound

    return parse_bound(str(text))


def colors_for(result: EvaluationResult | None, extra: Iterable[str] = ()) -> dict[str, str]:
    """The report's colour per model (result order), then any other names seen."""
    names = [m.name for m in result.models] if result is not None else []
    names += [n for n in dict.fromkeys(extra) if n not in names]
    return model_colors(names)


# -- runs list ------------------------------------------------------------------------------


def run_row(summary: RunSummary, colors: dict[str, str],
            charter_diff: list[str] | None = None) -> dict[str, Any]:
    """One line of the runs list, from a :class:`~mlscope.store.RunSummary`
    (``charter_diff``: the keys an edited charter changed, old → new)."""
    status = str(summary.status)
    text, css = STATUS_TEXT.get(status, status), STATUS_CSS.get(status, "warn")
    if summary.no_requirements:
        # "Requirements met" of a charter that sets none is vacuous: a neutral chip, as the
        # report and the run page's status box say it (a run stored without the count, an
        # unreadable pre-0004 result, keeps its plain status).
        text, css = "No requirements", "none"
    if is_check_command(str(summary.command)):
        # A check run's outcome is its verdict, whose exit code the store records (the
        # requirements of the selected model may be met while the check fails).
        passed = summary.exit_code == 0
        text, css = ("check passed", "ok") if passed else ("check failed", "bad")
    return {
        "id": summary.id,
        "href": f"/runs/{summary.id}",
        "when": when(summary.created_at),
        "command": summary.command,
        "status": status,
        "status_text": text,
        "status_css": css,
        "winner": summary.winner or "",
        "color": colors.get(summary.winner or "", "#8c959f"),
        "n_models": summary.n_models,
        "n_baselines": len(summary.baselines or []),
        "metric": summary.selection_metric or "",
        "changes": list(summary.changes or []),
        "charter_diff": list(charter_diff or []),
        "note": summary.note or "",
    }


# -- the decision -----------------------------------------------------------------------------


def decision_view(result: EvaluationResult) -> dict[str, Any]:
    """The selected model, the rule, the status, the decision confidence, requirements."""
    dec = decimals(result)
    sel = result.selection
    primary = sel.primary if sel else None
    req = result.requirements
    summary = requirements_summary(result)
    confidence = None
    conf = sel.confidence if sel else None
    if conf is not None and conf.resamples:
        shares = sorted(((m, v) for m, v in conf.chosen.items() if v > 0), key=lambda p: -p[1])
        colors = colors_for(result)
        confidence = {
            "resamples": f"{conf.resamples:,}",
            "share": _pct(conf.winner_share),
            "runner_up": conf.runner_up or "",
            "runner_up_share": _pct(conf.runner_up_share),
            "flips": _pct(conf.flips) if conf.flips is not None else "",
            "none": "; ".join(f"{label} in {_pct(share)}"
                              for label, share in conf.no_winner_parts()),
            "none_width": f"{conf.no_decision * 100:.1f}",
            "segments": [{"model": m, "pct": _pct(v), "width": f"{v * 100:.1f}",
                          "color": colors.get(m, "#8c959f"), "winner": m == result.winner}
                         for m, v in shares],
        }
    requirements = []
    for r in req:
        d = dec.get(r.metric, 3)
        b = parse_bound(r.bound)
        crosses = (b is not None and r.lower is not None and r.upper is not None
                   and r.lower < b[1] < r.upper)
        requirements.append({
            "metric": r.metric, "label": _label(result, r.metric)
            + ("" if r.slice == "overall" else f" in {r.slice}"),
            "bound": format_bound(r.bound), "split": r.split, "model": r.model,
            "value": format_value(r.value, d), "interval": _interval(r.lower, r.upper, d),
            "margin": signed(r.margin, d), "met": r.met,
            "note": "the interval crosses the bound" if crosses else "",
        })
    verdict = verdict_view(result)
    return {
        "verdict": verdict,
        "keep": keep_lines(result),
        "winner": primary.winner if primary else None,
        "color": colors_for(result).get(result.winner or "", "#8c959f"),
        "rule": RULE_NAMES.get(primary.rule, primary.rule) if primary else "",
        "description": primary.description if primary else "",
        "tie": (primary.note or "no model is eligible")
        if primary is not None and primary.winner is None else "",
        "split": sel.split if sel else result.splits.get("selection"),
        "status": result.status,
        "status_text": status_text(result),
        "status_css": {"none": "warn"}.get(status_class(result), status_class(result)),
        "summary": summary,
        # After `check` the verdict box states the one exit code; the status box none.
        "exit_code": None if verdict else result.exit_code,
        "confidence": confidence,
        "requirements": requirements,
    }


def standings_view(result: EvaluationResult, model: str | None) -> dict[str, Any] | None:
    """How much of the gap between the trivial and the upper baseline ``model`` closes.

    Read from ``result.standings`` on the selection split for the key metrics; None when
    the result has no baselines (or no standing for the model).
    """
    if model is None or not result.standings:
        return None
    split = str(result.splits.get("selection") or "")
    keys = key_metrics(result)
    by = {st.metric: st for st in result.standings if st.split == split and st.model == model}
    dec = decimals(result)
    rows = []
    for k in [*keys, *sorted(set(by) - set(keys))][:4]:
        st = by.get(k)
        if st is None:
            continue
        d = dec.get(k, 3)
        rows.append({
            "metric": k, "label": _label(result, k),
            "gap": _pct(st.gap_closed),
            "width": f"{min(max(st.gap_closed or 0.0, 0.0), 1.0) * 100:.0f}",
            "interval": (f"[{_pct(st.lower)}, {_pct(st.upper_ci)}]"
                         if st.lower is not None and st.upper_ci is not None else ""),
            "trivial": st.trivial or "—", "trivial_value": format_value(st.trivial_value, d),
            "upper": st.upper or "—",
            "upper_family": (LADDER_LABEL.get(st.upper_family, st.upper_family)
                             if st.upper_family else ""),
            "upper_value": format_value(st.upper_value, d) if st.upper_value is not None
            else "",
            "vs_trivial": signed(st.vs_trivial, d),
            "vs_interval": (f"[{signed(st.vs_trivial_lower, d)}, "
                            f"{signed(st.vs_trivial_upper, d)}]"
                            if st.vs_trivial_lower is not None
                            and st.vs_trivial_upper is not None else ""),
            "flag": st.flag or "", "note": st.note, "ceiling": st.ceiling_note,
            # Against human level the gap is on the annotated items: show the floor there.
            "on_items": (f"{format_value(st.gap_trivial_value, d)} on {st.gap_rows:,} "
                         "annotated items" if st.gap_rows is not None
                         and st.gap_trivial_value is not None else ""),
        })
    if not rows:
        return None
    return {"model": model, "split": split, "rows": rows}


# -- the metric table ----------------------------------------------------------------------


def metric_table(result: EvaluationResult, split: str) -> dict[str, Any]:
    """Models × metrics on one split (overall), each value with its interval.

    Cells carry a sort key (``data-v``); the best candidate value of each column is marked
    (by the metric's direction; baselines are yardsticks, not contenders).
    """
    dec = decimals(result)
    colors = colors_for(result)
    vals = {(v.model, v.metric): v for v in result.values
            if v.split == split and v.slice == OVERALL}
    headers = [{"text": "model", "title": "", "arrow": ""}] + [
        {"text": m.label, "title": f"{m.id}: {m.description} ({m.direction} is better)",
         "arrow": "↑" if m.direction == "higher" else "↓"} for m in result.metrics]
    # The same rule as the report and the terminal (candidates only, relative ties).
    best = {m.id: best_candidates(result, {mod.name: vals[(mod.name, m.id)].value
                                           for mod in result.models
                                           if (mod.name, m.id) in vals}, m.direction)
            for m in result.metrics}
    dropped = {str(d["model"]) for d in (result.selection.primary.dropped
                                         if result.selection else [])}
    rows = []
    for i, mod in enumerate(result.models):
        cells = []
        for m in result.metrics:
            v = vals.get((mod.name, m.id))
            if v is None or v.value is None:
                why = v.undefined if v is not None and v.undefined else "not computed"
                cells.append({"text": "—", "interval": "", "sort": "", "best": False,
                              "title": f"undefined: {why}", "undefined": True})
                continue
            d = dec.get(m.id, 3)
            cells.append({"text": format_value(v.value, d),
                          "interval": _interval(v.lower, v.upper, d),
                          "sort": repr(v.value), "best": mod.name in best.get(m.id, set()),
                          "title": "", "undefined": False})
        if mod.kind == "baseline":
            css, note = "baseline", f"baseline · {LADDER_LABEL.get(mod.family, mod.family)}"
        elif mod.name == result.winner:
            css, note = "winner", "selected"
        elif mod.name in dropped:
            css, note = "dropped", "dropped"
        else:
            css, note = "", ""
        rows.append({"model": mod.name, "color": colors[mod.name], "css": css, "note": note,
                     "sort": str(i), "cells": cells})
    n = (result.data or {}).get("rows_per_split", {}).get(split)
    return {"headers": headers, "rows": rows, "split": split,
            "rows_n": f"{int(n):,}" if isinstance(n, int) else ""}


# -- the run page -------------------------------------------------------------------------------


def splits_of(result: EvaluationResult) -> list[str]:
    """The splits with stored values, selection split first, then report, then the rest."""
    present = list(dict.fromkeys(v.split for v in result.values))
    first = [s for s in (result.splits.get("selection"), result.splits.get("report"))
             if s in present]
    return list(dict.fromkeys([*[str(s) for s in first], *present]))


def _diagnosis(result: EvaluationResult) -> dict[str, Any] | None:
    from mlscope.report.charts import gap_chart

    dg = result.diagnosis
    if dg is None:
        return None
    return {
        "model": dg.model, "metric": dg.metric, "label": _label(result, dg.metric),
        "bottleneck": next((g.label for g in dg.gaps if g.name == dg.bottleneck), None),
        "chart": Markup(gap_chart(dg)),
        "steps": [{"title": s.title, "evidence": s.evidence, "actions": s.actions}
                  for s in dg.steps][:5],
        "sanity": [s for s in dg.sanity if not s.ok],
        "weak": sum(1 for w in dg.weak_slices if w.significant),
        "tested": dg.slices_tested,
    }


def _human(result: EvaluationResult) -> dict[str, Any] | None:
    hl = result.human
    if hl is None:
        return None
    ag = hl.agreement

    def num(x: float | None) -> str:
        return "—" if x is None else f"{x:.2f}"

    return {"annotators": ag.n_annotators, "n_items": f"{ag.n_items:,}",
            "per_item": f"{ag.labels_per_item:.1f}", "alpha": num(ag.krippendorff_alpha),
            "kappa": num(ag.fleiss_kappa), "agree": _pct(ag.percent_agreement),
            "typical": hl.typical_human, "warning": ag.warning or "",
            "rungs": [r.name for r in hl.rungs if r.scored]}


def run_page_view(summary: RunSummary, result: EvaluationResult, split: str) -> dict[str, Any]:
    """Everything ``/runs/<id>`` shows for one stored run on ``split``."""
    smetric = slice_metric(result)
    keys = key_metrics(result)
    sel_split = str(result.splits.get("selection") or split)
    baselines = None
    if result.baselines or any(m.kind == "baseline" for m in result.models):
        ladders = [Markup(ladder_chart(result, k, split=sel_split)) for k in keys]
        baselines = {"ladders": [s for s in ladders if s],
                     "standing": standings_view(result, result.winner), "split": sel_split}
    warnings = list(dict.fromkeys(
        [*result.warnings, *(result.selection.warnings if result.selection else [])]))
    return {
        "run": run_row(summary, colors_for(result)),
        "charter_hash": str(summary.charter_hash or "")[:12],
        "data_fingerprint": str((summary.data_fingerprint or {}).get("hash") or "")[:12],
        "version": summary.mlscope_version, "seed": summary.seed,
        "decision": decision_view(result),
        # The launch verdict, "Should we ship?": the page's first card (after a check's).
        "launch": launch_html(result, decimals(result)),
        "splits": [{"name": s, "href": f"?split={quote(s)}", "active": s == split,
                    "role": next((k for k, v in result.splits.items() if v == s), "")}
                   for s in splits_of(result)],
        "table": metric_table(result, split),
        "level": f"{round(result.interval.level * 100):g}%" if result.interval.resamples
        else "",
        "tradeoff": Markup(tradeoff_chart(result)) if tradeoff_metrics(result) else Markup(""),
        "slice_metric": smetric or "",
        "slice_label": _label(result, smetric) if smetric else "",
        "heatmap": Markup(slice_heatmap(result, metric=smetric, split=split))
        if smetric else Markup(""),
        "baselines": baselines,
        "human": _human(result),
        "diagnosis": _diagnosis(result),
        "warnings": warnings,
        "history": [{"metric": k, "label": _label(result, k),
                     "href": project_href(result.project, "history", metric=k)}
                    for k in keys],
    }


# -- the history page -----------------------------------------------------------------------


def default_models(result: EvaluationResult, metric: str, split: str,
                   present: Sequence[str]) -> list[str]:
    """The models drawn when none are asked for.

    The latest run's candidates (its best :data:`MAX_DEFAULT_SERIES` on the metric when
    there are more, so the chart stays readable), plus the baselines that frame the gap:
    the trivial ones and the upper one of the standings.
    """
    info = result.metric_info(metric)
    latest = {v.model: v.value for v in result.values
              if v.metric == metric and v.split == split and v.slice == OVERALL}
    cands = [m.name for m in result.models if m.kind == "candidate" and m.name in present]
    if len(cands) > MAX_DEFAULT_SERIES:
        sign = -1.0 if info.direction == "higher" else 1.0

        def rank(name: str) -> tuple[int, float]:
            v = latest.get(name)
            return (0, sign * v) if v is not None and math.isfinite(v) else (1, 0.0)

        keep = set(sorted(cands, key=rank)[:MAX_DEFAULT_SERIES])
        if result.winner in cands:
            keep.add(str(result.winner))
        cands = [c for c in cands if c in keep]
    framing = {st.trivial for st in result.standings if st.metric == metric} | {
        st.upper for st in result.standings if st.metric == metric}
    framing |= {m.name for m in result.models if m.kind == "baseline" and m.family == "trivial"}
    bases = [m.name for m in result.models
             if m.kind == "baseline" and m.name in framing and m.name in present]
    return cands + bases


def history_view(*, project: str, result: EvaluationResult, info: MetricInfo, split: str,
                 summaries: Sequence[RunSummary], points: Sequence[HistoryPoint],
                 models: Sequence[str],
                 all_models: Sequence[str]) -> dict[str, Any]:
    """The history chart's record, its legend, and the list of changes.

    Parameters
    ----------
    project
        The project.
    result
        The latest run's result: its charter gives the requirement, its standings the
        trivial and upper baselines, its model order the colours.
    info
        The metric shown.
    split
        The split of the points.
    summaries
        The runs on the x axis, oldest first (:class:`~mlscope.store.RunSummary`).
    points
        :class:`~mlscope.store.HistoryPoint` of those runs (any order).
    models
        The models to draw.
    all_models
        Every model with a point in these runs (for the chooser).
    """
    xs = {s.id: i for i, s in enumerate(summaries)}
    kinds: dict[str, str] = {}
    by_model: dict[str, list[HistoryPointView]] = {m: [] for m in models}
    has_interval = False
    for p in points:
        kinds.setdefault(p.model, p.kind)
        if p.model in by_model and p.run_id in xs:
            by_model[p.model].append(HistoryPointView(xs[p.run_id], p.run_id, p.value,
                                                      p.lower, p.upper))
            has_interval = has_interval or p.lower is not None
    colors = colors_for(result, all_models)
    family = {m.name: m.family for m in result.models}
    series = []
    for m in models:
        kind = kinds.get(m, "candidate")
        fam = family.get(m)
        label = f"{m} ({LADDER_LABEL.get(fam, fam)})" if kind == "baseline" and fam else m
        series.append(HistorySeries(m, kind, label, colors.get(m, "#8c959f"), by_model[m],
                                    emphasis=m == result.winner))
    dec = metric_decimals(info, [p.value for p in points])
    refs: list[RefLine] = []
    charter = result.charter if isinstance(result.charter, dict) else {}
    reqs = charter.get("requirements") if isinstance(charter.get("requirements"), dict) else {}
    bound = parse_bound((reqs or {}).get(info.id)) if reqs and info.id in reqs else None
    if bound is not None:
        where = next((r.split for r in result.requirements
                      if r.metric == info.id and r.slice == "overall"), None)
        text = f"requirement {format_bound(bound[0])} {format_value(bound[1], dec)}"
        if where and where != split:
            text += f" (checked on {where})"
        refs.append(RefLine(bound[1], text, "requirement", bound[0]))
    # A fixed upper baseline (human level, a published figure) has no line of its own.
    seen: set[str] = set()
    for st in result.standings:
        if (st.metric == info.id and st.upper and st.upper_value is not None
                and st.upper_family in ("human", "external") and st.upper not in seen):
            seen.add(st.upper)
            fam = LADDER_LABEL.get(st.upper_family, st.upper_family)
            refs.append(RefLine(st.upper_value,
                                f"{st.upper} ({fam}) {format_value(st.upper_value, dec)}",
                                "upper"))
    for b in result.baselines:
        v = b.values.get(info.id) if b.values else None
        if b.family == "external" and v is not None and b.name not in seen:
            seen.add(b.name)
            refs.append(RefLine(float(v), f"{b.name} (external) {format_value(v, dec)}",
                                "upper"))
    markers = [Marker(i, k, s.id, "; ".join(s.changes)) for k, (i, s) in enumerate(
        ((i, s) for i, s in enumerate(summaries) if s.changes), start=1)]
    data = HistoryData(info, split, [(s.id, short_date(s.created_at)) for s in summaries],
                       series, refs, markers,
                       level=f"{round(result.interval.level * 100):g}%" if has_interval
                       else "")
    return {
        "svg": Markup(history_chart(data)),
        "legend": [{"model": s.model, "label": s.label, "kind": s.kind,
                    "color": s.color if s.kind == "candidate" else "#6e7781",
                    "n": sum(1 for p in s.points if p.value is not None)} for s in series],
        "changes": [{"number": m.number, "run": m.run_id, "href": f"/runs/{m.run_id}",
                     "when": when(summaries[m.x].created_at), "changes": summaries[m.x].changes}
                    for m in reversed(markers)],
        "chooser": [{"model": m, "checked": m in models, "kind": kinds.get(m, "candidate"),
                     "color": colors.get(m, "#8c959f")} for m in all_models],
        "n_runs": len(summaries),
        "project_href": project_href(project),
    }


def brief_of(result: EvaluationResult, charter_text: str | None, *,
             source: str) -> Brief | None:
    """The project brief of a stored run: its charter (the text as written, else the
    result's canonical echo) and its result; ``None`` when neither charter parses."""
    import yaml
    from pydantic import ValidationError

    from mlscope.charter.schema import Charter
    from mlscope.plan.brief import compose_brief

    tries: list[Any] = [result.charter]
    if charter_text:
        # A text that does not parse falls back on the canonical echo every result keeps.
        with contextlib.suppress(yaml.YAMLError):
            tries.insert(0, yaml.safe_load(charter_text))
    for raw in tries:
        try:
            ch = Charter.model_validate(raw)
        except (ValidationError, TypeError, ValueError):
            continue
        return compose_brief(ch, result, source=source)
    return None
