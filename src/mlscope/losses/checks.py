"""Input checks shared by the losses: binary targets, matching shapes, temperatures.

A wrong input is an :class:`mlscope.InputError` naming what was received and the fix, as
everywhere in mlscope; the losses call these before any arithmetic.
"""

from __future__ import annotations

import math

import torch

from mlscope.errors import InputError

__all__ = ["as_binary_targets", "check_positive", "flat_logits"]


def check_positive(name: str, value: float) -> float:
    """``value`` as a float when it is finite and > 0; an :class:`InputError` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            math.isfinite(value) and value > 0):
        raise InputError(f"`{name}` must be a finite number > 0, got {value!r}"
                         f"\nfix: pass e.g. `{name}=1.0`")
    return float(value)


def flat_logits(logits: torch.Tensor) -> torch.Tensor:
    """A batch of binary logits as a 1-D tensor (``(n,)`` or ``(n, 1)`` accepted)."""
    if logits.dim() == 2 and logits.shape[1] == 1:
        logits = logits[:, 0]
    if logits.dim() != 1:
        raise InputError(
            f"binary logits must have shape (n,) or (n, 1), got {tuple(logits.shape)}"
            "\nfix: give one logit per row (the score of the positive class)")
    return logits


def as_binary_targets(target: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """``target`` as a float tensor of 0/1 with the shape and dtype of ``logits``.

    Raises
    ------
    InputError
        When the shapes differ or a label is not 0 or 1 (e.g. -1/1 labels, class names
        encoded as 1/2, or probabilities given as targets).
    """
    if target.dim() == 2 and target.shape[1] == 1:
        target = target[:, 0]
    if target.shape != logits.shape:
        raise InputError(f"targets have shape {tuple(target.shape)} and logits "
                         f"{tuple(logits.shape)}\nfix: give one 0/1 target per logit")
    t = target.detach()
    bad = ~((t == 0) | (t == 1))
    if bool(bad.any()):
        seen = sorted({float(v) for v in t[bad].flatten()[:5].tolist()})
        raise InputError(
            f"binary targets must be 0 or 1, got {', '.join(f'{v:g}' for v in seen)}"
            "\nfix: map the positive class to 1 and every other class to 0 "
            "(e.g. `(y == positive).float()`; -1/1 labels: `(y + 1) / 2`)")
    return target.to(dtype=logits.dtype)
