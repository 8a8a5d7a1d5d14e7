"""Bootstrap resampling weights and percentile intervals.

Resampling is expressed as *weights*: replicate ``r`` gives row ``i`` a count ``C[r, i]``
(how often the row was drawn). Every statistic is a weighted sum, so a replicate's
statistics are the ordinary ones computed with weights ``C[r] * w``; the same counts are
used for every model and slice, which makes model differences paired.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["percentile_interval", "resample_counts"]

FloatArray = npt.NDArray[np.float64]


def resample_counts(rng: np.random.Generator, n: int, r: int) -> FloatArray:
    """Counts ``(r, n)`` of ``r`` ordinary bootstrap resamples of ``n`` rows (multinomial)."""
    if n == 0:
        return np.zeros((r, 0))
    draws = rng.integers(0, n, size=(r, n))
    flat = (draws + np.arange(r)[:, None] * n).ravel()
    return np.bincount(flat, minlength=r * n).reshape(r, n).astype(np.float64)


def percentile_interval(
    replicates: FloatArray, level: float, *, min_defined: float = 0.9
) -> tuple[float, float] | None:
    """The percentile interval of the finite replicate values, or None.

    None when fewer than ``min_defined`` of the replicates define the value (e.g. a small
    slice with one class in many resamples): an interval from the rest would be biased.
    """
    finite = replicates[np.isfinite(replicates)]
    if finite.size < 2 or finite.size < min_defined * replicates.size:
        return None
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(finite, [alpha, 1.0 - alpha])
    return float(lo), float(hi)
