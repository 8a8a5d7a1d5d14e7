"""Keep freed memory inside the process while a large evaluation runs (glibc only).

An exact evaluation allocates and frees many row-sized NumPy arrays (80 MB each at 10M
rows). glibc's allocator serves each from a fresh ``mmap`` and returns it with ``munmap``
when freed, so the next array page-faults its memory in again, zeroed by the kernel. At
10M rows that kernel work was about half of the process's CPU time (38 s of system time in
a 69 s run, 1.1M page faults). Serving large blocks from the heap and keeping what is freed
there lets the next array reuse those pages (measured at 10M rows, the benchmark's charter:
system time 38 s → 22 s, total CPU −21%, peak RSS +8%; at 1M rows system time 0.65 s →
0.3 s).

The settings are glibc's own (``mallopt``): one arena for every thread (worker threads
would otherwise get arenas whose heaps cannot hold a row-sized block and fall back to
``mmap``), no ``mmap`` for large blocks, and a trim threshold of 1 GiB (freed memory at the
heap's top is returned only above that). They change the whole process and last until it
exits, which suits a command that evaluates and exits; the command-line tool applies them
for its batch commands (``run``, ``evaluate``, ``check``, ``diagnose``, ``compare``,
``monitor``), never for ``serve`` or ``profile`` (whose memory figures they would change).
A long-running Python process can call :func:`keep_freed_memory` itself.

``MLSCOPE_MALLOC=system`` keeps the C library's defaults; so does any ``MALLOC_*`` or
``GLIBC_TUNABLES`` setting of the user's own (theirs wins). Elsewhere than glibc (macOS,
Windows, musl) nothing is changed.
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


def keep_freed_memory() -> bool:
    """Have glibc keep freed memory in the process and reuse it for the next arrays.

    Applied once per process (later calls return the first call's answer). Faster
    evaluations of large tables at the cost of a process that keeps its peak memory until it
    exits; see the module's documentation for the measured effect.

    Returns
    -------
    bool
        Whether the settings were applied: False elsewhere than glibc, with
        ``MLSCOPE_MALLOC=system``, or when the user set glibc's allocator variables.

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
    if choice == "system" or any(v in os.environ for v in _USER_SETTINGS) or not _glibc():
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
