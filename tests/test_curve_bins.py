"""The reliability curve's compiled bins (:func:`mlscope.metrics.fast.curve_bins`) give the
NumPy code's bits.

With the engine's kernels installed, the equal-mass bins of a histogram of row counts are
one compiled pass instead of five row-sized NumPy arrays. The curve's points, its weights,
ECE and debiased ECE are computed with the kernel and with NumPy on the same statistics
and compared as raw 64-bit patterns; each comparison checks that the kernel ran (or, for
what it does not take, that it did not). The histograms are generated (seeded, or drawn by
hypothesis), with empty bins, ties of the equal-mass boundaries and one-class rows.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlscope.metrics import fast
from mlscope.metrics.calibration import ece, ece_debiased, reliability_figures
from mlscope.metrics.stats import BinaryStats
from tests.kernel_calls import CountingKernels

pytest.importorskip("numba")
from mlscope.engine import kernels


def _figures(st_: BinaryStats, bins: int) -> list[bytes]:
    fresh = [BinaryStats(st_.scores, st_.pos, st_.neg, st_.n_rows, counts=st_.counts,
                         score_type=st_.score_type) for _ in range(3)]
    with np.errstate(all="ignore"):
        out = [np.asarray(a, dtype=np.float64).tobytes()
               for a in reliability_figures(fresh[0], bins)]
        out += [np.asarray(ece(fresh[1], bins)).tobytes(),
                np.asarray(ece_debiased(fresh[2], bins)).tobytes()]
    return out


def _compare(counting: CountingKernels, st_: BinaryStats, bins: int, *, runs: bool) -> None:
    before = counting.calls.get("curve_bins", 0)
    compiled = _figures(st_, bins)
    ran = counting.calls.get("curve_bins", 0) - before
    fast.uninstall()
    try:
        numpy_ = _figures(st_, bins)
    finally:
        fast.install(counting)
    assert compiled == numpy_
    assert ran == (3 if runs else 0)  # reliability_figures, ece, ece_debiased


def _histogram(scores: np.ndarray, pos: np.ndarray, neg: np.ndarray, counts: bool,
               score_type: str = "probability") -> BinaryStats:
    # Distinct scores, descending, as the engine's statistics hold them.
    s = np.unique(scores)[::-1].copy()
    m = s.size
    return BinaryStats(s, pos[:m].copy(), neg[:m].copy(), int(pos[:m].sum() + neg[:m].sum()),
                       counts=counts, score_type=score_type)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_row_counts_give_the_numpy_bits(counting: CountingKernels, data: st.DataObject) -> None:
    m = data.draw(st.integers(1, 80))
    scores = np.array(data.draw(st.lists(
        st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 1.0, 0.5, 5e-324])),
        min_size=m, max_size=m)))
    pos = np.array(data.draw(st.lists(st.integers(0, 4), min_size=m, max_size=m)), float)
    neg = np.array(data.draw(st.lists(st.integers(0, 4), min_size=m, max_size=m)), float)
    bins = data.draw(st.sampled_from([1, 2, 3, 7, 15, 40]))
    counts = data.draw(st.booleans())
    st_ = _histogram(scores, pos, neg, counts)
    _compare(counting, st_, bins, runs=float(st_.pos.sum() + st_.neg.sum()) > 0)


def test_a_large_histogram(counting: CountingKernels) -> None:
    # Generated (seeded): 300,000 distinct scores of 0-2 rows each, about a tenth positive.
    rng = np.random.default_rng(11)
    m = 300_000
    scores = rng.random(m)
    pos = rng.binomial(2, 0.1, m).astype(float)
    neg = rng.integers(0, 3, m).astype(float)
    for bins in (15, 10, 1000):
        _compare(counting, _histogram(scores, pos, neg, counts=True), bins, runs=True)


@pytest.mark.parametrize("case", ["fractional weights", "logits", "batch", "no rows",
                                  "negative zero"])
def test_what_the_kernel_does_not_take_stays_in_numpy(counting: CountingKernels, case: str) -> None:
    s, pos, neg = np.array([0.9, 0.6, 0.3, 0.1]), np.array([2.0, 1.0, 0.0, 1.0]), \
        np.array([0.0, 1.0, 3.0, 2.0])
    score_type = "probability"
    if case == "fractional weights":
        pos = pos * 0.5
    elif case == "logits":
        s, score_type = np.array([2.5, 0.5, -0.25, -3.0]), "logit"
    elif case == "no rows":
        pos = neg = np.zeros(4)
    elif case == "negative zero":
        pos = np.array([2.0, -0.0, 0.0, 1.0])
    if case == "batch":
        st_ = BinaryStats(s, np.stack([pos, pos[::-1]]), np.stack([neg, neg]), 10)
        before = counting.calls.get("curve_bins", 0)
        with np.errstate(all="ignore"):
            ece(st_, 3)
        assert counting.calls.get("curve_bins", 0) == before
        return
    st_ = BinaryStats(s, pos, neg, 10, score_type=score_type)
    _compare(counting, st_, 3, runs=False)


def test_the_bins_against_a_direct_computation() -> None:
    # An independent statement of the rule: a score goes to the bin holding the middle of
    # its mass, floor(B · (C_before + w / 2) / W), the last bin closed.
    s = np.array([0.95, 0.8, 0.7, 0.4, 0.35, 0.2, 0.05])  # descending
    pos = np.array([3.0, 1.0, 0.0, 2.0, 0.0, 1.0, 0.0])
    neg = np.array([0.0, 1.0, 2.0, 1.0, 4.0, 2.0, 6.0])
    bins = 4
    out = np.zeros((3, bins))
    kernels.curve_bins(s, pos, neg, float(pos.sum() + neg.sum()), bins, out)
    want = np.zeros((3, bins))
    total, before = pos.sum() + neg.sum(), 0.0
    for j in range(s.size - 1, -1, -1):  # ascending
        w = pos[j] + neg[j]
        b = min(int(bins * (before + w / 2) / total), bins - 1)
        want[:, b] += (w, w * s[j], pos[j])
        before += w
    np.testing.assert_array_equal(out, want)
    assert out[0].sum() == total


def test_log_odds_in_blocks_equal_the_whole_array() -> None:
    # The recalibration fit's log-odds are taken a block at a time: the same bits as the
    # whole-array expression, across block boundaries and at the clipping bounds.
    from mlscope.metrics import calibration
    from mlscope.metrics.logistic_fit import BLOCK

    rng = np.random.default_rng(5)
    eps = float(np.finfo(np.float64).eps)
    for m in (1, 7, BLOCK, BLOCK + 1, 3 * BLOCK + 17):
        p = rng.random(m)
        p[: min(m, 6)] = [0.0, 1.0, eps, 1 - eps, eps / 2, 0.5][: min(m, 6)]
        q = np.clip(p, eps, 1 - eps)
        want = np.log(q) - np.log1p(-q)
        got = calibration._log_odds(p[::-1].copy()[::-1])  # a reversed view, as the fit's
        assert got.tobytes() == want.tobytes()
