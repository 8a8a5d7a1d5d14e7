"""Choose a model: apply the charter's selection rule, and show what other rules would pick.

Every rule reads a table of point estimates on the selection split (model → metric id →
value, ``None`` when undefined) and the metrics' directions from :class:`MetricInfo`;
nothing here assumes that higher is better. Each rule's decision is a
:class:`~mlscope.result.RuleOutcome` that says who won, who was dropped and why, and who
tied. :func:`select` applies the charter's rule and, side by side, one rule of every
other kind (configured, or derived from the charter) so a user can see when different
reasonable rules pick different models.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from mlscope.charter.schema import (
    Bound,
    Charter,
    FormulaRule,
    ParetoRule,
    Rule,
    SatisficingRule,
    WeightedRule,
    format_number,
)
from mlscope.errors import InputError, did_you_mean
from mlscope.formula import parse_formula
from mlscope.result import DecisionConfidence, MetricInfo, RuleOutcome, Selection

__all__ = [
    "DERIVED_NOTE",
    "NO_FORMULA_NOTE",
    "RULE_KINDS",
    "TIE_TOLERANCE",
    "apply_rule",
    "derive_alternatives",
    "select",
]

Table = Mapping[str, Mapping[str, float | None]]
AnyRule = SatisficingRule | WeightedRule | FormulaRule | ParetoRule
RuleKind = Literal["satisficing", "weighted", "formula", "pareto"]

RULE_KINDS: tuple[RuleKind, ...] = ("satisficing", "weighted", "formula", "pareto")
TIE_TOLERANCE = 1e-12
"""Scores within this relative distance of each other are tied."""
DERIVED_NOTE = "derived from the charter (not configured)"
NO_FORMULA_NOTE = "no formula rule in the charter"


# -- small helpers ---------------------------------------------------------------------


def _close(a: float, b: float) -> bool:
    return a == b or abs(a - b) <= TIE_TOLERANCE * max(abs(a), abs(b))


def _better(a: float, b: float) -> bool:
    """``a`` is strictly better than ``b`` (both oriented so that larger is better)."""
    return a > b and not _close(a, b)


def _fmt(x: float, decimals: int = 3) -> str:
    """A number for a sentence: 3 decimals (``0.521``, ``120.5``), tiny ones in ``g``."""
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    if abs(x) >= 1e6 or abs(x) < 10.0 ** -decimals:
        return f"{x:.3g}"
    return f"{x:.{decimals}f}".rstrip("0").rstrip(".")


def _fmt_against(x: float, ref: float) -> str:
    """``x`` with enough decimals not to read as ``ref`` when they differ."""
    text = _fmt(x)
    for decimals in range(4, 13):
        if x == ref or text != _fmt(ref, decimals - 1):
            break
        text = _fmt(x, decimals)
    return text


def _join(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _verb(direction: str) -> str:
    return "maximize" if direction == "higher" else "minimize"


@dataclass
class _Ctx:
    table: Table
    metrics: Mapping[str, MetricInfo]
    models: list[str]

    def get(self, model: str, metric: str) -> tuple[float | None, str]:
        """The value, or None with why it cannot be used (``is undefined``)."""
        raw = self.table[model].get(metric)
        if raw is None:
            return None, "is undefined"
        x = float(raw)
        if math.isnan(x):
            return None, "is undefined"
        if math.isinf(x):
            return None, f"is not finite ({x})"
        return x, ""

    def sign(self, metric: str) -> float:
        return 1.0 if self.metrics[metric].direction == "higher" else -1.0

    def direction(self, metric: str) -> str:
        return self.metrics[metric].direction


@dataclass
class _Decision:
    winner: str | None
    tied: list[str]
    order: list[str]  # the top group, in the order to show it (tie-break winner first)
    note: str


def _decide(scored: list[tuple[str, float]], tie_break: str | None, ctx: _Ctx,
            what: str) -> _Decision:
    """The best of ``(model, oriented score)``; ties explicit, resolved by ``tie_break``."""
    if not scored:
        return _Decision(None, [], [], "")
    best = max(s for _, s in scored)
    top = [m for m, s in scored if _close(s, best)]
    if len(top) == 1:
        return _Decision(top[0], [], top, "")
    winner, order, note = _tie_break(top, tie_break, ctx, what)
    return _Decision(winner, top, order, note)


def _tie_break(top: list[str], tie_break: str | None, ctx: _Ctx,
               what: str) -> tuple[str | None, list[str], str]:
    head = f"{len(top)} models tie on {what} ({_join(top)})"
    if tie_break is None:
        return None, top, f"{head}; set `tie_break` to a metric to choose between them"
    vals = {m: ctx.get(m, tie_break)[0] for m in top}
    sign = ctx.sign(tie_break)
    defined = [(m, sign * v) for m, v in vals.items() if v is not None]
    order = [m for m, _ in sorted(defined, key=lambda t: -t[1])]
    order += [m for m in top if vals[m] is None]
    rule_text = f"`tie_break: {tie_break}` ({ctx.direction(tie_break)} is better)"
    if not defined:
        return None, order, f"{head}; {rule_text} cannot decide: {tie_break} is undefined " \
            "for all of them"
    best = max(s for _, s in defined)
    still = [m for m, s in defined if _close(s, best)]
    if len(still) > 1:
        return None, order, (f"{head}; {rule_text} does not separate {_join(still)} "
                             f"either ({tie_break} {_fmt(sign * best)})")
    w = still[0]
    value = vals[w]
    assert value is not None
    return w, order, (f"{head}; the tie was broken by {rule_text}: {w} has "
                      f"{tie_break} {_fmt(value)}")


def _ranking(eligible: list[tuple[str, float | None, float]],
             ineligible: list[tuple[str, float | None, float | None]],
             decision: _Decision, models: list[str]) -> list[dict[str, Any]]:
    """``(model, score, oriented score)`` rows, best first; ranks share on ties."""
    pos = {m: i for i, m in enumerate(models)}
    top = {m: i for i, m in enumerate(decision.order)}
    elig = sorted(eligible, key=lambda r: (0, top[r[0]], 0.0, 0) if r[0] in top
                  else (1, 0, -r[2], pos[r[0]]))
    rows: list[dict[str, Any]] = []
    for m, score, o in elig:
        rank = 1 + sum(1 for _, _, o2 in eligible if _better(o2, o))
        rows.append({"model": m, "score": score, "eligible": True, "rank": rank})
    inel = sorted(ineligible, key=lambda r: (r[2] is None, -(r[2] or 0.0), pos[r[0]]))
    rows.extend({"model": m, "score": score, "eligible": False, "rank": None}
                for m, score, _ in inel)
    return rows


def _dropped(reasons: Mapping[str, list[str]], models: list[str]) -> list[dict[str, Any]]:
    return [{"model": m, "reasons": reasons[m]} for m in models if reasons.get(m)]


def _rule_metrics(rule: AnyRule) -> list[str]:
    """The metric ids a rule reads (formula names in order of appearance), tie-break last."""
    if isinstance(rule, SatisficingRule):
        names = [rule.optimize, *rule.constraints]
    elif isinstance(rule, WeightedRule):
        names = list(rule.weights)
    elif isinstance(rule, ParetoRule):
        names = list(rule.metrics)
    else:
        names = list(parse_formula(rule.expression).names_in_order)
    if rule.tie_break is not None:
        names.append(rule.tie_break)
    return _dedupe(names)


# -- descriptions ----------------------------------------------------------------------


def _describe(rule: AnyRule, ctx: _Ctx) -> str:
    if isinstance(rule, SatisficingRule):
        text = f"{_verb(ctx.direction(rule.optimize))} {rule.optimize}"
        if rule.constraints:
            text += " subject to " + _join([f"{k} {b}" for k, b in rule.constraints.items()])
    elif isinstance(rule, WeightedRule):
        terms = _join([f"{k} (weight {format_number(w)})" for k, w in rule.weights.items()])
        if rule.scale == "minmax":
            how = "each scaled to [0, 1] across the models (1 = best)"
        elif rule.scale == "rank":
            how = "each scored by rank across the models (1 = best, 0 = worst)"
        else:
            lower = [k for k in rule.weights if ctx.direction(k) == "lower"]
            how = "on their raw values" + (
                f" ({_join(lower)} negated: lower is better)" if lower else "")
        text = f"maximize the weighted mean of {terms}, {how}"
    elif isinstance(rule, FormulaRule):
        what = rule.expression if rule.name == "formula" \
            else f"{rule.name} = {rule.expression}"
        text = f"{_verb(rule.direction)} {what}"
    else:
        parts = [f"{k} ({ctx.direction(k)} is better)" for k in _dedupe(rule.metrics)]
        text = f"the Pareto front (non-dominated models) over {_join(parts)}"
    if rule.tie_break is not None:
        text += f"; ties broken by {rule.tie_break}"
    return text


# -- the four rules --------------------------------------------------------------------


def _satisficing(rule: SatisficingRule, ctx: _Ctx) -> RuleOutcome:
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
    decision = _decide([(m, o) for m, _, o in eligible], rule.tie_break, ctx, opt)
    note = decision.note
    if not eligible and ctx.models:
        note = _no_eligible_note(opt, misses, ctx.models)
    return RuleOutcome(
        rule="satisficing", description="", winner=decision.winner,
        ranking=_ranking(eligible, ineligible, decision, ctx.models),
        dropped=_dropped(reasons, ctx.models), tied=decision.tied, note=note,
    )


def _miss_text(metric: str, v: float, bound: Bound) -> str:
    short = -bound.margin(v)
    by = f"by {_fmt(short)}" if short > 0 else "(it equals the bound)"
    return f"{metric} {_fmt_against(v, bound.value)} misses {bound} {by}"


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


def _weighted(rule: WeightedRule, ctx: _Ctx) -> RuleOutcome:
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
    decision = _decide(list(scores.items()), rule.tie_break, ctx, "the weighted score")
    note = decision.note
    if not considered and ctx.models:
        note = "no model could be scored: every model has a weighted metric undefined"
    return RuleOutcome(
        rule="weighted", description="", winner=decision.winner,
        ranking=_ranking([(m, s, s) for m, s in scores.items()],
                         [(m, None, None) for m in ctx.models if m not in scores],
                         decision, ctx.models),
        dropped=_dropped(reasons, ctx.models), tied=decision.tied, note=note,
    )


def _scale(oriented: Mapping[str, float], scale: str) -> dict[str, float]:
    """Oriented values (larger is better) on the rule's scale."""
    if scale == "raw" or not oriented:
        return dict(oriented)
    vals = list(oriented.values())
    if scale == "minmax":
        lo, hi = min(vals), max(vals)
        if _close(lo, hi):
            return dict.fromkeys(oriented, 1.0)
        return {m: (o - lo) / (hi - lo) for m, o in oriented.items()}
    n = len(vals)
    if n == 1:
        return dict.fromkeys(oriented, 1.0)
    out: dict[str, float] = {}
    for m, o in oriented.items():
        better = sum(1 for o2 in vals if _better(o2, o))
        equal = sum(1 for o2 in vals if _close(o2, o))
        avg_rank = better + (equal + 1) / 2  # 1 = best; average rank on ties
        out[m] = (n - avg_rank) / (n - 1)
    return out


