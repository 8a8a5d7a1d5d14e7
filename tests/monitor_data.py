"""Seeded production streams with known truth for the monitor's tests.

A synthetic population whose score is the true probability (calibrated by construction),
so that every planted change is known: covariate shift (``P(x)`` moves, ``P(y | x)``
stays), label shift (``P(y)`` moves, ``P(x | y)`` stays), concept drift (``P(y | x)``
changes, ``P(x)`` stays) and a broken feature pipeline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

FEATURES = ["age", "income", "visits", "region", "device"]
REGIONS = (["north", "south", "east", "west"], [0.4, 0.3, 0.2, 0.1])
DEVICES = (["ios", "android", "web"], [0.4, 0.4, 0.2])
_REGION_EFFECT = {"north": 0.0, "south": 0.3, "east": -0.3, "west": 0.5}


def population(n: int, rng: np.random.Generator, *, age_shift: float = 0.0,
               concept: bool = False) -> pd.DataFrame:
    """``n`` rows: features, the calibrated score ``p_model`` and the label ``label``.

    ``age_shift`` moves the age distribution (covariate shift); ``concept`` reverses the
    effect of income on the label while the score keeps the old one (concept drift).
    """
    age = rng.normal(40 + age_shift, 10, n).round(0)
    income = np.exp(rng.normal(10, 0.5, n)).round(-2)
    visits = rng.poisson(3, n)
    region = rng.choice(REGIONS[0], n, p=REGIONS[1])
    device = rng.choice(DEVICES[0], n, p=DEVICES[1])
    z_income = (np.log(income) - 10) / 0.5
    base = -1.2 + 0.06 * (age - 40) + 0.2 * (visits - 3) + np.vectorize(_REGION_EFFECT.get)(
        region)
    logit = base + 0.9 * z_income
    score = 1 / (1 + np.exp(-logit))
    truth = 1 / (1 + np.exp(-(base - 0.9 * z_income))) if concept else score
    label = (rng.random(n) < truth).astype(int)
    return pd.DataFrame({"age": age, "income": income, "visits": visits, "region": region,
                         "device": device, "p_model": score.round(4), "label": label})


def label_shifted(n: int, prior: float, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` rows with positive share ``prior`` and ``P(x | y)`` unchanged (rejection from a
    large pool of the reference population)."""
    pool = population(20 * n, rng)
    k = round(prior * n)
    pos = pool[pool["label"] == 1].sample(k, random_state=int(rng.integers(1 << 30)))
    neg = pool[pool["label"] == 0].sample(n - k, random_state=int(rng.integers(1 << 30)))
    return pd.concat([pos, neg]).sample(frac=1.0, random_state=1).reset_index(drop=True)


def stamp(windows: list[pd.DataFrame], start: str = "2026-01-01",
          labels: bool = True) -> pd.DataFrame:
    """Concatenate windows into one log, one day per window (``1d`` time windows)."""
    parts = []
    for i, w in enumerate(windows):
        w = w.copy()
        day = pd.Timestamp(start, tz="UTC") + pd.Timedelta(days=i)
        offsets = np.sort(np.random.default_rng(i).uniform(0, 86_000, len(w)))
        w["served_at"] = day + pd.to_timedelta(offsets, unit="s")
        if not labels:
            w["label"] = np.nan
        parts.append(w)
    return pd.concat(parts, ignore_index=True)


def write_project(folder: Path, reference: pd.DataFrame, monitor: dict[str, Any] | None = None,
                  **over: Any) -> Path:
    """A project with ``reference`` as the test split of data.table; returns the charter."""
    ref = reference.copy()
    ref["split"] = "test"
    ref["row_id"] = np.arange(len(ref))
    ref.to_parquet(folder / "eval.parquet", index=False)
    charter: dict[str, Any] = {
        "project": "monitor-test", "task": "binary", "seed": 3,
        "data": {"table": "eval.parquet", "id": "row_id", "label": "label",
                 "split": "split", "models": {"model": "p_model"}},
        "splits": {"selection": "test", "report": "test", "train": None},
        "slices": {"columns": ["region"], "min_size": 30},
        "metrics": ["roc_auc", {"metric": "accuracy", "threshold": 0.5}],
        "selection": {"rule": "satisficing", "optimize": "roc_auc"},
        "monitor": {"timestamp": "served_at", "model": "model", "label": "label",
                    "features": ["age", "income", "visits", "region", "device"],
                    "window": {"by": "time", "every": "1d"}, **(monitor or {})},
    }
    charter.update(over)
    path = folder / "mlscope.yaml"
    path.write_text(yaml.safe_dump(charter, sort_keys=False))
    return path


