"""Pair comparisons rendered: the terminal table of ``mlscope compare``, its
``compare.json``, and the report's panel for the charter's ``compare.pairs``.

Each row is one metric on one split, overall: both models' values, the difference with
its interval, the test with its statistic, and the p-value; the slices are summarised by
how many differ after Benjamini–Hochberg (the full per-slice detail is in the JSON).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table as RichTable

from mlscope._version import __version__
from mlscope.report.cells import signed
from mlscope.report.charts import format_value, metric_decimals
from mlscope.result import OVERALL, Difference, EvaluationResult, MetricInfo, PairComparison

if TYPE_CHECKING:
    from mlscope.report.cells import Table

__all__ = ["COMPARE_SCHEMA", "DISAGREE", "DISAGREE_NOTE", "comparison_document", "disagrees",
           "p_value_text", "pair_tables",
           "render_comparison", "statistic_text"]

COMPARE_SCHEMA = "mlscope.compare/1"
# A slice counts as different from the reference when its BH-adjusted p-value is at most
# this (the false-discovery rate across the slices of one split and metric).
FDR = 0.05
TEST_NAMES = {"delong": "DeLong", "mcnemar": "McNemar", "bootstrap": "paired bootstrap"}


def statistic_text(d: Difference) -> str:
    """The test's statistic and inputs in a few words, e.g. ``Z = 2.31, SE 0.012``."""
    t = d.detail
    if t is None:
        return ""
    if t.kind == "delong":
        z = "undefined" if t.statistic is None else f"{t.statistic:.3g}".replace("-", "−")
        return f"Z = {z}, SE {t.se:.3g}" if t.se is not None else f"Z = {z}"
    if t.kind == "mcnemar":
        return f"b = {t.b}, c = {t.c} ({t.method})"
    if t.kind == "bootstrap":
        seed = f", seed {t.seed}" if t.seed is not None else ""
        return f"B = {t.resamples}{seed}"
    return ""


def p_value_text(d: Difference) -> str:
    """The p-value; a bootstrap's at its floor, ``1/(1 + R)`` (no resample as extreme
    as the estimate), as a bound: "≤ 0.000999", not a figure of that precision."""
    x = d.p_value
    if x is None:
        return "—"
    t = d.detail
    n = (t.finite or t.resamples) if t is not None and t.kind == "bootstrap" else None
    if n and x <= (1.0 + 1e-9) / (1.0 + n):
        return f"≤ {x:.3g}"
    return f"{x:.3g}"


#: Marks a p-value that disagrees with its difference's interval (:func:`disagrees`).
DISAGREE = "‡"
DISAGREE_NOTE = (f"{DISAGREE} the interval and the p-value disagree on whether the difference "
                 "is zero (a skewed bootstrap distribution, or a test and an interval "
                 "computed differently): the difference is not settled")


def disagrees(d: Difference, level: float) -> bool:
    """Whether ``d``'s interval and p-value disagree about a zero difference at the
    interval's level: one excludes 0, the other is not significant (or the reverse).
    The paired bootstrap's centred p-value and percentile interval (docs/comparisons.md)
    can, far apart when the replicates are skewed (R² of a poor model: an interval of
    [+0.148, +2.707] beside p = 0.106)."""
    if d.p_value is None or d.lower is None or d.upper is None:
        return False
    return (d.lower > 0 or d.upper < 0) != (d.p_value < 1.0 - level)


def _rows(result: EvaluationResult, cmp: PairComparison) -> list[dict[str, str]]:
    """One row per split and metric (overall), formatted."""
    infos = {m.id: m for m in result.metrics}
    values = {(v.split, v.model, v.metric): v.value for v in result.values
              if v.slice == OVERALL}
    out = []
    for split in cmp.splits:
        diffs = [d for d in cmp.differences if d.split == split]
        for d in (d for d in diffs if d.slice == OVERALL):
            info = infos.get(d.metric)
            dec = _decimals(result, info, split) if info is not None else 3
            sliced = [s for s in diffs if s.metric == d.metric and s.slice != OVERALL]
            tested = [s for s in sliced if s.adjusted_p is not None]
            flagged = [s.slice for s in tested if s.adjusted_p is not None
                       and s.adjusted_p <= FDR]
            interval = ("" if d.lower is None or d.upper is None
                        else f"[{signed(d.lower, dec)}, {signed(d.upper, dec)}]")
            apart = disagrees(d, result.interval.level)
            out.append({
                "split": split, "metric": d.metric,
                "label": info.label if info is not None else d.metric,
                "model": format_value(values.get((split, cmp.model, d.metric)), dec),
                "reference": format_value(values.get((split, cmp.reference, d.metric)), dec),
                "diff": signed(d.value, dec), "interval": interval,
                "test": TEST_NAMES.get(d.test, d.test), "statistic": statistic_text(d),
                "p": p_value_text(d) + (f" {DISAGREE}" if apart else ""),
                "disagree": DISAGREE_NOTE if apart else "",
                # Sort keys for the report's sortable table (the text has − and brackets).
                "diff_sort": "" if d.value is None else repr(d.value),
                "p_sort": "" if d.p_value is None else repr(d.p_value),
                "slices": f"{len(flagged)} of {len(tested)}" if tested else "—",
                "flagged": ", ".join(flagged),
            })
    return out


