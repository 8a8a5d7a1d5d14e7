"""Multiclass metrics against scikit-learn, on data with tied scores, with and without weights."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from mlscope.metrics.multiclass import confusion_matrix
from mlscope.metrics.registry import get_metric, metrics_for_task
from mlscope.metrics.stats import (
    BinaryStats,
    MulticlassStats,
    ScoresByClass,
    multiclass_stats,
)

TOL = 1e-9
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

Rows = tuple[np.ndarray, np.ndarray, tuple[str, ...], np.ndarray | None]


def make_rows(n: int, seed: int, k: int, levels: int, weights: str,
              present: int | None = None) -> Rows:
    """Class indices, probabilities on a coarse grid (tied scores and arg-max ties),
    class names, and weights. ``present`` limits the labels to the first classes."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, present or k, n)
    raw = rng.integers(1, levels + 1, (n, k)).astype(float)
    raw[np.arange(n), y] += rng.integers(0, levels + 1, n)  # some signal
    proba = raw / raw.sum(axis=1, keepdims=True)
    classes = tuple(f"c{i}" for i in range(k))
    w: np.ndarray | None
    if weights == "none":
        w = None
    elif weights == "grid":
        w = rng.choice([0.5, 1.0, 2.0, 3.0], size=n)
    elif weights == "continuous":
        w = rng.uniform(0.05, 5.0, size=n)
    else:
        w = rng.choice([0.0, 1.0, 2.5], size=n)
    return y, proba, classes, w


@st.composite
def mc_rows(draw: st.DrawFn) -> Rows:
    k = draw(st.integers(3, 5))
    return make_rows(
        n=draw(st.one_of(st.integers(1, 25), st.integers(150, 400))),
        seed=draw(st.integers(0, 2**31 - 1)),
        k=k,
        levels=draw(st.sampled_from([1, 2, 3, 6])),
        weights=draw(st.sampled_from(["none", "grid", "continuous", "with_zeros"])),
        present=draw(st.sampled_from([None, 2, k])),
    )


SCENARIOS = [
    pytest.param(dict(n=15, seed=1, k=3, levels=2, weights="none"), id="small-ties"),
    pytest.param(dict(n=15, seed=2, k=4, levels=2, weights="grid"), id="small-grid-weights"),
    pytest.param(dict(n=300, seed=3, k=5, levels=6, weights="none"), id="moderate"),
    pytest.param(dict(n=300, seed=4, k=4, levels=3, weights="continuous"),
                 id="moderate-weights"),
    pytest.param(dict(n=200, seed=5, k=3, levels=1, weights="with_zeros"),
                 id="all-scores-equal-zero-weights"),
    pytest.param(dict(n=60, seed=6, k=4, levels=3, weights="none", present=2),
                 id="absent-classes"),
]


def stats_of(rows: Rows) -> MulticlassStats:
    y, proba, classes, w = rows
    return multiclass_stats(np.asarray(classes)[y], proba, classes, w)


