"""Does training on a surrogate of the charter's metric beat cross-entropy plus a tuned
threshold? The honest comparison of ``mlscope.losses`` (docs/losses.md).

For each table (Caravan from ISLP, 6 % buyers; scikit-learn's digits, one digit against
the rest) and each model (a linear model and a one-hidden-layer MLP), the same network is
trained on the same training rows with

(a) ``ce``: cross-entropy (``BCEWithLogitsLoss``) for all the steps; ``ce-es``: the
    same run, keeping the checkpoint with the lowest validation log loss (checked every
    10 steps; early stopping, the usual recipe);
(b) ``<loss>``: a surrogate from scratch;
(c) ``<loss>+warm``: cross-entropy for the first half of the steps, the surrogate for
    the second half (warm start, as LibAUC's and Lovász's authors advise);
(d) ``ce@pr`` and ``<loss>@pr``: the run of (a) or (b) keeping the checkpoint with the
    highest validation precision at recall >= r (the charter's metric; checkpoints
    every 10 steps), so that every loss gets the same use of the validation rows as
    ``ce-es``,

all with the same optimiser (Adam, full batch, the same steps, learning rate and weight
decay), over several seeds (the seed sets the initial weights; the split is fixed). No
hyperparameter of any loss is tuned: temperatures are the defaults, which is part of the
question. Every method's operating threshold is then chosen on the validation rows with
mlscope's own choosers (``precision_at_recall``'s, ``f1``'s ``threshold: optimize``) and
carried to the test rows, where mlscope's exact metrics are computed.

The interval of (method − ce) is a paired, two-level bootstrap: each replicate resamples
the test rows (the same resample for both methods) *and* the seeds (with replacement),
and takes the mean over the resampled seeds of the difference on the resampled rows;
mlscope's :func:`mlscope.compare.paired.paired_bootstrap` turns the replicates into the
percentile interval and the centred p-value. A gain "survives" when the interval's lower
end is above 0.

Run (2 CPU cores, a few minutes)::

    PYTHONPATH=src .venv/bin/python benchmarks/losses_bench.py            # full
    PYTHONPATH=src .venv/bin/python benchmarks/losses_bench.py --quick    # smoke run

It writes ``benchmarks/results/losses.json`` and ``losses.md`` and prints the table.
Needs torch, scikit-learn and ISLP (the example's extras plus ``[torch]``).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mlscope.compare.paired import paired_bootstrap
from mlscope.losses import PrecisionAtRecallLoss, SmoothAPLoss, SoftFBeta
from mlscope.metrics import get_metric
from mlscope.metrics.binary_threshold import best_threshold
from mlscope.metrics.stats import binary_stats

RESULTS = Path(__file__).resolve().parent / "results"
EVAL_EVERY = 10


@dataclass
class Table:
    name: str
    x: np.ndarray
    y: np.ndarray
    split: np.ndarray  # "train" / "validation" / "test"
    recall: float  # the operating point: precision at recall >= this
    note: str


def _split(y: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.model_selection import train_test_split

    idx = np.arange(y.size)
    train, rest = train_test_split(idx, train_size=0.5, stratify=y, random_state=seed)
    val, test = train_test_split(rest, train_size=0.5, stratify=y[rest],
                                 random_state=seed + 1)
    out = np.empty(y.size, dtype=object)
    out[train], out[val], out[test] = "train", "validation", "test"
    return out


def _standardise(x: np.ndarray, split: np.ndarray) -> np.ndarray:
    mu = x[split == "train"].mean(axis=0)
    sd = x[split == "train"].std(axis=0)
    return (x - mu) / np.where(sd > 0, sd, 1.0)


def caravan() -> Table:
    """Caravan as examples/caravan/prepare.py reads it, split 50/25/25 with its seed."""
    from ISLP import load_data

    df = load_data("Caravan")
    y = (df["Purchase"].astype(str) == "Yes").to_numpy().astype(np.int64)
    x = df.drop(columns=["Purchase"]).to_numpy(dtype=np.float64)
    split = _split(y, 42)
    return Table("caravan", _standardise(x, split), y, split, 0.65,
                 f"{y.size} customers, {y.mean():.1%} buyers, 85 features")


def digits(positive: int = 8, share: float | None = 0.03) -> Table:
    """Digits, ``positive`` against the rest; with ``share``, the positive images are
    subsampled (seeded) to that share of the rows."""
    from sklearn.datasets import load_digits

    x, d = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    pos, neg = np.flatnonzero(d == positive), np.flatnonzero(d != positive)
    if share is not None:
        pos = rng.choice(pos, size=round(share * neg.size / (1 - share)), replace=False)
    rows = np.sort(np.concatenate([pos, neg]))
    x, y = x[rows].astype(np.float64), (d[rows] == positive).astype(np.int64)
    split = _split(y, 42)
    how = "all its images" if share is None else "its images subsampled"
    return Table(f"digits-{positive}-{round(100 * y.mean())}pct", _standardise(x, split), y,
                 split, 0.9, f"{y.size} images, digit {positive} against the rest, {how}: "
                 f"{y.mean():.1%} positive")


def make_model(kind: str, d: int) -> torch.nn.Module:
    if kind == "linear":
        return torch.nn.Linear(d, 1)
    return torch.nn.Sequential(torch.nn.Linear(d, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))


def surrogates(table: Table) -> dict[str, Callable[[], torch.nn.Module]]:
    return {
        "pr-lagrangian": lambda: PrecisionAtRecallLoss(recall=table.recall),
        "soft-f1": lambda: SoftFBeta(beta=1.0),
        "smooth-ap": lambda: SmoothAPLoss(),
    }


def train(table: Table, kind: str, method: str, seed: int, steps: int, lr: float
          ) -> np.ndarray:
    """Train one model; return its probabilities on every row.

    ``method``: ``ce``, ``ce-es`` (checkpoint with the lowest validation log loss) or a
    surrogate's name, with ``+warm`` (cross-entropy for the first half of the steps) and/or
    ``@pr`` (checkpoint with the highest validation precision at recall >= r, the
    charter's metric), both checked every ``EVAL_EVERY`` steps.
    """
    torch.manual_seed(seed)
    tr, va = table.split == "train", table.split == "validation"
    x = torch.tensor(table.x, dtype=torch.float32)
    y = torch.tensor(table.y, dtype=torch.float32)
    model = make_model(kind, x.shape[1])
    ce = torch.nn.BCEWithLogitsLoss()
    name, _, criterion = method.partition("@")
    base, _, warm = name.partition("+")
    phases: list[tuple[torch.nn.Module, int]]
    if base in ("ce", "ce-es"):
        phases = [(ce, steps)]
    else:
        sur = surrogates(table)[base]()
        phases = [(ce, steps // 2), (sur, steps - steps // 2)] if warm else [(sur, steps)]
    p_at_r = get_metric("precision_at_recall")
    pr_params = p_at_r.resolve_params({"recall": table.recall}, task="binary")

    def score() -> float | None:
        # Higher is better; None when no checkpoint is chosen for this method.
        if base == "ce-es":
            with torch.no_grad():
                return -float(ce(model(x[va])[:, 0], y[va]))
        if criterion == "pr":
            with torch.no_grad():
                pv = torch.sigmoid(model(x[va])[:, 0].double()).numpy()
            v = float(p_at_r.fn(binary_stats(table.y[va], pv), **pr_params))
            return v if np.isfinite(v) else -np.inf
        return None

    best: tuple[float, dict[str, torch.Tensor]] | None = None
    step = 0
    for loss, n in phases:
        opt = torch.optim.Adam(list(model.parameters()) + list(loss.parameters()), lr=lr,
                               weight_decay=1e-4)
        for _ in range(n):
            opt.zero_grad()
            out = loss(model(x[tr])[:, 0], y[tr])
            out.backward()
            opt.step()
            step += 1
            if step % EVAL_EVERY == 0 and (v := score()) is not None and (
                    best is None or v > best[0]):
                best = (v, {k: t.clone() for k, t in model.state_dict().items()})
    if best is not None:
        model.load_state_dict(best[1])
    with torch.no_grad():
        return torch.sigmoid(model(x)[:, 0].double()).numpy()


def _thresholds(table: Table, p: np.ndarray) -> dict[str, float]:
    val = table.split == "validation"
    stats = binary_stats(table.y[val], p[val])
    return {"p_at_r": best_threshold("precision_at_recall", stats, recall=table.recall),
            "f1": best_threshold("f1", stats)}


def test_metrics(table: Table, p: np.ndarray, thr: dict[str, float],
                 weights: np.ndarray) -> dict[str, np.ndarray]:
    """Test-set metrics under each row of ``weights`` (R × n_test bootstrap counts; the
    first row all ones: the point estimate)."""
    te = table.split == "test"
    y, s = table.y[te].astype(np.float64), p[te]
    out: dict[str, np.ndarray] = {}
    for key, t in thr.items():
        pred = (s >= t).astype(np.float64)
        tp, pp, pos = weights @ (y * pred), weights @ pred, weights @ y
        with np.errstate(invalid="ignore", divide="ignore"):
            out[key] = tp / pp if key == "p_at_r" else 2 * tp / (pp + pos)
    ap = get_metric("average_precision")
    out["ap"] = np.array([float(ap.fn(binary_stats(y, s, weight=w))) for w in weights])
    auc = get_metric("roc_auc")
    out["auc"] = np.array([float(auc.fn(binary_stats(y, s, weight=w))) for w in weights])
    return out


def run(tables: list[Table], kinds: list[str], seeds: int, steps: int, lr: float,
        resamples: int) -> dict[str, Any]:
    rng = np.random.default_rng(2026)
    results: dict[str, Any] = {"settings": {"seeds": seeds, "steps": steps, "lr": lr,
                                            "resamples": resamples}, "cells": []}
    for table in tables:
        n_test = int((table.split == "test").sum())
        w = np.vstack([np.ones(n_test), rng.multinomial(
            n_test, np.full(n_test, 1 / n_test), size=resamples).astype(np.float64)])
        seed_draws = rng.integers(0, seeds, size=(resamples, seeds))
        methods = ["ce", "ce-es", "ce@pr"] + [f"{s}{w}" for s in surrogates(table)
                                              for w in ("", "+warm", "@pr")]
        for kind in kinds:
            t0 = time.perf_counter()
            values: dict[str, dict[str, np.ndarray]] = {}  # method → metric → seeds × R+1
            for method in methods:
                per_seed = []
                for seed in range(seeds):
                    p = train(table, kind, method, seed, steps, lr)
                    per_seed.append(test_metrics(table, p, _thresholds(table, p), w))
                values[method] = {k: np.vstack([d[k] for d in per_seed])
                                  for k in per_seed[0]}
            cell = {"table": table.name, "note": table.note, "recall": table.recall,
                    "model": kind, "seconds": round(time.perf_counter() - t0, 1),
                    "methods": {}}
            for method in methods:
                row: dict[str, Any] = {}
                for metric, v in values[method].items():
                    est = float(np.nanmean(v[:, 0]))
                    row[metric] = {"value": est, "per_seed": [float(a) for a in v[:, 0]]}
                    refs = ("ce", "ce-es", "ce@pr")
                    for ref in refs:
                        # Each method against the references listed before it and itself.
                        if refs.index(ref) >= (refs.index(method) if method in refs else 3):
                            continue
                        d = v - values[ref][metric]  # seeds × (R + 1), paired on rows
                        reps = np.nanmean(np.take_along_axis(
                            d[:, 1:].T, seed_draws, axis=1), axis=1)
                        b = paired_bootstrap(reps, float(np.nanmean(d[:, 0])))
                        sfx = {"ce": "", "ce-es": "_es", "ce@pr": "_pr"}[ref]
                        row[metric].update({f"diff{sfx}": b.estimate, f"lower{sfx}": b.lower,
                                            f"upper{sfx}": b.upper,
                                            f"p_value{sfx}": b.p_value})
                cell["methods"][method] = row
            results["cells"].append(cell)
            print(f"{table.name}/{kind}: {cell['seconds']} s", flush=True)
    return results


_METRICS = [("p_at_r", "precision at recall ≥ r"), ("f1", "F1"),
            ("ap", "average precision"), ("auc", "ROC AUC")]


def markdown(results: dict[str, Any]) -> str:
    s = results["settings"]
    lines = [f"{s['seeds']} seeds, {s['steps']} full-batch Adam steps (lr {s['lr']}, "
             f"weight decay 1e-4), {s['resamples']} paired two-level bootstrap resamples; "
             "Δ = method − ce on the test rows, 95 % interval (the last two columns: "
             "the precision at recall's Δ against ce-es and against ce@pr); **bold**: the "
             "interval excludes 0.", ""]
    for cell in results["cells"]:
        lines += [f"**{cell['table']}, {cell['model']}** ({cell['note']}; precision at "
                  f"recall ≥ {cell['recall']}; {cell['seconds']} s)", "",
                  "| method | " + " | ".join(m for _, m in _METRICS)
                  + " | precision at recall: Δ vs ce-es | Δ vs ce@pr |",
                  "|---|" + "---:|" * (len(_METRICS) + 2)]
        for method, row in cell["methods"].items():
            parts = []
            for key, _ in _METRICS:
                r = row[key]
                if method == "ce" or r.get("lower") is None:
                    parts.append(f"{r['value']:.3f}")
                    continue
                txt = (f"{r['value']:.3f} (Δ {r['diff']:+.3f} "
                       f"[{r['lower']:+.3f}, {r['upper']:+.3f}])")
                parts.append(f"**{txt}**" if r["lower"] > 0 or r["upper"] < 0 else txt)
            r = row["p_at_r"]
            for sfx in ("_es", "_pr"):
                lo, hi = r.get(f"lower{sfx}"), r.get(f"upper{sfx}")
                if lo is None or hi is None:
                    parts.append("")
                    continue
                txt = f"{r[f'diff{sfx}']:+.3f} [{lo:+.3f}, {hi:+.3f}]"
                parts.append(f"**{txt}**" if lo > 0 or hi < 0 else txt)
            lines.append(f"| {method} | " + " | ".join(parts) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="2 seeds, 60 steps, 200 resamples")
    ap.add_argument("--tables", default="caravan,digits3,digits10",
                    help="comma-separated: caravan, digits3 (8s at 3 %%), digits10 (all 8s)")
    ap.add_argument("--out", type=Path, default=RESULTS,
                    help="folder for losses.json and losses.md (not written with --quick)")
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.steps, args.resamples = 2, 60, 200
    # One thread: on a shared 2-core machine two threads contend and run ~10x slower.
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    makers = {"caravan": caravan, "digits3": digits, "digits10": lambda: digits(share=None)}
    names = [t.strip() for t in args.tables.split(",") if t.strip()]
    unknown = sorted(set(names) - set(makers))
    if unknown:
        ap.error(f"unknown table(s) {', '.join(unknown)}; choose from {', '.join(makers)}")
    results = run([makers[t]() for t in names], ["linear", "mlp"], args.seeds, args.steps,
                  args.lr, args.resamples)
    results["settings"]["total_seconds"] = round(time.perf_counter() - t0, 1)
    results["settings"]["torch"] = torch.__version__
    text = markdown(results)
    print(text)
    print(f"total {results['settings']['total_seconds']} s")
    if not args.quick:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "losses.json").write_text(json.dumps(results, indent=1))
        (args.out / "losses.md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
