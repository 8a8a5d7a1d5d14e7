"""Prepare the Caravan example: split the customers, fit five candidate models, score them.

The Caravan insurance data (CoIL Challenge 2000; 5,822 real customers of a Dutch insurer,
about 6% of whom bought a caravan insurance policy) ships inside the ``ISLP`` package, so
nothing is downloaded. This script

1. splits the customers, stratified on ``Purchase`` and seeded, into train (50%),
   validation (25%, where mlscope selects a model and picks operating thresholds) and test
   (25%, where the selected model's requirements are checked);
2. fits five genuinely different scikit-learn classifiers on the train rows;
3. writes one evaluation table, ``caravan_eval.parquet``: one row per customer (train rows
   too, useful for later diagnosis) with the label, readable slice columns decoded from
   the data set's codebook, the 85 raw features (for the baselines mlscope fits itself)
   and each model's predicted probability of a purchase.

Usage::

    python examples/caravan/prepare.py [--out DIR] [--seed 42]

Deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlscope.data.parquet import write_parquet

HERE = Path(__file__).resolve().parent

# Codebook of the CoIL 2000 data (https://liacs.leidenuniv.nl/~puttenpwhvander/library/cc2000/),
# table L2: customer main type (MOSHOOFD). The spelling "Religeous" is the codebook's.
CUSTOMER_TYPES: dict[int, str] = {
    1: "Successful hedonists",
    2: "Driven Growers",
    3: "Average Family",
    4: "Career Loners",
    5: "Living well",
    6: "Cruising Seniors",
    7: "Retired and Religeous",
    8: "Family with grown ups",
    9: "Conservative families",
    10: "Farmers",
}
# Table L1: average age (MGEMLEEF).
AGE_GROUPS: dict[int, str] = {
    1: "20-30 years",
    2: "30-40 years",
    3: "40-50 years",
    4: "50-60 years",
    5: "60-70 years",
    6: "70-80 years",
}
# Customer subtype (MOSTYPE, 41 levels) and main type (MOSHOOFD, 10 levels) are nominal
# codes; every other feature is a count or an ordinal band.
NOMINAL = ["MOSTYPE", "MOSHOOFD"]
SPLIT_SHARES = {"train": 0.50, "validation": 0.25, "test": 0.25}
# SIMULATED annotators. Caravan has no human judgements, so to show mlscope's human-level
# baseline this script simulates three sales agents who each read about 70% of the
# validation and test customers' files and guess "will buy" (1) or not (0). Each follows
# the Dawid-Skene model with a known sensitivity and specificity (below); nothing here is
# real human data, and the charter and README say so.
AGENTS: dict[str, tuple[float, float]] = {  # (sensitivity, specificity)
    "agent_1": (0.55, 0.80),
    "agent_2": (0.45, 0.85),
    "agent_3": (0.60, 0.75),
}
AGENT_COVERAGE = 0.7


def load_caravan() -> tuple[pd.DataFrame, pd.Series]:
    """The 85 features and the 0/1 purchase label, from the CSV bundled with ISLP."""
    from ISLP import load_data

    df = load_data("Caravan")
    y = (df["Purchase"].astype(str) == "Yes").astype(np.int64).rename("purchase")
    X = df.drop(columns=["Purchase"]).astype(np.float64)
    return X, y


def split_rows(y: pd.Series, seed: int) -> pd.Series:
    """A stratified, seeded train/validation/test assignment, one label per row."""
    idx = np.arange(len(y))
    train, rest = train_test_split(
        idx, train_size=SPLIT_SHARES["train"], stratify=y.to_numpy(), random_state=seed
    )
    validation, test = train_test_split(
        rest, train_size=0.5, stratify=y.to_numpy()[rest], random_state=seed + 1
    )
    split = np.empty(len(y), dtype=object)
    split[train], split[validation], split[test] = "train", "validation", "test"
    return pd.Series(split, index=y.index, name="split")


def candidate_models(columns: list[str], seed: int) -> dict[str, Any]:
    """Five different learners; each name becomes the score column ``p_<name>``."""
    numeric = [c for c in columns if c not in NOMINAL]

    def encoded() -> ColumnTransformer:
        # One-hot for the nominal codes, standardised values for the rest.
        return ColumnTransformer([
            ("nominal", OneHotEncoder(handle_unknown="ignore", min_frequency=10), NOMINAL),
            ("numeric", StandardScaler(), numeric),
        ])

    models: dict[str, Any] = {
        # A regularised linear model: the usual baseline for propensity scores.
        "logistic": Pipeline([
            ("encode", encoded()),
            ("model", LogisticRegression(C=0.01, max_iter=5000)),
        ]),
        # Shallow gradient-boosted trees (depth 3, 100 rounds): interactions, little overfit.
        "gbdt": HistGradientBoostingClassifier(
            learning_rate=0.05, max_iter=100, max_depth=3, min_samples_leaf=50,
            l2_regularization=1.0, early_stopping=False, random_state=seed,
        ),
        # Bagged deep trees; leaves of at least 20 customers keep the scores smooth.
        "forest": RandomForestClassifier(
            n_estimators=300, min_samples_leaf=20, max_features="sqrt", n_jobs=2,
            random_state=seed,
        ),
        # Share of buyers among the 75 most similar customers (standardised features).
        "knn": make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=75)),
        # Features as independent Gaussians per class: ranks fairly, calibrates badly.
        "naive_bayes": GaussianNB(),
    }
    return models


def build_table(seed: int) -> tuple[pd.DataFrame, dict[str, float]]:
    """The evaluation table and the seconds spent fitting and scoring each model."""
    X, y = load_caravan()
    split = split_rows(y, seed)
    train = (split == "train").to_numpy()

    table = pd.DataFrame({
        # Rows carry no identifier in the source; the 1-based row number stands in.
        "customer_id": np.arange(1, len(X) + 1, dtype=np.int64),
        "split": split.to_numpy(),
        "purchase": y.to_numpy(),
        "customer_type": X["MOSHOOFD"].astype(int).map(CUSTOMER_TYPES).to_numpy(),
        "age_group": X["MGEMLEEF"].astype(int).map(AGE_GROUPS).to_numpy(),
        # APERSAUT: number of car policies; PPERSAUT: contribution band for them (0-9).
        "car_policies": X["APERSAUT"].astype(np.int64).to_numpy(),
        "car_contribution": X["PPERSAUT"].astype(np.int64).to_numpy(),
    })
    if table[["customer_type", "age_group"]].isna().any().any():
        raise ValueError("a MOSHOOFD or MGEMLEEF code is missing from the codebook")
    # The 85 raw features under their codebook names (M*: zip-code demographics, P*:
    # contribution bands per insurance product, A*: number of policies per product), so
    # that mlscope can fit its own baselines on them.
    table = pd.concat([table, X.astype(np.int64).reset_index(drop=True)], axis=1)

    fit_seconds: dict[str, float] = {}
    for name, model in candidate_models(list(X.columns), seed).items():
        FITTED[name] = model
        start = time.perf_counter()
        model.fit(X[train], y[train])
        if isinstance(model, RandomForestClassifier):
            # Threads add the trees' probabilities in a varying order (last-bit noise);
            # predicting on one thread keeps the file identical from run to run.
            model.set_params(n_jobs=1)
        proba = model.predict_proba(X)[:, 1]
        fit_seconds[name] = time.perf_counter() - start
        table[f"p_{name}"] = proba.astype(np.float64)
        if name == "gbdt":
            table["p_gbdt_v2"] = faulty_release(model, X)
            HISTORY.update(training_history(model, X, y, split))
    simulate_agents(table, seed)
    return table, fit_seconds


# An INJECTED FAULT, to demonstrate `mlscope check`: "gbdt_v2" is the same gradient
# boosting model served by a new feature pipeline in which the product-ownership features
# (P*, A*) come out as 0 for one customer type (a lookup-table join that fails for
# "Driven Growers"). Overall it looks almost as good; on that slice it ranks badly.
FAULTY_TYPE = 2  # MOSHOOFD code of "Driven Growers"


def faulty_release(model: Any, X: pd.DataFrame) -> np.ndarray:
    """gbdt's probabilities with the product features zeroed for one customer type."""
    broken = X.copy()
    rows = broken["MOSHOOFD"].astype(int) == FAULTY_TYPE
    products = [c for c in broken.columns if c[0] in "PA"]
    broken.loc[rows, products] = 0.0
    return np.asarray(model.predict_proba(broken)[:, 1], dtype=np.float64)


