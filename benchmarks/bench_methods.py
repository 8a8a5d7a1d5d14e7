"""The measured methods of the scale benchmark, and the worker process that runs one.

``bench_evaluate.py`` starts one process per method::

    python benchmarks/bench_methods.py JOB.json OUT.json

The worker imports what its method needs, records its peak RSS after the imports, runs
the method ``repeat`` times (more while the runs are very short, fewer when they exceed
``repeat_budget_s``), and writes
every run's wall time, the parts of it that an extrapolation needs, the values computed,
and the process's peak RSS to ``OUT.json``.

Only the standard library is imported at module level, so that each method's process
holds only what that method imports.

Every method computes the same 8 metrics × 5 models × 16 slices (overall, 10 regions,
5 devices) of the table ``generate.py`` writes. See ``README.md`` for what each does and
which are extrapolated.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["OVERALL", "RUNNERS", "RunResult", "Values", "key", "main", "sklearn_metrics",
           "source_hash"]

OVERALL = "overall"
FLOOR_BINS = 4096
Values = dict[str, float | None]
Job = dict[str, Any]


@dataclass
class RunResult:
    """What one run of a method returns besides its wall time."""

    values: Values | None = None
    # Measured sub-times (seconds) an extrapolation needs, e.g. the time of the resamples.
    parts: dict[str, float] = field(default_factory=dict)
    # Anything else worth recording (rows used, mlscope's own timings, counts, ...).
    info: dict[str, Any] = field(default_factory=dict)


class Skipped(Exception):
    """The method cannot run in this environment (the reason is reported, not failed)."""


def key(model: str, slice_key: str, metric: str) -> str:
    """The identifier of one point estimate in the ``values`` dictionaries."""
    return f"{model}\t{slice_key}\t{metric}"


def _peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (Linux: KiB; macOS: bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def source_hash(package_dir: Path) -> str:
    """A short hash of a package's ``.py`` files (names and contents): which version of the
    code was measured, committed or not."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(package_dir.rglob("*.py")):
        name = path.relative_to(package_dir.parent).as_posix()
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _needed_columns(job: Job) -> list[str]:
    return [job["label"], *job["slice_columns"], *job["models"].values()]


# --------------------------------------------------------------------------------------
# mlscope
# --------------------------------------------------------------------------------------


BINNED_BINS = 16384


def run_mlscope(job: Job, *, resamples: int = 0, engine: str | None = None,
                binned: int | None = None) -> RunResult:
    """``mlscope.evaluate`` on the charter: point estimates, or with bootstrap intervals;
    exact, or in the opt-in binned mode (then each value's error bound is recorded)."""
    import mlscope

    kwargs: dict[str, Any] = {"resamples": resamples}
    if engine is not None:
        kwargs["engine"] = engine
    if binned is not None:
        kwargs["binned"] = binned
    result = mlscope.evaluate(job["charter"], **kwargs)
    from mlscope.engine.kernel_choice import kernel_runs

    split = str(result.splits["selection"])
    ours = [v for v in result.values if v.split == split]
    values: Values = {key(v.model, v.slice, v.metric): v.value for v in ours}
    with_interval = sum(1 for v in ours if v.lower is not None and v.upper is not None)
    info: dict[str, Any] = {"timings": dict(result.timings), "n_values": len(ours),
                            "n_with_interval": with_interval,
                            # Which code computed the binary point estimates (calls per
                            # kernel: numba, the optional compiled one, or numpy).
                            "kernel_runs": kernel_runs()}
    if binned is not None:
        info["error_bounds"] = {key(v.model, v.slice, v.metric): v.error_bound for v in ours}
    return RunResult(values, info=info)


def _import_for_mlscope() -> None:
    from mlscope.malloc import keep_freed_memory

    # What the batch commands do before they evaluate (`mlscope run`): freed row-sized
    # arrays are reused instead of faulting fresh pages in. MLSCOPE_MALLOC=system measures
    # without it; `work` records which. First, as the command line does: set after
    # pandas and PyArrow are loaded (whose native libraries set up allocator state of
    # their own), the metrics stage measured 0.5–1 s slower at 10M rows.
    keep_freed_memory()
    # Everything an evaluation may use, imported before the size after imports is taken.
    import duckdb  # noqa: F401
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import mlscope  # noqa: F401


