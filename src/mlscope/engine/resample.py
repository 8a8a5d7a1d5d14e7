"""The bootstrap's replicates on rows in memory: the row bootstrap and the bucket bootstrap.

Both draw their resampling from ``default_rng([seed, split_index])``: the same draws for
every model and slice of a split, so differences between models are paired.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from mlscope.engine.bootstrap import resample_counts
from mlscope.engine.bucketed import bin_scores, bucketed_binary_cells, edge_sample
from mlscope.engine.exact import MAX_THREADS, THREAD_ROWS, ExactSplit
from mlscope.engine.protocol import Edges, Progress, ReplicateBatch
from mlscope.engine.split import SplitStatistics

__all__ = ["CHUNK_CELLS", "bucket_replicates", "row_replicates"]

# Bootstrap replicates are processed in chunks so that a chunk's weight matrix stays small.
CHUNK_CELLS = 4_000_000


def row_replicates(eng: ExactSplit, split: str, split_index: int, n_boot: int, seed: int,
                   tick: Progress) -> Iterator[ReplicateBatch]:
    """The row bootstrap: resample counts drawn once per replicate, every model at once."""
    n = eng.rows.n
    rng = np.random.default_rng([seed, split_index])
    chunk = max(1, min(n_boot, CHUNK_CELLS // max(n, 1)))
    models = range(len(eng.t.models))
    done = 0
    while done < n_boot:
        r = min(chunk, n_boot - done)
        W = resample_counts(rng, n, r) * eng.rows.w
        yield ReplicateBatch(stats=eng.stats(W), models=models, size=r, centred=False,
                             weights=W, rows=eng)
        done += r
        tick(f"intervals {split}", done, n_boot)


def bucket_replicates(eng: ExactSplit, split: str, split_index: int, n_boot: int, seed: int,
                      n_buckets: int, n_bins: int, edges: Edges,
                      tick: Progress) -> Iterator[ReplicateBatch]:
    """The bucket bootstrap (:mod:`mlscope.engine.bucketed`), one model at a time.

    Models are binned and counted on threads (NumPy's searches, bincounts and matrix
    products release the GIL) while the caller reads the previous model's batch; every
    random draw is made here first, in the order of the one-model-at-a-time loop, so the
    replicates are the same bits whatever the number of threads.
    """
    t, rows = eng.t, eng.rows
    rng = np.random.default_rng([seed, split_index])
    bucket = rng.integers(0, n_buckets, rows.n, dtype=np.int32)
    counts = resample_counts(rng, n_buckets, n_boot)
    samples = [edge_sample(rows.n, rng) for _ in t.models]
    y = rows.y.astype(np.int8)
    w = rows.w if t.has_weight else None
    stage = f"intervals {split}"
    tick(stage, 0, len(t.models))

    def one_model(mi: int) -> ReplicateBatch:
        # Every threshold a metric of this model is evaluated at becomes an exact edge.
        binned = bin_scores(rows.scores[mi], n_bins, edges(mi), None, sample=samples[mi])
        ss = SplitStatistics()
        for code, cells in eng.cells:
            per = bucketed_binary_cells(binned, y, w, code, len(cells), bucket, n_buckets,
                                        counts)
            for cell, st in zip(cells, per, strict=True):
                ss.task[(mi, cell.key)] = st
        return ReplicateBatch(stats=ss, models=[mi], size=n_boot, centred=True)

    n_models = len(t.models)
    workers = min(n_models, os.cpu_count() or 1, MAX_THREADS)
    if workers <= 1 or rows.n < THREAD_ROWS:
        for mi in range(n_models):
            yield one_model(mi)
            tick(stage, mi + 1, n_models)
        return
    # At most `workers` models in flight, handed back in model order: memory holds a few
    # models' replicate histograms, not every model's.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[ReplicateBatch]] = deque()
        nxt = 0
        for mi in range(n_models):
            while nxt < n_models and len(pending) < workers:
                pending.append(pool.submit(one_model, nxt))
                nxt += 1
            yield pending.popleft().result()
            tick(stage, mi + 1, n_models)
