"""Gradient *ascent* on a loss's own parameters, so that one optimiser does
descent–ascent.

A Lagrangian ``L(θ, λ)`` is minimised in the model's parameters ``θ`` and maximised in its
multiplier ``λ ≥ 0``. :func:`ascent_parameter` makes ``λ`` an ordinary
:class:`torch.nn.Parameter` whose gradient is negated (and scaled) by a hook as it is
computed, so ``optimizer.step()`` on ``list(model.parameters()) + list(loss.parameters())``
moves ``θ`` down and ``λ`` up. The constraint ``λ ≥ 0`` is kept by projection: each
forward pass first clamps ``λ`` to ``[0, ∞)`` in place (:func:`project_nonnegative_`), so
the value the loss uses is the projection of the previous step — projected gradient
ascent, one step late, which is the usual PESG/Cooper arrangement.
"""

from __future__ import annotations

import torch

from mlscope.losses.checks import check_positive

__all__ = ["ascent_parameter", "project_nonnegative_"]


class _Negate:
    # A class, not a lambda, so that a loss holding the hook can be deep-copied and pickled.
    def __init__(self, scale: float) -> None:
        self.scale = scale

    def __call__(self, grad: torch.Tensor) -> torch.Tensor:
        return -self.scale * grad


def ascent_parameter(value: float, *, ascent_scale: float = 1.0) -> torch.nn.Parameter:
    """A scalar parameter that any optimiser moves *up* its loss's gradient.

    Parameters
    ----------
    value
        Initial value.
    ascent_scale
        Multiplies the ascent step relative to the optimiser's learning rate (a larger
        value makes the multiplier react faster to a violated constraint).
    """
    p = torch.nn.Parameter(torch.tensor(float(value), dtype=torch.float64))
    # torch types register_hook without annotations.
    p.register_hook(_Negate(  # type: ignore[no-untyped-call]
        check_positive("ascent_scale", ascent_scale)))
    return p


def project_nonnegative_(p: torch.nn.Parameter) -> None:
    """Clamp ``p`` to ``[0, ∞)`` in place (outside autograd).

    Only a :class:`torch.nn.Parameter` is projected: a tensor passed in its place (by
    ``torch.func.functional_call``, e.g. to check gradients) is used as it is."""
    # Written only when negative: an in-place write bumps the tensor's version and would
    # invalidate graphs built earlier that saved it (gradient checks re-run the forward).
    if not isinstance(p, torch.nn.Parameter) or bool(p.detach() >= 0):
        return
    with torch.no_grad():
        p.zero_()
