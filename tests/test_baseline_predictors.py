"""Baseline predictors: trivial kinds, learned models, the leak check and the user's rule.

Every data set here is generated with a seeded NumPy generator and has a known structure
(which features matter, which one is a copy of the label), so the assertions are exact
statements about that structure.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from mlscope.baselines import predictors as bp
from mlscope.baselines.predictors import (
    FitRecord,
    RuleError,
    fit_learned,
    leak_warnings,
    run_rule,
    trivial_predictions,
)
from mlscope.errors import InputError

CLASSES = ["cat", "dog", "bird"]


# --------------------------------------------------------------------------------------
# Trivial


def test_prior_binary_is_the_training_positive_rate() -> None:
    y = np.array([1, 0, 0, 1, 0, 0, 0, 0])
    pred = trivial_predictions("prior", task="binary", y_train=y, n=5)
    assert pred.dtype == np.float64
    np.testing.assert_array_equal(pred, np.full(5, 0.25))


def test_prior_multiclass_follows_the_class_order() -> None:
    y = np.array(["dog", "dog", "cat", "dog"])
    pred = trivial_predictions("prior", task="multiclass", y_train=y, n=3, classes=CLASSES)
    # bird has no training rows: probability 0, and columns follow CLASSES, not sorting.
    np.testing.assert_allclose(pred, np.tile([0.25, 0.75, 0.0], (3, 1)))


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        pytest.param("prior", 2.5, id="prior-is-mean"),
        pytest.param("mean", 2.5, id="mean"),
        pytest.param("median", 1.5, id="median"),
    ],
)
def test_regression_constants(kind: str, expected: float) -> None:
    y = np.array([1.0, 2.0, 1.0, 6.0, np.nan])  # the missing label is left out
    pred = trivial_predictions(kind, task="regression", y_train=y, n=4)
    np.testing.assert_allclose(pred, np.full(4, expected))


def test_majority_binary_and_ties_go_to_the_first_class() -> None:
    assert trivial_predictions("majority", task="binary", y_train=[1, 1, 0], n=2).tolist() \
        == [1.0, 1.0]
    assert trivial_predictions("majority", task="binary", y_train=[1, 0], n=2).tolist() \
        == [0.0, 0.0]
    tied = trivial_predictions("majority", task="multiclass", y_train=["bird", "dog"], n=2,
                               classes=CLASSES)
    np.testing.assert_array_equal(tied, [[0, 1, 0], [0, 1, 0]])  # dog is listed before bird


def test_stratified_is_seeded_hard_and_follows_training_frequencies() -> None:
    rng = np.random.default_rng(3)
    y = rng.choice(CLASSES, size=5000, p=[0.5, 0.3, 0.2])

    def draw(seed: int) -> np.ndarray:
        return trivial_predictions("stratified", task="multiclass", y_train=y, n=100_000,
                                   classes=CLASSES, seed=seed)

    a, b, c = draw(7), draw(7), draw(8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert set(np.unique(a)) == {0.0, 1.0}
    np.testing.assert_array_equal(a.sum(axis=1), 1.0)
    train_freq = pd.Series(y).value_counts(normalize=True)[CLASSES].to_numpy()
    np.testing.assert_allclose(a.mean(axis=0), train_freq, atol=0.01)

    yb = (rng.random(5000) < 0.2).astype(int)
    pb = trivial_predictions("stratified", task="binary", y_train=yb, n=100_000, seed=1)
    assert set(np.unique(pb)) == {0.0, 1.0}
    assert pb.mean() == pytest.approx(yb.mean(), abs=0.01)


def test_stratified_regression_draws_training_outputs() -> None:
    y = np.array([1.5, 2.5, 10.0])
    pred = trivial_predictions("stratified", task="regression", y_train=y, n=1000, seed=2)
    assert set(np.unique(pred)) == set(y)
    np.testing.assert_array_equal(
        pred, trivial_predictions("stratified", task="regression", y_train=y, n=1000, seed=2))


@pytest.mark.parametrize(
    ("kind", "task", "y", "needle"),
    [
        pytest.param("majority", "regression", [1.0, 2.0], "`mean` or `median`", id="majority-reg"),
        pytest.param("mean", "binary", [0, 1], "`prior`", id="mean-binary"),
        pytest.param("median", "multiclass", ["cat"], "`prior`", id="median-multi"),
        pytest.param("majorty", "binary", [0, 1], "did you mean `majority`", id="typo"),
        pytest.param("prior", "binary", [], "no rows with a label", id="empty"),
        pytest.param("prior", "regression", [np.nan], "no rows with a label", id="all-missing"),
        pytest.param("prior", "binary", [0, 2], "must be 0 or 1", id="not-0-1"),
        pytest.param("prior", "multiclass", ["cat", "dgo"], "did you mean `dog`", id="label"),
    ],
)
def test_trivial_errors(kind: str, task: str, y: list[object], needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        trivial_predictions(kind, task=task, y_train=np.array(y), n=3, classes=CLASSES)


# --------------------------------------------------------------------------------------
# Learned


def _binary_data(n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """y depends on x1 (strongly) and on the category; x2 is noise."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "x1": rng.normal(size=n),
        "x2": rng.normal(size=n),
        "shop": rng.choice(["north", "south", "east"], size=n),
    })
    logit = 2.0 * df["x1"] + np.where(df["shop"] == "north", 1.0, -0.5)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return df, y.to_numpy()


