"""Compiled per-bin terms of the ranking and Brier metrics, when the engine has loaded them.

Average precision, ROC AUC and Brier are each a sum over a histogram's bins of a term
that NumPy builds in six to ten passes over the bins (running sums, a division, masks,
products). The compiled kernels (:mod:`mlscope.engine.kernels`) build the same terms in
one pass: the same operations in the same order on the same values, so the same bits;
the sum over the bins stays NumPy's own (pairwise), so every metric value is unchanged.

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

__all__ = ["TermKernels", "current", "install", "installed", "terms", "uninstall"]

FloatArray = npt.NDArray[np.float64]

_log = logging.getLogger(__name__)
_lock = threading.Lock()


class TermKernels(Protocol):
    """What :func:`install` takes: the three kernels, each writing its terms into ``out``."""

    def ap_terms(self, pos: FloatArray, neg: FloatArray, out: FloatArray) -> None: ...

    def roc_terms(self, pos: FloatArray, neg: FloatArray, out: FloatArray) -> None: ...

    def brier_terms(self, s: FloatArray, pos: FloatArray, neg: FloatArray,
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


def terms(kind: str, *arrays: Any) -> FloatArray | None:
    """The per-bin terms of ``kind`` (``"ap"``, ``"roc"`` or ``"brier"``) from the compiled
    kernel, or None when NumPy must build them.

    Parameters
    ----------
    kind
        Which metric's terms.
    *arrays
        ``pos, neg`` (``ap``, ``roc``) or ``s, pos, neg`` (``brier``): float64, one
        dimension, the same size. Anything else (a batch of replicates, another dtype)
        returns None.

    Returns
    -------
    numpy.ndarray or None
        A fresh float64 array of the terms, one per bin.
    """
    global _kernels
    kernels = _kernels
    if kernels is None or not installed():
        return None
    size = arrays[0].size if arrays else 0
    if size == 0 or not all(isinstance(a, np.ndarray) and a.dtype == np.float64
                            and a.ndim == 1 and a.size == size for a in arrays):
        return None
    out = np.empty(size)
    try:
        fn = getattr(kernels, f"{kind}_terms")
        fn(*(np.ascontiguousarray(a) for a in arrays), out)
    except Exception as exc:  # a compilation or runtime failure of the optional kernel
        with _lock:
            if _kernels is kernels:
                _kernels = None
                _log.debug("compiled metric terms dropped, NumPy builds them: %s: %s",
                           type(exc).__name__, exc)
        return None
    return out
