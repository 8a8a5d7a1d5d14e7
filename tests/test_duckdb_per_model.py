"""DuckDB's binary point statistics one model (and one grouping) per query equal the
statistics of the one query over every model, bit for bit; a model asked for twice gets
the same statistics again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlscope.engine import duckdb_backend as ddb
from mlscope.engine.engines import DuckDBEngine, DuckDBStatistics, sql_point


@pytest.mark.parametrize("weighted", [False, True])
def test_duckdb_per_model_equals_all_models(tmp_path: Path, weighted: bool) -> None:
    from mlscope.charter.schema import Charter
    from mlscope.data.source import open_evaluation
    from mlscope.engine.plan import plan_groupings
    from mlscope.engine.protocol import BucketPolicy, Request
    from tests.conftest import base_charter, binary_frame

    df = binary_frame(n=1500, seed=3)
    raw = base_charter("eval.parquet")
    if weighted:
        df["w"] = np.random.default_rng(2).choice([0.5, 1.0, 3.0], size=len(df))
        raw["data"]["weight"] = "w"
    df.to_parquet(tmp_path / "eval.parquet", index=False)
    ch = Charter.model_validate(raw)
    t = open_evaluation(ch, tmp_path)
    gs = plan_groupings(t.slice_columns, ch.slices.columns, ch.slices.crosses, ch.slices.where)
    splits = ["validation", "test"]
    levels = ddb.slice_levels(t, splits)
    everything = sql_point(t, gs, splits, levels, ddb)
    req = Request(groupings=gs, levels=levels, eval_splits=splits, boot_splits=[],
                  n_boot=0, seed=0, y_shift=0.0, custom=False,
                  buckets=BucketPolicy(mode="auto", eligible=True, refusal="", buckets=256,
                                       bins=512),
                  fixed_edges=frozenset(), loss_terms=frozenset(),
                  per_row_probability=frozenset())
    st = DuckDBEngine().aggregate(t, req, lambda *a: None)
    assert isinstance(st, DuckDBStatistics)
    assert st.per_model
    for mi in [0, 1, 2, 0]:  # model 0 twice: handed out, then queried again
        per = st.model(mi)
        for s in splits:
            want = {k: v for k, v in everything[s].task.items() if k[0] == mi}
            got = per[s].task
            assert set(got) == set(want)
            assert want
            for k, a in got.items():
                b = want[k]
                assert a.n_rows == b.n_rows
                assert np.array_equal(a.scores, b.scores)
                assert np.array_equal(a.pos, b.pos)
                assert np.array_equal(a.neg, b.neg)
            assert per[s].sizes == everything[s].sizes
            assert per[s].cells == everything[s].cells
