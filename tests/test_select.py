"""Selection rules: winners, dropped reasons, ties, directions, Pareto fronts, alternatives."""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict
from typing import Any, Literal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlscope.charter.schema import (
    Charter,
    FormulaRule,
    ParetoRule,
    Rule,
    SatisficingRule,
    WeightedRule,
)
from mlscope.errors import InputError
from mlscope.result import MetricInfo, RuleOutcome
from mlscope.select import (
    DERIVED_NOTE,
    NO_FORMULA_NOTE,
    apply_rule,
    derive_alternatives,
    select,
)
from mlscope.select.common import fmt_pair

Direction = Literal["higher", "lower"]
TableT = dict[str, dict[str, float | None]]

LOWER = {"log_loss", "latency_ms", "brier", "fn_rate", "fp_rate", "cost"}


def info(mid: str, direction: Direction | None = None) -> MetricInfo:
    d: Direction = direction or ("lower" if mid in LOWER else "higher")
    return MetricInfo(id=mid, name=mid, label=mid, direction=d, params={}, description="")


def infos(table: TableT, **directions: Direction) -> dict[str, MetricInfo]:
    ids = {k for row in table.values() for k in row}
    return {k: info(k, directions.get(k)) for k in sorted(ids)}


def satisficing(optimize: str, tie_break: str | None = None, **constraints: str) -> Rule:
    return SatisficingRule.model_validate({"rule": "satisficing", "optimize": optimize,
                                           "constraints": constraints, "tie_break": tie_break})


def charter(selection: dict[str, Any], *, alternatives: list[dict[str, Any]] | None = None,
            requirements: dict[str, str] | None = None,
            splits: dict[str, Any] | None = None) -> Charter:
    return Charter.model_validate({
        "project": "p", "task": "binary", "data": {"table": "eval.parquet"},
        "metrics": ["precision", "recall"], "selection": selection,
        "alternatives": alternatives or [], "requirements": requirements or {},
        "splits": splits or {},
    })


def winner(rule: Rule, table: TableT, **directions: Direction) -> str | None:
    return apply_rule(rule, table, infos(table, **directions)).winner


# -- the classic case: three reasonable rules, three different models ---------------------

CLASSIC: TableT = {
    #        precision, recall; per-class APs for a mAP
    "A": {"precision": 0.90, "recall": 0.80, "ap_a": 0.70, "ap_b": 0.72, "ap_c": 0.68},
    "B": {"precision": 0.70, "recall": 0.92, "ap_a": 0.74, "ap_b": 0.70, "ap_c": 0.75},
    "C": {"precision": 0.60, "recall": 0.95, "ap_a": 0.80, "ap_b": 0.78, "ap_c": 0.82},
}
WEIGHTED_RAW = {"rule": "weighted", "weights": {"precision": 1, "recall": 1}, "scale": "raw"}
SATISFICING = {"rule": "satisficing", "optimize": "precision",
               "constraints": {"recall": ">= 0.9"}}
MAP = {"rule": "formula", "expression": "(ap_a + ap_b + ap_c) / 3", "name": "mAP"}


def test_classic_three_rules_pick_three_different_models() -> None:
    m = infos(CLASSIC)
    w = apply_rule(WeightedRule.model_validate(WEIGHTED_RAW), CLASSIC, m)
    s = apply_rule(SatisficingRule.model_validate(SATISFICING), CLASSIC, m)
    f = apply_rule(FormulaRule.model_validate(MAP), CLASSIC, m)
    # weighted: (p + r) / 2 = A .85, B .81, C .775
    assert w.winner == "A"
    assert [r["model"] for r in w.ranking] == ["A", "B", "C"]
    assert w.ranking[0]["score"] == pytest.approx(0.85)
    # satisficing: A misses recall >= 0.9; B has the better precision of B and C
    assert s.winner == "B"
    assert s.dropped == [{"model": "A", "reasons": ["recall 0.8 misses >= 0.9 by 0.1"]}]
    # mAP: A .70, B .73, C .80
    assert f.winner == "C"
    assert [r["score"] for r in f.ranking] == pytest.approx([0.80, 0.73, 0.70])
    assert len({w.winner, s.winner, f.winner}) == 3


