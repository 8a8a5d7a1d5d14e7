"""The charter's decision: :func:`select` applies the primary rule and the alternatives
side by side (:func:`derive_alternatives`), with the ``must_beat`` baselines (:func:`beats`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mlscope.charter.schema import (
    Charter,
    ParetoRule,
    Rule,
    SatisficingRule,
    WeightedRule,
)
from mlscope.errors import InputError, did_you_mean
from mlscope.formula import parse_formula
from mlscope.result import MetricInfo, RuleOutcome, Selection
from mlscope.select.common import (
    DERIVED_NOTE,
    NO_FORMULA_NOTE,
    RULE_KINDS,
    AnyRule,
    Table,
    dedupe,
    fmt_pair,
)
from mlscope.select.rules import apply_rule


def _main_metric(rule: AnyRule) -> str | None:
    if isinstance(rule, SatisficingRule):
        return rule.optimize
    if isinstance(rule, WeightedRule):
        return max(rule.weights, key=rule.weights.__getitem__) if rule.weights else None
    if isinstance(rule, ParetoRule):
        return rule.metrics[0]
    names = parse_formula(rule.expression).names_in_order
    return names[0] if names else None


def _named_metrics(rule: AnyRule) -> list[str]:
    if isinstance(rule, SatisficingRule):
        return [rule.optimize, *rule.constraints]
    if isinstance(rule, WeightedRule):
        return [k for k, w in rule.weights.items() if w > 0]
    if isinstance(rule, ParetoRule):
        return list(rule.metrics)
    return list(parse_formula(rule.expression).names_in_order)


def derive_alternatives(charter: Charter) -> list[Rule]:
    """The rules to apply side by side: the configured ones, then derived defaults.

    Parameters
    ----------
    charter
        A validated charter.

    Returns
    -------
    list of Rule
        ``charter.selection``, each of ``charter.alternatives``, then, for each rule kind
        not among those, a default derived from the charter, in the order satisficing,
        weighted, pareto:

        * satisficing: optimize the primary rule's main metric (its ``optimize``; the
          largest weight; the first Pareto metric; the first name in a formula) subject
          to the charter's ``requirements`` on the other metrics;
        * weighted: equal weights, ``minmax`` scale, over the metrics named by the primary
          rule and the requirements;
        * pareto: over those same metrics, when there are at least two.

        A formula cannot be derived; :func:`select` shows it as not configured.
    """
    configured: list[Rule] = [charter.selection, *charter.alternatives]
    present = {r.rule for r in configured}
    primary = charter.selection
    main = _main_metric(primary)
    named = dedupe([*_named_metrics(primary), *charter.requirements])
    derived: list[Rule] = []
    if "satisficing" not in present and main is not None:
        derived.append(SatisficingRule(
            rule="satisficing", optimize=main,
            constraints={k: b for k, b in charter.requirements.items() if k != main},
        ))
    if "weighted" not in present and named:
        derived.append(WeightedRule(rule="weighted", weights=dict.fromkeys(named, 1.0),
                                    scale="minmax"))
    if "pareto" not in present and len(named) >= 2:
        derived.append(ParetoRule(rule="pareto", metrics=named))
    return configured + derived


def select(
    charter: Charter,
    table: Table,
    metrics: Mapping[str, MetricInfo],
    *,
    split: str,
    baselines: Sequence[str] = (),
) -> Selection:
    """Apply the charter's selection rule, with alternatives for comparison.

    Parameters
    ----------
    charter
        The validated charter.
    table
        Model → metric id → point estimate on ``split`` (``None`` when undefined).
    metrics
        Metric id → :class:`MetricInfo` (for each metric's direction).
    split
        The split the table was computed on (the selection split).
    baselines
        Models of ``table`` that are baselines: they are never chosen. A rule's
        ``must_beat`` names baselines a candidate must rank above, under that same rule
        applied to the two of them, to be eligible.

    Returns
    -------
    Selection
        ``primary`` is the outcome of ``charter.selection``. ``alternatives`` holds the
        outcome of each configured alternative (``configured=True``), then one derived
        rule per missing kind (``configured=False``, note :data:`DERIVED_NOTE`), and a
        placeholder for the formula kind when the charter has no formula rule (winner
        None, note :data:`NO_FORMULA_NOTE`). ``warnings`` flags selecting on the report
        split, a primary rule that chose no model, and alternatives that could not be
        applied.

    Raises
    ------
    InputError
        When the primary rule cannot be applied (see :func:`apply_rule`).
    """
    models = [m for m in table if m not in set(baselines)]
    warnings: list[str] = []
    if charter.splits.report is not None and split == charter.splits.report:
        warnings.append(
            f"selecting on the {split} split biases the reported estimate: it is also the "
            "report split, so the chosen model's reported numbers are optimistic; select "
            "on a validation split"
        )
    primary = apply_with_baselines(charter.selection, table, metrics, models)
    if primary.winner is None:
        warnings.append(f"the selection rule ({primary.rule}) chose no model: "
                        f"{primary.note or 'no model is eligible'}")

    rules = derive_alternatives(charter)
    n_configured = 1 + len(charter.alternatives)
    alternatives: list[RuleOutcome] = []
    for i, rule in enumerate(charter.alternatives):
        if rule.split is not None and rule.split != split:
            warnings.append(f"alternative {i + 1} ({rule.rule}) names split `{rule.split}`, "
                            f"but every rule is applied on the selection split `{split}`")
        alternatives.append(_apply_alternative(rule, table, metrics, models, warnings,
                                               configured=True))
    derived: dict[str, RuleOutcome] = {}
    for rule in rules[n_configured:]:
        derived[rule.rule] = _apply_alternative(rule, table, metrics, models, warnings,
                                                configured=False)
    if all(r.rule != "formula" for r in rules):
        derived["formula"] = RuleOutcome(
            rule="formula", description="a formula over metric ids (none in the charter)",
            winner=None, configured=False, note=NO_FORMULA_NOTE,
        )
    alternatives.extend(derived[k] for k in RULE_KINDS if k in derived)
    return Selection(split=split, primary=primary, alternatives=alternatives,
                     warnings=warnings)


def _apply_alternative(rule: Rule, table: Table, metrics: Mapping[str, MetricInfo],
                       models: list[str], warnings: list[str], *,
                       configured: bool) -> RuleOutcome:
    try:
        outcome = apply_with_baselines(rule, table, metrics, models)
    except InputError as exc:
        what = "alternative" if configured else "derived"
        warnings.append(f"the {what} {rule.rule} rule could not be applied: {exc}")
        return RuleOutcome(rule=rule.rule, description=f"{rule.rule} rule", winner=None,
                           configured=configured,
                           note=("" if configured else DERIVED_NOTE + "; ")
                           + f"could not be applied: {exc}")
    if not configured:
        outcome.configured = False
        outcome.note = DERIVED_NOTE + (f"; {outcome.note}" if outcome.note else "")
    return outcome


def beats(rule: Rule, table: Table, metrics: Mapping[str, MetricInfo], model: str,
          baseline: str) -> tuple[bool, str]:
    """Whether ``model`` ranks strictly above ``baseline`` under ``rule`` applied to the two.

    A satisficing rule's constraints are left out (they decide which candidates may win,
    not what "better" means); a tie does not beat. Returns the verdict and, when it fails,
    the reason in words.
    """
    pair_rule: Rule = rule.model_copy(update={"tie_break": None, "must_beat": []})
    if isinstance(pair_rule, SatisficingRule):
        pair_rule = pair_rule.model_copy(update={"constraints": {}})
    out = apply_rule(pair_rule, table, metrics, models=[model, baseline])
    if out.winner == model:
        return True, ""
    if isinstance(rule, SatisficingRule):
        mv, bv = table[model].get(rule.optimize), table[baseline].get(rule.optimize)
        if mv is None or bv is None:
            return False, f"{rule.optimize} undefined for it or for the baseline `{baseline}`"
        mine, theirs = fmt_pair(float(mv), float(bv))
        return False, (f"does not beat the baseline `{baseline}` on {rule.optimize} "
                       f"({mine} vs {theirs})")
    return False, f"does not rank above the baseline `{baseline}` under this rule"


def apply_with_baselines(rule: Rule, table: Table, metrics: Mapping[str, MetricInfo],
                         models: list[str]) -> RuleOutcome:
    """Apply ``rule`` to the candidates, making those that fail ``must_beat`` ineligible."""
    blocked: dict[str, list[str]] = {}
    for b in rule.must_beat:
        if b not in table:
            raise InputError(f"the {rule.rule} rule must beat `{b}`, which is not a model or "
                             f"baseline of this evaluation{did_you_mean(b, table)}")
        for m in models:
            ok, why = beats(rule, table, metrics, m, b)
            if not ok:
                blocked.setdefault(m, []).append(why)
    if not blocked:
        return apply_rule(rule, table, metrics, models=models)
    full = apply_rule(rule, table, metrics, models=models)
    allowed = [m for m in models if m not in blocked]
    outcome = apply_rule(rule, table, metrics, models=allowed)
    score = {r["model"]: r.get("score") for r in full.ranking}
    for m in models:
        if m in blocked:
            outcome.ranking.append({"model": m, "score": score.get(m), "eligible": False,
                                    "rank": None})
            prev = next((d for d in outcome.dropped if d["model"] == m), None)
            if prev is None:
                outcome.dropped.append({"model": m, "reasons": list(blocked[m])})
    if outcome.winner is None and allowed == []:
        outcome.note = "no candidate beats the baselines it must beat: " + "; ".join(
            f"{m} {r[0]}" for m, r in blocked.items())
    return outcome
