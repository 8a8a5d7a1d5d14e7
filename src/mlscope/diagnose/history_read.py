"""Reading a training history (CSV/TSV, JSON, JSON Lines, a Hugging Face
``trainer_state.json`` or a DataFrame) into a checked :class:`History`.

A training history is one row per logged step with the training and validation loss
(``step``, ``train_loss``, ``val_loss``; optionally ``lr``/``learning_rate`` and
``epoch``). :func:`load_history` refuses what cannot be read with an
:class:`~mlscope.errors.InputError` naming the file, the column, the row and the fix.

Not logged vs. not a number
---------------------------
Loggers often write training and validation losses on different rows (PyTorch Lightning's
``metrics.csv``, the Hugging Face ``log_history``). An *empty* cell (CSV), a ``null`` or an
absent key (JSON) means "not logged at this step"; consecutive rows with the same step
are merged. A literal ``nan``/``inf`` is kept: a loss that became NaN is a finding
(divergence), not an input error. A DataFrame cannot tell the two apart (pandas reads an
empty cell as NaN), so there a NaN loss on a row whose other loss is finite counts as not
logged, and a NaN in both losses of a row is kept.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlscope.errors import InputError, did_you_mean

__all__ = [
    "ALIASES",
    "REQUIRED",
    "BoolArray",
    "FloatArray",
    "History",
    "load_history",
    "metric_columns",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

REQUIRED = ("step", "train_loss", "val_loss")
# Names other loggers use, tried in order only when the canonical name is absent
# (Keras' CSVLogger writes epoch/loss/val_loss, Hugging Face writes loss/eval_loss).
ALIASES: dict[str, tuple[str, ...]] = {
    "step": ("global_step", "iteration", "iter", "epoch"),
    "train_loss": ("loss", "training_loss", "train/loss"),
    "val_loss": ("validation_loss", "valid_loss", "val/loss", "eval_loss"),
    "lr": ("learning_rate",),
    "epoch": (),
}
_COLUMNS_FIX = ("name the columns step, train_loss and val_loss (optional: lr or "
                "learning_rate, epoch)")


# -- the data -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class History:
    """A training history: one row per logged step, steps strictly increasing.

    Attributes
    ----------
    step
        The steps (optimiser steps or epochs), strictly increasing.
    train_loss, val_loss
        The losses; NaN where not logged (see ``train_logged``/``val_logged``) and where
        the loss itself was NaN.
    train_logged, val_logged
        Whether the loss was logged at each step (a logged NaN or inf is a finding).
    lr, epoch
        The learning rate and epoch when given (NaN where not logged), else ``None``.
    val_metric
        The charter's metric on the validation data per step, when ``load_history`` was
        given the metric and the file has its column (NaN where not logged), else ``None``.
    source
        Where it was read from, for messages.
    columns
        Canonical name → the column it was read from (``{"train_loss": "loss", ...}``).
    """

    step: FloatArray
    train_loss: FloatArray
    val_loss: FloatArray
    train_logged: BoolArray
    val_logged: BoolArray
    lr: FloatArray | None = None
    epoch: FloatArray | None = None
    val_metric: FloatArray | None = None
    source: str = "<DataFrame>"
    columns: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.step)

    def train(self) -> tuple[FloatArray, FloatArray]:
        """The steps and training losses where the training loss was logged."""
        return self.step[self.train_logged], self.train_loss[self.train_logged]

    def val(self) -> tuple[FloatArray, FloatArray]:
        """The steps and validation losses where the validation loss was logged."""
        return self.step[self.val_logged], self.val_loss[self.val_logged]



# -- loading ------------------------------------------------------------------------------


def load_history(path_or_frame: str | Path | pd.DataFrame, *,
                 where: str = "diagnosis.history", metric: str | None = None) -> History:
    """Read a training history from a CSV/TSV, JSON or JSON Lines file, or a DataFrame.

    Parameters
    ----------
    path_or_frame
        A path to ``.csv``/``.tsv``, ``.json`` (a list of records, ``{column: [values]}``,
        or a Hugging Face ``trainer_state.json`` with ``log_history``) or ``.jsonl``; or a
        DataFrame. Columns ``step``, ``train_loss``, ``val_loss`` are required;
        ``lr``/``learning_rate`` and ``epoch`` are read when present. A few other loggers'
        names are accepted when the canonical one is absent (``loss``, ``eval_loss``,
        ``global_step``, and ``epoch`` as the step).
    where
        The charter key the history came from, prefixed to every message.
    metric
        A metric id (the one the charter optimises): its validation value per step is read
        from the first of the columns ``val_<metric>``, ``eval_<metric>``,
        ``validation_<metric>`` or ``<metric>`` that exists (optional).

    Returns
    -------
    History
        Rows with the same step merged; NaN and inf losses kept.

    Raises
    ------
    InputError
        The file is missing or unreadable, a required column is missing (with a "did you
        mean" and the columns found), a value is not a number (with its row), the steps do
        not increase, or fewer than 2 rows (or training losses) remain.
    """
    if isinstance(path_or_frame, pd.DataFrame):
        frame, source, ambiguous = path_or_frame, "<DataFrame>", True
        row_name: Callable[[int], str] = _frame_row
    else:
        path = Path(path_or_frame)
        source, ambiguous = str(path), False
        frame, row_name = _read_file(path, where)
    if len(frame.columns) == 0 or len(frame) == 0:
        raise InputError(f"{where}: {source} holds no rows. Fix: log one row per step with "
                         "step, train_loss and val_loss.")
    return _build(frame, source=source, where=where, row_name=row_name, ambiguous=ambiguous,
                  metric=metric)


def metric_columns(metric: str) -> tuple[str, ...]:
    """The column names, in order, that hold ``metric`` on the validation data per step."""
    return (f"val_{metric}", f"eval_{metric}", f"validation_{metric}", metric)


def _frame_row(i: int) -> str:
    return f"row {i}"


def _read_file(path: Path, where: str) -> tuple[pd.DataFrame, Callable[[int], str]]:
    if not path.exists():
        raise InputError(f"{where}: training history not found: {path}. Fix: give the path "
                         "of the CSV or JSON the training loop logged (relative to the "
                         "charter).")
    if path.is_dir():
        raise InputError(f"{where}: {path} is a folder, not a training history file.")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv", ".txt"):
            # Everything as text, no NA guessing: an empty cell is "not logged" and a
            # written "nan" is a NaN loss, which pandas' defaults would merge.
            frame = pd.read_csv(path, dtype=str, keep_default_na=False,
                                sep="\t" if suffix == ".tsv" else ",")
            frame.columns = [str(c).strip() for c in frame.columns]
            return frame, lambda i: f"line {i + 1}"  # line 1 is the header
        if suffix == ".jsonl":
            lines = path.read_text(encoding="utf-8").splitlines()
            records = []
            for n, line in enumerate(lines, start=1):
                if line.strip():
                    records.append(_json(line, path, where, line_offset=n))
            return _records(records, path, where), lambda i: f"record {i}"
        if suffix == ".json":
            data = _json(path.read_text(encoding="utf-8"), path, where)
            if isinstance(data, dict) and isinstance(data.get("log_history"), list):
                data = data["log_history"]  # a Hugging Face trainer_state.json
            if isinstance(data, list):
                return _records(data, path, where), lambda i: f"record {i}"
            if isinstance(data, dict):
                return _columns(data, path, where), lambda i: f"index {i - 1}"
            raise InputError(f"{where}: {path}: expected a list of records or "
                             f"{{column: [values]}}, got {type(data).__name__}.")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{where}: cannot read {path}: {text}") from None
    raise InputError(f"{where}: {path}: unsupported file type `{path.suffix}`. Fix: write "
                     "the history as .csv, .tsv, .json or .jsonl.")


def _json(text: str, path: Path, where: str, line_offset: int = 0) -> Any:
    try:
        return json.loads(text)  # accepts NaN and Infinity, as Python's json writes them
    except json.JSONDecodeError as exc:
        line = line_offset or exc.lineno
        raise InputError(f"{where}: {path}:{line}: not valid JSON: {exc.msg}") from None


def _records(records: list[Any], path: Path, where: str) -> pd.DataFrame:
    # Built by hand, not DataFrame.from_records: an absent key must stay None (not logged),
    # which pandas would turn into NaN (a NaN loss).
    keys: dict[str, None] = {}
    for i, r in enumerate(records, start=1):
        if not isinstance(r, dict):
            raise InputError(f"{where}: {path}: record {i} is {type(r).__name__}, not an "
                             "object. Fix: one {\"step\": ..., \"train_loss\": ...} per row.")
        keys.update(dict.fromkeys(str(k) for k in r))
    cols = {k: pd.Series([r.get(k) for r in records], dtype=object) for k in keys}
    return pd.DataFrame(cols)


def _columns(data: dict[str, Any], path: Path, where: str) -> pd.DataFrame:
    lengths = {str(k): len(v) if isinstance(v, list) else None for k, v in data.items()}
    bad = [k for k, n in lengths.items() if n is None]
    if bad:
        raise InputError(f"{where}: {path}: column `{bad[0]}` is not a list. Fix: write "
                         "{\"step\": [...], \"train_loss\": [...], \"val_loss\": [...]}.")
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k}: {n}" for k, n in lengths.items())
        raise InputError(f"{where}: {path}: the columns have different lengths ({shown}). "
                         "Fix: one value per step in every column (null where not logged).")
    return pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in data.items()})


def _cell(v: Any) -> float | None:
    """A cell as a float; ``None`` when not logged; ``ValueError`` when not a number."""
    if v is None or v is pd.NA:
        return None
    if isinstance(v, bool | np.bool_):
        raise ValueError(v)
    if isinstance(v, int | float | np.integer | np.floating):
        return float(v)
    if isinstance(v, str):
        s = v.strip()
        return None if not s else float(s)  # float() reads "nan", "inf", "-inf"
    raise ValueError(v)


def _parse(values: Sequence[Any], col: str, *, source: str, where: str,
           row_name: Callable[[int], str]) -> tuple[FloatArray, BoolArray]:
    out = np.full(len(values), np.nan)
    logged = np.zeros(len(values), dtype=bool)
    for i, v in enumerate(values):
        try:
            x = _cell(v)
        except (ValueError, TypeError):
            raise InputError(
                f"{where}: {source}: column `{col}`, {row_name(i + 1)}: {v!r} is not a "
                "number. Fix: numbers only (leave the cell empty where the value was not "
                "logged; write nan for a loss that was NaN).") from None
        if x is not None:
            out[i], logged[i] = x, True
    return out, logged


def _resolve(columns: list[str], name: str, *, source: str, where: str,
             required: bool) -> str | None:
    if name in columns:
        return name
    for alias in ALIASES[name]:
        if alias in columns:
            return alias
    if not required:
        return None
    shown = ", ".join(f"`{c}`" for c in columns[:20]) + (", …" if len(columns) > 20 else "")
    raise InputError(f"{where}: {source}: no `{name}` column{did_you_mean(name, columns)} "
                     f"(columns: {shown}). Fix: {_COLUMNS_FIX}.")


def _build(frame: pd.DataFrame, *, source: str, where: str, row_name: Callable[[int], str],
           ambiguous: bool, metric: str | None = None) -> History:
    names = [str(c) for c in frame.columns]
    by_name = dict(zip(names, frame.columns, strict=True))
    used = {n: c for n in (*REQUIRED, "lr", "epoch")
            if (c := _resolve(names, n, source=source, where=where,
                              required=n in REQUIRED)) is not None}
    if metric is not None:
        found = next((c for c in metric_columns(metric) if c in names), None)
        if found is not None:
            used["val_metric"] = found

    def parse(name: str) -> tuple[FloatArray, BoolArray]:
        col = used[name]
        return _parse(frame[by_name[col]].tolist(), col, source=source, where=where,
                      row_name=row_name)

    step, step_logged = parse("step")
    train, train_logged = parse("train_loss")
    val, val_logged = parse("val_loss")
    for i in range(len(step)):
        if not step_logged[i] or not math.isfinite(step[i]):
            shown = "empty" if not step_logged[i] else f"{step[i]}"
            raise InputError(f"{where}: {source}: column `{used['step']}`, "
                             f"{row_name(i + 1)}: the step is {shown}. Fix: every row needs "
                             "a finite step.")
    if ambiguous:
        # A DataFrame's NaN is either "not logged" or "NaN loss"; on a row whose other
        # loss is finite it is sparse logging (diverged weights make every loss NaN).
        t_nan, v_nan = np.isnan(train), np.isnan(val)
        t_fin, v_fin = np.isfinite(train), np.isfinite(val)
        train_logged = train_logged & ~(t_nan & v_fin)
        val_logged = val_logged & ~(v_nan & t_fin)
    optional: dict[str, tuple[FloatArray, BoolArray]] = {
        n: parse(n) for n in ("lr", "epoch", "val_metric") if n in used}
    # NaN has no meaning for a learning rate, an epoch or a logged metric: "not logged".
    optional = {n: (v, m & np.isfinite(v)) for n, (v, m) in optional.items()}

    series: dict[str, tuple[FloatArray, BoolArray]] = {
        "train_loss": (train, train_logged), "val_loss": (val, val_logged), **optional}
    step, series = _merge_steps(step, series, used, source=source, where=where,
                                row_name=row_name)
    if len(step) < 2:
        raise InputError(f"{where}: {source}: {len(step)} row(s) after merging rows of the "
                         "same step; a curve needs at least 2. Fix: log the losses at "
                         "several steps.")
    n_train = int(series["train_loss"][1].sum())
    if n_train < 2:
        raise InputError(f"{where}: {source}: column `{used['train_loss']}` has {n_train} "
                         "value(s); a curve needs at least 2. Fix: log the training loss "
                         "at several steps.")
    if not series["val_loss"][1].any():
        raise InputError(f"{where}: {source}: column `{used['val_loss']}` is empty. Fix: "
                         "log the validation loss at least once (better: at every "
                         "evaluation).")

    def opt(name: str) -> FloatArray | None:
        if name not in series:
            return None
        v, m = series[name]
        return np.where(m, v, np.nan)

    (tv, tm), (vv, vm) = series["train_loss"], series["val_loss"]
    return History(step=step, train_loss=np.where(tm, tv, np.nan),
                   val_loss=np.where(vm, vv, np.nan), train_logged=tm, val_logged=vm,
                   lr=opt("lr"), epoch=opt("epoch"), val_metric=opt("val_metric"),
                   source=source,
                   columns={n: str(c) for n, c in used.items()})


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _merge_steps(step: FloatArray, series: dict[str, tuple[FloatArray, BoolArray]],
                 used: dict[str, str], *, source: str, where: str,
                 row_name: Callable[[int], str]
                 ) -> tuple[FloatArray, dict[str, tuple[FloatArray, BoolArray]]]:
    diff = np.diff(step)
    back = np.flatnonzero(diff < 0)
    if back.size:
        i = int(back[0]) + 1
        raise InputError(
            f"{where}: {source}: steps must increase: {row_name(i + 1)} has step "
            f"{step[i]:g} after step {step[i - 1]:g}. Fix: sort the rows by step; for a "
            "resumed run, continue the step count instead of restarting it.")
    if not (diff == 0).any():
        return step, series
    # Rows of one step are merged (loggers write train and validation metrics on separate
    # rows); two different values of one column at the same step cannot be merged.
    starts = np.flatnonzero(np.r_[True, diff != 0])
    ends = np.r_[starts[1:], len(step)]
    merged: dict[str, tuple[FloatArray, BoolArray]] = {}
    for name, (vals, logged) in series.items():
        out = np.full(len(starts), np.nan)
        m = np.zeros(len(starts), dtype=bool)
        for g, (a, b) in enumerate(zip(starts, ends, strict=True)):
            rows = [i for i in range(a, b) if logged[i]]
            if not rows:
                continue
            first = float(vals[rows[0]])
            for i in rows[1:]:
                if not _same(first, float(vals[i])):
                    raise InputError(
                        f"{where}: {source}: step {step[a]:g} appears on "
                        f"{row_name(rows[0] + 1)} and {row_name(i + 1)} with different "
                        f"`{used[name]}` ({first:g} and {vals[i]:g}). Fix: one value per "
                        "step (rows of the same step are merged only when they agree).")
            out[g], m[g] = first, True
        merged[name] = (out, m)
    return step[starts], merged