def test_logistic_beats_prior_in_log_loss() -> None:
    df, y = _binary_data()
    tr = np.arange(len(df)) < 3000
    pred, _ = fit_learned("logistic", task="binary", train=df[tr], y_train=y[tr], X=df[~tr],
                          features=["x1", "x2", "shop"])
    prior = trivial_predictions("prior", task="binary", y_train=y[tr], n=int((~tr).sum()))
    assert pred.shape == ((~tr).sum(),)
    assert ((pred >= 0) & (pred <= 1)).all()
    assert log_loss(y[~tr], pred) < log_loss(y[~tr], prior) - 0.15


def test_gbdt_captures_an_interaction_logistic_cannot() -> None:
    rng = np.random.default_rng(1)
    n = 6000
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = ((df["a"] > 0) ^ (df["b"] > 0)).astype(int).to_numpy()  # XOR: no linear signal
    tr = np.arange(n) < 4000

    def fit(kind: str) -> tuple[np.ndarray, FitRecord]:
        return fit_learned(kind, task="binary", train=df[tr], y_train=y[tr], X=df[~tr],
                           features=["a", "b"], seed=3)

    p_gbdt, rec = fit("gbdt")
    p_log, _ = fit("logistic")
    assert roc_auc_score(y[~tr], p_gbdt) > 0.97
    assert roc_auc_score(y[~tr], p_log) < 0.6
    assert rec.estimator == "HistGradientBoostingClassifier"
    assert rec.params["random_state"] == 3
    # Same seed, same model.
    again, _ = fit("gbdt")
    np.testing.assert_array_equal(p_gbdt, again)


@pytest.mark.parametrize("kind", ["logistic", "gbdt"])
def test_unseen_and_missing_categories_at_predict_time(kind: str) -> None:
    df, y = _binary_data(n=1000)
    new = pd.DataFrame({"x1": [0.1, -0.2, np.nan], "x2": [0.0, 1.0, 2.0],
                        "shop": ["west", None, "north"]})
    pred, _ = fit_learned(kind, task="binary", train=df, y_train=y, X=new,
                          features=["x1", "x2", "shop"])
    assert pred.shape == (3,)
    assert np.isfinite(pred).all()
    assert ((pred >= 0) & (pred <= 1)).all()


def test_other_column_types_are_categories() -> None:
    rng = np.random.default_rng(4)
    n = 800
    df = pd.DataFrame({
        "flag": rng.random(n) < 0.5,
        "tier": pd.Categorical(rng.choice(["gold", "silver"], size=n)),
        "city": pd.array(rng.choice(np.array(["Oslo", "Lima", None], dtype=object), size=n),
                         dtype="string"),
        "count": pd.array(rng.integers(0, 5, size=n), dtype="Int64"),
    })
    df.loc[:5, "count"] = pd.NA
    y = (df["flag"].to_numpy() ^ (rng.random(n) < 0.1)).astype(int)
    pred, rec = fit_learned("logistic", task="binary", train=df, y_train=y, X=df,
                            features=["flag", "tier", "city", "count"])
    # count is numeric (1 column); flag 2, tier 2, city 2 (+ nothing for missing: imputed).
    assert rec.n_features_encoded == 1 + 2 + 2 + 2
    assert roc_auc_score(y, pred) > 0.85
    pred_g, rec_g = fit_learned("gbdt", task="binary", train=df, y_train=y, X=df,
                                features=["flag", "tier", "city", "count"])
    assert rec_g.n_features_encoded == 4
    assert roc_auc_score(y, pred_g) > 0.85


