"""Start-up benchmark: what a short mlscope command costs over Python + NumPy (+ PyArrow).

Issue 16's start-up target: ``mlscope --version`` and a 20k-row evaluation within 0.3 s of
the time Python needs to import NumPy and PyArrow. Every command runs in a fresh
interpreter, the commands interleaved round by round (so a burst of load from other
processes hits all of them alike), and the table gives the median over the rounds of the
wall time and of the CPU time (user + system of the child, from ``wait4``).

The commands:

================  ==========================================================================
``floor-numpy``   ``python -c 'import numpy'``
``floor-arrow``   ``python -c 'import numpy, pyarrow'`` (the issue's floor)
``floor-deps``    ``import numpy, duckdb, yaml, pydantic``, one pydantic model and one DuckDB
                  connection: what an evaluation's dependencies cost before mlscope's code
``version``       ``mlscope --version``
``validate``      ``mlscope validate`` of the Caravan example charter (needs its data:
                  ``python examples/caravan/prepare.py``; skipped without it)
``evaluate``      ``mlscope.evaluate(charter)`` of the generated 20k-row charter
``run``           ``mlscope run`` of it: the evaluation, the HTML report, ``result.json``
                  and the run recorded in the store
``run-no-store``  ``mlscope run --no-store`` of it
================  ==========================================================================

The generated charter (``--seed``, default 0): 20,000 rows of a binary task, two models,
two slice columns (``region``, ``device``), a validation/test split, seven metrics, 50
bootstrap resamples, no baselines and no ``where:`` slices. (The default 1,000 resamples
make the row bootstrap of 20,000 rows cost about 10 s of CPU on its own: statistics, not
start-up.)

Bytecode: an installed package has its modules compiled once; this environment may set
``PYTHONDONTWRITEBYTECODE``, under which every run compiles every mlscope module again. The
children therefore run without it and with ``PYTHONPYCACHEPREFIX`` in ``benchmarks/data``
(after one warm-up round that fills it), unless ``--no-bytecode-cache``.

Usage::

    PYTHONPATH=src python benchmarks/bench_startup.py              # 9 rounds, 50 resamples
    PYTHONPATH=src python benchmarks/bench_startup.py --resamples 0   # point estimates only
    base=$(mktemp -d); git archive 492da1f src | tar -x -C "$base"    # an older version ...
    PYTHONPATH=src python benchmarks/bench_startup.py --baseline-src "$base/src"  # ... beside
    PYTHONPATH=src python benchmarks/bench_startup.py --rounds 15 --only version,run
    PYTHONPATH=src python benchmarks/bench_startup.py --importtime run   # -X importtime, top 25

Results: ``benchmarks/results/startup-r<resamples>.md`` (``--out``) and printed;
``benchmarks/results/startup.md`` summarises them and where the time goes.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data" / "startup"
CARAVAN = ROOT / "examples" / "caravan" / "mlscope.yaml"
TARGET_S = 0.3

CHARTER = """\
project: startup-bench
task: binary
seed: 7
data:
  table: eval.parquet
  id: row_id
  label: label
  split: split
  models: {{good: p_good, fair: p_fair}}
splits: {{selection: validation, report: test}}
slices:
  columns: [region, device]
  min_size: 30
