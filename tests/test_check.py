"""Decisions with confidence: paired tests in the result, decision confidence, gates against
the blessed model, and `mlscope check`.

Data are generated (seeded) so the truth is known: a production model, a better candidate,
a candidate that is broken on one region only, and a twin of production.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from sklearn.metrics import accuracy_score, roc_auc_score

import mlscope
from mlscope.charter import validate_charter
from mlscope.cli import main
from mlscope.compare.check import gate_checks
from mlscope.compare.intervals import auc_difference_interval
from mlscope.compare.paired import delong_test, mcnemar_test
from mlscope.result import OVERALL, Difference, EvaluationResult, MetricInfo, MetricValue

REGIONS = ["north", "south", "east", "west"]


def frame(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    region = rng.choice(REGIONS, size=n)
    signal = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(signal * 1.5 - 1.0)))).astype(int)

    def model(noise: float) -> np.ndarray:
        return 1 / (1 + np.exp(-(signal * 1.5 - 1.0 + rng.normal(scale=noise, size=n))))

    prod = model(1.5)
    better = model(0.6)
    broken = better.copy()
    east = region == "east"
    broken[east] = rng.permutation(broken[east])  # a pipeline bug scrambles one region
    return pd.DataFrame({
        "id": np.arange(n), "y": y, "region": region,
        "split": rng.choice(["validation", "test"], size=n),
        "prod": prod, "better": better, "broken": broken, "twin": model(1.5),
    })


def charter(**over: Any) -> dict[str, Any]:
    c: dict[str, Any] = {
        "project": "gates", "task": "binary", "seed": 1,
        "data": {"table": "eval.parquet", "id": "id", "label": "y", "split": "split",
                 "models": {m: m for m in ("prod", "better", "broken", "twin")}},
        "splits": {"selection": "validation", "report": "test", "train": None},
        "slices": {"columns": ["region"], "min_size": 30},
        "metrics": ["roc_auc", {"metric": "accuracy", "threshold": 0.5}, "brier"],
        "selection": {"rule": "satisficing", "optimize": "roc_auc"},
        "blessed": "prod",
        "gates": {"roc_auc": {"regress": 0.01, "slices": True},
                  "brier": {"regress": 0.005}},
        "intervals": {"resamples": 1000},
    }
    c.update(over)
    return c


def write(tmp: Path, c: dict[str, Any], df: pd.DataFrame | None = None) -> Path:
    (df if df is not None else frame()).to_parquet(tmp / "eval.parquet", index=False)
    p = tmp / "mlscope.yaml"
    p.write_text(yaml.safe_dump(c, sort_keys=False), encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    tmp = tmp_path_factory.mktemp("chk")
    df = frame()
    return write(tmp, charter(), df), df


def test_differences_use_delong_and_mcnemar(checked: tuple[Path, pd.DataFrame]) -> None:
    path, df = checked
    res = mlscope.evaluate(path)
    test = df[df.split == "test"]
    d = next(d for d in res.differences if d.split == "test" and d.slice == OVERALL
             and d.metric == "roc_auc" and d.model == "better" and d.reference == "prod")
    ref = delong_test(test.y.to_numpy(), test.better.to_numpy(), test["prod"].to_numpy())
    assert d.test == "delong"
    assert d.value == pytest.approx(roc_auc_score(test.y, test.better)
                                    - roc_auc_score(test.y, test["prod"]), abs=1e-12)
    assert d.p_value == pytest.approx(ref.p_value)
    assert d.se == pytest.approx(ref.se)
    # The interval: MOVER on logit-DeLong intervals (kept within [−1, 1]); at 2000 rows it
    # agrees with DeLong's Wald interval to a few percent of its width.
    mover = auc_difference_interval(test.y.to_numpy(), test.better.to_numpy(),
                                    test["prod"].to_numpy())
    assert (d.lower, d.upper) == pytest.approx(mover)
    width = ref.upper - ref.lower
    assert (d.lower, d.upper) == pytest.approx((ref.lower, ref.upper), abs=0.05 * width)
    a = next(d for d in res.differences if d.split == "test" and d.slice == "region=east"
             and d.metric == "accuracy" and d.model == "broken" and d.reference == "prod")
    east = test[test.region == "east"]
    ref2 = mcnemar_test((east.broken >= 0.5) == (east.y == 1),
                        (east["prod"] >= 0.5) == (east.y == 1))
    assert a.test == "mcnemar"
    assert a.value == pytest.approx(accuracy_score(east.y, east.broken >= 0.5)
                                    - accuracy_score(east.y, east["prod"] >= 0.5))
    assert a.p_value == pytest.approx(ref2.p_value)
    b = next(d for d in res.differences if d.metric == "brier" and d.model == "better"
             and d.reference == "prod" and d.split == "test" and d.slice == OVERALL)
    assert b.test == "bootstrap"
    assert b.p_value is not None
    assert b.p_value < 0.01
    # Differences against the selected model are kept as well.
    assert any(d.reference == res.winner for d in res.differences)


def test_decision_confidence(checked: tuple[Path, pd.DataFrame]) -> None:
    path, _ = checked
    res = mlscope.evaluate(path)
    conf = res.selection.confidence
    assert conf is not None
    assert conf.resamples == 1000
    assert res.winner == "better"
    # "better" dominates; "broken" shares its scores outside one region and can win a few
    # resamples, "prod" and its twin never do.
    assert conf.winner_share > 0.8
    assert conf.chosen["prod"] == 0.0
    assert sum(conf.chosen.values()) + conf.no_decision == pytest.approx(1.0)
    assert conf.flips == pytest.approx(1 - conf.winner_share)
    # A result written before the confidence had `tied` still reads (as no ties).
    data = res.to_dict()
    del data["selection"]["confidence"]["tied"]
    back = EvaluationResult.from_dict(data).selection.confidence
    assert back is not None
    assert back.tied == 0.0
    assert back.no_decision == conf.no_decision


def test_decision_confidence_splits_between_twins(tmp_path: Path) -> None:
    df = frame(seed=3)
    c = charter(selection={"rule": "satisficing", "optimize": "roc_auc",
                           "constraints": {"brier": "<= 0.5"}})
    c["data"]["models"] = {"prod": "prod", "twin": "twin"}
    del c["gates"]
    c["blessed"] = None
    res = mlscope.evaluate(write(tmp_path, c, df), resamples=400)
    conf = res.selection.confidence
    assert conf is not None
    # Two equally good models: each wins a share of the resamples, so the decision is
    # far from certain (against > 0.8 for a clearly better model above).
    assert min(conf.chosen["prod"], conf.chosen["twin"]) > 0.05
    assert conf.winner_share is not None
    assert conf.winner_share < 0.95
    assert conf.flips is not None
    assert conf.flips > 0.05
    assert conf.constraints["prod"]["brier"] == 1.0


def test_check_passes_for_the_better_candidate(checked: tuple[Path, pd.DataFrame],
                                               tmp_path: Path) -> None:
    path, _ = checked
    r = CliRunner().invoke(main, ["check", str(path), "--out", str(tmp_path), "-q"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("PASS: candidate better against the blessed prod")
    md = (tmp_path / "check.md").read_text(encoding="utf-8")
    assert "✅ mlscope check: gates — pass" in md
    saved = EvaluationResult.from_json(tmp_path / "result.json")
    assert saved.check is not None
    assert saved.check.passed
    gates = {(g.metric, g.slice): g for g in saved.check.gates}
    assert gates[("roc_auc", OVERALL)].oriented_lower > -0.01
    assert {k[1] for k in gates if k[0] == "roc_auc"} == {OVERALL, *(f"region={r}"
                                                                    for r in REGIONS)}


def test_check_fails_on_the_broken_slice(checked: tuple[Path, pd.DataFrame],
                                         tmp_path: Path) -> None:
    path, _ = checked
    r = CliRunner().invoke(main, ["check", str(path), "--candidate", "broken", "--out",
                                  str(tmp_path), "-q"])
    assert r.exit_code == 1, r.output
    assert r.output.startswith("FAIL: candidate broken")
    assert "roc_auc on slice region=east regressed beyond 0.01" in r.output
    for other in ("north", "south", "west"):
        assert f"region={other} regressed" not in r.output
    # A difference and its interval with the same decimals and a true minus
    # (not "-0.0213 [-0.001376, +0.04363]").
    east = r.output.split("region=east regressed beyond 0.01: difference ")[1]
    figures = re.match(r"([+−]\d+\.(\d+)) \[([+−]\d+\.(\d+)), ([+−]\d+\.(\d+))\]", east)
    assert figures is not None, east[:80]
    assert len({len(figures.group(i)) for i in (2, 4, 6)}) == 1
    assert figures.group(1).startswith("−")
    md = (tmp_path / "check.md").read_text(encoding="utf-8")
    assert "❌" in md
    assert "region=east" in md


def test_check_superiority_gate_on_the_interval(tmp_path: Path) -> None:
    # The twin is as good as production: "must improve" fails on the interval even though
    # its point estimate may be a hair better.
    c = charter(gates={"roc_auc": {"improve": 0.0}})
    r = CliRunner().invoke(main, ["check", str(write(tmp_path, c)), "--candidate", "twin",
                                  "--out", str(tmp_path / "o"), "-q"])
    assert r.exit_code == 1
    assert "roc_auc must improve by at least 0" in r.output
    # The shortfall has the interval's decimals and the bound a true minus or plus.
    flat = " ".join(r.output.split())
    m = re.search(r"is (\S+) \[(\S+), (\S+)\]; its lower bound misses \+0 by (\S+)", flat)
    assert m is not None, flat
    decimals = {len(x.split(".")[1]) for x in m.groups() if "." in x}
    assert len(decimals) == 1, m.groups()
    assert "-" not in m.group(2)


def test_relative_margin_and_stored_blessed_result(checked: tuple[Path, pd.DataFrame],
                                                   tmp_path: Path) -> None:
    path, df = checked
    first = mlscope.evaluate(path)
    first.to_json(tmp_path / "prod_result.json")
    c = charter(blessed={"result": "prod_result.json", "model": "prod"},
                gates={"roc_auc": {"regress": 0.02, "relative": True}})
    res = mlscope.evaluate(write(tmp_path, c, df), candidate="better")
    assert res.check is not None
    assert res.check.passed
    assert not res.check.paired
    g = res.check.gates[0]
    stored = first.value("roc_auc", "prod", split="test").value
    assert g.blessed_value == pytest.approx(stored)
    assert g.bound == pytest.approx(-0.02 * stored)
    assert "not paired" in res.check.note


def test_slice_gate_false_failures_are_controlled() -> None:
    """Under the null (no slice regressed), BH keeps the chance that any of 40 slices fails
    near the nominal 5%: simulated bootstrap distributions, seeded."""
    rng = np.random.default_rng(7)
    info = {"m": MetricInfo(id="m", name="m", label="m", direction="higher", params={},
                            description="")}
    c = charter(gates={"m": {"regress": 0.0, "slices": True, "fdr": 0.05}})
    from mlscope.charter.schema import Charter

    c["metrics"] = ["roc_auc"]
    ch = Charter.model_validate({**c, "metrics": [{"id": "m", "metric": "roc_auc"}]})
    slices = [OVERALL] + [f"s={i}" for i in range(40)]
    runs, any_fail = 300, 0
    for _ in range(runs):
        est = rng.normal(0.0, 0.02, size=len(slices))  # true difference 0 everywhere
        reps = {s: e + rng.normal(0.0, 0.02, size=1000) for s, e in zip(slices, est,
                                                                       strict=True)}

        def value(model: str, skey: str, mid: str) -> MetricValue:
            return MetricValue(split="t", model=model, slice=skey, metric=mid, value=0.8)

        def difference(skey: str, mid: str, reps: dict[str, Any] = reps) -> Difference:
            r = reps[skey]
            lo, hi = np.quantile(r, [0.025, 0.975])
            return Difference(split="t", slice=skey, metric=mid, model="a", reference="b",
                              value=float(np.mean(r)), lower=float(lo), upper=float(hi))

        gates = gate_checks(ch, candidate="a", blessed="b", split="t", slices=slices,
                            value=value, difference=difference,
                            replicates=lambda s, m, reps=reps: reps[s], infos=info)
        any_fail += any(not g.passed for g in gates if g.slice != OVERALL)
    assert any_fail / runs <= 0.08


@pytest.mark.parametrize(("change", "expected"), [
    pytest.param({"blessed": "production"}, "the blessed model `production` is not a model",
                 id="blessed-not-in-data"),
    pytest.param({"gates": {"roc_auc": {"improve": -0.01}}}, "write `regress: 0.01`",
                 id="margin-wrong-sign"),
    pytest.param({"gates": {"roc_auc": {"regress": -0.02}}}, "write `improve: 0.02`",
                 id="regress-negative"),
    pytest.param({"gates": {"f1": {"regress": 0.01}}}, "a gate on metric `f1`, which is not "
                 "computed", id="gate-undefined-metric"),
    pytest.param({"gates": {"roc_auc": {"regress": 0.01, "improve": 0.0}}},
                 "give exactly one of", id="both-margins"),
    pytest.param({"blessed": None}, "gates compare a candidate with the blessed model",
                 id="gates-without-blessed"),
])
def test_bad_gates_exit_2(tmp_path: Path, change: dict[str, Any], expected: str) -> None:
    c = charter(**change)
    p = write(tmp_path, c)
    report = validate_charter(p)
    assert any(expected in str(prob) for prob in report.problems), report.problems
    r = CliRunner().invoke(main, ["check", str(p), "--out", str(tmp_path / "o"), "-q"])
    assert r.exit_code == 2
    assert "Traceback" not in r.output


def test_check_bad_candidate_and_stored_result(tmp_path: Path) -> None:
    p = write(tmp_path, charter())
    r = CliRunner().invoke(main, ["check", str(p), "--candidate", "bettr", "-q"])
    assert r.exit_code == 2
    assert "did you mean `better`" in r.output
    r = CliRunner().invoke(main, ["check", str(p), "--candidate", "prod", "-q"])
    assert r.exit_code == 2
    assert "is the blessed model itself" in r.output
    c = charter(blessed={"result": "missing.json", "model": "prod"})
    r = CliRunner().invoke(main, ["check", str(write(tmp_path, c)), "-q"])
    assert r.exit_code == 2
    assert "missing.json does not exist" in r.output
    (tmp_path / "junk.json").write_text(json.dumps({"schema": "x"}), encoding="utf-8")
    c = charter(blessed={"result": "junk.json", "model": "prod"})
    r = CliRunner().invoke(main, ["check", str(write(tmp_path, c)), "-q"])
    assert r.exit_code == 2
    assert "junk.json" in r.output


def test_decision_confidence_tells_ties_from_no_eligible_model() -> None:
    """A resample where the two best candidates tie (and no tie_break separates them) has no
    winner, like one where no model meets the constraints, but for another reason: the
    report said "no model eligible" for both (16% of a wine charter's resamples, where
    every model met every constraint)."""
    from mlscope.charter.schema import SatisficingRule
    from mlscope.select.confidence import decision_confidence

    rule = SatisficingRule.model_validate({"rule": "satisficing", "optimize": "accuracy",
                                           "constraints": {"log_loss": "<= 0.5"}})
    metrics = {"accuracy": MetricInfo(id="accuracy", name="accuracy", label="Accuracy",
                                      direction="higher", params={}, description=""),
               "log_loss": MetricInfo(id="log_loss", name="log_loss", label="Log loss",
                                      direction="lower", params={}, description="")}
    # Ten resamples (known by construction): a wins 5, a and b tie at the top in 3, and in
    # 2 neither meets the log-loss constraint.
    acc_a = np.array([0.9] * 5 + [1.0] * 3 + [0.9] * 2)
    acc_b = np.array([0.8] * 5 + [1.0] * 3 + [0.95] * 2)
    ll = np.array([0.3] * 8 + [0.7] * 2)
    conf = decision_confidence(
        rule, {"a": {"accuracy": acc_a, "log_loss": ll}, "b": {"accuracy": acc_b,
                                                             "log_loss": ll}},
        metrics, candidates=["a", "b"], winner="a")
    assert conf.chosen == {"a": 0.5, "b": 0.0}
    assert conf.no_decision == pytest.approx(0.5)
    assert conf.tied == pytest.approx(0.3)
    assert conf.no_winner_parts() == [("tied", pytest.approx(0.3)),
                                      ("no model eligible", pytest.approx(0.2))]
    # A result stored before `tied` existed reads as before: every one not eligible.
    from dataclasses import replace
    assert replace(conf, tied=0.0).no_winner_parts() == [
        ("no model eligible", pytest.approx(0.5))]
