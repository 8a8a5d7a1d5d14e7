"""Why a model does not clearly beat the trivial baseline: a warning that names the cause.

"Does not beat the trivial baseline" has three common causes that call for different
actions, and one generic "something is wrong" sends people hunting for a bug that is not
there:

- **poor calibration**: the model ranks well (a ranking metric such as ROC AUC clearly
  beats the trivial baseline) but a probability metric (log loss, Brier) is worse than the
  trivial baseline's. The scores order the rows; they are not probabilities. Calibrate.
- **too few rows**: the interval of the difference includes 0 but is wide: it reaches an
  improvement that would matter (a fifth of the gap to the ceiling, or of the distance to
  the metric's best value). The data cannot tell; evaluate on more rows.
- **no skill**: the interval is tight around no improvement (or the model is clearly
  worse) with no ranking to excuse it: a bug, a leak in a baseline, or a model that learned
  nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from mlscope.result import MetricInfo, Standing

__all__ = ["CAUSES", "PROBABILITY_METRICS", "RANKING_METRICS", "classify_flags", "signed_g"]

# Registry names. A probability metric scores the predicted probability itself; a ranking
# metric only the order of the scores, so it is blind to calibration.
PROBABILITY_METRICS = frozenset({"log_loss", "brier"})
RANKING_METRICS = frozenset({"roc_auc", "average_precision", "mean_average_precision"})
CAUSES = ("calibration", "few_rows", "no_skill", "worse")
# An interval whose favourable end reaches this share of the scale (gap to the ceiling,
# else distance to the metric's best value) still allows an improvement that matters.
_WIDE_SHARE = 0.2


def signed_g(x: float | None) -> str:
    """``x`` with its sign, four significant digits and a true minus (``−0.03396``), as the
    report writes every signed figure; ``—`` when unknown."""
    return "—" if x is None else f"{x:+.4g}".replace("-", "−")


def _oriented(info: MetricInfo, x: float) -> float:
    return x if info.direction == "higher" else -x


def _scale(info: MetricInfo, st: Standing) -> float | None:
    """What a "meaningful" improvement is measured against, in the metric's units."""
    tv = st.trivial_value
    if tv is None:
        return None
    if st.upper_value is not None and _oriented(info, st.upper_value - tv) > 0:
        return abs(st.upper_value - tv)
    best = info.bounds[1] if info.direction == "higher" else info.bounds[0]
    if best is not None and math.isfinite(best) and best != tv:
        return abs(best - tv)
    return abs(tv) if tv != 0 else None


def _ranking_evidence(st: Standing, by_metric: dict[str, tuple[MetricInfo, Standing]]
                      ) -> tuple[str, Standing] | None:
    """A ranking metric on which the same model clearly beats the trivial baseline."""
    for mid, (info, other) in by_metric.items():
        if info.name not in RANKING_METRICS or other.vs_trivial is None:
            continue
        lo, hi = other.vs_trivial_lower, other.vs_trivial_upper
        clear = (lo is not None and lo > 0) if info.direction == "higher" else (
            hi is not None and hi < 0)
        if clear:
            return mid, other
    return None


def _classify(info: MetricInfo, st: Standing,
              by_metric: dict[str, tuple[MetricInfo, Standing]]) -> None:
    d = st.vs_trivial
    if d is None:
        return
    lo, hi = st.vs_trivial_lower, st.vs_trivial_upper
    t = st.trivial
    if lo is None or hi is None:
        if _oriented(info, d) > 0:
            return
        st.flag_cause = "no_skill"
        st.flag = (f"{st.model} is no better than the trivial baseline `{t}` on {info.id} "
                   f"({signed_g(d)}, no interval): something is wrong (a bug, or too little data)")
        return
    clear = lo > 0 if info.direction == "higher" else hi < 0
    if clear:
        return
    worse = hi < 0 if info.direction == "higher" else lo > 0
    diff = f"({signed_g(d)} [{signed_g(lo)}, {signed_g(hi)}])"
    # A model that clearly ranks better than the floor has learned something: if its
    # probabilities are still no better than the base rate, they are miscalibrated.
    rank = _ranking_evidence(st, by_metric) if info.name in PROBABILITY_METRICS else None
    if rank is not None:
        rid, rst = rank
        st.flag_cause = "calibration"
        how = "worse than" if _oriented(info, d) < 0 else "no better than"
        st.flag = (f"{st.model} ranks well ({rid} {signed_g(rst.vs_trivial)} over the trivial "
                   f"`{t}`) but its {info.id} is {how} the trivial baseline's {diff}: "
                   "poorly calibrated probabilities, not a failure to learn; calibrate the "
                   "scores (Platt or isotonic, fitted on held-out rows) before reading them "
                   "as probabilities")
        return
    fav = hi if info.direction == "higher" else -lo  # the most improvement still plausible
    scale = _scale(info, st)
    if not worse and scale is not None and fav >= _WIDE_SHARE * scale:
        st.flag_cause = "few_rows"
        st.flag = (f"{st.model} vs the trivial baseline `{t}` on {info.id} {diff}: too few "
                   f"rows to tell; the interval of the difference includes 0 and reaches "
                   f"{signed_g(fav)}, so it allows both no skill and a real improvement; evaluate "
                   "on more rows")
        return
    st.flag_cause = "worse" if worse else "no_skill"
    if worse:
        what = f"is worse than the trivial baseline `{t}` on {info.id}, beyond the interval {diff}"
    else:
        # Say what "tight" means here, in the metric's units: the gain the interval rules
        # out, and what it is a fifth of.
        rules_out = "" if scale is None else (
            f", and the interval rules out a gain of {_WIDE_SHARE * scale:.4g} "
            f"({_WIDE_SHARE:.0%} of the way from the baseline's {st.trivial_value:.4g} to "
            f"{_scale_target(info, st)})")
        what = (f"does not beat the trivial baseline `{t}` on {info.id} by more than the "
                f"interval {diff}{rules_out}")
    st.flag = (f"{st.model} {what}: something is wrong (a bug, a leak in the baseline, or "
               "a model that learned nothing)")


def _scale_target(info: MetricInfo, st: Standing) -> str:
    """What :func:`_scale` measured the way to: the ceiling, the best value or zero."""
    tv = st.trivial_value
    if (tv is not None and st.upper_value is not None
            and _oriented(info, st.upper_value - tv) > 0):
        return f"the ceiling `{st.upper}`'s {st.upper_value:.4g}"
    best = info.bounds[1] if info.direction == "higher" else info.bounds[0]
    if best is not None and math.isfinite(best) and best != tv:
        return f"the best value {best:.4g}"
    return "0"


def classify_flags(standings: Sequence[Standing], metrics: Sequence[MetricInfo]) -> None:
    """Set ``flag`` and ``flag_cause`` on every standing that does not clearly beat the
    trivial baseline, reading the model's other metrics on the same split (a ranking
    metric that beats the floor turns a bad log loss into a calibration problem)."""
    infos = {m.id: m for m in metrics}
    groups: dict[tuple[str, str], dict[str, tuple[MetricInfo, Standing]]] = {}
    for st in standings:
        if st.metric in infos:
            groups.setdefault((st.split, st.model), {})[st.metric] = (infos[st.metric], st)
    for by_metric in groups.values():
        for info, st in by_metric.values():
            _classify(info, st, by_metric)
