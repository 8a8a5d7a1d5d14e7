"""DuckDB's binary point statistics one model (and one grouping) per query equal the
statistics of the one query over every model, bit for bit; a model asked for twice gets
the same statistics again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlscope.engine import duckdb_backend as ddb
from mlscope.engine.engines import DuckDBEngine, DuckDBStatistics, sql_point


def _statistics(tmp_path: Path, *, weighted: bool = False, n: int = 1500, seed: int = 3
                ) -> tuple[DuckDBStatistics, dict[str, Any], list[str]]:
    """The duckdb engine's statistics of a two-split table (validation, test), and the one
    query over every model to compare them with."""
    from mlscope.charter.schema import Charter
    from mlscope.data.source import open_evaluation
    from mlscope.engine.plan import plan_groupings
    from mlscope.engine.protocol import BucketPolicy, Request
    from tests.conftest import base_charter, binary_frame

    df = binary_frame(n=n, seed=seed)
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
    return st, everything, splits


@pytest.mark.parametrize("weighted", [False, True])
def test_duckdb_per_model_equals_all_models(tmp_path: Path, weighted: bool) -> None:
    st, everything, splits = _statistics(tmp_path, weighted=weighted)
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


def _count_calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Wrap ``duckdb_backend.<name>``: the list gets a 1 per call."""
    calls: list[int] = []
    real = getattr(ddb, name)

    def counted(*args: object, **kw: object) -> object:
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(ddb, name, counted)
    return calls


@pytest.mark.parametrize("order", ["slice by slice", "split by split"])
def test_one_query_per_grouping_for_every_split(tmp_path: Path, order: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # The metrics stage reads a slice on every split before the next slice: one query per
    # model and grouping serves both splits, and a split's part is not kept once taken.
    # Read split by split, the other split's parts wait for it: more memory, same values.
    st, everything, splits = _statistics(tmp_path, n=1200, seed=5)
    queries = _count_calls(monkeypatch, "binary_grouping")
    assert not queries  # aggregate() itself reads only the cells and their sizes
    per = st.model(1)
    keys = list(everything[splits[0]].task)
    pairs = ([(k, s) for k in dict.fromkeys((1, k[1]) for k in keys) for s in splits]
             if order == "slice by slice" else
             [(k, s) for s in splits for k in dict.fromkeys((1, k[1]) for k in keys)])
    n_groupings = len(st.request.groupings)
    for key, s in pairs:
        if key not in everything[s].task:
            assert key not in per[s].task
            continue
        a, b = per[s].task[key], everything[s].task[key]
        assert np.array_equal(a.scores, b.scores)
        assert np.array_equal(a.pos, b.pos)
        assert np.array_equal(a.neg, b.neg)
    assert len(queries) == n_groupings
    for s in splits:
        assert per[s].task.builds == n_groupings  # type: ignore[attr-defined]
    # Everything was handed out: nothing is held for a split that has read its cells.
    held = per[splits[0]].task._build.args[0]._held  # type: ignore[attr-defined]
    assert held == {}


def test_a_single_model_is_aggregated_per_grouping_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import yaml

    import mlscope
    from tests.conftest import base_charter, binary_frame

    binary_frame(n=900, seed=1).to_parquet(tmp_path / "eval.parquet", index=False)
    ch = base_charter("eval.parquet")
    ch["data"]["models"] = {"good": "p_good"}
    ch["intervals"] = {"resamples": 0}
    path = tmp_path / "mlscope.yaml"
    path.write_text(yaml.safe_dump(ch, sort_keys=False), encoding="utf-8")
    sized = _count_calls(monkeypatch, "cell_sizes")
    a = mlscope.evaluate(path, engine="duckdb")
    assert sized == [1]  # the per-grouping path (it reads the cells first)
    b = mlscope.evaluate(path, engine="numpy")
    got = {(v.split, v.slice, v.metric): v.value for v in a.values}
    want = {(v.split, v.slice, v.metric): v.value for v in b.values}
    assert got.keys() == want.keys()
    assert {k for k, v in got.items() if v is None} == {k for k, v in want.items() if v is None}
    defined = {k: v for k, v in want.items() if v is not None}
    assert len(defined) > 50
    assert {k: got[k] for k in defined} == pytest.approx(defined, rel=1e-12, abs=1e-12)


def test_only_the_duckdb_engine_returns_freed_memory_at_once(tmp_path: Path) -> None:
    # A choice of memory over time (mlscope.sql.connect): the engine chosen to bound
    # memory makes it; the in-memory engine keeps DuckDB's default. Both stay sealed.
    from mlscope.charter.schema import Charter
    from mlscope.engine.engines import NumpyEngine
    from mlscope.sql import is_locked
    from tests.conftest import base_charter, binary_frame

    binary_frame(n=300).to_parquet(tmp_path / "eval.parquet", index=False)
    ch = Charter.model_validate(base_charter("eval.parquet"))
    setting = "SELECT current_setting('allocator_bulk_deallocation_flush_threshold')"
    for engine, released in ((DuckDBEngine(), True), (NumpyEngine(), False)):
        t = engine.open(ch, tmp_path)
        row = t.con.execute(setting).fetchone()
        assert row is not None
        assert (row[0] == "0 bytes") == released, (engine.name, row[0])
        assert is_locked(t.con)
