"""The launch scope: the largest share of traffic on which a model meets every requirement
with family-wise confidence (docs/deciding.md, "Scope").

Each slice cell (and the whole split) is a hypothesis test of H0 "the model misses at
least one requirement here". Per requirement the p-value is one-sided:

* **exact** for a rate at a fixed threshold (accuracy, recall, specificity, precision,
  positive rate) on unweighted rows: ``k = round(value · n)`` successes of its ``n``
  trials, ``P(Bin(n, b) ≥ k)`` for a bound ``≥ b`` (``P(Bin(n, b) ≤ k)`` for ``≤ b``);
* else from the bootstrap replicates: ``(1 + #replicates on the failing side) / (1 + B)``
  (the percentile bootstrap's one-sided p-value; asymptotically valid, and never below
  ``1/(1 + B)``).

A cell passes only when every requirement does, so its p-value is the largest of its
requirements' (an intersection–union test: valid without correction within the cell).
Holm's step-down procedure over every cell tested, across all partitions, controls the
family-wise error rate at ``alpha``: with probability at least ``1 − alpha`` no cell that
truly misses a requirement is certified, whichever partition is then picked. The scope is
the partition whose certified cells carry the most rows.

Everything here works on plain data; :mod:`mlscope.pipeline.scope` gathers it from the run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from mlscope.charter.schema import Bound
from mlscope.metrics.binomial import binom_cdf
from mlscope.result import Scope, ScopeCell

__all__ = ["ALL_TRAFFIC", "MEAN_LIKE", "CellInput", "Evidence", "bootstrap_p_value",
           "exact_p_value", "holm", "scope_lines", "search_scope", "share_text"]

FloatArray = npt.NDArray[np.float64]

ALL_TRAFFIC = "all traffic"

# Registry metrics whose value on a union of disjoint cells is a weighted average of the
# cells' values (a ratio of sums over rows at a fixed threshold, or a mean over rows), or
# a monotone function of one (rmse): if every included cell meets the bound, so does
# their union. ROC AUC, average precision, R² and the quantiles are not among them.
MEAN_LIKE = frozenset({
    "accuracy", "precision", "recall", "specificity", "f1", "positive_rate", "brier",
    "log_loss", "net_value", "expected_cost", "mae", "rmse", "mape", "error_mean",
    "precision_at_recall", "recall_at_precision", "top_k_accuracy"})

_SHOWN = 8  # excluded cells listed in the verdict before "… and N more"


@dataclass
class Evidence:
    """One requirement on one cell: its point value and interval, and the one-sided
    p-value of H0 "the requirement is missed here" (None: it cannot be tested; ``why``
    says so)."""

    metric: str
    bound: Bound
    value: float | None
    lower: float | None = None
    upper: float | None = None
    p_value: float | None = None
    test: str = ""
    why: str = ""

    @property
    def misses(self) -> bool:
        return self.value is not None and not self.bound.holds(self.value)


@dataclass
class CellInput:
    """A slice cell: its key, the partition it belongs to, its rows on the split and the
    evidence on each requirement; ``too_small`` cells are not tested."""

    slice: str
    partition: str
    rows: int
    evidence: list[Evidence] = field(default_factory=list)
    too_small: bool = False


def exact_p_value(value: float, trials: float, bound: Bound) -> float:
    """The exact one-sided binomial p-value of H0 "the rate misses ``bound``", from
    ``round(value · trials)`` successes of ``trials`` (conservative at the boundary)."""
    n = float(round(trials))
    k = float(min(max(round(value * n), 0), n))
    b = min(max(bound.value, 0.0), 1.0)
    if bound.op in (">=", ">"):
        # Under H0 the rate is at most b: P(X ≥ k) is largest at p = b.
        return 1.0 if k <= 0 else float(1.0 - binom_cdf(k - 1.0, n, b)[()])
    return 1.0 if k >= n else float(binom_cdf(k, n, b)[()])


def bootstrap_p_value(replicates: FloatArray, bound: Bound) -> float | None:
    """``(1 + #finite replicates that miss bound) / (1 + #finite replicates)``; None
    without finite replicates."""
    finite = replicates[np.isfinite(replicates)]
    if not finite.size:
        return None
    holds = {">=": finite >= bound.value, ">": finite > bound.value,
             "<=": finite <= bound.value, "<": finite < bound.value}[bound.op]
    return float((1 + int((~holds).sum())) / (1 + finite.size))


def holm(p_values: Sequence[float], alpha: float) -> list[tuple[bool, float]]:
    """Holm's step-down procedure: per p-value (in the given order) whether it is
    rejected and the level it was held to (``alpha / (m − rank)``, rank from 0)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: (p_values[i], i))
    out: list[tuple[bool, float]] = [(False, alpha)] * m
    going = True
    for rank, i in enumerate(order):
        level = alpha / (m - rank)
        going = going and p_values[i] <= level
        out[i] = (going, level)
    return out


