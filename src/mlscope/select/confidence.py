"""How sure the decision is: the primary rule applied to every bootstrap resample."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from mlscope.charter.schema import Rule, SatisficingRule
from mlscope.errors import InputError
from mlscope.result import DecisionConfidence, MetricInfo
from mlscope.select.choose import apply_with_baselines
from mlscope.select.common import Table


def decision_confidence(
    rule: Rule,
    replicates: Mapping[str, Mapping[str, npt.NDArray[np.float64]]],
    metrics: Mapping[str, MetricInfo],
    *,
    candidates: Sequence[str],
    winner: str | None,
) -> DecisionConfidence:
    """Apply ``rule`` to every bootstrap resample and count who wins.

    Parameters
    ----------
    rule
        The primary selection rule.
    replicates
        Model → metric id → the metric's replicate values (one per resample, NaN where
        undefined) on the selection split, overall; baselines named by ``must_beat`` must
        be present too.
    candidates
        The models that may be chosen.
    winner
        The decision on the actual data.
    """
    names = [m for m in replicates if replicates[m]]
    r = min((len(a) for m in names for a in replicates[m].values()), default=0)
    counts: dict[str, int] = {m: 0 for m in candidates}
    none = 0
    tied = 0  # of ``none``: the top candidates tied and the tie-break did not separate them
    cons: dict[str, dict[str, int]] = {m: {} for m in candidates}
    bounds = rule.constraints if isinstance(rule, SatisficingRule) else {}
    for i in range(r):
        table: Table = {m: {k: float(a[i]) for k, a in replicates[m].items()} for m in names}
        try:
            out = apply_with_baselines(rule, table, metrics, list(candidates))
        except InputError:
            out = None
        if out is None or out.winner is None:
            none += 1
            tied += int(out is not None and len(out.tied) > 1)
        else:
            counts[out.winner] = counts.get(out.winner, 0) + 1
        for m in candidates:
            for k, bound in bounds.items():
                v = table.get(m, {}).get(k)
                ok = v is not None and math.isfinite(v) and bound.holds(v)
                cons[m][k] = cons[m].get(k, 0) + int(ok)
    if r == 0:
        return DecisionConfidence(
            resamples=0, chosen={}, no_decision=0.0, winner=winner, winner_share=None,
            runner_up=None, runner_up_share=None, flips=None,
            note="no bootstrap resamples (intervals are off): no decision confidence")
    chosen = {m: c / r for m, c in counts.items()}
    order = sorted(chosen, key=lambda m: -chosen[m])
    runner = next((m for m in order if m != winner and chosen[m] > 0), None)
    return DecisionConfidence(
        resamples=r, chosen=chosen, no_decision=none / r, winner=winner,
        winner_share=chosen.get(winner) if winner is not None else None,
        runner_up=runner, runner_up_share=chosen[runner] if runner else None,
        flips=(1.0 - chosen.get(winner, 0.0)) if winner is not None else None,
        constraints={m: {k: v / r for k, v in d.items()} for m, d in cons.items() if d},
        tied=tied / r,
    )