def test_classic_case_through_select() -> None:
    ch = charter(SATISFICING, alternatives=[WEIGHTED_RAW, MAP])
    sel = select(ch, CLASSIC, infos(CLASSIC), split="validation")
    assert sel.primary.winner == "B"
    assert sel.primary.description == "maximize precision subject to recall >= 0.9"
    kinds = [(o.rule, o.configured, o.winner) for o in sel.alternatives]
    # configured alternatives first (in charter order), then the derived pareto
    assert kinds == [("weighted", True, "A"), ("formula", True, "C"), ("pareto", False, None)]
    pareto = sel.alternatives[2]
    assert pareto.note.startswith(DERIVED_NOTE)
    assert pareto.front == ["A", "B", "C"]  # p and r trade off exactly
    assert sel.warnings == []
    json.dumps(asdict(sel), allow_nan=False)  # result.json refuses NaN


# -- satisficing ---------------------------------------------------------------------------


def test_dropped_reasons_text() -> None:
    table: TableT = {
        "A": {"precision": 0.35, "recall": 0.521, "f1": 0.4},
        "B": {"precision": None, "recall": 0.7, "f1": 0.5},
        "C": {"precision": 0.1, "recall": 0.5999, "f1": 0.3},
        "D": {"precision": 0.3, "recall": 0.65, "f1": 0.2},
    }
    out = apply_rule(satisficing("f1", recall=">= 0.6", precision=">= 0.2"), table,
                     infos(table))
    assert out.winner == "D"
    assert out.dropped == [
        {"model": "A", "reasons": ["recall 0.521 misses >= 0.6 by 0.079"]},
        {"model": "B", "reasons": ["precision is undefined: cannot check >= 0.2"]},
        # enough digits that the value does not read as the bound itself
        {"model": "C", "reasons": ["recall 0.5999 misses >= 0.6 by 0.0001",
                                   "precision 0.1 misses >= 0.2 by 0.1"]},
    ]
    assert out.description == "maximize f1 subject to recall >= 0.6 and precision >= 0.2"
    assert [(r["model"], r["eligible"], r["rank"]) for r in out.ranking] == [
        ("D", True, 1), ("B", False, None), ("A", False, None), ("C", False, None)]


def test_strict_bound_met_exactly_is_a_miss() -> None:
    table: TableT = {"A": {"precision": 0.5, "recall": 0.6}, "B": {"precision": 0.4,
                                                                   "recall": 0.7}}
    out = apply_rule(satisficing("precision", recall="> 0.6"), table, infos(table))
    assert out.winner == "B"
    assert out.dropped[0]["reasons"] == ["recall 0.6 misses > 0.6 (it equals the bound)"]


def test_no_eligible_model() -> None:
    table: TableT = {
        "A": {"precision": 0.9, "recall": 0.50, "roc_auc": 0.90},
        "B": {"precision": 0.8, "recall": 0.58, "roc_auc": 0.70},
        "C": {"precision": 0.7, "recall": 0.85, "roc_auc": 0.60},
    }
    out = apply_rule(satisficing("precision", recall=">= 0.6", roc_auc=">= 0.75"), table,
                     infos(table))
    assert out.winner is None
    assert out.tied == []
    assert all(not r["eligible"] and r["rank"] is None for r in out.ranking)
    assert {d["model"] for d in out.dropped} == {"A", "B", "C"}
    # every model misses one constraint; A's miss (0.1 of recall) is the smallest
    assert out.note == ("no model meets every constraint; the closest is A: "
                        "recall 0.5 misses >= 0.6 by 0.1")


def test_eligible_model_with_undefined_objective_cannot_win() -> None:
    table: TableT = {"A": {"precision": None, "recall": 0.9},
                     "B": {"precision": 0.4, "recall": 0.3}}
    out = apply_rule(satisficing("precision", recall=">= 0.5"), table, infos(table))
    assert out.winner is None
    assert out.dropped[0] == {"model": "A",
                              "reasons": ["precision is undefined: cannot rank on it"]}
    assert "undefined" in out.note


