"""Selective prediction: decide where the model is confident, defer the rest to people.

Pure NumPy, no charter or data knowledge (docs/deciding.md, "Human in the loop").

* **Confidence.** Binary, probabilities ``p`` and a decision threshold ``c``: the
  distance from ``c`` as a share of the room on its side, ``(p − c)/(1 − c)`` above and
  ``(c − p)/c`` below (in [0, 1]). Deciding where confidence ≥ λ is the two-threshold
  rule *accept* when ``p ≥ c + λ(1 − c)``, *reject* when ``p ≤ c − λc``, *defer* in
  between: λ = 0 decides every row at ``c``, λ = 1 defers nearly all. Multiclass: the
  largest class probability (decide the arg-max where it is ≥ λ).
* **Risk–coverage curve.** On a grid of λ fixed before the data, the share of rows
  decided (coverage) and the error rate among them (selective risk).
* **Simultaneous band.** Exact two-sided Clopper–Pearson intervals of the selective risk
  at ``δ/(2m)`` per side for ``m`` curve points (Bonferroni): every point of the band
  holds at once with probability ≥ 1 − δ. Each interval is exact because, the grid being
  fixed, the errors among the ``n_λ`` decided rows are ``Bin(n_λ, R(λ))`` given ``n_λ``
  for exchangeable rows.
* **Top-k accuracy** (multiclass, "suggest, don't decide"): the share of rows whose class
  is among the ``k`` most probable, with its exact interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mlscope.metrics.binomial import cp_lower, cp_upper

__all__ = ["BAND_POINTS", "CurveBand", "band_grid", "binary_confidence",
           "decided_counts", "multiclass_confidence", "risk_coverage_band", "top_k_hits",
           "two_sided"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

BAND_POINTS = 20


def binary_confidence(score: FloatArray, threshold: float) -> tuple[FloatArray, BoolArray]:
    """The confidence of each row in [0, 1] and its decision (True: accept / positive).

    Parameters
    ----------
    score
        Probabilities in [0, 1].
    threshold
        The decision threshold ``c``, strictly between 0 and 1.
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"the decision threshold lies strictly between 0 and 1, got "
                         f"{threshold}")
    s = np.asarray(score, dtype=np.float64)
    positive = s >= threshold
    conf = np.where(positive, (s - threshold) / (1.0 - threshold),
                    (threshold - s) / threshold)
    return np.clip(conf, 0.0, 1.0), positive


def multiclass_confidence(proba: FloatArray) -> tuple[FloatArray, IntArray]:
    """The largest class probability of each row and its class (the arg-max)."""
    p = np.asarray(proba, dtype=np.float64)
    pred = np.argmax(p, axis=1).astype(np.int64)
    return p[np.arange(p.shape[0]), pred], pred


def decided_counts(conf: FloatArray, wrong: BoolArray, grid: FloatArray
                   ) -> tuple[IntArray, IntArray]:
    """Per λ of ``grid``: the rows decided (confidence ≥ λ) and the wrong ones among
    them, by one sort (``O((n + |grid|) log n)``)."""
    order = np.argsort(conf, kind="stable")
    c = conf[order]
    cum_wrong = np.concatenate([[0], np.cumsum(wrong[order].astype(np.int64))])
    first = np.searchsorted(c, grid, side="left")  # rows before it have conf < λ
    n = conf.size - first
    k = cum_wrong[-1] - cum_wrong[first]
    return n.astype(np.int64), k.astype(np.int64)


def two_sided(k: IntArray | FloatArray, n: IntArray | FloatArray, delta: float
              ) -> tuple[FloatArray, FloatArray]:
    """Exact two-sided (1 − δ) Clopper–Pearson interval of ``k/n`` (NaN where n = 0)."""
    k_, n_ = np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64)
    lo = np.full(k_.shape, np.nan)
    hi = np.full(k_.shape, np.nan)
    some = n_ > 0
    if some.any():
        lo[some] = cp_lower(k_[some], n_[some], delta / 2.0)
        hi[some] = cp_upper(k_[some], n_[some], delta / 2.0)
    return lo, hi


def band_grid(points: int = BAND_POINTS, *, low: float = 0.0) -> FloatArray:
    """The λ of the curve's points: ``points`` values evenly from ``low`` to below 1."""
    return low + (1.0 - low) * np.arange(points, dtype=np.float64) / points


@dataclass
class CurveBand:
    """A risk–coverage curve with its simultaneous band (arrays over ``grid``)."""

    grid: FloatArray
    decided: IntArray
    errors: IntArray
    coverage: FloatArray
    risk: FloatArray
    lower: FloatArray
    upper: FloatArray
    delta_point: float


def risk_coverage_band(conf: FloatArray, wrong: BoolArray, grid: FloatArray, delta: float,
                       *, family: int = 1) -> CurveBand:
    """The curve on ``grid`` and its band, simultaneous over the grid's points and
    ``family`` such curves (slices) at level 1 − δ: each point's two-sided interval is
    taken at ``δ/(|grid|·family)``. Points with no decided row have NaN risk and bounds.
    """
    if not 0.0 < delta < 1.0:
        raise ValueError(f"δ must lie strictly between 0 and 1, got {delta}")
    n, k = decided_counts(conf, wrong, grid)
    total = max(conf.size, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        risk = np.where(n > 0, k / np.maximum(n, 1), np.nan)
    point = delta / (grid.size * max(family, 1))
    lo, hi = two_sided(k, n, point)
    return CurveBand(grid=grid, decided=n, errors=k, coverage=n / total, risk=risk,
                     lower=lo, upper=hi, delta_point=point)


def top_k_hits(y: IntArray, proba: FloatArray, ks: Sequence[int]) -> dict[int, int]:
    """Per ``k``: the rows whose true class is among the ``k`` most probable.

    Ties are broken as scikit-learn's ``top_k_accuracy_score`` (and the registry's
    ``top_k_accuracy``) breaks them: among tied probabilities the class with the larger
    index ranks first.
    """
    p = np.asarray(proba, dtype=np.float64)
    yi = np.asarray(y, dtype=np.int64)
    own = p[np.arange(p.shape[0]), yi]
    idx = np.arange(p.shape[1])[None, :]
    rank = (p > own[:, None]).sum(axis=1) + ((p == own[:, None]) & (idx > yi[:, None])
                                            ).sum(axis=1)
    return {int(k): int((rank < k).sum()) for k in ks}
