"""The store of results: every evaluation of every project, in one SQL database.

By default the store is an SQLite file in the project (``.mlscope/store.sqlite``); any
SQLAlchemy URL works too (a team's PostgreSQL). A run is one saved
:class:`~mlscope.result.EvaluationResult`: its metadata and the whole result (compressed
JSON) in ``mlscope_runs``, and every overall value (split × model × metric) in
``mlscope_run_values`` for fast history queries. See ``docs/store.md``.
"""

from __future__ import annotations

import json
import random
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import func, insert, inspect, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
)

from mlscope._version import __version__
from mlscope.result import EvaluationResult
from mlscope.store.backend import (
    DEFAULT_PATH,
    LOCK_WAIT_S,
    WRITE,
    StoreError,
    begin_write,
    check_file,
    make_engine,
    resolve,
    retryable,
    scrub,
    shown,
)
from mlscope.store.changes import describe_changes
from mlscope.store.migrate import get_meta, known_revisions, set_meta, upgrade
from mlscope.store.monitoring import (
    MonitorSummary,
    MonitorWindow,
    decode_monitor,
    insert_monitor,
    latest_windows_stmt,
    monitor_record,
    summary_columns,
    summary_of_monitor,
    window_of,
)
from mlscope.store.records import (
    HistoryPoint,
    RunSummary,
    check_portable,
    facts,
    now,
    opt_float,
    run_record,
    summary_of,
    value_rows,
)
from mlscope.store.schema import (
    HEAD_REVISION,
    META_TABLE,
    VERSION_TABLE,
    monitors_table,
    runs_table,
    values_table,
)

__all__ = ["DEFAULT_PATH", "Store", "StoreError"]

T = TypeVar("T")

SUMMARY_COLUMNS = [c for c in runs_table.c
                   if c.name not in ("result", "charter_text", "charter_json", "saved_at")]


def insert_values(conn: Connection, run_id: int, rows: list[dict[str, Any]]) -> None:
    if rows:  # an empty executemany would be read as one row of defaults
        conn.execute(insert(values_table), [{**r, "run_id": run_id} for r in rows])



class _State(NamedTuple):
    """What a database holds, read before anything is written to it."""

    tables: frozenset[str]
    revisions: tuple[str, ...]
    written_by: str | None