def test_non_finite_values_are_not_used() -> None:
    table: TableT = {"A": {"log_loss": float("inf")}, "B": {"log_loss": float("nan")},
                     "C": {"log_loss": 0.7}}
    out = apply_rule(satisficing("log_loss"), table, infos(table))
    assert out.winner == "C"
    reasons = {d["model"]: d["reasons"] for d in out.dropped}
    assert reasons == {"A": ["log_loss is not finite (inf): cannot rank on it"],
                       "B": ["log_loss is undefined: cannot rank on it"]}


# -- directions come from MetricInfo -------------------------------------------------------


def test_lower_is_better_metrics_follow_their_direction() -> None:
    table: TableT = {
        "fast": {"log_loss": 0.40, "latency_ms": 20.0, "recall": 0.70},
        "mid": {"log_loss": 0.30, "latency_ms": 90.0, "recall": 0.75},
        "slow": {"log_loss": 0.25, "latency_ms": 400.0, "recall": 0.80},
    }
    m = infos(table)
    assert m["log_loss"].direction == "lower"
    sat = satisficing("log_loss", latency_ms="<= 100")
    out = apply_rule(sat, table, m)
    assert out.winner == "mid"
    assert out.description == "minimize log_loss subject to latency_ms <= 100"
    assert out.dropped[0]["reasons"] == ["latency_ms 400 misses <= 100 by 300"]
    assert [r["model"] for r in out.ranking] == ["mid", "fast", "slow"]

    raw = WeightedRule(rule="weighted", weights={"log_loss": 1.0, "recall": 1.0}, scale="raw")
    # raw: (-log_loss + recall) / 2 -> fast .15, mid .225, slow .275
    assert apply_rule(raw, table, m).winner == "slow"
    assert "log_loss negated" in apply_rule(raw, table, m).description
    # minmax on latency alone: the fastest is best
    lat = WeightedRule(rule="weighted", weights={"latency_ms": 1.0})
    scores = {r["model"]: r["score"] for r in apply_rule(lat, table, m).ranking}
    assert scores["fast"] == 1.0
    assert scores["slow"] == 0.0

    # The same numbers with the directions flipped in MetricInfo flip the choice:
    flipped = infos(table, log_loss="higher", latency_ms="lower")
    assert apply_rule(satisficing("log_loss", latency_ms="<= 100"), table,
                      flipped).winner == "fast"
    formula = FormulaRule(rule="formula", expression="log_loss + latency_ms / 1000",
                          direction="lower")
    assert apply_rule(formula, table, m).winner == "mid"  # .42, .39, .65
    assert apply_rule(formula.model_copy(update={"direction": "higher"}), table,
                      m).winner == "slow"


def test_pareto_uses_directions() -> None:
    table: TableT = {
        "A": {"recall": 0.8, "latency_ms": 50.0},
        "B": {"recall": 0.8, "latency_ms": 30.0},
        "C": {"recall": 0.9, "latency_ms": 80.0},
        "D": {"recall": 0.7, "latency_ms": 90.0},
    }
    rule = ParetoRule(rule="pareto", metrics=["recall", "latency_ms"])
    out = apply_rule(rule, table, infos(table))
    assert out.front == ["B", "C"]
    assert out.winner is None
    assert out.tied == ["B", "C"]
    reasons = {d["model"]: d["reasons"] for d in out.dropped}
    assert reasons["A"] == ["dominated by B (better on latency_ms)"]
    assert reasons["D"] == ["dominated by B (better on recall, latency_ms)",
                            "dominated by C (better on recall, latency_ms)"]
    assert [(r["model"], r["eligible"]) for r in out.ranking] == [
        ("B", True), ("C", True), ("A", False), ("D", False)]
    # with latency taken as higher-is-better the front changes
    up = apply_rule(rule, table, infos(table, latency_ms="higher"))
    assert up.front == ["C", "D"]


def test_pareto_single_front_member_wins_and_tie_break_picks_within_front() -> None:
    table: TableT = {"A": {"p": 0.9, "r": 0.9, "auc": 0.7}, "B": {"p": 0.8, "r": 0.8,
                                                                 "auc": 0.9}}
    out = apply_rule(ParetoRule(rule="pareto", metrics=["p", "r"]), table, infos(table))
    assert out.winner == "A"
    assert out.front == ["A"]
    assert out.tied == []

    table["B"]["r"] = 0.95
    tb = ParetoRule(rule="pareto", metrics=["p", "r"], tie_break="auc")
    out = apply_rule(tb, table, infos(table))
    assert out.front == ["A", "B"]
    assert out.winner == "B"
    assert out.tied == ["A", "B"]
    assert "tie was broken by `tie_break: auc`" in out.note
    assert out.ranking[0]["model"] == "B"
    assert out.description.endswith("; ties broken by auc")


