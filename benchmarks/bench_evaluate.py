"""Benchmark mlscope's evaluation against pandas + scikit-learn and against a NumPy floor.

``python benchmarks/bench_evaluate.py --rows 1000000`` (what ``make bench`` runs):

1. generates the table and its charter in ``benchmarks/data/`` unless an identical one is
   there (see ``generate.py``: 5 models, 16 slices, 8 metrics, about 10% positives);
2. times three methods on the same file, each in its own process so that their memory
   does not mix (wall time: best of ``--repeat`` runs; peak RSS of the process, and its
   increase over the process's size after imports):

   - **mlscope**: ``mlscope.evaluate(charter, resamples=0)``: point estimates only;
   - **reference**: ``pandas.read_parquet`` + ``groupby`` + scikit-learn, the same 8
     metrics × 5 models × 16 slices;
   - **floor**: reading the needed columns with pyarrow plus one ``np.bincount`` per model
     over (region × device cell, score bin, label), the least work any exact-histogram
     method has to do;

3. checks every mlscope point estimate against scikit-learn (max absolute difference,
   and that both leave the same values undefined), and exits 1 when a difference exceeds
   ``--tolerance`` (1e-9) or a method fails;
4. writes ``benchmarks/results/evaluate-<rows>.json`` and ``.md`` and prints the table.

Only the standard library is imported at module level: each worker process imports just
what its method needs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
OVERALL = "overall"
METHODS = {
    "mlscope": "`mlscope.evaluate(charter, resamples=0)` (NumPy engine)",
    "mlscope-duckdb": "`mlscope.evaluate(charter, resamples=0, engine=\"duckdb\")`",
    "reference": "pandas `read_parquet` + `groupby` + scikit-learn metrics",
    "floor": "pyarrow read + one `np.bincount` per model over (cell, score bin, label)",
}
DEFAULT_METHODS = ["mlscope", "reference", "floor"]
FLOOR_BINS = 4096
Values = dict[str, float | None]


def _key(model: str, slice_key: str, metric: str) -> str:
    return f"{model}\t{slice_key}\t{metric}"


def _rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (Linux: KiB; macOS: bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


# --------------------------------------------------------------------------------------
# The three methods. Each takes the job description and returns the values it computed
# (None for the floor, which computes histograms, not metrics).
# --------------------------------------------------------------------------------------


def run_mlscope(job: dict[str, Any], engine: str | None = None) -> Values:
    """mlscope's Python API, point estimates only."""
    kwargs: dict[str, Any] = {"resamples": 0}
    if engine is not None:
        kwargs["engine"] = engine
    result = _evaluate_function()(job["charter"], **kwargs)
    split = str(result.splits["selection"])
    return {
        _key(v.model, v.slice, v.metric): v.value for v in result.values if v.split == split
    }


def _evaluate_function() -> Callable[..., Any]:
    """``mlscope.evaluate``, the public function."""
    import mlscope

    return mlscope.evaluate  # type: ignore[no-any-return]


def _prepare_mlscope(job: dict[str, Any]) -> None:
    # Import everything the evaluation uses before the size after imports is measured.
    _evaluate_function()


def _sklearn_metrics(y: Any, s: Any, threshold: float) -> dict[str, float | None]:
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


def run_reference(job: dict[str, Any]) -> Values:
    """What one would write without mlscope: pandas groupby and scikit-learn per slice."""
    import pandas as pd

    models: dict[str, str] = job["models"]
    slice_columns: list[str] = job["slice_columns"]
    df = pd.read_parquet(job["parquet"], columns=[job["label"], *slice_columns,
                                                  *models.values()])
    parts: list[tuple[str, pd.DataFrame]] = [(OVERALL, df)]
    for col in slice_columns:
        parts.extend((f"{col}={level}", g) for level, g in df.groupby(col, observed=True))
    out: Values = {}
    for slice_key, g in parts:
        y = g[job["label"]].to_numpy()
        small = slice_key != OVERALL and len(g) < job["min_size"]
        for model, column in models.items():
            s = g[column].to_numpy(dtype="float64")
            values = (dict.fromkeys(job["metrics"]) if small
                      else _sklearn_metrics(y, s, job["threshold"]))
            for metric in job["metrics"]:
                out[_key(model, slice_key, metric)] = values[metric]
    return out


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


def run_floor(job: dict[str, Any]) -> None:
    """Read the needed columns and build one exact-count histogram per model, then the
    16 slices' histograms as sums of the region × device cells."""
    import numpy as np
    import pyarrow.parquet as pq

    models: dict[str, str] = job["models"]
    region, device = job["slice_columns"]
    nr, nd = len(job["levels"][region]), len(job["levels"][device])
    table = pq.read_table(job["parquet"], columns=[job["label"], region, device,
                                                   *models.values()])
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


