"""Comparisons of any pair of models: the charter's ``compare.pairs`` and ``mlscope compare``.

The differences against the selected and the blessed model are computed for every model;
here any two models (or baselines) are compared on the same rows, on the selection and the
report split, every metric, overall and per slice, with the same paired tests
(:func:`~mlscope.compare.wiring.paired_difference`). On the slices the p-values are
adjusted by Benjamini–Hochberg across the slices of each split and metric, so that a
"significant" slice among many is not found by chance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from mlscope.compare.paired import fdr_bh
from mlscope.compare.wiring import SliceMasks, paired_difference
from mlscope.data.source import EvalTable
from mlscope.errors import InputError, did_you_mean
from mlscope.result import OVERALL, Difference, MetricValue, PairComparison

if TYPE_CHECKING:
    from mlscope.measure import Metric

__all__ = ["check_pairs", "compare_pairs"]

FloatArray = npt.NDArray[np.float64]


def check_pairs(pairs: Sequence[tuple[str, str]], models: Sequence[str], *,
                where: str = "compare.pairs") -> None:
    """Refuse a pair naming a model the data do not have, or one model twice.

    Raises
    ------
    InputError
        With a "did you mean" and the models there are (exit 2 on the command line).
    """
    for a, b in pairs:
        for name in (a, b):
            if name not in models:
                raise InputError(f"{where}: `{name}` is not a model of the data"
                                 f"{did_you_mean(name, models)} (models and baselines: "
                                 f"{', '.join(models)})")
        if a == b:
            raise InputError(f"{where}: `{a}` is compared with itself; name two different "
                             "models")


def compare_pairs(
    t: EvalTable, pairs: Sequence[tuple[str, str]], *, metrics: Sequence[Metric],
    splits: Sequence[str], slices: Sequence[str],
    index: Mapping[tuple[str, int, str, str], MetricValue],
    reps: Mapping[tuple[str, int, str, str], FloatArray],
    thresholds: Mapping[tuple[int, str], float | None], masks: SliceMasks, level: float,
    mcnemar: str, seed: int, where: str = "compare.pairs",
    trials: Mapping[tuple[str, int, str, str], float | None] | None = None,
) -> list[PairComparison]:
    """``a − b`` for each pair, every metric on each split and slice, with paired tests.

    Parameters
    ----------
    pairs
        ``(a, b)`` model names, checked by :func:`check_pairs` first.
    index, reps
        The evaluation's point estimates and bootstrap replicates, keyed by
        ``(split, model index, slice, metric id)``.
    mcnemar
        McNemar's method for accuracy (``auto``, ``mid-p``, ``exact``, ``chi2``,
        ``chi2-cc``).
    seed
        The bootstrap's seed, recorded with each bootstrap difference.
    where
        Where the pairs came from, for the error message.
    trials
        Each value's trials, for the exact interval of two models that agree on every
        trial (:func:`~mlscope.compare.wiring.paired_difference`).

    Returns
    -------
    list of PairComparison
        One per pair, in the order given; a difference is left out where the metric is
        undefined for either model.
    """
    check_pairs(pairs, t.models, where=where)
    out = []
    for a, b in pairs:
        ai, bi = t.models.index(a), t.models.index(b)
        diffs: list[Difference] = []
        for split in splits:
            for met in metrics:
                here: list[Difference] = []
                for skey in slices:
                    va = index.get((split, ai, skey, met.id))
                    vb = index.get((split, bi, skey, met.id))
                    if va is None or vb is None or va.value is None or vb.value is None:
                        continue
                    here.append(paired_difference(
                        t, met, split, skey, ai, bi, va.value - vb.value, reps, thresholds,
                        masks, level, mcnemar=mcnemar, seed=seed, terms=True,
                        trials=trials))
                _adjust_slices(here)
                diffs += here
        out.append(PairComparison(model=a, reference=b, mcnemar=mcnemar, splits=list(splits),
                                  differences=diffs))
    return out


def _adjust_slices(diffs: Sequence[Difference]) -> None:
    """Benjamini–Hochberg across the slices (not overall) of one split and metric."""
    sliced = [d for d in diffs if d.slice != OVERALL]
    if not sliced:
        return
    p = np.array([np.nan if d.p_value is None else d.p_value for d in sliced])
    _, adjusted = fdr_bh(p)
    for d, q in zip(sliced, adjusted, strict=True):
        d.adjusted_p = None if np.isnan(q) else float(q)
