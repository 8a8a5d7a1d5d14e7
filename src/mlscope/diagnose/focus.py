"""Which metric to work on now: optimize one, threshold the others, set budgets aside.

Given the current candidates' values and the charter's requirements, :func:`metric_focus`
measures how far the best candidate is from each target — in the metric's units, relative
to the target, and in units of the *spread* across candidates (max − min). The spread is
what choosing or tuning among today's models moves: a gap of 0.3 spreads is within reach,
a gap of 40 spreads needs new work. It then proposes a satisficing rule:

- **optimize** the quality metric farthest from its target in spread units;
- **threshold** (a constraint at its requirement) the metrics already met or close;
- **set aside** the operational budgets (inference time, memory) that no candidate meets
  while quality is still far: they become constraints once the model is good enough; and
  any metric that would make the proposed rule select nothing (missed by every candidate,
  or met only by candidates that miss the other constraints);
- **monitor** the rest (a second far quality metric, a metric without values).

Everything here is pure: numbers in, a plain :class:`Focus` out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mlscope.errors import InputError, did_you_mean

__all__ = ["CLOSE_RELATIVE", "CLOSE_SPREADS", "Focus", "FocusRow", "metric_focus"]

Role = Literal["optimize", "threshold", "set aside", "monitor"]
OPS = (">=", "<=", ">", "<")
DIRECTIONS = ("higher", "lower")

CLOSE_SPREADS = 1.0
"""A gap of at most this many spreads (max − min across candidates) is close."""
CLOSE_RELATIVE = 0.02
"""A gap of at most this share of the target is close whatever the spread (a tiny spread
would otherwise make a negligible gap look far)."""
TINY_SPREAD = 0.01
"""A spread below this share of the target means the model choice hardly moves the metric."""


@dataclass
class FocusRow:
    """One required metric: where the best candidate stands, and what to do with it.

    Attributes
    ----------
    metric, op, target
        The requirement, e.g. ``angular_error <= 5``.
    direction
        ``"higher"`` or ``"lower"`` is better.
    budget
        Whether it is an operational constraint (inference time, memory), not quality.
    best_model, best_value
        The best candidate in the metric's direction and its value (``None``: no values).
    distance
        Still to go in the metric's units: positive when missed, negative (the margin)
        when met.
    relative
        ``distance / |target|`` (``None`` when the target is 0).
    spread
        Max − min across the candidates with a value (0 with one candidate).
    spreads
        ``distance / spread`` (``None`` when the spread is 0).
    met
        Whether the best candidate meets the requirement (``None``: no values).
    n_models
        Candidates with a value.
    role
        ``"optimize"``, ``"threshold"``, ``"set aside"`` or ``"monitor"``.
    reason
        Why, with the figures.
    """

    metric: str
    op: str
    target: float
    direction: str
    budget: bool
    best_model: str | None
    best_value: float | None
    distance: float | None
    relative: float | None
    spread: float | None
    spreads: float | None
    met: bool | None
    n_models: int
    role: Role = "monitor"
    reason: str = ""


@dataclass
class Focus:
    """The recommendation: what to optimize, what to threshold, and the proposed rule.

    Attributes
    ----------
    rows
        One per required metric, in the requirements' order.
    optimize
        The metric to optimize now (``None`` when no metric has a value).
    proposed_rule
        A selection rule in the charter's format, e.g. ``{"rule": "satisficing",
        "optimize": "angular_error", "constraints": {"position_error": "<= 1"}}``; empty
        when there is nothing to optimize.
    all_met
        Every requirement is met by some candidate: the current rule can stay.
    eligible
        The candidates that meet every constraint of the proposed rule.
    notes
        Caveats: skipped values, metrics without targets, feasibility of the rule.
    """

    rows: list[FocusRow]
    optimize: str | None
    proposed_rule: dict[str, Any]
    all_met: bool = False
    eligible: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self, metric: str) -> FocusRow:
        """The row of one metric."""
        for r in self.rows:
            if r.metric == metric:
                return r
        raise KeyError(metric)


# -- helpers ----------------------------------------------------------------------------


def _num(x: float) -> str:
    """Shortest text that reads back as the number (``1``, ``0.97``, ``1e-07``)."""
    short = f"{x:g}"
    return short if float(short) == x else repr(x)


def _f(x: float | None) -> str:
    return "—" if x is None else f"{x:.3g}"


def _holds(op: str, x: float, target: float) -> bool:
    return {">=": x >= target, "<=": x <= target, ">": x > target, "<": x < target}[op]


def _requirement(metric: str, req: Any) -> tuple[str, float]:
    """``(op, target)`` from a tuple, a ``">= 0.6"`` string, or a bound object."""
    op: Any
    target: Any
    if isinstance(req, str):
        text = req.strip()
        op = next((o for o in OPS if text.startswith(o)), None)
        target = text[len(op):] if op else None
    elif isinstance(req, tuple | list) and len(req) == 2:
        op, target = req
    elif hasattr(req, "op") and hasattr(req, "value"):  # the charter's Bound
        op, target = req.op, req.value
    else:
        op = target = None
    try:
        value = float(target)
    except (TypeError, ValueError):
        value = math.nan
    if op not in OPS or not math.isfinite(value):
        raise InputError(f"metric_focus: requirement on `{metric}` is {req!r}; expected "
                         "(op, target) with op one of >=, <=, >, < and a finite target, e.g. "
                         "(\"<=\", 1.0) or \"<= 1.0\".")
    return str(op), value


def _key(r: FocusRow) -> tuple[float, float, float]:
    """Farthest first: spreads (a gap with spread 0 is infinitely many), then relative."""
    d = r.distance if r.distance is not None else -math.inf
    return (r.spreads if r.spreads is not None else (math.inf if d > 0 else -math.inf),
            r.relative if r.relative is not None else d, d)


def _close(r: FocusRow) -> bool:
    if r.met:
        return True
    return (r.spreads is not None and r.spreads <= CLOSE_SPREADS) or \
        (r.relative is not None and r.relative <= CLOSE_RELATIVE)


def _where(r: FocusRow) -> str:
    assert r.best_value is not None
    return f"best {_f(r.best_value)} ({r.best_model}) vs {r.op} {_num(r.target)}"


def _gap(r: FocusRow) -> str:
    """The distance in units, relative and in spreads."""
    assert r.distance is not None
    rel = f" ({r.relative:.0%} of the target)" if r.relative is not None else ""
    if r.spreads is None:
        spr = ("one candidate, so no spread" if r.n_models == 1
               else f"all {r.n_models} candidates equal (spread 0)")
    else:
        spr = f"{r.spreads:.1f} spreads (candidates span {_f(r.spread)})"
    return f"{_f(r.distance)} to go{rel}, {spr}"


# -- the recommendation -------------------------------------------------------------------


def metric_focus(
    values: Mapping[str, Mapping[str, float | None]],
    requirements: Mapping[str, Any],
    directions: Mapping[str, str],
    *,
    budgets: Iterable[str] | None = None,
) -> Focus:
    """Which metric to optimize now, which to threshold, and which budgets to set aside.

    Parameters
    ----------
    values
        Model → metric id → value: the point estimates of the current candidates.
        ``None`` (or a non-finite value) is skipped with a note.
    requirements
        Metric id → ``(op, target)`` with op one of ``>=``, ``<=``, ``>``, ``<`` (a
        ``">= 0.6"`` string or the charter's bound are accepted too).
    directions
        Metric id → ``"higher"`` or ``"lower"`` (is better); needed for every required
        metric.
    budgets
        Metric ids that are operational constraints (inference time, memory, cost) rather
        than quality; a set, or a mapping whose keys are those ids.

    Returns
    -------
    Focus
        A row per required metric with its role and reason, the metric to optimize, and
        the proposed satisficing rule.

    Raises
    ------
    InputError
        A requirement that is not ``(op, target)``, or a required metric without a valid
        direction.

    Notes
    -----
    The metric to optimize is, in this order of preference: the quality metric farthest
    from its target in spread units (relative distance breaks ties; with spread 0 a gap is
    infinitely many spreads); else, when all quality targets are met or close, the budget
    farthest from its target (it is now what binds); else the closest-to-met metric still
    missed. A metric is *close* when met, within ``CLOSE_SPREADS`` = 1 spread of its
    target, or within ``CLOSE_RELATIVE`` = 2% of it; close metrics are thresholded at their
    requirement. Budgets missed while quality is far are *set aside*, not thresholded, so
    that the rule still has eligible candidates; so is any close metric that no candidate
    meets, and, when the constraints are each met but never together, those not met by
    the candidate meeting the most of them. The proposed rule therefore always selects at
    least one candidate (``eligible`` is never empty while some metric has a value).

    When every requirement is met the current rule can stay (``all_met``); the proposed
    rule then optimizes the quality metric with the smallest relative margin (the one most
    likely to be lost on new data) and thresholds the others.
    """
    budget_ids = set(budgets or ())
    models = list(values)
    notes: list[str] = []
    rows: list[FocusRow] = []
    known = sorted({k for mv in values.values() for k in mv})
    for metric, req in requirements.items():
        op, target = _requirement(metric, req)
        direction = directions.get(metric)
        if direction not in DIRECTIONS:
            got = "none given" if direction is None else f"got {direction!r}"
            hint = did_you_mean(metric, directions) if direction is None else ""
            raise InputError(f"metric_focus: the direction of `{metric}` must be \"higher\" "
                             f"or \"lower\" ({got}){hint}. Fix: read it from the metric "
                             "registry and pass it in `directions`.")
        if (direction == "higher") != (op in (">=", ">")):
            notes.append(f"{metric}: the requirement {op} {_num(target)} points against its "
                         f"direction ({direction} is better); the distance follows the "
                         "requirement, the best model the direction.")
        vals: dict[str, float] = {}
        skipped: list[str] = []
        for m in models:
            v = values[m].get(metric)
            if v is None or not math.isfinite(float(v)):
                skipped.append(m)
                continue
            vals[m] = float(v)
        if skipped and vals:  # with no value at all, the row itself says so
            notes.append(f"{metric}: undefined for {', '.join(skipped)} (skipped).")
        row = FocusRow(metric=metric, op=op, target=target, direction=str(direction),
                       budget=metric in budget_ids, best_model=None, best_value=None,
                       distance=None, relative=None, spread=None, spreads=None, met=None,
                       n_models=len(vals))
        if not vals:
            row.reason = ("no candidate has a value"
                          + did_you_mean(metric, [k for k in known if k not in requirements])
                          + ": nothing to decide on yet.")
            rows.append(row)
            continue
        pick = max if direction == "higher" else min
        best_model = pick(vals, key=lambda m: vals[m])  # the first of ties, in model order
        best = vals[best_model]
        distance = best - target if op in ("<=", "<") else target - best
        spread = max(vals.values()) - min(vals.values())
        row.best_model, row.best_value = best_model, best
        row.distance = distance
        row.relative = distance / abs(target) if target != 0 else None
        row.spread = spread
        row.spreads = distance / spread if spread > 0 else None
        row.met = _holds(op, best, target)
        rows.append(row)

    unknown_budgets = sorted(budget_ids - set(requirements))
    if unknown_budgets:
        notes.append("budgets without a requirement (ignored): " + ", ".join(unknown_budgets)
                     + ".")
    untargeted = [k for k in known if k not in requirements]
    if untargeted:
        notes.append("metrics without a requirement (not part of the focus): "
                     + ", ".join(untargeted) + ".")
    return _decide(rows, values, notes)


def _decide(rows: list[FocusRow], values: Mapping[str, Mapping[str, float | None]],
            notes: list[str]) -> Focus:
    valued = [r for r in rows if r.best_value is not None]
    for r in rows:
        if r.best_value is None:
            r.role = "monitor"
    if not valued:
        notes.append("no required metric has a value: nothing to optimize yet.")
        return Focus(rows, None, {}, notes=notes)

    unmet = [r for r in valued if not r.met]
    far = [r for r in unmet if not _close(r)]
    far_quality = [r for r in far if not r.budget]
    far_budget = [r for r in far if r.budget]
    all_met = not unmet
    if far_quality:
        opt = max(far_quality, key=_key)
    elif far_budget:
        opt = max(far_budget, key=_key)
    elif unmet:
        opt = max([r for r in unmet if not r.budget] or unmet, key=_key)
    else:
        pool = [r for r in valued if not r.budget] or valued
        opt = min(pool, key=lambda r: -r.relative if r.relative is not None else math.inf)

    for r in valued:
        if r is opt:
            r.role = "optimize"
            r.reason = _optimize_reason(r, far_quality, all_met)
        elif far_quality and r in far_budget:
            r.role = "set aside"
            r.reason = (f"budget missed by every candidate: {_where(r)}, {_gap(r)}. Quality "
                        f"is still far ({opt.metric}: {_spread_text(opt)} from its target): "
                        f"optimize quality first; {r.metric} is a constraint to meet once "
                        "the model is good enough (then: a smaller model, distillation, "
                        "quantisation).")
        elif r in far:
            r.role = "monitor"
            r.reason = (f"also far: {_where(r)}, {_gap(r)}. Work on it after {opt.metric}; "
                        "kept out of the constraints so that some candidate stays "
                        "eligible.")
        else:
            r.role = "threshold"
            r.reason = _threshold_reason(r)

    dropped = _keep_rule_feasible(valued, values, opt)
    constraints = {r.metric: f"{r.op} {_num(r.target)}" for r in valued
                   if r.role == "threshold"}
    rule: dict[str, Any] = {"rule": "satisficing", "optimize": opt.metric,
                            "constraints": constraints}
    thresholds = [r for r in valued if r.role == "threshold"]
    eligible = [m for m, mv in values.items()
                if all(_ok(mv.get(r.metric), r) for r in thresholds)]
    if all_met:
        notes.insert(0, f"every requirement is met by some candidate: keep the current "
                        f"selection rule. If it must change, optimize {opt.metric} (the "
                        "smallest margin to its target) and keep the others as "
                        "constraints.")
    if dropped:
        notes.append("set aside so that the proposed rule selects a candidate: "
                     + ", ".join(dropped) + " (a constraint no candidate meets, alone or "
                     "with the others, would select nothing).")
    if not eligible:  # unreachable with values; said rather than proposing an empty rule
        notes.append("no rule can select a candidate: none has a value for "
                     f"{opt.metric}.")
    return Focus(rows, opt.metric, rule, all_met=all_met, eligible=eligible, notes=notes)


def _keep_rule_feasible(valued: list[FocusRow],
                        values: Mapping[str, Mapping[str, float | None]],
                        opt: FocusRow) -> list[str]:
    """Set aside the constraints that would make the proposed rule select nothing.

    A constraint no candidate meets is set aside first (the docs' rule for budgets, applied
    to every metric: thresholding it empties the rule). If the remaining constraints are
    each met but by no candidate together, the candidate meeting the most of them (ties:
    the best on the optimized metric) keeps its constraints and the others are set aside,
    so at least that candidate stays eligible. Returns the metrics set aside here.
    """
    dropped: list[str] = []
    for r in valued:
        if r.role == "threshold" and not r.met:
            dropped.append(r.metric)
            r.role = "set aside"
            r.reason = (f"missed by every candidate: {_where(r)}, {_gap(r)}. Close, but a "
                        f"constraint at {r.op} {_num(r.target)} would select nothing today: "
                        f"work on {opt.metric} first and make {r.metric} a constraint once "
                        "a candidate meets it.")
    thresholds = [r for r in valued if r.role == "threshold"]
    if not thresholds:
        return dropped
    met_by = {m: {r.metric for r in thresholds if _ok(mv.get(r.metric), r)}
              for m, mv in values.items()}
    if any(len(ms) == len(thresholds) for ms in met_by.values()):
        return dropped
    sign = -1.0 if opt.direction == "higher" else 1.0

    def rank(m: str) -> tuple[int, float]:
        v = values[m].get(opt.metric)
        ok = v is not None and math.isfinite(float(v))
        return (-len(met_by[m]), sign * float(v) if ok and v is not None else math.inf)

    keep = min(values, key=rank)  # min is stable: model order breaks exact ties
    for r in thresholds:
        if r.metric not in met_by[keep]:
            others = [m for m, ms in met_by.items() if r.metric in ms]
            dropped.append(r.metric)
            r.role = "set aside"
            also = ", ".join(sorted(met_by[keep]))
            r.reason = (f"met ({_where(r)}), but only by {', '.join(others)}, none of which "
                        f"also meets {also} (as {keep} does): with all of them as "
                        "constraints the rule would select nothing. Kept out of the "
                        "constraints.")
    return dropped


def _ok(v: float | None, r: FocusRow) -> bool:
    return v is not None and math.isfinite(float(v)) and _holds(r.op, float(v), r.target)


def _spread_text(r: FocusRow) -> str:
    return f"{r.spreads:.1f} spreads" if r.spreads is not None else \
        f"{_f(r.distance)} to go with no spread"


def _optimize_reason(r: FocusRow, far_quality: list[FocusRow], all_met: bool) -> str:
    if all_met:
        assert r.distance is not None
        rel = f" ({-r.relative:.0%} of the target)" if r.relative is not None else ""
        return (f"met with the smallest margin: {_where(r)}, {_f(-r.distance)} to spare"
                f"{rel}. Optimizing it buys headroom; the others stay constraints.")
    text = f"{_where(r)}: {_gap(r)}"
    if _close(r):
        how = "close: within reach of tuning"
    elif r.spreads is None:
        how = ("the gap must be closed by new work (data, features, architecture), not by "
               "picking among the candidates")
    else:
        how = "far beyond what choosing among today's models moves"
    if r.budget and not far_quality:
        return (f"budget missed: {text} — {how}. Quality targets are met or close, so this "
                "constraint now binds: optimize it, with quality as constraints.")
    return f"{text} — {how}; the largest gap among the targets: optimize it."


def _threshold_reason(r: FocusRow) -> str:
    assert r.distance is not None
    kind = "budget" if r.budget else "quality"
    at = f"constraint at {r.op} {_num(r.target)}"
    if r.met:
        tiny = (r.spread is not None and r.target != 0
                and r.spread <= TINY_SPREAD * abs(r.target))
        extra = ("; the candidates hardly differ, so model choice does not move it"
                 if tiny and r.n_models > 1 else
                 f"; candidates span {_f(r.spread)}" if r.n_models > 1 else "")
        return (f"met ({kind}): {_where(r)}, {_f(-r.distance)} to spare{extra}: keep it as a "
                f"{at}.")
    return (f"close ({kind}): {_where(r)}, {_gap(r)} — within reach of choosing or tuning: "
            f"keep it as a {at}.")
