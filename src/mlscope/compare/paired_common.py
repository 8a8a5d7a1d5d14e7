"""What the paired tests share: the array types, the checks of their inputs, and the
normal quantile and tail (from the standard library, no SciPy).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from mlscope.errors import InputError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def check_level(level: float) -> float:
    if not (isinstance(level, int | float) and 0.0 < float(level) < 1.0):
        raise InputError(f"`level` must be a number strictly between 0 and 1; got {level!r}")
    return float(level)


def as_binary(values: npt.ArrayLike, name: str) -> BoolArray:
    """``values`` as a 1-D boolean array; they must be bool or 0/1."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InputError(f"`{name}` must be one-dimensional; got shape {arr.shape}")
    if arr.dtype == np.bool_:
        same: BoolArray = arr.astype(np.bool_, copy=False)
        return same
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise InputError(f"`{name}` must be boolean or 0/1; got dtype {arr.dtype}")
    bad = ~((arr == 0) | (arr == 1))
    if bad.any():
        example = arr[np.flatnonzero(bad)[0]]
        raise InputError(
            f"`{name}` must hold only 0 and 1 (or booleans); {int(bad.sum())} value(s) "
            f"do not, e.g. {example!r}"
        )
    out: BoolArray = arr == 1
    return out


def as_scores(values: npt.ArrayLike, n: int, name: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (n,):
        raise InputError(f"`{name}` must have shape ({n},) like the labels; got {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise InputError(
            f"`{name}` must be finite; {int(bad.sum())} value(s) are not "
            f"(first at position {int(np.flatnonzero(bad)[0])})"
        )
    return arr


def z_crit(level: float) -> float:
    return NormalDist().inv_cdf(0.5 + level / 2.0)


def normal_two_sided(z: float) -> float:
    # 2·(1 − Φ(|z|)) = erfc(|z|/√2), accurate far into the tail (no 1 − Φ cancellation).
    return math.erfc(abs(z) / math.sqrt(2.0))
