"""Calibration stage: each binary model's reliability curve, and the advice to calibrate.

Runs after :func:`~mlscope.pipeline.decide.decide` (it reads the standings' flags) and
before :func:`~mlscope.pipeline.assemble.assemble`: :func:`reliability` returns the curves
(``result.reliability``) and, for a candidate that ranks clearly better than chance but
whose probabilities are far off, puts one warning naming the figures in ``run.warnings``,
in place of the standings' warnings that the miscalibration explains.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from mlscope.engine.plan import OVERALL
from mlscope.engine.protocol import Statistics
from mlscope.engine.split import SplitStatistics
from mlscope.measure import with_score_type
from mlscope.metrics.binary import roc_auc
from mlscope.metrics.calibration import (
    DEFAULT_BINS,
    recalibration_fit,
    reliability_figures,
)
from mlscope.metrics.stats import BinaryStats
from mlscope.pipeline.types import Decision, MetricTable, Run, RunPlan
from mlscope.result import ReliabilityCurve, Standing

__all__ = [
    "CALIBRATION_METRICS",
    "ECE_POOR",
    "SLOPE_POOR",
    "calibration_advice",
    "curve_statistics",
    "is_miscalibrated",
    "reliability",
    "reliability_curve",
]

# "Far off": the debiased ECE above this, or the slope further than this from 1 (and
# more than two standard errors away).
ECE_POOR = 0.05
SLOPE_POOR = 0.5
# "Ranks clearly better than chance": ROC AUC at least this, and above 0.5 by more than
# 1.96 Hanley–McNeil standard errors (the trivial baseline's constant score has 0.5).
_AUC_GOOD = 0.6
CALIBRATION_METRICS = frozenset({"ece", "ece_debiased", "calibration_slope_error",
                                 "calibration_intercept_error"})
_PROBABILITY_METRICS = frozenset({"log_loss", "brier"}) | CALIBRATION_METRICS


def _num(x: object) -> float | None:
    v = float(np.asarray(x))
    return v if math.isfinite(v) else None


def _auc_se(auc: float, n_pos: float, n_neg: float) -> float:
    """Hanley & McNeil (1982) standard error of the ROC AUC."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc)
           + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)
    return math.sqrt(max(var, 0.0))


def curve_of(st: BinaryStats, split: str, model: str, bins: int = DEFAULT_BINS
             ) -> ReliabilityCurve:
    """One model's reliability curve and calibration figures from its statistics."""
    # One binning for the points and both ECEs (each would bin the scores again).
    mean_p, rate, weight, e1, e2 = reliability_figures(st, bins)
    # The slope's standard error is the inverse Fisher information the fit ended on.
    a, b, se = recalibration_fit(st)
    fa, fb = _num(a), _num(b)
    return ReliabilityCurve(
        split=split, model=model, slice=OVERALL, bins=bins,
        mean_predicted=[float(v) for v in mean_p], observed=[float(v) for v in rate],
        weight=[float(v) for v in weight], ece=_num(e1),
        ece_debiased=_num(e2), slope=fb, intercept=fa,
        slope_se=_num(se) if fa is not None and fb is not None else None,
        roc_auc=_num(roc_auc(st)))


def _bins(plan: RunPlan) -> int:
    """The charter's `bins` for `ece` when it names one, else the default."""
    for m in plan.metrics:
        if m.spec is not None and m.spec.name in ("ece", "ece_debiased"):
            return int(m.params.get("bins", DEFAULT_BINS))
    return DEFAULT_BINS


def reliability(run: Run, plan: RunPlan, table: MetricTable,
                decision: Decision) -> list[ReliabilityCurve]:
    """Each binary model's reliability curve on the selection split (overall), in model
    order; none for other tasks, for scores that are not probabilities, or for binned
    statistics (a bin holds several scores). Adds the calibration advice to
    ``run.warnings`` (:func:`calibration_advice`). The curves were made by the metrics
    stage (:func:`reliability_curve`), from the statistics it had at hand."""
    curves = [table.curves[mi] for mi in sorted(table.curves)]
    names = {m.info.id: m.info.name for m in plan.metrics}
    from mlscope.select import rule_metrics

    decisive = set(rule_metrics(run.charter.selection)) | set(run.charter.requirements)
    advice = (calibration_advice(curves, decision.standings, decision.families, names,
                                 decisive) if curves else [])
    explained = {model for model, _ in advice}
    # The standings' warnings, but for those the miscalibration explains: a candidate
    # flagged only on probability metrics gets the calibration advice instead.
    run.warnings.extend(f.text for f in decision.flags if not (
        f.model in explained
        and {names.get(m, m) for m in f.metrics} <= _PROBABILITY_METRICS))
    run.warnings.extend(text for _, text in advice)
    return curves


