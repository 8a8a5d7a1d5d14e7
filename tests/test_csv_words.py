"""A CSV's words are read as written, and labels match `data.positive` by value (found on
ISLP's OJ).

DuckDB's CSV sniffer read yes/no columns as booleans: slices showed `true`/`false`,
`positive: "yes"` was refused with "the column holds False, True", and a production log
in CSV disagreed with a Parquet reference (every window alerted on a shift that was not
there). A label of 1.0 did not match `positive: 1` (the default `mlscope init` writes):
the evaluation refused it, and the monitor read every labelled row as a negative.
Generated data (seeded).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from sklearn.metrics import roc_auc_score

import mlscope
from mlscope.cli import main
from mlscope.data.labels import is_positive_label
from tests.conftest import base_charter, binary_frame
from tests.monitor_data import population, stamp, write_project


def _frame() -> pd.DataFrame:
    df = binary_frame(n=600, seed=11)
    rng = np.random.default_rng(11)
    df["promo"] = rng.choice(["yes", "no"], len(df))
    df["flag"] = rng.random(len(df)) < 0.5  # pandas writes True/False
    return df


def _run(tmp_path: Path, df: pd.DataFrame, **data: Any) -> mlscope.EvaluationResult:
    df.to_csv(tmp_path / "eval.csv", index=False)
    ch = base_charter(table="eval.csv")
    ch["data"].update(data)
    ch["slices"] = {"columns": ["promo", "flag"], "min_size": 10}
    path = tmp_path / "mlscope.yaml"
    path.write_text(yaml.safe_dump(ch, sort_keys=False), encoding="utf-8")
    return mlscope.evaluate(path, resamples=0)


def _auc(result: mlscope.EvaluationResult, df: pd.DataFrame, y: np.ndarray) -> None:
    rows = (df["split"] == "validation").to_numpy()
    got = result.value("roc_auc", "good", split="validation").value
    assert got == pytest.approx(roc_auc_score(y[rows], df["p_good"][rows]), abs=1e-12)


def test_yes_no_slices_keep_their_words_and_true_false_stays_boolean(
        tmp_path: Path) -> None:
    df = _frame()
    result = _run(tmp_path, df)
    slices = {v.slice for v in result.values}
    assert {"promo=yes", "promo=no"} <= slices
    assert not any(s.startswith("promo=true") or s.startswith("promo=false") for s in slices)
    assert {"flag=true", "flag=false"} <= slices  # True/False: read as a boolean, as before


@pytest.mark.parametrize("positive", ["Yes", True, False], ids=["quoted", "yaml-yes", "no"])
def test_a_yes_no_label_matches_positive(tmp_path: Path, positive: Any) -> None:
    """Yes/No labels in a CSV: `positive: "Yes"` (once refused with "holds False, True"),
    YAML's `positive: yes` (true) and `positive: no` (false)."""
    df = _frame()
    y = df["label"].to_numpy()
    df["label"] = np.where(y == 1, "Yes", "No")
    result = _run(tmp_path, df, positive=positive)
    _auc(result, df, y if positive is not False else 1 - y)


def test_a_yes_no_label_asks_which_is_positive_as_in_parquet(tmp_path: Path) -> None:
    """Without `data.positive`, a CSV's Yes/No labels get the Parquet file's question
    (mlscope never guesses the positive class), not a guess through a boolean."""
    df = _frame()
    df["label"] = np.where(df["label"] == 1, "Yes", "No")
    with pytest.raises(mlscope.InputError, match="say which one is positive"):
        _run(tmp_path, df)


def test_t_f_labels_match_positive_true(tmp_path: Path) -> None:
    """t/f (PostgreSQL's CSV booleans) with `positive: true`."""
    df = _frame()
    y = df["label"].to_numpy()
    df["label"] = np.where(y == 1, "t", "f")
    _auc(_run(tmp_path, df, positive=True), df, y)


def test_a_float_label_matches_positive_one(tmp_path: Path) -> None:
    """Labels 0.0/1.0 (a float column) with `positive: 1`, as `mlscope init` writes it:
    once refused with "holds 0.0, 1.0"; `positive: 0` makes 0.0 the positive class."""
    df = binary_frame(n=600, seed=12)
    y = df["label"].to_numpy()
    df["label"] = y.astype(float)
    df.to_parquet(tmp_path / "eval.parquet", index=False)
    for positive, expected in ((1, y), (0, 1 - y)):
        ch = base_charter()
        ch["data"]["positive"] = positive
        path = tmp_path / "mlscope.yaml"
        path.write_text(yaml.safe_dump(ch, sort_keys=False), encoding="utf-8")
        result = mlscope.evaluate(path, resamples=0)
        _auc(result, df, expected)


@pytest.mark.parametrize(("positive", "value", "hit"), [
    (1, 1.0, True), (1, 0.0, False), (1, np.int64(1), True), (1, "1", True),
    (True, "yes", True), (True, "No", False), (True, "t", True), (True, True, True),
    (False, "no", True), ("yes", "yes", True), ("yes", "Yes", False), ("MM", "MM", True),
    (1, True, False),
])
def test_is_positive_label(positive: Any, value: Any, hit: bool) -> None:
    assert is_positive_label(positive, value) is hit


def test_monitor_reads_float_labels_and_csv_words_like_the_reference(tmp_path: Path) -> None:
    """A CSV log whose labels are 1.0/0.0 with gaps (late labels) and whose `tier`
    feature is yes/no, against a Parquet reference with the same words: no label shift,
    no feature shift, and the realised ROC AUC of the labelled rows."""
    rng = np.random.default_rng(5)
    ref = population(3000, rng)
    ref["tier"] = rng.choice(["yes", "no"], len(ref))
    charter = write_project(tmp_path, ref, monitor={
        "features": ["age", "region", "tier"], "window": {"by": "time", "every": "1d"}})
    doc = yaml.safe_load(charter.read_text())
    doc["data"]["positive"] = 1
    charter.write_text(yaml.safe_dump(doc, sort_keys=False))
    windows = []
    for _ in range(3):
        w = population(1500, rng)
        w["tier"] = rng.choice(["yes", "no"], len(w))
        windows.append(w)
    log = stamp(windows)
    log["label"] = log["label"].astype(float)
    log.loc[log.index[-200:], "label"] = np.nan  # not arrived yet: a float column
    log.to_csv(tmp_path / "log.csv", index=False)
    res = CliRunner().invoke(main, ["monitor", str(charter), "--log", str(tmp_path / "log.csv"),
                                    "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    out = json.loads((tmp_path / "out" / "monitor.json").read_text())
    checks = [c for w in out["windows"] for c in w["checks"]]
    assert not [c for c in checks if c["kind"] in ("label_share", "shift") and c["alert"]]
    first = log[log["served_at"] < log["served_at"].min().normalize() + pd.Timedelta(days=1)]
    realised = [e["realised"] for p in out["windows"][0]["performance"]
                for e in p["estimates"] if e["metric"] == "roc_auc"]
    assert realised == [pytest.approx(roc_auc_score(first["label"], first["p_model"]),
                                      abs=1e-12)]