# --------------------------------------------------------------------------------------
# pandas + scikit-learn
# --------------------------------------------------------------------------------------


def sklearn_metrics(y: Any, s: Any, threshold: float) -> dict[str, float | None]:
    """The benchmark's 8 metrics with scikit-learn; None where a metric is undefined."""
    import numpy as np
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        brier_score_loss,
        f1_score,
        log_loss,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    both = 0 < int(y.sum()) < len(y)
    pred = s >= threshold  # a row is predicted positive when its score reaches the threshold
    out: dict[str, float | None] = {
        "roc_auc": float(roc_auc_score(y, s)) if both else None,
        "average_precision": float(average_precision_score(y, s)) if y.sum() > 0 else None,
        "log_loss": float(log_loss(y, s, labels=[0, 1])),
        "brier": float(brier_score_loss(y, s)),
        "accuracy": float(accuracy_score(y, pred)),
        "precision": float(precision_score(y, pred, zero_division=np.nan)),
        "recall": float(recall_score(y, pred, zero_division=np.nan)),
        "f1": float(f1_score(y, pred, zero_division=np.nan)),
    }
    return {k: (v if v is not None and np.isfinite(v) else None) for k, v in out.items()}


def _reference_values(df: Any, job: Job) -> Values:
    """pandas ``groupby`` per slice column and scikit-learn per slice and model."""
    models: dict[str, str] = job["models"]
    parts: list[tuple[str, Any]] = [(OVERALL, df)]
    for col in job["slice_columns"]:
        parts.extend((f"{col}={level}", g) for level, g in df.groupby(col, observed=True))
    out: Values = {}
    for slice_key, g in parts:
        y = g[job["label"]].to_numpy()
        small = slice_key != OVERALL and len(g) < job["min_size"]
        for model, column in models.items():
            s = g[column].to_numpy(dtype="float64")
            values = (dict.fromkeys(job["metrics"]) if small
                      else sklearn_metrics(y, s, job["threshold"]))
            for metric in job["metrics"]:
                out[key(model, slice_key, metric)] = values[metric]
    return out


def run_reference(job: Job) -> RunResult:
    """What one would write without mlscope: ``read_parquet``, ``groupby``, scikit-learn."""
    import pandas as pd

    df = pd.read_parquet(job["parquet"], columns=_needed_columns(job))
    return RunResult(_reference_values(df, job))


def run_reference_boot(job: Job) -> RunResult:
    """The reference plus a row bootstrap: ``k`` resamples of all rows (with replacement),
    every metric recomputed on each, percentile intervals at the end. Only ``k`` of the
    charter's resamples are run; the parent extrapolates the resample time to all of them."""
    import numpy as np
    import pandas as pd

    t0 = time.perf_counter()
    df = pd.read_parquet(job["parquet"], columns=_needed_columns(job))
    point = _reference_values(df, job)
    t1 = time.perf_counter()
    k = int(job["reference_boot_resamples"])
    rng = np.random.default_rng(job["seed"])
    replicates: dict[str, list[float]] = {}
    for _ in range(k):
        rows = rng.integers(0, len(df), size=len(df))
        for name, value in _reference_values(df.take(rows), job).items():
            if value is not None:
                replicates.setdefault(name, []).append(value)
    t2 = time.perf_counter()
    alpha = (1.0 - job["level"]) / 2.0
    intervals = {name: np.quantile(np.asarray(reps), [alpha, 1.0 - alpha])
                 for name, reps in replicates.items() if len(reps) >= 2}
    t3 = time.perf_counter()
    return RunResult(point, parts={"point_s": t1 - t0, "resamples_s": t2 - t1,
                                   "intervals_s": t3 - t2},
                     info={"resamples_run": k, "n_with_interval": len(intervals)})


def _import_for_reference() -> None:
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    import sklearn.metrics  # noqa: F401


# --------------------------------------------------------------------------------------
# Fairlearn
# --------------------------------------------------------------------------------------


