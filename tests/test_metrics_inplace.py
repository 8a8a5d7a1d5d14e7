"""The faster metric kernels give the same bits as the plain expressions they replace.

ROC AUC and average precision are computed in place on two buffers, cumulative sums of
whole-number histograms in int32 (:func:`mlscope.metrics.arith.cumsum_exact`), and a
slice's threshold metrics share one set of confusion sums found by binary search
(:meth:`BinaryStats.split_at`, :func:`predicted_bins`). Each is compared with the
expression it replaced (the code before issue 16's speed work) on ties, fractional
weights, tiny, empty and one-class histograms and bootstrap batches — as bytes, no
tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlscope.metrics.arith import cumsum_exact
from mlscope.metrics.arith import safe_div as _div
from mlscope.metrics.binary import average_precision, binary_log_loss, brier, roc_auc
from mlscope.metrics.binary_threshold import THRESHOLD_METRICS, confusion_at, predicted_bins
from mlscope.metrics.calibration import bin_index, ece, recalibration
from mlscope.metrics.registry import get_metric
from mlscope.metrics.stats import BinaryStats, binary_stats


def _old_roc_auc(st: BinaryStats) -> np.ndarray:
    above = np.cumsum(st.pos, axis=-1) - st.pos
    wins = (st.neg * (above + 0.5 * st.pos)).sum(axis=-1)
    return _div(wins, st.total_pos * st.total_neg)


def _old_ap(st: BinaryStats) -> np.ndarray:
    tp = np.cumsum(st.pos, axis=-1)
    predicted = tp + np.cumsum(st.neg, axis=-1)
    has_pos = st.pos > 0
    prec = np.where(has_pos, tp / np.where(has_pos, predicted, 1.0), 0.0)
    return _div((st.pos * prec).sum(axis=-1), st.total_pos)


def _old_confusion(st: BinaryStats, threshold: float) -> tuple[np.ndarray, ...]:
    k = int(np.searchsorted(-st.scores, -threshold, side="right"))
    return tuple(np.asarray(a.sum(axis=-1), dtype=np.float64) for a in (
        st.pos[..., :k], st.neg[..., :k], st.pos[..., k:], st.neg[..., k:]))


def _same(a: object, b: object) -> bool:
    x, z = np.asarray(a), np.asarray(b)
    return x.dtype == z.dtype and x.shape == z.shape and x.tobytes() == z.tobytes()


def _corpus() -> list[tuple[str, BinaryStats]]:
    rng = np.random.default_rng(1616)
    out: list[tuple[str, BinaryStats]] = []
    for name, n, distinct, weighted in (
        ("continuous", 4000, None, False), ("ties-50", 3000, 50, False),
        ("ties-2", 300, 2, False), ("weighted", 2000, 40, True),
        ("weighted-continuous", 1500, None, True), ("one-row", 1, None, False),
        ("tiny", 3, None, False),
    ):
        s = rng.random(n) if distinct is None else rng.integers(0, distinct, n) / distinct
        y = rng.random(n) < 0.25
        w = rng.gamma(2.0, 0.7, n) if weighted else None
        out.append((name, binary_stats(y, s, w)))
        out.append((name + "-negatives-only", binary_stats(np.zeros(n, bool), s, w)))
        out.append((name + "-positives-only", binary_stats(np.ones(n, bool), s, w)))
    # A bootstrap batch: Poisson counts (whole numbers, empty bins) and fractional weights.
    base = binary_stats(rng.random(500) < 0.3, rng.integers(0, 60, 500) / 60)
    m = base.scores.size
    counts = rng.poisson(1.0, (7, m, 2)).astype(np.float64)
    out.append(("batch-counts", BinaryStats(base.scores, counts[..., 0], counts[..., 1], 500)))
    frac = rng.gamma(1.0, 1.0, (5, m, 2))
    out.append(("batch-fractional", BinaryStats(base.scores, frac[..., 0], frac[..., 1], 500)))
    empty = np.zeros(0)
    out.append(("empty", BinaryStats(empty, empty, empty, 0)))
    return out


CASES = _corpus()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_ranking_metrics_same_bits(case: tuple[str, BinaryStats]) -> None:
    _, st = case
    with np.errstate(all="ignore"):
        assert _same(roc_auc(st), _old_roc_auc(st))
        assert _same(average_precision(st), _old_ap(st))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_confusion_same_bits_and_kept_sums_are_not_shared(case: tuple[str, BinaryStats]) -> None:
    _, st = case
    thresholds = [0.5, 0.0, 1.0, -np.inf, np.inf, 0.25, 1e-9]
    thresholds += [float(v) for v in st.scores[:3]]  # exactly on a distinct score
    for thr in thresholds:
        got = confusion_at(st, thr)
        for a, b in zip(got, _old_confusion(st, thr), strict=True):
            assert _same(a, b)
        got[0][...] = -1.0  # a caller changing its copy must not change the kept sums
        for a, b in zip(confusion_at(st, thr), _old_confusion(st, thr), strict=True):
            assert _same(a, b)


@pytest.mark.parametrize("thr", [0.5, 0.3, 0.0, 1.0, np.inf, -np.inf, 0.1 + 0.2, np.nan])
def test_predicted_bins_is_searchsorted(thr: float) -> None:
    rng = np.random.default_rng(5)
    for scores in (np.sort(rng.integers(0, 10, 50) / 10)[::-1],
                   np.unique(rng.random(1000))[::-1], np.array([0.3]), np.zeros(0),
                   np.array([1.0, 0.5, 0.0, -0.0][:3])):
        s = np.ascontiguousarray(np.unique(scores)[::-1])
        assert predicted_bins(s, thr) == int(np.searchsorted(-s, -thr, side="right"))


def test_cumsum_exact_same_bits() -> None:
    rng = np.random.default_rng(7)
    cases = [
        rng.integers(0, 5, 10_000).astype(np.float64),          # counts: the int32 path
        rng.poisson(1.0, (4, 3000)).astype(np.float64),          # a batch of counts
        rng.gamma(2.0, 0.5, 2000),                               # fractional weights
        np.array([0.0, 1.0, 2.5, 3.0]),                          # one fraction
        np.array([-0.0, 0.0, 1.0]),                              # a leading -0.0
        np.array([3.0, -1.0, 2.0]),                              # negative
        np.array([2.0**31, 1.0]),                                # beyond int32
        np.array([2.0**30, 2.0**30]),                            # a sum beyond int32
        np.array([1.0, np.nan, 2.0]),
        np.array([1.0, np.inf]),
        np.zeros(0),
        np.zeros((3, 0)),
    ]
    for x in cases:
        with np.errstate(invalid="ignore"):
            assert _same(cumsum_exact(x), np.cumsum(x, axis=-1)), x[:5]
    assert _same(cumsum_exact(np.arange(5.0)[::-1]), np.cumsum(np.arange(5.0)[::-1]))


def test_calibration_unchanged_on_counts() -> None:
    # bin_index reads cumsum_exact: ECE and the recalibration fit on whole-number
    # histograms equal the same statistics with one fractional weight added (which
    # forces np.cumsum) — up to that weight — and are computed without error.
    rng = np.random.default_rng(11)
    s = np.clip(rng.beta(2, 5, 5000), 1e-6, 1 - 1e-6)
    y = rng.random(5000) < s
    st = binary_stats(y, s)
    w = np.cumsum(st.pos + st.neg) - 0.5 * (st.pos + st.neg)
    got = bin_index(st.pos + st.neg, 15)
    total = (st.pos + st.neg).sum()
    ref = np.minimum(np.floor(w / total * 15), 14).astype(np.intp)
    assert np.array_equal(got, ref)
    assert np.isfinite(ece(st))
    assert np.all(np.isfinite(recalibration(st)))


def test_registered_threshold_metrics_use_the_kept_sums() -> None:
    rng = np.random.default_rng(2)
    st = binary_stats(rng.random(800) < 0.3, rng.integers(0, 30, 800) / 30)
    for name in ("accuracy", "precision", "recall", "f1", "balanced_accuracy", "mcc"):
        spec = get_metric(name, task="binary")
        tp, fp, fn, tn = _old_confusion(st, 0.5)
        first = spec.fn(st, threshold=0.5)
        again = spec.fn(st, threshold=0.5)  # from the kept sums
        assert _same(first, again)
        assert _same(first, THRESHOLD_METRICS[name].kernel(tp, fp, fn, tn))


def _old_log_loss(st: BinaryStats) -> np.ndarray:
    eps = float(np.finfo(np.float64).eps)
    s = st.scores
    nll_pos = -np.log(np.clip(s, eps, 1 - eps))
    nll_neg = -np.log(np.clip(1.0 - s, eps, 1 - eps))
    return _div((st.pos * nll_pos + st.neg * nll_neg).sum(axis=-1), st.total_pos + st.total_neg)


def _old_brier(st: BinaryStats) -> np.ndarray:
    s = st.scores
    sq = (st.pos * (1.0 - s) ** 2 + st.neg * s**2).sum(axis=-1)
    return _div(sq, st.total_pos + st.total_neg)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_probability_metrics_same_bits(case: tuple[str, BinaryStats]) -> None:
    _, st = case
    # Scores at the clipping edges too: exactly 0 and 1.
    edge = BinaryStats(np.clip(st.scores * 1.2 - 0.1, 0.0, 1.0), st.pos, st.neg, st.n_rows)
    for s in (st, edge):
        if s.scores.size and np.any(np.diff(s.scores) >= 0):
            continue  # clipping merged scores: not a valid histogram
        with np.errstate(all="ignore"):
            assert _same(binary_log_loss(s), _old_log_loss(s))
            assert _same(brier(s), _old_brier(s))

