"""Opt-in binned evaluation of binary tasks: one streaming pass, memory bounded by the bins.

The exact engines keep one histogram bin per distinct score, so their memory grows with
the data when scores are continuous. Binned mode (``mlscope run --binned``) trades a
stated, usually tiny, error on two ranking metrics for a single streaming pass whose
memory does not depend on the number of rows:

* each model's scores are cut at quantiles of a seeded sample (``bins`` of them) plus
  every fixed threshold a metric uses; a bin is represented by its **lower edge**, so
  "score ≥ representative" holds for exactly the rows in that bin and above. Threshold
  metrics at an edge (every fixed threshold, every chosen operating point) are therefore
  exact, and so are the chosen thresholds they report;
* log loss and the Brier score are sums of per-row terms: each bin carries the exact sum
  of its rows' terms, so both are exact (up to summation order);
* ROC AUC and average precision depend on the order of scores *within* a bin, which is
  lost; :func:`error_bound` gives a guaranteed bound on the difference from the exact
  value, computed from the same histogram, and every value in the result carries it;
* rows are read from DuckDB in chunks of ``_BATCH_ROWS`` (``fetch_df_chunk``: DuckDB's own
  conversion, so PyArrow is not needed), so Parquet larger than memory streams.

Intervals use the bucket bootstrap of :mod:`mlscope.engine.bucketed` on coarser bins,
accumulated in the same pass.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from mlscope.data.checks import not_finite_error
from mlscope.data.source import EvalTable, ql
from mlscope.engine.bootstrap import resample_counts
from mlscope.engine.bucketed import cells_from_bucket_histogram
from mlscope.engine.plan import Grouping, SliceCell
from mlscope.engine.searchbins import EdgeSearch
from mlscope.metrics.links import neg_log_likelihood, probability
from mlscope.metrics.stats import BinaryStats

__all__ = ["COARSE_BINS", "DEFAULT_BINS", "BinnedPass", "binned_pass", "error_bound"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_BINS = 16384
COARSE_BINS = 256
_SAMPLE_ROWS = 200_000
_BATCH_ROWS = 1 << 18
_EXACT = frozenset({
    "log_loss", "brier", "accuracy", "balanced_accuracy", "precision", "recall",
    "specificity", "f1", "fbeta", "mcc", "positive_rate", "precision_at_recall",
    "recall_at_precision",
})


@dataclass
class _Batch:
    """One record batch's columns, as the per-model accumulation needs them."""

    col: dict[str, Any]
    y: IntArray
    w: FloatArray | None
    keys_cell: list[IntArray]
    codes: list[IntArray]
    bucket: IntArray | None
    bsp: IntArray | None
    boot_keys: list[tuple[npt.NDArray[np.bool_] | None, IntArray]]


@dataclass
class BinnedPass:
    """What one pass produced.

    ``point[split][(model, cell key)]`` are the binned statistics; ``sizes[split][cell
    key]`` row counts; ``cells`` every cell seen; ``replicates(split, model, cell key)``
    gives the bucket-bootstrap statistics (batch ``1 + R``: element 0 the binned
    point estimate on the coarse bins).
    """

    point: dict[str, dict[tuple[int, str], BinaryStats]]
    sizes: dict[str, dict[str, int]]
    cells: dict[str, dict[str, SliceCell]]
    boot: dict[tuple[str, int, str], BinaryStats] = field(default_factory=dict)
    bins: dict[int, int] = field(default_factory=dict)


