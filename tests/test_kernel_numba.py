"""The compiled kernel (numba, the ``fast`` extra) gives the NumPy path's bits exactly.

:func:`mlscope.engine.fused.binary_unit_cells` runs :mod:`mlscope.engine.kernels` under
``MLSCOPE_KERNEL=numba`` and its NumPy code under ``MLSCOPE_KERNEL=numpy``: every array of
every cell must be identical (compared as raw 64-bit patterns, so ``-0.0`` differs from
``+0.0``), on continuous and tied float32 scores, signed zeros, negative numbers,
subnormals and infinities, one-class labels, empty and one-row input, empty cells, rows in
no cell and every width of cell code. Each comparison also checks that the kernel did run.
Each case runs with the groupings' cells carried in the sorted items (packed in 8, 16 or
exactly 31 bits) and with the row's index carried instead (cells gathered by it: groupings
that need more than 31 bits).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlscope.engine.fused import binary_unit_cells, narrow_codes
from mlscope.engine.kernel_choice import (
    CODE_BITS,
    KERNEL_ENV,
    Scratch,
    kernel_runs,
    kernel_setting,
    pack_cells,
)
from mlscope.errors import InputError
from tests.conftest import base_charter, binary_frame

pytest.importorskip("numba")

Grouping = tuple[np.ndarray, int]


def _both(monkeypatch: pytest.MonkeyPatch, value: np.ndarray, y: np.ndarray,
          groupings: list[Grouping], *, compiled: bool = True) -> tuple[list, list]:
    """``binary_unit_cells`` under the kernel and under NumPy; asserts which ran."""
    y8 = (y != 0).astype(np.int8)
    before = kernel_runs().get("numba", 0)
    monkeypatch.setenv(KERNEL_ENV, "numba")
    fast = binary_unit_cells(value, y8, groupings, Scratch())
    assert kernel_runs().get("numba", 0) == before + compiled
    monkeypatch.setenv(KERNEL_ENV, "numpy")
    slow = binary_unit_cells(value, y8, groupings)
    assert kernel_runs().get("numba", 0) == before + compiled
    return fast, slow


def _identical(fast: list, slow: list) -> None:
    assert len(fast) == len(slow)
    for cells_f, cells_s in zip(fast, slow, strict=True):
        assert len(cells_f) == len(cells_s)
        for a, b in zip(cells_f, cells_s, strict=True):
            assert a.n_rows == b.n_rows
            assert type(a.n_rows) is int
            for x, z in ((a.scores, b.scores), (a.pos, b.pos), (a.neg, b.neg)):
                assert x.dtype == z.dtype == np.float64
                assert x.shape == z.shape
                # Bit for bit: -0.0 and +0.0 differ here, NaN would equal itself.
                assert np.array_equal(x.view(np.uint64), z.view(np.uint64))


def _groupings(rng: np.random.Generator, n: int) -> list[Grouping]:
    """Every row in one cell; a filter (rows in no cell); 9 cells, one empty, a
    one-row one and some rows in none (int8); 300 cells (int16); 40,000 (int32)."""
    overall = np.zeros(n, dtype=np.int64)
    where = np.where(rng.random(n) < 0.3, 0, -1).astype(np.int64)
    region = rng.integers(-1, 7, n).astype(np.int64)
    if n > 10:
        region[3] = 8  # a cell of one row; cell 7 has none
    many = rng.integers(0, 300, n).astype(np.int64)
    huge = rng.integers(-1, 40_000, n).astype(np.int64)
    nowhere = np.full(n, -1, dtype=np.int64)
    out = [(overall, 1), (where, 1), (region, 9), (many, 300), (huge, 40_000),
           (nowhere, 3)]
    codes = [(narrow_codes(c, k), k) for c, k in out]
    assert [c.dtype for c, _ in codes] == [np.int8] * 3 + [np.int16, np.int32, np.int8]
    return codes


def _scores(kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    if kind == "continuous":
        s = rng.random(n)
    elif kind == "ties-100":
        s = rng.integers(0, 100, n) / 100
    elif kind == "all-equal":
        s = np.full(n, 0.25)
    elif kind == "signed":
        # Signed zeros, negative numbers, subnormals, infinities and extremes, tied.
        pool = np.array([0.0, -0.0, -1.5, 1.5, -3e-39, 3e-39, 1e-45, -1e-45, np.inf,
                         -np.inf, 3.4e38, -3.4e38, 1.0, -1.0], dtype=np.float32)
        s = rng.choice(pool, n)
    elif kind == "normal":
        s = rng.normal(size=n) * 1e3
    else:
        raise AssertionError(kind)
    return s.astype(np.float32).astype(np.float64)


@pytest.mark.parametrize("n", [20_000, 1, 0])
@pytest.mark.parametrize("kind", ["continuous", "ties-100", "all-equal", "signed", "normal"])
def test_kernel_equals_numpy_bit_for_bit(monkeypatch: pytest.MonkeyPatch, kind: str,
                                         n: int) -> None:
    rng = np.random.default_rng([len(kind), n])  # seeded per case, the same every run
    s = _scores(kind, rng, n)
    y = rng.random(n) < 0.2
    g = _groupings(rng, n)
    for layout, bits in _LAYOUTS.items():
        groupings = [g[i] for i in layout]
        packed = pack_cells(groupings, n)
        if n > 1:  # with one row or none, the filter holds every row: no bits
            assert (None if packed is None else packed.codes.dtype) == bits
        _identical(*_both(monkeypatch, s, y, groupings))


# Subsets of _groupings' six (overall, where, region, many, huge, nowhere) and the type of
# their packed cells: 1+4+2, 1+4+9+2 and 4+9+16+2 = 31 bits carried in the sorted items
# (overall needs none); all six need 32 bits, so the row's index is carried instead.
_LAYOUTS: dict[tuple[int, ...], Any] = {
    (0, 1, 2, 5): np.uint8, (0, 1, 2, 3, 5): np.uint16, (0, 2, 3, 4, 5): np.uint32,
    (0, 1, 2, 3, 4, 5): None,
}


@pytest.mark.parametrize("label", [0, 1])
def test_kernel_one_class_labels(monkeypatch: pytest.MonkeyPatch, label: int) -> None:
    rng = np.random.default_rng(5)
    s = _scores("ties-100", rng, 5000)
    _identical(*_both(monkeypatch, s, np.full(5000, label), _groupings(rng, 5000)))


def test_kernel_signed_zeros_keep_the_first_row_of_each_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Runs of equal scores mixing -0.0 and +0.0: the NumPy path reports +0.0 where a cell
    # has one (it sorts first, descending), -0.0 where it has only -0.0.
    s = np.array([-0.0, 0.0, -0.0, -0.0, 1.0, -1.0, -0.0])
    y = np.array([1, 0, 1, 0, 1, 0, 0])
    code = np.array([0, 0, 1, 1, 2, 2, 2], dtype=np.int8)
    fast, slow = _both(monkeypatch, s, y, [(code, 3)])
    _identical(fast, slow)
    signs = [np.signbit(c.scores).tolist() for c in fast[0]]
    assert signs == [[False], [True], [False, True, True]]


def test_scores_that_are_not_float32_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    s = rng.random(3000)  # float64 values: the kernel refuses them, NumPy runs
    s[0] = np.nan
    y = rng.random(3000) < 0.5
    _identical(*_both(monkeypatch, s, y, _groupings(rng, 3000), compiled=False))


def test_scratch_buffers_are_reused_across_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    # A larger pair left by one model serves a smaller one (the kernel reads only n items).
    rng = np.random.default_rng(9)
    pool = Scratch()
    monkeypatch.setenv(KERNEL_ENV, "numba")
    for n in (4000, 1500):
        s = _scores("continuous", rng, n)
        y8 = (rng.random(n) < 0.3).astype(np.int8)
        g = _groupings(rng, n)
        fast = binary_unit_cells(s, y8, g, pool)
        monkeypatch.setenv(KERNEL_ENV, "numpy")
        _identical(fast, binary_unit_cells(s, y8, g))
        monkeypatch.setenv(KERNEL_ENV, "numba")
    assert len(pool._free) == 1
    assert pool._free[0][0].size == 4000


@pytest.mark.parametrize(("raw", "expected"), [("", "auto"), ("auto", "auto"), (" NumPy ", "numpy"),
                                          ("numba", "numba")])
def test_kernel_setting_values(monkeypatch: pytest.MonkeyPatch, raw: str,
                               expected: str) -> None:
    monkeypatch.setenv(KERNEL_ENV, raw)
    assert kernel_setting() == expected


def test_kernel_setting_rejects_unknown_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KERNEL_ENV, "cuda")
    with pytest.raises(InputError, match=r"MLSCOPE_KERNEL='cuda'.*auto.*numba.*numpy"):
        kernel_setting()
    s = np.zeros(10)
    with pytest.raises(InputError, match="MLSCOPE_KERNEL"):
        binary_unit_cells(s, np.zeros(10, np.int8), [(np.zeros(10, np.int8), 1)])


def test_unknown_kernel_setting_exits_2(monkeypatch: pytest.MonkeyPatch,
                                        project: Callable[..., Path]) -> None:
    from click.testing import CliRunner

    from mlscope.cli import main

    path = project()
    monkeypatch.setenv(KERNEL_ENV, "fastest")
    res = CliRunner().invoke(main, ["run", str(path), "--no-store", "-q",
                                    "--out", str(path.parent / "out")])
    assert res.exit_code == 2, res.output
    assert "MLSCOPE_KERNEL" in res.output


def test_evaluate_is_identical_with_either_kernel(monkeypatch: pytest.MonkeyPatch,
                                                  project: Callable[..., Path]) -> None:
    import mlscope

    df = binary_frame(n=4000, seed=3, grid=1000)
    for col in ("p_good", "p_fair", "p_weak"):
        df[col] = df[col].astype(np.float32)  # what models write: the kernel's input
    charter: dict[str, Any] = base_charter(intervals={"resamples": 20})
    path = project(df=df, charter=charter)
    frames = {}
    for kernel in ("numba", "numpy"):
        monkeypatch.setenv(KERNEL_ENV, kernel)
        before = kernel_runs().get("numba", 0)
        frames[kernel] = mlscope.evaluate(path).to_frame()
        ran = kernel_runs().get("numba", 0) - before
        assert (ran > 0) == (kernel == "numba")
    a, b = frames["numba"], frames["numpy"]
    assert a.columns.tolist() == b.columns.tolist()
    assert a.to_csv(float_format="%.17g") == b.to_csv(float_format="%.17g")


def test_pack_cells_layout() -> None:
    # Each grouping's cell plus one in its own bits; one cell holding every row needs none.
    rng = np.random.default_rng(11)
    n = 5000
    g = _groupings(rng, n)
    packed = pack_cells([g[i] for i in (0, 2, 3, 4, 5)], n)
    assert packed is not None
    assert packed.codes.dtype == np.uint32
    widths = [int(m).bit_length() for _, m, _ in packed.bits]
    assert widths == [0, 4, 9, 16, 2]
    assert sum(widths) == CODE_BITS
    for (code, _), (shift, mask, off) in zip([g[i] for i in (0, 2, 3, 4, 5)], packed.bits,
                                             strict=True):
        got = ((packed.codes.astype(np.uint64) >> shift) & mask).astype(np.int64) - off
        want = np.zeros(n) if mask == 0 else code
        assert np.array_equal(got, want)
    assert pack_cells(g, n) is None  # 32 bits
    # Only whole groupings: nothing to carry; a one-cell filter needs a bit.
    assert pack_cells([g[0], g[0]], n).codes.size == 0  # type: ignore[union-attr]
    one = pack_cells([g[1]], n)
    assert one is not None
    assert one.codes.dtype == np.uint8
    assert one.bits[0][1] == 1
    empty = pack_cells([(np.zeros(0, np.int8), 1), (np.zeros(0, np.int8), 9)], 0)
    assert empty is not None
    assert empty.codes.size == 0


def test_scratch_packs_the_cells_once_per_split() -> None:
    rng = np.random.default_rng(12)
    g = _groupings(rng, 1000)[:3]
    pool = Scratch()
    first = pool.packed(g, 1000)
    assert pool.packed(list(g), 1000) is first  # the same arrays: every model of a split
    other = [(c.copy(), k) for c, k in g]
    again = pool.packed(other, 1000)
    assert first is not None
    assert again is not None
    assert again is not first
    assert np.array_equal(again.codes, first.codes)


def _fresh(code: str) -> list[str]:
    """What ``code`` prints in a fresh process (the kernel loads once per process), split
    into words; ``MLSCOPE_KERNEL`` unset."""
    env = {k: v for k, v in os.environ.items() if k != KERNEL_ENV}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_preload_loads_the_kernel_in_the_background_only_when_it_pays() -> None:
    """``preload`` starts numba's import and the kernels' machine code on a thread (while
    DuckDB reads the rows), only from KERNEL_ROWS rows times models, once; the first real
    call then finds every signature the path uses already loaded. A fresh process: the
    kernel is loaded once per process."""
    code = (
        "import sys, threading\n"
        "from mlscope.engine import kernel_choice as kc\n"
        "assert not kc.preload(kc.KERNEL_ROWS - 1)\n"
        "assert 'numba' not in sys.modules\n"
        "assert kc.preload(kc.KERNEL_ROWS)\n"
        "assert not kc.preload(kc.KERNEL_ROWS)  # once\n"
        "[t.join() for t in threading.enumerate() if t.name == 'mlscope-kernel-load']\n"
        "from mlscope.engine import kernels\n"
        "from mlscope.metrics import fast\n"
        "print(fast.installed(), len(kernels.sort_descending.signatures),\n"
        "      len(kernels.log_loss_args.signatures), len(kernels.curve_bins.signatures))\n"
    )
    assert _fresh(code) == ["True", "1", "2", "1"]
    env = {k: v for k, v in os.environ.items() if k != KERNEL_ENV}
    # MLSCOPE_KERNEL=numpy: never.
    code = ("from mlscope.engine import kernel_choice as kc\n"
            "print(kc.preload(10 ** 9))\n")
    out = subprocess.run([sys.executable, "-c", code], env={**env, KERNEL_ENV: "numpy"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_preload_skips_numbas_blas_probe_and_restores_its_flag() -> None:
    """The background load does not import scipy.linalg (numba's BLAS probe, ~0.3 s) and
    leaves numba's flag as the probe would have set it; np.convolve compiled afterwards
    matches NumPy. A fresh process: numba loads once per process."""
    code = (
        "import sys, threading\n"
        "import numpy as np\n"
        "from mlscope.engine import kernel_choice as kc\n"
        "from mlscope.engine.blas_probe import scipy_blas_present\n"
        "assert 'scipy.linalg' not in sys.modules\n"
        "assert kc.preload(kc.KERNEL_ROWS)\n"
        "[t.join() for t in threading.enumerate() if t.name == 'mlscope-kernel-load']\n"
        "assert 'scipy.linalg' not in sys.modules, 'the load probed for BLAS'\n"
        "from numba.np import arraymath\n"
        "import numba\n"
        "conv = numba.njit(lambda a, b: np.convolve(a, b))\n"
        "a, b = np.arange(6.0), np.array([1.0, -2.0, 0.5])\n"
        "same = np.array_equal(conv(a, b), np.convolve(a, b))\n"
        "print('scipy.linalg' in sys.modules, arraymath._HAVE_BLAS, scipy_blas_present(),\n"
        "      kc.loaded(10 ** 6) is not None, same,\n"
        "      [f for f in sys.meta_path if type(f).__name__ == 'ProbeSkip'])\n"
    )
    # Not imported by the load (np.convolve's compilation imports it, as numba would).
    assert _fresh(code) == ["True", "True", "True", "True", "True", "[]"]


def test_blas_probe_skip_is_for_the_loading_thread_only() -> None:
    """Another thread imports scipy.linalg as usual while the probe is skipped."""
    code = (
        "import sys, threading\n"
        "from mlscope.engine.blas_probe import without_blas_probe\n"
        "got = {}\n"
        "def other():\n"
        "    import scipy.linalg\n"
        "    got['other'] = scipy.linalg.__name__\n"
        "with without_blas_probe() as probe:\n"
        "    try:\n"
        "        import scipy.linalg.cython_blas\n"
        "        got['mine'] = 'imported'\n"
        "    except ImportError:\n"
        "        got['mine'] = 'skipped'\n"
        "    t = threading.Thread(target=other); t.start(); t.join()\n"
        "print(got['mine'], got['other'], probe.skipped)\n"
        "with without_blas_probe() as again:\n"
        "    print(again)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["skipped", "scipy.linalg", "1", "None"], out.stderr