def _worker(method: str, job: dict[str, Any], repeat: int) -> dict[str, Any]:
    """Run one method ``repeat`` times in this process; report times, memory, values."""
    runners: dict[str, Callable[[dict[str, Any]], Values | None]] = {
        "mlscope": run_mlscope,
        "mlscope-duckdb": lambda j: run_mlscope(j, engine="duckdb"),
        "reference": run_reference,
        "floor": run_floor,
    }
    out: dict[str, Any] = {"method": method, "times_s": [], "values": None, "error": None}
    try:
        if method.startswith("mlscope"):
            _prepare_mlscope(job)
        elif method == "reference":
            import pandas  # noqa: F401
            import sklearn.metrics  # noqa: F401
        else:
            import numpy  # noqa: F401
            import pyarrow.parquet  # noqa: F401
        out["baseline_rss_mib"] = _rss_mib()
        for _ in range(repeat):
            start = time.perf_counter()
            values = runners[method](job)
            out["times_s"].append(time.perf_counter() - start)
        out["values"] = values
    except Exception as exc:  # reported by the parent, which decides the exit code
        import traceback

        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc()
    out["peak_rss_mib"] = _rss_mib()
    return out


# --------------------------------------------------------------------------------------
# The parent: data, workers, comparison, results.
# --------------------------------------------------------------------------------------


def _run_method(method: str, job: dict[str, Any], repeat: int, tmp: Path) -> dict[str, Any]:
    job_file, out_file = tmp / f"{method}.job.json", tmp / f"{method}.out.json"
    job_file.write_text(json.dumps(job))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", method,
           "--job", str(job_file), "--worker-out", str(out_file), "--repeat", str(repeat)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not out_file.exists():
        return {"method": method, "times_s": [], "values": None,
                "error": f"worker exited {proc.returncode}: {proc.stderr.strip()[-2000:]}"}
    result: dict[str, Any] = json.loads(out_file.read_text())
    return result


def compare(got: Values, want: Values) -> dict[str, Any]:
    """Max absolute difference of ``got`` vs ``want``, and every definedness mismatch."""
    max_diff, worst = 0.0, None
    per_metric: dict[str, float] = {}
    problems: list[str] = []
    for key in sorted(want.keys() | got.keys()):
        if key not in got or key not in want:
            problems.append(f"{key.replace(chr(9), ' / ')}: only in "
                            f"{'mlscope' if key in got else 'scikit-learn'}")
            continue
        a, b = got[key], want[key]
        if (a is None) != (b is None):
            problems.append(f"{key.replace(chr(9), ' / ')}: mlscope {a}, scikit-learn {b}")
            continue
        if a is None or b is None:
            continue
        diff = abs(a - b)
        metric = key.rsplit("\t", 1)[1]
        per_metric[metric] = max(per_metric.get(metric, 0.0), diff)
        if worst is None or diff > max_diff:
            max_diff, worst = diff, key.replace("\t", " / ")
    return {"n_values": len(want), "n_compared": sum(1 for k in want if got.get(k) is not None
                                                     and want[k] is not None),
            "max_abs_diff": max_diff, "worst": worst, "per_metric": per_metric,
            "mismatches": problems}


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("mlscope", "numpy", "pandas", "pyarrow", "duckdb", "scikit-learn"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _shown_path(path: Path) -> str:
    """``path`` relative to the repository when inside it, else absolute."""
    try:
        return str(path.resolve().relative_to(HERE.parent))
    except ValueError:
        return str(path.resolve())


def _fmt_ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.1f}×" if a and b else "n/a"


