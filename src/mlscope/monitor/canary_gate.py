"""The rollout gate on canary and blue-green traffic: PROMOTE, HOLD or ROLL BACK.

Each row is served by one model, so the comparison is unpaired
(:mod:`mlscope.monitor.unpaired`). With labels, the gates are ``mlscope check``'s own
(:func:`mlscope.compare.check.gate_checks`: ``improve`` / ``regress`` decided on the
interval bound, ``slices: true`` failing a slice only on BH-significant evidence), fed
with unpaired differences instead of paired ones. The decision words and rules are the
shadow gate's (:mod:`mlscope.monitor.rollout_gate`), plus:

* **not enough traffic** — a gate neither passed nor failed on evidence while the smaller
  arm has fewer labelled rows than the power calculation asks for
  (:func:`mlscope.monitor.unpaired.rows_needed`): HOLD, saying how many;
* **traffic not comparable** — the features differ between the arms (canary: the
  assignment is not random) or across the cut-over (blue-green: the traffic moved when
  the model did), each feature tested with the monitor's shift tests, Benjamini–Hochberg
  across the features: a warning, since the difference is then not the models' alone.

Blue-green compares the periods before and after the switch: time is confounded with
the model, so any drift at the switch is read as the model's doing.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlscope.charter.schema import Bound, Charter
from mlscope.monitor.checks import ARM, LABEL, score_col
from mlscope.monitor.performance import EstimatedMetric
from mlscope.monitor.rollout_gate import (
    HOLD,
    MIN_LABELLED,
    PROMOTE,
    ROLL_BACK,
    Gate,
    Rollout,
    RolloutWindow,
    label_free_worse,
)
from mlscope.monitor.unpaired import (
    ArmDifference,
    arm_difference,
    labelled_stats,
    metric_name,
    per_row_variance,
    rows_needed,
    unpaired_figures,
)
from mlscope.result import OVERALL, Difference, MetricInfo, MetricValue, RequirementCheck

__all__ = ["requirement_on_arm", "requirement_reason", "traffic_check", "unpaired_gate"]

FloatArray = npt.NDArray[np.float64]
CONFOUNDED = ("blue-green compares the period before the switch with the period after it: "
              "time is confounded with the model, so any drift at the switch is "
              "attributed to the model")


def _info(charter: Charter, mid: str) -> MetricInfo:
    from mlscope.errors import InputError
    from mlscope.metrics.registry import get_metric

    try:
        spec = get_metric(metric_name(charter, mid))
    except InputError:
        entry = next((m for m in charter.metrics if m.id == mid), None)
        direction = (entry.direction if entry is not None and entry.direction else "higher")
        return MetricInfo(mid, mid, mid, direction, {}, "")
    return MetricInfo(mid, spec.name, mid, spec.direction, {}, spec.description,
                      bounds=spec.bounds_for("binary"))


def _slices(charter: Charter, lab: pd.DataFrame, slices: list[str]
            ) -> dict[str, np.ndarray]:
    out = {OVERALL: np.ones(len(lab), dtype=bool)}
    for s in slices:
        values = lab[s].astype(str).to_numpy()
        for lvl in pd.unique(values):
            mask = values == lvl
            if mask.sum() >= charter.slices.min_size:
                out[f"{s}={lvl}"] = mask
    return out


def realised_unpaired(charter: Charter, lab: pd.DataFrame, prod: str, cand: str,
                      pairs: dict[str, tuple[Any, Any]], slices: list[str], *,
                      rng: np.random.Generator, resamples: int, level: float
                      ) -> tuple[list[Gate], list[str], str, bool | None,
                                 list[RequirementCheck]]:
    """The charter's gates and requirements on labelled rows of both arms (``lab``:
    ``ARM``, ``LABEL``, the two score columns, the slices). Returns the gates, the
    failures, a note, whether the check passed (None: too few labels to check) and the
    requirements on the candidate's arm."""
    from mlscope.compare.check import gate_checks

    st = charter.data.score_type
    arm = lab[ARM].to_numpy()
    y = lab[LABEL].to_numpy(np.float64)
    for m in (prod, cand):
        ym = y[arm == m]
        if ym.size < MIN_LABELLED or np.unique(ym).size < 2:
            return [], [], (f"{ym.size} labelled row(s) served by {m}"
                            + (" of one class" if ym.size >= MIN_LABELLED else "")
                            + f": the realised gate needs at least {MIN_LABELLED} of both "
                            "classes in each arm"), None, []
    groups = _slices(charter, lab, slices)
    infos = {mid: _info(charter, mid) for mid in [*charter.gates, *charter.requirements]}

    @cache
    def diff(skey: str, mid: str) -> ArmDifference | None:
        if mid not in pairs or skey not in groups:
            return None
        em_c, em_p = pairs[mid]
        g = groups[skey]
        c, p = g & (arm == cand), g & (arm == prod)
        if c.sum() < 2 or p.sum() < 2:
            return None
        return arm_difference(infos[mid].name, em_c, em_p, y[c],
                              lab[score_col(cand)].to_numpy(np.float64)[c], y[p],
                              lab[score_col(prod)].to_numpy(np.float64)[p], st, rng=rng,
                              resamples=resamples, level=level)

    def value(model: str, skey: str, mid: str) -> MetricValue | None:
        d = diff(skey, mid)
        if d is None:
            return None
        return MetricValue("rollout", model, skey, mid,
                           d.candidate if model == cand else d.production)

    def difference(skey: str, mid: str) -> Difference | None:
        d = diff(skey, mid)
        if d is None:
            return None
        return Difference("rollout", skey, mid, cand, prod, d.value, d.low, d.high, d.p,
                          test=d.test, note="unpaired", se=d.se)

    def replicates(skey: str, mid: str) -> Any:
        d = diff(skey, mid)
        return None if d is None else d.replicates

    checks = gate_checks(charter, candidate=cand, blessed=prod, split="rollout",
                         slices=list(groups), value=value, difference=difference,
                         replicates=replicates, infos=infos)
    gates = []
    for g in checks:
        higher = infos[g.metric].direction == "higher"
        ou = None if g.lower is None or g.upper is None else (g.upper if higher else -g.lower)
        gates.append(Gate(g.metric, g.kind, g.slice, g.margin, g.bound, g.candidate_value,
                          g.blessed_value, g.difference, g.lower, g.upper, g.oriented_lower,
                          ou, g.p_value, g.adjusted_p, bool(g.passed), g.reason))
    failures = [g.reason for g in gates if not g.passed and g.reason]
    c = arm == cand
    yc, sc = y[c], lab[score_col(cand)].to_numpy(np.float64)[c]
    requirements = []
    # The charter's requirements on the candidate's own arm, decided as `mlscope check`
    # decides them (on the point, or on the (1 − δ) bound with `decide_on: bound`): a miss
    # fails the check, as in the shadow gate.
    for mid, bound in charter.requirements.items():
        if mid not in pairs:
            continue  # not a metric the monitor computes (a custom or a cost metric)
        # Undefined on the arm's rows: not met, as `mlscope check` never passes a
        # requirement it cannot show to hold.
        rc = requirement_on_arm(charter, mid, bound, pairs[mid][0], diff(OVERALL, mid), yc,
                                sc, cand)
        requirements.append(rc)
        if not rc.met:
            failures.append(requirement_reason(rc, bound, int(c.sum())))
    met = all(r.met for r in requirements)
    return gates, failures, "", met and all(g.passed for g in gates), requirements