metrics: [roc_auc, average_precision, log_loss, brier, precision, recall, f1]
selection: {{rule: satisficing, optimize: roc_auc}}
requirements: {{roc_auc: ">= 0.6"}}
intervals: {{resamples: {resamples}}}
# seed {seed}, {rows} rows
"""


def generate(rows: int, seed: int, out: Path, resamples: int = 50) -> Path:
    """Write ``eval.parquet`` and ``mlscope.yaml`` (deterministic in ``rows`` and ``seed``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    charter = out / "mlscope.yaml"
    text = CHARTER.format(seed=seed, rows=rows, resamples=resamples)
    if charter.exists() and charter.read_text() == text and (out / "eval.parquet").exists():
        return charter
    rng = np.random.default_rng(seed)
    y = rng.random(rows) < 0.2
    latent = y * 1.2 + rng.normal(size=rows)
    cols = {
        "row_id": np.arange(rows, dtype=np.int64),
        "label": y.astype(np.int8),
        "split": rng.choice(["validation", "test"], size=rows),
        "region": rng.choice(["north", "south", "east", "west"], size=rows,
                             p=[0.4, 0.3, 0.2, 0.1]),
        "device": rng.choice(["ios", "android", "web"], size=rows),
    }
    for name, noise in (("good", 0.7), ("fair", 1.4)):
        s = 1 / (1 + np.exp(-(latent - 1.5 + rng.normal(scale=noise, size=rows))))
        cols[f"p_{name}"] = s.astype(np.float32)
    pq.write_table(pa.table(cols), out / "eval.parquet")
    charter.write_text(text)
    return charter


DEPS = """\
import numpy, duckdb, yaml, pydantic

class Model(pydantic.BaseModel):
    a: int

duckdb.connect()
"""


def _cli(*args: str) -> list[str]:
    # What the `mlscope` console script does, without depending on where it is installed.
    code = f"import sys; sys.argv = {['mlscope', *args]!r}; from mlscope.cli import main; main()"
    return ["-c", code]


def commands(charter: Path, out: Path) -> dict[str, list[str]]:
    cmds = {
        "floor-numpy": ["-c", "import numpy"],
        "floor-arrow": ["-c", "import numpy, pyarrow"],
        # What an evaluation's dependencies cost before any of mlscope's code runs: the
        # imports it cannot avoid (it does not import pyarrow), pydantic's first model
        # (its schema machinery and its search of the installed packages for plugins) and
        # one in-memory DuckDB database.
        "floor-deps": ["-c", DEPS],
        "version": _cli("--version"),
    }
    if (CARAVAN.parent / "data" / "caravan_eval.parquet").exists():
        cmds["validate"] = _cli("validate", str(CARAVAN))
    cmds["evaluate"] = ["-c", f"import mlscope; mlscope.evaluate({str(charter)!r})"]
    cmds["run"] = _cli("run", str(charter), "--out", str(out / "run"), "-q")
    cmds["run-no-store"] = _cli("run", str(charter), "--out", str(out / "run-ns"), "-q",
                                "--no-store")
    return cmds


def child_env(bytecode_cache: bool, src: Path = ROOT / "src") -> dict[str, str]:
    env = dict(os.environ)
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p) != src
            and Path(p).resolve() != (ROOT / "src").resolve()]
    env["PYTHONPATH"] = os.pathsep.join([str(src), *rest])
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(HERE / "data" / "pycache")
    return env


