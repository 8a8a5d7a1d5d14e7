"""Hostile values in the charter's `human_in_the_loop:` section (issue 14): each is
refused with exit 2 by `validate` and by `run`, names the charter file and the key's line,
prints no traceback and changes no file (tests/hostile/snapshot.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import base_charter, binary_frame
from tests.hostile.test_charter_input import line_with, refused, write

OK = {"max_error": 0.05}
REGRESSION = {"task": "regression", "metrics": ["mae"],
              "selection": {"rule": "satisficing", "optimize": "mae"}, "requirements": {}}


@pytest.fixture
def charter_at(tmp_path: Path) -> Callable[..., Path]:
    def make(**over: Any) -> Path:
        binary_frame().to_parquet(tmp_path / "eval.parquet", index=False)
        c = base_charter(**over)
        return write(tmp_path, yaml.safe_dump(c, sort_keys=False, allow_unicode=True))

    return make


# (what, charter overrides, the key whose line must be named, a word of the message)
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("max_error above 1", {"human_in_the_loop": {"max_error": 1.5}}, "max_error:",
     "strictly between 0 and 1"),
    ("max_error of 0", {"human_in_the_loop": {"max_error": 0}}, "max_error:", "max_error"),
    ("max_error is text", {"human_in_the_loop": {"max_error": "2%; rm -rf /"}},
     "max_error:", "max_error"),
    ("max_error is NaN", {"human_in_the_loop": {"max_error": float("nan")}}, "max_error:",
     "max_error"),
    ("max_error missing", {"human_in_the_loop": {"max_defer": 0.5}}, "human_in_the_loop:",
     "max_error"),
    ("max_defer of 1", {"human_in_the_loop": {**OK, "max_defer": 1}}, "max_defer:",
     "max_defer"),
    ("delta above 1", {"human_in_the_loop": {**OK, "delta": 1.5}}, "delta:", "delta"),
    ("delta of 0", {"human_in_the_loop": {**OK, "delta": 0}}, "delta:", "delta"),
    ("delta is true", {"human_in_the_loop": {**OK, "delta": True}}, "delta:", "delta"),
    ("threshold of 1", {"human_in_the_loop": {**OK, "threshold": 1.0}}, "threshold: 1.0",
     "threshold"),
    ("top_k of 0", {"human_in_the_loop": {**OK, "top_k": [0]}}, "top_k:", "top_k"),
    ("top_k is text", {"human_in_the_loop": {**OK, "top_k": "three"}}, "top_k:", "top_k"),
    ("top_k on a binary task", {"human_in_the_loop": {**OK, "top_k": [2]}}, "top_k:",
     "multiclass"),
    ("unknown key", {"human_in_the_loop": {**OK, "max_eror": 0.1}}, "max_eror:",
     "max_eror"),
    ("section is a list", {"human_in_the_loop": [0.05]}, "human_in_the_loop:",
     "human_in_the_loop"),
    ("regression task", {**REGRESSION, "human_in_the_loop": OK}, "human_in_the_loop:",
     "binary or multiclass"),
]


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize(("what", "over", "key", "word"), CASES, ids=[c[0] for c in CASES])
def test_refused_with_the_line(charter_at: Callable[..., Path], command: str, what: str,
                               over: dict[str, Any], key: str, word: str) -> None:
    p = charter_at(**over)
    refused(p, f"{p.name}:{line_with(p, key)}", word, command=command)


@pytest.mark.parametrize("command", ["validate", "run"])
def test_unknown_model_is_refused(charter_at: Callable[..., Path], command: str) -> None:
    p = charter_at(human_in_the_loop={**OK, "model": "goood"})
    out = refused(p, f"{p.name}:{line_with(p, 'model: goood')}", "did you mean `good`",
                  command=command)
    assert "human_in_the_loop.model" in out
