"""The charter's ``monitor:`` section: what it accepts, and each mistake with its fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlscope.charter import validate_charter
from mlscope.charter.monitor import parse_every


def _charter(tmp_path: Path, monitor: Any) -> Path:
    charter = {
        "project": "p", "task": "binary",
        "data": {"table": "eval.parquet", "label": "y", "split": "split",
                 "models": {"gbdt": "p_gbdt"}},
        "metrics": ["roc_auc"],
        "selection": {"rule": "satisficing", "optimize": "roc_auc"},
        "monitor": monitor,
    }
    path = tmp_path / "mlscope.yaml"
    path.write_text(yaml.safe_dump(charter, sort_keys=False))
    return path


@pytest.mark.parametrize("monitor", [
    pytest.param({"timestamp": "t", "model": "gbdt"}, id="minimal"),
    pytest.param({"timestamp": "t", "model": "gbdt", "label": "y", "features": ["a", "b"],
                  "window": {"by": "time", "every": "6h"}, "reference": "test",
                  "threshold": 0.3, "alert": {"psi": 0.25, "q": 0.01},
                  "feedback": {"redo": {"at_most": 0.1}}}, id="full"),
    pytest.param({"timestamp": "t", "score": {"gbdt": "score_gbdt"},
                  "window": {"by": "count", "rows": 500}}, id="scores-by-model"),
    pytest.param({"timestamp": "t", "model": "gbdt", "window": {"by": "auto",
                                                                "half_width": 0.02},
                  "feedback": ["redo", "typed"]}, id="auto-and-feedback-list"),
])
def test_valid_sections(tmp_path: Path, monitor: dict[str, Any]) -> None:
    report = validate_charter(_charter(tmp_path, monitor))
    assert report.problems == [], [str(p) for p in report.problems]
    assert report.charter is not None
    assert report.charter.monitor is not None


@pytest.mark.parametrize(("monitor", "expect"), [
    pytest.param({"model": "gbdt"}, "timestamp", id="no-timestamp"),
    pytest.param({"timestamp": "t"}, "name the model in production", id="no-model"),
    pytest.param({"timestamp": "t", "model": "gbdt", "windw": {}}, "window", id="typo"),
    pytest.param({"timestamp": "t", "model": "gbdt", "window": {"by": "time"}},
                 "every: 1d", id="time-without-every"),
    pytest.param({"timestamp": "t", "model": "gbdt",
                  "window": {"by": "time", "every": "1 fortnight"}}, "30min", id="bad-every"),
    pytest.param({"timestamp": "t", "model": "gbdt", "window": {"by": "count"}},
                 "rows: 500", id="count-without-rows"),
    pytest.param({"timestamp": "t", "model": "gbdt", "window": {"by": "auto", "rows": 50}},
                 "by: count", id="rows-on-auto"),
    pytest.param({"timestamp": "t", "model": "gbdt", "alert": {"q": 2}}, "q", id="bad-q"),
    pytest.param({"timestamp": "t", "model": "gbdt", "features": []}, "features",
                 id="no-features"),
    pytest.param({"timestamp": "t", "model": "gbdt", "score": {"gbdt": "s"}},
                 "remove `model`", id="model-and-score-map"),
    pytest.param({"timestamp": "t", "model": "gbdt",
                  "feedback": {"redo": {"at_most": 0.1, "at_least": 0.01}}}, "at most one",
                 id="two-feedback-bounds"),
])
def test_mistakes_name_the_key_and_the_fix(tmp_path: Path, monitor: dict[str, Any],
                                           expect: str) -> None:
    report = validate_charter(_charter(tmp_path, monitor))
    text = "\n".join(str(p) for p in report.problems)
    assert report.problems, "expected a problem"
    assert "monitor" in text
    assert expect in text
    assert all(p.line for p in report.problems)


@pytest.mark.parametrize(("text", "seconds"), [("30min", 1800), ("6h", 21600), ("1d", 86400),
                                               ("2w", 1209600), ("45s", 45)])
def test_window_lengths(text: str, seconds: int) -> None:
    assert parse_every(text) == seconds


@pytest.mark.parametrize("text", ["0d", "1", "d", "1.5h", "1 month"])
def test_bad_window_lengths(text: str) -> None:
    with pytest.raises(ValueError, match="not a window length"):
        parse_every(text)


@pytest.mark.parametrize(("task", "output", "ml"), [
    ("binary", "the score's shift and the positive rate at the operating threshold",
     "estimated before labels, measured once `y` arrives"),
    ("multiclass", "each class's probability shift and the predicted classes' shares",
     "estimated before labels, measured once `y` arrives"),
    ("regression", "the prediction's shift",
     "measured once `y` arrives (a regression has no estimate before labels)"),
])
def test_what_the_monitor_watches_fits_the_task(task: str, output: str, ml: str) -> None:
    """The plan's monitoring evidence for a multiclass digit reader said "the positive rate
    at the operating threshold", which a multiclass monitor has not (digits QA)."""
    from mlscope.charter.monitor import MonitorSpec

    spec = MonitorSpec.model_validate({"timestamp": "t", "model": "m", "label": "y",
                                       "features": ["f"]})
    lines = spec.watches(task)
    assert lines[1] == f"output: m: {output}"
    assert lines[2] == f"ML: the charter's metrics {ml}"
    if task == "regression":
        bare = MonitorSpec.model_validate({"timestamp": "t", "model": "m"})
        assert "not measured: no `label` column" in bare.watches(task)[2]