def _brute_front(points: dict[str, tuple[float, ...]], signs: tuple[int, ...]) -> set[str]:
    def dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
        oa = [s * x for s, x in zip(signs, a, strict=True)]
        ob = [s * x for s, x in zip(signs, b, strict=True)]
        return all(x >= y for x, y in zip(oa, ob, strict=True)) and oa != ob

    return {m for m, p in points.items()
            if not any(dominates(q, p) for o, q in points.items() if o != m)}


@settings(max_examples=200, deadline=None)
@given(
    n_metrics=st.integers(2, 4),
    n_models=st.integers(1, 8),
    directions=st.lists(st.sampled_from(["higher", "lower"]), min_size=4, max_size=4),
    data=st.data(),
)
def test_pareto_front_matches_brute_force(n_metrics: int, n_models: int,
                                          directions: list[Direction],
                                          data: st.DataObject) -> None:
    names = [f"m{i}" for i in range(n_metrics)]
    models = [f"model{j}" for j in range(n_models)]
    grid = st.integers(0, 4).map(lambda k: k / 4)  # a coarse grid: exact ties are common
    points = {m: tuple(data.draw(grid) for _ in names) for m in models}
    table: TableT = {m: dict(zip(names, p, strict=True)) for m, p in points.items()}
    metrics = {k: info(k, directions[i]) for i, k in enumerate(names)}
    out = apply_rule(ParetoRule(rule="pareto", metrics=names), table, metrics)
    signs = tuple(1 if directions[i] == "higher" else -1 for i in range(n_metrics))
    expected = _brute_front(points, signs)
    assert set(out.front) == expected
    assert out.front == [m for m in models if m in expected]  # table order
    assert (out.winner is not None) == (len(expected) == 1)
    assert {d["model"] for d in out.dropped} == set(models) - expected
    for d in out.dropped:  # each named dominator is on the front and really dominates
        for reason in d["reasons"]:
            dom = reason.removeprefix("dominated by ").split(" ")[0]
            assert dom in expected
            assert _brute_front({dom: points[dom], d["model"]: points[d["model"]]},
                                signs) == {dom}


# -- weighted ------------------------------------------------------------------------------


def test_weighted_minmax_and_rank_scales() -> None:
    table: TableT = {
        "A": {"auc": 0.90, "latency_ms": 100.0},
        "B": {"auc": 0.80, "latency_ms": 10.0},
        "C": {"auc": 0.85, "latency_ms": 10.0},
    }
    m = infos(table)
    mm = apply_rule(WeightedRule(rule="weighted", weights={"auc": 3, "latency_ms": 1}),
                    table, m)
    # auc -> A 1, B 0, C .5; latency -> A 0, B 1, C 1; score = (3 auc + lat) / 4
    scores = {r["model"]: r["score"] for r in mm.ranking}
    assert scores == pytest.approx({"A": 0.75, "B": 0.25, "C": 0.625})
    assert mm.winner == "A"

    rk = apply_rule(WeightedRule(rule="weighted", weights={"auc": 1, "latency_ms": 1},
                                 scale="rank"), table, m)
    # auc ranks A 1, C 2, B 3 -> 1, .5, 0; latency B and C tie for ranks 1-2 (1.5) -> .75
    scores = {r["model"]: r["score"] for r in rk.ranking}
    assert scores == pytest.approx({"A": 0.5, "B": 0.375, "C": 0.625})
    assert rk.winner == "C"


