"""Loading the compiled kernels without numba's BLAS probe.

When numba first loads machine code in a process it imports its NumPy implementations,
and one of them (``numba.np.arraymath``) probes whether SciPy's BLAS can be used by
importing ``scipy.linalg``: about 0.3 s of CPU, more than the rest of the load, for a
flag that only ``np.correlate`` and ``np.convolve`` compiled by numba read (they call
BLAS when it is there and a loop otherwise). mlscope's kernels use neither. While the
background thread loads them (:func:`~mlscope.engine.kernel_choice.preload`), an import
of ``scipy.linalg`` from that thread fails at once; afterwards numba's flag is set to what
the probe would have found (SciPy's compiled BLAS module present), so numba code compiled
later in the process behaves as it would have. Other threads import SciPy as usual.

Measured on the 10M-row benchmark charter (2 cores): 0.45 s less CPU, 0.2–0.3 s less
wall time per run (``benchmarks/README.md``, fourteenth round).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType

__all__ = ["ProbeSkip", "restore_blas_flag", "scipy_blas_present", "without_blas_probe"]

_PROBED = "scipy.linalg"
_FLAG_MODULE = "numba.np.arraymath"
_FLAG = "_HAVE_BLAS"


class ProbeSkip(importlib.abc.MetaPathFinder):
    """An import finder that fails the import of ``scipy.linalg`` from one thread.

    Attributes
    ----------
    skipped
        How many imports it failed (0: the load never probed, or SciPy was imported).
    """

    def __init__(self, thread: threading.Thread) -> None:
        self.thread = thread
        self.skipped = 0

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname == _PROBED and threading.current_thread() is self.thread:
            self.skipped += 1
            raise ImportError(f"{_PROBED} is not imported while mlscope loads its kernels")
        return None  # every other import: the next finder's


@contextlib.contextmanager
def without_blas_probe() -> Iterator[ProbeSkip | None]:
    """Within the block, this thread's imports of ``scipy.linalg`` fail; after it, numba's
    BLAS flag is restored (:func:`restore_blas_flag`). Yields the finder, or None where
    SciPy's ``linalg`` is imported already (the probe then costs nothing)."""
    if _PROBED in sys.modules:
        yield None
        return
    finder = ProbeSkip(threading.current_thread())
    sys.meta_path.insert(0, finder)
    try:
        yield finder
    finally:
        sys.meta_path.remove(finder)
        if finder.skipped:
            restore_blas_flag()


def restore_blas_flag() -> bool:
    """Set numba's BLAS flag to True where the skipped probe would have found BLAS;
    returns whether it did."""
    module = sys.modules.get(_FLAG_MODULE)
    if module is None or getattr(module, _FLAG, None) is not False or not scipy_blas_present():
        return False
    setattr(module, _FLAG, True)
    return True


def scipy_blas_present() -> bool:
    """Whether SciPy's compiled BLAS module (``scipy/linalg/cython_blas``) is installed,
    found on disk without importing SciPy."""
    try:
        spec = importlib.util.find_spec("scipy")
    except (ImportError, ValueError):
        return False
    places = [] if spec is None else list(spec.submodule_search_locations or [])
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return any(p.name.endswith(suffixes)
               for place in places for p in Path(place, "linalg").glob("cython_blas*"))
