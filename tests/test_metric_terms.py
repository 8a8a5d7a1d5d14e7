"""The compiled sums of the metrics' per-bin terms (:mod:`mlscope.metrics.fast`) give the
NumPy code's bits.

Average precision, ROC AUC and Brier read the sums of their per-bin terms from one numba
kernel once the engine has loaded it (log loss: its terms from two). Each metric is
computed with the kernels installed and with NumPy on the same statistics, and the values
compared as raw 64-bit patterns (so ``-0.0`` differs from ``+0.0`` and NaN from NaN only
by its bits): on row counts, fractional weights, zeros of both signs, huge and tiny
weights, one-class and one-bin histograms. The sums are also compared with NumPy's sum of
the NumPy expressions they replace, on histograms short and long enough to cross NumPy's
pairwise tree. Each comparison checks that the kernel ran.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlscope.metrics import fast
from mlscope.metrics.binary import average_precision, binary_log_loss, brier, roc_auc
from mlscope.metrics.pairwise import BLOCK, pairwise_blocks
from mlscope.metrics.stats import BinaryStats
from tests.kernel_calls import CountingKernels

pytest.importorskip("numba")
from mlscope.engine import kernels


def _bits(x: Any) -> bytes:
    return np.asarray(x, dtype=np.float64).tobytes()


def _metrics(st: BinaryStats) -> list[bytes]:
    # Fresh objects: ROC AUC is memoised per statistics object.
    fresh = [BinaryStats(st.scores, st.pos, st.neg, st.n_rows, counts=st.counts,
                         score_type=st.score_type) for _ in range(4)]
    with np.errstate(all="ignore"):  # weights of 1e300 overflow in both, alike
        return [_bits(average_precision(fresh[0])), _bits(roc_auc(fresh[1])),
                _bits(brier(fresh[2])), _bits(binary_log_loss(fresh[3]))]


def _compare(counting: CountingKernels, st: BinaryStats) -> None:
    before = sum(counting.calls.values())
    compiled = _metrics(st)
    ran = sum(counting.calls.values()) - before
    fast.uninstall()
    try:
        numpy_ = _metrics(st)
    finally:
        fast.install(counting)
    assert compiled == numpy_
    # One pass of sums for each of average precision, ROC AUC and Brier (fresh objects);
    # log loss of probabilities: two kernels per block of bins. Of logits: Brier and log
    # loss in NumPy (expit, logaddexp).
    m = st.pos.size
    blocks = len(pairwise_blocks(m, BLOCK)[0]) if m > 2 * BLOCK else 1
    assert ran == (0 if not m else 3 + 2 * blocks if st.score_type == "probability" else 2)


def _stats(scores: np.ndarray, pos: np.ndarray, neg: np.ndarray, counts: bool) -> BinaryStats:
    return BinaryStats(np.sort(scores)[::-1].copy(), pos, neg, int(pos.size), counts=counts)


_EPS = float(np.finfo(np.float64).eps)
# Probabilities, with the clipping bounds of log loss and their neighbours.
_SCORE = st.one_of(
    st.floats(0.0, 1.0),
    st.sampled_from([0.0, 1.0, _EPS, _EPS / 2, 1 - _EPS, 1 - _EPS / 2, 0.5, 5e-324]),
)
_WEIGHT = st.one_of(
    st.integers(0, 5).map(float),
    st.floats(0.0, 10.0, allow_nan=False, allow_subnormal=True),
    st.sampled_from([-0.0, 0.0, 1e-300, 5e-324, 1e300, 0.1, 1 / 3]),
)


# The fixture is not reset between examples, and need not be: each compares call counts
# before and after itself.
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_every_metric_is_bit_identical_to_numpy(counting: CountingKernels, data: st.DataObject
                                                 ) -> None:
    m = data.draw(st.integers(1, 60))
    pos = np.array(data.draw(st.lists(_WEIGHT, min_size=m, max_size=m)))
    neg = np.array(data.draw(st.lists(_WEIGHT, min_size=m, max_size=m)))
    scores = np.array(data.draw(st.lists(_SCORE, min_size=m, max_size=m)))
    _compare(counting, _stats(scores, pos, neg, counts=False))


@pytest.mark.parametrize("m", [200_000, 1_000_003])
def test_row_counts_of_a_large_histogram(counting: CountingKernels, m: int) -> None:
    # Generated (seeded): 200,000 and 1,000,003 bins of row counts, as the engine's
    # histograms hold them: the int32 running sums of the NumPy code against the kernel's
    # float64 ones, and log loss's blocks (summed along NumPy's pairwise tree) against
    # NumPy's one sum.
    rng = np.random.default_rng(7)
    scores = rng.random(m)
    pos = rng.integers(0, 3, m).astype(np.float64)
    neg = rng.integers(0, 3, m).astype(np.float64)
    for counts in (True, False):
        _compare(counting, _stats(scores, pos, neg, counts=counts))
    # Fractional weights: every term's low bits count.
    _compare(counting, _stats(scores, rng.random(m) * 3, rng.random(m), counts=False))


@pytest.mark.parametrize("case", ["one bin", "one class", "no positives", "all zero",
                                  "negative zeros", "logits"])
def test_edge_histograms(counting: CountingKernels, case: str) -> None:
    pos, neg = np.array([1.0, 0.0, 2.0]), np.array([0.0, 3.0, 1.0])
    scores, score_type = np.array([0.9, 0.5, 0.1]), "probability"
    if case == "one bin":
        scores, pos, neg = scores[:1], np.array([2.0]), np.array([1.0])
    elif case == "one class":
        neg = np.zeros(3)
    elif case == "no positives":
        pos = np.zeros(3)
    elif case == "all zero":
        pos = neg = np.zeros(3)
    elif case == "negative zeros":
        pos, neg = np.array([-0.0, 1.0, -0.0]), np.array([-0.0, -0.0, 2.0])
    else:
        scores, score_type = np.array([3.5, 0.0, -2.25]), "logit"
    st_ = BinaryStats(scores, pos, neg, 3, score_type=score_type)
    _compare(counting, st_)


def _numpy_sums(s: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> list[bytes]:
    """NumPy's sums of the three metrics' terms, as the plain expressions build them."""
    tp, fp = np.cumsum(pos), np.cumsum(neg)
    with np.errstate(all="ignore"):
        ap = np.where(pos > 0, tp / np.where(pos > 0, fp + tp, 1.0), 0.0) * pos
        roc = ((tp - pos) + pos * 0.5) * neg
        br = (1.0 - s) ** 2 * pos + s**2 * neg
        return [_bits(ap.sum()), _bits(roc.sum()), _bits(br.sum())]


def _kernel_sums(s: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> list[bytes]:
    out = np.full(3, np.nan)
    with np.errstate(all="ignore"):
        kernels.binary_sums(s, pos, neg, out)
    return [_bits(x) for x in out]


def _histogram(data: st.DataObject) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores, positives and negatives of 1 to 40 bins (the weights and probabilities of
    the strategies above)."""
    m = data.draw(st.integers(1, 40))
    pos = np.array(data.draw(st.lists(_WEIGHT, min_size=m, max_size=m)))
    neg = np.array(data.draw(st.lists(_WEIGHT, min_size=m, max_size=m)))
    return np.array(data.draw(st.lists(_SCORE, min_size=m, max_size=m))), pos, neg


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_term_sums_equal_numpys_sums_of_the_expressions(data: st.DataObject) -> None:
    s, pos, neg = _histogram(data)
    assert _kernel_sums(s, pos, neg) == _numpy_sums(s, pos, neg)


