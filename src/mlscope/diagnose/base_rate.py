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
from mlscope.engine.numpy_backend import Layout, binary_cells
from mlscope.metrics.stats import BinaryStats
from mlscope.result.diagnosis import WeakSlice

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


ATOM_MIN_ROWS = 20_000
"""From this many rows (unit weights) the replicates are drawn on atoms, not rows."""
ATOM_BINS = 512
"""Score bins of the atoms (quantiles of the split's scores, plus any operating threshold)."""


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


class _Atoms:
    """The rows collapsed into atoms: one per (slice of every grouping, score bin, class).

    Rows of one atom are exchangeable under the Poisson bootstrap, and a sum of ``c``
    independent Poisson(1) weights is Poisson(``c``): drawing one count per atom gives the
    same replicates of every slice's histogram (on binned scores) as drawing a weight per
    row, at a cost that grows with the atoms, not the rows. Scores are binned at quantiles
    and at the operating thresholds (``edges``), so a threshold metric sees every row on
    the right side of its threshold; each bin is represented by its mean score.
    """

    def __init__(self, scores: FloatArray, y: FloatArray, groups: Sequence[SliceGroup],
                 edges: Sequence[float], bins: int) -> None:
        qs = np.quantile(scores, np.linspace(0.0, 1.0, bins + 1))
        cuts = np.unique(np.concatenate([qs[1:-1], np.asarray(edges, dtype=np.float64)]))
        raw = np.searchsorted(cuts, scores, side="right")  # s >= cut goes above the cut
        _, b = np.unique(raw, return_inverse=True)  # empty bins dropped
        b = b.ravel().astype(np.int64)
        nb = int(b.max()) + 1 if b.size else 0
        mean = np.bincount(b, weights=scores, minlength=nb) / np.bincount(b, minlength=nb)
        self.nb = nb
        self.scores: FloatArray = mean[::-1].copy()  # descending, as BinaryStats wants
        key = np.column_stack([g.codes for g in groups]
                              + [b, (y > 0.5).astype(np.int64)])
        uniq, counts = np.unique(key, axis=0, return_counts=True)
        self.counts: FloatArray = counts.astype(np.float64)
        self.cls: FloatArray = uniq[:, -1].astype(np.float64)
        self.pos_in_bins: IntArray = (nb - 1 - uniq[:, -2]).astype(np.int64)
        self.codes: list[IntArray] = [uniq[:, i].astype(np.int64) for i in range(len(groups))]
        self.sizes = [len(g.keys) for g in groups]

    def stats(self, R: FloatArray, gi: int | None = None) -> list[BinaryStats]:
        """Histograms of every slice of grouping ``gi`` (None: all rows) under atom
        counts ``R`` (``(A,)`` or ``(B, A)``)."""
        from mlscope.engine.numpy_backend import cell_sum

        if gi is None:
            cell, ncell = np.zeros(self.counts.size, dtype=np.int64), 1
        else:
            cell, ncell = self.codes[gi], self.sizes[gi]
        idx = np.where(cell >= 0, cell * self.nb + self.pos_in_bins, -1)
        pos = cell_sum(R * self.cls, idx, ncell * self.nb)
        neg = cell_sum(R * (1.0 - self.cls), idx, ncell * self.nb)
        pos = pos.reshape(*pos.shape[:-1], ncell, self.nb)
        neg = neg.reshape(*neg.shape[:-1], ncell, self.nb)
        rows = np.bincount(cell[cell >= 0], weights=self.counts[cell >= 0], minlength=ncell)
        return [BinaryStats(scores=self.scores, pos=pos[..., c, :], neg=neg[..., c, :],
                            n_rows=int(rows[c])) for c in range(ncell)]


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
    edges: Sequence[float] = (),
    atoms: bool | None = None,
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
    edges
        Operating thresholds of the metric: exact bin edges when the replicates are drawn
        on atoms.
    atoms
        Draw the replicates on atoms (:class:`_Atoms`, binned scores) rather than rows;
        ``None``: from ``ATOM_MIN_ROWS`` rows with unit weights. The values, references
        and gaps reported are exact either way; the binned replicates give the p-value
        (centred on the binned gap) and the interval (shifted onto the exact gap).

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
                # Name every class that is short (23 positives and 2 negatives: both).
                # "1 positive", "0 positives": the count's own number.
                short = [f"{k} {what if k == 1 else what + 's'}"
                         for what, k in (("positive", k1), ("negative", k0)) if k < min_size]
                few = ("positives and negatives" if len(short) == 2
                       else "positives" if k1 < min_size else "negatives")
                unjudged.append(Unjudged(
                    slice=key, n_rows=k1 + k0, positives=k1, negatives=k0,
                    reason=f"too few {few} to judge ({' and '.join(short)}; each needs "
                           f"min_size {min_size})"))
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
    use_atoms = (atoms if atoms is not None
                 else n >= ATOM_MIN_ROWS and bool(np.all(w == 1.0)))
    sign = 1.0 if direction == "lower" else -1.0
    at = _Atoms(scores, y, groups, edges, ATOM_BINS) if use_atoms and judged else None
    centre: dict[tuple[int, int], float] = {}  # the gap the replicates are centred on
    if at is not None:
        whole_p = at.stats(at.counts)[0]
        for gi in {gi for gi, _, _, _ in judged}:
            cells_p = at.stats(at.counts, gi)
            for (g2, ci) in point:
                if g2 == gi:
                    st = cells_p[ci]
                    centre[(gi, ci)] = float(sign * (_values(metric, st) - _values(
                        metric, base_rate_reference(whole_p, st.total_pos, st.total_neg,
                                                    st.n_rows))))
    reps: dict[tuple[int, int], list[FloatArray]] = {k: [] for k in point}
    rng = np.random.default_rng(seed)
    width = at.counts.size if at is not None else n
    chunk = max(1, min(resamples, _CELLS_PER_CHUNK // max(width, 1)))
    done = 0
    needed = {gi for gi, _, _, _ in judged}
    while done < resamples and judged:
        b = min(chunk, resamples - done)
        if at is not None:
            R = rng.poisson(at.counts, size=(b, at.counts.size)).astype(np.float64)
            whole_b = at.stats(R)[0]
        else:
            W = rng.poisson(1.0, size=(b, n)).astype(np.float64) * w
            whole_b = binary_cells(whole_layout, y, W, 1)[0]
        for gi in needed:
            cells_b = (at.stats(R, gi) if at is not None
                       else binary_cells(layouts[gi], y, W, len(groups[gi].keys)))
            for (g2, ci), lst in reps.items():
                if g2 != gi:
                    continue
                st = cells_b[ci]
                v = _values(metric, st)
                r = _values(metric, base_rate_reference(whole_b, st.total_pos, st.total_neg,
                                                        st.n_rows))
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
        # Binned replicates are centred on the binned gap; the interval is moved onto the
        # exact one (as the bucket bootstrap does).
        c = centre.get((gi, ci), gap)
        pb = paired_bootstrap(d, c, level=level)
        if pb.p_greater is None:
            continue
        shift = gap - c
        rows.append(WeakSlice(slice=key, split=split, n_rows=n_rows, value=value,
                              overall=overall, gap=float(gap),
                              lower=None if pb.lower is None else pb.lower + shift,
                              upper=None if pb.upper is None else pb.upper + shift,
                              p_value=float(pb.p_greater),
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
