"""Risk-controlled thresholds: a threshold chosen on labelled calibration rows so that a
requirement (precision ≥ p, recall ≥ q, specificity ≥ s, or their error rates at most a
target) holds on new exchangeable data with probability at least 1 − δ.

A row is flagged when its score is at or above the threshold. Each requirement is an
error rate ``e(t)`` — a share of some trials — held at or below a target ``r``:

======================  =====================  ======================  =============
requirement             errors                 trials                  ``e`` as t ↑
======================  =====================  ======================  =============
recall ≥ q / fnr ≤ r    positives not flagged  positives               increases
specificity ≥ s / fpr   negatives flagged      negatives               decreases
precision ≥ p / fdr     negatives flagged      flagged rows            not monotone
======================  =====================  ======================  =============

For each threshold ``t`` of a grid fixed before the labels are seen, ``H_t: e(t) > r`` is
tested with the exact binomial p-value ``P(Bin(n_t, r) ≤ k_t)`` on its own trials
(``n_t`` flagged rows for precision: given ``n_t``, the flagged rows are exchangeable
draws above ``t``, so ``k_t | n_t`` is binomial — the test is exact conditionally, hence
unconditionally). Rejecting ``H_t`` certifies ``t``; the family-wise error over the grid
is held at δ (Learn then Test, Angelopoulos et al. 2021):

* **Monotone risks (recall, specificity)** — fixed-sequence testing from the safe end
  (flag everything for recall, nothing for specificity), each test at level δ, stopping
  at the first failure: the full δ goes to each test and nothing is lost to
  multiplicity. The safe end is the start because a risk that only grows along the
  sequence makes every later hypothesis harder.
* **Precision** — not monotone in ``t`` (a few negatives among the top scores make the
  top of the ranking imprecise), and the obvious start (the highest thresholds, flagging
  almost no rows) has so few trials that the first test fails and a fixed sequence stops
  at once. So the sequence runs downward from ``m`` starts fixed in advance (evenly
  spaced along the grid), each at δ/m (Bonferroni over the starts; any start's first
  failure ends only its own run). The cost is the split of δ: ``m = 8`` certifies what
  a single well-placed sequence would certify at δ/8, i.e. needs about
  ``ln(8/δ)/ln(1/δ)`` (≈ 1.7 at δ = 0.05) times the trials near an error-free threshold
  and far less than that where errors are seen. Bonferroni–Holm over all grid points
  would cost δ/|grid| instead.
* **Slices** — ``slices=True`` holds the requirement in every slice at once: each
  slice (the overall rows included) is tested at δ/S (Bonferroni over the S slices) and
  the threshold chosen among those certified in all of them.

The grid is fixed before the labels: 1,001 points on [0, 1] for scores in [0, 1], else
1,001 points between the calibration scores' minimum and maximum (labels unused). Among
the certified thresholds, the one flagging the most rows is returned for precision and
specificity (highest recall under the guarantee), the one flagging the fewest for recall
(highest precision). The guarantee is on the population rate at the chosen threshold
(what a large deployment sample converges to), assuming the deployment rows are
exchangeable with the calibration rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mlscope.metrics.binomial import binom_cdf, cp_upper, trials_needed

__all__ = ["GRID_POINTS", "STARTS", "Certified", "certify_threshold", "risk_of"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
GRID_POINTS = 1001
STARTS = 8

# metric -> (errors, trials) among "pos_flagged, pos_missed, neg_flagged, neg_clear",
# whether the metric is the complement of the error rate, and the direction of e(t).
_RISKS: dict[str, tuple[str, bool, str]] = {
    "precision": ("fdr", True, "none"), "fdr": ("fdr", False, "none"),
    "recall": ("fnr", True, "up"), "fnr": ("fnr", False, "up"),
    "specificity": ("fpr", True, "down"), "fpr": ("fpr", False, "down"),
}


def risk_of(metric: str, target: float) -> tuple[str, float, bool, str]:
    """The error rate behind ``metric``, its target, whether the metric is its
    complement, and how it moves as the threshold rises (``up``, ``down``, ``none``)."""
    kind, complement, direction = _RISKS[metric]
    return kind, (1.0 - target if complement else target), complement, direction


def _counts(kind: str, y: BoolArray, score: FloatArray, grid: FloatArray
            ) -> tuple[FloatArray, FloatArray]:
    """Errors and trials of the error rate ``kind`` at every grid threshold."""
    pos, neg = np.sort(score[y]), np.sort(score[~y])
    pos_below = np.searchsorted(pos, grid, side="left").astype(np.float64)
    neg_below = np.searchsorted(neg, grid, side="left").astype(np.float64)
    pos_flag, neg_flag = pos.size - pos_below, neg.size - neg_below
    if kind == "fnr":
        return pos_below, np.full(grid.shape, float(pos.size))
    if kind == "fpr":
        return neg_flag, np.full(grid.shape, float(neg.size))
    return neg_flag, pos_flag + neg_flag


def grid_for(score: FloatArray) -> FloatArray:
    """The thresholds tried: fixed on [0, 1] for probabilities, else the score range."""
    lo, hi = (0.0, 1.0) if score.size == 0 or (score.min() >= 0 and score.max() <= 1) else (
        float(score.min()), float(score.max()))
    return np.linspace(lo, hi, GRID_POINTS)


def _certified_set(kind: str, direction: str, errors: FloatArray, trials: FloatArray,
                   r: float, delta: float) -> tuple[BoolArray, float]:
    """Which grid thresholds the procedure certifies, and the level each test used."""
    with np.errstate(invalid="ignore"):
        pval = np.where(trials > 0, binom_cdf(errors, trials, r), 1.0)
    ok = np.zeros(errors.shape, dtype=bool)
    if direction == "up":  # fnr: from the lowest threshold upward
        fail = np.flatnonzero(pval > delta)
        stop = fail[0] if fail.size else errors.size
        ok[:stop] = True
        return ok, delta
    if direction == "down":  # fpr: from the highest threshold downward
        fail = np.flatnonzero(pval[::-1] > delta)
        stop = fail[0] if fail.size else errors.size
        ok[errors.size - stop:] = True
        return ok, delta
    level = delta / STARTS
    starts = np.linspace(errors.size - 1, 0, STARTS + 2)[1:-1].round().astype(int)
    for s in starts:  # each sequence runs downward from its start at δ/m
        fail = np.flatnonzero(pval[s::-1] > level)
        stop = fail[0] if fail.size else s + 1
        ok[s - stop + 1:s + 1] = True
    return ok, level


@dataclass
class Certified:
    """The outcome on one calibration set (see :func:`certify_threshold`)."""

    threshold: float | None
    certified: dict[str, float | None]
    calibration: dict[str, float | None]
    delta_used: float
    procedure: str
    more_rows: int | None
    message: str


def _value(kind: str, complement: bool, k: float, n: float) -> float | None:
    if n <= 0:
        return None
    e = float(k / n)
    return 1.0 - e if complement else e


def certify_threshold(metric: str, target: float, delta: float, y: BoolArray,
                      score: FloatArray, slices: Mapping[str, BoolArray] | None = None,
                      grid: FloatArray | None = None) -> Certified:
    """Choose a threshold so that ``metric`` meets ``target`` with probability ≥ 1 − δ.

    Parameters
    ----------
    metric
        ``precision``, ``recall``, ``specificity`` (held at least ``target``) or ``fdr``,
        ``fnr``, ``fpr`` (held at most ``target``).
    target, delta
        The requirement and the chance it may fail, both in (0, 1).
    y, score
        The calibration rows: labels (True: positive) and scores (flag: ``score ≥ t``).
    slices
        Row masks of the slices that must each meet it (``overall`` included by the
        caller); None: the overall rows only.
    grid
        The thresholds tried (default :func:`grid_for`).

    Returns
    -------
    Certified
        The threshold (None when nothing qualifies, with the rows needed in ``message``),
        the certified bound and the calibration value per slice.
    """
    if not 0.0 < delta < 1.0:
        raise ValueError(f"δ must lie strictly between 0 and 1, got {delta}")
    kind, r, complement, direction = risk_of(metric, target)
    grid = grid_for(score) if grid is None else grid
    masks = dict(slices) if slices else {"overall": np.ones(y.shape, dtype=bool)}
    level = delta / len(masks)
    ok_all = np.ones(grid.shape, dtype=bool)
    per: dict[str, tuple[FloatArray, FloatArray]] = {}
    used = level
    for name, m in masks.items():
        errors, trials = _counts(kind, y[m], score[m], grid)
        ok, used = _certified_set(kind, direction, errors, trials, r, level)
        ok_all &= ok
        per[name] = (errors, trials)
    proc = {"up": "fixed-sequence from the lowest threshold",
            "down": "fixed-sequence from the highest threshold",
            "none": f"fixed-sequence downward from {STARTS} fixed starts (Bonferroni)"
            }[direction]
    proc = f"exact binomial tests, {proc}" + (
        f", Bonferroni over {len(masks)} slices" if len(masks) > 1 else "")
    if ok_all.any():
        idx = np.flatnonzero(ok_all)
        i = int(idx[-1] if direction == "up" else idx[0])
        cert: dict[str, float | None] = {}
        cal: dict[str, float | None] = {}
        for name, (errors, trials) in per.items():
            up = float(cp_upper(errors[i], trials[i], used)[()]) if trials[i] > 0 else None
            cert[name] = None if up is None else (1.0 - up if complement else up)
            cal[name] = _value(kind, complement, errors[i], trials[i])
        return Certified(float(grid[i]), cert, cal, used, proc, None, "")
    more = _rows_needed(per, masks, r, used)
    msg = ("infeasible with this data: no threshold certifies it"
           + (f"; about {more:,} more labelled rows (at the observed rates) would certify it"
              if more is not None else "; the observed rate misses the target at every "
              "threshold, so more data at these rates would not certify it"))
    return Certified(None, dict.fromkeys(masks), dict.fromkeys(masks), used, proc, more, msg)


def _rows_needed(per: Mapping[str, tuple[FloatArray, FloatArray]],
                 masks: Mapping[str, BoolArray], r: float, level: float) -> int | None:
    """More labelled rows (all slices growing in proportion) that would certify the best
    grid threshold at the observed rates: per slice, the trials needed
    (:func:`~mlscope.metrics.binomial.trials_needed`) over its share of trials per row.

    The normal approximation ``N ≈ z²·r(1 − r)/(r − e)²`` ranks the thresholds; the ten
    most promising are then searched exactly."""
    total = float(sum(int(m.sum()) for m in masks.values()) or 1)
    z = _z(level)
    approx = np.zeros(next(iter(per.values()))[0].shape)
    for errors, trials in per.values():
        with np.errstate(divide="ignore", invalid="ignore"):
            e = np.where(trials > 0, errors / np.maximum(trials, 1), np.inf)
            n = np.where(e < r, z * z * r * (1 - r) / (r - e) ** 2 + 3.0 / r, np.inf)
            approx = np.maximum(approx, n * total / np.maximum(trials, 1e-300))
    best: int | None = None
    for i in np.argsort(approx, kind="stable")[:10]:
        if not np.isfinite(approx[i]):
            break
        need = 0.0
        for errors, trials in per.values():
            n_i = trials_needed(float(errors[i] / trials[i]), r, level)
            if n_i is None:
                need = math.inf
                break
            need = max(need, n_i * total / trials[i] - total)
        if math.isfinite(need) and (best is None or need < best):
            best = max(1, math.ceil(need))
    return best


def _z(level: float) -> float:
    """The standard normal (1 − level)-quantile, by bisection on erfc."""
    lo, hi = 0.0, 40.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if 0.5 * math.erfc(mid / math.sqrt(2.0)) > level else (lo, mid)
    return 0.5 * (lo + hi)
