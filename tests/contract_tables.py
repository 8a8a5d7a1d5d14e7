"""Seeded tables and charters shared by the backend contract suites.

Generated with fixed seeds (``numpy.random.default_rng``), so every run sees the same rows:
the awkward cases (tied scores, weights, slice columns, a cross, a `where` predicate that
matches no row, a slice with one class, a slice below min_size) are there by construction.
Kept apart from the Spark-only ``test_backend_contract`` so suites that also run without
pyspark (``test_engine_contract``) can import them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from mlscope.metrics.registry import metrics_for_task

__all__ = [
    "all_metrics",
    "binary_charter",
    "binary_table",
    "errors_charter",
    "regression_charter",
    "regression_table",
    "write_case",
]




def binary_table(n: int = 900, seed: int = 11) -> pd.DataFrame:
    """Scores on a 0.05 grid (ties), weights, two slice columns, error columns.

    Region `arctic` holds only negatives (one class); region `moon` has 4 rows per split
    at most (below min_size); device `fax` exists only on the train split.
    """
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.35
    region = rng.choice(["north", "south", "east", "arctic"], size=n, p=[0.4, 0.3, 0.2, 0.1])
    y[region == "arctic"] = False
    split = rng.choice(["train", "validation", "test"], size=n, p=[0.2, 0.4, 0.4])
    device = rng.choice(["ios", "android", "web"], size=n)
    device[(split == "train") & (rng.random(n) < 0.2)] = "fax"
    region[:12] = "moon"
    latent = y * 1.2 + rng.normal(size=n)
    df = pd.DataFrame({
        "row_id": [f"r{i:05d}" for i in range(n)],
        "label": y.astype(int),
        "split": split,
        "region": region,
        "device": device,
        "balance": rng.gamma(2.0, 800.0, size=n).round(0),
        "weight": rng.choice([0.5, 1.0, 2.0, 3.7], size=n),
    })
    for name, noise in (("good", 0.6), ("fair", 1.3), ("flat", 50.0)):
        s = 1 / (1 + np.exp(-(latent + rng.normal(scale=noise, size=n))))
        df[f"p_{name}"] = np.round(s * 20) / 20
        df[f"lat_{name}"] = np.round(rng.gamma(2.0, 3.0, size=n), 1)
    return df


def regression_table(n: int = 800, seed: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = np.round(40 + 3 * x + rng.normal(size=n), 1)
    season = rng.choice(["winter", "summer", "spring"], size=n)
    y[season == "spring"] = 40.0  # a constant target: R² undefined there
    df = pd.DataFrame({
        "id": np.arange(n), "y": y,
        "split": rng.choice(["validation", "test"], size=n),
        "season": season,
        "city": rng.choice(["oslo", "rome"], size=n),
        "w": rng.choice([1.0, 2.0, 0.25], size=n),
        "km": rng.gamma(2, 4.0, size=n),
    })
    for name, noise in (("ridge", 0.8), ("tree", 1.5)):
        df[f"pred_{name}"] = np.round(40 + 3 * x + rng.normal(scale=noise, size=n), 1)
        df[f"late_{name}"] = np.round(rng.gamma(2, 2.0, size=n), 2)
    return df


def all_metrics(task: str, errors: list[str], classes: list[str] | None = None) -> list[Any]:
    """Every registry metric of ``task`` (defaults), some with other parameters too;
    a per-class metric (``cls``) once for each of ``classes``."""
    out: list[Any] = []
    for spec in metrics_for_task(task):
        if spec.name.startswith("error_"):
            out += [{"id": f"{spec.name}_{e}", "metric": spec.name, "error": e} for e in errors]
        elif "cls" in spec.params:
            out += [{"id": f"{spec.name}_{c}", "metric": spec.name, "cls": c}
                    for c in classes or []]
        else:
            out.append({"id": spec.name, "metric": spec.name})
    if task == "binary":
        out += [
            {"id": "recall_03", "metric": "recall", "threshold": 0.3},
            {"id": "f1_best", "metric": "f1", "threshold": "optimize"},
            {"id": "mcc_best", "metric": "mcc", "threshold": "optimize"},
            {"id": "fbeta2", "metric": "fbeta", "beta": 2.0, "threshold": 0.35},
            {"id": "prec_at_rec", "metric": "precision_at_recall", "recall": 0.6},
            {"id": "rec_at_prec", "metric": "recall_at_precision", "precision": 0.5},
            {"id": "accuracy_07", "metric": "accuracy", "threshold": 0.7},
            {"id": "kappa_best", "metric": "cohen_kappa", "threshold": "optimize"},
        ]
    if task == "multiclass":
        out += [
            {"id": f"roc_auc_{mc}_{avg}", "metric": "roc_auc", "multi_class": mc,
             "average": avg}
            for mc in ("ovr", "ovo") for avg in ("macro", "weighted")
            if (mc, avg) != ("ovr", "macro")
        ]
    return out


def binary_charter(table: str = "binary.parquet", **over: Any) -> dict[str, Any]:
    c: dict[str, Any] = {
        "project": "contract-binary", "task": "binary", "seed": 5,
        "data": {"table": table, "id": "row_id", "label": "label", "split": "split",
                 "weight": "weight",
                 "models": {"good": "p_good", "fair": "p_fair", "flat": "p_flat"},
                 "errors": {"latency": {"good": "lat_good", "fair": "lat_fair",
                                        "flat": "lat_flat"}}},
        "slices": {"columns": ["region", "device"], "crosses": [["region", "device"]],
                   "where": {"rich": "balance > 2000", "nobody": "balance < 0"},
                   "min_size": 8},
        "metrics": all_metrics("binary", ["latency"]),
        "selection": {"rule": "satisficing", "optimize": "roc_auc"},
        "intervals": {"resamples": 40},
        # Every engine must agree on the cost metrics too (a gain is a negative cost).
        "costs": {"unit": "EUR", "tp": -5.0, "fp": 1.0, "fn": 0.0, "tn": 0.0},
    }
    c.update(over)
    return c


def regression_charter(table: str = "regression.parquet") -> dict[str, Any]:
    return {
        "project": "contract-regression", "task": "regression", "seed": 6,
        "data": {"table": table, "id": "id", "label": "y", "split": "split", "weight": "w",
                 "models": {"ridge": "pred_ridge", "tree": "pred_tree"},
                 "errors": {"lateness": {"ridge": "late_ridge", "tree": "late_tree"}}},
        "slices": {"columns": ["season", "city"], "crosses": [["season", "city"]],
                   "where": {"far": "km > 10", "nowhere": "km < 0"}, "min_size": 5},
        "metrics": all_metrics("regression", ["lateness"]),
        "selection": {"rule": "satisficing", "optimize": "mae"},
        "intervals": {"resamples": 30},
        # Asymmetric costs: every engine must agree on `expected_cost` (from Σ|e| and Σe).
        "costs": {"unit": "EUR", "over": 1.0, "under": 3.0},
    }


def errors_charter(table: str = "regression.parquet") -> dict[str, Any]:
    return {
        "project": "contract-errors", "task": "errors", "seed": 7,
        "data": {"table": table, "id": "id", "split": "split",
                 "errors": {"lateness": {"ridge": "late_ridge", "tree": "late_tree"},
                            "absdev": {"ridge": "km", "tree": "y"}}},
        "slices": {"columns": ["season"], "where": {"far": "km > 10"}, "min_size": 5},
        "metrics": all_metrics("errors", ["lateness", "absdev"]),
        "selection": {"rule": "satisficing", "optimize": "error_mean_lateness"},
        "intervals": {"resamples": 30},
    }


def write_case(folder: Path, name: str, charter: dict[str, Any], tables: dict[str, pd.DataFrame]
           ) -> Path:
    for fname, df in tables.items():
        path = folder / fname
        if not path.exists():
            if fname.endswith(".csv"):
                df.to_csv(path, index=False)
            else:
                df.to_parquet(path, index=False)
    cpath = folder / f"{name}.yaml"
    cpath.write_text(yaml.safe_dump(charter, sort_keys=False), encoding="utf-8")
    return cpath
