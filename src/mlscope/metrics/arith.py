"""Arithmetic shared by the metric definitions."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["INT32_SUM_LIMIT", "cumsum_exact", "cumsum_whole", "is_whole", "safe_div"]


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
INT32_SUM_LIMIT = 2**31 - 1


def is_whole(x: npt.NDArray[np.float64]) -> bool:
    """Whether :func:`cumsum_exact` may sum ``x`` in int32: float64 whole numbers, none
    negative (nor ``-0.0``), every row's sum at most ``2**31 − 1``.

    Then every partial sum of ``x`` is exact in float64 whatever the order, so any order
    of adding (a cumulative sum, a pairwise sum, a sum of runs) gives the same bits.
    """
    if x.dtype != np.float64 or x.size == 0 or bool(np.signbit(x).any()):
        # (-0.0 would sum to -0.0 in float64 but to +0.0 in int32.)
        return False
    with np.errstate(invalid="ignore"):
        xi = x.astype(np.int32)  # values out of range and NaN cast to other numbers,
    return bool(np.array_equal(xi, x)  # caught here
                and float(np.max(x.sum(axis=-1))) <= INT32_SUM_LIMIT)


def cumsum_whole(x: npt.NDArray[np.float64]) -> npt.NDArray[np.int32]:
    """``np.cumsum(x, axis=-1)`` as int32, for ``x`` that :func:`is_whole` accepts (the
    caller's promise, not checked): the same numbers, about half the memory, and NumPy
    accumulates int32 several times faster than float64. Arithmetic with float64 arrays
    converts each partial sum exactly, so the results are those of the float64 sums."""
    xi = x.astype(np.int32)
    np.cumsum(xi, axis=-1, dtype=np.int32, out=xi)
    return xi


def cumsum_exact(x: npt.NDArray[np.float64], whole: bool | None = None
                 ) -> npt.NDArray[np.float64]:
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
    whole
        :func:`is_whole` of ``x`` when the caller knows it (it is checked otherwise).

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``x``.
    """
    if whole is None:
        whole = is_whole(x)
    if whole:
        return cumsum_whole(x).astype(np.float64)
    return np.asarray(np.cumsum(x, axis=-1), dtype=np.float64)