def _formula(rule: FormulaRule, ctx: _Ctx) -> RuleOutcome:
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
    decision = _decide([(m, sign * s) for m, s in scores.items()], rule.tie_break, ctx,
                       label)
    note = decision.note
    if not scores and ctx.models:
        note = f"no model could be scored: {label} is undefined for every model"
    return RuleOutcome(
        rule="formula", description="", winner=decision.winner,
        ranking=_ranking([(m, s, sign * s) for m, s in scores.items()],
                         [(m, None, None) for m in ctx.models if m not in scores],
                         decision, ctx.models),
        dropped=_dropped(reasons, ctx.models), tied=decision.tied, note=note,
    )


def _dominates(a: Mapping[str, float], b: Mapping[str, float]) -> list[str] | None:
    """The metrics on which ``a`` is strictly better, if ``a`` dominates ``b``; else None."""
    better: list[str] = []
    for k, x in a.items():
        if _better(b[k], x):
            return None
        if _better(x, b[k]):
            better.append(k)
    return better or None


def _pareto(rule: ParetoRule, ctx: _Ctx) -> RuleOutcome:
    names = _dedupe(rule.metrics)
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
        decision = _Decision(front[0], [], front, "")
    elif front:
        winner, order, tnote = _tie_break(front, rule.tie_break, ctx, "the Pareto front")
        if rule.tie_break is None:
            tnote = (f"{len(front)} models are on the Pareto front ({_join(front)}), none "
                     "dominating another; set `tie_break` to a metric to choose one")
        decision = _Decision(winner, list(front), order, tnote)
        note = tnote
    else:
        decision = _Decision(None, [], [], "")
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
        dropped=_dropped(reasons, ctx.models), tied=decision.tied, front=list(front),
        note=note,
    )


