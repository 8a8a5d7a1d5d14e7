"""Weak slices of a binary classifier, each judged at its own base rate.

Many binary metrics depend on the share of positives as much as on the model: precision,
average precision, accuracy, F1, the positive rate, log loss, Brier. A slice with fewer
positives has a lower precision and a lower average precision *with the very same
classifier*, so comparing its value with the overall value flags base rates, not
weakness (a slice where the model separates the classes perfectly was called the weakest
because 15% of its rows were positive against 38% overall).

The method used here asks instead: *is the model worse on this slice than it would be on
rows with this slice's class mix and the whole split's score distributions?* The
reference for slice ``s`` is the metric computed on the whole split's statistics with the
positives re-weighted to the slice's positive count and the negatives to its negative
count (``pos · P_s / P``, ``neg · N_s / N``): the class-conditional score distributions of
the whole, the base rate of the slice. For a threshold metric at the model's overall TPR
and FPR this is the textbook expectation, e.g. precision ``p·TPR / (p·TPR + (1 − p)·FPR)``
at the slice's prevalence ``p``; for average precision, log loss and Brier it is the
same re-weighting of the whole score histogram. Prevalence-free metrics (ROC AUC, recall,
specificity, balanced accuracy) are unchanged by the re-weighting, so for them the
reference is the overall value, as before. If a slice differs from the whole only in its
base rate, its expected value *is* the reference, so the search does not flag it.

The comparison is paired: one Poisson bootstrap of the split's rows (seeded) gives, on
each resample, the slice's metric and its reference (re-weighted to the resample's class
counts of the slice), and the one-sided centred paired-bootstrap p-value of "the slice is
worse than its reference" (:func:`mlscope.compare.paired.paired_bootstrap`).
Benjamini–Hochberg across the slices tested holds the false-discovery rate.

A slice is only judged with at least ``min_size`` positives *and* ``min_size`` negatives:
class-conditional performance cannot be read from a handful of one class, and a slice
without positives has a precision of 0 whatever the model does. Such slices are listed
as "too few positives (negatives) to judge", never as weak.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mlscope.diagnose.gaps import orient
from mlscope.diagnose.types import WeakSlice
from mlscope.engine.numpy_backend import Layout, binary_cells
from mlscope.engine.stats import BinaryStats

__all__ = ["METHOD", "SliceGroup", "Unjudged", "base_rate_reference", "binary_weak_slices"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
MetricFn = Callable[[BinaryStats], FloatArray]

METHOD = ("each slice against the metric the model would score at the slice's base rate "
          "(the whole split's score distributions per class, re-weighted to the slice's "
          "positives and negatives); slices need min_size positives and negatives")

_CELLS_PER_CHUNK = 4_000_000
"""Replicates are drawn in chunks of at most this many row weights (32 MB), so memory does
not grow with the number of resamples."""


@dataclass(frozen=True)
class SliceGroup:
    """A partition of the split's rows into slices: each row's slice index (``-1``: in
    none) and the slices' keys, in index order."""

    codes: IntArray
    keys: Sequence[str]


@dataclass
class Unjudged:
    """A slice the search did not judge, and why."""

    slice: str
    n_rows: int
    positives: int
    negatives: int
    reason: str


def base_rate_reference(whole: BinaryStats, positives: FloatArray | float,
                        negatives: FloatArray | float, n_rows: int) -> BinaryStats:
    """The whole split's statistics re-weighted to a slice's class counts.

    Parameters
    ----------
    whole
        The statistics of every row (batch shape ``B`` or none).
    positives, negatives
        The slice's (weighted) positive and negative counts, scalars or shape ``B``.
    n_rows
        The slice's row count (some metrics' undefined-checks read it).

    Returns
    -------
    BinaryStats
        The same scores, positives scaled by ``positives / P`` and negatives by
        ``negatives / N``: the class-conditional score distributions of the whole at the
        slice's base rate.
    """
    P, N = whole.total_pos, whole.total_neg
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(P > 0, np.asarray(positives, dtype=np.float64) / P, np.nan)
        b = np.where(N > 0, np.asarray(negatives, dtype=np.float64) / N, np.nan)
    a, b = np.asarray(a)[..., None], np.asarray(b)[..., None]
    # Binned per-bin loss sums mix both classes and cannot be re-weighted by class: the
    # reference is computed from the scores (exact for the rows fetched here).
    return BinaryStats(scores=whole.scores, pos=whole.pos * a, neg=whole.neg * b,
                       n_rows=n_rows)


def _values(fn: MetricFn, st: BinaryStats) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(fn(st), dtype=np.float64)


