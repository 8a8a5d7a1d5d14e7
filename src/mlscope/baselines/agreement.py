"""Agreement between annotators: Krippendorff's alpha, Fleiss' kappa, percent agreement."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from mlscope.baselines.human_data import AnnotatedData, FloatArray, IntArray
from mlscope.result.human import Agreement

__all__ = ["ALPHA_TENTATIVE", "alpha_closed", "annotator_agreement", "fleiss_kappa"]

# Krippendorff (2004, "Content Analysis", 2nd ed., §11.4.4): alpha >= 0.800 supports
# conclusions, 0.667 <= alpha < 0.800 only tentative ones; below 0.667, none.
ALPHA_TENTATIVE = 0.667
# The krippendorff package builds an items x values x values array; above this many cells
# the same alpha comes from its closed form instead.
_KRIPP_CELLS = 4_000_000


def fleiss_kappa(counts: npt.ArrayLike) -> tuple[float | None, str | None]:
    """Fleiss' kappa of an item x class table of label counts.

    Items may have different numbers of labels: each item's agreement
    ``P_i = Σ_j n_ij (n_ij − 1) / (n_i (n_i − 1))`` is computed from its own ``n_i``,
    ``P̄`` is their unweighted mean over items with at least 2 labels, and the chance
    agreement ``P_e = Σ_j p_j²`` uses the class shares ``p_j`` pooled over those items'
    labels. With the same number of labels on every item this is Fleiss (1971) exactly.

    Parameters
    ----------
    counts
        ``(n_items, n_classes)`` non-negative label counts.

    Returns
    -------
    tuple
        ``(kappa, None)``, or ``(None, reason)`` when kappa is undefined (no item with two
        labels, or every label in one class so that chance agreement is 1).
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2:
        raise ValueError(f"counts must be a 2-d item x class table, got shape {c.shape}")
    if (c < 0).any():
        raise ValueError("counts must be non-negative")
    n_i = c.sum(axis=1)
    c, n_i = c[n_i >= 2], n_i[n_i >= 2]
    if c.shape[0] == 0:
        return None, "no item has two or more labels"
    p_items = (c * (c - 1)).sum(axis=1) / (n_i * (n_i - 1))
    p_bar = float(p_items.mean())
    share = c.sum(axis=0) / c.sum()
    p_e = float((share**2).sum())
    if p_e >= 1.0 - 1e-12:
        return None, "every label is the same class, so chance agreement is 1 and kappa is 0/0"
    return (p_bar - p_e) / (1.0 - p_e), None


def _percent_agreement(counts: FloatArray) -> float | None:
    """Mean over items with 2+ labels of the share of annotator pairs that agree."""
    n_i = counts.sum(axis=1)
    ok = n_i >= 2
    if not ok.any():
        return None
    c, n = counts[ok], n_i[ok]
    return float(((c * (c - 1)).sum(axis=1) / (n * (n - 1))).mean())


