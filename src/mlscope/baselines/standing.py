"""Where each model stands between "learned nothing" and "as good as people".

For every model and metric: the best trivial baseline (the floor), the best upper baseline
(human level when known, else the best learned, rule or external figure: the ceiling in
sight), the share of the gap between the two that the model closes, and whether the model
beats the floor by more than the uncertainty. Everything is computed from the point
estimates and the bootstrap replicates the evaluation already has: nothing is re-scored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mlscope.engine.bootstrap import percentile_interval
from mlscope.result import MetricInfo, MetricValue, Standing

__all__ = ["UpperFigure", "compute_standings"]

FloatArray = npt.NDArray[np.float64]
_MIN_DEFINED_SHARE = 0.5
# An upper baseline this close to the trivial one leaves no gap to measure.
_MIN_GAP = 1e-12


@dataclass(frozen=True)
class UpperFigure:
    """A fixed value that can serve as the ceiling: human level or an external figure."""

    name: str
    family: str  # "human" or "external"
    metric: str
    value: float
    split: str | None = None  # None: applies to every split


def _oriented(info: MetricInfo, x: float) -> float:
    return x if info.direction == "higher" else -x


def compute_standings(
    *,
    values: Mapping[tuple[str, int, str, str], MetricValue],
    reps: Mapping[tuple[str, int, str, str], FloatArray],
    models: Sequence[str],
    families: Mapping[str, str | None],
    metrics: Sequence[MetricInfo],
    splits: Sequence[str],
    level: float,
    uppers: Sequence[UpperFigure] = (),
    slice_key: str = "overall",
) -> list[Standing]:
    """Standings of every non-trivial model on ``splits`` (overall slice).

    Parameters
    ----------
    values, reps
        The evaluation's point estimates and bootstrap replicates, keyed by
        ``(split, model index, slice, metric id)``.
    models, families
        Model names in index order; ``families[name]`` is None for a candidate, else the
        baseline family (``trivial``, ``learned``, ``rule``).
    uppers
        Human-level and external figures that may serve as the ceiling.
    """
    trivial = [i for i, m in enumerate(models) if families.get(m) == "trivial"]
    model_uppers = [i for i, m in enumerate(models) if families.get(m) in ("learned", "rule")]
    out: list[Standing] = []
    if not trivial:
        return out
    for split in splits:
        for info in metrics:
            def val(i: int, split: str = split, info: MetricInfo = info) -> float | None:
                mv = values.get((split, i, slice_key, info.id))
                return None if mv is None else mv.value

            floor = [(i, v) for i in trivial if (v := val(i)) is not None]
            if not floor:
                continue
            ti, tv = max(floor, key=lambda p: _oriented(info, p[1]))
            # The ceiling: human level first; else the best learned/rule baseline or
            # external figure.
            human = [u for u in uppers if u.family == "human" and u.metric == info.id
                     and u.split in (None, split)]
            up_name: str | None = None
            up_family: str | None = None
            up_value: float | None = None
            up_index: int | None = None
            human_note = ""
            if human:
                best_h = max(human, key=lambda u: _oriented(info, u.value))
                if _oriented(info, best_h.value - tv) > _MIN_GAP:
                    up_name, up_family, up_value = best_h.name, "human", best_h.value
                else:
                    # Humans below the floor give no ceiling: use the best available.
                    human_note = (f"human level ({best_h.value:.4g}) is no better than the "
                                  f"trivial `{models[ti]}` on {info.id}; the ceiling is the "
                                  "best other baseline")
                    human = []
            if not human:
                cands: list[tuple[str, str, float, int | None]] = []
                for i in model_uppers:
                    v = val(i)
                    if v is not None:
                        cands.append((models[i], str(families[models[i]]), v, i))
                cands += [(u.name, u.family, u.value, None) for u in uppers
                          if u.family == "external" and u.metric == info.id
                          and u.split in (None, split)]
                if cands:
                    up_name, up_family, up_value, up_index = max(
                        cands, key=lambda c: _oriented(info, c[2]))
            for mi, name in enumerate(models):
                fam = families.get(name)
                if fam == "trivial":
                    continue
                mv = values.get((split, mi, slice_key, info.id))
                if mv is None or mv.value is None:
                    continue
                st = Standing(split=split, model=name, metric=info.id, trivial=models[ti],
                              trivial_value=tv, upper=up_name, upper_family=up_family,
                              upper_value=up_value, gap_closed=None, note=human_note)
                diff = mv.value - tv
                st.vs_trivial = diff
                rm, rt = reps.get((split, mi, slice_key, info.id)), reps.get(
                    (split, ti, slice_key, info.id))
                if rm is not None and rt is not None:
                    ci = percentile_interval(rm - rt, level, min_defined=_MIN_DEFINED_SHARE)
                    if ci is not None:
                        st.vs_trivial_lower, st.vs_trivial_upper = ci
                if up_value is not None and up_index != mi:
                    gap = up_value - tv
                    if _oriented(info, gap) > _MIN_GAP:
                        st.gap_closed = diff / gap
                        if rm is not None and rt is not None:
                            ru = (reps.get((split, up_index, slice_key, info.id))
                                  if up_index is not None else None)
                            top = np.full_like(rt, up_value) if ru is None else ru
                            den = top - rt
                            with np.errstate(divide="ignore", invalid="ignore"):
                                g = np.where(np.abs(den) > _MIN_GAP, (rm - rt) / den, np.nan)
                            ci = percentile_interval(g, level, min_defined=_MIN_DEFINED_SHARE)
                            if ci is not None:
                                st.lower, st.upper_ci = ci
                    else:
                        st.note = (f"the upper baseline `{up_name}` is no better than the "
                                   f"trivial `{models[ti]}` on {info.id}: no gap to close")
                elif up_index == mi:
                    st.note = "this model is the upper baseline"
                st.flag = _flag(info, name, models[ti], st)
                out.append(st)
    return out


def _flag(info: MetricInfo, model: str, trivial: str, st: Standing) -> str | None:
    """Why the model does not clearly beat the trivial baseline (None when it does)."""
    d = st.vs_trivial
    if d is None:
        return None
    better = _oriented(info, d) > 0
    lo, hi = st.vs_trivial_lower, st.vs_trivial_upper
    if lo is not None and hi is not None:
        clear = lo > 0 if info.direction == "higher" else hi < 0
        if clear:
            return None
        worse = hi < 0 if info.direction == "higher" else lo > 0
        what = ("is worse than the trivial baseline `{t}` on {m}, beyond the interval"
                if worse else
                "does not beat the trivial baseline `{t}` on {m} by more than the interval")
        return (f"{model} " + what.format(t=trivial, m=info.id)
                + f" ({d:+.4g} [{lo:+.4g}, {hi:+.4g}]): something is wrong (a bug, a leak in "
                "the baseline, or too little data)")
    if better:
        return None
    return (f"{model} is no better than the trivial baseline `{trivial}` on {info.id} "
            f"({d:+.4g}): something is wrong (a bug, or too little data)")
