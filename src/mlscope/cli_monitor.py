"""``mlscope monitor CHARTER --log PATH``: the charter's model in production.

Reads the log (Parquet or CSV, on a sealed connection that reads only that file), checks
each window against the charter's reference split (:mod:`mlscope.monitor`), writes
``monitor.json``, ``monitor.html`` and the digest (``digest.md``, ``digest.json``) into
``--out`` (default ``mlscope-out/monitor/`` beside the charter) and prints windows ×
status and each alert with its reason, and the rollout gate's decision when
``monitor.candidate`` names a model in shadow, canary or blue-green. Exit 0: no
alert (and the shadow candidate, if any, promoted); 1: an alert was raised or the shadow
gate holds or rolls back (as ``mlscope check`` exits 1 when a gate fails, so a scheduled
job can page); 2: bad input (a missing column, an unparsable timestamp, an empty log),
with the fix.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from mlscope.errors import InputError
from mlscope.monitor import MonitorResult
from mlscope.monitor.result import BackTest
from mlscope.monitor.run import RECENT, RECENT_MISSES

if TYPE_CHECKING:
    import pandas as pd

    from mlscope.charter import Charter

__all__ = ["monitor_command", "read_log", "render_monitor", "render_rollout"]

_STATUS = {"ok": ("✓ ok", "green"), "alert": ("✗ alert", "red"),
           "untrusted": ("? estimate not trustworthy", "yellow")}
# At most this many alerts are printed per window (monitor.json holds all of them).
_SHOWN = 6


def back_test_line(b: BackTest, q: float) -> tuple[str, str]:
    """The back-test's colour and line. "Holds" only when the misses are what the
    interval's level allows: 2 of 4 windows outside a 95% interval (p 0.014) printed
    "holds" because the failing rule (misses in most of the last windows) had not fired."""
    where = f"outside its interval in {b.outside} of {b.windows} labelled window(s)"
    if b.failed:
        return "red", f"of {b.model}'s {b.metric} failed: {where}"
    if b.p is not None and b.p < q:
        return "yellow", (
            f"of {b.model}'s {b.metric} is in doubt: {where}, more often than a "
            f"{b.level:.0%} interval should (binomial p {b.p:.2g}); it fails at "
            f"{RECENT_MISSES} misses in the last {RECENT} labelled windows")
    return "green", f"of {b.model}'s {b.metric} holds: {where}"


def _wrapped(con: Console, head: str, colour: str, text: str, indent: int = 8) -> None:
    """``head`` (coloured) and ``text``, wrapped to the console's width with a hanging
    indent; both are the user's text, printed escaped."""
    width = max(40, min(con.width, 100) - indent)
    lines = textwrap.wrap(f"{head} {text}", width, subsequent_indent="  ") or [head]
    first = lines[0][len(head):]
    con.print(" " * indent + f"[{colour}]{escape(head)}[/]{escape(first)}")
    for line in lines[1:]:
        con.print(" " * indent + escape(line))