def _decisive(ev: Sequence[Evidence]) -> Evidence:
    """The requirement that decides the cell: a missed one (largest p-value first), else
    the one with the largest p-value."""
    missed = [e for e in ev if e.misses]
    pool = missed or list(ev)
    return max(pool, key=lambda e: (e.p_value if e.p_value is not None else 2.0))


def _cell(c: CellInput, min_size: int | None) -> ScopeCell:
    out = ScopeCell(slice=c.slice, partition=c.partition, rows=c.rows, status="undefined")
    if c.too_small:
        out.status = "too_small"
        out.note = (f"too few rows ({c.rows:,} < min_size {min_size})" if min_size
                    else f"too few rows ({c.rows:,})")
        return out
    undefined = next((e for e in c.evidence if e.p_value is None), None)
    if not c.evidence or undefined is not None:
        e = undefined
        out.note = (f"{e.metric} cannot be tested: {e.why or 'undefined'}" if e is not None
                    else "no requirements to test")
        if e is not None:
            _describe(out, e)
        return out
    e = _decisive(c.evidence)
    _describe(out, e)
    out.p_value = max(float(x.p_value) for x in c.evidence if x.p_value is not None)
    out.status = "misses" if e.misses else "not_certified"
    return out


def _describe(out: ScopeCell, e: Evidence) -> None:
    out.metric, out.bound, out.value = e.metric, str(e.bound), e.value
    out.lower, out.upper, out.test = e.lower, e.upper, e.test


def search_scope(model: str, split: str, cells: Sequence[CellInput], rows_total: int,
                 alpha: float, *, min_size: int | None = None,
                 mean_like: dict[str, bool] | None = None) -> Scope:
    """The launch scope among ``cells`` (grouped into partitions by their ``partition``,
    in order of first appearance).

    Every testable cell enters one Holm family at ``alpha``; the scope is the partition
    whose certified cells carry the most rows (the first on a tie; ``all traffic``
    first when the whole split is a cell). ``mean_like`` says, per requirement metric,
    whether the union of cells meets a bound its cells all meet (see :data:`MEAN_LIKE`).
    """
    out = [_cell(c, min_size) for c in cells]
    tested = [i for i, c in enumerate(out) if c.p_value is not None]
    for i, (rejected, level) in zip(tested, holm([float(out[i].p_value or 0.0)
                                                  for i in tested], alpha), strict=True):
        out[i].level = level
        if rejected:
            out[i].status = "certified"
    best: tuple[int, str] | None = None
    for part in dict.fromkeys(c.partition for c in out):
        rows = sum(c.rows for c in out if c.partition == part and c.status == "certified")
        if rows > 0 and (best is None or rows > best[0]):
            best = (rows, part)
    scope = Scope(model=model, split=split, alpha=alpha,
                  method=("one-sided test per slice and requirement (exact binomial for "
                          "rates at a fixed threshold, else the bootstrap's share of "
                          "replicates on the failing side); a slice's p-value is the "
                          "largest of its requirements'; Holm over every slice tested"),
                  partition=None, included=[], rows_in=0, rows_total=rows_total, share=0.0,
                  tested=len(tested), cells=out)
    if best is not None:
        scope.rows_in, scope.partition = best
        scope.included = [c.slice for c in out
                          if c.partition == best[1] and c.status == "certified"]
        scope.share = best[0] / rows_total if rows_total > 0 else 0.0
        scope.union = _union_note(scope, mean_like or {})
    return scope


def _union_note(scope: Scope, mean_like: dict[str, bool]) -> str:
    if scope.partition == ALL_TRAFFIC or len(scope.included) < 2:
        return ""
    ok = [m for m, v in mean_like.items() if v]
    not_ok = [m for m, v in mean_like.items() if not v]
    if not not_ok:
        return ("every requirement is an average over rows, so the included slices "
                "together meet it too")
    text = (f"{', '.join(not_ok)} on the included slices together is not an average of "
            "their values: the guarantee is per slice")
    if ok:
        text += f" ({', '.join(ok)}, averages over rows, hold on their union too)"
    return text


def _num(x: float | None) -> str:
    return "undefined" if x is None else f"{x:.3f}".replace("-", "−")


def _p(x: float) -> str:
    return f"{x:.2g}" if x >= 0.001 else f"{x:.1e}"