def test_fit_record_is_plain_and_complete() -> None:
    df, y = _binary_data(n=500)
    _, rec = fit_learned("logistic", task="binary", train=df, y_train=y, X=df,
                         features=["shop", "x1"], seed=5, params={"C": 0.5})
    assert isinstance(rec, FitRecord)
    assert rec.kind == "logistic"
    assert rec.estimator == "LogisticRegression"
    assert rec.features == ["shop", "x1"]
    assert rec.n_features_encoded == 3 + 1  # three shops one-hot, one numeric
    assert rec.n_train == 500
    assert rec.seed == 5
    assert rec.params == {"max_iter": 1000, "random_state": 5, "C": 0.5}
    assert rec.seconds > 0
    assert rec.warnings == []
    d = rec.to_dict()
    assert d["n_train"] == 500
    assert all(isinstance(v, str | int | float | list | dict) for v in d.values())


def test_convergence_warning_is_recorded_not_shown(recwarn: pytest.WarningsRecorder) -> None:
    df, y = _binary_data(n=500)
    _, rec = fit_learned("logistic", task="binary", train=df, y_train=y, X=df,
                         features=["x1", "x2", "shop"], params={"max_iter": 1})
    assert any("did not converge in 1 iterations" in w for w in rec.warnings)
    assert not [w for w in recwarn if "converge" in str(w.message)]


def test_multiclass_columns_follow_classes() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    df = pd.DataFrame({"size": rng.normal(size=n), "noise": rng.normal(size=n)})
    y = np.where(df["size"] < -0.5, "bird", np.where(df["size"] > 0.5, "dog", "cat"))
    classes = ["dog", "cat", "bird", "fish"]
    for kind in ("logistic", "gbdt"):
        pred, rec = fit_learned(kind, task="multiclass", train=df, y_train=y, X=df,
                                features=["size", "noise"], classes=classes)
        assert pred.shape == (n, 4)
        np.testing.assert_allclose(pred.sum(axis=1), 1.0)
        np.testing.assert_array_equal(pred[:, 3], 0.0)  # fish: no training rows
        assert any("`fish`" in w for w in rec.warnings)
        accuracy = np.mean(np.asarray(classes)[pred.argmax(axis=1)] == y)
        assert accuracy > 0.95


def test_regression_linear_and_ridge() -> None:
    rng = np.random.default_rng(6)
    n = 2000
    df = pd.DataFrame({"u": rng.normal(size=n), "v": rng.normal(size=n),
                       "g": rng.choice(["a", "b"], size=n)})
    y = (3.0 * df["u"] - 2.0 * df["v"] + np.where(df["g"] == "a", 5.0, 0.0)
         + rng.normal(0, 0.1, size=n)).to_numpy(copy=True)
    y[:10] = np.nan  # unlabelled rows are left out of the fit
    pred, rec = fit_learned("linear", task="regression", train=df, y_train=y, X=df,
                            features=["u", "v", "g"])
    assert rec.estimator == "LinearRegression"
    assert rec.n_train == n - 10
    np.testing.assert_allclose(pred[10:], y[10:], atol=0.5)
    _, ridge = fit_learned("linear", task="regression", train=df, y_train=y, X=df,
                           features=["u", "v"], params={"alpha": 2.0})
    assert ridge.estimator == "Ridge"
    pred_g, rec_g = fit_learned("gbdt", task="regression", train=df, y_train=y, X=df,
                                features=["u", "v", "g"])
    assert rec_g.estimator == "HistGradientBoostingRegressor"
    assert pred_g.shape == (n,)


