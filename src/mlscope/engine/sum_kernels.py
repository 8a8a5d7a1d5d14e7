"""Compiled kernels (numba) whose sums are NumPy's, bit for bit: the metric terms and the
recalibration fit's passes, each summed along NumPy's own pairwise tree.

NumPy sums a contiguous float64 array of ``n > 128`` values as the sum of its first ``n2 =
n // 2 − (n // 2) % 8`` values and the sum of the rest, each summed the same way, down to
runs of at most 128, which it sums with eight accumulators (:func:`leaf_sum`); the whole sum
starts from ``+0.0``. :func:`pairwise_plan` writes that tree as a program (the leaves in
order, an addition after both halves of a node), and each kernel runs it: it makes one
leaf's terms into a buffer in the processor's cache and sums them there, instead of writing
an array of terms as long as its input and reading it again. The terms are the NumPy code's
operations in its order (numba fuses no product and sum without ``fastmath``), so every
value is the one NumPy gives.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mlscope.engine.numba_jit import jit

__all__ = ["CACHED", "add_top", "binary_sums", "leaf_sum", "logistic_arg", "logistic_sums",
           "pairwise_plan", "store_sums"]

FloatArray = npt.NDArray[np.float64]

# NumPy's pairwise sum (``np.add.reduce`` of a contiguous float64 array) sums a run of at
# most this many values with eight accumulators, and splits a longer one in two.
_PW_BLOCK = 128


def _leaf_sum(t: FloatArray, k: int, n: int) -> float:
    """NumPy's pairwise sum of ``t[k, :n]``, ``n`` at most :data:`_PW_BLOCK`: eight
    accumulators over the multiples of eight, then the rest one by one."""
    if n < 8:
        res = -0.0
        for i in range(n):
            res += t[k, i]
        return float(res)
    r0, r1, r2, r3 = t[k, 0], t[k, 1], t[k, 2], t[k, 3]
    r4, r5, r6, r7 = t[k, 4], t[k, 5], t[k, 6], t[k, 7]
    top = n - n % 8
    for i in range(8, top, 8):
        r0 += t[k, i]
        r1 += t[k, i + 1]
        r2 += t[k, i + 2]
        r3 += t[k, i + 3]
        r4 += t[k, i + 4]
        r5 += t[k, i + 5]
        r6 += t[k, i + 6]
        r7 += t[k, i + 7]
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(top, n):
        res += t[k, i]
    return float(res)


leaf_sum, _LEAF_CACHED = jit(_leaf_sum, inline=True)


def _pairwise_plan(m: int) -> npt.NDArray[np.int64]:
    """NumPy's pairwise tree over ``m`` values as a program in postfix order: a positive
    entry ``n`` is the next leaf (the next ``n`` values, at most :data:`_PW_BLOCK`), a 0
    adds the last two sums. Every leaf of a split holds at least 64 values, so the program
    has at most ``2·(m // 64) + 1`` entries."""
    plan = np.empty(2 * (m // 64) + 2, dtype=np.int64)
    size = np.empty(128, dtype=np.int64)  # the pending nodes: depth < log2(m) + 1
    stage = np.empty(128, dtype=np.int64)
    k = 0
    sp = 0
    if m > 0:
        size[0] = m
        stage[0] = 0
        sp = 1
    while sp > 0:
        n = size[sp - 1]
        if n <= _PW_BLOCK:
            sp -= 1
            plan[k] = n
            k += 1
            continue
        half = n // 2
        half -= half % 8
        if stage[sp - 1] == 0:
            stage[sp - 1] = 1
            size[sp] = half
            stage[sp] = 0
            sp += 1
        elif stage[sp - 1] == 1:
            stage[sp - 1] = 2
            size[sp] = n - half
            stage[sp] = 0
            sp += 1
        else:
            sp -= 1
            plan[k] = 0
            k += 1
    return plan[:k]


pairwise_plan, _PLAN_CACHED = jit(_pairwise_plan)


def _add_top(vals: FloatArray, vsp: int, width: int) -> int:
    """A plan's addition: the two sums on top of the stack (``width`` at a time) become
    their sum; returns the new stack size."""
    for k in range(width):
        vals[vsp - 2, k] = vals[vsp - 2, k] + vals[vsp - 1, k]
    return vsp - 1


add_top, _ADD_CACHED = jit(_add_top, inline=True)


def _store_sums(vals: FloatArray, m: int, out: FloatArray, width: int) -> None:
    """The whole sums into ``out[:width]``, each from ``+0.0`` as NumPy's sum starts (0
    for no values)."""
    for k in range(width):
        out[k] = 0.0 + vals[0, k] if m > 0 else 0.0


store_sums, _STORE_CACHED = jit(_store_sums, inline=True)


def _binary_sums(s: FloatArray, pos: FloatArray, neg: FloatArray, out: FloatArray) -> None:
    """The sums of average precision's, ROC AUC's and Brier's per-bin terms into
    ``out[0:3]``, each equal bit for bit to NumPy's ``terms.sum()`` over the terms the
    NumPy code builds, in one pass over the histogram.

    The terms, with ``tp``/``c`` and ``fp`` the running sums of ``pos`` and ``neg`` as
    ``np.cumsum`` takes them (from the first element, left to right):

    - average precision (:func:`mlscope.metrics.binary.average_precision`):
      ``(tp_b / (fp_b + tp_b)) · pos[b]`` where ``pos[b] > 0``, else ``0.0 · pos[b]``;
    - ROC AUC (:func:`mlscope.metrics.ranking.roc_auc`): ``((c_b − pos[b]) + 0.5·pos[b])
      · neg[b]``;
    - Brier (:func:`mlscope.metrics.binary_proba.brier`): ``(1 − s)²·pos + s²·neg``, each
      square a product as ``np.square`` takes it.

    The running sums are carried from leaf to leaf, as ``np.cumsum`` takes them. It
    replaces three passes that each read the histogram, wrote an array of terms as long
    and read that again to sum it: 0.04 s against 0.09 s per ten million bins.
    """
    m = pos.size
    plan = pairwise_plan(m)
    t = np.empty((3, _PW_BLOCK))
    run = np.empty((2, _PW_BLOCK))  # the running positives and negatives of a leaf
    vals = np.empty((128, 3))
    vsp = 0
    b = 0
    c = 0.0
    fp = 0.0
    for op in range(plan.size):
        n = plan[op]
        if n == 0:
            vsp = add_top(vals, vsp, 3)
            continue
        # The running sums first (one dependent addition after another), then the terms
        # from them in a loop without a carried dependency, which the compiler
        # vectorises: average precision's division is most of this pass's time. The
        # leaf's values are indexed from 0 (a slice): an index that might be negative
        # costs a wraparound test per element, which turns the loads into gathers.
        ps, qs, ss = pos[b:b + n], neg[b:b + n], s[b:b + n]
        for i in range(n):
            if b + i == 0:
                c = ps[i]
                fp = qs[i]
            else:
                c = c + ps[i]
                fp = fp + qs[i]
            run[0, i] = c
            run[1, i] = fp
        for i in range(n):
            p = ps[i]
            q = qs[i]
            ci = run[0, i]
            share = (ci / (run[1, i] + ci)) * p
            zero = 0.0 * p
            t[0, i] = share if p > 0.0 else zero
            t[1, i] = ((ci - p) + p * 0.5) * q
            x = ss[i]
            mx = 1.0 - x
            t[2, i] = (mx * mx) * p + (x * x) * q
        for k in range(3):
            vals[vsp, k] = leaf_sum(t, k, n)
        vsp += 1
        b += n
    store_sums(vals, m, out, 3)


binary_sums, _SUMS_CACHED = jit(_binary_sums, ieee=True)


def _logistic_arg(a: float, b: float, x: FloatArray, out: FloatArray) -> None:
    """``out = −|b·x + a|``: the argument of the recalibration fit's ``exp``
    (:func:`mlscope.metrics.logistic_fit._evaluate`), which NumPy then takes."""
    for i in range(x.size):
        out[i] = -abs(b * x[i] + a)


logistic_arg, _ARG_CACHED = jit(_logistic_arg)


def _logistic_sums(a: float, b: float, x: FloatArray, pos: FloatArray, neg: FloatArray,
                   e: FloatArray, lg: FloatArray, out: FloatArray) -> None:
    """One evaluation of the recalibration fit at ``(a, b)`` into ``out[0:6]``: the
    log-likelihood, the gradient and the Fisher information ``(ℓ, g_a, g_b, h_aa, h_ab,
    h_bb)`` of :func:`mlscope.metrics.logistic_fit._evaluate`, bit for bit, from NumPy's
    ``e = exp(−|η|)`` and ``lg = log1p(e)`` (``η = b·x + a``).

    The terms, in that function's order: ``(lg·n + max(η, 0)·neg) − min(η, 0)·pos`` (its
    sum negated is ``ℓ``); ``r = 1 / (e + 1)``; ``res = pos − (E·r)·n`` and ``res·x``;
    ``v = ((e·r)·r)·n``, ``v·x`` and ``(v·x)·x``; with ``n = pos + neg``. ``E`` is
    ``exp(min(η, 0))``, which is ``e`` where ``η`` is not above 0 (the same argument, so
    the same value) and 1 where it is: one ``exp`` fewer per score.
    """
    m = x.size
    plan = pairwise_plan(m)
    t = np.empty((6, _PW_BLOCK))
    vals = np.empty((128, 6))
    vsp = 0
    start = 0
    for op in range(plan.size):
        n = plan[op]
        if n == 0:
            vsp = add_top(vals, vsp, 6)
            continue
        # Indexed from 0 (slices), so that the loads are not gathers (:func:`_binary_sums`).
        xs, ps, qs = x[start:start + n], pos[start:start + n], neg[start:start + n]
        es, ls = e[start:start + n], lg[start:start + n]
        for i in range(n):
            xi = xs[i]
            p = ps[i]
            q = qs[i]
            ei = es[i]
            eta = b * xi + a
            nn = p + q
            # NumPy's max(η, 0) and min(η, 0) but for the sign of a zero and a NaN η, which
            # change no sum: a zero's sign is lost in any sum with a non-zero term, and an
            # all-zero sum is +0 (``0.0 +`` below); a NaN η makes ``lg`` NaN, and the term.
            hi = eta if eta > 0.0 else 0.0
            lo = eta if eta < 0.0 else 0.0
            t[0, i] = (ls[i] * nn + hi * q) - lo * p
            r = 1.0 / (ei + 1.0)
            big = 1.0 if eta > 0.0 else ei
            res = p - (big * r) * nn
            t[1, i] = res
            t[2, i] = res * xi
            v = ((ei * r) * r) * nn
            t[3, i] = v
            vx = v * xi
            t[4, i] = vx
            t[5, i] = vx * xi
        for k in range(6):
            vals[vsp, k] = leaf_sum(t, k, n)
        vsp += 1
        start += n
    store_sums(vals, m, out, 6)
    out[0] = -out[0]


logistic_sums, _LOGISTIC_CACHED = jit(_logistic_sums, ieee=True)

#: Every kernel here keeps its machine code on disk.
CACHED = (_LEAF_CACHED and _PLAN_CACHED and _ADD_CACHED and _STORE_CACHED and _SUMS_CACHED
          and _ARG_CACHED and _LOGISTIC_CACHED)
