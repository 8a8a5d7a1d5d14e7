"""Which metric to work on now: the classic pose-estimation case and its variations."""

from __future__ import annotations

import pytest

from mlscope.diagnose.focus import Focus, metric_focus
from mlscope.errors import InputError

POSE_VALUES = {
    "resnet": {"position_error": 0.97, "angular_error": 61.0, "inference_ms": 50.0},
    "hrnet": {"position_error": 1.02, "angular_error": 58.0, "inference_ms": 45.0},
    "vit": {"position_error": 1.05, "angular_error": 63.0, "inference_ms": 52.0},
}
POSE_REQ = {"position_error": ("<=", 1.0), "angular_error": ("<=", 5.0),
            "inference_ms": ("<=", 30.0)}
POSE_DIR = {"position_error": "lower", "angular_error": "lower", "inference_ms": "lower"}


def pose(**kw: object) -> Focus:
    return metric_focus(POSE_VALUES, POSE_REQ, POSE_DIR, budgets={"inference_ms"}, **kw)


def test_classic_pose_case() -> None:
    f = pose()
    assert f.optimize == "angular_error"
    assert f.proposed_rule == {"rule": "satisficing", "optimize": "angular_error",
                               "constraints": {"position_error": "<= 1"}}
    roles = {r.metric: r.role for r in f.rows}
    assert roles == {"position_error": "threshold", "angular_error": "optimize",
                     "inference_ms": "set aside"}
    ang = f.row("angular_error")
    assert (ang.best_model, ang.best_value) == ("hrnet", 58.0)
    assert ang.distance == pytest.approx(53.0)
    assert ang.relative == pytest.approx(53.0 / 5.0)
    assert ang.spread == pytest.approx(5.0)
    assert ang.spreads == pytest.approx(10.6)
    assert ang.met is False
    assert "10.6 spreads" in ang.reason
    pos = f.row("position_error")
    assert pos.met is True
    assert pos.best_model == "resnet"
    assert pos.distance == pytest.approx(-0.03)
    assert pos.spreads == pytest.approx(-0.03 / 0.08)
    inf = f.row("inference_ms")
    assert inf.budget
    assert inf.distance == pytest.approx(15.0)
    assert "optimize quality first" in inf.reason
    assert f.eligible == ["resnet"]
    assert not f.all_met


def test_budget_met_is_a_constraint() -> None:
    values = {m: {**v, "inference_ms": v["inference_ms"] - 20} for m, v in POSE_VALUES.items()}
    f = metric_focus(values, POSE_REQ, POSE_DIR, budgets=["inference_ms"])
    assert f.row("inference_ms").role == "threshold"
    assert f.proposed_rule["constraints"] == {"position_error": "<= 1",
                                              "inference_ms": "<= 30"}


def test_budget_binds_once_quality_is_close() -> None:
    values = {"a": {"angular_error": 4.8, "inference_ms": 45.0},
              "b": {"angular_error": 5.3, "inference_ms": 50.0}}
    f = metric_focus(values, {"angular_error": "<= 5", "inference_ms": "<= 30"},
                     POSE_DIR, budgets={"inference_ms": "operational"})
    assert f.optimize == "inference_ms"
    assert f.row("angular_error").role == "threshold"
    assert "now binds" in f.row("inference_ms").reason


def test_every_requirement_met_keeps_the_current_rule() -> None:
    values = {"a": {"accuracy": 0.95, "recall": 0.86}, "b": {"accuracy": 0.93, "recall": 0.9}}
    f = metric_focus(values, {"accuracy": (">=", 0.9), "recall": (">=", 0.8)},
                     {"accuracy": "higher", "recall": "higher"})
    assert f.all_met
    assert "keep the current selection rule" in f.notes[0]
    # Smallest relative margin: accuracy 0.05/0.9 = 5.6% vs recall 0.10/0.8 = 12.5%.
    assert f.optimize == "accuracy"
    assert f.proposed_rule["constraints"] == {"recall": ">= 0.8"}
    assert f.eligible == ["a", "b"]


