"""Where a store lives and what differs between the databases it can live in.

A location (a path or a SQLAlchemy URL) becomes an engine here; everything specific to one
database is kept in this module, so that :mod:`mlscope.store.store` reads and writes the
same way everywhere:

* **SQLite** — the file is checked before SQLite opens (and perhaps writes) it; writers
  take the write lock when their transaction begins (``BEGIN IMMEDIATE``), wait for it
  (busy timeout) and retry while SQLite still answers "database is locked".
* **PostgreSQL** (and other servers) — writers take turns through a transaction-scoped
  advisory lock, so that a save's run id, its ``changes`` (read from the previous run)
  and a schema migration are decided one writer at a time; readers never wait.

A URL's password never appears in a message: :func:`shown` and :func:`scrub`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from mlscope.store.base import (
    BUSY_TIMEOUT_S,
    DEFAULT_PATH,
    LOCK_WAIT_S,
    StoreError,
    check_file,
)

__all__ = [
    "BUSY_TIMEOUT_S",
    "DEFAULT_PATH",
    "LOCK_WAIT_S",
    "StoreError",
    "begin_write",
    "check_file",
    "make_engine",
    "resolve",
    "retryable",
    "scrub",
    "shown",
]


WRITE = "mlscope_write"  # execution option: this transaction will write

# The advisory lock writers share on PostgreSQL: one 64-bit key, from the store's name.
# Advisory locks belong to one database, so stores in different databases never contend.
_PG_LOCK_KEY = int.from_bytes(hashlib.sha256(b"mlscope.store").digest()[:8], "big",
                              signed=True)
# PostgreSQL's "could not serialize access" and "deadlock detected": the transaction was
# rolled back as a whole and may simply run again.
_PG_RETRY_STATES = frozenset({"40001", "40P01"})


# -- showing a location ------------------------------------------------------------------
def shown(location: str | URL) -> str:
    """``location`` as it may be shown: a URL's password replaced with ``***``.

    Also for a string that is not a valid URL (the reason it is being shown): everything
    between ``user:`` and the last ``@`` of its authority is taken to be the password.
    """
    if isinstance(location, URL):
        return location.render_as_string(hide_password=True)
    scheme, sep, rest = location.partition("://")
    if not sep:
        return location
    authority = rest.split("/", 1)[0] if "@" not in rest else rest[: rest.rindex("@")]
    if "@" not in rest or ":" not in authority:
        return location
    user = authority.split(":", 1)[0]
    return f"{scheme}://{user}:***{rest[len(authority):]}"


def scrub(text: str, url: URL) -> str:
    """``text`` (a driver's message) with ``url``'s password, should it appear, hidden."""
    password = url.password
    if password:
        text = text.replace(str(password), "***")
    return text


# -- resolving and checking a location -----------------------------------------------------
def resolve(location: str | Path | None, project_dir: Path | None) -> tuple[URL, Path | None]:
    """The URL to connect to and, for an SQLite file, its path."""
    if location is None:
        path = (Path.cwd() if project_dir is None else Path(project_dir)) / DEFAULT_PATH
    elif isinstance(location, Path) or "://" not in location:
        path = Path(location).expanduser()
    else:
        try:
            url = make_url(location)
        except (ArgumentError, ValueError):  # ValueError: e.g. a port that is not a number
            raise StoreError(
                f"store: `{shown(location)}` is not a database URL; give a SQLAlchemy URL "
                "(sqlite:///path/store.sqlite, postgresql+psycopg://user@host/db) or the "
                "path of an SQLite file"
            ) from None
        path_ = _sqlite_path(url)
        # A relative SQLite path is fixed now, so that a later chdir changes nothing.
        return (url if path_ is None else url.set(database=str(path_))), path_
    path = path.absolute()
    return URL.create("sqlite", database=str(path)), path


def _sqlite_path(url: URL) -> Path | None:
    if url.get_backend_name() != "sqlite":
        return None
    db = url.database
    if not db or db == ":memory:" or db.startswith("file:") or url.query.get("uri"):
        return None  # in memory, or an SQLite URI we pass through as given
    return Path(db).expanduser().absolute()


# -- engines and transactions --------------------------------------------------------------
def make_engine(url: URL) -> Engine:
    """An engine for ``url``, set up for the store's transactions on its database."""
    if url.get_backend_name() != "sqlite":
        # pool_pre_ping: the dashboard keeps connections for hours; a server restart
        # in between must cost one reconnect, not an error page.
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # sqlite3 begins transactions itself only before INSERT/UPDATE/DELETE, so the DDL of a
    # migration would commit statement by statement. Turn that off and let
    # `_sqlite_on_begin` emit BEGIN for every transaction SQLAlchemy starts.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.close()


def _sqlite_on_begin(conn: Connection) -> None:
    # A writer takes the write lock when it begins (IMMEDIATE), not at its first write: two
    # transactions that both read and then try to write would deadlock, which SQLite
    # answers with 'database is locked' at once, without waiting out the busy timeout.
    write = conn.get_execution_options().get(WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def begin_write(conn: Connection) -> None:
    """Make the transaction just begun on ``conn`` the only writing one in the store.

    SQLite did so at BEGIN. On PostgreSQL, without it two saves would each draw a run id,
    read "the previous run" before the other committed, and could commit out of id order;
    two first opens would both create the tables. The advisory lock is released when the
    transaction ends; waiting for it is bounded like SQLite's wait.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(LOCK_WAIT_S * 1000)}ms'")
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")


def retryable(exc: OperationalError | DBAPIError, dialect: str) -> bool:
    """Whether the failed transaction may simply run again (after a pause)."""
    if dialect == "sqlite":
        msg = str(exc.orig).lower()
        return "database is locked" in msg or "database table is locked" in msg
    return getattr(exc.orig, "sqlstate", None) in _PG_RETRY_STATES