HISTORY: dict[str, list[float]] = {}
# The fitted candidates, saved for `mlscope profile` (charter: profile.artifacts).
FITTED: dict[str, Any] = {}


def training_history(model: Any, X: pd.DataFrame, y: pd.Series, split: pd.Series
                     ) -> dict[str, list[float]]:
    """gbdt's training history: log loss on the train and validation customers after each
    boosting iteration (from its staged predictions), for `mlscope diagnose`."""
    from sklearn.metrics import log_loss

    out: dict[str, list[float]] = {"step": [], "train_loss": [], "val_loss": []}
    tr = (split == "train").to_numpy()
    va = (split == "validation").to_numpy()
    stages = zip(model.staged_predict_proba(X[tr]), model.staged_predict_proba(X[va]),
                 strict=True)
    for i, (p_tr, p_va) in enumerate(stages, start=1):
        out["step"].append(float(i))
        out["train_loss"].append(float(log_loss(y[tr], p_tr[:, 1])))
        out["val_loss"].append(float(log_loss(y[va], p_va[:, 1])))
    return out


def simulate_agents(table: pd.DataFrame, seed: int) -> None:
    """Add the SIMULATED agents' guesses (see :data:`AGENTS`): an empty cell where an
    agent did not read the customer's file (every train customer, ~30% of the others)."""
    rng = np.random.default_rng(seed + 1)
    y = table["purchase"].to_numpy().astype(bool)
    held_out = table["split"].isin(["validation", "test"]).to_numpy()
    for name, (sens, spec) in AGENTS.items():
        says_buy = np.where(y, rng.random(len(y)) < sens, rng.random(len(y)) >= spec)
        read = held_out & (rng.random(len(y)) < AGENT_COVERAGE)
        col = pd.Series(says_buy.astype(np.int64), dtype="Int64")
        table[name] = col.mask(~read)


