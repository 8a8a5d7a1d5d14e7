"""Binary metrics against scikit-learn, on data with ties, with and without weights."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from mlscope.errors import InputError
from mlscope.metrics.binary import THRESHOLD_METRICS, best_threshold, confusion_at
from mlscope.metrics.registry import get_metric, metrics_for_task
from mlscope.metrics.stats import BinaryStats, binary_stats

TOL = 1e-9
WEIGHT_MODES = ("none", "grid", "continuous", "with_zeros")
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


def make_rows(n: int, seed: int, levels: int, weights: str, prevalence: float = 0.4
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Labels, scores on a grid of ``levels`` values (ties), and weights."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < prevalence
    if levels == 1:
        s = np.full(n, 0.5)
    else:
        raw = np.clip(rng.random(n) * 0.7 + 0.3 * y, 0, 1)
        s = np.round(raw * (levels - 1)) / (levels - 1)
    w: np.ndarray | None
    if weights == "none":
        w = None
    elif weights == "grid":
        w = rng.choice([0.5, 1.0, 1.5, 2.0, 3.0], size=n)
    elif weights == "continuous":
        w = rng.uniform(0.05, 5.0, size=n)
    else:
        w = rng.choice([0.0, 0.5, 1.0, 2.0], size=n)
    return y, s, w


@st.composite
def binary_rows(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    n = draw(st.one_of(st.integers(1, 25), st.integers(150, 400)))
    seed = draw(st.integers(0, 2**31 - 1))
    levels = draw(st.sampled_from([1, 2, 3, 5, 11, 101]))
    weights = draw(st.sampled_from(WEIGHT_MODES))
    prevalence = draw(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]))
    return make_rows(n, seed, levels, weights, prevalence)


SCENARIOS = [
    pytest.param(dict(n=12, seed=1, levels=3, weights="none"), id="small-ties-unweighted"),
    pytest.param(dict(n=12, seed=2, levels=3, weights="grid"), id="small-ties-grid-weights"),
    pytest.param(dict(n=300, seed=3, levels=11, weights="none"), id="moderate-unweighted"),
    pytest.param(dict(n=300, seed=4, levels=11, weights="continuous"),
                 id="moderate-continuous-weights"),
    pytest.param(dict(n=300, seed=5, levels=101, weights="with_zeros"),
                 id="moderate-zero-weights"),
    pytest.param(dict(n=50, seed=6, levels=1, weights="grid"), id="all-scores-equal"),
    pytest.param(dict(n=40, seed=7, levels=5, weights="none", prevalence=0.05),
                 id="rare-positives"),
]


def wsum(mask: np.ndarray, w: np.ndarray | None) -> float:
    return float(mask.sum() if w is None else (w * mask).sum())


# --------------------------------------------------------------------------------------
# Oracles: (expected undefined?, scikit-learn value)
# --------------------------------------------------------------------------------------


def sk_threshold(name: str, y: np.ndarray, s: np.ndarray, w: np.ndarray | None,
                 t: float, beta: float = 1.0) -> tuple[bool, float | None]:
    pred = s >= t
    pos, neg = wsum(y, w), wsum(~y, w)
    pp, pn = wsum(pred, w), wsum(~pred, w)
    yi, pi = y.astype(int), pred.astype(int)
    undefined = {
        "accuracy": False,
        "balanced_accuracy": pos == 0 or neg == 0,
        "precision": pp == 0,
        "recall": pos == 0,
        "specificity": neg == 0,
        "f1": pos == 0 and pp == 0,
        "fbeta": pos == 0 and pp == 0,
        "mcc": pos == 0 or neg == 0 or pp == 0 or pn == 0,
        # No chance disagreement: label and prediction the same constant.
        "cohen_kappa": pp * neg + pos * pn == 0,
        "positive_rate": False,
    }[name]
    if undefined:
        return True, None
    fns: dict[str, Callable[[], float]] = {
        "accuracy": lambda: skm.accuracy_score(yi, pi, sample_weight=w),
        "balanced_accuracy": lambda: skm.balanced_accuracy_score(yi, pi, sample_weight=w),
        "precision": lambda: skm.precision_score(yi, pi, sample_weight=w),
        "recall": lambda: skm.recall_score(yi, pi, sample_weight=w),
        "specificity": lambda: skm.recall_score(yi, pi, pos_label=0, sample_weight=w),
        "f1": lambda: skm.f1_score(yi, pi, sample_weight=w),
        "fbeta": lambda: skm.fbeta_score(yi, pi, beta=beta, sample_weight=w),
        "mcc": lambda: skm.matthews_corrcoef(yi, pi, sample_weight=w),
        "cohen_kappa": lambda: skm.cohen_kappa_score(yi, pi, sample_weight=w),
        "positive_rate": lambda: float(np.average(pred, weights=w)),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a defined case must not be one sklearn warns about
        return False, float(fns[name]())


def sk_ranking(name: str, y: np.ndarray, s: np.ndarray,
               w: np.ndarray | None) -> tuple[bool, float | None]:
    pos, neg = wsum(y, w), wsum(~y, w)
    yi = y.astype(int)
    if name == "roc_auc":
        if pos == 0 or neg == 0:
            return True, None
        return False, float(skm.roc_auc_score(yi, s, sample_weight=w))
    if name == "average_precision":
        if pos == 0:
            return True, None
        return False, float(skm.average_precision_score(yi, s, sample_weight=w))
    if name == "log_loss":
        return False, float(skm.log_loss(yi, s, labels=[0, 1], sample_weight=w))
    if name == "brier":
        return False, float(skm.brier_score_loss(yi, s, labels=[0, 1], sample_weight=w))
    raise AssertionError(name)


def pr_points(y: np.ndarray, s: np.ndarray, w: np.ndarray | None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's precision-recall points without the final (1, 0) sentinel."""
    p, r, t = skm.precision_recall_curve(y.astype(int), s, sample_weight=w)
    return p[:-1], r[:-1], t