def _w(y: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    return np.ones(y.size) if w is None else w


def counts(rows: Rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted per-class true positives, support and predicted counts (independently)."""
    y, proba, classes, w = rows
    k = len(classes)
    pred = proba.argmax(axis=1)
    ww = _w(y, w)
    tp = np.bincount(y[pred == y], weights=ww[pred == y], minlength=k)
    return tp, np.bincount(y, weights=ww, minlength=k), np.bincount(pred, weights=ww, minlength=k)


EXPECTED = {"roc_auc", "brier", "mcc", "cohen_kappa", "balanced_accuracy",
            "class_precision", "class_recall", "class_f1"}


def _ovo_weighted_oracle(y: np.ndarray, proba: np.ndarray, w: np.ndarray, k: int,
                         average: str) -> float:
    """Hand & Till with row weights, from scikit-learn's binary ROC AUC on each pair
    (scikit-learn's own one-vs-one refuses sample_weight)."""
    support = np.bincount(y, weights=w, minlength=k)
    present = [c for c in range(k) if support[c] > 0]
    scores, weights = [], []
    for i, a in enumerate(present):
        for b in present[i + 1:]:
            m = (y == a) | (y == b)
            auc_a = skm.roc_auc_score(y[m] == a, proba[m, a], sample_weight=w[m])
            auc_b = skm.roc_auc_score(y[m] == b, proba[m, b], sample_weight=w[m])
            scores.append((auc_a + auc_b) / 2)
            weights.append(support[a] + support[b] if average == "weighted" else 1.0)
    return float(np.average(scores, weights=weights))


def expected_oracle(name: str, rows: Rows, params: dict[str, Any]) -> tuple[bool, float | None]:
    y, proba, classes, w = rows
    k = len(classes)
    labels = list(range(k))
    pred = proba.argmax(axis=1)
    ww = _w(y, w)
    _, support, predicted = counts(rows)
    if name == "roc_auc":
        mc, avg = params["multi_class"], params["average"]
        if mc == "ovr":
            if np.any(support == 0) or np.any(support == ww.sum()):
                return True, None
            return False, skm.roc_auc_score(y, proba, multi_class="ovr", average=avg,
                                            labels=labels, sample_weight=w)
        if np.count_nonzero(support) < 2:
            return True, None
        if w is None and np.all(support > 0):
            return False, skm.roc_auc_score(y, proba, multi_class="ovo", average=avg,
                                            labels=labels)
        return False, _ovo_weighted_oracle(y, proba, ww, k, avg)
    if name == "brier":
        return False, skm.brier_score_loss(y, proba, labels=labels, sample_weight=w)
    if name == "balanced_accuracy":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true"
            return False, skm.balanced_accuracy_score(y, pred, sample_weight=w)
    if name == "mcc":
        if np.count_nonzero(support) < 2 or np.count_nonzero(predicted) < 2:
            return True, None
        return False, skm.matthews_corrcoef(y, pred, sample_weight=w)
    if name == "cohen_kappa":
        if (np.count_nonzero(support) == 1 and np.count_nonzero(predicted) == 1
                and np.array_equal(support > 0, predicted > 0)):
            return True, None
        return False, skm.cohen_kappa_score(y, pred, labels=labels, sample_weight=w)
    kind = name.removeprefix("class_")
    c = classes.index(params["cls"])
    den = {"precision": predicted, "recall": support, "f1": support + predicted}[kind][c]
    if den == 0:
        return True, None
    fn = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}[kind]
    return False, float(fn(y, pred, labels=[c], average=None, sample_weight=w)[0])


def oracle(name: str, rows: Rows, params: dict[str, Any]) -> tuple[bool, float | None]:
    y, proba, classes, w = rows
    k = len(classes)
    labels = list(range(k))
    pred = proba.argmax(axis=1)
    _, support, predicted = counts(rows)
    if float(_w(y, w).sum()) == 0:
        return True, None
    if name == "accuracy":
        return False, skm.accuracy_score(y, pred, sample_weight=w)
    if name == "log_loss":
        return False, skm.log_loss(y, proba, labels=labels, sample_weight=w)
    if name == "top_k_accuracy":
        kk = params["k"]
        if kk >= k:
            return False, 1.0
        return False, skm.top_k_accuracy_score(y, proba, k=kk, labels=labels, sample_weight=w)
    if name == "mean_average_precision":
        if np.any(support == 0):
            return True, None
        onehot = label_binarize(y, classes=labels)
        return False, skm.average_precision_score(onehot, proba, average="macro",
                                                  sample_weight=w)
    if name == "class_average_precision":
        c = classes.index(params["cls"])
        if support[c] == 0:
            return True, None
        return False, skm.average_precision_score(y == c, proba[:, c], sample_weight=w)
    if name in EXPECTED:
        return expected_oracle(name, rows, params)
    kind, average = name.rsplit("_", 1)
    den = {"precision": predicted, "recall": support, "f1": support + predicted}[kind]
    if average == "macro" and np.any(den == 0):
        return True, None
    if average == "weighted" and np.any((den == 0) & (support > 0)):
        return True, None
    fn = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}[kind]
    with warnings.catch_warnings():
        # sklearn warns about classes that carry no weight in a weighted average.
        warnings.simplefilter("ignore" if average == "weighted" else "error")
        return False, fn(y, pred, labels=labels, average=average, sample_weight=w)


MC_PARAMS: dict[str, list[dict[str, Any]]] = {
    "accuracy": [{}], "log_loss": [{}],
    "top_k_accuracy": [{"k": 1}, {"k": 2}, {"k": 3}, {"k": 7}],
    "mean_average_precision": [{}],
    "class_average_precision": [{"cls": "c0"}, {"cls": "c2"}],
    # The metrics people look for first (issue 17, item 9).
    "roc_auc": [{"multi_class": mc, "average": avg}
                for mc in ("ovr", "ovo") for avg in ("macro", "weighted")],
    "brier": [{}], "mcc": [{}], "cohen_kappa": [{}], "balanced_accuracy": [{}],
    **{f"class_{kind}": [{"cls": "c0"}, {"cls": "c1"}, {"cls": "c2"}]
       for kind in ("precision", "recall", "f1")},
    **{f"{kind}_{avg}": [{}] for kind in ("precision", "recall", "f1")
       for avg in ("macro", "micro", "weighted")},
}


def check_all(rows: Rows) -> None:
    stats = stats_of(rows)
    for name, sets in MC_PARAMS.items():
        spec = get_metric(name, task="multiclass")
        for params in sets:
            full = spec.resolve_params(params)
            value = np.asarray(spec.fn(stats, **full))
            why = spec.undefined(stats, **full)
            assert value.shape == ()
            assert value.dtype == np.float64
            undefined, ref = oracle(name, rows, params)
            if undefined:
                assert np.isnan(value), (name, params)
                assert isinstance(why, str), (name, params)
                assert why, (name, params)
            else:
                assert why is None, (name, params, why)
                assert ref is not None, (name, params)
                assert np.isfinite(value), (name, params)
                assert abs(float(value) - float(ref)) <= TOL, (name, params, float(value), ref)


@given(mc_rows())
@SETTINGS
def test_multiclass_metrics_match_sklearn(rows: Rows) -> None:
    check_all(rows)


@pytest.mark.parametrize("case", SCENARIOS)
def test_named_scenarios_match_sklearn(case: dict[str, Any]) -> None:
    check_all(make_rows(**case))


@pytest.mark.parametrize("case", SCENARIOS)
def test_confusion_matrix_matches_sklearn(case: dict[str, Any]) -> None:
    rows = make_rows(**case)
    y, proba, classes, w = rows
    got = confusion_matrix(stats_of(rows))
    ref = skm.confusion_matrix(y, proba.argmax(axis=1), labels=list(range(len(classes))),
                               sample_weight=w)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)


