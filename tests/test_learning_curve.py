"""Learning curves: recovery of known power laws, data needed, nines, refits, input, SVG.

Every noisy curve here is generated from a known law with seeded multiplicative noise
(``exp(N(0, σ))``), so the truth the fit should find is known exactly.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import pytest

from mlscope.diagnose.learning_curve import (
    LearningCurve,
    data_needed,
    fit_learning_curve,
    nines,
    refit_curve,
)
from mlscope.errors import InputError
from mlscope.report.diagnosis_charts import learning_curve_svg

SIZES = np.geomspace(100, 100_000, 10)


def noisy(law: np.ndarray, *, sigma: float = 0.03, seed: int = 0) -> np.ndarray:
    """The law times seeded log-normal noise (3% by default)."""
    return law * np.exp(np.random.default_rng(seed).normal(0.0, sigma, law.size))


def floor_law(n: np.ndarray) -> np.ndarray:
    return 2.0 * n**-0.5 + 0.02


def pure_law(n: np.ndarray) -> np.ndarray:
    return 3.0 * n**-0.4


# -- fit ------------------------------------------------------------------------------


def test_recovers_a_power_law_with_a_floor() -> None:
    curve = fit_learning_curve(SIZES, noisy(floor_law(SIZES), seed=3), direction="lower")
    assert curve.form == "power+floor"
    assert abs(curve.b - 0.5) < 0.1
    assert abs(curve.c - 0.02) < 0.01
    for name, truth in (("a", 2.0), ("b", 0.5), ("c", 0.02)):
        lo, hi = curve.intervals[name]
        assert lo <= truth <= hi, (name, lo, hi)
    assert curve.bootstrap == "residuals"
    assert curve.resamples == 1000
    assert curve.seed == 0
    assert len(curve.replicates) == 1000
    assert curve.r2_log > 0.99
    assert "AICc" in curve.note


def test_pure_power_law_is_kept_without_a_floor() -> None:
    curve = fit_learning_curve(SIZES, noisy(pure_law(SIZES), seed=1), direction="lower",
                               resamples=300)
    assert curve.form == "power"
    assert curve.c == 0.0
    assert abs(curve.b - 0.4) < 0.03
    lo, hi = curve.intervals["b"]
    assert lo <= 0.4 <= hi
    # The floor was fitted too and reported, but did not earn its parameter.
    assert curve.alternatives["power+floor"]["aicc"] is not None
    assert "Pure power law" in curve.note


def test_higher_is_better_metric_is_fitted_as_distance_from_its_bound() -> None:
    accuracy = 1.0 - noisy(floor_law(SIZES), seed=3)
    curve = fit_learning_curve(SIZES, accuracy, direction="higher", bounds=(0.0, 1.0),
                               resamples=300)
    assert curve.reference == 1.0
    assert curve.reference_source == "metric bound"
    assert curve.form == "power+floor"
    assert curve.asymptote == pytest.approx(1.0 - curve.c)
    assert curve.asymptote == pytest.approx(0.98, abs=0.01)
    lo, hi = curve.intervals["asymptote"]
    assert lo <= curve.asymptote <= hi <= 1.0
    # The fitted value tracks the data, and its interval holds it.
    n = float(SIZES[4])
    assert curve.value_at(n) == pytest.approx(1.0 - floor_law(np.array([n]))[0], abs=0.005)
    band = curve.interval_at(n)
    assert band is not None
    assert band[0] <= curve.value_at(n) <= band[1]


def test_repeats_per_size_are_resampled_within_their_size() -> None:
    sizes = SIZES[::2]
    values = [list(noisy(pure_law(np.full(3, s)), seed=i)) for i, s in enumerate(sizes)]
    curve = fit_learning_curve(sizes, values, direction="lower", resamples=200, seed=5)
    assert curve.bootstrap == "repeats"
    assert len(curve.sizes) == 15
    assert curve.sizes[:3] == [100, 100, 100]
    assert abs(curve.b - 0.4) < 0.05


@pytest.mark.parametrize(
    ("law", "form"),
    [
        pytest.param(pure_law, "power", id="straight-in-log-log"),
        pytest.param(lambda n: 2.0 * n**-0.7 + 0.05, "power+floor", id="clearly-flattens"),
    ],
)
def test_few_sizes_keep_the_pure_law_unless_the_data_flatten(law: Any, form: str) -> None:
    sizes = np.array([100.0, 1000.0, 10_000.0, 100_000.0])
    curve = fit_learning_curve(sizes, noisy(law(sizes), sigma=0.02, seed=2),
                               direction="lower", resamples=100)
    assert curve.form == form
    assert "4 distinct sizes" in curve.note


def test_unbounded_higher_metric_is_shifted_and_says_so() -> None:
    gain = 10.0 - 30.0 * SIZES**-0.3  # e.g. a net benefit with no known ceiling
    curve = fit_learning_curve(SIZES, gain, direction="higher", resamples=50)
    assert curve.reference_source == "shifted"
    assert curve.reference == pytest.approx(gain.max() + (gain.max() - gain.min()))
    assert gain.max() <= curve.asymptote <= curve.reference
    assert "No bound given" in curve.note
    with pytest.raises(InputError, match="known best value"):
        nines(curve, direction="higher")


def test_result_is_plain_data() -> None:
    curve = fit_learning_curve(SIZES, noisy(pure_law(SIZES)), direction="lower", resamples=20)
    out = json.loads(json.dumps(curve.to_dict()))
    assert out["form"] == "power"
    assert "replicates" not in out
    need = data_needed(curve, 0.01, direction="lower")
    assert json.loads(json.dumps(need.to_dict()))["reachable"] is True


# -- data needed and nines -----------------------------------------------------------------


def exact(law: Any, *, direction: str = "lower") -> LearningCurve:
    errors = law(SIZES)
    values = errors if direction == "lower" else 1.0 - errors
    return fit_learning_curve(SIZES, values, direction=direction, bounds=(0.0, 1.0),
                              resamples=100)


@pytest.mark.parametrize("direction", ["lower", "higher"])
def test_data_needed_matches_the_analytic_inverse(direction: str) -> None:
    curve = exact(floor_law, direction=direction)
    error = 0.025
    target = error if direction == "lower" else 1.0 - error
    need = data_needed(curve, target, direction=direction)
    truth = (2.0 / (error - 0.02)) ** (1 / 0.5)  # 160 000
    assert need.reachable
    assert need.n == pytest.approx(truth, rel=0.01)
    assert need.multiple_of_current == pytest.approx(truth / 100_000, rel=0.01)
    assert need.interval is not None
    assert need.interval[0] is not None
    assert need.interval[1] is not None
    assert need.interval[0] <= need.n <= need.interval[1]
    assert "About 1" in need.note


def test_a_target_below_the_floor_is_out_of_reach() -> None:
    curve = exact(floor_law)
    need = data_needed(curve, 0.01, direction="lower")
    assert not need.reachable
    assert need.n is None
    assert need.multiple_of_current is None
    assert "out of reach of this model family" in need.note.lower()
    assert "levels off at c = 0.02" in need.note


def test_a_target_beyond_a_trillion_examples_is_out_of_reach_in_practice() -> None:
    curve = exact(pure_law)
    need = data_needed(curve, 1e-6, direction="lower")  # (3 / 1e-6)^(1/0.4) ≈ 1.6e16
    assert not need.reachable
    assert need.n == pytest.approx((3.0 / 1e-6) ** 2.5, rel=0.01)
    assert "beyond 1e+12" in need.note


def test_the_best_possible_value_is_out_of_reach_and_beyond_it_is_an_error() -> None:
    curve = exact(pure_law, direction="higher")
    assert not data_needed(curve, 1.0, direction="higher").reachable
    with pytest.raises(InputError, match="beyond the metric's best possible value"):
        data_needed(curve, 1.2, direction="higher")
    with pytest.raises(InputError, match="does not match"):
        data_needed(curve, 0.99, direction="lower")


def test_each_nine_costs_the_same_multiple_on_a_pure_power_law() -> None:
    curve = exact(pure_law, direction="higher")
    rows = nines(curve, direction="higher", start=0.9)
    assert [r["target"] for r in rows] == [0.9, 0.99, 0.999]
    assert rows[0]["multiple_of_previous"] is None
    for r in rows[1:]:
        assert r["multiple_of_previous"] == pytest.approx(10 ** (1 / 0.4), rel=0.01)
    # By default the nines start at the first one the data have not reached yet.
    default = nines(curve, direction="higher", count=2)
    now = curve.value_at(100_000)
    assert default[0]["target"] > now
    assert default[0]["target"] in (0.9, 0.99, 0.999)


def test_nines_on_a_floored_curve_run_out() -> None:
    rows = nines(exact(floor_law), direction="lower", start=0.1)
    assert [r["reachable"] for r in rows] == [True, False, False]
    assert rows[1]["multiple_of_previous"] is None


# -- refit_curve ------------------------------------------------------------------------------


def test_refit_curve_measures_improvement_with_data() -> None:
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score

    X, y = make_classification(n_samples=1400, n_features=20, n_informative=8,
                               weights=[0.8, 0.2], random_state=0)
    seen: list[set[int]] = []

    def fit_predict(X_sub: np.ndarray, y_sub: np.ndarray, X_ev: np.ndarray) -> np.ndarray:
        seen.append(set(y_sub.tolist()))
        model = LogisticRegression(max_iter=200).fit(X_sub, y_sub)
        pred: np.ndarray = model.predict(X_ev)
        return pred

    sizes, values = refit_curve(fit_predict, X[:1000], y[:1000], X[1000:], y[1000:],
                                accuracy_score, fractions=(0.03, 0.1, 0.3, 1.0), seed=1)
    assert sizes == [30, 100, 300, 1000]
    assert len(seen) == 8  # 4 sizes × 2 repeats
    assert all(s == {0, 1} for s in seen)  # stratified: both classes in every subset
    assert values[-1] > values[0]
    assert np.mean(values[2:]) > np.mean(values[:2])
    # The same seed gives the same curve.
    again = refit_curve(fit_predict, X[:1000], y[:1000], X[1000:], y[1000:], accuracy_score,
                        fractions=(0.03, 0.1, 0.3, 1.0), seed=1)
    assert again == (sizes, values)


def test_refit_curve_rejects_bad_options() -> None:
    X, y = np.zeros((10, 2)), np.zeros(10)
    with pytest.raises(InputError, match="fractions"):
        refit_curve(lambda *a: a[2], X, y, X, y, lambda t, p: 0.0, fractions=(0.0, 1.0))
    with pytest.raises(InputError, match="same rows"):
        refit_curve(lambda *a: a[2], X[:5], y, X, y, lambda t, p: 0.0)


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sizes", "values", "message"),
    [
        pytest.param([100, 200], [0.3, 0.2], "at least 3 distinct", id="two-sizes"),
        pytest.param([100, 100, 100, 200], [0.3] * 4, "at least 3 distinct", id="repeats"),
        pytest.param([0, 100, 1000], [0.5, 0.3, 0.2], "positive", id="zero-size"),
        pytest.param([-5, 100, 1000], [0.5, 0.3, 0.2], "positive", id="negative-size"),
        pytest.param([10, 100, 1000], [0.5, math.nan, 0.2], "finite", id="nan-value"),
        pytest.param([10, 100, 1000], [0.5, 0.3], "same length", id="mismatched"),
        pytest.param([10, 100, 1000], [0.5, [], 0.2], "non-empty", id="empty-repeats"),
    ],
)
def test_bad_input_is_an_input_error(sizes: Any, values: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        fit_learning_curve(sizes, values, direction="lower")


def test_bad_direction_and_values_beyond_the_bound() -> None:
    with pytest.raises(InputError, match="did you mean `higher`"):
        fit_learning_curve([10, 100, 1000], [0.5, 0.6, 0.7], direction="highr")
    with pytest.raises(InputError, match="beyond the metric's bound"):
        fit_learning_curve([10, 100, 1000], [0.5, 0.6, 1.1], direction="higher",
                           bounds=(0, 1))
    with pytest.raises(InputError, match="error of 0"):
        fit_learning_curve([10, 100, 1000], [0.5, 0.6, 1.0], direction="higher",
                           bounds=(0, 1))


# -- chart ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("direction", "target", "baseline"),
    [
        pytest.param("higher", 0.99, 0.8, id="accuracy"),
        pytest.param("lower", 0.025, 0.3, id="error"),
    ],
)
def test_svg_renders_points_fit_target_and_baseline(direction: str, target: float,
                                                    baseline: float) -> None:
    curve = exact(floor_law, direction=direction)
    svg = learning_curve_svg(curve, target=target, baseline=baseline, label="accuracy")
    root = ET.fromstring(svg)  # well-formed XML
    assert svg.startswith("<svg")
    assert f"target {target:g}" in svg
    assert f"baseline {baseline:g}" in svg
    assert len(root.findall("{http://www.w3.org/2000/svg}circle")) >= len(SIZES)
    assert "Learning curve — accuracy" in svg


def test_svg_says_when_the_target_is_out_of_reach() -> None:
    svg = learning_curve_svg(exact(floor_law), target=0.01)
    ET.fromstring(svg)
    assert "target 0.01" in svg
    assert "out of reach" in svg
