"""Losses built on expected (soft) confusion counts: F-beta, MCC and expected cost, and
the cost-weighted cross-entropy that the charter's ``costs:`` imply.

A row with logit ``s`` counts as predicted positive with weight ``sigmoid((s − t) / T)``,
where ``t`` is the decision threshold on the logit scale (0: probability 0.5) and ``T``
the temperature. The four soft counts are then

* ``TP = Σ y·σ``, ``FP = Σ (1 − y)·σ``, ``FN = Σ y·(1 − σ)``, ``TN = Σ (1 − y)·(1 − σ)``,

and a metric of the counts (F-beta, MCC, expected cost) becomes differentiable. As
``T → 0`` each ``σ`` tends to the indicator ``s > t``, so the soft metric tends to the
exact metric at that threshold (mlscope's ``f1`` etc. with ``threshold: sigmoid(t)``)
whenever no logit equals ``t`` exactly; ``T = 1`` is sigmoidF1's choice (Bénédict et
al., 2021), the probabilities themselves.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F

from mlscope.errors import InputError
from mlscope.losses.checks import as_binary_targets, check_positive, flat_logits

__all__ = [
    "CostWeightedCrossEntropy",
    "SoftExpectedCost",
    "SoftFBeta",
    "SoftMCC",
    "soft_confusion",
]

_COST_KEYS = ("tp", "fp", "fn", "tn")


def soft_confusion(logits: torch.Tensor, target: torch.Tensor, *, temperature: float = 1.0,
                   threshold: float = 0.0
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Expected confusion counts ``(tp, fp, fn, tn)`` of a batch.

    Parameters
    ----------
    logits
        Shape ``(n,)`` or ``(n, 1)``: one logit per row.
    target
        0/1 labels of the same shape.
    temperature
        ``T > 0``: the sharpness of the relaxation (``T → 0``: the exact counts).
    threshold
        The decision threshold on the logit scale (0 is probability 0.5).

    Returns
    -------
    tuple of torch.Tensor
        Four scalars, differentiable in ``logits``.
    """
    s = flat_logits(logits)
    y = as_binary_targets(target, s)
    t = check_positive("temperature", temperature)
    sig = torch.sigmoid((s - threshold) / t)
    tp = (y * sig).sum()
    fp = ((1 - y) * sig).sum()
    fn = (y * (1 - sig)).sum()
    tn = ((1 - y) * (1 - sig)).sum()
    return tp, fp, fn, tn


