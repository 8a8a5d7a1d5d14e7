"""Hostile `costs:` for multiclass and regression tasks (issue 14): a cost matrix that is
not a mapping of mappings, a class the data does not have, the keys of another task, a
negative cost of over- or under-prediction, costs that are all zero. Each is refused with
exit 2 by `validate` and by `run`, names the charter file and the key's line, prints no
traceback and changes no file (tests/hostile/snapshot.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from mlscope.cli import main
from tests.hostile.snapshot import assert_unchanged, snapshot
from tests.hostile.test_charter_input import refused, write
from tests.test_pipeline_tasks import CLASSES, multiclass_frame

MATRIX = {"oak": {"maple": 4.0, "birch": 1.0}, "birch": {"oak": 2.0}}
COST = {"id": "cost", "metric": "expected_cost"}


def _charter(folder: Path, task: str, costs: Any, metric: dict[str, Any]) -> Path:
    if task == "multiclass":
        multiclass_frame(n=200, seed=2).to_parquet(folder / "eval.parquet", index=False)
        data: dict[str, Any] = {
            "table": "eval.parquet", "id": "image_id", "label": "species", "split": "split",
            "classes": CLASSES,
            "models": {m: {c: f"{m}_{c}" for c in CLASSES} for m in ("resnet", "vit")}}
        first = "accuracy"
    else:
        rng = np.random.default_rng(4)
        y = rng.normal(10, 2, size=120)
        pd.DataFrame({"id": np.arange(120), "y": y,
                      "split": rng.choice(["validation", "test"], size=120),
                      "pa": y + rng.normal(0, 1, 120), "pb": y + rng.normal(1, 1, 120)}
                     ).to_parquet(folder / "eval.parquet", index=False)
        data = {"table": "eval.parquet", "id": "id", "label": "y", "split": "split",
                "models": {"a": "pa", "b": "pb"}}
        first = "mae"
    ch = {"project": "hostile-costs", "task": task, "seed": 1, "data": data,
          "splits": {"selection": "validation", "report": "test", "train": None},
          "metrics": [first, metric],
          "selection": {"rule": "satisficing", "optimize": metric["id"]},
          "costs": costs}
    return write(folder, yaml.safe_dump(ch, sort_keys=False, allow_unicode=True))


# (what, task, costs, the metric entry, the key whose line must be named)
CASES: list[tuple[str, str, Any, dict[str, Any], str]] = [
    ("matrix is a list", "multiclass", {"matrix": [[0, 1], [1, 0]]}, COST, "matrix:"),
    ("matrix row is a number", "multiclass", {"matrix": {"oak": 3}}, COST, "matrix:"),
    ("matrix cell is text", "multiclass", {"matrix": {"oak": {"maple": "3; rm -rf /"}}},
     COST, "maple:"),
    ("matrix cell is NaN", "multiclass", {"matrix": {"oak": {"maple": float("nan")}}},
     COST, "maple:"),
    ("matrix all zero", "multiclass", {"matrix": {"oak": {"maple": 0}}}, COST, "costs:"),
    ("matrix and tp", "multiclass", {"matrix": MATRIX, "tp": -1.0}, COST, "costs:"),
    ("binary keys on multiclass", "multiclass",
     {"tp": -1.0, "fp": 1.0, "fn": 0.0, "tn": 0.0}, COST, "costs:"),
    ("binary keys on regression", "regression",
     {"tp": -1.0, "fp": 1.0, "fn": 0.0, "tn": 0.0}, COST, "costs:"),
    ("matrix on regression", "regression", {"matrix": MATRIX}, COST, "costs:"),
    ("negative over", "regression", {"over": -1.0, "under": 3.0}, COST, "costs:"),
    ("negative under", "regression", {"over": 1.0, "under": -0.5}, COST, "costs:"),
    ("over and under zero", "regression", {"over": 0, "under": 0}, COST, "costs:"),
    ("over is infinite", "regression", {"over": float("inf"), "under": 1.0}, COST, "over:"),
    ("under missing", "regression", {"over": 1.0}, COST, "costs:"),
    ("threshold on regression", "regression", {"over": 1.0, "under": 2.0},
     {**COST, "threshold": "optimize"}, "threshold:"),
    ("entry gives negative over", "regression", {"over": 1.0, "under": 2.0},
     {**COST, "over": -3.0, "under": 1.0}, "id: cost"),
]


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize(("what", "task", "costs", "metric", "key"), CASES,
                         ids=[c[0] for c in CASES])
def test_refused_with_the_line(tmp_path: Path, command: str, what: str, task: str,
                               costs: Any, metric: dict[str, Any], key: str) -> None:
    p = _charter(tmp_path, task, costs, metric)
    refused(p, f"{p.name}:{_last_line_with(p, key)}", command=command)


def _last_line_with(p: Path, snippet: str) -> int:
    # `costs:` comes last in these charters; a class name also appears in data.models.
    hits = [i for i, s in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if snippet in s]
    assert hits, snippet
    return hits[-1]


@pytest.mark.parametrize("command", ["validate", "run"])
def test_matrix_class_not_in_data_classes(tmp_path: Path, command: str) -> None:
    """With `data.classes` the labels are known from the charter alone."""
    p = _charter(tmp_path, "multiclass", {"matrix": {"oak": {"Maple": 3.0}}}, COST)
    refused(p, f"{p.name}:{_last_line_with(p, 'matrix:')}", "`Maple` is not one of",
            "did you mean `maple`", command=command)


def test_matrix_class_not_in_the_data_is_refused_at_run(tmp_path: Path) -> None:
    """Without `data.classes` the data's classes are known once it is open: `run` refuses
    a label it does not have, with a did you mean, before computing anything."""
    p = _charter(tmp_path, "multiclass", {"matrix": {"oak": {"Maple": 3.0}}}, COST)
    ch = yaml.safe_load(p.read_text(encoding="utf-8"))
    del ch["data"]["classes"]
    p.write_text(yaml.safe_dump(ch, sort_keys=False), encoding="utf-8")
    before = snapshot(tmp_path)
    r = CliRunner().invoke(main, ["run", str(p), "--resamples", "0", "-q", "--no-store"])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    for said in ("metric `cost`", "costs.matrix", "`Maple`", "did you mean `maple`",
                 "classes: oak, maple, birch"):
        assert said in r.output, r.output
    assert_unchanged(before, tmp_path)
