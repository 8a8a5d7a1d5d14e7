"""``mlscope profile CHARTER``: latency, throughput and memory of the charter's models.

Each model's artifact comes from the charter's ``profile.artifacts`` (a path inside the
project, or ``module:function`` beside the charter) or from ``--artifact NAME=PATH``;
rows come from the charter's data (its first rows, feature columns only). Writes
``profile.json`` into ``--out`` (default ``mlscope-out/profile/`` beside the charter) and
prints a summary (``--json``: the record itself). Exit 0; 2 for bad input: a model or
artifact that does not exist or load, a predict call that raises, a batch size below 1,
a QPS or latency bound ≤ 0. See docs/profiling.md.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from mlscope._version import __version__
from mlscope.atomic import write_atomic
from mlscope.charter import load_charter
from mlscope.charter.schema import Charter
from mlscope.errors import InputError, did_you_mean
from mlscope.paths import project_file
from mlscope.plugins import UserCodeError, describe
from mlscope.profile.loaders import LoadedModel, is_callable_ref, load_model, prepare_batches
from mlscope.profile.memory import fingerprint, peak_memory
from mlscope.profile.session import ProfileOptions, Scenario, profile_model
from mlscope.profile.statistics import ratio_interval

__all__ = ["parse_artifacts", "parse_batch_sizes", "profile_command", "render_profile"]

SAMPLE_ROWS = 1000  # rows fed to the models, cycled; enough variety for trees and kNN


def parse_batch_sizes(text: str) -> tuple[int, ...]:
    """``"1,8,64"`` → ``(1, 8, 64)``; exit 2 for anything but whole numbers ≥ 1."""
    try:
        sizes = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise InputError(f"--batch-sizes {text!r}: give whole numbers separated by commas, "
                         "e.g. --batch-sizes 1,8,64") from None
    bad = [b for b in sizes if b < 1]
    if bad or not sizes:
        raise InputError(f"--batch-sizes {text!r}: a batch size must be at least 1, got "
                         f"{bad[0] if bad else 'none'}; write e.g. --batch-sizes 1,8,64")
    return sizes


def parse_artifacts(items: tuple[str, ...]) -> dict[str, str]:
    """``("gbdt=models/gbdt.joblib",)`` → ``{"gbdt": "models/gbdt.joblib"}``."""
    out: dict[str, str] = {}
    for it in items:
        name, sep, path = it.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise InputError(f"--artifact {it!r}: write NAME=PATH, e.g. "
                             "--artifact gbdt=models/gbdt.joblib")
        out[name.strip()] = path.strip()
    return out


def _artifacts(ch: Charter, base: Path, cli: dict[str, str]) -> dict[str, tuple[str, Path]]:
    """name → (spec to load, folder it is relative to). The charter's paths must lie in
    the project; a path given on the command line is the user's own choice (as a data
    file given to ``mlscope init``) and is taken relative to the working directory."""
    out: dict[str, tuple[str, Path]] = {}
    for name, spec in ((ch.profile.artifacts or {}).items() if ch.profile else []):
        if not is_callable_ref(spec):
            project_file(base, spec, what=f"profile.artifacts.{name}")
        out[name] = (spec, base)
    for name, spec in cli.items():
        out[name] = (spec, base if is_callable_ref(spec) else Path.cwd())
    return out


def _rows(ch: Charter, base: Path) -> Any:
    """The first :data:`SAMPLE_ROWS` rows of the charter's data, without the columns that
    are not features (id, label, split, weight, time, scores, error columns)."""
    from mlscope.data.propose import read_sample

    d = ch.data
    src = d.table or d.labels
    if src is None:
        raise InputError("mlscope profile reads its input rows from `data.table` or "
                         "`data.labels` (a Parquet or CSV file); this charter has neither")
    df = read_sample(project_file(base, src, what="data.table" if d.table else "data.labels"))
    drop = {c for c in (d.id, d.label, d.split, d.weight, d.time) if c}
    for cols in (d.models or {}).values():
        drop |= set(cols.values()) if isinstance(cols, dict) else {cols}
    for cols in d.errors.values():
        drop |= set(cols.values()) if isinstance(cols, dict) else {cols}
    return df.drop(columns=[c for c in df.columns if c in drop]).head(SAMPLE_ROWS)


def _numeric(model: LoadedModel, rows: Any) -> Any:
    # A model without recorded feature names (ONNX, torch, a function) gets the numeric
    # columns: text columns (slice labels) cannot be fed to an array model anyway.
    if model.features is not None or model.kind == "callable":
        return rows
    return rows.select_dtypes("number")


def _first_call(model: LoadedModel, rows: Any) -> None:
    batch = prepare_batches(model, rows, 1, 1)[0]
    try:
        model.predict(batch)
    except UserCodeError as exc:
        raise InputError(f"{exc}\nfix: `{model.source}` is called with a batch of rows of "
                         "the charter's data (a pandas DataFrame of its feature columns) "
                         "and must return the predictions without raising") from None
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"model `{model.name}`: {model.method} raised {describe(exc)} on a "
                         "row of the charter's data; check that the artifact takes these "
                         "columns (the fitted features), or pass another --artifact") from None


def profile_command(charter: Path, *, models: tuple[str, ...], artifacts: tuple[str, ...],
                    opts: ProfileOptions, out: Path | None, as_json: bool,
                    memory: bool = True, seed_from_charter: bool = False,
                    console: Console | None = None) -> int:
    """Run ``mlscope profile``; returns the exit code (0).

    Raises
    ------
    InputError, CharterError
        Bad input (exit 2), with the fix.
    """
    con = console or Console(highlight=False, width=80)
    ch = load_charter(charter)
    base = charter.expanduser().resolve().parent
    dep = ch.planning.deployment if ch.planning else None
    if seed_from_charter:
        opts = replace(opts, seed=ch.seed)
    if opts.latency_bound_ms is None and dep is not None and dep.latency_budget_ms:
        opts = replace(opts, latency_bound_ms=dep.latency_budget_ms)
    opts.check()
    given = parse_artifacts(artifacts)
    known = _artifacts(ch, base, given)
    # A model given an artifact on the command line is profiled too: naming it there is
    # asking for it.
    chosen = list(dict.fromkeys([*models, *given])) if models else list(known)
    if not chosen:
        raise InputError("no model to profile: name each model's artifact in the charter "
                         "(`profile: {artifacts: {gbdt: data/models/gbdt.joblib}}`) or with "
                         "--artifact NAME=PATH")
    charter_models = list(ch.data.models or {}) + list(ch.data.predictions or {})
    for name in chosen:
        if name not in known:
            where = "a model of the charter without an artifact" if name in charter_models \
                else "not a model of the charter"
            choices = list(dict.fromkeys([*known, *charter_models]))
            raise InputError(f"--model {name}: {where}{did_you_mean(name, choices)}; add "
                             f"`profile.artifacts.{name}: PATH` to the charter or pass "
                             f"--artifact {name}=PATH (models with artifacts: "
                             f"{', '.join(known) or 'none'})")
    rows = _rows(ch, base)
    record: dict[str, Any] = {
        "mlscope_version": __version__, "project": ch.project,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "options": {**asdict(opts), "batch_sizes": list(opts.batch_sizes)},
        "environment": fingerprint(), "models": {},
    }
    for name in chosen:
        spec, folder = known[name]
        model = load_model(name, spec, folder)
        feed = _numeric(model, rows)
        _first_call(model, feed)
        rec = profile_model(model, feed, opts)
        rec["memory"] = peak_memory(name, spec, folder, feed.head(max(opts.batch_sizes)),
                                    batch_size=max(opts.batch_sizes), calls=5) \
            if memory else None
        rec["budgets"] = _budgets(rec, dep)
        record["models"][name] = rec
    record["comparisons"] = _comparisons(record["models"], opts)
    folder_out = out if out is not None else charter.parent / "mlscope-out" / "profile"
    folder_out.mkdir(parents=True, exist_ok=True)
    record = _finite(record)
    path = write_atomic(folder_out / "profile.json",
                        json.dumps(record, indent=1, ensure_ascii=False, allow_nan=False))
    if as_json:
        print(json.dumps(record, indent=2, ensure_ascii=False))  # plain: no wrapping
        return 0
    render_profile(record, con)
    con.print(f"wrote {escape(str(path))}")
    return 0


def _finite(x: Any) -> Any:
    """JSON has no infinity: a rate over a zero-length span (a clock too coarse to see a
    call) is written as null."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    return x


