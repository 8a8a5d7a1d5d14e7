"""Lovász hinge (binary IoU) and Lovász-softmax (mean IoU over classes), after Berman,
Rannen Triki & Blaschko, CVPR 2018.

The Jaccard loss ``1 − |pred ∩ true| / |pred ∪ true|`` is a submodular set function of the
mispredicted rows; its Lovász extension is a piecewise-linear, convex function of a
vector of per-row errors that equals the Jaccard loss wherever the errors are 0 or 1.
The binary loss feeds it hinge errors ``max(0, 1 − s·(2y − 1))`` of logits ``s``; the
multiclass loss the errors ``|1[y = c] − softmax(s / T)_c|`` per class. The registry has
no IoU metric yet: ``.metric`` names the quantity (``jaccard``, ``mean_iou``) and
:func:`~mlscope.losses.for_charter` never recommends these losses. The authors advise
fine-tuning with them after cross-entropy.
"""

from __future__ import annotations

import torch

from mlscope.errors import InputError
from mlscope.losses.checks import as_binary_targets, check_positive, flat_logits

__all__ = ["LovaszHingeLoss", "LovaszSoftmaxLoss", "lovasz_grad"]


def lovasz_grad(gt_sorted: torch.Tensor) -> torch.Tensor:
    """The gradient of the Lovász extension of the Jaccard loss at errors sorted in
    decreasing order, given the 0/1 ground truth in that order."""
    gts = gt_sorted.sum()
    intersection = gts - gt_sorted.cumsum(0)
    union = gts + (1 - gt_sorted).cumsum(0)
    jaccard = 1.0 - intersection / union
    return torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])


def _extension(errors: torch.Tensor, fg: torch.Tensor) -> torch.Tensor:
    errors_sorted, order = torch.sort(errors, descending=True)
    return torch.dot(errors_sorted, lovasz_grad(fg[order]))


class LovaszHingeLoss(torch.nn.Module):
    """The Lovász hinge: a convex surrogate of ``1 − IoU`` of the positive class over a
    batch (rows flattened; pass one image's pixels per call for per-image IoU).

    It equals ``1 − IoU`` of the prediction ``s > 0`` exactly when every hinge error is 0
    or 1 (logits of ±1 on the right side, 0 on the wrong one); in between it is the
    linear interpolation of the Jaccard loss. No temperature.
    """

    metric = "jaccard"

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The Lovász hinge of the batch."""
        s = flat_logits(logits.flatten() if logits.dim() > 2 else logits)
        y = as_binary_targets(target.flatten() if target.dim() > 2 else target, s)
        errors = torch.relu(1 - s * (2 * y - 1))
        return _extension(errors, y)


class LovaszSoftmaxLoss(torch.nn.Module):
    """Lovász-softmax: a surrogate of ``1 − mean IoU`` over the classes present in the
    batch (or all ``n_classes``).

    Parameters
    ----------
    temperature
        The softmax's ``T``: ``softmax(s / T)`` tends to the one-hot arg-max as ``T → 0``,
        and the loss then to ``1 − mean IoU`` of the arg-max prediction.
    classes
        ``"present"`` (default, as the authors): average over the classes in the batch's
        targets; ``"all"``: over every class (a class absent from the targets then
        counts its IoU as 0 if predicted, and adds nothing otherwise).
    """

    metric = "mean_iou"

    def __init__(self, *, temperature: float = 1.0, classes: str = "present") -> None:
        super().__init__()
        if classes not in ("present", "all"):
            raise InputError(f"`classes` must be 'present' or 'all', got {classes!r}")
        self.temperature = check_positive("temperature", temperature)
        self.classes = classes

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Lovász-softmax of logits ``(n, K)`` against class indices ``(n,)``."""
        if logits.dim() != 2:
            raise InputError(f"multiclass logits must have shape (n, K), got "
                             f"{tuple(logits.shape)}\nfix: one row of class scores per case")
        k = logits.shape[1]
        t = target.detach()
        if t.shape != logits.shape[:1] or (t.is_floating_point() and bool(
                (t != t.round()).any())):
            raise InputError(f"targets must be n = {logits.shape[0]} class indices, got "
                             f"shape {tuple(t.shape)}\nfix: give integer class indices 0..K-1")
        t = t.long()
        if bool(((t < 0) | (t >= k)).any()):
            raise InputError(f"class indices must lie in 0..{k - 1}, got "
                             f"{sorted(set(t[(t < 0) | (t >= k)].tolist()))[:5]}"
                             "\nfix: encode the classes as 0..K-1 in the logits' column order")
        probas = torch.softmax(logits / self.temperature, dim=1)
        losses = []
        for c in range(k):
            fg = (t == c).to(probas.dtype)
            if self.classes == "present" and not bool(fg.any()):
                continue
            losses.append(_extension((fg - probas[:, c]).abs(), fg))
        return torch.stack(losses).mean()
