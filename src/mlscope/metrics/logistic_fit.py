"""The logistic recalibration fit ``logit P(y = 1) = a + b·x`` on a histogram.

Weighted maximum likelihood over the distinct values ``x`` (the log-odds of the distinct
scores), their weighted positives and negatives the binomial counts: Newton's method with
step halving (the log-likelihood never decreases), to a step below ``1e-10``
(relative to ``1 + |a|`` and ``1 + |b|``). Vectorised over bootstrap replicates (leading
batch dimensions of the counts).

Cost. A full-data pass (every distinct score) is the unit: on a million distinct scores
it is tens of milliseconds. Each pass evaluates, at one point, the log-likelihood, the
gradient and the Fisher information together, from one ``log1p`` and two ``exp`` per
score (:func:`_evaluate`), in buffers that every pass reuses. The start is not ``(0, 1)``
but the same fit on a compression of the histogram (:func:`warm_start`): the distinct
scores grouped into a few thousand consecutive blocks, each block's positives placed at
their mean log-odds and its negatives at theirs. That start is close enough that Newton
on the full data takes one step and finds the next below the tolerance: two passes,
where the fit from ``(0, 1)`` made about thirteen (seven log-likelihoods, six
gradients). A step below the tolerance is taken without evaluating it (at that size the
quadratic model is exact to rounding), and the slope's standard error comes from the
information of the last pass, at the returned point or that one step from it (the same
to about ten digits), rather than from half a pass more. The start changes the path, not
the maximum: the full-data iterations, their step halving and their stopping rule decide
the result, which agrees with the fit from ``(0, 1)`` to the convergence tolerance (the
last bits may differ).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from mlscope.metrics import fast
from mlscope.metrics.pairwise import BLOCK, Tree, add_along, pairwise_blocks

__all__ = ["WARM_BLOCKS", "fit_logistic", "segment_sums_of_product", "separated", "warm_start"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
_MAX_ITER = 100
_HALVINGS = 40
_TOL = 1e-10
# Blocks of equal counts of distinct scores, and as many of equal width in log-odds (the
# tails, where few scores spread wide): their union is the compression.
WARM_BLOCKS = 4096
# Below this many distinct scores the compression would save little: start at (0, 1).
_WARM_FROM = 4 * WARM_BLOCKS


class _Buffers:
    """Row-sized arrays that every evaluation of one fit writes into (no fresh arrays per
    pass: allocating them costs as much kernel time as the arithmetic)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.eta = np.empty(shape)
        self.e = np.empty(shape)
        self.t = np.empty(shape)
        self.u = np.empty(shape)
        self.s = np.empty(shape)

    def head(self, k: int) -> _Buffers:
        """The first ``k`` entries of each buffer (one dimension)."""
        out = object.__new__(_Buffers)
        for name in ("eta", "e", "t", "u", "s"):
            setattr(out, name, getattr(self, name)[:k])
        return out


