"""The four selection rules (satisficing, weighted, formula, Pareto) and :func:`apply_rule`,
which applies one of them to a table of point estimates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from mlscope.charter.schema import (
    Bound,
    FormulaRule,
    ParetoRule,
    Rule,
    SatisficingRule,
    WeightedRule,
    format_number,
)
from mlscope.errors import InputError, did_you_mean
from mlscope.formula import parse_formula
from mlscope.result import MetricInfo, RuleOutcome
from mlscope.select.common import (
    Ctx,
    Decision,
    Table,
    decide,
    dedupe,
    describe,
    dropped_rows,
    fmt,
    fmt_against,
    is_better,
    is_close,
    join_words,
    rank_rows,
    resolve_tie,
    rule_metrics,
)


def _satisficing(rule: SatisficingRule, ctx: Ctx) -> RuleOutcome:
    opt = rule.optimize
    sign = ctx.sign(opt)
    reasons: dict[str, list[str]] = {}
    misses: dict[str, list[tuple[str, float]]] = {}  # model -> (reason, shortfall)
    eligible: list[tuple[str, float | None, float]] = []
    ineligible: list[tuple[str, float | None, float | None]] = []
    for m in ctx.models:
        fails: list[tuple[str, float]] = []
        for k, bound in rule.constraints.items():
            v, why = ctx.get(m, k)
            if v is None:
                fails.append((f"{k} {why}: cannot check {bound}", math.inf))
            elif not bound.holds(v):
                fails.append((_miss_text(k, v, bound), -bound.margin(v)))
        misses[m] = fails
        out = [r for r, _ in fails]
        ov, why = ctx.get(m, opt)
        if ov is None:
            out.append(f"{opt} {why}: cannot rank on it")
        reasons[m] = out
        if not out and ov is not None:
            eligible.append((m, ov, sign * ov))
        else:
            ineligible.append((m, ov, None if ov is None else sign * ov))
    decision = decide([(m, o) for m, _, o in eligible], rule.tie_break, ctx, opt)
    note = decision.note
    if not eligible and ctx.models:
        note = _no_eligible_note(opt, misses, ctx.models)
    return RuleOutcome(
        rule="satisficing", description="", winner=decision.winner,
        ranking=rank_rows(eligible, ineligible, decision, ctx.models),
        dropped=dropped_rows(reasons, ctx.models), tied=decision.tied, note=note,
    )


def _miss_text(metric: str, v: float, bound: Bound) -> str:
    short = -bound.margin(v)
    by = f"by {fmt(short)}" if short > 0 else "(it equals the bound)"
    return f"{metric} {fmt_against(v, bound.value)} misses {bound} {by}"


def _no_eligible_note(opt: str, misses: Mapping[str, list[tuple[str, float]]],
                      models: list[str]) -> str:
    failing = {m: f for m, f in misses.items() if f}
    if len(failing) < len(models):
        return (f"no model is eligible: every model that meets the constraints has "
                f"{opt} undefined")
    pos = {m: i for i, m in enumerate(models)}
    closest = min(failing, key=lambda m: (len(failing[m]), sum(s for _, s in failing[m]),
                                          pos[m]))
    return (f"no model meets every constraint; the closest is {closest}: "
            + "; ".join(r for r, _ in failing[closest]))


def _weighted(rule: WeightedRule, ctx: Ctx) -> RuleOutcome:
    for k, w in rule.weights.items():
        if not math.isfinite(w) or w < 0:
            raise InputError(f"weighted rule: the weight of `{k}` is {w}; weights must be "
                             "non-negative numbers (the direction comes from the metric)")
    weights = {k: w for k, w in rule.weights.items() if w > 0}
    if not weights:
        raise InputError("weighted rule: no metric has a positive weight")
    reasons: dict[str, list[str]] = {}
    values: dict[str, dict[str, float]] = {}
    for m in ctx.models:
        row: dict[str, float] = {}
        out: list[str] = []
        for k, w in weights.items():
            v, why = ctx.get(m, k)
            if v is None:
                out.append(f"{k} {why} (weight {format_number(w)}): cannot score it")
            else:
                row[k] = v
        reasons[m] = out
        if not out:
            values[m] = row
    considered = [m for m in ctx.models if m in values]
    scaled: dict[str, dict[str, float]] = {m: {} for m in considered}
    for k in weights:
        oriented = {m: ctx.sign(k) * values[m][k] for m in considered}
        for m, s in _scale(oriented, rule.scale).items():
            scaled[m][k] = s
    total = sum(weights.values())
    scores = {m: sum(w * scaled[m][k] for k, w in weights.items()) / total
              for m in considered}
    decision = decide(list(scores.items()), rule.tie_break, ctx, "the weighted score")
    note = decision.note
    if not considered and ctx.models:
        note = "no model could be scored: every model has a weighted metric undefined"
    return RuleOutcome(
        rule="weighted", description="", winner=decision.winner,
        ranking=rank_rows([(m, s, s) for m, s in scores.items()],
                          [(m, None, None) for m in ctx.models if m not in scores],
                          decision, ctx.models),
        dropped=dropped_rows(reasons, ctx.models), tied=decision.tied, note=note,
    )


def _scale(oriented: Mapping[str, float], scale: str) -> dict[str, float]:
    """Oriented values (larger is better) on the rule's scale."""
    if scale == "raw" or not oriented:
        return dict(oriented)
    vals = list(oriented.values())
    if scale == "minmax":
        lo, hi = min(vals), max(vals)
        if is_close(lo, hi):
            return dict.fromkeys(oriented, 1.0)
        return {m: (o - lo) / (hi - lo) for m, o in oriented.items()}
    n = len(vals)
    if n == 1:
        return dict.fromkeys(oriented, 1.0)
    out: dict[str, float] = {}
    for m, o in oriented.items():
        better = sum(1 for o2 in vals if is_better(o2, o))
        equal = sum(1 for o2 in vals if is_close(o2, o))
        avg_rank = better + (equal + 1) / 2  # 1 = best; average rank on ties
        out[m] = (n - avg_rank) / (n - 1)
    return out