@pytest.mark.parametrize(
    ("kind", "task", "features", "params", "needles"),
    [
        pytest.param("logistic", "binary", ["x1", "shpo"], None,
                     ["baselines.simple", "`shpo`", "did you mean `shop`"], id="missing-column"),
        pytest.param("logistic", "binary", [], None, ["needs features"], id="no-features"),
        pytest.param("gbdt", "binary", ["x1"], {"learning_rat": 0.1},
                     ["`learning_rat`", "did you mean `learning_rate`", "max_iter"],
                     id="unknown-param"),
        pytest.param("logistic", "binary", ["x1"], {"C": -1.0},
                     ["params", "C"], id="bad-param-value"),
        pytest.param("logistic", "binary", ["x1"], {"random_state": 1}, ["`seed:`"],
                     id="random-state"),
        pytest.param("logistic", "regression", ["x1"], None, ["`linear` or `gbdt`"],
                     id="logistic-regression"),
        pytest.param("linear", "binary", ["x1"], None, ["`logistic` or `gbdt`"],
                     id="linear-classification"),
        pytest.param("logistic", "binary", ["x1", "empty"], None,
                     ["`empty` is missing on every training row"], id="all-missing"),
    ],
)
def test_learned_errors(kind: str, task: str, features: list[str],
                        params: dict[str, object] | None, needles: list[str]) -> None:
    df, y = _binary_data(n=200)
    df["empty"] = np.nan
    with pytest.raises(InputError) as info:
        fit_learned(kind, task=task, train=df, y_train=y, X=df, features=features,
                    params=params, where="baselines.simple")
    for needle in needles:
        assert needle in str(info.value)


def test_one_class_and_empty_training_split() -> None:
    df, _ = _binary_data(n=50)
    with pytest.raises(InputError, match="single class"):
        fit_learned("logistic", task="binary", train=df, y_train=np.zeros(50, dtype=int),
                    X=df, features=["x1"])
    with pytest.raises(InputError, match="training split is empty"):
        fit_learned("gbdt", task="binary", train=df.iloc[:0], y_train=np.zeros(0, dtype=int),
                    X=df, features=["x1"])


def test_feature_missing_from_evaluation_rows_is_named() -> None:
    df, y = _binary_data(n=100)
    with pytest.raises(InputError, match="`x2` is not in the evaluation rows"):
        fit_learned("logistic", task="binary", train=df, y_train=y, X=df[["x1"]],
                    features=["x1", "x2"])


# --------------------------------------------------------------------------------------
# Leak check


def test_leak_fires_for_a_copied_label_and_not_for_ordinary_features() -> None:
    df, y = _binary_data(n=5000, seed=8)
    rng = np.random.default_rng(9)
    df["refund_issued"] = y + rng.normal(0, 0.05, size=len(y))
    df["status"] = np.where(y == 1, "refunded", "kept")
    df["customer_id"] = [f"c{i}" for i in range(len(y))]  # unique per row: not a leak
    df["constant"] = 1.0
    found = leak_warnings(df, y, ["x1", "x2", "shop", "refund_issued", "status",
                                  "customer_id", "constant"], task="binary")
    assert len(found) == 2
    assert found[0].startswith("feature `refund_issued` alone separates the classes "
                               "(ROC AUC 1.000 on the training split)")
    assert "leak of the label" in found[0]
    assert "`status`" in found[1]


def test_leak_reversed_direction_and_subsample(monkeypatch: pytest.MonkeyPatch) -> None:
    df, y = _binary_data(n=3000, seed=10)
    df["minus_label"] = -y.astype(float)
    monkeypatch.setattr(bp, "LEAK_MAX_ROWS", 1000)
    found = leak_warnings(df, y, ["minus_label", "x1"], task="binary", seed=2)
    assert len(found) == 1
    assert "a random 1,000 of its 3,000 labelled rows" in found[0]


def test_leak_multiclass_and_regression() -> None:
    rng = np.random.default_rng(11)
    n = 4000
    y = rng.choice(CLASSES, size=n, p=[0.5, 0.3, 0.2])
    df = pd.DataFrame({"noise": rng.normal(size=n), "code": pd.Categorical(y).codes * 1.0,
                       "name": y, "other": rng.choice(["p", "q"], size=n)})
    found = leak_warnings(df, y, ["noise", "code", "name", "other"], task="multiclass")
    assert [f.split("`")[1] for f in found] == ["code", "name"]
    assert "accuracy 1.000" in found[0]

    target = rng.normal(size=n)
    reg = pd.DataFrame({"scaled": np.exp(target), "noise": rng.normal(size=n),
                        "group": rng.choice(["a", "b", "c"], size=n)})
    found = leak_warnings(reg, target, ["scaled", "noise", "group"], task="regression")
    assert len(found) == 1
    assert "feature `scaled` alone predicts the label (|Spearman correlation| 1.000" in found[0]


def test_leak_missing_feature_is_an_error() -> None:
    df, y = _binary_data(n=100)
    with pytest.raises(InputError, match="did you mean `x1`"):
        leak_warnings(df, y, ["x_1"], task="binary", where="baselines.simple")


