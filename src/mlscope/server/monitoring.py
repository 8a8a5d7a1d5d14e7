"""The dashboard's monitoring page: a project's ``mlscope monitor`` records over time.

The store keeps one record per ``mlscope monitor`` invocation; the page's time series
takes, for each window start, the window of the latest record that has it
(:meth:`mlscope.store.Store.monitor_windows`), so re-running the monitor on the same log
replaces its windows rather than doubling them. Only the records those windows come from
are read.

A stored record is untrusted input: :func:`decode_monitor` checks every field the page
reads (type, range, finiteness) and raises :class:`DamagedRecord` naming the record and
the field, which the page shows as an error instead of a traceback. Every text reaches
the page escaped (Jinja's autoescape, and the report's escaping SVG writer for charts).

The project list (``/``) is built here too (:func:`projects_view`): it names the projects
with runs and those with monitor records only, the latter linked to this page.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from mlscope.report.monitor_charts import STATUS_COLOURS, Series, series_chart, status_strip
from mlscope.server.pages import project_href, run_row

if TYPE_CHECKING:
    from mlscope.store import MonitorWindow, Store

__all__ = ["DEFAULT_LAST", "LAST", "NO_RECORDS", "DamagedRecord", "StoredMonitor",
           "decode_monitor", "monitoring_view", "projects_view"]

LAST = ("30", "90", "365", "all")  # windows offered on the page
DEFAULT_LAST = "90"
WINDOWS_SHOWN = 10  # the latest alerting windows listed (every alert stays in the record)
UNTRUSTED_SHOWN = 25
_STATUSES = ("ok", "alert", "untrusted")
# The shift checks charted, in the order of the page: the outputs (each model's score, a
# regression's labels) before the inputs (the features).
_SHIFT_KINDS = {"score_shift": 0, "label_shift": 1, "shift": 2}
SHIFT_SHOWN = 12  # charts of the most shifted columns (every alert stays in the table)
NO_RECORDS = ("The store has no `mlscope monitor` result of this project; run `mlscope "
              "monitor CHARTER --log LOG` (it records into the store `mlscope run` uses).")
_DECISION_CLASS = {"PROMOTE": "ok", "HOLD": "warn", "ROLL BACK": "bad"}


class DamagedRecord(ValueError):
    """A stored monitor record the page cannot read: says which record and which field."""


# -- decoding ---------------------------------------------------------------------------


def _kind(x: Any) -> str:
    return "null" if x is None else type(x).__name__


def _obj(x: Any, at: str) -> dict[str, Any]:
    if not isinstance(x, dict):
        raise DamagedRecord(f"{at}: expected an object, found {_kind(x)}")
    return x


def _list(x: Any, at: str) -> list[Any]:
    if not isinstance(x, list):
        raise DamagedRecord(f"{at}: expected a list, found {_kind(x)}")
    return x


def _text(x: Any, at: str) -> str:
    if not isinstance(x, str):
        raise DamagedRecord(f"{at}: expected text, found {_kind(x)}")
    return x


def _num(x: Any, at: str) -> float | None:
    if x is None:
        return None
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        raise DamagedRecord(f"{at}: expected a finite number or null, found {str(x)[:40]!r}")
    return float(x)


def _count(x: Any, at: str) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or x < 0:
        raise DamagedRecord(f"{at}: expected a count, found {str(x)[:40]!r}")
    return x


@dataclass
class Est:
    metric: str
    estimate: float | None
    low: float | None
    high: float | None
    realised: float | None


@dataclass
class Perf:
    model: str
    trustworthy: bool
    reasons: list[str]
    estimates: list[Est]
    slices: dict[str, Est]


@dataclass
class Alert:
    kind: str
    column: str
    slice: str
    reason: str


@dataclass
class Shift:
    """A whole-window shift check: its PSI, the PSI's gate and whether it alerted."""

    kind: str
    column: str
    psi: float | None
    gate: float | None
    alert: bool


