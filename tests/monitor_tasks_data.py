"""Seeded regression and multiclass production streams with known truth (the population of
:mod:`tests.monitor_data`, with a numeric label or three classes), and their charters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tests.monitor_data import DEVICES, REGIONS, write_project

CLASSES = ["a", "b", "c"]
_REGION = {"north": 0.0, "south": 0.5, "east": -0.5, "west": 1.0}


def _features(n: int, rng: np.random.Generator, age_shift: float) -> pd.DataFrame:
    return pd.DataFrame({
        "age": rng.normal(40 + age_shift, 10, n).round(0),
        "income": np.exp(rng.normal(10, 0.5, n)).round(-2),
        "visits": rng.poisson(3, n),
        "region": rng.choice(REGIONS[0], n, p=REGIONS[1]),
        "device": rng.choice(DEVICES[0], n, p=DEVICES[1]),
    })


def regression_population(n: int, rng: np.random.Generator, *, age_shift: float = 0.0,
                          noise: float = 1.0) -> pd.DataFrame:
    """``n`` rows: features, the model's prediction ``pred`` (the true mean) and the label
    ``y = pred + N(0, noise²)``. ``age_shift`` is a covariate shift; ``noise`` above 1 makes
    the model's errors larger (the labels move away from the predictions)."""
    out = _features(n, rng, age_shift)
    z = (np.log(out["income"]) - 10) / 0.5
    pred = 5 + 0.08 * (out["age"] - 40) + 0.6 * z + 0.2 * (out["visits"] - 3) + out[
        "region"].map(_REGION)
    out["pred"] = pred.round(4)
    out["y"] = (pred + rng.normal(0, noise, n)).round(4)
    return out


def multiclass_population(n: int, rng: np.random.Generator, *, age_shift: float = 0.0,
                          prior: dict[str, float] | None = None) -> pd.DataFrame:
    """``n`` rows: features, the true class probabilities ``p_a, p_b, p_c`` (calibrated by
    construction) and the label ``label`` drawn from them. ``age_shift`` is a covariate
    shift (``P(y | x)`` unchanged)."""
    out = _features(n, rng, age_shift)
    z = (np.log(out["income"]) - 10) / 0.5
    age = (out["age"] - 40) / 10
    logits = np.column_stack([
        np.zeros(n),
        0.9 * z - 0.6 * age + out["region"].map(_REGION).to_numpy(),
        -0.8 * z + 0.9 * age + 0.3 * (out["visits"] - 3),
    ])
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    u = rng.random((n, 1))
    label = np.minimum((u > np.cumsum(p, axis=1)).sum(axis=1), 2)
    # Rounded so that each row still sums to 1 (the charter's data check).
    pr = p.round(5)
    pr[:, 2] = 1.0 - pr[:, 0] - pr[:, 1]
    for i, c in enumerate(CLASSES):
        out[f"p_{c}"] = pr[:, i]
    out["label"] = np.asarray(CLASSES, dtype=object)[label]
    return out


def regression_project(folder: Path, reference: pd.DataFrame, **over: Any) -> Path:
    """A regression charter (MAE and RMSE) monitoring ``ridge`` (log column ``pred``)."""
    monitor = over.pop("monitor", {})
    over.setdefault("data", {"table": "eval.parquet", "id": "row_id", "label": "y",
                             "split": "split", "models": {"ridge": "pred"}})
    return write_project(
        folder, reference, monitor={"model": "ridge", "label": "y", **monitor},
        task="regression", metrics=["mae", "rmse"],
        selection={"rule": "satisficing", "optimize": "mae"}, **over)


def multiclass_project(folder: Path, reference: pd.DataFrame, **over: Any) -> Path:
    """A multiclass charter (accuracy, macro F1) monitoring ``forest``."""
    monitor = over.pop("monitor", {})
    over.setdefault("metrics", ["accuracy", "f1_macro"])
    return write_project(
        folder, reference, monitor={"model": "forest", **monitor}, task="multiclass",
        data={"table": "eval.parquet", "id": "row_id", "label": "label", "split": "split",
              "classes": CLASSES, "models": {"forest": {c: f"p_{c}" for c in CLASSES}}},
        selection={"rule": "satisficing", "optimize": "accuracy"}, **over)
