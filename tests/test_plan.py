"""`mlscope plan` (issue 15, "Evidence, not claims"): every checklist item is checked
against the evidence the charter (and a stored result) holds; a budget nothing measures is
unverified, never met; readiness per stage counts evidence, not claims; the Caravan
example's plan is true to its charter."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import mlscope
from mlscope.charter import load_charter
from mlscope.charter.planning import CHECKLIST, STAGES
from mlscope.charter.schema import Charter
from mlscope.cli import main
from mlscope.plan import check_items, plan_check
from mlscope.plan.evidence import CHECKERS
from tests.conftest import base_charter, binary_frame

ROOT = Path(__file__).resolve().parents[1]
CARAVAN = ROOT / "examples" / "caravan" / "mlscope.yaml"

BARE: dict[str, Any] = {
    "project": "bare", "task": "binary",
    "data": {"table": "t.parquet", "label": "y", "models": {"m": "m"}},
    "metrics": ["roc_auc"],
    "selection": {"rule": "satisficing", "optimize": "roc_auc"},
}


def full_charter(table: str = "eval.parquet") -> dict[str, Any]:
    c = base_charter(table)
    c["metrics"] = [*c["metrics"], {"id": "latency_ms", "custom": "ops:latency_ms",
                                    "direction": "lower"}]
    c["diagnosis"] = {"budgets": ["latency_ms"]}
    c["costs"] = {"tp": -10, "fp": 1, "fn": 0, "tn": 0}
    c["baselines"] = {
        "prior": {"kind": "prior"},
        "simple": {"kind": "logistic", "features": ["balance"]},
        "agents": {"kind": "human", "annotations": {"columns": ["a1", "a2"]}},
        "paper": {"kind": "external", "values": {"roc_auc": 0.7}, "source": "a paper",
                  "data": "another bank's customers"},
    }
    c["blessed"] = "fair"
    c["slice_requirements"] = [{"metric": "roc_auc", "slice": "region=north",
                                "bound": ">= 0.6"}]
    c["planning"] = {
        "labeling": "labels from the CRM after 90 days",
        "feasibility": {"label_cost": {"per_item": 0.5, "unit": "EUR"},
                        "published_results": "AUC 0.7 in a paper"},
        "deployment": {"mode": "realtime", "where": "cloud", "compute": "one CPU",
                       "latency_budget_ms": 50},
        "rollout": ["shadow", "replacement"],
        "monitoring": {"ml": ["roc_auc"], "software": ["p99 latency"]},
        "failure_modes": [{"failure": "north ranked at random", "slice": "region=north",
                           "metric": "roc_auc"}],
    }
    return c


def annotated() -> pd.DataFrame:
    """The seeded table with two annotators who each flip 20% of the labels."""
    df = binary_frame()
    rng = np.random.default_rng(11)
    for a in ("a1", "a2"):
        flip = rng.random(len(df)) < 0.2
        df[a] = np.where(flip, 1 - df["label"], df["label"])
    return df


def _items(raw: dict[str, Any], result: Any = None) -> dict[str, Any]:
    return {i.key: i for i in check_items(Charter.model_validate(raw), result)}


# Items the bare charter cannot evidence, and those it does (its data source and split
# column are the `datasets` evidence only when a split column is named: BARE has none).
CHECKABLE = [k for k, it in CHECKLIST.items() if it.evidence is not None]


def test_every_item_is_represented_and_checked_where_the_charter_allows() -> None:
    items = check_items(Charter.model_validate(BARE))
    assert [i.key for i in items] == list(CHECKLIST)
    # An item mlscope can check (the registry names its evidence) has a checker; an item
    # only a person can answer has none and is never scored from the charter.
    assert set(CHECKERS) == set(CHECKABLE)
    for i in items:
        assert i.checkable == (i.key in CHECKERS)
        assert i.stage == CHECKLIST[i.key].stage


@pytest.mark.parametrize("key", CHECKABLE)
def test_bare_charter_lacks_the_evidence(key: str) -> None:
    it = _items(BARE)[key]
    # No claim changes that: answered, the item is flagged, not counted.
    claimed = _items({**BARE, "planning": {"checklist": {key: "answered"}}})[key]
    assert it.outcome in ("missing", "partial", "unverified"), (key, it)
    assert not it.ready
    assert (it.missing or it.unverified)
    assert all(g.fix for g in [*it.missing, *it.unverified])
    assert claimed.outcome == it.outcome
    assert not claimed.ready
    assert claimed.flags
    assert "claimed answered" in claimed.flags[0]


def test_rare_classes_need_a_metric_that_sees_them() -> None:
    assert _items(BARE)["rare_classes"].outcome == "missing"
    got = _items({**BARE, "metrics": ["roc_auc", "average_precision"]})["rare_classes"]
    assert got.outcome == "evidence"
    reg = _items({**BARE, "task": "regression", "metrics": ["mae"],
                  "selection": {"rule": "satisficing", "optimize": "mae"}})
    assert reg["rare_classes"].outcome == "not_applicable"


@pytest.fixture
def full_result(project: Callable[..., Path], tmp_path: Path) -> tuple[Charter, Any]:
    (tmp_path / "ops.py").write_text("def latency_ms(y, s, w):\n    return 12.0\n")
    path = project(annotated(), charter=full_charter())
    return load_charter(path), mlscope.evaluate(path, resamples=0)


# Items whose evidence lives outside the charter and the result: metadata (data
# stability needs a time column the charter cannot name yet) stays unverified.
NOT_FROM_CHARTER = {"metadata"}


@pytest.mark.parametrize("key", CHECKABLE)
def test_full_charter_and_result_give_the_evidence(key: str,
                                                   full_result: tuple[Charter, Any]) -> None:
    ch, res = full_result
    it = {i.key: i for i in check_items(ch, res)}[key]
    if key in NOT_FROM_CHARTER:
        assert it.outcome == "unverified"
        assert "time column" in it.unverified[0].what
        return
    assert it.outcome == "evidence", (key, it.missing, it.unverified)
    assert it.found
    assert not it.missing
    assert not it.unverified


def test_figures_come_from_the_result(full_result: tuple[Charter, Any]) -> None:
    ch, res = full_result
    items = {i.key: i for i in check_items(ch, res)}
    latency = items["latency_qps"].found[0]
    assert "latency_budget_ms 50 ms" in latency
    assert "latency_ms 12" in latency
    fm = items["failure_modes"].found[0]
    q = next(r for r in res.requirements if r.slice == "region=north")
    assert f"{q.value:.4g}" in fm
    assert ("met" if q.met else "NOT met") in fm
    assert res.human is not None
    single = next(r for r in res.human.rungs if r.name == "single annotator")
    v = single.value("precision")  # the optimised metric, when people are scored on it
    metric = "precision" if v is not None and v.value is not None else "roc_auc"
    value = single.value(metric)
    assert value is not None
    assert value.value is not None
    assert f"single annotator: {metric} {value.value:.4g} on {single.n_items} items" in \
        items["human_level"].found
    per = res.data["rows_per_split"]
    assert any(f"test {per['test']:,}" in line for line in items["datasets"].found)


def test_budget_over_its_measurement_is_missing(project: Callable[..., Path],
                                                tmp_path: Path) -> None:
    (tmp_path / "ops.py").write_text("def latency_ms(y, s, w):\n    return 80.0\n")
    path = project(annotated(), charter=full_charter())
    it = {i.key: i for i in check_items(load_charter(path),
                                         mlscope.evaluate(path, resamples=0))}["latency_qps"]
    assert it.outcome == "missing"
    assert "exceeds the budget" in it.missing[0].what


@pytest.mark.parametrize("deployment", [
    {"latency_budget_ms": 200}, {"qps": 50}, {"memory_mb": 512, "compute": "one CPU"}])
def test_budget_without_measurement_is_unverified(deployment: dict[str, Any]) -> None:
    raw = {**BARE, "planning": {"deployment": deployment,
                                "checklist": {"latency_qps": "answered",
                                              "compute": "answered"}}}
    items = _items(raw)
    it = items["compute"] if "memory_mb" in deployment else items["latency_qps"]
    assert it.outcome == "unverified"
    assert not it.ready
    assert "unverified, not met" in it.unverified[0].what
    assert "claimed answered, but the evidence is unverified" in it.flags


def test_budget_measured_but_no_result_is_unverified(full_result: tuple[Charter, Any]) -> None:
    ch, _ = full_result
    it = {i.key: i for i in check_items(ch)}["latency_qps"]
    assert it.outcome == "unverified"
    assert "measured by `latency_ms`" in it.unverified[0].what


def test_failure_mode_without_checked_requirement_is_missing() -> None:
    raw = {**BARE, "slices": {"columns": ["region"]},
           "planning": {"failure_modes": [{"failure": "x", "slice": "region=north",
                                           "metric": "roc_auc", "requirement": ">= 0.6"}]}}
    it = _items(raw)["failure_modes"]
    assert it.outcome == "missing"
    assert "slice_requirements" in it.missing[0].fix
    assert ">= 0.6" in it.missing[0].fix
    raw["slice_requirements"] = [{"metric": "roc_auc", "slice": "region=north",
                                  "bound": ">= 0.6"}]
    assert _items(raw)["failure_modes"].outcome == "evidence"


def test_monitoring_of_an_unknown_metric_is_missing() -> None:
    it = _items({**BARE, "planning": {"monitoring": {"ml": ["roc_acu"]}}})["monitoring"]
    assert it.outcome == "missing"
    assert "did you mean `roc_auc`?" in it.missing[0].what


def test_a_monitor_section_is_monitoring_evidence() -> None:
    # `mlscope monitor` watches what the charter's `monitor:` section names: evidence
    # without `planning.monitoring` (it read "nothing is monitored" before).
    assert _items(BARE)["monitoring"].outcome == "missing"
    raw = {**BARE, "monitor": {"timestamp": "served_at", "model": "m", "label": "y",
                               "features": ["age", "income"], "feedback": ["redo"]}}
    it = _items(raw)["monitoring"]
    assert it.outcome == "evidence"
    assert not it.missing
    found = " | ".join(it.found)
    assert "input: age, income" in found
    assert "output: m: the score's shift" in found
    assert "measured once `y` arrives" in found
    assert "user feedback: redo" in found


def test_readiness_counts_evidence_not_claims() -> None:
    claims = {k: "answered" for k in CHECKLIST}
    pc = plan_check(Charter.model_validate({**BARE, "planning": {"checklist": claims}}))
    by = {s.stage: s for s in pc.stages}
    assert [s.stage for s in pc.stages] == list(STAGES)
    for s in pc.stages:
        mine = [i for i in pc.items if i.stage == s.stage]
        assert s.total == len(mine)
        assert s.ready == sum(i.ready for i in mine)
    # Only the items a person answers (buy-in, logging, security) count when claimed.
    assert by["planning"].ready == 1
    assert by["monitoring"].ready == 1
    assert by["deployment"].ready == 1
    assert by["evaluation"].ready == 0
    na = {k: "not applicable: no reason to" for k in CHECKLIST}
    pc = plan_check(Charter.model_validate({**BARE, "planning": {"checklist": na}}))
    assert all(s.share == 1.0 for s in pc.stages)


def test_caravan_plan_is_true_to_its_charter() -> None:
    ch = load_charter(CARAVAN)
    pc = plan_check(ch)
    items = {i.key: i for i in pc.items}
    # Its failure mode states roc_auc >= 0.6 in no_car_policy but nothing checks it.
    fm = items["failure_modes"]
    assert fm.claimed == "answered"
    assert fm.outcome == "missing"
    assert "no_car_policy" in fm.missing[0].what
    assert "unchecked" in fm.missing[0].what
    assert items["latency_qps"].outcome == "not_applicable"
    assert items["human_level"].found == ["human baseline: sales_agents"]
    assert "blessed (in production): knn" in items["older_system"].found
    assert items["buy_in"].outcome == "open"
    assert items["logging"].outcome == "open"
    assert items["rollout"].found == ["rollout: shadow → replacement"]
    assert items["provenance_lineage"].outcome == "unverified"  # no result given
    # Each answer in the charter is echoed; the readiness follows from the outcomes.
    for k, ans in ch.planning.checklist.items():
        assert items[k].claimed == ans.status
    for s in pc.stages:
        assert s.not_ready == [i.key for i in pc.items if i.stage == s.stage and not i.ready]


def test_cli_plan_text_and_json(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["plan", str(CARAVAN), "-o", str(tmp_path / "b")])
    assert r.exit_code == 0, r.output
    assert "Readiness" in r.output
    assert "Failure modes (failure_modes): evidence missing" \
        in r.output
    assert "slice_requirements" in r.output
    r = CliRunner().invoke(main, ["plan", str(CARAVAN), "--json", "-o", str(tmp_path / "b")])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert [s["stage"] for s in data["stages"]] == list(STAGES)
    assert [i["key"] for i in data["items"]] == list(CHECKLIST)
    assert sum(s["total"] for s in data["stages"]) == len(CHECKLIST)


def test_cli_plan_with_a_result(project: Callable[..., Path], tmp_path: Path) -> None:
    (tmp_path / "ops.py").write_text("def latency_ms(y, s, w):\n    return 12.0\n")
    path = project(annotated(), charter=full_charter())
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["run", str(path), "-o", str(out), "--resamples", "0",
                                     "-q", "--no-store"]).exit_code == 0
    r = CliRunner().invoke(main, ["plan", str(path), "--result", str(out / "result.json"),
                                  "--json"])
    assert r.exit_code == 0, r.output
    items = {i["key"]: i for i in json.loads(r.output)["items"]}
    assert items["latency_qps"]["outcome"] == "evidence"
    assert items["provenance_lineage"]["outcome"] == "evidence"


@pytest.mark.parametrize(("args", "says"), [
    (["--result", "nope.json"], "no such file"),
    (["--result", "{bad}"], "not an mlscope result.json"),
])
def test_cli_plan_bad_input_exits_2(tmp_path: Path, args: list[str], says: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{\"x\": 1}")
    args = [a.replace("{bad}", str(bad)) for a in args]
    r = CliRunner().invoke(main, ["plan", str(CARAVAN), *args])
    assert r.exit_code == 2
    assert says in r.output
    assert "Traceback" not in r.output


def test_cli_plan_bad_charter_exits_2(tmp_path: Path) -> None:
    p = tmp_path / "mlscope.yaml"
    p.write_text(yaml.safe_dump({**BARE, "planning": {"archetype": "autonomus"}}))
    r = CliRunner().invoke(main, ["plan", str(p)])
    assert r.exit_code == 2
    assert "did you mean `autonomous`?" in r.output


def test_plan_of_a_portfolio_is_the_portfolio(tmp_path: Path) -> None:
    """`mlscope plan portfolio.yaml` (a top-level `projects:`) runs the portfolio."""
    example = Path(__file__).resolve().parents[1] / "examples" / "portfolio" / "portfolio.yaml"
    r = CliRunner().invoke(main, ["plan", str(example), "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    for name in ("portfolio.svg", "portfolio.html", "portfolio.json"):
        assert (tmp_path / "o" / name).is_file()
    bad = tmp_path / "portfolio.yaml"
    bad.write_text("projects:\n  - charter: a/mlscope.yaml\n")
    r = CliRunner().invoke(main, ["plan", str(bad), "--out", str(tmp_path / "b")])
    assert r.exit_code == 2
    assert "a/mlscope.yaml" in r.output
    assert not (tmp_path / "b").exists()