def check(name: str, stats: BinaryStats, params: dict[str, Any],
          expected: tuple[bool, float | None]) -> None:
    """The metric is undefined (NaN + reason) exactly when expected, else equals the oracle."""
    spec = get_metric(name)
    value = np.asarray(spec.fn(stats, **params))
    why = spec.undefined(stats, **params)
    assert value.shape == ()
    assert value.dtype == np.float64
    undefined, ref = expected
    if undefined:
        assert np.isnan(value), (name, params, value)
        assert isinstance(why, str), (name, params)
        assert why, (name, params)
    else:
        assert why is None, (name, params, why)
        assert np.isfinite(value), (name, params)
        assert ref is not None
        assert abs(float(value) - ref) <= TOL, (name, params, float(value), ref)


def total_weight(y: np.ndarray, w: np.ndarray | None) -> float:
    return float(y.size if w is None else w.sum())


# --------------------------------------------------------------------------------------
# Agreement with scikit-learn
# --------------------------------------------------------------------------------------


def _ranking_agrees(y: np.ndarray, s: np.ndarray, w: np.ndarray | None) -> None:
    stats = binary_stats(y, s, w)
    for name in ("roc_auc", "average_precision", "log_loss", "brier"):
        if total_weight(y, w) == 0:
            check(name, stats, {}, (True, None))
        else:
            check(name, stats, {}, sk_ranking(name, y, s, w))


