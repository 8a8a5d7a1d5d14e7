"""The report's analysis panels: differences between models and their comparison, the
diagnosis, and the confusion matrices.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from mlscope.report.cells import (
    Cell,
    Row,
    Table,
    key_metrics,
    metric_label,
    percent,
    signed,
)
from mlscope.report.charts import (
    difference_chart,
    format_value,
    gap_chart,
)
from mlscope.report.diagnosis_charts import history_chart, learning_curve_chart
from mlscope.report.terminal_diagnosis import rule_label, rule_yaml
from mlscope.report.verdict import is_check
from mlscope.result import OVERALL, EvaluationResult

__all__ = [
    "comparison_panel",
    "confusion_panel",
    "diagnosis_panel",
    "differences_table",
    "paired_methods",
]


def differences_table(result: EvaluationResult, dec: dict[str, int],
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
            interval = (f"[{signed(d.lower, dd)}, {signed(d.upper, dd)}]"
                        if d.lower is not None and d.upper is not None else "")
            title = {"sig-better": f"clearly better than {reference}",
                     "sig-worse": f"clearly worse than {reference}"}.get(
                css, "the interval includes 0: not distinguishable")
            if d.p_value is not None:
                title += f"; p = {d.p_value:.3g} ({_TEST_NAMES.get(d.test, d.test)})"
            cells.append(Cell(signed(d.value, dd), interval, sort=repr(d.value), css=css,
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


def comparison_panel(result: EvaluationResult, dec: dict[str, int]) -> dict[str, Any] | None:
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
    table = (differences_table(result, dec, reference, split=split)
             if reference != result.winner else None)
    conf = result.selection.confidence if result.selection else None
    confidence = None
    if conf is not None and conf.resamples:
        shares = sorted(((m, v) for m, v in conf.chosen.items() if v > 0),
                        key=lambda p: -p[1])
        confidence = {
            "flips": percent(conf.flips) if conf.flips is not None else "",
            "runner_up": conf.runner_up or "",
            "resamples": f"{conf.resamples:,}",
            "shares": [{"model": m, "pct": percent(v), "width": f"{v * 100:.1f}",
                        "winner": m == result.winner} for m, v in shares],
            "none": " · ".join(f"{label} in {percent(share)}"
                               for label, share in conf.no_winner_parts()),
            "none_width": f"{conf.no_decision * 100:.1f}",
            "constraints": [
                {"model": m, "text": ", ".join(f"{k} {percent(v)}" for k, v in d.items())}
                for m, d in conf.constraints.items() if any(v < 0.95 for v in d.values())
                and conf.chosen.get(m, 0) > 0],
        }
    check = None
    if c is not None:
        from mlscope.compare.check import verdict_lines

        check = {"passed": c.passed, "lines": verdict_lines(c), "candidate": c.candidate,
                 "blessed": c.blessed, "split": c.split, "decides": is_check(result),
                 "exit_code": c.exit_code, "keep": c.keep}
    methods = paired_methods({d.test for d in result.differences
                              if d.reference == reference and d.split == split})
    return {"reference": reference, "blessed": blessed is not None, "split": split,
            "charts": charts, "table": table, "confidence": confidence, "check": check,
            "methods": methods}


def paired_methods(tests: set[str]) -> str:
    """How the paired intervals shown were made, naming only the tests used (a regression
    report said "DeLong for ROC AUC, McNemar for accuracy" with neither metric)."""
    parts = []
    if "delong" in tests:
        parts.append("DeLong for ROC AUC")
    if "mcnemar" in tests:
        parts.append("McNemar for accuracy")
    if "unpaired" in tests:
        parts.append("the candidate's own interval against a stored value")
    if tests - {"delong", "mcnemar", "unpaired"}:
        parts.append("the paired bootstrap" + (" otherwise" if parts else ""))
    return ", ".join(parts) or "the paired bootstrap"


def diagnosis_panel(result: EvaluationResult, dec: dict[str, int]) -> dict[str, Any] | None:
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
    gaps = [{"label": g.label, "value": signed(g.value, d) if g.value is not None else "—",
             "interval": (f"[{signed(g.lower, d)}, {signed(g.upper, d)}]"
                          if g.lower is not None and g.upper is not None else ""),
             "counts": g.counts, "bottleneck": g.name == dg.bottleneck,
             "reason": g.reason} for g in dg.gaps]
    # A binary model's slice is compared with its value at the slice's base rate: that is
    # what "worse by" is measured from, so that is the column shown.
    weak = [{"slice": w.slice, "n": f"{w.n_rows:,}", "value": format_value(w.value, d),
             "overall": format_value(w.expected if w.expected is not None else w.overall,
                                     d), "gap": signed(w.gap, d),
             "harm": f"{w.harm:.3g}", "p": f"{w.adjusted_p:.2g}"}
            for w in dg.weak_slices if w.significant][:12]
    errors = None
    if dg.errors:
        e = dg.errors
        errors = {
            "threshold": f"{e['threshold']:.3g}", "split": e["split"],
            "fp": f"{e['false_positives']:,} of {e['negatives']:,}",
            "fn": f"{e['false_negatives']:,} of {e['positives']:,}",
            "fp_rate": percent(e["fp_rate"]) if e.get("fp_rate") is not None else "—",
            "fn_rate": percent(e["fn_rate"]) if e.get("fn_rate") is not None else "—",
            "fp_examples": e.get("fp_examples", []), "fn_examples": e.get("fn_examples", []),
        }
    bottleneck = next((g["label"] for g in gaps if g["bottleneck"]), None)
    return {
        "model": dg.model, "metric": dg.metric, "label": metric_label(result, dg.metric),
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
            "rule": rule_yaml(rule) if rule else "", "rule_label": rule_label(f),
        }
    return out


def confusion_panel(result: EvaluationResult) -> dict[str, Any] | None:
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
    # Wide enough for every class: a 10-class matrix in a column sized for three classes
    # showed d0–d5 and hid the rest behind a scroll bar (digits QA). Past six classes the
    # cells are compact (the count moves to the cell's tooltip).
    k = max((len(c.classes) for c in mats), default=0)
    compact = k > 6
    cell = 40 if compact else 58
    return {"split": split, "matrices": out, "compact": compact,
            "min_width": 96 + cell * (k + 1)}
