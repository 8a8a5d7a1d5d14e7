"""The expected cost per case of multiclass and regression predictions, exact functions of
their statistics (the binary costs are in :mod:`mlscope.metrics.binary_costs`, which
registers ``expected_cost`` for the three tasks and dispatches here).

Sign convention as for binary costs: every figure is a **cost** per case in the user's
unit; a gain is a negative cost.

* Multiclass: with the cost matrix ``C[true, predicted]`` (a cell not given costs 0) and
  the weighted confusion matrix ``N`` of the arg-max decision,
  ``expected_cost = Σ N ∘ C / Σ N``.
* Regression, with ``e = prediction − label``: the cost of a row is ``over · max(e, 0) +
  under · max(−e, 0)``; since ``max(±e, 0) = (|e| ± e) / 2`` the weighted mean is
  ``((over + under) · Σw|e| + (over − under) · Σw·e) / (2 Σw)``, from sums every engine
  already aggregates (so the figure is exact on every engine). It equals
  ``(over + under) ·`` scikit-learn's ``mean_pinball_loss`` at ``alpha = under / (over +
  under)``.

What the statistics cannot give, and is therefore not offered: the Bayes decision of a
multiclass model under the matrix (the class of least expected cost under each row's
probabilities) needs every row's probability vector, and the statistics keep only the
arg-max confusion matrix and one-vs-rest histograms; squared asymmetric costs need the
weighted sum of ``e·|e|``, which no engine aggregates.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mlscope.metrics.arith import safe_div
from mlscope.metrics.errors import no_rows_reason
from mlscope.metrics.spec import FloatArray
from mlscope.metrics.stats import MulticlassStats, RegressionStats

__all__ = [
    "cost_matrix",
    "multiclass_expected_cost",
    "regression_expected_cost",
    "unknown_classes",
    "why_multiclass_cost",
    "why_regression_cost",
]


def unknown_classes(classes: tuple[str, ...] | list[str],
                    matrix: Mapping[str, Mapping[str, float]]) -> list[str]:
    """The labels ``matrix`` names (as true or predicted class) that are not in
    ``classes``, in the order written."""
    known = set(classes)
    named = [str(r) for r in matrix] + [str(c) for cells in matrix.values() for c in cells]
    return [c for c in dict.fromkeys(named) if c not in known]


def cost_matrix(classes: tuple[str, ...] | list[str],
                matrix: Mapping[str, Mapping[str, float]]) -> FloatArray:
    """The ``(K, K)`` cost array ``[true, predicted]`` in the order of ``classes``.

    Parameters
    ----------
    classes
        Class labels, in the order of the statistics.
    matrix
        ``{true class: {predicted class: cost}}``; a cell not given costs 0.

    Raises
    ------
    ValueError
        ``matrix`` names a class not in ``classes``.
    """
    if bad := unknown_classes(classes, matrix):
        raise ValueError(f"the cost matrix names classes the data does not have: {bad}")
    index = {c: i for i, c in enumerate(classes)}
    out = np.zeros((len(classes), len(classes)))
    for r, cells in matrix.items():
        for c, x in cells.items():
            out[index[str(r)], index[str(c)]] = float(x)
    return out


def multiclass_expected_cost(stats: MulticlassStats,
                             matrix: Mapping[str, Mapping[str, float]]) -> FloatArray:
    """Mean cost per case of the arg-max decision under the cost matrix.

    Parameters
    ----------
    stats
        Multiclass statistics, batch dimensions allowed.
    matrix
        ``{true class: {predicted class: cost}}``; a cell not given costs 0.

    Returns
    -------
    numpy.ndarray
        Shape ``stats.batch_shape``; NaN where there is no weight or the matrix names a
        class the statistics do not have.
    """
    if unknown_classes(stats.classes, matrix):
        return np.full(stats.batch_shape, np.nan)
    c = cost_matrix(stats.classes, matrix)
    total = (stats.confusion * c).sum(axis=(-2, -1))
    return safe_div(np.asarray(total, dtype=np.float64), stats.total)


def regression_expected_cost(stats: RegressionStats, over: float, under: float
                             ) -> FloatArray:
    """Mean cost per case of the errors: ``over`` per unit of over-prediction, ``under``
    per unit of under-prediction (linear in the error).

    Parameters
    ----------
    stats
        Regression statistics, batch dimensions allowed.
    over, under
        Cost per unit of ``prediction − label`` above and below zero.

    Returns
    -------
    numpy.ndarray
        Shape ``stats.batch_shape``; NaN where there is no weight.
    """
    s = (over + under) * stats.sum_abs + (over - under) * stats.sum_err
    return safe_div(np.asarray(s / 2.0, dtype=np.float64), stats.total)


def why_multiclass_cost(stats: MulticlassStats,
                        matrix: Mapping[str, Mapping[str, float]]) -> str | None:
    """Why the multiclass expected cost is undefined: no rows, or a class not in the data."""
    if bad := unknown_classes(stats.classes, matrix):
        return (f"the cost matrix names class(es) {', '.join(f'`{b}`' for b in bad)} the "
                f"data does not have (classes: {', '.join(stats.classes)})")
    return no_rows_reason(stats.n_rows, stats.total)


def why_regression_cost(stats: RegressionStats) -> str | None:
    """Why the regression expected cost is undefined: only without rows (or weight)."""
    return no_rows_reason(stats.n_rows, stats.total)
