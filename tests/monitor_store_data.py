"""A small seeded monitored project for the store and dashboard tests: six daily windows
of 300 rows, an age shift planted on the fourth day (2026-01-04), labels missing on the
last day; and a second log of the days 4–8 that overlaps the first."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tests.monitor_data import population, stamp, write_project

SHIFTED_DAY = "2026-01-04"


def stream(seed: int = 5, days: int = 6, start: str = "2026-01-01",
           shifted: int | None = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    windows = [population(300, rng, age_shift=12 if i == shifted else 0.0)
               for i in range(days)]
    log = stamp(windows, start=start)
    last = pd.Timestamp(start, tz="UTC") + pd.Timedelta(days=days - 1)
    log.loc[log["served_at"] >= last, "label"] = np.nan
    return log


def project(folder: Path, seed: int = 5) -> tuple[Path, Path, Path]:
    """The charter, the first log and the overlapping second log."""
    folder.mkdir(parents=True, exist_ok=True)
    charter = write_project(folder, population(2000, np.random.default_rng(seed + 100)))
    first, second = folder / "log.parquet", folder / "log2.parquet"
    stream(seed).to_parquet(first, index=False)
    # Days 4..8: the first three overlap the first log (day 4 shifted again).
    stream(seed + 1, days=5, start="2026-01-04", shifted=0).to_parquet(second, index=False)
    return charter, first, second
