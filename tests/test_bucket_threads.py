"""The bucket bootstrap on threads gives the same bits as one model after another.

``bucket_replicates`` draws every random number first (buckets, bucket counts, each
model's edge sample, in the order of the serial loop), then bins and counts the models
on threads. Here it is compared with that serial loop written out, which draws each
model's edge sample from the generator just before binning it (the code before the
threads), on tables with ties, weights, a crossed grouping with tiny cells and a slice
with one class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mlscope.engine.resample as resample
from mlscope.engine.bootstrap import resample_counts
from mlscope.engine.bucketed import bin_scores, bucketed_binary_cells
from mlscope.metrics.stats import BinaryStats


def _split(tmp_path: Path, weighted: bool, n: int):  # type: ignore[no-untyped-def]
    from mlscope.charter.schema import Charter
    from mlscope.data.source import open_evaluation
    from mlscope.engine import duckdb_backend as ddb
    from mlscope.engine.exact import ExactSplit
    from mlscope.engine.numpy_backend import fetch_rows
    from mlscope.engine.plan import plan_groupings
    from tests.conftest import base_charter, binary_frame

    df = binary_frame(n=n, seed=5)
    # A slice with one class: every row of region "west" with device "web" negative.
    df.loc[(df["region"] == "west") & (df["device"] == "web"), "label"] = 0
    raw = base_charter("eval.parquet")
    if weighted:
        df["w"] = np.random.default_rng(1).choice([0.5, 1.0, 2.5], size=len(df))
        raw["data"]["weight"] = "w"
    df.to_parquet(tmp_path / "eval.parquet", index=False)
    ch = Charter.model_validate(raw)
    t = open_evaluation(ch, tmp_path)
    gs = plan_groupings(t.slice_columns, ch.slices.columns, ch.slices.crosses, ch.slices.where)
    levels = ddb.slice_levels(t, ["validation"])
    rows = fetch_rows(t, ["validation"], levels)["validation"]
    return ExactSplit(t, rows, gs, levels, y_shift=0.0, cache=False)


def _serial(eng, seed: int, si: int, n_boot: int, n_buckets: int, n_bins: int,  # type: ignore[no-untyped-def]
            edges) -> dict[tuple[int, str], BinaryStats]:
    rows = eng.rows
    rng = np.random.default_rng([seed, si])
    bucket = rng.integers(0, n_buckets, rows.n, dtype=np.int32)
    counts = resample_counts(rng, n_buckets, n_boot)
    y = rows.y.astype(np.int8)
    w = rows.w if eng.t.has_weight else None
    out: dict[tuple[int, str], BinaryStats] = {}
    for mi in range(len(eng.t.models)):
        binned = bin_scores(rows.scores[mi], n_bins, edges(mi), rng)
        for code, cells in eng.cells:
            per = bucketed_binary_cells(binned, y, w, code, len(cells), bucket, n_buckets,
                                        counts)
            for cell, st in zip(cells, per, strict=True):
                out[(mi, cell.key)] = st
    return out


@pytest.mark.parametrize("weighted", [False, True])
def test_threaded_bucket_replicates_equal_the_serial_loop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, weighted: bool) -> None:
    # Above the edge sample's size, so that the per-model draws matter.
    monkeypatch.setattr("mlscope.engine.bucketed._EDGE_SAMPLE", 500)
    eng = _split(tmp_path, weighted, n=3000)
    assert eng.rows.n > 500

    def edges(mi: int) -> set[float]:
        return {0.5, 0.35 + 0.1 * mi}

    want = _serial(eng, seed=7, si=1, n_boot=40, n_buckets=32, n_bins=16, edges=edges)
    for threads in (True, False):
        # Threads from any size (the pool), or none (the loop).
        monkeypatch.setattr(resample, "THREAD_ROWS", 0 if threads else 10**12)
        got: dict[tuple[int, str], BinaryStats] = {}
        for batch in resample.bucket_replicates(eng, "validation", 1, 40, 7, 32, 16, edges,
                                                lambda *a: None):
            assert batch.centred
            assert len(batch.models) == 1
            got.update(batch.stats.task)
        assert set(got) == set(want)
        for key, a in got.items():
            b = want[key]
            assert a.n_rows == b.n_rows
            assert np.array_equal(a.scores, b.scores)
            assert np.array_equal(a.pos, b.pos), key
            assert np.array_equal(a.neg, b.neg), key