def _formula(rule: FormulaRule, ctx: Ctx) -> RuleOutcome:
    f = parse_formula(rule.expression)
    sign = 1.0 if rule.direction == "higher" else -1.0
    label = rule.name if rule.name != "formula" else "the formula"
    reasons: dict[str, list[str]] = {}
    scores: dict[str, float] = {}
    for m in ctx.models:
        inputs: dict[str, float] = {}
        out: list[str] = []
        for k in f.names_in_order:
            v, why = ctx.get(m, k)
            if v is None:
                out.append(f"{k} {why}: cannot compute {label}")
            else:
                inputs[k] = v
        if not out:
            value = f.evaluate(inputs)
            assert isinstance(value, float)
            if math.isfinite(value):
                scores[m] = value
            else:
                out.append(f"{label} `{rule.expression}` is undefined for this model "
                           f"({value}; e.g. a division by zero)")
        reasons[m] = out
    decision = decide([(m, sign * s) for m, s in scores.items()], rule.tie_break, ctx,
                      label)
    note = decision.note
    if not scores and ctx.models:
        note = f"no model could be scored: {label} is undefined for every model"
    return RuleOutcome(
        rule="formula", description="", winner=decision.winner,
        ranking=rank_rows([(m, s, sign * s) for m, s in scores.items()],
                          [(m, None, None) for m in ctx.models if m not in scores],
                          decision, ctx.models),
        dropped=dropped_rows(reasons, ctx.models), tied=decision.tied, note=note,
    )


def _dominates(a: Mapping[str, float], b: Mapping[str, float]) -> list[str] | None:
    """The metrics on which ``a`` is strictly better, if ``a`` dominates ``b``; else None."""
    better: list[str] = []
    for k, x in a.items():
        if is_better(b[k], x):
            return None
        if is_better(x, b[k]):
            better.append(k)
    return better or None


