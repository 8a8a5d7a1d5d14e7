"""The base charter's table read as the exact engine reads it, for tests of ExactSplit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import base_charter, binary_frame


def charter_rows(tmp_path: Path, n: int, seed: int, splits: list[str]) -> tuple[Any, ...]:
    """``binary_frame(n, seed)`` under :func:`base_charter` (overall, columns, crosses,
    where), opened: ``(table, groupings, levels, rows per split)``."""
    from mlscope.charter.schema import Charter
    from mlscope.data.source import open_evaluation
    from mlscope.engine import duckdb_backend as ddb
    from mlscope.engine.numpy_backend import fetch_rows
    from mlscope.engine.plan import plan_groupings

    path = tmp_path / "eval.parquet"
    binary_frame(n=n, seed=seed).to_parquet(path, index=False)
    ch = Charter.model_validate(base_charter(str(path)))
    t = open_evaluation(ch, tmp_path)
    gs = plan_groupings(t.slice_columns, ch.slices.columns, ch.slices.crosses, ch.slices.where)
    levels = ddb.slice_levels(t, splits)
    return t, gs, levels, fetch_rows(t, splits, levels)
