"""Exact binomial tail probabilities and Clopper–Pearson bounds, without SciPy.

The regularised incomplete beta function ``I_x(a, b)`` is evaluated by its continued
fraction (modified Lentz; Numerical Recipes §6.4), on the side where it converges fast
(``x < (a + 1)/(a + b + 2)``, else through ``I_x(a, b) = 1 − I_{1−x}(b, a)``). Everything
here is vectorised over NumPy arrays, so a grid of thresholds is tested in one call.

* :func:`binom_cdf` — ``P(Bin(n, p) ≤ k)`` = ``I_{1−p}(n − k, k + 1)``.
* :func:`cp_lower`, :func:`cp_upper` — the one-sided (1 − δ) Clopper–Pearson bounds of a
  proportion ``k/n``: the δ-quantile of Beta(k, n − k + 1) (0 when k = 0) and the
  (1 − δ)-quantile of Beta(k + 1, n − k) (1 when k = n), found by safeguarded Newton
  steps on ``I_x`` (to 1e-15).
* :func:`trials_needed` — the fewest trials at an observed error rate for which the
  exact upper bound of the error rate is at or below a target (the rule of three, general).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["betainc", "binom_cdf", "cp_lower", "cp_upper", "trials_needed"]

FloatArray = npt.NDArray[np.float64]
ArrayLike = float | int | FloatArray

_TINY = 1e-300
_EPS = 1e-15
_LGAMMA = np.frompyfunc(math.lgamma, 1, 1)


def _lgamma(x: FloatArray) -> FloatArray:
    return np.asarray(_LGAMMA(x), dtype=np.float64)


def _contfrac(a: FloatArray, b: FloatArray, x: FloatArray) -> FloatArray:
    """The continued fraction of ``I_x(a, b)`` (converges for ``x < (a+1)/(a+b+2)``)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    d = 1.0 - qab * x / qap
    d = np.where(np.abs(d) < _TINY, _TINY, d)
    d = 1.0 / d
    h = d.copy()
    active = np.ones(x.shape, dtype=bool)
    for m in range(1, 100_000):
        m2 = 2.0 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = np.where(np.abs(d) < _TINY, _TINY, d)
        c = 1.0 + aa / c
        c = np.where(np.abs(c) < _TINY, _TINY, c)
        d = 1.0 / d
        h = np.where(active, h * d * c, h)
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = np.where(np.abs(d) < _TINY, _TINY, d)
        c = 1.0 + aa / c
        c = np.where(np.abs(c) < _TINY, _TINY, c)
        d = 1.0 / d
        delta = d * c
        h = np.where(active, h * delta, h)
        active &= np.abs(delta - 1.0) > _EPS
        if not active.any():
            break
    return h