def _pareto(rule: ParetoRule, ctx: Ctx) -> RuleOutcome:
    names = dedupe(rule.metrics)
    reasons: dict[str, list[str]] = {}
    points: dict[str, dict[str, float]] = {}
    for m in ctx.models:
        out: list[str] = []
        point: dict[str, float] = {}
        for k in names:
            v, why = ctx.get(m, k)
            if v is None:
                out.append(f"{k} {why}: cannot place it on the Pareto front")
            else:
                point[k] = ctx.sign(k) * v
        reasons[m] = out
        if not out:
            points[m] = point
    # Peel non-dominated layers: layer 0 is the front.
    layers: list[list[str]] = []
    remaining = list(points)
    while remaining:
        layer = [m for m in remaining
                 if not any(_dominates(points[o], points[m]) for o in remaining if o != m)]
        if not layer:  # only possible with near-ties breaking transitivity
            layer = list(remaining)
        layers.append(layer)
        remaining = [m for m in remaining if m not in layer]
    front = layers[0] if layers else []
    for m in points:
        if m in front:
            continue
        by = [(f, _dominates(points[f], points[m])) for f in front]
        found = [(f, b) for f, b in by if b] or [
            (o, b) for o in points if o != m and (b := _dominates(points[o], points[m]))]
        reasons[m] = [f"dominated by {f} (better on {', '.join(b)})" for f, b in found if b]
    note = ""
    if len(front) == 1:
        decision = Decision(front[0], [], front, "")
    elif front:
        winner, order, tnote = resolve_tie(front, rule.tie_break, ctx, "the Pareto front")
        if rule.tie_break is None:
            tnote = (f"{len(front)} models are on the Pareto front ({join_words(front)}), none "
                     "dominating another; set `tie_break` to a metric to choose one")
        decision = Decision(winner, list(front), order, tnote)
        note = tnote
    else:
        decision = Decision(None, [], [], "")
        if ctx.models:
            note = "no model has every Pareto metric defined"
    rows: list[dict[str, Any]] = [
        {"model": m, "score": None, "eligible": True, "rank": 1} for m in decision.order
    ]
    pos = {m: i for i, m in enumerate(ctx.models)}
    rest = [m for layer in layers[1:] for m in sorted(layer, key=pos.__getitem__)]
    rest += [m for m in ctx.models if m not in points]
    rows.extend({"model": m, "score": None, "eligible": False, "rank": None} for m in rest)
    return RuleOutcome(
        rule="pareto", description="", winner=decision.winner, ranking=rows,
        dropped=dropped_rows(reasons, ctx.models), tied=decision.tied, front=list(front),
        note=note,
    )




def apply_rule(
    rule: Rule,
    table: Table,
    metrics: Mapping[str, MetricInfo],
    *,
    models: Sequence[str] | None = None,
) -> RuleOutcome:
    """Apply one selection rule to a table of point estimates.

    Parameters
    ----------
    rule
        A :class:`SatisficingRule`, :class:`WeightedRule`, :class:`FormulaRule` or
        :class:`ParetoRule`.
    table
        Model → metric id → point estimate on the selection split; ``None`` (or NaN)
        means undefined, and so does an id missing from a model's row. Infinite values
        cannot be used either.
    metrics
        Metric id → :class:`MetricInfo`; each metric's ``direction`` (higher or lower is
        better) is read from here.
    models
        The models to consider, in the order used to break display ties; all of
        ``table`` by default.

    Returns
    -------
    RuleOutcome
        ``winner`` (None when no model is eligible or a tie is not broken), ``ranking``
        (every model as ``{"model", "score", "eligible", "rank"}``, best first, eligible
        before ineligible; tied models share a rank, ineligible models have rank None),
        ``dropped`` (``{"model", "reasons"}`` for each model that could not win),
        ``tied``, ``front`` (Pareto), ``description`` and ``note``.

    Raises
    ------
    InputError
        When the rule names a metric not in ``metrics``, a model is not in ``table``,
        the formula is invalid, or the weights are not usable.
    """
    names = list(table) if models is None else list(models)
    for m in names:
        if m not in table:
            raise InputError(f"model `{m}` has no row in the table{did_you_mean(m, table)}")
    for k in rule_metrics(rule):
        if k not in metrics:
            raise InputError(
                f"the {rule.rule} rule names metric `{k}`, which is not computed"
                f"{did_you_mean(k, metrics)} (computed: {', '.join(metrics) or 'none'})"
            )
    ctx = Ctx(table, metrics, names)
    if isinstance(rule, SatisficingRule):
        outcome = _satisficing(rule, ctx)
    elif isinstance(rule, WeightedRule):
        outcome = _weighted(rule, ctx)
    elif isinstance(rule, FormulaRule):
        outcome = _formula(rule, ctx)
    else:
        outcome = _pareto(rule, ctx)
    outcome.description = describe(rule, ctx)
    if not names:
        outcome.note = "no models to choose from"
    return outcome