def requirement_on_arm(charter: Charter, mid: str, bound: Bound, em: EstimatedMetric,
                       d: ArmDifference | None, yc: FloatArray, sc: FloatArray, cand: str
                       ) -> RequirementCheck:
    """Requirement ``mid`` on the candidate's labelled rows (``yc``, ``sc``), decided by
    ``mlscope check``'s own rule (:func:`mlscope.compare.certify.requirement_check`): on
    the point, or with ``decide_on: bound`` on the exact Clopper–Pearson bound of a rate
    (its trials counted as ``mlscope check`` counts them,
    :func:`mlscope.engine.bounded.effective_trials`) or the bootstrap percentile bound of
    the arm's own replicates."""
    from mlscope.compare.certify import decides_on_bound, requirement_check
    from mlscope.engine.bounded import effective_trials

    mv = MetricValue("rollout", cand, OVERALL, mid, None if d is None else d.candidate,
                     n_rows=int(yc.size))
    trials = None
    if mv.value is not None and decides_on_bound(charter, bound):
        trials = effective_trials(metric_name(charter, mid),
                                  labelled_stats(yc, sc, charter.data.score_type),
                                  em.threshold)
    return requirement_check(charter, mid, bound, mv, trials=trials,
                             replicates=None if d is None else d.candidate_replicates)


