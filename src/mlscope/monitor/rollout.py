"""Shadow traffic before labels: how a candidate model and the model in production differ
on the same rows.

Both models score every row of the log (shadow), so every figure is paired:

* **agreement** at the operating thresholds: the share of rows both models decide alike,
  with its exact (Clopper–Pearson) interval;
* the **positive-rate difference** (candidate − production): McNemar on the discordant
  rows, with Tango's score interval (the same test ``mlscope check`` uses for accuracy);
* the **score shift** between the two models' scores (PSI, Jensen–Shannon, KS);
* the **estimated metric difference** (paired CBPE): one joint recalibration
  ``logit P(y = 1) = a + b₁ · logit(s_production) + b₂ · logit(s_candidate)`` fitted on the
  reference; labels drawn ``y* ~ Bernoulli(p̂)`` on the window's rows score *both* models
  at once, so the interval of the difference holds the realised difference's sampling
  error and the recalibration's (refitted on a bootstrap resample of the reference each
  draw). Assumes no concept drift, as CBPE does.

The realised gate, once labels arrive, is :mod:`mlscope.monitor.rollout_gate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from mlscope.compare.paired import mcnemar_counts
from mlscope.monitor.performance import EstimatedMetric, expected_stats, percentile_interval
from mlscope.monitor.shift import numeric_shift

__all__ = ["JointCalibration", "PairedFigures", "fit_joint", "paired_figures"]

FloatArray = npt.NDArray[np.float64]
# Newton steps of the joint recalibration; three parameters converge in a handful.
_STEPS = 25
# A small ridge keeps the fit finite when the two models' logits are nearly collinear.
_RIDGE = 1e-4


def _logit(p: FloatArray, score_type: str) -> FloatArray:
    if score_type == "logit":
        return p
    q = np.clip(p, 1e-9, 1 - 1e-9)
    return np.asarray(np.log(q / (1 - q)), dtype=np.float64)


def _newton(x: FloatArray, y: FloatArray, w: FloatArray) -> FloatArray:
    """Weighted logistic regression of ``y`` on ``x`` (columns: 1, logits) by Newton."""
    beta = np.zeros(x.shape[1])
    for _ in range(_STEPS):
        z = np.clip(x @ beta, -30, 30)
        p = 1.0 / (1.0 + np.exp(-z))
        g = x.T @ (w * (y - p)) - _RIDGE * beta
        h = (x * (w * p * (1 - p))[:, None]).T @ x + _RIDGE * np.eye(x.shape[1])
        step = np.linalg.solve(h, g)
        beta = beta + step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return beta


@dataclass(frozen=True)
class JointCalibration:
    """``P(y = 1 | both scores)`` fitted on the reference, with bootstrap refits."""

    beta: FloatArray
    draws: FloatArray  # (resamples, 3)
    score_type: str

    def probability(self, s_prod: FloatArray, s_cand: FloatArray,
                    beta: FloatArray | None = None) -> FloatArray:
        b = self.beta if beta is None else beta
        x = np.column_stack([np.ones(s_prod.size), _logit(s_prod, self.score_type),
                             _logit(s_cand, self.score_type)])
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(x @ b.T, -30, 30))), dtype=np.float64)


def fit_joint(labels: FloatArray, s_prod: FloatArray, s_cand: FloatArray, score_type: str,
              *, rng: np.random.Generator, resamples: int) -> JointCalibration:
    """The joint recalibration of the two models' scores on the reference's labels."""
    keep = np.isfinite(labels) & np.isfinite(s_prod) & np.isfinite(s_cand)
    y = labels[keep]
    x = np.column_stack([np.ones(int(keep.sum())), _logit(s_prod[keep], score_type),
                         _logit(s_cand[keep], score_type)])
    beta = _newton(x, y, np.ones(y.size))
    draws = np.empty((resamples, 3))
    for r in range(resamples):
        # Poisson weights: a bootstrap resample of the reference without copying rows.
        draws[r] = _newton(x, y, rng.poisson(1.0, y.size).astype(np.float64))
    return JointCalibration(beta, draws, score_type)


@dataclass
class Interval:
    """A figure with its interval (``None`` where it is undefined)."""

    value: float | None
    low: float | None = None
    high: float | None = None
    p: float | None = None


@dataclass
class PairedFigures:
    """The label-free comparison of the candidate with production on some rows."""

    rows: int
    agreement: Interval
    positive_rate_production: float | None
    positive_rate_candidate: float | None
    positive_rate_difference: Interval
    discordant: dict[str, int]
    score_shift: dict[str, float | None]
    estimated: dict[str, Interval] = field(default_factory=dict)


def _num(x: Any) -> float | None:
    v = float(np.asarray(x))
    return v if np.isfinite(v) else None


def _exact(k: int, n: int, level: float) -> tuple[float | None, float | None]:
    from scipy import stats

    if n == 0:
        return None, None
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)


def paired_figures(s_prod: FloatArray, s_cand: FloatArray, thr_prod: float, thr_cand: float,
                   joint: JointCalibration | None,
                   metrics: list[tuple[EstimatedMetric, EstimatedMetric]], *,
                   rng: np.random.Generator, resamples: int, level: float) -> PairedFigures:
    """The paired label-free figures on rows where both models have a score.

    ``metrics`` pairs each estimated metric of the candidate with production's (the same
    id; operating points at each model's own threshold).
    """
    keep = np.isfinite(s_prod) & np.isfinite(s_cand)
    sp, sc = s_prod[keep], s_cand[keep]
    n = int(sp.size)
    dp, dc = sp >= thr_prod, sc >= thr_cand
    agree = int((dp == dc).sum())
    lo, hi = _exact(agree, n, level)
    n10, n01 = int((dc & ~dp).sum()), int((dp & ~dc).sum())
    if n:
        mc = mcnemar_counts(n10, n01, n, level=level)
        diff = Interval(mc.diff, mc.lower, mc.upper, mc.p_value)
    else:
        diff = Interval(None)
    sh = numeric_shift(sp, sc)
    shift: dict[str, float | None] = {"psi": None, "js": None, "ks_p": None}
    if sh is not None:
        shift = {"psi": sh.psi, "js": sh.js, "ks_p": sh.p}
    out = PairedFigures(n, Interval(agree / n if n else None, lo, hi), _num(dp.mean()) if n
                        else None, _num(dc.mean()) if n else None, diff,
                        {"candidate_only": n10, "production_only": n01}, shift)
    if joint is not None and n >= 2 and metrics:
        out.estimated = _estimated(sp, sc, joint, metrics, rng, resamples, level)
    return out


def _estimated(sp: FloatArray, sc: FloatArray, joint: JointCalibration,
               metrics: list[tuple[EstimatedMetric, EstimatedMetric]],
               rng: np.random.Generator, resamples: int, level: float
               ) -> dict[str, Interval]:
    """Paired CBPE: the metric difference (candidate − production) from one label draw
    per replicate that scores both models."""
    p = joint.probability(sp, sc)
    pr = joint.probability(sp, sc, joint.draws[:resamples])  # (n, resamples)
    draws = (rng.random(pr.T.shape) < pr.T).astype(np.float64)
    st = joint.score_type
    point_p, point_c = expected_stats(sp, p, st), expected_stats(sc, p, st)
    boot_p, boot_c = expected_stats(sp, draws, st), expected_stats(sc, draws, st)
    out: dict[str, Interval] = {}
    for mc, mp in metrics:
        with np.errstate(all="ignore"):
            est = _num(np.asarray(mc.call(point_c)) - np.asarray(mp.call(point_p)))
            d = np.asarray(mc.call(boot_c), dtype=np.float64) - np.asarray(
                mp.call(boot_p), dtype=np.float64)
        lo, hi = percentile_interval(d, level)
        out[mc.id] = Interval(est, lo, hi)
    return out
