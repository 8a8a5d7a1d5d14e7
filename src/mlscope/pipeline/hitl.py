"""The human-in-the-loop stage: a deferral rule for the charter's ``human_in_the_loop:``
(binary or multiclass), certified on the selection split (the calibration rows) and read
on the report split, with the risk–coverage curve and its simultaneous band and, for
multiclass, top-k suggestion accuracy.

The procedures are :func:`mlscope.compare.deferral.certify_deferral`'s and
:mod:`mlscope.metrics.selective`'s; this stage reads the rows (labels, the model's scores
or class probabilities, slice membership) in memory (NumPy, DuckDB and binned engines;
not Spark), counts them unweighted, and writes :class:`~mlscope.result.HumanInTheLoop`
with the sentences of the verdict's "Human in the loop" section.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mlscope.charter.hitl import HumanInTheLoopSpec
from mlscope.compare.deferral import certify_deferral, reachable_at
from mlscope.engine.numpy_backend import RowData, fetch_rows
from mlscope.engine.plan import OVERALL
from mlscope.errors import InputError, did_you_mean
from mlscope.metrics.binomial import cp_upper
from mlscope.metrics.selective import (
    band_grid,
    binary_confidence,
    multiclass_confidence,
    risk_coverage_band,
    top_k_hits,
    two_sided,
)
from mlscope.pipeline.types import Choice, Run, RunPlan
from mlscope.result import (
    CoveragePoint,
    DeferralSlice,
    HumanInTheLoop,
    TopKAccuracy,
    Verdict,
)

__all__ = ["add_to_verdict", "human_in_the_loop"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
SECTION = "human_in_the_loop"


def _masks(run: Run, plan: RunPlan, rows: RowData) -> dict[str, BoolArray]:
    t = run.table
    out: dict[str, BoolArray] = {OVERALL: np.ones(rows.n, dtype=bool)}
    for i, col in enumerate(t.slice_columns):
        for j, level in enumerate(plan.levels[i]):
            m = rows.codes[i] == j
            if m.any():
                out[f"{col}={level}"] = m
    for j, name in enumerate(t.where):
        if rows.where[j].any():
            out[name] = rows.where[j].astype(bool)
    return out


def _decisions(task: str, rows: RowData, mi: int, threshold: float
               ) -> tuple[FloatArray, BoolArray]:
    """Each row's confidence and whether the model's decision is wrong."""
    if task == "binary":
        conf, positive = binary_confidence(rows.scores[mi], threshold)
        return conf, positive != (rows.y > 0.5)
    conf_mc, pred = multiclass_confidence(rows.proba[mi])
    return conf_mc, pred != rows.y.astype(np.int64)


def human_in_the_loop(run: Run, plan: RunPlan, choice: Choice) -> HumanInTheLoop | None:
    """The deferral rule of the charter's ``human_in_the_loop:`` for its model (default:
    the selected one, else the best-ranked); None when the charter asks for none.

    Raises
    ------
    InputError
        The section names a model the data do not have.
    """
    spec, t = run.charter.human_in_the_loop, run.table
    if spec is None or t.task not in ("binary", "multiclass"):
        return None
    if getattr(run.engine, "name", "") == "spark":
        run.warnings.append("human_in_the_loop: the deferral rule reads the calibration "
                            "rows in memory and is not computed with the Spark engine; run "
                            "with `--engine numpy` or `duckdb`")
        return None
    model = spec.model or choice.winner or choice.top
    if model is None:
        return None
    if model not in t.models:
        raise InputError(f"human_in_the_loop.model: `{model}` is not a model of the data"
                         f"{did_you_mean(model, t.models)}")
    mi = t.models.index(model)
    cal_split, rep_split = plan.selection_split, plan.report_split
    splits = [cal_split] + ([rep_split] if rep_split and rep_split != cal_split else [])
    rows = fetch_rows(t, splits, plan.levels)
    cal = rows[cal_split]
    threshold = spec.threshold if spec.threshold is not None else 0.5
    if t.task == "binary":
        s = cal.scores[mi]
        if s.size and (np.nanmin(s) < 0.0 or np.nanmax(s) > 1.0):
            run.warnings.append(f"human_in_the_loop: `{model}`'s scores are not "
                                "probabilities in [0, 1], so no confidence is measured "
                                "from the decision threshold; the section is left out")
            return None
    if not np.all(cal.w == 1.0):
        run.warnings.append("human_in_the_loop: rows are counted unweighted (the row "
                            "weights are ignored)")
    g = run.charter.guarantees
    delta = spec.delta if spec.delta is not None else (g.delta if g is not None else 0.05)
    # A deferral limit splits δ: the error certified at δ/2, the deferral bounded at δ/2.
    err_delta = delta / 2.0 if spec.max_defer is not None else delta
    conf, wrong = _decisions(t.task, cal, mi, threshold)
    masks = _masks(run, plan, cal)
    chosen = masks if spec.slices else {OVERALL: masks[OVERALL]}
    res = certify_deferral(spec.max_error, err_delta, conf, wrong, chosen)
    out = HumanInTheLoop(
        model=model, task=t.task, max_error=spec.max_error, delta=delta,
        calibration_split=cal_split, report_split=rep_split, procedure=res.procedure,
        delta_used=res.delta_used, lam=res.lam, max_defer=spec.max_defer,
        threshold=threshold if t.task == "binary" else None, message=res.message,
        more_rows=res.more_rows)
    if res.lam is not None and t.task == "binary":
        out.accept_at = threshold + res.lam * (1.0 - threshold)
        out.reject_at = threshold - res.lam * threshold
    out.slices = [DeferralSlice(
        slice=name, n_calibration=int(m.sum()), decided_calibration=res.decided[name],
        errors_calibration=res.errors[name], certified_error=res.certified[name])
        for name, m in chosen.items()]
    rep = rows.get(rep_split or cal_split, cal)
    rconf, rwrong = _decisions(t.task, rep, mi, threshold)
    rmasks = _masks(run, plan, rep)
    if res.lam is not None:
        for d in out.slices:
            if d.slice in rmasks:
                _read(d, res.lam, rconf[rmasks[d.slice]], rwrong[rmasks[d.slice]], delta)
    _joint(out, spec, cal_split, conf, wrong, chosen)
    low = 0.0 if t.task == "binary" else 1.0 / max(len(t.classes), 1)
    grid = band_grid(low=low)
    on = [n for n in chosen if n in rmasks]
    out.band_delta = delta
    for name in on:
        band = risk_coverage_band(rconf[rmasks[name]], rwrong[rmasks[name]], grid, delta,
                                  family=len(on))
        out.curve += [CoveragePoint(
            slice=name, lam=float(band.grid[i]), coverage=float(band.coverage[i]),
            decided=int(band.decided[i]), risk=_f(band.risk[i]), lower=_f(band.lower[i]),
            upper=_f(band.upper[i])) for i in range(grid.size)]
    if t.task == "multiclass":
        hits = top_k_hits(rep.y.astype(np.int64), rep.proba[mi], spec.top_k)
        for k, h in hits.items():
            lo, hi = two_sided(np.array([h]), np.array([rep.n]), delta)
            out.top_k.append(TopKAccuracy(k=k, accuracy=h / rep.n if rep.n else None,
                                          lower=_f(lo[0]), upper=_f(hi[0]), n=rep.n))
    out.lines = section_lines(out, t.task, len(t.classes))
    return out


def _f(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)


def _read(d: DeferralSlice, lam: float, conf: FloatArray, wrong: BoolArray,
          delta: float) -> None:
    """The certified rule on the report rows of one slice, with exact intervals."""
    decided = conf >= lam
    n, nd, k = conf.size, int(decided.sum()), int((wrong & decided).sum())
    d.n_report, d.decided_report, d.errors_report = n, nd, k
    if nd:
        lo, hi = two_sided(np.array([k]), np.array([nd]), delta)
        d.error, d.error_lower, d.error_upper = k / nd, _f(lo[0]), _f(hi[0])
    if n:
        lo, hi = two_sided(np.array([n - nd]), np.array([n]), delta)
        d.defer, d.defer_lower, d.defer_upper = (n - nd) / n, _f(lo[0]), _f(hi[0])
        d.saved_per_1000 = 1000.0 * nd / n
        d.saved_lower = None if d.defer_upper is None else 1000.0 * (1.0 - d.defer_upper)
        d.saved_upper = None if d.defer_lower is None else 1000.0 * (1.0 - d.defer_lower)


def _joint(out: HumanInTheLoop, spec: HumanInTheLoopSpec, cal_split: str,
           conf: FloatArray, wrong: BoolArray, masks: dict[str, BoolArray]) -> None:
    """The deferral limit: held when the exact (1 − δ/2) upper bound of the deferral rate
    on the report rows (the calibration rows without a report split) is within it; when
    not, what deferring at most the limit reaches on the calibration rows."""
    if spec.max_defer is None:
        return
    delta = out.delta
    ov = out.overall()
    if out.lam is not None and ov is not None:
        n, deferred = ((ov.n_report, ov.n_report - ov.decided_report) if ov.n_report
                       else (ov.n_calibration, ov.n_calibration - ov.decided_calibration))
        up = float(cp_upper(deferred, n, delta / 2.0)[()]) if n else 1.0
        out.defer_ok = up <= spec.max_defer
        if out.defer_ok:
            return
        head = (f"infeasible jointly: an error ≤ {spec.max_error:g} needs deferring up to "
                f"{up:.0%} of the cases (upper bound), more than max_defer "
                f"{spec.max_defer:g}")
    else:
        out.defer_ok = False
        head = "infeasible jointly: no rule certifies the error"
    lam, nd, k, bound, more = reachable_at(spec.max_defer, spec.max_error, out.delta_used,
                                           conf, wrong, masks)
    reach = (f"; deferring at most {spec.max_defer:.0%} (λ = {lam:.2f}) the model decides "
             f"{nd:,} of {conf.size:,} {cal_split} cases with {k:,} wrong ("
             + (f"error ≤ {bound:.1%} at the level the procedure uses"
                + (" in every slice" if len(masks) > 1 else "") if bound is not None
                else "nothing certified") + ")")
    if more:
        reach += (f"; about {more:,} more labelled rows at these rates would certify "
                  f"{spec.max_error:g} there")
    elif more == 0:
        reach += ("; these rows would certify it at that level alone, but every fixed "
                  "sequence stops at a failure before reaching it")
    else:
        reach += f"; its observed error misses {spec.max_error:g}, so more rows would not"
    out.message = (out.message + "; " if out.message else "") + head + reach
    if out.more_rows is None:
        out.more_rows = more


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def section_lines(h: HumanInTheLoop, task: str, n_classes: int) -> list[str]:
    """The verdict's "Human in the loop" sentences."""
    lines: list[str] = []
    head = (f"{h.model} decides where it is confident and defers the rest to people, "
            f"keeping the error on what it decides ≤ {h.max_error:.1%} with probability "
            f"≥ {1 - h.delta:.0%}")
    ov = h.overall()
    if h.lam is None or ov is None:
        lines.append(head + ": not certified — " + h.message)
    else:
        if h.lam == 0.0:
            rule = "decide every case (nothing needs deferring)" + (
                f" at the threshold {h.threshold:g}" if h.threshold is not None else "")
        elif task == "binary":
            rule = (f"accept at score ≥ {h.accept_at:.3f}, reject at ≤ {h.reject_at:.3f}, "
                    "defer between")
        else:
            rule = f"decide the most probable class when its probability is ≥ {h.lam:.3f}"
        lines.append(f"{head}: {rule} (chosen on {h.calibration_split}: "
                     f"{ov.errors_calibration:,} wrong of {ov.decided_calibration:,} decided, "
                     f"certified error ≤ {_pct(ov.certified_error)}).")
        if ov.n_report and h.report_split:
            lines.append(
                f"On {h.report_split}: automates {_pct(1 - (ov.defer or 0.0))} of "
                f"{ov.n_report:,} cases — {ov.saved_per_1000:.0f} human decisions saved per "
                f"1,000 ({_num(ov.saved_lower)}–{_num(ov.saved_upper)}); error on the "
                f"decided {_pct(ov.error)} ({_pct(ov.error_lower)}–{_pct(ov.error_upper)}, "
                f"{ov.errors_report:,} of {ov.decided_report:,}).")
        if h.max_defer is not None:
            lines.append(f"Deferral ≤ {h.max_defer:.0%}: holds (at most "
                         f"{_pct(ov.defer_upper)} deferred, upper bound)." if h.defer_ok
                         else f"Deferral ≤ {h.max_defer:.0%}: {h.message}.")
        others = [s for s in h.slices if s.slice != OVERALL and s.error is not None]
        if others:
            worst = max(others, key=lambda s: s.error or 0.0)
            least = min(others, key=lambda s: 1.0 - (s.defer or 0.0))
            lines.append(f"In every slice at once ({len(h.slices)} with overall, "
                         f"Bonferroni): worst error {worst.slice} {_pct(worst.error)}; "
                         f"least automated {least.slice} {_pct(1 - (least.defer or 0.0))}.")
    if h.top_k:
        lines.append("Suggesting the k most probable of " + str(n_classes) + " classes: "
                     + "; ".join(f"top-{a.k} holds the right class in {_pct(a.accuracy)} "
                                 f"({_pct(a.lower)}–{_pct(a.upper)})" for a in h.top_k)
                     + ".")
    return lines


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.0f}"


def add_to_verdict(launch: Verdict | None, h: HumanInTheLoop | None) -> None:
    """The section "Human in the loop" of the launch verdict."""
    if launch is not None and h is not None and h.lines:
        launch.sections[SECTION] = list(h.lines)