def markdown(report: dict[str, Any]) -> str:
    """The results as a Markdown document (also printed)."""
    rows, job = report["rows"], report["job"]
    n_slices = 1 + sum(len(v) for v in job["levels"].values())
    lines = [
        f"# Evaluation benchmark: {rows:,} rows",
        "",
        f"{len(job['models'])} models × {n_slices} slices × {len(job['metrics'])} metrics "
        f"({len(job['models']) * n_slices * len(job['metrics'])} point estimates), one split, "
        f"no intervals. Wall time: best of {report['repeat']} runs; peak RSS of each "
        "method's own process, and its increase over the process after imports.",
        "",
        "| method | what it does | best (s) | all runs (s) | peak RSS (MiB) | "
        "over imports (MiB) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, m in report["methods"].items():
        if m.get("error"):
            lines.append(f"| {name} | {METHODS[name]} | failed | | | |")
            continue
        runs = ", ".join(f"{t:.2f}" for t in m["times_s"])
        lines.append(
            f"| {name} | {METHODS[name]} | {m['best_s']:.3f} | {runs} | "
            f"{m['peak_rss_mib']:.0f} | {m['peak_rss_mib'] - m['baseline_rss_mib']:.0f} |"
        )
    lines.append("")
    for label, value in report["ratios"].items():
        lines.append(f"- {label}: **{value}**")
    for name, check in report["checks"].items():
        ok = "✓" if check["ok"] else "✗"
        if check.get("max_abs_diff") is None:
            lines.append(f"- {ok} {name}: not checked ({check.get('reason', '')})")
            continue
        lines.append(
            f"- {ok} {name} vs scikit-learn: max |difference| {check['max_abs_diff']:.2e} "
            f"over {check['n_compared']} values (tolerance {report['tolerance']:g}; worst: "
            f"{check['worst']}); {len(check['mismatches'])} definedness mismatches"
        )
        if check["per_metric"]:
            lines.append("  - per metric: " + ", ".join(
                f"{k} {v:.1e}" for k, v in check["per_metric"].items()))
        lines.extend(f"  - {p}" for p in check["mismatches"][:10])
    for name, m in report["methods"].items():
        if m.get("error"):
            lines.append(f"- {name} failed: {m['error'].splitlines()[-1][:300]}")
    env = report["environment"]
    lines += [
        "",
        f"Machine: {env['platform']}, {env['cpus']} CPUs. Versions: "
        + ", ".join(f"{k} {v}" for k, v in env["versions"].items()) + ".",
        f"Data: `{report['data']}` ({report['data_mib']:.1f} MiB, seed {report['seed']}), "
        f"generated by `benchmarks/generate.py`. Run at {report['created_at']}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (and, with ``--worker``, one method's process)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000", help="rows: 1000000 (default), 10M, ...")
    parser.add_argument("--repeat", type=int, default=3, help="runs per method (best is kept)")
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                        help=f"comma-separated, from {', '.join(METHODS)}")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated data")
    parser.add_argument("--data-dir", type=Path, default=HERE / "data")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--tolerance", type=float, default=1e-9)
    parser.add_argument("--worker", choices=list(METHODS), help=argparse.SUPPRESS)
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        out = _worker(args.worker, json.loads(args.job.read_text()), args.repeat)
        args.worker_out.write_text(json.dumps(out))
        return 0

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")

    sys.path.insert(0, str(HERE))
    import generate as gen

    rows = gen.parse_rows(args.rows)
    start = time.perf_counter()
    data, made = gen.ensure(rows, args.data_dir, seed=args.seed)
    if made:
        print(f"generated {data.parquet} in {time.perf_counter() - start:.1f} s")
    job = {
        "charter": str(data.charter), "parquet": str(data.parquet), "label": "label",
        "models": {m: f"score_{m}" for m in gen.MODELS},
        "slice_columns": ["region", "device"],
        "levels": {"region": gen.REGIONS, "device": gen.DEVICES},
        "metrics": [mid for mid, _ in gen.METRICS], "threshold": gen.THRESHOLD,
        "min_size": 30,
    }

    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="mlscope-bench-") as tmp:
        for method in methods:
            print(f"running {method} ({args.repeat}×) ...", flush=True)
            res = _run_method(method, job, args.repeat, Path(tmp))
            if res["times_s"] and not res.get("error"):
                res["best_s"] = min(res["times_s"])
            results[method] = res

    tolerance = args.tolerance
    checks: dict[str, dict[str, Any]] = {}
    want = results.get("reference", {}).get("values")
    for method in (m for m in methods if m.startswith("mlscope")):
        got = results[method].get("values")
        if got is None or want is None:
            reason = ("it failed" if got is None else "the reference failed or was not run")
            checks[method] = {"ok": False, "max_abs_diff": None, "reason": reason}
            continue
        check = compare(got, want)
        check["ok"] = check["max_abs_diff"] <= tolerance and not check["mismatches"]
        checks[method] = check

    def best(name: str) -> float | None:
        value = results.get(name, {}).get("best_s")
        return float(value) if value is not None else None

    ratios: dict[str, str] = {}
    for m in (m for m in methods if m.startswith("mlscope")):
        if "reference" in results:
            ratios[f"reference / {m} (speed-up over pandas + scikit-learn)"] = _fmt_ratio(
                best("reference"), best(m))
        if "floor" in results:
            ratios[f"{m} / floor (time over the minimum)"] = _fmt_ratio(best(m), best("floor"))
    if "reference" in results and "floor" in results:
        ratios["reference / floor"] = _fmt_ratio(best("reference"), best("floor"))

    report: dict[str, Any] = {
        "benchmark": "evaluate",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": rows, "repeat": args.repeat, "seed": args.seed, "tolerance": tolerance,
        "data": _shown_path(data.parquet),
        "data_mib": data.parquet.stat().st_size / 2**20,
        "job": {k: v for k, v in job.items() if k not in ("charter", "parquet")},
        "environment": {"platform": platform.platform(), "cpus": os.cpu_count(),
                        "versions": _versions()},
        "methods": {m: {k: v for k, v in r.items() if k != "values"}
                    for m, r in results.items()},
        "ratios": ratios,
        "checks": checks,
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stem = args.results_dir / f"evaluate-{rows}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    stem.with_suffix(".md").write_text(text)
    print()
    print(text)
    print(f"Wrote {stem}.json and {stem}.md")
    failed = [m for m, r in results.items() if r.get("error")]
    return 1 if failed or not all(c["ok"] for c in checks.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
