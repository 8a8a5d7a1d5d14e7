"""Monitor records in the store: one per ``mlscope monitor`` invocation, and its windows.

A record keeps the whole ``monitor.json`` (``schema: mlscope.monitor/1``, compressed) and
one row per window (span, rows, status, alert count). Running the monitor again on the same
or an overlapping log adds a record; it never rewrites an older one. The time series of a
project takes, for each window start, the window of the **latest** record that has it
(:func:`latest_windows_stmt`), so a re-run replaces its windows in the series instead of
doubling them, and the older records stay readable.

The store sits below :mod:`mlscope.monitor` in the layers: it handles ``monitor.json`` as
a JSON object and checks only what its own columns need. Everything stored is read back
as untrusted input; :func:`decode_monitor` refuses what is not a monitor record.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.engine import Connection, Row

from mlscope._version import __version__
from mlscope.store.backend import StoreError
from mlscope.store.records import check_portable, now
from mlscope.store.schema import monitor_windows_table, monitors_table

__all__ = ["MONITOR_SCHEMA", "MonitorSummary", "MonitorWindow", "decode_monitor",
           "insert_monitor", "latest_windows_stmt", "monitor_record", "summary_columns",
           "summary_of_monitor", "window_of"]

MONITOR_SCHEMA = "mlscope.monitor/1"
_STATUSES = ("ok", "alert", "untrusted")


@dataclass
class MonitorSummary:
    """One stored ``mlscope monitor`` invocation, without its windows' checks.

    ``created_at`` is when it ran (ISO 8601, UTC); ``log_name`` the log's file name and
    ``log_hash`` its sampled SHA-256 (as ``monitor.json``'s ``log`` records it);
    ``decision`` the shadow gate's (PROMOTE, HOLD, ROLL BACK) or None without a candidate.
    """

    id: int
    project: str
    created_at: str
    saved_at: str
    command: str
    charter_hash: str
    log_name: str
    log_hash: str
    n_windows: int
    alerting: int
    untrusted: int
    exit_code: int
    first_start: str | None
    last_end: str | None
    decision: str | None
    mlscope_version: str


@dataclass
class MonitorWindow:
    """One window of a stored record: ``monitor_id`` and ``position`` (its index there)
    locate its checks in :meth:`Store.monitor_result`."""

    monitor_id: int
    position: int
    start: str
    end: str
    rows: int
    status: str
    alerts: int


def _bad(project: str, what: str) -> StoreError:
    return StoreError(f"the monitor result of `{project[:80]}` cannot be stored: {what}")


def _text(data: dict[str, Any], key: str, project: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise _bad(project, f"`{key}` must be text, got {type(value).__name__}")
    return value


def monitor_record(data: dict[str, Any], *, command: str, charter_hash: str,
                   created_at: str | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``mlscope_monitors`` row of ``data`` (``MonitorResult.to_dict()``) and its
    ``mlscope_monitor_windows`` rows (without ``monitor_id``).

    Raises
    ------
    StoreError
        ``data`` is not a monitor result, or holds what not every database can store.
    """
    project = data.get("project") if isinstance(data.get("project"), str) else "?"
    assert isinstance(project, str)
    if data.get("schema") != MONITOR_SCHEMA:
        raise _bad(project, f"its schema is {data.get('schema')!r}, not {MONITOR_SCHEMA}")
    _text(data, "project", project)
    log = data.get("log") if isinstance(data.get("log"), dict) else {}
    assert isinstance(log, dict)
    windows = data.get("windows")
    if not isinstance(windows, list):
        raise _bad(project, "`windows` must be a list")
    rows = []
    for i, w in enumerate(windows):
        if not isinstance(w, dict):
            raise _bad(project, f"window {i} is not an object")
        status, n, alerts = w.get("status"), w.get("rows"), w.get("alerts")
        if status not in _STATUSES or not isinstance(n, int) or not isinstance(alerts, list):
            raise _bad(project, f"window {i} lacks its status, rows or alerts")
        rows.append({"project": project, "position": i, "start": _text(w, "start", project),
                     "end": _text(w, "end", project), "rows": n, "status": status,
                     "alerts": len(alerts)})
    try:
        payload = json.dumps(data, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise _bad(project, str(exc)) from None
    rollout = data.get("rollout")
    decision = rollout.get("decision") if isinstance(rollout, dict) else None
    record = {
        "project": project,
        "created_at": created_at or now(),
        "saved_at": now(),
        "command": command,
        "charter_hash": charter_hash,
        "log_name": (PurePath(str(log.get("path", ""))).name or "(log)")[:255],
        "log_hash": str(log.get("sha256_sampled", ""))[:64],
        "n_windows": len(rows),
        "alerting": sum(r["status"] == "alert" for r in rows),
        "untrusted": sum(r["status"] == "untrusted" for r in rows),
        "exit_code": int((data.get("summary") or {}).get("exit_code", 0)),
        "first_start": rows[0]["start"] if rows else None,
        "last_end": rows[-1]["end"] if rows else None,
        "decision": decision if isinstance(decision, str) else None,
        "mlscope_version": __version__,
        "result_schema": MONITOR_SCHEMA,
        "result": zlib.compress(payload.encode("utf-8"), 6),
    }
    check_portable(record, [])
    for r in rows:
        if any(len(r[k]) > 40 or "\x00" in r[k] for k in ("start", "end")):
            raise _bad(project, f"window {r['position']}'s start or end is not a time")
    return record, rows


def insert_monitor(conn: Connection, record: dict[str, Any],
                   rows: list[dict[str, Any]]) -> int:
    """Insert one record and its windows (inside the caller's transaction)."""
    key = conn.execute(monitors_table.insert().values(**record)).inserted_primary_key
    assert key is not None
    monitor_id = int(key[0])
    if rows:
        conn.execute(monitor_windows_table.insert(),
                     [{**r, "monitor_id": monitor_id} for r in rows])
    return monitor_id


def summary_columns() -> list[Any]:
    """Every column of ``mlscope_monitors`` but the result itself."""
    return [c for c in monitors_table.c if c.name != "result"]


def summary_of_monitor(row: Row[Any]) -> MonitorSummary:
    m = row._mapping
    return MonitorSummary(**{k: m[k] for k in MonitorSummary.__dataclass_fields__})


def latest_windows_stmt(project: str) -> Select[Any]:
    """The project's windows, for each window start the one of the latest record."""
    w = monitor_windows_table
    latest = (select(w.c.start, func.max(w.c.monitor_id).label("monitor_id"))
              .where(w.c.project == project).group_by(w.c.start).subquery())
    return (select(w.c.monitor_id, w.c.position, w.c.start, w.c.end, w.c.rows, w.c.status,
                   w.c.alerts)
            .join(latest, and_(w.c.start == latest.c.start,
                               w.c.monitor_id == latest.c.monitor_id))
            .where(w.c.project == project)
            .order_by(w.c.start))


def window_of(row: Row[Any]) -> MonitorWindow:
    return MonitorWindow(int(row.monitor_id), int(row.position), str(row.start),
                         str(row.end), int(row.rows), str(row.status), int(row.alerts))


def decode_monitor(blob: Any, monitor_id: int, where: str) -> dict[str, Any]:
    """The stored ``monitor.json`` of record ``monitor_id`` as a JSON object.

    Raises
    ------
    StoreError
        The blob does not decompress, is not JSON, or is not a monitor result.
    """
    try:
        data = json.loads(zlib.decompress(bytes(blob)).decode("utf-8"))
    except (zlib.error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise StoreError(f"monitor record {monitor_id} in the store at {where} is damaged: "
                         f"its result cannot be decoded ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != MONITOR_SCHEMA:
        got = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise StoreError(f"monitor record {monitor_id} in the store at {where} is not a "
                         f"{MONITOR_SCHEMA} result (found {str(got)[:60]!r})")
    return data