def run_once(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system) and exit status of one fresh process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *argv], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    # mlscope's exit status 1 (a requirement not met) is still a finished run; a Python
    # snippet (`-c`) that raises also exits 1, so those must exit 0.
    ok = (0, 1) if "from mlscope.cli import main" in argv[-1] else (0,)
    if proc.returncode not in ok:
        raise SystemExit(f"{argv} failed ({proc.returncode}):\n{err[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, proc.returncode


def importtime(argv: list[str], env: dict[str, str], cwd: Path, top: int) -> None:
    """Print the ``top`` largest cumulative import times of one run of ``argv``."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *argv], env=env, cwd=cwd,
                          capture_output=True, text=True, check=False)
    rows = []
    for line in proc.stderr.splitlines():
        # "import time:  self [us] | cumulative | imported package"
        parts = line.removeprefix("import time:").split("|")
        if line.startswith("import time:") and len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    for cum, name in sorted(rows, reverse=True)[:top]:
        print(f"{cum / 1e3:8.1f} ms  {name}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resamples", type=int, default=50,
                    help="the charter's bootstrap resamples (0: point estimates only)")
    ap.add_argument("--only", help="comma-separated commands (default: all)")
    ap.add_argument("--no-bytecode-cache", action="store_true")
    ap.add_argument("--importtime", metavar="COMMAND",
                    help="print the largest imports of one run of COMMAND and exit")
    ap.add_argument("--out", type=Path,
                    help="default: results/startup-r<resamples>.md (results/startup.md is "
                         "the written summary)")
    ap.add_argument("--label", default="", help="a note for the results' setup line")
    ap.add_argument("--baseline-src", type=Path, metavar="DIR",
                    help="also run every mlscope command with this `src` folder (e.g. "
                         "`git archive COMMIT src | tar -x -C DIR`), interleaved: "
                         "before/after on the same load")
    args = ap.parse_args()

    charter = generate(args.rows, args.seed, DATA / f"r{args.resamples}", args.resamples)
    env = child_env(not args.no_bytecode_cache)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cmds = commands(charter, work)
        if args.only:
            wanted = args.only.split(",")
            cmds = {k: v for k, v in cmds.items() if k in wanted or k.startswith("floor")}
        if args.importtime:
            importtime(cmds[args.importtime], env, work, 25)
            return 0
        envs = {k: env for k in cmds}
        if args.baseline_src:
            base_env = child_env(not args.no_bytecode_cache, args.baseline_src.resolve())
            base_cmds = commands(charter, work / "base")
            for k in list(cmds):
                if not k.startswith("floor"):
                    cmds[f"{k} (baseline)"] = base_cmds[k]
                    envs[f"{k} (baseline)"] = base_env
        for k, argv in cmds.items():  # warm-up: bytecode, the OS file cache, the stores
            run_once(argv, envs[k], work)
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in cmds}
        load0 = os.getloadavg()[0]
        for r in range(args.rounds):
            # Rotate the order so no command always runs right after the same one.
            names = list(cmds)
            names = names[r % len(names):] + names[:r % len(names)]
            for name in names:
                wall, cpu, _ = run_once(cmds[name], envs[name], work)
                times[name].append((wall, cpu))
        load1 = os.getloadavg()[0]
    text = table(times, args, load0, load1)
    print(text)
    args.out = args.out or HERE / "results" / f"startup-r{args.resamples}.md"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    return 0


def table(times: dict[str, list[tuple[float, float]]], args: argparse.Namespace,
          load0: float, load1: float) -> str:
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
           for k, v in times.items()}
    floor = med.get("floor-arrow", med["floor-numpy"])
    lines = [
        "# Start-up (`benchmarks/bench_startup.py`)",
        "",
        f"Median of {args.rounds} rounds, each command in a fresh process, interleaved; "
        f"{args.rows:,}-row charter, seed {args.seed}, {args.resamples} resamples. "
        "Floor: `import numpy, pyarrow`. "
        f"Target (issue 16): within {TARGET_S} s of the floor.",
        "",
        "| command | wall (s) | CPU (s) | wall − floor | CPU − floor | wall ÷ floor | "
        "min wall | max wall |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k, (w, c) in med.items():
        walls = [x for x, _ in times[k]]
        lines.append(f"| `{k}` | {w:.3f} | {c:.3f} | {w - floor[0]:+.3f} | "
                     f"{c - floor[1]:+.3f} | {w / floor[0]:.2f} | {min(walls):.3f} | "
                     f"{max(walls):.3f} |")
    if "floor-deps" in med and "evaluate" in med:
        deps, ev = med["floor-deps"][0] - floor[0], med["evaluate"][0] - floor[0]
        lines += ["", f"The evaluation's dependencies alone (`floor-deps`) take {deps:+.3f} s "
                  f"of the {TARGET_S} s over the floor; mlscope's own imports and work in "
                  f"`evaluate`, {ev - deps:+.3f} s (wall, medians)."]
    based = [k for k in med if f"{k} (baseline)" in med]
    if based:
        lines += ["", "| command | baseline CPU (s) | CPU (s) | change | baseline wall (s) | "
                  "wall (s) |", "|---|---:|---:|---:|---:|---:|"]
        for k in based:
            (bw, bc), (w, c) = med[f"{k} (baseline)"], med[k]
            lines.append(f"| `{k}` | {bc:.3f} | {c:.3f} | {c - bc:+.3f} | {bw:.3f} | {w:.3f} |")
    lines += [
        "",
        f"Setup: {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load0:.2f} → "
        f"{load1:.2f}; bytecode cache {'off' if args.no_bytecode_cache else 'on'}"
        + (f"; baseline: `{args.baseline_src}`" if args.baseline_src else "")
        + (f"; {args.label}" if args.label else "") + ".",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