def _signed(x: float | None) -> str:
    """``+0.0136`` / ``−0.0136``: a signed figure with a true minus, as mlscope prints them."""
    return "–" if x is None else f"{x:+.4g}".replace("-", "−")


def requirement_reason(rc: RequirementCheck, bound: Bound, rows: int) -> str:
    """Why requirement ``rc`` (not met) fails the canary / blue-green check."""
    head = f"requirement `{rc.metric} {bound}` is not met by {rc.model}"
    rows_ = f"on its {rows:,} labelled rows"
    point = "undefined" if rc.value is None else f"{rc.value:.4g}"
    if rc.decided_on != "bound":
        return f"{head} {rows_}: {point}" + (f" (margin {_signed(rc.margin)})"
                                             if rc.margin is not None else "")
    if rc.certified is None:
        return f"{head} on its bound, {rows_}: no bound ({rc.how}; point {point})"
    return (f"{head} on its bound, {rows_}: bound {rc.certified:.4g} (point {point}, "
            f"margin {_signed(rc.margin)}; {rc.how})"
            + (f"; {rc.more_data}" if rc.more_data else ""))


def traffic_check(ref_rows: pd.DataFrame, new_rows: pd.DataFrame, features: list[str],
                  numeric: set[str], q: float) -> list[dict[str, Any]]:
    """Each feature's shift test between production's rows and the candidate's (canary:
    the arms; blue-green: before and after the switch), BH-corrected across the
    features; the entries with ``shifted`` true are the features whose q-value < ``q``."""
    from mlscope.compare.paired import fdr_bh
    from mlscope.monitor.shift import categorical_shift, numeric_shift

    out: list[dict[str, Any]] = []
    for c in features:
        if c in numeric:
            s = numeric_shift(pd.to_numeric(ref_rows[c], errors="coerce").to_numpy(np.float64),
                              pd.to_numeric(new_rows[c], errors="coerce").to_numpy(np.float64))
        else:
            s = categorical_shift(ref_rows[c].to_numpy(dtype=object),
                                  new_rows[c].to_numpy(dtype=object))
        if s is not None and s.p is not None and np.isfinite(s.p):
            out.append({"feature": c, "test": s.test, "p": float(s.p), "psi": s.psi})
    if out:
        _, qs = fdr_bh(np.array([e["p"] for e in out]), alpha=q)
        for e, qv in zip(out, qs, strict=True):
            e["q"] = float(qv)
            e["shifted"] = bool(qv < q)
    return out


