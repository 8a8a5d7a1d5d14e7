"""Interleaved before/after timing of the exact engine on continuous float32 scores.

The figures of ``benchmarks/results/kernel-<rows>.md``. Writes ``cont-<rows>.parquet``
(the benchmark table of ``generate.py`` with every model's scores made continuous and
stored as float32: the rounded models are jittered by ±0.005, so that no model has ties
beyond float32 collisions) and its charter, then runs ``mlscope.evaluate`` in a fresh
process per run, alternating the two source trees, ``--repeat`` rounds, with 0 and with
``--resamples`` resamples. Each run prints wall time, CPU time (user + system, the steadier
figure on a shared machine), peak RSS and a digest of every value and interval
(``result.to_frame()`` at 17 significant digits): the digests of the two trees must match.

Usage::

    mkdir -p ../base && git archive <base commit> src | tar -x -C ../base
    python benchmarks/bench_kernel.py --rows 1M --before ../base/src --after src
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate

_RUN = """
import hashlib, json, resource, sys, time
import mlscope
t = time.perf_counter()
r = mlscope.evaluate(sys.argv[1], resamples=int(sys.argv[2]))
wall = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_SELF)
csv = r.to_frame().to_csv(index=False, float_format="%.17g")
print(json.dumps({"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime,
                  "maxrss_mib": ru.ru_maxrss / 1024,
                  "digest": hashlib.sha256(csv.encode()).hexdigest()[:16]}))
"""


def continuous(rows: int, out: Path) -> Path:
    """The benchmark table with continuous float32 scores, and its charter."""
    data, _ = generate.ensure(rows, out)
    target = out / f"cont-{rows}.parquet"
    charter = out / f"cont-{rows}.yaml"
    if not target.exists():
        t = pq.read_table(data.parquet)
        rng = np.random.default_rng(1)
        cols = {}
        for name in t.column_names:
            col = t[name]
            if name.startswith("score_"):
                s = col.to_numpy().astype(np.float64)
                s = np.clip(s + rng.uniform(-0.005, 0.005, s.size), 1e-4, 1 - 1e-4)
                col = pa.array(s.astype(np.float32))
            cols[name] = col
        pq.write_table(pa.table(cols), target, row_group_size=250_000)
    charter.write_text(data.charter.read_text().replace(data.parquet.name, target.name))
    return charter


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=generate.parse_rows, default=1_000_000)
    ap.add_argument("--before", type=Path, required=True, help="src folder of the baseline")
    ap.add_argument("--after", type=Path, required=True, help="src folder measured")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--resamples", type=int, default=200)
    ap.add_argument("--data-dir", type=Path, default=generate.DEFAULT_DIR)
    args = ap.parse_args()
    charter = continuous(args.rows, args.data_dir)
    runs: dict[tuple[int, str], list[dict[str, float | str]]] = {}
    for _ in range(args.repeat):
        for res in (0, args.resamples):
            for side, src in (("before", args.before), ("after", args.after)):
                env = {**os.environ, "PYTHONPATH": str(src.resolve())}
                done = subprocess.run([sys.executable, "-c", _RUN, str(charter), str(res)],
                                      env=env, capture_output=True, text=True, check=True)
                runs.setdefault((res, side), []).append(json.loads(done.stdout.splitlines()[-1]))
    print("| resamples | code | wall s (median) | CPU s (median) | peak RSS MiB | digest |")
    print("|---:|---|---:|---:|---:|---|")
    for (res, side), rs in runs.items():
        wall = statistics.median(float(r["wall_s"]) for r in rs)
        cpu = statistics.median(float(r["cpu_s"]) for r in rs)
        rss = max(float(r["maxrss_mib"]) for r in rs)
        digests = ", ".join(sorted({str(r["digest"]) for r in rs}))
        print(f"| {res} | {side} | {wall:.2f} | {cpu:.2f} | {rss:.0f} | {digests} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
