"""Summaries of a per-row error column, and the weighted quantile kernel they share.

A user's error column (position error in cm, latency, ...) may accompany any task; the
pipeline hands these metrics the :class:`~mlscope.metrics.stats.ErrorStats` of the column
named by the ``error`` parameter. Regression reuses :func:`quantile` on its histogram of
absolute errors.

Quantile definition
-------------------
* **Unit weights** (every row weight 1; bootstrap resample counts keep weights integer):
  NumPy's default ``np.percentile(values, q)`` (linear interpolation between order
  statistics) on the rows the histogram stands for, each value repeated by its count.
* **Other weights**: the weighted *averaged inverted CDF* that scikit-learn (>= 1.8) uses
  for ``median_absolute_error(sample_weight=...)``: with ``W`` the total weight and
  ``F`` the cumulative weight over ascending values, the quantile is the first value
  whose ``F`` reaches ``q/100 · W``; when ``F`` lands exactly on that target, it is the
  mean of that value and the next one with positive weight. "Exactly" allows a relative
  rounding slack of ``16·eps`` of ``W`` (scikit-learn compares with an absolute ``eps``),
  so that the result does not depend on the order the weights were summed in. For unit
  weights the two definitions agree on the median but not on other quantiles.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from mlscope.metrics.spec import MetricSpec, ParamSpec
from mlscope.metrics.stats import ErrorStats

__all__ = [
    "SPECS", "error_max_value", "error_mean_value", "fmt_weight", "no_rows_reason", "quantile",
]

# This module's metric specifications, in order; mlscope.metrics.registry registers them.
SPECS: list[MetricSpec] = []

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_EPS = float(np.finfo(np.float64).eps)


def no_rows_reason(n_rows: int, total: npt.ArrayLike) -> str | None:
    """Why a point estimate has no rows to compute on, or ``None``.

    Parameters
    ----------
    n_rows
        Unweighted row count of the statistics.
    total
        Their total weight (a 0-d array or scalar).

    Returns
    -------
    str or None
        ``"no rows"``, ``"every row has weight 0"``, or ``None`` when there is weight.
    """
    if n_rows == 0:
        return "no rows"
    if not float(np.asarray(total)) > 0:
        return "every row has weight 0"
    return None


def fmt_weight(x: float) -> str:
    """A weighted count for a message: ``412`` for whole numbers, else 4 significant digits."""
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else f"{x:.4g}"


def _count_le(cdf: FloatArray, target: FloatArray) -> IntArray:
    # Batched ``searchsorted(side="right")``: the cumulative weights of every replicate are
    # already materialised, so a comparison over them costs no more than building them.
    return np.asarray((cdf <= target[..., None]).sum(axis=-1), dtype=np.int64)


def _count_lt(cdf: FloatArray, target: FloatArray) -> IntArray:
    return np.asarray((cdf < target[..., None]).sum(axis=-1), dtype=np.int64)


def _take(values: FloatArray, idx: IntArray) -> FloatArray:
    return np.asarray(values[np.clip(idx, 0, values.size - 1)], dtype=np.float64)


def _lerp(a: FloatArray, b: FloatArray, t: FloatArray) -> FloatArray:
    # NumPy's own interpolation (numpy.lib._function_base_impl._lerp), so that unit-weight
    # quantiles agree with np.percentile to the last bit rather than to rounding.
    diff = b - a
    return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


def quantile(stats: ErrorStats, q: float) -> FloatArray:
    """The ``q``-th percentile of the values a histogram stands for.

    Parameters
    ----------
    stats
        The histogram (values ascending, weights ``(*batch, m)``).
    q
        Percentile in ``[0, 100]``.

    Returns
    -------
    numpy.ndarray
        Shape ``stats.batch_shape``; NaN where a batch element has no weight. The
        definition (linear for unit weights, averaged inverted CDF otherwise) is described
        in the module docstring.
    """
    w = np.asarray(stats.weights, dtype=np.float64)
    total = w.sum(axis=-1)
    if stats.values.size == 0:
        return np.full(total.shape, np.nan)
    v = stats.values
    cdf = np.cumsum(w, axis=-1)
    qq = q / 100.0
    with np.errstate(invalid="ignore"):
        if stats.unit_weights:
            # Order statistic i (0-based) of the expanded rows lies in the first bin whose
            # cumulative count exceeds i; empty bins are skipped by that rule.
            h = (total - 1.0) * qq
            lo = np.floor(h)
            hi = np.minimum(lo + 1.0, total - 1.0)
            a = _take(v, _count_le(cdf, lo))
            b = _take(v, _count_le(cdf, hi))
            out = _lerp(a, b, h - lo)
        else:
            target = qq * total
            # q = 0 must skip leading zero-weight values, as scikit-learn does.
            target = np.where(target == 0, np.nextafter(0.0, 1.0), target)
            i = np.clip(_count_lt(cdf, target), 0, v.size - 1)
            at = np.take_along_axis(cdf, i[..., None], axis=-1)[..., 0]
            on_step = at - target <= 16 * _EPS * total
            nxt = _count_le(cdf, at)
            nxt = np.where(nxt > v.size - 1, i, nxt)
            out = np.where(on_step, (_take(v, i) + _take(v, nxt)) / 2, _take(v, i))
    return np.where(total > 0, out, np.nan)


def error_mean_value(stats: ErrorStats) -> FloatArray:
    """Weighted mean of the values; NaN where a batch element has no weight."""
    total = stats.total
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (stats.weights * stats.values).sum(axis=-1) / total
    return np.where(total > 0, mean, np.nan)


def error_max_value(stats: ErrorStats) -> FloatArray:
    """Largest value carrying positive weight (zero-weight rows are not in the data)."""
    w = np.asarray(stats.weights)
    if stats.values.size == 0:
        return np.full(w.shape[:-1], np.nan)
    present = w > 0
    last = stats.values.size - 1 - np.argmax(present[..., ::-1], axis=-1)
    return np.where(present.any(axis=-1), stats.values[last], np.nan)


def _undefined(stats: ErrorStats, **_: Any) -> str | None:
    return no_rows_reason(stats.n_rows, stats.total)


def _fn_mean(stats: ErrorStats, **_: Any) -> FloatArray:
    return error_mean_value(stats)


def _fn_max(stats: ErrorStats, **_: Any) -> FloatArray:
    return error_max_value(stats)


def _fn_quantile(q: float) -> Callable[..., FloatArray]:
    def fn(stats: ErrorStats, **_: Any) -> FloatArray:
        return quantile(stats, q)

    return fn


# The pipeline resolves `error` to the column's statistics; the functions never read it.
_ERROR_PARAM = {
    "error": ParamSpec(kind="str", default="", doc="name of the error column under data.errors")
}
_TASKS = frozenset({"errors", "regression", "binary", "multiclass"})
_RULE = "(NumPy's linear rule for unit weights, the averaged inverted CDF otherwise)"

for _name, _label, _fn, _how in (
    ("error_mean", "Mean error", _fn_mean, "Weighted mean of the error column."),
    ("error_median", "Median error", _fn_quantile(50),
     f"Weighted median of the error column {_RULE}."),
    ("error_p90", "P90 error", _fn_quantile(90),
     f"90th percentile of the error column {_RULE}."),
    ("error_p95", "P95 error", _fn_quantile(95),
     f"95th percentile of the error column {_RULE}."),
    ("error_max", "Max error", _fn_max,
     "Largest value of the error column among rows with positive weight."),
):
    SPECS.append(
        MetricSpec(
            name=_name,
            tasks=_TASKS,
            direction="lower",
            fn=_fn,
            undefined=_undefined,
            description=_how,
            label=_label,
            params=_ERROR_PARAM,
        )
    )