def _comparisons(models: dict[str, Any], opts: ProfileOptions) -> list[dict[str, Any]]:
    """Each model's single-stream median latency over the first model's, with a bootstrap
    interval over calls (warm-up set aside): "1.8× (1.7–1.9)" rather than a threshold."""
    steady = {}
    for name, rec in models.items():
        ss = rec.get("single_stream")
        if ss is not None:
            skip = ss["warmup"]["calls"] if ss["warmup"] else 0
            steady[name] = ss["latencies_ns"][skip:]
    names = list(steady)
    out = []
    for name in names[1:]:
        r = ratio_interval(steady[name], steady[names[0]], statistic="median",
                           confidence=opts.confidence, seed=opts.seed)
        out.append({"model": name, "reference": names[0], **r.to_dict()})
    return out


def _budgets(rec: dict[str, Any], dep: Any) -> dict[str, Any]:
    """The planning budgets against the figures: met, not met or unverified."""
    out: dict[str, Any] = {}
    if dep is None:
        return out
    ss = rec.get("single_stream") or {}
    up = ((ss.get("percentiles") or {}).get("p99") or {}).get("upper_ms")
    if dep.latency_budget_ms:
        out["latency_budget_ms"] = {
            "budget": dep.latency_budget_ms, "p99_upper_ms": up,
            "status": "unverified" if up is None else
            "met" if up <= dep.latency_budget_ms else "not met"}
    mem = (rec.get("memory") or {}).get("peak_mb")
    if dep.memory_mb:
        out["memory_mb"] = {"budget": dep.memory_mb, "peak_mb": mem,
                            "status": "unverified" if mem is None else
                            "met" if mem <= dep.memory_mb else "not met"}
    return out


