"""`mlscope diagnose` prints the metric focus and its proposed rule, the training-history
findings and the learning curve's data needs (issue 17: they were in the report only)."""

from __future__ import annotations

from types import SimpleNamespace

from rich.console import Console

from mlscope.report.terminal_diagnosis import diagnosis_extras


def _text(d: SimpleNamespace, width: int = 80) -> str:
    con = Console(record=True, width=width)
    for part in diagnosis_extras(d):
        con.print(part)
    return con.export_text()


def test_focus_history_and_curve_are_printed() -> None:
    d = SimpleNamespace(
        history={"source": "training log of gbdt", "findings": [
            {"ok": False, "severity": "warning", "message": "validation loss turns up at step 40"},
            {"ok": True, "message": "no divergence"}]},
        learning_curve={"needed": {"note": "about 12,000 more rows reach roc_auc 0.8"},
                        "nines": [{"target": "error 1%", "n": 40000, "reachable": True},
                                  {"target": "error 0.1%", "n": None, "reachable": False}]},
        focus={"rows": [{"metric": "latency_p95", "op": "<=", "target": 50,
                         "best_model": "gbdt", "distance": -3.0, "role": "constraint",
                         "reason": "every model meets it"}],
               "proposed_rule": {"rule": "satisficing", "optimize": "roc_auc",
                                 "constraints": {"latency_p95": "<= 50"}},
               "notes": ["a budget met by all is a constraint"]})
    out = _text(d)
    assert "! validation loss turns up at step 40" in out
    assert "✓ no divergence" in out
    assert "about 12,000 more rows reach roc_auc 0.8" in out
    assert "error 1%: 40,000 rows" in out
    assert "error 0.1%: out of reach on this curve" in out
    assert "latency_p95 <= 50: constraint (best gbdt, met, 3 to spare)" in out
    assert ('proposed rule: selection: {rule: satisficing, optimize: roc_auc, constraints: '
            '{latency_p95: "<= 50"}}') in " ".join(out.split())
    assert all(len(line) <= 80 for line in out.splitlines())


def test_nothing_when_the_diagnosis_has_none_of_them() -> None:
    assert _text(SimpleNamespace(history=None, learning_curve=None, focus=None)) == ""