def test_higher_is_better_metrics() -> None:
    values = {"a": {"accuracy": 0.82, "recall": 0.50}, "b": {"accuracy": 0.85, "recall": 0.55},
              "c": {"accuracy": 0.86, "recall": 0.60}}
    f = metric_focus(values, {"accuracy": (">=", 0.9), "recall": (">", 0.8)},
                     {"accuracy": "higher", "recall": "higher"})
    acc, rec = f.row("accuracy"), f.row("recall")
    assert (acc.best_model, acc.best_value) == ("c", 0.86)
    assert acc.distance == pytest.approx(0.04)  # positive: still to go
    assert acc.spreads == pytest.approx(1.0)  # within one spread: close
    assert rec.spreads == pytest.approx(2.0)
    assert f.optimize == "recall"
    # Close, but no candidate meets it: a constraint would select nothing, so set aside.
    assert acc.role == "set aside"
    assert "would select nothing" in acc.reason
    assert f.proposed_rule["constraints"] == {}
    assert f.eligible == ["a", "b", "c"]


def test_one_model_has_no_spread() -> None:
    values = {"only": {"angular_error": 20.0, "position_error": 1.5, "inference_ms": 40.0}}
    f = metric_focus(values, POSE_REQ, POSE_DIR, budgets={"inference_ms"})
    for r in f.rows:
        assert r.spread == 0
        assert r.spreads is None
        assert r.n_models == 1
    # Relative gaps: angular 300%, position 50%: angular first.
    assert f.optimize == "angular_error"
    assert f.row("position_error").role == "monitor"
    assert f.row("inference_ms").role == "set aside"
    assert "one candidate" in f.row("angular_error").reason


def test_tiny_relative_gap_is_close_whatever_the_spread() -> None:
    values = {"a": {"accuracy": 0.8990}, "b": {"accuracy": 0.8989}}
    f = metric_focus(values, {"accuracy": (">=", 0.9)}, {"accuracy": "higher"})
    r = f.row("accuracy")
    assert r.spreads == pytest.approx(10.0)
    # 10 spreads, but 0.1% of the target: close (the only metric missed, so optimized).
    assert r.role == "optimize"
    assert "close: within reach" in r.reason


def test_undefined_values_are_skipped_with_a_note() -> None:
    values = {"a": {"recall": None, "precision": 0.7}, "b": {"recall": 0.6, "precision": 0.5},
              "c": {"recall": float("nan"), "precision": 0.6}}
    f = metric_focus(values, {"recall": (">=", 0.8), "precision": (">=", 0.65),
                              "f1": (">=", 0.7)},
                     {"recall": "higher", "precision": "higher", "f1": "higher"})
    rec = f.row("recall")
    assert rec.n_models == 1
    assert rec.best_model == "b"
    assert "recall: undefined for a, c (skipped)." in f.notes
    f1 = f.row("f1")
    assert f1.role == "monitor"
    assert f1.best_value is None
    assert "no candidate has a value" in f1.reason
    assert f.optimize == "recall"


def test_second_far_quality_metric_is_monitored() -> None:
    values = {"a": {"x": 10.0, "y": 20.0}, "b": {"x": 12.0, "y": 21.0}}
    f = metric_focus(values, {"x": "<= 1", "y": "<= 15"}, {"x": "lower", "y": "lower"})
    # x: 9 to go / spread 2 = 4.5 spreads; y: 5 / 1 = 5 spreads.
    assert f.optimize == "y"
    assert f.row("x").role == "monitor"
    assert f.proposed_rule["constraints"] == {}


def test_bad_requirements_and_directions() -> None:
    with pytest.raises(InputError, match="requirement on `x`"):
        metric_focus({"a": {"x": 1.0}}, {"x": ("=>", 1.0)}, {"x": "lower"})
    with pytest.raises(InputError, match=r"direction of `latency`.*did you mean `latncy`"):
        metric_focus({"a": {"latency": 1.0}}, {"latency": "<= 1"}, {"latncy": "lower"})
    with pytest.raises(InputError, match="got 'down'"):
        metric_focus({"a": {"x": 1.0}}, {"x": "<= 1"}, {"x": "down"})


def test_no_requirements() -> None:
    f = metric_focus({"a": {"x": 1.0}}, {}, {})
    assert f.rows == []
    assert f.optimize is None
    assert f.proposed_rule == {}