# -- public API ------------------------------------------------------------------------


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
    for k in _rule_metrics(rule):
        if k not in metrics:
            raise InputError(
                f"the {rule.rule} rule names metric `{k}`, which is not computed"
                f"{did_you_mean(k, metrics)} (computed: {', '.join(metrics) or 'none'})"
            )
    ctx = _Ctx(table, metrics, names)
    if isinstance(rule, SatisficingRule):
        outcome = _satisficing(rule, ctx)
    elif isinstance(rule, WeightedRule):
        outcome = _weighted(rule, ctx)
    elif isinstance(rule, FormulaRule):
        outcome = _formula(rule, ctx)
    else:
        outcome = _pareto(rule, ctx)
    outcome.description = _describe(rule, ctx)
    if not names:
        outcome.note = "no models to choose from"
    return outcome


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
    named = _dedupe([*_named_metrics(primary), *charter.requirements])
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
    primary = _apply_with_baselines(charter.selection, table, metrics, models)
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
        outcome = _apply_with_baselines(rule, table, metrics, models)
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
        return False, (f"does not beat the baseline `{baseline}` on {rule.optimize} "
                       f"({_fmt_against(float(mv), float(bv))} vs {_fmt(float(bv))})")
    return False, f"does not rank above the baseline `{baseline}` under this rule"