def _thresholds(s: np.ndarray) -> list[float]:
    distinct = np.unique(s)
    picks = [0.0, 0.5, 1.0, float(distinct[len(distinct) // 2]), float(distinct[-1]) + 1e-9]
    return sorted(set(picks))


def _threshold_agrees(y: np.ndarray, s: np.ndarray, w: np.ndarray | None) -> None:
    stats = binary_stats(y, s, w)
    for t in _thresholds(s):
        for name in THRESHOLD_METRICS:
            params: dict[str, Any] = {"threshold": t}
            betas = [0.5, 2.0] if name == "fbeta" else [1.0]
            for beta in betas:
                if name == "fbeta":
                    params["beta"] = beta
                if total_weight(y, w) == 0:
                    check(name, stats, params, (True, None))
                else:
                    check(name, stats, params, sk_threshold(name, y, s, w, t, beta))


@given(binary_rows())
@SETTINGS
def test_ranking_and_probability_metrics_match_sklearn(
    rows: tuple[np.ndarray, np.ndarray, np.ndarray | None],
) -> None:
    _ranking_agrees(*rows)


@given(binary_rows())
@SETTINGS
def test_threshold_metrics_match_sklearn(
    rows: tuple[np.ndarray, np.ndarray, np.ndarray | None],
) -> None:
    _threshold_agrees(*rows)


@pytest.mark.parametrize("case", SCENARIOS)
def test_named_scenarios_match_sklearn(case: dict[str, Any]) -> None:
    y, s, w = make_rows(**case)
    _ranking_agrees(y, s, w)
    _threshold_agrees(y, s, w)


@pytest.mark.parametrize("case", SCENARIOS)
def test_accuracy_is_registered_once_for_both_tasks(case: dict[str, Any]) -> None:
    spec = get_metric("accuracy", task="binary")
    assert spec is get_metric("accuracy", task="multiclass")
    y, s, w = make_rows(**case)
    check("accuracy", binary_stats(y, s, w), {"threshold": 0.5},
          sk_threshold("accuracy", y, s, w, 0.5))


# --------------------------------------------------------------------------------------
# Threshold optimisation and operating points
# --------------------------------------------------------------------------------------


def _candidates(s: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    keep = np.ones(s.size, bool) if w is None else w > 0
    return np.unique(s[keep])[::-1]


def _brute_force_best(name: str, y: np.ndarray, s: np.ndarray, w: np.ndarray | None,
                      beta: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    cands = _candidates(s, w)
    values = np.array([
        np.nan if (r := sk_threshold(name, y, s, w, float(t), beta))[0] else r[1]
        for t in cands
    ], dtype=float)
    return cands, values


@given(binary_rows(), st.sampled_from(sorted(THRESHOLD_METRICS)))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_best_threshold_is_the_highest_optimal_distinct_score(
    rows: tuple[np.ndarray, np.ndarray, np.ndarray | None], name: str,
) -> None:
    y, s, w = rows
    stats = binary_stats(y, s, w)
    spec = get_metric(name)
    params: dict[str, Any] = {"threshold": "optimize"}
    if name == "fbeta":
        params["beta"] = 2.0
    chosen = best_threshold(name, stats, **params)
    if total_weight(y, w) == 0:
        assert np.isnan(chosen)
        assert spec.undefined(stats, **params) == "every row has weight 0"
        return
    cands, values = _brute_force_best(name, y, s, w, params.get("beta", 1.0))
    if np.all(np.isnan(values)):
        assert np.isnan(chosen)
        assert np.isnan(spec.fn(stats, **params))
        assert spec.undefined(stats, **params)
        return
    sign = 1.0 if spec.direction == "higher" else -1.0
    best = np.nanmax(sign * values)
    assert chosen in cands
    at = values[cands == chosen][0]
    assert abs(sign * at - best) <= TOL
    # Ties go to the highest threshold: nothing above the choice is as good.
    higher = cands > chosen
    assert np.all(~(sign * values[higher] >= best - 1e-10))
    # fn with "optimize" gives the best value, the same as at the chosen threshold.
    assert abs(float(spec.fn(stats, **params)) - sign * best) <= TOL
    fixed = {**params, "threshold": chosen}
    assert abs(float(spec.fn(stats, **fixed)) - at) <= TOL
    assert spec.undefined(stats, **params) is None


@given(binary_rows(), st.sampled_from([0.0, 0.3, 0.5, 0.8, 0.95, 1.0]))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_precision_at_recall_matches_sklearn_curve(
    rows: tuple[np.ndarray, np.ndarray, np.ndarray | None], r: float,
) -> None:
    y, s, w = rows
    stats = binary_stats(y, s, w)
    spec = get_metric("precision_at_recall")
    assert spec.chooser is not None
    params = spec.resolve_params({"recall": r})
    assert params == {"recall": r, "threshold": "optimize"}
    chosen = spec.chooser(stats, **params)
    value = float(spec.fn(stats, **params))
    if wsum(y, w) == 0:
        assert np.isnan(chosen)
        assert np.isnan(value)
        assert spec.undefined(stats, **params)
        return
    p, rec, t = pr_points(y, s, w)
    ok = rec >= r
    assert ok.any()  # the lowest threshold has recall 1
    oracle = float(p[ok].max())
    assert spec.undefined(stats, **params) is None
    assert abs(value - oracle) <= TOL
    at = {**params, "threshold": chosen}
    assert abs(float(spec.fn(stats, **at)) - oracle) <= TOL
    assert spec.undefined(stats, **at) is None
    # The chosen threshold is a curve point reaching the recall, the lowest among equals.
    i = np.flatnonzero(t == chosen)
    assert i.size == 1
    assert rec[i[0]] >= r
    assert not np.any((t < chosen) & ok & (p >= oracle - 1e-12))
    assert best_threshold("precision_at_recall", stats, **params) == chosen


@given(binary_rows(), st.sampled_from([0.0, 0.2, 0.5, 0.7, 0.9, 1.0]))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_recall_at_precision_matches_sklearn_curve(
    rows: tuple[np.ndarray, np.ndarray, np.ndarray | None], p_min: float,
) -> None:
    y, s, w = rows
    stats = binary_stats(y, s, w)
    spec = get_metric("recall_at_precision")
    assert spec.chooser is not None
    params = spec.resolve_params({"precision": p_min})
    chosen = spec.chooser(stats, **params)
    value = float(spec.fn(stats, **params))
    why = spec.undefined(stats, **params)
    if wsum(y, w) == 0:
        assert np.isnan(chosen)
        assert np.isnan(value)
        assert why
        return
    p, rec, t = pr_points(y, s, w)
    ok = p >= p_min
    if not ok.any():
        # The (precision=1, recall=0) sentinel is no threshold: undefined, not 0.
        assert np.isnan(chosen)
        assert np.isnan(value)
        assert why is not None
        assert why.startswith(f"no threshold reaches precision ≥ {p_min:g}")
        return
    oracle = float(rec[ok].max())
    assert why is None
    assert abs(value - oracle) <= TOL
    at = {**params, "threshold": chosen}
    assert abs(float(spec.fn(stats, **at)) - oracle) <= TOL
    i = np.flatnonzero(t == chosen)
    assert i.size == 1
    assert p[i[0]] >= p_min
    # Among equal recall, the highest threshold (fewest false positives).
    assert not np.any((t > chosen) & ok & (rec >= oracle - 1e-12))


def test_operating_point_at_a_carried_threshold() -> None:
    y, s, w = make_rows(200, 11, 11, "grid")
    stats = binary_stats(y, s, w)
    spec = get_metric("precision_at_recall")
    # A threshold carried from another split is evaluated as is.
    value = float(spec.fn(stats, recall=0.8, threshold=0.3))
    assert abs(value - skm.precision_score(y, s >= 0.3, sample_weight=w)) <= TOL
    high = {"recall": 0.8, "threshold": 1.0 + 1e-9}
    assert np.isnan(spec.fn(stats, **high))
    assert spec.undefined(stats, **high) == "no predicted positives at threshold 1"
    rap = get_metric("recall_at_precision")
    value = float(rap.fn(stats, precision=0.8, threshold=0.3))
    assert abs(value - skm.recall_score(y, s >= 0.3, sample_weight=w)) <= TOL


# --------------------------------------------------------------------------------------
# Edge cases
# --------------------------------------------------------------------------------------


BINARY_PARAMS: dict[str, list[dict[str, Any]]] = {
    "roc_auc": [{}], "average_precision": [{}], "log_loss": [{}], "brier": [{}],
    **{name: [{"threshold": 0.5}, {"threshold": 0.25}, {"threshold": "optimize"}]
       for name in THRESHOLD_METRICS},
    "precision_at_recall": [{"recall": 0.5, "threshold": "optimize"},
                            {"recall": 0.5, "threshold": 0.4}],
    "recall_at_precision": [{"precision": 0.5, "threshold": "optimize"},
                            {"precision": 0.5, "threshold": 0.4}],
    **{name: [{"threshold": t, "tp": -4.0, "fp": 1.0, "fn": 0.5, "tn": 0.0}
              for t in (0.5, 0.25, "optimize")]
       for name in ("expected_cost", "net_value")},
    # Calibration (mlscope.metrics.calibration; its oracles are in test_calibration.py).
    "ece": [{}, {"bins": 4}], "ece_debiased": [{}, {"bins": 4}],
    "calibration_slope_error": [{}], "calibration_intercept_error": [{}],
}
BINARY_PARAMS["fbeta"] = [{**p, "beta": 2.0} for p in BINARY_PARAMS["fbeta"]]


def all_values(stats: BinaryStats) -> dict[tuple[str, int], np.ndarray]:
    out = {}
    for name, sets in BINARY_PARAMS.items():
        for i, params in enumerate(sets):
            out[(name, i)] = np.asarray(get_metric(name).fn(stats, **params))
    return out


def test_every_binary_metric_is_covered() -> None:
    names = {s.name for s in metrics_for_task("binary") if not s.name.startswith("error_")}
    assert names == set(BINARY_PARAMS)


def test_empty_input_is_undefined_with_reason() -> None:
    stats = binary_stats(np.zeros(0, bool), np.zeros(0))
    assert stats.scores.size == 0
    for name, sets in BINARY_PARAMS.items():
        spec = get_metric(name)
        for params in sets:
            assert np.isnan(spec.fn(stats, **params)), name
            assert spec.undefined(stats, **params) == "no rows", name
    assert np.isnan(best_threshold("f1", stats))
    assert np.isnan(best_threshold("precision_at_recall", stats, recall=0.5))


def test_all_weights_zero_is_undefined_with_reason() -> None:
    stats = binary_stats([0, 1, 1], [0.1, 0.5, 0.9], [0.0, 0.0, 0.0])
    for name, sets in BINARY_PARAMS.items():
        for params in sets:
            spec = get_metric(name)
            assert np.isnan(spec.fn(stats, **params)), name
            assert spec.undefined(stats, **params) == "every row has weight 0", name


@pytest.mark.parametrize(
    ("labels", "reason"),
    [
        pytest.param([0] * 412, "only one class present (0 positives, 412 negatives)",
                     id="negatives-only"),
        pytest.param([1] * 7, "only one class present (7 positives, 0 negatives)",
                     id="positives-only"),
    ],
)
def test_one_class_input(labels: list[int], reason: str) -> None:
    y = np.array(labels, bool)
    s = np.linspace(0, 1, y.size).round(2)
    stats = binary_stats(y, s)
    assert np.isnan(get_metric("roc_auc").fn(stats))
    assert get_metric("roc_auc").undefined(stats) == reason
    assert get_metric("balanced_accuracy").undefined(stats, threshold=0.5) == reason
    assert get_metric("mcc").undefined(stats, threshold=0.5) == reason
    ap = get_metric("average_precision")
    if y.any():
        assert float(ap.fn(stats)) == 1.0
    else:
        assert np.isnan(ap.fn(stats))
        assert ap.undefined(stats) == "no positives (0 positives, 412 negatives)"
        assert get_metric("recall").undefined(stats, threshold=0.5) == (
            "no positives (0 positives, 412 negatives)"
        )
        assert get_metric("precision_at_recall").undefined(stats, recall=0.5) == (
            "no positives (0 positives, 412 negatives)"
        )
    # Log loss, Brier and accuracy are defined with one class.
    yi = y.astype(int)
    assert abs(float(get_metric("log_loss").fn(stats))
               - skm.log_loss(yi, s, labels=[0, 1])) <= TOL
    assert abs(float(get_metric("brier").fn(stats))
               - skm.brier_score_loss(yi, s, labels=[0, 1])) <= TOL
    assert get_metric("accuracy").undefined(stats, threshold=0.5) is None


def test_all_scores_equal() -> None:
    y = np.array([1, 0, 0, 1, 0], bool)
    stats = binary_stats(y, np.full(5, 0.3))
    assert float(get_metric("roc_auc").fn(stats)) == 0.5
    assert float(get_metric("average_precision").fn(stats)) == pytest.approx(0.4, abs=1e-15)
    prec = get_metric("precision")
    assert float(prec.fn(stats, threshold=0.3)) == pytest.approx(0.4, abs=1e-15)
    assert np.isnan(prec.fn(stats, threshold=0.5))
    assert prec.undefined(stats, threshold=0.5) == "no predicted positives at threshold 0.5"
    assert get_metric("mcc").undefined(stats, threshold=0.3) == (
        "every row is predicted positive at threshold 0.3"
    )
    assert get_metric("f1").undefined(stats, threshold=0.5) is None  # F1 = 0: a real value
    assert float(get_metric("f1").fn(stats, threshold=0.5)) == 0.0
    assert best_threshold("f1", stats) == 0.3


def test_f1_without_positives_or_predictions_is_undefined() -> None:
    stats = binary_stats([0, 0, 0], [0.1, 0.2, 0.3])
    f1 = get_metric("f1")
    assert np.isnan(f1.fn(stats, threshold=0.5))
    assert f1.undefined(stats, threshold=0.5) == (
        "no positives and no predicted positives at threshold 0.5"
    )
    assert float(f1.fn(stats, threshold=0.2)) == 0.0  # false positives only: F1 is 0


def test_recall_at_precision_unreachable_names_the_best_precision() -> None:
    stats = binary_stats([1, 0, 0, 1, 0, 0], [0.9, 0.9, 0.8, 0.5, 0.5, 0.1])
    spec = get_metric("recall_at_precision")
    assert np.isnan(spec.fn(stats, precision=0.9))
    assert spec.undefined(stats, precision=0.9) == (
        "no threshold reaches precision ≥ 0.9 (highest: 0.5)"
    )
    assert spec.chooser is not None
    assert np.isnan(spec.chooser(stats, precision=0.9))


def test_best_threshold_rejects_what_has_no_threshold() -> None:
    stats = binary_stats([0, 1], [0.2, 0.8])
    with pytest.raises(ValueError, match="no threshold"):
        best_threshold("roc_auc", stats)
    batched = BinaryStats(stats.scores, stats.pos[None], stats.neg[None], 2)
    with pytest.raises(ValueError, match="point-estimate"):
        best_threshold("f1", batched)


def test_clipping_follows_sklearn() -> None:
    y = np.array([1, 0, 1, 0], bool)
    s = np.array([0.0, 1.0, 1.0, 0.0])
    stats = binary_stats(y, s)
    ref = skm.log_loss(y.astype(int), s, labels=[0, 1])
    assert np.isfinite(ref)
    assert abs(float(get_metric("log_loss").fn(stats)) - ref) <= TOL


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------


def assert_same(a: dict[Any, np.ndarray], b: dict[Any, np.ndarray], atol: float = 1e-12) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=0, atol=atol, equal_nan=True, err_msg=str(k))


@given(binary_rows(), st.integers(0, 2**31 - 1))
@SETTINGS
def test_merging_halves_gives_the_whole(
    rows: tuple[np.ndarray, np.ndarray, np.ndarray | None], seed: int,
) -> None:
    y, s, w = rows
    half = np.random.default_rng(seed).random(y.size) < 0.5
    ww = np.ones(y.size) if w is None else w
    a = binary_stats(y[half], s[half], ww[half])
    b = binary_stats(y[~half], s[~half], ww[~half])
    whole = binary_stats(y, s, w)
    merged = a.merge(b)
    np.testing.assert_array_equal(merged.scores, whole.scores)
    assert merged.n_rows == whole.n_rows
    assert_same(all_values(merged), all_values(whole))


@given(binary_rows(), st.integers(0, 2**31 - 1))
@SETTINGS
def test_stacked_replicates_match_each_computed_alone(
    rows: tuple[np.ndarray, np.ndarray, np.ndarray | None], seed: int,
) -> None:
    y, s, w = rows
    rng = np.random.default_rng(seed)
    base = np.ones(y.size) if w is None else w
    reps = 4
    counts = rng.multinomial(y.size, np.full(y.size, 1 / y.size), size=reps).astype(float)
    alone = [binary_stats(y, s, c * base) for c in counts]
    stacked = BinaryStats(alone[0].scores, np.stack([a.pos for a in alone]),
                          np.stack([a.neg for a in alone]), y.size)
    assert stacked.batch_shape == (reps,)
    got = all_values(stacked)
    for r, one in enumerate(alone):
        for key, value in all_values(one).items():
            assert got[key].shape == (reps,)
            np.testing.assert_allclose(got[key][r], value, rtol=1e-13, atol=1e-15,
                                       equal_nan=True, err_msg=str(key))


@given(binary_rows(), st.integers(0, 2**31 - 1))
@SETTINGS
def test_resample_counts_equal_the_resampled_rows(
    rows: tuple[np.ndarray, np.ndarray, np.ndarray | None], seed: int,
) -> None:
    # Count weights leave empty bins where the resampled rows have no score at all.
    y, s, w = rows
    idx = np.random.default_rng(seed).integers(0, y.size, y.size)
    counts = np.bincount(idx, minlength=y.size).astype(float)
    base = np.ones(y.size) if w is None else w
    by_counts = binary_stats(y, s, counts * base)
    by_rows = binary_stats(y[idx], s[idx], base[idx])
    assert_same(all_values(by_counts), all_values(by_rows), atol=1e-11)
    for name in ("f1", "mcc", "precision_at_recall", "recall_at_precision"):
        params = BINARY_PARAMS[name][-1] if name in THRESHOLD_METRICS else BINARY_PARAMS[name][0]
        a = best_threshold(name, by_counts, **params)
        b = best_threshold(name, by_rows, **params)
        assert a == b or (np.isnan(a) and np.isnan(b)), name


@given(binary_rows(), st.integers(0, 2**31 - 1))
@SETTINGS
def test_row_order_does_not_matter(
    rows: tuple[np.ndarray, np.ndarray, np.ndarray | None], seed: int,
) -> None:
    y, s, w = rows
    perm = np.random.default_rng(seed).permutation(y.size)
    shuffled = binary_stats(y[perm], s[perm], None if w is None else w[perm])
    assert_same(all_values(shuffled), all_values(binary_stats(y, s, w)))


@pytest.mark.parametrize("case", SCENARIOS)
def test_unit_weights_equal_no_weights(case: dict[str, Any]) -> None:
    y, s, _ = make_rows(**{**case, "weights": "none"})
    assert_same(all_values(binary_stats(y, s, np.ones(y.size))),
                all_values(binary_stats(y, s)), atol=0)


def test_confusion_at_uses_score_at_least_threshold() -> None:
    stats = binary_stats([1, 0, 1, 0], [0.5, 0.5, 0.4, 0.6])
    tp, fp, fn, tn = (float(x) for x in confusion_at(stats, 0.5))
    assert (tp, fp, fn, tn) == (1.0, 2.0, 1.0, 0.0)


def test_specs_carry_metadata() -> None:
    for name in BINARY_PARAMS:
        spec = get_metric(name, task="binary")
        assert spec.label
        assert spec.description.endswith(".")
        assert spec.direction in ("higher", "lower")
        if name in THRESHOLD_METRICS:
            assert spec.params["threshold"].kind == "threshold"
            assert spec.params["threshold"].default == 0.5
            if name in ("precision", "recall", "specificity", "positive_rate"):
                # Best at an extreme (one row flagged, or all): no operating point.
                with pytest.raises(InputError, match="cannot be `optimize`"):
                    spec.resolve_params({"threshold": "optimize"})
            else:
                assert spec.resolve_params({"threshold": "optimize"})["threshold"] == \
                    "optimize"
            # Another metric's chosen threshold, checked against the charter's metrics.
            assert spec.resolve_params({"threshold": "f1_best"})["threshold"] == "f1_best"
            assert spec.is_operating_point({"threshold": "f1_best"})
            assert spec.chooser is None
    assert get_metric("fbeta").params["beta"].default == 1.0
    assert get_metric("positive_rate").direction == "lower"
    for name in ("precision_at_recall", "recall_at_precision"):
        spec = get_metric(name)
        assert spec.chooser is not None
        assert spec.is_operating_point(spec.resolve_params({}))
