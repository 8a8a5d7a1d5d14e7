"""Canary and blue-green traffic: unpaired comparisons of the candidate with production.

Each row is served by ONE model, so the two arms are independent samples and every
difference (candidate − production) gets an interval for independent samples:

* **shares** (accuracy, the positive rate): Newcombe's hybrid score interval — each
  arm's Wilson interval combined by MOVER with correlation 0 (Newcombe 1998, method 10);
  p-value Fisher's exact test of the 2 × 2 table;
* **ROC AUC**: each arm's DeLong interval on the logit scale (Wilson on the smaller class
  at 0 or 1), combined by MOVER with correlation 0; p-value the z-test of the difference
  with the two DeLong variances added;
* **every other metric**: an independent bootstrap of each arm (multinomial resamples of
  its labelled rows), the percentile interval of the replicates' difference.

Each difference also carries its standard error (analytic or the replicates' standard
deviation) and the bootstrap replicates, which the slice gates of ``mlscope check``
(:func:`mlscope.compare.check.gate_checks`) test with.

Before labels, per arm: the positive rate at each model's threshold, the score
distributions (PSI, Jensen–Shannon, KS between the arms) and CBPE's estimate of each
metric, with the two arms' label draws independent.

:func:`rows_needed` is the power calculation behind "not enough canary traffic".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import numpy.typing as npt

from mlscope.engine.bounded import mover, wilson
from mlscope.metrics.stats import BinaryStats, binary_stats
from mlscope.monitor.performance import (
    Calibrated,
    EstimatedMetric,
    expected_stats,
    percentile_interval,
)
from mlscope.monitor.rollout import Interval
from mlscope.monitor.shift import numeric_shift, two_rate_test

__all__ = ["ArmDifference", "UnpairedFigures", "arm_difference", "labelled_stats", "metric_name",
           "newcombe", "per_row_variance", "rows_needed",
           "unpaired_figures"]

FloatArray = npt.NDArray[np.float64]
# Metrics whose value is a share of all rows: Newcombe's interval applies.
_SHARES = frozenset({"accuracy", "positive_rate"})
# The power the minimum-rows calculation asks for.
POWER = 0.8


def _z(level: float) -> float:
    return NormalDist().inv_cdf(0.5 + level / 2)


def newcombe(k1: int, n1: int, k0: int, n0: int, level: float) -> Interval:
    """``k1/n1 − k0/n0`` with Newcombe's hybrid score interval and Fisher's p-value."""
    if n1 <= 0 or n0 <= 0:
        return Interval(None)
    z = _z(level)
    p1, p0 = k1 / n1, k0 / n0
    lo, hi = mover(p1, wilson(p1, n1, z), p0, wilson(p0, n0, z), 0.0)
    return Interval(p1 - p0, max(lo, -1.0), min(hi, 1.0),
                    two_rate_test(k1, n1, k0, n0, alternative="two-sided"))


def labelled_stats(y: FloatArray, s: FloatArray, score_type: str) -> BinaryStats:
    """Binary statistics of labelled rows, with the charter's score type."""
    st = binary_stats(y, s)
    return BinaryStats(st.scores, st.pos.astype(np.float64), st.neg.astype(np.float64),
                       st.n_rows, score_type=score_type)


def _resampled_stats(y: FloatArray, s: FloatArray, counts: FloatArray, score_type: str
                     ) -> BinaryStats:
    """Binary statistics of bootstrap resamples: row ``i`` counted ``counts[r, i]`` times
    in resample ``r`` (one batch dimension)."""
    uniq, inv = np.unique(s, return_inverse=True)
    m, b = uniq.size, counts.shape[0]
    offsets = (inv[None, :] + m * np.arange(b)[:, None]).ravel()
    pos = np.bincount(offsets, weights=(counts * y[None, :]).ravel(), minlength=b * m)
    neg = np.bincount(offsets, weights=(counts * (1 - y)[None, :]).ravel(), minlength=b * m)
    pos2 = pos.reshape(b, m).astype(np.float64)
    neg2 = neg.reshape(b, m).astype(np.float64)
    return BinaryStats(uniq[::-1].copy(), pos2[:, ::-1].copy(), neg2[:, ::-1].copy(),
                       int(s.size), score_type=score_type)


