"""What every selection rule shares: the table and rule types, the constants, the tie
handling and ranking rows, the metrics a rule reads, and a rule's description in words.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mlscope.charter.schema import (
    FormulaRule,
    ParetoRule,
    SatisficingRule,
    WeightedRule,
    format_number,
)
from mlscope.formula import parse_formula
from mlscope.result import MetricInfo

Table = Mapping[str, Mapping[str, float | None]]
AnyRule = SatisficingRule | WeightedRule | FormulaRule | ParetoRule
RuleKind = Literal["satisficing", "weighted", "formula", "pareto"]

RULE_KINDS: tuple[RuleKind, ...] = ("satisficing", "weighted", "formula", "pareto")
TIE_TOLERANCE = 1e-12
"""Scores within this relative distance of each other are tied."""
DERIVED_NOTE = "derived from the charter (not configured)"
NO_FORMULA_NOTE = "no formula rule in the charter"


# -- small helpers ---------------------------------------------------------------------


def is_close(a: float, b: float) -> bool:
    return a == b or abs(a - b) <= TIE_TOLERANCE * max(abs(a), abs(b))


def is_better(a: float, b: float) -> bool:
    """``a`` is strictly better than ``b`` (both oriented so that larger is better)."""
    return a > b and not is_close(a, b)


def fmt(x: float, decimals: int = 3) -> str:
    """A number for a sentence: 3 decimals (``0.521``, ``120.5``), tiny ones in ``g``."""
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    if abs(x) >= 1e6 or abs(x) < 10.0 ** -decimals:
        return f"{x:.3g}"
    return f"{x:.{decimals}f}".rstrip("0").rstrip(".")


def fmt_against(x: float, ref: float) -> str:
    """``x`` with enough decimals not to read as ``ref`` when they differ."""
    text = fmt(x)
    for decimals in range(4, 13):
        if x == ref or text != fmt(ref, decimals - 1):
            break
        text = fmt(x, decimals)
    return text


def fmt_pair(x: float, y: float) -> tuple[str, str]:
    """Two measured values written alike: the same number of decimals (significant digits
    for tiny or huge ones), the fewest from three on that tells them apart when they
    differ. ``0.9643006`` against ``0.9644434`` reads ``0.9643 vs 0.9644``, never
    ``0.9643 vs 0.964`` (which looks larger)."""
    if not (math.isfinite(x) and math.isfinite(y)):
        return fmt(x), fmt(y)
    big = max(abs(x), abs(y))
    fixed = 1e-3 <= big < 1e6
    a = b = ""
    for digits in range(3, 13):
        spec = f".{digits}f" if fixed else f"#.{digits}g"
        a, b = format(x, spec), format(y, spec)
        if x == y or a != b:
            break
    return a, b


def join_words(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def verb(direction: str) -> str:
    return "maximize" if direction == "higher" else "minimize"


@dataclass
class Ctx:
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
class Decision:
    winner: str | None
    tied: list[str]
    order: list[str]  # the top group, in the order to show it (tie-break winner first)
    note: str


def decide(scored: list[tuple[str, float]], tie_break: str | None, ctx: Ctx,
           what: str) -> Decision:
    """The best of ``(model, oriented score)``; ties explicit, resolved by ``tie_break``."""
    if not scored:
        return Decision(None, [], [], "")
    best = max(s for _, s in scored)
    top = [m for m, s in scored if is_close(s, best)]
    if len(top) == 1:
        return Decision(top[0], [], top, "")
    winner, order, note = resolve_tie(top, tie_break, ctx, what)
    return Decision(winner, top, order, note)


def resolve_tie(top: list[str], tie_break: str | None, ctx: Ctx,
                what: str) -> tuple[str | None, list[str], str]:
    head = f"{len(top)} models tie on {what} ({join_words(top)})"
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
    still = [m for m, s in defined if is_close(s, best)]
    if len(still) > 1:
        return None, order, (f"{head}; {rule_text} does not separate {join_words(still)} "
                             f"either ({tie_break} {fmt(sign * best)})")
    w = still[0]
    value = vals[w]
    assert value is not None
    return w, order, (f"{head}; the tie was broken by {rule_text}: {w} has "
                      f"{tie_break} {fmt(value)}")


def rank_rows(eligible: list[tuple[str, float | None, float]],
              ineligible: list[tuple[str, float | None, float | None]],
              decision: Decision, models: list[str]) -> list[dict[str, Any]]:
    """``(model, score, oriented score)`` rows, best first; ranks share on ties."""
    pos = {m: i for i, m in enumerate(models)}
    top = {m: i for i, m in enumerate(decision.order)}
    elig = sorted(eligible, key=lambda r: (0, top[r[0]], 0.0, 0) if r[0] in top
                  else (1, 0, -r[2], pos[r[0]]))
    rows: list[dict[str, Any]] = []
    for m, score, o in elig:
        rank = 1 + sum(1 for _, _, o2 in eligible if is_better(o2, o))
        rows.append({"model": m, "score": score, "eligible": True, "rank": rank})
    inel = sorted(ineligible, key=lambda r: (r[2] is None, -(r[2] or 0.0), pos[r[0]]))
    rows.extend({"model": m, "score": score, "eligible": False, "rank": None}
                for m, score, _ in inel)
    return rows


def dropped_rows(reasons: Mapping[str, list[str]], models: list[str]) -> list[dict[str, Any]]:
    return [{"model": m, "reasons": reasons[m]} for m in models if reasons.get(m)]


def rule_metrics(rule: AnyRule) -> list[str]:
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
    return dedupe(names)


# -- descriptions ----------------------------------------------------------------------


def describe(rule: AnyRule, ctx: Ctx) -> str:
    if isinstance(rule, SatisficingRule):
        text = f"{verb(ctx.direction(rule.optimize))} {rule.optimize}"
        if rule.constraints:
            text += " subject to " + join_words([f"{k} {b}" for k, b in rule.constraints.items()])
    elif isinstance(rule, WeightedRule):
        terms = join_words([f"{k} (weight {format_number(w)})" for k, w in rule.weights.items()])
        if rule.scale == "minmax":
            how = "each scaled to [0, 1] across the models (1 = best)"
        elif rule.scale == "rank":
            how = "each scored by rank across the models (1 = best, 0 = worst)"
        else:
            lower = [k for k in rule.weights if ctx.direction(k) == "lower"]
            how = "on their raw values" + (
                f" ({join_words(lower)} negated: lower is better)" if lower else "")
        text = f"maximize the weighted mean of {terms}, {how}"
    elif isinstance(rule, FormulaRule):
        what = rule.expression if rule.name == "formula" \
            else f"{rule.name} = {rule.expression}"
        text = f"{verb(rule.direction)} {what}"
    else:
        parts = [f"{k} ({ctx.direction(k)} is better)" for k in dedupe(rule.metrics)]
        text = f"the Pareto front (non-dominated models) over {join_words(parts)}"
    if rule.tie_break is not None:
        text += f"; ties broken by {rule.tie_break}"
    return text
