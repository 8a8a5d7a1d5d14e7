"""ONNX models in `mlscope profile`: exported with skl2onnx (the `profile` extra), matched to
the data's columns by input name, by the model's `features` metadata, or by width; the
probabilities equal scikit-learn's. The data are generated (seeded)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from mlscope.cli import main

pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")


def _project(tmp_path: Path) -> tuple[Path, pd.DataFrame, object]:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)
    n = 200
    df = pd.DataFrame({"row_id": np.arange(n), "x1": rng.normal(size=n),
                       "x2": rng.normal(size=n), "region": rng.choice(["n", "s"], n)})
    df["label"] = (df["x1"] - df["x2"] + rng.normal(size=n) > 0).astype(int)
    df["split"] = np.where(np.arange(n) % 2 == 0, "validation", "test")
    model = LogisticRegression().fit(df[["x1", "x2"]], df["label"])
    df["p_lr"] = model.predict_proba(df[["x1", "x2"]])[:, 1]
    df.to_parquet(tmp_path / "eval.parquet", index=False)
    (tmp_path / "models").mkdir()
    charter = {
        "project": "onnx", "task": "binary", "seed": 1,
        "data": {"table": "eval.parquet", "id": "row_id", "label": "label", "split": "split",
                 "models": {"lr": "p_lr"}},
        "metrics": ["roc_auc"], "selection": {"rule": "satisficing", "optimize": "roc_auc"},
    }
    path = tmp_path / "mlscope.yaml"
    path.write_text(yaml.safe_dump(charter, sort_keys=False), encoding="utf-8")
    return path, df, model


def _export(model: object, path: Path, form: str, df: pd.DataFrame) -> None:
    import onnx
    from skl2onnx.common.data_types import FloatTensorType

    if form == "columns":
        # One input per column needs a model that joins them: a column transformer.
        from sklearn.base import clone
        from sklearn.compose import ColumnTransformer
        from sklearn.pipeline import make_pipeline

        lr = clone(model)  # refitted below on the same rows: the same coefficients
        model = make_pipeline(ColumnTransformer([("x", "passthrough", ["x1", "x2"])]), lr)
        model.fit(df[["x1", "x2"]], df["label"])
        types = [("x1", FloatTensorType([None, 1])), ("x2", FloatTensorType([None, 1]))]
        onx = skl2onnx.convert_sklearn(model, initial_types=types,
                                       options={id(lr): {"zipmap": False}})
        path.write_bytes(onx.SerializeToString())
        return
    else:
        types = [("X", FloatTensorType([None, 2]))]
    onx = skl2onnx.convert_sklearn(model, initial_types=types,
                                   options={id(model): {"zipmap": False}})
    if form == "metadata":
        onnx.helper.set_model_props(onx, {"features": json.dumps(["x1", "x2"])})
    path.write_bytes(onx.SerializeToString())


@pytest.mark.parametrize("form", ["columns", "metadata", "width"])
def test_onnx_model_is_fed_the_right_columns(tmp_path: Path, form: str) -> None:
    from mlscope.profile.loaders import load_model, prepare_batches

    charter, df, model = _project(tmp_path)
    _export(model, tmp_path / "models" / "lr.onnx", form, df)
    loaded = load_model("lr", "models/lr.onnx", tmp_path)
    rows = df[["x1", "x2", "region"]].iloc[:20]
    (feed,) = prepare_batches(loaded, rows, 20, 1)
    proba = np.asarray(loaded.predict(feed))[:, 1]
    want = model.predict_proba(rows[["x1", "x2"]])[:, 1]  # type: ignore[attr-defined]
    np.testing.assert_allclose(proba, want, rtol=1e-5, atol=1e-6)
    assert loaded.features == ["x1", "x2"]
    # Only a guess by width is said to be one.
    assert bool(loaded.notes) == (form == "width")
    # And through the command: profiled, with the note in profile.json.
    r = CliRunner().invoke(main, ["profile", str(charter), "--artifact",
                                  f"lr={tmp_path / 'models' / 'lr.onnx'}", "--scenario",
                                  "single-stream", "--calls", "30", "--no-memory"])
    assert r.exit_code == 0, r.output
    rec = json.loads((tmp_path / "mlscope-out" / "profile" / "profile.json").read_text())
    m = rec["models"]["lr"]
    assert m["kind"] == "onnx"
    # The values the graph stores: skl2onnx's LinearClassifier keeps both classes'
    # coefficients and intercepts (2 × 2 + 2), where scikit-learn keeps 3.
    assert m["parameters"] == 6
    assert any("names no columns" in n for n in m["notes"]) == (form == "width")


def test_onnx_model_whose_columns_cannot_be_named_exits_2(tmp_path: Path) -> None:
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression

    charter, df, _ = _project(tmp_path)
    three = LogisticRegression().fit(np.c_[df[["x1", "x2"]], df["x1"] ** 2], df["label"])
    onx = skl2onnx.convert_sklearn(three, initial_types=[("X", FloatTensorType([None, 3]))])
    (tmp_path / "models" / "three.onnx").write_bytes(onx.SerializeToString())
    r = CliRunner().invoke(main, ["profile", str(charter), "--artifact",
                                  f"three={tmp_path / 'models' / 'three.onnx'}",
                                  "--calls", "30", "--no-memory"])
    assert r.exit_code == 2, r.output
    assert "takes 3 column(s) without naming them" in r.output
    assert "set_model_props" in r.output
