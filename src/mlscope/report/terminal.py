"""A compact terminal summary of a result, with rich.

The summary leads with the decision and then shows the evidence that fits on a screen:
the metrics on the selection split with intervals, what each rule would pick, who was
dropped and why, the requirements, warnings, and where the full report was written. It
reads legibly without colour (``NO_COLOR``, a pipe, a 100-column terminal): every state
is also written out as a symbol or a word.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich import box
from rich.console import Console, Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from mlscope.diagnose.gaps import why_not_counted
from mlscope.report.best import best_candidates
from mlscope.report.cells import signed
from mlscope.report.charts import format_bound, format_value, metric_decimals
from mlscope.report.guarantee_lines import guarantee_lines
from mlscope.report.html import STATUS_TEXT
from mlscope.report.panels_decision import no_requirements
from mlscope.report.panels_verdict import launch_exit_meaning, launch_text
from mlscope.report.terminal_compact import key_table
from mlscope.report.terminal_diagnosis import diagnosis_extras
from mlscope.report.verdict import is_check, keep_lines
from mlscope.result import OVERALL, EvaluationResult, MetricInfo, MetricValue

__all__ = ["check_verdict_text", "render_terminal"]


def _s(n: int) -> str:
    """The plural ending for ``n`` of something ("1 baseline", "2 baselines")."""
    return "" if n == 1 else "s"


def check_verdict_text(result: EvaluationResult) -> list[str]:
    """The verdict of ``mlscope check`` as the terminal leads with it, then its exit code."""
    from mlscope.compare.check import exit_line, verdict_lines

    assert result.check is not None
    return [*verdict_lines(result.check), exit_line(result.check)]

_STATUS_STYLE = {
    "requirements_met": ("✓", "bold green"),
    "requirements_not_met": ("✗", "bold red"),
    "no_decision": ("!", "bold yellow"),
}


def _decimals(result: EvaluationResult, info: MetricInfo, split: str) -> int:
    return metric_decimals(info, [v.value for v in result.values
                                  if v.metric == info.id and v.slice == OVERALL
                                  and v.split == split])


def _interval(v: MetricValue | None, dec: int) -> str:
    if v is None or v.lower is None or v.upper is None:
        return ""
    return f"{format_value(v.lower, dec)}–{format_value(v.upper, dec)}"


def _indent(renderable: Text, left: int = 2) -> Padding:
    return Padding(renderable, (0, 0, 0, left))


def _decision(result: EvaluationResult) -> Group:
    sel = result.selection
    mark, style = _STATUS_STYLE.get(result.status, ("?", "bold"))
    line = Text()
    if result.winner is not None:
        line.append("Selected: ", style="bold")
        line.append(result.winner, style="bold cyan")
    else:
        line.append("No model selected", style="bold yellow")
    if sel is not None:
        line.append(f"  ({sel.primary.rule} rule on {sel.split})", style="dim")
    lines: list[Text | Padding] = [line]
    v = result.verdict
    if v is not None and result.winner is not None and v.model != result.winner:
        lines.append(_indent(Text("the rule's choice; the verdict above says what to ship",
                                  style="dim")))
    keep = keep_lines(result)
    if keep:
        lines.append(_indent(Text(keep[0], style="bold")))
        lines.append(_indent(Text(keep[1], style="dim")))
    if sel is not None:
        lines.append(_indent(Text(sel.primary.description, style="dim")))
        if sel.primary.winner is None and sel.primary.note:
            lines.append(_indent(Text(sel.primary.note, style="yellow")))
        conf = sel.confidence
        if conf is not None and conf.resamples:
            ranked = sorted(((m, v) for m, v in conf.chosen.items() if v > 0),
                            key=lambda p: -p[1])[:3]
            text = Text("decision confidence: ", style="bold")
            text.append(", ".join(f"{m} {v * 100:.0f}%" for m, v in ranked) or "no winner")
            for label, share in conf.no_winner_parts():
                text.append(f", {label} {share * 100:.0f}%")
            text.append(f" of {conf.resamples:,} resamples", style="dim")
            lines.append(_indent(text))
    status = Text()
    req = result.requirements
    if no_requirements(result):
        # Met vacuously: say so, or a reader takes it for a checked launch bar.
        status.append("– No requirements: the charter sets none", style="bold yellow")
    else:
        status.append(f"{mark} {STATUS_TEXT.get(result.status, result.status)}", style=style)
    if req:
        n_met = sum(1 for r in req if r.met)
        confident = sum(1 for r in req if r.met and _confident(r.lower, r.upper, r.bound))
        status.append(f": {n_met} of {len(req)} met on {req[0].split}")
    lines.append(status)
    if no_requirements(result):
        lines.append(_indent(Text("add `requirements:` (the bar the chosen model must clear "
                                  "on the report split) to gate a launch", style="dim")))
    if req and any(r.met for r in req):
        n_met = sum(1 for r in req if r.met)
        sure = (f"{confident} of the {n_met} met with the whole interval clear of the bound"
                if n_met > 1 else "the one met has its whole interval clear of the bound"
                if confident else "the one met has its interval crossing the bound")
        lines.append(_indent(Text(sure, style="dim")))
    if is_check(result):
        # Not this command's exit code: the check's verdict, printed first, states it.
        lines.append(_indent(Text("(the selected model; the check's verdict above decides "
                                  "the exit code)", style="dim")))
    else:
        meaning = launch_exit_meaning(result)
        lines.append(_indent(Text(f"exit code {result.exit_code}"
                                  + (f": {meaning}" if meaning else ""), style="dim")))
    return Group(*lines)


def _confident(lower: float | None, upper: float | None, bound: str) -> bool:
    b = bound.strip()
    try:
        value = float(b.lstrip("<>=").strip())
    except ValueError:
        return False
    if lower is None or upper is None:
        return False
    return lower >= value if b.startswith(">") else upper <= value


def _metric_tables(result: EvaluationResult, split: str, width: int) -> list[Table]:
    """The metrics × models table, split into several when the models do not fit across."""
    models = [m.name for m in result.models]
    vals = {(v.model, v.metric): v for v in result.values
            if v.split == split and v.slice == OVERALL}
    decs = {info.id: _decimals(result, info, split) for info in result.metrics}
    widths = {m: len(m) + (2 if m == result.winner else 0) for m in models}
    for info in result.metrics:
        for m in models:
            v = vals.get((m, info.id))
            widths[m] = max(widths[m], len(_interval(v, decs[info.id])) + 1,
                            len(format_value(v.value if v else None, decs[info.id])) + 1)
    label_w = min(max((len(i.label) + 2 for i in result.metrics), default=8), 18)
    chunks: list[list[str]] = [[]]
    used = label_w
    for m in models:
        need = widths[m] + 2
        if chunks[-1] and used + need > width:
            chunks.append([])
            used = label_w
        chunks[-1].append(m)
        used += need
    tables = []
    for k, chunk in enumerate(chunks):
        last = k == len(chunks) - 1
        caption = ("* best candidate per metric · — undefined (see the HTML report for why) · "
                   "lines below values: "
                   f"{round(result.interval.level * 100):g}% intervals") if last else None
        title = f"Metrics on {split} (selection split)" + (" continued" if k else "")
        tables.append(_metric_table(result, chunk, vals, decs, widths, title, caption))
    return tables


def _metric_table(result: EvaluationResult, models: list[str],
                  vals: Mapping[tuple[str, str], MetricValue], decs: Mapping[str, int],
                  widths: Mapping[str, int], title: str, caption: str | None) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                  pad_edge=False, show_edge=False, caption=caption, caption_justify="left",
                  caption_style="dim")
    table.add_column("metric", overflow="fold")
    for m in models:
        style = "bold cyan" if m == result.winner else "bold"
        header = m + (" ◆" if m == result.winner else "")
        table.add_column(header, justify="right", header_style=style, no_wrap=True,
                         min_width=widths[m])
    all_models = [m.name for m in result.models]
    for info in result.metrics:
        dec = decs[info.id]
        # Baselines are shown but never starred: a yardstick is not a contender.
        best = best_candidates(result, {m: (vals[(m, info.id)].value
                                            if (m, info.id) in vals else None)
                                        for m in all_models}, info.direction)
        arrow = "↑" if info.direction == "higher" else "↓"
        row: list[Text] = [Text(f"{info.label}\u00a0{arrow}")]
        for m in models:
            v = vals.get((m, info.id))
            if v is None or v.value is None:
                row.append(Text("—", style="dim"))
                continue
            cell = Text(format_value(v.value, dec) + ("*" if m in best else " "),
                        style="bold green" if m in best else "")
            ci = _interval(v, dec)
            if ci:
                cell.append("\n" + ci + " ", style="dim")
            row.append(cell)
        table.add_row(*row)
    return table


def _rules_table(result: EvaluationResult) -> Table | None:
    if result.selection is None:
        return None
    primary = result.selection.primary
    table = Table(title="What each rule would pick", title_justify="left", title_style="bold",
                  box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, show_lines=False)
    table.add_column("rule", no_wrap=True)
    table.add_column("picks", no_wrap=True)
    table.add_column("what it does / note", ratio=1)
    for i, r in enumerate([primary, *result.selection.alternatives]):
        role = "primary" if i == 0 else ("alternative" if r.configured else
                                         "not configured" if not r.ranking else "derived")
        name = Text(r.rule, style="bold" if i == 0 else "")
        name.append(f"\n{role}", style="dim")
        if r.winner is not None:
            pick = Text(r.winner, style="bold cyan" if r.winner == primary.winner else "bold")
            if i > 0 and r.winner != primary.winner:
                pick.append(" ≠", style="yellow")
        elif r.front:
            pick = Text("— front:\n" + ", ".join(r.front), style="dim")
        elif r.tied:
            pick = Text("— tied:\n" + ", ".join(r.tied), style="dim")
        else:
            pick = Text("—", style="dim")
        what = Text(r.description)
        if r.note:
            what.append(f"\n{r.note}", style="dim")
        table.add_row(name, pick, what)
    return table


def _bullets(title: Text, items: list[tuple[Text, Text]]) -> Group:
    grid = Table.grid(padding=(0, 1), pad_edge=False)
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1)
    for mark, body in items:
        grid.add_row(mark, body)
    return Group(title, Padding(grid, (0, 0, 0, 2)))


def _dropped(result: EvaluationResult) -> Group | None:
    if result.selection is None or not result.selection.primary.dropped:
        return None
    items = []
    for d in result.selection.primary.dropped:
        body = Text(str(d["model"]), style="bold")
        body.append(": " + "; ".join(str(x) for x in d.get("reasons", [])))
        items.append((Text("✗", style="red"), body))
    return _bullets(Text("Dropped by the primary rule", style="bold"), items)


def _requirements(result: EvaluationResult) -> Table | None:
    if not result.requirements:
        return None
    r0 = result.requirements[0]
    table = Table(title=f"Requirements for {r0.model} on {r0.split}", title_justify="left",
                  title_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for col, justify in (("metric", "left"), ("bound", "left"), ("value", "right"),
                         ("interval", "right"), ("margin", "right"), ("result", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in result.requirements:
        try:
            info: MetricInfo | None = result.metric_info(r.metric)
        except KeyError:
            info = None
        dec = _decimals(result, info, r.split) if info is not None else 3
        ci = (f"{format_value(r.lower, dec)}–{format_value(r.upper, dec)}"
              if r.lower is not None and r.upper is not None else "—")
        if r.met:
            sure = _confident(r.lower, r.upper, r.bound)
            res = Text("✓ met" + ("" if sure else " (interval crosses)"),
                       style="green" if sure else "yellow")
        else:
            res = Text("✗ not met" + (f" ({r.undefined})" if r.undefined else ""),
                       style="bold red")
        if r.decided_on == "bound" and r.certified is not None:
            # The margin is the bound's: say so, or "0.723 ≥ 0.65, margin −0.053, ✗" reads
            # as a contradiction.
            res.append(f" (bound {format_value(r.certified, dec)})",
                       style="green" if r.met else "bold red")
        name = info.label if info else r.metric
        table.add_row(name if r.slice == "overall" else f"{name} in {r.slice}",
                      format_bound(r.bound),
                      format_value(r.value, dec), ci, signed(r.margin, dec), res)
    return table


def _standings(result: EvaluationResult, split: str) -> Table | None:
    """Where each candidate stands between the best trivial and the upper baseline."""
    from mlscope.report.html import key_metrics

    keys = key_metrics(result)
    rows = [st for st in result.standings if st.split == split and st.metric in keys[:1]]
    if not rows:
        return None
    metric = keys[0]
    info = result.metric_info(metric)
    dec = _decimals(result, info, split)
    first = rows[0]
    up = (f"{first.upper} = 100%" if first.upper else "no upper baseline")
    table = Table(title=f"Against the baselines: {info.label} on {split}",
                  title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                  pad_edge=False, show_edge=False, caption_justify="left",
                  caption_style="dim",
                  caption=f"gap closed: {first.trivial} = 0%, {up}"
                          # The mark's meaning only where a row carries it.
                          + ("; ⚠ does not beat the trivial baseline by more than the "
                             "interval" if any(st.flag for st in rows) else "")
                          + (f"\n{first.ceiling_note}" if first.ceiling_note else ""))
    table.add_column("model")
    table.add_column(f"vs {first.trivial}", justify="right")
    table.add_column("gap closed", justify="right")
    fam = {m.name: m.family for m in result.models}
    for st in rows:
        name = Text(st.model, style="bold cyan" if st.model == result.winner else
                    ("dim" if fam.get(st.model) else ""))
        if fam.get(st.model):
            name.append(f" · {fam[st.model]}", style="dim")
        vs = Text(signed(st.vs_trivial, dec))
        if st.vs_trivial_lower is not None and st.vs_trivial_upper is not None:
            vs.append(f" [{signed(st.vs_trivial_lower, dec)}, "
                      f"{signed(st.vs_trivial_upper, dec)}]", style="dim")
        if st.flag:
            vs.append(" ⚠", style="bold red")
        gap = Text("—" if st.gap_closed is None else f"{st.gap_closed * 100:.0f}%")
        if st.lower is not None and st.upper_ci is not None:
            gap.append(f" [{st.lower * 100:.0f}%, {st.upper_ci * 100:.0f}%]", style="dim")
        if st.gap_rows is not None and st.gap_closed is not None:
            # Against human level the gap is on the annotated items, not every row.
            gap.append(f" on {st.gap_rows:,} annotated items", style="dim")
        table.add_row(name, vs, gap)
    return table


def _warnings(result: EvaluationResult, width: int | None = None) -> Group | None:
    """The warnings; with ``width``, each on one line of that width (the compact summary:
    the full text is in --verbose and the report)."""
    warnings = list(dict.fromkeys(
        [*result.warnings, *(result.selection.warnings if result.selection else [])]))
    if not warnings:
        return None
    head = Text(f"Warnings ({len(warnings)})", style="bold yellow")
    if width is not None:
        cut = max(width - 5, 20)
        if any(len(w) > cut for w in warnings):
            head.append(" · cut to a line each; whole in --verbose and the report",
                        style="dim")
        warnings = [w if len(w) <= cut else w[:cut - 1].rstrip() + "…" for w in warnings]
    return _bullets(head, [(Text("!", style="yellow"), Text(w)) for w in warnings])


def render_terminal(
    result: EvaluationResult,
    console: Console | None = None,
    *,
    paths: Mapping[str, str] | None = None,
    verbose: bool = False,
) -> None:
    """Print a compact summary of a result to the terminal.

    Parameters
    ----------
    result
        The evaluation result.
    console
        Where to print (default: a new :class:`rich.console.Console` on stdout, which
        honours ``NO_COLOR`` and the terminal width).
    paths
        Files written, shown at the end: e.g. ``{"json": "out/result.json",
        "html": "out/report.html"}``.
    verbose
        Every metric of every model on the selection split, the standings, what each rule
        would pick, the models the rule dropped and the requirement table; by default the
        key metrics on the requirement split stand in for them.
    """
    con = console or Console()
    if is_check(result):
        # The check's verdict decides the exit code: it leads, and states it once.
        for line in check_verdict_text(result):
            con.print(line, markup=False, highlight=False, soft_wrap=True)
        con.print()
    # The launch verdict: the first line of a run's summary (after check's verdict).
    verdict = launch_text(result)
    if verdict:
        con.print(Text(verdict[0], style="bold"), highlight=False)
        for line in verdict[1:]:
            # A hanging indent: wrapped reasons stay under their bullet.
            depth = len(line) - len(line.lstrip(" "))
            con.print(Padding(Text(line.lstrip(" ")), (0, 0, 0, depth)), highlight=False)
        con.print()
    head = Text()
    head.append(result.project, style="bold")
    head.append(f"  ·  {result.task}  ·  {result.created_at[:10]}", style="dim")
    n = (result.data or {}).get("rows")
    if isinstance(n, int):
        n_base = sum(1 for m in result.models if m.kind == "baseline")
        n_cand, n_met = len(result.models) - n_base, len(result.metrics)
        models = f"{n_cand} model{_s(n_cand)}" + (
            f" + {n_base} baseline{_s(n_base)}" if n_base else "")
        head.append(f"  ·  {n:,} rows, {models}, {n_met} metric{_s(n_met)}", style="dim")
    con.print(head)
    con.print(Padding(_decision(result), (1, 0, 1, 0)))

    split = result.selection.split if result.selection else result.splits.get("selection")
    sections: list[Table | Group | Text | None] = []
    if verbose:
        if split and result.metrics and result.models:
            sections += _metric_tables(result, str(split), con.width)
        sections += [_standings(result, str(split)) if split else None,
                     _rules_table(result), _dropped(result)]
    else:
        sections += [key_table(result)]
    sections += [_requirements(result),
                 # The verdict's guarantees section says it; results from before the verdict
                 # keep their own lines.
                 guarantee_lines(result) if result.verdict is None else None,
                 _warnings(result, None if verbose else con.width)]
    if not verbose:
        sections.append(Text("Every metric, the standings and what each rule would pick: "
                             "--verbose, or the HTML report.", style="dim"))
    for section in sections:
        if section is not None:
            con.print(section)
            con.print()
    if paths:
        labels = {"html": "Report", "json": "Result", "markdown": "PR comment", "store": "Stored"}
        for key, path in paths.items():
            t = Text(f"{labels.get(key, key)}: ", style="bold")
            t.append(str(path))
            con.print(t, soft_wrap=True)


def render_diagnosis(
    result: EvaluationResult,
    console: Console | None = None,
    *,
    paths: Mapping[str, str] | None = None,
) -> None:
    """Print the diagnosis of ``mlscope diagnose``: gaps, bottleneck, next steps, weak
    slices, and the other findings, each with its figures."""
    con = console or Console()
    d = result.diagnosis
    if d is None:
        render_terminal(result, con, paths=paths)
        return
    head = Text()
    head.append(f"Diagnosis of {d.model}", style="bold")
    head.append(f"  ·  {result.project}  ·  {d.metric} ({d.direction} is better), practical "
                f"margin {d.margin:.3g}", style="dim")
    con.print(head)
    con.print()
    for s in d.sanity:
        mark, style = ("✓", "green") if s.ok else (("✗", "bold red") if s.severity == "error"
                                                   else ("!", "yellow"))
        line = Text(f"{mark} ", style=style)
        line.append(s.message)
        con.print(line)
    con.print()
    table = Table(title=f"The gaps ({d.error_note}; positive = worse)", title_justify="left",
                  title_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("stage")
    table.add_column(d.metric, justify="right", no_wrap=True)
    # The figures stay on one line; the words beside them wrap.
    table.add_column("gap", justify="right", no_wrap=True)
    table.add_column("", justify="left")
    vals = {v.role: v for v in d.values}
    names = {"baseline": "upper baseline", "train": "train", "train_dev": "train-dev",
             "validation": "validation", "test": "test"}
    for role in ("baseline", "train", "train_dev", "validation", "test"):
        v = vals.get(role)
        if v is None:
            continue
        gap = next((g for g in d.gaps if g.to == role), None)
        gtext = Text("")
        label = Text("")
        if gap is not None and gap.value is not None:
            # The values' decimals and a true minus, as every other figure here
            # ("-0.002534 [-0.0167, +0.0143]" beside "0.9801" read as another scale).
            gtext = Text(signed(gap.value, 4), style="bold red" if gap.counts else "")
            if gap.lower is not None and gap.upper is not None:
                gtext.append(f" [{signed(gap.lower, 4)}, {signed(gap.upper, 4)}]",
                             style="dim")
            if gap.counts:
                label = Text(gap.label + (" ◀ bottleneck" if gap.name == d.bottleneck
                                          else ""), style="bold")
            else:
                # Which gap this row measures, and that it is not there: a bare
                # "overfitting the validation set" beside a test that does better read as
                # a finding (the dim style is lost in a CI log).
                label = Text(f"{gap.label}: none ({why_not_counted(gap)})", style="dim")
        name = names[role] + (f" ({v.split})" if v.split and v.split != names[role] else "")
        table.add_row(name, format_value(v.value, 4), gtext, label)
    con.print(table)
    base = vals.get("baseline")
    if base is not None and base.note:
        con.print(_indent(Text(f"upper baseline: {base.note}", style="dim")))
    con.print()
    for i, step in enumerate(d.steps, 1):
        t = Text(f"{i}. {step.title}", style="bold")
        con.print(t)
        con.print(_indent(Text(step.evidence, style="dim")))
        for a in step.actions:
            con.print(_indent(Text(f"· {a}")))
    if not d.steps:
        con.print(Text("No gap exceeds both the margin and its uncertainty: nothing stands "
                       "out at this margin.", style="green"))
    lc = d.learning_curve or {}
    if lc.get("source"):
        # Say whose curve it is: a refitted stand-in's data needs are not the model's.
        con.print()
        line = Text("Learning curve: ", style="bold")
        line.append(str(lc.get("headline") if lc.get("stand_in") else lc["source"]),
                    style="yellow" if lc.get("stand_in") else "")
        con.print(line)
        if lc.get("stand_in"):
            con.print(_indent(Text(str(lc["source"]), style="dim")))
    # The history's findings, the curve's data needs and the metric focus.
    for part in diagnosis_extras(d):
        con.print(part)
    sig = [w for w in d.weak_slices if w.significant]
    if sig:
        con.print()
        ws = Table(title=f"Weak slices ({len(sig)} of {d.slices_tested} tested, "
                         "false-discovery rate controlled)", title_justify="left",
                   title_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        # A binary model's slices are judged against the value at their base rate.
        at_rate = any(w.expected is not None for w in sig)
        cols = ["slice", "rows", d.metric] + (["at its base rate"] if at_rate else []) + [
            "overall", "harm", "adj. p"]
        for c in cols:
            ws.add_column(c, justify="left" if c == "slice" else "right")
        for w in sig[:8]:
            exp = ([f"{w.expected:.4g}" if w.expected is not None else "—"]
                   if at_rate else [])
            ws.add_row(w.slice, f"{w.n_rows:,}", f"{w.value:.4g}", *exp, f"{w.overall:.4g}",
                       f"{w.harm:.3g}", f"{w.adjusted_p:.2g}")
        con.print(ws)
    if d.slices_unjudged:
        few = sum("too few" in str(u.get("reason", "")) for u in d.slices_unjudged)
        con.print(Text(f"{len(d.slices_unjudged)} slices not judged"
                       + (f" ({few} with too few positives or negatives)" if few else "")
                       + "; they are listed in result.json (diagnosis.slices_unjudged)",
                       style="dim"))
    for note in d.notes:
        con.print(Text(f"note: {note}", style="dim"))
    if paths:
        con.print()
        labels = {"html": "Report", "json": "Result", "store": "Stored"}
        for key, path in paths.items():
            t = Text(f"{labels.get(key, key)}: ", style="bold")
            t.append(str(path))
            con.print(t, soft_wrap=True)
