"""End to end for every task and data layout, each value checked against scikit-learn.

The tables are generated (seeded) so that the truth is known: models of differing quality,
scores on a coarse grid so that ties are common.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    median_absolute_error,
    r2_score,
    roc_auc_score,
    top_k_accuracy_score,
)

import mlscope
from mlscope.cli import main
from mlscope.report import render_html
from mlscope.result import EvaluationResult

CLASSES = ["oak", "maple", "birch"]


def _write(tmp_path: Path, charter: dict[str, Any], **tables: pd.DataFrame) -> Path:
    for name, df in tables.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".csv"):
            df.to_csv(path, index=False)
        else:
            df.to_parquet(path, index=False)
    cpath = tmp_path / "mlscope.yaml"
    cpath.write_text(yaml.safe_dump(charter, sort_keys=False), encoding="utf-8")
    return cpath


def multiclass_frame(n: int = 900, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.choice(len(CLASSES), size=n, p=[0.5, 0.3, 0.2])
    df = pd.DataFrame({
        "image_id": [f"img{i:05d}" for i in range(n)],
        "species": np.array(CLASSES)[y],
        "split": rng.choice(["train", "validation", "test"], size=n, p=[0.2, 0.4, 0.4]),
        "camera": rng.choice(["a", "b", "c"], size=n),
    })
    for name, sharp in (("resnet", 2.0), ("vit", 1.0), ("tiny", 0.3)):
        logits = rng.normal(size=(n, len(CLASSES)))
        logits[np.arange(n), y] += sharp
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        p = np.round(p * 20) / 20  # ties
        p = p / p.sum(axis=1, keepdims=True)
        for k, c in enumerate(CLASSES):
            df[f"{name}_{c}"] = p[:, k]
    return df


def _mc_charter(table: str = "eval.parquet") -> dict[str, Any]:
    return {
        "project": "leaf-species",
        "task": "multiclass",
        "seed": 3,
        "data": {
            "table": table, "id": "image_id", "label": "species", "split": "split",
            "classes": CLASSES,
            "models": {m: {c: f"{m}_{c}" for c in CLASSES} for m in ("resnet", "vit", "tiny")},
        },
        "slices": {"columns": ["camera"], "min_size": 10},
        "metrics": ["accuracy", "log_loss", "f1_macro", "mean_average_precision",
                    {"id": "top2", "metric": "top_k_accuracy", "k": 2}],
        "selection": {"rule": "satisficing", "optimize": "accuracy",
                      "constraints": {"log_loss": "<= 5"}},
        "requirements": {"accuracy": ">= 0.5"},
        "intervals": {"resamples": 40},
    }


def _check_multiclass(res: EvaluationResult, df: pd.DataFrame) -> None:
    n_checked = 0
    for split in ("validation", "test"):
        for skey, mask in {"overall": np.ones(len(df), bool),
                           "camera=b": (df.camera == "b").to_numpy()}.items():
            sub = df[mask & (df.split == split).to_numpy()]
            y = sub.species.map({c: i for i, c in enumerate(CLASSES)}).to_numpy()
            for m in ("resnet", "vit", "tiny"):
                p = sub[[f"{m}_{c}" for c in CLASSES]].to_numpy()
                pred = p.argmax(axis=1)

                def val(metric: str, m: str = m, split: str = split, skey: str = skey) -> Any:
                    return res.value(metric, m, split=split, slice=skey).value

                assert val("accuracy") == pytest.approx(accuracy_score(y, pred), abs=1e-9)
                assert val("log_loss") == pytest.approx(
                    log_loss(y, p, labels=[0, 1, 2]), abs=1e-9)
                assert val("f1_macro") == pytest.approx(
                    f1_score(y, pred, average="macro"), abs=1e-9)
                assert val("top2") == pytest.approx(
                    top_k_accuracy_score(y, p, k=2, labels=[0, 1, 2]), abs=1e-9)
                ap = np.mean([average_precision_score(y == k, p[:, k]) for k in range(3)])
                assert val("mean_average_precision") == pytest.approx(ap, abs=1e-9)
                n_checked += 1
    assert n_checked == 12


def test_multiclass_wide_matches_sklearn_with_confusion(tmp_path: Path) -> None:
    df = multiclass_frame()
    res = mlscope.evaluate(_write(tmp_path, _mc_charter(), **{"eval.parquet": df}))
    _check_multiclass(res, df)
    assert res.selection is not None
    assert res.selection.primary.winner == "resnet"
    # Confusion matrices: one per model and split, equal to scikit-learn's.
    assert {(c.split, c.model) for c in res.confusion} == {
        (s, m) for s in ("train", "validation", "test") for m in ("resnet", "vit", "tiny")}
    cm = next(c for c in res.confusion if c.split == "test" and c.model == "vit")
    sub = df[df.split == "test"]
    y = sub.species.map({c: i for i, c in enumerate(CLASSES)}).to_numpy()
    pred = sub[[f"vit_{c}" for c in CLASSES]].to_numpy().argmax(axis=1)
    assert cm.classes == CLASSES
    np.testing.assert_array_equal(np.array(cm.counts), confusion_matrix(y, pred))
    assert "@" not in res.metric_info("accuracy").label  # no binary threshold in multiclass
    page = render_html(res)
    assert 'id="confusion"' in page
    assert "true ↓ predicted →" in page
    # Three classes: full cells, the grid's columns sized for them.
    assert '<div class="cm-grid" style="--cm-min: ' in page
    assert "the count is below" in page
    # Ten classes: compact cells in columns wide enough for all of them (a 10-class
    # matrix in a column sized for three hid d6–d9 behind a scroll bar: digits QA).
    from mlscope.report.panels_analysis import confusion_panel

    ten = [f"d{i}" for i in range(10)]
    wide = dataclasses.replace(res, confusion=[
        dataclasses.replace(c, classes=ten, counts=[[int(i == j) * 5 for j in range(10)]
                                                    for i in range(10)])
        for c in res.confusion])
    panel = confusion_panel(wide)
    assert panel is not None
    assert panel["compact"] is True
    assert panel["min_width"] >= 40 * 11
    assert confusion_panel(res)["min_width"] < panel["min_width"]  # type: ignore[index]
    wide_page = render_html(wide)
    assert '<div class="cm-grid compact" style="--cm-min: ' in wide_page
    assert "hover a cell for its count" in wide_page
    again = EvaluationResult.from_dict(res.to_dict())
    assert again.confusion == res.confusion


def test_multiclass_long_table_gives_the_same_numbers(tmp_path: Path) -> None:
    df = multiclass_frame()
    long = pd.concat([
        df[["image_id", "species", "split", "camera"]].assign(
            model=m, **{c: df[f"{m}_{c}"] for c in CLASSES})
        for m in ("resnet", "vit", "tiny")
    ], ignore_index=True)
    ch = _mc_charter("long.parquet")
    del ch["data"]["models"]
    ch["data"]["long"] = {"model_column": "model", "classes": {c: c for c in CLASSES}}
    res = mlscope.evaluate(_write(tmp_path, ch, **{"long.parquet": long}))
    _check_multiclass(res, df)


def regression_frame(n: int = 800, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = np.round(3 * x + rng.normal(size=n), 1)
    df = pd.DataFrame({
        "id": np.arange(n), "y": y,
        "split": rng.choice(["validation", "test"], size=n),
        "season": rng.choice(["winter", "summer"], size=n),
    })
    for name, noise in (("ridge", 0.8), ("tree", 1.5), ("mean", 0.0)):
        pred = 3 * x + rng.normal(scale=noise, size=n) if noise else np.full(n, y.mean())
        df[f"pred_{name}"] = np.round(pred, 1)
    return df


def test_regression_matches_sklearn(tmp_path: Path) -> None:
    df = regression_frame()
    ch = {
        "project": "bikes", "task": "regression", "seed": 1,
        "data": {"table": "eval.csv", "id": "id", "label": "y", "split": "split",
                 "models": {m: f"pred_{m}" for m in ("ridge", "tree", "mean")}},
        "slices": {"columns": ["season"]},
        "metrics": ["mae", "rmse", "r2", "median_absolute_error", "p90_absolute_error"],
        "selection": {"rule": "weighted", "weights": {"mae": 1, "rmse": 1}},
        "requirements": {"r2": ">= 0.5"},
        "intervals": {"resamples": 30},
    }
    res = mlscope.evaluate(_write(tmp_path, ch, **{"eval.csv": df}))
    for split in ("validation", "test"):
        for skey, mask in {"overall": np.ones(len(df), bool),
                           "season=summer": (df.season == "summer").to_numpy()}.items():
            sub = df[mask & (df.split == split).to_numpy()]
            for m in ("ridge", "tree", "mean"):
                pred = sub[f"pred_{m}"]

                def val(metric: str, m: str = m, split: str = split, skey: str = skey) -> Any:
                    return res.value(metric, m, split=split, slice=skey).value

                assert val("mae") == pytest.approx(mean_absolute_error(sub.y, pred), abs=1e-9)
                assert val("rmse") == pytest.approx(
                    np.sqrt(mean_squared_error(sub.y, pred)), abs=1e-9)
                assert val("r2") == pytest.approx(r2_score(sub.y, pred), abs=1e-9)
                assert val("median_absolute_error") == pytest.approx(
                    median_absolute_error(sub.y, pred), abs=1e-9)
                assert val("p90_absolute_error") == pytest.approx(
                    np.percentile(np.abs(pred - sub.y), 90), abs=1e-9)
    assert res.selection is not None
    assert res.selection.primary.winner == "ridge"
    assert res.status == "requirements_met"
    assert res.confusion == []


def test_errors_task_pose_example(tmp_path: Path) -> None:
    """The charter reference's pose example: error columns only, no label."""
    rng = np.random.default_rng(5)
    n = 600
    df = pd.DataFrame({
        "frame_id": np.arange(n), "split": rng.choice(["validation", "test"], size=n),
        "lighting": rng.choice(["day", "night"], size=n),
        "scene": rng.choice(["indoor", "outdoor"], size=n),
        "speed_m_s": rng.gamma(2, 0.8, size=n),
        "pos_err_v1": rng.gamma(2, 1.0, size=n), "pos_err_v2": rng.gamma(2, 0.7, size=n),
        "ang_err_v1": rng.gamma(2, 0.6, size=n), "ang_err_v2": rng.gamma(2, 0.9, size=n),
    })
    ch = {
        "project": "pose-estimator-v2", "task": "errors",
        "data": {"table": "frames.parquet", "id": "frame_id", "split": "split",
                 "errors": {"position_cm": {"v1": "pos_err_v1", "v2": "pos_err_v2"},
                            "angle_deg": {"v1": "ang_err_v1", "v2": "ang_err_v2"}}},
        "slices": {"columns": ["lighting", "scene"], "where": {"fast_motion": "speed_m_s > 1.5"}},
        "metrics": [{"id": "pos_mean", "metric": "error_mean", "error": "position_cm"},
                    {"id": "pos_p90", "metric": "error_p90", "error": "position_cm"},
                    {"id": "ang_mean", "metric": "error_mean", "error": "angle_deg"},
                    {"id": "ang_max", "metric": "error_max", "error": "angle_deg"}],
        "selection": {"rule": "weighted", "weights": {"pos_mean": 2, "ang_mean": 1}},
        "alternatives": [{"rule": "satisficing", "optimize": "pos_mean",
                          "constraints": {"ang_mean": "<= 1.5"}}],
        "requirements": {"pos_p90": "<= 5"},
        "intervals": {"resamples": 30},
    }
    res = mlscope.evaluate(_write(tmp_path, ch, **{"frames.parquet": df}))
    for skey, mask in {"overall": np.ones(n, bool),
                       "fast_motion": (df.speed_m_s > 1.5).to_numpy()}.items():
        sub = df[mask & (df.split == "test").to_numpy()]
        for m in ("v1", "v2"):
            v = res.value("pos_mean", m, split="test", slice=skey)
            assert v.value == pytest.approx(sub[f"pos_err_{m}"].mean(), abs=1e-9)
            assert v.lower is not None
            assert v.upper is not None
            assert v.lower <= v.value <= v.upper
            assert res.value("pos_p90", m, split="test", slice=skey).value == pytest.approx(
                np.percentile(sub[f"pos_err_{m}"], 90), abs=1e-9)
            assert res.value("ang_max", m, split="test", slice=skey).value == pytest.approx(
                sub[f"ang_err_{m}"].max(), abs=1e-12)
    assert res.selection is not None
    assert res.selection.primary.winner == "v2"  # position weighs twice: 2x better there
    assert res.selection.alternatives[0].winner == "v1"  # v2's angle error misses <= 1.5