def save_models(folder: Path) -> None:
    """Each fitted candidate as ``models/<name>.joblib``, the artifacts `mlscope profile`
    times (a pickle runs code when loaded: load only files you wrote)."""
    import joblib

    folder.mkdir(parents=True, exist_ok=True)
    for name, model in FITTED.items():
        joblib.dump(model, folder / f"{name}.joblib")
    save_onnx(FITTED["forest"], folder / "forest.onnx")


def save_onnx(model: Any, path: Path) -> bool:
    """The forest exported to ONNX with skl2onnx (the `profile` extra), for `mlscope profile`
    to time it under ONNX Runtime beside its joblib pickle; skipped without skl2onnx.

    (The gradient boosting does not convert with skl2onnx 1.20, and the logistic
    pipeline's column transformer selects columns by name, which a one-matrix ONNX input
    cannot carry; the forest converts exactly: probabilities within 1e-7.)"""
    try:
        import onnx
        from skl2onnx import to_onnx
        from skl2onnx.common.data_types import FloatTensorType
    except ImportError:
        return False
    columns = [str(c) for c in model.feature_names_in_]
    onx = to_onnx(model, initial_types=[("X", FloatTensorType([None, len(columns)]))],
                  options={id(model): {"zipmap": False}})
    # The input's columns, by name: mlscope feeds an ONNX model only columns it can name.
    onnx.helper.set_model_props(onx, {"features": json.dumps(columns)})
    path.write_bytes(onx.SerializeToString())
    return True


def summarize(table: pd.DataFrame, fit_seconds: dict[str, float]) -> str:
    """A short text summary: split sizes, buyers, and each model's validation quality."""
    lines = []
    for s in SPLIT_SHARES:
        part = table[table["split"] == s]
        lines.append(
            f"  {s:<10} {len(part):>5} customers, {int(part['purchase'].sum()):>3} buyers "
            f"({part['purchase'].mean():.1%})"
        )
    val = table[table["split"] == "validation"]
    lines.append("  model        seconds   val ROC AUC   val AP")
    for name, secs in fit_seconds.items():
        p = val[f"p_{name}"]
        lines.append(
            f"  {name:<12} {secs:7.2f}   {roc_auc_score(val['purchase'], p):11.3f}"
            f"   {average_precision_score(val['purchase'], p):6.3f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "data",
                        help="output folder (default: examples/caravan/data)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the split and models")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    table, fit_seconds = build_table(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "caravan_eval.parquet"
    write_parquet(table, path)
    pd.DataFrame(HISTORY).to_csv(args.out / "gbdt_history.csv", index=False)
    save_models(args.out / "models")
    print(f"Caravan: {len(table)} customers, {table['purchase'].mean():.1%} bought "
          f"caravan insurance; {len(fit_seconds)} candidate models (seed {args.seed})")
    print(summarize(table, fit_seconds))
    print(f"Wrote {path} ({len(table.columns)} columns) in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