def _figure(c: ScopeCell) -> str:
    interval = ("" if c.lower is None or c.upper is None
                else f" [{_num(c.lower)}, {_num(c.upper)}]")
    return f"{c.metric} {_num(c.value)}{interval}"


def _why_out(c: ScopeCell) -> str:
    if c.status in ("too_small", "undefined"):
        return c.note
    if c.status == "misses":
        return f"{_figure(c)} misses {c.bound}"
    level = f"; Holm needs ≤ {_p(c.level)}" if c.level is not None else ""
    p = _p(c.p_value) if c.p_value is not None else "undefined"
    return f"{_figure(c)} meets {c.bound}, but not with family-wise confidence (p = {p}{level})"


def _more(lines: list[str], extra: int) -> None:
    if extra > 0:
        lines.append(f"… and {extra} more (result.scope.cells)")


def scope_lines(scope: Scope, *, on_points: bool = False,
                own: Mapping[tuple[str, str], tuple[str, bool]] | None = None) -> list[str]:
    """The verdict's "Scope" section: where to launch, what stays out and why
    (``on_points``: the verdict decided some requirement on its point value, which a
    scope that certifies nothing then says).

    ``own`` maps ``(slice, metric)`` to a ``slice_requirements:`` entry's bound and whether
    the model meets it: the scope holds every slice to the overall requirements, so a
    slice it flags against those says what its own requirement gave (otherwise "mae 83
    misses <= 60" stood under "mae in rush=rush 83 (<= 90) ✓")."""
    own = own or {}

    def also(c: ScopeCell) -> str:
        hit = own.get((c.slice, c.metric or ""))
        if hit is None or hit[0] == c.bound:
            return ""
        return (f"; its own requirement, {c.metric} {hit[0]}, is "
                + ("met" if hit[1] else "missed"))

    conf = f"{100 * (1 - scope.alpha):g}% family-wise confidence"
    holm_ = f"Holm over {scope.tested} slice{'s' if scope.tested != 1 else ''} tested"
    lines: list[str] = []
    if scope.partition is None:
        lines.append(f"No scope is certified: on no slice of the {scope.split} split, nor "
                     f"on all of it, does {scope.model} meet every requirement with "
                     f"{conf} ({holm_})"
                     + ("; the verdict reads point values, the scope asks for confidence."
                        if on_points else "."))
        overall = next((c for c in scope.cells if c.partition == ALL_TRAFFIC), None)
        if overall is not None:
            lines.append(f"All traffic: {_why_out(overall)}")
        near = sorted((c for c in scope.cells if c.p_value is not None
                       and c.partition != ALL_TRAFFIC and c.status == "not_certified"),
                      key=lambda c: float(c.p_value or 1.0))[:3]
        for c in near:
            lines.append(f"Nearest: {c.slice}: {_why_out(c)}")
        return lines
    if scope.partition == ALL_TRAFFIC:
        lines.append(f"Launch {scope.model} on all traffic: it meets every requirement on "
                     f"the whole {scope.split} split ({scope.rows_total:,} rows) with "
                     f"{conf} ({holm_}).")
        weak = [c for c in scope.cells if c.status == "misses"]
        for c in weak[:_SHOWN]:
            lines.append(f"Watch {c.slice}: {_figure(c)} misses {c.bound} at its point "
                         f"value{also(c)}")
        _more(lines, len(weak) - _SHOWN)
        return lines
    shown = ", ".join(scope.included)
    lines.append(f"Launch {scope.model} on {shown}: {share_text(scope)} of "
                 f"{scope.split} traffic ({scope.rows_in:,} of {scope.rows_total:,} rows) "
                 f"meets every requirement with {conf} ({holm_}).")
    out = [c for c in scope.cells if c.partition == scope.partition
           and c.status != "certified"]
    for c in out[:_SHOWN]:
        lines.append(f"Keep out {c.slice}: {_why_out(c)}{also(c)}")
    _more(lines, len(out) - _SHOWN)
    covered = sum(c.rows for c in scope.cells if c.partition == scope.partition)
    if covered < scope.rows_total:
        lines.append(f"Keep out the {scope.rows_total - covered:,} rows in no slice of "
                     f"{scope.partition} (untested).")
    overall = next((c for c in scope.cells if c.partition == ALL_TRAFFIC), None)
    if overall is not None and overall.status != "certified":
        lines.append(f"All traffic is not certified: {_why_out(overall)}")
    if scope.union:
        lines.append(f"Note: {scope.union}.")
    return lines


def share_text(scope: Scope) -> str:
    """``64%`` (rounded; ``<1%`` for a positive share under one per cent)."""
    if 0 < scope.share < 0.01:
        return "<1%"
    return f"{math.floor(100 * scope.share + 0.5)}%"
