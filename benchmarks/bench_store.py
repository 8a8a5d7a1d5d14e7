"""How long the store's reads take on a large store (the timings the unit suite leaves out).

The unit suite checks *how* the store reads (one indexed query per call:
``tests/test_store.py``); a clock there would fail on a loaded machine. This script times
the same reads on a store of ``--runs`` runs × ``--models`` models × ``--metrics``
metrics × 2 splits (1,000 × 20 × 10: 400,000 value rows) and writes
``benchmarks/results/store.json`` (everything) and ``store.md`` (the table, also
printed). Targets are reported, not enforced, unless ``--strict`` is given.

Run from the repository root: ``make bench-store`` (or ``make bench``, which runs it too).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
# The seconds a read may take on a shared 2-core CI machine (typically a tenth of this).
TARGET_S = 1.0


def _reads(store: Any, project: str) -> dict[str, Callable[[], Any]]:
    return {
        "runs (all)": lambda: store.runs(project),
        "runs (one page of 25)": lambda: store.runs(project, limit=25, offset=500),
        "count": lambda: store.count(project),
        "history (selection split)": lambda: store.history(project, "metric_3"),
        "history (test split)": lambda: store.history(project, "metric_3", split="test"),
        "history (two models)": lambda: store.history(project, "metric_3",
                                                      models=["model_01", "model_07"]),
    }


def run(n_runs: int, n_models: int, n_metrics: int, repeat: int) -> dict[str, Any]:
    """Fill a temporary store and time each read ``repeat`` times (best and median)."""
    # The fill helper and the hand-built result live with the tests, which use them too.
    sys.path.insert(0, str(ROOT))
    from tests.factories import make_result
    from tests.store_fill import PROJECT, bulk_fill

    from mlscope.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "store.sqlite"
        start = time.perf_counter()
        bulk_fill(path, make_result(), n_runs=n_runs, n_models=n_models, n_metrics=n_metrics)
        fill_s = time.perf_counter() - start
        reads: dict[str, dict[str, float]] = {}
        with Store.open(path) as store:
            for name, call in _reads(store, PROJECT).items():
                times = []
                for _ in range(repeat):
                    start = time.perf_counter()
                    call()
                    times.append(time.perf_counter() - start)
                reads[name] = {"best_s": min(times), "median_s": statistics.median(times)}
    return {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "processor": platform.processor()},
        "store": {"runs": n_runs, "models": n_models, "metrics": n_metrics,
                  "value_rows": n_runs * n_models * n_metrics * 2},
        "repeat": repeat, "fill_s": fill_s, "target_s": TARGET_S, "reads": reads,
    }


def markdown(report: dict[str, Any]) -> str:
    s = report["store"]
    lines = [
        f"# Store reads: {s['runs']:,} runs × {s['models']} models × {s['metrics']} metrics "
        f"({s['value_rows']:,} value rows), SQLite",
        "",
        f"{report['created_at']}; Python {report['machine']['python']} on "
        f"{report['machine']['platform']}; best and median of {report['repeat']}; "
        f"filled in {report['fill_s']:.1f} s.",
        "",
        "| read | best (s) | median (s) | target (s) |",
        "|---|---:|---:|---:|",
    ]
    for name, t in report["reads"].items():
        mark = "" if t["median_s"] < report["target_s"] else " ✗"
        lines.append(f"| {name} | {t['best_s']:.4f} | {t['median_s']:.4f}{mark} | "
                     f"{report['target_s']:g} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--metrics", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path, default=RESULTS, help="folder for store.json/.md")
    ap.add_argument("--strict", action="store_true",
                    help="exit 1 when a read's median misses the target")
    args = ap.parse_args(argv)
    report = run(args.runs, args.models, args.metrics, args.repeat)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "store.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    text = markdown(report)
    (args.out / "store.md").write_text(text, encoding="utf-8")
    print(text)
    missed = [n for n, t in report["reads"].items() if t["median_s"] >= report["target_s"]]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
