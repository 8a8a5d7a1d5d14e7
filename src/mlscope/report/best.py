"""Which models to mark "best" in a table: the one rule every renderer follows.

A baseline is a yardstick, not a contender: the trivial ``prior`` baseline has the
lowest positive rate of all ("flag no one"), and starring it would tell the reader that
doing nothing is the best model. So only candidates are ever marked, in the terminal,
the HTML report and the dashboard alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from mlscope.result import EvaluationResult

# Two values this close (relative) are a tie: both are marked, neither is preferred by
# rounding noise.
TIE_TOLERANCE = 1e-12


def best_models(values: Mapping[str, float | None], direction: str) -> set[str]:
    """The models whose value is the best in ``values`` by ``direction``.

    Parameters
    ----------
    values
        Model name to value; None and non-finite values take no part.
    direction
        ``"higher"`` or ``"lower"`` is better; any other value (a metric with no better
        direction) marks nothing.

    Returns
    -------
    set of str
        The best models, ties included; empty when fewer than two values are defined
        (one model alone is not "best" of anything) or the direction is unknown.
    """
    if direction not in ("higher", "lower"):
        return set()
    defined = {m: v for m, v in values.items() if v is not None and math.isfinite(v)}
    if len(defined) < 2:
        return set()
    target = max(defined.values()) if direction == "higher" else min(defined.values())
    slack = TIE_TOLERANCE * max(1.0, abs(target))
    return {m for m, v in defined.items() if abs(v - target) <= slack}


def best_candidates(result: EvaluationResult, values: Mapping[str, float | None],
                    direction: str) -> set[str]:
    """:func:`best_models` among the result's candidates only (baselines never win)."""
    candidates = {m.name for m in result.models if m.kind == "candidate"}
    return best_models({m: v for m, v in values.items() if m in candidates}, direction)
