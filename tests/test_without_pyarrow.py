"""The core install has no PyArrow: every core path works with it blocked.

`make demo` installs the core and the example's scikit-learn only (issue 17: a lean first
install), so nothing the core runs may import PyArrow. Each check runs in a fresh
interpreter where ``import pyarrow`` fails, as it does on such an install, and evaluates a
generated project (known truth: the same values as with PyArrow available).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlscope
from mlscope.data.parquet import read_parquet, write_parquet
from tests.conftest import base_charter, binary_frame

SRC = Path(__file__).resolve().parents[1] / "src"

# `None` in sys.modules makes `import pyarrow` raise ImportError, as on an install without it;
# pandas then treats it as absent too.
_BLOCK = ("import sys\nfor _m in ('pyarrow', 'pyarrow.parquet', 'pyarrow.csv'):\n"
          "    sys.modules[_m] = None\n")


def _run_blocked(code: str, cwd: Path) -> dict[str, object]:
    script = _BLOCK + code
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run([sys.executable, "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def _values(result: mlscope.Result) -> dict[str, float | None]:
    return {f"{v.split}|{v.model}|{v.slice}|{v.metric}": v.value for v in result.values}


_EVALUATE = """
import json, mlscope
exact = mlscope.evaluate('mlscope.yaml', resamples=0)
binned = mlscope.evaluate('mlscope.yaml', resamples=0, binned=64)
print(json.dumps({
    'exact': {f"{v.split}|{v.model}|{v.slice}|{v.metric}": v.value for v in exact.values},
    'binned': {f"{v.split}|{v.model}|{v.slice}|{v.metric}": v.value for v in binned.values},
    'pyarrow': any(m == 'pyarrow' or m.startswith('pyarrow.') for m in sys.modules
                   if sys.modules[m] is not None),
}))
"""


def test_exact_and_binned_evaluation_need_no_pyarrow(
        project: Callable[..., Path]) -> None:
    df = binary_frame(n=3000, seed=3, grid=10**6)
    cpath = project(df, charter=base_charter("eval.parquet"))
    got = _run_blocked(_EVALUATE, cpath.parent)
    assert got["pyarrow"] is False
    # The same numbers as in this process, where PyArrow is importable.
    assert got["exact"] == _values(mlscope.evaluate(cpath, resamples=0))
    assert got["binned"] == _values(mlscope.evaluate(cpath, resamples=0, binned=64))
    assert len(got["exact"]) > 50  # type: ignore[arg-type]


def test_parquet_round_trip_without_pyarrow(tmp_path: Path) -> None:
    code = """
import json, pandas as pd
from mlscope.data.parquet import read_parquet, write_parquet
frame = pd.DataFrame({'id': ['007', 'b'], 'x': [1.5, float('nan')], 'n': [1, 2]})
write_parquet(frame, 'out.parquet')
back = read_parquet('out.parquet')
print(json.dumps({'ids': list(back['id']), 'n': [int(v) for v in back['n']],
                  'x0': float(back['x'][0]), 'x1_nan': bool(pd.isna(back['x'][1]))}))
"""
    got = _run_blocked(code, tmp_path)
    assert got == {"ids": ["007", "b"], "n": [1, 2], "x0": 1.5, "x1_nan": True}


def test_write_parquet_equals_pandas_and_leaves_no_temp(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"s": rng.random(500), "k": rng.integers(0, 9, 500),
                          "c": rng.choice(["a", "b", "ü"], 500)})
    frame.index = pd.RangeIndex(100, 600)  # the index is not written
    path = write_parquet(frame, tmp_path / "t.parquet")
    assert path == tmp_path / "t.parquet"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet"]
    back = read_parquet(path)
    pd.testing.assert_frame_equal(back, frame.reset_index(drop=True), check_dtype=False)
    assert back["s"].to_numpy().tobytes() == frame["s"].to_numpy().tobytes()


def test_read_parquet_names_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "notes.parquet"
    bad.write_text("not parquet at all")
    with pytest.raises(mlscope.InputError, match=r"notes\.parquet"):
        read_parquet(bad)
