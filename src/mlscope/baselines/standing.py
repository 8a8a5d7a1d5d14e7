"""Where each model stands between "learned nothing" and "as good as people".

For every model and metric: the best trivial baseline (the floor), the best upper baseline
(human level when known, else the best learned, rule or external figure on the same data:
the ceiling in sight), the share of the gap between the two that the model closes, and
whether the model beats the floor by more than the uncertainty (and if not, why:
:mod:`mlscope.baselines.flags`). Only comparable figures are ceilings: an external figure
measured on other data is named as a reference line, and a human level is compared with the
models scored on the same annotated items. Everything else is computed from the point
estimates and the bootstrap replicates the evaluation already has: nothing is re-scored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from mlscope.baselines.flags import classify_flags, signed_g
from mlscope.engine.bootstrap import percentile_interval
from mlscope.result import MetricInfo, MetricValue, Standing

__all__ = ["UpperFigure", "compute_standings"]

FloatArray = npt.NDArray[np.float64]
_MIN_DEFINED_SHARE = 0.5
# An upper baseline this close to the trivial one leaves no gap to measure.
_MIN_GAP = 1e-12


@dataclass(frozen=True)
class UpperFigure:
    """A fixed value that can serve as the ceiling: human level or an external figure.

    ``same_data`` is False for an external figure measured on other data: a reference
    line, never the ceiling. For a human level, ``n_items`` is how many annotated items it
    was scored on and ``on_items`` maps each model (baselines included) to its value on
    those same items, scored as the humans were, so the gap is measured like for like.
    """

    name: str
    family: str  # "human" or "external"
    metric: str
    value: float
    split: str | None = None  # None: applies to every split
    same_data: bool = True
    n_items: int | None = None
    on_items: Mapping[str, float] = field(default_factory=dict)
    data: str | None = None  # where an external figure was measured
    role: str | None = None  # an external figure's role; a "requirement" is never a ceiling
    # Human level: item-bootstrap replicates on the rung's items, keyed by model (None:
    # the humans), all from the same resamples, for a paired interval of the gap closed.
    replicates: Mapping[str | None, FloatArray] = field(default_factory=dict)


def _oriented(info: MetricInfo, x: float) -> float:
    return x if info.direction == "higher" else -x


@dataclass
class _Ceiling:
    """The ceiling chosen for one split and metric, and the reasons written for it."""

    name: str | None = None
    family: str | None = None
    value: float | None = None
    index: int | None = None  # a predicting baseline's model index
    human: UpperFigure | None = None
    note: str = ""
    human_note: str = ""


def _choose_ceiling(info: MetricInfo, split: str, models: Sequence[str],
                    model_uppers: Sequence[int], families: Mapping[str, str | None],
                    uppers: Sequence[UpperFigure], trivial: str, tv: float,
                    val: Callable[[int], float | None]) -> _Ceiling:
    """Human level when it beats the floor on its own items; else the best learned/rule
    baseline or external figure on the same data. Figures on other data are named as
    reference lines, never used."""
    c = _Ceiling()
    mine = [u for u in uppers if u.metric == info.id and u.split in (None, split)]
    # A requirement is a target, not something achieved: named, never the ceiling.
    targets = [u for u in mine if u.family == "external" and u.role == "requirement"]
    mine = [u for u in mine if u not in targets]
    others = [u for u in mine if u.family == "external" and not u.same_data]
    refs = "; ".join(
        [f"`{u.name}` ({u.value:.4g}) was measured on other data"
         + (f" ({u.data})" if u.data else "") + ": a reference line, not the ceiling"
         for u in others]
        + [f"`{u.name}` ({u.value:.4g}) is a requirement (a target), not a ceiling"
           for u in targets])
    human = [u for u in mine if u.family == "human"]
    if human:
        h = max(human, key=lambda u: _oriented(info, u.value))
        # The floor the humans must beat is the trivial baseline on the humans' items.
        floor = h.on_items.get(trivial, tv)
        if _oriented(info, h.value - floor) > _MIN_GAP:
            c.name, c.family, c.value, c.human = h.name, "human", h.value, h
            where = (f"on the {h.n_items:,} annotated items" if h.n_items else
                     "on the annotated items")
            c.note = (f"ceiling: {h.name} ({h.value:.4g}, {where}; the models and "
                      f"`{trivial}` are scored on the same items for the gap)")
            if refs:
                c.note += "; " + refs
            return c
        c.human_note = (f"human level ({h.value:.4g}) is no better than the trivial "
                        f"`{trivial}` on {info.id}; the ceiling is the best other baseline")
    cands: list[tuple[str, str, float, int | None]] = []
    for i in model_uppers:
        v = val(i)
        if v is not None:
            cands.append((models[i], str(families[models[i]]), v, i))
    cands += [(u.name, u.family, u.value, None) for u in mine
              if u.family == "external" and u.same_data]
    if cands:
        c.name, c.family, c.value, c.index = max(cands, key=lambda t: _oriented(info, t[2]))
        why = ("no human level" if not human else "human level is no better than the floor")
        c.note = (f"ceiling: `{c.name}` ({c.value:.4g}), the best {c.family} baseline on "
                  f"the same rows ({why})")
    elif refs:
        c.note = "no ceiling on the same data"
    if refs:
        c.note += "; " + refs
    return c


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
        Human-level and external figures that may serve as the ceiling. An external
        figure with ``same_data=False`` is only named as a reference line; a human level
        is compared with the models' values on its own items (``on_items``).
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
            ceil = _choose_ceiling(info, split, models, model_uppers, families, uppers,
                                   models[ti], tv, val)
            for mi, name in enumerate(models):
                fam = families.get(name)
                if fam == "trivial":
                    continue
                mv = values.get((split, mi, slice_key, info.id))
                if mv is None or mv.value is None:
                    continue
                st = Standing(split=split, model=name, metric=info.id, trivial=models[ti],
                              trivial_value=tv, upper=ceil.name, upper_family=ceil.family,
                              upper_value=ceil.value, gap_closed=None, note=ceil.human_note,
                              ceiling_note=ceil.note)
                diff = mv.value - tv
                st.vs_trivial = diff
                rm, rt = reps.get((split, mi, slice_key, info.id)), reps.get(
                    (split, ti, slice_key, info.id))
                if rm is not None and rt is not None:
                    ci = percentile_interval(rm - rt, level, min_defined=_MIN_DEFINED_SHARE)
                    if ci is not None:
                        st.vs_trivial_lower, st.vs_trivial_upper = ci
                if ceil.human is not None:
                    _human_gap(st, info, ceil.human, models[ti], level)
                elif ceil.value is not None and ceil.index != mi:
                    gap = ceil.value - tv
                    unclear = (_unclear_gap(info, reps, (split, slice_key, info.id),
                                            ceil.index, ti, level)
                               if _oriented(info, gap) > _MIN_GAP else None)
                    if unclear is not None:
                        # A ceiling within its interval of the floor: the ratio over a gap
                        # that may be 0 read "142% [−664%, 1233%]" (Smarket).
                        st.note = (f"the upper baseline `{ceil.name}` is not clearly better "
                                   f"than the trivial `{models[ti]}` on {info.id} ("
                                   f"{signed_g(gap)} {unclear}): no gap to measure")
                    elif _oriented(info, gap) > _MIN_GAP:
                        st.gap_closed = diff / gap
                        if rm is not None and rt is not None:
                            ru = (reps.get((split, ceil.index, slice_key, info.id))
                                  if ceil.index is not None else None)
                            top = np.full_like(rt, ceil.value) if ru is None else ru
                            den = top - rt
                            with np.errstate(divide="ignore", invalid="ignore"):
                                g = np.where(np.abs(den) > _MIN_GAP, (rm - rt) / den, np.nan)
                            ci = percentile_interval(g, level, min_defined=_MIN_DEFINED_SHARE)
                            if ci is not None:
                                st.lower, st.upper_ci = ci
                    else:
                        st.note = (f"the upper baseline `{ceil.name}` is no better than the "
                                   f"trivial `{models[ti]}` on {info.id}: no gap to close")
                elif ceil.index == mi:
                    st.note = "this model is the upper baseline"
                out.append(st)
    classify_flags(out, metrics)
    return out


def _unclear_gap(info: MetricInfo, reps: Mapping[tuple[str, int, str, str], FloatArray],
                 key: tuple[str, str, str], upper: int | None, trivial: int,
                 level: float) -> str | None:
    """The paired interval of the ceiling's lead over the trivial baseline, as text, when
    it includes 0 (the gap is not told from none); None when it is clear or unknown (no
    replicates: a human or external ceiling, or no intervals)."""
    split, slice_key, metric = key
    if upper is None:
        return None
    ru, rt = reps.get((split, upper, slice_key, metric)), reps.get(
        (split, trivial, slice_key, metric))
    if ru is None or rt is None:
        return None
    ci = percentile_interval(ru - rt, level, min_defined=_MIN_DEFINED_SHARE)
    if ci is None or min(_oriented(info, ci[0]), _oriented(info, ci[1])) > 0:
        return None
    return f"[{signed_g(ci[0])}, {signed_g(ci[1])}]"


def _human_gap(st: Standing, info: MetricInfo, h: UpperFigure, trivial: str,
               level: float) -> None:
    """The gap closed against human level, with the model and the floor on the humans'
    own items; without those values, no gap (rather than a mix of rows)."""
    m, t = h.on_items.get(st.model), h.on_items.get(trivial)
    n = f"{h.n_items:,} " if h.n_items else ""
    if m is None or t is None:
        who = st.model if m is None else f"the trivial `{trivial}`"
        st.note = (f"{who} was not scored on the {n}annotated items, so the gap to human "
                   f"level cannot be measured on the same rows")
        return
    st.gap_rows, st.gap_model_value, st.gap_trivial_value = h.n_items, m, t
    gap = h.value - t
    if _oriented(info, gap) <= _MIN_GAP:
        st.note = (f"human level is no better than the trivial `{trivial}` on the {n}"
                   f"annotated items: no gap to close")
        return
    st.gap_closed = (m - t) / gap
    st.note = (f"gap closed on the {n}annotated items: {st.model} {m:.4g}, {trivial} "
               f"{t:.4g}, {h.name} {h.value:.4g}")
    rm, rt, rh = (h.replicates.get(k) for k in (st.model, trivial, None))
    if rm is None or rt is None or rh is None:
        st.note += " (no interval: no item resamples)"
        return
    # The same item resamples for the model, the floor and the humans: a paired interval.
    den = rh - rt
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(np.abs(den) > _MIN_GAP, (rm - rt) / den, np.nan)
    ci = percentile_interval(g, level, min_defined=_MIN_DEFINED_SHARE)
    if ci is not None:
        st.lower, st.upper_ci = ci
