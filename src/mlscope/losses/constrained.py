"""Precision at recall ≥ r and recall at precision ≥ p, by a Lagrangian with a learned
multiplier (the global objectives of Eban et al., AISTATS 2017, with sigmoid-relaxed
counts instead of hinge bounds).

Both losses relax the confusion counts at a fixed threshold on the logit scale (0:
probability 0.5; a model with a bias learns where its threshold falls) as in
:func:`~mlscope.losses.confusion.soft_confusion`, and return the Lagrangian

* precision at recall ≥ r: ``FP / n + λ·(r − TP / n_pos)`` — at the constraint's
  boundary the recall is fixed, so maximising precision is minimising false positives;
* recall at precision ≥ p: ``−TP / n_pos + λ·(p·FP − (1 − p)·TP) / n_pos`` — precision
  ``≥ p`` is the linear constraint ``(1 − p)·TP ≥ p·FP``.

The multiplier ``λ`` (``.multiplier``) is an
:func:`~mlscope.losses.ascent.ascent_parameter`: optimise
``list(model.parameters()) + list(loss.parameters())`` with one optimiser and ``λ``
rises while the constraint is violated on the batch and falls (to no less than 0) while
it holds with room. The multiplier is the price of the constraint: a large value that
keeps growing says the constraint cannot be met at this temperature or capacity.
"""

from __future__ import annotations

import torch

from mlscope.errors import InputError
from mlscope.losses.ascent import ascent_parameter, project_nonnegative_
from mlscope.losses.checks import as_binary_targets, check_positive, flat_logits
from mlscope.losses.confusion import soft_confusion

__all__ = ["PrecisionAtRecallLoss", "RecallAtPrecisionLoss"]


def _rate(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise InputError(f"`{name}` is a target rate in (0, 1), got {value!r}"
                         f"\nfix: pass e.g. `{name}=0.65`")
    return float(value)


class _Lagrangian(torch.nn.Module):
    def __init__(self, *, temperature: float, threshold: float, multiplier: float,
                 ascent_scale: float) -> None:
        super().__init__()
        self.temperature = check_positive("temperature", temperature)
        self.threshold = float(threshold)
        if multiplier < 0:
            raise InputError(f"the initial `multiplier` must be >= 0, got {multiplier!r}")
        self.multiplier = ascent_parameter(multiplier, ascent_scale=ascent_scale)

    def _counts(self, logits: torch.Tensor, target: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        s = flat_logits(logits)
        y = as_binary_targets(target, s)
        n_pos = int(y.sum().item())
        if n_pos == 0:
            raise InputError("a batch without positives leaves recall undefined\nfix: use "
                             "larger batches or a sampler that puts positives in every "
                             "batch (e.g. torch.utils.data.WeightedRandomSampler)")
        tp, fp, _, _ = soft_confusion(s, y, temperature=self.temperature,
                                      threshold=self.threshold)
        return tp, fp, torch.tensor(float(s.shape[0]), dtype=s.dtype), n_pos

    def soft_rates(self, logits: torch.Tensor, target: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """The relaxed ``(precision, recall)`` at the threshold (exact as ``T → 0``)."""
        tp, fp, _, n_pos = self._counts(logits, target)
        return tp / (tp + fp).clamp_min(1e-12), tp / n_pos


class PrecisionAtRecallLoss(_Lagrangian):
    """Lagrangian of "highest precision with recall ≥ ``recall``"; stands in for
    ``precision_at_recall``.

    Parameters
    ----------
    recall
        The recall to reach, in (0, 1) (the charter's ``recall:`` parameter).
    temperature
        ``T`` of the relaxed counts.
    threshold
        The decision threshold on the logit scale.
    multiplier
        Initial ``λ ≥ 0``.
    ascent_scale
        The multiplier's step relative to the optimiser's learning rate.
    """

    metric = "precision_at_recall"

    def __init__(self, recall: float = 0.8, *, temperature: float = 1.0,
                 threshold: float = 0.0, multiplier: float = 1.0,
                 ascent_scale: float = 1.0) -> None:
        super().__init__(temperature=temperature, threshold=threshold, multiplier=multiplier,
                         ascent_scale=ascent_scale)
        self.recall = _rate("recall", recall)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``FP / n + λ·(r − recall)``, relaxed."""
        project_nonnegative_(self.multiplier)
        tp, fp, n, n_pos = self._counts(logits, target)
        lam = self.multiplier.to(tp.dtype)
        return fp / n + lam * (self.recall - tp / n_pos)


class RecallAtPrecisionLoss(_Lagrangian):
    """Lagrangian of "highest recall with precision ≥ ``precision``"; stands in for
    ``recall_at_precision``. Parameters as :class:`PrecisionAtRecallLoss`, with
    ``precision`` the precision to keep, in (0, 1)."""

    metric = "recall_at_precision"

    def __init__(self, precision: float = 0.8, *, temperature: float = 1.0,
                 threshold: float = 0.0, multiplier: float = 1.0,
                 ascent_scale: float = 1.0) -> None:
        super().__init__(temperature=temperature, threshold=threshold, multiplier=multiplier,
                         ascent_scale=ascent_scale)
        self.precision = _rate("precision", precision)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``−recall + λ·(p·FP − (1 − p)·TP) / n_pos``, relaxed."""
        project_nonnegative_(self.multiplier)
        tp, fp, _, n_pos = self._counts(logits, target)
        lam = self.multiplier.to(tp.dtype)
        p = self.precision
        return -tp / n_pos + lam * (p * fp - (1 - p) * tp) / n_pos
