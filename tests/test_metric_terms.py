"""The compiled per-bin terms (:mod:`mlscope.metrics.fast`) give the NumPy code's bits.

Average precision, ROC AUC and Brier read their per-bin terms from the numba kernels once
the engine has loaded them. Each metric is computed with the kernels installed and with
NumPy on the same statistics, and the values compared as raw 64-bit patterns (so ``-0.0``
differs from ``+0.0`` and NaN from NaN only by its bits): on row counts, fractional
weights, zeros of both signs, huge and tiny weights, one-class and one-bin histograms.
The terms themselves are also compared bin by bin with the NumPy expressions they
replace. Each comparison checks that the kernel ran.
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
from mlscope.metrics.logistic_fit import BLOCK, pairwise_blocks
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
    # Log loss of probabilities: two kernels per block of bins; of logits: NumPy
    # (logaddexp).
    m = st.pos.size
    blocks = len(pairwise_blocks(m, BLOCK)[0]) if m > 2 * BLOCK else 1
    assert ran == (0 if not m else 3 + 2 * blocks if st.score_type == "probability" else 3)


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


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_terms_equal_the_numpy_expressions_bin_by_bin(data: st.DataObject) -> None:
    m = data.draw(st.integers(1, 40))
    pos = np.array(data.draw(st.lists(_WEIGHT, min_size=m, max_size=m)))
    neg = np.array(data.draw(st.lists(_WEIGHT, min_size=m, max_size=m)))
    s = np.array(data.draw(st.lists(_SCORE, min_size=m, max_size=m)))
    tp, fp = np.cumsum(pos), np.cumsum(neg)
    with np.errstate(all="ignore"):
        ap = np.where(pos > 0, tp / np.where(pos > 0, fp + tp, 1.0), 0.0) * pos
        roc = ((tp - pos) + pos * 0.5) * neg
        br = (1.0 - s) ** 2 * pos + s**2 * neg
    for name, args, want in [("ap", (pos, neg), ap), ("roc", (pos, neg), roc),
                             ("brier", (s, pos, neg), br)]:
        out = np.empty(m)
        with np.errstate(all="ignore"):
            getattr(kernels, f"{name}_terms")(*args, out)
        assert _bits(out) == _bits(want), name
    # Log loss: the kernels clip, NumPy takes the logarithms, the kernels combine them.
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


def test_batches_and_other_dtypes_stay_in_numpy(counting: CountingKernels) -> None:
    pos = np.ones((4, 3))
    assert fast.terms("ap", pos, pos) is None  # a batch of replicates
    assert fast.terms("roc", np.ones(3, np.float32), np.ones(3, np.float32)) is None
    assert fast.terms("ap", np.ones(3), np.ones(2)) is None  # sizes differ
    assert fast.terms("ap", np.zeros(0), np.zeros(0)) is None
    assert fast.terms("ap", np.ones(3)[::-1], np.ones(3)) is None  # not contiguous
    assert counting.calls == {}
    got = fast.terms("ap", np.ones(3), np.ones(3))
    assert got is not None
    assert counting.calls == {"ap_terms": 1}


def test_mlscope_kernel_numpy_keeps_the_terms_in_numpy(
        counting: CountingKernels, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLSCOPE_KERNEL", "numpy")
    assert not fast.installed()
    assert fast.terms("ap", np.ones(3), np.ones(3)) is None
    monkeypatch.setenv("MLSCOPE_KERNEL", "auto")
    assert fast.installed()
    assert fast.terms("ap", np.ones(3), np.ones(3)) is not None


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
