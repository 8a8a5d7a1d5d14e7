"""Cutting a production log into windows: by time, by count, or sized from the variance.

``by: auto`` picks the number of rows that makes the 95% interval of the model's expected
accuracy at its threshold at most ``± half_width`` wide: ``n = ⌈1.96² · a(1 − a) / h²⌉``,
with ``a`` the accuracy on the reference, and at least 100 rows. (With a = 0.94 and
h = 0.03 that is 241 rows.) The log is then cut into consecutive windows of that size in
time order.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlscope.charter.monitor import WindowSpec
from mlscope.errors import InputError

__all__ = ["MIN_AUTO_ROWS", "Span", "auto_rows", "auto_rows_relative", "cut", "parse_times"]

MIN_AUTO_ROWS = 100


@dataclass(frozen=True)
class Span:
    """One window: its first and last time (as text) and the log's row positions."""

    start: str
    end: str
    rows: npt.NDArray[np.intp]


def auto_rows(accuracy: float, half_width: float) -> int:
    """Rows per window for ``by: auto`` (see the module's docstring)."""
    a = min(max(accuracy, 0.01), 0.99) if math.isfinite(accuracy) else 0.5
    return max(MIN_AUTO_ROWS, math.ceil(1.96**2 * a * (1 - a) / half_width**2))


def parse_times(col: pd.Series, name: str) -> pd.Series:
    """The timestamp column as UTC datetimes.

    Raises
    ------
    InputError
        A missing timestamp, or one that is not a date or time, naming the value and the fix.
    """
    if col.isna().any():
        row = int(np.flatnonzero(col.isna().to_numpy())[0])
        raise InputError(f"column `{name}` (monitor.timestamp) is empty in row {row + 1} of "
                         "the log; every logged row needs the time it was scored")
    if pd.api.types.is_datetime64_any_dtype(col):
        out = col if getattr(col.dt, "tz", None) is not None else col.dt.tz_localize("UTC")
        return out
    parsed = pd.to_datetime(col.astype(str), utc=True, errors="coerce", format="mixed")
    bad = parsed.isna().to_numpy()
    if bad.any():
        value = str(col.iloc[int(np.flatnonzero(bad)[0])])[:40]
        raise InputError(f"column `{name}` (monitor.timestamp) holds `{value}`, which is not "
                         "a date or time; write ISO 8601 times (2026-05-01T12:00:00Z) or "
                         "store the column as a timestamp")
    return parsed


def _text(t: pd.Timestamp) -> str:
    return t.isoformat()


def cut(times: pd.Series, spec: WindowSpec, rows: int | None) -> list[Span]:
    """The windows of a log whose ``times`` are sorted ascending.

    ``rows`` is the window size for count and auto windows. Time windows are aligned to
    the epoch (a ``1d`` window is a UTC day); a period without rows inside the log's span
    is a window of 0 rows (the volume check flags it). A count window's last, partial
    chunk joins the one before when it is smaller than half a window.
    """
    n = len(times)
    if spec.by == "time":
        seconds = spec.seconds
        assert seconds is not None
        # Whole seconds since the epoch, whatever the column's resolution (pandas 3 keeps
        # seconds, microseconds or nanoseconds as read).
        epoch = ((times - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy(
            dtype=np.int64)
        buckets = epoch // seconds
        first, last = int(buckets[0]), int(buckets[-1])
        starts = np.searchsorted(buckets, np.arange(first, last + 2))
        out = []
        for i, b in enumerate(range(first, last + 1)):
            pos = np.arange(starts[i], starts[i + 1], dtype=np.intp)
            lo = pd.Timestamp(b * seconds, unit="s", tz="UTC")
            hi = pd.Timestamp((b + 1) * seconds, unit="s", tz="UTC")
            out.append(Span(_text(lo), _text(hi), pos))
        return out
    assert rows is not None
    assert rows > 0
    bounds = list(range(0, n, rows))
    if len(bounds) > 1 and n - bounds[-1] < rows / 2:
        bounds.pop()
    bounds.append(n)
    return [Span(_text(times.iloc[a]), _text(times.iloc[b - 1]),
                 np.arange(a, b, dtype=np.intp)) for a, b in itertools.pairwise(bounds)]


def auto_rows_relative(cv: float, half_width: float) -> int:
    """Rows for a regression's ``by: auto`` window: the realised MAE's 95% interval is at
    most ± ``half_width`` of its value, ``⌈1.96² · cv² / h²⌉`` with ``cv`` the absolute
    errors' coefficient of variation on the reference (at least 100 rows)."""
    if not np.isfinite(cv) or cv <= 0:
        return 100
    return max(100, int(np.ceil(1.96**2 * cv**2 / half_width**2)))