def test_every_multiclass_metric_is_covered() -> None:
    names = {s.name for s in metrics_for_task("multiclass") if not s.name.startswith("error_")}
    # expected_cost reads the charter's costs: its oracle (scikit-learn) is in
    # tests/test_costs_tasks.py.
    assert names - {"expected_cost"} == set(MC_PARAMS)


def test_shared_specs_dispatch_on_the_stats() -> None:
    for name in ("accuracy", "log_loss"):
        spec = get_metric(name)
        assert spec.tasks == frozenset({"binary", "multiclass"})
    rows = make_rows(40, 9, 3, 3, "grid")
    # Multiclass accuracy ignores the (binary) threshold parameter.
    spec = get_metric("accuracy")
    a = float(spec.fn(stats_of(rows), threshold=0.9))
    assert a == pytest.approx(skm.accuracy_score(rows[0], rows[1].argmax(1),
                                                 sample_weight=rows[3]), abs=TOL)


# --------------------------------------------------------------------------------------
# Edge cases
# --------------------------------------------------------------------------------------


def test_empty_input_is_undefined_with_reason() -> None:
    classes = ("a", "b", "c")
    stats = multiclass_stats(np.array([], dtype=str), np.zeros((0, 3)), classes)
    for name, sets in MC_PARAMS.items():
        spec = get_metric(name)
        for params in sets:
            full = spec.resolve_params(params)
            assert np.isnan(spec.fn(stats, **full)), name
            why = spec.undefined(stats, **full)
            assert why is not None, name
    assert get_metric("accuracy").undefined(stats) == "no rows"
    assert get_metric("class_average_precision").undefined(stats, cls="c0") == (
        "no class `c0` (classes: a, b, c)"
    )


def test_absent_and_never_predicted_classes_are_named() -> None:
    classes = ("cat", "dog", "fox")
    y = np.array(["cat", "dog", "cat", "dog"])
    proba = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.3, 0.6, 0.1], [0.6, 0.3, 0.1]])
    stats = multiclass_stats(y, proba, classes)
    map_ = get_metric("mean_average_precision")
    assert np.isnan(map_.fn(stats))
    assert map_.undefined(stats) == (
        "class(es) without rows, so without average precision: `fox`"
    )
    assert get_metric("precision_macro").undefined(stats) == (
        "precision is undefined for class(es) never predicted: `fox`"
    )
    assert get_metric("recall_macro").undefined(stats) == (
        "recall is undefined for class(es) without rows: `fox`"
    )
    assert get_metric("f1_macro").undefined(stats) == (
        "f1 is undefined for class(es) neither present nor predicted: `fox`"
    )
    # `fox` has no rows, so no weight in the weighted averages.
    for name in ("precision_weighted", "recall_weighted", "f1_weighted"):
        assert get_metric(name).undefined(stats) is None
        assert np.isfinite(get_metric(name).fn(stats))
    cap = get_metric("class_average_precision")
    assert cap.undefined(stats, cls="fox") == "no rows of class `fox`"
    assert np.isnan(cap.fn(stats, cls="fox"))
    assert cap.undefined(stats, cls="cat") is None
    assert np.isnan(cap.fn(stats, cls="wolf"))
    assert cap.undefined(stats, cls="wolf") == "no class `wolf` (classes: cat, dog, fox)"


