"""Recording a run in an existing SQLite store with the standard library's ``sqlite3``.

``mlscope run`` records every run. Through :class:`~mlscope.store.Store` that costs
SQLAlchemy's import, about 0.13 s of CPU: a tenth of a short run. In the common case, the
project's SQLite file already at this mlscope's schema revision, this module writes the
same rows the same way (the same pragmas, ``BEGIN IMMEDIATE``, the same columns and
values, WAL mode switched on as :meth:`Store.open` does). Anything else returns None
before anything is written, and the caller goes through :class:`~mlscope.store.Store`,
which creates, upgrades, retries and explains: no store yet, an older or newer schema, a
database URL, a file that is not an SQLite store, and any SQLite error (a lock held past
the busy timeout included: the store then retries).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

from mlscope.result import EvaluationResult
from mlscope.store.base import (
    BUSY_TIMEOUT_S,
    DEFAULT_PATH,
    HEAD_REVISION,
    RUNS_TABLE,
    SQLITE_MAGIC,
    VALUES_TABLE,
    VERSION_TABLE,
)
from mlscope.store.changes import describe_changes
from mlscope.store.records import check_portable, facts, run_record, value_rows

__all__ = ["save_run", "sqlite_file"]

_PREVIOUS = ("charter_hash", "models", "data_hash", "seed")


def sqlite_file(location: str | Path | None, project_dir: Path | None) -> Path | None:
    """The SQLite file a store location names, as :meth:`Store.open` resolves it; None for
    a database URL (``sqlite://`` URLs included: they may carry options)."""
    if location is None:
        path = (Path.cwd() if project_dir is None else Path(project_dir)) / DEFAULT_PATH
    elif isinstance(location, Path) or "://" not in location:
        path = Path(location).expanduser()
    else:
        return None
    return path.absolute()


def save_run(
    result: EvaluationResult,
    *,
    location: str | Path | None,
    project_dir: Path | None,
    command: str,
    charter_text: str | None = None,
    note: str | None = None,
) -> tuple[str, int] | None:
    """Save ``result`` as :meth:`Store.save` would, when the store is an up-to-date SQLite
    file; returns the store's URL as :attr:`Store.url` shows it and the run id, or None
    (nothing written) when :class:`~mlscope.store.Store` must do it.

    Raises
    ------
    StoreError
        The result holds what no store keeps (:meth:`Store.save` raises the same).
    """
    path = sqlite_file(location, project_dir)
    if path is None or not path.is_file():
        return None
    try:
        with path.open("rb") as fh:
            if fh.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
                return None
        con = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except (OSError, sqlite3.Error):
        return None
    try:
        run_id = _save(con, result, command=command, charter_text=charter_text, note=note)
    except sqlite3.Error:
        return None
    finally:
        con.close()
    return None if run_id is None else (f"sqlite:///{path}", run_id)


def _save(con: sqlite3.Connection, result: EvaluationResult, *, command: str,
          charter_text: str | None, note: str | None) -> int | None:
    # The connection as mlscope.store.backend sets up SQLAlchemy's.
    con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("BEGIN")
    try:
        has_version = con.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
            (VERSION_TABLE,)).fetchone() is not None
        revisions = ([str(r[0]) for r in con.execute(f"SELECT version_num FROM {VERSION_TABLE}")]
                     if has_version else [])
    finally:
        con.execute("COMMIT")
    if revisions != [HEAD_REVISION]:
        return None  # created, upgraded or refused by Store
    # As Store.open: WAL once the store is known to be ours; a read-only file or a file
    # system without shared memory keeps the rollback journal.
    with contextlib.suppress(sqlite3.Error):
        con.execute("PRAGMA journal_mode=WAL").fetchall()
    record = run_record(result, command=command, charter_text=charter_text, note=note)
    rows = value_rows(result)
    check_portable(record, rows)
    con.execute("BEGIN IMMEDIATE")
    try:
        prev = con.execute(
            f"SELECT {', '.join(_PREVIOUS)} FROM {RUNS_TABLE} WHERE project = ? "
            "ORDER BY id DESC LIMIT 1", (record["project"],)).fetchone()
        changes = describe_changes(None if prev is None else facts(dict(zip(_PREVIOUS, prev,
                                                                            strict=True))),
                                   facts(record))
        full = {**record, "changes": json.dumps(changes)}
        cur = con.execute(
            f"INSERT INTO {RUNS_TABLE} ({', '.join(full)}) "
            f"VALUES ({', '.join('?' * len(full))})", list(full.values()))
        assert cur.lastrowid is not None
        run_id = int(cur.lastrowid)
        if rows:
            cols = ["run_id", *rows[0]]
            con.executemany(
                f"INSERT INTO {VALUES_TABLE} ({', '.join(cols)}) "
                f"VALUES ({', '.join('?' * len(cols))})",
                [(run_id, *(r[c] for c in cols[1:])) for r in rows])
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    return run_id