class _Passes:
    """The full-data evaluations of one fit: on the whole arrays, or, for one row of many
    distinct scores, block by block (:data:`BLOCK` scores; :func:`pairwise_blocks`).

    A block's dozens of operations then run on arrays in the processor's cache instead
    of each streaming the whole histogram through memory, and the buffers are a block
    long. Every value is the same: each operation is elementwise (the same result at
    any position), and the sums are added along NumPy's own pairwise tree.
    """

    def __init__(self, x: FloatArray, pos: FloatArray, neg: FloatArray) -> None:
        self.x, self.pos, self.neg = x, pos, neg
        m = pos.shape[-1]
        self.flat = (x.ndim == 1 and pos.ndim == 1 and neg.ndim == 1
                     and x.dtype == pos.dtype == neg.dtype == np.float64)
        self.blocked = self.flat and m > 2 * BLOCK
        self.pieces: list[tuple[int, int]] = [(0, m)]
        self.tree: Tree = 0
        self.work: FloatArray | None = None  # the compiled passes' buffers, made on first use
        if self.blocked:
            self.pieces, self.tree = pairwise_blocks(m, BLOCK)
            size = max(hi - lo for lo, hi in self.pieces)
            self.buf = _Buffers((size,))
            self.nbuf = np.empty(size)
        else:
            self.buf = _Buffers(np.broadcast_shapes(np.shape(x), pos.shape))
            self.n = pos + neg

    def _blocks(self) -> Iterator[tuple[FloatArray, FloatArray, FloatArray, FloatArray,
                                        _Buffers]]:
        # One block at a time: every block reuses the same buffers.
        for lo, hi in self.pieces:
            n = np.add(self.pos[lo:hi], self.neg[lo:hi], out=self.nbuf[:hi - lo])
            yield (self.x[lo:hi], self.pos[lo:hi], self.neg[lo:hi], n,
                   self.buf.head(hi - lo))

    def evaluate(self, a: FloatArray, b: FloatArray) -> tuple[FloatArray, ...]:
        """:func:`_evaluate` over every distinct score: compiled where the kernels are
        installed (:func:`mlscope.metrics.fast.logistic_pass`, the same bits)."""
        if self.flat and a.ndim == 0 and fast.installed():
            if self.work is None:
                self.work = np.empty((5, max(hi - lo for lo, hi in self.pieces)))
            got = fast.logistic_pass(float(a), float(b), self.x, self.pos, self.neg,
                                     self.pieces, self.tree, self.work)
            if got is not None:
                return tuple(np.asarray(v, dtype=np.float64) for v in got)
        if not self.blocked:
            return _evaluate(a, b, self.x, self.pos, self.neg, self.n, self.buf)
        parts = [_evaluate(a, b, x, pos, neg, n, buf) for x, pos, neg, n, buf in self._blocks()]
        ll, *rest = add_along(self.tree, parts)
        return (np.asarray(ll, dtype=np.float64), *rest)


def _evaluate(a: FloatArray, b: FloatArray, x: FloatArray, pos: FloatArray,
              neg: FloatArray, n: FloatArray, buf: _Buffers
              ) -> tuple[FloatArray, ...]:
    """``(ℓ, g_a, g_b, h_aa, h_ab, h_bb)`` at ``(a, b)``: the log-likelihood, its
    gradient and the negated Hessian (the Fisher information), per batch element.

    With ``η = a + b·x``, ``e = exp(−|η|)`` and ``L = log1p(e)``: ``log(1 + e^η) =
    L + max(η, 0)`` and ``log(1 + e^(−η)) = L − min(η, 0)``, so the negated
    log-likelihood is ``Σ [n·L + neg·max(η, 0) − pos·min(η, 0)]``, a sum of non-negative
    terms (nothing lost to cancellation); ``μ = e^min(η, 0) / (1 + e)`` (no ``exp``
    overflows) and ``μ (1 − μ) = e / (1 + e)²`` (no ``1 − μ`` rounding to 0 where ``μ``
    is near 1).
    """
    eta = np.multiply(b[..., None], x, out=buf.eta)
    eta += a[..., None]
    e = np.abs(eta, out=buf.e)
    np.negative(e, out=e)
    np.exp(e, out=e)
    t = np.log1p(e, out=buf.t)
    t *= n
    u = np.maximum(eta, 0.0, out=buf.u)
    u *= neg
    t += u
    lo = np.minimum(eta, 0.0, out=buf.s)
    np.multiply(lo, pos, out=u)
    t -= u
    ll = -t.sum(axis=-1)
    r = np.add(e, 1.0, out=buf.t)
    np.divide(1.0, r, out=r)  # 1 / (1 + e)
    v = np.multiply(e, r, out=buf.u)
    v *= r
    v *= n  # n · μ (1 − μ)
    mu = np.exp(lo, out=lo)
    mu *= r  # μ
    mu *= n
    res = np.subtract(pos, mu, out=mu)  # pos − n·μ
    g0 = res.sum(axis=-1)
    res *= x
    g1 = res.sum(axis=-1)
    h00 = v.sum(axis=-1)
    v *= x
    h01 = v.sum(axis=-1)
    v *= x
    h11 = v.sum(axis=-1)
    return (np.asarray(ll, dtype=np.float64), g0, g1, h00, h01, h11)


