"""The shadow gate of ``mlscope monitor``: a candidate scored on the same traffic as the
model in production, decided PROMOTE / HOLD / ROLL BACK with the charter's ``gates:``.

The streams are seeded, with known truth: each model sees the true logit plus its own
noise (:func:`tests.monitor_data.shadow_population`), so a smaller noise is a truly better
model and equal noises two equally good ones.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mlscope import evaluate
from mlscope.charter import load_charter
from mlscope.cli import main
from mlscope.metrics.registry import get_metric
from mlscope.monitor import MonitorResult, monitor
from mlscope.monitor.performance import EstimatedMetric
from mlscope.monitor.rollout import fit_joint, paired_figures
from mlscope.monitor.rollout_gate import (
    HOLD,
    PROMOTE,
    ROLL_BACK,
    RolloutWindow,
    decide,
    gates_of,
    realised_check,
)
from tests.monitor_data import shadow_population, shadow_project, stamp

COLUMNS = {"model": "p_model", "new": "p_new"}
AUC_GATE = {"roc_auc": {"improve": 0.0, "slices": True}, "accuracy": {"regress": 0.02}}


def _run(path: Path, windows: list[pd.DataFrame], labels: bool = True) -> MonitorResult:
    return monitor(load_charter(path), path, stamp(windows, labels=labels))


def _stream(seed: int, cand_noise: float, n_ref: int = 2000, windows: int = 3,
            rows: int = 400) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    rng = np.random.default_rng(seed)
    ref = shadow_population(n_ref, rng, candidate_noise=cand_noise)
    return ref, [shadow_population(rows, rng, candidate_noise=cand_noise)
                 for _ in range(windows)]


def test_a_better_candidate_is_promoted_and_a_worse_one_rolled_back(tmp_path: Path) -> None:
    ref, wins = _stream(40, cand_noise=0.4)
    res = _run(shadow_project(tmp_path, ref, AUC_GATE), wins)
    ro = res.rollout
    assert ro is not None
    assert ro.decision == PROMOTE, ro.reasons
    assert ro.cumulative.labelled == 1200
    (auc,) = [g for g in ro.cumulative.gates if g.metric == "roc_auc" and g.slice == "overall"]
    assert auc.passed
    assert auc.lower is not None
    assert auc.lower > 0
    assert len(ro.windows) == 3
    assert all(w.labelled == 400 for w in ro.windows)
    assert res.exit_code == 0 or res.alerting  # the gate itself never holds a promotion
    ref, wins = _stream(41, cand_noise=3.0)
    res = _run(shadow_project(tmp_path, ref, AUC_GATE), wins)
    ro = res.rollout
    assert ro is not None
    assert ro.decision == ROLL_BACK, ro.reasons
    (auc,) = [g for g in ro.cumulative.gates if g.metric == "roc_auc" and g.slice == "overall"]
    assert not auc.passed
    assert auc.upper is not None
    assert auc.upper < 0
    assert "is worse than model" in ro.reasons[0]
    assert res.exit_code == 1


def test_the_shadow_gate_equals_mlscope_check_on_the_same_rows(tmp_path: Path) -> None:
    ref, wins = _stream(42, cand_noise=0.8, windows=2, rows=500)
    (tmp_path / "m").mkdir()
    res = _run(shadow_project(tmp_path / "m", ref, AUC_GATE), wins)
    assert res.rollout is not None
    # The same labelled rows as one split of a project of their own, checked by the
    # ordinary evaluation with the production model blessed.
    rows = pd.concat(wins, ignore_index=True)
    rows["split"] = "shadow"
    rows["row_id"] = np.arange(len(rows))
    (tmp_path / "c").mkdir()
    rows.to_parquet(tmp_path / "c" / "eval.parquet", index=False)
    ch = load_charter(shadow_project(tmp_path / "c", ref, AUC_GATE))
    ch = ch.model_copy(update={"monitor": None, "splits": ch.splits.model_copy(
        update={"selection": "shadow", "report": None})})
    rows.to_parquet(tmp_path / "c" / "eval.parquet", index=False)
    check = evaluate(ch, base_dir=tmp_path / "c", candidate="new")
    assert check.check is not None
    theirs = {(g.metric, g.slice): g for g in gates_of(check)}
    ours = {(g.metric, g.slice): g for g in res.rollout.cumulative.gates}
    assert set(ours) == set(theirs)
    assert len(ours) >= 3
    for key, g in ours.items():
        t = theirs[key]
        assert g.passed == t.passed, key
        for a, b in ((g.difference, t.difference), (g.lower, t.lower), (g.upper, t.upper)):
            assert a == pytest.approx(b, abs=1e-12), key
    assert res.rollout.cumulative.passed == check.check.passed


def _decision(rng: np.random.Generator, charter: object, cand_noise: float,
              n: int = 600) -> str:
    w = shadow_population(n, rng, candidate_noise=cand_noise)
    rows = pd.DataFrame({"__label": w["label"].astype(float), "p_model": w["p_model"],
                         "p_new": w["p_new"], "region": w["region"]})
    res, note = realised_check(charter, rows, "model", "new", COLUMNS,  # type: ignore[arg-type]
                               ["region"], int(rng.integers(1 << 30)))
    assert res is not None, note
    s = w["p_model"].to_numpy(np.float64)
    figs = paired_figures(s, w["p_new"].to_numpy(np.float64), 0.5, 0.5, None, [],
                          rng=rng, resamples=50, level=0.95)
    cum = RolloutWindow(-1, figs, len(rows), bool(res.check.passed), gates_of(res),
                        list(res.check.failures))
    return decide(cum, charter, "model", "new", False)[0]  # type: ignore[arg-type]


def _gate_charter(tmp_path: Path, gates: dict[str, object]) -> object:
    rng = np.random.default_rng(0)
    ch = load_charter(shadow_project(tmp_path, shadow_population(300, rng), gates))
    return ch.model_copy(update={"intervals": ch.intervals.model_copy(
        update={"resamples": 100})})


def test_false_promotion_stays_at_the_nominal_rate(tmp_path: Path) -> None:
    # Two equally good models (true ROC AUC difference 0) under `improve: 0`: a promotion
    # is a false one. The 95% two-sided interval's lower bound clears 0 with chance 2.5%.
    ch = _gate_charter(tmp_path, {"roc_auc": {"improve": 0.0}})
    rng = np.random.default_rng(7)
    decisions = [_decision(rng, ch, cand_noise=1.0) for _ in range(120)]
    promoted = decisions.count(PROMOTE)
    # Binomial(120, 0.025): mean 3; P(X >= 9) < 0.5%. A roll-back (the candidate called
    # worse) has the same nominal chance.
    assert promoted <= 8, promoted
    assert decisions.count(ROLL_BACK) <= 8, decisions.count(ROLL_BACK)
    # The same gate has power: a truly better candidate is promoted most of the time, a
    # truly worse one rolled back (never promoted).
    better = [_decision(rng, ch, cand_noise=0.4) for _ in range(20)]
    assert better.count(PROMOTE) >= 17, better
    worse = [_decision(rng, ch, cand_noise=3.0) for _ in range(20)]
    assert PROMOTE not in worse, worse
    assert worse.count(ROLL_BACK) >= 17, worse


def test_agreement_and_positive_rate_intervals_cover_the_truth() -> None:
    rng = np.random.default_rng(11)
    big = shadow_population(400_000, rng, candidate_noise=0.6)
    dp, dc = big["p_model"] >= 0.5, big["p_new"] >= 0.5
    true_agree = float((dp == dc).mean())
    true_diff = float(dc.mean() - dp.mean())
    agree_in = diff_in = 0
    reps = 300
    for _ in range(reps):
        w = shadow_population(300, rng, candidate_noise=0.6)
        f = paired_figures(w["p_model"].to_numpy(np.float64), w["p_new"].to_numpy(np.float64),
                           0.5, 0.5, None, [], rng=rng, resamples=50, level=0.95)
        a, d = f.agreement, f.positive_rate_difference
        assert a.low is not None
        assert a.high is not None
        assert d.low is not None
        assert d.high is not None
        agree_in += a.low <= true_agree <= a.high
        diff_in += d.low <= true_diff <= d.high
    # Nominal 95% (Clopper–Pearson is conservative); 300 draws: ± about 2.5 points.
    assert 0.92 <= agree_in / reps <= 0.995, agree_in
    assert 0.92 <= diff_in / reps <= 0.985, diff_in


def test_paired_cbpe_difference_covers_the_realised_difference() -> None:
    rng = np.random.default_rng(12)
    ref = shadow_population(3000, rng, candidate_noise=0.6)
    joint = fit_joint(ref["label"].to_numpy(np.float64), ref["p_model"].to_numpy(np.float64),
                      ref["p_new"].to_numpy(np.float64), "probability", rng=rng,
                      resamples=200)
    auc = EstimatedMetric("roc_auc", get_metric("roc_auc").fn)
    inside = 0
    reps = 60
    for _ in range(reps):
        w = shadow_population(500, rng, candidate_noise=0.6)
        sp, sc = w["p_model"].to_numpy(np.float64), w["p_new"].to_numpy(np.float64)
        f = paired_figures(sp, sc, 0.5, 0.5, joint, [(auc, auc)], rng=rng, resamples=200,
                           level=0.95)
        e = f.estimated["roc_auc"]
        from sklearn.metrics import roc_auc_score

        real = roc_auc_score(w["label"], sc) - roc_auc_score(w["label"], sp)
        assert e.low is not None
        assert e.high is not None
        inside += e.low <= real <= e.high
    assert inside / reps >= 0.88, inside


def test_without_labels_the_gate_holds_or_rolls_back_on_the_estimate(tmp_path: Path) -> None:
    ref, wins = _stream(43, cand_noise=0.4, windows=2)
    res = _run(shadow_project(tmp_path, ref, {"roc_auc": {"regress": 0.01}}), wins,
               labels=False)
    ro = res.rollout
    assert ro is not None
    assert ro.decision == HOLD
    assert res.exit_code == 1
    assert ro.cumulative.labelled == 0
    assert ro.cumulative.passed is None
    assert any("promotion needs the realised gate" in r for r in ro.reasons)
    e = ro.cumulative.figures.estimated["roc_auc"]
    assert e.low is not None
    assert e.low > 0
    ref, wins = _stream(44, cand_noise=3.0, windows=2)
    res = _run(shadow_project(tmp_path, ref, {"roc_auc": {"regress": 0.01}}), wins,
               labels=False)
    assert res.rollout is not None
    assert res.rollout.decision == ROLL_BACK, res.rollout.reasons
    assert "label-free estimate" in res.rollout.reasons[0]


# --- the command line --------------------------------------------------------------------


def _cli(tmp_path: Path, cand_noise: float = 0.4, gates: dict[str, object] | None = None,
         **monitor_over: object) -> tuple[Path, Path]:
    ref, wins = _stream(45, cand_noise=cand_noise, windows=3, rows=300)
    gates = {"roc_auc": {"improve": 0.0}} if gates is None else gates
    path = shadow_project(tmp_path, ref, gates, **monitor_over)
    log = tmp_path / "log.parquet"
    stamp(wins).to_parquet(log, index=False)
    return path, log


def test_cli_prints_the_decision_and_writes_json_and_html(tmp_path: Path) -> None:
    path, log = _cli(tmp_path)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["monitor", str(path), "--log", str(log), "--out", str(out)],
                           terminal_width=80)
    assert "Shadow gate: new vs model" in r.output, r.output
    assert "PROMOTE" in r.output, r.output
    # Each window's gate says passed, not shown yet, worse or too few labels, with a legend;
    # figures print a true minus sign.
    assert "✓ passes, · not shown yet, ✗ worse, – too" in r.output
    gate = r.output[r.output.index("Shadow gate"):]
    assert re.search(r"[\[ ]-\d", gate) is None, gate
    lines = [line for line in r.output.splitlines() if not line.startswith("wrote ")]
    assert max(len(line) for line in lines) <= 80, r.output
    data = json.loads((out / "monitor.json").read_text())
    assert data["rollout"]["decision"] == "PROMOTE"
    assert data["rollout"]["cumulative"]["figures"]["agreement"]["value"] > 0.5
    page = (out / "monitor.html").read_text()
    assert "Shadow gate: new vs model" in page
    assert "PROMOTE" in page
    assert "<script" not in page
    assert not re.search(r"(src|href)=", page)
    assert r.exit_code == data["summary"]["exit_code"]


@pytest.mark.parametrize(("over", "expect"), [
    pytest.param({"candidate": "newer"}, "`monitor.candidate: newer` is not a model of "
                 "data.models", id="unknown-model"),
    pytest.param({"candidate": {"model": "new", "score": "p_v2"}},
                 "column `p_v2` (monitor.candidate.score) is not in the log", id="no-column"),
    pytest.param({"candidate": "model"}, "is the model in production itself",
                 id="candidate-is-production"),
    pytest.param({"candidate": {"model": "new", "mode": "ab_test"}}, "candidate.mode",
                 id="bad-mode"),
    pytest.param({"gates": {}}, "the charter has none; add the gate", id="no-gates"),
])
def test_cli_bad_candidate_exits_2_with_the_fix(tmp_path: Path, over: dict[str, object],
                                                expect: str) -> None:
    path, log = _cli(tmp_path, **over)
    r = CliRunner().invoke(main, ["monitor", str(path), "--log", str(log)])
    assert r.exit_code == 2, r.output
    assert expect in " ".join(r.output.split())


@pytest.mark.slow
def test_false_promotion_and_rollback_over_1000_equal_pairs(tmp_path: Path) -> None:
    # Measured: 20 promotions and 20 roll-backs of 1,000 (2.0% each, nominal 2.5%).
    ch = _gate_charter(tmp_path, {"roc_auc": {"improve": 0.0}})
    rng = np.random.default_rng(70)
    decisions = [_decision(rng, ch, cand_noise=1.0) for _ in range(1000)]
    # Binomial(1000, 0.025): mean 25, P(X >= 40) < 0.3%.
    assert decisions.count(PROMOTE) < 40
    assert decisions.count(ROLL_BACK) < 40


def test_label_free_roll_back_rule_shared_by_shadow_and_canary() -> None:
    """Before labels, a candidate is rolled back only when an absolute gate's label-free
    difference is worse than the allowed margin over its whole interval, in the metric's
    own direction, and the estimate is trustworthy."""
    from types import SimpleNamespace

    from mlscope.monitor.rollout_gate import label_free_worse

    def est(v: float, lo: float, hi: float) -> SimpleNamespace:
        return SimpleNamespace(value=v, low=lo, high=hi)

    worse = est(-0.05, -0.08, -0.03)
    why = label_free_worse("roc_auc", worse, 0.01, False, True, "new", "prod", False)
    assert why is not None
    assert "−0.05 [−0.08, −0.03], worse than the allowed −0.01" in why
    # The interval reaches back within the margin: not yet.
    assert label_free_worse("roc_auc", est(-0.05, -0.08, -0.005), 0.01, False, True,
                            "new", "prod", False) is None
    # Lower is better (a loss): the same numbers are an improvement.
    assert label_free_worse("log_loss", worse, 0.01, False, False, "new", "prod",
                            False) is None
    assert label_free_worse("log_loss", est(0.05, 0.03, 0.08), 0.01, False, False,
                            "new", "prod", False) is not None
    # Relative gates, untrusted estimates and missing estimates never roll back here.
    assert label_free_worse("roc_auc", worse, 0.01, True, True, "new", "prod", False) is None
    assert label_free_worse("roc_auc", worse, 0.01, False, True, "new", "prod", True) is None
    assert label_free_worse("roc_auc", None, 0.01, False, True, "new", "prod", False) is None
