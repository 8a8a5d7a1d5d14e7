"""`EvaluationResult.to_dict` walks the result itself (faster than `dataclasses.asdict`):
the same data, key order and types as asdict with tuples turned into lists."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import mlscope
from tests.conftest import base_charter


def _reference(obj: Any) -> Any:
    """What to_dict returned before: asdict, then tuples to lists."""
    if isinstance(obj, dict):
        return {k: _reference(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_reference(v) for v in obj]
    return obj


def _typed(obj: Any) -> Any:
    """The value with every leaf's type beside it, and dict keys in order."""
    if isinstance(obj, dict):
        return [[k, _typed(v)] for k, v in obj.items()]
    if isinstance(obj, list):
        return [_typed(v) for v in obj]
    return [type(obj).__name__, obj]


def test_to_dict_is_asdict_with_lists(project: Callable[..., Path]) -> None:
    ch = base_charter()
    ch["compare"] = {"pairs": [["good", "fair"]]}
    res = mlscope.evaluate(project(charter=ch), diagnose=True)
    got = res.to_dict()
    assert _typed(got) == _typed(_reference(asdict(res)))
    assert res.to_json() == json.dumps(_reference(asdict(res)), indent=2, allow_nan=False,
                                       default=str)