@dataclass
class Win:
    index: int
    start: str
    end: str
    rows: int
    status: str
    alerts: list[Alert]
    performance: list[Perf]
    shifts: list[Shift] = field(default_factory=list)


@dataclass
class StoredMonitor:
    """What the page reads of one record, checked."""

    project: str
    reference_split: str
    models: list[str]
    reference_values: dict[str, dict[str, float | None]]
    windows: list[Win]
    decision: str | None = None
    candidate: str = ""
    production: str = ""
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _est(x: Any, at: str) -> Est:
    d = _obj(x, at)
    return Est(_text(d.get("metric"), f"{at}.metric"), _num(d.get("estimate"), f"{at}.estimate"),
               _num(d.get("low"), f"{at}.low"), _num(d.get("high"), f"{at}.high"),
               _num(d.get("realised"), f"{at}.realised"))


def _perf(x: Any, at: str) -> Perf:
    d = _obj(x, at)
    ok = d.get("trustworthy")
    if not isinstance(ok, bool):
        raise DamagedRecord(f"{at}.trustworthy: expected true or false, found {_kind(ok)}")
    slices = _obj(d.get("slices", {}), f"{at}.slices")
    return Perf(_text(d.get("model"), f"{at}.model"), ok,
                [_text(r, f"{at}.reasons[{i}]")
                 for i, r in enumerate(_list(d.get("reasons", []), f"{at}.reasons"))],
                [_est(e, f"{at}.estimates[{i}]")
                 for i, e in enumerate(_list(d.get("estimates"), f"{at}.estimates"))],
                {_text(k, f"{at}.slices"): _est(v, f"{at}.slices[{k[:40]!r}]")
                 for k, v in slices.items()})


def _shifts(x: Any, at: str) -> list[Shift]:
    """The whole-window shift checks of a window (the slices' stay in the alerts)."""
    out = []
    for i, c in enumerate(_list(x, at)):
        c, here = _obj(c, f"{at}[{i}]"), f"{at}[{i}]"
        kind = _text(c.get("kind"), f"{here}.kind")
        if kind not in _SHIFT_KINDS or _text(c.get("slice"), f"{here}.slice") != "all":
            continue
        alert = c.get("alert")
        if not isinstance(alert, bool):
            raise DamagedRecord(f"{here}.alert: expected true or false, found {_kind(alert)}")
        out.append(Shift(kind, _text(c.get("column"), f"{here}.column"),
                         _num(_obj(c.get("effects", {}), f"{here}.effects").get("psi"),
                              f"{here}.effects.psi"),
                         _num(_obj(c.get("gates", {}), f"{here}.gates").get("psi"),
                              f"{here}.gates.psi"), alert))
    return out


def _window(x: Any, at: str) -> Win:
    d = _obj(x, at)
    status = d.get("status")
    if status not in _STATUSES:
        raise DamagedRecord(f"{at}.status: expected one of {', '.join(_STATUSES)}, found "
                            f"{str(status)[:40]!r}")
    alerts = []
    for i, a in enumerate(_list(d.get("alerts"), f"{at}.alerts")):
        a = _obj(a, f"{at}.alerts[{i}]")
        alerts.append(Alert(*(_text(a.get(k), f"{at}.alerts[{i}].{k}")
                              for k in ("kind", "column", "slice", "reason"))))
    return Win(_count(d.get("index"), f"{at}.index"), _text(d.get("start"), f"{at}.start"),
               _text(d.get("end"), f"{at}.end"), _count(d.get("rows"), f"{at}.rows"),
               status, alerts,
               [_perf(p, f"{at}.performance[{i}]")
                for i, p in enumerate(_list(d.get("performance", []), f"{at}.performance"))],
               _shifts(d.get("checks", []), f"{at}.checks"))


