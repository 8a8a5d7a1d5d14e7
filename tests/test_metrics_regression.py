"""Regression metrics against scikit-learn, on data with tied errors, with and without weights."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from sklearn.utils.stats import _weighted_percentile

from mlscope.metrics.registry import get_metric, metrics_for_task
from mlscope.metrics.stats import ErrorStats, RegressionStats, regression_stats

TOL = 1e-9
SETTINGS = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
NAMES = ("mae", "rmse", "r2", "mape", "median_absolute_error", "p90_absolute_error",
         "p95_absolute_error", "max_absolute_error", "abs_bias")
Rows = tuple[np.ndarray, np.ndarray, np.ndarray | None]


def make_rows(n: int, seed: int, levels: int, weights: str, offset: float = 0.0) -> Rows:
    """Labels and predictions on a grid (tied absolute errors), and weights."""
    rng = np.random.default_rng(seed)
    y = np.round(rng.normal(size=n) * levels) / levels * 10 + offset
    pred = y + np.round(rng.normal(size=n) * levels) / levels
    w: np.ndarray | None
    if weights == "none":
        w = None
    elif weights == "grid":
        w = rng.choice([0.5, 1.0, 1.5, 2.0, 4.0], size=n)
    elif weights == "continuous":
        w = rng.uniform(0.05, 5.0, size=n)
    else:
        w = rng.choice([0.0, 0.5, 1.0, 3.0], size=n)
    return y, pred, w


@st.composite
def reg_rows(draw: st.DrawFn) -> Rows:
    return make_rows(
        n=draw(st.one_of(st.integers(1, 25), st.integers(150, 500))),
        seed=draw(st.integers(0, 2**31 - 1)),
        levels=draw(st.sampled_from([1, 2, 4, 100])),
        weights=draw(st.sampled_from(["none", "grid", "continuous", "with_zeros"])),
        offset=draw(st.sampled_from([0.0, 1000.0])),
    )


SCENARIOS = [
    pytest.param(dict(n=2, seed=1, levels=1, weights="none"), id="two-rows"),
    pytest.param(dict(n=12, seed=2, levels=1, weights="grid"), id="small-ties-grid-weights"),
    pytest.param(dict(n=400, seed=3, levels=4, weights="none"), id="moderate"),
    pytest.param(dict(n=400, seed=4, levels=100, weights="continuous", offset=1000.0),
                 id="moderate-offset-continuous-weights"),
    pytest.param(dict(n=300, seed=5, levels=2, weights="with_zeros"), id="zero-weights"),
]


def expected(name: str, y: np.ndarray, p: np.ndarray, w: np.ndarray | None) -> float | None:
    ww = np.ones(y.size) if w is None else w
    if ww.sum() == 0:
        return None
    ae = np.abs(p - y)
    if name == "mae":
        return skm.mean_absolute_error(y, p, sample_weight=w)
    if name == "rmse":
        return skm.root_mean_squared_error(y, p, sample_weight=w)
    if name == "r2":
        keep = ww > 0
        if np.all(y[keep] == y[keep][0]):
            return None
        return skm.r2_score(y, p, sample_weight=w)
    if name == "mape":
        return skm.mean_absolute_percentage_error(y, p, sample_weight=w)
    if name == "median_absolute_error":
        return skm.median_absolute_error(y, p, sample_weight=w)
    if name in ("p90_absolute_error", "p95_absolute_error"):
        q = 90.0 if name.startswith("p90") else 95.0
        # Unit weights are no weights (docs/metrics.md): NumPy's linear rule. A draw whose
        # weights all came out 1 ([6, −3] with weights [1, 1]: 5.1, not 6) failed here.
        if w is None or bool(np.all(w == 1.0)):
            return float(np.percentile(ae, q))
        return float(_weighted_percentile(ae, w, q, average=True))
    if name == "max_absolute_error":
        return skm.max_error(y[ww > 0], p[ww > 0])
    if name == "abs_bias":
        return abs(float(np.average(p - y, weights=ww)))
    raise AssertionError(name)


def check_all(y: np.ndarray, p: np.ndarray, w: np.ndarray | None,
              y_shift: float | None = None) -> None:
    stats = regression_stats(y, p, w, y_shift=y_shift)
    for name in NAMES:
        spec = get_metric(name, task="regression")
        value = np.asarray(spec.fn(stats))
        why = spec.undefined(stats)
        assert value.shape == ()
        assert value.dtype == np.float64
        ref = expected(name, y, p, w)
        if ref is None:
            assert np.isnan(value), name
            assert isinstance(why, str), name
            assert why, name
        else:
            assert why is None, (name, why)
            assert np.isfinite(value), name
            assert abs(float(value) - float(ref)) <= TOL * max(1.0, abs(float(ref))), (
                name, float(value), ref)


@given(reg_rows())
@SETTINGS
def test_regression_metrics_match_sklearn(rows: Rows) -> None:
    check_all(*rows)


@given(reg_rows(), st.sampled_from([0.0, -3.0, 1000.0]))
@SETTINGS
def test_the_reference_point_of_the_sums_does_not_matter(rows: Rows, shift: float) -> None:
    check_all(*rows, y_shift=shift)


@pytest.mark.parametrize("case", SCENARIOS)
def test_named_scenarios_match_sklearn(case: dict[str, Any]) -> None:
    check_all(*make_rows(**case))


def test_every_regression_metric_is_covered() -> None:
    names = {s.name for s in metrics_for_task("regression") if not s.name.startswith("error_")}
    # expected_cost reads the charter's costs: its oracle (scikit-learn) is in
    # tests/test_costs_tasks.py.
    assert names - {"expected_cost"} == set(NAMES)


# --------------------------------------------------------------------------------------
# Edge cases
# --------------------------------------------------------------------------------------


def test_empty_input_is_undefined() -> None:
    stats = regression_stats(np.zeros(0), np.zeros(0))
    for name in NAMES:
        spec = get_metric(name)
        assert np.isnan(spec.fn(stats)), name
        assert spec.undefined(stats) == "no rows", name


def test_all_weights_zero_is_undefined() -> None:
    stats = regression_stats([1.0, 2.0], [1.5, 2.0], [0.0, 0.0])
    for name in NAMES:
        assert np.isnan(get_metric(name).fn(stats)), name
        assert get_metric(name).undefined(stats) == "every row has weight 0", name


@pytest.mark.parametrize(
    ("labels", "shift"),
    [
        pytest.param([3.0] * 4, None, id="exact"),
        pytest.param([0.1] * 7, None, id="inexact-mean"),
        pytest.param([0.1] * 7, 0.0, id="far-reference-point"),
        pytest.param([1e6 + 0.3] * 5, -2.0, id="large-offset"),
    ],
)
def test_r2_with_constant_labels_is_undefined(labels: list[float], shift: float | None) -> None:
    y = np.array(labels)
    stats = regression_stats(y, y + np.linspace(-1, 1, y.size), y_shift=shift)
    spec = get_metric("r2")
    assert np.isnan(spec.fn(stats))
    why = spec.undefined(stats)
    assert why is not None
    assert why.startswith("the labels are constant (all ")
    assert f"{labels[0]:.6g}" in why
    # The other metrics are defined.
    assert get_metric("mae").undefined(stats) is None


def test_mape_with_zero_labels_follows_sklearn() -> None:
    y, p = np.array([0.0, 1.0, -2.0]), np.array([0.5, 1.5, -2.0])
    stats = regression_stats(y, p)
    ref = skm.mean_absolute_percentage_error(y, p)
    assert float(get_metric("mape").fn(stats)) == pytest.approx(ref, rel=1e-12)


def test_abs_bias_is_the_absolute_mean_error() -> None:
    stats = regression_stats([1.0, 2.0, 3.0], [0.0, 1.0, 3.5])
    assert float(get_metric("abs_bias").fn(stats)) == pytest.approx(0.5)
    assert get_metric("abs_bias").direction == "lower"


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------


def values(stats: RegressionStats) -> dict[str, np.ndarray]:
    return {name: np.asarray(get_metric(name).fn(stats)) for name in NAMES}


def stack(parts: list[RegressionStats]) -> RegressionStats:
    first = parts[0]
    errs = ErrorStats(first.abs_errors.values, np.stack([p.abs_errors.weights for p in parts]),
                      first.n_rows, first.abs_errors.unit_weights)

    def cat(field: str) -> np.ndarray:
        return np.stack([getattr(p, field) for p in parts])

    return RegressionStats(
        total=cat("total"), sum_err=cat("sum_err"), sum_abs=cat("sum_abs"),
        sum_sq=cat("sum_sq"), sum_ape=cat("sum_ape"), sum_y=cat("sum_y"),
        sum_y2=cat("sum_y2"), y_shift=first.y_shift, abs_errors=errs, n_rows=first.n_rows,
    )


@given(reg_rows(), st.integers(0, 2**31 - 1))
@SETTINGS
def test_stacked_replicates_match_each_computed_alone(rows: Rows, seed: int) -> None:
    y, p, w = rows
    rng = np.random.default_rng(seed)
    base = np.ones(y.size) if w is None else w
    reps = rng.multinomial(y.size, np.full(y.size, 1 / y.size), size=4).astype(float)
    shift = float(np.mean(y))
    alone = []
    for c in reps:
        one = regression_stats(y, p, c * base, y_shift=shift)
        # Resample counts of unit-weight rows keep NumPy's quantile rule.
        alone.append(RegressionStats(**{
            **one.__dict__,
            "abs_errors": ErrorStats(one.abs_errors.values, one.abs_errors.weights,
                                     one.n_rows, unit_weights=w is None),
        }))
    got = values(stack(alone))
    for r, one in enumerate(alone):
        for name, value in values(one).items():
            assert got[name].shape == (4,)
            np.testing.assert_allclose(got[name][r], value, rtol=1e-13, atol=1e-15,
                                       equal_nan=True, err_msg=name)


@given(reg_rows(), st.integers(0, 2**31 - 1))
@SETTINGS
def test_row_order_does_not_matter(rows: Rows, seed: int) -> None:
    y, p, w = rows
    perm = np.random.default_rng(seed).permutation(y.size)
    a = values(regression_stats(y[perm], p[perm], None if w is None else w[perm]))
    b = values(regression_stats(y, p, w))
    for name in NAMES:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-10, atol=1e-12, equal_nan=True,
                                   err_msg=name)


@pytest.mark.parametrize("case", SCENARIOS)
def test_unit_weights_equal_no_weights(case: dict[str, Any]) -> None:
    y, p, _ = make_rows(**{**case, "weights": "none"})
    a = values(regression_stats(y, p, np.ones(y.size)))
    b = values(regression_stats(y, p))
    for name in NAMES:
        np.testing.assert_array_equal(a[name], b[name])


def test_specs_carry_metadata() -> None:
    for name in NAMES:
        spec = get_metric(name, task="regression")
        assert spec.label
        assert spec.description.endswith(".")
        assert spec.direction == ("higher" if name == "r2" else "lower")
    assert get_metric("r2").bounds == (None, 1.0)
