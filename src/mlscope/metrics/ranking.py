"""ROC AUC of :class:`~mlscope.metrics.stats.BinaryStats`, the kernel shared by binary ROC AUC
and the multiclass one-vs-rest and one-vs-one averages.

Its own module so that :mod:`mlscope.metrics.multiclass_scores` (which
:mod:`mlscope.metrics.binary` imports for its shared metrics) can use it without a cycle;
:mod:`mlscope.metrics.binary` re-exports it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mlscope.metrics.arith import safe_div as _div
from mlscope.metrics.fast import ROC, term_sums
from mlscope.metrics.stats import BinaryStats

__all__ = ["roc_auc"]

FloatArray = npt.NDArray[np.float64]


def roc_auc(stats: BinaryStats) -> FloatArray:
    """Area under the ROC curve (ties count one half), as ``roc_auc_score``.

    Parameters
    ----------
    stats
        Binary statistics, batch dimensions allowed.

    Returns
    -------
    numpy.ndarray
        Shape ``stats.batch_shape``; NaN where only one class is present.
    """
    return stats.memo("roc_auc", lambda: _roc_auc(stats))


def _roc_auc(stats: BinaryStats) -> FloatArray:
    # Each negative scores against the positives strictly above it plus half those tied
    # with it: the Mann-Whitney statistic, equal to the trapezoidal ROC area.
    # In place on two buffers, the same operations in the same order as
    # ``(neg * ((cumsum(pos) − pos) + 0.5·pos)).sum()`` (IEEE products commute): the same
    # bits with two fresh arrays instead of five on a million-bin histogram.
    pos, neg = stats.pos, stats.neg
    if pos.dtype != np.float64 or neg.dtype != np.float64:
        # Other dtypes keep NumPy's promotion of the plain expression.
        above = np.cumsum(pos, axis=-1) - pos
        return _div((neg * (above + 0.5 * pos)).sum(axis=-1), stats.total_pos * stats.total_neg)
    fast = term_sums(stats)  # one compiled pass, the same bits (metrics.fast)
    if fast is not None:
        return _div(fast[ROC], stats.total_pos * stats.total_neg)
    term = stats.cum_pos()  # positives at or above each score (cumsum_exact's bits)
    term -= pos  # positives strictly above
    half = np.multiply(pos, 0.5)
    term += half
    del half
    term *= neg
    wins = term.sum(axis=-1)
    return _div(wins, stats.total_pos * stats.total_neg)
