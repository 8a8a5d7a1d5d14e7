"""The report's decision panels: the header, the decision box with its lead text, the
requirements, what each rule picks, who was dropped, and the footer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from mlscope.report.cells import (
    interval_text,
    metric_label,
    signed,
)
from mlscope.report.charts import (
    format_bound,
    format_value,
)
from mlscope.report.panels_verdict import launch_exit_meaning
from mlscope.report.verdict import is_check, keep_lines
from mlscope.result import OVERALL, EvaluationResult, RuleOutcome

__all__ = [
    "EXIT_CODES",
    "RULE_NAMES",
    "STATUS_TEXT",
    "decision_panel",
    "dropped_panel",
    "footer_panel",
    "header_panel",
    "no_requirements",
    "requirements_panel",
    "requirements_summary",
    "rules_panel",
    "status_class",
    "status_text",
]


STATUS_TEXT: dict[str, str] = {
    "requirements_met": "Requirements met",
    "requirements_not_met": "Requirements not met",
    "no_decision": "No decision",
}


def no_requirements(result: EvaluationResult) -> bool:
    """Whether "requirements met" is vacuous (the charter sets none): said as such here,
    in the terminal and on the dashboard, never shown as a pass."""
    return not result.requirements and result.status == "requirements_met"


def status_text(result: EvaluationResult) -> str:
    """The requirement status in words: ``STATUS_TEXT``, or "No requirements" when the
    charter sets none (the report's and the dashboard's status box)."""
    return "No requirements" if no_requirements(result) else STATUS_TEXT.get(result.status,
                                                                      result.status)


def status_class(result: EvaluationResult) -> str:
    """``ok`` (met), ``bad`` (not met) or ``none`` (no decision, or no requirements)."""
    if no_requirements(result):
        return "none"
    return {"requirements_met": "ok", "requirements_not_met": "bad"}.get(result.status, "none")
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


def header_panel(result: EvaluationResult) -> dict[str, Any]:
    """The page header: project, run, data, and when it was made."""
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
    evaluated = [m.name for m in result.models if m.kind == "baseline"]
    baselines = evaluated + [b.name for b in result.baselines if b.name not in evaluated]
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
        # Every baseline the charter declares, as the store and the dashboard count them:
        # the evaluated ones, then the reference levels (human, external figures), which
        # have no predictions and so no row in the model tables.
        "n_baselines": len(baselines),
        "references": [b for b in baselines if b not in evaluated],
        "n_metrics": len(result.metrics),
        "n_slices": n_slices,
        "charter_path": result.charter_path or "",
        "deployment": _deployment((planning or {}).get("deployment")),
    }


def _deployment(value: Any) -> str:
    """The planned deployment in a few words; a result of an older charter stored one word."""
    if isinstance(value, dict):
        bits = [str(value[k]) for k in ("mode", "where") if value.get(k)]
        if isinstance(value.get("latency_budget_ms"), int | float):
            bits.append(f"≤ {value['latency_budget_ms']:g} ms")
        return ", ".join(bits)
    return str(value or "")


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


def decision_panel(result: EvaluationResult, dec: dict[str, int]) -> dict[str, Any]:
    """The decision box: the selected model, the rule, the requirements, the exit code."""
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
        "status_text": status_text(result),
        "status_class": status_class(result),
        "summary": summary,
        # After `check` the verdict box above states the one exit code; this box none.
        "exit_code": None if is_check(result) else result.exit_code,
        "exit_meaning": launch_exit_meaning(result),
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
                 f"{signed(lo, d)} to {signed(hi, d)}")
        text += ": clearly ahead." if lo > 0 else ": it includes 0, so not clearly better."
    else:
        text += "."
    return text


def requirements_panel(result: EvaluationResult, dec: dict[str, int]) -> list[dict[str, Any]]:
    """One row per requirement: bound, value, interval, and whether it holds."""
    rows = []
    for r in result.requirements:
        d = dec.get(r.metric, 3)
        conf, css = _requirement_confidence(r.lower, r.upper, r.bound, r.met)
        if r.decided_on == "bound" and r.certified is not None:
            # Decided on its bound, as the margin is: "0.723 ≥ 0.65, −0.053, ✗ not met;
            # the interval crosses the bound" read as a contradiction without it.
            conf = (f"{'met' if r.met else 'not met'} on its bound "
                    f"{format_value(r.certified, d)}")
            css = "ok" if r.met else "bad"
        rows.append({
            "metric": r.metric,
            "label": metric_label(result, r.metric)
            + ("" if r.slice == "overall" else f" in {r.slice}"),
            "bound": format_bound(r.bound),
            "split": r.split,
            "model": r.model,
            "value": format_value(r.value, d),
            "interval": interval_text(r, d),
            "margin": signed(r.margin, d),
            "met": r.met,
            "confidence": conf,
            "css": css,
        })
    return rows


def rules_panel(result: EvaluationResult) -> list[dict[str, Any]]:
    """What each selection rule picks, the primary rule first."""
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


def dropped_panel(result: EvaluationResult) -> list[dict[str, Any]]:
    """The models the primary rule dropped, each with why."""
    if result.selection is None:
        return []
    return [{"model": str(d["model"]), "reasons": [str(x) for x in d.get("reasons", [])]}
            for d in result.selection.primary.dropped]


def footer_panel(result: EvaluationResult) -> dict[str, Any]:
    """The page footer: intervals, seed, versions."""
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
