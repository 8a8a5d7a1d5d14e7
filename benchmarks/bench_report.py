"""The scale benchmark's results as Markdown (``scale-<rows>-<scores>.md``, also printed)."""

from __future__ import annotations

from typing import Any

__all__ = ["markdown"]


def _num(value: float | None, fmt: str = ".3f") -> str:
    return "n/a" if value is None else format(value, fmt)


def _times(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}×" if value < 10 else f"{value:,.0f}×"


def _seconds(value: float) -> str:
    if value >= 3600:
        return f"{value:,.0f} ({value / 3600:.1f} h)"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def _method_rows(report: dict[str, Any]) -> list[str]:
    methods: dict[str, dict[str, Any]] = report["methods"]

    def estimate(name: str) -> float | None:
        value = methods.get(name, {}).get("estimate_s")
        return float(value) if value is not None else None

    ml, boot = estimate("mlscope"), estimate("mlscope-boot")
    lines = [
        "| method | what it does | time (s) | how | runs (s) | peak RSS (MiB) | "
        "over imports (MiB) | ÷ mlscope | ÷ mlscope-boot | others' CPU |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in methods.items():
        if m["status"] != "ok":
            why = m.get("reason") or (m.get("error") or "").splitlines()[0][:120]
            lines.append(f"| {name} | {m['what']} | {m['status']} | {why} | | | | | | |")
            continue
        t = float(m["estimate_s"])
        shown = f"**{_seconds(t)}**†" if m["extrapolated"] else f"**{_seconds(t)}**"
        runs = ", ".join(f"{r['wall_s']:.2f}" for r in m["runs"])
        rss = f"{m['peak_rss_mib']:,.0f}"
        over = f"{m['over_imports_mib']:,.0f}"
        if name in ("fairlearn", "fairlearn-boot") and m["extrapolated"]:
            rss, over = rss + " (subsample)", over + " (subsample)"
        how = m["how"]
        if m.get("reused_from"):
            how += f"; **reused** from the run at {m['reused_from']}"
        ratio_ml = _times(t / ml) if ml else "n/a"
        ratio_boot = _times(t / boot) if boot else "n/a"
        lines.append(f"| {name} | {m['what']} | {shown} | {how} | {runs} | {rss} | "
                     f"{over} | {ratio_ml} | {ratio_boot} | {_share(m.get('others_cpu_share'))} |")
    return lines


def _source_lines(git: dict[str, Any]) -> list[str]:
    """Which mlscope code was measured (see ``bench_evaluate.provenance``)."""

    def state(g: dict[str, Any]) -> str:
        dirty = " + uncommitted changes in src/" if g.get("src_uncommitted_changes") else ""
        return f"commit {(g.get('commit') or 'unknown')[:12]}{dirty}, hash {g['src_sha256']}"

    start, end = git["start"], git["end"]
    if not git["changed_during_run"]:
        return [f"- mlscope measured: {state(start)} (src/mlscope hash)."]
    lines = [f"- **Not all mlscope methods measured the same code** (src/mlscope changed "
             f"during the run, or methods were reused from an earlier run). At the start: "
             f"{state(start)}; at the end: {state(end)}."]
    lines += [f"  - {m} measured src/mlscope hash {h}"
              + (" (the start's)" if h == start["src_sha256"] else "")
              for m, h in git["measured"].items()]
    return lines


_SCORES_TITLE = {"continuous": "continuous scores", "rounded": "rounded scores",
                 "mixed": "mixed scores"}
# Results written before ``--scores`` existed have no ``scores`` in their job: they were
# made from the version-1 table, i.e. mixed.
_SCORES_TEXT = {
    "continuous": "Scores: **continuous** (every model's scores unrounded `float32`, "
                  "almost every row's score distinct: the realistic case).",
    "rounded": "Scores: **rounded** (every model's scores to 3 decimals: at most 999 "
               "distinct values per model, which makes sorting and binning cheap).",
    "mixed": "Scores: **mixed** (`float64`; three models continuous, `forest` and `baseline` "
             "rounded to 3 and 2 decimals: two of the five models have at most 1,000 "
             "distinct scores, which flatters any method that sorts or bins them; "
             "compare with the continuous results).",
}


def _kernel_line(report: dict[str, Any]) -> str:
    """Whether numba was installed and which kernel computed mlscope's point estimates."""
    numba = report["environment"]["versions"].get("numba", "not recorded")
    ran = {}
    for name, m in report["methods"].items():
        runs = ((m.get("best_run") or {}).get("info") or {}).get("kernel_runs")
        if name.startswith("mlscope") and runs:
            ran[name] = ", ".join(f"{k} {v}×" for k, v in sorted(runs.items()))
    which = "; ".join(f"{k}: {v}" for k, v in ran.items()) or "not recorded"
    return (f"- Binary point-estimate kernel (`MLSCOPE_KERNEL`, docs/computation.md): numba "
            f"{numba}; calls per kernel in each method's best run: {which}.")


def markdown(report: dict[str, Any]) -> str:
    """The results as a Markdown document."""
    rows, job, settings = report["rows"], report["job"], report["settings"]
    n_slices = 1 + sum(len(v) for v in job["levels"].values())
    n_values = len(job["models"]) * n_slices * len(job["metrics"])
    resamples = report["resamples"]
    lines = [
        f"# Scale benchmark: {rows:,} rows, {_SCORES_TITLE.get(job.get('scores'), 'mixed')}",
        "",
        _SCORES_TEXT.get(job.get("scores"), _SCORES_TEXT["mixed"]),
        "",
        f"{len(job['models'])} models × {n_slices} slices (overall, "
        + ", ".join(f"{len(v)} {k}s" for k, v in job["levels"].items())
        + f") × {len(job['metrics'])} metrics = {n_values} point estimates, one split; "
        f"the interval methods add 95% bootstrap intervals from {resamples} resamples. "
        "Every method runs in its own process. Time: best of the runs, end to end from the "
        "Parquet file; † marks a time extrapolated from fewer rows or resamples (column "
        "*how*). Peak RSS: the method's process; *over imports*: its increase over the "
        "process after the method's imports. ÷ mlscope: the method's time over mlscope's "
        "(how many times faster mlscope is). *Others' CPU*: the share of the machine's "
        "CPU other processes used while the method ran (0% on a quiet machine).",
        "",
        *_method_rows(report),
        "",
    ]
    floor = report["floor"]
    if floor["which"]:
        lines.append(
            f"Floor: **{_num(floor['floor_s'])} s** ({floor['which']}); floor-numpy "
            f"{_num(floor['numpy_s'])} s, floor-duckdb {_num(floor['duckdb_s'])} s.")
    col_mib = report["column_bytes"] / 2**20
    lines += [
        f"Column bytes (Arrow `table.nbytes` of {', '.join(report['column_bytes_columns'])}): "
        f"**{col_mib:,.1f} MiB**.",
        "",
        "## Targets",
        "",
        "| target | measure | measured | status |",
        "|---|---|---:|---|",
    ]
    for t in report["targets"]:
        shown = _times(t["value"]) if t["value"] is not None else "n/a"
        bound = f"{t['op'].replace('<=', '≤').replace('>=', '≥')} {t['bound']:g}"
        lines.append(f"| {t['target']} | {t['measure']} ({bound}) | {shown} | "
                     f"**{t['status']}** |")
    lines += ["", "## Ratios", ""]
    for label, value in report["ratios"].items():
        if value is not None:
            lines.append(f"- {label}: {_times(value)}")
    for name, value in report["memory"]["per_method"].items():
        lines.append(f"- {name} (peak RSS − RSS after imports) / column bytes: {_times(value)}")
    for name, m in report["methods"].items():
        timings = (m.get("best_run") or {}).get("info", {}).get("timings")
        if timings:
            lines.append(f"- {name} stages (s): "
                         + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()))
    lines += ["", "## Point estimates against scikit-learn", ""]
    for name, check in report["checks"].items():
        ok = "✓" if check["ok"] else "✗"
        if check.get("max_abs_diff") is None:
            lines.append(f"- {ok} {name}: not checked ({check.get('reason', '')})")
            continue
        source = (f"; scikit-learn's values from the run at {check['reference_from']}"
                  if check.get("reference_from") else "")
        if check.get("reused_from"):
            source += f"; **reused** from the run at {check['reused_from']}"
        lines.append(
            f"- {ok} {name}: max |difference| **{check['max_abs_diff']:.2e}** over "
            f"{check['n_compared']} values (tolerance {report['tolerance']:g}; worst: "
            f"{check['worst']}); {len(check['mismatches'])} definedness mismatches{source}")
        if check["per_metric"]:
            lines.append("  - per metric: " + ", ".join(
                f"{k} {v:.1e}" for k, v in sorted(check["per_metric"].items())))
        if check.get("bounded"):
            lines.append(
                f"  - binned: every difference within its stated error bound "
                f"(largest bound {check['max_bound']:.2e})" if not check["bound_violations"]
                else "  - binned: differences beyond the stated bound: "
                     + ", ".join(check["bound_violations"]))
        lines.extend(f"  - {p}" for p in check["mismatches"][:10])
        if "intervals" in check:
            iv = check["intervals"]
            lines.append(f"  - 95% intervals for {iv['with_interval']} of the "
                         f"{iv['defined']} defined values")
        if check.get("reason"):
            lines.append(f"  - ✗ {check['reason']}")
    if not report["checks"]:
        lines.append("- no mlscope method was run")
    problems = [(n, m) for n, m in report["methods"].items() if m["status"] != "ok"]
    if problems:
        lines += ["", "## Failed or skipped", ""]
        for name, m in problems:
            text = m.get("reason") or (m.get("error") or "").strip()
            lines.append(f"- {name} ({m['status']}): {text[-600:]}")
    env, git = report["environment"], report["environment"]["git"]
    memory = f", {env['memory_gib']:.0f} GiB memory" if env.get("memory_gib") else ""
    lines += ["", "## Setup", "", f"- Machine: {env['platform']}, {env['cpus']} CPUs{memory}."]
    share = env.get("others_cpu_share")
    if share is not None:
        busy = "**The machine was busy:** o" if share > 0.1 else "O"
        lines.append(f"- {busy}ther processes used {_share(share)} of the machine's CPU "
                     "during the run (per method: column *others' CPU*); other work slows "
                     "every method.")
    lines.append("- Versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items())
                 + ".")
    lines.append(_kernel_line(report))
    lines.extend(_source_lines(git))
    # Methods reused from a run before mlscope.malloc existed carry no answer: left out.
    kept = {n: m["keep_freed_memory"] for n, m in report["methods"].items()
            if n.startswith("mlscope") and m.get("status") == "ok"
            and m.get("keep_freed_memory") is not None}
    if kept:
        how = sorted({"kept in the process (as `mlscope run`)" if v else "glibc's defaults"
                      for v in kept.values()})
        lines.append("- Freed memory (`mlscope.malloc`, `MLSCOPE_MALLOC`) in the mlscope "
                     f"methods: {'; '.join(how)}.")
    lines += [
        f"- Data: `{report['data']}` ({report['data_mib']:,.1f} MiB, seed {report['seed']}), "
        "generated by `benchmarks/generate.py`.",
        f"- Runs: mlscope and floors up to {settings['repeat']}×, references "
        f"{settings['slow_repeat']}× (repeating stops once a method's runs took "
        f"{settings['repeat_budget_s']:g} s); reference-boot runs "
        f"{settings['reference_boot_resamples']} resamples, fairlearn "
        f"{settings['fairlearn_rows']:,} rows, fairlearn-boot "
        f"{settings['fairlearn_boot_rows']:,} rows with n_boot="
        f"{settings['fairlearn_boot_resamples']}.",
        f"- Run at {report['created_at']}. How to read this: `benchmarks/README.md`.",
        "",
    ]
    return "\n".join(lines)
