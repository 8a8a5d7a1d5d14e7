"""Score columns held as the file stores them (mlscope.engine.numpy_backend.Columns).

A float32 score column is kept in 4 bytes a row and widened to float64 whenever it is
read, so every reader computes on the values it computed on when the rows were held as
float64. Checked: the sequence's semantics (fresh float64 arrays, gathers, slices), that
fetching keeps float32 and widens everything else, and that a whole evaluation of a float32
table equals, bit for bit, that of the same values stored as float64 (with the compiled
kernel and with NumPy, with intervals and paired differences).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import mlscope
from mlscope.engine.kernel_choice import KERNEL_ENV
from mlscope.engine.numpy_backend import Columns, RowData
from tests.conftest import base_charter, binary_frame


def test_columns_hand_out_float64_copies() -> None:
    f32 = np.array([0.1, 0.5, 0.9], dtype=np.float32)
    f64 = np.array([0.25, 0.75, 1.0])
    cols = Columns([f32, f64])
    assert len(cols) == 2
    wide = cols[0]
    assert wide.dtype == np.float64
    assert wide.tolist() == f32.astype(np.float64).tolist()
    wide[0] = 7.0  # a copy: the held column is unchanged
    assert float(cols.raw(0)[0]) == float(np.float32(0.1))
    assert cols.raw(0) is f32
    assert cols[1] is f64  # float64 is handed out as held
    got = cols.take(0, np.array([2, 0]))
    assert got.dtype == np.float64
    assert got.tolist() == [float(np.float32(0.9)), float(np.float32(0.1))]
    assert cols.take(0, np.array([True, False, True])).tolist() == got[::-1].tolist()
    assert [c.dtype for c in cols] == [np.float64, np.float64]
    assert [c.dtype for c in cols[:1]] == [np.float64]


def test_row_data_wraps_a_list_of_columns() -> None:
    rows = RowData(split="s", w=np.ones(2), y=np.zeros(2), codes=[], where=[],
                   scores=[np.zeros(2, np.float32)], proba=[], errors={})  # type: ignore[arg-type]
    assert isinstance(rows.scores, Columns)
    assert rows.scores[0].dtype == np.float64


def _project(root: Path, dtype: Any) -> Path:
    # Generated (seeded): scores on a fine grid (ties and distinct scores) stored as
    # float32, and the same float32 values stored as float64.
    df = binary_frame(n=4000, seed=9, grid=997)
    # Scores of exactly float32(0.7), just below 0.7: a threshold of 0.7 compared in
    # float32 instead of float64 would count them as above it.
    df.loc[::40, "p_good"] = 0.7
    df.loc[::60, "p_fair"] = 0.7
    for col in ("p_good", "p_fair", "p_weak"):
        df[col] = df[col].astype(np.float32).astype(dtype)
    df.to_parquet(root / "eval.parquet", index=False)
    ch = base_charter()
    ch["slices"] = {"columns": ["region", "device"], "min_size": 5}
    ch["metrics"] = [*ch["metrics"], "ece",  # and an operating point (f1_best)
                     {"metric": "accuracy", "threshold": 0.7, "id": "accuracy_70"}]
    ch["intervals"] = {"resamples": 50}
    path = root / "mlscope.yaml"
    path.write_text(yaml.safe_dump(ch, sort_keys=False), encoding="utf-8")
    return path


def _everything(result: Any) -> list[Any]:
    vals = [(v.split, v.model, v.slice, v.metric, v.value, v.lower, v.upper)
            for v in result.values]
    diffs = [(d.split, d.slice, d.metric, d.model, d.reference, d.value, d.lower, d.upper,
              d.p_value) for d in result.differences]
    curves = [(c.model, c.slope, c.intercept, c.ece, c.mean_predicted, c.observed)
              for c in result.reliability]
    return [repr(vals), repr(diffs), repr(curves)]


@pytest.mark.parametrize("kernel", ["numba", "numpy"])
def test_a_float32_table_evaluates_as_its_float64_copy(
        tmp_path: Path, kernel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if kernel == "numba":
        pytest.importorskip("numba")
    monkeypatch.setenv(KERNEL_ENV, kernel)
    (tmp_path / "f32").mkdir()
    (tmp_path / "f64").mkdir()
    narrow = mlscope.evaluate(_project(tmp_path / "f32", np.float32))
    wide = mlscope.evaluate(_project(tmp_path / "f64", np.float64))
    assert len(narrow.values) > 100
    assert len(narrow.differences) > 10
    assert _everything(narrow) == _everything(wide)
