"""Distribution shift between a reference sample and a window: effect sizes and tests.

Effect sizes say *how much* a distribution moved, on a scale that does not grow with the
number of rows; tests say whether the move is more than sampling noise. An alert needs
both (:mod:`mlscope.monitor.checks`), so that neither a tiny shift seen on a million rows
nor a large-looking one on thirty rows raises it.

* numeric columns: the population stability index (PSI) over the reference's deciles, the
  Jensen–Shannon distance over the same bins, the Wasserstein-1 distance divided by the
  reference's interquartile range (its standard deviation when the IQR is 0), and the
  two-sample Kolmogorov–Smirnov test;
* categorical columns: PSI and Jensen–Shannon over the categories, and the χ² test of
  the 2 × k table (reference, window) × category, rare categories pooled.

SciPy is imported when a test is made (it comes with ``pip install "mlscope[sklearn]"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Shift", "categorical_shift", "numeric_shift", "rate_test", "two_rate_test"]

FloatArray = npt.NDArray[np.float64]
# Deciles: ten bins of the reference, the usual PSI construction.
_BINS = 10
# Each bin's share is floored at this before logs: an empty bin would make PSI infinite.
_FLOOR = 1e-4
# A category seen in fewer expected rows than this is pooled into one "other" cell, where
# the χ² approximation holds.
_MIN_EXPECTED = 5.0


@dataclass(frozen=True)
class Shift:
    """One column's shift: the effect sizes, the test, its p-value and the row counts."""

    psi: float
    js: float
    wasserstein: float | None
    test: str
    p: float
    n_reference: int
    n_window: int

    def effects(self) -> dict[str, float]:
        out = {"psi": self.psi, "js": self.js}
        if self.wasserstein is not None:
            out["wasserstein"] = self.wasserstein
        return out


def _psi_js(ref: FloatArray, win: FloatArray) -> tuple[float, float]:
    """PSI and the Jensen–Shannon distance (base 2, in [0, 1]) of two count vectors."""
    p = np.maximum(ref / max(ref.sum(), 1.0), _FLOOR)
    q = np.maximum(win / max(win.sum(), 1.0), _FLOOR)
    p, q = p / p.sum(), q / q.sum()
    psi = float(np.sum((q - p) * np.log(q / p)))
    m = (p + q) / 2
    jsd = 0.5 * float(np.sum(p * np.log2(p / m))) + 0.5 * float(np.sum(q * np.log2(q / m)))
    return psi, math.sqrt(max(jsd, 0.0))


def numeric_shift(ref: npt.ArrayLike, win: npt.ArrayLike) -> Shift | None:
    """The shift of a numeric column (missing values left out; see the missing-rate check).

    Returns None when either side has fewer than two values.
    """
    from scipy import stats

    r = np.asarray(ref, dtype=np.float64)
    w = np.asarray(win, dtype=np.float64)
    r, w = r[np.isfinite(r)], w[np.isfinite(w)]
    if r.size < 2 or w.size < 2:
        return None
    # Bin edges at the reference's deciles; repeated edges (a column with few values)
    # collapse, so each distinct value of a discrete column keeps its own bin.
    edges = np.unique(np.quantile(r, np.linspace(0, 1, _BINS + 1)[1:-1]))
    rc = np.bincount(np.searchsorted(edges, r, side="right"), minlength=edges.size + 1)
    wc = np.bincount(np.searchsorted(edges, w, side="right"), minlength=edges.size + 1)
    psi, js = _psi_js(rc.astype(np.float64), wc.astype(np.float64))
    q75, q25 = np.quantile(r, [0.75, 0.25])
    scale = float(q75 - q25) or float(np.std(r)) or 1.0
    wd = float(stats.wasserstein_distance(r, w)) / scale
    p = float(stats.ks_2samp(r, w).pvalue)
    return Shift(psi, js, wd, "ks", p, int(r.size), int(w.size))


def categorical_shift(ref: Any, win: Any) -> Shift | None:
    """The shift of a categorical column (values compared as text; missing left out).

    Returns None when either side has no values.
    """
    from scipy import stats

    r = [str(v) for v in ref if v is not None and v == v]
    w = [str(v) for v in win if v is not None and v == v]
    if not r or not w:
        return None
    cats = sorted(set(r) | set(w))
    index = {c: i for i, c in enumerate(cats)}
    rc = np.bincount([index[c] for c in r], minlength=len(cats)).astype(np.float64)
    wc = np.bincount([index[c] for c in w], minlength=len(cats)).astype(np.float64)
    psi, js = _psi_js(rc, wc)
    # Pool rare categories so that each cell of the χ² table has enough expected rows.
    total = rc + wc
    expected_small = total * min(rc.sum(), wc.sum()) / (rc.sum() + wc.sum()) < _MIN_EXPECTED
    if expected_small.any():
        keep = ~expected_small
        rc = np.append(rc[keep], rc[expected_small].sum())
        wc = np.append(wc[keep], wc[expected_small].sum())
    table = np.vstack([rc, wc])
    table = table[:, table.sum(axis=0) > 0]
    p = 1.0 if table.shape[1] < 2 else float(stats.chi2_contingency(table, correction=False).pvalue)
    return Shift(psi, js, None, "chi2", p, len(r), len(w))


def rate_test(k: int, n: int, p0: float, *, side: str = "greater") -> float:
    """The exact binomial p-value of ``k`` events in ``n`` rows against rate ``p0``.

    ``side`` is ``"greater"`` (is the rate above ``p0``?), ``"less"`` or ``"two-sided"``.
    """
    from scipy import stats

    if n <= 0:
        return float("nan")
    p0 = min(max(p0, 1e-12), 1 - 1e-12)
    return float(stats.binomtest(int(k), int(n), p0, alternative=side).pvalue)


def two_rate_test(k_window: int, n_window: int, k_reference: int, n_reference: int,
                  alternative: str = "greater") -> float:
    """Fisher's exact p-value that the window's rate exceeds the reference's (one-sided;
    ``alternative="two-sided"``: that the two differ).

    Both rates are estimated, so the reference's own sampling error counts (a binomial test
    against the reference's rate as if it were known would alert too often when the
    reference is small).
    """
    from scipy import stats

    if n_window <= 0 or n_reference <= 0:
        return float("nan")
    table = [[k_window, n_window - k_window], [k_reference, n_reference - k_reference]]
    return float(stats.fisher_exact(table, alternative=alternative).pvalue)
