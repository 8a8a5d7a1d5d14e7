"""A deferral rule certified on calibration rows: the model decides where its confidence
is at least λ and defers the rest to people, with λ chosen so that the error rate on the
decided rows is at most ``max_error`` on new exchangeable data with probability ≥ 1 − δ.

The rule's one parameter λ runs over a grid fixed before the data (1,001 points on
[0, 1]; :mod:`mlscope.metrics.selective` defines the confidence). ``H_λ: R(λ) >
max_error``, with ``R(λ)`` the population error rate among the decided rows, is tested
with the exact binomial p-value ``P(Bin(n_λ, max_error) ≤ k_λ)``: ``n_λ`` decided rows,
``k_λ`` of them wrong. Given ``n_λ`` the decided rows are exchangeable draws of the
decided population, so the test is exact (as for precision in
:mod:`mlscope.compare.guarantee`).

The selective risk is not monotone in λ and the most-deferring end decides too few rows
to certify anything, so fixed-sequence testing runs from :data:`STARTS` (fixed in
advance, from deferring nearly everything to deciding everything) towards deciding more,
each sequence at δ/|STARTS| and stopping at its first failure (Bonferroni over the
starts; Learn then Test, Angelopoulos et al. 2021). With slices, every slice (the overall
rows included) is tested at δ/S as well and λ is chosen among those certified in all of
them: the family-wise error over starts, grid and slices is at most δ. Among the
certified λ the smallest (the most rows decided) is chosen.

A deferral limit makes the constraint joint: the error is then certified at δ/2 and the
deferral rate bounded at δ/2 on rows the choice did not see (the caller's report split),
so both hold together with probability ≥ 1 − δ.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mlscope.metrics.binomial import binom_cdf, cp_upper, trials_needed
from mlscope.metrics.selective import decided_counts

__all__ = ["GRID", "MIN_OBSERVED", "STARTS", "CertifiedRule", "certify_deferral", "reachable_at"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

GRID: FloatArray = np.linspace(0.0, 1.0, 1001)
# The λ each fixed sequence starts from; fixed before the data. Dense near 1, where
# well-separated models decide most rows with almost no errors.
STARTS: tuple[float, ...] = (0.99, 0.95, 0.9, 0.8, 0.6, 0.4, 0.2, 0.0)
MIN_OBSERVED = 20


@dataclass
class CertifiedRule:
    """The outcome on one calibration set (see :func:`certify_deferral`).

    ``lam`` is None when no λ is certified; ``message`` then says about how many more
    labelled rows (``more_rows``) would certify one. Per slice: decided rows, wrong ones
    and the (1 − ``delta_used``) exact upper bound of the error among the decided.
    """

    lam: float | None
    decided: dict[str, int]
    errors: dict[str, int]
    certified: dict[str, float | None]
    delta_used: float
    procedure: str
    more_rows: int | None
    message: str


def _certified_set(n: FloatArray, k: FloatArray, r: float, level: float) -> BoolArray:
    pval = binom_cdf(k, n, r)
    ok = np.zeros(GRID.shape, dtype=bool)
    for lam in STARTS:
        s = round(lam * (GRID.size - 1))
        fail = np.flatnonzero(pval[s::-1] > level)  # towards λ = 0: deciding more
        stop = fail[0] if fail.size else s + 1
        ok[s - stop + 1:s + 1] = True
    return ok


def certify_deferral(max_error: float, delta: float, conf: FloatArray, wrong: BoolArray,
                     slices: Mapping[str, BoolArray] | None = None) -> CertifiedRule:
    """Choose λ so that the error on the decided rows is ≤ ``max_error`` with
    probability ≥ 1 − δ, in every slice of ``slices`` at once.

    Parameters
    ----------
    max_error, delta
        The error allowed on the decided rows and the chance the guarantee may fail, both
        in (0, 1).
    conf, wrong
        Calibration rows: confidence in [0, 1] and whether the model's decision is wrong.
    slices
        Row masks that must each meet it (``overall`` included by the caller).
    """
    if not 0.0 < delta < 1.0 or not 0.0 < max_error < 1.0:
        raise ValueError(f"δ and max_error lie strictly between 0 and 1, got {delta}, "
                         f"{max_error}")
    masks = dict(slices) if slices else {"overall": np.ones(conf.shape, dtype=bool)}
    level = delta / (len(STARTS) * len(masks))
    ok_all = np.ones(GRID.shape, dtype=bool)
    per: dict[str, tuple[FloatArray, FloatArray]] = {}
    for name, m in masks.items():
        n, k = decided_counts(conf[m], wrong[m], GRID)
        per[name] = (n.astype(np.float64), k.astype(np.float64))
        ok_all &= _certified_set(per[name][0], per[name][1], max_error, level)
    proc = (f"exact binomial tests along λ, fixed-sequence from {len(STARTS)} fixed starts "
            "(Bonferroni)" + (f", Bonferroni over {len(masks)} slices" if len(masks) > 1
                              else ""))
    if ok_all.any():
        i = int(np.flatnonzero(ok_all)[0])
        cert = {name: float(cp_upper(k[i], n[i], level)[()]) if n[i] > 0 else None
                for name, (n, k) in per.items()}
        return CertifiedRule(float(GRID[i]), {s: int(v[0][i]) for s, v in per.items()},
                             {s: int(v[1][i]) for s, v in per.items()}, cert, level, proc,
                             None, "")
    more, at = _rows_needed(per, max_error, level)
    msg = (f"infeasible with this data: no rule certifies an error ≤ {max_error:g} on the "
           "decided cases" + (
               f"; about {more:,} more labelled rows (at the observed rates) would certify "
               f"one deciding {at:.0%} of the cases" if more is not None and at is not None
               else "; the observed error on the decided cases misses the target at every "
                    "confidence level, so more data at these rates would not certify it"))
    return CertifiedRule(None, dict.fromkeys(masks, 0), dict.fromkeys(masks, 0),
                         dict.fromkeys(masks), level, proc, more, msg)


def _rows_needed(per: Mapping[str, tuple[FloatArray, FloatArray]], r: float, level: float
                 ) -> tuple[int | None, float | None]:
    """More labelled rows (slices growing in proportion) that would certify the most
    promising λ at the observed rates (λ deciding at least :data:`MIN_OBSERVED` rows in
    every slice), and the share of rows decided there. A normal
    approximation ranks the λ; the ten best are searched exactly
    (:func:`~mlscope.metrics.binomial.trials_needed`)."""
    z = math.sqrt(2.0 * math.log(1.0 / level))  # a bound on the normal quantile
    growth = np.zeros(GRID.shape)
    for n, k in per.values():
        with np.errstate(divide="ignore", invalid="ignore"):
            # An observed rate from a handful of decided rows says little: at least
            # MIN_OBSERVED decided rows before it is extrapolated.
            e = np.where(n >= MIN_OBSERVED, k / np.maximum(n, 1), np.inf)
            need = np.where(e < r, z * z * r * (1 - r) / (r - e) ** 2 + 3.0 / r, np.inf)
            growth = np.maximum(growth, need / np.maximum(n, 1e-300))
    best: tuple[int | None, float | None] = (None, None)
    for i in np.argsort(growth, kind="stable")[:10]:
        if not np.isfinite(growth[i]):
            break
        g = 0.0
        for n, k in per.values():
            t = trials_needed(float(k[i] / n[i]), r, level)
            if t is None:
                g = math.inf
                break
            g = max(g, t / n[i] - 1.0)
        if not math.isfinite(g):
            continue
        total = max(float(v[0][0]) for v in per.values())  # λ = 0 decides every row
        more = max(1, math.ceil(g * total))
        if best[0] is None or more < best[0]:
            n0 = next(iter(per.values()))[0]
            best = (more, float(n0[i] / max(n0[0], 1.0)))
    return best


def reachable_at(max_defer: float, max_error: float, level: float, conf: FloatArray,
                 wrong: BoolArray, slices: Mapping[str, BoolArray] | None = None
                 ) -> tuple[float, int, int, float | None, int | None]:
    """What deferring at most ``max_defer`` of the calibration rows reaches: the largest
    λ that does (on all rows), its decided and wrong rows (all rows), the largest exact
    (1 − level) upper bound of the error there over ``slices``, and about how many more
    labelled rows (slices growing in proportion) would certify ``max_error`` there in all
    of them (None: an observed error misses it)."""
    masks = dict(slices) if slices else {"overall": np.ones(conf.shape, dtype=bool)}
    n_all, k_all = decided_counts(conf, wrong, GRID)
    total = max(conf.size, 1)
    allowed = np.flatnonzero(1.0 - n_all / total <= max_defer + 1e-12)
    i = int(allowed[-1]) if allowed.size else 0
    worst: float | None = 0.0
    growth: float | None = 0.0
    for m in masks.values():
        n, k = decided_counts(conf[m], wrong[m], GRID[i:i + 1])
        if n[0] == 0:
            worst, growth = None, None
            break
        up = float(cp_upper(k[0], n[0], level)[()])
        worst = None if worst is None else max(worst, up)
        t = trials_needed(float(k[0] / n[0]), max_error, level)
        growth = None if t is None or growth is None else max(growth, t / n[0] - 1.0)
    more = None if growth is None else max(0, math.ceil(growth * total))
    return float(GRID[i]), int(n_all[i]), int(k_all[i]), worst, more