def test_weighted_minmax_all_equal_gives_one() -> None:
    table: TableT = {"A": {"auc": 0.8, "ap": 0.5}, "B": {"auc": 0.8, "ap": 0.4}}
    out = apply_rule(WeightedRule(rule="weighted", weights={"auc": 1, "ap": 1}), table,
                     infos(table))
    assert {r["model"]: r["score"] for r in out.ranking} == {"A": 1.0, "B": 0.5}


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 500)), min_size=2, max_size=6),
    scale=st.sampled_from([1e-3, 0.5, 3.0, 1e3]),
    shift=st.integers(-1000, 1000),
)
def test_weighted_minmax_invariant_to_affine_rescaling(values: list[tuple[float, int]],
                                                       scale: float, shift: int) -> None:
    # e.g. latency in ms -> s, plus an offset: the same scores, so the same choice
    table: TableT = {f"m{i}": {"auc": a, "latency_ms": float(t)}
                     for i, (a, t) in enumerate(values)}
    rescaled: TableT = {m: {"auc": a, "latency_ms": scale * t + shift}
                        for m, (a, t) in zip(table, values, strict=True)}
    rule = WeightedRule(rule="weighted", weights={"auc": 2, "latency_ms": 1})
    a = apply_rule(rule, table, infos(table))
    b = apply_rule(rule, rescaled, infos(rescaled))
    sa = {r["model"]: r["score"] for r in a.ranking}
    sb = {r["model"]: r["score"] for r in b.ranking}
    assert sb == pytest.approx(sa, abs=1e-9)


def test_weighted_drops_model_with_undefined_weighted_metric() -> None:
    table: TableT = {"A": {"auc": 0.9, "ap": None, "brier": None},
                     "B": {"auc": 0.8, "ap": 0.5, "brier": 0.2},
                     "C": {"auc": 0.7, "ap": 0.6, "brier": 0.1}}
    rule = WeightedRule(rule="weighted", weights={"auc": 1, "ap": 2, "brier": 0})
    out = apply_rule(rule, table, infos(table))
    assert out.dropped == [{"model": "A",
                            "reasons": ["ap is undefined (weight 2): cannot score it"]}]
    # scaled across B and C only: B auc 1 ap 0 -> 1/3; C auc 0 ap 1 -> 2/3
    assert out.winner == "C"
    assert out.ranking[-1] == {"model": "A", "score": None, "eligible": False, "rank": None}
    # a zero weight does not drop a model when its metric is undefined
    assert not any("brier" in r for d in out.dropped for r in d["reasons"])


def test_weighted_rejects_negative_weights() -> None:
    table: TableT = {"A": {"auc": 0.9}}
    with pytest.raises(InputError, match="non-negative"):
        apply_rule(WeightedRule(rule="weighted", weights={"auc": -1}), table, infos(table))


# -- formula -------------------------------------------------------------------------------


def test_formula_expected_cost_lower_is_better_and_undefined_inputs() -> None:
    table: TableT = {
        "A": {"fn_rate": 0.10, "fp_rate": 0.30},  # 0.8
        "B": {"fn_rate": 0.05, "fp_rate": 0.40},  # 0.65
        "C": {"fn_rate": None, "fp_rate": 0.01},
        "D": {"fn_rate": 0.20, "fp_rate": 0.00},  # 1.0
    }
    rule = FormulaRule(rule="formula", expression="5 * fn_rate + fp_rate", direction="lower",
                       name="cost")
    out = apply_rule(rule, table, infos(table))
    assert out.winner == "B"
    assert [r["model"] for r in out.ranking] == ["B", "A", "D", "C"]
    assert out.dropped == [{"model": "C",
                            "reasons": ["fn_rate is undefined: cannot compute cost"]}]
    assert out.description == "minimize cost = 5 * fn_rate + fp_rate"


def test_formula_division_by_zero_drops_the_model() -> None:
    table: TableT = {"A": {"tp": 0.0, "fp": 0.0}, "B": {"tp": 3.0, "fp": 1.0}}
    rule = FormulaRule(rule="formula", expression="tp / (tp + fp)")
    out = apply_rule(rule, table, infos(table))
    assert out.winner == "B"
    assert "division by zero" in out.dropped[0]["reasons"][0]


def test_unknown_metric_is_an_input_error_with_did_you_mean() -> None:
    table: TableT = {"A": {"precision": 0.5, "recall": 0.5}}
    with pytest.raises(InputError, match="did you mean `precision`"):
        apply_rule(satisficing("precison"), table, infos(table))
    with pytest.raises(InputError, match="`ap_z`"):
        apply_rule(FormulaRule(rule="formula", expression="precision + ap_z"), table,
                   infos(table))
    with pytest.raises(InputError, match=r"metric `roc`, which is not computed"):
        apply_rule(satisficing("precision", tie_break="roc"), table, infos(table))


