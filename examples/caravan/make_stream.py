"""A simulated production log for the Caravan campaign model, with known problems planted.

Run ``prepare.py`` first (it writes ``data/caravan_eval.parquet`` and the fitted models in
``data/models/``). This script draws 14 days of "production" traffic, 400 customers a day,
from the real customers the models were not fitted on (the validation and test splits),
scores them with the saved gradient-boosting model (``gbdt``, whose test-split scores are
the monitor's reference), and plants one problem at a time, each in known days:

==========  ==========================================================================
days        what happens (the truth the monitor should find)
==========  ==========================================================================
0–3         clean: customers drawn like the reference
4–5         **covariate shift**: 85% of the day's customers hold a car policy (about half
            do in the file). Each row is a real customer with its real label, so
            ``P(buy | customer)`` is unchanged; the mix moves
7–8         **label shift**: buyers are 18% of the day (6% in the file), drawn from the
            real buyers and non-buyers, so ``P(customer | buy)`` is unchanged
10          **broken feature pipeline**: ``MKOOPKLA`` (purchasing power class) arrives as 0
            for every customer, and the model scores what arrives
6, 9, 11–13 clean
==========  ==========================================================================

Labels (did the customer buy?) arrive late: the last three days have none yet.

    python examples/caravan/make_stream.py           # writes data/production_log.parquet
    mlscope monitor examples/caravan/mlscope.yaml --log examples/caravan/data/production_log.parquet
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from mlscope.data.parquet import read_parquet, write_parquet

HERE = Path(__file__).resolve().parent
DAYS = 14
PER_DAY = 400
PLAN: dict[int, str] = {4: "covariate", 5: "covariate", 7: "label", 8: "label", 10: "broken"}
LABELS_LATE = 3  # the last days whose labels have not arrived
BROKEN = "MKOOPKLA"


def _day(pool: pd.DataFrame, kind: str, rng: np.random.Generator) -> pd.DataFrame:
    """One day's customers: drawn (with replacement) from the pool as ``kind`` says."""
    if kind == "covariate":
        car = pool[pool["car_policies"] > 0]
        other = pool[pool["car_policies"] == 0]
        k = round(0.85 * PER_DAY)
        parts = [car.sample(k, replace=True, random_state=rng.integers(1 << 31)),
                 other.sample(PER_DAY - k, replace=True, random_state=rng.integers(1 << 31))]
    elif kind == "label":
        buyers = pool[pool["purchase"] == 1]
        others = pool[pool["purchase"] == 0]
        k = round(0.18 * PER_DAY)
        parts = [buyers.sample(k, replace=True, random_state=rng.integers(1 << 31)),
                 others.sample(PER_DAY - k, replace=True, random_state=rng.integers(1 << 31))]
    else:
        parts = [pool.sample(PER_DAY, replace=True, random_state=rng.integers(1 << 31))]
    day = pd.concat(parts).sample(frac=1.0, random_state=rng.integers(1 << 31))
    return day.reset_index(drop=True)


def build_stream(data: Path, seed: int = 7) -> pd.DataFrame:
    """The production log: one row per scored customer, with ``served_at`` (UTC)."""
    import joblib

    table = read_parquet(data / "caravan_eval.parquet")
    # The saved model, not the table's scores: a broken feature must change what it scores.
    model = joblib.load(data / "models" / "gbdt.joblib")
    features = [str(c) for c in model.feature_names_in_]
    pool = table[table["split"] != "train"].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-11-02", tz="UTC")
    days = []
    for d in range(DAYS):
        kind = PLAN.get(d, "clean")
        day = _day(pool, kind, rng)
        if kind == "broken":
            day[BROKEN] = 0.0
        day["p_gbdt"] = model.predict_proba(day[features])[:, 1]
        offsets = np.sort(rng.uniform(0, 86_400, len(day)))
        day["served_at"] = start + pd.Timedelta(days=d) + pd.to_timedelta(offsets, unit="s")
        label = day["purchase"].astype("float64")
        day["purchase"] = label if d < DAYS - LABELS_LATE else np.nan
        days.append(day)
    log = pd.concat(days, ignore_index=True)
    keep = ["served_at", "customer_id", "customer_type", "age_group", "car_policies",
            "car_contribution", *features, "p_gbdt", "purchase"]
    return log[list(dict.fromkeys(keep))]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE / "data",
                        help="the folder prepare.py wrote (default: examples/caravan/data)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if not (args.data / "models" / "gbdt.joblib").exists():
        parser.error(f"{args.data / 'models' / 'gbdt.joblib'} not found: run "
                     "examples/caravan/prepare.py first")
    log = build_stream(args.data, args.seed)
    path = write_parquet(log, args.data / "production_log.parquet")
    print(f"wrote {path}: {len(log):,} customers over {DAYS} days "
          f"(covariate shift days 4–5, label shift 7–8, {BROKEN} broken day 10; "
          f"labels missing for the last {LABELS_LATE} days)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
