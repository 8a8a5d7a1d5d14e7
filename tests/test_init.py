"""`mlscope init` (issue 15, item 1): a charter proposed from a data file it has not seen,
written with its planning checklist, validated, and run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mlscope.charter import load_charter
from mlscope.charter.planning import CHECKLIST
from mlscope.cli import main
from mlscope.data.propose import Hints, propose

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "caravan"


def _binary(n: int = 600, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    noise = rng.normal(size=n)
    return pd.DataFrame({
        "account_id": [f"A{i:05d}" for i in range(n)],
        "region": rng.choice(["north", "south", "east"], n),
        "tenure_months": rng.integers(1, 60, n),
        "churned": y.astype(int),
        "score_xgb": 1 / (1 + np.exp(-(2.0 * y - 1 + noise))),
        "score_lr": 1 / (1 + np.exp(-(1.0 * y - 0.5 + noise))),
        "fold": rng.choice(["train", "valid", "test"], n),
    })


def _multiclass(n: int = 450, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    classes = np.array(["cat", "dog", "bird"])
    y = rng.integers(0, 3, n)
    out = {"target": classes[y], "split": rng.choice(["validation", "test"], n)}
    for model, sharp in (("gbdt", 2.0), ("knn", 0.7)):
        logits = rng.normal(size=(n, 3)) + sharp * np.eye(3)[y]
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        for k, c in enumerate(classes):
            out[f"p_{model}_{c}"] = p[:, k]
    return pd.DataFrame(out)


def _regression(n: int = 400, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = 3 * x + rng.normal(size=n)
    return pd.DataFrame({"house_id": np.arange(n), "price": y, "pred_linear": 3 * x,
                         "pred_tree": 2.5 * x + rng.normal(scale=0.5, size=n),
                         "city": rng.choice(["a", "b"], n),
                         "split": rng.choice(["train", "validation", "test"], n)})


def init(*args: str, input: str | None = None) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["init", *args], input=input)
    return r.exit_code, r.output


def test_proposes_an_unseen_binary_csv(tmp_path: Path) -> None:
    data = tmp_path / "data" / "accounts.csv"
    data.parent.mkdir()
    _binary().to_csv(data, index=False)
    out = tmp_path / "mlscope.yaml"
    code, text = init(str(data), "--out", str(out), "--yes", "--label", "churned")
    assert code == 0, text
    assert "is valid" in text
    assert "mlscope run" in text
    c = load_charter(out)
    d = c.data
    assert (c.task, d.label, d.id, d.split, d.positive) == (
        "binary", "churned", "account_id", "fold", 1)
    assert d.table == "data/accounts.csv"
    assert d.models == {"xgb": "score_xgb", "lr": "score_lr"}
    assert (c.splits.selection, c.splits.report, c.splits.train) == ("valid", "test", "train")
    assert c.slices.columns == ["region"]
    assert c.selection.rule == "satisficing"
    # The planning checklist: every item, all open.
    assert c.planning.open_items() == list(CHECKLIST)
    assert set(c.planning.checklist) == set(CHECKLIST)
    # A trivial baseline, fitted on the train split: the floor the verdict holds models to.
    assert {n: b.kind for n, b in (c.baselines or {}).items()} == {"prior": "prior"}
    # And the charter runs.
    r = CliRunner().invoke(main, ["run", str(out), "--out", str(tmp_path / "out"), "-q",
                                  "--resamples", "0", "--no-store"])
    assert r.exit_code in (0, 1), r.output
    assert (tmp_path / "out" / "result.json").exists()
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert "prior" in {m["name"] for m in result["models"] if m["kind"] == "baseline"}


def test_no_train_split_leaves_the_baseline_as_a_comment(tmp_path: Path) -> None:
    data = tmp_path / "pets.csv"
    _multiclass().to_csv(data, index=False)  # validation and test only
    out = tmp_path / "mlscope.yaml"
    code, text = init(str(data), "--out", str(out), "--yes", "--label", "target")
    assert code == 0, text
    assert not load_charter(out).baselines
    assert "# prior: {kind: prior}" in out.read_text()
    assert "needs a train split (splits.train)" in out.read_text()


def test_multiclass_label_told_by_its_models_columns() -> None:
    """ISLP's Carseats: the label `ShelveLoc` is named like nothing, but the models'
    columns `lr_Bad`, `lr_Good`, `lr_Medium` name its three values."""
    df = _multiclass().rename(columns={"target": "species"})
    p, qs = propose(df, Hints(), project="x", table="t.csv")
    assert qs == []
    assert p is not None
    assert (p.label, p.task) == ("species", "multiclass")
    assert p.notes["label"] == "proposed: its values name the models' columns; check it"
    assert set(p.models) == {"gbdt", "knn"}
    # Two such columns: asked, not guessed.
    df["species2"] = df["species"]
    p, qs = propose(df, Hints(), project="x", table="t.csv")
    assert p is None
    assert [q.role for q in qs] == ["label"]
    assert "species, species2" in qs[0].text


def test_label_named_like_one_is_proposed(tmp_path: Path) -> None:
    df = _binary().rename(columns={"churned": "label"})
    p, qs = propose(df, Hints(), project="x", table="t.csv")
    assert qs == []
    assert p is not None
    assert (p.label, p.task, p.positive, p.score_type) == ("label", "binary", 1, "probability")
    assert p.notes["label"].startswith("proposed")


def test_multiclass_csv(tmp_path: Path) -> None:
    data = tmp_path / "animals.parquet"
    _multiclass().to_parquet(data)
    out = tmp_path / "mlscope.yaml"
    code, text = init(str(data), "--out", str(out), "--yes")
    assert code == 0, text
    c = load_charter(out)
    assert c.task == "multiclass"
    assert c.data.models is not None
    assert set(c.data.models) == {"gbdt", "knn"}
    assert c.data.models["gbdt"] == {"cat": "p_gbdt_cat", "dog": "p_gbdt_dog",
                                     "bird": "p_gbdt_bird"}
    assert (c.splits.selection, c.splits.report) == ("validation", "test")
    assert c.selection.optimize == "f1_macro"  # type: ignore[union-attr]
    r = CliRunner().invoke(main, ["run", str(out), "--out", str(tmp_path / "out"), "-q",
                                  "--resamples", "0", "--no-store"])
    assert r.exit_code in (0, 1), r.output


def test_regression_csv(tmp_path: Path) -> None:
    data = tmp_path / "houses.csv"
    _regression().to_csv(data, index=False)
    out = tmp_path / "charter.yaml"
    code, text = init(str(data), "--out", str(out), "--yes", "--label", "price",
                      "--metric", "rmse")
    assert code == 0, text
    c = load_charter(out)
    assert (c.task, c.data.id) == ("regression", "house_id")
    assert c.data.models == {"linear": "pred_linear", "tree": "pred_tree"}
    assert c.selection.optimize == "rmse"  # type: ignore[union-attr]
    r = CliRunner().invoke(main, ["run", str(out), "--out", str(tmp_path / "out"), "-q",
                                  "--resamples", "0", "--no-store"])
    assert r.exit_code in (0, 1), r.output


def test_raw_scores_are_not_probabilities(tmp_path: Path) -> None:
    df = _binary()
    df["score_xgb"] = df["score_xgb"] * 10 - 5
    p, _ = propose(df, Hints(label="churned"), project="x", table="t.csv")
    assert p is not None
    assert p.score_type == "score"
    ids = [m if isinstance(m, str) else m["id"] for m in p.metrics()[0]]
    assert "log_loss" not in ids
    assert "brier" not in ids


@pytest.mark.parametrize(("change", "flag", "says"), [
    (lambda d: d.assign(label=d["churned"]).rename(columns={"churned": "target"}), "--label",
     "candidates: target, label"),
    (lambda d: d.rename(columns={"churned": "went_away"}), "--label",
     "no column looks like one"),
    (lambda d: d.assign(churned=np.where(d["churned"] == 1, "left", "stayed")), "--positive",
     "left, stayed"),
    (lambda d: d.drop(columns=["score_xgb", "score_lr"]).assign(
        score_a=np.arange(len(d)) % 7), "--models", "which columns are the models' scores"),
])
def test_ambiguous_is_exit_2_naming_the_flag(tmp_path: Path, change, flag: str,  # type: ignore[no-untyped-def]
                                            says: str) -> None:
    data = tmp_path / "d.csv"
    change(_binary()).to_csv(data, index=False)
    out = tmp_path / "mlscope.yaml"
    code, text = init(str(data), "--out", str(out), "--yes")
    assert code == 2, text
    assert f"pass {flag}" in text
    assert says in text
    assert "Traceback" not in text
    assert not out.exists()


def test_asks_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mlscope.cli_init

    monkeypatch.setattr(mlscope.cli_init, "can_ask", lambda: True)
    data = tmp_path / "d.csv"
    _binary().assign(label=0).rename(columns={"churned": "target"}).to_csv(data, index=False)
    out = tmp_path / "mlscope.yaml"
    code, text = init(str(data), "--out", str(out), input="target\n")
    assert code == 0, text
    assert "which column is the label?" in text
    assert load_charter(out).data.label == "target"


def test_never_overwrites_without_force(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    _binary().to_csv(data, index=False)
    out = tmp_path / "mlscope.yaml"
    out.write_text("project: mine\n")
    code, text = init(str(data), "--out", str(out), "--yes", "--label", "churned")
    assert code == 2
    assert "already exists; pass --force" in text
    assert out.read_text() == "project: mine\n"
    code, text = init(str(data), "--out", str(out), "--yes", "--label", "churned", "--force")
    assert code == 0, text
    assert load_charter(out).data.label == "churned"


def _hostile(tmp_path: Path, what: str) -> Path:
    p = tmp_path / "d.csv"
    if what == "folder":
        p.mkdir()
    elif what == "empty":
        p.write_bytes(b"")
    elif what == "header only":
        p.write_text("label,p_a\n")
    elif what == "one column":
        p.write_text("label\n1\n0\n")
    elif what == "unknown type":
        p = tmp_path / "d.xlsx"
        p.write_bytes(b"PK\x03\x04")
    elif what == "one label value":
        p.write_text("label,p_a\n1,0.2\n1,0.3\n")
    return p


@pytest.mark.parametrize(("what", "says"), [
    ("folder", "is not a file"), ("missing", "data file not found"),
    ("empty", "is empty (0 bytes)"), ("header only", "has a header but no rows"),
    ("one column", "has 1 column(s)"), ("unknown type", "unknown file type"),
    ("one label value", "nothing to predict"),
])
def test_hostile_data(tmp_path: Path, what: str, says: str) -> None:
    data = _hostile(tmp_path, what)
    out = tmp_path / "mlscope.yaml"
    code, text = init(str(data), "--out", str(out), "--yes")
    assert code == 2, text
    assert says in text
    assert "Traceback" not in text
    assert not out.exists()


def test_flag_naming_no_column(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    _binary().to_csv(data, index=False)
    code, text = init(str(data), "--out", str(tmp_path / "c.yaml"), "--yes",
                      "--label", "churnd")
    assert code == 2
    assert "--label churnd: no such column; did you mean `churned`?" in text


@pytest.mark.slow
def test_caravan_data(tmp_path: Path) -> None:
    pytest.importorskip("ISLP")
    subprocess.run([sys.executable, str(EXAMPLE / "prepare.py"), "--out",
                    str(tmp_path / "data")], check=True, capture_output=True)
    shutil.copy(EXAMPLE / "rules.py", tmp_path / "rules.py")
    out = tmp_path / "mlscope.yaml"
    code, text = init(str(tmp_path / "data" / "caravan_eval.parquet"), "--out", str(out),
                      "--yes")
    assert code == 0, text
    c = load_charter(out)
    d = c.data
    assert (c.task, d.label, d.id, d.split, d.positive) == (
        "binary", "purchase", "customer_id", "split", 1)
    assert d.models is not None
    assert set(d.models) == {"logistic", "gbdt", "gbdt_v2", "forest", "knn", "naive_bayes"}
    assert c.slices.columns == ["customer_type", "age_group"]
    r = CliRunner().invoke(main, ["run", str(out), "--out", str(tmp_path / "out"), "-q",
                                  "--resamples", "0", "--no-store"])
    assert r.exit_code in (0, 1), r.output


def test_split_without_a_selection_value(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    _binary().assign(batch=lambda d: np.arange(len(d)) % 3).to_csv(data, index=False)
    code, text = init(str(data), "--out", str(tmp_path / "c.yaml"), "--yes",
                      "--label", "churned", "--split", "batch")
    assert code == 2
    assert "name no validation or test split" in text


def test_no_split_column_evaluates_every_row(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    _binary().drop(columns=["fold"]).to_csv(data, index=False)
    out = tmp_path / "c.yaml"
    code, text = init(str(data), "--out", str(out), "--yes", "--label", "churned")
    assert code == 0, text
    c = load_charter(out)
    assert c.data.split is None
    assert (c.splits.selection, c.splits.report, c.splits.train) == ("all", None, None)
    r = CliRunner().invoke(main, ["run", str(out), "--out", str(tmp_path / "out"), "-q",
                                  "--resamples", "0", "--no-store"])
    assert r.exit_code in (0, 1), r.output
