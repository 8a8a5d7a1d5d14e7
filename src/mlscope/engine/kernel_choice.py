"""Whether the unit-weight binary point estimate runs the compiled kernel or NumPy.

The kernel (:mod:`mlscope.engine.kernels`, numba, the ``fast`` extra) gives the same arrays
as the NumPy code of :func:`mlscope.engine.fused.binary_unit_cells` bit for bit, several
times faster; but importing numba and loading its cached machine code costs about 0.6 s
once per process, so it is loaded only from :data:`KERNEL_ROWS` rows summed over a split's
models (then used from :data:`WARM_ROWS` rows per model), and numba is imported only
then, never with mlscope.

``MLSCOPE_KERNEL`` overrides the choice: ``numpy`` never uses the kernel, ``numba`` uses it
at any size (an error when numba is not installed), ``auto`` (or unset) decides by size.
A kernel that fails to load or to compile is never fatal: the NumPy code runs, and the
reason is logged once (``logging`` at debug level, logger ``mlscope.engine.kernel_choice``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from mlscope.engine.blas_probe import without_blas_probe
from mlscope.errors import InputError
from mlscope.metrics.fast import install as install_terms

__all__ = ["CODE_BITS", "KERNEL_ENV", "KERNEL_ROWS", "WARM_ROWS", "Cells", "PackedCells",
           "Scratch", "SortedRows", "compiled_cells", "compiled_sort", "give_up",
           "kernel_runs", "kernel_setting", "loaded", "pack_cells", "preload"]

KERNEL_ENV = "MLSCOPE_KERNEL"
#: Rows summed over a split's models (the rows times the models) from which the kernel is
#: loaded: it saves about 0.1 s of CPU per model and million rows, and loading it costs
#: about 0.6-0.9 s once (benchmarks/results/kernel-numba.md): 5 models of 1.6M rows, or
#: one of 8M.
KERNEL_ROWS = 8_000_000
#: Rows from which a kernel already loaded in the process is used (it is faster than NumPy
#: from a few thousand rows on; below this the difference is negligible either way).
WARM_ROWS = 50_000
_SETTINGS = ("auto", "numba", "numpy")

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_kernels: ModuleType | None = None
_failed: str | None = None  # why the kernel is not used (logged once)
_runs: Counter[str] = Counter()
_preloading = False  # a background load was started (preload)

# One grouping's cells from the kernel: scores, positives, negatives (every cell's segments
# one after the other), each cell's bounds in them, and the rows per cell.
Cells = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64],
              npt.NDArray[np.int64], npt.NDArray[np.int64]]


def kernel_setting() -> str:
    """``MLSCOPE_KERNEL``: ``auto`` (also when unset or empty), ``numba`` or ``numpy``.

    Raises
    ------
    InputError
        Any other value.
    """
    raw = os.environ.get(KERNEL_ENV, "").strip()
    value = raw.lower() or "auto"
    if value not in _SETTINGS:
        raise InputError(
            f"environment variable {KERNEL_ENV}={raw!r} is not a kernel setting. Fix: set "
            f"it to auto (the default: the compiled kernel from {KERNEL_ROWS:,} rows when "
            "numba is installed), numba (always) or numpy (never), or unset it.")
    return value


def kernel_runs() -> dict[str, int]:
    """How many calls of the unit-weight binary path ran each kernel in this process
    (``numba``, ``numpy``), for benchmarks and tests."""
    with _lock:
        return dict(_runs)


def _count(kind: str) -> None:
    with _lock:
        _runs[kind] += 1


def give_up(why: str) -> None:
    """Stop using the kernel in this process (NumPy runs from now on); ``why`` is logged
    once (also for a caller whose own use of the kernel failed)."""
    global _failed
    with _lock:
        if _failed is None:
            _failed = why
            _log.debug("compiled kernel not used, NumPy runs instead: %s", why)


def _load(forced: bool) -> ModuleType | None:
    """The kernels module, imported on first use; None when it cannot be used."""
    global _kernels
    if _kernels is not None:
        return _kernels
    if _failed is not None:
        if forced:
            raise InputError(f"{KERNEL_ENV}=numba but the compiled kernel cannot be used: "
                             f"{_failed}. Fix: pip install \"mlscope[fast]\", or unset "
                             "the variable.")
        return None
    with _lock:
        if _kernels is None and _failed is None:
            try:
                from mlscope.engine import kernels
            except ImportError as exc:
                why = f"numba is not importable ({exc})"
            except Exception as exc:  # numba present but broken: never fatal
                why = f"numba failed to load the kernels ({type(exc).__name__}: {exc})"
            else:
                if kernels.CACHED or forced:
                    _kernels = kernels
                    # The metrics' per-bin terms from the same module (mlscope.metrics.fast).
                    install_terms(kernels)
                    return _kernels
                # Compiled anew in every process (seconds): not worth it unless asked for.
                why = "no writable numba cache folder (set NUMBA_CACHE_DIR)"
        else:
            return _kernels
    give_up(why)
    return _load(forced)  # None, or the error when the kernel was asked for


def preload(work_rows: int) -> bool:
    """Start loading the kernel on a background thread when :func:`compiled_sort` will want
    it for ``work_rows`` rows (a table's rows times its models): numba's import and its
    cached machine code (about 0.5 s) then load while DuckDB reads the rows, instead of
    while the models' threads wait for them. Never raises: a load that fails is logged
    and NumPy runs, as for a load on first use. Returns whether a load was started.
    """
    global _preloading
    try:
        setting = kernel_setting()
    except InputError:
        return False  # reported where the kernel is chosen
    wanted = setting == "numba" or (setting == "auto" and work_rows >= KERNEL_ROWS)
    with _lock:
        if not wanted or _kernels is not None or _failed is not None or _preloading:
            return False
        _preloading = True
    threading.Thread(target=_preload, daemon=True, name="mlscope-kernel-load").start()
    return True


def _preload() -> None:
    # Not forced: with MLSCOPE_KERNEL=numba, the first use raises the reason if it failed.
    global _failed
    try:
        # numba's BLAS probe (an import of scipy.linalg) skipped: mlscope.engine.blas_probe.
        with without_blas_probe() as probe:
            try:
                kernels = _load(False)
                if kernels is not None:
                    kernels.warm()
            except Exception:
                if probe is None or not probe.skipped:
                    raise
                kernels = None
        if kernels is None and probe is not None and probe.skipped:
            # Should a numba release need scipy.linalg after all: once more, as it is.
            with _lock:
                if _kernels is None:
                    _failed = None
            kernels = _load(False)
            if kernels is not None:
                kernels.warm()
    except Exception as exc:  # never fatal: NumPy runs, as after a failure on first use
        give_up(f"the kernel failed to load ({type(exc).__name__}: {exc})")


#: Bits of a sorted item free for its row's cells (below the label bit): the groupings'
#: cells are carried there when they fit, else the row's index.
CODE_BITS = 31


class PackedCells:
    """Every grouping's cell of each row in one unsigned integer, for the kernel's sort to
    carry (:func:`pack_cells`).

    Attributes
    ----------
    codes
        Per row, each grouping's cell plus one (0: in no cell) in its bits, the narrowest
        unsigned type; empty when no grouping needs bits (all hold every row in one cell).
    bits
        Per grouping, what :func:`mlscope.engine.kernels.carried_counts` reads: the shift,
        mask and offset of its cell in the item (all 0 for one cell holding every row).
    """

    def __init__(self, codes: npt.NDArray[Any], bits: list[tuple[int, int, int]]) -> None:
        self.codes = codes
        self.bits = [(np.uint64(s), np.uint64(m), np.int64(o)) for s, m, o in bits]


def pack_cells(groupings: list[tuple[npt.NDArray[Any], int]], n: int) -> PackedCells | None:
    """The groupings' cells of each row packed in :data:`CODE_BITS` bits, or None where
    they need more (the kernel then carries the row's index and gathers each grouping's
    cells by it).

    A grouping of one cell holding every row needs no bits; any other of ``k`` cells
    stores its cell plus one (0: the row is in no cell) in ``k.bit_length()`` bits.
    """
    bits: list[tuple[int, int, int]] = []
    used = 0
    coded: list[tuple[npt.NDArray[Any], int]] = []
    for code, n_cells in groupings:
        if _one_cell(code, n_cells):
            bits.append((0, 0, 0))
            continue
        width = int(n_cells).bit_length()
        bits.append((used, (1 << width) - 1, 1))
        coded.append((code, used))
        used += width
        if used > CODE_BITS:
            return None
    dtype: type[np.unsignedinteger[Any]] = (
        np.uint8 if used <= 8 else np.uint16 if used <= 16 else np.uint32)
    codes: npt.NDArray[np.unsignedinteger[Any]] = np.zeros(n if coded else 0, dtype=dtype)
    for code, at in coded:
        # Unsigned wrap-around: -1 + 1 is 0, and every cell plus one fits its bits.
        v: npt.NDArray[np.unsignedinteger[Any]] = code.astype(dtype)
        v += dtype(1)
        if at:
            v <<= dtype(at)
        codes |= v
    return PackedCells(codes, bits)


class Scratch:
    """Pairs of row-sized buffers for the kernel's sort, reused from one model to the next
    (fresh ones cost page faults on every model: 1–3 ms of a 14 ms sort at 1M rows), and
    the groupings' packed cells (:func:`pack_cells`), built once for every model.

    Thread-safe: each thread takes its own pair and gives it back.
    """

    def __init__(self) -> None:
        self._free: list[tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]] = []
        self._lock = threading.Lock()
        self._packed: tuple[list[tuple[npt.NDArray[Any], int]], PackedCells | None] | None
        self._packed = None

    def packed(self, groupings: list[tuple[npt.NDArray[Any], int]],
               n: int) -> PackedCells | None:
        """:func:`pack_cells` of ``groupings``, built once while the same (unchanged) code
        arrays come back: every model of a split."""
        with self._lock:
            if self._packed is not None:
                known, packed = self._packed
                if len(known) == len(groupings) and all(
                        a is c and k == m for (a, k), (c, m) in zip(known, groupings, strict=True)):
                    return packed
            packed = pack_cells(groupings, n)
            self._packed = (list(groupings), packed)  # the arrays kept: their ids stay theirs
            return packed

    def take(self, n: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
        """Two buffers of ``n`` items (views of larger ones when the pool has them)."""
        with self._lock:
            for i, (a, b) in enumerate(self._free):
                if a.size >= n:
                    del self._free[i]
                    return a, b
        return np.empty(n, dtype=np.uint64), np.empty(n, dtype=np.uint64)

    def give(self, pair: tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]) -> None:
        """Return a pair that :meth:`take` gave."""
        with self._lock:
            self._free.append(pair)


def _wanted(n: int, work_rows: int) -> tuple[bool, bool]:
    """(use the kernel for ``n`` rows, forced by the environment)."""
    setting = kernel_setting()
    if setting == "numpy" or (_failed is not None and setting == "auto"):
        return False, False
    if setting == "numba":
        return True, True
    if _kernels is not None:
        return n >= WARM_ROWS, False
    return work_rows >= KERNEL_ROWS and n >= WARM_ROWS, False


def loaded(n: int) -> ModuleType | None:
    """The kernels for a pass over ``n`` rows where they are already loaded in this process
    (or ``MLSCOPE_KERNEL=numba`` asks for them), else None: this never loads them for a
    pass that alone would not repay the load (the bucket bootstrap runs after the point
    estimate, which loaded them when the split was large enough)."""
    use, forced = _wanted(n, 0)
    if not use:
        return None
    return _load(forced) if forced else _kernels


def compiled_cells(
    value: npt.NDArray[np.float64], y8: npt.NDArray[np.int8],
    groupings: list[tuple[npt.NDArray[Any], int]], scratch: Scratch | None = None,
    work_rows: int | None = None,
) -> list[Cells] | None:
    """Every grouping's cells from the compiled kernel, or None where NumPy must run.

    None when the kernel is not wanted (:func:`kernel_setting`, size) or not available,
    when a score is not exactly a float32 (the kernel sorts 32-bit keys), or when the
    kernel fails (logged once, never raised). ``work_rows``: the rows the caller will run
    through this path in all (a split's rows times its models), which decides whether
    loading the kernel pays; by default this call's rows.

    Raises
    ------
    InputError
        ``MLSCOPE_KERNEL`` is invalid, or ``numba`` while numba cannot be imported.
    """
    rows = compiled_sort(value, y8, groupings, scratch, work_rows)
    if rows is None:
        return None
    try:
        out = [rows.cells(gi) for gi in range(len(groupings))]
    except Exception as exc:  # a compilation or runtime failure of the optional kernel
        give_up(f"the kernel failed ({type(exc).__name__}: {exc})")
        _count("numpy")
        return None
    finally:
        rows.release()
    return out


class SortedRows:
    """One model's rows as the kernel sorted them: each grouping's cells on demand
    (:meth:`cells`), so that a caller can hold one grouping's histograms at a time."""

    def __init__(self, kernels: ModuleType, items: npt.NDArray[np.uint64],
                 bits: list[tuple[np.uint64, np.uint64, np.int64]] | None,
                 groupings: list[tuple[npt.NDArray[Any], int]],
                 release: Callable[[], None]) -> None:
        self._kernels, self.items, self._bits = kernels, items, bits
        self._groupings, self._release = groupings, release

    def cells(self, gi: int) -> Cells:
        """Grouping ``gi``'s cells (the kernel's two passes over the sorted items).

        Raises
        ------
        Exception
            Whatever the kernel raised (the caller falls back to NumPy).
        """
        code, n_cells = self._groupings[gi]
        if self._bits is not None:
            return _from_bits(self._kernels, self.items, self._bits[gi], n_cells)
        return _by_index(self._kernels, self.items, code, n_cells)

    def release(self) -> None:
        """Give the sort's buffers back (to the scratch they came from); then unusable."""
        self._release()


def compiled_sort(
    value: npt.NDArray[np.float64], y8: npt.NDArray[np.int8],
    groupings: list[tuple[npt.NDArray[Any], int]], scratch: Scratch | None = None,
    work_rows: int | None = None,
) -> SortedRows | None:
    """The kernel's sort of one model's rows (:class:`SortedRows`), or None where NumPy
    must run (as :func:`compiled_cells`, which it serves). Counted in
    :func:`kernel_runs` as a ``numba`` run, or ``numpy`` when None (a later failure of
    the passes counts a ``numpy`` run too).

    Without ``scratch`` only the sorted items stay allocated (the sort's other buffer and
    the packed cells are freed): one 8-byte item per row, for as long as the result is
    kept.
    """
    n = int(value.size)
    use, forced = _wanted(n, n if work_rows is None else work_rows)
    kernels = _load(forced) if use and n < 2**31 else None
    if kernels is None:
        _count("numpy")
        return None
    value = np.ascontiguousarray(value, dtype=np.float64)
    y8 = np.ascontiguousarray(y8, dtype=np.int8)
    groupings = [(np.ascontiguousarray(code), k) for code, k in groupings]
    pair = scratch.take(n) if scratch is not None else (np.empty(n, np.uint64),
                                                        np.empty(n, np.uint64))
    try:
        packed = (scratch.packed(groupings, n) if scratch is not None
                  else pack_cells(groupings, n))
        carried = packed.codes if packed is not None else np.zeros(0, np.uint32)
        where = kernels.sort_descending(value, y8, carried, *pair)
    except Exception as exc:  # a compilation or runtime failure of the optional kernel
        give_up(f"the kernel failed ({type(exc).__name__}: {exc})")
        where = -1
    if where < 0:
        if scratch is not None:
            scratch.give(pair)
        _count("numpy")
        return None
    _count("numba")
    return SortedRows(kernels, pair[where][:n], packed.bits if packed is not None else None,
                      groupings, (lambda: scratch.give(pair)) if scratch is not None
                      else (lambda: None))


def _one_cell(code: npt.NDArray[Any], n_cells: int) -> bool:
    """Whether a grouping is one cell holding every row (no cell to read per row)."""
    return n_cells == 1 and (code.size == 0 or int(code.min()) >= 0)


def _cells(n_cells: int, count: Callable[..., None], fill: Callable[..., bool]) -> Cells:
    """One grouping's cells from its two kernel passes: ``count(segs, rows)`` sizes each
    cell, ``fill(bounds, scores, pos, neg)`` writes them."""
    segs = np.zeros(n_cells, dtype=np.int64)
    rows = np.zeros(n_cells, dtype=np.int64)
    count(segs, rows)
    bounds = np.zeros(n_cells + 1, dtype=np.int64)
    np.cumsum(segs, out=bounds[1:])
    m = int(bounds[-1])
    scores, pos, neg = np.empty(m), np.empty(m), np.empty(m)
    if not fill(bounds, scores, pos, neg):
        raise RuntimeError("the kernel's two passes disagree on the segments")
    return scores, pos, neg, bounds, rows


def _from_bits(kernels: ModuleType, items: npt.NDArray[np.uint64],
               bits: tuple[np.uint64, np.uint64, np.int64], n_cells: int) -> Cells:
    """One grouping's cells from two passes over the items that carry them."""
    return _cells(n_cells, lambda *out: kernels.carried_counts(items, *bits, *out),
                  lambda *out: kernels.carried_fill(items, *bits, *out))


def _by_index(kernels: ModuleType, items: npt.NDArray[np.uint64], code: npt.NDArray[Any],
              n_cells: int) -> Cells:
    """One grouping's cells from the items that carry the row's index (its cells gathered)."""
    whole = _one_cell(code, n_cells)
    cs = np.empty(0 if whole else items.size, dtype=code.dtype)
    return _cells(n_cells, lambda *out: kernels.cell_counts(items, code, whole, cs, *out),
                  lambda *out: kernels.cell_fill(items, cs, whole, *out))
