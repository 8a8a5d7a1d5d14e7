"""Error-column metrics and the shared quantile kernel, against NumPy and scikit-learn."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.utils.stats import _weighted_percentile

from mlscope.metrics.errors import quantile
from mlscope.metrics.registry import get_metric, metrics_for_task
from mlscope.metrics.stats import ErrorStats, error_stats

TOL = 1e-9
SETTINGS = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
NAMES = ("error_mean", "error_median", "error_p90", "error_p95", "error_max")
Q = {"error_median": 50.0, "error_p90": 90.0, "error_p95": 95.0}


def make_rows(n: int, seed: int, levels: int, weights: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Signed errors on a grid of ``levels`` values (ties), and weights."""
    rng = np.random.default_rng(seed)
    v = np.round(rng.normal(size=n) * levels) / levels * 3
    w: np.ndarray | None
    if weights == "none":
        w = None
    elif weights == "grid":
        w = rng.choice([0.5, 1.0, 1.5, 2.0, 4.0], size=n)
    elif weights == "continuous":
        w = rng.uniform(0.05, 5.0, size=n)
    else:
        w = rng.choice([0.0, 0.5, 1.0, 3.0], size=n)
    return v, w


@st.composite
def error_rows(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray | None]:
    return make_rows(
        n=draw(st.one_of(st.integers(1, 25), st.integers(150, 500))),
        seed=draw(st.integers(0, 2**31 - 1)),
        levels=draw(st.sampled_from([1, 2, 5, 50])),
        weights=draw(st.sampled_from(["none", "grid", "continuous", "with_zeros"])),
    )


SCENARIOS = [
    pytest.param(dict(n=1, seed=1, levels=2, weights="none"), id="one-row"),
    pytest.param(dict(n=10, seed=2, levels=1, weights="none"), id="small-ties"),
    pytest.param(dict(n=10, seed=3, levels=2, weights="grid"), id="small-grid-weights"),
    pytest.param(dict(n=400, seed=4, levels=5, weights="none"), id="moderate"),
    pytest.param(dict(n=400, seed=5, levels=50, weights="continuous"),
                 id="moderate-continuous-weights"),
    pytest.param(dict(n=400, seed=6, levels=5, weights="with_zeros"), id="zero-weights"),
]


def ref_weighted_quantile(v: np.ndarray, w: np.ndarray, q: float) -> float:
    """Row-level averaged inverted CDF (scikit-learn's ``average=True``), written plainly."""
    keep = w > 0
    v, w = v[keep], w[keep]
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    cdf = np.cumsum(w)
    target = q / 100 * cdf[-1]
    if target == 0:
        target = np.nextafter(0.0, 1.0)
    i = min(int(np.searchsorted(cdf, target)), v.size - 1)
    if np.isclose(cdf[i], target, rtol=1e-13, atol=0):
        return float((v[i] + v[min(i + 1, v.size - 1)]) / 2)
    return float(v[i])


def expected(name: str, v: np.ndarray, w: np.ndarray | None) -> float | None:
    ww = np.ones(v.size) if w is None else w
    if ww.sum() == 0:
        return None
    if name == "error_mean":
        return float(np.average(v, weights=ww))
    if name == "error_max":
        return float(v[ww > 0].max())
    q = Q[name]
    # Unit weights are no weights (docs/metrics.md): NumPy's linear rule. A draw whose
    # weights all came out 1 ([6, −3] with weights [1, 1]: 5.1, not 6) failed here.
    if w is None or bool(np.all(w == 1.0)):
        return float(np.percentile(v, q))
    ours = ref_weighted_quantile(v, w, q)
    sk = float(_weighted_percentile(v, w, q, average=True))
    assert abs(ours - sk) <= TOL  # the plain reference is scikit-learn's definition
    return ours


def check_all(v: np.ndarray, w: np.ndarray | None) -> None:
    stats = error_stats(v, w)
    for name in NAMES:
        spec = get_metric(name)
        value = np.asarray(spec.fn(stats, error="position_cm"))
        why = spec.undefined(stats, error="position_cm")
        assert value.shape == ()
        assert value.dtype == np.float64
        ref = expected(name, v, w)
        if ref is None:
            assert np.isnan(value)
            assert why == "every row has weight 0"
        else:
            assert why is None, name
            assert np.isfinite(value), name
            assert abs(float(value) - ref) <= TOL, (name, float(value), ref)


@given(error_rows())
@SETTINGS
def test_error_metrics_match_references(rows: tuple[np.ndarray, np.ndarray | None]) -> None:
    check_all(*rows)


@pytest.mark.parametrize("case", SCENARIOS)
def test_named_scenarios(case: dict[str, Any]) -> None:
    check_all(*make_rows(**case))


def test_unit_weights_use_the_unweighted_rule() -> None:
    """Hypothesis found it: weights that are all 1 are no weights (NumPy's linear rule)."""
    check_all(np.array([6.0, -3.0]), np.array([1.0, 1.0]))
    v = np.array([6.0, -3.0])
    st = error_stats(v, np.array([1.0, 1.0]))
    value = float(np.asarray(get_metric("error_p90").fn(st, error="position_cm")))
    assert value == pytest.approx(float(np.percentile(v, 90)))  # 5.1