def _fairlearn_metric_functions(metric_ids: list[str], threshold: float) -> dict[str, Any]:
    """The 8 metrics as MetricFrame wants them: ``f(y_true, y_pred)``, with ``y_pred`` the
    score (the thresholded metrics threshold it themselves)."""
    from functools import partial

    import numpy as np
    from sklearn import metrics as skm

    def at_threshold(fn: Callable[..., float]) -> Callable[[Any, Any], float]:
        def metric(y_true: Any, y_score: Any) -> float:
            return fn(y_true, np.asarray(y_score) >= threshold)

        metric.__name__ = getattr(fn, "__name__", "metric")
        return metric

    available: dict[str, Any] = {
        "roc_auc": skm.roc_auc_score,
        "average_precision": skm.average_precision_score,
        "log_loss": partial(skm.log_loss, labels=[0, 1]),
        "brier": skm.brier_score_loss,
        "accuracy": at_threshold(skm.accuracy_score),
        "precision": at_threshold(partial(skm.precision_score, zero_division=np.nan)),
        "recall": at_threshold(partial(skm.recall_score, zero_division=np.nan)),
        "f1": at_threshold(partial(skm.f1_score, zero_division=np.nan)),
    }
    return {m: available[m] for m in metric_ids}


def _read_head(job: Job, rows: int) -> Any:
    """The first ``rows`` rows of the needed columns as a pandas DataFrame.

    The generated rows are independent and identically distributed (see ``generate.py``),
    so the first rows are as good a sample as any, and reading them costs time in
    proportion to their number.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    batches = []
    got = 0
    pf = pq.ParquetFile(job["parquet"])
    for batch in pf.iter_batches(batch_size=min(rows, 1 << 20), columns=_needed_columns(job)):
        batches.append(batch)
        got += batch.num_rows
        if got >= rows:
            break
    return pa.Table.from_batches(batches).slice(0, rows).to_pandas()


def _fairlearn(job: Job, *, rows: int, n_boot: int | None) -> RunResult:
    """One MetricFrame per model and slice column (overall + that column's levels)."""
    from fairlearn.metrics import MetricFrame

    df = _read_head(job, rows)
    functions = _fairlearn_metric_functions(job["metrics"], job["threshold"])
    boot: dict[str, Any] = {}
    if n_boot is not None:
        alpha = (1.0 - job["level"]) / 2.0
        boot = {"n_boot": n_boot, "ci_quantiles": [alpha, 1.0 - alpha],
                "random_state": job["seed"]}
    values: Values = {}
    frames = 0
    for model, column in job["models"].items():
        for col in job["slice_columns"]:
            mf = MetricFrame(metrics=functions, y_true=df[job["label"]], y_pred=df[column],
                             sensitive_features=df[col], **boot)
            frames += 1
            for metric in job["metrics"]:
                values[key(model, OVERALL, metric)] = _number(mf.overall[metric])
                for level, value in mf.by_group[metric].items():
                    values[key(model, f"{col}={level}", metric)] = _number(value)
    return RunResult(values, info={"rows_used": len(df), "metric_frames": frames,
                                   "n_boot": n_boot})


def _number(value: Any) -> float | None:
    import math

    v = float(value)
    return v if math.isfinite(v) else None


def run_fairlearn(job: Job) -> RunResult:
    """Fairlearn ``MetricFrame``, point estimates, on the first ``fairlearn_rows`` rows."""
    return _fairlearn(job, rows=min(job["fairlearn_rows"], job["rows"]), n_boot=None)


def run_fairlearn_boot(job: Job) -> RunResult:
    """Fairlearn ``MetricFrame`` with ``n_boot`` resamples, on the first rows."""
    import inspect

    from fairlearn.metrics import MetricFrame

    if "n_boot" not in inspect.signature(MetricFrame.__init__).parameters:
        import fairlearn

        raise Skipped(f"fairlearn {fairlearn.__version__}'s MetricFrame has no n_boot")
    return _fairlearn(job, rows=min(job["fairlearn_boot_rows"], job["rows"]),
                      n_boot=int(job["fairlearn_boot_resamples"]))


def _import_for_fairlearn() -> None:
    try:
        import fairlearn.metrics  # noqa: F401
    except ImportError as exc:
        raise Skipped("fairlearn is not installed (pip install -e '.[bench]')") from exc
    _import_for_reference()


# --------------------------------------------------------------------------------------
# The floor: the least work an exact-histogram method has to do
# --------------------------------------------------------------------------------------


def _codes(column: Any, levels: list[str]) -> Any:
    """Integer codes of a dictionary-encoded column, per chunk mapped to ``levels``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = []
    for chunk in column.chunks:
        if not pa.types.is_dictionary(chunk.type):
            chunk = pc.dictionary_encode(chunk)
        lut = np.array([levels.index(v) for v in chunk.dictionary.to_pylist()], dtype=np.int64)
        parts.append(lut[chunk.indices.to_numpy(zero_copy_only=False)])
    return np.concatenate(parts)


def run_floor_numpy(job: Job) -> RunResult:
    """Read the needed columns with pyarrow and build one exact-count histogram per model
    with one ``np.bincount`` over (region × device cell, score bin, label); the 16 slices'
    histograms are then sums of the cells."""
    import numpy as np
    import pyarrow.parquet as pq

    models: dict[str, str] = job["models"]
    region, device = job["slice_columns"]
    nr, nd = len(job["levels"][region]), len(job["levels"][device])
    table = pq.read_table(job["parquet"], columns=_needed_columns(job))
    label = table[job["label"]].to_numpy().astype(np.int64)
    cell = _codes(table[region], job["levels"][region]) * nd
    cell += _codes(table[device], job["levels"][device])
    base = cell * (FLOOR_BINS * 2) + label
    for column in models.values():
        score = table[column].to_numpy()
        bins = np.minimum((score * FLOOR_BINS).astype(np.int64), FLOOR_BINS - 1)
        hist = np.bincount(base + bins * 2, minlength=nr * nd * FLOOR_BINS * 2)
        hist = hist.reshape(nr, nd, FLOOR_BINS, 2)
        slices = [hist.sum(axis=(0, 1)), *hist.sum(axis=1), *hist.sum(axis=0)]
        if sum(int(h.sum()) for h in slices) != 3 * table.num_rows:
            raise AssertionError("floor histograms do not add up to the rows")
    return RunResult(info={"bins": FLOOR_BINS})


def floor_query(job: Job) -> str:
    """One DuckDB query: counts per model, slice, score bin and label straight from the
    Parquet file (per region × device cell first, then the 16 slices by grouping sets)."""
    path = str(job["parquet"]).replace("'", "''")
    region, device = job["slice_columns"]
    label = job["label"]
    per_model = []
    for i, column in enumerate(job["models"].values()):
        score_bin = f"least(CAST(floor({column} * {FLOOR_BINS}) AS INTEGER), {FLOOR_BINS - 1})"
        per_model.append(
            f"SELECT {i} AS model, {region}, {device}, {score_bin} AS bin, {label}, "
            f"count(*) AS n FROM read_parquet('{path}') GROUP BY ALL")
    cells = "\n  UNION ALL ".join(per_model)
    return (
        f"WITH cells AS (\n  {cells}\n)\n"
        f"SELECT model, {region}, {device}, bin, {label}, CAST(sum(n) AS BIGINT) AS n\n"
        f"FROM cells GROUP BY GROUPING SETS ((model, bin, {label}), "
        f"(model, {region}, bin, {label}), (model, {device}, bin, {label}))"
    )


def run_floor_duckdb(job: Job) -> RunResult:
    """The floor's aggregation as one DuckDB query over the Parquet file."""
    import duckdb

    con = duckdb.connect()
    try:
        threads = con.execute("SELECT current_setting('threads')").fetchone()
        counts = con.execute(floor_query(job)).fetchnumpy()["n"]
    finally:
        con.close()
    if int(counts.sum()) != 3 * len(job["models"]) * job["rows"]:
        raise AssertionError("floor histograms do not add up to the rows")
    return RunResult(info={"bins": FLOOR_BINS, "duckdb_threads": threads[0] if threads else None,
                           "result_rows": len(counts)})


def _import_for_floor_numpy() -> None:
    import numpy  # noqa: F401
    import pyarrow.compute
    import pyarrow.parquet  # noqa: F401


def _import_for_floor_duckdb() -> None:
    import duckdb  # noqa: F401
    import numpy  # noqa: F401


# --------------------------------------------------------------------------------------
# The worker
# --------------------------------------------------------------------------------------

# method -> (imports done before the size after imports is taken, the run)
RUNNERS: dict[str, tuple[Callable[[], None], Callable[[Job], RunResult]]] = {
    "mlscope": (_import_for_mlscope, run_mlscope),
    "mlscope-boot": (_import_for_mlscope,
                     lambda job: run_mlscope(job, resamples=int(job["resamples"]))),
    "mlscope-duckdb": (_import_for_mlscope, lambda job: run_mlscope(job, engine="duckdb")),
    "mlscope-binned": (_import_for_mlscope, lambda job: run_mlscope(job, binned=BINNED_BINS)),
    "mlscope-binned-boot": (_import_for_mlscope, lambda job: run_mlscope(
        job, resamples=int(job["resamples"]), binned=BINNED_BINS)),
    "reference": (_import_for_reference, run_reference),
    "reference-boot": (_import_for_reference, run_reference_boot),
    "fairlearn": (_import_for_fairlearn, run_fairlearn),
    "fairlearn-boot": (_import_for_fairlearn, run_fairlearn_boot),
    "floor-numpy": (_import_for_floor_numpy, run_floor_numpy),
    "floor-duckdb": (_import_for_floor_duckdb, run_floor_duckdb),
}


MAX_RUNS = 20


def _again(runs: int, spent: float, job: Job) -> bool:
    """Whether to run the method once more: ``repeat`` runs, more (up to ``MAX_RUNS``)
    while they took less than ``min_time_s`` together, never past ``repeat_budget_s``."""
    if spent >= job["repeat_budget_s"]:
        return False
    return runs < max(1, int(job["repeat"])) or (spent < job["min_time_s"] and runs < MAX_RUNS)


def work(job: Job) -> dict[str, Any]:
    """Run ``job["method"]`` in this process, as often as ``_again`` says.

    Returns every run's wall time, CPU time, parts and info, the last run's values and
    the process's peak RSS.
    """
    method = job["method"]
    prepare, runner = RUNNERS[method]
    out: dict[str, Any] = {"method": method, "status": "ok", "runs": [], "values": None,
                           "error": None}
    try:
        prepare()
        if method.startswith("mlscope"):
            import mlscope

            # Hashed when imported: the code this process measures, even if the files
            # change while the benchmark runs.
            out["mlscope_source"] = source_hash(Path(mlscope.__file__).resolve().parent)
            from mlscope.malloc import keep_freed_memory

            out["keep_freed_memory"] = keep_freed_memory()
        out["baseline_rss_mib"] = _peak_rss_mib()
        spent = 0.0
        while _again(len(out["runs"]), spent, job):
            cpu_start, start = _cpu_s(), time.perf_counter()
            result = runner(job)
            wall = time.perf_counter() - start
            spent += wall
            # CPU time of all threads: much below the wall time of a single-threaded method
            # means the process waited (for I/O, or for a CPU other work was using).
            out["runs"].append({"wall_s": wall, "cpu_s": _cpu_s() - cpu_start,
                                "parts": result.parts, "info": result.info})
            out["values"] = result.values
    except Skipped as exc:
        out["status"], out["reason"] = "skipped", str(exc)
    except Exception as exc:  # reported by the parent, which decides the exit code
        out["status"], out["error"] = "error", f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc()
    out["peak_rss_mib"] = _peak_rss_mib()
    return out


def main(argv: list[str] | None = None) -> int:
    """``bench_methods.py JOB.json OUT.json``: one method's process."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: bench_methods.py JOB.json OUT.json (started by bench_evaluate.py)",
              file=sys.stderr)
        return 2
    job = json.loads(Path(args[0]).read_text())
    Path(args[1]).write_text(json.dumps(work(job)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
