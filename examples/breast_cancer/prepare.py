"""Prepare the breast-cancer screening example: split, fit three models, score them.

The Wisconsin diagnostic breast cancer data (569 real fine-needle aspirates, 212
malignant) ships inside scikit-learn, so nothing is downloaded. This script

1. splits the cases, stratified on the diagnosis and seeded, into train (50%), validation
   (25%: where mlscope chooses a model and its operating threshold) and test (25%: where
   the chosen model's requirements are checked);
2. fits three scikit-learn classifiers on the train cases;
3. writes ``data/cancer_eval.parquet``: one row per case with the label (1 = malignant),
   a slice column (tumour size band, from the mean radius), the 30 measurements (for the
   baselines mlscope fits itself and for the clinicians' rule) and each model's predicted
   probability of malignancy.

Usage::

    python examples/breast_cancer/prepare.py [--out DIR] [--seed 7]

Deterministic for a given seed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from mlscope.data.parquet import write_parquet

HERE = Path(__file__).resolve().parent


def load() -> tuple[pd.DataFrame, pd.Series]:
    """The 30 measurements (column names with underscores) and 1 = malignant."""
    data = load_breast_cancer(as_frame=True)
    X = data.data.copy()
    X.columns = [c.replace(" ", "_") for c in X.columns]
    # scikit-learn codes malignant as 0; the screening question is "is it malignant?".
    y = (data.target == 0).astype(np.int64).rename("malignant")
    return X, y


def split_rows(y: pd.Series, seed: int) -> pd.Series:
    """A stratified, seeded train/validation/test assignment, one label per row."""
    idx = np.arange(len(y))
    train, rest = train_test_split(idx, train_size=0.5, stratify=y.to_numpy(),
                                   random_state=seed)
    validation, test = train_test_split(rest, train_size=0.5, stratify=y.to_numpy()[rest],
                                        random_state=seed + 1)
    split = np.empty(len(y), dtype=object)
    split[train], split[validation], split[test] = "train", "validation", "test"
    return pd.Series(split, index=y.index, name="split")


def candidate_models(seed: int) -> dict[str, Any]:
    """Three learners; each name becomes the score column ``p_<name>``."""
    return {
        "logistic": make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=2000)),
        "gbdt": HistGradientBoostingClassifier(max_depth=3, learning_rate=0.1,
                                               random_state=seed),
        "tree": DecisionTreeClassifier(max_depth=3, min_samples_leaf=10, random_state=seed),
    }


def size_band(radius: pd.Series) -> pd.Series:
    """Tumour size band from the mean radius (mm): the slices a screening team reads."""
    return pd.cut(radius, bins=[0, 12, 15, np.inf],
                  labels=["small (<12)", "medium (12-15)", "large (>15)"]).astype(str)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "data")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    X, y = load()
    split = split_rows(y, args.seed)
    train = (split == "train").to_numpy()
    frame = pd.DataFrame({"case_id": [f"c{i:04d}" for i in range(len(y))],
                          "malignant": y.to_numpy(), "split": split.to_numpy(),
                          "size_band": size_band(X["mean_radius"]).to_numpy()})
    frame = pd.concat([frame, X.reset_index(drop=True)], axis=1)
    for name, model in candidate_models(args.seed).items():
        model.fit(X[train], y[train])
        frame[f"p_{name}"] = model.predict_proba(X)[:, 1]
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "cancer_eval.parquet"
    write_parquet(frame, path)
    print(f"wrote {path} ({len(frame)} cases, {int(y.sum())} malignant)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