def test_one_class_rows() -> None:
    classes = ("a", "b", "c")
    y = np.array(["b"] * 5)
    proba = np.tile([0.2, 0.5, 0.3], (5, 1))
    stats = multiclass_stats(y, proba, classes)
    assert float(get_metric("accuracy").fn(stats)) == 1.0
    assert float(get_metric("top_k_accuracy").fn(stats, k=1)) == 1.0
    assert "`a`, `c`" in (get_metric("mean_average_precision").undefined(stats) or "")


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------


def all_values(stats: MulticlassStats) -> dict[tuple[str, int], np.ndarray]:
    out = {}
    for name, sets in MC_PARAMS.items():
        spec = get_metric(name)
        for i, params in enumerate(sets):
            out[(name, i)] = np.asarray(spec.fn(stats, **spec.resolve_params(params)))
    return out


def stack(parts: list[MulticlassStats]) -> MulticlassStats:
    first = parts[0]
    ovr = tuple(
        BinaryStats(b.scores, np.stack([p.one_vs_rest[c].pos for p in parts]),
                    np.stack([p.one_vs_rest[c].neg for p in parts]), b.n_rows)
        for c, b in enumerate(first.one_vs_rest)
    )
    return MulticlassStats(
        classes=first.classes,
        confusion=np.stack([p.confusion for p in parts]),
        topk_hits=np.stack([p.topk_hits for p in parts]),
        log_loss_sum=np.stack([p.log_loss_sum for p in parts]),
        one_vs_rest=ovr,
        total=np.stack([p.total for p in parts]),
        n_rows=first.n_rows,
        by_class=tuple(
            ScoresByClass(h.scores, h.cls, np.stack([p.by_class[c].weight for p in parts]))
            for c, h in enumerate(first.by_class or ())),
    )


@given(mc_rows(), st.integers(0, 2**31 - 1))
@SETTINGS
def test_stacked_replicates_match_each_computed_alone(rows: Rows, seed: int) -> None:
    y, proba, classes, w = rows
    rng = np.random.default_rng(seed)
    base = _w(y, w)
    reps = rng.multinomial(y.size, np.full(y.size, 1 / y.size), size=3).astype(float)
    alone = [multiclass_stats(np.asarray(classes)[y], proba, classes, c * base) for c in reps]
    stacked = stack(alone)
    assert stacked.batch_shape == (3,)
    got = all_values(stacked)
    for r, one in enumerate(alone):
        for key, value in all_values(one).items():
            assert got[key].shape == (3,)
            np.testing.assert_allclose(got[key][r], value, rtol=1e-13, atol=1e-15,
                                       equal_nan=True, err_msg=str(key))


@given(mc_rows(), st.integers(0, 2**31 - 1))
@SETTINGS
def test_row_order_does_not_matter(rows: Rows, seed: int) -> None:
    y, proba, classes, w = rows
    perm = np.random.default_rng(seed).permutation(y.size)
    shuffled = (y[perm], proba[perm], classes, None if w is None else w[perm])
    a, b = all_values(stats_of(shuffled)), all_values(stats_of(rows))
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("case", SCENARIOS)
def test_unit_weights_equal_no_weights(case: dict[str, Any]) -> None:
    y, proba, classes, _ = make_rows(**{**case, "weights": "none"})
    a = all_values(stats_of((y, proba, classes, np.ones(y.size))))
    b = all_values(stats_of((y, proba, classes, None)))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_specs_carry_metadata() -> None:
    for name in MC_PARAMS:
        spec = get_metric(name, task="multiclass")
        assert spec.label
        assert spec.description.endswith(".")
        assert spec.direction == ("lower" if name in ("log_loss", "brier") else "higher")
    assert get_metric("top_k_accuracy").params["k"].default == 2
    assert get_metric("class_average_precision").params["cls"].kind == "str"
