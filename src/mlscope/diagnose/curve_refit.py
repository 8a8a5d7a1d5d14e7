"""Measuring a learning curve: refit a model on growing (stratified, nested) subsets of the
training rows and score each on the same evaluation rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from mlscope.errors import InputError

__all__ = ["refit_curve"]


# -- producing the points -----------------------------------------------------------------


def _take(data: Any, idx: npt.NDArray[np.int64]) -> Any:
    """Rows ``idx`` of a DataFrame/Series (by position) or of anything array-like."""
    if hasattr(data, "iloc"):
        return data.iloc[idx]
    return np.asarray(data)[idx]


def _is_classification(y: npt.NDArray[Any]) -> bool:
    """Labels look like classes: bools/strings/objects, or ≤ 20 distinct whole numbers."""
    if y.dtype.kind in "bOSU":
        return True
    if y.dtype.kind in "iuf":
        whole = y.dtype.kind in "iu" or bool(np.all(np.isfinite(y) & (y == np.round(y))))
        return whole and np.unique(y).size <= 20
    return False


def _stratified_order(y: npt.NDArray[Any], rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """A random order whose every prefix holds each class in about its share.

    Each class is shuffled and its j-th member gets the key (j + u)/n_class (u uniform), so
    sorting by key interleaves the classes evenly; the first member of every class is
    moved to the front so that any prefix at least as long as the number of classes has
    them all.
    """
    _, codes = np.unique(y.astype(str) if y.dtype.kind == "O" else y, return_inverse=True)
    keys = np.empty(y.size)
    firsts = []
    for k in range(int(codes.max()) + 1):
        members = rng.permutation(np.flatnonzero(codes == k))
        keys[members] = (np.arange(members.size) + rng.random(members.size)) / members.size
        firsts.append(members[0])
    order = np.argsort(keys, kind="stable")
    front = np.array(sorted(firsts, key=lambda i: keys[i]), dtype=np.int64)
    rest = order[~np.isin(order, front)]
    return np.concatenate([front, rest]).astype(np.int64)


def refit_curve(
    fit_predict: Callable[[Any, Any, Any], Any],
    X_train: Any,
    y_train: Any,
    X_eval: Any,
    y_eval: Any,
    metric: Callable[[Any, Any], float],
    *,
    fractions: Sequence[float] = (0.1, 0.2, 0.35, 0.5, 0.75, 1.0),
    repeats: int = 2,
    seed: int = 0,
    stratify: bool | None = None,
) -> tuple[list[int], list[float]]:
    """Measure a learning curve: refit on growing subsets of the training rows, score each.

    Parameters
    ----------
    fit_predict
        ``fit_predict(X_sub, y_sub, X_eval) -> prediction``: trains a fresh model on the
        subset and predicts the evaluation rows.
    X_train, y_train
        The training rows (arrays, DataFrames or Series; subsets are taken by position).
    X_eval, y_eval
        The evaluation rows, the same for every subset.
    metric
        ``metric(y_eval, prediction) -> float``.
    fractions
        Shares of the training rows, each in (0, 1]; sizes are rounded (at least 2) and
        duplicates merged.
    repeats
        Independent orders of the training rows; each size is scored once per order and
        the scores are averaged. Subsets within an order are nested (each contains the
        smaller ones), which keeps the curve's shape free of subset-to-subset noise.
    seed
        Seeds the orders.
    stratify
        Keep each class's share in every subset (and every class present once the subset
        has at least as many rows as classes). Default: when ``y_train`` looks like class
        labels (bools, strings, or at most 20 distinct whole numbers).

    Returns
    -------
    sizes, values
        Increasing training-set sizes and the mean score at each, ready for
        :func:`fit_learning_curve`. For every repeat separately, call once per seed with
        ``repeats=1`` and pass the lists of values as repeats.
    """
    y = np.asarray(y_train)
    total = y.shape[0]
    if len(X_train) != total:
        raise InputError(f"X_train and y_train must have the same rows; got {len(X_train)} "
                         f"and {total}")
    if total < 2:
        raise InputError(f"refit_curve needs at least 2 training rows; got {total}")
    fr = [float(f) for f in fractions]
    if not fr or any(not (0 < f <= 1) for f in fr):
        raise InputError(f"fractions must be shares in (0, 1]; got {list(fractions)!r}")
    if int(repeats) != repeats or repeats < 1:
        raise InputError(f"repeats must be a whole number >= 1; got {repeats!r}")
    sizes = sorted({min(total, max(2, round(f * total))) for f in fr})
    strat = _is_classification(y) if stratify is None else stratify
    rng = np.random.default_rng(seed)
    scores = np.zeros((int(repeats), len(sizes)))
    for r in range(int(repeats)):
        order = _stratified_order(y, rng) if strat else rng.permutation(total)
        for j, size in enumerate(sizes):
            idx = np.sort(order[:size])
            pred = fit_predict(_take(X_train, idx), _take(y_train, idx), X_eval)
            scores[r, j] = float(metric(y_eval, pred))
    return [int(s) for s in sizes], [float(x) for x in scores.mean(axis=0)]
