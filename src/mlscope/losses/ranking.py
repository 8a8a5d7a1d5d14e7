"""Ranking losses: pairwise and AUC-M (square-loss min-max) surrogates of ROC AUC, and
smooth average precision.

All take one logit per row; only the order of the logits matters to the metrics they
stand in for (``roc_auc``, ``average_precision``).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from mlscope.errors import InputError
from mlscope.losses.ascent import ascent_parameter, project_nonnegative_
from mlscope.losses.checks import as_binary_targets, check_positive, flat_logits

__all__ = ["AUCMLoss", "PairwiseAUCLoss", "SmoothAPLoss"]


def _split(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    s = flat_logits(logits)
    y = as_binary_targets(target, s)
    pos, neg = s[y == 1], s[y == 0]
    if pos.numel() == 0 or neg.numel() == 0:
        raise InputError(
            f"a ranking loss needs both classes in the batch, got {pos.numel()} positives "
            f"and {neg.numel()} negatives\nfix: use larger batches or a sampler that puts "
            "positives in every batch (e.g. torch.utils.data.WeightedRandomSampler)")
    return pos, neg


class PairwiseAUCLoss(torch.nn.Module):
    """A surrogate of ROC AUC over (positive, negative) pairs of score differences
    ``d = s_pos − s_neg``.

    ``kind="sigmoid"``: the loss is ``1 − mean σ(d / T)``, one minus the relaxed AUC,
    which tends to the exact AUC (ties counting half, as ``σ(0) = 1/2``) as ``T → 0``;
    its gradients vanish for pairs far from the decision, so it suits fine-tuning.
    ``kind="logistic"`` (default): ``mean log(1 + exp(−d / T))·T``, the RankNet loss, a
    convex upper bound of the misranked share (times ``log 2``) with gradients everywhere.
    :meth:`soft_metric` is the sigmoid relaxation for both kinds.

    Parameters
    ----------
    kind
        ``"logistic"`` or ``"sigmoid"``.
    temperature
        ``T > 0``.
    max_pairs
        When a batch has more pairs than this, that many pairs are drawn uniformly with
        replacement (an unbiased estimate of the full mean), with ``generator`` if given.
    """

    metric = "roc_auc"

    def __init__(self, kind: Literal["logistic", "sigmoid"] = "logistic", *,
                 temperature: float = 1.0, max_pairs: int = 250_000,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        if kind not in ("logistic", "sigmoid"):
            raise InputError(f"`kind` must be 'logistic' or 'sigmoid', got {kind!r}")
        if isinstance(max_pairs, bool) or not isinstance(max_pairs, int) or max_pairs < 1:
            raise InputError(f"`max_pairs` must be a whole number >= 1, got {max_pairs!r}")
        self.kind = kind
        self.temperature = check_positive("temperature", temperature)
        self.max_pairs = max_pairs
        self.generator = generator

    def _differences(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pos, neg = _split(logits, target)
        if pos.numel() * neg.numel() <= self.max_pairs:
            return (pos[:, None] - neg[None, :]).flatten()
        i = torch.randint(pos.numel(), (self.max_pairs,), generator=self.generator)
        j = torch.randint(neg.numel(), (self.max_pairs,), generator=self.generator)
        return pos[i] - neg[j]

    def soft_metric(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The relaxed AUC, ``mean σ(d / T)``."""
        return torch.sigmoid(self._differences(logits, target) / self.temperature).mean()

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The pairwise loss (lower is better)."""
        d = self._differences(logits, target) / self.temperature
        if self.kind == "sigmoid":
            return 1 - torch.sigmoid(d).mean()
        return F.softplus(-d).mean() * self.temperature


class AUCMLoss(torch.nn.Module):
    """The AUC-M square-loss min-max margin surrogate of ROC AUC (Yuan et al., ICCV 2021,
    LibAUC's ``AUCMLoss``), with its own learnable ``a``, ``b`` and ``alpha``.

    With ``h = σ(s)`` in [0, 1], ``p`` the share of positives and margin ``m``::

        f(h, a, b, α) = (1 − p)·mean[(h − a)²·y] + p·mean[(h − b)²·(1 − y)]
                        + 2α·(p(1 − p)·m + mean[p·h·(1 − y) − (1 − p)·h·y])
                        − p(1 − p)·α²

    is minimised in the model and ``a`` (the positives' mean score), ``b`` (the
    negatives'), and maximised in ``α ≥ 0``. Maximising in ``α`` gives
    ``α* = max(0, m − (E[h|y=1] − E[h|y=0]))``, so the objective is the within-class
    variances plus a squared hinge on the gap between the class means: positives are
    pushed at least ``m`` above negatives on average. ``alpha`` is an
    :func:`~mlscope.losses.ascent.ascent_parameter`: give ``loss.parameters()`` to the
    same optimiser as the model's and it does descent in ``a``, ``b`` and ascent in
    ``alpha`` (projected to ``≥ 0`` at each forward pass). LibAUC pairs it with its PESG
    optimiser and advises pre-training with cross-entropy; ``docs/losses.md`` measures
    both. It has no temperature and its value is not the AUC: it is a different
    objective whose minimiser ranks well.

    Parameters
    ----------
    margin
        ``m`` (LibAUC's default 1.0).
    imratio
        ``p``; ``None`` uses each batch's share of positives.
    ascent_scale
        See :func:`~mlscope.losses.ascent.ascent_parameter`.
    """

    metric = "roc_auc"

    def __init__(self, *, margin: float = 1.0, imratio: float | None = None,
                 ascent_scale: float = 1.0) -> None:
        super().__init__()
        self.margin = check_positive("margin", margin)
        if imratio is not None and not 0 < imratio < 1:
            raise InputError(f"`imratio` is the share of positives, in (0, 1), got {imratio!r}")
        self.imratio = imratio
        self.a = torch.nn.Parameter(torch.tensor(0.0, dtype=torch.float64))
        self.b = torch.nn.Parameter(torch.tensor(0.0, dtype=torch.float64))
        self.alpha = ascent_parameter(0.0, ascent_scale=ascent_scale)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The AUC-M objective of the batch."""
        project_nonnegative_(self.alpha)
        _split(logits, target)  # both classes present, labels 0/1
        s = flat_logits(logits)
        y = as_binary_targets(target, s)
        h = torch.sigmoid(s)
        p = y.mean() if self.imratio is None else torch.tensor(self.imratio, dtype=s.dtype)
        a, b, alpha = (v.to(s.dtype) for v in (self.a, self.b, self.alpha))
        return ((1 - p) * ((h - a) ** 2 * y).mean()
                + p * ((h - b) ** 2 * (1 - y)).mean()
                + 2 * alpha * (p * (1 - p) * self.margin
                               + (p * h * (1 - y) - (1 - p) * h * y).mean())
                - p * (1 - p) * alpha ** 2)


class SmoothAPLoss(torch.nn.Module):
    """``1 − Smooth-AP`` (Brown et al., ECCV 2020): average precision with each rank's
    indicator ``1[s_j > s_i]`` relaxed to ``σ((s_j − s_i) / T)``.

    For each positive ``i``, precision at its rank is
    ``(1 + Σ_{j∈P, j≠i} σ(...)) / (1 + Σ_{j≠i} σ(...))``; the mean over positives tends
    to scikit-learn's (and mlscope's) ``average_precision`` as ``T → 0`` when no two
    scores tie (tied scores count half above each other here, where AP groups them).
    Memory and time are quadratic in the batch: ``O(n_pos · n)``. Brown et al. use
    ``T = 0.01`` on cosine similarities in [−1, 1]; on logits a larger ``T`` (default
    1.0) keeps gradients alive.
    """

    metric = "average_precision"

    def __init__(self, *, temperature: float = 1.0) -> None:
        super().__init__()
        self.temperature = check_positive("temperature", temperature)

    def soft_metric(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The relaxed average precision."""
        s = flat_logits(logits)
        y = as_binary_targets(target, s)
        _split(s, y)
        pos = y == 1
        sp = s[pos]
        # above[i, j] ≈ 1[s_j > s_i] for positive i against every row j.
        above = torch.sigmoid((s[None, :] - sp[:, None]) / self.temperature)
        # A row is not above itself: remove each positive's own entry (σ(0) = 1/2).
        self_mask = torch.zeros_like(above, dtype=torch.bool)
        self_mask[torch.arange(sp.numel()), torch.nonzero(pos).flatten()] = True
        above = above.masked_fill(self_mask, 0.0)
        rank_all = 1 + above.sum(dim=1)
        rank_pos = 1 + (above * y[None, :]).sum(dim=1)
        return (rank_pos / rank_all).mean()

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``1 − smooth AP``."""
        return 1 - self.soft_metric(logits, target)
