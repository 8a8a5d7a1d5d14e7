"""Compiled per-bin terms of the ranking and probability metrics, when the engine has
loaded them.

Average precision, ROC AUC, Brier and log loss are each a sum over a histogram's bins of
a term that NumPy builds in six to eleven passes over the bins (running sums, a division,
masks, clipping, products). The compiled kernels (:mod:`mlscope.engine.kernels`) build
the same terms in one pass: the same operations in the same order on the same values, so
the same bits (log loss's logarithms stay NumPy's); the sum over the bins stays NumPy's
own (pairwise), so every metric value is unchanged.

This layer does not import numba: the engine installs the kernels here once it has
loaded them for its own sort (:mod:`mlscope.engine.kernel_choice`), so a process that
never loads numba never pays for it. ``MLSCOPE_KERNEL=numpy`` keeps these terms in NumPy
too. A kernel that fails is dropped for the rest of the process (NumPy runs; never fatal).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from mlscope.metrics.links import CLIP_EPS

__all__ = ["TermKernels", "current", "install", "installed", "log_loss_terms", "terms",
           "uninstall"]

FloatArray = npt.NDArray[np.float64]

_log = logging.getLogger(__name__)
_lock = threading.Lock()


class TermKernels(Protocol):
    """What :func:`install` takes: the kernels of :mod:`mlscope.engine.kernels` that build
    the metrics' terms, each writing into its last argument."""

    def ap_terms(self, pos: FloatArray, neg: FloatArray, out: FloatArray) -> None: ...

    def roc_terms(self, pos: FloatArray, neg: FloatArray, out: FloatArray) -> None: ...

    def brier_terms(self, s: FloatArray, pos: FloatArray, neg: FloatArray,
                    out: FloatArray) -> None: ...

    def log_loss_args(self, s: FloatArray, lo: float, hi: float, out: FloatArray) -> None: ...

    def log_loss_terms(self, logs: FloatArray, pos: FloatArray, neg: FloatArray) -> None: ...


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


def log_loss_terms(s: FloatArray, pos: FloatArray, neg: FloatArray) -> FloatArray | None:
    """Log loss's per-bin terms ``−log(clip p)·pos − log(clip(1 − p))·neg`` of probabilities
    ``s``, or None when NumPy must build them (as :func:`terms`).

    The two logarithms are NumPy's own (``np.log`` over both arguments at once: the same
    function, so the same bits); the kernels do the clipping before it and the products
    and the sum of the two after it, the operations the NumPy code does, in its order.
    """
    kernels = _usable(s, pos, neg)
    if kernels is None:
        return None
    buf: FloatArray = np.empty((2, s.size))
    if not _run(kernels, "log_loss_args", s, CLIP_EPS, 1 - CLIP_EPS, buf):
        return None
    np.log(buf, out=buf)
    if not _run(kernels, "log_loss_terms", buf, pos, neg):
        return None
    terms_: FloatArray = buf[0]
    return terms_


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


def terms(kind: str, *arrays: Any) -> FloatArray | None:
    """The per-bin terms of ``kind`` (``"ap"``, ``"roc"`` or ``"brier"``) from the compiled
    kernel, or None when NumPy must build them.

    Parameters
    ----------
    kind
        Which metric's terms.
    *arrays
        ``pos, neg`` (``ap``, ``roc``) or ``s, pos, neg`` (``brier``): float64, one
        dimension, the same size, contiguous. Anything else (a batch of replicates,
        another dtype, a reversed view) returns None.

    Returns
    -------
    numpy.ndarray or None
        A fresh float64 array of the terms, one per bin.
    """
    kernels = _usable(*arrays)
    if kernels is None:
        return None
    out = np.empty(arrays[0].size)
    return out if _run(kernels, f"{kind}_terms", *arrays, out) else None
