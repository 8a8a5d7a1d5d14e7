"""Baseline predictors: trivial rules, simple learned models and the user's own rule.

Every function here is pure: it takes training labels, feature columns or a rule and returns
predictions in the evaluation's conventions (``np.ndarray`` of float64), so a baseline is
then evaluated exactly like a candidate model.

- binary: P(positive class), shape ``(n,)``, in [0, 1]; labels arrive as 0/1 (1 = positive);
- multiclass: probabilities, shape ``(n, K)``, columns in the order of ``classes``, rows
  summing to 1; labels arrive as strings in ``classes``;
- regression: predictions, shape ``(n,)``; labels arrive as floats.

Training rows without a label (NaN or None) are left out before anything is learned.
scikit-learn is needed only by :func:`fit_learned` and :func:`leak_warnings`, and is imported
when they are called.

This module holds the leak check and is the public entry point; the predictors live in
:mod:`~mlscope.baselines.trivial`, :mod:`~mlscope.baselines.learned` and
:mod:`~mlscope.baselines.rules`, their shared checks in
:mod:`~mlscope.baselines.predictor_checks`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlscope.baselines.learned import LEARNED_KINDS, FitRecord, fit_learned
from mlscope.baselines.predictor_checks import (
    FloatArray,
    check_features,
    check_labels,
    check_task,
    is_categorical,
    is_temporal,
)
from mlscope.baselines.rules import RuleError, run_rule
from mlscope.baselines.trivial import TRIVIAL_KINDS, trivial_predictions

__all__ = [
    "LEAK_MAX_ROWS",
    "LEARNED_KINDS",
    "TRIVIAL_KINDS",
    "FitRecord",
    "RuleError",
    "fit_learned",
    "leak_warnings",
    "run_rule",
    "trivial_predictions",
]

# The leak check looks at a seeded subsample above this many training rows: a figure of
# 0.99 is already stable to the third decimal on far fewer rows, and 1M rows stay fast.
LEAK_MAX_ROWS = 200_000
_LEAK_LEVEL = 0.99
# A feature whose values differ from its most common value on fewer rows than this says
# too little to be judged (and cannot separate anything anyway).
_LEAK_MIN_VARYING = 10
_LEAK_MIN_ROWS = 20


# --------------------------------------------------------------------------------------
# Leak check


def _auc(score: FloatArray, y01: npt.NDArray[np.int64]) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count one half)."""
    ranks = pd.Series(score).rank(method="average").to_numpy(dtype=np.float64)
    n1 = float(y01.sum())
    n0 = float(y01.size) - n1
    return float((ranks[y01 == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _out_of_fold_means(codes: npt.NDArray[np.int64], target: FloatArray,
                       fold: npt.NDArray[np.int64]) -> FloatArray:
    """Per-category means of ``target`` (1-D or one column per class), cross-fitted.

    Each half of the rows gets the means learned on the other half, so that an identifier
    column (one category per row) scores no better than chance instead of perfectly.
    """
    target2 = target.reshape(len(target), -1)
    out = np.empty_like(target2)
    k = int(codes.max()) + 1
    for f in (0, 1):
        fit, use = fold != f, fold == f
        counts = np.bincount(codes[fit], minlength=k).astype(np.float64)
        overall = target2[fit].mean(axis=0)
        means = np.tile(overall, (k, 1))
        seen = counts > 0
        for j in range(target2.shape[1]):
            sums = np.bincount(codes[fit], weights=target2[fit, j], minlength=k)
            means[seen, j] = sums[seen] / counts[seen]
        out[use] = means[codes[use]]
    return out.reshape(target.shape)


def _near_constant(values: npt.NDArray[Any]) -> bool:
    top = pd.Series(values).value_counts(dropna=False).iloc[0]
    return bool(len(values) - top < _LEAK_MIN_VARYING)


def _leak_figure(
    values: pd.Series[Any], y: npt.NDArray[Any], *, task: str, k: int,
    fold: npt.NDArray[np.int64], seed: int,
) -> tuple[str, float] | None:
    """(what was measured, figure) for one feature, or None when it cannot be judged."""
    if is_temporal(values.dtype):
        return None
    categorical = is_categorical(values.dtype)
    if categorical:
        # Missing is a value like any other here: missingness can leak the label too.
        codes = pd.factorize(values.astype("string"), use_na_sentinel=False)[0]
        x: npt.NDArray[Any] = codes.astype(np.int64)
        yy, ff = y, fold
    else:
        v = values.to_numpy(dtype=np.float64, na_value=np.nan)
        ok = np.isfinite(v)
        x, yy, ff = v[ok], y[ok], fold[ok]
    if x.size < _LEAK_MIN_ROWS or _near_constant(x) or np.unique(ff).size < 2:
        return None
    if task == "binary":
        if yy.min() == yy.max():
            return None
        if categorical:
            return "ROC AUC", _auc(_out_of_fold_means(x, yy.astype(np.float64), ff), yy)
        auc = _auc(x, yy)
        return "ROC AUC", max(auc, 1.0 - auc)
    if task == "regression":
        if categorical:
            fitted = _out_of_fold_means(x, yy, ff)
            sst = float(np.sum((yy - yy.mean()) ** 2))
            return ("R² of the per-category means",
                    1.0 - float(np.sum((yy - fitted) ** 2)) / sst) if sst > 0 else None
        if np.std(yy) == 0:
            return None
        pearson = abs(float(np.corrcoef(x, yy)[0, 1]))
        rx = pd.Series(x).rank().to_numpy(dtype=np.float64)
        ry = pd.Series(yy).rank().to_numpy(dtype=np.float64)
        spearman = abs(float(np.corrcoef(rx, ry)[0, 1]))
        if spearman >= pearson:
            return "|Spearman correlation|", spearman
        return "|Pearson correlation|", pearson
    # multiclass: held-out accuracy of a one-feature classifier
    if categorical:
        onehot = np.eye(k)[yy]
        guess = np.argmax(_out_of_fold_means(x, onehot, ff), axis=1)
    else:
        from sklearn.tree import DecisionTreeClassifier

        depth = max(3, math.ceil(math.log2(max(k, 2))) + 1)
        guess = np.empty(yy.size, dtype=np.int64)
        for f in (0, 1):
            tree = DecisionTreeClassifier(max_depth=depth, min_samples_leaf=5,
                                          random_state=seed)
            tree.fit(x[ff != f].reshape(-1, 1), yy[ff != f])
            guess[ff == f] = tree.predict(x[ff == f].reshape(-1, 1))
    return "accuracy", float(np.mean(guess == yy))


def leak_warnings(
    train: pd.DataFrame,
    y_train: Any,
    features: Sequence[str],
    *,
    task: str,
    where: str = "",
    seed: int = 0,
    classes: Sequence[str] | None = None,
) -> list[str]:
    """Warn about features that predict the label almost perfectly on their own.

    Such a feature is usually a leak: the label, or something computed from it, slipped
    into the features. Each feature is scored alone on the training rows:

    - binary: ROC AUC of the raw value in either direction (numeric), or of the
      per-category positive rate (categorical);
    - multiclass: accuracy of the majority class per value (categorical) or of a
      depth-limited decision tree (numeric), on held-out halves; it must also remove at
      least 80% of the errors of always predicting the most frequent class;
    - regression: the larger of |Spearman| and |Pearson| correlation (numeric), or R² of the
      per-category means (categorical).

    A figure of 0.99 or more warns. Per-category figures are cross-fitted on two seeded
    halves, so an identifier column does not look like a leak. Features whose values
    differ from the most common one on fewer than 10 rows are ignored, as are numeric rows
    where the feature is missing. Above ``LEAK_MAX_ROWS`` (200,000) labelled training rows
    a seeded random subsample of that size is scored, which keeps 1M rows fast.

    Parameters
    ----------
    train
        The training rows.
    y_train
        Their labels (0/1, class strings or floats); unlabelled rows are left out.
    features
        The columns to check.
    task
        ``binary``, ``multiclass`` or ``regression``.
    where
        Where the baseline is in the charter, for error messages.
    seed
        Seeds the subsample and the halves.
    classes
        Multiclass: the classes (default: the sorted training labels).

    Returns
    -------
    list of str
        One line per suspicious feature, naming it and the figure; empty when none is.

    Raises
    ------
    InputError
        A missing feature column, no labelled training rows.
    """
    check_task(task, where)
    feats = check_features(features, [("the training split", train)], where)
    if len(np.asarray(y_train)) != len(train):
        raise ValueError(f"y_train has {len(np.asarray(y_train))} labels for {len(train)} "
                         "training rows")
    y, keep, cls = check_labels(y_train, task=task, classes=classes, where=where)
    rows = np.flatnonzero(keep)
    rng = np.random.default_rng(seed)
    sample_note = ""
    if rows.size > LEAK_MAX_ROWS:
        pick = np.sort(rng.choice(rows.size, size=LEAK_MAX_ROWS, replace=False))
        rows, y = rows[pick], y[pick]
        sample_note = f", a random {LEAK_MAX_ROWS:,} of its {keep.sum():,} labelled rows"
    frame = train.iloc[rows]
    fold = rng.integers(0, 2, size=rows.size)
    out: list[str] = []
    majority = (float(np.bincount(y, minlength=len(cls)).max()) / y.size
                if task == "multiclass" else 0.0)
    for c in feats:
        found = _leak_figure(frame[c].reset_index(drop=True), y, task=task, k=len(cls),
                             fold=fold, seed=seed)
        if found is None or found[1] < _LEAK_LEVEL:
            continue
        what, figure = found
        tail = ("a likely leak of the label into the features; drop it from `features:` "
                "unless its value is known when the prediction is made")
        if task == "binary":
            out.append(f"feature `{c}` alone separates the classes ({what} {figure:.3f} on "
                       f"the training split{sample_note}): {tail}")
        elif task == "regression":
            out.append(f"feature `{c}` alone predicts the label ({what} {figure:.3f} on the "
                       f"training split{sample_note}): {tail}")
        elif (1.0 - figure) <= 0.2 * (1.0 - majority):
            out.append(f"feature `{c}` alone predicts the class (accuracy {figure:.3f} on "
                       f"held-out halves of the training split{sample_note}, against "
                       f"{majority:.3f} for always the most frequent class): {tail}")
    return out