@pytest.mark.parametrize("m", [127, 128, 129, 136, 255, 256, 257, 1_000, 4_097, 65_543])
def test_term_sums_along_numpys_pairwise_tree(m: int) -> None:
    # Generated (seeded): histograms past one leaf of NumPy's pairwise sum (128 values),
    # of fractional weights (every addition's rounding counts), row counts, and zeros of
    # both signs, so that a sum taken in any other order shows.
    rng = np.random.default_rng(m)
    s = np.sort(rng.random(m))[::-1].copy()
    for pos, neg in [(rng.random(m) * 3, rng.random(m)),
                     (rng.integers(0, 3, m).astype(np.float64),
                      rng.integers(0, 3, m).astype(np.float64)),
                     (np.where(rng.random(m) < 0.5, -0.0, rng.random(m)),
                      np.where(rng.random(m) < 0.5, -0.0, 0.0))]:
        assert _kernel_sums(s, pos, neg) == _numpy_sums(s, pos, neg)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_log_loss_terms_equal_the_numpy_expressions_bin_by_bin(data: st.DataObject) -> None:
    s, pos, neg = _histogram(data)
    m = s.size
    # The kernels clip, NumPy takes the logarithms, the kernels combine them.
    with np.errstate(all="ignore"):
        want = (-np.log(np.clip(s, _EPS, 1 - _EPS)) * pos
                + -np.log(np.clip(1.0 - s, _EPS, 1 - _EPS)) * neg)
        logs = np.empty((2, m))
        kernels.log_loss_args(s, _EPS, 1 - _EPS, logs)
        assert _bits(logs[0]) == _bits(np.clip(s, _EPS, 1 - _EPS))
        assert _bits(logs[1]) == _bits(np.clip(1.0 - s, _EPS, 1 - _EPS))
        np.log(logs, out=logs)
        kernels.log_loss_terms(logs, pos, neg)
    assert _bits(logs[0]) == _bits(want), "log_loss"


