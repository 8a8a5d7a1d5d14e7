"""Calibration in the result: the reliability curve of each binary model.

Plain data, like the rest of :mod:`mlscope.result`; computed by the pipeline
(:mod:`mlscope.pipeline.calibration`) from the statistics, read by the report's
reliability diagram. Results written before it existed load with no curves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ReliabilityCurve"]


@dataclass
class ReliabilityCurve:
    """One model's probabilities against the observed rate, on one split and slice.

    Attributes
    ----------
    split, model, slice
        Where the curve was measured (the selection split, ``overall``).
    bins
        The number of equal-mass bins asked for; ``mean_predicted``, ``observed`` and
        ``weight`` hold one entry per non-empty bin, in ascending order of probability
        (ties are never split, so there may be fewer).
    mean_predicted, observed, weight
        Per bin: the weighted mean probability, the weighted share of positives, and the
        bin's weight (its row count when rows are unweighted).
    ece, ece_debiased
        The expected calibration error over these bins and its debiased (ℓ2) estimate
        (``docs/computation.md``, "Calibration"); None when undefined.
    slope, intercept
        The logistic recalibration ``logit P(y = 1) = intercept + slope · logit(p)``;
        ideal 1 and 0; None when the fit has no finite maximum.
    slope_se
        The slope's standard error (inverse Fisher information at the fit).
    roc_auc
        The same model's ROC AUC on the same rows, to tell ranking from calibration.
    """

    split: str
    model: str
    slice: str
    bins: int
    mean_predicted: list[float] = field(default_factory=list)
    observed: list[float] = field(default_factory=list)
    weight: list[float] = field(default_factory=list)
    ece: float | None = None
    ece_debiased: float | None = None
    slope: float | None = None
    intercept: float | None = None
    slope_se: float | None = None
    roc_auc: float | None = None