CARAVAN_FEATURES = ["MOSTYPE", "MAANTHUI", "MGEMOMV", "MGEMLEEF", "MOSHOOFD", "MKOOPKLA",
                    "PPERSAUT", "APERSAUT", "PBRAND", "MINKGEM"]


def caravan(seed: int = 0, n_reference: int = 1800) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ISLP's Caravan (5,822 real customers) with a logistic model's scores: the
    reference rows and a pool of other rows from the same population for the stream.

    The model is fitted on 2,000 rows that are in neither. ``MOSHOOFD`` (customer main
    type) becomes text and is the slice column.
    """
    from ISLP import load_data
    from sklearn.linear_model import LogisticRegression

    df = load_data("Caravan").sample(frac=1.0, random_state=seed).reset_index(drop=True)
    y = (df["Purchase"] == "Yes").astype(int).to_numpy()
    x = df.drop(columns=["Purchase"]).to_numpy(dtype=float)
    mu, sd = x[:2000].mean(axis=0), x[:2000].std(axis=0) + 1e-9
    model = LogisticRegression(C=0.05, max_iter=2000).fit((x[:2000] - mu) / sd, y[:2000])
    out = df[CARAVAN_FEATURES].copy()
    out["MOSHOOFD"] = "type_" + out["MOSHOOFD"].astype(str)
    out["p_model"] = model.predict_proba((x - mu) / sd)[:, 1].round(5)
    out["label"] = y
    rest = out.iloc[2000:].reset_index(drop=True)
    return rest.iloc[:n_reference].reset_index(drop=True), rest.iloc[n_reference:].reset_index(
        drop=True)


def caravan_project(folder: Path, reference: pd.DataFrame) -> Path:
    """A charter for the Caravan stream: ten features, slices by customer main type."""
    return write_project(
        folder, reference,
        monitor={"features": [c for c in CARAVAN_FEATURES if c != "MOSHOOFD"]},
        slices={"columns": ["MOSHOOFD"], "min_size": 30},
        metrics=["roc_auc", {"metric": "positive_rate", "threshold": 0.1}],
    )


def shadow_population(n: int, rng: np.random.Generator, *, production_noise: float = 1.0,
                      candidate_noise: float = 1.0) -> pd.DataFrame:
    """``n`` rows of :func:`population` scored by two models on the same rows (shadow).

    Each model sees the true logit plus its own independent Gaussian noise: the smaller the
    noise, the better the model (higher ROC AUC); equal noise makes two models equally good
    in truth. Scores are ``sigmoid(logit + noise)`` (recalibrated by the monitor).
    """
    out = population(n, rng)
    p = out["p_model"].to_numpy(np.float64)
    logit = np.log(p / (1 - p))
    for col, sd in (("p_model", production_noise), ("p_new", candidate_noise)):
        out[col] = (1 / (1 + np.exp(-(logit + rng.normal(0, sd, n))))).round(5)
    return out


def shadow_project(folder: Path, reference: pd.DataFrame, gates: dict[str, Any],
                   **monitor: Any) -> Path:
    """A project whose data has both models' reference scores, with ``gates`` and the
    shadow model ``new`` named as ``monitor.candidate``."""
    return write_project(
        folder, reference, monitor={"candidate": "new", **monitor},
        data={"table": "eval.parquet", "id": "row_id", "label": "label", "split": "split",
              "models": {"model": "p_model", "new": "p_new"}},
        blessed="model", gates=gates)
