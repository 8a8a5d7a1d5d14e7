"""How every compiled kernel is compiled (numba): without the GIL, cached on disk where a
folder is writable. Importing this module imports numba."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numba

__all__ = ["jit"]


def jit(fn: Callable[..., Any], inline: bool = False, ieee: bool = False) -> tuple[Any, bool]:
    """``fn`` compiled lazily without the GIL, with an on-disk cache when one is possible,
    and whether it has that cache.

    Numba caches beside the source, or, where the package folder is read-only, in the
    user's cache folder (``NUMBA_CACHE_DIR`` when set). Where no folder is writable it
    refuses ``cache=True`` at decoration: the kernel is then compiled in every process
    (seconds), which the caller weighs (:data:`mlscope.engine.kernels.CACHED`).

    ``inline``: compiled into its callers. ``ieee``: a float division by zero gives IEEE's
    infinity or NaN, as NumPy's does, instead of raising, which takes a test per division
    and keeps the compiler from vectorising a loop that divides.
    """
    how: Literal["never", "always"] = "always" if inline else "never"
    errors: Literal["numpy", "python"] = "numpy" if ieee else "python"
    try:
        return numba.njit(nogil=True, cache=True, inline=how, error_model=errors)(fn), True
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(nogil=True, cache=False, inline=how, error_model=errors)(fn), False
