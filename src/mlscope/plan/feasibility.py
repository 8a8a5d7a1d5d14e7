"""Feasibility from evidence: the labelled rows, money and weeks each target needs.

A fitted learning curve (:mod:`mlscope.diagnose.learning_curve`: measured points of the
model, or a refitted learned baseline) says how many training rows reach a metric value;
the charter's label cost (``planning.feasibility.label_cost``) turns rows into money and
weeks. For each requirement on the curve's metric and each extra "nine" of its error
(accuracy 0.9 → 0.99 → 0.999):

- ``rows_needed``: the size at which the fitted curve reaches the target,
  ``n = (a / (e_t − c))^(1/b)`` (:func:`~mlscope.diagnose.learning_curve.data_needed`);
- ``rows_to_label``: ``max(0, n − rows on hand)``; the rows on hand are
  ``planning.feasibility.labelled_rows``, else the largest size the curve was measured at;
- ``money``: ``rows_to_label × per_item``; ``weeks``: ``rows_to_label / per_week``.

Intervals follow from the curve's bootstrap interval of ``n`` through the same (monotone)
arithmetic. A target at or beyond the curve's asymptote is "unreachable on this curve":
every figure is then ``None`` with the reason, never an infinity or NaN.

Two more signals, when the caller has their figures: a human baseline's value as the
difficulty signal (can a person reach the requirement?) and a rule baseline's value as
"do we need ML" (does the rule already meet it?).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from mlscope.charter.planning import LabelCost
from mlscope.diagnose.learning_curve import LearningCurve, data_needed, nines
from mlscope.errors import InputError

__all__ = [
    "Feasibility",
    "TargetCost",
    "assess_feasibility",
    "baseline_signal",
    "requirement_targets",
]

Interval = list[float | None]  # [lo, hi]; hi None: some refits never reach the target


@dataclass
class TargetCost:
    """What one target costs in labelled rows, money and weeks.

    Attributes
    ----------
    label
        ``"requirement"`` or ``"nine"``, and what the target is, e.g. ``"accuracy ≥ 0.9"``.
    kind
        ``"requirement"`` or ``"nine"``.
    target
        The metric value asked for.
    reachable
        Whether the fitted curve reaches it (within ``N_CAP`` rows).
    rows_needed, rows_interval
        The training-set size the fit needs and its bootstrap interval (``hi`` ``None``:
        the upper tail of refits never reaches it). ``None`` when unreachable.
    rows_to_label, rows_to_label_interval
        Rows beyond those on hand (never below 0).
    money, money_interval
        ``rows_to_label × per_item`` in ``unit``; ``None`` without a label cost.
    weeks, weeks_interval
        ``rows_to_label / per_week``; ``None`` without a throughput.
    note
        The answer in words.
    """

    label: str
    kind: str
    target: float
    reachable: bool
    rows_needed: float | None
    rows_interval: Interval | None
    rows_to_label: float | None
    rows_to_label_interval: Interval | None
    money: float | None
    money_interval: Interval | None
    weeks: float | None
    weeks_interval: Interval | None
    note: str


@dataclass
class Feasibility:
    """Feasibility of a project's targets on one learning curve.

    Attributes
    ----------
    metric, direction
        The curve's metric and which way it improves.
    curve_source
        Where the curve's points came from, in words (measured or refitted stand-in).
    asymptote, asymptote_interval
        The metric value the fitted curve levels off at, with its bootstrap interval.
    rows_on_hand, rows_on_hand_source
        The labelled rows counted as already had, and whether they come from
        ``planning.feasibility.labelled_rows`` or the curve's largest size.
    per_item, unit, per_week
        The label cost (``None`` when the charter gives none).
    targets
        One :class:`TargetCost` per requirement, then per nine.
    difficulty
        The human-level signal (:func:`baseline_signal`), or ``None``.
    need_ml
        The rule-baseline signal, or ``None``.
    level
        The intervals' level.
    """

    metric: str
    direction: str
    curve_source: str
    asymptote: float
    asymptote_interval: list[float] | None
    rows_on_hand: float
    rows_on_hand_source: str
    per_item: float | None
    unit: str
    per_week: float | None
    targets: list[TargetCost] = field(default_factory=list)
    difficulty: dict[str, Any] | None = None
    need_ml: dict[str, Any] | None = None
    level: float = 0.95

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready; no infinities or NaN anywhere)."""
        return asdict(self)


