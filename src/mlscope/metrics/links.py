"""What a binary score means, and the exact conversions between its scale and probabilities.

Binary scores are kept **as given** (``data.score_type``):

``probability``
    In [0, 1]; used as is.
``logit``
    The log-odds ``z``; the probability is ``expit(z)``. Scores stay logits everywhere:
    mapping them to probabilities in float64 would merge distinct large logits (40 and 41
    both round to 1.0) and change every ranking metric. Ranking metrics and chosen
    thresholds use the logits (their order is the order of the probabilities); log loss
    uses the stable ``softplus`` forms below, never ``−log(expit(z))``; a fixed threshold
    in a charter is a probability and is converted to a logit once.
``score``
    Any real number whose order ranks the rows (a margin, a distance); there is no
    probability, so probability metrics (log loss, Brier) are undefined.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "SCORE_TYPES",
    "ScoreType",
    "neg_log_likelihood",
    "probability",
    "threshold_on_scores",
]

ScoreType = Literal["probability", "logit", "score"]
SCORE_TYPES: tuple[ScoreType, ...] = ("probability", "logit", "score")
FloatArray = npt.NDArray[np.float64]
#: scikit-learn's clipping of probabilities for log loss: ``[CLIP_EPS, 1 − CLIP_EPS]``.
CLIP_EPS = float(np.finfo(np.float64).eps)


def threshold_on_scores(threshold: float, score_type: str) -> float:
    """A probability threshold on the scale of the scores.

    ``expit`` is increasing, so ``expit(z) >= t`` exactly when ``z >= logit(t)``: comparing
    the raw logits with the converted threshold decides every row as the probability
    would, without rounding the scores. ``t = 0`` and ``t = 1`` map to ``∓inf``. For
    ``probability`` and ``score`` the threshold is already on the scores' scale.
    """
    if score_type == "logit":
        # scipy is imported here, not at the top: it costs ~0.2 s of start-up that a charter
        # of probabilities (the usual case) never needs.
        from scipy.special import logit

        return float(logit(float(threshold)))
    return float(threshold)


def probability(scores: FloatArray, score_type: str) -> FloatArray:
    """The probabilities the scores stand for (``expit`` of logits); NaN for ``score``."""
    s = np.asarray(scores, dtype=np.float64)
    if score_type == "logit":
        from scipy.special import expit  # only logit scores need it (see above)

        return np.asarray(expit(s), dtype=np.float64)
    if score_type == "score":
        return np.full_like(s, np.nan)
    return s


def neg_log_likelihood(scores: FloatArray, score_type: str) -> tuple[FloatArray, FloatArray]:
    """``(−log p, −log(1 − p))`` at each score: a positive's and a negative's loss.

    Probabilities are clipped to ``[eps, 1 − eps]`` as scikit-learn does. Logits use
    ``−log expit(z) = log(1 + e^{−z})`` and ``−log(1 − expit(z)) = log(1 + e^{z})``
    (``logaddexp``), exact for every finite ``z`` and never clipped: a confident mistake
    at ``z = 60`` costs 60, not ``−log(eps) ≈ 36``. NaN for ``score``.
    """
    s = np.asarray(scores, dtype=np.float64)
    if score_type == "logit":
        return (np.asarray(np.logaddexp(0.0, -s), dtype=np.float64),
                np.asarray(np.logaddexp(0.0, s), dtype=np.float64))
    if score_type == "score":
        nan = np.full_like(s, np.nan)
        return nan, nan
    # In place, one array each: the same operations as ``-log(clip(·))``.
    lp = np.clip(s, CLIP_EPS, 1 - CLIP_EPS)
    np.log(lp, out=lp)
    np.negative(lp, out=lp)
    ln = np.subtract(1.0, s)
    np.clip(ln, CLIP_EPS, 1 - CLIP_EPS, out=ln)
    np.log(ln, out=ln)
    np.negative(ln, out=ln)
    return lp, ln
