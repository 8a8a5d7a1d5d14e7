"""Which model served each row of a canary or blue-green log.

In a canary the log's ``monitor.candidate.arm`` column names the model that served each
row; in a blue-green rollout the cut-over time ``monitor.candidate.switch`` does (the
production model before it, the candidate from it on). Either way each row carries ONE
model's score: the other model's score column is emptied on that row, so that every
per-model check and estimate of the monitor sees exactly the rows that model served.

Every mistake is an :class:`~mlscope.errors.InputError` naming the key and the fix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlscope.errors import InputError
from mlscope.monitor.checks import ARM, score_col

__all__ = ["blue_green_arms", "canary_arms", "parse_switch"]


def _mask(out: pd.DataFrame, setup: Any) -> None:
    """Empty each model's score on the rows the other model served."""
    for m in (setup.production, setup.candidate):
        out.loc[out[ARM] != m, score_col(m)] = np.nan


def canary_arms(out: pd.DataFrame, arm: pd.Series, setup: Any) -> None:
    """Fill ``out[ARM]`` from the log's arm column (values: the two model names).

    Raises
    ------
    InputError
        An empty arm, or a value that is not one of the two models, naming it and the fix.
    """
    key = "monitor.candidate.arm"
    names = [setup.production, setup.candidate]
    values = arm.astype("string")
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise InputError(f"column `{arm.name}` ({key}) is empty in row {row + 1} of the log; "
                         f"every row of a canary names the model that served it "
                         f"(`{names[0]}` or `{names[1]}`)")
    bad = ~values.isin(names)
    if bad.any():
        seen = sorted(set(values[bad].astype(str)))[:5]
        raise InputError(f"column `{arm.name}` ({key}) holds "
                         f"{', '.join(f'`{v}`' for v in seen)}, which is not one of the two "
                         f"models `{names[0]}` (production: monitor.model) and `{names[1]}` "
                         "(monitor.candidate.model); log the serving model's name as the "
                         "charter names it, or rename the models to match the log")
    counts = values.value_counts()
    for m in names:
        if counts.get(m, 0) == 0:
            raise InputError(f"no row of the log was served by `{m}` (column `{arm.name}`, "
                             f"{key}); a canary compares the two arms, so the log needs rows "
                             "of both (or this is not a canary: remove `mode: canary`)")
    out[ARM] = values.astype(str).to_numpy()
    _mask(out, setup)


def parse_switch(text: str) -> pd.Timestamp:
    """The cut-over time as a UTC timestamp.

    Raises
    ------
    InputError
        The text is not a date or time.
    """
    try:
        t = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise InputError(f"`monitor.candidate.switch: {text}` is not a date or time; write "
                         "the cut-over as ISO 8601, e.g. `switch: \"2026-03-01T00:00:00Z\"`"
                         ) from None
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def blue_green_arms(out: pd.DataFrame, times: pd.Series, setup: Any) -> pd.Timestamp:
    """Fill ``out[ARM]`` from the cut-over time (rows sorted by ``times``); returns it.

    Raises
    ------
    InputError
        The cut-over is not a time, or it leaves no row on one side of the log.
    """
    switch = parse_switch(str(setup.spec.candidate.switch))
    after = (times >= switch).to_numpy()
    if after.all() or not after.any():
        side = "before the log's first row" if after.all() else "after the log's last row"
        raise InputError(f"`monitor.candidate.switch: {setup.spec.candidate.switch}` is "
                         f"{side} (the log spans {times.iloc[0].isoformat()} to "
                         f"{times.iloc[-1].isoformat()}); a blue-green comparison needs "
                         "rows on both sides of the cut-over: set the time the candidate "
                         "started serving, or pass a log that spans it")
    out[ARM] = np.where(after, setup.candidate, setup.production)
    _mask(out, setup)
    return switch