def _meets(value: float, target: float, direction: str) -> bool:
    return value >= target if direction == "higher" else value <= target


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def baseline_signal(name: str, value: float | None, target: float | None, *, direction: str,
                    role: str) -> dict[str, Any] | None:
    """Compare a baseline's figure with the requirement.

    Parameters
    ----------
    name
        The baseline's name.
    value
        Its figure on the metric (``None``: no signal).
    target
        The requirement on the metric (``None``: the figure alone is reported).
    direction
        The metric's direction.
    role
        ``"difficulty"`` (a human baseline: can a person do it?) or ``"need_ml"`` (a rule
        baseline: does a rule already do it?).

    Returns
    -------
    dict or None
        ``name``, ``value``, ``target``, ``meets`` (``None`` without a target) and ``note``.
    """
    if value is None or not math.isfinite(value):
        return None
    meets = None if target is None else _meets(value, target, direction)
    if role == "difficulty":
        note = (f"People reach {value:.4g} (`{name}`)" + (
            "" if meets is None else
            f"; the requirement {target:g} is within human level: the task is learnable"
            if meets else
            f", short of the requirement {target:g}: a model must beat people; "
            "expect a hard problem"))
    else:
        note = (f"The rule `{name}` reaches {value:.4g}" + (
            "" if meets is None else
            f", which already meets the requirement {target:g}: ML may not be needed"
            if meets else f", short of the requirement {target:g}: the rule is not enough"))
    return {"name": name, "value": float(value), "target": target, "meets": meets,
            "note": note + "."}


def _scale(iv: Interval | None, on_hand: float, mult: float | None) -> Interval | None:
    """``max(0, n − on_hand) × mult`` applied to both ends of an interval of ``n``."""
    if iv is None or mult is None:
        return None
    lo, hi = iv
    return [None if lo is None else max(0.0, lo - on_hand) * mult,
            None if hi is None else max(0.0, hi - on_hand) * mult]


def _cost(curve: LearningCurve, label: str, kind: str, target: float, on_hand: float,
          per_item: float | None, per_week: float | None, unit: str) -> TargetCost:
    dn = data_needed(curve, target, direction=curve.direction)
    if not dn.reachable or dn.n is None:
        asym = curve.intervals.get("asymptote")
        span = f" [{asym[0]:.4g}, {asym[1]:.4g}]" if asym else ""
        note = (f"Unreachable on this curve: it levels off at {curve.asymptote:.4g}{span}, "
                f"short of {target:g}. " + dn.note)
        return TargetCost(label, kind, target, False, None, None, None, None, None, None,
                          None, None, note)
    n = dn.n
    to_label = max(0.0, n - on_hand)
    money = to_label * per_item if per_item is not None else None
    weeks = to_label / per_week if per_week is not None else None
    iv = dn.interval
    bits = [f"about {_fmt(n)} labelled rows ({_fmt(to_label)} more than the {_fmt(on_hand)} "
            "on hand)"]
    if money is not None:
        bits.append(f"{_fmt(money)} {unit}".rstrip())
    if weeks is not None:
        bits.append(f"{weeks:.3g} weeks of labelling")
    note = f"{label}: " + ", ".join(bits) + "."
    if iv is not None and iv[1] is None:
        note += " The upper end is open: some bootstrap refits never reach it."
    return TargetCost(
        label, kind, target, True, n, iv, to_label, _scale(iv, on_hand, 1.0), money,
        _scale(iv, on_hand, per_item), weeks,
        _scale(iv, on_hand, None if per_week is None else 1.0 / per_week), note)


