"""Canary and blue-green rollout gates (unpaired: each row served by one model), and the
alert digest of ``mlscope monitor``.

The streams are seeded with known truth (:func:`tests.monitor_data.shadow_population`):
each model sees the true logit plus its own noise, so a smaller noise is a truly better
model. A canary log keeps, per row, only the score of the model its arm names.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mlscope.charter import load_charter
from mlscope.cli import main
from mlscope.metrics.registry import get_metric
from mlscope.monitor import MonitorResult, monitor
from mlscope.monitor.digest import digest_json, digest_markdown, escape_md
from mlscope.monitor.performance import EstimatedMetric
from mlscope.monitor.rollout_gate import HOLD, PROMOTE, ROLL_BACK
from mlscope.monitor.unpaired import arm_difference, newcombe, rows_needed
from tests.monitor_data import shadow_population, shadow_project, stamp

GATE = {"roc_auc": {"improve": 0.0}}
CANARY = {"model": "new", "mode": "canary", "arm": "served_by"}


def _canary(windows: list[pd.DataFrame], rng: np.random.Generator, share: float = 0.5,
            by_age: bool = False) -> list[pd.DataFrame]:
    out = []
    for w in windows:
        w = w.copy()
        pick = (w["age"] > 40).to_numpy() if by_age else rng.random(len(w)) < share
        w["served_by"] = np.where(pick, "new", "model")
        w["p_model"] = np.where(pick, w["p_new"], w["p_model"])
        out.append(w.drop(columns="p_new"))
    return out


def _run(tmp: Path, cand_noise: float, *, rows: int = 2000, windows: int = 2,
         by_age: bool = False, seed: int = 5, gates: dict[str, object] | None = None,
         candidate: dict[str, object] | None = None, log: pd.DataFrame | None = None,
         requirements: dict[str, str] | None = None) -> MonitorResult:
    rng = np.random.default_rng(seed)
    ref = shadow_population(2000, rng, candidate_noise=cand_noise)
    path = shadow_project(tmp, ref, gates or GATE, candidate=candidate or CANARY)
    if requirements:
        text = path.read_text() + "requirements:\n" + "".join(
            f"  {k}: '{v}'\n" for k, v in requirements.items())
        path.write_text(text)
    if log is None:
        wins = [shadow_population(rows, rng, candidate_noise=cand_noise)
                for _ in range(windows)]
        log = stamp(_canary(wins, rng, by_age=by_age))
    return monitor(load_charter(path), path, log)


def test_a_truly_better_canary_is_promoted(tmp_path: Path) -> None:
    res = _run(tmp_path, cand_noise=0.3, seed=6)
    ro = res.rollout
    assert ro is not None
    assert ro.mode == "canary"
    assert ro.decision == PROMOTE, ro.reasons
    f = ro.cumulative.figures
    assert f.rows_production + f.rows_candidate == 4000
    assert 0.45 < f.candidate_share < 0.55
    g = ro.cumulative.gates[0]
    assert g.metric == "roc_auc"
    assert g.lower > 0  # the whole unpaired interval above 0
    assert ro.unpaired["traffic_comparable"] is True
    assert not res.alerting
    assert res.exit_code == 0


def test_a_truly_worse_canary_is_rolled_back(tmp_path: Path) -> None:
    res = _run(tmp_path, cand_noise=2.5)
    ro = res.rollout
    assert ro is not None
    assert ro.decision == ROLL_BACK, ro.reasons
    assert ro.cumulative.gates[0].upper < 0
    assert res.exit_code == 1


def test_a_requirement_the_canary_misses_holds(tmp_path: Path) -> None:
    # A gate the worse candidate passes (it may lose 0.5 of ROC AUC), and a requirement it
    # misses on its own arm's labelled rows: HOLD, with the requirement as the reason.
    res = _run(tmp_path, cand_noise=2.5, gates={"roc_auc": {"regress": 0.5}},
               requirements={"roc_auc": ">= 0.75"})
    ro = res.rollout
    assert ro is not None
    assert all(g.passed for g in ro.cumulative.gates)
    assert ro.cumulative.passed is False
    assert ro.decision == HOLD
    assert any("requirement `roc_auc >= 0.75` is not met by new" in r for r in ro.reasons)


def test_too_little_canary_traffic_holds_and_says_how_many_rows(tmp_path: Path) -> None:
    # Equal models, a few hundred rows: nothing to decide, and the power calculation says
    # how many labelled rows each arm needs to clear `improve: 0` by min_effect.
    res = _run(tmp_path, cand_noise=1.0, rows=300, windows=1)
    ro = res.rollout
    assert ro is not None
    assert ro.decision == HOLD
    need = ro.unpaired["rows_needed_per_arm"]
    assert need is not None
    assert need > 1000
    assert any(f"need ~{need:,} labelled rows per arm" in r for r in ro.reasons), ro.reasons
    assert res.exit_code == 1
    assert f"need ~{need:,} per arm to decide" in _terminal(ro)


def _terminal(ro: object) -> str:
    import io

    from rich.console import Console

    from mlscope.cli_monitor import render_rollout

    buf = io.StringIO()
    render_rollout(ro, Console(file=buf, width=80, highlight=False))
    return " ".join(buf.getvalue().split())


def test_a_decided_canary_does_not_print_the_rows_it_would_need(tmp_path: Path) -> None:
    # The power calculation explains a HOLD; under PROMOTE ("needs ~12,000 rows" on 2,000)
    # it would contradict the decision, in the terminal and in monitor.html.
    from mlscope.report.monitor_page import write_monitor_html

    res = _run(tmp_path, cand_noise=0.3, seed=6)
    ro = res.rollout
    assert ro is not None
    assert ro.decision == PROMOTE
    assert ro.unpaired["rows_needed_per_arm"]  # computed and kept in monitor.json
    assert "need ~" not in _terminal(ro)
    html = write_monitor_html(res, tmp_path).read_text()
    assert f"~{ro.unpaired['rows_needed_per_arm']:,}" not in html


def test_arms_not_randomised_warn(tmp_path: Path) -> None:
    # The candidate serves exactly the older customers: the arms' traffic differs.
    res = _run(tmp_path, cand_noise=1.0, rows=800, by_age=True)
    ro = res.rollout
    assert ro is not None
    assert ro.unpaired["traffic_comparable"] is False
    shifted = [e["feature"] for e in ro.unpaired["traffic"] if e["shifted"]]
    assert "age" in shifted
    assert any("does not look random" in w for w in res.warnings)


def test_blue_green_compares_before_and_after_the_switch(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    wins = [shadow_population(1500, rng, candidate_noise=0.3) for _ in range(4)]
    # Days 0–1 served by production, days 2–3 by the candidate.
    for i, w in enumerate(wins):
        if i >= 2:
            w["p_model"] = w["p_new"]
    log = stamp([w.drop(columns="p_new") for w in wins])
    bg = {"model": "new", "mode": "blue-green", "switch": "2026-01-03T00:00:00Z"}
    res = _run(tmp_path, cand_noise=0.3, candidate=bg, log=log)
    ro = res.rollout
    assert ro is not None
    assert ro.mode == "blue_green"
    f = ro.cumulative.figures
    assert (f.rows_production, f.rows_candidate) == (3000, 3000)
    assert ro.decision == PROMOTE, ro.reasons
    assert ro.unpaired["switch"].startswith("2026-01-03")
    assert any("time is confounded with the model" in r for r in ro.reasons)
    # The window before the switch has no candidate rows: no realised gate there.
    assert ro.windows[0].passed is None


def test_blue_green_with_drift_at_the_switch_warns(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    wins = [shadow_population(800, rng) for _ in range(2)]
    wins[1]["age"] = wins[1]["age"] + 8  # the population moved when the model did
    wins[1]["p_model"] = wins[1]["p_new"]
    log = stamp([w.drop(columns="p_new") for w in wins])
    bg = {"model": "new", "mode": "blue_green", "switch": "2026-01-02"}
    res = _run(tmp_path, cand_noise=1.0, candidate=bg, log=log)
    assert any("the traffic changed at the switch" in w for w in res.warnings)


def _metric(name: str, **params: object) -> EstimatedMetric:
    from functools import partial

    return EstimatedMetric(name, partial(get_metric(name).fn, **params))


def test_unpaired_intervals_hold_their_level_under_equal_models() -> None:
    """Seeded simulation: two arms of 400 labelled rows from the same model. The 95%
    intervals of the AUC (DeLong + MOVER) and accuracy (Newcombe) differences must hold
    the true difference 0 near nominally, and say "worse" (upper < 0) at most ~2.5%."""
    rng = np.random.default_rng(11)
    auc, acc = _metric("roc_auc"), _metric("accuracy", threshold=0.5)
    cover = {"roc_auc": 0, "accuracy": 0}
    worse = {"roc_auc": 0, "accuracy": 0}
    reps = 150
    for _ in range(reps):
        a, b = shadow_population(400, rng), shadow_population(400, rng)
        for em in (auc, acc):
            d = arm_difference(em.id, em, em, a["label"].to_numpy(np.float64),
                               a["p_model"].to_numpy(np.float64),
                               b["label"].to_numpy(np.float64),
                               b["p_model"].to_numpy(np.float64), "probability", rng=rng,
                               resamples=50, level=0.95)
            assert d.low is not None
            assert d.high is not None
            cover[em.id] += int(d.low <= 0 <= d.high)
            worse[em.id] += int(d.high < 0)
    for k in cover:
        assert cover[k] / reps >= 0.90, (k, cover[k])
        assert worse[k] / reps <= 0.06, (k, worse[k])


def test_newcombe_and_rows_needed_by_hand() -> None:
    iv = newcombe(56, 70, 48, 80, 0.95)  # Newcombe (1998), example (a): [0.0524, 0.3339]
    assert iv.value == pytest.approx(0.2)
    assert iv.low == pytest.approx(0.0524, abs=5e-4)
    assert iv.high == pytest.approx(0.3339, abs=5e-4)
    # Two shares of 0.8 (σ² = 0.16 each), 5 points to detect: (1.96 + 0.8416)² · 0.32 /
    # 0.0025 = 1,004.6 → 1,005 rows per arm.
    assert rows_needed(0.16, 0.16, 0.05, 0.95) == 1005


def test_digest_markdown_and_json(tmp_path: Path) -> None:
    res = _run(tmp_path, cand_noise=2.5)
    md = digest_markdown(res)
    assert md.count("\n") <= 40
    assert "**Canary gate: ROLL BACK**" in md
    assert "http" not in md
    d = digest_json(res)
    assert d["status"] in ("alert", "roll back")
    assert d["exit_code"] == 1
    assert d["rollout"]["decision"] == ROLL_BACK
    assert {p["model"] for p in d["performance"]} == {"model", "new"}
    assert escape_md("a*b_[c]|d") == r"a\*b\_\[c\]\|d"


def test_digest_escapes_user_names(tmp_path: Path) -> None:
    res = _run(tmp_path, cand_noise=1.0, rows=300, windows=1)
    res.project = "churn *beta* [v2]"
    md = digest_markdown(res)
    assert r"churn \*beta\* \[v2\]" in md
    assert "*beta*" not in md.replace(r"\*beta\*", "")


def test_cli_writes_the_digest(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    ref = shadow_population(1000, rng)
    path = shadow_project(tmp_path, ref, GATE, candidate=CANARY)
    log = tmp_path / "log.parquet"
    stamp(_canary([shadow_population(400, rng)], rng)).to_parquet(log)
    out, dig = tmp_path / "out", tmp_path / "chat" / "digest.md"
    r = CliRunner().invoke(main, ["monitor", str(path), "--log", str(log), "--out", str(out),
                                  "--digest", str(dig)])
    assert r.exit_code == 1, r.output
    assert "Canary gate" in r.output
    assert (out / "digest.md").read_text() == dig.read_text()
    js = json.loads(dig.with_suffix(".json").read_text())
    assert js["schema"] == "mlscope.monitor-digest/1"
    assert js["rollout"]["mode"] == "canary"
    assert "Canary gate" in (out / "monitor.html").read_text()


@pytest.mark.parametrize(("change", "needle"), [
    ("drop_arm", "served_by"),
    ("bad_arm", "`gbdt`, which is not one of the two models"),
    ("one_arm", "no row of the log was served by `new`"),
    ("switch_after", "after the log's last row"),
    ("arm_in_shadow", "`arm` is for `mode: canary`"),
])
def test_bad_canary_input_exits_2_with_the_fix(tmp_path: Path, change: str,
                                               needle: str) -> None:
    rng = np.random.default_rng(4)
    ref = shadow_population(600, rng)
    cand: dict[str, object] = dict(CANARY)
    if change == "switch_after":
        cand = {"model": "new", "mode": "blue_green", "switch": "2027-01-01"}
    if change == "arm_in_shadow":
        cand = {"model": "new", "arm": "served_by"}
    path = shadow_project(tmp_path, ref, GATE, candidate=cand)
    log = stamp(_canary([shadow_population(200, rng)], rng))
    if change == "drop_arm":
        log = log.drop(columns="served_by")
    if change == "bad_arm":
        log.loc[3, "served_by"] = "gbdt"
    if change == "one_arm":
        log["served_by"] = "model"
    if change == "arm_in_shadow":
        log["p_new"] = log["p_model"]
    file = tmp_path / "log.parquet"
    log.to_parquet(file)
    r = CliRunner().invoke(main, ["monitor", str(path), "--log", str(file)])
    assert r.exit_code == 2, r.output
    assert needle in " ".join(r.output.split()), r.output


def _gate_decision(ch: object, rng: np.random.Generator, cand_noise: float,
                   n: int = 600) -> str:
    """The canary decision on one labelled sample of ``n`` rows split at random between
    the arms (the realised unpaired gate, then the decision rules)."""
    from mlscope.monitor.canary_gate import decide_unpaired, realised_unpaired
    from mlscope.monitor.checks import ARM, LABEL, score_col
    from mlscope.monitor.rollout_gate import RolloutWindow
    from mlscope.monitor.unpaired import unpaired_figures

    w = shadow_population(n, rng, candidate_noise=cand_noise)
    arm = np.where(rng.random(n) < 0.5, "new", "model")
    lab = pd.DataFrame({ARM: arm, LABEL: w["label"].astype(float),
                        score_col("model"): np.where(arm == "model", w["p_model"], np.nan),
                        score_col("new"): np.where(arm == "new", w["p_new"], np.nan),
                        "region": w["region"]})
    auc = _metric("roc_auc")
    gates, failures, note, passed, requirements = realised_unpaired(
        ch, lab, "model", "new", {"roc_auc": (auc, auc)}, [],  # type: ignore[arg-type]
        rng=rng, resamples=100, level=0.95)
    assert passed is not None, note
    figs = unpaired_figures(lab[score_col("model")].to_numpy(np.float64),
                            lab[score_col("new")].to_numpy(np.float64), 0.5, 0.5, None, [],
                            rng=rng, resamples=50, level=0.95)
    cum = RolloutWindow(-1, figs, n, passed, gates, failures,
                        labelled_production=int((arm == "model").sum()),
                        labelled_candidate=int((arm == "new").sum()),
                        requirements=requirements)
    return decide_unpaired(cum, ch, "model", "new", False, None, "",  # type: ignore[arg-type]
                           "canary")[0]


def test_canary_gate_false_decisions_stay_at_the_nominal_rate(tmp_path: Path) -> None:
    # Equal models under `improve: 0`: a promotion or a roll-back is a false one; each has
    # nominal chance 2.5% (one side of a 95% interval). Binomial(120, 0.025): mean 3,
    # P(X >= 9) < 0.5%.
    rng = np.random.default_rng(17)
    ch = load_charter(shadow_project(tmp_path, shadow_population(300, rng), GATE,
                                     candidate=CANARY))
    decisions = [_gate_decision(ch, rng, cand_noise=1.0) for _ in range(120)]
    assert decisions.count(PROMOTE) <= 8, decisions.count(PROMOTE)
    assert decisions.count(ROLL_BACK) <= 8, decisions.count(ROLL_BACK)
    # Power: a truly better candidate (noise 0.3) promoted mostly; a worse one never.
    better = [_gate_decision(ch, rng, cand_noise=0.3, n=4000) for _ in range(15)]
    assert better.count(PROMOTE) >= 11, better
    worse = [_gate_decision(ch, rng, cand_noise=3.0, n=1500) for _ in range(15)]
    assert PROMOTE not in worse, worse
    assert worse.count(ROLL_BACK) >= 11, worse


@pytest.mark.slow
def test_canary_gate_on_1000_equal_samples(tmp_path: Path) -> None:
    """The figures of docs/monitoring.md: 1,000 samples of 600 labelled rows, two equally
    good models under `improve: 0`; 24 promoted and 20 rolled back (nominal 25 each). The
    bound: Binomial(1000, 0.025) exceeds 40 with chance below 0.2%."""
    rng = np.random.default_rng(2027)
    ch = load_charter(shadow_project(tmp_path, shadow_population(300, rng), GATE,
                                     candidate=CANARY))
    decisions = [_gate_decision(ch, rng, cand_noise=1.0) for _ in range(1000)]
    assert decisions.count(PROMOTE) <= 40, decisions.count(PROMOTE)
    assert decisions.count(ROLL_BACK) <= 40, decisions.count(ROLL_BACK)
