"""Power and size of the slice gates, at more simulations than the test suite runs.

    PYTHONPATH=src python benchmarks/bench_slice_gates.py [--power 500] [--null 1000]

(``make bench-gates``; ``make bench`` runs it too.) The figures are printed and written to
``benchmarks/results/slice-gates.md``.

The scenario of ``tests/test_slice_gate_power.py`` (20,000 rows, 40 slices, a planted
ROC AUC regression of 0.1 in the 10 % slice), with gate margins 0.01 and 0: the share of
simulations in which the planted slice fails (power), another slice fails, and, with no
planted regression, any slice fails (size; nominal ≤ fdr = 0.05).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.test_slice_gate_power import (
    _charter,
    _gates,
    _simulate,
    _slice_failures,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--power", type=int, default=500, help="simulations with a regression")
    parser.add_argument("--null", type=int, default=1000, help="simulations without")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent / "results" / "slice-gates.md")
    args = parser.parse_args(argv)
    rows = []
    for margin in (0.01, 0.0):
        rng = np.random.default_rng(args.seed)
        ch = _charter(margin)
        hits = wrong = false = 0
        for _ in range(args.power):
            diffs, values = _simulate(rng, planted=True)
            failed = _slice_failures(_gates(ch, diffs, values, rng))
            hits += "s=0" in failed
            wrong += any(s != "s=0" for s in failed)
        for _ in range(args.null):
            diffs, values = _simulate(rng, planted=False)
            false += bool(_slice_failures(_gates(ch, diffs, values, rng)))
        print(f"margin {margin}: power {hits / args.power:.3f} ({hits}/{args.power}), "
              f"another slice failed {wrong / args.power:.3f}, "
              f"any false failure under the null {false / args.null:.3f} "
              f"({false}/{args.null})")
        rows.append(f"| {margin} | {hits / args.power:.3f} ({hits}/{args.power}) | "
                    f"{wrong / args.power:.3f} | {false / args.null:.3f} "
                    f"({false}/{args.null}) |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        "# Slice gates: power and size\n\n"
        "20,000 rows, 40 slices, a planted ROC AUC regression of 0.1 in the 10 % slice "
        f"(seed {args.seed}; `benchmarks/bench_slice_gates.py`). Nominal size: any false "
        "failure ≤ fdr = 0.05.\n\n"
        "| gate margin | power (planted slice fails) | another slice also fails | "
        "any false failure, no regression |\n|---|---|---|---|\n" + "\n".join(rows) + "\n",
        encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