# -- ties ----------------------------------------------------------------------------------


def test_ties_are_explicit_in_every_rule() -> None:
    table: TableT = {
        "A": {"p": 0.1 + 0.2, "r": 0.5, "auc": 0.7},  # 0.30000000000000004
        "B": {"p": 0.3, "r": 0.5, "auc": 0.8},
        "C": {"p": 0.2, "r": 0.5, "auc": 0.9},
    }
    m = infos(table)
    rules: list[Rule] = [
        satisficing("p"),
        WeightedRule(rule="weighted", weights={"p": 1, "r": 1}, scale="raw"),
        FormulaRule(rule="formula", expression="p * r"),
    ]
    for rule in rules:
        out = apply_rule(rule, table, m)
        assert out.winner is None, rule.rule
        assert out.tied == ["A", "B"], rule.rule
        assert "set `tie_break`" in out.note
        assert [r["rank"] for r in out.ranking] == [1, 1, 3]
        broken = apply_rule(rule.model_copy(update={"tie_break": "auc"}), table, m)
        assert broken.winner == "B", rule.rule
        assert broken.tied == ["A", "B"]
        assert broken.ranking[0]["model"] == "B"
        assert "tie was broken by `tie_break: auc` (higher is better): B has auc 0.8" \
            in broken.note


def test_tie_break_direction_and_unresolved_tie() -> None:
    table: TableT = {"A": {"p": 0.5, "latency_ms": 30.0}, "B": {"p": 0.5, "latency_ms": 20.0},
                     "C": {"p": 0.5, "latency_ms": 20.0}}
    out = apply_rule(satisficing("p", tie_break="latency_ms"), table, infos(table))
    assert out.winner is None
    assert out.tied == ["A", "B", "C"]
    assert "does not separate B and C" in out.note
    table["C"]["latency_ms"] = 25.0
    out = apply_rule(satisficing("p", tie_break="latency_ms"), table, infos(table))
    assert out.winner == "B"  # lower latency is better
    assert [r["model"] for r in out.ranking] == ["B", "C", "A"]


def test_distinct_scores_are_not_tied() -> None:
    table: TableT = {"A": {"p": 0.3}, "B": {"p": 0.3 + 1e-9}}
    out = apply_rule(satisficing("p"), table, infos(table))
    assert out.winner == "B"
    assert out.tied == []


# -- alternatives and select() -------------------------------------------------------------


def test_derive_alternatives_from_a_satisficing_primary() -> None:
    ch = charter(SATISFICING, requirements={"precision": ">= 0.5", "roc_auc": ">= 0.7"})
    rules = derive_alternatives(ch)
    assert rules[0] is ch.selection
    assert [r.rule for r in rules] == ["satisficing", "weighted", "pareto"]
    w, p = rules[1], rules[2]
    assert isinstance(w, WeightedRule)
    assert w.weights == {"precision": 1.0, "recall": 1.0, "roc_auc": 1.0}
    assert w.scale == "minmax"
    assert isinstance(p, ParetoRule)
    assert p.metrics == ["precision", "recall", "roc_auc"]
    for r in rules:  # valid rule objects: they round-trip through the schema
        assert type(r).model_validate(r.model_dump()) == r


@pytest.mark.parametrize(
    ("primary", "main"),
    [
        ({"rule": "weighted", "weights": {"recall": 1, "precision": 3}}, "precision"),
        ({"rule": "pareto", "metrics": ["recall", "precision"]}, "recall"),
        ({"rule": "formula", "expression": "2 * max(recall, ap) + precision"}, "recall"),
    ],
)
def test_derived_satisficing_optimizes_the_primary_main_metric(primary: dict[str, Any],
                                                               main: str) -> None:
    ch = charter(primary, requirements={"precision": ">= 0.5", "log_loss": "<= 0.4",
                                        "recall": ">= 0.1"})
    sat = derive_alternatives(ch)[1]
    assert isinstance(sat, SatisficingRule)
    assert sat.optimize == main
    assert main not in sat.constraints
    assert set(sat.constraints) == {"precision", "log_loss", "recall"} - {main}
    assert str(sat.constraints["log_loss"]) == "<= 0.4"