def decode_monitor(data: Any, monitor_id: int) -> StoredMonitor:
    """The parts of a stored ``monitor.json`` the page reads, every field checked.

    Raises
    ------
    DamagedRecord
        A field is missing or of the wrong type; the message names the record and field.
    """
    try:
        d = _obj(data, "the record")
        models = _obj(d.get("models"), "models")
        refs = {}
        for m, info in models.items():
            values = _obj(_obj(info, f"models.{m}").get("reference_values", {}),
                          f"models.{m}.reference_values")
            refs[m] = {k: _num(v, f"models.{m}.reference_values.{k}") for k, v in values.items()}
        out = StoredMonitor(
            project=_text(d.get("project"), "project"),
            reference_split=str(_obj(d.get("reference"), "reference").get("split", "")),
            models=list(models), reference_values=refs,
            windows=[_window(w, f"windows[{i}]")
                     for i, w in enumerate(_list(d.get("windows"), "windows"))],
            warnings=[_text(t, f"warnings[{i}]")
                      for i, t in enumerate(_list(d.get("warnings", []), "warnings"))])
        if d.get("rollout") is not None:
            ro = _obj(d["rollout"], "rollout")
            out.decision = _text(ro.get("decision"), "rollout.decision")
            out.candidate = _text(ro.get("candidate"), "rollout.candidate")
            out.production = _text(ro.get("production"), "rollout.production")
            out.reasons = [_text(r, f"rollout.reasons[{i}]")
                           for i, r in enumerate(_list(ro.get("reasons"), "rollout.reasons"))]
    except DamagedRecord as exc:
        raise DamagedRecord(f"monitor record {monitor_id} is damaged: {exc}") from None
    return out


# -- the page ---------------------------------------------------------------------------


def _ticks(starts: list[str]) -> list[str]:
    """Axis names of the windows: ``MM-DD`` (with the year when they span several, and
    the time when windows are shorter than a day)."""
    times = any(s[11:16] not in ("", "00:00") for s in starts)
    years = len({s[:4] for s in starts}) > 1
    out = []
    for s in starts:
        day = s[:10] if years else s[5:10]
        out.append(f"{day} {s[11:16]}" if times else day)
    return out


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}".replace("-", "−")


@dataclass
class _Point:
    """One window of the series and the record it was read from."""

    window: Win
    monitor_id: int


# Decoded records per store, newest use last. A record is never rewritten, so the cache
# needs no invalidation; it spares a page of a daily rolling log (whose older windows each
# come from another record) decoding dozens of monitor.json files on every visit.
_CACHE: weakref.WeakKeyDictionary[Any, OrderedDict[int, StoredMonitor]] = \
    weakref.WeakKeyDictionary()
_CACHE_SIZE = 400
_LOCK = threading.Lock()


def _load(store: Store, monitor_id: int) -> StoredMonitor:
    from mlscope.store import StoreError

    with _LOCK:
        cached = _CACHE.setdefault(store, OrderedDict())
        if monitor_id in cached:
            cached.move_to_end(monitor_id)
            return cached[monitor_id]
    try:
        data = store.monitor_result(monitor_id)
    except StoreError as exc:
        if str(exc).startswith("no monitor record"):
            raise  # the store changed under us: a plain error, not a damaged record
        raise DamagedRecord(str(exc)) from None
    record = decode_monitor(data, monitor_id)
    with _LOCK:
        cached[monitor_id] = record
        while len(cached) > _CACHE_SIZE:
            cached.popitem(last=False)
    return record


def _points(store: Store, windows: list[MonitorWindow]
            ) -> tuple[list[_Point], dict[int, StoredMonitor]]:
    records: dict[int, StoredMonitor] = {}
    points = []
    for w in windows:
        if w.monitor_id not in records:
            records[w.monitor_id] = _load(store, w.monitor_id)
        rec = records[w.monitor_id]
        if w.position >= len(rec.windows) or rec.windows[w.position].start != w.start:
            raise DamagedRecord(f"monitor record {w.monitor_id} is damaged: its window "
                                f"{w.position} ({w.start}) is not in its stored result")
        points.append(_Point(rec.windows[w.position], w.monitor_id))
    return points, records