def assess_feasibility(
    curve: LearningCurve,
    *,
    metric: str,
    requirements: Mapping[str, float] | None = None,
    label_cost: LabelCost | None = None,
    labelled_rows: int | None = None,
    nines_count: int = 3,
    nines_start: float | None = None,
    human: tuple[str, float] | None = None,
    rule: tuple[str, float] | None = None,
    curve_source: str = "measured points",
) -> Feasibility:
    """Labelled rows, money and weeks for each requirement and each extra nine.

    Parameters
    ----------
    curve
        A fitted learning curve of ``metric`` (``fit_learning_curve``; reuse its
        bootstrap for the intervals).
    metric
        The metric's name or id, for labels.
    requirements
        ``{label: target value}``, e.g. ``{"accuracy >= 0.9": 0.9}``.
    label_cost
        ``planning.feasibility.label_cost``: ``per_item`` in ``unit``, ``per_week``.
    labelled_rows
        ``planning.feasibility.labelled_rows``; default: the curve's largest size.
    nines_count
        How many nines (0 for none). Nines need a metric with a known best value; on a
        curve without one they are left out.
    nines_start
        The first nine as a metric value (default: the next nine beyond the fit at the
        largest size).
    human, rule
        ``(baseline name, figure on the metric)``: the difficulty and "do we need ML"
        signals, compared with the first requirement.
    curve_source
        Where the points came from, in words.

    Returns
    -------
    Feasibility
    """
    if labelled_rows is not None and labelled_rows < 0:
        raise InputError(f"labelled_rows must be >= 0; got {labelled_rows!r}")
    largest = float(max(curve.sizes))
    on_hand = float(labelled_rows) if labelled_rows is not None else largest
    source = ("planning.feasibility.labelled_rows" if labelled_rows is not None
              else "the largest size on the learning curve")
    per_item = label_cost.per_item if label_cost is not None else None
    per_week = label_cost.per_week if label_cost is not None else None
    unit = label_cost.unit if label_cost is not None else ""
    out = Feasibility(metric=metric, direction=curve.direction, curve_source=curve_source,
                      asymptote=curve.asymptote,
                      asymptote_interval=curve.intervals.get("asymptote"),
                      rows_on_hand=on_hand, rows_on_hand_source=source, per_item=per_item,
                      unit=unit, per_week=per_week, level=curve.level)
    reqs = dict(requirements or {})
    for label, target in reqs.items():
        out.targets.append(_cost(curve, label, "requirement", float(target), on_hand,
                                 per_item, per_week, unit))
    if nines_count > 0 and curve.reference_source != "shifted":
        for row in nines(curve, direction=curve.direction, start=nines_start,
                         count=nines_count):
            t = float(row["target"])
            out.targets.append(_cost(curve, f"{metric} {t:g} (error {row['error']:g})",
                                     "nine", t, on_hand, per_item, per_week, unit))
    first = float(next(iter(reqs.values()))) if reqs else None
    if human is not None:
        out.difficulty = baseline_signal(human[0], human[1], first,
                                         direction=curve.direction, role="difficulty")
    if rule is not None:
        out.need_ml = baseline_signal(rule[0], rule[1], first, direction=curve.direction,
                                      role="need_ml")
    return out


def requirement_targets(requirements: Mapping[str, Any], metric_id: str,
                        symbol: Sequence[str] = (">=", "<=", ">", "<")) -> dict[str, float]:
    """The charter's requirements on ``metric_id`` as ``{"metric >= v": v}``.

    Parameters
    ----------
    requirements
        ``charter.requirements`` (metric id → bound with ``op`` and ``value``).
    metric_id
        The curve's metric.
    symbol
        The operators accepted.

    Returns
    -------
    dict
        One entry, or none when the metric has no requirement.
    """
    b = requirements.get(metric_id)
    if b is None or getattr(b, "op", None) not in symbol:
        return {}
    return {f"{metric_id} {b.op} {b.value:g}": float(b.value)}
