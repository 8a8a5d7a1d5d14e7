"""Arithmetic shared by the metric definitions."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["cumsum_exact", "safe_div"]


def safe_div(num: npt.ArrayLike, den: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``num / den`` with NaN (never 0 or inf) where ``den`` is 0.

    Parameters
    ----------
    num, den
        Arrays (or numbers) that broadcast together; ``den`` is a count or a weight sum.

    Returns
    -------
    np.ndarray
        float64; NaN wherever ``den`` is not positive, so an undefined ratio is never
        reported as a number.
    """
    n = np.asarray(num, dtype=np.float64)
    d = np.asarray(den, dtype=np.float64)
    ok = d > 0
    return np.where(ok, n / np.where(ok, d, 1.0), np.nan)


# Partial sums of whole numbers below this are exact in int32 (and in float64).
_I32_LIMIT = 2**31 - 1


def cumsum_exact(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``np.cumsum(x, axis=-1)``, the same bits, faster when ``x`` holds row counts.

    The histograms of unweighted rows hold whole numbers. Every partial sum of
    non-negative whole numbers below ``2**31`` is exact in float64 whatever the order, so
    it equals the partial sum taken in int32 — which NumPy accumulates several times
    faster than float64. Anything else (fractional weights, negative or large values,
    NaN) takes ``np.cumsum`` itself.

    Parameters
    ----------
    x
        float64 values, any shape; summed along the last axis.

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``x``.
    """
    if x.dtype != np.float64 or x.size == 0 or bool(np.signbit(x).any()):
        # (-0.0 would sum to -0.0 in float64 but to +0.0 in int32.)
        return np.asarray(np.cumsum(x, axis=-1), dtype=np.float64)
    with np.errstate(invalid="ignore"):
        xi = x.astype(np.int32)  # values out of range and NaN cast to other numbers,
    if np.array_equal(xi, x) and float(np.max(x.sum(axis=-1))) <= _I32_LIMIT:  # caught here
        out = np.cumsum(xi, axis=-1, dtype=np.int32)
        del xi
        return out.astype(np.float64)
    return np.cumsum(x, axis=-1)