def _ms(v: float | None) -> str:
    """Three significant digits without exponents (1,770 rather than 1.77e+03)."""
    if v is None:
        return "–"
    a = abs(v)
    return (f"{v:,.0f}" if a >= 100 else f"{v:.1f}" if a >= 10 else f"{v:.2f}" if a >= 1
            else f"{v:.3g}")


def _ratio(r: float, low: float, high: float) -> str:
    """A median ratio read as a person says it: "550× faster (540–560)", "2.1× slower
    (1.9–2.3)", or no clear difference when the interval holds 1."""
    if high < 1:
        return f"{_ms(1 / r)}× faster ({_ms(1 / high)}–{_ms(1 / low)})"
    if low > 1:
        return f"{_ms(r)}× slower ({_ms(low)}–{_ms(high)})"
    return f"{_ms(r)}× ({_ms(low)}–{_ms(high)}): no clear difference"


def _machine_notes(env: dict[str, Any]) -> list[str]:
    """What makes these figures hard to compare: a busy machine, unpinned threads."""
    notes = []
    load = env.get("load_per_core")
    if isinstance(load, int | float) and load > 0.5:
        notes.append(f"the machine was busy (load {load:.1f} per core at the start): "
                     "latencies include waiting for the CPU; compare runs on a quiet one")
    threads = env.get("threads") or {}
    if not any(threads.values()):
        notes.append("OMP_NUM_THREADS and the BLAS thread variables are unset: libraries "
                     "may use every core, which makes tail latencies vary; set "
                     "OMP_NUM_THREADS=1 to compare models")
    return notes


def render_profile(record: dict[str, Any], con: Console) -> None:
    """A summary that fits 80 columns: per model, latency percentiles with their upper
    bounds, throughput, the QPS found, memory and size."""
    env = record["environment"]
    con.print(f"[bold]Profile of {escape(record['project'])}[/]  ·  {escape(env['cpu'])}, "
              f"{env['cores_usable']} core(s), Python {env['python']}")
    for note in _machine_notes(env):
        text = Text("note ", style="yellow")
        text.append(note)
        con.print(Padding(text, (0, 0, 0, 2)))  # wrapped lines keep the indent
    conf = record["options"]["confidence"]
    for name, rec in record["models"].items():
        con.print()
        con.print(f"[bold]{escape(name)}[/] ({rec['kind']}, {escape(rec['method'])}"
                  + (f", {_ms(rec['size_mb'])} MB" if rec["size_mb"] is not None else "")
                  + (f", {rec['parameters']:,} parameters" if rec["parameters"] else "")
                  + ")")
        t = Table(box=None, pad_edge=False, show_edge=False)
        t.add_column("scenario")
        for col in ("calls", "p50 ms", "p90 ms", "p99 ms (bound)", "mean ms"):
            t.add_column(col, justify="right")
        rows = [("single-stream", rec["single_stream"]), ("server", rec["server"])]
        rows += [(f"batch {b['batch_size']}", b["latency"]) for b in rec["batch_sweep"] or []]
        for label, s in rows:
            if s is None:
                continue
            p = s["percentiles"]
            t.add_row(label, f"{s['measured']}", _ms(p["p50"]["value_ms"]),
                      _ms(p["p90"]["value_ms"]),
                      f"{_ms(p['p99']['value_ms'])} (≤ {_ms(p['p99']['upper_ms'])})",
                      _ms(s["mean_ms"]))
        con.print(t)
        short = any(s is not None and s["percentiles"]["p99"]["upper_ms"] is None
                    for _, s in rows)
        con.print(f"  (bound: {conf:.0%} upper confidence bound, an order statistic"
                  + ("; – too few calls)" if short else ")"), style="dim")
        ss = rec["single_stream"]
        if ss and ss["warmup"]:
            w = ss["warmup"]
            con.print(f"  warm-up: {w['calls']} slow call(s) set aside" if w["settled"] else
                      "  warm-up: the series did not settle; run longer (--calls)")
        if rec["server"]:
            s = rec["server"]
            con.print(f"  server: {s['target_qps']:g} QPS asked, {_ms(s['achieved_qps'])} "
                      f"served; mean wait in queue {_ms(s['queueing_mean_ms'])} ms")
        if rec["qps_search"]:
            q = rec["qps_search"]
            found = "none passed" if q["qps"] is None else f"{_ms(q['qps'])} QPS"
            con.print(f"  highest QPS with p99 ≤ {q['latency_bound_ms']:g} ms (upper bound): "
                      f"{found} ({len(q['trials'])} trials)")
        if rec["offline"]:
            o = rec["offline"]
            con.print(f"  offline: {_ms(o['throughput_rows_per_s'])} rows/s at batch "
                      f"{o['rows']}")
        if rec["memory"] and rec["memory"]["peak_mb"] is not None:
            m = rec["memory"]
            con.print(f"  memory: peak {_ms(m['peak_mb'])} MB over load + predictions; "
                      f"cold load {_ms(m['cold_load_mb'])} MB (libraries)")
        for key, b in rec["budgets"].items():
            con.print(f"  budget {key}: {b['budget']:g} — {b['status']}")
        for note in rec["notes"]:
            con.print(f"  [yellow]note[/] {escape(note)}")
    if record.get("comparisons"):
        con.print()
        con.print(f"[bold]Median latency against "
                  f"{escape(record['comparisons'][0]['reference'])}[/] "
                  f"(single-stream; {conf:.0%} bootstrap interval)")
        for c in record["comparisons"]:
            con.print(f"  {escape(c['model'])}: {_ratio(c['ratio'], c['low'], c['high'])}")


def scenario_of(text: str) -> Scenario:
    """The click choice as the typed scenario."""
    return text  # type: ignore[return-value]