def _metric_charts(points: list[_Point], latest: StoredMonitor, ticks: list[str],
                   marks: list[int]) -> list[dict[str, Any]]:
    """One chart per estimated metric: each model's estimate (line, band; withheld where
    not trustworthy), realised value (rings) and reference value (dashed)."""
    metrics: list[str] = []
    for p in points:
        for q in p.window.performance:
            metrics += [e.metric for e in q.estimates if e.metric not in metrics]
    charts = []
    for metric in metrics:
        series = []
        for m in latest.models:
            est, lo, hi, real = [], [], [], []
            for p in points:
                perf = next((q for q in p.window.performance if q.model == m), None)
                e = next((x for x in perf.estimates if x.metric == metric), None) \
                    if perf is not None else None
                shown = e is not None and perf is not None and perf.trustworthy
                est.append(e.estimate if shown and e is not None else None)
                lo.append(e.low if shown and e is not None else None)
                hi.append(e.high if shown and e is not None else None)
                real.append(e.realised if e is not None else None)
            if any(v is not None for v in est + real):
                series.append(Series(m, est, lo, hi, real,
                                     latest.reference_values.get(m, {}).get(metric)))
        if series:
            charts.append({"metric": metric, "svg": Markup(series_chart(
                metric, series, y_label=metric, height=200.0, names=ticks, marks=marks))})
    return charts


def _slice_charts(points: list[_Point], model: str, ticks: list[str],
                  marks: list[int]) -> list[dict[str, Any]]:
    """The first metric's estimate in each slice level of ``model`` (when stored)."""
    levels: list[str] = []
    for p in points:
        for q in p.window.performance:
            if q.model == model:
                levels += [k for k in q.slices if k not in levels]
    charts = []
    for level in levels:
        est, lo, hi, real = [], [], [], []
        metric = ""
        for p in points:
            perf = next((q for q in p.window.performance if q.model == model), None)
            e = perf.slices.get(level) if perf is not None else None
            metric = e.metric if e is not None else metric
            est.append(e.estimate if e is not None else None)
            lo.append(e.low if e is not None else None)
            hi.append(e.high if e is not None else None)
            real.append(e.realised if e is not None else None)
        svg = series_chart(f"{metric} in {level}", [Series(level, est, lo, hi, real)],
                           y_label=metric, height=170.0, names=ticks, marks=marks)
        charts.append({"level": level, "metric": metric, "svg": Markup(svg)})
    return charts


def _shift_label(kind: str, column: str) -> str:
    return {"score_shift": f"score of {column}", "label_shift": "labels"}.get(kind, column)


def _shift_charts(points: list[_Point], ticks: list[str]) -> dict[str, Any]:
    """The PSI per window of each feature and each model's score (whole window), its gate
    line and the windows where that column's shift alerted shaded; the outputs first, then
    the columns that alerted most and shifted most, :data:`SHIFT_SHOWN` at most."""
    by_window = [{(c.kind, c.column): c for c in p.window.shifts} for p in points]
    keys = list(dict.fromkeys(k for w in by_window for k in w))
    rows: list[dict[str, Any]] = []
    for kind, column in keys:
        hits = [w.get((kind, column)) for w in by_window]
        values = [h.psi if h is not None else None for h in hits]
        marks = [i for i, h in enumerate(hits) if h is not None and h.alert]
        # The latest window's gate: a re-configured charter's gate applies from then on.
        gate = next((h.gate for h in reversed(hits) if h is not None and h.gate is not None),
                    None)
        worst = max((v for v in values if v is not None), default=0.0)
        rows.append({"kind": kind, "column": column, "label": _shift_label(kind, column),
                     "values": values, "marks": marks, "gate": gate, "worst": worst,
                     "alerted": [ticks[i] for i in marks]})
    rows.sort(key=lambda r: (_SHIFT_KINDS[r["kind"]], -len(r["marks"]), -r["worst"],
                             r["label"]))
    for r in rows[:SHIFT_SHOWN]:
        r["svg"] = Markup(series_chart(
            f"PSI of {r['label']}", [Series(r["label"], r["values"])], y_label="PSI",
            gate=r["gate"], zero=True, height=150.0, names=ticks, marks=r["marks"],
            tips=True))
    return {"charts": rows[:SHIFT_SHOWN], "columns": len(rows),
            "features": sum(r["kind"] == "shift" for r in rows),
            "outputs": sum(r["kind"] != "shift" for r in rows),
            "alerted": [r for r in rows if r["marks"]]}