def _needed(charter: Charter, ref: pd.DataFrame, prod: str, cand: str,
            pairs: dict[str, tuple[Any, Any]], rng: np.random.Generator, level: float
            ) -> tuple[int | None, str]:
    """The labelled rows per arm the overall gates need (the largest over the gates), and
    how it was computed."""
    spec = charter.monitor
    assert spec is not None
    assert spec.candidate is not None
    effect = spec.candidate.min_effect
    st = charter.data.score_type
    y = ref[LABEL].to_numpy(np.float64)
    worst: tuple[int, str] | None = None
    for mid, gate in charter.gates.items():
        if mid not in pairs:
            continue
        em_c, em_p = pairs[mid]
        vc = per_row_variance(em_c, y, ref[score_col(cand)].to_numpy(np.float64), st, rng, 200)
        vp = per_row_variance(em_p, y, ref[score_col(prod)].to_numpy(np.float64), st, rng, 200)
        margin = gate.margin
        if gate.relative:
            keep = np.isfinite(y) & np.isfinite(ref[score_col(prod)].to_numpy(np.float64))
            base = float(np.asarray(em_p.call(labelled_stats(y[keep], ref[score_col(prod)].to_numpy(
                np.float64)[keep], st))))
            margin *= abs(base)
        # Superiority: the true difference is assumed `min_effect` beyond the margin;
        # non-inferiority: the models assumed equal, `margin` from the bound.
        distance = effect if gate.kind == "superiority" or margin == 0 else margin
        n = rows_needed(vc, vp, distance, level)
        if n is not None and (worst is None or n > worst[0]):
            worst = (n, f"{mid}: a {gate.kind} gate {distance:g} from the assumed truth, "
                        f"per-row variances {vp:.3g} (production) and {vc:.3g} (candidate) "
                        f"on the reference, {level:.0%} interval, 80% power")
    return (worst[0], worst[1]) if worst is not None else (None, "")


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def decide_unpaired(cum: RolloutWindow, charter: Charter, production: str, candidate: str,
                    untrusted: bool, needed: int | None, how: str, mode: str
                    ) -> tuple[str, list[str]]:
    """PROMOTE / HOLD / ROLL BACK over the whole log (the shadow gate's rules, unpaired)."""
    f = cum.figures
    where = "canary" if mode == "canary" else "blue-green"
    per_arm = (f"{cum.labelled_production:,} labelled row(s) of {production} and "
               f"{cum.labelled_candidate:,} of {candidate}")
    reasons: list[str] = []
    short = needed is not None and min(cum.labelled_production,
                                       cum.labelled_candidate) < needed
    need_text = (f"not enough {where} traffic to decide: need ~{needed:,} labelled rows per "
                 f"arm, have {per_arm} ({how})") if needed is not None else ""
    on_bound = [r for r in cum.requirements if r.decided_on == "bound"]
    if cum.passed is not None:
        if cum.passed:
            return PROMOTE, [f"the charter's gates pass on {per_arm} ({where}, unpaired): "
                             f"{candidate} meets every gate against {production}"
                             + ("" if not cum.requirements else " and every requirement"
                                if len(cum.requirements) == len(charter.requirements) else
                                " and every requirement the monitor computes")] + [
                f"requirement `{r.metric} {r.bound}` is met on its bound: {r.certified:.4g} "
                f"(point {r.value:.4g}; {r.how})" for r in on_bound
                if r.certified is not None and r.value is not None]
        reasons.extend(cum.failures)
        if cum.worse_gates():
            reasons.insert(0, f"{candidate} is worse than {production} on {where} traffic "
                              "(a gate's whole interval on the worse side, or a slice that "
                              "regressed significantly)")
            return ROLL_BACK, reasons
        gate_short = short and any(not g.passed for g in cum.gates)
        # Met on the point, not on the bound: undecided (its interval straddles the
        # requirement), so more traffic may still certify it.
        undecided = [r for r in on_bound if not r.met and r.value is not None
                     and charter.requirements[r.metric].holds(r.value)]
        reasons.insert(0, need_text if gate_short else
                       f"not enough evidence yet on {per_arm} to pass the gates"
                       if any(not g.passed for g in cum.gates) else
                       f"the gates pass on {per_arm}; not enough evidence yet that "
                       f"{candidate} meets " + ", ".join(
                           f"`{r.metric} {r.bound}`" for r in undecided)
                       + " on its bound (its point does; more labelled rows may certify it)"
                       if undecided else
                       f"the gates pass on {per_arm}, a requirement does not")
        return HOLD, reasons
    if cum.note:
        reasons.append(cum.note)
    for mid, gate in charter.gates.items():
        why = label_free_worse(mid, f.estimated.get(mid), gate.margin, gate.relative,
                               _info(charter, mid).direction == "higher", candidate,
                               production, untrusted)
        if why:
            reasons.insert(0, why)
            return ROLL_BACK, reasons
    if need_text:
        reasons.append(need_text)
    reasons.append("promotion needs the realised gate (labels); label-free figures: "
                   f"positive rate {_pct(f.positive_rate_candidate)} vs "
                   f"{_pct(f.positive_rate_production)}")
    return HOLD, reasons


