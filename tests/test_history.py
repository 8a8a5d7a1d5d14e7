"""Training history: loading (formats, merging, errors), the checks on generated curves,
and the chart.

Curves are generated from closed forms plus small seeded noise (``np.random.default_rng``
with a fixed seed), so each has a known truth: where validation turns, where it diverges.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlscope.diagnose.history import (
    History,
    HistoryFinding,
    check_history,
    load_history,
    spearman,
)
from mlscope.errors import InputError
from mlscope.report.diagnosis_charts import history_svg

LN2, LN10 = math.log(2), math.log(10)
STEPS = np.arange(0, 1001, 10, dtype=float)


def frame(train: np.ndarray, val: np.ndarray, steps: np.ndarray = STEPS,
          **extra: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"step": steps, "train_loss": train, "val_loss": val, **extra})


def by_check(findings: list[HistoryFinding]) -> dict[str, HistoryFinding]:
    return {f.check: f for f in findings}


def noise(seed: int, sd: float, n: int = len(STEPS)) -> np.ndarray:
    return np.random.default_rng(seed).normal(scale=sd, size=n)


# -- generated curves (seeded) ------------------------------------------------------------


def clean_binary() -> pd.DataFrame:
    """Starts at ln 2, converges to 0.15; validation 0.02 above, both still falling."""
    train = 0.15 + (LN2 - 0.15) * np.exp(-STEPS / 200) + noise(1, 0.002)
    val = 0.17 + (LN2 - 0.17) * np.exp(-STEPS / 200) + noise(2, 0.002)
    return frame(train, val)


def overfitting(k: float = 400.0) -> pd.DataFrame:
    """10 classes: validation falls until step k, then rises linearly; training keeps
    falling."""
    train = 0.1 + (LN10 - 0.1) * np.exp(-STEPS / 150) + noise(3, 0.002)
    before = 0.5 + (LN10 - 0.5) * np.exp(-STEPS / 150)
    at_k = 0.5 + (LN10 - 0.5) * math.exp(-k / 150)
    val = np.where(k >= STEPS, before, at_k + 0.0015 * (STEPS - k)) + noise(4, 0.002)
    return frame(train, val)


def flat_binary() -> pd.DataFrame:
    """Barely learns: 0.69 → 0.64 in training, validation ~0.67."""
    train = 0.69 - 0.05 * STEPS / 1000 + noise(5, 0.004)
    val = 0.675 - 0.01 * STEPS / 1000 + noise(6, 0.004)
    return frame(train, val)


# -- checks -------------------------------------------------------------------------------


def test_clean_curve_has_only_informative_findings() -> None:
    h = load_history(clean_binary())
    found = check_history(h, task="binary")
    assert [f.check for f in found] == ["initial_loss", "train_decreasing", "divergence",
                                        "best_val", "overfitting", "variance",
                                        "underfitting"]
    assert all(f.ok and f.severity == "info" for f in found), [f.message for f in found]
    f = by_check(found)
    assert f["initial_loss"].figures["expected"] == pytest.approx(LN2)
    assert f["train_decreasing"].figures["spearman"] < -0.9
    assert f["best_val"].figures["best_step"] >= 900  # still falling at the end
    assert "training longer may help" in f["best_val"].message


def test_overfitting_is_found_where_validation_turns() -> None:
    k = 400.0
    f = by_check(check_history(load_history(overfitting(k)), task="multiclass",
                               n_classes=10))
    over = f["overfitting"]
    assert not over.ok
    assert over.severity == "warning"
    # The turn is at k; seeded noise may move the minimum by one logged step at most.
    assert abs(over.figures["since_step"] - k) <= 10
    assert over.figures["last_val"] > over.figures["best_val"] * 1.5
    assert over.figures["gap_last"] > over.figures["gap_at_best"]
    assert f"overfitting since step {over.figures['since_step']:g}" in over.message
    assert f["initial_loss"].ok  # starts at ln 10
    assert f["train_decreasing"].ok
    assert f["divergence"].ok


def test_nan_loss_is_divergence_not_an_input_error() -> None:
    df = clean_binary()
    df.loc[df.step >= 600, ["train_loss", "val_loss"]] = np.nan
    h = load_history(df)
    assert h.train_logged.all()  # NaN in both losses of a row is kept
    f = by_check(check_history(h, task="binary"))
    div = f["divergence"]
    assert not div.ok
    assert div.severity == "error"
    assert div.figures["nonfinite_step"] == 600
    assert "lower the learning rate" in div.message
    assert "clip gradients" in div.message


def test_blow_up_without_nan_is_divergence() -> None:
    train = np.where(STEPS <= 500, 0.2 + 2.1 * np.exp(-STEPS / 100),
                     0.2 * np.exp((STEPS - 500) / 100))
    val = train + 0.05
    f = by_check(check_history(load_history(frame(train, val)), task="multiclass",
                               n_classes=10))
    div = f["divergence"]
    assert not div.ok
    assert "blew up" in div.message
    assert div.figures["min_step"] == pytest.approx(500, abs=20)
    assert div.figures["late_loss"] > 10 * div.figures["min_loss"]


def test_inf_train_loss_reported_with_its_step(tmp_path: Path) -> None:
    p = tmp_path / "h.csv"
    p.write_text("step,train_loss,val_loss\n0,0.7,0.7\n1,0.5,0.6\n2,inf,\n3,nan,nan\n")
    f = by_check(check_history(load_history(p), task="binary"))
    assert f["divergence"].figures["nonfinite_step"] == 2
    assert "inf" in f["divergence"].message


def test_flat_curve_near_ln2_is_underfitting_against_the_trivial_baseline() -> None:
    h = load_history(flat_binary())
    f = by_check(check_history(h, task="binary", baseline_loss=0.693))
    under = f["underfitting"]
    assert not under.ok
    assert "barely below the trivial baseline 0.693" in under.message
    assert under.figures["late_train"] == pytest.approx(0.645, abs=0.01)
    assert f["initial_loss"].ok  # starts near ln 2
    # Same curves, a weaker baseline: the advice changes.
    g = by_check(check_history(h, task="binary", baseline_loss=1.2))
    assert g["underfitting"].ok
    # Without a baseline a binary task is compared with ln 2.
    assert not by_check(check_history(h, task="binary"))["underfitting"].ok


def test_wrong_initial_loss_for_ten_classes_is_flagged() -> None:
    train = 1.0 + 6.0 * np.exp(-STEPS / 100)  # starts at 7.0
    f = by_check(check_history(load_history(frame(train, train + 0.1)),
                               task="multiclass", n_classes=10))
    init = f["initial_loss"]
    assert not init.ok
    assert init.severity == "error"  # more than 3× the expected value
    assert init.figures["first_loss"] == pytest.approx(7.0)
    assert init.figures["expected"] == pytest.approx(LN10)
    assert init.figures["ratio"] == pytest.approx(7.0 / LN10)
    assert "ln 10 = 2.303" in init.message
    assert "label format" in init.message


def test_prior_initialisation_is_accepted_for_binary() -> None:
    """A model initialised at the base rate 6% starts at its entropy (0.227), not ln 2."""
    h0 = 0.06 * -math.log(0.06) + 0.94 * -math.log(0.94)
    train = 0.15 + (h0 - 0.15) * np.exp(-STEPS / 200)
    h = load_history(frame(train, train + 0.01))
    assert not by_check(check_history(h, task="binary"))["initial_loss"].ok
    ok = by_check(check_history(h, task="binary", positive_rate=0.06))["initial_loss"]
    assert ok.ok
    assert ok.figures["expected"] == pytest.approx(h0)


def test_suspiciously_low_initial_loss_suggests_leakage() -> None:
    train = 0.05 * np.exp(-STEPS / 300) + 0.01
    init = by_check(check_history(load_history(frame(train, train)), task="binary"))[
        "initial_loss"]
    assert not init.ok
    assert init.severity == "warning"
    assert "leakage" in init.message


def test_regression_initial_loss_needs_a_baseline() -> None:
    train = 1.0 + 24.0 * np.exp(-STEPS / 100)  # starts at 25 with baseline 2
    h = load_history(frame(train, train + 0.2))
    assert by_check(check_history(h, task="regression"))["initial_loss"].ok
    init = by_check(check_history(h, task="regression", baseline_loss=2.0))["initial_loss"]
    assert not init.ok
    assert "standardise the targets" in init.message
    under = by_check(check_history(h, task="regression"))["underfitting"]
    assert under.ok
    assert "not judged" in under.message


def test_not_decreasing_training_loss() -> None:
    train = LN10 + noise(7, 0.02)  # shuffled labels: stays at ln 10
    f = by_check(check_history(load_history(frame(train, train + noise(8, 0.02))),
                               task="multiclass", n_classes=10))
    dec = f["train_decreasing"]
    assert not dec.ok
    assert abs(dec.figures["drop"]) < 0.05
    assert "learning rate" in dec.message
    assert "shuffled" in dec.message


def test_variance_gap_from_the_start() -> None:
    train = 0.1 + 0.6 * np.exp(-STEPS / 200)
    val = 2.0 * train
    var = by_check(check_history(load_history(frame(train, val)), task="binary"))[
        "variance"]
    assert not var.ok
    assert var.figures["ratio"] == pytest.approx(2.0, rel=1e-6)


def test_loss_spikes_after_learning_rate_increases() -> None:
    train = 0.2 + 2.1 * np.exp(-STEPS / 150)
    lr = np.full(len(STEPS), 1e-3)
    lr[STEPS >= 500] = 1e-2  # a restart
    train[STEPS == 510] *= 4.0
    df = frame(train, train + 0.05, learning_rate=lr)
    h = load_history(df)
    assert h.columns["lr"] == "learning_rate"
    spikes = by_check(check_history(h, task="multiclass", n_classes=10))["lr_spikes"]
    assert not spikes.ok
    assert spikes.figures["after_lr_increase"] == 1
    assert "510" in spikes.message
    # Without a learning rate the check is not run.
    plain = check_history(load_history(frame(train, train + 0.05)), task="multiclass",
                          n_classes=10)
    assert "lr_spikes" not in by_check(plain)


def test_bad_check_arguments() -> None:
    h = load_history(clean_binary())
    with pytest.raises(InputError, match="did you mean `binary`"):
        check_history(h, task="binar")
    with pytest.raises(InputError, match="positive_rate"):
        check_history(h, task="binary", positive_rate=1.5)
    with pytest.raises(InputError, match="n_classes"):
        check_history(h, task="multiclass", n_classes=1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spearman_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 10, size=40).astype(float)  # ties on purpose
    y = x + rng.normal(size=40)
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert spearman([1.0, 2.0], [3.0, 4.0]) is None
    assert spearman([1.0, 2.0, 3.0], [5.0, 5.0, 5.0]) is None


# -- loading ------------------------------------------------------------------------------


def test_csv_with_sparse_rows_is_merged_by_step(tmp_path: Path) -> None:
    """Lightning-style: train and validation on separate rows of the same step."""
    p = tmp_path / "metrics.csv"
    p.write_text("step,epoch,train_loss,val_loss\n0,0,0.70,\n0,0,,0.71\n10,0,0.60,\n"
                 "20,1,0.50,\n20,1,,0.55\n")
    h = load_history(p)
    assert h.step.tolist() == [0, 10, 20]
    assert h.train_loss.tolist() == [0.70, 0.60, 0.50]
    assert h.val_logged.tolist() == [True, False, True]
    assert h.val().__getitem__(1).tolist() == [0.71, 0.55]
    assert h.epoch is not None
    assert h.epoch.tolist() == [0, 0, 1]
    assert h.source == str(p)


def test_json_formats_and_aliases(tmp_path: Path) -> None:
    records = tmp_path / "records.json"
    records.write_text(json.dumps([{"step": 1, "train_loss": 0.9, "val_loss": 1.0},
                                   {"step": 2, "train_loss": 0.8},
                                   {"step": 3, "train_loss": 0.7, "val_loss": 0.85}]))
    h = load_history(records)
    assert h.val_logged.tolist() == [True, False, True]

    columns = tmp_path / "columns.json"
    columns.write_text('{"step": [1, 2, 3], "train_loss": [0.9, NaN, 0.7], '
                       '"val_loss": [1.0, null, 0.8]}')
    h = load_history(columns)
    assert h.train_logged.tolist() == [True, True, True]  # NaN written: a NaN loss
    assert math.isnan(h.train_loss[1])
    assert h.val_logged.tolist() == [True, False, True]  # null: not logged

    hf = tmp_path / "trainer_state.json"  # Hugging Face: loss/eval_loss on separate records
    hf.write_text(json.dumps({"log_history": [
        {"step": 10, "epoch": 0.5, "loss": 1.2, "learning_rate": 5e-5},
        {"step": 20, "epoch": 1.0, "loss": 1.0, "learning_rate": 4e-5},
        {"step": 20, "epoch": 1.0, "eval_loss": 1.1}]}))
    h = load_history(hf)
    assert h.columns == {"step": "step", "train_loss": "loss", "val_loss": "eval_loss",
                         "lr": "learning_rate", "epoch": "epoch"}
    assert h.step.tolist() == [10, 20]
    assert h.lr is not None
    assert h.lr.tolist() == [5e-5, 4e-5]

    lines = tmp_path / "h.jsonl"
    lines.write_text('{"epoch": 0, "loss": 1.0, "val_loss": 1.1}\n\n'
                     '{"epoch": 1, "loss": 0.8, "val_loss": 0.9}\n')
    h = load_history(lines)  # Keras-style: epoch is the step
    assert h.columns["step"] == "epoch"
    assert len(h) == 2


def test_dataframe_nan_on_a_sparse_row_is_not_logged() -> None:
    df = pd.DataFrame({"step": [0, 1, 2, 3], "train_loss": [0.7, np.nan, 0.5, np.nan],
                       "val_loss": [np.nan, 0.72, np.nan, np.nan]})
    h = load_history(df)
    assert isinstance(h, History)
    assert h.train_logged.tolist() == [True, False, True, True]  # row 3: both NaN, kept
    assert h.val_logged.tolist() == [False, True, False, True]


def test_missing_file() -> None:
    with pytest.raises(InputError, match=r"diagnosis\.history: training history not found"):
        load_history("no/such/history.csv")


def test_missing_column_with_did_you_mean(tmp_path: Path) -> None:
    p = tmp_path / "h.csv"
    p.write_text("step,train_loss,val_los\n0,0.7,0.7\n1,0.6,0.65\n")
    with pytest.raises(InputError) as e:
        load_history(p, where="diagnosis.history")
    msg = str(e.value)
    assert "no `val_loss` column; did you mean `val_los`?" in msg
    assert str(p) in msg
    assert "columns: `step`, `train_loss`, `val_los`" in msg
    assert "Fix:" in msg


def test_non_numeric_value_names_column_row_and_value(tmp_path: Path) -> None:
    p = tmp_path / "h.csv"
    p.write_text("step,train_loss,val_loss\n0,0.7,0.7\n1,0.6,0.65\n2,abc,0.6\n")
    with pytest.raises(InputError) as e:
        load_history(p)
    msg = str(e.value)
    assert "column `train_loss`, line 4: 'abc' is not a number" in msg
    with pytest.raises(InputError, match=r"column `val_loss`, row 2: 'x'"):
        load_history(pd.DataFrame({"step": [0, 1], "train_loss": [1.0, 0.9],
                                   "val_loss": [1.0, "x"]}))


def test_too_few_rows(tmp_path: Path) -> None:
    p = tmp_path / "h.csv"
    p.write_text("step,train_loss,val_loss\n0,0.7,0.7\n")
    with pytest.raises(InputError, match="1 row"):
        load_history(p)
    p.write_text("step,train_loss,val_loss\n")
    with pytest.raises(InputError, match="no rows"):
        load_history(p)
    p.write_text("step,train_loss,val_loss\n0,0.7,\n1,,0.6\n")
    with pytest.raises(InputError, match="column `train_loss` has 1 value"):
        load_history(p)


def test_steps_must_increase_and_duplicates_agree(tmp_path: Path) -> None:
    p = tmp_path / "h.csv"
    p.write_text("step,train_loss,val_loss\n0,0.7,0.7\n10,0.6,0.65\n5,0.5,0.6\n")
    with pytest.raises(InputError, match="steps must increase: line 4 has step 5 after "
                                         "step 10"):
        load_history(p)
    p.write_text("step,train_loss,val_loss\n0,0.7,0.7\n10,0.6,\n10,0.5,0.6\n")
    with pytest.raises(InputError, match="step 10 appears on line 3 and line 4 with "
                                         "different `train_loss`"):
        load_history(p)
    p.write_text("step,train_loss,val_loss\n0,0.7,0.7\n,0.6,0.65\n")
    with pytest.raises(InputError, match="line 3: the step is empty"):
        load_history(p)


def test_unreadable_files(tmp_path: Path) -> None:
    bad = tmp_path / "h.json"
    bad.write_text('{"step": [1, 2], "train_loss": [0.5]')
    with pytest.raises(InputError, match="not valid JSON"):
        load_history(bad)
    bad.write_text('{"step": [1, 2], "train_loss": [0.5], "val_loss": [1, 2]}')
    with pytest.raises(InputError, match="different lengths"):
        load_history(bad)
    other = tmp_path / "h.parquet"
    other.write_bytes(b"PAR1")
    with pytest.raises(InputError, match="unsupported file type"):
        load_history(other)


# -- chart --------------------------------------------------------------------------------


def test_svg_renders_curves_best_step_and_baseline() -> None:
    h = load_history(clean_binary())  # spans 0.15 to 0.69: a linear axis
    svg = history_svg(h, baseline=LN2)
    root = ET.fromstring(svg)  # well-formed
    assert root.tag.endswith("svg")
    assert "trivial baseline 0.693" in svg
    assert "best validation" in svg
    assert svg.count("<polyline") == 2
    assert 'stroke-dasharray="5 4"' in svg
    assert "log scale" not in svg
    # Overfitting: 0.1 to 2.3 spans more than 10×, and the turn is marked.
    over = history_svg(load_history(overfitting()), baseline=LN10)
    assert "(log scale)" in over
    assert "at step 400" in over
    no_baseline = history_svg(h)
    assert "trivial baseline" not in no_baseline


def test_svg_log_scale_and_nan() -> None:
    train = 0.01 + 5.0 * np.exp(-STEPS / 50)  # spans 500×
    train[STEPS > 900] = np.nan
    svg = history_svg(load_history(frame(train, train * 1.2)), baseline=0.5,
                      baseline_label="prior")
    ET.fromstring(svg)
    assert "(log scale)" in svg
    assert "training non-finite from step 910" in svg
    assert "prior 0.5" in svg
