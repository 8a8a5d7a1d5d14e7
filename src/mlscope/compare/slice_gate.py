"""One-sided slice tests for the gates, and the smallest regression each slice can show.

A slice gate asks, per slice, whether the candidate regressed beyond the margin δ
(H0: oriented difference ≥ −δ). The p-values used to come from bootstrap counts, which
cannot go below ``1 / (R + 1)``: after Benjamini–Hochberg over m slices the smallest
attainable adjusted p-value is ``m / (R + 1)``, so past ``fdr · (R + 1)`` slices no slice
could fail at all. Here every slice p-value is a normal tail, which has no floor:

* ``delong-z``: ROC AUC with DeLong's standard error of the paired difference;
* ``mcnemar-z``: accuracy with the standard error of a paired difference of proportions
  from the discordant counts, ``sqrt((n10 + n01)/n − d²) / sqrt(n)``; at δ = 0
  ``mcnemar-one-sided``: half the two-sided McNemar p-value (mid-p below 25 discordant
  pairs) in the direction observed;
* ``bootstrap-se-z``: every other metric, with the standard deviation of the paired
  bootstrap replicates as the standard error. For metrics that are means of per-row terms
  (log loss, Brier, mean errors) this is the paired z-test on the per-row differences
  (the bootstrap SD of a mean estimates ``sd(d) / sqrt(n)``).

The minimum detectable effect (MDE) of a slice is the oriented regression it would show
with 80 % power at the level a lone regressed slice must reach under Benjamini–Hochberg,
``fdr / m``: ``δ + (z(1 − fdr/m) + z(0.8)) · se``. When it exceeds the largest regression
the metric's range allows from the blessed model's value, the slice cannot fail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from mlscope.result import Difference

__all__ = ["SliceTest", "max_regression", "min_detectable", "slice_test"]

FloatArray = npt.NDArray[np.float64]
POWER = 0.8
_N = NormalDist()


@dataclass
class SliceTest:
    """A slice's one-sided test of "regressed beyond δ".

    Attributes
    ----------
    p_value
        One-sided p-value (small: evidence of a regression beyond δ); ``None`` when the
        slice cannot be tested.
    method
        ``delong-z``, ``mcnemar-z``, ``mcnemar-one-sided`` (δ = 0) or ``bootstrap-se-z``.
    se
        Standard error of the difference used by the test.
    """

    p_value: float | None
    method: str
    se: float | None


def slice_test(d: Difference, replicates: FloatArray | None, sign: float,
               delta: float, level: float = 0.95) -> SliceTest:
    """One-sided test of H0 "the oriented difference is at least −δ" on one slice.

    Parameters
    ----------
    d
        Candidate − blessed on the slice, with the test that made it (``d.test``) and,
        for DeLong and McNemar, ``d.se``.
    replicates
        Paired bootstrap replicates of the difference, for the other metrics.
    sign
        +1 when higher is better, −1 when lower is better.
    delta
        The gate's absolute margin δ ≥ 0.
    level
        Confidence level of ``d``'s interval: when the test's standard error is 0 (e.g.
        DeLong on a tiny slice where one model is perfect and the other inverted), the
        standard error implied by the interval's half towards "no regression"
        (``(upper − value) / z`` when higher is better) is used instead, so that a
        handful of rows never yields p = 0.
    """
    if d.value is None:
        return SliceTest(None, "", None)
    oriented = sign * d.value
    if d.test == "mcnemar" and d.se is not None and delta == 0.0 and d.p_value is not None:
        # McNemar's own (mid-p or chi-square) two-sided p-value, halved in the direction
        # observed: its small-sample level is better than the Wald z at few discordant
        # pairs, and it is the test the difference reports.
        half = d.p_value / 2.0
        p = half if oriented < 0 else 1.0 - half
        return SliceTest(min(max(p, 0.0), 1.0), "mcnemar-one-sided", d.se)
    if d.test in ("delong", "mcnemar") and d.se is not None:
        method, se = f"{d.test}-z", d.se
    elif replicates is not None:
        fin = replicates[np.isfinite(replicates)]
        if fin.size < 2:
            return SliceTest(None, "bootstrap-se-z", None)
        method, se = "bootstrap-se-z", float(np.std(fin, ddof=1))
    else:
        return SliceTest(None, "", None)
    if se == 0.0 and d.lower is not None and d.upper is not None:
        # The range-respecting interval (MOVER, Tango, Clopper–Pearson) stays wide on a
        # small slice where the test's variance estimate collapses to 0. Its half on the
        # side of "no regression" is the one a regression must clear (the other may be
        # pinned at the end of the range).
        toward_null = d.upper - d.value if sign > 0 else d.value - d.lower
        se = max(toward_null, 0.0) / _N.inv_cdf(0.5 + level / 2.0)
        method += " (se from the interval)" if se > 0.0 else ""
    gap = oriented + delta  # ≥ 0 under H0's boundary value
    if se > 0.0:
        # p = Φ(gap / se): a normal tail, so no floor from the number of resamples.
        return SliceTest(_normal_cdf(gap / se), method, se)
    # Zero standard error: no sampling variation in the difference (identical rankings,
    # no discordant pairs, identical replicates); a regression beyond δ is then certain
    # only if observed, and nothing can be concluded otherwise.
    return SliceTest(0.0 if gap < 0 else 1.0, method, se)


def _normal_cdf(z: float) -> float:
    """Φ(z), accurate in the lower tail (where the small p-values are)."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def min_detectable(se: float | None, delta: float, alpha: float) -> float | None:
    """The oriented regression (a positive number) a slice detects with 80 % power.

    ``δ + (z(1 − alpha) + z(0.8)) · se`` for a one-sided normal test at ``alpha``; ``None``
    when the standard error is unknown.
    """
    if se is None or not math.isfinite(se):
        return None
    return delta + (_N.inv_cdf(1.0 - alpha) + _N.inv_cdf(POWER)) * se


def max_regression(blessed_value: float | None, bounds: tuple[float | None, float | None],
                   sign: float) -> float:
    """The largest oriented regression the metric's range allows from the blessed value
    (``inf`` when the range is open on that side)."""
    if blessed_value is None:
        return math.inf
    worst = bounds[0] if sign > 0 else bounds[1]
    if worst is None:
        return math.inf
    return max(sign * (blessed_value - worst), 0.0)