def curve_statistics(run: Run, plan: RunPlan, stats: Statistics,
                     point: Mapping[str, SplitStatistics], mi: int) -> BinaryStats | None:
    """The statistics model ``mi``'s reliability curve is made from: its point statistics
    on the selection split, overall; None when it has no curve (other tasks, scores that
    are not probabilities, binned statistics, where a bin holds several scores, or no
    rows)."""
    t = run.table
    if t.task != "binary" or stats.score_bins is not None or t.score_type_of(mi) == "score":
        return None
    sp = point.get(plan.selection_split)
    st = with_score_type(sp.task.get((mi, OVERALL)) if sp else None, t.score_type_of(mi))
    if not isinstance(st, BinaryStats) or st.n_rows == 0:
        return None
    return st


def reliability_curve(run: Run, plan: RunPlan, st: BinaryStats, mi: int
                      ) -> ReliabilityCurve:
    """Model ``mi``'s reliability curve on the selection split (overall) from
    :func:`curve_statistics` (the metrics stage calls it while they are at hand)."""
    return curve_of(st, plan.selection_split, run.table.models[mi], _bins(plan))


def is_miscalibrated(c: ReliabilityCurve) -> bool:
    """Ranks clearly better than chance, but the probabilities are far off."""
    if c.roc_auc is None or c.roc_auc < _AUC_GOOD:
        return False
    n_pos = sum(w * r for w, r in zip(c.weight, c.observed, strict=True))
    n_neg = sum(c.weight) - n_pos
    if n_pos < 1 or n_neg < 1 or c.roc_auc - 1.96 * _auc_se(c.roc_auc, n_pos, n_neg) <= 0.5:
        return False
    bad_ece = c.ece_debiased is not None and c.ece_debiased > ECE_POOR
    bad_slope = (c.slope is not None and abs(c.slope - 1) > SLOPE_POOR
                 and (c.slope_se is None or abs(c.slope - 1) > 2 * c.slope_se))
    return bad_ece or bad_slope


def _advice_text(c: ReliabilityCurve, trivial: list[str]) -> str:
    figures = [f"ECE {c.ece:.3f}" if c.ece is not None else None,
               f"debiased {c.ece_debiased:.3f}" if c.ece_debiased is not None else None,
               f"calibration slope {c.slope:.2f}" if c.slope is not None else None,
               f"intercept {c.intercept:+.2f}" if c.intercept is not None else None]
    how = ""
    if c.slope is not None and c.slope < 1:
        how = " (slope < 1: over-confident, the probabilities are too extreme)"
    elif c.slope is not None and c.slope > 1:
        how = " (slope > 1: under-confident, the probabilities are squashed toward the middle)"
    vs = (f"; {', '.join(trivial)} no better than the trivial baseline's" if trivial else "")
    # The split first: the terminal cuts a warning to its first line, and a ROC AUC
    # without its split read as contradicting the report split's table beside it.
    return (f"{c.model} ranks well on the {c.split} split (ROC AUC {c.roc_auc:.3f}) but "
            "its probabilities are poorly calibrated there: "
            f"{', '.join(f for f in figures if f)}{how}{vs}; calibrate the scores (Platt or "
            "isotonic, fitted on held-out rows) before using them as probabilities; see "
            "the reliability diagram")


def _probability_flags(c: ReliabilityCurve, standings: list[Standing],
                       names: dict[str, str]) -> list[Standing]:
    """The model's flagged standings on probability metrics, on every split."""
    return [st for st in standings
            if st.model == c.model and st.flag
            and names.get(st.metric, st.metric) in _PROBABILITY_METRICS]


def calibration_advice(curves: list[ReliabilityCurve], standings: list[Standing],
                       families: dict[str, str | None],
                       names: dict[str, str] | None = None,
                       decisive: set[str] | None = None) -> list[tuple[str, str]]:
    """``(model, warning)`` for each candidate that ranks well and is poorly calibrated.

    Poorly calibrated: :func:`is_miscalibrated`, or the standings already found it (a
    probability metric no better than the trivial baseline's while a ranking metric
    clearly is: ``flag_cause == "calibration"``) on a metric in ``decisive`` (the ids the
    selection rule and the requirements name, which the standings warn about; every
    metric when None). The warning names the curve's figures;
    the standings' flags of that model on probability metrics (log loss, Brier, the
    calibration metrics), on every split, are re-worded to it, so that the result reads
    "calibrate", not "something is wrong". ``names`` maps a metric id to its registry
    name (an id is its own name when absent).
    """
    names = names or {}
    out: list[tuple[str, str]] = []
    for c in curves:
        if families.get(c.model) is not None or c.roc_auc is None:
            continue
        flags = _probability_flags(c, standings, names)
        found = [st.metric for st in flags if st.flag_cause == "calibration"
                 and st.split == c.split
                 and (decisive is None or st.metric in decisive)]
        if not (is_miscalibrated(c) or found):
            continue
        text = _advice_text(c, found)
        for st in flags:
            st.flag_cause = "calibration"
            st.flag = text
        out.append((c.model, text))
    return out
