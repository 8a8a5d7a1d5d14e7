"""Checks shared by the baseline predictors: task, kind, training labels and feature
columns, with messages that name where the problem is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api import types as pdt

from mlscope.errors import InputError, did_you_mean

__all__ = [
    "FloatArray",
    "check_features",
    "check_kind",
    "check_labels",
    "check_task",
    "is_categorical",
    "is_temporal",
    "missing_values",
    "preview_names",
    "where_prefix",
]

FloatArray = npt.NDArray[np.float64]
_TASKS = ("binary", "multiclass", "regression")


def where_prefix(where: str) -> str:
    """``"where: "`` to start a message with, or ``""`` when ``where`` is empty.

    Parameters
    ----------
    where
        Where the problem is (a baseline's name in the charter), or ``""``.

    Returns
    -------
    str
        The prefix.
    """
    return f"{where}: " if where else ""


def preview_names(names: Sequence[str], k: int = 12) -> str:
    """The first ``k`` names joined by commas, with the count when there are more.

    Parameters
    ----------
    names
        The names to show.
    k
        How many to show at most.

    Returns
    -------
    str
        e.g. ``"a, b, … (30 in all)"``.
    """
    shown = ", ".join(names[:k])
    return shown + (f", … ({len(names)} in all)" if len(names) > k else "")


def check_task(task: str, where: str) -> str:
    """Check that ``task`` is binary, multiclass or regression.

    Parameters
    ----------
    task
        The task.
    where
        Where the baseline is, for the message.

    Returns
    -------
    str
        ``task``, unchanged.

    Raises
    ------
    InputError
        Another task.
    """
    if task not in _TASKS:
        raise InputError(f"{where_prefix(where)}baselines predict for a binary, multiclass or "
                         f"regression task, not `{task}`")
    return task


def check_kind(kind: str, kinds: Sequence[str], where: str, family: str) -> str:
    """Check that ``kind`` is one of a family's ``kinds``.

    Parameters
    ----------
    kind
        The baseline's kind.
    kinds
        The family's kinds.
    where
        Where the baseline is, for the message.
    family
        The family's name (``trivial``, ``learned``), for the message.

    Returns
    -------
    str
        ``kind``, unchanged.

    Raises
    ------
    InputError
        An unknown kind, with a "did you mean" hint.
    """
    if kind not in kinds:
        raise InputError(f"{where_prefix(where)}`{kind}` is not a {family} baseline (kinds: "
                         f"{', '.join(kinds)}){did_you_mean(kind, kinds)}")
    return kind


def missing_values(values: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """Which values are missing (NaN, None, NaT), as a 1-d boolean array.

    Parameters
    ----------
    values
        A 1-d array.

    Returns
    -------
    numpy.ndarray
        ``True`` where a value is missing.
    """
    return np.asarray(pd.isna(values), dtype=bool).reshape(len(values))


def check_labels(
    y_train: Any, *, task: str, classes: Sequence[str] | None, where: str,
) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_], list[str]]:
    """Validate training labels; return (labelled values, which rows are labelled, classes).

    Binary labels come back as int64 0/1, multiclass as integer class indices into
    ``classes`` (inferred as the sorted labels when not given), regression as float64.
    """
    p = where_prefix(where)
    y = np.asarray(y_train)
    if y.ndim != 1:
        raise InputError(f"{p}the training labels must be one value per row, got shape {y.shape}")
    keep = ~missing_values(y)
    y = y[keep]
    if y.size == 0:
        raise InputError(
            f"{p}the training split has no rows with a label; a baseline learns from the "
            "training labels: add labelled training rows, or set `fit_on:` to a split "
            "that has them")
    if task == "regression":
        if not (pdt.is_numeric_dtype(y.dtype) or pdt.is_bool_dtype(y.dtype)):
            raise InputError(f"{p}regression labels must be numbers, got {y[0]!r}")
        yf = y.astype(np.float64)
        bad = np.flatnonzero(~np.isfinite(yf))
        if bad.size:
            raise InputError(f"{p}the training labels hold {yf[bad[0]]}; regression labels "
                             "must be finite numbers")
        return yf, keep, []
    if task == "binary":
        ok = np.isin(y, [0, 1]) if y.dtype.kind in "biuf" else np.zeros(y.size, dtype=bool)
        if not ok.all():
            bad_value = y[np.flatnonzero(~ok)[0]]
            raise InputError(f"{p}binary labels must be 0 or 1 (1 = the positive class), got "
                             f"{bad_value!r}")
        return y.astype(np.int64), keep, ["0", "1"]
    labels = pd.Series(y, dtype=object).astype("string")
    cls = sorted(labels.unique().tolist()) if classes is None else [str(c) for c in classes]
    codes = pd.Index(cls).get_indexer(pd.Index(labels)).astype(np.int64)
    unknown = np.flatnonzero(codes < 0)
    if unknown.size:
        v = str(labels.iloc[unknown[0]])
        raise InputError(f"{p}training label `{v}` is not one of the classes "
                         f"({preview_names(cls)}){did_you_mean(v, cls)}")
    return codes, keep, cls


def check_features(
    features: Sequence[str], frames: Sequence[tuple[str, pd.DataFrame]], where: str,
) -> list[str]:
    """Check a learned baseline's feature columns: listed, once each, in every frame.

    Parameters
    ----------
    features
        The feature columns (one name is taken as a list of one).
    frames
        ``(what it is, frame)`` pairs that must all hold the features.
    where
        Where the baseline is, for the message.

    Returns
    -------
    list of str
        The features, in the order given.

    Raises
    ------
    InputError
        No features, a feature listed twice, or one missing from a frame.
    """
    p = where_prefix(where)
    feats = [features] if isinstance(features, str) else list(features)
    if not feats:
        raise InputError(f"{p}a learned baseline needs features: list the columns it may use "
                         "under `features:`")
    seen: set[str] = set()
    for c in feats:
        if c in seen:
            raise InputError(f"{p}feature `{c}` is listed twice under `features:`; list each "
                             "column once")
        seen.add(c)
    for source, frame in frames:
        cols = [str(c) for c in frame.columns]
        for c in feats:
            if c not in frame.columns:
                raise InputError(
                    f"{p}feature column `{c}` is not in {source}{did_you_mean(c, cols)} "
                    f"(columns: {preview_names(cols)}); fix the name under `features:`")
    return feats


def is_temporal(dtype: Any) -> bool:
    """Whether a column of ``dtype`` holds dates, durations or periods.

    Parameters
    ----------
    dtype
        A pandas or NumPy dtype.

    Returns
    -------
    bool
        ``True`` for datetime, timedelta and period dtypes.
    """
    return bool(pdt.is_datetime64_any_dtype(dtype) or pdt.is_timedelta64_dtype(dtype)
                or isinstance(dtype, pd.PeriodDtype))


def is_categorical(dtype: Any) -> bool:
    """Whether a column of ``dtype`` is used as a category (booleans and non-numbers).

    Parameters
    ----------
    dtype
        A pandas or NumPy dtype.

    Returns
    -------
    bool
        ``True`` for booleans and every non-numeric dtype.
    """
    # bool is a category here, not a number: one-hot for logistic, a category for gbdt.
    return bool(pdt.is_bool_dtype(dtype) or not pdt.is_numeric_dtype(dtype))
