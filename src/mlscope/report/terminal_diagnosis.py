"""The parts of ``mlscope diagnose``'s terminal output beyond the gaps and steps: the
metric focus and its proposed rule, the training-history findings and the learning
curve's data needs, each in a few plain lines (the report draws their charts)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from rich.padding import Padding
from rich.text import Text

__all__ = ["diagnosis_extras"]


def _indent(t: Text) -> Padding:
    return Padding(t, (0, 0, 0, 2))


def _focus(f: dict[str, Any]) -> list[Text | Padding]:
    out: list[Text | Padding] = [Text("Metric focus", style="bold")]
    for r in f.get("rows") or []:
        if not isinstance(r, dict):
            continue
        dist = r.get("distance")
        state = ("—" if dist is None else f"met, {-dist:.3g} to spare" if dist <= 0
                 else f"{dist:.4g} short")
        best = r.get("best_model") or "—"
        line = Text(f"{r.get('metric')} {r.get('op', '')} {r.get('target', '')}: "
                    f"{r.get('role', '')} (best {best}, {state})")
        out.append(_indent(line))
        if r.get("reason"):
            out.append(_indent(Text(f"  {r['reason']}", style="dim")))
    rule = f.get("proposed_rule") or {}
    if rule:
        out.append(_indent(Text(f"{rule_label(f)}: {rule_yaml(rule)}")))
    out += [_indent(Text(str(n), style="dim")) for n in f.get("notes") or []]
    return out


def rule_label(focus: Mapping[str, Any]) -> str:
    """What the proposed rule is: a proposal, or (every requirement met, the current rule
    kept) only the rule to take if it must change."""
    return "if the rule must change" if focus.get("all_met") else "proposed rule"


def rule_yaml(rule: Mapping[str, Any]) -> str:
    """The proposed rule as the charter writes it, to paste:
    ``selection: {rule: satisficing, optimize: accuracy, constraints: {cost: "<= 0.05"}}``
    (not Python's ``{'cost': '<= 0.05'}``); an empty mapping is left out."""
    def flow(v: Any) -> str:
        if isinstance(v, Mapping):
            return "{" + ", ".join(f"{k}: {flow(x)}" for k, x in v.items()
                                   if not (isinstance(x, Mapping) and not x)) + "}"
        if isinstance(v, list | tuple):
            return "[" + ", ".join(flow(x) for x in v) + "]"
        text = str(v)
        # Quoted where YAML would read it otherwise (a bound's "<=" and ">": any
        # indicator or space), as the docs write bounds.
        return json.dumps(text, ensure_ascii=False) if _PLAIN.fullmatch(text) is None else text
    return "selection: " + flow(rule)


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*|-?[0-9][0-9.eE+\-]*")


def _history(h: dict[str, Any]) -> list[Text | Padding]:
    out: list[Text | Padding] = [Text("Training history", style="bold")]
    if h.get("source"):
        out.append(_indent(Text(str(h["source"]), style="dim")))
    for f in h.get("findings") or []:
        if not isinstance(f, dict):
            continue
        mark, style = (("✓", "green") if f.get("ok") else
                       ("✗", "bold red") if f.get("severity") == "error" else ("!", "yellow"))
        t = Text(f"{mark} ", style=style)
        t.append(str(f.get("message", "")))
        out.append(_indent(t))
    return out


def _curve(lc: dict[str, Any]) -> list[Text | Padding]:
    out: list[Text | Padding] = []
    needed = (lc.get("needed") or {}).get("note")
    if needed:
        out.append(_indent(Text(str(needed))))
    for n in lc.get("nines") or []:
        if not isinstance(n, dict):
            continue
        rows = n.get("n")
        text = (f"{rows:,.0f} rows" if n.get("reachable") and isinstance(rows, int | float)
                else "out of reach on this curve")
        out.append(_indent(Text(f"{n.get('target')}: {text}", style="dim")))
    return out


def diagnosis_extras(d: Any) -> list[Text | Padding]:
    """The lines, in the report's order: history, learning-curve needs, focus."""
    out: list[Text | Padding] = []
    if d.history:
        out += [Text(""), *_history(d.history)]
    if d.learning_curve:
        out += _curve(d.learning_curve)
    if d.focus:
        out += [Text(""), *_focus(d.focus)]
    return out