def binary_weak_slices(
    *,
    split: str,
    scores: FloatArray,
    y: FloatArray,
    w: FloatArray,
    groups: Sequence[SliceGroup],
    metric: MetricFn,
    direction: str,
    upper_bound: float | None,
    min_size: int,
    fdr: float = 0.05,
    level: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> tuple[list[WeakSlice], list[Unjudged], int]:
    """Search the slices of ``groups`` for ones worse than their base-rate reference.

    Parameters
    ----------
    split
        The split's name (recorded in the rows returned).
    scores, y, w
        Per row: the model's score, the 0/1 label, the row weight.
    groups
        The slice partitions to search (each row in at most one slice per group).
    metric
        ``metric(stats) -> values`` over the batch (NaN where undefined), with any
        operating threshold already fixed.
    direction, upper_bound
        The metric's direction and upper bound (errors are oriented: higher is worse).
    min_size
        The positives, and the negatives, a slice needs to be judged.
    fdr, level
        Benjamini–Hochberg false-discovery rate; level of the gap's interval.
    resamples, seed
        Poisson bootstrap replicates of the rows, and their seed.

    Returns
    -------
    tuple
        The slices tested (significant first, by harm), the slices not judged (with the
        reason), and how many were tested.
    """
    from mlscope.compare.paired import fdr_bh, paired_bootstrap

    scores = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    n = int(y.size)
    order = np.argsort(scores)
    whole_layout = Layout(scores, np.zeros(n, dtype=np.int64), 1, order)
    layouts = [Layout(scores, g.codes, len(g.keys), order) for g in groups]
    whole = binary_cells(whole_layout, y, w, 1)[0]
    is_pos = y > 0.5

    unjudged: list[Unjudged] = []
    judged: list[tuple[int, int, str, int]] = []  # (group, cell, key, rows)
    point: dict[tuple[int, int], tuple[float, float, int, int]] = {}
    for gi, (g, lay) in enumerate(zip(groups, layouts, strict=True)):
        cells = binary_cells(lay, y, w, len(g.keys))
        inside = g.codes >= 0
        npos = np.bincount(g.codes[inside & is_pos], minlength=len(g.keys))
        nneg = np.bincount(g.codes[inside & ~is_pos], minlength=len(g.keys))
        for ci, key in enumerate(g.keys):
            k1, k0 = int(npos[ci]), int(nneg[ci])
            if k1 < min_size or k0 < min_size:
                few, k = ("positives", k1) if k1 < min_size else ("negatives", k0)
                unjudged.append(Unjudged(
                    slice=key, n_rows=k1 + k0, positives=k1, negatives=k0,
                    reason=f"too few {few} to judge ({k} < min_size {min_size})"))
                continue
            st = cells[ci]
            value = float(_values(metric, st))
            ref = float(_values(metric, base_rate_reference(
                whole, st.total_pos, st.total_neg, k1 + k0)))
            if not (np.isfinite(value) and np.isfinite(ref)):
                unjudged.append(Unjudged(slice=key, n_rows=k1 + k0, positives=k1,
                                         negatives=k0, reason="metric undefined on the slice"))
                continue
            judged.append((gi, ci, key, k1 + k0))
            point[(gi, ci)] = (value, ref, k1, k0)

    # Paired replicates: the same resampled rows for the slice and for its reference.
    reps: dict[tuple[int, int], list[FloatArray]] = {k: [] for k in point}
    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, _CELLS_PER_CHUNK // max(n, 1)))
    done = 0
    needed = {gi for gi, _, _, _ in judged}
    while done < resamples and judged:
        b = min(chunk, resamples - done)
        W = rng.poisson(1.0, size=(b, n)).astype(np.float64) * w
        whole_b = binary_cells(whole_layout, y, W, 1)[0]
        for gi in needed:
            cells_b = binary_cells(layouts[gi], y, W, len(groups[gi].keys))
            for (g2, ci), lst in reps.items():
                if g2 != gi:
                    continue
                st = cells_b[ci]
                v = _values(metric, st)
                r = _values(metric, base_rate_reference(whole_b, st.total_pos, st.total_neg,
                                                        st.n_rows))
                sign = 1.0 if direction == "lower" else -1.0
                lst.append(sign * (v - r))  # oriented: positive = the slice is worse
        done += b

    rows: list[WeakSlice] = []
    ps: list[float] = []
    overall = float(_values(metric, whole))
    for gi, ci, key, n_rows in judged:
        value, ref, k1, k0 = point[(gi, ci)]
        gap = orient(value, direction, upper_bound) - orient(ref, direction, upper_bound)
        d = np.concatenate(reps[(gi, ci)]) if reps[(gi, ci)] else np.empty(0)
        finite = d[np.isfinite(d)]
        if finite.size < 0.9 * max(d.size, 1) or finite.size < 2:
            unjudged.append(Unjudged(slice=key, n_rows=n_rows, positives=k1, negatives=k0,
                                     reason="metric undefined on too many resamples"))
            continue
        pb = paired_bootstrap(d, gap, level=level)
        if pb.p_greater is None:
            continue
        rows.append(WeakSlice(slice=key, split=split, n_rows=n_rows, value=value,
                              overall=overall, gap=float(gap),
                              lower=pb.lower, upper=pb.upper, p_value=float(pb.p_greater),
                              adjusted_p=float("nan"),
                              harm=n_rows / max(n, 1) * float(gap), significant=False,
                              expected=ref, positives=k1, negatives=k0))
        ps.append(float(pb.p_greater))
    if rows:
        rejected, adjusted = fdr_bh(np.asarray(ps), alpha=fdr)
        for ws, rej, adj in zip(rows, rejected, adjusted, strict=True):
            ws.adjusted_p = float(adj)
            ws.significant = bool(rej) and ws.gap > 0
    rows.sort(key=lambda ws: (not ws.significant, -ws.harm))
    return rows, unjudged, len(ps)