def _contfrac_scalar(a: float, b: float, x: float) -> float:
    """:func:`_contfrac` for one value, in plain Python (no array overhead)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) >= _TINY else _TINY)
    h = d
    for m in range(1, 100_000):
        m2 = 2.0 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) >= _TINY else _TINY)
            c = 1.0 + aa / c
            c = c if abs(c) >= _TINY else _TINY
            h *= d * c
        if abs(d * c - 1.0) <= _EPS:
            break
    return h


def betainc(a: ArrayLike, b: ArrayLike, x: ArrayLike) -> FloatArray:
    """The regularised incomplete beta function ``I_x(a, b)`` (``a, b > 0``)."""
    a_, b_, x_ = np.broadcast_arrays(np.asarray(a, dtype=np.float64),
                                     np.asarray(b, dtype=np.float64),
                                     np.asarray(x, dtype=np.float64))
    a_, b_, x_ = a_.astype(np.float64), b_.astype(np.float64), x_.astype(np.float64)
    out = np.where(x_ <= 0.0, 0.0, 1.0)
    inner = (x_ > 0.0) & (x_ < 1.0)
    if inner.any():
        a1, b1, x1 = a_[inner], b_[inner], x_[inner]
        swap = x1 >= (a1 + 1.0) / (a1 + b1 + 2.0)
        aa, bb = np.where(swap, b1, a1), np.where(swap, a1, b1)
        xx = np.where(swap, 1.0 - x1, x1)
        log_front = (_lgamma(aa + bb) - _lgamma(aa) - _lgamma(bb)
                     + aa * np.log(xx) + bb * np.log1p(-xx))
        if xx.size <= 4:  # a quantile's search: one value at a time is faster
            cf = np.array([_contfrac_scalar(*v) for v in zip(aa.tolist(), bb.tolist(),
                                                            xx.tolist(), strict=True)])
        else:
            cf = _contfrac(aa, bb, xx)
        val = np.exp(log_front) * cf / aa
        out[inner] = np.clip(np.where(swap, 1.0 - val, val), 0.0, 1.0)
    return np.asarray(out, dtype=np.float64)


def binom_cdf(k: ArrayLike, n: ArrayLike, p: ArrayLike) -> FloatArray:
    """``P(Bin(n, p) ≤ k)`` for integer ``0 ≤ k`` and ``n ≥ 0``, ``p`` in [0, 1]."""
    k_, n_, p_ = np.broadcast_arrays(np.asarray(k, dtype=np.float64),
                                     np.asarray(n, dtype=np.float64),
                                     np.asarray(p, dtype=np.float64))
    out = np.ones(k_.shape, dtype=np.float64)
    inner = k_ < n_
    if inner.any():
        out[inner] = betainc(n_[inner] - k_[inner], k_[inner] + 1.0, 1.0 - p_[inner])
    return out


def _beta_quantile(q: FloatArray, a: FloatArray, b: FloatArray) -> FloatArray:
    """``x`` with ``I_x(a, b) = q``: Newton's method kept inside a shrinking bracket
    (a bisection step whenever Newton would leave it), to 1e-15."""
    lo, hi = np.zeros_like(q), np.ones_like(q)
    x = np.full_like(q, 0.5)
    log_beta = _lgamma(a) + _lgamma(b) - _lgamma(a + b)
    for _ in range(200):
        f = betainc(a, b, x) - q
        lo, hi = np.where(f < 0, x, lo), np.where(f < 0, hi, x)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            pdf = np.exp((a - 1.0) * np.log(x) + (b - 1.0) * np.log1p(-x) - log_beta)
            step = x - f / pdf
        inside = np.isfinite(step) & (step > lo) & (step < hi)
        new = np.where(inside, step, 0.5 * (lo + hi))
        done = np.abs(new - x) <= 1e-15 * np.maximum(new, 1e-300)
        x = new
        if done.all() or (hi - lo <= 1e-16).all():
            break
    return x


def _check_delta(delta: ArrayLike) -> None:
    d = np.asarray(delta, dtype=np.float64)
    if not np.all((d > 0.0) & (d < 1.0)):
        raise ValueError(f"δ must lie strictly between 0 and 1, got {delta!r}")


def cp_lower(k: ArrayLike, n: ArrayLike, delta: ArrayLike) -> FloatArray:
    """One-sided (1 − δ) Clopper–Pearson lower bound of a proportion: ``k`` successes in
    ``n`` trials (0 when ``k = 0``; ``δ^(1/n)`` when ``k = n``)."""
    _check_delta(delta)
    k_, n_, d_ = (a.astype(np.float64) for a in np.broadcast_arrays(
        np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64),
        np.asarray(delta, dtype=np.float64)))
    out = np.zeros(k_.shape, dtype=np.float64)
    full = (k_ >= n_) & (n_ > 0)
    out[full] = d_[full] ** (1.0 / n_[full])
    inner = (k_ > 0) & (k_ < n_)
    if inner.any():
        out[inner] = _beta_quantile(d_[inner], k_[inner], n_[inner] - k_[inner] + 1.0)
    return out


def cp_upper(k: ArrayLike, n: ArrayLike, delta: ArrayLike) -> FloatArray:
    """One-sided (1 − δ) Clopper–Pearson upper bound of a proportion: ``1 −`` the lower
    bound of the ``n − k`` failures (1 when ``k = n``; ``1 − δ^(1/n)`` when ``k = 0``)."""
    k_, n_ = np.broadcast_arrays(np.asarray(k, dtype=np.float64),
                                 np.asarray(n, dtype=np.float64))
    return np.asarray(1.0 - cp_lower(n_ - k_, n_, delta), dtype=np.float64)


def trials_needed(rate: float, target: float, delta: float, *, limit: int = 10**9
                  ) -> int | None:
    """The fewest trials ``N`` such that ``k = round(rate·N)`` errors in ``N`` trials give
    a one-sided (1 − δ) exact upper bound of the error rate at or below ``target``.

    The exact upper bound is at or below ``target`` exactly when the binomial p-value
    ``P(Bin(N, target) ≤ k)`` is at most δ. With no errors (``rate = 0``) this is
    ``(1 − target)^N ≤ δ``, i.e. ``N ≥ ln(1/δ) / −ln(1 − target)`` — the rule of three
    (``≈ 3/target`` at δ = 0.05). With errors, ``N`` is found by doubling and bisection
    (``k`` grows with ``N`` at the observed rate, so the search is over a near-monotone
    function; the answer is rounded up to a certified ``N``). None when ``rate ≥
    target`` (no amount of data at that rate certifies it) or past ``limit``.
    """
    _check_delta(delta)
    if not 0.0 < target < 1.0 or rate >= target or rate < 0.0:
        return None
    if rate == 0.0:
        return math.ceil(math.log(1.0 / delta) / -math.log1p(-target) - 1e-12)

    def ok(n: int) -> bool:
        return bool(binom_cdf(round(rate * n), n, target)[()] <= delta)

    hi = 1
    while not ok(hi):
        hi *= 2
        if hi > limit:
            return None
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi
