"""Generate a realistic binary evaluation table for benchmarks, and its charter.

The table has, per row: an ``int64`` row id, a 0/1 label with about 10% positives, two
skewed (Zipf-like) categorical slice columns, ``region`` (10 levels) and ``device`` (5
levels), and five models' predicted probabilities of differing quality:

=============  ==========================================================================
``gbdt``       the strongest: little noise, sees the region and device effects
``logistic``   more noise, sees the region effect only
``forest``     little noise but scores shrunk towards the base rate (under-confident)
``mlp``        noisier and over-confident
``baseline``   weak
=============  ==========================================================================

How the scores are stored (``--scores``) decides how many distinct values each model has,
which matters: an evaluation that sorts or bins the scores is much cheaper on a few
hundred distinct values than on one per row.

==============  =========================================================================
``continuous``  the default and the realistic case: every model's scores as ``float32``,
                not rounded; the only ties are probabilities ``float32`` cannot tell
                apart (at 1M rows 98.8–99.3% of each model's scores are distinct)
``rounded``     every model's scores rounded to 3 decimals and kept in [0.001, 0.999]
                (``float64``): at most 999 distinct values per model
``mixed``       the table of generator version 1, which the first published results
                used: ``float64``; ``gbdt``, ``logistic`` and ``mlp`` continuous,
                ``forest`` rounded to 3 decimals (in [0.001, 0.999]) and ``baseline``
                to 2 decimals (in [0.01, 0.99], exact 0.5 included): two of the five
                models have at most 1,000 distinct scores
==============  =========================================================================

The latent data (labels, slices, the unrounded probabilities) are the same in all three;
only how the scores are stored differs.

Rows are generated in blocks of ``row_group_size`` rows with vectorised NumPy and written one
Parquet row group per block, so 100M rows never need more memory than one block. Each
block's random numbers come from ``numpy.random.default_rng([seed, block])``: the data
depend only on ``seed``, ``rows`` and ``row_group_size``, never on the machine.

Usage::

    python benchmarks/generate.py                      # 1M rows into benchmarks/data/
    python benchmarks/generate.py --rows 10M           # or 100M; K/M/G suffixes accepted
    python benchmarks/generate.py --rows 1M --resamples 200 --force
    python benchmarks/generate.py --rows 1M --scores mixed   # the version-1 table

Writes ``bench-<rows>-<scores>.parquet`` and ``bench-<rows>-<scores>.yaml`` (the charter:
8 metrics × 5 models × 16 slices: overall, 10 regions, 5 devices).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "DEVICES",
    "GENERATOR_VERSION",
    "METRICS",
    "MODELS",
    "REGIONS",
    "SCORES",
    "THRESHOLD",
    "BenchData",
    "charter_text",
    "ensure",
    "generate",
    "parse_rows",
    "paths_for",
]

# Version 2 added ``--scores``; ``mixed`` writes the same rows as version 1.
GENERATOR_VERSION = 2
# A table is regenerated when this file changes, so that no stale table is ever measured.
_SOURCE_HASH = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
REGIONS = ["north", "south", "east", "west", "central", "coast", "mountain", "lakes",
           "islands", "border"]
DEVICES = ["android", "ios", "web", "desktop", "tv"]
MODELS = ["gbdt", "logistic", "forest", "mlp", "baseline"]
SCORES = ("continuous", "rounded", "mixed")
THRESHOLD = 0.5
# The 8 metrics of the benchmark charter: (id, parameters written in the charter).
METRICS: list[tuple[str, dict[str, float]]] = [
    ("roc_auc", {}),
    ("average_precision", {}),
    ("log_loss", {}),
    ("brier", {}),
    ("accuracy", {"threshold": THRESHOLD}),
    ("precision", {"threshold": THRESHOLD}),
    ("recall", {"threshold": THRESHOLD}),
    ("f1", {"threshold": THRESHOLD}),
]
DEFAULT_DIR = Path(__file__).resolve().parent / "data"

# The latent model: logit P(y=1) = INTERCEPT + region effect + device effect + SIGNAL * z.
_INTERCEPT = -2.8  # about 10% positives overall
_SIGNAL = 1.5
_REGION_EFFECT = np.linspace(-0.4, 0.4, len(REGIONS))
_DEVICE_EFFECT = np.array([0.0, 0.2, -0.2, 0.3, -0.3])


@dataclass(frozen=True)
class _ModelSpec:
    noise: float  # standard deviation of the noise added to the latent signal z
    slope: float  # > 1 over-confident, < 1 under-confident
    region: bool  # whether the model sees the region effect
    device: bool  # whether the model sees the device effect
    decimals: int | None  # in the ``mixed`` table: rounded to this many decimals, or None


_MODEL_SPECS: dict[str, _ModelSpec] = {
    "gbdt": _ModelSpec(noise=0.5, slope=1.0, region=True, device=True, decimals=None),
    "logistic": _ModelSpec(noise=0.8, slope=1.0, region=True, device=False, decimals=None),
    "forest": _ModelSpec(noise=0.6, slope=0.7, region=True, device=True, decimals=3),
    "mlp": _ModelSpec(noise=1.0, slope=1.4, region=False, device=True, decimals=None),
    "baseline": _ModelSpec(noise=2.0, slope=1.0, region=False, device=False, decimals=2),
}


@dataclass(frozen=True)
class BenchData:
    """Where a generated table and its charter are."""

    parquet: Path
    charter: Path
    rows: int
    scores: str = "continuous"


def parse_rows(text: str) -> int:
    """``"1000000"``, ``"1M"``, ``"250K"``, ``"1e6"`` → number of rows."""
    t = text.strip().upper().replace("_", "")
    scale = {"K": 10**3, "M": 10**6, "G": 10**9}
    factor = scale.get(t[-1:], 1)
    if t[-1:] in scale:
        t = t[:-1]
    value = float(t) * factor
    if value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(f"not a positive whole number of rows: {text!r}")
    return int(value)


def paths_for(rows: int, out_dir: Path = DEFAULT_DIR, scores: str = "continuous") -> BenchData:
    """The file names used for a table of ``rows`` rows with ``scores`` scores."""
    _check_scores(scores)
    stem = f"bench-{rows}-{scores}"
    return BenchData(out_dir / f"{stem}.parquet", out_dir / f"{stem}.yaml", rows, scores)


def _check_scores(scores: str) -> None:
    if scores not in SCORES:
        raise ValueError(f"scores must be one of {', '.join(SCORES)}, not {scores!r}")


def _zipf(k: int, s: float) -> npt.NDArray[np.float64]:
    w = 1.0 / np.arange(1, k + 1, dtype=np.float64) ** s
    return w / w.sum()


_REGION_P = _zipf(len(REGIONS), 1.1)
_DEVICE_P = _zipf(len(DEVICES), 1.2)


def _sigmoid(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = 0.5 * (1.0 + np.tanh(0.5 * x))  # stable for any x
    return out


def _stored(score: npt.NDArray[np.float64], spec: _ModelSpec, scores: str) -> pa.Array:
    """A model's probabilities as the ``scores`` kind of table stores them."""
    decimals = {"continuous": None, "rounded": 3, "mixed": spec.decimals}[scores]
    if decimals is not None:
        # Rounded like a score reported in whole percents (or per mille); never exactly
        # 0 or 1, as a probability a model reports should not be.
        step = 10.0 ** -decimals
        return pa.array(np.clip(np.round(score, decimals), step, 1.0 - step))
    if scores == "continuous":
        # float32, as most models emit; every row's score distinct up to float32's precision.
        return pa.array(score.astype(np.float32))
    return pa.array(score)


def _block(seed: int, block: int, start: int, n: int, scores: str = "continuous",
           ) -> pa.RecordBatch:
    """Rows ``start .. start + n - 1``, from their own random stream."""
    rng = np.random.default_rng([seed, block])
    region = np.searchsorted(np.cumsum(_REGION_P), rng.random(n), side="right")
    device = np.searchsorted(np.cumsum(_DEVICE_P), rng.random(n), side="right")
    region = np.minimum(region, len(REGIONS) - 1).astype(np.int8)
    device = np.minimum(device, len(DEVICES) - 1).astype(np.int8)
    z = rng.standard_normal(n)
    r_eff, d_eff = _REGION_EFFECT[region], _DEVICE_EFFECT[device]
    label = (rng.random(n) < _sigmoid(_INTERCEPT + r_eff + d_eff + _SIGNAL * z)).astype(np.int8)

    columns: dict[str, pa.Array] = {
        "row_id": pa.array(np.arange(start, start + n, dtype=np.int64)),
        "label": pa.array(label),
        "region": pa.DictionaryArray.from_arrays(pa.array(region), pa.array(REGIONS)),
        "device": pa.DictionaryArray.from_arrays(pa.array(device), pa.array(DEVICES)),
    }
    for name in MODELS:
        spec = _MODEL_SPECS[name]
        seen = _SIGNAL * (z + spec.noise * rng.standard_normal(n))
        # A noisy signal predicts less: shrink it by its reliability so that slope 1 is
        # roughly calibrated, then distort by the model's slope.
        seen *= 1.0 / (1.0 + spec.noise**2) ** 0.5
        logit = _INTERCEPT + seen
        if spec.region:
            logit += r_eff
        if spec.device:
            logit += d_eff
        score = _sigmoid(spec.slope * (logit - _INTERCEPT) + _INTERCEPT)
        columns[f"score_{name}"] = _stored(score, spec, scores)
    return pa.RecordBatch.from_pydict(columns)


def generate(
    rows: int = 1_000_000,
    out_dir: Path = DEFAULT_DIR,
    *,
    seed: int = 0,
    row_group_size: int = 250_000,
    resamples: int = 200,
    scores: str = "continuous",
) -> BenchData:
    """Write the table and its charter; returns their paths."""
    target = paths_for(rows, out_dir, scores)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = _metadata(rows, seed, row_group_size, scores)
    first = _block(seed, 0, 0, min(rows, row_group_size), scores)
    schema = first.schema.with_metadata({"mlscope_bench": json.dumps(meta)})
    tmp = target.parquet.with_suffix(".parquet.tmp")
    with pq.ParquetWriter(tmp, schema, compression="snappy") as writer:
        writer.write_batch(first.replace_schema_metadata(schema.metadata),
                           row_group_size=row_group_size)
        for block, start in enumerate(range(row_group_size, rows, row_group_size), start=1):
            batch = _block(seed, block, start, min(row_group_size, rows - start), scores)
            writer.write_batch(batch.replace_schema_metadata(schema.metadata),
                               row_group_size=row_group_size)
    tmp.replace(target.parquet)
    target.charter.write_text(charter_text(target.parquet.name, rows, resamples, seed))
    return target


def charter_text(table: str, rows: int, resamples: int, seed: int) -> str:
    """The benchmark's charter: every row in one split, 16 slices, 8 metrics."""
    metric_lines = []
    for mid, params in METRICS:
        if params:
            inline = ", ".join(f"{k}: {v}" for k, v in params.items())
            metric_lines.append(f"  - {{metric: {mid}, {inline}}}")
        else:
            metric_lines.append(f"  - {mid}")
    models = "\n".join(f"    {m}: score_{m}" for m in MODELS)
    return f"""\
# Benchmark charter written by benchmarks/generate.py ({rows} rows). Do not edit: it is
# rewritten with the data.
project: bench-{rows}
task: binary
seed: {seed}
data:
  table: {table}
  id: row_id
  label: label
  models:
{models}
splits:
  selection: validation   # no split column: every row is in the selection split
  report: null
  train: null
slices:
  columns: [region, device]   # 10 + 5 one-column slices, plus overall = 16
  min_size: 30
metrics:
{chr(10).join(metric_lines)}
selection:
  rule: satisficing
  optimize: roc_auc
intervals:
  resamples: {resamples}
"""


def _metadata(rows: int, seed: int, row_group_size: int,
              scores: str) -> dict[str, int | str]:
    """What identifies a generated table (stored in the Parquet file's metadata)."""
    return {"generator_version": GENERATOR_VERSION, "source": _SOURCE_HASH, "seed": seed,
            "rows": rows, "row_group_size": row_group_size, "scores": scores}


def _stored_meta(path: Path) -> dict[str, int | str] | None:
    try:
        raw = pq.read_schema(path).metadata or {}
        meta: dict[str, int | str] = json.loads(raw[b"mlscope_bench"])
        return meta
    except (OSError, KeyError, ValueError, pa.ArrowException):
        return None


def ensure(
    rows: int,
    out_dir: Path = DEFAULT_DIR,
    *,
    seed: int = 0,
    row_group_size: int = 250_000,
    resamples: int = 200,
    force: bool = False,
    scores: str = "continuous",
) -> tuple[BenchData, bool]:
    """The table for these parameters, generated unless an identical one exists.

    Returns the paths and whether the table was (re)generated.
    """
    target = paths_for(rows, out_dir, scores)
    wanted = _metadata(rows, seed, row_group_size, scores)
    if not force and target.parquet.exists() and _stored_meta(target.parquet) == wanted:
        target.charter.write_text(charter_text(target.parquet.name, rows, resamples, seed))
        return target, False
    return generate(rows, out_dir, seed=seed, row_group_size=row_group_size,
                    resamples=resamples, scores=scores), True


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=parse_rows, default=1_000_000,
                        help="number of rows: 1M (default), 10M, 100M, ...")
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR, help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--row-group-size", type=parse_rows, default=250_000)
    parser.add_argument("--resamples", type=int, default=200,
                        help="bootstrap resamples written into the charter")
    parser.add_argument("--scores", choices=SCORES, default="continuous",
                        help="continuous (default): every model's scores unrounded float32; "
                             "rounded: every model to 3 decimals (at most 999 distinct); "
                             "mixed: the version-1 table (two models rounded)")
    parser.add_argument("--force", action="store_true", help="regenerate even if present")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    data, made = ensure(args.rows, args.out, seed=args.seed,
                        row_group_size=args.row_group_size, resamples=args.resamples,
                        force=args.force, scores=args.scores)
    size = data.parquet.stat().st_size / 2**20
    verb = "wrote" if made else "kept existing"
    print(f"{verb} {data.parquet} ({data.rows:,} rows, {size:,.1f} MiB) and {data.charter} "
          f"in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