def _apply_with_baselines(rule: Rule, table: Table, metrics: Mapping[str, MetricInfo],
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


def decision_confidence(
    rule: Rule,
    replicates: Mapping[str, Mapping[str, npt.NDArray[np.float64]]],
    metrics: Mapping[str, MetricInfo],
    *,
    candidates: Sequence[str],
    winner: str | None,
) -> DecisionConfidence:
    """Apply ``rule`` to every bootstrap resample and count who wins.

    Parameters
    ----------
    rule
        The primary selection rule.
    replicates
        Model → metric id → the metric's replicate values (one per resample, NaN where
        undefined) on the selection split, overall; baselines named by ``must_beat`` must
        be present too.
    candidates
        The models that may be chosen.
    winner
        The decision on the actual data.
    """
    names = [m for m in replicates if replicates[m]]
    r = min((len(a) for m in names for a in replicates[m].values()), default=0)
    counts: dict[str, int] = {m: 0 for m in candidates}
    none = 0
    cons: dict[str, dict[str, int]] = {m: {} for m in candidates}
    bounds = rule.constraints if isinstance(rule, SatisficingRule) else {}
    for i in range(r):
        table: Table = {m: {k: float(a[i]) for k, a in replicates[m].items()} for m in names}
        try:
            out = _apply_with_baselines(rule, table, metrics, list(candidates))
        except InputError:
            out = None
        if out is None or out.winner is None:
            none += 1
        else:
            counts[out.winner] = counts.get(out.winner, 0) + 1
        for m in candidates:
            for k, bound in bounds.items():
                v = table.get(m, {}).get(k)
                ok = v is not None and math.isfinite(v) and bound.holds(v)
                cons[m][k] = cons[m].get(k, 0) + int(ok)
    if r == 0:
        return DecisionConfidence(
            resamples=0, chosen={}, no_decision=0.0, winner=winner, winner_share=None,
            runner_up=None, runner_up_share=None, flips=None,
            note="no bootstrap resamples (intervals are off): no decision confidence")
    chosen = {m: c / r for m, c in counts.items()}
    order = sorted(chosen, key=lambda m: -chosen[m])
    runner = next((m for m in order if m != winner and chosen[m] > 0), None)
    return DecisionConfidence(
        resamples=r, chosen=chosen, no_decision=none / r, winner=winner,
        winner_share=chosen.get(winner) if winner is not None else None,
        runner_up=runner, runner_up_share=chosen[runner] if runner else None,
        flips=(1.0 - chosen.get(winner, 0.0)) if winner is not None else None,
        constraints={m: {k: v / r for k, v in d.items()} for m, d in cons.items() if d},
    )
