"""Compiled sums of the ranking and probability metrics' per-bin terms, and the
reliability curve's bins, when the engine has loaded them.

Average precision, ROC AUC, Brier and log loss are each a sum over a histogram's bins of
a term that NumPy builds in six to eleven passes over the bins (running sums, a division,
masks, clipping, products) and then sums (pairwise). The compiled kernels
(:mod:`mlscope.engine.kernels`) make the same terms, the same operations in the same
order on the same values, and add them along NumPy's own pairwise tree: the same bits.
Average precision's, ROC AUC's and Brier's come from one pass over a histogram
(:func:`term_sums`, kept on the statistics object for the three metrics); log loss's
logarithms stay NumPy's (:func:`log_loss_sum`). The reliability curve's equal-mass
bins of row counts are one pass too (:func:`curve_bins`), without the NumPy code's five
row-sized arrays.

This layer does not import numba: the engine installs the kernels here once it has
loaded them for its own sort (:mod:`mlscope.engine.kernel_choice`), so a process that
never loads numba never pays for it. ``MLSCOPE_KERNEL=numpy`` keeps these terms in NumPy
too. A kernel that fails is dropped for the rest of the process (NumPy runs; never fatal).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from mlscope.metrics.links import CLIP_EPS
from mlscope.metrics.pairwise import BLOCK, Tree, add_along, pairwise_blocks

if TYPE_CHECKING:
    from mlscope.metrics.stats import BinaryStats

__all__ = ["AP", "BRIER", "ROC", "TermKernels", "current", "curve_bins", "install",
           "installed", "log_loss_sum", "logistic_pass", "term_sums", "uninstall"]

FloatArray = npt.NDArray[np.float64]
#: Where :func:`term_sums` puts each metric's sum.
AP, ROC, BRIER = 0, 1, 2

_log = logging.getLogger(__name__)
_lock = threading.Lock()


class TermKernels(Protocol):
    """What :func:`install` takes: the kernels of :mod:`mlscope.engine.kernels` that build
    the metrics' terms or their sums, each writing into its last argument."""

    def binary_sums(self, s: FloatArray, pos: FloatArray, neg: FloatArray,
                    out: FloatArray) -> None: ...

    def log_loss_args(self, s: FloatArray, lo: float, hi: float, out: FloatArray) -> None: ...

    def log_loss_terms(self, logs: FloatArray, pos: FloatArray, neg: FloatArray) -> None: ...

    def curve_bins(self, s: FloatArray, pos: FloatArray, neg: FloatArray, total: float,
                   bins: int, out: FloatArray) -> None: ...

    def logistic_arg(self, a: float, b: float, x: FloatArray, out: FloatArray) -> None: ...

    def logistic_sums(self, a: float, b: float, x: FloatArray, pos: FloatArray,
                      neg: FloatArray, e: FloatArray, lg: FloatArray,
                      out: FloatArray) -> None: ...


_kernels: TermKernels | None = None


def install(kernels: TermKernels) -> None:
    """Use ``kernels`` for the terms from now on (the engine calls this once it loaded them)."""
    global _kernels
    with _lock:
        _kernels = kernels


def uninstall() -> None:
    """Build the terms in NumPy again."""
    global _kernels
    with _lock:
        _kernels = None


def current() -> TermKernels | None:
    """The installed kernels (None: NumPy), for a caller that installs others for a while."""
    return _kernels


def installed() -> bool:
    """Whether compiled terms are in use (installed, and not refused by ``MLSCOPE_KERNEL``)."""
    return _kernels is not None and os.environ.get("MLSCOPE_KERNEL", "").strip() != "numpy"


def log_loss_sum(s: FloatArray, pos: FloatArray, neg: FloatArray) -> float | None:
    """The sum of log loss's per-bin terms ``−log(clip p)·pos − log(clip(1 − p))·neg`` of
    probabilities ``s``, or None when NumPy must build them (as :func:`terms`).

    The two logarithms are NumPy's own (``np.log`` over both arguments at once: the same
    function, so the same bits); the kernels do the clipping before it and the products
    and the sum of the two after it, the operations the NumPy code does, in its order.
    A large histogram is taken in blocks of :data:`~mlscope.metrics.logistic_fit.BLOCK`
    bins cut where NumPy's pairwise sum cuts it, each block's terms summed by NumPy and
    the blocks' sums added along its tree (:func:`~mlscope.metrics.logistic_fit.
    pairwise_blocks`): the additions of one ``sum`` over all the terms, so the same bits,
    with two block-sized buffers instead of two row-sized ones.
    """
    kernels = _usable(s, pos, neg)
    if kernels is None:
        return None
    m = s.size
    pieces, tree = pairwise_blocks(m, BLOCK) if m > 2 * BLOCK else ([(0, m)], 0)
    buf: FloatArray = np.empty((2, max(hi - lo for lo, hi in pieces)))
    sums: list[tuple[float]] = []
    for lo, hi in pieces:
        part = buf[:, :hi - lo]
        if not _run(kernels, "log_loss_args", s[lo:hi], CLIP_EPS, 1 - CLIP_EPS, part):
            return None
        np.log(part, out=part)
        if not _run(kernels, "log_loss_terms", part, pos[lo:hi], neg[lo:hi]):
            return None
        sums.append((float(part[0].sum()),))
    total: float = add_along(tree, sums)[0]
    return total


