"""The recalibration fit's blocked passes give the bits of the whole-array passes.

:func:`mlscope.metrics.pairwise.pairwise_blocks` must reproduce NumPy's pairwise sum
exactly (a plain sum of block sums does not: checked too), and the fit on one row of many
distinct scores must not change by a bit when its passes run block by block.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mlscope.metrics import logistic_fit as lf
from mlscope.metrics import pairwise as pw
from mlscope.metrics.calibration import recalibration_fit
from mlscope.metrics.stats import BinaryStats


def _tree_sum(x: np.ndarray, block: int) -> np.float64:
    pieces, tree = pw.pairwise_blocks(x.size, block)
    sums = [(np.add.reduce(x[lo:hi]),) for lo, hi in pieces]

    def add(node):  # type: ignore[no-untyped-def]
        return sums[node][0] if isinstance(node, int) else add(node[0]) + add(node[1])

    return np.float64(add(tree))


def test_pairwise_blocks_reproduce_numpy_sum() -> None:
    rng = np.random.default_rng(7)
    plain_differs = 0
    for trial in range(60):
        n = int(rng.integers(1, 400_000 if trial % 2 else 5_000))
        x = rng.standard_normal(n) * 10 ** rng.uniform(-6, 6, n)
        block = int(rng.choice([1, 8, 128, 1000, 4096, pw.BLOCK]))
        assert _tree_sum(x, block).tobytes() == np.add.reduce(x).tobytes(), (n, block)
        pieces, _ = pw.pairwise_blocks(n, block)
        assert pieces[0][0] == 0
        assert pieces[-1][1] == n
        assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))
        plain = np.float64(sum(np.add.reduce(x[lo:hi]) for lo, hi in pieces))
        plain_differs += plain.tobytes() != np.add.reduce(x).tobytes()
    assert plain_differs > 0  # the order matters on these values: the test can fail


def _stats(kind: str, m: int, seed: int) -> BinaryStats:
    rng = np.random.default_rng(seed)
    scores = np.sort(rng.random(m))[::-1].copy()
    if kind == "counts":
        y = rng.random(m) < scores ** 1.5  # roughly calibrated, not separated
        return BinaryStats(scores, y.astype(np.float64), (~y).astype(np.float64), m,
                           counts=True)
    pos = rng.random(m) * scores * 3
    neg = rng.random(m) * (1 - scores) * 2
    return BinaryStats(scores, pos, neg, m)


@pytest.mark.parametrize("kind", ["counts", "weighted"])
def test_blocked_fit_same_bits(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    st = _stats(kind, 3 * pw.BLOCK + 1_237, seed=len(kind))
    counter = [0]
    blocked = recalibration_fit(st, counter=counter)
    monkeypatch.setattr(lf, "BLOCK", 10**9)  # one block: the whole-array passes
    whole_counter = [0]
    whole = recalibration_fit(st, counter=whole_counter)
    assert counter == whole_counter
    for a, b in zip(blocked, whole, strict=True):
        assert np.isfinite(a)
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()


def test_blocked_fit_small_block_same_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    # Many uneven blocks (and a tree several levels deep) on a short histogram.
    st = _stats("weighted", 20_011, seed=3)
    whole = recalibration_fit(st)
    monkeypatch.setattr(lf, "BLOCK", 1_000)
    blocked = recalibration_fit(st)
    for a, b in zip(blocked, whole, strict=True):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()


@pytest.mark.parametrize("kind", ["counts", "weighted"])
def test_blocked_passes_same_sums(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The log-likelihood, gradient and information themselves, at a few points: the fit's
    # result alone could hide a last-bit difference that its stopping rule absorbs.
    st = _stats(kind, 5 * pw.BLOCK + 77, seed=11)
    x = np.log(st.scores[::-1]) - np.log1p(-st.scores[::-1])
    pos, neg = st.pos[::-1], st.neg[::-1]
    blocked = lf._Passes(x, pos, neg)
    assert blocked.blocked
    monkeypatch.setattr(lf, "BLOCK", 10**9)
    whole = lf._Passes(x, pos, neg)
    assert not whole.blocked
    for a, b in ((0.0, 1.0), (-0.31, 0.87), (2.5, -1.25)):
        pa, pb = np.asarray(a), np.asarray(b)
        got, want = blocked.evaluate(pa, pb), whole.evaluate(pa, pb)
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert np.asarray(g).tobytes() == np.asarray(w).tobytes()


@pytest.mark.parametrize("seed", range(12))
def test_segment_sums_of_product_are_reduceats(seed: int) -> None:
    # The warm start's Σ pos·x per block without the product's row-sized array: the same
    # bits as reduceat over the whole product, for segments shorter and longer than a
    # block, reversed views (as the fit passes them) and values of every magnitude.
    rng = np.random.default_rng(seed)
    m = int(rng.integers(2 * pw.BLOCK + 1, 400_000))
    x = np.sort(rng.standard_normal(m) * 10 ** rng.uniform(-8, 8, m))
    a = (rng.random(m) * rng.integers(0, 4, m))[::-1]  # counts-like, a reversed view
    kind = seed % 3
    if kind == 0:  # equal counts, as the warm start's by-count blocks
        starts = np.unique((np.arange(4096, dtype=np.int64) * m) // 4096)
    elif kind == 1:  # a few long segments, longer than a block
        starts = np.unique(np.r_[0, rng.integers(1, m, 5)])
    else:  # many short ones, and single values
        starts = np.unique(np.r_[0, rng.integers(1, m, m // 3)])
    want = np.add.reduceat(a * x, starts)
    got = lf.segment_sums_of_product(a, x, starts)
    assert got.tobytes() == want.tobytes()


def test_segment_sums_of_product_small_and_batched() -> None:
    rng = np.random.default_rng(3)
    x = np.sort(rng.standard_normal(1000))
    starts = np.array([0, 10, 500, 999])
    a = rng.random((3, 1000))  # a batch: the whole-array expression
    assert lf.segment_sums_of_product(a, x, starts).tobytes() == np.add.reduceat(
        a * x, starts, axis=-1).tobytes()
    b = rng.random(1000)
    assert lf.segment_sums_of_product(b, x, starts).tobytes() == np.add.reduceat(
        b * x, starts).tobytes()