def test_exact_cdf_step_averages_the_neighbours() -> None:
    # Weight 2 + 2 of 8 below 3: the median lands exactly on a step.
    stats = error_stats([1.0, 2.0, 3.0, 5.0], [2.0, 2.0, 1.0, 3.0])
    assert float(quantile(stats, 50)) == 2.5
    assert float(_weighted_percentile(np.array([1.0, 2.0, 3.0, 5.0]),
                                      np.array([2.0, 2.0, 1.0, 3.0]), 50, average=True)) == 2.5
    # The next value with weight is used, skipping zero-weight values.
    stats = error_stats([1.0, 2.0, 3.0, 5.0], [2.0, 2.0, 0.0, 4.0])
    assert float(quantile(stats, 50)) == 3.5


def test_zero_quantile_skips_leading_zero_weights() -> None:
    stats = error_stats([-4.0, 1.0, 2.0], [0.0, 1.0, 2.0])
    assert float(quantile(stats, 0)) == 1.0


def test_unit_weight_quantiles_interpolate_like_numpy() -> None:
    v = np.array([0.0, 1.0, 1.0, 4.0, 10.0])
    stats = error_stats(v)
    assert stats.unit_weights
    for q in (0, 10, 37.5, 50, 90, 95, 100):
        assert float(quantile(stats, q)) == float(np.percentile(v, q))


def test_empty_input_is_undefined() -> None:
    stats = error_stats(np.zeros(0))
    for name in NAMES:
        spec = get_metric(name)
        assert np.isnan(spec.fn(stats))
        assert spec.undefined(stats) == "no rows"


def test_error_metrics_apply_to_every_task() -> None:
    for name in NAMES:
        spec = get_metric(name)
        assert spec.direction == "lower"
        assert spec.tasks == frozenset({"errors", "regression", "binary", "multiclass"})
        assert spec.params["error"].kind == "str"
        assert spec.params["error"].default == ""
        # The charter loader names the task "error"; the registry accepts both spellings.
        assert get_metric(name, task="error") is spec
        assert get_metric(name, task="errors") is spec
    assert {s.name for s in metrics_for_task("errors")} == set(NAMES)
    assert {s.name for s in metrics_for_task("error")} == set(NAMES)


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------


def values(stats: ErrorStats) -> dict[str, np.ndarray]:
    return {name: np.asarray(get_metric(name).fn(stats)) for name in NAMES}


@given(error_rows(), st.integers(0, 2**31 - 1))
@SETTINGS
def test_resample_counts_equal_the_resampled_rows(
    rows: tuple[np.ndarray, np.ndarray | None], seed: int,
) -> None:
    # Integer counts keep NumPy's rule (unit weights) or the weighted one, as the rows do.
    v, w = rows
    idx = np.random.default_rng(seed).integers(0, v.size, v.size)
    counts = np.bincount(idx, minlength=v.size).astype(float)
    if w is None:
        by_counts = ErrorStats(*_hist(v, counts), v.size, unit_weights=True)
        by_rows = error_stats(v[idx])
    else:
        by_counts = ErrorStats(*_hist(v, counts * w), v.size, unit_weights=False)
        by_rows = error_stats(v[idx], w[idx])
    a, b = values(by_counts), values(by_rows)
    for name in NAMES:
        np.testing.assert_allclose(a[name], b[name], rtol=0, atol=1e-11, equal_nan=True,
                                   err_msg=name)


def _hist(v: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    distinct, inv = np.unique(v, return_inverse=True)
    return distinct, np.bincount(inv, weights=w, minlength=distinct.size)


@given(error_rows(), st.integers(0, 2**31 - 1))
@SETTINGS
def test_stacked_replicates_match_each_computed_alone(
    rows: tuple[np.ndarray, np.ndarray | None], seed: int,
) -> None:
    v, w = rows
    rng = np.random.default_rng(seed)
    base = np.ones(v.size) if w is None else w
    reps = rng.multinomial(v.size, np.full(v.size, 1 / v.size), size=4).astype(float)
    unit = w is None
    alone = [ErrorStats(*_hist(v, c * base), v.size, unit) for c in reps]
    stacked = ErrorStats(alone[0].values, np.stack([a.weights for a in alone]), v.size, unit)
    got = values(stacked)
    for r, one in enumerate(alone):
        for name, value in values(one).items():
            assert got[name].shape == (4,)
            np.testing.assert_allclose(got[name][r], value, rtol=1e-13, atol=1e-15,
                                       equal_nan=True, err_msg=name)


@given(error_rows(), st.integers(0, 2**31 - 1))
@SETTINGS
def test_row_order_does_not_matter(rows: tuple[np.ndarray, np.ndarray | None],
                                   seed: int) -> None:
    v, w = rows
    perm = np.random.default_rng(seed).permutation(v.size)
    a = values(error_stats(v[perm], None if w is None else w[perm]))
    b = values(error_stats(v, w))
    for name in NAMES:
        np.testing.assert_allclose(a[name], b[name], rtol=0, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("case", SCENARIOS)
def test_unit_weights_equal_no_weights(case: dict[str, Any]) -> None:
    v, _ = make_rows(**{**case, "weights": "none"})
    ones = error_stats(v, np.ones(v.size))
    assert ones.unit_weights
    a, b = values(ones), values(error_stats(v))
    for name in NAMES:
        np.testing.assert_array_equal(a[name], b[name])
