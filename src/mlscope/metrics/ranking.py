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
    # Each negative scores against the positives strictly above it plus half those tied
    # with it: the Mann-Whitney statistic, equal to the trapezoidal ROC area.
    above = np.cumsum(stats.pos, axis=-1) - stats.pos
    wins = (stats.neg * (above + 0.5 * stats.pos)).sum(axis=-1)
    return _div(wins, stats.total_pos * stats.total_neg)