def unpaired_gate(charter: Charter, setup: Any, frame: pd.DataFrame, spans: list[Any],
                  ref: pd.DataFrame, thresholds: dict[str, float],
                  metrics: dict[str, list[Any]], cals: dict[str, Any], *,
                  numeric: set[str], rng: np.random.Generator, resamples: int, level: float,
                  untrusted: bool, switch: str | None = None) -> Rollout:
    """The canary or blue-green gate over every window and over the whole log."""
    prod, cand = setup.production, setup.candidate
    spec = setup.spec
    mode = spec.candidate.mode
    sp_col, sc_col = score_col(prod), score_col(cand)
    by_id = {e.id: e for e in metrics[prod]}
    pairs = {e.id: (e, by_id[e.id]) for e in metrics[cand] if e.id in by_id}
    pair_list = list(pairs.values())
    use_cals = (cals[prod], cals[cand]) if charter.data.score_type != "score" else None

    def one(index: int, win: pd.DataFrame) -> RolloutWindow:
        arm = win[ARM].to_numpy()
        figs = unpaired_figures(win.loc[arm == prod, sp_col].to_numpy(np.float64),
                                win.loc[arm == cand, sc_col].to_numpy(np.float64),
                                thresholds[prod], thresholds[cand], use_cals, pair_list,
                                rng=rng, resamples=resamples, level=level)
        out = RolloutWindow(index, figs)
        score = np.where(arm == cand, win[sc_col], win[sp_col])
        lab = win[win[LABEL].notna().to_numpy() & np.isfinite(score)]
        out.labelled = len(lab)
        out.labelled_production = int((lab[ARM] == prod).sum())
        out.labelled_candidate = int((lab[ARM] == cand).sum())
        (out.gates, out.failures, out.note, out.passed,
         out.requirements) = realised_unpaired(
            charter, lab, prod, cand, pairs, setup.slices, rng=rng, resamples=resamples,
            level=level)
        return out

    windows = [one(i, frame.iloc[s.rows].reset_index(drop=True))
               for i, s in enumerate(spans) if s.rows.size]
    cum = one(-1, frame)
    needed, how = _needed(charter, ref, prod, cand, pairs, rng, level)
    decision, reasons = decide_unpaired(cum, charter, prod, cand, untrusted, needed, how,
                                        mode)
    arm = frame[ARM].to_numpy()
    traffic = traffic_check(frame[arm == prod], frame[arm == cand], setup.features, numeric,
                            spec.alert.q)
    shifted = [e["feature"] for e in traffic if e.get("shifted")]
    warnings: list[str] = []
    if shifted:
        what = ("the arms' traffic differs: the canary assignment does not look random"
                if mode == "canary" else "the traffic changed at the switch")
        warnings.append(f"{what} ({', '.join(shifted)} shifted between "
                        f"{'the arms' if mode == 'canary' else 'before and after'}; "
                        f"Benjamini–Hochberg q < {spec.alert.q:g}): the difference is not "
                        "the models' alone")
    if mode == "blue_green":
        warnings.append(CONFOUNDED)
    reasons.extend(warnings)
    ro = Rollout(prod, cand, mode, decision, reasons, cum, windows)
    ro.unpaired = {"rows_needed_per_arm": needed, "rows_needed_how": how,
                   "traffic": traffic, "traffic_comparable": not shifted,
                   "switch": switch, "warnings": warnings}
    return ro
