"""Hostile `slice_requirements:` entries (issue 15): refused with exit 2 by `validate` and
`run`, naming the charter file and the entry's line, with the fix and no traceback."""

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
    def make(entries: Any, **over: Any) -> Path:
        c = base_charter(slice_requirements=entries, **over)
        return write(tmp_path, yaml.safe_dump(c, sort_keys=False, allow_unicode=True))

    return make


NORTH = {"metric": "roc_auc", "slice": "region=north", "bound": ">= 0.6"}

# (what, entries, extra charter keys, the text on the offending line, what the message says)
CASES: list[tuple[str, Any, dict[str, Any], str, tuple[str, ...]]] = [
    ("slice column misspelt", [{**NORTH, "slice": "regoin=north"}], {}, "slice: regoin",
     ("slice `regoin=north` is not defined", "did you mean `region`?",
      "Fix: name a `slices.where` name")),
    ("where name misspelt", [{**NORTH, "slice": "ritch"}], {}, "slice: ritch",
     ("slice `ritch` is not defined", "did you mean `rich`?")),
    ("metric not computed", [{**NORTH, "metric": "roc_acu"}], {}, "metric: roc_acu",
     ("metric `roc_acu` is not computed", "did you mean `roc_auc`?")),
    # The bound's own error is the entry's (its line: the entry's first).
    ("bound malformed", [{**NORTH, "bound": "=> 0.6"}], {}, "- metric: roc_auc",
     ("a bound is written like",)),
    ("bound out of range", [{**NORTH, "bound": ">= 60"}], {}, "bound:",
     ("can never be met",)),
    ("slice missing", [{"metric": "roc_auc", "bound": ">= 0.6"}], {}, "metric: roc_auc",
     ("slice",)),
    ("unknown key", [{**NORTH, "slcie": "x"}], {}, "slcie:", ("slcie",)),
    ("decided on a bound", [{**NORTH, "decide_on": "bound"}], {}, "decide_on:",
     ("decide_on: must be one of point",)),
    ("given twice", [NORTH, {"slice": "region=north", "metric": "roc_auc", "bound": ">= 0.7"}],
     {}, "- slice: region=north",
     ("`roc_auc` in slice `region=north` is required twice", "keep one entry")),
    ("failure mode contradicts it", [NORTH],
     {"planning": {"failure_modes": [{"failure": "north ranked at random",
                                      "slice": "region=north", "metric": "roc_auc",
                                      "requirement": ">= 0.7"}]}},
     "requirement:", ("the failure mode requires `roc_auc` >= 0.7",
                      "`slice_requirements:` checks >= 0.6", "Fix: state one bound")),
    ("not a list", {"roc_auc": ">= 0.6"}, {}, "slice_requirements:", ("list",)),
]


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize(("what", "entries", "over", "key", "says"), CASES,
                         ids=[c[0] for c in CASES])
def test_refused_with_the_line(charter_at: Callable[..., Path], command: str, what: str,
                               entries: Any, over: dict[str, Any], key: str,
                               says: tuple[str, ...]) -> None:
    p = charter_at(entries, **over)
    refused(p, f"{p.name}:{line_with(p, key)}", *says, command=command)


def test_agreeing_failure_mode_is_accepted(charter_at: Callable[..., Path]) -> None:
    from click.testing import CliRunner

    from mlscope.cli import main
    p = charter_at([NORTH], planning={"failure_modes": [
        {"failure": "north ranked at random", "slice": "region=north", "metric": "roc_auc",
         "requirement": ">= 0.60"}]})
    r = CliRunner().invoke(main, ["validate", str(p), "--no-data"])
    assert r.exit_code == 0, r.output
