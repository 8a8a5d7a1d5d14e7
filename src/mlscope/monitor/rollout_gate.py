"""The rollout gate on shadow traffic: PROMOTE, HOLD or ROLL BACK.

With labels, the gate **is** ``mlscope check``: the labelled shadow rows become one split
of a table (both models' scores, the label, the slice columns) and :func:`mlscope.evaluate`
runs the charter on it with the production model as ``blessed`` and the shadow model as
the candidate: the same paired tests (DeLong for ROC AUC, McNemar for accuracy, the
paired bootstrap otherwise), the same ``gates:`` (``improve`` / ``regress`` decided on the
interval bound, ``slices: true`` failing a slice only on BH-significant evidence) and the
same requirements. Nothing is re-implemented, so the verdict cannot drift from the
command's.

The decision (cumulative over the log):

* **PROMOTE** — the realised check passes;
* **ROLL BACK** — the realised check fails on evidence that the candidate is worse: a
  gate's whole interval lies on the worse side of 0, or a slice regressed significantly;
  before labels, when a paired CBPE estimate's whole interval lies beyond the gate's
  allowed regression;
* **HOLD** — anything else: no labels yet, or too few to clear the gate.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlscope.charter.schema import Charter
from mlscope.errors import InputError
from mlscope.result import OVERALL, RequirementCheck

__all__ = ["HOLD", "PROMOTE", "ROLL_BACK", "Gate", "Rollout", "RolloutWindow", "decide",
           "gates_of", "label_free_worse", "realised_check", "shadow_gate"]

PROMOTE, HOLD, ROLL_BACK = "PROMOTE", "HOLD", "ROLL BACK"
# Fewer labelled rows than this: no realised check (the paired tests need both classes).
MIN_LABELLED = 30


@dataclass
class Gate:
    """One gate of the realised check (``mlscope check``'s ``GateCheck``, flattened)."""

    metric: str
    kind: str
    slice: str
    margin: float
    bound: float
    candidate_value: float | None
    blessed_value: float | None
    difference: float | None
    lower: float | None
    upper: float | None
    oriented_lower: float | None
    oriented_upper: float | None
    p_value: float | None
    adjusted_p: float | None
    passed: bool
    reason: str


@dataclass
class RolloutWindow:
    """The comparison on one window (``index``) or on the whole log (``index`` −1)."""

    index: int
    # PairedFigures (shadow) or mlscope.monitor.unpaired.UnpairedFigures (canary,
    # blue-green).
    figures: Any
    labelled: int = 0
    passed: bool | None = None
    gates: list[Gate] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    note: str = ""
    # Canary and blue-green: the labelled rows each arm served.
    labelled_production: int = 0
    labelled_candidate: int = 0
    # The charter's requirements on the candidate (`mlscope check`'s RequirementCheck: on
    # the point, or on the bound with `decide_on: bound`).
    requirements: list[RequirementCheck] = field(default_factory=list)

    def worse_gates(self) -> list[Gate]:
        """The gates that show the candidate worse: a slice that regressed significantly,
        or an overall interval wholly on the worse side of 0."""
        return [g for g in self.gates if not g.passed and (
            g.slice != OVERALL or (g.oriented_upper is not None and g.oriented_upper < 0))]

    def outcome(self) -> str | None:
        """``passed``, ``worse``, ``not shown`` (failed without evidence of worse), or
        None when the window had too few labels to check."""
        if self.passed is None:
            return None
        return "passed" if self.passed else "worse" if self.worse_gates() else "not shown"


@dataclass
class Rollout:
    """The shadow gate's result: the decision, why, and the figures."""

    production: str
    candidate: str
    mode: str
    decision: str
    reasons: list[str]
    cumulative: RolloutWindow
    windows: list[RolloutWindow]
    # Canary and blue-green: the rows each arm needs, the traffic check, the switch.
    unpaired: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def realised_check(charter: Charter, rows: pd.DataFrame, production: str, candidate: str,
                   columns: dict[str, str], slices: list[str], seed: int
                   ) -> tuple[Any | None, str]:
    """``mlscope check`` of ``candidate`` against ``production`` on labelled shadow rows.

    ``rows`` holds ``__label`` (0/1), each model's score under its ``data.models`` column
    name (``columns``) and the slice columns. Returns the check (or None) and a note.
    """
    from mlscope.evaluation import evaluate

    if len(rows) < MIN_LABELLED or rows["__label"].nunique() < 2:
        return None, (f"{len(rows)} labelled row(s)" + ("" if len(rows) < MIN_LABELLED
                      else " of one class") + f": the realised gate needs at least "
                      f"{MIN_LABELLED} of both classes")
    table = pd.DataFrame({"__row": np.arange(len(rows)), "__split": "shadow",
                          "__y": rows["__label"].astype(int).to_numpy()})
    for m in (production, candidate):
        table[columns[m]] = rows[columns[m]].to_numpy()
    for s in slices:
        table[s] = rows[s].to_numpy()
    data = charter.data.model_copy(update={
        "table": "shadow.parquet", "duckdb": None, "labels": None, "predictions": None,
        "id": "__row", "label": "__y", "split": "__split", "weight": None, "time": None,
        "positive": 1, "models": {m: columns[m] for m in (production, candidate)},
        "long": None, "errors": {}})
    ch = charter.model_copy(update={
        "data": data, "baselines": {}, "blessed": production, "monitor": None,
        "human_in_the_loop": None, "profile": None,
        # Requirements are decided as the charter says (`decide_on`, `delta`); the
        # risk-controlled thresholds need calibration rows the shadow log does not have.
        "guarantees": (None if charter.guarantees is None else
                       charter.guarantees.model_copy(update={"thresholds": {}})),
        "splits": charter.splits.model_copy(update={"selection": "shadow", "report": None,
                                                    "train": None, "train_dev": None})})
    with tempfile.TemporaryDirectory(prefix="mlscope-shadow-") as tmp:
        table.to_parquet(Path(tmp) / "shadow.parquet", index=False)
        try:
            res = evaluate(ch, base_dir=tmp, seed=seed, candidate=candidate)
        except InputError as exc:
            return None, f"the realised gate could not run on these rows: {exc}"
    return res, ""


def gates_of(res: Any) -> list[Gate]:
    """The check's gates, with the oriented upper bound (positive is better)."""
    out = []
    for g in res.check.gates:
        higher = res.metric_info(g.metric).direction == "higher"
        ou = None
        if g.lower is not None and g.upper is not None:
            ou = g.upper if higher else -g.lower
        out.append(Gate(g.metric, g.kind, g.slice, g.margin, g.bound, g.candidate_value,
                        g.blessed_value, g.difference, g.lower, g.upper, g.oriented_lower,
                        ou, g.p_value, g.adjusted_p, bool(g.passed), g.reason))
    return out


def label_free_worse(mid: str, e: Any, margin: float, relative: bool, higher: bool,
                     candidate: str, production: str, untrusted: bool) -> str | None:
    """Why to roll back before any label, or None: gate ``mid``'s label-free estimate of
    the difference ``e`` (candidate − production, with ``value``, ``low``, ``high``) is
    worse than the allowed ``margin`` over its whole interval. Only absolute gates, and
    never while the estimate is not trustworthy. One rule for the shadow, canary and
    blue-green gates, so they cannot drift apart."""
    if untrusted or relative or e is None or e.value is None or e.low is None \
            or e.high is None:
        return None
    if (e.high if higher else -e.low) >= -margin:
        return None

    def f(x: float) -> str:
        return f"{x:+.4g}".replace("-", "−")

    return (f"{mid}: the label-free estimate of {candidate} − {production} is {f(e.value)} "
            f"[{f(e.low)}, {f(e.high)}], worse than the allowed {f(-margin)} over its whole "
            "interval")


def decide(cum: RolloutWindow, charter: Charter, production: str, candidate: str,
           untrusted: bool) -> tuple[str, list[str]]:
    """PROMOTE / HOLD / ROLL BACK on the whole log, with the reasons."""
    f = cum.figures
    reasons: list[str] = []
    if cum.passed is not None:
        if cum.passed:
            reasons.append(f"`mlscope check` passes on {cum.labelled:,} labelled shadow "
                           f"rows: {candidate} meets every gate and requirement against "
                           f"{production}")
            return PROMOTE, reasons
        worse = cum.worse_gates()
        reasons.extend(cum.failures)
        if worse:
            reasons.insert(0, f"{candidate} is worse than {production} on labelled shadow "
                              "rows (a gate's whole interval on the worse side, or a slice "
                              "that regressed significantly)")
            return ROLL_BACK, reasons
        reasons.insert(0, f"not enough evidence yet on {cum.labelled:,} labelled shadow "
                          "rows to pass the gates; keep the candidate in shadow")
        return HOLD, reasons
    if cum.note:
        reasons.append(cum.note)
    for mid, gate in charter.gates.items():
        if f.estimated.get(mid) is None:
            continue  # no label-free estimate of this gate's metric
        from mlscope.metrics.registry import get_metric

        entry = next((m for m in charter.metrics if m.id == mid), None)
        higher = entry is None or entry.metric is None or \
            get_metric(entry.metric).direction == "higher"
        why = label_free_worse(mid, f.estimated.get(mid), gate.margin, gate.relative, higher,
                               candidate, production, untrusted)
        if why:
            reasons.insert(0, why)
            return ROLL_BACK, reasons
    reasons.append("promotion needs the realised gate (labels); label-free figures: "
                   f"agreement {_pct(f.agreement.value)}, positive rate "
                   f"{_pct(f.positive_rate_candidate)} vs {_pct(f.positive_rate_production)}")
    return HOLD, reasons


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def shadow_gate(charter: Charter, setup: Any, frame: pd.DataFrame, spans: list[Any],
                ref: pd.DataFrame, thresholds: dict[str, float],
                metrics: dict[str, list[Any]], *, rng: np.random.Generator, resamples: int,
                level: float, seed: int, untrusted: bool) -> Rollout:
    """The shadow gate over every window and over the whole log."""
    from mlscope.monitor.checks import score_col
    from mlscope.monitor.rollout import fit_joint, paired_figures

    prod, cand = setup.production, setup.candidate
    assert prod is not None
    assert cand is not None
    sp_col, sc_col = score_col(prod), score_col(cand)
    joint = None
    if charter.data.score_type != "score":
        joint = fit_joint(ref["__label"].to_numpy(np.float64), ref[sp_col].to_numpy(np.float64),
                          ref[sc_col].to_numpy(np.float64), charter.data.score_type, rng=rng,
                          resamples=resamples)
    by_id = {e.id: e for e in metrics[prod]}
    pairs = [(e, by_id[e.id]) for e in metrics[cand] if e.id in by_id]

    def one(index: int, win: pd.DataFrame) -> RolloutWindow:
        figs = paired_figures(win[sp_col].to_numpy(np.float64), win[sc_col].to_numpy(np.float64),
                              thresholds[prod], thresholds[cand], joint, pairs, rng=rng,
                              resamples=resamples, level=level)
        out = RolloutWindow(index, figs)
        lab = win[win["__label"].notna() & win[sp_col].notna() & win[sc_col].notna()]
        out.labelled = len(lab)
        rows = pd.DataFrame({"__label": lab["__label"].to_numpy()})
        for m in (prod, cand):
            rows[setup.reference_columns[m]] = lab[score_col(m)].to_numpy()
        for s in setup.slices:
            rows[s] = lab[s].to_numpy()
        res, out.note = realised_check(charter, rows, prod, cand, setup.reference_columns,
                                       setup.slices, seed + index + 1)
        if res is not None and res.check is not None:
            out.passed = bool(res.check.passed)
            out.gates = gates_of(res)
            out.failures = list(res.check.failures)
            out.requirements = list(res.check.requirements)
        return out

    windows = [one(i, frame.iloc[s.rows].reset_index(drop=True))
               for i, s in enumerate(spans) if s.rows.size]
    cum = one(-1, frame)
    decision, reasons = decide(cum, charter, prod, cand, untrusted)
    return Rollout(prod, cand, setup.spec.candidate.mode, decision, reasons, cum, windows)