def _fmt(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "–"
    return f"{x:.1%}" if pct else f"{x:.3f}"


def render_monitor(res: MonitorResult, con: Console) -> None:
    """Windows × status, the performance estimate per window, and the alerts' reasons."""
    con.print(f"[bold]Monitor of {escape(res.project)}[/]  ·  {len(res.windows)} window(s) "
              f"({escape(str(res.window.get('by')))}"
              + (f", {res.window['every']}" if res.window.get("every") else
                 f", {res.window.get('rows')} rows") + ")")
    con.print(f"  reference: split {escape(str(res.reference['split']))} "
              f"({res.reference['rows']:,} rows)")
    for m, info in res.models.items():
        task = info.get("task", "binary")
        if task == "binary":
            con.print(f"  model {escape(m)}: threshold {info['threshold']:g} "
                      f"({escape(str(info['threshold_from']))})")
        else:
            what = ("realised once labels arrive" if task == "regression" else
                    f"{len(info.get('classes', []))} classes, estimated before labels")
            _wrapped(con, f"model {m}:", "default",
                     f"{task}; {', '.join(info.get('metrics', []))} ({what})", indent=2)
    con.print()
    for w in res.windows:
        mark, colour = _STATUS[w.status]
        perfs = []
        for p in w.performance:
            e = p.estimates[0] if p.estimates else None
            if e is None:
                continue
            if p.estimator == "realised":
                # Regression: no label-free estimate; the realised value and its interval.
                text = (escape(p.note) if e.realised is None else
                        f"{escape(e.metric)} = {_sig(e.realised)} "
                        f"{escape(f'[{_sig(e.low)}, {_sig(e.high)}]')}"
                        + (f" ref {_sig(e.reference)}" if e.reference is not None else ""))
                perfs.append((p.model, text))
                continue
            if not p.trustworthy:
                text = f"{escape(e.metric)}: estimate not trustworthy"
            else:
                text = (f"{escape(e.metric)} ≈ {_fmt(e.estimate)} "
                        f"{escape(f'[{_fmt(e.low)}, {_fmt(e.high)}]')}")
            if e.realised is not None:
                # "not trustworthy real 0.406" read as one phrase.
                text += f"; realised {_fmt(e.realised)}"
            perfs.append((p.model, text))
        start = w.start[:16].replace("T", " ")
        # One model: its estimate on the window's line; several (a shadow candidate): one
        # line each, named, so that the summary stays within 80 columns.
        perf = f"  {perfs[0][1]}" if len(perfs) == 1 else ""
        head = f"  #{w.index:<3} {escape(start)} {w.rows:>6,}  [{colour}]{mark}[/]"
        # The figures go on their own line when the window's line would pass 80 columns.
        wide = len(perfs) == 1 and len(f"  #{w.index:<3} {start} {w.rows:>6,}  {mark}"
                                       f"  {perfs[0][1]}") > 80
        con.print(head if wide else head + perf)
        if wide:
            con.print(f"        {perfs[0][1]}")
        if len(perfs) > 1:
            for m, text in perfs:
                con.print(f"        {escape(m)}: {text}")
        for c in w.alerts[:_SHOWN]:
            where = "" if c.slice == "all" else f" [{c.slice}]"
            _wrapped(con, c.kind, "red", f"{c.column}{where}: {c.reason}")
        if len(w.alerts) > _SHOWN:
            con.print(f"        … and {len(w.alerts) - _SHOWN} more (monitor.json)", style="dim")
        for p in w.performance:
            for r in p.reasons:
                _wrapped(con, p.model + ":", "yellow", r)
    con.print()
    for b in res.back_tests:
        if b.windows:
            _wrapped(con, "back-test", *back_test_line(b, float(res.gates.get("q", 0.05))),
                     indent=0)
    # The rollout's own warnings are printed with its decision, below.
    own = set((res.rollout.unpaired or {}).get("warnings", [])) if res.rollout else set()
    for text in res.warnings:
        if text not in own:
            _wrapped(con, "warning:", "yellow", text, indent=0)
    if res.rollout is not None:
        render_rollout(res.rollout, con)
    n = len(res.alerting)
    colour = "red" if n else "green"
    con.print(f"[bold {colour}]{n} of {len(res.windows)} window(s) raised an alert[/]"
              + (f"; {_GATE_NAME.get(res.rollout.mode, 'rollout')} gate: "
                 f"{res.rollout.decision}" if res.rollout is not None else ""))


def _sig(x: float | None) -> str:
    """Four significant figures (a regression metric is on the label's scale)."""
    return "–" if x is None else f"{x:.4g}"


_DECISION = {"PROMOTE": "green", "HOLD": "yellow", "ROLL BACK": "red"}
_GATE_NAME = {"shadow": "shadow", "canary": "canary", "blue_green": "blue-green"}


def _iv(v: object, pct: bool = False) -> str:
    """A figure and its interval: ``+0.057 [+0.039, +0.076]`` (or points of a share)."""
    names = ("value", "low", "high") if hasattr(v, "value") else ("difference", "lower",
                                                                  "upper")
    value, low, high = (getattr(v, k) for k in names)
    if value is None:
        return "–"

    def f(x: float) -> str:
        # A true minus sign, as the rest of mlscope prints figures.
        return (f"{x * 100:+.1f}" if pct else f"{x:+.3f}").replace("-", "−")

    tail = f" [{f(low)}, {f(high)}]" if low is not None and high is not None else ""
    return f(value) + tail + (" pts" if pct else "")


def render_rollout(r: object, con: Console) -> None:
    """The shadow gate: the decision, its reasons and the paired figures (80 columns)."""
    ro: Any = r
    if ro.mode != "shadow":
        _render_unpaired(ro, con)
        return
    f = ro.cumulative.figures
    colour = _DECISION.get(ro.decision, "yellow")
    con.print(f"[bold]Shadow gate[/]: {escape(ro.candidate)} vs {escape(ro.production)} "
              f"(in production) on {f.rows:,} rows: [bold {colour}]{ro.decision}[/]")
    agree = f.agreement
    _wrapped(con, "agreement:", "bold", f"{_fmt(agree.value, True)} "
             f"[{_fmt(agree.low, True)}, {_fmt(agree.high, True)}] at the thresholds; "
             f"positive rate {_fmt(f.positive_rate_candidate, True)} vs "
             f"{_fmt(f.positive_rate_production, True)}: "
             f"{_iv(f.positive_rate_difference, True)}"
             + (f" (McNemar p = {f.positive_rate_difference.p:.2g})"
                if f.positive_rate_difference.p is not None else ""), indent=2)
    shift = f.score_shift
    est = "; ".join(f"{k} {_iv(v)}" for k, v in list(f.estimated.items())[:2])
    _wrapped(con, "label-free:", "bold",
             f"score shift PSI {_fmt(shift.get('psi'))}"
             + (f"; estimated difference {est}" if est else ""), indent=2)
    _render_gates(ro, con, colour)


def _render_gates(ro: Any, con: Console, colour: str) -> None:
    """The overall gates, failing slices, the per-window strip and the reasons."""
    for g in ro.cumulative.gates:
        mark = "[green]✓[/]" if g.passed else "[red]✗[/]"
        where = "" if g.slice == "overall" else f" [{g.slice}]"
        need = "improve ≥" if g.kind == "superiority" else "regress ≤"
        if g.slice != "overall" and g.passed:
            continue
        con.print(f"  {mark} {escape(g.metric + where)} ({need} {g.margin:g}): "
                  f"{escape(_iv(g))}" if g.difference is not None else
                  f"  {mark} {escape(g.metric + where)}: undefined")
    marks = {None: "–", "passed": "✓", "worse": "✗", "not shown": "·"}
    strip = " ".join(f"#{w.index}:{marks[w.outcome()]}" for w in ro.windows)
    if strip:
        _wrapped(con, "gate per window:", "bold",
                 strip + "  (✓ passes, · not shown yet, ✗ worse, – too few labels)",
                 indent=2)
    for text in ro.reasons:
        _wrapped(con, "·", colour, text, indent=2)
    con.print()


def _render_unpaired(ro: Any, con: Console) -> None:
    """The canary or blue-green gate: decision, arms, label-free figures, gates."""
    cum, f = ro.cumulative, ro.cumulative.figures
    colour = _DECISION.get(ro.decision, "yellow")
    title = "Canary gate" if ro.mode == "canary" else "Blue-green gate"
    con.print(f"[bold]{title}[/]: {escape(ro.candidate)} vs {escape(ro.production)} "
              f"(unpaired) on {f.rows:,} rows: [bold {colour}]{ro.decision}[/]")
    info = ro.unpaired or {}
    switch = f"; switch at {info['switch'][:16]}" if info.get("switch") else ""
    _wrapped(con, "arms:", "bold",
             f"{f.rows_production:,} rows served by {ro.production}, "
             f"{f.rows_candidate:,} by {ro.candidate} ({_fmt(f.candidate_share, True)} "
             f"to the candidate){switch}; labelled {cum.labelled_production:,} and "
             f"{cum.labelled_candidate:,}"
             # Only under HOLD: beside PROMOTE or ROLL BACK it would contradict them.
             + (f"; need ~{info['rows_needed_per_arm']:,} per arm to decide"
                if info.get("rows_needed_per_arm") and ro.decision == "HOLD" else ""),
             indent=2)
    _wrapped(con, "positive rate:", "bold",
             f"{_fmt(f.positive_rate_candidate, True)} vs "
             f"{_fmt(f.positive_rate_production, True)}: "
             f"{_iv(f.positive_rate_difference, True)} (Newcombe; Fisher p = "
             + (f"{f.positive_rate_difference.p:.2g})" if f.positive_rate_difference.p
                is not None else "–)"), indent=2)
    est = "; ".join(f"{k} {_iv(v)}" for k, v in list(f.estimated.items())[:2])
    _wrapped(con, "label-free:", "bold",
             f"score shift between the arms PSI {_fmt(f.score_shift.get('psi'))}"
             + (f"; estimated difference (CBPE per arm) {est}" if est else ""), indent=2)
    _render_gates(ro, con, colour)


def monitor_command(charter: Path, log: Path, out: Path | None, as_json: bool,
                    console: Console | None = None, *, store: str | None = None,
                    record: bool = True, digest: Path | None = None,
                    table: str | None = None) -> int:
    """Run ``mlscope monitor``; returns the exit code (0 no alert, 1 an alert).

    With ``record`` the result is saved in the store (``store``: a URL or SQLite file;
    None: ``.mlscope/store.sqlite`` beside the charter, as ``mlscope run`` saves runs)
    before ``monitor.json`` and ``monitor.html`` are written, so a store that refuses
    (locked, newer schema) leaves the previous outputs as they were.

    Raises
    ------
    InputError, CharterError
        The charter, its ``monitor:`` section or the log cannot be used (exit 2).
    """
    from mlscope.charter import load_charter
    from mlscope.data.source import file_fingerprint
    from mlscope.malloc import keep_freed_memory
    from mlscope.monitor import monitor

    keep_freed_memory()  # a batch command: faster on large logs (mlscope.malloc)
    con = console or Console(highlight=False, soft_wrap=True)
    ch = load_charter(charter)
    folder = out if out is not None else charter.parent / "mlscope-out" / "monitor"
    # Checked before anything is computed, recorded or written: a bad --digest found only
    # after monitor.json was replaced would leave the outputs half-updated.
    for target in ("monitor.json", "monitor.html", "digest.md", "digest.json"):
        _check_target(folder / target, "--out")
    if digest is not None:
        _check_target(digest, "--digest")
        _check_target(digest.with_suffix(".json"), "--digest (its .json sibling)")
    frame, info = read_log(log, table)
    started = _utc_now()
    res = monitor(ch, charter, frame, log_info=file_fingerprint(log) | info)
    saved = ""
    if record:
        saved = _record(res, ch, charter, store, started)
    path, written = _write_outputs(res, folder, digest)
    if as_json:
        # Plain print: rich would wrap long lines and break the JSON for a pipe.
        print(res.to_json(), end="")
        return res.exit_code
    render_monitor(res, con)
    con.print(f"wrote {escape(str(path))}, monitor.html and "
              + ", ".join(escape(str(w)) for w in written) + " (+ .json)"
              + (f"; recorded in {escape(saved)}" if saved else ""))
    return res.exit_code


def _check_target(path: Path, option: str) -> None:
    """Refuse an output path that cannot be written, naming it and the fix: a folder where
    a file goes, a file where a folder goes, or a folder without write permission."""
    import os

    if path.is_dir():
        raise InputError(f"{option}: {path} is a folder; name a file to write (e.g. "
                         f"{path / path.name if path.suffix else path / 'digest.md'})")
    parent = next(p for p in path.parents if p.exists() or p == p.parent)
    if not parent.is_dir():
        raise InputError(f"{option}: {parent} is a file, so {path} cannot be written; "
                         "name a path inside a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{option}: cannot write {path}: no write permission in {parent}; "
                         "name a writable place (or fix the folder's permissions)")


def _write_outputs(res: MonitorResult, folder: Path,
                   digest: Path | None) -> tuple[Path, list[Path]]:
    """``monitor.json``, ``monitor.html`` and the digest into ``folder``, and the digest's
    copy at ``digest``: every file is staged (written and synced) before any is renamed,
    so a failure leaves the previous outputs as they were, not half-updated."""
    from mlscope.atomic import StagedFiles
    from mlscope.monitor.digest import digest_files
    from mlscope.report.monitor_page import monitor_html

    try:
        with StagedFiles(folder) as main, StagedFiles(
                digest.parent if digest is not None else folder) as copy:
            # Always beside monitor.json (as `mlscope check` writes check.md); `--digest`
            # also puts a copy where a chat or PR step picks it up.
            main.put("monitor.html", monitor_html(res))
            for name, text in digest_files(res).items():
                main.put(name, text)
            main.put("monitor.json", res.to_json())  # last: the file readers trust first
            if digest is not None:
                for name, text in digest_files(res, digest.name).items():
                    copy.put(name, text)
            main.commit()
            copy.commit()
    except OSError as exc:
        raise InputError(f"cannot write the monitor's outputs ({exc.strerror or exc}: "
                         f"{exc.filename or folder}); nothing was replaced: check --out and "
                         "--digest") from None
    return folder / "monitor.json", [folder / "digest.md", *([digest] if digest else [])]


def read_log(log: Path, table: str | None) -> tuple[pd.DataFrame, dict[str, str]]:
    """The log as a frame: a Parquet or CSV file, or ``table`` of a DuckDB database;
    also what the result records of the table.

    Raises
    ------
    InputError
        A DuckDB database without ``--table``, ``--table`` with a file that is not one, or
        a log that cannot be read.
    """
    from mlscope.data.source import DUCKDB_SUFFIXES, read_file, read_table

    is_db = log.suffix.lower() in DUCKDB_SUFFIXES
    if is_db and not table:
        raise InputError(f"--log {log.name} is a DuckDB database; name the table that holds "
                         "the log with --table NAME")
    if table and not is_db:
        raise InputError(f"--table {table} reads a table of a DuckDB database, and --log "
                         f"{log.name} is not one ({', '.join(DUCKDB_SUFFIXES)}); drop --table "
                         "for a Parquet or CSV log")
    if table:
        return read_table(log, table, "--log"), {"table": table}
    # A header naming a column twice (or two names equal but for case) is refused by
    # read_file (mlscope.data.columns): the monitor never watches one of two such columns.
    return read_file(log, "--log"), {}


def _utc_now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


def _record(res: MonitorResult, ch: Charter, charter: Path, store: str | None,
            started: str) -> str:
    """Save ``res`` in the project's store; returns where (``URL (monitor record N)``)."""
    from mlscope.charter import charter_to_dict
    from mlscope.store import Store
    from mlscope.store.records import charter_hash

    with Store.open(store, project_dir=charter.resolve().parent) as db:
        rid = db.save_monitor(res.to_dict(), command="mlscope monitor",
                              charter_hash=charter_hash(charter_to_dict(ch)),
                              created_at=started)
        return f"{db.url} (monitor record {rid})"
