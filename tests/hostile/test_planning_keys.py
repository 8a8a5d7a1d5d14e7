"""Hostile values in the typed `planning:` section (issue 15): each is refused with exit 2
by `validate` and by `run`, names the charter file and the key's line, says the fix, prints
no traceback and changes no file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import base_charter
from tests.hostile.test_charter_input import line_with, refused, write


@pytest.fixture
def charter_at(tmp_path: Path) -> Callable[..., Path]:
    def make(planning: dict[str, Any]) -> Path:
        c = base_charter(planning=planning)
        return write(tmp_path, yaml.safe_dump(c, sort_keys=False, allow_unicode=True))

    return make


# (what, planning, the text on the key's line, what the message must say)
CASES: list[tuple[str, dict[str, Any], str, tuple[str, ...]]] = [
    ("unknown archetype", {"archetype": "softwar_2_0"}, "archetype:",
     ("unknown archetype 'softwar_2_0'", "did you mean `software_2_0`?")),
    ("old free-text archetype", {"archetype": "tabular propensity"}, "archetype:",
     ("unknown archetype", "move this description to `problem:`")),
    ("archetype is a list", {"archetype": ["autonomous"]}, "archetype:", ("must be one of",)),
    ("misspelt checklist item", {"checklist": {"datsets": "answered"}}, "datsets:",
     ("unknown checklist item `datsets`", "did you mean `datasets`?",
      "Fix: rename it as suggested")),
    ("unknown checklist item", {"checklist": {"__import__('os')": "open"}}, "__import__",
     ("unknown checklist item",)),
    ("n/a without a reason", {"checklist": {"latency_qps": "not applicable"}}, "latency_qps:",
     ("`not applicable` needs the reason", "Fix: write `not applicable: <why>`")),
    ("n/a mapping without a note", {"checklist": {"logging": {"status": "n/a"}}}, "logging:",
     ("`not applicable` needs the reason",)),
    ("n/a with a blank reason", {"checklist": {"compute": "not applicable:   "}}, "compute:",
     ("needs the reason",)),
    ("unknown answer", {"checklist": {"slices": "answerd"}}, "slices: answerd",
     ("a checklist answer is", "did you mean `answered`?")),
    ("answer is a number", {"checklist": {"slices": 3}}, "slices: 3",
     ("a checklist answer is", "got 3")),
    ("level unknown", {"impact": {"cheap_prediction": "huge"}}, "cheap_prediction:",
     ("a driver is low, medium or high", "Fix: write e.g. `high`")),
    ("unknown impact driver", {"impact": {"cheap_predictions": "high"}},
     "cheap_predictions:", ("did you mean `cheap_prediction`?",)),
    ("labelled rows is text", {"feasibility": {"labelled_rows": "many"}}, "labelled_rows:",
     ("expected a whole number",)),
    ("negative label cost", {"feasibility": {"label_cost": {"per_item": -1}}}, "per_item:",
     (">= 0",)),
    ("latency is text", {"deployment": {"latency_budget_ms": "fast"}}, "latency_budget_ms:",
     ("expected a number",)),
    ("deployment word unknown", {"deployment": "nightly"}, "deployment:",
     ("deployment 'nightly' is none of",)),
    ("rollout unknown", {"rollout": ["big_bang"]}, "big_bang",
     ("must be one of new_product, shadow",)),
    ("failure rate above 1", {"archetype": "autonomous", "questions": {"failure_rate": 5}},
     "failure_rate:", ("<= 1",)),
    ("question of another archetype",
     {"archetype": "autonomous", "questions": {"flywheel": "retrain weekly"}}, "flywheel:",
     ("`flywheel` is a question of the `software_2_0` archetype",
      "change `archetype:` to `software_2_0`")),
    ("failure mode names no metric",
     {"failure_modes": [{"failure": "x", "metric": "roc_acu"}]}, "metric: roc_acu",
     ("metric `roc_acu` is not computed", "did you mean `roc_auc`?")),
    ("failure mode names no slice",
     {"failure_modes": [{"failure": "x", "slice": "regoin=north"}]}, "slice: regoin",
     ("slice `regoin=north` is not defined",)),
    ("failure mode bound malformed",
     {"failure_modes": [{"failure": "x", "metric": "roc_auc", "requirement": "=> 0.6"}]},
     "requirement:", ("a bound is written like",)),
    ("budgets disagree", {"latency_budget_ms": 100, "deployment": {"latency_budget_ms": 50}},
     "planning:", ("disagree", "keep only `deployment.latency_budget_ms`")),
]


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize(("what", "planning", "key", "says"), CASES, ids=[c[0] for c in CASES])
def test_refused_with_the_line(charter_at: Callable[..., Path], command: str, what: str,
                               planning: dict[str, Any], key: str, says: tuple[str, ...]) -> None:
    p = charter_at(planning)
    refused(p, f"{p.name}:{line_with(p, key)}", *says, command=command)