def test_labels_plus_prediction_files(tmp_path: Path,
                                      project: Callable[..., Path]) -> None:
    """Labels in one file, one predictions file per model (CSV and Parquet), shuffled."""
    from tests.conftest import binary_frame

    df = binary_frame(n=700, seed=9)
    labels = df[["row_id", "label", "split", "region", "device", "balance"]]
    good = df[["row_id", "p_good"]].sample(frac=1, random_state=1)
    fair = df[["row_id", "p_fair"]].sample(frac=1, random_state=2)
    ch = {
        "project": "readmission", "task": "binary",
        "data": {"labels": "data/labels.parquet", "id": "row_id", "label": "label",
                 "split": "split",
                 "predictions": {"good": {"path": "preds/good.csv", "score": "p_good"},
                                 "fair": {"path": "preds/fair.parquet", "score": "p_fair"}}},
        "slices": {"columns": ["region"]},
        "metrics": ["roc_auc", "brier"],
        "selection": {"rule": "weighted", "weights": {"roc_auc": 2, "brier": 1}},
        "intervals": {"resamples": 20},
    }
    cpath = _write(tmp_path, ch, **{"data/labels.parquet": labels, "preds/good.csv": good,
                                    "preds/fair.parquet": fair})
    res = mlscope.evaluate(cpath)
    sub = df[df.split == "test"]
    for m in ("good", "fair"):
        assert res.value("roc_auc", m, split="test").value == pytest.approx(
            roc_auc_score(sub.label, sub[f"p_{m}"]), abs=1e-9)
    assert res.selection is not None
    assert res.selection.primary.winner == "good"
    # A model missing predictions for some rows is an input error, not silently dropped.
    (tmp_path / "preds" / "good.csv").write_text(good.iloc[:-5].to_csv(index=False))
    from click.testing import CliRunner

    out = CliRunner().invoke(main, ["evaluate", str(cpath), "--out", str(tmp_path / "o")])
    assert out.exit_code == 2, out.output
    assert "good" in out.output
