"""Reliability curves in the result, the calibration advice, and the report's diagrams."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.special import expit

import mlscope
from mlscope.metrics.stats import binary_stats
from mlscope.pipeline.calibration import calibration_advice, curve_of, is_miscalibrated
from mlscope.report import render_html
from mlscope.report.reliability import reliability_chart
from mlscope.result import EvaluationResult, Standing


def frame(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    logit = -1.0 + 1.3 * x1 - 0.9 * x2
    y = (rng.random(n) < expit(logit)).astype(int)
    good = expit(logit + rng.normal(scale=0.3, size=n))
    return pd.DataFrame({
        "id": [f"r{i}" for i in range(n)], "y": y,
        "split": rng.choice(["train", "validation", "test"], size=n, p=[0.4, 0.3, 0.3]),
        "x1": x1, "x2": x2,
        "good": good,
        # The same ranking, probabilities squashed toward 0.5: under-confident.
        "squashed": expit(0.25 * (logit + rng.normal(scale=0.3, size=n))),
    })


def write(tmp: Path, **over: Any) -> Path:
    frame().to_parquet(tmp / "eval.parquet", index=False)
    c: dict[str, Any] = {
        "project": "calibration-test", "task": "binary", "seed": 3,
        "data": {"table": "eval.parquet", "id": "id", "label": "y", "split": "split",
                 "models": {"good": "good", "squashed": "squashed"}},
        "metrics": ["roc_auc", "log_loss", "ece", "calibration_slope_error"],
        "selection": {"rule": "satisficing", "optimize": "roc_auc"},
        "baselines": {"prior": {"kind": "prior"}},
        "intervals": {"resamples": 100},
    }
    c.update(over)
    p = tmp / "mlscope.yaml"
    p.write_text(yaml.safe_dump(c, sort_keys=False), encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> EvaluationResult:
    return mlscope.evaluate(write(tmp_path_factory.mktemp("cal")))


def test_result_holds_a_reliability_curve_per_model(result: EvaluationResult) -> None:
    curves = {c.model: c for c in result.reliability}
    assert set(curves) == {"good", "squashed", "prior"}
    good = curves["good"]
    assert good.split == result.splits["selection"]
    assert len(good.mean_predicted) == good.bins == 15
    assert good.mean_predicted == sorted(good.mean_predicted)
    assert good.slope == pytest.approx(1.0, abs=0.25)
    # The curve's figures are the registry metrics' values.
    v = result.value("ece", "good")
    assert v.value == pytest.approx(good.ece)
    sq = curves["squashed"]
    assert sq.slope is not None
    assert sq.slope > 2.5
    assert result.value("calibration_slope_error", "squashed").value == pytest.approx(
        sq.slope - 1)


def test_squashed_candidate_gets_the_calibration_advice_once(result: EvaluationResult
                                                             ) -> None:
    about = [w for w in result.warnings if w.startswith("squashed ")]
    assert len(about) == 1
    w = about[0]
    assert "ranks well on the validation split (ROC AUC" in w
    assert "poorly calibrated" in w
    assert "ECE 0." in w
    assert "calibration slope" in w
    assert "under-confident" in w
    assert "calibrate the scores" in w
    assert "something is wrong" not in w
    assert not any(x.startswith("good ") for x in result.warnings)
    # Its standings on probability metrics say the same, never "something is wrong".
    for st in result.standings:
        if st.model == "squashed" and st.flag and st.metric in ("log_loss", "ece"):
            assert st.flag_cause == "calibration"


def test_result_round_trips_and_old_results_load(result: EvaluationResult) -> None:
    back = EvaluationResult.from_dict(json.loads(result.to_json()))
    assert back.reliability == result.reliability
    old = result.to_dict()
    del old["reliability"]
    assert EvaluationResult.from_dict(old).reliability == []


def test_report_shows_the_reliability_diagrams(result: EvaluationResult) -> None:
    html = render_html(result)
    assert 'id="calibration"' in html
    assert html.count("Reliability diagram of") == 3
    old = EvaluationResult.from_dict({**result.to_dict(), "reliability": []})
    assert 'id="calibration"' not in render_html(old)


def test_advice_needs_good_ranking() -> None:
    rng = np.random.default_rng(1)
    n = 3000
    p = rng.beta(1.5, 4, n)
    y = (rng.random(n) < p).astype(int)
    noise = rng.random(n)  # no ranking at all, far from calibrated
    bad = curve_of(binary_stats(y, noise), "validation", "noise")
    assert not is_miscalibrated(bad)
    good = curve_of(binary_stats(y, p), "validation", "good")
    assert not is_miscalibrated(good)
    squashed = curve_of(binary_stats(y, expit(0.3 * np.log(p / (1 - p)))), "validation", "sq")
    assert is_miscalibrated(squashed)
    st = Standing(split="validation", model="sq", metric="log_loss", trivial="prior",
                  trivial_value=0.5, upper=None, upper_family=None, upper_value=None,
                  gap_closed=None, flag="sq does not beat ...: something is wrong",
                  flag_cause="no_skill")
    advice = calibration_advice([bad, good, squashed], [st], {"sq": None, "noise": None,
                                                              "good": None})
    assert [m for m, _ in advice] == ["sq"]
    assert st.flag_cause == "calibration"
    assert st.flag == advice[0][1]
    # A baseline gets no advice.
    assert calibration_advice([squashed], [], {"sq": "trivial"}) == []


def test_chart_escapes_and_handles_empty_curves(result: EvaluationResult) -> None:
    c = result.reliability[0]
    c2 = type(c)(split="v", model="<b>&", slice="overall", bins=15)
    svg = reliability_chart(c2)
    assert "<b>&" not in svg
    assert "no probabilities" in svg