def test_no_pareto_derived_from_a_single_metric() -> None:
    ch = charter({"rule": "satisficing", "optimize": "precision"})
    assert [r.rule for r in derive_alternatives(ch)] == ["satisficing", "weighted"]


def test_select_orders_alternatives_and_marks_derived_and_formula() -> None:
    table: TableT = {
        "A": {"precision": 0.9, "recall": 0.6, "roc_auc": 0.80},
        "B": {"precision": 0.7, "recall": 0.9, "roc_auc": 0.85},
    }
    ch = charter({"rule": "pareto", "metrics": ["precision", "recall"], "tie_break": "roc_auc"},
                 alternatives=[{"rule": "satisficing", "optimize": "recall",
                                "constraints": {"precision": ">= 0.8"}}],
                 requirements={"roc_auc": ">= 0.7"})
    sel = select(ch, table, infos(table), split="validation")
    assert sel.primary.winner == "B"
    assert sel.primary.configured
    got = [(o.rule, o.configured) for o in sel.alternatives]
    assert got == [("satisficing", True), ("weighted", False), ("formula", False)]
    assert sel.alternatives[0].winner == "A"
    weighted = sel.alternatives[1]
    assert weighted.note.startswith(DERIVED_NOTE)
    formula = sel.alternatives[2]
    assert formula == RuleOutcome(rule="formula", description=formula.description,
                                  winner=None, configured=False, note=NO_FORMULA_NOTE)
    json.dumps(asdict(sel), allow_nan=False)


def test_select_warns_when_selecting_on_the_report_split() -> None:
    ch = charter(SATISFICING, splits={"selection": "test", "report": "test"})
    sel = select(ch, CLASSIC, infos(CLASSIC), split="test")
    assert any("selecting on the test split biases the reported estimate" in w
               for w in sel.warnings)
    ok = select(charter(SATISFICING), CLASSIC, infos(CLASSIC), split="validation")
    assert ok.warnings == []


def test_select_warns_when_no_model_is_chosen() -> None:
    sel = select(charter({"rule": "satisficing", "optimize": "precision",
                          "constraints": {"recall": ">= 0.99"}}),
                 CLASSIC, infos(CLASSIC), split="validation")
    assert sel.primary.winner is None
    assert any("chose no model" in w and "closest is C" in w for w in sel.warnings)


def test_every_rule_ranks_every_model_once() -> None:
    m = infos(CLASSIC)
    rules: list[Rule] = [
        SatisficingRule.model_validate(SATISFICING), WeightedRule.model_validate(WEIGHTED_RAW),
        FormulaRule.model_validate(MAP), ParetoRule(rule="pareto", metrics=["ap_a", "ap_b"]),
    ]
    for rule, order in itertools.product(rules, itertools.permutations("ABC")):
        out = apply_rule(rule, CLASSIC, m, models=list(order))
        assert sorted(r["model"] for r in out.ranking) == ["A", "B", "C"]
        assert set(out.ranking[0]) == {"model", "score", "eligible", "rank"}
        flags = [r["eligible"] for r in out.ranking]
        assert flags == sorted(flags, reverse=True)  # eligible before ineligible
        assert out.description
    with pytest.raises(InputError, match="no row"):
        apply_rule(rules[0], CLASSIC, m, models=["A", "Z"])


@pytest.mark.parametrize(("x", "y", "want"), [
    (0.9643006584691843, 0.9644433696741587, ("0.9643", "0.9644")),  # digits (QA)
    (0.5, 0.5, ("0.500", "0.500")),
    (0.71, 0.7, ("0.710", "0.700")),  # the same decimals: no trailing zero stripped
    (120.5, 98.25, ("120.500", "98.250")),
    (0.00012, 0.000121, ("0.000120", "0.000121")),  # tiny: significant digits
    (float("nan"), 0.5, ("nan", "0.5")),
])
def test_fmt_pair_writes_two_values_alike(x: float, y: float, want: tuple[str, str]) -> None:
    got = fmt_pair(x, y)
    assert got == want
    if x != y and all(map(np.isfinite, (x, y))):
        # Read back, the order is the values' order.
        assert (float(got[0]) < float(got[1])) == (x < y)
