"""Binary probability metrics (log loss, Brier) on any score scale.

Split from :mod:`mlscope.metrics.binary` (which re-exports them). The scale is the
statistics' ``score_type`` (see :mod:`mlscope.metrics.links`): probabilities as scikit-learn
treats them, logits through their exact link, and plain scores not at all.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mlscope.metrics.arith import safe_div as _div
from mlscope.metrics.fast import BRIER, log_loss_sum, term_sums
from mlscope.metrics.links import neg_log_likelihood, probability
from mlscope.metrics.stats import BinaryStats

__all__ = ["binary_log_loss", "brier", "not_probability_reason"]

FloatArray = npt.NDArray[np.float64]



def binary_log_loss(stats: BinaryStats) -> FloatArray:
    """Mean negative log-likelihood of the labels.

    Probabilities are clipped to ``[eps, 1 − eps]`` as scikit-learn does (float64 ``eps``,
    applied to ``p`` for positives and to ``1 − p`` for negatives); logits use the exact
    ``softplus`` forms of :func:`mlscope.metrics.links.neg_log_likelihood`. NaN for scores
    that are not probabilities (``score_type: score``).
    """
    if stats.score_type == "score":
        return np.full(stats.batch_shape, np.nan)
    if stats.loss_sums is not None and "log_loss" in stats.loss_sums:
        return _div(stats.loss_sums["log_loss"].sum(axis=-1), stats.total_pos + stats.total_neg)
    fast = (log_loss_sum(stats.scores, stats.pos, stats.neg)
            if stats.score_type == "probability" else None)  # (metrics.fast)
    if fast is not None:
        return _div(np.float64(fast), stats.total_pos + stats.total_neg)
    nll_pos, nll_neg = neg_log_likelihood(stats.scores, stats.score_type)
    # ``(pos·nll_pos + neg·nll_neg).sum()`` in place when the shapes allow (IEEE products
    # commute: the same bits) on the two fresh arrays neg_log_likelihood returned.
    if stats.pos.shape == nll_pos.shape and stats.pos.dtype == np.float64 == stats.neg.dtype:
        nll_pos *= stats.pos
        nll_neg *= stats.neg
        nll_pos += nll_neg
        loss = nll_pos.sum(axis=-1)
    else:
        loss = (stats.pos * nll_pos + stats.neg * nll_neg).sum(axis=-1)
    return _div(loss, stats.total_pos + stats.total_neg)


def brier(stats: BinaryStats) -> FloatArray:
    """Mean squared difference between the probability and the 0/1 label (``brier_score_loss``).

    Logits are mapped to probabilities first (``expit``); NaN for ``score_type: score``.
    """
    if stats.score_type == "score":
        return np.full(stats.batch_shape, np.nan)
    if stats.loss_sums is not None and "brier" in stats.loss_sums:
        return _div(stats.loss_sums["brier"].sum(axis=-1), stats.total_pos + stats.total_neg)
    # The compiled sum takes the scores as probabilities (metrics.fast): logits go to NumPy.
    fast = term_sums(stats) if stats.score_type == "probability" else None
    s = probability(stats.scores, stats.score_type)
    if fast is not None:
        sq = fast[BRIER]
    elif stats.pos.shape == s.shape and stats.pos.dtype == np.float64 == stats.neg.dtype:
        # In place on two arrays (``x**2`` is ``np.square``; products commute): the same
        # bits as ``(pos·(1 − s)² + neg·s²).sum()``.
        miss = np.subtract(1.0, s)
        np.square(miss, out=miss)
        miss *= stats.pos
        hit = np.square(s)
        hit *= stats.neg
        miss += hit
        sq = miss.sum(axis=-1)
    else:
        sq = (stats.pos * (1.0 - s) ** 2 + stats.neg * s**2).sum(axis=-1)
    return _div(sq, stats.total_pos + stats.total_neg)


def not_probability_reason(stats: BinaryStats) -> str | None:
    """Why a probability metric is undefined on scores that are not probabilities."""
    if stats.score_type == "score":
        return ("the scores are not probabilities (`score_type: score`): only ranking and "
                "threshold metrics apply; give probabilities or logits (`score_type: "
                "logit`) for log loss and Brier")
    return None
