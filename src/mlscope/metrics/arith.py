"""Arithmetic shared by the metric definitions."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["safe_div"]


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