class SoftFBeta(torch.nn.Module):
    """``1 − F_beta`` from soft confusion counts (sigmoidF1 for ``beta = 1``).

    Stands in for ``fbeta`` (``f1`` when ``beta = 1``) at a fixed threshold.

    Parameters
    ----------
    beta
        Weight of recall against precision (``beta > 1`` favours recall).
    temperature
        ``T`` of :func:`soft_confusion`.
    threshold
        The decision threshold on the logit scale.
    eps
        Added to the denominator so that a batch without positives or predicted positives
        gives a finite loss (F is undefined there).
    """

    def __init__(self, beta: float = 1.0, *, temperature: float = 1.0, threshold: float = 0.0,
                 eps: float = 1e-7) -> None:
        super().__init__()
        self.beta = check_positive("beta", beta)
        self.temperature = check_positive("temperature", temperature)
        self.threshold = float(threshold)
        self.eps = float(eps)
        self.metric = "f1" if self.beta == 1.0 else "fbeta"

    def soft_metric(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The relaxed F-beta of the batch (tends to the exact one as ``T → 0``)."""
        tp, fp, fn, _ = soft_confusion(logits, target, temperature=self.temperature,
                                       threshold=self.threshold)
        b2 = self.beta ** 2
        return (1 + b2) * tp / ((1 + b2) * tp + b2 * fn + fp + self.eps)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``1 − soft F-beta``: a scalar to minimise."""
        return 1 - self.soft_metric(logits, target)


class SoftMCC(torch.nn.Module):
    """``1 − MCC`` from soft confusion counts; stands in for binary ``mcc``.

    The loss lies in [0, 2]. ``eps`` keeps the square root differentiable when a batch has
    one class only (MCC is undefined there and the loss is then about 1).
    """

    metric = "mcc"

    def __init__(self, *, temperature: float = 1.0, threshold: float = 0.0,
                 eps: float = 1e-7) -> None:
        super().__init__()
        self.temperature = check_positive("temperature", temperature)
        self.threshold = float(threshold)
        self.eps = float(eps)

    def soft_metric(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The relaxed MCC of the batch."""
        tp, fp, fn, tn = soft_confusion(logits, target, temperature=self.temperature,
                                        threshold=self.threshold)
        den = torch.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn) + self.eps)
        return (tp * tn - fp * fn) / den

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``1 − soft MCC``."""
        return 1 - self.soft_metric(logits, target)


def _costs(costs: Mapping[str, float]) -> tuple[float, float, float, float]:
    missing = [k for k in _COST_KEYS if k not in costs]
    if missing:
        raise InputError(f"costs miss {', '.join(missing)}\nfix: give the cost per case of "
                         "each outcome, e.g. {'tp': -49, 'fp': 1, 'fn': 0, 'tn': 0}")
    out = tuple(float(costs[k]) for k in _COST_KEYS)
    if not all(math.isfinite(v) for v in out):
        raise InputError(f"costs must be finite numbers, got {dict(costs)!r}")
    return out  # type: ignore[return-value]


class SoftExpectedCost(torch.nn.Module):
    """Expected cost per case from soft confusion counts; stands in for ``expected_cost``
    at a fixed threshold (the loss *is* the relaxed metric, in the costs' unit).

    Parameters
    ----------
    costs
        ``{"tp": ..., "fp": ..., "fn": ..., "tn": ...}``: cost per case of each outcome, a
        gain as a negative cost (the charter's ``costs:``).
    temperature, threshold
        As in :func:`soft_confusion`.
    """

    metric = "expected_cost"

    def __init__(self, costs: Mapping[str, float], *, temperature: float = 1.0,
                 threshold: float = 0.0) -> None:
        super().__init__()
        self.costs = _costs(costs)
        self.temperature = check_positive("temperature", temperature)
        self.threshold = float(threshold)

    def soft_metric(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The relaxed expected cost per case."""
        counts = soft_confusion(logits, target, temperature=self.temperature,
                                threshold=self.threshold)
        total = torch.stack([c * k for c, k in zip(counts, self.costs, strict=True)]).sum()
        return total / flat_logits(logits).shape[0]

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The relaxed expected cost per case (lower is better)."""
        return self.soft_metric(logits, target)


class CostWeightedCrossEntropy(torch.nn.Module):
    """Cross-entropy with each class weighted by the regret of deciding it wrongly.

    With costs ``tp, fp, fn, tn`` per case, predicting positive is the cheaper decision
    when ``p ≥ t* = (fp − tn) / ((fp − tn) + (fn − tp))``. Weighting the positives' log
    loss by ``w1 = fn − tp`` (what missing one costs beyond catching it) and the
    negatives' by ``w0 = fp − tn`` moves the minimiser's 0.5 threshold to exactly ``t*``
    on the unweighted probabilities (Elkan, 2001): a model trained with this loss makes
    the cost-optimal decision at probability 0.5. Its probabilities are those of the
    reweighted problem, not calibrated ones; mlscope's ``expected_cost`` with
    ``threshold: optimize`` chooses the threshold on validation anyway. The weights are
    normalised to sum 2, so the loss's scale is that of plain cross-entropy when
    ``w0 = w1``.

    Raises
    ------
    InputError
        When one decision is never worse than the other (``w0 ≤ 0`` or ``w1 ≤ 0``): no
        model is needed, the costs decide alone.
    """

    metric = "expected_cost"

    def __init__(self, costs: Mapping[str, float]) -> None:
        super().__init__()
        c_tp, c_fp, c_fn, c_tn = _costs(costs)
        w1, w0 = c_fn - c_tp, c_fp - c_tn
        if w1 <= 0 or w0 <= 0:
            always = "negative" if w1 <= 0 else "positive"
            raise InputError(
                f"with these costs (tp {c_tp:g}, fp {c_fp:g}, fn {c_fn:g}, tn {c_tn:g}) "
                f"predicting {always} is never worse, whatever the probability: there is "
                "nothing for a model to learn\nfix: check the signs (a gain is a negative "
                "cost): a missed positive should cost more than a caught one (fn > tp) and "
                "a false alarm more than a correct rejection (fp > tn)")
        self.costs = (c_tp, c_fp, c_fn, c_tn)
        self.pos_weight = 2 * w1 / (w0 + w1)
        self.neg_weight = 2 * w0 / (w0 + w1)
        #: The probability above which predicting positive is cheaper (for the unweighted,
        #: calibrated probabilities).
        self.cost_threshold = w0 / (w0 + w1)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The weighted mean binary cross-entropy of the batch."""
        s = flat_logits(logits)
        y = as_binary_targets(target, s)
        w = y * self.pos_weight + (1 - y) * self.neg_weight
        return F.binary_cross_entropy_with_logits(s, y, weight=w)
