"""Hostile values in the charter keys that decide a launch: `costs:`, `guarantees:`,
`decide_on`, and `must_beat` margins (issue 14). Each is refused with exit 2 by `validate`
and by `run`, names the charter file and the key's line, prints no traceback and changes
no file (tests/hostile/snapshot.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import base_charter
from tests.hostile.test_charter_input import line_with, refused, write

COSTS = {"unit": "EUR", "tp": -5.0, "fp": 1.0, "fn": 0.0, "tn": 0.0}
NET = {"id": "net", "metric": "net_value", "threshold": "optimize"}


@pytest.fixture
def charter_at(tmp_path: Path) -> Callable[..., Path]:
    def make(**over: Any) -> Path:
        c = base_charter(**over)
        return write(tmp_path, yaml.safe_dump(c, sort_keys=False, allow_unicode=True))

    return make


def _with_net(**over: Any) -> dict[str, Any]:
    return {"metrics": [*base_charter()["metrics"], NET], **over}


# (what, charter overrides, the key whose line must be named)
CASES: list[tuple[str, dict[str, Any], str]] = [
    ("cost is text", _with_net(costs={**COSTS, "fp": "1; DROP TABLE x"}), "fp:"),
    ("cost is NaN", _with_net(costs={**COSTS, "fn": float("nan")}), "fn:"),
    ("cost is infinite", _with_net(costs={**COSTS, "tp": float("-inf")}), "tp:"),
    ("cost is a list", _with_net(costs={**COSTS, "tn": [1, 2]}), "tn:"),
    ("costs miss an outcome", _with_net(costs={"unit": "EUR", "tp": -1, "fp": 1}), "costs:"),
    ("unknown outcome", _with_net(costs={**COSTS, "tq": 1.0}), "tq:"),
    ("every cost equal", _with_net(costs={"unit": "EUR", "tp": 1, "fp": 1, "fn": 1, "tn": 1}),
     "costs:"),
    ("unit with a newline", _with_net(costs={**COSTS, "unit": "EUR\n[red]x"}), "unit:"),
    ("cost metric without costs", _with_net(), "id: net"),
    ("delta above 1", {"guarantees": {"decide_on": "bound", "delta": 1.5}}, "delta:"),
    ("delta of 0", {"guarantees": {"decide_on": "bound", "delta": 0}}, "delta:"),
    ("delta is text", {"guarantees": {"decide_on": "bound", "delta": "0.05; rm -rf"}},
     "delta:"),
    ("decide_on unknown", {"guarantees": {"decide_on": "vibes"}}, "decide_on:"),
    ("must_beat margin is text",
     {"selection": {"rule": "satisficing", "optimize": "roc_auc",
                    "must_beat": {"prior": "a lot"}}}, "prior:"),
    ("must_beat names no baseline",
     {"selection": {"rule": "satisficing", "optimize": "roc_auc",
                    "must_beat": {"__import__('os')": 0.01}}}, "__import__"),
]


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize(("what", "over", "key"), CASES, ids=[c[0] for c in CASES])
def test_refused_with_the_line(charter_at: Callable[..., Path], command: str, what: str,
                               over: dict[str, Any], key: str) -> None:
    p = charter_at(**over)
    refused(p, f"{p.name}:{line_with(p, key)}", command=command)
