"""The benchmark's data generator (benchmarks/generate.py): what each ``--scores`` writes.

The published speed-ups depend on how many distinct scores each model has, so the kinds
of table must be what they claim: continuous scores distinct, rounded ones at most 999
values per model, and ``mixed`` the version-1 table.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pyarrow.parquet as pq
import pytest

GENERATOR = Path(__file__).resolve().parents[1] / "benchmarks" / "generate.py"
ROWS = 20_000


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_generate", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def _scores(gen: ModuleType, tmp_path: Path, scores: str) -> dict[str, np.ndarray]:
    # Two row groups, so that distinctness holds across blocks, not only within one.
    data = gen.generate(ROWS, tmp_path, seed=3, row_group_size=ROWS // 2, scores=scores)
    assert data.parquet.name == f"bench-{ROWS}-{scores}.parquet"
    table = pq.read_table(data.parquet)
    assert table.num_rows == ROWS
    return {m: table[f"score_{m}"].to_numpy() for m in gen.MODELS}


def test_continuous_scores_are_distinct_float32(gen: ModuleType, tmp_path: Path) -> None:
    for model, s in _scores(gen, tmp_path, "continuous").items():
        assert s.dtype == np.float32, model
        # Unrounded: the only ties are probabilities float32 cannot tell apart (1 in 20,000
        # rows here; about 1% of rows at 1M, where the scores crowd float32's grid).
        assert np.unique(s).size >= 0.999 * ROWS, f"{model}: {ROWS - np.unique(s).size} ties"
        assert s.min() > 0.0
        assert s.max() < 1.0


def test_rounded_scores_have_at_most_999_values(gen: ModuleType, tmp_path: Path) -> None:
    for model, s in _scores(gen, tmp_path, "rounded").items():
        distinct = np.unique(s)
        assert distinct.size <= 999, model
        assert distinct.size > 50, model  # rounded, not collapsed
        assert distinct.min() >= 0.001
        assert distinct.max() <= 0.999


def test_mixed_is_the_version_1_table(gen: ModuleType, tmp_path: Path) -> None:
    s = _scores(gen, tmp_path, "mixed")
    assert all(v.dtype == np.float64 for v in s.values())
    assert np.unique(s["forest"]).size <= 999
    assert np.unique(s["baseline"]).size <= 99
    assert np.unique(s["gbdt"]).size == ROWS
    # The same latent probabilities in every kind: rounding is the only difference.
    cont = _scores(gen, tmp_path, "continuous")
    assert np.allclose(s["gbdt"], cont["gbdt"], rtol=1e-6, atol=0)
    assert np.max(np.abs(s["forest"] - cont["forest"])) <= 0.001


def test_unknown_scores_kind_is_refused(gen: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="continuous, rounded, mixed"):
        gen.paths_for(ROWS, tmp_path, "discrete")
