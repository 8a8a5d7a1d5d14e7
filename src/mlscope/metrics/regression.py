"""Regression metrics, exact functions of :class:`~mlscope.metrics.stats.RegressionStats`.

Errors are ``prediction − label``. Quantiles of the absolute error share the kernel of the
error-column metrics (:func:`mlscope.metrics.errors.quantile`): NumPy's linear rule for
unit weights, scikit-learn's weighted averaged inverted CDF otherwise.

Deliberate differences from scikit-learn:

* ``r2`` with constant labels is **undefined** (scikit-learn returns 1.0 or 0.0). Labels
  count as constant when their weighted sum of squares around the mean is within a
  relative ``1e-12`` of their sum of squares around the statistics' reference point
  ``y_shift``: below that, the sum of squares is rounding noise.
* There is no signed bias metric (its direction is neither higher nor lower); ``abs_bias``
  is the absolute value of the mean error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from mlscope.metrics.errors import error_max_value, no_rows_reason, quantile
from mlscope.metrics.spec import Direction, MetricSpec
from mlscope.metrics.stats import RegressionStats

__all__ = ["SPECS", "abs_bias", "mae", "mape", "r2", "rmse", "total_sum_of_squares"]

# This module's metric specifications, in order; mlscope.metrics.registry registers them.
SPECS: list[MetricSpec] = []

FloatArray = npt.NDArray[np.float64]
_CONSTANT_RTOL = 1e-12


def _mean(s: npt.ArrayLike, total: FloatArray) -> FloatArray:
    x = np.asarray(s, dtype=np.float64)
    ok = total > 0
    return np.where(ok, x / np.where(ok, total, 1.0), np.nan)


def mae(stats: RegressionStats) -> FloatArray:
    """Weighted mean absolute error."""
    return _mean(stats.sum_abs, stats.total)


def rmse(stats: RegressionStats) -> FloatArray:
    """Root of the weighted mean squared error."""
    return np.sqrt(_mean(stats.sum_sq, stats.total))


def mape(stats: RegressionStats) -> FloatArray:
    """Weighted mean of ``|error| / max(|label|, eps)`` (a fraction, not a percentage)."""
    return _mean(stats.sum_ape, stats.total)


def abs_bias(stats: RegressionStats) -> FloatArray:
    """Absolute value of the weighted mean of ``prediction − label``."""
    return np.abs(_mean(stats.sum_err, stats.total))


def total_sum_of_squares(
    stats: RegressionStats,
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Weighted sum of squares of the labels around their mean, and whether it is noise.

    Returns
    -------
    tuple of numpy.ndarray
        ``(sst, constant)``, each of shape ``stats.batch_shape``: ``constant`` is True
        where the labels are constant to rounding (see the module docstring).
    """
    total = np.asarray(stats.total, dtype=np.float64)
    safe = np.where(total > 0, total, 1.0)
    sst = np.maximum(stats.sum_y2 - stats.sum_y**2 / safe, 0.0)
    constant = np.asarray(sst <= _CONSTANT_RTOL * np.asarray(stats.sum_y2), dtype=bool)
    return np.asarray(sst, dtype=np.float64), constant


def r2(stats: RegressionStats) -> FloatArray:
    """Coefficient of determination ``1 − SSE / SST``; NaN where the labels are constant."""
    sst, constant = total_sum_of_squares(stats)
    ok = (stats.total > 0) & ~constant
    return np.where(ok, 1.0 - stats.sum_sq / np.where(ok, sst, 1.0), np.nan)


def _rows(stats: RegressionStats, **_: Any) -> str | None:
    return no_rows_reason(stats.n_rows, stats.total)


def _why_r2(stats: RegressionStats, **_: Any) -> str | None:
    if why := _rows(stats):
        return why
    if bool(total_sum_of_squares(stats)[1]):
        value = stats.y_shift + float(stats.sum_y) / float(stats.total)
        return f"the labels are constant (all {value:.6g}), so R² has no variance to explain"
    return None


def _wrap(kernel: Callable[[RegressionStats], FloatArray]) -> Callable[..., FloatArray]:
    def fn(stats: RegressionStats, **_: Any) -> FloatArray:
        return kernel(stats)

    return fn


def _abs_quantile(q: float) -> Callable[[RegressionStats], FloatArray]:
    def kernel(stats: RegressionStats) -> FloatArray:
        return quantile(stats.abs_errors, q)

    return kernel


def _max_abs(stats: RegressionStats) -> FloatArray:
    return error_max_value(stats.abs_errors)


_QUANTILE_RULE = "(NumPy's linear rule for unit weights, the averaged inverted CDF otherwise)"
_TASKS = frozenset({"regression"})

_SPECS: tuple[tuple[str, str, Direction, Callable[[RegressionStats], FloatArray],
                    tuple[float | None, float | None], str], ...] = (
    ("mae", "MAE", "lower", mae, (0.0, None), "Weighted mean of |prediction − label|."),
    ("rmse", "RMSE", "lower", rmse, (0.0, None),
     "Square root of the weighted mean of (prediction − label)²."),
    ("r2", "R²", "higher", r2, (None, 1.0),
     "1 − (sum of squared errors) / (sum of squares of the labels around their mean), "
     "weighted."),
    ("mape", "MAPE", "lower", mape, (0.0, None),
     "Weighted mean of |prediction − label| / max(|label|, eps), as a fraction (0.1 = 10%)."),
    ("median_absolute_error", "Median abs error", "lower", _abs_quantile(50), (0.0, None),
     f"Weighted median of |prediction − label| {_QUANTILE_RULE}."),
    ("p90_absolute_error", "P90 abs error", "lower", _abs_quantile(90), (0.0, None),
     f"90th percentile of |prediction − label| {_QUANTILE_RULE}."),
    ("p95_absolute_error", "P95 abs error", "lower", _abs_quantile(95), (0.0, None),
     f"95th percentile of |prediction − label| {_QUANTILE_RULE}."),
    ("max_absolute_error", "Max abs error", "lower", _max_abs, (0.0, None),
     "Largest |prediction − label| among rows with positive weight."),
    ("abs_bias", "|Bias|", "lower", abs_bias, (0.0, None),
     "Absolute value of the weighted mean of (prediction − label)."),
)
for _name, _label, _dir, _kernel, _bounds, _how in _SPECS:
    SPECS.append(MetricSpec(
        name=_name, tasks=_TASKS, direction=_dir,
        fn=_wrap(_kernel), undefined=_why_r2 if _name == "r2" else _rows,
        description=_how, label=_label, bounds=_bounds,
    ))