def _edges(sample: FloatArray, n_bins: int, thresholds: Iterable[float]) -> FloatArray:
    qs: FloatArray = (np.quantile(sample, np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
                      if sample.size else np.zeros(0))
    return np.unique(np.concatenate([qs,
                                     np.asarray(list(thresholds), dtype=np.float64)]))


def _cell_code(g: Grouping, k: list[IntArray], q: list[npt.NDArray[np.bool_]],
               sizes: list[int], n: int) -> IntArray:
    if g.kind == "overall":
        return np.zeros(n, dtype=np.int64)
    if g.kind == "where":
        assert g.where is not None
        return np.where(q[g.where], 0, -1).astype(np.int64)
    code = np.zeros(n, dtype=np.int64)
    for i in g.columns:
        code = code * sizes[i] + k[i]
    return code


def _n_cells(g: Grouping, sizes: list[int]) -> int:
    if g.kind in ("overall", "where"):
        return 1
    return int(np.prod([sizes[i] for i in g.columns]))


def _cell_of(g: Grouping, index: int, levels: list[list[str]]) -> SliceCell:
    if g.kind in ("overall", "where"):
        return SliceCell(g, ())
    vals = []
    for i in reversed(g.columns):
        size = len(levels[i])
        vals.append(levels[i][index % size])
        index //= size
    return SliceCell(g, tuple(reversed(vals)))


def _not_finite(t: EvalTable, col: dict[str, Any], w: FloatArray | None
                ) -> tuple[str, str] | None:
    """The first column of a batch holding a missing, NaN or infinite weight or score.

    The values were checked in SQL already; one that got past would silently land in the
    last bin, so the arrays are checked too (a cheap O(rows) pass). A missing value arrives
    as NaN (DuckDB converts a NULL in a numeric column to NaN, or to an object column).
    """
    if w is not None and (w.dtype == object or not np.isfinite(w).all()):
        return "__w", "weight"
    for m, name in enumerate(t.models):
        sm = col[f"s{m}"]
        if sm.dtype == object or not np.isfinite(sm).all():
            return t.score_col(m), f"model `{name}` score"
    return None


def _chunks(t: EvalTable, sql: str) -> Iterable[dict[str, Any]]:
    """The rows of ``sql`` in chunks of about ``_BATCH_ROWS``: one NumPy array per column.

    DuckDB's ``fetch_df_chunk`` streams the result (it never materialises it) and converts
    with DuckDB's own code, so this path needs neither PyArrow nor more memory than a chunk.
    """
    cursor = t.con.execute(sql)
    vectors = max(1, _BATCH_ROWS // 2048)  # DuckDB's vector holds 2,048 rows
    while True:
        frame = cursor.fetch_df_chunk(vectors)
        if len(frame) == 0:
            return
        yield {str(name): frame[name].to_numpy() for name in frame.columns}


def binned_pass(
    t: EvalTable,
    groupings: Sequence[Grouping],
    splits: Sequence[str],
    levels: list[list[str]],
    *,
    n_bins: int,
    thresholds: Iterable[float],
    loss_terms: set[str],
    boot_splits: Sequence[str],
    n_boot: int,
    n_buckets: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> BinnedPass:
    """Stream the evaluation rows once and build binned histograms of every model.

    Parameters
    ----------
    thresholds
        Fixed thresholds the metrics use; each becomes an exact bin edge.
    loss_terms
        Which exact per-bin sums to carry: ``"brier"`` and/or ``"log_loss"``.
    boot_splits, n_boot, n_buckets
        The splits that get intervals, the number of resamples and of row buckets.
    progress
        Called with the number of rows read so far.
    """
    nm = len(t.models)
    n_s = len(splits)
    thr = sorted(set(float(x) for x in thresholds))
    split_list = "[" + ", ".join(ql(s) for s in splits) + "]"
    in_splits = ", ".join(ql(s) for s in splits)
    scores = ", ".join(f"{t.score_col(m)} AS s{m}" for m in range(nm))
    # 1. Bin edges from a seeded sample of the rows.
    sample = t.con.execute(
        f"SELECT {scores} FROM (SELECT * FROM ev WHERE __split IN ({in_splits})) "
        f"USING SAMPLE reservoir({_SAMPLE_ROWS} ROWS) REPEATABLE ({int(seed) % (2**31)})"
    ).fetchnumpy()
    edges = [_edges(np.asarray(sample[f"s{m}"], dtype=np.float64), n_bins, thr)
             for m in range(nm)]
    nb = [e.size + 1 for e in edges]
    # Each row's bin by table, not by a binary search per row (the same bins:
    # mlscope.engine.searchbins); each model's table is built on its first chunk.
    search = [EdgeSearch(e) for e in edges]
    # Coarse bins for the bootstrap: every k-th fine edge, and every threshold.
    coarse_map: list[IntArray] = []
    for e in edges:
        step = max(1, int(np.ceil(e.size / COARSE_BINS)))
        boundary = np.zeros(e.size + 1, dtype=bool)
        boundary[1::step] = True
        boundary[1 + np.searchsorted(e, thr)[np.isin(np.asarray(thr), e)]] = True
        coarse_map.append(np.cumsum(boundary).astype(np.int64))
    nbc = [int(c[-1]) + 1 for c in coarse_map]

    sizes = [len(lv) for lv in levels]
    ncell = [_n_cells(g, sizes) for g in groupings]
    boot_index = np.full(n_s, -1, dtype=np.int64)
    for bi, s in enumerate(boot_splits):
        if s in splits:
            boot_index[list(splits).index(s)] = bi
    n_bs = len(boot_splits) if n_boot > 0 else 0

    hist = [[np.zeros((n_s, ncell[gi], nb[m], 2)) for gi in range(len(groupings))]
            for m in range(nm)]
    terms = {name: [[np.zeros((n_s, ncell[gi], nb[m])) for gi in range(len(groupings))]
                    for m in range(nm)] for name in sorted(loss_terms)}
    bhist = [[np.zeros((n_buckets, n_bs, ncell[gi], nbc[m], 2), dtype=np.float32)
              for gi in range(len(groupings))] for m in range(nm)] if n_bs else []
    counts_rows = [np.zeros((n_s, ncell[gi]), dtype=np.int64) for gi in range(len(groupings))]
    low = np.full(nm, np.inf)

    cols = [f"CAST(list_position({split_list}, __split) - 1 AS TINYINT) AS sp",
            "CAST(__label AS TINYINT) AS y"]
    if t.has_weight:
        cols.append("__w AS w")
    for i in range(len(t.slice_columns)):
        lv = "[" + ", ".join(ql(v) for v in levels[i]) + "]"
        cols.append(f"CAST(list_position({lv}, {t.slice_col(i)}) - 1 AS INTEGER) AS k{i}")
    cols += [f"{t.where_col(j)} AS q{j}" for j in range(len(t.where))]
    cols += [f"{t.score_col(m)} AS s{m}" for m in range(nm)]
    reader = _chunks(t, f"SELECT {', '.join(cols)} FROM ev WHERE __split IN ({in_splits})")
    rng = np.random.default_rng([seed, 7])
    done = 0
    def accumulate(m: int, bt: _Batch) -> None:
        # Each model owns its accumulators, so models can run in parallel threads.
        col, y, w, keys_cell = bt.col, bt.y, bt.w, bt.keys_cell
        s = col[f"s{m}"]
        low[m] = min(low[m], float(s.min()))
        b = search[m](s)
        row_terms: dict[str, FloatArray] = {}
        kind = t.score_type_of(m)
        if "brier" in loss_terms:
            row_terms["brier"] = (probability(s, kind) - y) ** 2
        if "log_loss" in loss_terms:
            # Each row's own term: −log p for a positive, −log(1 − p) for a negative, as
            # mlscope.metrics.links defines them (clipped probabilities, exact for logits).
            nll_pos, nll_neg = neg_log_likelihood(s, kind)
            row_terms["log_loss"] = np.where(y == 1, nll_pos, nll_neg)
        if w is not None:
            row_terms = {name: v * w for name, v in row_terms.items()}
        cb = coarse_map[m][b] if n_bs else None
        for gi, kc in enumerate(keys_cell):
            ok = kc >= 0
            everything = bool(ok.all())
            kk = kc if everything else kc[ok]
            bb = b if everything else b[ok]
            yy = y if everything else y[ok]
            ww = None if w is None else (w if everything else w[ok])
            key = (kk * nb[m] + bb) * 2 + yy
            size = n_s * ncell[gi] * nb[m]
            hist[m][gi] += np.bincount(key, weights=ww, minlength=size * 2).reshape(
                n_s, ncell[gi], nb[m], 2)
            for name, v in row_terms.items():
                vv = v if everything else v[ok]
                terms[name][m][gi] += np.bincount(
                    key // 2, weights=vv, minlength=size).reshape(n_s, ncell[gi], nb[m])
            if n_bs:
                assert cb is not None
                okb, base = bt.boot_keys[gi]
                cbb, yb = (cb, y) if okb is None else (cb[okb], y[okb])
                bhist[m][gi] += np.bincount(
                    (base * nbc[m] + cbb) * 2 + yb,
                    weights=None if w is None else (w if okb is None else w[okb]),
                    minlength=n_buckets * n_bs * ncell[gi] * nbc[m] * 2,
                ).astype(np.float32).reshape(n_buckets, n_bs, ncell[gi], nbc[m], 2)

    workers = min(nm, os.cpu_count() or 1, 4)
    pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
    for col in reader:
        n = len(col["sp"])
        sp = col["sp"].astype(np.int64)
        y = col["y"].astype(np.int64)
        w = col["w"] if t.has_weight else None
        bad = _not_finite(t, col, w)
        if bad is not None:
            # The pending result holds the connection: the error looks up an example row.
            if pool is not None:
                pool.shutdown()
            raise not_finite_error(t, *bad)
        k = [col[f"k{i}"].astype(np.int64) for i in range(len(t.slice_columns))]
        q = [col[f"q{j}"].astype(bool) for j in range(len(t.where))]
        codes = [_cell_code(g, k, q, sizes, n) for g in groupings]
        keys_cell = [np.where(c >= 0, sp * ncell[gi] + c, -1) for gi, c in enumerate(codes)]
        for gi, kc in enumerate(keys_cell):
            ok = kc >= 0
            counts_rows[gi] += np.bincount(kc[ok], minlength=n_s * ncell[gi]).reshape(
                n_s, ncell[gi])
        bucket = rng.integers(0, n_buckets, n) if n_bs else None
        bsp = boot_index[sp] if n_bs else None

        # The (bucket, split, cell) part of the bootstrap key is the same for every model:
        # built once per batch and grouping (with the rows it keeps, None: all of them).
        boot_keys: list[tuple[npt.NDArray[np.bool_] | None, IntArray]] = []
        if n_bs:
            assert bucket is not None
            assert bsp is not None
            for gi, code_g in enumerate(codes):
                okb = (code_g >= 0) & (bsp >= 0)
                keep = None if okb.all() else okb
                bb, ss_, cc = ((bucket, bsp, code_g) if keep is None
                               else (bucket[keep], bsp[keep], code_g[keep]))
                boot_keys.append((keep, (bb * n_bs + ss_) * ncell[gi] + cc))
        bt = _Batch(col, y, w, keys_cell, codes, bucket, bsp, boot_keys)
        if pool is not None:
            list(pool.map(partial(accumulate, bt=bt), range(nm)))
        else:
            for m in range(nm):
                accumulate(m, bt)
        done += n
        if progress is not None:
            progress(done)
    if pool is not None:
        pool.shutdown()

    out = BinnedPass(point={s: {} for s in splits}, sizes={s: {} for s in splits},
                     cells={s: {} for s in splits},
                     bins={m: nb[m] for m in range(nm)})
    bcounts = resample_counts(np.random.default_rng([seed, 8]), n_buckets, n_boot) \
        if n_bs else None
    for m in range(nm):
        # Lower edges represent the bins; the lowest bin, the smallest score seen (kept
        # strictly below the first edge so that representatives stay increasing).
        first = edges[m][0] if edges[m].size else np.inf
        rep = np.concatenate([[min(low[m], np.nextafter(first, -np.inf))], edges[m]])
        crep = np.concatenate([[rep[0]], rep[1:][np.diff(coarse_map[m]) > 0]])
        for gi, g in enumerate(groupings):
            for si, split in enumerate(splits):
                for c in range(ncell[gi]):
                    n_rows = int(counts_rows[gi][si, c])
                    if n_rows == 0:
                        continue
                    cell = _cell_of(g, c, levels)
                    out.cells[split][cell.key] = cell
                    out.sizes[split][cell.key] = n_rows
                    h = hist[m][gi][si, c]
                    out.point[split][(m, cell.key)] = BinaryStats(
                        rep[::-1].copy(), h[::-1, 1].copy(), h[::-1, 0].copy(), n_rows,
                        loss_sums={name: terms[name][m][gi][si, c][::-1].copy()
                                   for name in terms},
                    )
            if n_bs:
                assert bcounts is not None
                for bi, split in enumerate(boot_splits):
                    si = list(splits).index(split)
                    per = cells_from_bucket_histogram(
                        bhist[m][gi][:, bi].astype(np.float64), crep, bcounts,
                        counts_rows[gi][si])
                    for c, st in enumerate(per):
                        if counts_rows[gi][si, c] > 0:
                            out.boot[(split, m, _cell_of(g, c, levels).key)] = st
    return out


def error_bound(metric: str, stats: BinaryStats) -> float | None:
    """A guaranteed bound on |binned value − exact value| for a metric on ``stats``.

    0 for metrics that binning leaves exact (sums, and counts at thresholds that are bin
    edges); for ROC AUC, half the share of positive-negative pairs that share a bin (their
    exact order is unknown, binned they count one half); for average precision, the
    recall-weighted range the precision can take inside each bin. None when unknown.
    """
    if metric in _EXACT:
        return 0.0
    pos, neg = stats.pos, stats.neg
    p_tot, n_tot = float(pos.sum()), float(neg.sum())
    if metric == "roc_auc":
        if p_tot <= 0 or n_tot <= 0:
            return None
        return float(0.5 * (pos * neg).sum() / (p_tot * n_tot))
    if metric == "average_precision":
        if p_tot <= 0:
            return None
        tp_before = np.cumsum(pos) - pos
        fp_before = np.cumsum(neg) - neg
        lo_den = tp_before + fp_before + pos + neg
        lo = np.divide(tp_before, lo_den, out=np.zeros_like(pos), where=lo_den > 0)
        hi_den = tp_before + pos + fp_before
        hi = np.divide(tp_before + pos, hi_den, out=np.ones_like(pos), where=hi_den > 0)
        return float((pos * (hi - lo)).sum() / p_tot)
    return None
