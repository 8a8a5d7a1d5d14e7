"""The alert digest of a monitor run: short Markdown for a chat, a PR or an e-mail, and a
compact JSON summary for machines.

The Markdown holds the headline status and what the exit code means, the alerting windows
with their top reasons, each model's first estimated metric against its value on the
reference, and the rollout decision; no links (it is pasted where links may not
resolve), at most :data:`MAX_WINDOWS` windows and :data:`REASONS` reasons each, so that it
stays short. Every name that comes from the user (project, models, columns, slices,
reasons quoting them) is escaped, so that a column called ``*id*`` prints as itself.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mlscope.monitor.result import MonitorResult

__all__ = ["digest_json", "digest_markdown", "escape_md", "write_digest"]

MAX_WINDOWS = 8
REASONS = 2
# Characters that change Markdown inline (emphasis, code, links, tables, HTML). `.`, `-`,
# `+`, `!` and `(` matter only at a line's start, where user text never stands here.
_SPECIAL = re.compile(r"([\\`*_{}\[\]#|<>~])")
EXIT_MEANING = {0: "healthy: no alert, and a rollout candidate (if any) promoted",
                1: "attention: an alert, or a rollout that holds or rolls back"}
_GATE = {"shadow": "Shadow", "canary": "Canary", "blue_green": "Blue-green"}


def escape_md(text: object) -> str:
    """``text`` with Markdown's special characters backslash-escaped, on one line."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _status(res: MonitorResult) -> str:
    if res.alerting:
        return "alert"
    if res.rollout is not None and res.rollout.decision != "PROMOTE":
        return "hold" if res.rollout.decision == "HOLD" else "roll back"
    return "ok"


def _latest(res: MonitorResult, model: str) -> tuple[Any, Any] | None:
    """The last window with a trustworthy estimate of ``model``'s first metric."""
    for w in reversed(res.windows):
        for p in w.performance:
            if p.model == model and p.trustworthy and p.estimates:
                return w, p.estimates[0]
    return None


def _performance(res: MonitorResult) -> list[dict[str, Any]]:
    out = []
    for m, info in res.models.items():
        metric = info["metrics"][0] if info.get("metrics") else None
        ref = (info.get("reference_values") or {}).get(metric) if metric else None
        latest = _latest(res, m)
        row: dict[str, Any] = {"model": m, "metric": metric, "reference": ref,
                               "window": None, "estimate": None, "low": None, "high": None,
                               "realised": None}
        if latest is not None:
            w, e = latest
            row.update(window=w.index, estimate=e.estimate, low=e.low, high=e.high,
                       realised=e.realised)
        out.append(row)
    return out


def digest_json(res: MonitorResult) -> dict[str, Any]:
    """The compact machine-readable digest (``schema: mlscope.monitor-digest/1``)."""
    ro = res.rollout
    return {
        "schema": "mlscope.monitor-digest/1",
        "project": res.project,
        "status": _status(res),
        "exit_code": res.exit_code,
        "exit_meaning": EXIT_MEANING[res.exit_code],
        "windows": len(res.windows),
        "alerting": len(res.alerting),
        "untrusted": sum(w.status == "untrusted" for w in res.windows),
        # Every window whose performance estimate is withheld, alerting or not ("untrusted"
        # above counts only those without an alert, as their status says).
        "estimate_withheld": sum(any(not p.trustworthy for p in w.performance)
                                 for w in res.windows),
        "alerts": [{"window": w.index, "start": w.start, "kind": c.kind, "column": c.column,
                    "slice": c.slice, "reason": c.reason}
                   for w in res.alerting for c in w.alerts],
        "performance": _performance(res),
        "rollout": None if ro is None else {
            "mode": ro.mode, "production": ro.production, "candidate": ro.candidate,
            "decision": ro.decision, "reasons": list(ro.reasons)},
    }


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def digest_markdown(res: MonitorResult) -> str:
    """The Markdown digest (a few dozen lines; no links; names escaped)."""
    d = digest_json(res)
    lines = [f"## Monitor: {escape_md(res.project)}", "",
             f"**Status: {d['status'].upper()}** — {d['alerting']} of {d['windows']} "
             f"window(s) alerting; the performance estimate is withheld (not trustworthy) "
             f"in {d['estimate_withheld']}; "
             f"exit code {d['exit_code']} ({d['exit_meaning']}).", ""]
    if res.alerting:
        lines.append("**Alerting windows**")
        for w in res.alerting[:MAX_WINDOWS]:
            why = "; ".join(
                escape_md(f"{c.kind} {c.column}" + ("" if c.slice == "all" else
                                                    f" [{c.slice}]") + f": {c.reason}")
                for c in w.alerts[:REASONS])
            more = f" (+{len(w.alerts) - REASONS} more)" if len(w.alerts) > REASONS else ""
            lines.append(f"- \\#{w.index} {escape_md(w.start[:16].replace('T', ' '))}, "
                         f"{w.rows:,} rows: {why}{more}")
        if len(res.alerting) > MAX_WINDOWS:
            lines.append(f"- … and {len(res.alerting) - MAX_WINDOWS} more window(s) "
                         "(monitor.json)")
        lines.append("")
    perf = [p for p in d["performance"] if p["metric"]]
    if perf:
        lines += ["| model | metric | reference | latest estimate | realised |",
                  "|---|---|---|---|---|"]
        for p in perf:
            est = ("not trustworthy in any window" if p["window"] is None else
                   f"{_num(p['estimate'])} \\[{_num(p['low'])}, {_num(p['high'])}\\] "
                   f"(\\#{p['window']})")
            lines.append(f"| {escape_md(p['model'])} | {escape_md(p['metric'])} | "
                         f"{_num(p['reference'])} | {est} | {_num(p['realised'])} |")
        lines.append("")
    ro = res.rollout
    if ro is not None:
        lines.append(f"**{_GATE.get(ro.mode, 'Rollout')} gate: {ro.decision}** — "
                     f"{escape_md(ro.candidate)} vs {escape_md(ro.production)} in production")
        for r in ro.reasons[:4]:
            lines.append(f"- {escape_md(r)}")
        lines.append("")
    if res.warnings:
        lines.append(f"{len(res.warnings)} warning(s) in monitor.json.")
    return "\n".join(lines).rstrip() + "\n"


def write_digest(res: MonitorResult, markdown: Path) -> tuple[Path, Path]:
    """Write the Markdown digest to ``markdown`` and the JSON digest beside it
    (``.json`` suffix), together and atomically. Returns both paths."""
    from mlscope.atomic import StagedFiles

    js = markdown.with_suffix(".json")
    with StagedFiles(markdown.parent) as staged:
        for name, text in digest_files(res, markdown.name).items():
            staged.put(name, text)
        staged.commit()
    return markdown, js


def digest_files(res: MonitorResult, name: str = "digest.md") -> dict[str, str]:
    """The digest's two files by name: ``name`` (Markdown) and its ``.json`` sibling
    (strict JSON: no NaN or infinity), for a caller that stages them with other files."""
    js = Path(name).with_suffix(".json").name
    return {name: digest_markdown(res),
            js: json.dumps(_clean(digest_json(res)), indent=2, ensure_ascii=False,
                           allow_nan=False) + "\n"}


def _clean(x: Any) -> Any:
    import math

    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x
