"""The compiled kernel (numba) against the NumPy code of the binary point estimate.

The figures of ``benchmarks/results/kernel-numba.md``. Runs ``mlscope.evaluate(charter,
resamples=0)`` on a ``generate.py`` table in a fresh process per run, alternating
``MLSCOPE_KERNEL=numba`` and ``MLSCOPE_KERNEL=numpy``, ``--repeat`` rounds; each run prints
its CPU time (user + system: the steadier figure on a shared machine), the CPU time of each
``binary_unit_cells`` call (one per model, measured on the thread that ran it, so the first
numba call includes loading the kernel), the time of ``import numba`` and a digest of every
value (``result.to_frame()`` at 17 significant digits): the digests must match.

Usage::

    python benchmarks/generate.py --rows 1M            # into benchmarks/data/
    python benchmarks/bench_numba.py benchmarks/data/bench-1000000-continuous.yaml --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

_RUN = """
import hashlib, json, resource, sys, time
t0 = time.perf_counter()
import mlscope
from mlscope.charter import load_charter
from mlscope.engine import exact, kernel_choice
calls = []
inner = exact.binary_unit_cells
def timed(*a, **k):
    t = time.thread_time()
    out = inner(*a, **k)
    calls.append(time.thread_time() - t)
    return out
exact.binary_unit_cells = timed
path = sys.argv[1]
r = mlscope.evaluate(load_charter(path), resamples=0, base_dir=path.rsplit("/", 1)[0])
ru = resource.getrusage(resource.RUSAGE_SELF)
csv = r.to_frame().to_csv(index=False, float_format="%.17g")
print(json.dumps({"cpu_s": ru.ru_utime + ru.ru_stime, "wall_s": time.perf_counter() - t0,
                  "calls_ms": [c * 1e3 for c in calls], "runs": kernel_choice.kernel_runs(),
                  "digest": hashlib.sha256(csv.encode()).hexdigest()[:16]}))
"""

_LOAD = """
import json, time
t = time.perf_counter(); import numba; imp = time.perf_counter() - t
import numpy as np
from mlscope.engine.kernel_choice import compiled_cells
t = time.perf_counter()
assert compiled_cells(np.zeros(10), np.zeros(10, np.int8), [(np.zeros(10, np.int8), 1),
                      (np.zeros(10, np.int8), 2)]) is not None
print(json.dumps({"import_numba_s": imp, "first_call_s": time.perf_counter() - t}))
"""


def _python(code: str, *args: str, env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, check=True,
                         capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def _pair(x: dict[str, object]) -> tuple[float, float]:
    return round(float(str(x["import_numba_s"])), 3), round(float(str(x["first_call_s"])), 3)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("charter", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    src = str(Path(__file__).resolve().parents[1] / "src")
    base = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [src, *filter(None, [os.environ.get("PYTHONPATH")])])}
    forced = {**base, "MLSCOPE_KERNEL": "numba"}
    with tempfile.TemporaryDirectory() as cold:
        # An empty cache folder of its own: the first compilation (int8 cell codes).
        loads = [_python(_LOAD, env={**forced, "NUMBA_CACHE_DIR": cold})]
        loads += [_python(_LOAD, env={**forced, "NUMBA_CACHE_DIR": cold})
                  for _ in range(args.repeat)]
    print("numba import, first call (s): compiling", _pair(loads[0]), "then cached",
          [_pair(x) for x in loads[1:]])
    runs: dict[str, list[dict[str, object]]] = {"numba": [], "numpy": []}
    for _ in range(args.repeat):
        for kernel in runs:
            r = _python(_RUN, str(args.charter.resolve()), env={**base, "MLSCOPE_KERNEL": kernel})
            runs[kernel].append(r)
            print(kernel, json.dumps(r))
    for kernel, rs in runs.items():
        cpu = statistics.median(float(r["cpu_s"]) for r in rs)  # type: ignore[arg-type]
        calls = [c for r in rs for c in r["calls_ms"][1:]]  # type: ignore[index]
        first = statistics.median(float(r["calls_ms"][0]) for r in rs)  # type: ignore[index]
        print(f"{kernel}: evaluate CPU median {cpu:.2f} s; binary_unit_cells per model "
              f"median {statistics.median(calls):.0f} ms (first call {first:.0f} ms)")
    digests = {str(r["digest"]) for rs in runs.values() for r in rs}
    print("digests:", sorted(digests))
    return 0 if len(digests) == 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
