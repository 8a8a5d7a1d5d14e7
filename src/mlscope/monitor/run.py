"""The monitor's loop: window the log, check each window against the reference, estimate
performance, back-test the estimates where labels have arrived, and assemble the result."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlscope.charter.schema import Charter
from mlscope.errors import InputError
from mlscope.monitor.checks import ALL, Context, decide, score_col, window_checks
from mlscope.monitor.domain import Encoder, domain_check
from mlscope.monitor.performance import (
    EstimatedMetric,
    bbse_share,
    estimate_slice,
    estimate_window,
    fit_calibration,
    judge_trust,
    reference_values,
)
from mlscope.monitor.result import BackTest, Check, MonitorResult, Window
from mlscope.monitor.setup import (
    LABEL,
    Setup,
    check_log,
    estimated_metrics,
    load_reference,
    resolve,
    threshold_of,
)
from mlscope.monitor.tasks import (
    BBSE_MIN_ROWS,
    multiclass_model,
    multiclass_performance,
    regression_model,
    regression_performance,
    slice_confusion_rates,
)
from mlscope.monitor.windows import auto_rows, auto_rows_relative, cut, parse_times

__all__ = ["RECENT", "RECENT_MISSES", "monitor", "monitor_frames"]

# Windows with fewer labelled rows than this are not back-tested.
_MIN_LABELLED = 30
# The back-test fails at this many misses among the last labelled windows.
RECENT, RECENT_MISSES = 5, 4
# The domain classifier sees at most this many reference rows (a random subset).
_DOMAIN_REFERENCE = 2000


def monitor(charter: Charter, charter_path: Path, log: pd.DataFrame, *,
            log_info: dict[str, Any] | None = None, seed: int | None = None) -> MonitorResult:
    """Monitor ``log`` (a production log as a DataFrame) against the charter's reference.

    Raises
    ------
    InputError
        The ``monitor:`` section, the reference or the log cannot be used (with the fix).
    """
    setup = resolve(charter)
    ref = load_reference(charter, charter_path.parent, setup)
    return monitor_frames(charter, setup, ref, log, charter_path=str(charter_path),
                          log_info=log_info or {}, seed=seed)


def _numeric(ref: pd.DataFrame, c: str) -> bool:
    col = ref[c]
    return bool(pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col))


def monitor_frames(charter: Charter, setup: Setup, ref: pd.DataFrame, log: pd.DataFrame, *,
                   charter_path: str = "", log_info: dict[str, Any] | None = None,
                   seed: int | None = None) -> MonitorResult:
    """:func:`monitor` on a reference already read (for tests and callers that have it)."""
    spec = setup.spec
    seed = charter.seed if seed is None else seed
    rng = np.random.default_rng(seed)
    frame = check_log(log, setup, charter.data.positive)
    times = parse_times(frame[spec.timestamp], spec.timestamp)
    order = np.argsort(times.to_numpy(), kind="stable")
    frame = frame.iloc[order].reset_index(drop=True)
    times = times.iloc[order].reset_index(drop=True)
    switch = None
    if spec.candidate is not None and spec.candidate.mode == "blue_green":
        from mlscope.monitor.arms import blue_green_arms

        switch = blue_green_arms(frame, times, setup).isoformat()
    if ref[LABEL].notna().sum() < 2:
        raise InputError(f"the reference split `{setup.reference_split}` has no labelled rows; "
                         "set `monitor.reference` to a split with labels and scores")
    warnings: list[str] = []
    models_info: dict[str, dict[str, Any]] = {}
    thresholds: dict[str, float] = {}
    cals: dict[str, Any] = {}
    metrics: dict[str, list[Any]] = {}
    refs: dict[str, Any] = {}
    score_type = charter.data.score_type
    for m, col in setup.models.items():
        if setup.task == "regression":
            metrics[m], refs[m], models_info[m] = regression_model(
                charter, ref, m, col, warnings, rng=rng, resamples=spec.resamples)
            continue
        if setup.task == "multiclass":
            cals[m], metrics[m], models_info[m] = multiclass_model(
                charter, setup, ref, m, warnings, rng=rng, resamples=spec.resamples)
            continue
        thr, source = threshold_of(charter, ref, m)
        thresholds[m] = thr
        keep = ref[[score_col(m), LABEL]].dropna()
        y, s = keep[LABEL].to_numpy(np.float64), keep[score_col(m)].to_numpy(np.float64)
        cal = fit_calibration(y, s, thr, score_type, rng=rng, resamples=spec.resamples)
        cals[m] = cal
        metrics[m], notes = estimated_metrics(charter, ref, m, thr)
        warnings.extend(f"{m}: {n}" for n in notes)
        acc = float(((s >= thr) == (y > 0.5)).mean())
        refs[m] = reference_values(y, s, metrics[m], score_type)
        models_info[m] = {"task": "binary", "log_column": col, "threshold": thr,
                          "threshold_from": source,
                          "recalibration": {"a": cal.a, "b": cal.b},
                          "ece_after_recalibration": cal.ece,
                          "reference_accuracy": acc, "tpr": cal.tpr, "fpr": cal.fpr,
                          "metrics": [e.id for e in metrics[m]], "reference_values": refs[m]}
        if score_type == "score":
            warnings.append(f"{m}: the scores only rank rows (`score_type: score`): no "
                            "performance estimate before labels")
        elif not np.isfinite(cal.ece) or cal.ece > spec.alert.calibration:
            warnings.append(f"{m}: the reference's scores stay poorly calibrated after "
                            f"recalibration (debiased ECE {cal.ece:.3f} > "
                            f"{spec.alert.calibration:g}); estimates are marked not "
                            "trustworthy")
    first = next(iter(setup.models))
    rows = spec.window.rows
    if spec.window.by == "auto" and setup.task == "regression":
        rows = auto_rows_relative(models_info[first]["abs_error_cv"], spec.window.half_width)
    elif spec.window.by == "auto":
        rows = auto_rows(models_info[first]["reference_accuracy"], spec.window.half_width)
    spans = cut(times, spec.window, rows)
    small = [i for i, s in enumerate(spans) if 0 < s.rows.size < _MIN_LABELLED]
    if small:
        # A window of a handful of rows passes every check for want of power, not health.
        warnings.append(f"{len(small)} window(s) hold fewer than {_MIN_LABELLED} rows (#"
                        + ", #".join(str(i) for i in small[:5]) + (", …" if len(small) > 5
                                                                   else "")
                        + "): their checks have almost no power, so `ok` there says little; "
                        "use longer windows or wait for more traffic")
    ctx = Context(ref, setup.features, {c for c in setup.features if _numeric(ref, c)},
                  setup.slices, list(setup.models), thresholds, spec.alert, dict(spec.feedback),
                  charter.slices.min_size, setup.task, list(setup.classes)).prepare()
    encoder = Encoder(ref, setup.features, ctx.numeric)
    # Binary: the reference's TPR and FPR in each slice level, for BBSE per slice.
    slice_rates = {m: slice_confusion_rates(ctx, m, thresholds[m]) for m in thresholds}
    sub = ref if len(ref) <= _DOMAIN_REFERENCE else ref.sample(
        _DOMAIN_REFERENCE, random_state=seed)
    x_ref = encoder.encode(sub)
    counts = np.array([s.rows.size for s in spans], dtype=np.float64)
    typical = float(np.median(counts[counts > 0])) if (counts > 0).any() else 0.0
    level = charter.intervals.level
    tally: dict[str, list[int]] = {m: [0, 0] for m in setup.models}
    failed: dict[str, bool] = dict.fromkeys(setup.models, False)
    recent: dict[str, list[bool]] = {m: [] for m in setup.models}
    windows: list[Window] = []
    for i, span in enumerate(spans):
        w = Window(i, span.start, span.end, int(span.rows.size))
        win = frame.iloc[span.rows].reset_index(drop=True)
        if spec.window.by == "time":
            w.checks.append(_volume(w.rows, typical, spec.alert.volume))
        if len(win):
            w.checks.extend(window_checks(ctx, win))
            dom = domain_check(x_ref, encoder.encode(win), spec.alert.domain_auc, seed + i)
            groups = _slice_groups(ctx, win)
            for m in setup.models:
                if setup.task == "regression":
                    w.checks.extend(regression_performance(
                        w, win, m, metrics[m], refs[m], groups, rng=rng,
                        resamples=spec.resamples, level=level, gate=spec.alert.performance))
                elif setup.task == "multiclass":
                    multiclass_performance(w, win, m, setup.classes, cals[m], metrics[m],
                                           dom, groups, rng=rng, resamples=spec.resamples,
                                           level=level, gate=spec.alert.calibration)
                else:
                    _performance(w, win, m, cals[m], thresholds[m], metrics[m], dom, rng,
                                 spec.resamples, level, score_type, spec.alert.calibration,
                                 groups, slice_rates.get(m, {}))
            for perf in w.performance:
                values = models_info[perf.model].get("reference_values", {})
                for e in perf.estimates:
                    v = values.get(e.metric)
                    e.reference = v if v is not None and np.isfinite(v) else None
        decide(w.checks, spec.alert.q)
        for perf in w.performance:
            _back_test(w, perf, tally, failed, level, recent)
            w.checks.extend(_requirements(charter, perf))
        windows.append(w)
    rollout = None
    untrusted = any(not p.trustworthy for w in windows for p in w.performance)
    if setup.candidate is not None and spec.candidate is not None \
            and spec.candidate.mode != "shadow":
        from mlscope.monitor.canary_gate import unpaired_gate

        rollout = unpaired_gate(charter, setup, frame, spans, ref, thresholds, metrics, cals,
                                numeric=ctx.numeric, rng=rng, resamples=spec.resamples,
                                level=level, untrusted=untrusted, switch=switch)
        warnings.extend(rollout.unpaired["warnings"] if rollout.unpaired else [])
    elif setup.candidate is not None:
        from mlscope.monitor.rollout_gate import shadow_gate

        rollout = shadow_gate(charter, setup, frame, spans, ref, thresholds, metrics, rng=rng,
                              resamples=spec.resamples, level=level, seed=seed,
                              untrusted=untrusted)
    back = [_summary(m, metrics[m][0].id if metrics[m] else "", tally[m], failed[m], level)
            for m in setup.models]
    return MonitorResult(
        project=charter.project, charter=charter_path, log=log_info or {},
        reference={"split": setup.reference_split, "rows": len(ref)},
        window={"by": spec.window.by, "every": spec.window.every, "rows": rows,
                "half_width": spec.window.half_width if spec.window.by == "auto" else None},
        models=models_info, gates=spec.alert.model_dump(), seed=seed, windows=windows,
        back_tests=back, warnings=warnings, rollout=rollout)


def _slice_groups(ctx: Context, win: pd.DataFrame) -> list[tuple[str, Any]]:
    """Each slice level with at least ``slices.min_size`` rows in the window: its name
    (``column=level``) and its rows."""
    out = []
    for s in ctx.slices:
        values = win[s].astype(str).to_numpy()
        for lvl in ctx.levels[s]:
            mask = values == lvl
            if mask.sum() >= ctx.min_size:
                out.append((f"{s}={lvl}", mask))
    return out


def _volume(n: int, typical: float, gate: float) -> Check:
    from scipy import stats

    if typical <= 0:
        return Check("volume", "rows", ALL, n, float(n), typical)
    ratio = n / typical - 1.0
    p = float(min(1.0, 2 * min(stats.poisson.cdf(n, typical), stats.poisson.sf(n - 1, typical))))
    met = abs(ratio) >= gate
    return Check("volume", "rows", ALL, n, float(n), typical, effects={"volume": ratio},
                 gates={"volume": gate}, test="poisson", p=p, gate_met=met,
                 reason=f"{n} rows vs a typical {typical:g} ({ratio:+.0%}; gate ±{gate:.0%})"
                 if met else "")


def _performance(w: Window, win: pd.DataFrame, m: str, cal: Any, thr: float,
                 metrics: list[EstimatedMetric], dom: Any, rng: np.random.Generator,
                 resamples: int, level: float, score_type: str,
                 calibration_gate: float, groups: list[tuple[str, Any]],
                 slice_rates: dict[str, tuple[float, float, int, int]]) -> None:
    keep = win[score_col(m)].notna().to_numpy()
    if keep.sum() < 2 or score_type == "score":
        return
    scores = win[score_col(m)].to_numpy(np.float64)[keep]
    labels = win[LABEL].to_numpy(np.float64)[keep]
    perf = estimate_window(m, cal, thr, scores, labels if np.isfinite(labels).any() else None,
                           metrics, rng=rng, resamples=resamples, level=level)
    judge_trust(perf, dom, cal.ece, calibration_gate)
    if metrics:
        for name, mask in groups:
            rows = mask[keep]
            if rows.sum() >= 2:
                sl = labels[rows]
                perf.slices[name] = estimate_slice(
                    cal, scores[rows], sl if np.isfinite(sl).any() else None, metrics[0],
                    rng=rng, resamples=resamples, level=level)
    for name, mask in groups:
        rows = mask[keep]
        if rows.sum() >= BBSE_MIN_ROWS and name in slice_rates:
            tpr, fpr, n_pos, n_neg = slice_rates[name]
            sl = labels[rows]
            known = sl[np.isfinite(sl)]
            est = bbse_share(
                replace(cal, tpr=tpr, fpr=fpr, n_pos=n_pos, n_neg=n_neg), scores[rows], thr,
                rng=rng, resamples=resamples, level=level,
                realised=float(known.mean()) if known.size else None)
            est.reference = n_pos / (n_pos + n_neg)  # the level's share on the reference
            if est.realised is not None and est.low is not None and est.high is not None:
                est.inside = bool(est.low <= est.realised <= est.high)
            perf.slices_label_shift[name] = est
    w.performance.append(perf)


def _far_outside(e: Any) -> bool:
    """The realised value lies beyond the interval by more than the interval's whole
    width (about six standard errors from its centre). Far stricter than normal tails
    need: a realised ROC AUC's tail is heavier than a normal one's."""
    if e.realised is None or e.estimate is None or e.low is None or e.high is None:
        return False
    width = e.high - e.low
    return bool(e.realised < e.low - width or e.realised > e.high + width)


def _back_test(w: Window, perf: Any, tally: dict[str, list[int]], failed: dict[str, bool],
               level: float, recent: dict[str, list[bool]]) -> None:
    """Back-test the label-free estimate where the window's labels suffice: alert the
    first time the realised value is far outside the interval, or outside it in
    :data:`RECENT_MISSES` of the last :data:`RECENT` labelled windows (a chance below
    1 in 10,000 per window at the nominal 5% miss rate); the estimator is not trusted
    after that."""
    m = perf.model
    if failed[m]:
        perf.trustworthy = False
        perf.reasons.append("the estimator failed its back-test in an earlier window")
        return
    if perf.labelled < _MIN_LABELLED or not perf.estimates or perf.estimates[0].inside is None:
        return
    e = perf.estimates[0]
    tally[m][0] += 1
    tally[m][1] += int(not e.inside)
    recent[m] = [*recent[m], not e.inside][-RECENT:]
    far = _far_outside(e)
    misses = sum(recent[m])
    if not far and misses < RECENT_MISSES:
        return
    failed[m] = True
    perf.trustworthy = False
    perf.reasons.append("the estimator failed its back-test")
    why = (f"realised {e.realised:.3f} far outside the label-free estimate's interval "
           f"[{e.low:.3f}, {e.high:.3f}]" if far else
           f"the realised value fell outside the label-free estimate's interval in "
           f"{misses} of the last {len(recent[m])} labelled windows")
    w.checks.append(Check(
        "back_test", m, ALL, perf.labelled, e.realised, e.estimate,
        effects={"recent_misses": float(misses)}, gates={"recent_misses": RECENT_MISSES},
        test=None, gate_met=True, alert=True,
        reason=f"{e.metric}: {why}: the estimate cannot be trusted (concept drift: "
               f"P(y | x) moved, or the scores' calibration did)"))


def _requirements(charter: Charter, perf: Any) -> list[Check]:
    """Back to the charter: a requirement the field misses. An alert when a trustworthy
    estimate's whole interval lies on the failing side of a charter requirement (the
    realised value, once known, is shown beside it)."""
    out: list[Check] = []
    if not perf.trustworthy:
        return out
    for e in perf.estimates:
        bound = charter.requirements.get(e.metric)
        # A label-free estimate where there is one, else (regression) the realised value.
        value, word = (e.estimate, "estimated") if e.estimate is not None else (
            e.realised, "realised")
        if bound is None or e.low is None or e.high is None or value is None:
            continue
        if bound.holds(e.low) or bound.holds(e.high):
            continue
        margin = bound.margin(value)
        was = (f"; {_signed(bound.margin(e.reference))} on the reference, a move of "
               f"{_signed(margin - bound.margin(e.reference))}" if e.reference is not None
               else "")
        out.append(Check(
            "requirement", perf.model, ALL, perf.labelled if word == "realised" else 0,
            value, bound.value, effects={"margin": margin}, gates={"margin": 0.0},
            gate_met=True, alert=True,
            reason=(f"requirement `{e.metric} {bound}` is not met in the field: {word} "
                    f"{value:.3f} [{e.low:.3f}, {e.high:.3f}] (margin {_signed(margin)}{was})"
                    + (f", realised {e.realised:.3f}"
                       if e.realised is not None and word == "estimated" else "")
                    + "; revisit the requirement or the model")))
    return out


def _signed(x: float) -> str:
    """``+0.215`` / ``−0.278``: a signed figure with a true minus, as mlscope prints them."""
    return f"{x:+.3f}".replace("-", "−")


def _summary(m: str, metric: str, tally: list[int], failed: bool, level: float) -> BackTest:
    from scipy import stats

    n, k = tally
    p = float(stats.binomtest(k, n, 1 - level, alternative="greater").pvalue) if n else None
    return BackTest(m, metric, n, k, level, p, failed)

