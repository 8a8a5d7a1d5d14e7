"""Trivial baselines (prior, majority, stratified, mean, median): predictions from the
training labels alone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mlscope.baselines.predictor_checks import (
    FloatArray,
    check_kind,
    check_labels,
    check_task,
)
from mlscope.errors import InputError

__all__ = ["TRIVIAL_KINDS", "trivial_predictions"]

TRIVIAL_KINDS = ("prior", "majority", "stratified", "mean", "median")


def trivial_predictions(
    kind: str,
    *,
    task: str,
    y_train: Any,
    n: int,
    classes: Sequence[str] | None = None,
    seed: int = 0,
) -> FloatArray:
    """Predictions of a baseline that looks only at the training labels.

    Parameters
    ----------
    kind
        ``prior``: the training positive rate (binary), class frequencies on every row
        (multiclass) or the training mean (regression). ``majority``: the most frequent
        training class with probability 1 (classification only; a tie goes to the class
        listed first, for binary the negative class 0). ``stratified``: a class drawn per
        row with the training frequencies, as a hard 0/1 (one-hot) prediction; regression:
        a training output drawn per row. ``mean``, ``median``: of the training outputs
        (regression only).
    task
        ``binary``, ``multiclass`` or ``regression``.
    y_train
        Training labels (0/1, class strings or floats); missing labels are left out.
    n
        Number of rows to predict.
    classes
        Multiclass: the class order of the output columns (default: the sorted labels).
    seed
        Seeds ``np.random.default_rng`` for ``stratified``.

    Returns
    -------
    np.ndarray
        float64, shape ``(n,)``, or ``(n, K)`` for multiclass.

    Raises
    ------
    InputError
        An unknown kind, a kind that does not fit the task, no labelled training rows.
    """
    check_kind(kind, TRIVIAL_KINDS, "", "trivial")
    check_task(task, "")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    y, _, cls = check_labels(y_train, task=task, classes=classes, where="")
    rng = np.random.default_rng(seed)
    if task == "regression":
        if kind == "majority":
            raise InputError("`majority` is a classification baseline; for regression use "
                             "`mean` or `median` (`prior` is the training mean)")
        if kind in ("prior", "mean"):
            return np.full(n, float(np.mean(y)))
        if kind == "median":
            return np.full(n, float(np.median(y)))
        return np.asarray(rng.choice(y, size=n, replace=True), dtype=np.float64)
    if kind in ("mean", "median"):
        raise InputError(f"`{kind}` is a regression baseline; for classification use `prior` "
                         "(the training class frequencies) or `majority`")
    counts = np.bincount(y, minlength=len(cls)).astype(np.float64)
    freq = counts / counts.sum()
    if kind == "prior":
        if task == "binary":
            return np.full(n, freq[1])
        return np.tile(freq, (n, 1))
    if kind == "majority":
        top = int(np.argmax(counts))  # argmax keeps the first of tied maxima
        if task == "binary":
            return np.full(n, float(top))
        return np.tile(np.eye(len(cls))[top], (n, 1))
    draws = rng.choice(len(cls), size=n, p=freq)
    if task == "binary":
        return draws.astype(np.float64)
    return np.eye(len(cls))[draws]