def _decimals(result: EvaluationResult, info: MetricInfo, split: str) -> int:
    return metric_decimals(info, [v.value for v in result.values
                                  if v.metric == info.id and v.slice == OVERALL
                                  and v.split == split])


def render_comparison(result: EvaluationResult, cmp: PairComparison, *,
                      console: Console | None = None, paths: dict[str, str] | None = None
                      ) -> None:
    """Print one pair's table (every metric on each split, overall) and the slices that
    differ after Benjamini–Hochberg."""
    con = console or Console(highlight=False)
    if not con.is_terminal:
        # A pipe or a CI log has no width; 80 columns would fold every number, and 120
        # cropped the last column of a pair with long model names.
        con.width = max(con.width, 160)
    con.print(f"[bold]{cmp.model}[/] − [bold]{cmp.reference}[/]  (paired, same rows; "
              f"McNemar: {cmp.mcnemar})")
    rows = _rows(result, cmp)
    # A label wraps between its words, never inside one ("@precision≥0." then "5").
    word = max((len(w) for r in rows for w in str(r["label"]).split()), default=6)
    for split in cmp.splits:
        table = RichTable(box=box.SIMPLE_HEAD, title=f"{split} split", title_justify="left",
                          header_style="bold")
        for col, just in (("metric", "left"), (cmp.model, "right"), (cmp.reference, "right"),
                          ("difference [interval]", "right"), ("test", "left"),
                          ("statistic", "left"), ("p", "right"), ("slices ≠", "right")):
            table.add_column(col, justify=just, overflow="fold",  # type: ignore[arg-type]
                             no_wrap=col.startswith("difference") or col == "p",
                             min_width=min(word, 24) if col == "metric" else None)
        here = [r for r in rows if r["split"] == split]
        for r in here:
            table.add_row(r["label"], r["model"], r["reference"],
                          f"{r['diff']} {r['interval']}".rstrip(), r["test"], r["statistic"],
                          r["p"], r["slices"])
        con.print(table)
        for r in here:
            if r["flagged"]:
                con.print(f"  {r['label']}: slices that differ (BH q ≤ {FDR:g}): "
                          f"{r['flagged']}", markup=False)
        if any(r["disagree"] for r in here):
            con.print(f"  {DISAGREE_NOTE}", markup=False)
    con.print(f"[dim]slices ≠: slices whose difference is significant after "
              f"Benjamini–Hochberg across the slices (q ≤ {FDR:g}); every slice, "
              "statistic and adjusted p-value is in compare.json[/]")
    for kind, path in (paths or {}).items():
        con.print(f"[dim]{kind}:[/] {path}", markup=True, highlight=False)


def comparison_document(result: EvaluationResult, cmp: PairComparison) -> dict[str, Any]:
    """The content of ``compare.json``: the pair, both models' values, every difference."""
    models = {cmp.model, cmp.reference}
    splits = set(cmp.splits)
    return {
        "schema": COMPARE_SCHEMA,
        "project": result.project,
        "run_id": result.run_id,
        "created_at": result.created_at,
        "mlscope_version": __version__,
        "charter_path": result.charter_path,
        "model": cmp.model,
        "reference": cmp.reference,
        "splits": {k: v for k, v in result.splits.items() if v in splits},
        "interval": asdict(result.interval),
        "mcnemar": cmp.mcnemar,
        "fdr": FDR,
        "metrics": [asdict(m) for m in result.metrics],
        "values": [asdict(v) for v in result.values
                   if v.model in models and v.split in splits],
        "differences": [asdict(d) for d in cmp.differences],
    }


def pair_tables(result: EvaluationResult) -> list[Table]:
    """The report's tables for the charter's pairs: one per pair."""
    from mlscope.report.cells import Cell, Row, Table

    heads = ["split", "model", "reference", "difference", "test", "statistic", "p",
             "slices ≠"]
    out: list[Table] = []
    for cmp in result.comparisons:
        headers = [{"text": "metric", "title": "", "arrow": "", "id": ""}]
        headers += [{"text": {"model": cmp.model, "reference": cmp.reference}.get(h, h),
                     "title": "", "arrow": "", "id": ""} for h in heads]
        rows = []
        found = _rows(result, cmp)
        for r in found:
            cells = [Cell(r["split"]), Cell(r["model"]), Cell(r["reference"]),
                     Cell(r["diff"], r["interval"], sort=r["diff_sort"]), Cell(r["test"]),
                     Cell(r["statistic"]),
                     Cell(r["p"], sort=r["p_sort"], title=r["disagree"]),
                     Cell(r["slices"], title=r["flagged"] or "no slice differs")]
            rows.append(Row(r["label"], cells))
        caption = (f"{cmp.model} minus {cmp.reference} on the same rows, overall, with "
                   "paired intervals and p-values (DeLong for ROC AUC, McNemar "
                   f"({cmp.mcnemar}) for accuracy, the paired bootstrap otherwise). "
                   "Slices ≠: slices whose difference is significant after "
                   f"Benjamini–Hochberg across the slices (q ≤ {FDR:g}); hover for them."
                   + (f" {DISAGREE_NOTE}." if any(r["disagree"] for r in found) else ""))
        out.append(Table(f"{cmp.model} against {cmp.reference}", caption, headers, rows,
                         anchor=f"pair-{len(out) + 1}"))
    return out