# --------------------------------------------------------------------------------------
# The user's rule


def _write(path: Path, code: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(code))
    return path


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(12)
    return pd.DataFrame({"score": rng.random(10), "kind": rng.choice(["a", "b"], size=10)},
                        index=[f"r{i}" for i in range(10)])


def test_rule_is_called_once_with_every_row_and_bools_become_floats(
        tmp_path: Path, frame: pd.DataFrame) -> None:
    _write(tmp_path / "rules.py", """
        from pathlib import Path

        def predict(df):
            with open(Path(__file__).with_name("calls.txt"), "a") as f:
                f.write(f"{type(df).__name__} {len(df)}\\n")
            return df["score"] > 0.5
    """)
    before = set(sys.modules)
    pred = run_rule("rules:predict", frame, base_dir=tmp_path, task="binary")
    assert (tmp_path / "calls.txt").read_text() == "DataFrame 10\n"
    np.testing.assert_array_equal(pred, (frame["score"] > 0.5).astype(float).to_numpy())
    assert pred.dtype == np.float64
    assert not [m for m in set(sys.modules) - before if "rules" in m or "mlscope_rule" in m]
    assert str(tmp_path) not in sys.path


def test_rule_exception_shows_only_the_users_lines(tmp_path: Path, frame: pd.DataFrame) -> None:
    _write(tmp_path / "rules.py", """
        def helper(x):
            return x / 0


        def predict(df):
            return helper(1)
    """)
    with pytest.raises(RuleError) as info:
        run_rule("rules:predict", frame, base_dir=tmp_path, task="binary", where="baselines.h")
    msg = str(info.value)
    assert isinstance(info.value, InputError)
    assert msg.startswith("baselines.h: the rule `rules:predict` raised ZeroDivisionError: "
                          "division by zero")
    assert f'{tmp_path / "rules.py"}", line 7, in predict' in msg
    assert 'line 3, in helper' in msg
    assert "predictors.py" not in msg
    assert "mlscope" not in msg.replace("baselines.h", "")


def test_rule_error_in_a_sibling_module_and_at_import(tmp_path: Path,
                                                      frame: pd.DataFrame) -> None:
    _write(tmp_path / "helpers.py", "def score(df):\n    return df['missing_column']\n")
    _write(tmp_path / "rules.py", "import helpers\n\ndef predict(df):\n"
                                  "    return helpers.score(df)\n")
    with pytest.raises(RuleError, match="raised KeyError") as info:
        run_rule("rules:predict", frame, base_dir=tmp_path, task="binary")
    assert "helpers.py" in str(info.value)
    assert "pandas" not in str(info.value)
    assert "helpers" not in sys.modules

    _write(tmp_path / "broken.py", "x = 1\nraise RuntimeError('no config')\n")
    with pytest.raises(RuleError, match=r"importing the rule `broken:f` .* raised RuntimeError"):
        run_rule("broken:f", frame, base_dir=tmp_path, task="binary")
    _write(tmp_path / "syntax.py", "def f(df)\n    return 1\n")
    with pytest.raises(RuleError, match="syntax error") as info:
        run_rule("syntax:f", frame, base_dir=tmp_path, task="binary")
    assert "line 1" in str(info.value)


