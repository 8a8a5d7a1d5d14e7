"""The NumPy reference constructors of sufficient statistics, against direct computation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from mlscope.metrics.stats import (
    binary_stats,
    error_stats,
    multiclass_stats,
    regression_stats,
)

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def weighted_rows(draw: st.DrawFn) -> tuple[np.random.Generator, int, np.ndarray | None]:
    n = draw(st.one_of(st.integers(0, 20), st.integers(100, 300)))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    mode = draw(st.sampled_from(["none", "grid", "continuous", "with_zeros"]))
    w = {
        "none": None,
        "grid": rng.choice([0.5, 1.0, 2.0], size=n),
        "continuous": rng.uniform(0.1, 3.0, size=n),
        "with_zeros": rng.choice([0.0, 1.0, 2.0], size=n),
    }[mode]
    return rng, n, w


@given(weighted_rows())
@SETTINGS
def test_binary_stats_are_weighted_counts_per_distinct_score(
    case: tuple[np.random.Generator, int, np.ndarray | None],
) -> None:
    rng, n, w = case
    y = rng.random(n) < 0.4
    s = np.round(rng.random(n) * 5) / 5
    stats = binary_stats(y, s, w)
    ww = np.ones(n) if w is None else w
    np.testing.assert_array_equal(stats.scores, np.unique(s)[::-1])
    assert np.all(np.diff(stats.scores) < 0)
    for i, score in enumerate(stats.scores):
        at = s == score
        assert stats.pos[i] == pytest.approx(ww[at & y].sum(), abs=1e-12)
        assert stats.neg[i] == pytest.approx(ww[at & ~y].sum(), abs=1e-12)
    assert stats.n_rows == n
    assert stats.batch_shape == ()
    assert float(stats.total_pos) == pytest.approx(ww[y].sum(), abs=1e-12)
    assert float(stats.total_neg) == pytest.approx(ww[~y].sum(), abs=1e-12)


@given(weighted_rows(), st.integers(0, 2**31 - 1))
@SETTINGS
def test_binary_merge_is_the_stats_of_the_union(
    case: tuple[np.random.Generator, int, np.ndarray | None], seed: int,
) -> None:
    rng, n, w = case
    y = rng.random(n) < 0.5
    s = np.round(rng.random(n) * 7) / 7
    ww = np.ones(n) if w is None else w
    half = np.random.default_rng(seed).random(n) < 0.5
    a = binary_stats(y[half], s[half], ww[half])
    b = binary_stats(y[~half], s[~half], ww[~half])
    whole = binary_stats(y, s, ww)
    for merged in (a.merge(b), b.merge(a)):
        np.testing.assert_array_equal(merged.scores, whole.scores)
        np.testing.assert_allclose(merged.pos, whole.pos, rtol=0, atol=1e-12)
        np.testing.assert_allclose(merged.neg, whole.neg, rtol=0, atol=1e-12)
        assert merged.n_rows == n


def test_binary_merge_keeps_batch_dimensions() -> None:
    a = binary_stats([1, 0], [0.9, 0.1])
    b = binary_stats([1], [0.5])
    from mlscope.metrics.stats import BinaryStats

    ab = BinaryStats(a.scores, np.stack([a.pos, 2 * a.pos]), np.stack([a.neg, 2 * a.neg]), 2)
    bb = BinaryStats(b.scores, np.stack([b.pos, 0 * b.pos]), np.stack([b.neg, b.neg]), 1)
    merged = ab.merge(bb)
    np.testing.assert_array_equal(merged.scores, [0.9, 0.5, 0.1])
    np.testing.assert_array_equal(merged.pos, [[1, 1, 0], [2, 0, 0]])
    np.testing.assert_array_equal(merged.neg, [[0, 0, 1], [0, 0, 2]])


@given(weighted_rows(), st.integers(3, 5), st.sampled_from([1, 2, 4]))
@SETTINGS
def test_multiclass_stats_match_sklearn(
    case: tuple[np.random.Generator, int, np.ndarray | None], k: int, levels: int,
) -> None:
    rng, n, w = case
    classes = tuple(f"k{i}" for i in range(k))
    y = rng.integers(0, k, n)
    raw = rng.integers(1, levels + 1, (n, k)).astype(float)
    proba = raw / raw.sum(axis=1, keepdims=True)
    stats = multiclass_stats(np.asarray(classes)[y], proba, classes, w)
    ww = np.ones(n) if w is None else w
    labels = list(range(k))
    assert stats.classes == classes
    assert stats.n_rows == n
    assert float(stats.total) == pytest.approx(ww.sum(), abs=1e-12)
    pred = proba.argmax(axis=1) if n else np.zeros(0, int)
    # scikit-learn >= 1.8 refuses all-zero weights; the confusion matrix is then all zeros.
    ref = (skm.confusion_matrix(y, pred, labels=labels, sample_weight=w)
           if n and ww.sum() > 0 else np.zeros((k, k)))
    np.testing.assert_allclose(stats.confusion, ref, rtol=0, atol=1e-12)
    if ww.sum() > 0:
        for kk in range(1, k):
            top = skm.top_k_accuracy_score(y, proba, k=kk, labels=labels, sample_weight=w)
            assert stats.topk_hits[kk - 1] / stats.total == pytest.approx(top, abs=1e-12)
        assert stats.topk_hits[k - 1] == pytest.approx(ww.sum(), abs=1e-12)
        ll = skm.log_loss(y, proba, labels=labels, sample_weight=w)
        assert float(stats.log_loss_sum / stats.total) == pytest.approx(ll, abs=1e-12)
    for c, ovr in enumerate(stats.one_vs_rest):
        ref_ovr = binary_stats(y == c, proba[:, c], ww)
        np.testing.assert_array_equal(ovr.scores, ref_ovr.scores)
        np.testing.assert_allclose(ovr.pos, ref_ovr.pos, rtol=0, atol=1e-12)
        np.testing.assert_allclose(ovr.neg, ref_ovr.neg, rtol=0, atol=1e-12)


def test_multiclass_argmax_and_topk_ties() -> None:
    classes = ("a", "b", "c")
    proba = np.array([[0.4, 0.4, 0.2], [0.4, 0.4, 0.2], [1 / 3, 1 / 3, 1 / 3]])
    y = np.array(["b", "a", "a"])
    stats = multiclass_stats(y, proba, classes)
    # The first arg-max wins, as numpy.argmax.
    np.testing.assert_array_equal(stats.confusion, [[2, 0, 0], [1, 0, 0], [0, 0, 0]])
    # sklearn's ranking puts the larger class index first among ties.
    for k in (1, 2):
        ref = skm.top_k_accuracy_score([1, 0, 0], proba, k=k, labels=[0, 1, 2])
        assert float(stats.topk_hits[k - 1]) / 3 == pytest.approx(ref)


@given(weighted_rows(), st.sampled_from([None, 0.0, 50.0]))
@SETTINGS
def test_regression_stats_are_weighted_sums(
    case: tuple[np.random.Generator, int, np.ndarray | None], shift: float | None,
) -> None:
    rng, n, w = case
    y = np.round(rng.normal(size=n) * 4) / 4
    p = y + np.round(rng.normal(size=n) * 2) / 2
    stats = regression_stats(y, p, w, y_shift=shift)
    ww = np.ones(n) if w is None else w
    e = p - y
    if shift is not None:
        assert stats.y_shift == shift
    elif ww.sum() > 0:
        assert stats.y_shift == pytest.approx(np.average(y, weights=ww))
    c = y - stats.y_shift
    for got, ref in (
        (stats.total, ww.sum()), (stats.sum_err, (ww * e).sum()),
        (stats.sum_abs, (ww * np.abs(e)).sum()), (stats.sum_sq, (ww * e * e).sum()),
        (stats.sum_ape, (ww * np.abs(e) / np.maximum(np.abs(y), np.finfo(float).eps)).sum()),
        (stats.sum_y, (ww * c).sum()), (stats.sum_y2, (ww * c * c).sum()),
    ):
        assert np.asarray(got).shape == ()
        assert float(got) == pytest.approx(float(ref), rel=1e-12, abs=1e-9)
    assert stats.abs_errors.unit_weights == (w is None or bool(np.all(w == 1)))
    np.testing.assert_array_equal(stats.abs_errors.values, np.unique(np.abs(e)))
    assert stats.n_rows == n


def test_regression_stats_with_all_zero_weights_do_not_fail() -> None:
    stats = regression_stats([1.0, 3.0], [1.0, 2.0], [0.0, 0.0])
    assert float(stats.total) == 0.0
    assert stats.y_shift == 2.0


@given(weighted_rows())
@SETTINGS
def test_error_stats_histogram(case: tuple[np.random.Generator, int, np.ndarray | None]) -> None:
    rng, n, w = case
    v = np.round(rng.normal(size=n) * 3) / 3
    stats = error_stats(v, w)
    ww = np.ones(n) if w is None else w
    np.testing.assert_array_equal(stats.values, np.unique(v))
    assert np.all(np.diff(stats.values) > 0)
    for i, value in enumerate(stats.values):
        assert stats.weights[i] == pytest.approx(ww[v == value].sum(), abs=1e-12)
    assert float(stats.total) == pytest.approx(ww.sum(), abs=1e-12)
    assert stats.unit_weights == (w is None or bool(np.all(w == 1.0)))
    assert stats.n_rows == n