def logistic_pass(a: float, b: float, x: FloatArray, pos: FloatArray, neg: FloatArray,
                  pieces: list[tuple[int, int]], tree: Tree, work: FloatArray
                  ) -> tuple[np.float64, ...] | None:
    """One evaluation of the recalibration fit at ``(a, b)`` over every distinct score:
    ``(ℓ, g_a, g_b, h_aa, h_ab, h_bb)`` as :func:`mlscope.metrics.logistic_fit._evaluate`
    gives them, bit for bit, or None when NumPy must compute them.

    Block by block (``pieces``, ``tree``: :func:`~mlscope.metrics.pairwise.
    pairwise_blocks`): a kernel writes ``−|b·x + a|``, NumPy takes its ``exp`` and that
    one's ``log1p`` (NumPy's own functions, so the same bits), and a kernel makes the
    terms and their six sums from them in one pass. That replaces about twenty NumPy
    passes over each block and one ``exp`` (the information's, the same values as the
    first): about half the time per score. ``x``, ``pos``, ``neg``: float64, one
    dimension, in any layout (a block of a reversed view is copied into ``work`` first);
    ``work`` is ``(5, k)`` for the longest piece's ``k`` values.
    """
    kernels = _kernels
    if kernels is None or not installed() or not all(
            isinstance(v, np.ndarray) and v.dtype == np.float64 and v.ndim == 1
            and v.size == x.size for v in (x, pos, neg)):
        return None
    parts: list[tuple[np.float64, ...]] = []
    out: FloatArray = np.empty(6)
    for lo, hi in pieces:
        k = hi - lo
        e, lg = work[0, :k], work[1, :k]
        # The kernels read contiguous blocks (a reversed view would be read element by
        # element): the same values, copied.
        xs, ps, qs = (_contiguous(v[lo:hi], work[row, :k])
                      for row, v in ((2, x), (3, pos), (4, neg)))
        if not _run(kernels, "logistic_arg", a, b, xs, e):
            return None
        np.exp(e, out=e)
        np.log1p(e, out=lg)
        if not _run(kernels, "logistic_sums", a, b, xs, ps, qs, e, lg, out):
            return None
        parts.append(tuple(np.float64(v) for v in out))
    return add_along(tree, parts)


def curve_bins(s: FloatArray, pos: FloatArray, neg: FloatArray, total: float,
               bins: int) -> FloatArray | None:
    """The reliability curve's equal-mass bins of a histogram of row counts, or None when
    NumPy must build them.

    Parameters
    ----------
    s, pos, neg
        The histogram in descending order of probability: float64, one dimension, the
        same size, contiguous; ``pos + neg`` row counts (the caller knows them whole).
    total
        Their sum, above 0 and below 2³¹ (every partial sum exact).
    bins
        Number of equal-mass bins.

    Returns
    -------
    numpy.ndarray or None
        Shape ``(3, bins)``: per bin (ascending), its weight, its sum of weight × score and
        its positives: the values of :func:`mlscope.metrics.calibration.bin_index` and
        the per-bin sums after it, bit for bit, without their five row-sized arrays.
    """
    kernels = _usable(s, pos, neg)
    if kernels is None or not total > 0 or bins < 1:
        return None
    out: FloatArray = np.zeros((3, bins))
    return out if _run(kernels, "curve_bins", s, pos, neg, float(total), int(bins),
                       out) else None


def _contiguous(v: FloatArray, buf: FloatArray) -> FloatArray:
    """``v``, or its copy in ``buf`` when it is not contiguous."""
    if v.flags.c_contiguous:
        return v
    np.copyto(buf, v)
    return buf


def _usable(*arrays: Any) -> TermKernels | None:
    """The kernels, when installed and ``arrays`` are what they take: float64, one
    dimension, one size, not empty."""
    kernels = _kernels
    if kernels is None or not installed():
        return None
    size = arrays[0].size if arrays else 0
    if size == 0 or not all(isinstance(a, np.ndarray) and a.dtype == np.float64
                            and a.ndim == 1 and a.size == size and a.flags.c_contiguous
                            for a in arrays):
        return None
    return kernels


def _run(kernels: TermKernels, name: str, *args: Any) -> bool:
    """``kernels.name(*args)``; False, and the kernels dropped for the rest of the
    process, when it fails. (Every array is contiguous: :func:`_usable` or fresh.)"""
    global _kernels
    try:
        getattr(kernels, name)(*args)
    except Exception as exc:  # a compilation or runtime failure of the optional kernel
        with _lock:
            if _kernels is kernels:
                _kernels = None
                _log.debug("compiled metric terms dropped, NumPy builds them: %s: %s",
                           type(exc).__name__, exc)
        return False
    return True


def term_sums(stats: BinaryStats) -> FloatArray | None:
    """The sums of average precision's, ROC AUC's and Brier's per-bin terms of ``stats``
    (indexed by :data:`AP`, :data:`ROC`, :data:`BRIER`) from the compiled kernel, or None
    when NumPy must build them.

    Each is the bits of NumPy's ``terms.sum()`` over the terms the NumPy code of
    :func:`~mlscope.metrics.binary.average_precision`, :func:`~mlscope.metrics.ranking.
    roc_auc` and :func:`~mlscope.metrics.binary_proba.brier` builds (Brier's of
    ``stats.scores`` taken as probabilities: for another score type the caller does not
    read it). Computed once per statistics object (which is frozen) in one pass over its
    histogram, which the three metrics of a slice then share.

    Returns None for what the kernel does not take: a batch of replicates, another dtype
    than float64, an empty or non-contiguous histogram.
    """
    kernels = _usable(stats.scores, stats.pos, stats.neg)
    if kernels is None:
        return None

    def make() -> FloatArray:
        out: FloatArray = np.zeros(3)
        ok = _run(kernels, "binary_sums", stats.scores, stats.pos, stats.neg, out)
        return out if ok else np.zeros(0)  # failed: kept as "none", NumPy's from now on

    got = stats.memo("term_sums", make)
    return got if got.size == 3 else None