class Store:
    """A store of evaluation results; open one with :meth:`Store.open`.

    Use it as a context manager, or call :meth:`close`.

    Examples
    --------
    >>> with Store.open(project_dir=path) as store:  # doctest: +SKIP
    ...     run_id = store.save(result, command="mlscope run mlscope.yaml")
    ...     store.history(result.project, "roc_auc")
    """

    url: str
    path: Path | None

    def __init__(self, engine: Engine, path: Path | None) -> None:
        # Use Store.open: it checks and migrates the database before handing it out.
        self._engine = engine
        self.path = path
        self.url = shown(engine.url)
        self._sqlite = engine.url.get_backend_name() == "sqlite"
        self._closed = False

    # -- opening -----------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        location: str | Path | None = None,
        *,
        project_dir: Path | None = None,
        create: bool = True,
    ) -> Store:
        """Open (and create or upgrade) a store.

        Parameters
        ----------
        location
            A SQLAlchemy URL (``sqlite:///runs.sqlite``, ``postgresql+psycopg://host/db``)
            or the path of an SQLite file. None: ``project_dir/.mlscope/store.sqlite``.
        project_dir
            The project's directory for the default location (default: the current one).
        create
            Create the file and the schema when there is no store yet; with False, a
            missing store is an error. An older schema is upgraded either way, all its
            migrations in one transaction.

        Raises
        ------
        StoreError
            The location is not a database URL or its driver is missing; the file is not
            an SQLite database, or holds other tables and no store; the store's schema is
            newer than this mlscope supports; there is no store and ``create`` is False.
            A store that is refused is left exactly as it was.
        """
        url, path = resolve(location, project_dir)
        if path is not None:
            check_file(path, create=create)
        try:
            engine = make_engine(url)
        except (ArgumentError, NoSuchModuleError) as exc:
            raise StoreError(
                f"store: cannot use `{shown(url)}`: {scrub(str(exc), url)}. "
                "Give a SQLAlchemy URL (sqlite:///path/store.sqlite, "
                "postgresql+psycopg://user@host/db) or the path of an SQLite file"
            ) from None
        except ImportError as exc:
            raise StoreError(
                f"store: the database driver for `{url.drivername}` is not installed "
                f"({exc.name or exc}); install it, e.g. `pip install \"psycopg[binary]\"` "
                "for postgresql+psycopg:// URLs"
            ) from None
        store = cls(engine, path)
        try:
            store._prepare(create=create)
        except BaseException:
            engine.dispose()
            raise
        return store

    def _prepare(self, *, create: bool) -> None:
        # Look first, in a read-only transaction: a store that is refused must not be
        # touched, not even switched to WAL mode (that rewrites the file's header).
        state = self._run(_read_state, write=False, what="read")
        if not self._needs_migration(state, create=create):
            if self._sqlite:
                self._enable_wal()
            return
        if self._sqlite:
            self._enable_wal()
        self._run(self._migrate, write=True, what="create or upgrade the schema of")

    def _migrate(self, conn: Connection) -> None:
        # Decided again under the write lock: another process may have created or
        # upgraded the store since we looked.
        state = _read_state(conn)
        if not self._needs_migration(state, create=True):
            return
        fresh = VERSION_TABLE not in state.tables
        upgrade(conn, "head")
        set_meta(conn, "schema_written_by", __version__)
        if fresh:
            set_meta(conn, "created_by", __version__)
            set_meta(conn, "created_at", now())

    def _needs_migration(self, state: _State, *, create: bool) -> bool:
        """Whether the schema must be created or upgraded; raises for a store we refuse."""
        ours = {t for t in state.tables if t.startswith("mlscope_")}
        others = sorted(state.tables - ours)
        where = self._where()
        if VERSION_TABLE in state.tables:
            if len(state.revisions) != 1:
                raise StoreError(
                    f"the store at {where} is damaged: its schema version table "
                    f"`{VERSION_TABLE}` holds {list(state.revisions)} instead of one "
                    "revision. It was left untouched"
                )
            rev = state.revisions[0]
            if rev == HEAD_REVISION:
                return False
            if rev in known_revisions():
                return True
            by = f", written by mlscope {state.written_by}" if state.written_by else ""
            raise StoreError(
                f"the store at {where} has schema revision {rev}{by}, newer than this "
                f"mlscope {__version__} supports (up to revision {HEAD_REVISION}). Upgrade "
                "mlscope (`pip install --upgrade mlscope`) to use it; the store was left "
                "untouched"
            )
        if ours:
            raise StoreError(
                f"the store at {where} is damaged: it has mlscope tables "
                f"({', '.join(sorted(ours))}) but no schema version (`{VERSION_TABLE}`). "
                "It was left untouched; restore it from a backup or give another location"
            )
        if others and self._sqlite:
            shown = ", ".join(others[:8]) + (", …" if len(others) > 8 else "")
            raise StoreError(
                f"{where} is not an mlscope store: it is an SQLite database with other "
                f"tables ({shown}) and none of mlscope's. It was left untouched; give "
                "another store location"
            )
        if not create:
            raise StoreError(
                f"there is no mlscope store at {where} yet; save a run to create it "
                "(or open it with create=True)"
            )
        return True

    def _enable_wal(self) -> None:
        # WAL lets readers go on while one process writes, and makes each commit one
        # append. It is a property of the file, so setting it once is enough; it cannot be
        # changed inside a transaction, hence the raw connection.
        raw = self._engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.fetchall()
            cur.close()
        except self._engine.dialect.loaded_dbapi.Error:
            # A read-only file, or a file system without shared memory: the default
            # rollback journal is still correct, only slower with concurrent readers.
            pass
        finally:
            raw.close()

    # -- writing -----------------------------------------------------------------------
    def save(
        self,
        result: EvaluationResult,
        *,
        command: str,
        charter_text: str | None = None,
        note: str | None = None,
    ) -> int:
        """Save ``result`` as a new run and return its id.

        Parameters
        ----------
        result
            The evaluation to store (kept whole; :meth:`result` gives it back).
        command
            The command that produced it, e.g. ``mlscope run mlscope.yaml``.
        charter_text
            The charter file as written (YAML), kept beside the canonical charter.
        note
            Free text shown with the run.

        Raises
        ------
        StoreError
            The run could not be written, or holds what not every database can store (a
            name over 255 characters, a NUL character, NaN or an infinity); nothing of it
            was written.

        Notes
        -----
        One transaction: a save that fails writes nothing. Concurrent writers take turns
        (SQLite: the write lock is taken when the transaction begins, and a busy store is
        retried for up to two minutes; PostgreSQL: an advisory lock held by the
        transaction), so ids follow the commits and ``changes`` the previous commit.
        """
        record = run_record(result, command=command, charter_text=charter_text, note=note)
        rows = value_rows(result)
        check_portable(record, rows)

        def write(conn: Connection) -> int:
            prev = conn.execute(
                select(runs_table.c.charter_hash, runs_table.c.models,
                       runs_table.c.data_hash, runs_table.c.seed)
                .where(runs_table.c.project == record["project"])
                .order_by(runs_table.c.id.desc())
                .limit(1)
            ).first()
            changes = describe_changes(None if prev is None else facts(prev), facts(record))
            res = conn.execute(insert(runs_table).values(**record, changes=json.dumps(changes)))
            key = res.inserted_primary_key
            assert key is not None
            run_id = int(key[0])
            insert_values(conn, run_id, rows)
            return run_id

        return self._run(write, write=True, what=f"save a run of `{result.project}` in")

    # -- reading -----------------------------------------------------------------------
    def runs(
        self, project: str | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[RunSummary]:
        """Summaries of the saved runs, newest first (of one ``project``, or all)."""
        if limit is not None and limit < 0:
            raise StoreError(f"limit must be 0 or more, got {limit}")
        if offset < 0:
            raise StoreError(f"offset must be 0 or more, got {offset}")
        stmt = select(*SUMMARY_COLUMNS).order_by(runs_table.c.id.desc()).offset(offset)
        if project is not None:
            stmt = stmt.where(runs_table.c.project == project)
        if limit is not None:
            stmt = stmt.limit(limit)
        rows = self._run(lambda c: c.execute(stmt).all(), write=False, what="list the runs in")
        return [summary_of(r) for r in rows]

    def count(self, project: str | None = None) -> int:
        """How many runs are saved (of one ``project``, or all)."""
        stmt = select(func.count()).select_from(runs_table)
        if project is not None:
            stmt = stmt.where(runs_table.c.project == project)
        return int(self._run(lambda c: c.execute(stmt).scalar_one(), write=False,
                             what="count the runs in"))

    def run(self, run_id: int) -> RunSummary:
        """The summary of run ``run_id``; :class:`StoreError` if there is none."""
        stmt = select(*SUMMARY_COLUMNS).where(runs_table.c.id == run_id)
        row = self._run(lambda c: c.execute(stmt).first(), write=False, what="read")
        if row is None:
            raise self._missing(run_id)
        return summary_of(row)

    def result(self, run_id: int) -> EvaluationResult:
        """The full, typed result saved as run ``run_id``."""
        stmt = select(runs_table.c.result, runs_table.c.result_schema).where(
            runs_table.c.id == run_id)
        row = self._run(lambda c: c.execute(stmt).first(), write=False, what="read")
        if row is None:
            raise self._missing(run_id)
        try:
            data = json.loads(zlib.decompress(row.result).decode("utf-8"))
        except (zlib.error, UnicodeDecodeError, ValueError) as exc:
            raise StoreError(
                f"run {run_id} in the store at {self._where()} is damaged: its result "
                f"cannot be decoded ({exc})"
            ) from None
        try:
            return EvaluationResult.from_dict(data)
        except (TypeError, ValueError, KeyError) as exc:
            raise StoreError(
                f"run {run_id} holds a result of schema {row.result_schema!r} that this "
                f"mlscope {__version__} cannot read ({exc})"
            ) from None

    def charter_text(self, run_id: int) -> str | None:
        """The charter file of run ``run_id`` as written, if it was saved with the run.

        The canonical charter (defaults filled in) is in ``result(run_id).charter``.
        """
        stmt = select(runs_table.c.id, runs_table.c.charter_text).where(
            runs_table.c.id == run_id)
        row = self._run(lambda c: c.execute(stmt).first(), write=False, what="read")
        if row is None:
            raise self._missing(run_id)
        return None if row.charter_text is None else str(row.charter_text)

    def projects(self) -> list[str]:
        """The projects with at least one run, sorted by code point (``B`` before ``a``)."""
        # Sorted here, not in SQL: a server sorts by its collation (PostgreSQL often puts
        # `alpha` before `Beta`), SQLite by code point; the list must not depend on that.
        stmt = select(runs_table.c.project).distinct()
        return sorted(str(p) for p in self._run(lambda c: c.execute(stmt).scalars().all(),
                                                write=False, what="list the projects in"))

    def history(
        self,
        project: str,
        metric: str,
        *,
        split: str | None = None,
        models: Sequence[str] | None = None,
    ) -> list[HistoryPoint]:
        """The overall value of ``metric`` in every run of ``project``, oldest first.

        Parameters
        ----------
        project, metric
            The project and the metric id (as in the charter).
        split
            The split to read; None takes each run's selection split.
        models
            Only these models (candidates or baselines); None for all.

        Returns
        -------
        list of HistoryPoint
            One per run and model that has the metric, by run, then in the order of the
            run's models. Empty when nothing matches.
        """
        v, r = values_table, runs_table
        stmt = (
            select(v.c.run_id, r.c.created_at, v.c.model, v.c.kind, v.c.split,
                   v.c.value, v.c.lower, v.c.upper)
            .join(r, r.c.id == v.c.run_id)
            .where(v.c.project == project, v.c.metric == metric)
            .order_by(v.c.run_id, v.c.position)
        )
        stmt = stmt.where(v.c.split == split if split is not None
                          else v.c.split == r.c.selection_split)
        if models is not None:
            if not models:
                return []
            stmt = stmt.where(v.c.model.in_(list(models)))
        rows = self._run(lambda c: c.execute(stmt).all(), write=False, what="read history from")
        return [HistoryPoint(run_id=int(x.run_id), created_at=x.created_at, model=x.model,
                             kind=x.kind, split=x.split, value=opt_float(x.value),
                             lower=opt_float(x.lower), upper=opt_float(x.upper))
                for x in rows]

    # -- monitoring (mlscope monitor) ------------------------------------------------------
    def save_monitor(self, data: dict[str, Any], *, command: str, charter_hash: str,
                     created_at: str | None = None) -> int:
        """Save one ``mlscope monitor`` result (``MonitorResult.to_dict()``); its id.

        Every invocation is a new record; see :mod:`mlscope.store.monitoring` for how
        :meth:`monitor_windows` keeps re-runs from doubling windows. One transaction.
        """
        record, rows = monitor_record(data, command=command, charter_hash=charter_hash,
                                      created_at=created_at)
        return self._run(lambda c: insert_monitor(c, record, rows), write=True,
                         what=f"save a monitor result of `{record['project']}` in")

    def monitors(self, project: str, *, limit: int | None = None) -> list[MonitorSummary]:
        """The project's monitor records, newest first."""
        stmt = (select(*summary_columns()).where(monitors_table.c.project == project)
                .order_by(monitors_table.c.id.desc()))
        if limit is not None:
            stmt = stmt.limit(max(limit, 0))
        rows = self._run(lambda c: c.execute(stmt).all(), write=False,
                         what="list the monitor records in")
        return [summary_of_monitor(r) for r in rows]

    def monitored_projects(self) -> list[str]:
        """The projects with at least one monitor record, sorted by code point (a project
        may have records and no run: ``mlscope monitor`` needs no stored run)."""
        stmt = select(monitors_table.c.project).distinct()
        names = self._run(lambda c: c.execute(stmt).scalars().all(), write=False,
                          what="list the monitored projects in")
        return sorted(str(p) for p in names)

    def monitor_windows(self, project: str) -> list[MonitorWindow]:
        """The project's monitored windows by start, each from the latest record with it."""
        stmt = latest_windows_stmt(project)
        rows = self._run(lambda c: c.execute(stmt).all(), write=False,
                         what="read the monitored windows in")
        return [window_of(r) for r in rows]

    def monitor_result(self, monitor_id: int) -> dict[str, Any]:
        """The stored ``monitor.json`` of record ``monitor_id`` (a JSON object, checked to
        be a monitor result only; read it as untrusted input)."""
        stmt = select(monitors_table.c.result).where(monitors_table.c.id == monitor_id)
        row = self._run(lambda c: c.execute(stmt).first(), write=False, what="read")
        if row is None:
            raise StoreError(f"no monitor record {monitor_id} in the store at "
                             f"{self._where()}")
        return decode_monitor(row.result, monitor_id, self._where())

    # -- lifetime ----------------------------------------------------------------------
    def close(self) -> None:
        """Release the connections (SQLite then folds its write-ahead log into the file)."""
        if not self._closed:
            self._closed = True
            self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    # -- helpers -----------------------------------------------------------------------
    def _where(self) -> str:
        return str(self.path) if self.path is not None else self.url

    def _missing(self, run_id: int) -> StoreError:
        stmt = select(func.max(runs_table.c.id))
        latest = self._run(lambda c: c.execute(stmt).scalar_one(), write=False, what="read")
        have = f"the latest run is {latest}" if latest is not None else "it has no runs yet"
        return StoreError(f"no run {run_id} in the store at {self._where()}; {have}")

    def _run(self, fn: Callable[[Connection], T], *, write: bool, what: str) -> T:
        """Run ``fn`` in one transaction (a writing one after the others), retried while
        the database answers that it may simply run again (SQLite: locked)."""
        if self._closed:
            raise StoreError(f"the store at {self._where()} is closed")
        delay = 0.02
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                with self._engine.connect() as conn:
                    if write:
                        conn.execution_options(**{WRITE: True})
                    with conn.begin():
                        if write:
                            begin_write(conn)
                        return fn(conn)
            except OperationalError as exc:
                if retryable(exc, self._engine.dialect.name) and time.monotonic() < deadline:
                    # Jitter so that writers that collided do not collide again in step.
                    time.sleep(delay * (1.0 + random.random()))
                    delay = min(delay * 2.0, 0.5)
                    continue
                raise self._error(exc, what) from exc
            except DBAPIError as exc:
                raise self._error(exc, what) from exc

    def _error(self, exc: DBAPIError, what: str) -> StoreError:
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        detail = scrub(detail, self._engine.url)
        lowered = detail.lower()
        if "not a database" in lowered or "malformed" in lowered:
            return StoreError(
                f"{self._where()} is not a usable mlscope store: {detail}. It was left "
                "untouched; give another store location"
            )
        return StoreError(f"cannot {what} the store at {self._where()}: {detail}")


def _read_state(conn: Connection) -> _State:
    tables = frozenset(inspect(conn).get_table_names())
    revisions: tuple[str, ...] = ()
    written_by = None
    if VERSION_TABLE in tables:
        revisions = tuple(str(r) for r in conn.execute(
            text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
    if META_TABLE in tables and revisions and revisions[0] != HEAD_REVISION:
        # Only for the message about a newer store: whatever a later mlscope keeps there,
        # it is read, never written.
        try:
            with conn.begin_nested():
                written_by = get_meta(conn, "schema_written_by")
        except DBAPIError:
            written_by = None
    return _State(tables, revisions, written_by)
