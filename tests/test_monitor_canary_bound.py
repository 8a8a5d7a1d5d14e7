"""The canary gate decides the charter's requirements as ``mlscope check`` does: on the
point, or on the (1 − δ) bound with ``decide_on: bound`` (docs/deciding.md).

The stream is the one of ``tests/test_monitor_canary.py`` (a truly better candidate that
the gate ``roc_auc: {improve: 0}`` promotes); the requirement on accuracy at 0.5 is set
just under the candidate arm's own accuracy, so its point clears it and its exact
Clopper–Pearson bound (≈ 0.015 below the point on ~2,000 rows) does not.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from mlscope import evaluate
from mlscope.charter import load_charter
from mlscope.monitor import MonitorResult, monitor
from mlscope.monitor.rollout_gate import HOLD, PROMOTE
from tests.monitor_data import shadow_population, shadow_project, stamp

GATE = {"roc_auc": {"improve": 0.0}}
CANARY = {"model": "new", "mode": "canary", "arm": "served_by"}
ACCURACY = {"metric": "accuracy", "threshold": 0.5}
PRECISION = {"metric": "precision", "threshold": 0.5}


def _stream(seed: int = 6) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reference and a 4,000-row canary log (half served by the candidate `new`)."""
    rng = np.random.default_rng(seed)
    ref = shadow_population(2000, rng, candidate_noise=0.3)
    wins = [shadow_population(2000, rng, candidate_noise=0.3) for _ in range(2)]
    out = []
    for w in wins:
        pick = rng.random(len(w)) < 0.5
        w = w.copy()
        w["served_by"] = np.where(pick, "new", "model")
        w["p_model"] = np.where(pick, w["p_new"], w["p_model"])
        out.append(w.drop(columns="p_new"))
    return ref, stamp(out)


