"""Requirements decided on the confidence bound (``decide_on: bound``).

A requirement decided on its bound is met only when the whole one-sided (1 − δ) bound
clears it: the lower bound for ``>=``, the upper for ``<=``.

* **Rates at a fixed threshold** (accuracy, recall, specificity, precision,
  positive rate): the exact Clopper–Pearson bound of ``k`` of ``n`` trials, where ``n``
  is the metric's own trials (rows for accuracy, positives for recall, negatives for
  specificity, predicted positives for precision; :func:`mlscope.engine.bounded.
  effective_trials`) and ``k = round(value · n)``.
* **Other metrics**: the δ-quantile (or 1 − δ) of the bootstrap replicates, a one-sided
  percentile bound; without replicates, the end of the reported interval.

When the point meets the requirement but the bound does not, ``more_data`` says about how
many more labelled cases would certify it at the observed rate. For a rate, that is the
fewest ``N`` trials whose exact bound clears the target with ``round(rate·N)`` errors
(:func:`mlscope.metrics.binomial.trials_needed`): with no errors ``N ≥ ln(1/δ)/−ln(1 − r)``
for an error-rate target ``r`` (the rule of three: ``≈ 3/r`` at δ = 0.05); with ``k``
errors, the smallest ``N`` with ``P(Bin(N, r) ≤ round(rate·N)) ≤ δ``. For other metrics,
the bound's distance from the point is assumed to shrink as ``1/√n``:
``N = n · (point − bound)² / (point − target)²``.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from mlscope.charter.guarantees import EXACT_RATES
from mlscope.charter.schema import Bound, Charter
from mlscope.metrics.binomial import cp_lower, cp_upper, trials_needed
from mlscope.result import MetricValue, RequirementCheck

__all__ = ["decide_on_bound", "decides_on_bound", "requirement_check"]

FloatArray = npt.NDArray[np.float64]

_TRIALS = {"accuracy": "rows", "positive_rate": "rows", "recall": "positives",
           "specificity": "negatives", "precision": "predicted positives"}


def decides_on_bound(charter: Charter, bound: Bound) -> bool:
    """Whether the charter decides requirement ``bound`` on its (1 − δ) bound: its own
    ``decide_on``, else ``guarantees.decide_on``, else the point."""
    g = charter.guarantees
    return (bound.decide_on or (g.decide_on if g is not None else "point")) == "bound"


def requirement_check(charter: Charter, mid: str, bound: Bound, mv: MetricValue, *,
                      trials: float | None, replicates: FloatArray | None
                      ) -> RequirementCheck:
    """Requirement ``mid`` (``bound``) on ``mv`` (one model's overall value on one split):
    on the point estimate, or on its (1 − δ) bound when the charter decides on it
    (:func:`decide_on_bound`, with ``trials`` for the exact bound of a rate and
    ``replicates`` for the bootstrap bound). ``mlscope check`` and the canary / blue-green
    gate both decide through here, so the two cannot disagree on the same rows."""
    met = mv.value is not None and bound.holds(mv.value)
    rc = RequirementCheck(
        metric=mid, bound=str(bound), split=mv.split, model=mv.model, value=mv.value,
        lower=mv.lower, upper=mv.upper, met=bool(met),
        margin=bound.margin(mv.value) if mv.value is not None else None)
    if not decides_on_bound(charter, bound):
        return rc
    g = charter.guarantees
    name = next((m.metric for m in charter.metrics if m.id == mid), None)
    return decide_on_bound(rc, bound, mv, name=name, trials=trials, replicates=replicates,
                           delta=g.delta if g is not None else 0.05)


def decide_on_bound(check: RequirementCheck, bound: Bound, mv: MetricValue, *,
                    name: str | None, trials: float | None,
                    replicates: FloatArray | None, delta: float) -> RequirementCheck:
    """``check`` decided on the one-sided (1 − ``delta``) bound of ``mv`` (changed in
    place and returned): ``decided_on``, ``certified``, ``how``, ``met``, ``margin`` and,
    when only the point meets it, ``more_data``."""
    check.decided_on = "bound"
    value = mv.value
    if value is None:
        check.how = "undefined: nothing to bound"
        return check
    higher = bound.op in (">=", ">")
    conf = f"one-sided {100 * (1 - delta):g}%"
    certified: float | None = None
    if name in EXACT_RATES and trials is not None and trials >= 1:
        n = float(trials)
        k = float(round(value * n))
        certified = float((cp_lower if higher else cp_upper)(k, n, delta)[()])
        what = _TRIALS[name]
        check.how = (f"exact Clopper–Pearson, {conf}: {k:g} of {n:g} {what}")
        if bound.holds(value) and not bound.holds(certified):
            err, r = (1.0 - value, 1.0 - bound.value) if higher else (value, bound.value)
            need = trials_needed(err, r, delta)
            if need is not None:
                more = max(need - n, 1.0)
                rows = math.ceil(more * mv.n_rows / n) if mv.n_rows else None
                check.more_data = (
                    f"about {math.ceil(more):,} more labelled {what} (at the observed rate)"
                    + (f", ≈ {rows:,} more rows at the observed share," if rows and
                       what != "rows" else "") + " would certify it")
    elif replicates is not None and replicates.size:
        finite = replicates[np.isfinite(replicates)]
        if finite.size:
            certified = float(np.quantile(finite, delta if higher else 1.0 - delta))
            check.how = f"bootstrap percentile, {conf}, {finite.size} resamples"
    elif (mv.lower if higher else mv.upper) is not None:
        certified = mv.lower if higher else mv.upper
        check.how = "end of the reported bootstrap interval (no replicates kept)"
    if certified is None:
        check.how = check.how or "no interval: it cannot be decided on a bound"
        check.met = False
        return check
    check.certified = certified
    check.met = bool(bound.holds(certified))
    check.margin = bound.margin(certified)
    if not check.more_data and bound.holds(value) and not check.met and mv.n_rows:
        spread, room = abs(value - certified), abs(bound.margin(value))
        if room > 0:
            more = mv.n_rows * (spread / room) ** 2 - mv.n_rows
            check.more_data = (f"about {max(1, math.ceil(more)):,} more labelled rows would "
                               "certify it (if the bound narrows as 1/√n)")
    return check
