"""Statistics from row arrays under a *matrix* of row weights: the bootstrap's kernel.

``W`` is ``(n,)`` for one set of weights or ``(R, n)`` for ``R`` bootstrap replicates (row
weight × resample count). The grouping of rows into distinct values (the expensive part,
a sort) is done once and reused for every replicate; each replicate then costs one
weighted ``bincount``. With ``W`` a vector these give exactly the statistics of
:mod:`mlscope.metrics.stats`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mlscope.metrics.stats import (
    BinaryStats,
    ErrorStats,
    MulticlassStats,
    RegressionStats,
    scores_by_class,
)

__all__ = [
    "Grouped",
    "batched_binary",
    "batched_error",
    "batched_multiclass",
    "batched_regression",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_EPS = float(np.finfo(np.float64).eps)


class Grouped:
    """Rows grouped by a value: the distinct values (ascending) and each row's index."""

    __slots__ = ("inv", "values")

    def __init__(self, x: npt.NDArray[np.float64]) -> None:
        values, inv = np.unique(x, return_inverse=True)
        self.values: FloatArray = values.astype(np.float64)
        self.inv: IntArray = inv.astype(np.int64).ravel()

    @property
    def m(self) -> int:
        return int(self.values.size)

    def sum(self, W: FloatArray) -> FloatArray:
        """Sum ``W`` (``(n,)`` or ``(R, n)``) within each distinct value -> ``(..., m)``."""
        m = self.m
        if W.ndim == 1:
            return np.bincount(self.inv, weights=W, minlength=m).astype(np.float64)
        r = W.shape[0]
        flat = (np.arange(r, dtype=np.int64)[:, None] * m + self.inv[None, :]).ravel()
        out = np.bincount(flat, weights=W.ravel(), minlength=r * m).astype(np.float64)
        return out.reshape(r, m)


def _total(W: FloatArray) -> FloatArray:
    return np.asarray(W.sum(axis=-1), dtype=np.float64)


def batched_binary(
    y: npt.NDArray[np.bool_], score: FloatArray, W: FloatArray, g: Grouped | None = None
) -> BinaryStats:
    """:class:`BinaryStats` of rows ``(y, score)`` under weights ``W``."""
    g = g or Grouped(score)
    yf = y.astype(np.float64)
    pos = g.sum(W * yf)
    neg = g.sum(W * (1.0 - yf))
    return BinaryStats(
        g.values[::-1].copy(),
        np.ascontiguousarray(pos[..., ::-1]),
        np.ascontiguousarray(neg[..., ::-1]),
        int(y.size),
    )


def batched_error(
    values: FloatArray, W: FloatArray, *, unit_weights: bool, g: Grouped | None = None
) -> ErrorStats:
    """:class:`ErrorStats` of a per-row error under weights ``W``."""
    g = g or Grouped(values)
    return ErrorStats(g.values, g.sum(W), int(values.size), unit_weights)


def batched_regression(
    y: FloatArray,
    pred: FloatArray,
    W: FloatArray,
    *,
    y_shift: float,
    unit_weights: bool,
    g: Grouped | None = None,
) -> RegressionStats:
    """:class:`RegressionStats` under weights ``W`` (sums are matrix-vector products)."""
    e = pred - y
    ae = np.abs(e)
    yc = y - y_shift
    ape = ae / np.maximum(np.abs(y), _EPS)
    return RegressionStats(
        total=_total(W),
        sum_err=np.asarray(W @ e),
        sum_abs=np.asarray(W @ ae),
        sum_sq=np.asarray(W @ (e * e)),
        sum_ape=np.asarray(W @ ape),
        sum_y=np.asarray(W @ yc),
        sum_y2=np.asarray(W @ (yc * yc)),
        y_shift=y_shift,
        abs_errors=batched_error(ae, W, unit_weights=unit_weights, g=g),
        n_rows=int(y.size),
    )


def multiclass_row_codes(yi: IntArray, proba: FloatArray) -> tuple[IntArray, IntArray, FloatArray]:
    """Per-row predicted class, 0-based rank of the true class, and ``-log p_true``.

    The rank breaks ties as scikit-learn's ``top_k_accuracy_score`` does (a stable
    ascending argsort, reversed: among tied scores the larger class index ranks first).
    """
    n, k = proba.shape
    if n == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, np.zeros(0)
    pred = np.argmax(proba, axis=1).astype(np.int64)
    rows = np.arange(n)
    p_true = proba[rows, yi]
    above = (proba > p_true[:, None]).sum(axis=1)
    tied_before = ((proba == p_true[:, None]) & (np.arange(k)[None, :] > yi[:, None])).sum(axis=1)
    rank = (above + tied_before).astype(np.int64)
    norm = proba / proba.sum(axis=1, keepdims=True)
    nll = -np.log(np.clip(norm[rows, yi], _EPS, 1 - _EPS))
    return pred, rank, nll


def batched_multiclass(
    yi: IntArray,
    proba: FloatArray,
    classes: tuple[str, ...],
    W: FloatArray,
    codes: tuple[IntArray, IntArray, FloatArray] | None = None,
    groups: list[Grouped] | None = None,
) -> MulticlassStats:
    """:class:`MulticlassStats` under weights ``W``; ``codes`` from :func:`multiclass_row_codes`."""
    k = len(classes)
    pred, rank, nll = codes if codes is not None else multiclass_row_codes(yi, proba)
    cell = Grouped.__new__(Grouped)
    cell.values = np.arange(k * k, dtype=np.float64)
    cell.inv = yi * k + pred
    confusion = cell.sum(W).reshape(*W.shape[:-1], k, k)
    rk = Grouped.__new__(Grouped)
    rk.values = np.arange(k, dtype=np.float64)
    rk.inv = np.minimum(rank, k - 1)
    topk = np.cumsum(rk.sum(W), axis=-1)
    groups = groups or [Grouped(proba[:, c]) for c in range(k)]
    ovr = tuple(batched_binary(yi == c, proba[:, c], W, groups[c]) for c in range(k))
    return MulticlassStats(
        classes=classes,
        confusion=confusion,
        topk_hits=topk,
        log_loss_sum=np.asarray(W @ nll),
        one_vs_rest=ovr,
        total=_total(W),
        n_rows=int(yi.size),
        # One-vs-one ROC AUC: each class's score split by true class (metrics/stats.py).
        by_class=tuple(scores_by_class(yi, proba[:, c], k, W) for c in range(k)),
    )
