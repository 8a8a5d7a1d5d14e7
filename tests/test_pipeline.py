"""End to end: charter -> evaluation -> selection -> outputs, on generated data."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, precision_score, roc_auc_score

import mlscope
from mlscope.result import EvaluationResult
from tests.conftest import base_charter, binary_frame


def test_every_value_matches_sklearn(project: Callable[..., Path]) -> None:
    df = binary_frame(n=900, seed=4)
    cpath = project(df)
    res = mlscope.evaluate(cpath)
    n_checked = 0
    for split in ("validation", "test"):
        for key, mask in {
            "overall": np.ones(len(df), bool),
            "region=north": (df.region == "north").to_numpy(),
            "region=south × device=web": ((df.region == "south") & (df.device == "web")).to_numpy(),
            "rich": (df.balance > 2000).to_numpy(),
        }.items():
            sub = df[mask & (df.split == split).to_numpy()]
            for model in ("good", "fair", "weak"):
                s = sub[f"p_{model}"]
                v = res.value("roc_auc", model, split=split, slice=key)
                if len(sub) < 10:
                    assert v.value is None
                    assert "too small" in (v.undefined or "")
                    continue
                assert v.value == pytest.approx(roc_auc_score(sub.label, s), abs=1e-9)
                ap = res.value("average_precision", model, split=split, slice=key).value
                assert ap == pytest.approx(average_precision_score(sub.label, s), abs=1e-9)
                if (s >= 0.5).any():
                    p = res.value("precision", model, split=split, slice=key).value
                    assert p == pytest.approx(precision_score(sub.label, s >= 0.5), abs=1e-9)
                n_checked += 1
    assert n_checked >= 20


def test_intervals_bracket_estimates_and_are_reproducible(project: Callable[..., Path]) -> None:
    cpath = project()
    a = mlscope.evaluate(cpath)
    b = mlscope.evaluate(cpath)
    overall = [v for v in a.values if v.slice == "overall" and v.split == "validation"]
    assert all(v.lower is not None and v.upper is not None for v in overall
               if v.value is not None)
    for v in overall:
        if v.value is not None and v.lower is not None and v.upper is not None:
            assert v.lower <= v.upper
    assert [(v.lower, v.upper) for v in a.values] == [(v.lower, v.upper) for v in b.values]
    c = mlscope.evaluate(cpath, seed=99)
    assert [(v.lower, v.upper) for v in c.values] != [(v.lower, v.upper) for v in a.values]
    assert a.interval.resamples == 50
    assert a.interval.seed == 7
    assert a.interval.level == 0.95


def test_operating_threshold_is_chosen_on_validation_and_carried(
    project: Callable[..., Path],
) -> None:
    df = binary_frame(n=900, seed=8)
    res = mlscope.evaluate(project(df), resamples=0)
    from sklearn.metrics import f1_score

    for th in res.thresholds:
        assert th.chosen_on == "validation"
        assert th.threshold is not None
        test = df[df.split == "test"]
        expect = f1_score(test.label, test[f"p_{th.model}"] >= th.threshold)
        got = res.value("f1_best", th.model, split="test").value
        assert got == pytest.approx(expect, abs=1e-9)


def test_selection_and_exit_code(project: Callable[..., Path]) -> None:
    res = mlscope.evaluate(project(), resamples=0)
    sel = res.selection
    assert sel is not None
    kinds = [sel.primary.rule] + [a.rule for a in sel.alternatives]
    assert sorted(kinds) == ["formula", "pareto", "satisficing", "weighted"]
    assert res.winner in {"good", "fair", "weak"}
    assert res.status == "requirements_met"
    assert res.exit_code == 0
    assert res.requirements[0].split == "test"


def test_unmet_requirement_gives_exit_code_1(tmp_path: Path,
                                             project: Callable[..., Path]) -> None:
    c = base_charter("eval.parquet", requirements={"roc_auc": ">= 0.99"})
    res = mlscope.evaluate(project(charter=c), resamples=0)
    assert res.status == "requirements_not_met"
    assert res.exit_code == 1
    assert not res.requirements[0].met
    assert (res.requirements[0].margin or 0) < 0


def test_no_eligible_model_is_no_decision(project: Callable[..., Path]) -> None:
    c = base_charter("eval.parquet", selection={
        "rule": "satisficing", "optimize": "precision", "constraints": {"recall": ">= 0.999"}})
    res = mlscope.evaluate(project(charter=c), resamples=0)
    assert res.winner is None
    assert res.status == "no_decision"
    assert res.exit_code == 1
    assert res.selection is not None
    assert all(d["reasons"] for d in res.selection.primary.dropped)


def test_json_round_trip(project: Callable[..., Path], tmp_path: Path) -> None:
    res = mlscope.evaluate(project())
    path = tmp_path / "r.json"
    res.to_json(path)
    raw = json.loads(path.read_text())
    assert raw["schema"] == "mlscope.result/1"
    back = EvaluationResult.from_json(path)
    assert back.to_dict() == json.loads(res.to_json())
    assert "NaN" not in path.read_text()


def test_duckdb_engine_gives_identical_results(project: Callable[..., Path]) -> None:
    cpath = project()
    a = mlscope.evaluate(cpath, engine="numpy")
    b = mlscope.evaluate(cpath, engine="duckdb")
    for va, vb in zip(a.values, b.values, strict=True):
        assert (va.split, va.model, va.slice, va.metric) == (vb.split, vb.model, vb.slice,
                                                             vb.metric)
        if va.value is None:
            assert vb.value is None
        else:
            assert vb.value == pytest.approx(va.value, abs=1e-12)
            assert (va.lower, va.upper) == pytest.approx((vb.lower, vb.upper), abs=1e-12)


def test_custom_metric(project: Callable[..., Path], tmp_path: Path) -> None:
    (tmp_path / "my_metrics.py").write_text(
        "import numpy as np\n"
        "def top_decile_lift(y, s, w):\n"
        "    cut = np.quantile(s, 0.9)\n"
        "    top = s >= cut\n"
        "    return float(np.average(y[top], weights=w[top]) / np.average(y, weights=w))\n"
    )
    c = base_charter("eval.parquet")
    c["metrics"] = [*c["metrics"], {"id": "lift", "custom": "my_metrics:top_decile_lift",
                                    "direction": "higher"}]
    res = mlscope.evaluate(project(charter=c))
    v = res.value("lift", "good")
    assert v.value is not None
    assert v.value > 1
    assert v.lower is not None
    assert v.lower <= v.value <= (v.upper or 0)


def test_custom_metric_errors_are_attributed(project: Callable[..., Path],
                                             tmp_path: Path) -> None:
    (tmp_path / "bad_metrics.py").write_text("def m(y, s, w):\n    return 1 / 0\n")
    c = base_charter("eval.parquet")
    c["metrics"] = [*c["metrics"], {"id": "bad", "custom": "bad_metrics:m",
                                    "direction": "higher"}]
    with pytest.raises(mlscope.InputError, match="custom metric `bad`") as info:
        mlscope.evaluate(project(charter=c), resamples=0)
    assert "ZeroDivisionError" in str(info.value)


def test_bucket_bootstrap_in_the_pipeline(project: Callable[..., Path]) -> None:
    c = base_charter("eval.parquet")
    c["intervals"] = {"resamples": 60, "resampling": "buckets", "buckets": 64}
    res = mlscope.evaluate(project(binary_frame(n=3000, seed=2), charter=c))
    assert "64 random buckets" in res.interval.note
    rows = mlscope.evaluate(project(binary_frame(n=3000, seed=2),
                                    charter={**c, "intervals": {"resamples": 60,
                                                                "resampling": "rows"}}))
    assert "buckets" not in rows.interval.note
    for v in res.values:
        if v.split in ("validation", "test") and v.slice == "overall" and v.value is not None:
            assert v.lower is not None
            assert v.upper is not None
            assert v.lower <= v.value <= v.upper
    # Point estimates do not depend on how intervals are resampled.
    assert [v.value for v in res.values] == [v.value for v in rows.values]
    # Paired differences exist under both schemes.
    assert any(d.lower is not None for d in res.differences)


def test_bucket_bootstrap_is_refused_where_it_does_not_apply(
        project: Callable[..., Path], tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def f(y, s, w):\n    return float((w * s).sum())\n")
    c = base_charter("eval.parquet")
    c["metrics"] = [*c["metrics"], {"id": "mine", "custom": "m:f", "direction": "higher"}]
    c["intervals"] = {"resamples": 20, "resampling": "buckets"}
    with pytest.raises(mlscope.InputError, match="buckets applies to binary"):
        mlscope.evaluate(project(charter=c))


def test_progress_reports_every_stage_to_completion(project: Callable[..., Path]) -> None:
    seen: dict[str, list[tuple[int, int]]] = {}
    cpath = project()
    mlscope.evaluate(cpath, resamples=30,
                     progress=lambda stage, done, total: seen.setdefault(stage, []).append(
                         (done, total)))
    steps = [s for s in seen if s.startswith("step: ")]
    assert set(seen) - set(steps) == {"point estimates", "intervals validation",
                                      "intervals test"}
    for stage, calls in seen.items():
        if stage.startswith("step: "):
            continue
        dones = [d for d, _ in calls]
        assert dones == sorted(dones)
        assert calls[-1][0] == calls[-1][1]  # finished
    assert seen["intervals test"][-1] == (30, 30)
    # The intervals move model by model, not in one jump from 0 to the end.
    assert len({d for d, _ in seen["intervals test"]}) > 2
    # One display over every stage: named steps counting up to their total, then done.
    order = [(s, d, t) for s in steps for d, t in seen[s]]
    order.sort(key=lambda x: x[1])
    assert [d for _, d, _ in order] == list(range(len(order)))
    assert {t for _, _, t in order} == {len(order) - 1}
    assert order[0][0] == "step: opening the data"
    assert order[-1][0] == "step: done"
