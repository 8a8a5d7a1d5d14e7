"""The shortcuts of finalising binary metrics give the bits of the plain computations.

Row counts (``BinaryStats.counts``, or whole numbers found by the check) are summed in
int32 and in runs; the cumulative positives are shared by ROC AUC and average precision;
the reliability bins are summed run by run. Each is compared, bit for bit, with the plain
NumPy expression it replaces, on seeded histograms: unit counts, weighted rows, batches.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mlscope.metrics.arith import INT32_SUM_LIMIT, cumsum_exact, cumsum_whole, is_whole
from mlscope.metrics.binary import average_precision, roc_auc
from mlscope.metrics.calibration import bin_index, ece, ece_debiased, reliability_figures
from mlscope.metrics.stats import BinaryStats


def _bits(a: object) -> bytes:
    return np.ascontiguousarray(np.asarray(a, dtype=np.float64)).tobytes()


def _stats(kind: str, m: int = 20_000, seed: int = 0) -> BinaryStats:
    """A histogram over ``m`` distinct descending scores: ``unit`` (one row per score,
    flagged as counts), ``whole`` (ties, whole numbers, not flagged), ``weighted``
    (fractional weights), ``batch`` (three replicates of whole counts)."""
    rng = np.random.default_rng(seed)
    scores = np.sort(rng.random(m))[::-1].copy()
    if kind == "unit":
        y = rng.random(m) < 0.2
        return BinaryStats(scores, y.astype(np.float64), (~y).astype(np.float64), m,
                           counts=True)
    if kind == "whole":
        pos = rng.integers(0, 3, m).astype(np.float64)
        neg = rng.integers(0, 5, m).astype(np.float64)
        return BinaryStats(scores, pos, neg, int(pos.sum() + neg.sum()))
    if kind == "weighted":
        pos = rng.random(m) * (rng.random(m) < 0.3) * 10 ** rng.uniform(-3, 3, m)
        neg = rng.random(m) * 10 ** rng.uniform(-3, 3, m)
        return BinaryStats(scores, pos, neg, m)
    assert kind == "batch"
    pos = rng.integers(0, 3, (3, m)).astype(np.float64)
    neg = rng.integers(0, 5, (3, m)).astype(np.float64)
    return BinaryStats(scores, pos, neg, m)


def _plain_auc(st: BinaryStats) -> np.ndarray:
    term = np.cumsum(st.pos, axis=-1) - st.pos
    wins = (st.neg * (term + 0.5 * st.pos)).sum(axis=-1)
    den = st.pos.sum(axis=-1) * st.neg.sum(axis=-1)
    return np.asarray(np.where(den > 0, wins / np.where(den > 0, den, 1.0), np.nan))


def _plain_ap(st: BinaryStats) -> np.ndarray:
    tp = np.cumsum(st.pos, axis=-1)
    predicted = np.cumsum(st.neg, axis=-1) + tp
    has = st.pos > 0
    prec = np.where(has, tp / np.where(has, predicted, 1.0), 0.0)
    tot = st.pos.sum(axis=-1)
    return np.asarray(np.where(tot > 0, (st.pos * prec).sum(axis=-1)
                               / np.where(tot > 0, tot, 1.0), np.nan))


def _plain_binned(st: BinaryStats, bins: int) -> tuple[np.ndarray, ...]:
    """The reliability bins as the bincounts summed them (one row)."""
    p = st.scores[::-1]
    pos, neg = st.pos[::-1], st.neg[::-1]
    w = pos + neg
    idx = bin_index(w, bins)
    return tuple(np.bincount(idx, weights=v, minlength=bins) for v in (w, w * p, pos))


@pytest.mark.parametrize("kind", ["unit", "whole", "weighted", "batch"])
def test_ranking_metrics_same_bits_as_plain_expressions(kind: str) -> None:
    st = _stats(kind)
    assert _bits(roc_auc(st)) == _bits(_plain_auc(st))
    assert _bits(average_precision(st)) == _bits(_plain_ap(st))
    # In the other order, on fresh statistics (the kept sum is made by the other metric).
    st = _stats(kind)
    assert _bits(average_precision(st)) == _bits(_plain_ap(st))
    assert _bits(roc_auc(st)) == _bits(_plain_auc(st))
    assert _bits(roc_auc(st)) == _bits(_plain_auc(st))  # the kept value


def test_weighted_case_tells_the_sum_orders_apart() -> None:
    # The weighted histogram is one on which summing in another order changes the bits:
    # the comparisons above (and below, for the bins) could catch a reordered sum.
    st = _stats("weighted")
    assert _bits(np.cumsum(st.pos)[-1]) != _bits(st.pos.sum())
    w = st.pos + st.neg
    assert _bits(np.cumsum(w * st.scores)[-1]) != _bits((w * st.scores).sum())


@pytest.mark.parametrize("kind", ["unit", "whole", "weighted", "batch"])
def test_cum_pos_is_a_fresh_cumsum(kind: str) -> None:
    st = _stats(kind)
    first = st.cum_pos()
    assert _bits(first) == _bits(np.cumsum(st.pos, axis=-1))
    first[...] = -1.0  # the caller's own array: nothing kept to corrupt
    assert _bits(st.cum_pos()) == _bits(np.cumsum(st.pos, axis=-1))


def test_roc_auc_hands_out_copies() -> None:
    st = _stats("unit")
    got = roc_auc(st)
    want = _bits(got)
    got[...] = -1.0
    assert _bits(roc_auc(st)) == want


def test_whole_check_and_counts_flag() -> None:
    unit = _stats("unit")
    assert unit.whole("pos")
    assert unit.whole("neg")
    assert _stats("whole").whole("pos")
    assert _stats("batch").whole("neg")
    assert not _stats("weighted").whole("pos")
    assert not is_whole(np.array([1.0, -0.0]))
    assert not is_whole(np.array([0.5]))
    assert not is_whole(np.array([float(INT32_SUM_LIMIT), 1.0]))
    # Flagged counts whose sum int32 cannot hold take float64's own sum: the same bits.
    big = np.full(3, 2.0**30)
    st = BinaryStats(np.array([3.0, 2.0, 1.0]), big, big.copy(), 3, counts=True)
    assert not st.whole("pos")
    assert _bits(st.cum_pos()) == _bits(np.cumsum(big))
    assert _bits(roc_auc(st)) == _bits(_plain_auc(st))


@pytest.mark.parametrize("whole", [None, True])
def test_cumsum_exact_whole_hint(whole: bool | None) -> None:
    x = np.random.default_rng(3).integers(0, 9, (4, 5000)).astype(np.float64)
    assert _bits(cumsum_exact(x, whole=whole)) == _bits(np.cumsum(x, axis=-1))
    assert cumsum_whole(x).dtype == np.int32
    assert _bits(cumsum_exact(x + 0.25)) == _bits(np.cumsum(x + 0.25, axis=-1))


@pytest.mark.parametrize("kind", ["unit", "whole", "weighted"])
@pytest.mark.parametrize("bins", [1, 15, 97])
def test_reliability_bins_same_bits_as_bincount(kind: str, bins: int) -> None:
    st = _stats(kind, seed=bins)
    w, sp, sy = _plain_binned(st, bins)
    keep = w > 0
    mean_p, rate, weight, e1, e2 = reliability_figures(st, bins)
    assert _bits(mean_p) == _bits(sp[keep] / w[keep])
    assert _bits(rate) == _bits(sy[keep] / w[keep])
    assert _bits(weight) == _bits(w[keep])
    gap = np.abs(sy - sp).sum() / w.sum()
    assert _bits(e1) == _bits(gap) == _bits(ece(st, bins))
    assert _bits(e2) == _bits(ece_debiased(st, bins))


def test_reliability_bins_unit_counts_flag_does_not_change_bits() -> None:
    st = _stats("unit", seed=5)
    plain = dataclasses.replace(st, counts=False)
    for a, b in zip(reliability_figures(st), reliability_figures(plain), strict=True):
        assert _bits(a) == _bits(b)


def test_bin_index_whole_hint_same_bins() -> None:
    w = np.random.default_rng(4).integers(0, 4, 30_000).astype(np.float64)
    assert np.array_equal(bin_index(w, 15, whole=True), bin_index(w, 15))


def test_exact_engine_flags_its_row_counts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The unit-weight point path says its histograms are counts (and they are); the
    general path (weights that are not recognised as unit) does not."""
    from mlscope.charter.schema import Charter
    from mlscope.data.source import open_evaluation
    from mlscope.engine import duckdb_backend as ddb
    from mlscope.engine.exact import ExactSplit
    from mlscope.engine.numpy_backend import fetch_rows
    from mlscope.engine.plan import plan_groupings
    from tests.conftest import base_charter, binary_frame

    path = tmp_path / "eval.parquet"
    binary_frame(n=500, seed=2).to_parquet(path, index=False)
    ch = Charter.model_validate(base_charter(str(path)))
    t = open_evaluation(ch, tmp_path)
    gs = plan_groupings(t.slice_columns, ch.slices.columns, ch.slices.crosses, ch.slices.where)
    levels = ddb.slice_levels(t, ["validation"])
    rows = fetch_rows(t, ["validation"], levels)["validation"]
    eng = ExactSplit(t, rows, gs, levels, y_shift=0.0, cache=False)
    unit, _ = eng.model_stats(0, rows.w)
    general, _ = eng.model_stats(0, rows.w[None, :])
    assert unit
    assert all(isinstance(s, BinaryStats) and s.counts for s in unit.values())
    assert all(is_whole(s.pos) and is_whole(s.neg) for s in unit.values() if s.pos.size)
    assert not any(s.counts for s in general.values() if isinstance(s, BinaryStats))
