"""A numeric `threshold:` on an operating-point metric is refused, never silently ignored.

`precision_at_recall` and `recall_at_precision` choose their own threshold on the
selection split; a fixed threshold would either be overridden by that choice (the bug)
or make them plain `precision` / `recall`. Both the validator (with file and line) and the
evaluation (for charters built in Python) refuse it and name the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlscope.charter.load import validate_charter
from mlscope.charter.schema import Charter
from mlscope.errors import InputError
from mlscope.evaluation import evaluate
from mlscope.metrics.registry import get_metric
from tests.conftest import base_charter, binary_frame

CASES = [
    ("precision_at_recall", "recall", 0.65, "precision"),
    ("recall_at_precision", "precision", 0.5, "recall"),
]


def _charter(tmp_path: Path, metric: dict[str, Any]) -> dict[str, Any]:
    binary_frame(n=300, seed=1).to_parquet(tmp_path / "eval.parquet", index=False)
    c = base_charter("eval.parquet", metrics=["roc_auc", metric],
                     selection={"rule": "satisficing", "optimize": "roc_auc"})
    c["intervals"] = {"resamples": 0}
    return c


def _write(tmp_path: Path, charter: dict[str, Any]) -> Path:
    path = tmp_path / "mlscope.yaml"
    path.write_text(yaml.safe_dump(charter, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(("name", "key", "level", "fixed"), CASES)
@pytest.mark.parametrize("threshold", [0.3, 0, 1, "0.3"])
def test_validate_refuses_a_number(tmp_path: Path, name: str, key: str, level: float,
                                   fixed: str, threshold: Any) -> None:
    path = _write(tmp_path, _charter(
        tmp_path, {"id": "op", "metric": name, key: level, "threshold": threshold}))
    report = validate_charter(path)
    assert not report.ok
    [problem] = [p for p in report.problems if "threshold" in p.message]
    assert problem.file is not None
    assert problem.file.endswith("mlscope.yaml")
    # The line of the `threshold:` key itself.
    lines = path.read_text(encoding="utf-8").splitlines()
    assert problem.line is not None
    assert "threshold:" in lines[problem.line - 1]
    assert f"`{name}` chooses its own threshold" in problem.message
    assert problem.fix is not None
    assert f"metric: {fixed}, threshold:" in problem.fix
    # `optimize`, the default, and no threshold at all stay valid.
    for extra in ({}, {"threshold": "optimize"}):
        ok = validate_charter(_write(tmp_path, _charter(
            tmp_path, {"id": "op", "metric": name, key: level, **extra})))
        assert ok.ok, [str(p) for p in ok.problems]


@pytest.mark.parametrize(("name", "key", "level", "fixed"), CASES)
def test_evaluate_refuses_a_number(tmp_path: Path, name: str, key: str, level: float,
                                   fixed: str) -> None:
    # A charter built in Python never passes through `mlscope validate`.
    ch = Charter.model_validate(_charter(
        tmp_path, {"id": "op", "metric": name, key: level, "threshold": 0.3}))
    with pytest.raises(InputError, match=f"metric: {fixed}, threshold"):
        evaluate(ch, base_dir=tmp_path)


@pytest.mark.parametrize(("name", "key", "level", "fixed"), CASES)
def test_registry_refuses_a_number(name: str, key: str, level: float, fixed: str) -> None:
    spec = get_metric(name, task="binary")
    with pytest.raises(InputError, match="chooses its own threshold"):
        spec.resolve_params({key: level, "threshold": 0.3})
    assert spec.resolve_params({key: level})["threshold"] == "optimize"
    assert spec.resolve_params({key: level, "threshold": "optimize"})["threshold"] == "optimize"
