"""The statistics of `mlscope profile`: percentile bounds at their nominal coverage, the
run length they need, warm-up detection and the ratio of two latency samples.

Latencies here are simulated draws (no timing): the checks are exact and seeded.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlscope.errors import InputError
from mlscope.profile.statistics import (
    binomial_cdf,
    detect_warmup,
    min_calls_for_upper_bound,
    nearest_rank,
    percentile_estimate,
    ratio_interval,
    run_length,
    upper_rank,
)

SIMS = 2000


def _lognormal(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    return rng.lognormal(math.log(2.0), 0.5, size)  # median 2 ms


def _lognormal_q(q: float) -> float:
    from statistics import NormalDist

    return math.exp(math.log(2.0) + 0.5 * NormalDist().inv_cdf(q))


# Bimodal: 85% of calls hit a cache (about 1 ms), 15% miss it (about 8 ms).
def _bimodal(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    fast = rng.lognormal(0.0, 0.2, size)
    slow = rng.lognormal(math.log(8.0), 0.3, size)
    return np.where(rng.random(size) < 0.85, fast, slow)


def _bimodal_q(q: float) -> float:
    def cdf(x: float) -> float:
        def ln(mu: float, s: float) -> float:
            return 0.5 * (1 + math.erf((math.log(x) - mu) / (s * math.sqrt(2))))
        return 0.85 * ln(0.0, 0.2) + 0.15 * ln(math.log(8.0), 0.3)

    lo, hi = 1e-3, 1e3
    for _ in range(200):  # bisection on the mixture's CDF
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if cdf(mid) < q else (lo, mid)
    return lo


@pytest.mark.parametrize(("draw", "true_q"), [
    pytest.param(_lognormal, _lognormal_q, id="lognormal"),
    pytest.param(_bimodal, _bimodal_q, id="bimodal"),
])
@pytest.mark.parametrize(("p", "n"), [
    pytest.param(99.0, 300, id="p99-300-calls"),
    pytest.param(90.0, 1000, id="p90-1000-calls"),
    pytest.param(95.0, 580, id="p95-580-calls"),
])
def test_upper_bound_covers_at_nominal_rate(draw, true_q, p: float, n: int) -> None:
    rng = np.random.default_rng(int(p * 1000) + n)
    truth = true_q(p / 100)
    samples = draw(rng, (SIMS, n))
    k = upper_rank(n, p, 0.95)
    assert k is not None
    covered = np.sort(samples, axis=1)[:, k - 1] >= truth
    # Exact coverage of the order statistic, P(Binomial(n, q) ≤ k − 1): above 0.95 by
    # the discreteness only; the simulation must agree with it within 3 standard errors.
    exact = binomial_cdf(n, p / 100)[k - 1]
    assert 0.95 <= exact < 0.965
    assert 0.93 <= covered.mean() <= 0.97
    assert abs(covered.mean() - exact) < 3 * math.sqrt(exact * (1 - exact) / SIMS)


@pytest.mark.parametrize(("draw", "true_q"), [
    pytest.param(_lognormal, _lognormal_q, id="lognormal"),
    pytest.param(_bimodal, _bimodal_q, id="bimodal"),
])
def test_two_sided_interval_covers(draw, true_q) -> None:
    rng = np.random.default_rng(11)
    truth = true_q(0.9)
    samples = draw(rng, (SIMS, 500))
    hits = 0
    for row in samples:
        e = percentile_estimate(row, 90, 0.95)
        assert e.low is not None
        assert e.high is not None
        assert e.low <= e.value <= e.high
        hits += e.low <= truth <= e.high
    assert 0.93 <= hits / SIMS <= 0.98


def test_min_calls_for_p99_upper_bound_is_299() -> None:
    assert min_calls_for_upper_bound(99, 0.95) == 299
    assert upper_rank(299, 99, 0.95) == 299  # the largest call is the bound
    assert upper_rank(298, 99, 0.95) is None
    # LoadGen's single-stream setting: p90 at 99% confidence.
    assert min_calls_for_upper_bound(90, 0.99) == 44
    e = percentile_estimate(np.arange(1.0, 299.0), 99)
    assert e.upper is None
    assert e.min_calls == 299


def test_binomial_cdf_matches_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    for n, q in [(10, 0.5), (1000, 0.99), (5000, 0.9)]:
        j = np.arange(n + 1)
        np.testing.assert_allclose(binomial_cdf(n, q), stats.binom.cdf(j, n, q),
                                   rtol=1e-9, atol=1e-12)


def test_nearest_rank_is_numpys_inverted_cdf() -> None:
    rng = np.random.default_rng(3)
    for n in (1, 7, 100, 1001):
        x = rng.lognormal(0, 1, n)
        for p in (50, 90, 95, 99, 99.9):
            assert nearest_rank(x, p) == np.percentile(x, p, method="inverted_cdf")


def test_run_length_meets_its_margin_and_grows_as_it_shrinks() -> None:
    lengths = [run_length(99, m) for m in (0.9, 0.5, 0.25)]
    assert lengths == sorted(lengths)
    assert lengths[0] >= 299
    for m, n in zip((0.9, 0.5, 0.25), lengths, strict=True):
        k = upper_rank(n, 99)
        assert k is not None
        assert k <= math.ceil((0.99 + m / 100) * n)
    with pytest.raises(InputError, match="margin"):
        run_length(99, 2)


@pytest.mark.parametrize("slow_calls", [1, 5, 12])
def test_warmup_finds_the_slow_first_calls(slow_calls: int) -> None:
    rng = np.random.default_rng(slow_calls)
    steady = rng.lognormal(math.log(2.0), 0.25, 400)
    slow = rng.uniform(20, 60, slow_calls)  # cold caches, lazy imports: 10-30× slower
    w = detect_warmup(np.concatenate([slow, steady]))
    assert w.settled
    assert w.calls == slow_calls
    assert 1.8 < w.steady_median < 2.2


def test_warmup_decaying_and_none() -> None:
    rng = np.random.default_rng(5)
    base = rng.lognormal(math.log(2.0), 0.1, 300)
    decay = base + 30 * np.exp(-np.arange(300) / 4)  # slow, getting faster
    w = detect_warmup(decay)
    assert w.settled
    assert 8 <= w.calls <= 25
    assert np.all(decay[w.calls:] <= w.threshold)
    assert detect_warmup(base).calls == 0
    # Getting slower for the whole first half: no steady state to set a warm-up against.
    ramp = np.concatenate([np.linspace(50, 10, 150), base[:150]])
    assert not detect_warmup(ramp).settled


def test_ratio_interval_over_calls_and_runs() -> None:
    rng = np.random.default_rng(8)
    a = rng.lognormal(math.log(2.4), 0.3, 800)
    b = rng.lognormal(math.log(2.0), 0.3, 800)
    r = ratio_interval(a, b, seed=1)
    assert r.low < 1.2 < r.high
    assert r.low < r.ratio < r.high
    assert r.method.startswith("bootstrap over calls")
    again = ratio_interval(a, b, seed=1)
    assert again == r  # seeded
    # Five runs each whose medians differ by ±10% from run to run (process layout): the
    # run-level bootstrap must be wider than treating all calls as one run.
    shift = [1.0, 1.1, 0.9, 1.05, 0.95]
    ra = [rng.lognormal(math.log(2.4 * s), 0.3, 200) for s in shift]
    rb = [rng.lognormal(math.log(2.0 * s), 0.3, 200) for s in rng.permutation(shift)]
    runs = ratio_interval(ra, rb, seed=2)
    pooled = ratio_interval(np.concatenate(ra), np.concatenate(rb), seed=2)
    assert "Kalibera" in runs.method
    assert runs.high - runs.low > pooled.high - pooled.low
    assert runs.low < 1.2 < runs.high
    with pytest.raises(InputError, match="resamples"):
        ratio_interval(a, b, resamples=10)


def test_bad_arguments_are_input_errors() -> None:
    with pytest.raises(InputError, match="percentile"):
        nearest_rank([1.0], 100)
    with pytest.raises(InputError, match="confidence"):
        percentile_estimate([1.0, 2.0], 50, confidence=1.0)
    with pytest.raises(InputError, match="no latencies"):
        nearest_rank([], 50)
    with pytest.raises(InputError, match="at least 20"):
        detect_warmup(np.ones(10))