def alpha_closed(item: IntArray, value: FloatArray, level: str) -> float | None:
    """Krippendorff's alpha from its closed form, in O(labels) memory.

    With ``n`` pairable labels (on items with 2+ labels), ``m_u`` labels on item ``u``:
    ``D_o = (1/n) Σ_u (Σ_{i≠j in u} δ(v_i, v_j)) / (m_u − 1)`` and
    ``D_e = Σ_{i≠j} δ(v_i, v_j) / (n (n − 1))`` over all pairable labels, ``α = 1 − D_o/D_e``.
    Nominal: ``δ = [v_i ≠ v_j]``; interval: ``δ = (v_i − v_j)²``, whose pair sums are
    ``2 m SS`` (``SS``: sum of squares around the mean). ``None`` when ``D_e`` is 0.
    """
    n_items = int(item.max()) + 1 if item.size else 0
    m = np.bincount(item, minlength=n_items)
    pairable = m[item] >= 2
    it, v = item[pairable], value[pairable]
    n = v.size
    if n < 2:
        return None
    m_u = np.bincount(it, minlength=n_items).astype(np.float64)
    ok = m_u >= 2
    if level == "nominal":
        codes = v.astype(np.int64)
        k = int(codes.max()) + 1
        cnt = np.bincount(it * k + codes, minlength=n_items * k).reshape(n_items, k)
        cnt = cnt.astype(np.float64)
        disagree = m_u**2 - (cnt**2).sum(axis=1)
        d_o = float((disagree[ok] / (m_u[ok] - 1)).sum()) / n
        tot = cnt.sum(axis=0)
        d_e = float(n * n - (tot**2).sum()) / (n * (n - 1))
    else:
        # Centred first, so that sums of squares do not cancel for large values.
        c = v - v.mean()
        s = np.bincount(it, weights=c, minlength=n_items)
        s2 = np.bincount(it, weights=c * c, minlength=n_items)
        ss_u = np.maximum(s2[ok] - s[ok] ** 2 / m_u[ok], 0.0)
        d_o = float((2 * m_u[ok] * ss_u / (m_u[ok] - 1)).sum()) / n
        d_e = 2 * float((c * c).sum()) / (n - 1)
    if not d_e > 0:
        return None
    return 1.0 - d_o / d_e


def _alpha(data: AnnotatedData) -> tuple[float | None, str | None, str | None]:
    """``(alpha, why undefined, how computed)``: the krippendorff package where it fits."""
    domain = np.unique(data.row_val)
    if domain.size < 2:
        return None, "every label has the same value", None
    level: Literal["nominal", "interval"] = "nominal" if data.classify else "interval"
    cells = len(data.items) * domain.size**2
    try:
        import krippendorff
    except ImportError:
        reason = "the krippendorff package is not installed"
    else:
        reason = "" if cells <= _KRIPP_CELLS else (
            f"the krippendorff package would need {cells:,} cells")
    if reason:
        alpha = alpha_closed(data.row_item, data.row_val, level)
        why = "fewer than two items with two labels" if alpha is None else None
        return alpha, why, f"Krippendorff's alpha from its closed form ({reason})"
    inv = np.searchsorted(domain, data.row_val)
    n, v = len(data.items), domain.size
    counts = np.bincount(data.row_item * v + inv, minlength=n * v).reshape(n, v)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = float(krippendorff.alpha(value_counts=counts, value_domain=domain,
                                     level_of_measurement=level))
    if not np.isfinite(a):
        return None, "fewer than two items with two labels", None
    return a, None, None


def annotator_agreement(data: AnnotatedData) -> Agreement:
    """Agreement between the annotators of ``data``, with a warning when alpha is low.

    Parameters
    ----------
    data
        The normalised labels.

    Returns
    -------
    Agreement
        Krippendorff's alpha, Fleiss' kappa and percent agreement (classification only),
        the counts, and notes on what was undefined or how alpha was computed.
    """
    notes: list[str] = []
    n_items = len(data.items)
    level: Literal["nominal", "interval"] = "nominal" if data.classify else "interval"
    kappa = pct = None
    if data.classify:
        counts = data.counts()
        kappa, why = fleiss_kappa(counts)
        if why:
            notes.append(f"Fleiss' kappa undefined: {why}")
        pct = _percent_agreement(counts)
    alpha, why, how = _alpha(data)
    if why:
        notes.append(f"Krippendorff's alpha undefined: {why}")
    if how:
        notes.append(how)
    if (data.n_labels < 2).all():
        notes.append("no item has two labels, so annotators cannot be compared")
    warning = None
    if alpha is not None and alpha < ALPHA_TENTATIVE:
        warning = (
            f"Krippendorff's alpha is {alpha:.3f}, below {ALPHA_TENTATIVE} (Krippendorff's "
            "floor for even tentative conclusions): human labels disagree too much for a "
            "human-level ceiling; the 'human level' is then a floor of label noise, not a "
            "target"
        )
    return Agreement(alpha, kappa, pct, n_items, len(data.annotators),
                     float(data.n_labels.mean()), level, warning, notes)
