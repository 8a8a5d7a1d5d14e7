"""Log loss summed per cell from the rows' own terms (:mod:`mlscope.engine.loss_cells`).

Oracle: scikit-learn's ``log_loss(..., normalize=False)`` on each cell's rows (the sum of
the terms), on generated, seeded data: continuous and tied scores, probabilities of
exactly 0 and 1 (clipped), one-class and empty cells, rows in no cell, every width of
cell code, float32 and float64 scores, and sizes from no row to several blocks. The
compiled kernel and the NumPy code give the same bits.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import yaml
from sklearn.metrics import log_loss

from mlscope.engine.fused import narrow_codes
from mlscope.engine.kernel_choice import KERNEL_ENV, loaded
from mlscope.engine.loss_cells import ROWS, log_loss_cells

Grouping = tuple[np.ndarray, int]


def _case(n: int, kind: str, dtype: type, seed: int) -> tuple[np.ndarray, np.ndarray,
                                                               list[Grouping]]:
    rng = np.random.default_rng([seed, n, len(kind)])
    if kind == "continuous":
        s = rng.random(n)
    elif kind == "ties-100":
        s = rng.integers(0, 101, n) / 100  # includes 0 and 1: clipped
    else:  # extremes: clipped at both ends, and values next to them
        s = rng.choice(np.array([0.0, 1.0, 1e-300, 1 - 1e-17, 0.5, 1e-16]), n)
    s = s.astype(dtype)
    y = (rng.random(n) < 0.3).astype(np.int8)
    region = rng.integers(-1, 7, n)  # cell 7 of 9 empty, some rows in no cell
    if n > 10:
        region[3] = 8
        y[region == 2] = 1  # a one-class cell
    groupings = [(np.zeros(n, np.int64), 1), (region, 9), (rng.integers(0, 300, n), 300),
                 (rng.integers(-1, 40_000, n), 40_000)]
    return s, y, [(narrow_codes(c.astype(np.int64), k), k) for c, k in groupings]


@pytest.mark.parametrize("n", [0, 1, 17, ROWS, 3 * ROWS + 5, 40_000])
@pytest.mark.parametrize("kind", ["continuous", "ties-100", "extremes"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cell_sums_equal_scikit_learn(monkeypatch: pytest.MonkeyPatch, n: int, kind: str,
                                      dtype: type) -> None:
    monkeypatch.setenv(KERNEL_ENV, "numpy")
    s, y, groupings = _case(n, kind, dtype, 1)
    sums = log_loss_cells(s, y, groupings)
    assert [v.shape for v in sums] == [(k,) for _, k in groupings]
    wide = s.astype(np.float64)  # scikit-learn clips with the eps of the scores' dtype
    for (code, k), got in zip(groupings, sums, strict=True):
        assert got.dtype == np.float64
        for c in range(k) if k < 400 else range(0, k, 97):
            rows = code == c
            if not rows.any():
                assert got[c] == 0.0
                assert not np.signbit(got[c])
                continue
            want = log_loss(y[rows], wide[rows], normalize=False, labels=[0, 1])
            assert got[c] == pytest.approx(want, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("n", [0, 1, 17, 3 * ROWS + 5, 40_000])
@pytest.mark.parametrize("kind", ["continuous", "ties-100", "extremes"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_equals_numpy_bit_for_bit(monkeypatch: pytest.MonkeyPatch, n: int, kind: str,
                                         dtype: type) -> None:
    pytest.importorskip("numba")
    s, y, groupings = _case(n, kind, dtype, 2)
    monkeypatch.setenv(KERNEL_ENV, "numba")
    assert n == 0 or loaded(n) is not None
    fast = log_loss_cells(s, y, groupings)
    monkeypatch.setenv(KERNEL_ENV, "numpy")
    assert loaded(n) is None
    slow = log_loss_cells(s, y, groupings)
    for a, b in zip(fast, slow, strict=True):
        assert a.dtype == b.dtype == np.float64
        # Raw 64-bit patterns: -0.0 and +0.0 differ here.
        assert np.array_equal(a.view(np.uint64), b.view(np.uint64))


def test_a_nan_score_gives_nan_not_a_number_that_looks_right(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KERNEL_ENV, "numpy")
    s = np.array([0.2, np.nan, 0.7])
    y = np.array([0, 1, 1], np.int8)
    code = np.array([0, 0, 1], np.int8)
    got = log_loss_cells(s, y, [(code, 2)])[0]
    assert np.isnan(got[0])
    assert got[1] == pytest.approx(-np.log(0.7), rel=1e-15)


def test_exact_split_carries_row_sums_that_equal_the_histogram_loss(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """On a charter's table (overall, columns, crosses, where): with log loss requested,
    each cell of the unit-weight point estimate (eager and one grouping at a time) carries
    its rows' sum, and log loss from it equals the histogram's (and scikit-learn's) within
    1e-12; without the request, or for the general path, no sums ride along."""
    from mlscope.engine.exact import ExactSplit
    from mlscope.metrics.binary_proba import binary_log_loss
    from tests.exact_rows import charter_rows

    t, gs, levels, by_split = charter_rows(tmp_path, 3000, 12, ["test"])
    rows = by_split["test"]
    eng = ExactSplit(t, rows, gs, levels, y_shift=0.0, cache=False,
                     loss_terms=frozenset({"log_loss"}))
    plain = ExactSplit(t, rows, gs, levels, y_shift=0.0, cache=False)
    checked = 0
    for m in range(len(t.models)):
        eager, _ = eng.model_stats(m, rows.w)
        lazy, _ = eng.model_stats(m, rows.w, lazy=True)
        bare, _ = plain.model_stats(m, rows.w)
        general, _ = eng.model_stats(m, rows.w[None, :])
        for key, st in eager.items():
            assert st.loss_sums is not None
            assert st.loss_sums["log_loss"].shape == (1,)
            assert np.array_equal(st.loss_sums["log_loss"], lazy[key].loss_sums["log_loss"])
            assert bare[key].loss_sums is None
            assert general[key].loss_sums is None
            if st.n_rows == 0:
                continue
            assert binary_log_loss(st) == pytest.approx(binary_log_loss(bare[key]),
                                                        rel=1e-12)
            checked += 1
    assert checked > 20
    # The overall cell against scikit-learn on the raw rows (first model).
    first, _ = eng.model_stats(0, rows.w)
    want = log_loss(rows.y, np.asarray(rows.scores[0], dtype=np.float64), labels=[0, 1])
    assert binary_log_loss(first[(0, "overall")]) == pytest.approx(want, rel=1e-12)


def test_evaluate_log_loss_per_slice_of_a_many_cell_grouping(
        monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """End to end, with a slice column of 300 levels (its grouping summed row by row) and
    float32 scores: every slice's log loss equals scikit-learn's on its rows within
    1e-12, and the compiled kernel and NumPy give the same values bit for bit."""
    import mlscope
    from tests.conftest import base_charter, binary_frame

    df = binary_frame(n=12_000, seed=21, grid=100_000)
    rng = np.random.default_rng(21)
    df["shop"] = [f"s{i:03d}" for i in rng.integers(0, 300, len(df))]
    for col in ("p_good", "p_fair", "p_weak"):
        df[col] = df[col].astype(np.float32)
    df.loc[:5, "p_weak"] = 0.0  # clipped
    df.to_parquet(tmp_path / "eval.parquet", index=False)
    charter = base_charter(metrics=["log_loss", "roc_auc"],
                           slices={"columns": ["shop", "region"], "min_size": 1},
                           selection={"rule": "satisficing", "optimize": "roc_auc"},
                           requirements={}, intervals={"resamples": 0})
    path = tmp_path / "mlscope.yaml"
    path.write_text(yaml.safe_dump(charter))
    frames = {}
    for kernel in ("numba", "numpy") if importlib.util.find_spec("numba") else ("numpy",):
        monkeypatch.setenv(KERNEL_ENV, kernel)
        frames[kernel] = mlscope.evaluate(path).to_frame()
    got = frames["numpy"]
    if "numba" in frames:
        assert frames["numba"].to_csv(float_format="%.17g") == got.to_csv(float_format="%.17g")
    ll = got[(got.metric == "log_loss") & (got.split == "test")]
    test = df[df.split == "test"]
    checked = 0
    for _, row in ll.iterrows():
        if row.slice == "overall":
            rows = test
        else:
            col, _, level = row.slice.partition("=")
            rows = test[test[col] == level]
        col = charter["data"]["models"][row.model]
        want = log_loss(rows.label, rows[col].astype(np.float64), labels=[0, 1])
        assert row.value == pytest.approx(want, rel=1e-12)
        checked += 1
    assert checked >= 3 * 250
