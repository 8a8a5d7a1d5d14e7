"""The verdict's costs section: what the recommended model and the alternatives are worth
in the charter's units, with paired intervals (docs/deciding.md, "Costs in the verdict").

The verdict itself follows the charter's selection rule; this section states the money
beside it and says so when a model is worth more, beyond its interval, than the one the
verdict recommends — the charter then optimises something other than what it pays for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlscope.compare.figures import decimals, interval_text
from mlscope.result import Difference, MetricInfo, MetricValue, VerdictReason

__all__ = ["CostLines", "cost_lines"]

# Value metrics, in order of preference: net value reads as "worth", expected cost as "costs".
_COST_METRICS = ("net_value", "expected_cost")


@dataclass
class CostLines:
    """The section's lines, and a reason to add to the verdict when a model is worth more
    than the recommended one beyond its interval."""

    lines: list[str]
    reason: VerdictReason | None = None


def _minus(text: str) -> str:
    # A true minus sign, as every other figure of the verdict prints it.
    return text.replace("-", "−")


def _signed(x: float, spec: str = "+.3g") -> str:
    """A difference with its sign; an exact zero (of either sign) is "0", not "+0"/"−0"."""
    return "0" if x == 0 else _minus(format(x, spec))


def _per_1000(x: float | None) -> str:
    return "—" if x is None else _minus(f"{x * 1000:,.0f}")


def _value_interval(x: float | None, lo: float | None, hi: float | None) -> str:
    """A value and its interval with the same decimals, three significant digits of the
    largest ("0.310 [0.258, 0.366]", not "0.31 [0.258, 0.366]")."""
    if x is None:
        return "—"
    d = decimals(x, lo, hi)
    shown = f"{x:.{d}f}" + ("" if lo is None or hi is None else f" [{lo:.{d}f}, {hi:.{d}f}]")
    return _minus(shown)


def _paired(diffs: Sequence[Difference], a: str, b: str, metric: str,
            split: str) -> tuple[float, float | None, float | None] | None:
    """``a − b`` on the overall rows of ``split``, from either direction it was stored."""
    for d in diffs:
        if d.split != split or d.slice != "overall" or d.metric != metric or d.value is None:
            continue
        if d.model == a and d.reference == b:
            return d.value, d.lower, d.upper
        if d.model == b and d.reference == a:
            lo = -d.upper if d.upper is not None else None
            hi = -d.lower if d.lower is not None else None
            return -d.value, lo, hi
    return None


def cost_lines(*, metrics: Sequence[MetricInfo], values: Mapping[tuple[str, str], MetricValue],
               differences: Sequence[Difference], split: str, recommended: str | None,
               others: Sequence[str], unit: str, role: str = "recommended"
               ) -> CostLines | None:
    """The costs section, or None when the charter has no cost metric.

    Parameters
    ----------
    metrics
        The run's metrics; the first ``net_value`` (else ``expected_cost``) is used.
    values
        ``(model, metric id) -> MetricValue`` on ``split``, overall.
    differences
        The run's paired differences.
    recommended
        The verdict's model; ``others`` the models to set beside it (the selected model,
        the production model, the candidates).
    unit
        The charter's cost unit.
    role
        What the verdict's model is to the verdict, marked after its line
        (``recommended``; ``nearest to the requirements`` under "not good enough"). Only
        a recommended model is argued against ("but … is worth more"): the others are
        no choice to dispute.
    """
    info = next((m for name in _COST_METRICS for m in metrics if m.name == name), None)
    if info is None or recommended is None:
        return None
    higher = info.direction == "higher"
    what = ("net value (against acting on no case)" if info.name == "net_value"
            else "expected cost")
    lines = [f"{info.id}: {what} per case on {split}" + (f", in {unit}" if unit else "")]
    # "(−42 EUR per 1,000 cases)": a bare "(−42 per 1,000)" left the reader to guess what.
    per_k = f"{unit} per 1,000 cases" if unit else "per 1,000 cases"
    shown = list(dict.fromkeys([recommended, *others]))
    for m in shown:
        v = values.get((m, info.id))
        if v is None:
            continue
        mark = f" ← {role}" if m == recommended else ""
        lines.append(f"{m}: {_value_interval(v.value, v.lower, v.upper)} "
                     f"({_per_1000(v.value)} {per_k}){mark}")
    reason = None
    best: tuple[str, float, float | None, float | None] | None = None
    for m in shown:
        if m == recommended:
            continue
        d = _paired(differences, m, recommended, info.id, split)
        if d is None:
            continue
        lead, lo, hi = d if higher else (-d[0], -d[2] if d[2] is not None else None,
                                         -d[1] if d[1] is not None else None)
        # The line is the metric's own difference, as its label says: for a cost, a
        # positive figure is what `m` costs more per case than the recommended model.
        lines.append(f"{m} − {recommended}: {interval_text(d[0], d[1], d[2])} "
                     + (f"{unit} " if unit else "")
                     + f"per case ({_signed(d[0] * 1000, '+,.0f')} {per_k})")
        if lo is not None and lo > 0 and (best is None or lead > best[1]):
            best = (m, lead, lo, hi)
    if best is not None and role == "recommended":
        m, lead, lo, hi = best
        reason = VerdictReason(
            text=(f"but {m} is worth {interval_text(lead, lo, hi)} {unit} per case "
                  f"more than "
                  f"{recommended} ({info.id}, beyond its paired interval): the charter's "
                  f"rule decides on another metric; to decide on money, optimise {info.id}"),
            figures={"model": m, "metric": info.id, "value": lead, "lower": lo, "upper": hi,
                     "unit": unit})
    return CostLines(lines=lines, reason=reason)
