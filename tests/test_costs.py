"""Costs of wrong predictions: expected cost, net value, the cost-optimal threshold and the
break-even prevalence, against scikit-learn's threshold tuners on real data and a NumPy
oracle on random data; the charter's ``costs:`` checked with a file, a line and a fix."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlscope import evaluate
from mlscope.cli import main
from mlscope.metrics.binary_costs import (
    break_even_prevalence,
    choose_cost_threshold,
    expected_cost,
    net_value,
    why_break_even_prevalence,
)
from mlscope.metrics.registry import get_metric
from mlscope.metrics.stats import BinaryStats, binary_stats
from tests.conftest import base_charter
from tests.test_metrics_binary import binary_rows, make_rows

COSTS = {"tp": -49.0, "fp": 1.0, "fn": 0.0, "tn": 0.0}
# Breast cancer: label 1 is benign. A missed malignant case (a benign call that is wrong)
# is expensive; these costs make the optimum an interior threshold.
BC_COSTS = {"tp": -1.0, "fp": 25.0, "fn": 2.0, "tn": 0.0}


def oracle_cost(y: np.ndarray, s: np.ndarray, w: np.ndarray | None, t: float,
                c: dict[str, float]) -> float:
    """Weighted mean cost per row, row by row."""
    w = np.ones(y.size) if w is None else w
    pred = s >= t
    per_row = np.select([pred & y, pred & ~y, ~pred & y], [c["tp"], c["fp"], c["fn"]],
                        c["tn"])
    return float(np.sum(w * per_row) / np.sum(w))


def oracle_best(y: np.ndarray, s: np.ndarray, w: np.ndarray | None,
                c: dict[str, float]) -> tuple[float, float]:
    """(highest threshold among the cheapest, its cost) over the distinct weighted scores
    and acting on no case (the smallest threshold above every score)."""
    w1 = np.ones(y.size) if w is None else w
    cands = np.unique(s[w1 > 0])[::-1]
    cands = np.concatenate([[np.nextafter(cands[0], np.inf)], cands])
    costs = np.array([oracle_cost(y, s, w, t, c) for t in cands])
    best = costs.min()
    i = int(np.flatnonzero(np.isclose(costs, best, rtol=1e-10, atol=1e-12))[0])
    return float(cands[i]), float(costs[i])


# --------------------------------------------------------------------------------------
# scikit-learn on real data
# --------------------------------------------------------------------------------------


def _sk_cost(c: dict[str, float]) -> Callable[..., float]:
    def cost(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return oracle_cost(np.asarray(y_true).astype(bool), np.asarray(y_pred, float),
                           None, 0.5, c)

    return cost


@pytest.fixture(scope="module")
def breast_cancer() -> dict[str, Any]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X_tr, X_rest, y_tr, y_rest = train_test_split(X, y, test_size=0.6, random_state=3,
                                                  stratify=y)
    X_val, X_te, y_val, y_te = train_test_split(X_rest, y_rest, test_size=0.5,
                                                random_state=4, stratify=y_rest)
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=1000))
    clf.fit(X_tr, y_tr)
    weak = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=1000))
    weak.fit(X_tr[:, :2], y_tr)
    return {"clf": clf, "X_val": X_val, "y_val": y_val, "X_te": X_te, "y_te": y_te,
            "p_val": clf.predict_proba(X_val)[:, 1], "p_te": clf.predict_proba(X_te)[:, 1],
            "q_val": weak.predict_proba(X_val[:, :2])[:, 1],
            "q_te": weak.predict_proba(X_te[:, :2])[:, 1]}


def _sklearn_tuned(bc: dict[str, Any]) -> tuple[float, float, np.ndarray, np.ndarray]:
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import TunedThresholdClassifierCV

    thresholds = np.unique(bc["p_val"])  # ascending: np.interp in the tuner needs it
    tuned = TunedThresholdClassifierCV(
        bc["clf"], scoring=make_scorer(_sk_cost(BC_COSTS), greater_is_better=False),
        response_method="predict_proba", thresholds=thresholds, cv="prefit",
        refit=False, store_cv_results=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tuned.fit(bc["X_val"], bc["y_val"])
    return (float(tuned.best_threshold_), float(-tuned.best_score_),
            tuned.cv_results_["thresholds"], -tuned.cv_results_["scores"])


def test_cost_optimal_threshold_equals_sklearn_tuned_threshold(breast_cancer: dict[str, Any]
                                                               ) -> None:
    bc = breast_cancer
    sk_thr, sk_cost, grid, grid_costs = _sklearn_tuned(bc)
    stats = binary_stats(bc["y_val"], bc["p_val"])
    ours = choose_cost_threshold(stats, **BC_COSTS)
    assert float(expected_cost(stats, "optimize", **BC_COSTS)) == pytest.approx(sk_cost,
                                                                                abs=1e-12)
    # Tie rule: scikit-learn takes the first best of the ascending candidates (the lowest
    # threshold), mlscope the highest; the cheapest set is the same.
    tied = grid[np.isclose(grid_costs, grid_costs.min(), rtol=0, atol=1e-12)]
    assert ours == tied.max()
    assert sk_thr == tied.min()
    assert float(expected_cost(stats, ours, **BC_COSTS)) == pytest.approx(sk_cost, abs=1e-12)


def test_run_carries_the_cost_optimal_threshold_like_sklearn(
        breast_cancer: dict[str, Any], tmp_path: Path) -> None:
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import FixedThresholdClassifier

    bc = breast_cancer
    n_val, n_te = len(bc["y_val"]), len(bc["y_te"])
    df = pd.DataFrame({
        "row_id": np.arange(n_val + n_te),
        "label": np.concatenate([bc["y_val"], bc["y_te"]]),
        "split": ["validation"] * n_val + ["test"] * n_te,
        "p_logreg": np.concatenate([bc["p_val"], bc["p_te"]]),
        "p_weak": np.concatenate([bc["q_val"], bc["q_te"]]),
    })
    df.to_parquet(tmp_path / "eval.parquet", index=False)
    charter = {
        "project": "costs", "task": "binary", "seed": 1,
        "data": {"table": "eval.parquet", "id": "row_id", "label": "label",
                 "split": "split", "models": {"logreg": "p_logreg", "weak": "p_weak"}},
        "splits": {"selection": "validation", "report": "test", "train": None},
        "costs": {"unit": "EUR", **BC_COSTS},
        "metrics": ["roc_auc",
                    {"id": "cost", "metric": "expected_cost", "threshold": "optimize"},
                    {"id": "value", "metric": "net_value", "threshold": "optimize"},
                    {"id": "cost_half", "metric": "expected_cost", "threshold": 0.5}],
        "selection": {"rule": "satisficing", "optimize": "cost"},
        "intervals": {"resamples": 30},
    }
    (tmp_path / "mlscope.yaml").write_text(yaml.safe_dump(charter, sort_keys=False))
    res = evaluate(tmp_path / "mlscope.yaml")
    _sk_thr, sk_cost, grid, grid_costs = _sklearn_tuned(bc)
    chosen = {(t.model, t.metric): t.threshold for t in res.thresholds}
    thr = chosen[("logreg", "cost")]
    assert thr == chosen[("logreg", "value")]
    tied = grid[np.isclose(grid_costs, grid_costs.min(), rtol=0, atol=1e-12)]
    assert thr == tied.max()
    assert res.value("cost", "logreg").value == pytest.approx(sk_cost, abs=1e-12)
    # Carried to the report split: scikit-learn's fixed-threshold classifier there.
    assert thr is not None
    fixed = FixedThresholdClassifier(FrozenEstimator(bc["clf"]), threshold=thr,
                                     response_method="predict_proba")
    fixed.fit(bc["X_val"], bc["y_val"])
    sk_test = _sk_cost(BC_COSTS)(bc["y_te"], fixed.predict(bc["X_te"]))
    test = res.value("cost", "logreg", split="test")
    assert test.value == pytest.approx(sk_test, abs=1e-12)
    assert test.lower is not None
    assert test.upper is not None
    assert test.lower <= test.value <= test.upper
    nothing = oracle_cost(bc["y_te"].astype(bool), bc["p_te"], None, np.inf, BC_COSTS)
    assert res.value("value", "logreg", split="test").value == pytest.approx(
        nothing - sk_test, abs=1e-12)
    half = _sk_cost(BC_COSTS)(bc["y_te"], bc["p_te"] >= 0.5)
    assert res.value("cost_half", "logreg", split="test").value == pytest.approx(half)
    # Selection on a registry metric with direction "lower": the cheaper model wins.
    costs = {m: res.value("cost", m).value for m in ("logreg", "weak")}
    assert res.winner == min(costs, key=lambda m: costs[m] or np.inf)
    info = res.metric_info("cost")
    assert info.direction == "lower"
    assert info.params["unit"] == "EUR"
    assert "EUR per case" in info.label


# --------------------------------------------------------------------------------------
# A NumPy oracle on random data with ties and weights
# --------------------------------------------------------------------------------------

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(rows=binary_rows(), t=st.sampled_from([0.0, 0.2, 0.5, 0.7, 1.0, 1.5]))
def test_expected_cost_and_net_value_match_the_oracle(
        rows: tuple[np.ndarray, np.ndarray, np.ndarray | None], t: float) -> None:
    y, s, w = rows
    if w is not None and w.sum() == 0:
        return
    stats = binary_stats(y, s, w)
    want = oracle_cost(y, s, w, t, COSTS)
    assert float(expected_cost(stats, t, **COSTS)) == pytest.approx(want, abs=1e-9)
    nothing = oracle_cost(y, s, w, np.inf, COSTS)
    assert float(net_value(stats, t, **COSTS)) == pytest.approx(nothing - want, abs=1e-9)


@SETTINGS
@given(rows=binary_rows())
def test_cost_optimal_threshold_matches_the_oracle(
        rows: tuple[np.ndarray, np.ndarray, np.ndarray | None]) -> None:
    y, s, w = rows
    if w is not None and w.sum() == 0:
        return
    stats = binary_stats(y, s, w)
    thr, cost = oracle_best(y, s, w, COSTS)
    assert choose_cost_threshold(stats, **COSTS) == thr
    assert float(expected_cost(stats, "optimize", **COSTS)) == pytest.approx(cost, abs=1e-9)
    nothing = oracle_cost(y, s, w, np.inf, COSTS)
    assert float(net_value(stats, "optimize", **COSTS)) == pytest.approx(nothing - cost,
                                                                         abs=1e-9)


def test_vectorised_over_replicates_with_empty_bins() -> None:
    y, s, w = make_rows(300, 5, 11, "grid")
    stats = binary_stats(y, s, w)
    rng = np.random.default_rng(0)
    draws = rng.poisson(1.0, size=(7, y.size)).astype(float)
    reps = [binary_stats(y, s, w * d) for d in draws]
    batch = BinaryStats(stats.scores,
                        np.stack([_align(stats, r)[0] for r in reps]),
                        np.stack([_align(stats, r)[1] for r in reps]), stats.n_rows)
    for t in (0.3, "optimize"):
        got = expected_cost(batch, t, **COSTS)
        assert got.shape == (7,)
        for i, d in enumerate(draws):
            ww = w * d
            want = (oracle_best(y, s, ww, COSTS)[1] if t == "optimize"
                    else oracle_cost(y, s, ww, float(t), COSTS))
            assert got[i] == pytest.approx(want, abs=1e-9)


def _align(full: BinaryStats, part: BinaryStats) -> tuple[np.ndarray, np.ndarray]:
    pos, neg = np.zeros_like(full.pos), np.zeros_like(full.neg)
    idx = np.searchsorted(-full.scores, -part.scores)
    pos[idx], neg[idx] = part.pos, part.neg
    return pos, neg


def test_one_class_slices_have_a_cost_and_empty_ones_a_reason() -> None:
    spec = get_metric("expected_cost")
    params = {**COSTS, "threshold": 0.5, "unit": ""}
    only_neg = binary_stats(np.zeros(4, bool), np.array([0.1, 0.6, 0.7, 0.2]))
    assert spec.undefined(only_neg, **params) is None
    assert float(spec.fn(only_neg, **params)) == pytest.approx(0.5)  # two false positives
    only_pos = binary_stats(np.ones(3, bool), np.array([0.1, 0.6, 0.7]))
    assert float(spec.fn(only_pos, **params)) == pytest.approx(-49 * 2 / 3)
    empty = binary_stats(np.zeros(0, bool), np.zeros(0))
    assert spec.undefined(empty, **params) == "no rows"
    assert np.isnan(spec.fn(empty, **params))
    weightless = binary_stats(np.array([True, False]), np.array([0.3, 0.6]), np.zeros(2))
    assert spec.undefined(weightless, **params) == "every row has weight 0"
    assert np.isnan(get_metric("net_value").fn(weightless, **{**params, "threshold": "optimize"}))
    assert np.isnan(choose_cost_threshold(weightless, **COSTS))


# --------------------------------------------------------------------------------------
# Break-even prevalence
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_at_the_break_even_prevalence_the_model_is_worth_nothing(seed: int) -> None:
    y, s, w = make_rows(400, seed, 21, "continuous")
    stats = binary_stats(y, s, w)
    t = 0.55
    pi = float(break_even_prevalence(stats, t, **COSTS))
    assert why_break_even_prevalence(stats, t, **COSTS) is None
    assert 0 < pi < 1
    # Reweight the rows to prevalence pi: the net value there is zero.
    assert w is not None
    ww = np.where(y, w * pi / w[y].sum(), w * (1 - pi) / w[~y].sum())
    assert float(net_value(binary_stats(y, s, ww), t, **COSTS)) == pytest.approx(0, abs=1e-9)
    # Above it the model beats doing nothing (catching a positive is worth 49 > 0).
    up = min(1.0, pi + 0.1)
    ww = np.where(y, w * up / w[y].sum(), w * (1 - up) / w[~y].sum())
    assert float(net_value(binary_stats(y, s, ww), t, **COSTS)) > 0


def test_break_even_prevalence_reasons() -> None:
    one = binary_stats(np.ones(3, bool), np.array([0.2, 0.6, 0.9]))
    assert "no negatives" in str(why_break_even_prevalence(one, 0.5, **COSTS))
    assert np.isnan(break_even_prevalence(one, 0.5, **COSTS))
    y = np.array([True, False, True, False])
    s = np.array([0.9, 0.1, 0.8, 0.2])
    perfect = binary_stats(y, s)  # no false positives: better at every prevalence
    assert float(break_even_prevalence(perfect, 0.5, **COSTS)) == 0.0
    nothing = binary_stats(y, s)
    why = why_break_even_prevalence(nothing, 0.95, **COSTS)  # nothing predicted positive
    assert why is not None
    assert "does not change" in why


# --------------------------------------------------------------------------------------
# The charter's `costs:`: problems on their line, with a fix, exit 2
# --------------------------------------------------------------------------------------


def _validate(project: Callable[..., Path], **over: Any) -> Any:
    c = base_charter(**over)
    c["metrics"] = [*c["metrics"], {"id": "cost", "metric": "expected_cost",
                                    "threshold": "optimize"}]
    if over.get("costs") == "DROP":
        del c["costs"]
    return CliRunner().invoke(main, ["validate", str(project(charter=c))])


def test_valid_costs_validate(project: Callable[..., Path]) -> None:
    r = _validate(project, costs={"unit": "EUR", **COSTS})
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(("costs", "said", "fix"), [
    ({"unit": "EUR", "tp": -49, "fp": 1, "fn": 0, "tneg": 0}, "unknown key `tneg`",
     "rename it to `tn`"),
    ({"unit": "EUR", "tp": -49, "fp": 1, "fn": 0}, "missing required key `tn`", "add `tn:`"),
    ({"tp": -49, "fp": float("nan"), "fn": 0, "tn": 0}, "expected a finite number",
     "write a number"),
    ({"tp": -49, "fp": "1", "fn": 0, "tn": 0}, "expected a number", "without quotes"),
    ({"tp": -49, "fp": True, "fn": 0, "tn": 0}, "expected a number", ""),
    ({"tp": 2, "fp": 2, "fn": 2, "tn": 2}, "the four costs are all 2",
     "give each outcome its own cost"),
    ({"unit": "euros per prevented churn event", "tp": -49, "fp": 1, "fn": 0, "tn": 0},
     "short name", "unit: EUR"),
])
def test_bad_costs_exit_2_with_line_and_fix(project: Callable[..., Path],
                                            costs: dict[str, Any], said: str, fix: str
                                            ) -> None:
    r = _validate(project, costs=costs)
    assert r.exit_code == 2, r.output
    assert said in r.output
    assert fix in r.output
    assert "mlscope.yaml:" in r.output
    assert "Traceback" not in r.output
    assert "no `costs:` section" not in r.output  # one problem, not a second one


def test_cost_metric_without_costs_says_how_to_add_them(project: Callable[..., Path]
                                                        ) -> None:
    r = _validate(project)
    assert r.exit_code == 2
    assert "no `costs:` section" in r.output
    assert "costs: {unit: EUR" in r.output


def test_metric_entry_costs_all_or_none(project: Callable[..., Path]) -> None:
    c = base_charter()
    c["metrics"] = [*c["metrics"], {"id": "c2", "metric": "net_value", "tp": -3, "fp": 1}]
    r = CliRunner().invoke(main, ["validate", str(project(charter=c))])
    assert r.exit_code == 2
    assert "but not fn, tn" in r.output
    assert "give all four" in r.output
    c["metrics"][-1] = {"id": "c2", "metric": "net_value", "tp": -3, "fp": 1, "fn": 0,
                        "tn": 0, "threshold": 0.4}
    r = CliRunner().invoke(main, ["validate", str(project(charter=c))])
    assert r.exit_code == 0, r.output


def test_acting_on_no_case_is_a_candidate() -> None:
    """A constant score (the `prior` baseline) where acting on everyone loses money: the
    cost-optimal choice is to act on no one (net value 0), not the only score there is."""
    y = np.array([1] * 6 + [0] * 94)
    s = np.full(100, 0.06)
    c = {"tp": -22.5, "fp": 2.5, "fn": 0.0, "tn": 0.0}
    stats = binary_stats(y, s, None)
    thr = choose_cost_threshold(stats, **c)
    assert thr > 0.06
    assert float(expected_cost(stats, thr, **c)) == 0.0
    assert float(net_value(stats, thr, **c)) == 0.0
    assert float(net_value(stats, "optimize", **c)) == 0.0
    # Acting on everyone would cost (94·2.5 − 6·22.5)/100 = 1.0 per case.
    assert float(expected_cost(stats, 0.06, **c)) == pytest.approx(1.0)


def test_the_charter_and_the_metrics_name_the_same_outcomes() -> None:
    from mlscope.charter import costs as charter_costs
    from mlscope.metrics import binary_costs

    assert tuple(charter_costs.COST_KEYS) == tuple(binary_costs.COST_KEYS)
