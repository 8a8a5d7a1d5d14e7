"""Feasibility figures follow exactly from a known learning curve and label cost."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mlscope.charter.planning import LabelCost
from mlscope.diagnose.learning_curve import fit_learning_curve
from mlscope.plan.feasibility import assess_feasibility, baseline_signal

A, B = 2.0, 0.5  # accuracy error e(n) = 2 · n^(−0.5): exact, no floor
SIZES = [100, 200, 400, 800, 1600, 3200]
COST = LabelCost(per_item=0.8, unit="EUR", per_week=2500)


def _exact_curve() -> object:
    values = [1 - A * n ** -B for n in SIZES]
    return fit_learning_curve(SIZES, values, direction="higher", bounds=(0, 1),
                              resamples=0)


def _rows(target: float) -> float:
    return float((A / (1 - target)) ** (1 / B))


def test_rows_money_weeks_follow_exactly() -> None:
    curve = _exact_curve()
    f = assess_feasibility(curve, metric="accuracy", requirements={"accuracy >= 0.98": 0.98},
                           label_cost=COST, labelled_rows=3000, nines_start=0.9)
    req, *nines = f.targets
    assert req.kind == "requirement"
    assert req.reachable
    n = _rows(0.98)  # (2/0.02)^2 = 10,000
    assert req.rows_needed == pytest.approx(n, rel=1e-6)
    assert req.rows_to_label == pytest.approx(n - 3000, rel=1e-6)
    assert req.money == pytest.approx((n - 3000) * 0.8, rel=1e-6)
    assert req.weeks == pytest.approx((n - 3000) / 2500, rel=1e-6)
    assert [t.target for t in nines] == pytest.approx([0.9, 0.99, 0.999])
    for t in nines:
        m = _rows(t.target)
        assert t.rows_needed == pytest.approx(m, rel=1e-6)
        assert t.money == pytest.approx(max(0.0, m - 3000) * 0.8, rel=1e-6)
        assert t.weeks == pytest.approx(max(0.0, m - 3000) / 2500, rel=1e-6)
    # Each nine costs 10^(1/b) = 100× the rows of the previous one on a pure power law.
    assert nines[2].rows_needed / nines[1].rows_needed == pytest.approx(100, rel=1e-6)
    # 0.9 needs 400 rows, fewer than on hand: nothing more to label.
    assert nines[0].rows_to_label == 0
    assert nines[0].money == 0


def test_rows_on_hand_default_to_the_largest_size() -> None:
    f = assess_feasibility(_exact_curve(), metric="accuracy",
                           requirements={"r": 0.99}, label_cost=COST, nines_count=0)
    assert f.rows_on_hand == 3200
    assert f.targets[0].rows_to_label == pytest.approx(_rows(0.99) - 3200, rel=1e-6)


def test_unreachable_target_is_named_never_inf() -> None:
    # Error levels off at c = 0.05: accuracy 0.95 is the asymptote, 0.97 is beyond it.
    sizes = [100, 200, 400, 800, 1600, 3200, 6400, 12800]
    values = [1 - (3.0 * n ** -0.6 + 0.05) for n in sizes]
    curve = fit_learning_curve(sizes, values, direction="higher", bounds=(0, 1),
                               resamples=200, seed=1)
    assert curve.form == "power+floor"
    f = assess_feasibility(curve, metric="accuracy", requirements={"accuracy >= 0.97": 0.97},
                           label_cost=COST)
    t = f.targets[0]
    assert not t.reachable
    assert t.rows_needed is None
    assert t.money is None
    assert t.weeks is None
    assert "Unreachable on this curve" in t.note
    text = json.dumps(f.to_dict(), allow_nan=False)  # refuses inf and NaN
    assert "Infinity" not in text


def test_intervals_contain_the_point() -> None:
    rng = np.random.default_rng(7)
    values = [[1 - A * n ** -B * math.exp(rng.normal(0, 0.08)) for _ in range(4)]
              for n in SIZES]
    curve = fit_learning_curve(SIZES, values, direction="higher", bounds=(0, 1),
                               resamples=300, seed=3)
    f = assess_feasibility(curve, metric="accuracy", requirements={"r": 0.98},
                           label_cost=COST, labelled_rows=1000, nines_start=0.95)
    checked = 0
    for t in f.targets:
        if not t.reachable:
            continue
        for point, iv in ((t.rows_needed, t.rows_interval),
                          (t.rows_to_label, t.rows_to_label_interval),
                          (t.money, t.money_interval), (t.weeks, t.weeks_interval)):
            assert iv is not None
            assert iv[0] is not None
            assert iv[0] <= point  # type: ignore[operator]
            assert iv[1] is None or point <= iv[1]  # type: ignore[operator]
            checked += 1
    assert checked >= 8


def test_without_label_cost_money_is_none() -> None:
    f = assess_feasibility(_exact_curve(), metric="accuracy", requirements={"r": 0.98},
                           nines_count=0)
    assert f.targets[0].rows_needed == pytest.approx(10_000, rel=1e-6)
    assert f.targets[0].money is None
    assert f.targets[0].weeks is None


def test_human_and_rule_signals() -> None:
    f = assess_feasibility(_exact_curve(), metric="accuracy", requirements={"r": 0.95},
                           nines_count=0, human=("annotators", 0.93), rule=("rule", 0.96))
    assert f.difficulty is not None
    assert f.difficulty["meets"] is False
    assert "must beat people" in f.difficulty["note"]
    assert f.need_ml is not None
    assert f.need_ml["meets"] is True
    assert "ML may not be needed" in f.need_ml["note"]
    low = baseline_signal("log_loss_rule", 0.3, 0.4, direction="lower", role="need_ml")
    assert low is not None
    assert low["meets"] is True
    assert baseline_signal("x", None, 0.4, direction="lower", role="need_ml") is None