def test_an_edited_rule_is_picked_up(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = tmp_path / "rules.py"
    # Same length and (most likely) the same second: a bytecode cache would serve the old.
    _write(path, "def predict(df):\n    return df['score'] * 0 + 0.2\n")
    first = run_rule("rules:predict", frame, base_dir=tmp_path, task="binary")
    _write(path, "def predict(df):\n    return df['score'] * 0 + 0.7\n")
    second = run_rule("rules:predict", frame, base_dir=tmp_path, task="binary")
    np.testing.assert_allclose(first, 0.2)
    np.testing.assert_allclose(second, 0.7)


def test_rule_in_a_package_and_by_path(tmp_path: Path, frame: pd.DataFrame) -> None:
    _write(tmp_path / "heur" / "__init__.py", "")
    _write(tmp_path / "heur" / "cutoffs.py", "CUT = 0.3\n")
    _write(tmp_path / "heur" / "rules.py", """
        from .cutoffs import CUT

        def predict(df):
            return (df["score"] > CUT).tolist()
    """)
    pred = run_rule("heur.rules:predict", frame, base_dir=tmp_path, task="binary")
    np.testing.assert_array_equal(pred, (frame["score"] > 0.3).to_numpy(dtype=float))
    assert not [m for m in sys.modules if m.startswith("heur")]

    _write(tmp_path / "scripts" / "my rule.py", "def f(df):\n    return df['score'] * 10\n")
    pred = run_rule("scripts/my rule.py:f", frame, base_dir=tmp_path, task="regression")
    np.testing.assert_allclose(pred, frame["score"] * 10)


def test_rule_multiclass_labels_and_tables(tmp_path: Path, frame: pd.DataFrame) -> None:
    _write(tmp_path / "rules.py", """
        import numpy as np
        import pandas as pd

        def labels(df):
            return np.where(df["kind"] == "a", "cat", "bird")

        def table(df):
            n = len(df)
            return pd.DataFrame({"bird": [0.5] * n, "cat": [0.25] * n, "dog": [0.25] * n},
                                index=df.index)

        def wrong(df):
            return ["cat"] * (len(df) - 1) + ["cta"]
    """)
    pred = run_rule("rules:labels", frame, base_dir=tmp_path, task="multiclass",
                    classes=CLASSES)
    expected = np.where((frame["kind"] == "a").to_numpy()[:, None], [1, 0, 0], [0, 0, 1])
    np.testing.assert_array_equal(pred, expected)
    pred = run_rule("rules:table", frame, base_dir=tmp_path, task="multiclass",
                    classes=CLASSES)
    np.testing.assert_allclose(pred, np.tile([0.25, 0.25, 0.5], (10, 1)))
    with pytest.raises(InputError, match=r"returned `cta` for row 'r9' .*did you mean `cat`"):
        run_rule("rules:wrong", frame, base_dir=tmp_path, task="multiclass", classes=CLASSES)


def test_rule_series_in_another_order_is_realigned(tmp_path: Path,
                                                   frame: pd.DataFrame) -> None:
    _write(tmp_path / "rules.py", """
        def predict(df):
            return df.sort_values("score")["score"]
    """)
    pred = run_rule("rules:predict", frame, base_dir=tmp_path, task="regression")
    np.testing.assert_array_equal(pred, frame["score"].to_numpy())


@pytest.mark.parametrize(
    ("body", "task", "needle"),
    [
        pytest.param("return [0.5, 0.5, 0.5]", "binary", "returned 3 values for 10 rows",
                     id="wrong-length"),
        pytest.param("return df['score'].where(df.index != 'r4')", "binary",
                     "returned nan for row 'r4'", id="nan"),
        pytest.param("return df['score'] * 0 + float('inf')", "regression",
                     "returned inf for row 'r0'", id="inf"),
        pytest.param("return df['score'] * 5", "binary", "probabilities in \\[0, 1\\]",
                     id="out-of-range"),
        pytest.param("return df['kind']", "binary", "not a number", id="text"),
        pytest.param("return 0.5", "binary", "one value per row", id="scalar"),
    ],
)
def test_rule_output_errors(tmp_path: Path, frame: pd.DataFrame, body: str, task: str,
                            needle: str) -> None:
    _write(tmp_path / "rules.py", f"def predict(df):\n    {body}\n")
    with pytest.raises(InputError, match=needle):
        run_rule("rules:predict", frame, base_dir=tmp_path, task=task)


def test_rule_not_found_errors(tmp_path: Path, frame: pd.DataFrame) -> None:
    _write(tmp_path / "rules.py", "THRESHOLD = 3\n\ndef predict(df):\n    return df['score']\n")
    with pytest.raises(InputError) as info:
        run_rule("rule:predict", frame, base_dir=tmp_path, task="binary")
    assert str(tmp_path / "rule.py") in str(info.value)
    assert "did you mean `rules`" in str(info.value)
    with pytest.raises(InputError, match="no function `predcit`; did you mean `predict`"):
        run_rule("rules:predcit", frame, base_dir=tmp_path, task="binary")
    with pytest.raises(InputError, match="is a int, not a function"):
        run_rule("rules:THRESHOLD", frame, base_dir=tmp_path, task="binary")
    with pytest.raises(InputError, match="`module:function`"):
        run_rule("rules", frame, base_dir=tmp_path, task="binary")
    with pytest.raises(InputError, match="not found"):
        run_rule("other/rules.py:predict", frame, base_dir=tmp_path, task="binary")