def _boot(em: EstimatedMetric, y: FloatArray, s: FloatArray, score_type: str,
          rng: np.random.Generator, resamples: int) -> FloatArray:
    counts = rng.multinomial(s.size, np.full(s.size, 1.0 / s.size), size=resamples)
    with np.errstate(all="ignore"):
        return np.asarray(em.call(_resampled_stats(y, s, counts.astype(np.float64),
                                                   score_type)), dtype=np.float64)


def _value(em: EstimatedMetric, y: FloatArray, s: FloatArray, score_type: str
           ) -> float | None:
    if s.size < 1:
        return None
    with np.errstate(all="ignore"):
        v = float(np.asarray(em.call(labelled_stats(y, s, score_type))))
    return v if np.isfinite(v) else None


@dataclass
class ArmDifference:
    """Candidate − production on two independent samples, with its interval and test."""

    candidate: float | None
    production: float | None
    value: float | None
    low: float | None
    high: float | None
    p: float | None
    se: float | None
    test: str
    replicates: FloatArray | None = None
    # The candidate arm's own bootstrap replicates: a requirement decided on its bound
    # (`decide_on: bound`) takes its bootstrap bound from them.
    candidate_replicates: FloatArray | None = None


def _auc(y: FloatArray, s: FloatArray, z: float) -> tuple[float, float, tuple[float, float]]:
    from mlscope.compare.delong import delong_variance
    from mlscope.compare.intervals import auc_interval

    aucs, cov = delong_variance(y, [s])
    n_pos = int((y == 1).sum())
    auc, var = float(aucs[0]), float(cov[0, 0])
    return auc, var, auc_interval(auc, var, min(n_pos, s.size - n_pos), z)


def arm_difference(name: str, em_c: EstimatedMetric, em_p: EstimatedMetric,
                   yc: FloatArray, sc: FloatArray, yp: FloatArray, sp: FloatArray,
                   score_type: str, *, rng: np.random.Generator, resamples: int,
                   level: float) -> ArmDifference:
    """One metric's unpaired difference (``name``: its registry name) on the labelled rows
    of the candidate's arm (``yc``, ``sc``) and production's (``yp``, ``sp``)."""
    vc, vp = _value(em_c, yc, sc, score_type), _value(em_p, yp, sp, score_type)
    if vc is None or vp is None:
        # The candidate's own value (and its replicates) still decide its requirements.
        return ArmDifference(vc, vp, None, None, None, None, None, "undefined",
                             candidate_replicates=None if vc is None else
                             _boot(em_c, yc, sc, score_type, rng, resamples))
    rc = _boot(em_c, yc, sc, score_type, rng, resamples)
    rp = _boot(em_p, yp, sp, score_type, rng, resamples)
    reps = rc - rp
    fin = reps[np.isfinite(reps)]
    z = _z(level)
    d = vc - vp
    if name == "roc_auc" and min((yc == 1).sum(), (yc == 0).sum(), (yp == 1).sum(),
                                 (yp == 0).sum()) >= 2:
        ac, var_c, ci_c = _auc(yc, sc, z)
        ap, var_p, ci_p = _auc(yp, sp, z)
        lo, hi = mover(ac, ci_c, ap, ci_p, 0.0)
        se = math.sqrt(var_c + var_p)
        p = 2 * (1 - NormalDist().cdf(abs(d) / se)) if se > 0 else None
        # "delong": the slice gates take this standard error (DeLong's, of independent arms).
        return ArmDifference(vc, vp, d, max(lo, -1.0), min(hi, 1.0), p, se, "delong", reps,
                             rc)
    if name in _SHARES:
        kc, kp = round(vc * sc.size), round(vp * sp.size)
        iv = newcombe(kc, int(sc.size), kp, int(sp.size), level)
        se = math.sqrt(vc * (1 - vc) / sc.size + vp * (1 - vp) / sp.size)
        return ArmDifference(vc, vp, d, iv.low, iv.high, iv.p, se or None, "newcombe", reps,
                             rc)
    blo, bhi = percentile_interval(fin, level)
    if blo is None or bhi is None:
        return ArmDifference(vc, vp, d, None, None, None, None, "bootstrap", reps, rc)
    se = float(np.std(fin, ddof=1))
    p = 2 * (1 - NormalDist().cdf(abs(d) / se)) if se > 0 else None
    return ArmDifference(vc, vp, d, blo, bhi, p, se, "bootstrap", reps, rc)