def _arm(log: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The candidate arm's labels and scores."""
    rows = log[log["served_by"] == "new"]
    return rows["label"].to_numpy(np.float64), rows["p_model"].to_numpy(np.float64)


def _monitor(tmp: Path, ref: pd.DataFrame, log: pd.DataFrame, **over: Any) -> MonitorResult:
    path = shadow_project(tmp, ref, GATE, candidate=CANARY)
    charter = yaml.safe_load(path.read_text())
    charter["metrics"] = ["roc_auc", ACCURACY, PRECISION]
    charter.update(over)
    path.write_text(yaml.safe_dump(charter, sort_keys=False))
    return monitor(load_charter(path), path, log)


def _just_under(point: float) -> float:
    """A target the point clears by 0.003–0.004 (four decimals, as a charter writes it)."""
    return math.floor((point - 0.003) * 1e4) / 1e4


def test_a_requirement_met_on_its_point_but_not_its_bound_holds(tmp_path: Path) -> None:
    ref, log = _stream()
    y, s = _arm(log)
    point = float(np.mean((s >= 0.5) == (y == 1)))
    target = _just_under(point)
    res = _monitor(tmp_path, ref, log, requirements={"accuracy": f">= {target}"},
                   guarantees={"decide_on": "bound"})
    ro = res.rollout
    assert ro is not None
    assert all(g.passed for g in ro.cumulative.gates)  # the gate alone would promote
    (req,) = ro.cumulative.requirements
    assert req.decided_on == "bound"
    assert req.value is not None
    assert abs(req.value - point) < 1e-12
    assert req.certified is not None
    assert req.certified < target < req.value  # undecided: the interval straddles it
    assert not req.met
    assert req.how.startswith("exact Clopper–Pearson, one-sided 95%")
    assert ro.decision == HOLD, ro.reasons
    assert "on its bound" in ro.reasons[0], ro.reasons
    assert f"`accuracy >= {target:g}`" in ro.reasons[0]
    assert any(f"not met by new on its bound, on its {y.size:,} labelled rows: bound "
               f"{req.certified:.4g} (point {point:.4g}" in r for r in ro.reasons), ro.reasons
    assert res.exit_code == 1
    # One requirement on its bound (its own `decide_on`), the charter deciding on points.
    res = _monitor(tmp_path, ref, log,
                   requirements={"accuracy": {"bound": f">= {target}", "decide_on": "bound"}})
    assert res.rollout is not None
    assert res.rollout.decision == HOLD, res.rollout.reasons


def test_the_same_requirement_decided_on_the_point_promotes(tmp_path: Path) -> None:
    ref, log = _stream()
    y, s = _arm(log)
    target = _just_under(float(np.mean((s >= 0.5) == (y == 1))))
    for over in ({}, {"guarantees": {"decide_on": "point"}}):
        res = _monitor(tmp_path, ref, log, requirements={"accuracy": f">= {target}"}, **over)
        ro = res.rollout
        assert ro is not None
        (req,) = ro.cumulative.requirements
        assert req.decided_on == "point"
        assert req.met
        assert req.certified is None
        assert ro.decision == PROMOTE, ro.reasons
        assert "and every requirement" in ro.reasons[0]
        assert not any("on its bound" in r for r in ro.reasons)


def test_a_requirement_certified_on_its_bound_promotes_and_says_so(tmp_path: Path) -> None:
    ref, log = _stream()
    y, s = _arm(log)
    target = math.floor((float(np.mean((s >= 0.5) == (y == 1))) - 0.04) * 1e4) / 1e4
    res = _monitor(tmp_path, ref, log,
                   requirements={"accuracy": f">= {target}", "roc_auc": ">= 0.7"},
                   guarantees={"decide_on": "bound"})
    ro = res.rollout
    assert ro is not None
    assert ro.decision == PROMOTE, ro.reasons
    req = {r.metric: r for r in ro.cumulative.requirements}
    assert all(r.met and r.decided_on == "bound" for r in req.values())
    # ROC AUC has no exact bound: the percentile of the arm's own bootstrap replicates.
    assert req["roc_auc"].how.startswith("bootstrap percentile, one-sided 95%")
    for mid in ("accuracy", "roc_auc"):
        r = req[mid]
        assert r.certified is not None
        assert r.value is not None
        assert any(f"`{mid} {r.bound}` is met on its bound: {r.certified:.4g} (point "
                   f"{r.value:.4g}" in x for x in ro.reasons), ro.reasons


def test_the_bound_is_mlscope_checks_bound_on_the_same_rows(tmp_path: Path) -> None:
    # The candidate arm's labelled rows as an ordinary evaluation: `mlscope check` decides
    # its requirements on exactly the bound the canary gate decides on (exact rates: the
    # trials — all rows for accuracy, predicted positives for precision — are the same).
    ref, log = _stream()
    y, s = _arm(log)
    reqs = {"accuracy": ">= 0.8", "precision": ">= 0.7"}
    guarantees = {"decide_on": "bound", "delta": 0.1}
    (tmp_path / "canary").mkdir()
    res = _monitor(tmp_path / "canary", ref, log, requirements=reqs, guarantees=guarantees)
    assert res.rollout is not None
    mine = {r.metric: r for r in res.rollout.cumulative.requirements}

    (tmp_path / "check").mkdir()
    pd.DataFrame({"row_id": np.arange(y.size), "split": "test", "label": y.astype(int),
                  "p_new": s}).to_parquet(tmp_path / "check" / "eval.parquet", index=False)
    charter = {
        "project": "arm", "task": "binary", "seed": 3,
        "data": {"table": "eval.parquet", "id": "row_id", "label": "label", "split": "split",
                 "models": {"new": "p_new"}},
        "splits": {"selection": "test", "report": "test", "train": None},
        "metrics": ["roc_auc", ACCURACY, PRECISION],
        "selection": {"rule": "satisficing", "optimize": "roc_auc"},
        "requirements": reqs, "guarantees": guarantees}
    path = tmp_path / "check" / "mlscope.yaml"
    path.write_text(yaml.safe_dump(charter, sort_keys=False))
    theirs = {r.metric: r for r in evaluate(path, base_dir=path.parent).requirements}
    for mid in reqs:
        a, b = mine[mid], theirs[mid]
        assert a.decided_on == b.decided_on == "bound"
        assert a.value is not None
        assert b.value is not None
        assert abs(a.value - b.value) < 1e-12
        assert a.certified is not None
        assert b.certified is not None
        assert abs(a.certified - b.certified) < 1e-12, (mid, a.certified, b.certified)
        assert a.how == b.how
        assert a.met == b.met
    assert "one-sided 90%" in mine["precision"].how
    assert "predicted positives" in mine["precision"].how


def test_the_shadow_gate_keeps_the_charters_decide_on(tmp_path: Path) -> None:
    # The shadow gate runs `mlscope check` on the labelled shadow rows: with
    # `guarantees: {decide_on: bound}` its requirements are decided on the bound too (the
    # risk-controlled thresholds, which need calibration rows, are the part left out).
    rng = np.random.default_rng(40)
    ref = shadow_population(2000, rng, candidate_noise=0.4)
    log = stamp([shadow_population(1000, rng, candidate_noise=0.4) for _ in range(2)])
    y, s = log["label"].to_numpy(np.float64), log["p_new"].to_numpy(np.float64)
    target = _just_under(float(np.mean((s >= 0.5) == (y == 1))))
    decisions = {}
    for on in ("point", "bound"):
        path = shadow_project(tmp_path, ref, GATE)
        charter = yaml.safe_load(path.read_text())
        charter.update(requirements={"accuracy": f">= {target}"},
                       guarantees={"decide_on": on})
        path.write_text(yaml.safe_dump(charter, sort_keys=False))
        ro = monitor(load_charter(path), path, log).rollout
        assert ro is not None
        (req,) = ro.cumulative.requirements
        assert req.decided_on == on
        decisions[on] = ro.decision
        if on == "bound":
            assert req.certified is not None
            assert req.certified < target < (req.value or 0.0)
            assert any(f"has {req.certified:.4g} on its bound (point {req.value:.4g}; exact "
                       "Clopper–Pearson" in r for r in ro.reasons), ro.reasons
    assert decisions == {"point": PROMOTE, "bound": HOLD}
