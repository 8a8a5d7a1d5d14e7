"""Performance before the labels arrive: two estimators side by side, and when to distrust them.

* **CBPE** (confidence-based performance estimation): the reference's labels recalibrate
  the scores (logistic recalibration, :func:`mlscope.metrics.calibration.recalibration`);
  in a window each row then counts ``p̂`` of a positive and ``1 − p̂`` of a negative, and
  every registry metric evaluated on these expected statistics is its estimate (ratios of
  expected confusion counts; ROC AUC from the expected ROC curve). The interval draws
  labels ``y* ~ Bernoulli(p̂)`` (a parametric bootstrap), so it holds the *realised*
  value's sampling error on the window's rows, not only the estimate's.
  Assumes no concept drift (``P(y | x)`` as in the reference) and calibrated scores.
* **BBSE** (black-box shift estimation): the positive rate under pure label shift, from
  the window's predicted-positive rate and the reference's confusion matrix, inverted:
  ``π = (q − FPR) / (TPR − FPR)``. Assumes ``P(x | y)`` as in the reference.

The estimate is marked *not trustworthy* (and its number withheld from the summary) when
the two prior estimates disagree beyond their intervals, when the recalibrated reference
scores are still poorly calibrated, or when a domain classifier finds the window outside
the reference's support (:mod:`mlscope.monitor.domain`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mlscope.metrics.binomial import cp_lower, cp_upper
from mlscope.metrics.calibration import ece_debiased, recalibration
from mlscope.metrics.stats import BinaryStats, binary_stats
from mlscope.monitor.result import Estimate, Performance

__all__ = ["DISAGREEMENT_LEVEL", "Calibrated", "EstimatedMetric", "bbse_share", "estimate_slice",
           "estimate_window", "expected_stats", "fit_calibration", "judge_trust",
           "percentile_interval", "reference_values"]

FloatArray = npt.NDArray[np.float64]
MetricCall = Callable[[BinaryStats], FloatArray]
# Below this gap between the reference's TPR and FPR the confusion matrix is nearly
# singular and BBSE cannot tell the classes apart.
_MIN_SEPARATION = 0.05
# The two prior estimates disagree when this interval of their difference excludes 0:
# stricter than the estimates' own level, so that clean windows are rarely distrusted.
DISAGREEMENT_LEVEL = 0.99


@dataclass(frozen=True)
class EstimatedMetric:
    """A metric the monitor estimates: its id and a call on (batched) binary statistics.

    ``threshold`` is its operating threshold when it has one (accuracy, precision, …): the
    number of trials behind its exact bound (precision's predicted positives) counts at
    it."""

    id: str
    call: MetricCall
    threshold: float | None = None


@dataclass(frozen=True)
class Calibrated:
    """The reference's recalibration of one model's scores, and how well it holds there."""

    a: float
    b: float
    ece: float
    tpr: float
    fpr: float
    n_pos: int
    n_neg: int
    score_type: str
    # The recalibration refitted on bootstrap resamples of the reference (Poisson weights):
    # the estimates' intervals carry the recalibration's own estimation error.
    a_draws: FloatArray | None = None
    b_draws: FloatArray | None = None

    @property
    def fitted(self) -> bool:
        return bool(np.isfinite(self.a) and np.isfinite(self.b))

    def probability(self, scores: FloatArray) -> FloatArray:
        """The recalibrated probability of each score."""
        x = scores if self.score_type == "logit" else _logit(scores)
        if not self.fitted:
            return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float64)
        return np.asarray(1.0 / (1.0 + np.exp(-(self.a + self.b * x))), dtype=np.float64)

    def probability_draws(self, scores: FloatArray, resamples: int) -> FloatArray:
        """One row of recalibrated probabilities per bootstrap refit, shape
        ``(resamples, n)`` (the point recalibration repeated when there are no refits)."""
        x = scores if self.score_type == "logit" else _logit(scores)
        a, b = self.a_draws, self.b_draws
        if not self.fitted or a is None or b is None or a.size < resamples:
            return np.broadcast_to(self.probability(scores), (resamples, scores.size))
        z = a[:resamples, None] + b[:resamples, None] * x[None, :]
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)


def _logit(p: FloatArray) -> FloatArray:
    q = np.clip(p, 1e-9, 1 - 1e-9)
    return np.asarray(np.log(q / (1 - q)), dtype=np.float64)


def fit_calibration(labels: FloatArray, scores: FloatArray, threshold: float,
                    score_type: str, *, rng: np.random.Generator | None = None,
                    resamples: int = 0) -> Calibrated:
    """Recalibrate ``scores`` on the reference's ``labels``; the debiased ECE after it,
    and the reference's TPR and FPR at ``threshold`` (for BBSE)."""
    st = binary_stats(labels, scores)
    st = BinaryStats(st.scores, st.pos, st.neg, st.n_rows, score_type=score_type)
    a, b = (float(v) for v in recalibration(st))
    cal = Calibrated(a, b, float("nan"), 0.0, 0.0, 0, 0, score_type)
    p = cal.probability(scores)
    after = binary_stats(labels, p)
    e = float(ece_debiased(after))
    y = labels.astype(bool)
    pred = scores >= threshold
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    tpr = float(pred[y].mean()) if n_pos else float("nan")
    fpr = float(pred[~y].mean()) if n_neg else float("nan")
    a_draws = b_draws = None
    if rng is not None and resamples and np.isfinite(a) and np.isfinite(b):
        w = rng.poisson(1.0, (resamples, labels.size)).astype(np.float64)
        # Weighted positives and negatives of each replicate (the bootstrap weights times
        # the 0/1 labels), on the same distinct scores.
        uniq, inv = np.unique(scores, return_inverse=True)
        m = uniq.size
        offsets = (inv[None, :] + m * np.arange(resamples)[:, None]).ravel()
        pos = np.bincount(offsets, (w * labels).ravel(), resamples * m).reshape(
            resamples, m).astype(np.float64)
        neg = np.bincount(offsets, (w * (1 - labels)).ravel(), resamples * m).reshape(
            resamples, m).astype(np.float64)
        boot = BinaryStats(uniq[::-1].copy(), pos[:, ::-1].copy(), neg[:, ::-1].copy(),
                           labels.size, score_type=score_type)
        ad, bd = recalibration(boot)
        ok = np.isfinite(ad) & np.isfinite(bd)
        # A replicate without a finite fit (rare) takes the point fit.
        a_draws = np.where(ok, ad, a).astype(np.float64)
        b_draws = np.where(ok, bd, b).astype(np.float64)
    return Calibrated(a, b, e, tpr, fpr, n_pos, n_neg, score_type, a_draws, b_draws)


def expected_stats(scores: FloatArray, weights: FloatArray, score_type: str) -> BinaryStats:
    """Binary statistics where row ``i`` counts ``weights[..., i]`` of a positive.

    ``weights`` may carry batch dimensions (one row of 0/1 draws per bootstrap replicate).
    """
    uniq, inv = np.unique(scores, return_inverse=True)
    m = uniq.size
    w = np.atleast_2d(weights)
    b = w.shape[0]
    offsets = (inv[None, :] + m * np.arange(b)[:, None]).ravel()
    pos = np.bincount(offsets, weights=w.ravel(), minlength=b * m).reshape(b, m).astype(
        np.float64)
    neg = np.bincount(offsets, weights=(1.0 - w).ravel(), minlength=b * m).reshape(
        b, m).astype(np.float64)
    if weights.ndim == 1:
        pos, neg = pos[0], neg[0]
    return BinaryStats(uniq[::-1].copy(), pos[..., ::-1].copy(), neg[..., ::-1].copy(),
                       int(scores.size), score_type=score_type)


def percentile_interval(draws: FloatArray, level: float) -> tuple[float | None, float | None]:
    """The two-sided percentile interval at ``level`` of the finite ``draws``; no interval
    (None, None) from fewer than 10 of them. Every simulated interval of the monitor."""
    d = draws[np.isfinite(draws)]
    if d.size < 10:
        return None, None
    lo, hi = np.quantile(d, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _num(x: Any) -> float | None:
    v = float(np.asarray(x))
    return v if np.isfinite(v) else None


def reference_values(labels: FloatArray, scores: FloatArray, metrics: list[EstimatedMetric],
                     score_type: str) -> dict[str, float | None]:
    """Each estimated metric on the reference's labelled rows: the level a window's
    estimate and realised value are read against (the dashboard's reference line)."""
    if labels.size < 2:
        return {em.id: None for em in metrics}
    lab = binary_stats(labels, scores)
    lab = BinaryStats(lab.scores, lab.pos, lab.neg, lab.n_rows, score_type=score_type)
    with np.errstate(all="ignore"):
        return {em.id: _num(em.call(lab)) for em in metrics}


def _cbpe(cal: Calibrated, scores: FloatArray, labels: FloatArray | None,
          metrics: list[EstimatedMetric], rng: np.random.Generator, resamples: int,
          level: float) -> tuple[list[Estimate], FloatArray, FloatArray, BinaryStats | None,
                                 FloatArray]:
    """CBPE's estimates with intervals and realised values; also the recalibrated
    probabilities, the label draws, the labelled rows' statistics and the probabilities of
    each refit of the recalibration (``(resamples, n)``, which BBSE's test reuses)."""
    p = cal.probability(scores)
    refits = cal.probability_draws(scores, resamples)
    draws = (rng.random((resamples, p.size)) < refits).astype(np.float64)
    point = expected_stats(scores, p, cal.score_type)
    boot = expected_stats(scores, draws, cal.score_type)
    lab = None
    if labels is not None:
        known = np.isfinite(labels)
        if known.sum() >= 2:
            lab = binary_stats(labels[known], scores[known])
            lab = BinaryStats(lab.scores, lab.pos, lab.neg, lab.n_rows,
                              score_type=cal.score_type)
    estimates = []
    for em in metrics:
        with np.errstate(all="ignore"):
            est = _num(em.call(point))
            lo, hi = percentile_interval(np.asarray(em.call(boot), dtype=np.float64), level)
            realised = _num(em.call(lab)) if lab is not None else None
        inside = None
        if realised is not None and lo is not None and hi is not None:
            inside = bool(lo - 1e-12 <= realised <= hi + 1e-12)
        estimates.append(Estimate(em.id, est, lo, hi, realised, inside))
    return estimates, p, draws, lab, refits


def estimate_slice(cal: Calibrated, scores: FloatArray, labels: FloatArray | None,
                   metric: EstimatedMetric, *, rng: np.random.Generator, resamples: int,
                   level: float) -> Estimate:
    """CBPE's estimate of one metric on a slice's rows of a window."""
    return _cbpe(cal, scores, labels, [metric], rng, resamples, level)[0][0]


def estimate_window(model: str, cal: Calibrated, threshold: float, scores: FloatArray,
                    labels: FloatArray | None, metrics: list[EstimatedMetric], *,
                    rng: np.random.Generator, resamples: int, level: float) -> Performance:
    """One model's estimates in one window (``scores`` without missing values).

    ``labels`` (0/1, NaN where not arrived) give the realised values on the labelled rows.
    """
    estimates, p, draws, lab, refits = _cbpe(cal, scores, labels, metrics, rng, resamples,
                                             level)
    # The positive rate two ways: CBPE's mean recalibrated score, and BBSE's inversion.
    prior_draws = draws.mean(axis=1)
    lo, hi = percentile_interval(prior_draws, level)
    realised_prior = _num(lab.total_pos / (lab.total_pos + lab.total_neg)) if lab else None
    cbpe = Estimate("positive_share", float(p.mean()), lo, hi, realised_prior)
    bbse, gap = _bbse(cal, scores, threshold, rng, resamples, level, realised_prior, refits)
    perf = Performance(model, threshold, estimates, cbpe, bbse,
                       labelled=int(lab.n_rows) if lab is not None else 0)
    if not cal.fitted:
        perf.reasons.append("the reference's scores could not be recalibrated (one class, "
                            "or the classes separated by the score)")
    if gap is not None and (gap[0] > 0 or gap[1] < 0) and bbse.estimate is not None:
        perf.reasons.append(
            f"the positive share from calibrated scores ({cbpe.estimate:.1%}) and from "
            f"label shift ({bbse.estimate:.1%}) disagree (their difference's "
            f"{DISAGREEMENT_LEVEL:.0%} interval "
            + f"{gap[0]:+.1%} to {gap[1]:+.1%}".replace("-", "−")  # a true minus, as elsewhere
            + " excludes 0): "
            "an assumption of one fails — covariate shift (BBSE) or label or concept "
            "shift (CBPE)")
    return perf


def judge_trust(perf: Performance, dom: Any, ece: float, gate: float, *,
                what: str = "scores", ece_name: str = "debiased ECE") -> None:
    """Set ``perf.trustworthy`` from its reasons plus the two every task's estimate shares:
    a domain classifier ``dom`` that tells the window from the reference, and a reference
    the recalibration leaves poorly calibrated (``ece`` above ``gate``; ``what`` and
    ``ece_name`` say of what, in the reason)."""
    perf.domain_auc = dom.auc if dom is not None else None
    if dom is not None and dom.out_of_support:
        perf.reasons.append(f"a domain classifier tells the window from the reference "
                            f"(AUC {dom.auc:.2f}): outside the reference's support")
    if not np.isfinite(ece) or ece > gate:
        perf.reasons.append(f"the reference's recalibrated {what} are poorly calibrated "
                            f"({ece_name} {ece:.3f} > {gate:g})")
    perf.trustworthy = not perf.reasons


def bbse_share(cal: Calibrated, scores: FloatArray, threshold: float, *,
               rng: np.random.Generator, resamples: int, level: float,
               realised: float | None) -> Estimate:
    """BBSE's positive share of ``scores`` (a slice's rows of a window) with its interval;
    ``cal`` carries the TPR and FPR to invert (the slice's own on the reference)."""
    return _bbse(cal, scores, threshold, rng, resamples, level, realised)[0]


def _counts(rate: float, n: int) -> int:
    return round(rate * n)


def _separated(cal: Calibrated) -> bool:
    """Whether the reference tells the classes apart at the threshold beyond chance: the
    lower 97.5% Clopper–Pearson bound of its TPR above the upper bound of its FPR. (On
    ISLP's Weekly data a chance-level model's TPR 52/52 and FPR 49/53 passed the point
    separation of 0.05, and BBSE's inversion of 13-row windows reported a 100% positive
    share and a "disagreement" with CBPE.)"""
    if cal.n_pos == 0 or cal.n_neg == 0:
        return False
    lo = float(cp_lower(_counts(cal.tpr, cal.n_pos), cal.n_pos, 0.025))
    hi = float(cp_upper(_counts(cal.fpr, cal.n_neg), cal.n_neg, 0.025))
    return lo > hi


def _rate_draws(rng: np.random.Generator, rate: float, n: int, size: int) -> FloatArray:
    """Draws of a rate observed as ``rate·n`` of ``n``: Beta(k + ½, n − k + ½)."""
    k = _counts(rate, n)
    return np.asarray(rng.beta(k + 0.5, n - k + 0.5, size), dtype=np.float64)


def _bbse(cal: Calibrated, scores: FloatArray, threshold: float, rng: np.random.Generator,
          resamples: int, level: float, realised: float | None,
          refits: FloatArray | None = None) -> tuple[Estimate, tuple[float, float] | None]:
    """BBSE's positive share with its interval, and the interval of its difference from
    CBPE's (the same bootstrap: the window's rows resampled, the reference's TPR and FPR
    drawn from their posteriors), or None where BBSE is not identifiable or ``refits``
    (CBPE's probabilities under each refit of the recalibration) is not given."""
    sep = cal.tpr - cal.fpr
    n = scores.size
    if not np.isfinite(sep) or sep < _MIN_SEPARATION or n == 0 or not _separated(cal):
        return Estimate("positive_share", None, None, None, realised), None
    pred = (scores >= threshold).astype(np.float64)
    est = min(max((float(pred.mean()) - cal.fpr) / sep, 0.0), 1.0)
    idx = rng.integers(0, n, (resamples, n))
    qs = pred[idx].mean(axis=1)
    # CBPE's share in each resample with that resample's refit of the recalibration: the
    # reference's calibration error is shared by every window, and left out it made whole
    # runs of clean windows "disagree" (4 of 60 at the 99% level on one reference).
    cs = (np.take_along_axis(refits, idx, axis=1).mean(axis=1) if refits is not None
          else None)
    # The rates' Jeffreys posteriors, not binomials at the estimates: a binomial at a TPR
    # of 52/52 never varies, and the inversion's interval then shrank to a point.
    tprs = _rate_draws(rng, cal.tpr, cal.n_pos, resamples)
    fprs = _rate_draws(rng, cal.fpr, cal.n_neg, resamples)
    with np.errstate(all="ignore"):
        raw = np.where(tprs - fprs > 0, (qs - fprs) / (tprs - fprs), np.nan)
    # The share's own interval stays in [0, 1]; the difference is taken on the unclipped
    # inversion: clipped draws pile up at 0 (or 1) when the true share is near it, and
    # their difference from CBPE's would then exclude 0 on clean traffic.
    lo, hi = percentile_interval(np.clip(raw, 0.0, 1.0), level)
    dlo, dhi = (percentile_interval(raw - cs, DISAGREEMENT_LEVEL) if cs is not None
                else (None, None))
    # Reported within a difference of shares' range, [−1, 1]: clipping keeps the sign of
    # each end, so whether the interval excludes 0 is unchanged.
    gap = ((min(max(dlo, -1.0), 1.0), min(max(dhi, -1.0), 1.0))
           if dlo is not None and dhi is not None else None)
    return Estimate("positive_share", est, lo, hi, realised), gap