def _selects(f: Focus, values: dict[str, dict[str, float]]) -> list[str]:
    """The candidates the proposed rule's constraints let through, recomputed here."""
    out = []
    for m, mv in values.items():
        ok = True
        for metric, text in f.proposed_rule["constraints"].items():
            op, target = text.split()
            v, t = mv[metric], float(target)
            ok &= {">=": v >= t, "<=": v <= t, ">": v > t, "<": v < t}[op]
        if ok:
            out.append(m)
    return out


def test_close_budget_missed_by_all_while_quality_far_is_set_aside() -> None:
    """Inference 31 ms against 30 ms is within one spread (close), but no candidate meets
    it: thresholding it proposed a rule that would select nothing."""
    values = {m: {**v, "inference_ms": v["inference_ms"] - 14} for m, v in POSE_VALUES.items()}
    f = metric_focus(values, POSE_REQ, POSE_DIR, budgets={"inference_ms"})
    assert f.optimize == "angular_error"
    inf = f.row("inference_ms")
    assert inf.met is False
    assert inf.role == "set aside"
    assert "would select nothing" in inf.reason
    assert f.proposed_rule["constraints"] == {"position_error": "<= 1"}
    assert f.eligible == ["resnet"]
    assert _selects(f, values) == ["resnet"]
    assert any("set aside so that the proposed rule selects" in n for n in f.notes)


def test_constraints_met_but_never_together() -> None:
    """Each constraint is met by a different candidate: the one meeting most (ties: best on
    the optimized metric) keeps its constraints; the rule selects it."""
    values = {"a": {"angular_error": 60.0, "position_error": 0.9, "inference_ms": 40.0},
              "b": {"angular_error": 50.0, "position_error": 1.2, "inference_ms": 20.0}}
    req = {**POSE_REQ, "inference_ms": ("<=", 30.0)}
    f = metric_focus(values, req, POSE_DIR)
    assert f.optimize == "angular_error"
    assert f.proposed_rule["constraints"] == {"inference_ms": "<= 30"}
    assert f.row("position_error").role == "set aside"
    assert "only by a" in f.row("position_error").reason
    assert f.eligible == ["b"]
    assert _selects(f, values) == ["b"]


def test_the_proposed_rule_always_selects_a_candidate() -> None:
    """Over seeded random candidates and targets the proposed constraints let at least one
    candidate through, and `eligible` is exactly those."""
    import numpy as np

    rng = np.random.default_rng(12)
    metrics = ["q1", "q2", "q3", "ms"]
    dirs = {"q1": "higher", "q2": "higher", "q3": "lower", "ms": "lower"}
    for _ in range(300):
        n = int(rng.integers(1, 5))
        values = {f"m{i}": {k: float(rng.uniform(0, 1)) for k in metrics} for i in range(n)}
        req = {k: ((">=" if dirs[k] == "higher" else "<="), float(rng.uniform(0, 1)))
               for k in metrics}
        f = metric_focus(values, req, dirs, budgets={"ms"})
        picked = _selects(f, values)
        assert picked, (values, req, f.proposed_rule)
        assert f.eligible == picked


def test_proposed_rule_is_written_as_the_charter_writes_it() -> None:
    """The terminal and the report printed Python's dict (``constraints: {'cost': '<= 0.05'}``)
    under "proposed rule" even when every requirement was met and the advice was to keep
    the current rule (digits QA). The rule is now YAML to paste under ``selection:``, and
    labelled as the rule to take only if it must change when every requirement is met."""
    import yaml

    from mlscope.charter.schema import SatisficingRule
    from mlscope.report.terminal_diagnosis import rule_label, rule_yaml

    f = pose()
    text = rule_yaml(f.proposed_rule)
    assert text == ('selection: {rule: satisficing, optimize: angular_error, '
                    'constraints: {position_error: "<= 1"}}')
    parsed = yaml.safe_load(text)
    assert parsed == {"selection": f.proposed_rule}
    # A charter's selection takes it as written: the bound stays a bound.
    rule = SatisficingRule.model_validate(parsed["selection"])
    assert rule.optimize == "angular_error"
    assert str(rule.constraints["position_error"]) == "<= 1"
    assert rule_label({"all_met": False}) == "proposed rule"
    assert rule_label({"all_met": True}) == "if the rule must change"
    empty = rule_yaml({"rule": "satisficing", "optimize": "recall", "constraints": {}})
    assert empty == "selection: {rule: satisficing, optimize: recall}"
    assert yaml.safe_load(empty)["selection"]["optimize"] == "recall"
