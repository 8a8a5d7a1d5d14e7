"""The training history read with the charter's metric per step (issue 20): the validation
loss and the metric may disagree about the best checkpoint, and the one to keep is the
metric's. Curves are generated (seeded) with the two optima at known steps."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlscope.diagnose.history import check_history, load_history, metric_columns

STEPS = np.arange(0, 401, 10, dtype=float)
LN2 = math.log(2)


def _frame(metric_peak: float, loss_min: float = 200.0, column: str = "val_f1",
           seed: int = 0) -> pd.DataFrame:
    # Known truth: the validation loss is a parabola lowest at `loss_min`; the metric a
    # (negated) parabola highest at `metric_peak`; tiny seeded noise.
    rng = np.random.default_rng(seed)
    train = 0.15 + (LN2 - 0.15) * np.exp(-STEPS / 80)
    val = 0.30 + 1e-6 * (STEPS - loss_min) ** 2 + rng.normal(scale=1e-5, size=STEPS.size)
    metric = 0.80 - 1e-6 * (STEPS - metric_peak) ** 2
    return pd.DataFrame({"step": STEPS, "train_loss": train, "val_loss": val,
                         column: metric})


def _finding(df: pd.DataFrame, metric: str = "f1", higher: bool = True):  # type: ignore[no-untyped-def]
    hist = load_history(df, metric=metric)
    found = {f.check: f for f in check_history(hist, task="binary", positive_rate=0.5,
                                               metric=metric, higher_is_better=higher)}
    return found.get("best_checkpoint")


def test_disagreement_recommends_the_metrics_checkpoint() -> None:
    f = _finding(_frame(metric_peak=320.0))
    assert f is not None
    assert not f.ok
    assert f.severity == "warning"
    assert f.figures["loss_step"] == 200.0
    assert f.figures["metric_step"] == 320.0
    assert f.figures["metric_best"] == pytest.approx(0.80)
    assert f.figures["metric_at_loss_best"] == pytest.approx(0.80 - 1e-6 * 120 ** 2)
    assert "Keep the checkpoint of step 320" in f.message


def test_agreement_is_an_informative_finding() -> None:
    f = _finding(_frame(metric_peak=200.0))
    assert f is not None
    assert f.ok
    assert "agree on the best checkpoint: step 200" in f.message


def test_lower_is_better_metric_and_other_column_names() -> None:
    # An error-like metric logged by Hugging Face as eval_<metric>: lowest is best.
    df = _frame(metric_peak=120.0, column="eval_brier")
    df["eval_brier"] = 1.0 - df["eval_brier"]  # lowest at step 120
    f = _finding(df, metric="brier", higher=False)
    assert f is not None
    assert f.figures["metric_step"] == 120.0
    assert not f.ok
    assert metric_columns("brier")[0] == "val_brier"


def test_no_metric_column_no_finding_and_sparse_logging() -> None:
    assert _finding(_frame(metric_peak=320.0), metric="roc_auc") is None  # not logged
    # The metric logged at every 4th step only (NaN elsewhere): read where logged.
    df = _frame(metric_peak=320.0)
    df.loc[df.index % 4 != 0, "val_f1"] = np.nan
    f = _finding(df)
    assert f is not None
    assert f.figures["metric_step"] == 320.0


def test_diagnose_reads_the_charters_metric_from_the_history(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mlscope.cli import main
    from tests.conftest import base_charter, binary_frame

    binary_frame(n=600, seed=2).to_parquet(tmp_path / "eval.parquet", index=False)
    ch = base_charter("eval.parquet")
    optimize = ch["selection"]["optimize"]
    df = _frame(metric_peak=320.0, column=f"val_{optimize}")
    df.to_csv(tmp_path / "history.csv", index=False)
    ch["diagnosis"] = {"history": "history.csv"}
    (tmp_path / "mlscope.yaml").write_text(yaml.safe_dump(ch, sort_keys=False))
    r = CliRunner().invoke(main, ["diagnose", str(tmp_path / "mlscope.yaml")],
                           terminal_width=200)
    assert r.exit_code in (0, 1), r.output
    assert "disagree on the best checkpoint" in r.output
    assert "Keep the checkpoint of step 320" in r.output