def projects_view(store: Store) -> tuple[str | None, list[dict[str, Any]]]:
    """The project list's rows, by name: a project with runs and its latest run, one with
    monitor records only and its latest record (linked to its monitoring page). With a
    single project, which has runs, the address to go to instead (and no rows)."""
    names = store.projects()
    only = sorted(set(store.monitored_projects()) - set(names))
    if len(names) == 1 and not only:
        return project_href(names[0]), []
    rows: list[dict[str, Any]] = []
    for name in sorted([*names, *only]):
        if name in only:
            record = store.monitors(name, limit=1)
            rows.append({"name": name, "href": project_href(name, "monitoring"),
                         "latest": None, "monitor": record[0] if record else None})
            continue
        latest = store.runs(name, limit=1)
        rows.append({"name": name, "href": project_href(name), "monitor": None,
                     "latest": run_row(latest[0], {}) if latest else None})
    return None, rows


def monitoring_view(store: Store, project: str, last: str) -> dict[str, Any] | None:
    """Everything the monitoring page shows; None when the project has no record.

    Raises
    ------
    DamagedRecord
        A record the series reads cannot be decoded or checked.
    """
    records = store.monitors(project, limit=10)
    if not records:
        return None
    windows = store.monitor_windows(project)
    total = len(windows)
    if last != "all":
        windows = windows[-int(last):]
    points, decoded = _points(store, windows)
    latest_id = records[0].id
    latest = decoded.get(latest_id) or _load(store, latest_id)
    ticks = _ticks([p.window.start for p in points])
    marks = [i for i, p in enumerate(points) if p.window.status == "alert"]
    labels = [f"{p.window.start[:16].replace('T', ' ')} · {p.window.rows:,} rows · "
              f"{len(p.window.alerts)} alert(s) · record #{p.monitor_id}" for p in points]
    # Grouped by window, newest first: the whole-window alerts, then those of slices
    # folded (a broken column alerts in every slice level; listing each buries the rest).
    alerting = [{"start": p.window.start[:16].replace("T", " "), "record": p.monitor_id,
                 "overall": [a for a in p.window.alerts if a.slice == "all"],
                 "slices": [a for a in p.window.alerts if a.slice != "all"]}
                for p in reversed(points) if p.window.alerts]
    untrusted = [{"start": p.window.start[:16].replace("T", " "), "model": q.model,
                  "reasons": q.reasons}
                 for p in reversed(points) for q in p.window.performance if not q.trustworthy]
    production = latest.models[0] if latest.models else ""
    # A project with monitor records only has no page of its own to link back to.
    runs = bool(store.runs(project, limit=1))
    here = (project_href(project, "monitoring"), "monitoring")
    return {
        "page": {"title": f"{project} · monitoring", "last": last, "options": LAST,
                 "crumbs": [(project_href(project) if runs else here[0], project), here]},
        "runs": runs,
        "records": records,
        "latest": latest,
        "shown": len(points), "total": total,
        "alerting": len(marks),
        "untrusted_windows": sum(any(not q.trustworthy for q in p.window.performance)
                                 for p in points),
        "strip": Markup(status_strip([p.window.status for p in points], labels, ticks)),
        "key": list(STATUS_COLOURS.items()),
        "charts": _metric_charts(points, latest, ticks, marks),
        "production": production,
        "slices": _slice_charts(points, production, ticks, marks),
        "shift": _shift_charts(points, ticks),
        "alerting_windows": alerting[:WINDOWS_SHOWN],
        "n_alerts": sum(len(p.window.alerts) for p in points),
        "untrusted": untrusted[:UNTRUSTED_SHOWN],
        "decision_class": _DECISION_CLASS.get(latest.decision or "", "warn"),
        "fmt": _fmt,
    }
