"""Costs of multiclass and regression predictions (issue 14): the cost matrix against
scikit-learn's confusion matrix, the asymmetric regression cost against its pinball loss,
both through the pipeline (selection on cost, intervals, the verdict's costs section) and
the charter's checks of the three forms of `costs:`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from sklearn.metrics import confusion_matrix as sk_confusion
from sklearn.metrics import mean_pinball_loss

from mlscope import evaluate
from mlscope.cli import main
from mlscope.metrics.binary_costs import expected_cost, why_cost
from mlscope.metrics.registry import get_metric
from mlscope.metrics.stats import multiclass_stats, regression_stats
from mlscope.metrics.task_costs import cost_matrix
from tests.test_pipeline_tasks import CLASSES, multiclass_frame

MATRIX = {"oak": {"maple": 4.0, "birch": 1.0}, "birch": {"oak": 2.5},
          "maple": {"maple": -1.0, "oak": 0.5}}


def _sk_matrix_cost(y: np.ndarray, proba: np.ndarray, w: np.ndarray | None,
                    matrix: dict[str, dict[str, float]]) -> float:
    pred = np.array(CLASSES)[np.argmax(proba, axis=1)]
    cm = sk_confusion(y, pred, labels=CLASSES, sample_weight=w)
    return float((cm * cost_matrix(CLASSES, matrix)).sum() / cm.sum())


# --------------------------------------------------------------------------------------
# Multiclass: Σ confusion × matrix / N
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_matrix_cost_is_sklearn_confusion_times_matrix(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    y = np.array(CLASSES)[rng.choice(3, size=n)]
    proba = rng.dirichlet(np.ones(3), size=n)
    proba = np.round(proba * 5) / 5  # ties: the first class of the highest wins
    proba[proba.sum(axis=1) == 0] = 1 / 3
    w = rng.choice([0.0, 0.5, 1.0, 3.0], size=n) if seed % 2 else None
    if w is not None and w.sum() == 0:
        w[0] = 1.0
    st = multiclass_stats(y, proba, CLASSES, w)
    got = float(expected_cost(st, matrix=MATRIX))
    assert got == pytest.approx(_sk_matrix_cost(y, proba, w, MATRIX), rel=1e-12, abs=1e-12)
    assert why_cost(st, matrix=MATRIX) is None


def test_matrix_cost_tiny_one_class_and_empty_slices() -> None:
    one = multiclass_stats(["oak"], [[0.2, 0.5, 0.3]], CLASSES)  # oak called maple
    assert float(expected_cost(one, matrix=MATRIX)) == 4.0
    same = multiclass_stats(["maple"] * 3, [[0.1, 0.8, 0.1]] * 3, CLASSES)
    assert float(expected_cost(same, matrix=MATRIX)) == -1.0  # a gain on every case
    empty = multiclass_stats([], np.zeros((0, 3)), CLASSES)
    assert np.isnan(float(expected_cost(empty, matrix=MATRIX)))
    assert why_cost(empty, matrix=MATRIX) is not None


def test_matrix_naming_an_unknown_class_is_never_a_number() -> None:
    st = multiclass_stats(["oak"], [[0.2, 0.5, 0.3]], CLASSES)
    bad = {"oak": {"mapel": 3.0}}
    assert np.isnan(float(expected_cost(st, matrix=bad)))
    why = why_cost(st, matrix=bad)
    assert why is not None
    assert "`mapel`" in why


def test_matrix_cost_over_a_bootstrap_batch() -> None:
    rng = np.random.default_rng(3)
    y = np.array(CLASSES)[rng.choice(3, size=50)]
    proba = rng.dirichlet(np.ones(3), size=50)
    w = rng.poisson(1.0, size=(4, 50)).astype(float)
    parts = [multiclass_stats(y, proba, CLASSES, wi) for wi in w]
    batch = multiclass_stats(y, proba, CLASSES)
    batch = type(batch)(classes=batch.classes,
                        confusion=np.stack([p.confusion for p in parts]),
                        topk_hits=np.stack([p.topk_hits for p in parts]),
                        log_loss_sum=np.stack([p.log_loss_sum for p in parts]),
                        one_vs_rest=batch.one_vs_rest,
                        total=np.stack([p.total for p in parts]), n_rows=50)
    got = expected_cost(batch, matrix=MATRIX)
    assert got.shape == (4,)
    for i in range(4):
        assert got[i] == pytest.approx(_sk_matrix_cost(y, proba, w[i], MATRIX), rel=1e-12)


# --------------------------------------------------------------------------------------
# Regression: over·max(ŷ − y, 0) + under·max(y − ŷ, 0)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("over", "under"), [(1.0, 3.0), (2.0, 0.0), (0.0, 5.0), (1.5, 1.5)])
@pytest.mark.parametrize("weighted", [False, True])
def test_regression_cost_is_scaled_pinball_loss(over: float, under: float,
                                                weighted: bool) -> None:
    rng = np.random.default_rng(int(over * 10 + under))
    y = rng.normal(100, 20, size=400)
    yhat = y + rng.normal(2, 10, size=400)
    yhat[:20] = y[:20]  # exact predictions cost nothing
    w = rng.choice([0.5, 1.0, 2.0], size=400) if weighted else None
    st = regression_stats(y, yhat, w)
    got = float(expected_cost(st, over=over, under=under))
    sk = (over + under) * mean_pinball_loss(y, yhat, alpha=under / (over + under),
                                            sample_weight=w)
    assert got == pytest.approx(sk, rel=1e-10)
    e = yhat - y
    direct = np.average(over * np.maximum(e, 0) + under * np.maximum(-e, 0), weights=w)
    assert got == pytest.approx(direct, rel=1e-10)


def test_regression_cost_of_one_row_and_no_rows() -> None:
    assert float(expected_cost(regression_stats([10.0], [12.0]), over=1, under=3)) == 2.0
    assert float(expected_cost(regression_stats([10.0], [7.0]), over=1, under=3)) == 9.0
    empty = regression_stats(np.zeros(0), np.zeros(0))
    assert np.isnan(float(expected_cost(empty, over=1, under=3)))
    assert why_cost(empty) is not None


def test_threshold_belongs_to_binary_costs_only() -> None:
    spec = get_metric("expected_cost", task="regression")
    params = spec.resolve_params({"over": 1.0, "under": 2.0, "unit": "EUR"}, task="regression")
    assert params == {"over": 1.0, "under": 2.0, "unit": "EUR"}
    assert not spec.is_operating_point(params)
    from mlscope.errors import InputError

    with pytest.raises(InputError, match="applies to binary tasks only"):
        spec.resolve_params({"over": 1.0, "under": 2.0, "threshold": 0.3}, task="regression")
    binary = spec.resolve_params({"tp": -1, "fp": 1, "fn": 0, "tn": 0}, task="binary")
    assert "matrix" not in binary
    assert not spec.is_operating_point(binary)
    assert spec.is_operating_point({**binary, "threshold": "optimize"})


# --------------------------------------------------------------------------------------
# Through the pipeline: selection on cost, intervals, the verdict's costs section
# --------------------------------------------------------------------------------------


def _multiclass_project(tmp_path: Path, **over: Any) -> Path:
    df = multiclass_frame(n=900, seed=1)
    df["w"] = np.random.default_rng(21).choice([0.5, 1.0, 2.0], size=len(df))
    df.to_parquet(tmp_path / "eval.parquet", index=False)
    ch: dict[str, Any] = {
        "project": "leaf-costs", "task": "multiclass", "seed": 3,
        "data": {"table": "eval.parquet", "id": "image_id", "label": "species",
                 "split": "split", "weight": "w", "classes": CLASSES,
                 "models": {m: {c: f"{m}_{c}" for c in CLASSES}
                            for m in ("resnet", "vit", "tiny")}},
        "splits": {"selection": "validation", "report": "test", "train": None},
        "slices": {"columns": ["camera"], "min_size": 10},
        "costs": {"unit": "EUR", "matrix": MATRIX},
        "metrics": ["accuracy", "expected_cost"],
        "selection": {"rule": "satisficing", "optimize": "expected_cost"},
        "intervals": {"resamples": 40},
    }
    ch.update(over)
    (tmp_path / "mlscope.yaml").write_text(yaml.safe_dump(ch, sort_keys=False))
    return tmp_path / "mlscope.yaml"


def test_multiclass_costs_through_the_pipeline(tmp_path: Path) -> None:
    res = evaluate(_multiclass_project(tmp_path))
    df = pd.read_parquet(tmp_path / "eval.parquet")
    costs = {}
    for m in ("resnet", "vit", "tiny"):
        for split in ("validation", "test"):
            part = df[df["split"] == split]
            proba = part[[f"{m}_{c}" for c in CLASSES]].to_numpy()
            want = _sk_matrix_cost(part["species"].to_numpy(), proba, part["w"].to_numpy(),
                                   MATRIX)
            v = res.value("expected_cost", m, split=split)
            assert v.value == pytest.approx(want, rel=1e-12)
            if split == "test":
                assert v.lower is not None
                assert v.upper is not None
                assert v.lower <= v.value <= v.upper
            else:
                costs[m] = want
        cam = df[(df["split"] == "test") & (df["camera"] == "a")]
        proba = cam[[f"{m}_{c}" for c in CLASSES]].to_numpy()
        assert res.value("expected_cost", m, split="test", slice="camera=a").value == \
            pytest.approx(_sk_matrix_cost(cam["species"].to_numpy(), proba,
                                          cam["w"].to_numpy(), MATRIX), rel=1e-12)
    assert res.winner == min(costs, key=lambda m: costs[m])
    info = res.metric_info("expected_cost")
    assert info.params["matrix"] == MATRIX
    assert not info.operating_point
    lines = res.verdict.sections["costs"]
    assert lines[0].startswith("expected_cost: expected cost per case on test, in EUR")
    assert any("per 1,000" in line and "← recommended" in line for line in lines)


def test_matrix_class_checked_against_the_data(tmp_path: Path) -> None:
    p = _multiclass_project(tmp_path, costs={"unit": "EUR",
                                             "matrix": {"oak": {"mapel": 3.0}}})
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 2, r.output
    assert "`mapel`" in r.output
    assert "did you mean `maple`" in r.output
    assert "Traceback" not in r.output


def test_regression_costs_through_the_pipeline(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    n = 1200
    y = rng.gamma(4.0, 25.0, size=n)
    df = pd.DataFrame({
        "id": np.arange(n), "y": y,
        "split": rng.choice(["train", "validation", "test"], size=n),
        "w": rng.choice([1.0, 2.0], size=n),
        # "high" over-predicts (cheap here), "low" under-predicts by as much (dear).
        "pred_high": y + np.abs(rng.normal(0, 10, size=n)),
        "pred_low": y - np.abs(rng.normal(0, 10, size=n)),
    })
    df.to_parquet(tmp_path / "eval.parquet", index=False)
    ch = {
        "project": "demand-costs", "task": "regression", "seed": 2,
        "data": {"table": "eval.parquet", "id": "id", "label": "y", "split": "split",
                 "weight": "w", "models": {"high": "pred_high", "low": "pred_low"}},
        "splits": {"selection": "validation", "report": "test", "train": "train"},
        "costs": {"unit": "EUR", "over": 1.0, "under": 3.0},
        "metrics": ["mae", {"id": "cost", "metric": "expected_cost"}],
        "baselines": {"mean": {"kind": "mean"}},
        "selection": {"rule": "satisficing", "optimize": "cost", "must_beat": {"mean": 0}},
        "intervals": {"resamples": 40},
    }
    (tmp_path / "mlscope.yaml").write_text(yaml.safe_dump(ch, sort_keys=False))
    res = evaluate(tmp_path / "mlscope.yaml")
    test = df[df["split"] == "test"]
    for m in ("high", "low"):
        want = 4.0 * mean_pinball_loss(test["y"], test[f"pred_{m}"], alpha=0.75,
                                       sample_weight=test["w"])
        v = res.value("cost", m, split="test")
        assert v.value == pytest.approx(want, rel=1e-10)
        assert v.lower is not None
        assert v.upper is not None
        assert v.lower <= v.value <= v.upper
    assert res.winner == "high"
    lines = res.verdict.sections["costs"]
    # The baseline the rule says to beat, with its paired difference in money.
    assert any(line.startswith("mean: ") and "per 1,000" in line for line in lines)
    diff = next(line for line in lines if line.startswith("mean − high: +"))  # costs more
    assert "EUR per case" in diff
    assert "per 1,000" in diff
    # Negative figures print a true minus sign, as the rest of the verdict does.
    assert not any(re.search(r"-\d", line) for line in lines), lines


# --------------------------------------------------------------------------------------
# The charter: each task's form, exit 2 with the line and the fix
# --------------------------------------------------------------------------------------


def _validate(tmp_path: Path, task: str, costs: Any,
              metric: dict[str, Any] | None = None) -> Any:
    if task == "multiclass":
        p = _multiclass_project(tmp_path, costs=costs)
        ch = yaml.safe_load(p.read_text())
    else:
        ch = {"project": "x", "task": task, "seed": 1,
              "data": {"table": "eval.parquet", "id": "id", "label": "y", "split": "split",
                       "models": {"a": "pa", "b": "pb"}},
              "metrics": ["mae" if task == "regression" else "roc_auc",
                          {"id": "cost", "metric": "expected_cost"}],
              "selection": {"rule": "satisficing", "optimize": "cost"},
              "costs": costs}
        p = tmp_path / "mlscope.yaml"
    if metric is not None:
        ch["metrics"] = [*ch["metrics"][:1], metric]
        ch["selection"]["optimize"] = metric["id"]
    if costs is None:
        ch.pop("costs", None)
    p.write_text(yaml.safe_dump(ch, sort_keys=False))
    return CliRunner().invoke(main, ["validate", str(p), "--no-data"])


@pytest.mark.parametrize(("task", "costs"), [
    ("multiclass", {"unit": "EUR", "matrix": MATRIX}),
    ("multiclass", {"matrix": {"oak": {"maple": 1}}}),
    ("regression", {"unit": "EUR", "over": 1, "under": 3}),
    ("regression", {"over": 0, "under": 2.5}),
])
def test_valid_task_costs_validate(tmp_path: Path, task: str, costs: Any) -> None:
    r = _validate(tmp_path, task, costs)
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(("task", "costs", "said", "fix"), [
    ("multiclass", {"matrix": [[0, 1], [1, 0]]}, "`matrix` is a mapping", "matrix: {oak:"),
    ("multiclass", {"matrix": {"oak": 3}}, "`matrix` is a mapping", "a cell not written"),
    ("multiclass", {"matrix": {"oak": {"maple": "3"}}}, "expected a number", ""),
    ("multiclass", {"matrix": {"oak": {"maple": 0}}}, "every cell of `matrix` is 0",
     "give the cost of each mistake"),
    ("multiclass", {"matrix": MATRIX, "fp": 1}, "mixes the forms", "keep the keys"),
    ("multiclass", {"tp": -1, "fp": 1, "fn": 0, "tn": 0}, "costs of a binary task",
     "matrix:"),
    ("binary", {"matrix": MATRIX}, "costs of a multiclass task", "tp: -49"),
    ("binary", {"over": 1, "under": 2}, "costs of a regression task", "tp: -49"),
    ("regression", {"tp": -1, "fp": 1, "fn": 0, "tn": 0}, "costs of a binary task",
     "over: 1, under: 3"),
    ("regression", {"over": -1, "under": 3}, "`over: -1` is negative", "0 or more"),
    ("regression", {"over": 1, "under": -3}, "`under: -3` is negative", "0 or more"),
    ("regression", {"over": 0, "under": 0}, "both 0", "over: 1, under: 3"),
    ("regression", {"over": 1}, "missing required key `under`", "add `under:`"),
    ("regression", {"unit": "EUR"}, "gives no cost", "over: 1, under: 3"),
])
def test_bad_task_costs_exit_2_with_line_and_fix(tmp_path: Path, task: str, costs: Any,
                                                 said: str, fix: str) -> None:
    r = _validate(tmp_path, task, costs)
    assert r.exit_code == 2, r.output
    assert said in r.output
    assert fix in r.output
    assert "mlscope.yaml:" in r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize(("task", "metric", "said"), [
    ("regression", {"id": "c", "metric": "expected_cost", "threshold": 0.3},
     "applies to binary tasks only"),
    ("regression", {"id": "c", "metric": "expected_cost", "over": 1}, "but not under"),
    ("regression", {"id": "c", "metric": "expected_cost", "over": -2, "under": 1},
     "is negative"),
    ("multiclass", {"id": "c", "metric": "expected_cost", "tp": 1}, "applies to binary"),
    ("regression", {"id": "c", "metric": "net_value"}, "does not apply to task `regression`"),
    ("multiclass", {"id": "c", "metric": "expected_cost", "matrix": {"oak": {"maple": 0}}},
     "every cell of `matrix` is 0"),
    ("multiclass", {"id": "c", "metric": "expected_cost", "matrix": [1, 2]},
     "must be a mapping"),
])
def test_bad_cost_metric_entries(tmp_path: Path, task: str, metric: dict[str, Any],
                                 said: str) -> None:
    r = _validate(tmp_path, task, {"over": 1, "under": 2} if task == "regression"
                  else {"matrix": MATRIX}, metric)
    assert r.exit_code == 2, r.output
    assert said in r.output
    assert "Traceback" not in r.output


def test_entry_costs_without_a_costs_section(tmp_path: Path) -> None:
    r = _validate(tmp_path, "regression", None)
    assert r.exit_code == 2
    assert "no `costs:` section" in r.output
    assert "over: 1, under: 3" in r.output
    r = _validate(tmp_path, "regression", None,
                  {"id": "c", "metric": "expected_cost", "over": 2, "under": 1})
    assert r.exit_code == 0, r.output


def test_an_entry_gives_its_own_matrix(tmp_path: Path) -> None:
    own = {"birch": {"oak": 7.0}}
    p = _multiclass_project(tmp_path, metrics=[
        "accuracy", "expected_cost", {"id": "own", "metric": "expected_cost", "matrix": own}])
    res = evaluate(p)
    df = pd.read_parquet(tmp_path / "eval.parquet")
    part = df[df["split"] == "test"]
    proba = part[[f"resnet_{c}" for c in CLASSES]].to_numpy()
    assert res.value("own", "resnet", split="test").value == pytest.approx(
        _sk_matrix_cost(part["species"].to_numpy(), proba, part["w"].to_numpy(), own))
    assert res.metric_info("own").params == {"unit": "EUR", "matrix": own}


def test_cost_lines_print_negative_figures_with_a_true_minus() -> None:
    from mlscope.compare.launch_costs import cost_lines
    from mlscope.result.core import Difference, MetricInfo, MetricValue

    info = MetricInfo(id="net_value", name="net_value", label="Net value", direction="higher",
                      params={}, description="")
    values = {("rule", "net_value"): MetricValue("test", "rule", "overall", "net_value",
                                                 -0.0421, -0.0913, 0.0107),
              ("gbdt", "net_value"): MetricValue("test", "gbdt", "overall", "net_value",
                                                 0.0512, -0.0038, 0.112)}
    diffs = [Difference("test", "overall", "net_value", "gbdt", "rule", 0.0933, -0.0549, 0.223)]
    got = cost_lines(metrics=[info], values=values, differences=diffs, split="test",
                     recommended="rule", others=["gbdt"], unit="EUR")
    assert got is not None
    assert got.lines[1] == ("rule: −0.0421 [−0.0913, 0.0107] (−42 EUR per 1,000 cases) "
                            "← recommended")
    # One interval, one number of decimals: three significant digits of its largest.
    assert got.lines[2] == "gbdt: 0.051 [−0.004, 0.112] (51 EUR per 1,000 cases)"
    assert got.lines[3] == ("gbdt − rule: +0.093 [−0.055, +0.223] EUR per case "
                            "(+93 EUR per 1,000 cases)")
    # Without a unit: no dangling "in", and still what the thousand counts.
    bare = cost_lines(metrics=[info], values=values, differences=diffs, split="test",
                      recommended="rule", others=["gbdt"], unit="")
    assert bare is not None
    assert bare.lines[0] == "net_value: net value (against acting on no case) per case on test"
    assert bare.lines[2] == "gbdt: 0.051 [−0.004, 0.112] (51 per 1,000 cases)"
    assert bare.lines[3] == "gbdt − rule: +0.093 [−0.055, +0.223] per case (+93 per 1,000 cases)"


def test_cost_lines_recommend_only_what_the_verdict_recommends() -> None:
    """Under "not good enough" the costs section marks the verdict's model as the nearest to
    the requirements, not "← recommended", and argues against no choice ("but … is worth
    more"); a recommended model is marked and argued against as before."""
    from mlscope.compare.launch_costs import cost_lines
    from mlscope.result.core import Difference, MetricInfo, MetricValue
    from mlscope.result.verdict import model_role

    info = MetricInfo(id="net_value", name="net_value", label="Net value", direction="higher",
                      params={}, description="")
    values = {("forest", "net_value"): MetricValue("test", "forest", "overall", "net_value",
                                                   0.10, 0.05, 0.15),
              ("gbdt", "net_value"): MetricValue("test", "gbdt", "overall", "net_value",
                                                 0.40, 0.30, 0.50)}
    # gbdt is worth more than forest beyond the paired interval.
    diffs = [Difference("test", "overall", "net_value", "gbdt", "forest", 0.30, 0.20, 0.40)]
    kw = {"metrics": [info], "values": values, "differences": diffs, "split": "test",
          "recommended": "forest", "others": ["gbdt"], "unit": "EUR"}
    shipped = cost_lines(**kw, role=model_role("ship"))  # type: ignore[arg-type]
    assert shipped is not None
    assert shipped.lines[1].endswith("← recommended")
    assert shipped.reason is not None
    assert shipped.reason.text.startswith("but gbdt is worth +0.3")
    nearest = cost_lines(**kw, role=model_role("not_good_enough"))  # type: ignore[arg-type]
    assert nearest is not None
    assert nearest.lines[1].endswith("← nearest to the requirements")
    assert not any("recommended" in line for line in nearest.lines)
    assert nearest.reason is None
    assert model_role("undecided") == "selected, not decided"


def test_cost_lines_print_a_zero_difference_as_zero() -> None:
    """Two models of the same cost, the difference stored the other way round: negating it
    printed "−0 [−0, −0] EUR per case (−0 EUR per 1,000 cases)" (digits QA)."""
    from mlscope.compare.launch_costs import cost_lines
    from mlscope.result.core import Difference, MetricInfo, MetricValue

    info = MetricInfo(id="cost", name="expected_cost", label="Expected cost",
                      direction="lower", params={}, description="")
    values = {(m, "cost"): MetricValue("test", m, "overall", "cost", 0.00889, 0.0, 0.0222)
              for m in ("rule", "logreg")}
    diffs = [Difference("test", "overall", "cost", "rule", "logreg", 0.0, 0.0, 0.0)]
    got = cost_lines(metrics=[info], values=values, differences=diffs, split="test",
                     recommended="rule", others=["logreg"], unit="EUR")
    assert got is not None
    assert got.lines[3] == "logreg − rule: 0 [0, 0] EUR per case (0 EUR per 1,000 cases)"
