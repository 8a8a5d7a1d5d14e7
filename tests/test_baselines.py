"""Baselines end to end: made from the charter, evaluated like models, placed on the ladder.

The data are generated (seeded) so the truth is known: a binary label driven by two
features and a categorical one, candidates of differing quality (one is pure noise), a
train / validation / test split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from sklearn.metrics import brier_score_loss, log_loss, mean_absolute_error, roc_auc_score

import mlscope
from mlscope.charter import validate_charter
from mlscope.cli import main
from mlscope.errors import InputError
from mlscope.report import render_html
from mlscope.result import EvaluationResult

RULE = '''
import numpy as np

def by_x1(df):
    return 1.0 / (1.0 + np.exp(-df["x1"].to_numpy()))

def label_itself(df):
    return df["y"].astype(float).to_numpy()

def broken(df):
    return df["no_such_column"] * 2
'''


def frame(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    shop = rng.choice(["north", "south", "east"], size=n)
    logit = -1.5 + 1.2 * x1 - 0.8 * x2 + np.where(shop == "south", 0.8, 0.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    good = 1 / (1 + np.exp(-(logit + rng.normal(scale=0.5, size=n))))
    return pd.DataFrame({
        "id": [f"r{i}" for i in range(n)],
        "y": y,
        "split": rng.choice(["train", "validation", "test"], size=n, p=[0.5, 0.25, 0.25]),
        "x1": x1, "x2": x2, "shop": shop,
        "good": good,
        "noise": rng.random(n),  # a candidate that learned nothing
    })


def charter(**over: Any) -> dict[str, Any]:
    c: dict[str, Any] = {
        "project": "baselines-test",
        "task": "binary",
        "seed": 5,
        "data": {"table": "eval.parquet", "id": "id", "label": "y", "split": "split",
                 "models": {"good": "good", "noise": "noise"}},
        "metrics": ["roc_auc", "log_loss", "brier"],
        "selection": {"rule": "satisficing", "optimize": "roc_auc"},
        "baselines": {
            "prior": {"kind": "prior"},
            "majority": {"kind": "majority"},
            "lr": {"kind": "logistic", "features": ["x1", "x2", "shop"]},
            "trees": {"kind": "gbdt", "features": ["x*", "shop"]},
            "rule": {"kind": "rule", "function": "rules:by_x1"},
            "paper": {"kind": "external", "values": {"roc_auc": 0.9}, "source": "a paper",
                      "data": "another hospital", "same_data": False},
        },
        "intervals": {"resamples": 200},
    }
    c.update(over)
    return c


def write(tmp_path: Path, c: dict[str, Any], df: pd.DataFrame | None = None) -> Path:
    (df if df is not None else frame()).to_parquet(tmp_path / "eval.parquet", index=False)
    (tmp_path / "rules.py").write_text(RULE, encoding="utf-8")
    p = tmp_path / "mlscope.yaml"
    p.write_text(yaml.safe_dump(c, sort_keys=False), encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> tuple[EvaluationResult, pd.DataFrame]:
    tmp = tmp_path_factory.mktemp("bl")
    df = frame()
    return mlscope.evaluate(write(tmp, charter(), df)), df


def test_baselines_are_models_marked_apart(result: tuple[EvaluationResult, pd.DataFrame]
                                           ) -> None:
    res, _ = result
    kinds = {m.name: (m.kind, m.family) for m in res.models}
    assert kinds == {
        "good": ("candidate", None), "noise": ("candidate", None),
        "prior": ("baseline", "trivial"), "majority": ("baseline", "trivial"),
        "lr": ("baseline", "learned"), "trees": ("baseline", "learned"),
        "rule": ("baseline", "rule"),
    }
    ext = [b for b in res.baselines if b.family == "external"]
    assert [(b.name, b.values, b.same_data) for b in ext] == [
        ("paper", {"roc_auc": 0.9}, False)]
    fits = {b.name: b.fit for b in res.baselines}
    assert fits["lr"]["fit_on"] == "train"
    assert fits["lr"]["features"] == ["x1", "x2", "shop"]
    assert fits["trees"]["features"] == ["x1", "x2", "shop"]  # wildcard expanded
    assert fits["lr"]["n_features_encoded"] == 5  # 2 numeric + 3 one-hot
    assert fits["rule"]["function"] == "rules:by_x1"


def test_trivial_and_rule_values_match_sklearn(result: tuple[EvaluationResult, pd.DataFrame]
                                               ) -> None:
    res, df = result
    rate = df.loc[df.split == "train", "y"].mean()
    for split in ("validation", "test"):
        sub = df[df.split == split]
        y = sub.y.to_numpy()
        p = np.full(len(sub), rate)
        assert res.value("roc_auc", "prior", split=split).value == 0.5
        assert res.value("log_loss", "prior", split=split).value == pytest.approx(
            log_loss(y, p), abs=1e-9)
        assert res.value("brier", "prior", split=split).value == pytest.approx(
            brier_score_loss(y, p), abs=1e-9)
        assert res.value("brier", "majority", split=split).value == pytest.approx(
            brier_score_loss(y, np.zeros(len(sub))), abs=1e-9)
        rule = 1 / (1 + np.exp(-sub.x1.to_numpy()))
        assert res.value("roc_auc", "rule", split=split).value == pytest.approx(
            roc_auc_score(y, rule), abs=1e-9)
    # Baselines have intervals like the candidates.
    v = res.value("roc_auc", "lr")
    assert v.lower is not None
    assert v.upper is not None
    assert v.lower < v.value < v.upper


def test_learned_baselines_learn(result: tuple[EvaluationResult, pd.DataFrame]) -> None:
    res, _ = result
    for name in ("lr", "trees"):
        assert res.value("roc_auc", name).value > 0.75
        assert res.value("log_loss", name).value < res.value("log_loss", "prior").value


def test_selection_never_picks_a_baseline(tmp_path: Path) -> None:
    c = charter()
    c["baselines"]["oracle"] = {"kind": "rule", "function": "rules:label_itself"}
    res = mlscope.evaluate(write(tmp_path, c))
    assert res.value("roc_auc", "oracle").value == 1.0  # rows joined back in order
    assert res.winner == "good"
    assert {r["model"] for r in res.selection.primary.ranking} == {"good", "noise"}


def test_must_beat_drops_candidates_that_do_not(tmp_path: Path) -> None:
    c = charter(selection={"rule": "satisficing", "optimize": "roc_auc",
                           "must_beat": ["prior", "rule"]})
    res = mlscope.evaluate(write(tmp_path, c))
    dropped = {d["model"]: d["reasons"] for d in res.selection.primary.dropped}
    assert "noise" in dropped
    assert "good" not in dropped
    assert any("does not beat the baseline `rule` on roc_auc" in r for r in dropped["noise"])
    assert res.winner == "good"
    # A baseline no candidate beats leaves no winner, and says so.
    c["baselines"]["oracle"] = {"kind": "rule", "function": "rules:label_itself"}
    c["selection"]["must_beat"] = ["oracle"]
    res = mlscope.evaluate(write(tmp_path, c))
    assert res.winner is None
    assert "no candidate beats the baselines" in res.selection.primary.note


def test_standings_gap_closed_and_flags(result: tuple[EvaluationResult, pd.DataFrame]) -> None:
    res, _ = result
    st = {(s.model, s.metric, s.split): s for s in res.standings}
    g = st[("good", "roc_auc", "validation")]
    # Trivial floor: the better of prior and majority (both 0.5 AUC: the first listed).
    assert g.trivial in ("prior", "majority")
    assert g.trivial_value == 0.5
    # No human level: the ceiling is the best of the learned/rule baselines. The external
    # figure (0.9) was measured on other data: a reference line, never the ceiling.
    best = max([res.value("roc_auc", m).value for m in ("lr", "trees", "rule")])
    assert g.upper_value == pytest.approx(best)
    assert g.upper != "paper"
    assert "`paper` (0.9) was measured on other data" in g.ceiling_note
    good = res.value("roc_auc", "good").value
    assert g.gap_closed == pytest.approx((good - 0.5) / (best - 0.5))
    assert g.lower is not None
    assert g.lower <= g.gap_closed <= g.upper_ci
    assert g.flag is None
    # The noise candidate does not beat the trivial baseline: flagged, and warned loudly.
    n = st[("noise", "roc_auc", "validation")]
    assert n.flag is not None
    assert "does not beat the trivial baseline" in n.flag
    assert n.vs_trivial_lower < 0 < n.vs_trivial_upper
    assert any(w.startswith("noise does not clearly beat the trivial baseline on roc_auc")
               for w in res.warnings)
    assert not any(w.startswith("good does not clearly beat") for w in res.warnings)


def test_result_round_trips_and_report_shows_the_ladder(
        result: tuple[EvaluationResult, pd.DataFrame], tmp_path: Path) -> None:
    res, _ = result
    back = EvaluationResult.from_json(Path(res.to_json(tmp_path / "r.json") and
                                           tmp_path / "r.json"))
    assert back.to_dict() == res.to_dict()
    html = render_html(res)
    assert "Against the baselines" in html
    assert "chart ladder" in html
    assert "paper (other data)" in html  # the external figure, flagged as other data
    assert "gap closed" in html


def test_regression_and_multiclass_baselines(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 1200
    x = rng.normal(size=n)
    y = 3 * x + rng.normal(size=n)
    df = pd.DataFrame({"id": range(n), "y": y, "x": x, "m": 3 * x,
                       "split": rng.choice(["train", "validation"], size=n)})
    c = {"project": "r", "task": "regression",
         "data": {"table": "eval.parquet", "id": "id", "label": "y", "split": "split",
                  "models": {"m": "m"}},
         "splits": {"report": None},
         "metrics": ["mae"], "selection": {"rule": "satisficing", "optimize": "mae"},
         "baselines": {"mean": {"kind": "mean"}, "median": {"kind": "median"},
                       "lin": {"kind": "linear", "features": ["x"]}},
         "intervals": {"resamples": 0}}
    res = mlscope.evaluate(write(tmp_path, c, df))
    val = df[df.split == "validation"]
    train_mean = df.loc[df.split == "train", "y"].mean()
    assert res.value("mae", "mean").value == pytest.approx(
        mean_absolute_error(val.y, np.full(len(val), train_mean)), abs=1e-9)
    assert res.value("mae", "lin").value < 0.9  # noise sd 1: MAE about 0.8
    st = {(s.model, s.metric): s for s in res.standings}
    assert st[("m", "mae")].upper == "lin"

    mc = pd.DataFrame({"id": range(n), "split": rng.choice(["train", "validation"], size=n),
                       "y": rng.choice(["a", "b", "c"], size=n, p=[0.6, 0.3, 0.1])})
    for k in "abc":
        mc[f"p_{k}"] = 1 / 3
    c = {"project": "m", "task": "multiclass",
         "data": {"table": "eval.parquet", "id": "id", "label": "y", "split": "split",
                  "models": {"flat": {k: f"p_{k}" for k in "abc"}}},
         "splits": {"report": None},
         "metrics": ["accuracy", "log_loss"],
         "selection": {"rule": "satisficing", "optimize": "accuracy"},
         "baselines": {"prior": {"kind": "prior"}, "majority": {"kind": "majority"}},
         "intervals": {"resamples": 0}}
    res = mlscope.evaluate(write(tmp_path, c, mc))
    val = mc[mc.split == "validation"]
    assert res.value("accuracy", "majority").value == pytest.approx((val.y == "a").mean())
    freq = mc.loc[mc.split == "train", "y"].value_counts(normalize=True)
    p = np.tile([freq["a"], freq["b"], freq["c"]], (len(val), 1))
    assert res.value("log_loss", "prior").value == pytest.approx(
        log_loss(val.y, p, labels=["a", "b", "c"]), abs=1e-9)


def test_no_id_column_keeps_rows_aligned(tmp_path: Path) -> None:
    c = charter()
    del c["data"]["id"]
    c["baselines"] = {"prior": {"kind": "prior"},
                      "oracle": {"kind": "rule", "function": "rules:label_itself"}}
    res = mlscope.evaluate(write(tmp_path, c))
    assert res.value("roc_auc", "oracle").value == 1.0


@pytest.mark.parametrize(("change", "expected"), [
    pytest.param({"lr": {"kind": "logistic", "features": ["x1", "shpo"]}},
                 "column `shpo`", id="missing-feature"),
    pytest.param({"r": {"kind": "rule", "function": "rules:broken"}},
                 "the rule `rules:broken` raised KeyError", id="rule-raises"),
    pytest.param({"r": {"kind": "rule", "function": "rulez:by_x1"}},
                 "module `rulez` not found", id="rule-missing"),
    pytest.param({"lr": {"kind": "logistic", "features": ["z*"]}},
                 "the pattern `z*` matches no column", id="pattern-matches-nothing"),
    pytest.param({"lr": {"kind": "logistic", "features": ["x1"], "fit_on": "dev"}},
                 "the training split `dev` has no rows", id="no-training-rows"),
])
def test_bad_baselines_exit_2_with_a_clear_message(tmp_path: Path, change: dict[str, Any],
                                                   expected: str) -> None:
    c = charter(baselines=change)
    p = write(tmp_path, c)
    r = CliRunner().invoke(main, ["run", str(p), "--out", str(tmp_path / "o"),
                                  "--resamples", "0"])
    assert r.exit_code == 2, r.output
    assert expected in r.output
    assert "Traceback (most recent call last)" not in r.output.split("raised")[0]
    if "raised" in expected:
        assert "rules.py" in r.output
        assert "line 11, in broken" in r.output
    with pytest.raises(InputError):
        mlscope.evaluate(p, resamples=0)


@pytest.mark.parametrize(("baselines", "selection", "expected"), [
    pytest.param({"good": {"kind": "prior"}}, None, "has the name of a model",
                 id="name-clash"),
    pytest.param({"m": {"kind": "median"}}, None, "`median` is a regression baseline",
                 id="kind-for-task"),
    pytest.param({"p": {"kind": "external", "values": {"f1": 0.5}, "source": "s",
                        "data": "d"}}, None, "metric `f1` is not computed",
                 id="external-metric"),
    pytest.param({"p": {"kind": "prior"}}, ["prio"], "`prio` is not a baseline",
                 id="must-beat-unknown"),
    pytest.param({"p": {"kind": "external", "values": {"roc_auc": 0.5}, "source": "s",
                        "data": "d"}}, ["p"], "gives figures rather than predictions",
                 id="must-beat-external"),
    pytest.param({"r": {"kind": "rule", "function": "no_colon"}}, None,
                 "module:function", id="rule-syntax"),
])
def test_charter_problems(tmp_path: Path, baselines: dict[str, Any],
                          selection: list[str] | None, expected: str) -> None:
    c = charter(baselines=baselines)
    if selection is not None:
        c["selection"]["must_beat"] = selection
    report = validate_charter(write(tmp_path, c))
    assert any(expected in p.message for p in report.problems), report.problems


def annotated_frame(seed: int = 7) -> tuple[pd.DataFrame, list[float]]:
    """Generated data with known truth: 5 annotators of known accuracy label the
    validation items (each item seen by 3 to 5 of them)."""
    df = frame(n=2400, seed=seed)
    rng = np.random.default_rng(seed)
    acc = [0.95, 0.9, 0.85, 0.8, 0.75]
    val = (df.split == "validation").to_numpy()
    for j, a in enumerate(acc):
        right = rng.random(len(df)) < a
        lab = np.where(right, df.y, 1 - df.y).astype(float)
        seen = val & (rng.random(len(df)) < 0.8)
        df[f"a{j + 1}"] = np.where(seen, lab, np.nan)
    return df, acc


def test_human_level_from_annotator_columns(tmp_path: Path) -> None:
    df, acc = annotated_frame()
    c = charter(metrics=["accuracy", "roc_auc", "log_loss"])
    c["baselines"] = {
        "prior": {"kind": "prior"},
        "annotators": {"kind": "human", "annotations": {"columns": [f"a{j}" for j in
                                                                    range(1, 6)]},
                       "reference": "gold", "panel_sizes": [3]},
    }
    res = mlscope.evaluate(write(tmp_path, c, df), resamples=100)
    hl = res.human
    assert hl is not None
    assert hl.reference_kind == "gold"
    assert hl.agreement.n_annotators == 5
    assert hl.agreement.krippendorff_alpha is not None
    assert hl.agreement.krippendorff_alpha > 0.4
    single = hl.rung(hl.typical_human)
    assert single.kind == "single"
    # The typical human's accuracy is the mean of the annotators' (known) accuracies.
    assert single.value("accuracy").value == pytest.approx(np.mean(acc), abs=0.03)
    maj = hl.rung("majority of 3")
    assert maj.value("accuracy").value > single.value("accuracy").value
    # Humans give labels: log loss is not defined for them.
    assert single.value("log_loss").value is None
    # The human level is the ceiling of the gap closed.
    st = {(s.model, s.metric, s.split): s for s in res.standings}
    g = st[("good", "accuracy", "validation")]
    assert g.upper_family == "human"
    assert g.upper is not None
    assert g.upper.startswith("human (")
    assert g.upper_value == pytest.approx(hl.rung(hl.best["accuracy"]).value("accuracy").value)
    # Models are scored on the annotated items too, against the same reference.
    on_items = hl.model("good", hl.typical_human)
    assert on_items.n_items == single.n_items
    back = EvaluationResult.from_dict(res.to_dict())
    assert back.human is not None
    assert back.human.to_dict() == hl.to_dict()
    html = render_html(res)
    assert "Human level" in html
    assert "typical human" in html
    assert "Krippendorff" in html


def test_human_level_bad_input(tmp_path: Path) -> None:
    df, _ = annotated_frame()
    c = charter()
    c["baselines"] = {"h": {"kind": "human", "annotations": {"columns": ["a1", "a9"]}}}
    r = CliRunner().invoke(main, ["run", str(write(tmp_path, c, df)), "--resamples", "0",
                                  "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert "column `a9` is not in eval.parquet" in r.output
    del c["data"]["id"]
    c["baselines"]["h"]["annotations"]["columns"] = ["a1", "a2"]
    report = validate_charter(write(tmp_path, c, df))
    assert any("data.id" in str(p) for p in report.problems)


def test_trivial_baselines_equal_sklearn_dummies() -> None:
    from sklearn.dummy import DummyClassifier, DummyRegressor

    from mlscope.baselines.predictors import trivial_predictions

    rng = np.random.default_rng(4)
    y = (rng.random(500) < 0.3).astype(int)
    X = np.zeros((40, 1))
    prior = DummyClassifier(strategy="prior").fit(np.zeros((500, 1)), y)
    assert np.allclose(trivial_predictions("prior", task="binary", y_train=y, n=40),
                       prior.predict_proba(X)[:, 1], atol=1e-12)
    most = DummyClassifier(strategy="most_frequent").fit(np.zeros((500, 1)), y)
    assert np.array_equal(trivial_predictions("majority", task="binary", y_train=y, n=40),
                          most.predict_proba(X)[:, 1])
    ym = rng.choice(["a", "b", "c"], size=500, p=[0.2, 0.5, 0.3])
    prior_m = DummyClassifier(strategy="prior").fit(np.zeros((500, 1)), ym)
    assert np.allclose(trivial_predictions("prior", task="multiclass", y_train=ym, n=40,
                                           classes=["a", "b", "c"]),
                       prior_m.predict_proba(X), atol=1e-12)  # classes_ sorted: a, b, c
    strat = trivial_predictions("stratified", task="multiclass", y_train=ym, n=20000,
                                classes=["a", "b", "c"], seed=1)
    assert np.allclose(strat.mean(axis=0), prior_m.class_prior_, atol=0.015)
    yr = rng.gamma(2.0, size=500)
    for kind in ("mean", "median"):
        d = DummyRegressor(strategy=kind).fit(np.zeros((500, 1)), yr)
        assert np.allclose(trivial_predictions(kind, task="regression", y_train=yr, n=40),
                           d.predict(X), atol=1e-12)
    assert np.allclose(trivial_predictions("prior", task="regression", y_train=yr, n=40),
                       DummyRegressor(strategy="mean").fit(np.zeros((500, 1)), yr).predict(X))


def test_leak_warning_reaches_the_result(tmp_path: Path) -> None:
    df = frame()
    df["refund_flag"] = df["y"] * 2.0 + 0.001 * np.arange(len(df)) / len(df)
    c = charter(baselines={"prior": {"kind": "prior"},
                           "lr": {"kind": "logistic", "features": ["x1", "refund_flag"]}},
                metrics=["roc_auc"])
    res = mlscope.evaluate(write(tmp_path, c, df), resamples=0)
    assert any("refund_flag" in w and "leak" in w for w in res.warnings)
    info = next(b for b in res.baselines if b.name == "lr")
    assert any("refund_flag" in w for w in info.warnings)


RULE_BAD = '''
def short(df):
    return [0.5] * (len(df) - 1)
'''


@pytest.mark.parametrize(("case", "expected"), [
    pytest.param("wrong-length", "returned 2999 values for 3000 rows", id="rule-wrong-length"),
    pytest.param("annotator-labels", "`maybe`", id="annotator-label-outside-set"),
    pytest.param("feature-missing-on-train", "`late_feature`", id="feature-not-in-training"),
])
def test_more_bad_input_exits_2(tmp_path: Path, case: str, expected: str) -> None:
    df = frame()
    c = charter(metrics=["roc_auc"])
    if case == "wrong-length":
        (tmp_path / "rules_bad.py").write_text(RULE_BAD, encoding="utf-8")
        c["baselines"] = {"r": {"kind": "rule", "function": "rules_bad:short"}}
    elif case == "annotator-labels":
        df["a1"] = np.where(df.split == "validation", df.y.astype(str), None)
        df["a2"] = df["a1"]
        df.loc[df.index[df.split == "validation"][:3], "a2"] = "maybe"
        c["baselines"] = {"h": {"kind": "human", "annotations": {"columns": ["a1", "a2"]}}}
    else:
        df["late_feature"] = np.where(df.split == "train", np.nan, df.x1)
        c["baselines"] = {"lr": {"kind": "logistic", "features": ["x1", "late_feature"]}}
    p = write(tmp_path, c, df)
    r = CliRunner().invoke(main, ["run", str(p), "--resamples", "0", "--out",
                                  str(tmp_path / "o")])
    assert r.exit_code == 2, r.output
    assert expected in r.output
    assert "Traceback" not in r.output


def test_dashboard_run_page_states_the_annotators(tmp_path: Path) -> None:
    """The run page's human-level line counts annotators and items (it once printed a
    dict's bound ``items`` method: Jinja reads ``h.items`` as the attribute first)."""
    from mlscope.store import Store
    from tests.test_server import fetch, running

    df, _ = annotated_frame()
    c = charter(metrics=["accuracy", "roc_auc"])
    c["baselines"] = {"annotators": {"kind": "human", "annotations": {
        "columns": [f"a{j}" for j in range(1, 6)]}, "reference": "gold"}}
    res = mlscope.evaluate(write(tmp_path, c, df), resamples=0)
    assert res.human is not None
    with Store.open(tmp_path / "store.sqlite") as store:
        rid = store.save(res, command="mlscope run", charter_text="")
        with running(store) as base:
            body = fetch(f"{base}/runs/{rid}").body
    items = res.human.agreement.n_items
    assert f"5 annotators, {items:,} items," in body
    assert "built-in method" not in body


def test_metric_tables_drop_the_gap_column_without_a_ceiling(
        result: tuple[EvaluationResult, pd.DataFrame], tmp_path: Path) -> None:
    """With only trivial baselines no candidate has a gap closed (there is no ceiling): the
    metric tables showed a column of dashes beside the trivial baseline's 0%."""
    res, _ = result
    assert any(st.gap_closed is not None for st in res.standings)
    assert "gap closed (roc_auc)" in render_html(res)
    c = charter()
    c["baselines"] = {"prior": {"kind": "prior"}}
    only_trivial = mlscope.evaluate(write(tmp_path, c))
    assert only_trivial.standings
    assert all(st.gap_closed is None for st in only_trivial.standings)
    assert "gap closed (" not in render_html(only_trivial)