def rows_needed(var_c: float, var_p: float, distance: float, level: float,
                power: float = POWER) -> int | None:
    """Labelled rows per arm for the difference's interval to clear a gate ``distance``
    away from the assumed true difference with probability ``power``:
    ``n = (z_(1+level)/2 + z_power)² · (σ²_c + σ²_p) / distance²``, with ``σ²`` each
    arm's per-row variance of the metric (``n`` × the variance of its estimate on ``n``
    rows)."""
    if distance <= 0 or not np.isfinite(var_c + var_p) or var_c + var_p <= 0:
        return None
    z = _z(level) + NormalDist().inv_cdf(power)
    return math.ceil(z * z * (var_c + var_p) / distance ** 2)


def per_row_variance(em: EstimatedMetric, y: FloatArray, s: FloatArray, score_type: str,
                     rng: np.random.Generator, resamples: int) -> float:
    """``n`` × the bootstrap variance of the metric on ``n`` labelled rows (the reference):
    the variance one row contributes, for :func:`rows_needed`."""
    keep = np.isfinite(y) & np.isfinite(s)
    y, s = y[keep], s[keep]
    if s.size < 10:
        return float("nan")
    r = _boot(em, y, s, score_type, rng, resamples)
    r = r[np.isfinite(r)]
    return float(np.var(r, ddof=1) * s.size) if r.size >= 10 else float("nan")


@dataclass
class UnpairedFigures:
    """The label-free comparison of two arms (canary) or two periods (blue-green)."""

    rows: int
    rows_production: int
    rows_candidate: int
    candidate_share: float | None
    positive_rate_production: float | None
    positive_rate_candidate: float | None
    positive_rate_difference: Interval
    score_shift: dict[str, float | None]
    estimated: dict[str, Interval] = field(default_factory=dict)


def _cbpe_draws(cal: Calibrated, s: FloatArray, em: EstimatedMetric,
                rng: np.random.Generator, resamples: int) -> tuple[float | None, FloatArray]:
    p = cal.probability(s)
    draws = (rng.random((resamples, s.size)) < cal.probability_draws(s, resamples)
             ).astype(np.float64)
    with np.errstate(all="ignore"):
        point = float(np.asarray(em.call(expected_stats(s, p, cal.score_type))))
        boot = np.asarray(em.call(expected_stats(s, draws, cal.score_type)), dtype=np.float64)
    return (point if np.isfinite(point) else None), boot


def unpaired_figures(sp: FloatArray, sc: FloatArray, thr_p: float, thr_c: float,
                     cals: tuple[Calibrated, Calibrated] | None,
                     metrics: list[tuple[EstimatedMetric, EstimatedMetric]], *,
                     rng: np.random.Generator, resamples: int, level: float) -> UnpairedFigures:
    """The label-free figures from each arm's scores (``sp``: production's rows, ``sc``:
    the candidate's; missing scores dropped). ``cals``: (production, candidate)."""
    sp, sc = sp[np.isfinite(sp)], sc[np.isfinite(sc)]
    n_p, n_c = int(sp.size), int(sc.size)
    k_p, k_c = int((sp >= thr_p).sum()), int((sc >= thr_c).sum())
    sh = numeric_shift(sp, sc) if n_p and n_c else None
    out = UnpairedFigures(
        n_p + n_c, n_p, n_c, n_c / (n_p + n_c) if n_p + n_c else None,
        k_p / n_p if n_p else None, k_c / n_c if n_c else None,
        newcombe(k_c, n_c, k_p, n_p, level),
        {"psi": sh.psi, "js": sh.js, "ks_p": sh.p} if sh is not None else
        {"psi": None, "js": None, "ks_p": None})
    if cals is None or n_p < 2 or n_c < 2:
        return out
    for em_c, em_p in metrics:
        vc, bc = _cbpe_draws(cals[1], sc, em_c, rng, resamples)
        vp, bp = _cbpe_draws(cals[0], sp, em_p, rng, resamples)
        est = vc - vp if vc is not None and vp is not None else None
        lo, hi = percentile_interval(bc - bp, level)
        out.estimated[em_c.id] = Interval(est, lo, hi)
    return out


def metric_name(charter: Any, mid: str) -> str:
    """The registry name behind a metric id: the charter's entry, else the id before
    ``@`` (the monitor's own ``accuracy@0.5``)."""
    entry = next((m for m in charter.metrics if m.id == mid), None)
    if entry is not None and entry.metric is not None:
        return str(entry.metric)
    return mid.split("@", 1)[0]
