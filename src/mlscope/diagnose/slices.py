"""Error analysis: the slices where the model is significantly worse than overall.

Each slice's metric is compared with the overall metric on the same bootstrap resamples
(the slice is part of the whole, so the comparison is paired). The one-sided p-value for
"the slice is worse" is the centred paired-bootstrap p-value
(:func:`mlscope.compare.paired.paired_bootstrap`); Benjamini–Hochberg across every slice
tested keeps the share of false discoveries at ``fdr``. Slices are ranked by the harm they
do: their share of the rows times how much worse they are, the part of the overall error
they carry beyond their fair share.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from mlscope.diagnose.gaps import orient
from mlscope.result.diagnosis import WeakSlice

__all__ = ["weak_slices"]

FloatArray = npt.NDArray[np.float64]


def weak_slices(
    *,
    split: str,
    overall: float,
    overall_reps: FloatArray | None,
    slices: Mapping[str, tuple[float | None, int]],
    slice_reps: Mapping[str, FloatArray | None],
    n_total: int,
    direction: str,
    upper_bound: float | None,
    min_size: int,
    fdr: float = 0.05,
    level: float = 0.95,
) -> tuple[list[WeakSlice], int]:
    """Test every slice (``key -> (value, rows)``) against the overall value.

    Returns the slices tested (significant ones first, by harm) and how many were tested.
    """
    from mlscope.compare.paired import fdr_bh, paired_bootstrap

    e_all = orient(overall, direction, upper_bound)
    rows: list[WeakSlice] = []
    ps: list[float] = []
    for key, (value, n) in slices.items():
        reps = slice_reps.get(key)
        if value is None or n < min_size or reps is None or overall_reps is None:
            continue
        e = orient(value, direction, upper_bound)
        gap = e - e_all
        # Oriented replicate differences: positive = the slice is worse than overall.
        sign = 1.0 if direction == "lower" else -1.0
        d = sign * (np.asarray(reps) - np.asarray(overall_reps))
        finite = d[np.isfinite(d)]
        if finite.size < 0.9 * d.size or finite.size < 2:
            continue
        pb = paired_bootstrap(d, gap, level=level)
        p = pb.p_greater
        if p is None:
            continue
        rows.append(WeakSlice(slice=key, split=split, n_rows=int(n), value=float(value),
                              overall=float(overall), gap=float(gap), lower=pb.lower,
                              upper=pb.upper, p_value=float(p), adjusted_p=float("nan"),
                              harm=float(n) / max(n_total, 1) * float(gap),
                              significant=False))
        ps.append(float(p))
    if rows:
        rejected, adjusted = fdr_bh(np.asarray(ps), alpha=fdr)
        for w, rej, adj in zip(rows, rejected, adjusted, strict=True):
            w.adjusted_p = float(adj)
            w.significant = bool(rej) and w.gap > 0
    rows.sort(key=lambda w: (not w.significant, -w.harm))
    return rows, len(ps)
