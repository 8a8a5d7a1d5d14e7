"""The typed `planning:` section (issue 15, item 2): its forms, the older keys it still
reads, and the checklist registry later stages build on."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlscope.charter import load_charter
from mlscope.charter.load import charter_to_dict
from mlscope.charter.planning import (
    ARCHETYPE_QUESTIONS,
    ARCHETYPES,
    CHECKLIST,
    STAGES,
    ArchetypeQuestions,
    PlanningSpec,
    normalize_archetype,
)
from mlscope.charter.schema import parse_bound
from tests.conftest import base_charter

ROOT = Path(__file__).resolve().parents[1]

# The checklist the issue lists, in its words: each must have exactly one registry item.
ISSUE_ITEMS = ["datasets", "labelling strategy", "metadata", "human-level performance",
               "literature", "quick-and-dirty baselines", "older system", "failure modes",
               "slices", "FP/FN", "rare classes", "buy-in", "realtime or batch",
               "cloud or edge", "compute", "latency and QPS", "logging",
               "security and privacy", "provenance and lineage", "rollout", "monitoring"]


def test_registry_covers_the_issue_checklist() -> None:
    assert len(CHECKLIST) == len(ISSUE_ITEMS) == 21
    for key, item in CHECKLIST.items():
        assert item.key == key
        assert re.fullmatch(r"[a-z][a-z0-9_]*", key)
        assert item.stage in STAGES
        assert item.title
        assert item.question.endswith("?")
    # Every stage of the readiness score has items.
    assert {i.stage for i in CHECKLIST.values()} == set(STAGES)


def test_every_question_key_belongs_to_one_archetype() -> None:
    owned = [q for qs in ARCHETYPE_QUESTIONS.values() for q in qs]
    assert sorted(owned) == sorted(ArchetypeQuestions.model_fields)
    assert set(ARCHETYPE_QUESTIONS) == set(ARCHETYPES)


@pytest.mark.parametrize(("text", "want"), [
    ("software 2.0", "software_2_0"), ("Software-2.0", "software_2_0"),
    ("human in the loop", "human_in_the_loop"), ("HITL", "human_in_the_loop"),
    ("Autonomous", "autonomous"), ("tabular propensity", None), ("", None)])
def test_archetype_spellings(text: str, want: str | None) -> None:
    assert normalize_archetype(text) == want


def test_short_and_long_forms() -> None:
    p = PlanningSpec.model_validate({
        "archetype": "Human in the loop",
        "impact": {"cheap_prediction": "high",
                   "removing_friction": {"level": "low", "note": "already fast"}},
        "feasibility": {"human_can_do": True, "labelled_rows": 100,
                        "label_cost": {"per_item": 0.5, "unit": "EUR", "per_week": 400}},
        "deployment": "online",
        "rollout": "blue-green",
        "checklist": {"datasets": "answered", "logging": "not applicable: nothing served",
                      "buy_in": {"status": "open", "note": "meeting on Friday"},
                      "compute": "n/a: runs on the existing batch cluster"},
    })
    assert p.archetype == "human_in_the_loop"
    assert p.impact.cheap_prediction is not None
    assert p.impact.cheap_prediction.level == "high"
    assert p.feasibility.human_can_do == "yes"
    assert p.deployment is not None
    assert p.deployment.mode == "realtime"
    assert p.rollout == ["blue_green"]
    assert p.checklist["logging"].status == "not_applicable"
    assert p.checklist["logging"].note == "nothing served"
    assert p.checklist["compute"].note == "runs on the existing batch cluster"
    # Open: those marked open and every item not mentioned, in the registry's order.
    assert p.open_items() == [k for k in CHECKLIST if k not in ("datasets", "logging",
                                                                "compute")]


def test_older_keys_are_read() -> None:
    p = PlanningSpec.model_validate({"archetype": "autonomous", "deployment": "edge",
                                     "latency_budget_ms": 30, "throughput_rps": 50,
                                     "labeling": "by hand", "monitoring": ["drift"]})
    assert p.deployment is not None
    assert (p.deployment.where, p.deployment.mode) == ("edge", None)
    assert (p.deployment.latency_budget_ms, p.deployment.qps) == (30, 50)
    assert p.monitoring.other == ["drift"]
    assert p.monitoring.all() == ["drift"]
    assert p.deployment.label() == "edge, ≤ 30 ms, 50 QPS"
    # Budgets without a deployment word make a deployment of their own.
    q = PlanningSpec.model_validate({"latency_budget_ms": 200})
    assert q.deployment is not None
    assert q.deployment.latency_budget_ms == 200


def _charter(tmp_path: Path, planning: dict[str, Any]) -> Path:
    path = tmp_path / "mlscope.yaml"
    path.write_text(yaml.safe_dump(base_charter(planning=planning), sort_keys=False))
    return path


def test_failure_mode_slices_that_exist_pass(tmp_path: Path) -> None:
    modes = [{"failure": f, "slice": s, "metric": "recall", "requirement": ">= 0.2"}
             for f, s in [("a", "region=north"), ("b", "rich"), ("c", "device"),
                          ("d", "region=north × device=mobile"), ("e", "overall")]]
    c = load_charter(_charter(tmp_path, {"failure_modes": modes}))
    assert [m.slice for m in c.planning.failure_modes][1] == "rich"
    req = c.planning.failure_modes[0].requirement
    b = parse_bound(req)
    assert b.holds(0.2)
    assert not b.holds(0.19)


def test_charter_echo_is_json(tmp_path: Path) -> None:
    c = load_charter(ROOT / "examples" / "caravan" / "mlscope.yaml")
    echo = json.loads(json.dumps(charter_to_dict(c)))
    plan = echo["planning"]
    assert plan["archetype"] == "software_2_0"
    assert plan["deployment"]["mode"] == "batch"
    assert plan["checklist"]["latency_qps"]["status"] == "not_applicable"
    assert plan["failure_modes"][0]["slice"] == "no_car_policy"
    # The Caravan example answers every item of the checklist, open or not.
    assert set(plan["checklist"]) == set(CHECKLIST)


@pytest.mark.parametrize(("planning", "shown"), [
    ({"deployment": {"mode": "batch", "where": "cloud", "latency_budget_ms": 200}},
     "batch, cloud, ≤ 200 ms"),
    ({"deployment": "batch"}, "batch"),  # a result.json of an older charter
    ({}, ""),
])
def test_report_header_shows_the_deployment(planning: dict[str, Any], shown: str) -> None:
    from mlscope.report.panels_decision import header_panel
    from tests.factories import make_result

    res = make_result()
    res.charter = {**res.charter, "planning": planning}
    assert header_panel(res)["deployment"] == shown
