"""The statistics of a latency sample: percentiles with distribution-free bounds, the run
length they need, warm-up detection and the ratio of two models' (or runs') latencies.

Everything here is a pure function of raw latencies (nanoseconds or any unit: nothing is
rounded) and uses NumPy only.

Order-statistic bounds
    Let ``ξ`` be the true ``q``-quantile of a continuous latency distribution and
    ``x(1) ≤ … ≤ x(n)`` the sorted sample. The number of calls faster than ``ξ`` is
    Binomial(n, q), so ``P(x(k) ≥ ξ) = P(Binomial(n, q) ≤ k − 1)`` whatever the
    distribution. The one-sided upper bound at confidence ``1 − α`` is ``x(k)`` for the
    smallest ``k`` with ``P(Binomial(n, q) ≤ k − 1) ≥ 1 − α`` — the order statistic that
    MLPerf LoadGen's early stopping reports (LoadGen fixes ``1 − α = 0.99``). It exists
    only when ``k ≤ n``, i.e. ``q**n ≤ α``: at least ``log α / log q`` calls (299 for p99
    at 95%). The two-sided interval puts ``α/2`` in each tail the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from mlscope.errors import InputError

__all__ = [
    "PercentileEstimate",
    "RatioEstimate",
    "WarmUp",
    "binomial_cdf",
    "detect_warmup",
    "min_calls_for_upper_bound",
    "nearest_rank",
    "percentile_estimate",
    "ratio_interval",
    "run_length",
    "upper_rank",
]

FloatArray = npt.NDArray[np.float64]


def _quantile(p: float) -> float:
    if not 0 < p < 100:
        raise InputError(f"a percentile lies strictly between 0 and 100, got {p!r}; "
                         "write e.g. 99 for p99")
    return p / 100.0


def _alpha(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise InputError(f"a confidence lies strictly between 0 and 1, got {confidence!r}; "
                         "write e.g. 0.95")
    return 1.0 - confidence


def binomial_cdf(n: int, q: float) -> FloatArray:
    """``P(Binomial(n, q) ≤ j)`` for ``j = 0 … n`` (NumPy only, in log space).

    Parameters
    ----------
    n
        Number of trials (≥ 0).
    q
        Success probability, strictly between 0 and 1.

    Returns
    -------
    ndarray
        ``n + 1`` cumulative probabilities, non-decreasing, the last one 1.
    """
    j = np.arange(n + 1, dtype=np.float64)
    # log pmf(j) = log C(n, j) + j log q + (n − j) log(1 − q); C(n, j) from cumulative
    # sums of logs so that n of a million calls neither overflows nor needs SciPy.
    logs = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1, dtype=np.float64)))])
    log_pmf = logs[n] - logs - logs[::-1] + j * math.log(q) + (n - j) * math.log1p(-q)
    cdf = np.cumsum(np.exp(log_pmf - log_pmf.max())) * math.exp(log_pmf.max())
    out: FloatArray = np.minimum(cdf / cdf[-1], 1.0)  # the last term is 1 up to rounding
    return out


def upper_rank(n: int, p: float, confidence: float = 0.95) -> int | None:
    """The 1-based rank ``k`` whose order statistic is an upper bound on the ``p``-th
    percentile at ``confidence``; ``None`` when ``n`` calls are too few.

    Examples
    --------
    >>> upper_rank(299, 99), upper_rank(298, 99)
    (299, None)
    """
    q, alpha = _quantile(p), _alpha(confidence)
    if n < 1:
        return None
    cdf = binomial_cdf(n, q)
    # P(x(k) ≥ ξ) = cdf[k − 1]; the smallest k with cdf[k − 1] ≥ 1 − α.
    k = int(np.searchsorted(cdf, 1.0 - alpha - 1e-12, side="left")) + 1
    return k if k <= n else None


def _lower_rank(n: int, p: float, alpha_tail: float) -> int | None:
    """The largest 1-based rank ``l`` with ``P(x(l) ≤ ξ) ≥ 1 − alpha_tail``."""
    cdf = binomial_cdf(n, _quantile(p))
    # P(x(l) ≤ ξ) = P(Binomial ≥ l) = 1 − cdf[l − 1]; needs cdf[l − 1] ≤ α.
    ok = np.flatnonzero(cdf[:n] <= alpha_tail + 1e-12)
    return int(ok[-1]) + 1 if ok.size else None


def min_calls_for_upper_bound(p: float, confidence: float = 0.95) -> int:
    """The fewest calls for which an upper bound on the ``p``-th percentile exists.

    The largest order statistic bounds the ``q``-quantile from above with probability
    ``1 − q**n``, so ``n ≥ log(1 − confidence) / log q``.

    Examples
    --------
    >>> min_calls_for_upper_bound(99, 0.95), min_calls_for_upper_bound(90, 0.99)
    (299, 44)
    """
    q, alpha = _quantile(p), _alpha(confidence)
    n = math.ceil(math.log(alpha) / math.log(q) - 1e-9)
    while q**n > alpha:  # guard the floating-point edge of the ceiling
        n += 1
    return n


def run_length(p: float, margin: float, confidence: float = 0.95) -> int:
    """Calls needed so that the upper bound on the ``p``-th percentile is an order
    statistic no higher than the ``p + margin`` sample percentile.

    ``margin`` is in percentile points: ``run_length(99, 0.5)`` asks that the 95% bound
    on p99 be at most the sample's p99.5. The smaller the margin, the closer the bound
    sits to the estimate, and the longer the run.

    Returns
    -------
    int
        The smallest such ``n`` (found by bisection above the minimum of
        :func:`min_calls_for_upper_bound`).
    """
    q = _quantile(p)
    if not 0 < margin < 100 - p:
        raise InputError(f"the margin is in percentile points between 0 and {100 - p:g} "
                         f"(above p{p:g}), got {margin!r}; write e.g. 0.5")

    def ok(n: int) -> bool:
        k = upper_rank(n, p, confidence)
        return k is not None and k <= math.ceil((q + margin / 100.0) * n)

    lo = min_calls_for_upper_bound(p, confidence)
    if ok(lo):
        return lo
    hi = lo * 2
    while not ok(hi):
        lo, hi = hi, hi * 2
    while hi - lo > 1:  # ok(lo) is False, ok(hi) is True
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def nearest_rank(x: npt.ArrayLike, p: float) -> float:
    """The nearest-rank ``p``-th percentile: the ``ceil(p/100 · n)``-th smallest value.

    Always an observed latency (no interpolation between calls), as onnxruntime's
    perf test and LoadGen report it.

    Examples
    --------
    >>> nearest_rank([5, 1, 4, 2, 3], 50), nearest_rank(range(1, 101), 99)
    (3.0, 99.0)
    """
    a = np.sort(np.asarray(x, dtype=np.float64))
    if a.size == 0:
        raise InputError("no latencies to take a percentile of")
    q = _quantile(p)
    rank = max(1, math.ceil(q * a.size - 1e-9))
    return float(a[rank - 1])


@dataclass(frozen=True)
class PercentileEstimate:
    """A percentile of a sample with its distribution-free bounds.

    ``upper`` is the one-sided upper bound at ``confidence`` (``None``: too few calls,
    fewer than ``min_calls``); ``low``/``high`` the two-sided interval (``None`` where a
    side does not exist).
    """

    p: float
    value: float
    upper: float | None
    low: float | None
    high: float | None
    confidence: float
    n: int
    min_calls: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile_estimate(x: npt.ArrayLike, p: float, confidence: float = 0.95
                        ) -> PercentileEstimate:
    """The nearest-rank ``p``-th percentile of ``x`` with its order-statistic bounds.

    Parameters
    ----------
    x
        Raw latencies (any unit; not rounded).
    p
        The percentile, e.g. 99.
    confidence
        Of the one-sided upper bound and of the two-sided interval.
    """
    a = np.sort(np.asarray(x, dtype=np.float64))
    n = int(a.size)
    value = nearest_rank(a, p)
    k = upper_rank(n, p, confidence)
    alpha = _alpha(confidence)
    k2 = upper_rank(n, p, 1.0 - alpha / 2)
    lo = _lower_rank(n, p, alpha / 2)
    return PercentileEstimate(
        p=p, value=value, upper=None if k is None else float(a[k - 1]),
        low=None if lo is None else float(a[lo - 1]),
        high=None if k2 is None else float(a[k2 - 1]),
        confidence=confidence, n=n, min_calls=min_calls_for_upper_bound(p, confidence))


@dataclass(frozen=True)
class WarmUp:
    """The calls at the start of a run that are slower than its steady state.

    ``calls`` is how many to discard (0: none detected); ``settled`` is False when the
    series never settled within its first half (then nothing is discarded and the run
    should be longer); ``threshold`` is the latency above which a call counts as slow.
    """

    calls: int
    settled: bool
    threshold: float
    steady_median: float
    rule: str = ("moving median of 5 calls within median + 5·MAD of the second half; "
                 "warm-up ends after the last slow call before that")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def detect_warmup(x: npt.ArrayLike, *, window: int = 5, k: float = 5.0) -> WarmUp:
    """Detect the warm-up calls at the start of a latency series.

    The steady state is the series' second half: its median ``m`` and its median absolute
    deviation ``s`` (scaled by 1.4826 to a standard deviation, and at least 1% of ``m`` so
    that a near-constant series does not call every jitter slow). A call is *slow* above
    ``m + k·s``. The series has *settled* at the first call ``i`` where the median of
    calls ``i … i + window − 1`` is not slow; the warm-up is every call up to the last slow
    one before ``i + window`` (a lone slow call inside the first window is warm-up too:
    discarding one call too many costs little, keeping a cold one biases p99). The search
    is limited to the first half; a series still slow at the end of its first half has no
    steady state to measure against and is reported as unsettled (nothing discarded).

    Parameters
    ----------
    x
        Latencies in call order.
    window
        Calls in the moving median.
    k
        Robust standard deviations above the steady median that make a call slow.
    """
    a = np.asarray(x, dtype=np.float64)
    n = a.size
    if n < 4 * window:
        raise InputError(f"warm-up detection needs at least {4 * window} calls, got {n}")
    steady = a[n // 2:]
    m = float(np.median(steady))
    s = max(1.4826 * float(np.median(np.abs(steady - m))), 0.01 * abs(m))
    thr = m + k * s
    half = n // 2
    windows = np.lib.stride_tricks.sliding_window_view(a[: half + window - 1], window)
    settled_at = np.flatnonzero(np.median(windows, axis=1) <= thr)
    if settled_at.size == 0:
        return WarmUp(0, False, thr, m)
    i = int(settled_at[0])
    slow = np.flatnonzero(a[: i + window] > thr)
    calls = int(slow[-1]) + 1 if slow.size else 0
    if calls > half - window:  # slow into the steady half: no steady state to trust
        return WarmUp(0, False, thr, m)
    return WarmUp(calls, True, thr, m)


@dataclass(frozen=True)
class RatioEstimate:
    """``statistic(a) / statistic(b)`` with a bootstrap percentile interval."""

    statistic: Literal["median", "mean"]
    ratio: float
    low: float
    high: float
    confidence: float
    resamples: int
    seed: int
    method: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _runs(x: npt.ArrayLike | Sequence[npt.ArrayLike]) -> list[FloatArray]:
    if isinstance(x, np.ndarray) and x.ndim == 1:
        return [x.astype(np.float64)]
    items = list(x)  # type: ignore[arg-type]
    if items and np.ndim(items[0]) == 0:
        return [np.asarray(items, dtype=np.float64)]
    runs = [np.asarray(r, dtype=np.float64) for r in items]
    if not runs or any(r.size == 0 for r in runs):
        raise InputError("every run needs at least one latency")
    return runs


def ratio_interval(a: npt.ArrayLike | Sequence[npt.ArrayLike],
                   b: npt.ArrayLike | Sequence[npt.ArrayLike], *,
                   statistic: Literal["median", "mean"] = "median",
                   confidence: float = 0.95, resamples: int = 2000, seed: int = 0
                   ) -> RatioEstimate:
    """The ratio of two models' (or runs') typical latency with a bootstrap interval.

    After Kalibera & Jones (2013): with repeated runs (``a`` and ``b`` each a list of
    per-run latency arrays) the bootstrap resamples runs, then calls within each chosen
    run, so that the run-to-run variation (a process's memory layout, the machine's
    state) is in the interval; with one run each, it resamples calls. The statistic of a
    replicate pools its calls. The interval is the percentile interval of the replicates'
    ratios.

    Parameters
    ----------
    a, b
        Latencies of the two: one array each, or a list of arrays (one per run).
    statistic
        ``median`` (robust to the tail) or ``mean``.
    confidence, resamples, seed
        Of the percentile bootstrap (seeded; recorded in the result).
    """
    alpha = _alpha(confidence)
    if resamples < 100:
        raise InputError(f"the ratio's bootstrap needs at least 100 resamples, got {resamples}")
    ra, rb = _runs(a), _runs(b)
    stat = np.median if statistic == "median" else np.mean
    rng = np.random.default_rng(seed)

    def replicate(runs: list[FloatArray]) -> float:
        chosen = rng.integers(0, len(runs), len(runs)) if len(runs) > 1 else [0]
        parts = [runs[int(j)][rng.integers(0, runs[int(j)].size, runs[int(j)].size)]
                 for j in chosen]
        return float(stat(np.concatenate(parts)))

    base_b = float(stat(np.concatenate(rb)))
    if base_b <= 0:
        raise InputError("the reference latencies' statistic is not positive; no ratio")
    ratio = float(stat(np.concatenate(ra))) / base_b
    reps = np.array([replicate(ra) / replicate(rb) for _ in range(resamples)])
    low, high = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    method = ("bootstrap over runs, then calls (Kalibera & Jones)"
              if len(ra) > 1 or len(rb) > 1 else "bootstrap over calls (one run each)")
    return RatioEstimate(statistic, ratio, float(low), float(high), confidence, resamples,
                         seed, method)
