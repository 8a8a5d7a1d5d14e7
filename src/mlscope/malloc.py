"""Keep freed memory inside the process while a large evaluation runs (glibc only).

An exact evaluation allocates and frees many row-sized NumPy arrays (80 MB each at 10M
rows). By default glibc serves each from a fresh ``mmap`` and returns it with ``munmap``
when freed, and NumPy asks the kernel for transparent huge pages on each
(``madvise(MADV_HUGEPAGE)``); the next array then page-faults its memory in again, and
where huge pages are scarce the kernel compacts memory to find them, synchronously, on the
fault. At 10M rows that kernel work was more than half of the process's CPU time.

:func:`keep_freed_memory` has glibc serve large blocks from one heap shared by every
thread and keep what is freed there (``mallopt``: one arena, since worker threads would
otherwise get arenas whose heaps cannot hold a row-sized block and fall back to ``mmap``;
no ``mmap`` blocks; a trim threshold of 1 GiB), and turns NumPy's huge-page request off.
Measured on the project's 2-core machine (Linux 6.18, transparent huge pages on
``madvise``; other work running, load average about 4), the benchmark's charter, one fresh
process each, CPU time (user + system):

=====================  ==================  =================  ===============  =========
rows                   glibc's, NumPy's    the heap kept      huge pages off   both
=====================  ==================  =================  ===============  =========
1M (three runs)        3.47–3.50 s         2.66–3.39 s        2.99–3.53 s      2.74–2.97 s
10M (system time)      52.0 s (30.4 s)     42.5 s (18.9 s)    45.3 s (19.2 s)  25.6 s (2.7 s)
=====================  ==================  =================  ===============  =========

Peak memory was within 2% either way. The settings change the whole process and last
until it exits, which suits a command that evaluates and exits; the command-line tool
applies them for its batch commands (``run``, ``evaluate``, ``check``, ``diagnose``,
``compare``, ``monitor``), never for ``serve`` or ``profile`` (whose memory figures they
would change). A long-running Python process can call :func:`keep_freed_memory` itself.

``MLSCOPE_MALLOC=system`` keeps the C library's and NumPy's defaults; so does any
``MALLOC_*`` or ``GLIBC_TUNABLES`` setting of the user's own for glibc, and
``NUMPY_MADVISE_HUGEPAGE`` for NumPy's huge pages (theirs wins). Elsewhere than glibc
(macOS, Windows, musl) nothing is changed.
"""

from __future__ import annotations

import os

from mlscope.errors import InputError

__all__ = ["ENV", "keep_freed_memory"]

ENV = "MLSCOPE_MALLOC"
_CHOICES = ("keep", "system")
# mallopt's parameter numbers (glibc's malloc.h); stable ABI since glibc 2.x.
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
_TRIM_THRESHOLD = 1 << 30
# The user's own allocator settings: any of them means "leave the allocator alone".
_USER_SETTINGS = ("GLIBC_TUNABLES", "MALLOC_ARENA_MAX", "MALLOC_MMAP_MAX_",
                  "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")

_applied: bool | None = None


def _choice() -> str:
    value = os.environ.get(ENV, "").strip().lower() or "keep"
    if value not in _CHOICES:
        raise InputError(
            f"environment variable {ENV}={os.environ.get(ENV)!r} is not one of "
            f"{', '.join(_CHOICES)}: unset it (or set {ENV}=keep) to keep freed memory in "
            f"the process, or set {ENV}=system for the C library's defaults"
        )
    return value


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (AttributeError, ValueError, OSError):
        return False


def _no_huge_pages() -> None:
    # NumPy's own switch (what NUMPY_MADVISE_HUGEPAGE=0 sets at import); absent from a
    # NumPy without it, then nothing changes.
    import numpy

    core = getattr(numpy, "_core", None) or getattr(numpy, "core", None)
    toggle = getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)
    if callable(toggle):
        toggle(False)


def keep_freed_memory() -> bool:
    """Have glibc keep freed memory in the process and reuse it for the next arrays, and
    NumPy stop asking for huge pages.

    Applied once per process (later calls return the first call's answer). Faster
    evaluations of large tables at the cost of a process that keeps its peak memory until it
    exits; see the module's documentation for the measured effect.

    Returns
    -------
    bool
        Whether glibc's settings were applied: False elsewhere than glibc, with
        ``MLSCOPE_MALLOC=system``, or when the user set glibc's allocator variables (NumPy's
        huge pages are still turned off then, unless ``NUMPY_MADVISE_HUGEPAGE`` is set).

    Raises
    ------
    InputError
        ``MLSCOPE_MALLOC`` has a value other than ``keep`` or ``system``.
    """
    global _applied
    choice = _choice()
    if _applied is not None:
        return _applied
    _applied = False
    if choice == "system" or not _glibc():
        return False
    if "NUMPY_MADVISE_HUGEPAGE" not in os.environ:
        _no_huge_pages()
    if any(v in os.environ for v in _USER_SETTINGS):
        return False
    import ctypes  # only here: the commands that never evaluate do not pay for it

    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # Arena first: threads started after this share the main heap. mallopt returns 1 on
    # success; a refused setting leaves that one at glibc's default, which is harmless.
    ok = [mallopt(_M_ARENA_MAX, 1), mallopt(_M_MMAP_MAX, 0),
          mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)]
    _applied = all(r == 1 for r in ok)
    return _applied
