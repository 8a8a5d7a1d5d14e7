"""Diagnosis: the gaps, the bottleneck, the next steps, weak slices, and `mlscope diagnose`.

The worked cases are the classic ones from the practitioners' literature (errors on train /
train-dev / dev against a human level near 0). End-to-end data are generated (seeded) with
a planted weak slice and a model that overfits its training rows.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import mlscope
from mlscope.cli import main
from mlscope.diagnose.gaps import compute_gaps, next_steps
from mlscope.diagnose.slices import weak_slices
from mlscope.report import render_html
from mlscope.result import EvaluationResult
from mlscope.result.diagnosis import SplitValue


def _case(errors: dict[str, float], human: float = 0.0, sd: float = 0.002,
          margin: float = 0.02) -> tuple[str | None, list[Any], list[Any]]:
    """Gaps for error rates (lower is better) with narrow, seeded bootstrap replicates and
    a practical margin of 2 points."""
    rng = np.random.default_rng(0)
    values = {"baseline": SplitValue(role="baseline", split=None, value=human)}
    reps: dict[str, Any] = {"baseline": None}
    for role, e in errors.items():
        values[role] = SplitValue(role=role, split=role, value=e)
        reps[role] = e + rng.normal(0, sd, size=1000)
    gaps = compute_gaps(values, reps, direction="lower", upper_bound=None, margin=margin)
    bottleneck, steps = next_steps(gaps, values, metric="error", upper_kind="human")
    return bottleneck, gaps, steps


def test_variance_case_1_5_5() -> None:
    bottleneck, gaps, steps = _case({"train": 0.01, "train_dev": 0.05, "validation": 0.05})
    assert bottleneck == "variance"
    counting = {g.name for g in gaps if g.counts}
    assert "variance" in counting
    assert "mismatch" not in counting
    assert steps[-1].area == "overfitting" or any(s.area == "overfitting" for s in steps)
    over = next(s for s in steps if s.area == "overfitting")
    assert "train-dev 0.05 vs train 0.01" in over.evidence
    assert any("regularization" in a for a in over.actions)


def test_bias_case_10_11_12() -> None:
    bottleneck, _gaps, steps = _case({"train": 0.10, "train_dev": 0.11, "validation": 0.12})
    assert bottleneck == "avoidable_bias"
    assert steps[0].area == "underfitting"
    assert "train 0.1 vs the upper baseline 0" in steps[0].evidence
    assert any("bigger or more expressive model" in a for a in steps[0].actions)
    assert any("learning rate" in a for a in steps[0].actions)


def test_bias_and_mismatch_case_10_11_20() -> None:
    bottleneck, gaps, steps = _case({"train": 0.10, "train_dev": 0.11, "validation": 0.20})
    counting = {g.name for g in gaps if g.counts}
    assert {"avoidable_bias", "mismatch"} <= counting
    assert "variance" not in counting
    assert bottleneck == "avoidable_bias"
    # In the order practitioners fix them: underfitting first, then mismatch.
    areas = [s.area for s in steps]
    assert areas.index("underfitting") < areas.index("mismatch")


def test_without_train_dev_variance_and_mismatch_are_one_gap() -> None:
    bottleneck, gaps, steps = _case({"train": 0.01, "validation": 0.08})
    names = [g.name for g in gaps]
    assert "variance_or_mismatch" in names
    assert "variance" not in names
    assert bottleneck == "variance_or_mismatch"
    assert any("train-dev" in a for s in steps for a in s.actions)


def test_a_gap_within_margin_or_noise_does_not_count() -> None:
    _, gaps, _ = _case({"train": 0.01, "train_dev": 0.013, "validation": 0.014},
                       margin=0.01)
    assert not any(g.counts for g in gaps)
    _, gaps, _ = _case({"train": 0.01, "train_dev": 0.05}, sd=0.05, margin=0.001)
    v = next(g for g in gaps if g.name == "variance")
    assert not v.counts
    assert "includes 0" in v.reason


def test_a_later_stage_that_does_better_is_no_gap_not_one_within_the_margin() -> None:
    """Test better than validation by more than the margin: the gap is negative, does
    not count, and its reason says the later stage is no worse (not "within the margin",
    which a gap of −0.03 is not)."""
    _, gaps, _ = _case({"train": 0.05, "validation": 0.08, "test": 0.05})
    overfit = next(g for g in gaps if g.name == "validation_overfit")
    assert overfit.value == pytest.approx(-0.03)
    assert not overfit.counts
    assert overfit.reason == "−0.0300: test is no worse than validation"


def test_a_gap_equal_to_the_margin_does_not_count() -> None:
    """The textbook 1% / 5% / 5% case read as accuracy: 1 − 0.99 is 0.010000000000000009
    in floating point, which must not count as exceeding the 1-point margin."""
    rng = np.random.default_rng(0)
    values = {"baseline": SplitValue(role="baseline", split=None, value=1.0)}
    reps: dict[str, Any] = {"baseline": None}
    for role, acc in (("train", 0.99), ("train_dev", 0.95), ("validation", 0.95)):
        values[role] = SplitValue(role=role, split=role, value=acc)
        reps[role] = acc + rng.normal(0, 0.0005, size=1000)
    gaps = compute_gaps(values, reps, direction="higher", upper_bound=1.0, margin=0.01)
    bias = next(g for g in gaps if g.name == "avoidable_bias")
    assert bias.value is not None
    assert bias.value > 0.01  # the rounding is really there
    assert not bias.counts
    assert "within the practical margin" in bias.reason
    bottleneck, steps = next_steps(gaps, values, metric="accuracy", upper_kind="human")
    assert bottleneck == "variance"
    assert steps[0].area == "overfitting"
    assert "underfitting" not in [s.area for s in steps]
    # Just over the margin still counts.
    values["train"] = SplitValue(role="train", split="train", value=0.989)
    reps["train"] = 0.989 + rng.normal(0, 0.0005, size=1000)
    gaps = compute_gaps(values, reps, direction="higher", upper_bound=1.0, margin=0.01)
    assert next(g for g in gaps if g.name == "avoidable_bias").counts


def test_above_human_level_points_to_error_analysis() -> None:
    _, _, steps = _case({"train": 0.01, "validation": 0.012}, human=0.05)
    assert steps[0].area == "above-human"
    assert "error analysis on slices" in steps[0].actions[0]


def test_weak_slice_search_controls_false_discoveries() -> None:
    """No slice is truly worse: over many simulated runs of 30 slices the share of runs
    with any discovery stays near the nominal 5% (BH under the complete null)."""
    rng = np.random.default_rng(5)
    runs, any_found = 300, 0
    for _ in range(runs):
        overall = 0.8 + rng.normal(0, 0.002, size=400)
        slices, reps = {}, {}
        for i in range(30):
            est = 0.8 + rng.normal(0, 0.02)
            slices[f"s={i}"] = (est, 200)
            reps[f"s={i}"] = est + rng.normal(0, 0.02, size=400)
        found, tested = weak_slices(split="v", overall=0.8, overall_reps=overall,
                                    slices=slices, slice_reps=reps, n_total=6000,
                                    direction="higher", upper_bound=1.0, min_size=30)
        assert tested == 30
        any_found += any(w.significant for w in found)
    assert any_found / runs <= 0.08


def frame(n: int = 8000, seed: int = 0) -> pd.DataFrame:
    """Generated: a label from one feature; region `east` is noisier for the model (a
    planted weak slice); the model memorised its training rows (scores near the label)."""
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east", "west"], size=n)
    device = rng.choice(["ios", "android", "web"], size=n)
    split = rng.choice(["train", "train-dev", "validation", "test"], size=n,
                       p=[0.4, 0.2, 0.2, 0.2])
    z = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-2 * z))).astype(int)
    noise = np.where(region == "east", 5.0, 0.7)
    score = 1 / (1 + np.exp(-(2 * z + rng.normal(size=n) * noise)))
    train = split == "train"
    score[train] = np.clip(0.85 * y[train] + 0.15 * score[train], 0, 1)  # memorised
    return pd.DataFrame({"id": np.arange(n), "y": y, "split": split, "region": region,
                         "device": device, "model": score, "x": z})


def charter(**over: Any) -> dict[str, Any]:
    c: dict[str, Any] = {
        "project": "diag", "task": "binary", "seed": 2,
        "data": {"table": "eval.parquet", "id": "id", "label": "y", "split": "split",
                 "models": {"model": "model"}},
        "splits": {"selection": "validation", "report": "test", "train": "train",
                   "train_dev": "train-dev"},
        "slices": {"columns": ["region", "device"], "min_size": 50},
        "metrics": ["roc_auc", "log_loss"],
        "selection": {"rule": "satisficing", "optimize": "roc_auc"},
        "baselines": {"prior": {"kind": "prior"},
                      "simple": {"kind": "logistic", "features": ["x"]}},
        "intervals": {"resamples": 300},
    }
    c.update(over)
    return c


def write(tmp: Path, c: dict[str, Any], df: pd.DataFrame | None = None) -> Path:
    (df if df is not None else frame()).to_parquet(tmp / "eval.parquet", index=False)
    p = tmp / "mlscope.yaml"
    p.write_text(yaml.safe_dump(c, sort_keys=False), encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def diagnosed(tmp_path_factory: pytest.TempPathFactory) -> EvaluationResult:
    tmp = tmp_path_factory.mktemp("diag")
    return mlscope.evaluate(write(tmp, charter(intervals={"resamples": 1000})), diagnose=True)


def test_end_to_end_finds_overfitting_and_the_planted_slice(diagnosed: EvaluationResult
                                                             ) -> None:
    d = diagnosed.diagnosis
    assert d is not None
    assert d.model == "model"
    assert d.metric == "roc_auc"
    assert d.bottleneck == "variance"
    variance = next(g for g in d.gaps if g.name == "variance")
    assert variance.counts
    assert variance.lower is not None
    assert variance.lower > 0
    mismatch = next(g for g in d.gaps if g.name == "mismatch")
    assert not mismatch.counts  # train-dev and validation come from the same distribution
    assert {v.role for v in d.values} == {"baseline", "train", "train_dev", "validation",
                                          "test"}
    assert d.weak_evidence  # the ceiling is a learned baseline, not human level
    sig = [w.slice for w in d.weak_slices if w.significant]
    assert sig
    assert sig[0].startswith("region=east")
    assert all("region=east" in s for s in sig)  # nothing else is flagged
    assert any("region=east × device=" in w.slice for w in d.weak_slices)  # pairs searched
    assert d.errors["false_positives"] > 0
    assert len(d.errors["fp_examples"]) == 5
    assert d.errors["fp_examples"][0]["score"] >= d.errors["fp_examples"][-1]["score"]
    assert any(s.check == "beats_trivial" and s.ok for s in d.sanity)
    back = EvaluationResult.from_dict(diagnosed.to_dict())
    assert back.diagnosis == d


def test_cli_diagnose_prints_and_writes(tmp_path: Path) -> None:
    p = write(tmp_path, charter(intervals={"resamples": 200}))
    r = CliRunner().invoke(main, ["diagnose", str(p), "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert "Diagnosis of model" in r.output
    assert "variance ◀ bottleneck" in r.output
    assert "Overfitting" in r.output
    # The gaps in the values' decimals with a true minus (not "-0.002534 [-0.0167, ..."),
    # in the table and in the steps' evidence.
    flat = " ".join(r.output.split())
    table = flat.split("The gaps")[1].split("1. ")[0]
    numbers = re.findall(r"[+−-]?\d+\.\d+", table)
    assert len(numbers) >= 12  # five stages' values, four gaps with their intervals
    assert all(len(n.split(".")[1]) == 4 for n in numbers), numbers
    assert not any(n.startswith("-") for n in numbers), numbers
    assert "variance +0.2" in flat  # the evidence: four decimals, the interval too
    evidence = re.search(r"variance ([+−]\d+\.\d+) \[([+−]\d+\.\d+), ([+−]\d+\.\d+)\]",
                         flat)
    assert evidence is not None
    assert all(len(g.split(".")[1]) == 4 for g in evidence.groups())
    html = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    assert "Diagnosis of model" in html
    assert "chart gaps" in html
    # A gap that does not count is named with "none" and why, never as a bare finding.
    diag = EvaluationResult.from_json(tmp_path / "o" / "result.json").diagnosis
    assert diag is not None
    quiet = [g for g in diag.gaps if g.value is not None and not g.counts]
    assert quiet
    for g in quiet:
        assert re.search(re.escape(g.label) + r": none \((within noise|within the margin|"
                         r"[a-z-]+ no worse)\)", table), (g.label, table)


@pytest.mark.parametrize(("splits", "expected"), [
    pytest.param({"train": "training"}, "splits.train is `training`, but the data have no "
                 "rows with that split", id="train-missing"),
    pytest.param({"train_dev": "dev2"}, "splits.train_dev is `dev2`", id="train-dev-missing"),
    pytest.param({"train": None}, "set `splits.train`", id="no-train"),
])
def test_bad_splits_exit_2(tmp_path: Path, splits: dict[str, Any], expected: str) -> None:
    c = charter()
    c["splits"] = {**c["splits"], **splits}
    c["baselines"] = {"prior": {"kind": "prior", "fit_on": "train"}}
    r = CliRunner().invoke(main, ["diagnose", str(write(tmp_path, c)), "-q", "--resamples",
                                  "0"])
    assert r.exit_code == 2, r.output
    assert expected in r.output


def test_diagnose_unknown_model_exits_2(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["diagnose", str(write(tmp_path, charter())), "-q",
                                  "--model", "modle", "--resamples", "0"])
    assert r.exit_code == 2
    assert "did you mean `model`" in r.output


def test_pose_estimation_focus_end_to_end(tmp_path: Path) -> None:
    """The classic case, generated: three pose models with position error near 1 cm
    (requirement < 1 cm), angular error near 60° (requirement 5°) and inference time over
    budget → optimize angular error, threshold position error at 1 cm, set time aside."""
    rng = np.random.default_rng(4)
    n = 1500
    df = pd.DataFrame({"frame": np.arange(n),
                       "split": rng.choice(["train", "validation"], size=n, p=[0.5, 0.5])})
    for m, (pos, ang, ms) in {"a": (0.97, 58, 45), "b": (1.02, 61, 50),
                              "c": (1.05, 63, 52)}.items():
        df[f"pos_{m}"] = rng.gamma(4.0, pos / 4.0, size=n)
        df[f"ang_{m}"] = rng.gamma(4.0, ang / 4.0, size=n)
        df[f"ms_{m}"] = rng.normal(ms, 3.0, size=n)
    c = {"project": "pose", "task": "errors",
         "data": {"table": "eval.parquet", "id": "frame", "split": "split",
                  "errors": {e: {m: f"{e}_{m}" for m in "abc"} for e in ("pos", "ang", "ms")}},
         "splits": {"selection": "validation", "report": None, "train": "train"},
         "metrics": [{"id": "position_error", "metric": "error_mean", "error": "pos"},
                     {"id": "angular_error", "metric": "error_mean", "error": "ang"},
                     {"id": "inference_ms", "metric": "error_mean", "error": "ms"}],
         "selection": {"rule": "satisficing", "optimize": "position_error"},
         "requirements": {"position_error": "<= 1.0", "angular_error": "<= 5",
                          "inference_ms": "<= 30"},
         "diagnosis": {"budgets": ["inference_ms"]},
         "intervals": {"resamples": 100}}
    res = mlscope.evaluate(write(tmp_path, c, df), diagnose=True)
    focus = res.diagnosis.focus
    assert focus is not None
    roles = {r["metric"]: r["role"] for r in focus["rows"]}
    assert roles == {"angular_error": "optimize", "position_error": "threshold",
                     "inference_ms": "set aside"}
    assert focus["proposed_rule"] == {"rule": "satisficing", "optimize": "angular_error",
                                      "constraints": {"position_error": "<= 1"}}


def test_learning_curve_and_history_in_the_diagnosis(tmp_path: Path) -> None:
    # Measured points from a known power law (error = 0.5·n^-0.4 + 0.05, generated).
    sizes = [500, 1000, 2000, 4000, 8000, 16000]
    acc = [1 - (0.5 * s ** -0.4 + 0.05) for s in sizes]
    steps = np.arange(1, 41)
    hist = pd.DataFrame({"step": steps, "train_loss": 0.69 * np.exp(-steps / 15) + 0.2,
                         "val_loss": 0.69 * np.exp(-steps / 15) + 0.25})
    hist.to_csv(tmp_path / "history.csv", index=False)
    c = charter(metrics=["roc_auc", "log_loss", {"metric": "accuracy", "threshold": 0.5}],
                selection={"rule": "satisficing", "optimize": "accuracy"},
                requirements={"accuracy": ">= 0.97"},
                diagnosis={"history": "history.csv",
                           "learning_curve": {"sizes": sizes, "values": acc}},
                intervals={"resamples": 100})
    res = mlscope.evaluate(write(tmp_path, c), diagnose=True)
    lc = res.diagnosis.learning_curve
    assert lc is not None
    assert lc["curve"]["b"] == pytest.approx(0.4, abs=0.05)
    # The curve levels off at accuracy 0.95: a requirement of 0.97 is out of reach.
    assert lc["needed"]["reachable"] is False
    assert "out of reach" in lc["needed"]["note"].lower()
    assert any(s.area == "data" for s in res.diagnosis.steps)
    h = res.diagnosis.history
    assert h is not None
    assert {f["check"] for f in h["findings"]} >= {"initial_loss", "train_decreasing"}
    # The result holds the curves' numbers; the report draws both charts from them.
    assert "svg" not in h
    assert len(h["curves"]["val"]["loss"]) == 40
    html = render_html(res)
    assert 'class="chart history"' in html
    assert 'class="chart learning-curve"' in html


def test_history_with_wrong_columns_exits_2(tmp_path: Path) -> None:
    pd.DataFrame({"iteration": [1, 2], "loss": [0.7, 0.6]}).to_csv(tmp_path / "h.csv",
                                                                   index=False)
    c = charter(diagnosis={"history": "h.csv"})
    r = CliRunner().invoke(main, ["diagnose", str(write(tmp_path, c)), "-q", "--resamples",
                                  "0"])
    assert r.exit_code == 2, r.output
    assert "h.csv" in r.output
    assert "val_loss" in r.output


def test_rare_classes_flagged_for_multiclass(tmp_path: Path) -> None:
    """Generated: class `rare` is 3% of the rows and the model almost never predicts it."""
    rng = np.random.default_rng(9)
    n = 4000
    y = rng.choice(["a", "b", "rare"], size=n, p=[0.6, 0.37, 0.03])
    p = np.full((n, 3), 0.05)
    idx = {"a": 0, "b": 1, "rare": 2}
    for i, c in enumerate(y):
        k = idx[c] if c != "rare" else (0 if rng.random() < 0.8 else 2)
        p[i, k] = 0.9
    df = pd.DataFrame({"id": np.arange(n), "y": y,
                       "split": rng.choice(["train", "validation"], size=n),
                       "p_a": p[:, 0], "p_b": p[:, 1], "p_rare": p[:, 2]})
    c = {"project": "mc", "task": "multiclass",
         "data": {"table": "eval.parquet", "id": "id", "label": "y", "split": "split",
                  "models": {"m": {"a": "p_a", "b": "p_b", "rare": "p_rare"}}},
         "splits": {"selection": "validation", "report": None, "train": "train"},
         "metrics": ["accuracy"], "selection": {"rule": "satisficing", "optimize": "accuracy"},
         "intervals": {"resamples": 50}}
    res = mlscope.evaluate(write(tmp_path, c, df), diagnose=True)
    rare = {r["class"]: r for r in res.diagnosis.rare_classes}
    assert rare["rare"]["rare"]
    assert rare["rare"]["flag"]
    assert rare["rare"]["recall"] < 0.4
    assert not rare["a"]["flag"]


def test_a_baseline_below_the_model_is_no_upper_baseline(tmp_path: Path) -> None:
    # The only learned baseline reads the device, which says nothing about the label: the
    # model beats it on validation, so it bounds nothing. Before, it stood as the upper
    # baseline and the table read a negative "avoidable bias".
    c = charter(baselines={"prior": {"kind": "prior"},
                           "by_device": {"kind": "logistic", "features": ["device"]}},
                intervals={"resamples": 200})
    res = mlscope.evaluate(write(tmp_path, c), diagnose=True)
    d = res.diagnosis
    assert d is not None
    assert "baseline" not in {v.role for v in d.values}
    bias = next(g for g in d.gaps if g.name == "avoidable_bias")
    assert bias.value is None  # not measured: no negative "avoidable bias"
    assert not bias.counts
    [note] = [n for n in d.notes if "no upper baseline" in n]
    assert "by_device" in note
    assert "does no better than model" in note
    assert d.margin == pytest.approx(0.01)  # ROC AUC: one point, whatever the reference