def fit_logistic(x: FloatArray, pos: FloatArray, neg: FloatArray, ok: BoolArray,
                 start: tuple[FloatArray, FloatArray] | None = None,
                 counter: list[int] | None = None, with_se: bool = True
                 ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Maximum-likelihood ``(a, b)`` of ``logit P(y = 1) = a + b·x`` and the slope's
    standard error.

    Parameters
    ----------
    x
        Log-odds, ``(m,)`` shared by the batch or ``(*batch, m)``; finite.
    pos, neg
        ``(*batch, m)`` weighted positives and negatives at each ``x``.
    ok
        ``batch``-shaped: the elements to fit (both classes, not separated); the others
        are returned as NaN.
    start
        Starting ``(a, b)`` per batch element (finite where ``ok``); ``(0, 1)`` when None.
    counter
        When given, its first item is increased by the number of evaluations (full
        passes over the ``m`` values), for the benchmarks and the tests.
    with_se
        Whether to compute ``se_b`` (all NaN when False).

    Returns
    -------
    tuple of numpy.ndarray
        ``(a, b, se_b)``, each ``batch``-shaped: NaN where not ``ok`` or where the fit is
        not finite. ``se_b`` is ``√(I⁻¹)_bb`` from the Fisher information of the last
        evaluation: at the returned ``(a, b)``, or one Newton step below the tolerance
        from it (relative ``1e-10``: the information is the same to about ten digits);
        NaN where that information is singular.
    """
    batch = ok.shape
    a, b = (np.zeros(batch), np.ones(batch)) if start is None else start
    a = np.where(ok, a, 0.0)
    b = np.where(ok, b, 1.0)
    done = ~ok
    passes_of = _Passes(x, pos, neg)
    cur = passes_of.evaluate(a, b)
    passes = 1
    for _ in range(_MAX_ITER):
        if bool(done.all()):
            break
        ll, g0, g1, h00, h01, h11 = cur
        det = h00 * h11 - h01 * h01
        good = ~done & (det > 0) & np.isfinite(det)
        dsafe = np.where(good, det, 1.0)
        da = np.where(good, (h11 * g0 - h01 * g1) / dsafe, 0.0)
        db = np.where(good, (h00 * g1 - h01 * g0) / dsafe, 0.0)
        small = good & (np.abs(da) <= _TOL * (1.0 + np.abs(a))) & (
            np.abs(db) <= _TOL * (1.0 + np.abs(b)))
        # A Newton step below the tolerance is taken without evaluating it: at that size
        # the quadratic model is exact to rounding, and its gain ½ gᵀ I⁻¹ g ≥ 0.
        a, b = np.where(small, a + da, a), np.where(small, b + db, b)
        search = good & ~small
        accepted = ~search
        step = 1.0
        for _half in range(_HALVINGS):
            if bool(accepted.all()):
                break
            na, nb = a + step * da, b + step * db
            cand = passes_of.evaluate(na, nb)
            passes += 1
            take = ~accepted & (cand[0] >= ll - 1e-12 * np.abs(ll))
            a, b = np.where(take, na, a), np.where(take, nb, b)
            cur = tuple(np.where(take, c, o) for c, o in zip(cand, cur, strict=True))
            accepted = accepted | take
            step /= 2.0
        # An element whose halvings all failed stays where it is: the next iteration would
        # compute the same step from the same point and fail the same way, so it is done.
        done = done | small | ~good | ~accepted
    fine = ok & np.isfinite(a) & np.isfinite(b)
    se = np.full(batch, np.nan)
    if with_se and bool(fine.any()):
        # The information of the last evaluation (its point is the returned one, or the
        # last step, below the tolerance and not evaluated, leads from it): no further pass.
        h00, h01, h11 = cur[3], cur[4], cur[5]
        det = h00 * h11 - h01 * h01
        se = np.sqrt(np.where(det > 0, h00, np.nan) / np.where(det > 0, det, 1.0))
    if counter is not None:
        counter[0] += passes
    return (np.where(fine, a, np.nan), np.where(fine, b, np.nan),
            np.where(fine & np.isfinite(se), se, np.nan))


def separated(x: FloatArray, pos: FloatArray, neg: FloatArray) -> BoolArray:
    """Whether ``x`` weakly separates the classes (or is constant), per batch element: no
    finite maximum-likelihood fit. ``x`` in any order."""
    inf = np.inf
    min_pos = np.where(pos > 0, x, inf).min(axis=-1, initial=inf)
    max_pos = np.where(pos > 0, x, -inf).max(axis=-1, initial=-inf)
    min_neg = np.where(neg > 0, x, inf).min(axis=-1, initial=inf)
    max_neg = np.where(neg > 0, x, -inf).max(axis=-1, initial=-inf)
    return np.asarray((max_neg <= min_pos) | (max_pos <= min_neg), dtype=np.bool_)


def segment_sums_of_product(a: FloatArray, x: FloatArray, starts: npt.NDArray[np.intp]
                            ) -> FloatArray:
    """``np.add.reduceat(a * x, starts, axis=-1)``, for one row of many values without
    the product's array the size of ``a``.

    The segments are taken a few at a time, about :data:`BLOCK` values: each segment's
    sum is ``reduceat``'s own, over the same values laid out contiguously as in the whole
    product, so the same bits (two products of the fit's length at 10M distinct scores,
    both models' fits at once: 140 MiB of the traced peak).

    Parameters
    ----------
    a
        ``(*batch, m)`` values (a view in any order).
    x
        ``(m,)`` values.
    starts
        Strictly increasing segment starts, the first 0, all below ``m``.
    """
    m = x.shape[-1]
    if a.ndim != 1 or m <= 2 * BLOCK:
        return np.add.reduceat(a * x, starts, axis=-1)
    ends = np.append(starts[1:], m)
    out = np.empty(starts.size)
    buf = np.empty(BLOCK)
    i = 0
    while i < starts.size:
        lo = int(starts[i])
        # The segments that end within BLOCK values of this one's start (at least one).
        j = max(int(np.searchsorted(ends, lo + BLOCK, side="right")), i + 1)
        hi = int(ends[j - 1])
        prod = np.multiply(a[lo:hi], x[lo:hi], out=buf[:hi - lo] if hi - lo <= BLOCK else None)
        out[i:j] = np.add.reduceat(prod, starts[i:j] - lo)
        i = j
    return out


def warm_start(x: FloatArray, pos: FloatArray, neg: FloatArray, ok: BoolArray
               ) -> tuple[FloatArray, FloatArray] | None:
    """A start for :func:`fit_logistic` from the fit on a compression of the histogram.

    The ascending ``x`` is cut into consecutive blocks: :data:`WARM_BLOCKS` of equal
    counts of distinct values, united with as many of equal width in ``x``; in each block
    the positives are placed at their weighted mean ``x``, and the negatives at theirs
    (so the sums ``Σ pos·x`` and ``Σ neg·x`` of the gradient are kept exactly; only the
    curvature within a block is lost). Deterministic: the blocks depend on ``x`` only.

    Parameters
    ----------
    x
        ``(m,)`` log-odds in ascending order, finite.
    pos, neg
        ``(*batch, m)`` weighted positives and negatives.
    ok
        ``batch``-shaped: the elements that will be fitted.

    Returns
    -------
    tuple of numpy.ndarray or None
        ``(a, b)``: the compressed fit where it is finite, ``(0, 1)`` elsewhere; None
        when there are too few distinct values for the compression to pay.
    """
    m = x.shape[-1]
    if m < _WARM_FROM or x.ndim != 1 or not bool(ok.any()):
        return None
    k = WARM_BLOCKS
    by_count = (np.arange(k, dtype=np.int64) * m) // k
    by_width = np.searchsorted(x, np.linspace(x[0], x[-1], k, endpoint=False))
    starts = np.union1d(by_count, by_width)
    starts = starts[starts < m]
    sp = np.add.reduceat(pos, starts, axis=-1)
    sn = np.add.reduceat(neg, starts, axis=-1)
    spx = segment_sums_of_product(pos, x, starts)
    snx = segment_sums_of_product(neg, x, starts)
    # An empty group sits at its block's first value (it weighs nothing there).
    x0 = np.broadcast_to(x[starts], sp.shape)
    xp = np.where(sp > 0, spx / np.where(sp > 0, sp, 1.0), x0)
    xn = np.where(sn > 0, snx / np.where(sn > 0, sn, 1.0), x0)
    xc = np.concatenate([xp, xn], axis=-1)
    zero = np.zeros_like(sp)
    pc = np.concatenate([sp, zero], axis=-1)
    nc = np.concatenate([zero, sn], axis=-1)
    fit_ok = ok & ~separated(xc, pc, nc)
    a0, b0, _se = fit_logistic(xc, pc, nc, fit_ok, with_se=False)
    usable = fit_ok & np.isfinite(a0) & np.isfinite(b0)
    return np.where(usable, a0, 0.0), np.where(usable, b0, 1.0)
