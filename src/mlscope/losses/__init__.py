"""Differentiable surrogates of mlscope's metrics, for training on the charter's metric.

``mlscope.losses`` needs PyTorch (``pip install 'mlscope[torch]'``); ``import mlscope``
never imports it. Each loss is a :class:`torch.nn.Module` that takes a batch of
**logits** (real-valued scores; ``sigmoid(logit)`` is the probability) and 0/1 targets,
returns a scalar to minimise, and names in ``.metric`` the registry metric it stands in
for. :func:`for_charter` picks the loss for a charter's optimised metric, or says why
that metric has no good surrogate. ``docs/losses.md`` lists every loss, its parameters,
and a benchmark against cross-entropy with a tuned threshold.
"""

from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without torch
    raise ImportError(
        "mlscope.losses needs PyTorch, which is not installed\n"
        "fix: pip install 'mlscope[torch]' (or install torch for your platform from "
        "https://pytorch.org), then import mlscope.losses again"
    ) from exc

from mlscope.losses.choose import NoSurrogateError, for_charter, for_metric
from mlscope.losses.confusion import (
    CostWeightedCrossEntropy,
    SoftExpectedCost,
    SoftFBeta,
    SoftMCC,
    soft_confusion,
)
from mlscope.losses.constrained import PrecisionAtRecallLoss, RecallAtPrecisionLoss
from mlscope.losses.lovasz import LovaszHingeLoss, LovaszSoftmaxLoss
from mlscope.losses.ranking import AUCMLoss, PairwiseAUCLoss, SmoothAPLoss

__all__ = [
    "AUCMLoss",
    "CostWeightedCrossEntropy",
    "LovaszHingeLoss",
    "LovaszSoftmaxLoss",
    "NoSurrogateError",
    "PairwiseAUCLoss",
    "PrecisionAtRecallLoss",
    "RecallAtPrecisionLoss",
    "SmoothAPLoss",
    "SoftExpectedCost",
    "SoftFBeta",
    "SoftMCC",
    "for_charter",
    "for_metric",
    "soft_confusion",
]
