"""The launch verdict as every renderer leads with it: "Should we ship?".

:func:`launch_view` is the HTML report's and the dashboard's first panel (the verdict, its
reasons with their figures, the requirements of every candidate and baseline, and room
for the sections other stages add: costs, guarantees, scope); :func:`launch_text` the
terminal's first lines; :func:`launch_exit_meaning` what the exit code means under it.
After ``mlscope check`` the check's verdict leads and decides the exit code
(:mod:`mlscope.report.verdict`); the launch verdict follows it and states none.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from mlscope.report.charts import format_value
from mlscope.report.templating import template
from mlscope.report.verdict import is_check
from mlscope.result import EvaluationResult, Verdict
from mlscope.result.verdict import RECOMMENDING, model_role

__all__ = ["ANSWERS", "SECTION_TITLES", "launch_exit_meaning", "launch_html", "launch_text",
           "launch_view", "verdict_role"]

ANSWERS: dict[str, str] = {
    "ship": "Ship {model}",
    "keep_production": "Keep {model}",
    "ship_rule": "Ship {model}",
    "not_good_enough": "Not good enough",
    "undecided": "Undecided",
}
"""The short answer per verdict kind (the panel's big line)."""


def verdict_role(v: Verdict) -> tuple[str, str, bool] | None:
    """How a table marks the verdict's model: ``(legend text, short role, recommended)``;
    None when the verdict names no model.

    Parameters
    ----------
    v
        The launch verdict.
    """
    if v.model is None or v.kind == "undecided" or (
            v.kind == "not_good_enough" and v.nearest is None):
        # Undecided: its model is the rule's pick, already marked as the selected model
        # (it need not lead on the verdict's split: "ahead" was wrong there). Likewise a
        # selected model that beats no trivial or must_beat baseline: it is no "nearest to
        # the requirements" (with none in the charter, that read as nonsense).
        return None
    # Only the launch verdicts recommend their model: marking the nearest to the
    # requirements (not good enough) "chosen" contradicted the verdict.
    if v.kind in RECOMMENDING:
        return "the verdict's choice", "recommended", True
    short = {"not_good_enough": "nearest"}.get(v.kind, "named")
    return model_role(v.kind), short, False


# Optional sections other stages add to ``Verdict.sections``, in the order shown; a key
# not listed here is shown after them under its own name.
SECTION_TITLES: dict[str, str] = {
    "costs": "Costs",
    "guarantees": "Guarantees",
    "human_in_the_loop": "Human in the loop",
    "scope": "Scope",
}

_CSS = {"ship": "ok", "keep_production": "ok", "ship_rule": "ok",
        "not_good_enough": "bad", "undecided": "none"}


def launch_exit_meaning(result: EvaluationResult) -> str:
    """What ``result.exit_code`` means under the launch verdict (docs/cli.md)."""
    v = result.verdict
    if v is None:
        return ("a model was selected and meets every requirement; a CI step passes"
                if result.exit_code == 0 else
                "no model could be selected, or the selected model misses a requirement; "
                "a CI step fails")
    none = not result.requirements  # "meets every requirement" would be vacuous
    if v.kind in ("ship", "keep_production", "ship_rule"):
        if none:
            return (f"the verdict recommends {v.model}; the charter sets no requirements; "
                    "a CI step passes")
        return f"the verdict recommends {v.model}, which meets every requirement; a CI step passes"
    if v.kind == "not_good_enough":
        if v.nearest is None and v.model is not None:
            return "not good enough: the verdict recommends nothing; a CI step fails"
        return "nothing the verdict could recommend meets every requirement; a CI step fails"
    if result.exit_code == 0:
        if none:
            return "undecided; the charter sets no requirements, so a CI step passes"
        return ("undecided, but the selected model meets every requirement; a CI step "
                "passes")
    return "undecided, and the selected model misses a requirement; a CI step fails"


def _sections(v: Verdict) -> list[dict[str, Any]]:
    keys = [k for k in SECTION_TITLES if v.sections.get(k)]
    keys += [k for k in v.sections if k not in SECTION_TITLES and v.sections[k]]
    return [{"key": k, "title": SECTION_TITLES.get(k, k.replace("_", " ").capitalize()),
             "lines": list(v.sections[k])} for k in keys]


def _requirement_table(result: EvaluationResult, v: Verdict,
                       dec: dict[str, int]) -> dict[str, Any] | None:
    if not v.requirements:
        return None
    # Keyed by label: a metric required overall and in a slice is two columns.
    metrics = list(dict.fromkeys(r.label for r in v.requirements))
    bounds = {r.label: r.bound for r in v.requirements}
    ids = {r.label: r.metric for r in v.requirements}
    kinds = {m.name: (m.family or "baseline") if m.kind == "baseline" else "candidate"
             for m in result.models}
    blessed = result.charter.get("blessed") if isinstance(result.charter, dict) else None
    mark = verdict_role(v)
    by: dict[str, dict[str, Any]] = {}
    for r in v.requirements:
        by.setdefault(r.model, {})[r.label] = r
    rows = []
    for model, checks in by.items():
        role = kinds.get(model, "")
        if model == blessed:
            role = "production"
        if model == result.winner:
            role += " · selected"
        if mark is not None and model == v.model:
            role += f" · {mark[1]}"
        cells = []
        for mid in metrics:
            rc = checks.get(mid)
            d = dec.get(ids[mid], 3)
            if rc is not None and rc.decided_on == "bound" and rc.certified is not None:
                # Decided on its bound: that is the figure the ✓ or ✗ is about ("0.723 ✗"
                # under ">= 0.65" read as a contradiction); the point beside it.
                cells.append({"text": format_value(rc.certified, d), "met": rc.met,
                              "note": f"bound; point {format_value(rc.value, d)}"})
                continue
            cells.append({"text": format_value(rc.value if rc else None, d),
                          "met": bool(rc and rc.met), "note": ""})
        rows.append({"model": model, "role": role, "cells": cells,
                     "meets": all(c["met"] for c in cells),
                     "chosen": model == v.model and mark is not None and mark[2],
                     "named": model == v.model and mark is not None and not mark[2]})
    return {"metrics": metrics, "bounds": [bounds[m] for m in metrics], "rows": rows,
            "split": v.split}


def launch_view(result: EvaluationResult,
                dec: dict[str, int] | None = None) -> dict[str, Any] | None:
    """The "Should we ship?" panel: None for a result written before the verdict."""
    v = result.verdict
    if v is None:
        return None
    check = is_check(result)
    return {
        "kind": v.kind,
        "answer": ANSWERS.get(v.kind, v.kind).format(model=v.model),
        "css": _CSS.get(v.kind, "none"),
        "headline": v.headline,
        "reasons": [r.text for r in v.reasons],
        "table": _requirement_table(result, v, dec or {}),
        "sections": _sections(v),
        # After `check` the check's verdict states the one exit code (the report shows
        # its box above this panel, the dashboard below).
        "exit_code": None if check else result.exit_code,
        "exit_meaning": launch_exit_meaning(result),
        "after_check": check,
    }


def launch_text(result: EvaluationResult) -> list[str]:
    """The terminal's first lines: the verdict's headline, then its reasons."""
    v = result.verdict
    if v is None:
        return []
    lines = [f"Verdict: {v.headline}"]
    lines += [f"  · {r.text}" for r in v.reasons]
    for s in _sections(v):
        lines.append(f"  {s['title']}:")
        lines += [f"    {line}" for line in s["lines"]]
    return lines


def launch_html(result: EvaluationResult, dec: dict[str, int] | None = None) -> Markup:
    """The "Should we ship?" panel as HTML (``templates/verdict.html.j2``): the report's
    and the dashboard's first card; empty for a result written before the verdict."""
    view = launch_view(result, dec)
    if view is None:
        return Markup("")
    return Markup(template("verdict.html.j2").render(v=view))
