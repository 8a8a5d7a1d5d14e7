"""`score_type: logit` and `score_type: score`: raw scores keep their order on every engine.

Logits used to be mapped to probabilities in float64 when the data was read, which turned
distinct large logits into ties (``expit(40) == expit(41) == 1.0``) and changed ROC AUC,
average precision and every chosen threshold. Scores are now kept as given; log loss and
Brier apply the link (exact ``softplus`` forms), a fixed threshold (a probability) is
converted to a logit once, and scores that are not probabilities (`score_type: score`)
get ranking and threshold metrics only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.special import expit
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

import mlscope
from mlscope.charter.load import validate_charter
from mlscope.charter.schema import Charter
from mlscope.errors import InputError
from mlscope.metrics.binary import binary_log_loss, brier
from mlscope.metrics.stats import binary_stats
from mlscope.result import EvaluationResult
from tests.conftest import base_charter

ENGINES = ["numpy", "duckdb"]


def _has_spark() -> bool:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return True


def logit_frame(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Logits over [−60, 60], most beyond ±37 (where float64 expit is 0 or 1), with ties."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.4
    # Positives score higher on average, with wide overlap; a 0.25 grid makes ties.
    z = np.clip(np.where(y, 12.0, -12.0) + rng.normal(0, 30, n), -60, 60)
    z = np.round(z * 4) / 4
    return pd.DataFrame({
        "row_id": np.arange(n),
        "label": y.astype(int),
        "split": rng.choice(["validation", "test"], size=n),
        "region": rng.choice(["north", "south"], size=n),
        "w": rng.integers(1, 4, n).astype(float),
        "z_a": z,
        "z_b": np.round((z * 0.5 + rng.normal(0, 20, n)) * 4) / 4,
    })


def _charter(score_type: str = "logit", metrics: list[Any] | None = None,
             **data: Any) -> dict[str, Any]:
    c = base_charter("eval.parquet")
    c["data"] = {**c["data"], "weight": "w", "score_type": score_type,
                 "models": {"a": "z_a", "b": "z_b"}, **data}
    c["slices"] = {"columns": ["region"], "min_size": 10}
    c["metrics"] = metrics if metrics is not None else [
        "roc_auc", "average_precision", "log_loss", "brier",
        {"id": "prec_90", "metric": "precision", "threshold": 0.9},
        {"id": "rec_half", "metric": "recall", "threshold": 0.5},
        {"id": "f1_best", "metric": "f1", "threshold": "optimize"},
        {"id": "p_at_r", "metric": "precision_at_recall", "recall": 0.65},
    ]
    c["selection"] = {"rule": "satisficing", "optimize": "roc_auc"}
    c["requirements"] = {}
    c["intervals"] = {"resamples": 0}
    return c


def _write(tmp_path: Path, df: pd.DataFrame, charter: dict[str, Any]) -> Path:
    df.to_parquet(tmp_path / "eval.parquet", index=False)
    path = tmp_path / "mlscope.yaml"
    path.write_text(yaml.safe_dump(charter, sort_keys=False), encoding="utf-8")
    return path


def _v(res: EvaluationResult, metric: str, model: str = "a", split: str = "test",
       slice: str = "overall") -> float:
    v = res.value(metric, model, split=split, slice=slice).value
    assert v is not None, (metric, model, split, slice)
    return v


def _nll(y: np.ndarray, z: np.ndarray, w: np.ndarray) -> float:
    """The exact log loss of logits, softplus(∓z), written as log1p(e^{−|m|}) + max(m, 0)."""
    m = np.where(y == 1, -z, z)
    terms = np.log1p(np.exp(-np.abs(m))) + np.maximum(m, 0)
    return float((w * terms).sum() / w.sum())


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    df = logit_frame()
    z = df.z_a.to_numpy()
    # The case the bug hides: many distinct logits where expit saturates.
    assert np.unique(z[z > 37]).size > 20
    assert np.unique(z[z < -37]).size > 20
    assert np.unique(expit(z)).size < np.unique(z).size - 40
    return df


@pytest.mark.parametrize("engine", ENGINES)
def test_ranking_metrics_equal_sklearn_on_raw_logits(tmp_path: Path, frame: pd.DataFrame,
                                                     engine: str) -> None:
    res = mlscope.evaluate(_write(tmp_path, frame, _charter()), engine=engine)
    for model, col in (("a", "z_a"), ("b", "z_b")):
        for split in ("validation", "test"):
            sub = frame[frame.split == split]
            y, z, w = sub.label.to_numpy(), sub[col].to_numpy(), sub.w.to_numpy()
            assert _v(res, "roc_auc", model, split) == pytest.approx(
                roc_auc_score(y, z, sample_weight=w), rel=1e-13)
            assert _v(res, "average_precision", model, split) == pytest.approx(
                average_precision_score(y, z, sample_weight=w), rel=1e-13)
            # On the probabilities the old code used, ties change AUC: the test sees it.
            assert roc_auc_score(y, expit(z), sample_weight=w) != pytest.approx(
                roc_auc_score(y, z, sample_weight=w), rel=1e-6)
            assert _v(res, "log_loss", model, split) == pytest.approx(_nll(y, z, w), rel=1e-13)
            assert _v(res, "brier", model, split) == pytest.approx(
                brier_score_loss(y, expit(z), sample_weight=w), rel=1e-13)
            # Thresholds are probabilities, compared on the logits: p >= 0.9 ⇔ z >= logit 0.9.
            assert _v(res, "prec_90", model, split) == pytest.approx(
                precision_score(y, expit(z) >= 0.9, sample_weight=w), rel=1e-13)
            assert _v(res, "rec_half", model, split) == pytest.approx(
                recall_score(y, z >= 0, sample_weight=w), rel=1e-13)
    # A chosen threshold is a logit (a distinct score), and the report says so.
    sel = frame[frame.split == "validation"]
    [choice] = [c for c in res.thresholds if c.model == "a" and c.metric == "f1_best"]
    assert choice.threshold is not None
    assert choice.threshold in set(sel.z_a)
    assert "logit" in choice.note
    sub = frame[frame.split == "test"]
    assert _v(res, "f1_best") == pytest.approx(f1_score(
        sub.label, sub.z_a >= choice.threshold, sample_weight=sub.w), rel=1e-13)


def test_log_loss_matches_sklearn_where_unclipped_and_is_exact_beyond() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(400) < 0.5).astype(int)
    z = np.round(rng.uniform(-5, 5, 400), 2)
    w = rng.integers(1, 5, 400).astype(float)
    st = binary_stats(y, z, w)
    logit_st = type(st)(st.scores, st.pos, st.neg, st.n_rows, score_type="logit")
    # |z| <= 5: 1 − expit(z) loses no more than a few ulps to cancellation, so
    # scikit-learn on the probabilities is an oracle to rounding.
    assert float(binary_log_loss(logit_st)) == pytest.approx(
        log_loss(y, expit(z), sample_weight=w), rel=1e-13)
    assert float(brier(logit_st)) == pytest.approx(
        brier_score_loss(y, expit(z), sample_weight=w), rel=1e-13)
    # Over [−60, 60] the oracle is the other stable form, log1p(e^{−|z|}) + max(∓z, 0).
    z = np.round(rng.uniform(-60, 60, 400), 2)
    st = binary_stats(y, z, w)
    logit_st = type(st)(st.scores, st.pos, st.neg, st.n_rows, score_type="logit")
    m = np.where(y == 1, -z, z)
    ref = float((w * (np.log1p(np.exp(-np.abs(m))) + np.maximum(m, 0))).sum() / w.sum())
    assert float(binary_log_loss(logit_st)) == pytest.approx(ref, rel=1e-13)
    # A confident mistake at z = ±60 costs 60 (expit would clip it to −log eps ≈ 36).
    big = binary_stats(np.array([0, 1]), np.array([60.0, -60.0]))
    big = type(big)(big.scores, big.pos, big.neg, big.n_rows, score_type="logit")
    assert float(binary_log_loss(big)) == pytest.approx(60.0, rel=1e-15)


@pytest.mark.parametrize("engine", ["numpy", "duckdb", "binned"])
def test_engines_agree_on_large_logits(tmp_path: Path, frame: pd.DataFrame,
                                       engine: str) -> None:
    path = _write(tmp_path, frame, _charter())
    exact = mlscope.evaluate(path, engine="numpy")
    if engine == "binned":
        got = mlscope.evaluate(path, binned=64)
    else:
        got = mlscope.evaluate(path, engine=engine)  # type: ignore[arg-type]
    # Each engine's log loss is the exact one of the logits (no clipping at ±36).
    for split in ("validation", "test"):
        sub = frame[frame.split == split]
        assert _v(got, "log_loss", split=split) == pytest.approx(
            _nll(sub.label.to_numpy(), sub.z_a.to_numpy(), sub.w.to_numpy()), rel=1e-12)
    for v in exact.values:
        other = got.value(v.metric, v.model, split=v.split, slice=v.slice)
        assert v.value is not None
        assert other.value is not None, (v.metric, other.undefined)
        if engine == "binned" and v.metric in ("roc_auc", "average_precision"):
            # Binned ranking metrics carry a guaranteed bound.
            assert abs(other.value - v.value) <= (other.error_bound or 0.0) + 1e-12
        elif engine == "binned" and v.metric in ("f1_best", "p_at_r"):
            continue  # binned operating points are chosen among bin edges (documented)
        else:
            assert other.value == pytest.approx(v.value, rel=1e-12, abs=1e-15), (
                v.metric, v.model, v.split, v.slice)


@pytest.mark.skipif(not _has_spark(), reason="needs pyspark")
def test_spark_agrees_on_large_logits(tmp_path: Path, frame: pd.DataFrame) -> None:
    from mlscope.engine.spark_backend import get_session

    path = _write(tmp_path, frame, _charter())
    exact = mlscope.evaluate(path, engine="numpy")
    session = get_session("local[1]")
    try:
        got = mlscope.evaluate(path, engine="spark", spark=session)
    finally:
        session.stop()
    sub = frame[frame.split == "test"]
    y, z, w = sub.label.to_numpy(), sub.z_a.to_numpy(), sub.w.to_numpy()
    assert _v(got, "roc_auc") == pytest.approx(roc_auc_score(y, z, sample_weight=w), rel=1e-13)
    assert _v(got, "log_loss") == pytest.approx(_nll(y, z, w), rel=1e-12)
    for v in exact.values:
        other = got.value(v.metric, v.model, split=v.split, slice=v.slice)
        assert other.value == pytest.approx(v.value, rel=1e-12, abs=1e-15), (
            v.metric, v.model, v.split, v.slice)


# -- score_type: score ------------------------------------------------------------------


def _scores(frame: pd.DataFrame) -> pd.DataFrame:
    df = frame.copy()
    df["z_a"] = df.z_a * 100 + 2000  # a margin in the thousands: no probability
    df["z_b"] = df.z_b * 100 + 2000
    return df


def test_score_type_score_ranks_and_thresholds_on_the_score_scale(
        tmp_path: Path, frame: pd.DataFrame) -> None:
    df = _scores(frame)
    charter = _charter("score", metrics=[
        "roc_auc", "average_precision",
        {"id": "prec_2500", "metric": "precision", "threshold": 2500},
        {"id": "f1_best", "metric": "f1", "threshold": "optimize"},
        {"id": "p_at_r", "metric": "precision_at_recall", "recall": 0.65},
    ])
    path = _write(tmp_path, df, charter)
    assert validate_charter(path).ok
    res = mlscope.evaluate(path)
    sub = df[df.split == "test"]
    y, s, w = sub.label, sub.z_a, sub.w
    assert _v(res, "roc_auc") == pytest.approx(roc_auc_score(y, s, sample_weight=w), rel=1e-13)
    assert _v(res, "average_precision") == pytest.approx(
        average_precision_score(y, s, sample_weight=w), rel=1e-13)
    assert _v(res, "prec_2500") == pytest.approx(
        precision_score(y, s >= 2500, sample_weight=w), rel=1e-13)


@pytest.mark.parametrize("metric", ["log_loss", "brier"])
def test_score_type_score_refuses_probability_metrics(tmp_path: Path, frame: pd.DataFrame,
                                                      metric: str) -> None:
    path = _write(tmp_path, _scores(frame), _charter("score", metrics=["roc_auc", metric]))
    report = validate_charter(path)
    [problem] = report.problems
    assert f"`{metric}` needs probabilities" in problem.message
    lines = path.read_text(encoding="utf-8").splitlines()
    assert problem.line is not None
    assert metric in lines[problem.line - 1]
    assert problem.fix is not None
    assert "score_type: logit" in problem.fix
    ch = Charter.model_validate(_charter("score", metrics=["roc_auc", metric]))
    with pytest.raises(InputError, match="needs probabilities"):
        mlscope.evaluate(ch, base_dir=tmp_path)


def test_score_type_score_needs_an_explicit_threshold(tmp_path: Path,
                                                      frame: pd.DataFrame) -> None:
    # The default 0.5 is a probability: on raw scores it would mean nothing.
    path = _write(tmp_path, _scores(frame), _charter("score", metrics=["roc_auc", "precision"]))
    [problem] = validate_charter(path).problems
    assert "`threshold` must be given" in problem.message
    assert problem.fix is not None
    assert "threshold: optimize" in problem.fix
    # With logits, thresholds stay probabilities: 2500 is refused there, accepted here.
    ok = _write(tmp_path, _scores(frame), _charter("score", metrics=[
        "roc_auc", {"id": "p", "metric": "precision", "threshold": 2500}]))
    assert validate_charter(ok).ok
    logits = _write(tmp_path, frame, _charter(metrics=[
        "roc_auc", {"id": "p", "metric": "precision", "threshold": 2500}]))
    [problem] = validate_charter(logits).problems
    assert "must be in [0.0, 1.0]" in problem.message


def test_score_type_other_than_probability_is_binary_only(tmp_path: Path) -> None:
    from tests.hostile.test_data_files import regression_charter, regression_frame

    c = regression_charter()
    c["data"]["score_type"] = "score"
    [problem] = validate_charter(_write(tmp_path, regression_frame(), c)).problems
    assert "`score_type: score` only applies to a binary task" in problem.message


# -- the data check's advice ------------------------------------------------------------


def test_out_of_range_message_recommends_logit_for_logits(tmp_path: Path,
                                                          frame: pd.DataFrame) -> None:
    df = frame.copy()
    df["z_a"] = np.clip(df.z_a, -8, 8)
    path = _write(tmp_path, df, _charter("probability", metrics=["roc_auc"]))
    with pytest.raises(InputError) as exc:
        mlscope.evaluate(path)
    msg = str(exc.value)
    assert "score_type: logit" in msg
    assert "from -8 to 8" in msg


def test_out_of_range_message_recommends_score_otherwise(tmp_path: Path,
                                                         frame: pd.DataFrame) -> None:
    df = _scores(frame)  # all positive, in the thousands: not logits
    path = _write(tmp_path, df, _charter("probability", metrics=["roc_auc"]))
    with pytest.raises(InputError) as exc:
        mlscope.evaluate(path)
    msg = str(exc.value)
    assert "score_type: score" in msg
    assert "score_type: logit" not in msg


# -- consumers of raw scores: paired tests, custom metrics ------------------------------


def test_paired_tests_use_logits_and_converted_thresholds(tmp_path: Path) -> None:
    from sklearn.metrics import accuracy_score

    from mlscope.compare.intervals import auc_difference_interval
    from mlscope.compare.paired import delong_test, mcnemar_test

    rng = np.random.default_rng(5)
    n = 3000
    signal = rng.normal(size=n)
    y = (rng.random(n) < expit(signal * 1.5)).astype(int)
    df = pd.DataFrame({
        "id": np.arange(n), "y": y, "split": rng.choice(["validation", "test"], size=n),
        # Logits up to ±60: many distinct values where expit is exactly 0 or 1.
        "prod": np.round(np.clip(25 * (signal + rng.normal(scale=1.2, size=n)), -60, 60), 1),
        "better": np.round(np.clip(25 * (signal + rng.normal(scale=0.5, size=n)), -60, 60), 1),
    })
    (tmp_path / "project_metrics.py").write_text(
        "import numpy as np\n"
        "def mean_score(y, s, w):\n"
        "    return float(np.average(s, weights=w))\n", encoding="utf-8")
    c = {
        "project": "gates", "task": "binary", "seed": 1,
        "data": {"table": "eval.parquet", "id": "id", "label": "y", "split": "split",
                 "score_type": "logit", "models": {"prod": "prod", "better": "better"}},
        "splits": {"selection": "validation", "report": "test", "train": None},
        "metrics": ["roc_auc", {"metric": "accuracy", "threshold": 0.7},
                    {"id": "mean_p", "custom": "project_metrics:mean_score",
                     "direction": "higher"}],
        "selection": {"rule": "satisficing", "optimize": "roc_auc"},
        "blessed": "prod",
        "intervals": {"resamples": 20},
    }
    res = mlscope.evaluate(_write(tmp_path, df, c))
    test = df[df.split == "test"]
    d = next(d for d in res.differences if d.split == "test" and d.slice == "overall"
             and d.metric == "roc_auc" and d.model == "better" and d.reference == "prod")
    ref = delong_test(test.y.to_numpy(), test.better.to_numpy(), test["prod"].to_numpy())
    assert d.test == "delong"
    assert d.value == pytest.approx(roc_auc_score(test.y, test.better)
                                    - roc_auc_score(test.y, test["prod"]), abs=1e-12)
    # DeLong's p-value on the raw logits; the interval is the range-respecting one built
    # from the two AUCs' logit-DeLong intervals (docs/computation.md), on the logits too.
    assert d.p_value == pytest.approx(ref.p_value)
    lo, hi = auc_difference_interval(test.y.to_numpy(), test.better.to_numpy(),
                                     test["prod"].to_numpy(), level=0.95)
    assert (d.lower, d.upper) == pytest.approx((lo, hi))
    # Accuracy at the probability 0.7: McNemar counts the rows each model gets right there.
    a = next(d for d in res.differences if d.split == "test" and d.slice == "overall"
             and d.metric == "accuracy" and d.model == "better" and d.reference == "prod")
    right_b = (expit(test.better) >= 0.7) == (test.y == 1)
    right_p = (expit(test["prod"]) >= 0.7) == (test.y == 1)
    assert a.test == "mcnemar"
    assert a.value == pytest.approx(accuracy_score(test.y, expit(test.better) >= 0.7)
                                    - accuracy_score(test.y, expit(test["prod"]) >= 0.7))
    assert a.p_value == pytest.approx(mcnemar_test(right_b, right_p).p_value)
    # Custom metrics receive probabilities, as documented.
    assert _v(res, "mean_p", "better") == pytest.approx(float(np.mean(expit(test.better))),
                                                        rel=1e-12)


def test_score_scale_thresholds_do_not_apply_to_baselines(tmp_path: Path,
                                                          frame: pd.DataFrame) -> None:
    df = _scores(frame)
    df.loc[df.index % 5 == 0, "split"] = "train"
    charter = _charter("score", metrics=[
        "roc_auc", {"id": "prec_2500", "metric": "precision", "threshold": 2500}])
    charter["baselines"] = {"prior": {"kind": "prior"}}
    res = mlscope.evaluate(_write(tmp_path, df, charter))
    sub = df[df.split == "test"]
    assert _v(res, "prec_2500") == pytest.approx(
        precision_score(sub.label, sub.z_a >= 2500, sample_weight=sub.w), rel=1e-13)
    # 2500 is on the candidates' scale: a baseline's probabilities are never cut there.
    base = res.value("prec_2500", "prior", split="test")
    assert base.value is None
    assert base.undefined is not None
    assert "baseline predicts probabilities" in base.undefined
    assert res.value("roc_auc", "prior", split="test").undefined is None


@pytest.mark.parametrize(("y", "z"), [
    ([1], [3.5]),                                   # tiny: one row
    ([0], [-45.0]),                                 # tiny, beyond saturation
    ([1, 1, 1], [2.0, 2.0, -1.0]),                  # one class, ties
    ([1, 1, 0, 0], [50.0, 41.0, -41.0, -50.0]),     # perfect, all saturated
    ([1, 0, 1, 0, 1], [0.5, 0.5, -2.0, 4.0, 4.0]),  # ties across classes
])
def test_probability_metrics_of_logits_on_small_slices(y: list[int], z: list[float]) -> None:
    ya, za = np.asarray(y), np.asarray(z)
    w = np.arange(1.0, ya.size + 1)
    st = binary_stats(ya, za, w)
    st = type(st)(st.scores, st.pos, st.neg, st.n_rows, score_type="logit")
    assert float(binary_log_loss(st)) == pytest.approx(_nll(ya, za, w), rel=1e-14)
    # scikit-learn's Brier goes through 1 − p, which rounds tiny p away: it is an oracle
    # to an absolute 1e-15, the direct weighted mean of (p − y)² to the last bits.
    assert float(brier(st)) == pytest.approx(
        brier_score_loss(ya, expit(za), sample_weight=w, pos_label=1), rel=0, abs=1e-15)
    assert float(brier(st)) == pytest.approx(
        np.average((expit(za) - ya) ** 2, weights=w), rel=1e-14, abs=1e-300)
    if np.abs(za).max() <= 5:
        assert float(binary_log_loss(st)) == pytest.approx(
            log_loss(ya, expit(za), sample_weight=w, labels=[0, 1]), rel=1e-13)


def test_probability_metrics_of_logits_on_no_rows() -> None:
    st = binary_stats(np.zeros(0, dtype=int), np.zeros(0))
    st = type(st)(st.scores, st.pos, st.neg, st.n_rows, score_type="logit")
    assert np.isnan(binary_log_loss(st))
    assert np.isnan(brier(st))
    scored = type(st)(st.scores, st.pos, st.neg, st.n_rows, score_type="score")
    assert np.isnan(binary_log_loss(scored))


def test_threshold_one_on_logits_predicts_nothing(tmp_path: Path, frame: pd.DataFrame) -> None:
    # expit(z) < 1 for every finite logit, so `score >= 1` holds for no row; rounding the
    # logits to probabilities first made every z > 37 "reach" 1.
    res = mlscope.evaluate(_write(tmp_path, frame, _charter(metrics=[
        "roc_auc", {"id": "p1", "metric": "precision", "threshold": 1},
        {"id": "r1", "metric": "recall", "threshold": 1}])))
    p1 = res.value("p1", "a", split="test")
    assert p1.value is None
    assert p1.undefined == "no predicted positives at threshold 1 (logit inf)"
    assert _v(res, "r1") == 0.0