def _plain(scores: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> BinaryStats:
    return BinaryStats(scores, pos, neg, int(pos.shape[-1]))


def test_batches_and_other_dtypes_stay_in_numpy(counting: CountingKernels) -> None:
    one, two = np.ones(3), np.ones((4, 3))
    assert fast.term_sums(_plain(one, two, two)) is None  # a batch of replicates
    f32 = np.ones(3, np.float32)
    assert fast.term_sums(_plain(one, f32, f32)) is None
    assert fast.term_sums(_plain(one, np.ones(2), np.ones(2))) is None  # sizes differ
    assert fast.term_sums(_plain(np.zeros(0), np.zeros(0), np.zeros(0))) is None
    assert fast.term_sums(_plain(one, one[::-1], one)) is None  # not contiguous
    assert counting.calls == {}
    st_ = _plain(np.array([0.9, 0.5, 0.1]), one, one)
    got = fast.term_sums(st_)
    assert got is not None
    assert fast.term_sums(st_) is not None  # kept: computed once per statistics object
    assert counting.calls == {"binary_sums": 1}


def test_mlscope_kernel_numpy_keeps_the_terms_in_numpy(
        counting: CountingKernels, monkeypatch: pytest.MonkeyPatch) -> None:
    one = np.ones(3)
    monkeypatch.setenv("MLSCOPE_KERNEL", "numpy")
    assert not fast.installed()
    assert fast.term_sums(_plain(one, one, one)) is None
    monkeypatch.setenv("MLSCOPE_KERNEL", "auto")
    assert fast.installed()
    assert fast.term_sums(_plain(one, one, one)) is not None


def test_a_failing_kernel_is_dropped_and_numpy_runs() -> None:
    class Broken:
        def __getattr__(self, name: str) -> Callable[..., None]:
            def fail(*args: Any) -> None:
                raise RuntimeError("compilation failed")
            return fail

    was = fast.current()
    try:
        fast.install(Broken())  # type: ignore[arg-type]
        st_ = BinaryStats(np.array([0.8, 0.2]), np.array([1.0, 0.0]), np.array([0.0, 1.0]), 2)
        assert float(average_precision(st_)) == 1.0
        assert not fast.installed()  # dropped for the rest of the process
    finally:
        if was is None:
            fast.uninstall()
        else:
            fast.install(was)


def test_the_engine_installs_the_terms_with_its_kernel() -> None:
    # A fresh process: the kernel module is loaded (and the terms installed) once per process.
    code = (
        "import numpy as np\n"
        "from mlscope.metrics import fast\n"
        "from mlscope.engine.fused import binary_unit_cells\n"
        "assert not fast.installed()\n"
        "v = np.array([0.5, 0.25, 0.75], dtype=np.float32).astype(np.float64)\n"
        "binary_unit_cells(v, np.array([1, 0, 1], np.int8), [(np.zeros(3, np.int8), 1)])\n"
        "print(fast.installed())\n"
    )
    env = {**os.environ, "MLSCOPE_KERNEL": "numba"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "True"
