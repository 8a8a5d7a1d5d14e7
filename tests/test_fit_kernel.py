"""The recalibration fit's compiled passes (:func:`mlscope.metrics.fast.logistic_pass`) give
NumPy's bits.

Each pass is the log-likelihood, gradient and Fisher information of ``logit P(y = 1) = a +
b·x`` over a histogram. The oracle is written here as plain NumPy expressions (each term
an array, summed by ``np.sum``), not taken from the code under test; values are compared as
raw 64-bit patterns. The fit itself (:func:`mlscope.metrics.calibration.recalibration_fit`)
must not move by a bit when the kernels are installed, and the kernels must have run. The
tree the kernels sum along (:func:`mlscope.engine.sum_kernels.pairwise_plan`) must be the
one :func:`mlscope.metrics.pairwise.pairwise_blocks` describes.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlscope.metrics import fast
from mlscope.metrics.calibration import recalibration_fit
from mlscope.metrics.pairwise import BLOCK, pairwise_blocks
from mlscope.metrics.stats import BinaryStats
from tests.kernel_calls import CountingKernels

pytest.importorskip("numba")
from mlscope.engine import sum_kernels


def _numpy_pass(a: float, b: float, x: np.ndarray, pos: np.ndarray, neg: np.ndarray
                ) -> list[bytes]:
    """The six sums as one would write them in NumPy: ``η = b·x + a``, ``e = exp(−|η|)``;
    the negated log-likelihood's terms ``log1p(e)·n + max(η, 0)·neg − min(η, 0)·pos``;
    ``μ = exp(min(η, 0)) / (1 + e)``; residuals ``pos − n·μ``; weights ``n·e/(1 + e)²``."""
    with np.errstate(all="ignore"):
        eta = b * x + a
        e = np.exp(-np.abs(eta))
        n = pos + neg
        t = (np.log1p(e) * n + np.maximum(eta, 0.0) * neg) - np.minimum(eta, 0.0) * pos
        r = 1.0 / (e + 1.0)
        res = pos - (np.exp(np.minimum(eta, 0.0)) * r) * n
        v = ((e * r) * r) * n
        sums = [-t.sum(), res.sum(), (res * x).sum(), v.sum(), (v * x).sum(),
                ((v * x) * x).sum()]
    return [np.float64(s).tobytes() for s in sums]


def _compiled_pass(a: float, b: float, x: np.ndarray, pos: np.ndarray, neg: np.ndarray,
                   block: int = BLOCK) -> list[bytes] | None:
    m = x.size
    pieces, tree = pairwise_blocks(m, block) if m > 2 * block else ([(0, m)], 0)
    work = np.empty((5, max(hi - lo for lo, hi in pieces)))
    with np.errstate(all="ignore"):
        got = fast.logistic_pass(a, b, x, pos, neg, pieces, tree, work)
    return None if got is None else [np.float64(s).tobytes() for s in got]


def _histogram(rng: np.random.Generator, m: int, kind: str
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.sort(rng.standard_normal(m) * 3)
    x[rng.random(m) < 0.01] = 0.0  # η = a exactly where a point sits at 0
    if kind == "counts":
        y = rng.random(m) < 1 / (1 + np.exp(-x))
        pos, neg = y.astype(np.float64), (~y).astype(np.float64)
    else:
        pos = rng.random(m) * rng.integers(0, 3, m)
        neg = rng.random(m) * 2
        if kind == "signed zeros":
            pos[::3], neg[::3] = -0.0, -0.0
            neg[1::5] = 0.0
    return x, pos, neg


@pytest.mark.parametrize("m", [1, 7, 8, 129, 1_000, 2 * BLOCK + 1, 3 * BLOCK + 1_237])
@pytest.mark.parametrize("kind", ["counts", "weighted", "signed zeros"])
def test_compiled_pass_is_numpys_sums(counting: CountingKernels, m: int, kind: str) -> None:
    rng = np.random.default_rng(m + len(kind))
    x, pos, neg = _histogram(rng, m, kind)
    for a, b in ((0.0, 1.0), (-0.31, 0.87), (2.5, -1.25), (0.0, 0.0), (40.0, 30.0)):
        before = counting.calls.get("logistic_sums", 0)
        got = _compiled_pass(a, b, x, pos, neg)
        assert got == _numpy_pass(a, b, x, pos, neg), (m, kind, a, b)
        pieces = len(pairwise_blocks(m, BLOCK)[0]) if m > 2 * BLOCK else 1
        assert counting.calls["logistic_sums"] - before == pieces


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_compiled_pass_on_small_blocks(counting: CountingKernels, data: st.DataObject) -> None:
    # Blocks of 64 to 300 values: many pieces, and trees several levels deep, on short
    # histograms with weights of every size (zeros of both signs, subnormal, huge).
    m = data.draw(st.integers(1, 3_000))
    seed = data.draw(st.integers(0, 2**32 - 1))
    block = data.draw(st.integers(64, 300))
    rng = np.random.default_rng(seed)
    x = np.sort(rng.standard_normal(m) * 10 ** rng.uniform(-3, 1.5))
    special = np.array([-0.0, 0.0, 5e-324, 1e-300, 1e300, 1 / 3, 2.0])
    pos = np.where(rng.random(m) < 0.2, rng.choice(special, m), rng.random(m))
    neg = np.where(rng.random(m) < 0.2, rng.choice(special, m), rng.random(m) * 3)
    a = data.draw(st.floats(-20, 20))
    b = data.draw(st.floats(-5, 5))
    want = _numpy_pass(a, b, x, pos, neg)
    # The same values in each layout the fit passes: contiguous, the counts as reversed
    # views of descending arrays (as the fit reads a histogram), and strided; a block of
    # a non-contiguous one is copied before the kernels read it.
    layout = data.draw(st.sampled_from(["contiguous", "reversed", "strided"]))
    if layout == "strided":
        x = _layout(x, layout)
    pos, neg = _layout(pos, layout), _layout(neg, layout)
    assert _compiled_pass(a, b, x, pos, neg, block) == want


def _layout(v: np.ndarray, layout: str) -> np.ndarray:
    if layout == "reversed":
        return v[::-1].copy()[::-1]
    if layout == "strided":
        wide = np.empty(2 * v.size)
        wide[::2] = v
        return wide[::2]
    return v


def _stats(kind: str, m: int, seed: int) -> BinaryStats:
    rng = np.random.default_rng(seed)
    scores = np.sort(rng.random(m))[::-1].copy()
    if kind == "counts":
        y = rng.random(m) < scores ** 1.5
        return BinaryStats(scores, y.astype(np.float64), (~y).astype(np.float64), m,
                           counts=True)
    pos, neg = rng.random(m) * scores * 3, rng.random(m) * (1 - scores) * 2
    if kind == "logit":  # the log-odds are then a reversed view too, copied per block
        return BinaryStats(np.log(scores) - np.log1p(-scores), pos, neg, m,
                           score_type="logit")
    return BinaryStats(scores, pos, neg, m)


@pytest.mark.parametrize("m", [500, 20_011, 3 * BLOCK + 1_237])
@pytest.mark.parametrize("kind", ["counts", "weighted", "logit"])
def test_fit_same_bits_with_and_without_kernels(counting: CountingKernels, m: int,
                                                kind: str) -> None:
    stats = _stats(kind, m, seed=m % 97)
    before = counting.calls.get("logistic_sums", 0)
    with_kernels = recalibration_fit(stats)
    assert counting.calls.get("logistic_sums", 0) > before  # the compiled passes ran
    fast.uninstall()
    try:
        numpy_ = recalibration_fit(stats)
    finally:
        fast.install(counting)  # type: ignore[arg-type]
    for got, want in zip(with_kernels, numpy_, strict=True):
        assert np.all(np.isfinite(got))
        assert np.asarray(got).tobytes() == np.asarray(want).tobytes()


@pytest.mark.parametrize("m", [0, 1, 128, 129, 136, 1_000, 65_543, 1_000_003])
def test_pairwise_plan_is_numpys_tree(m: int) -> None:
    plan = sum_kernels.pairwise_plan(m)
    leaves = [int(n) for n in plan if n > 0]
    pieces, _ = pairwise_blocks(m, 128)
    assert leaves == ([hi - lo for lo, hi in pieces] if m else [])
    assert len(plan) <= 2 * (m // 64) + 1
    # Postfix: never an addition without two sums on the stack, one sum at the end.
    depth = 0
    for n in plan:
        depth += 1 if n > 0 else -1
        assert depth >= 1
    assert depth == (1 if m else 0)


def test_batches_stay_in_numpy(counting: CountingKernels) -> None:
    # Bootstrap replicates (a leading batch dimension): NumPy's passes, no kernel call.
    stats = _stats("counts", 2_000, seed=5)
    batch = BinaryStats(stats.scores, np.stack([stats.pos] * 3), np.stack([stats.neg] * 3),
                        stats.n_rows, counts=True)
    got = recalibration_fit(batch)
    assert "logistic_sums" not in counting.calls
    one = recalibration_fit(stats)
    for g, w in zip(got, one, strict=True):
        assert np.allclose(np.asarray(g), np.asarray(w), rtol=1e-9, atol=0)
