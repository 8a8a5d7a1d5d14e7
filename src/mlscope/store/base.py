"""What the store shares without SQLAlchemy: where a store lives, its error, the SQLite
file check and the schema's names.

Kept free of SQLAlchemy (about a tenth of a short run's start-up) so that
:mod:`mlscope.store.quick` can record a run in an existing SQLite store with the standard
library's ``sqlite3`` alone; :mod:`mlscope.store.backend` and :mod:`mlscope.store.schema`
re-export these names.
"""

from __future__ import annotations

from pathlib import Path

from mlscope.errors import InputError

__all__ = [
    "BUSY_TIMEOUT_S",
    "DEFAULT_PATH",
    "HEAD_REVISION",
    "LOCK_WAIT_S",
    "META_TABLE",
    "NAME",
    "RUNS_TABLE",
    "SQLITE_MAGIC",
    "VALUES_TABLE",
    "VERSION_TABLE",
    "StoreError",
    "check_file",
]

DEFAULT_PATH = Path(".mlscope") / "store.sqlite"  # under the project directory

# How long a writer waits for the write lock: SQLite first waits inside SQLite (busy
# timeout), then retries the whole transaction, which also covers the cases SQLite reports
# as 'database is locked' at once without waiting; a server waits on its lock.
BUSY_TIMEOUT_S = 30.0
LOCK_WAIT_S = 120.0

SQLITE_MAGIC = b"SQLite format 3\x00"

# The newest migration this code knows; a test checks it equals Alembic's head. Kept here
# as a constant so that opening an up-to-date store never has to import Alembic.
HEAD_REVISION = "0004"

RUNS_TABLE = "mlscope_runs"
VALUES_TABLE = "mlscope_run_values"
META_TABLE = "mlscope_meta"
MONITORS_TABLE = "mlscope_monitors"
MONITOR_WINDOWS_TABLE = "mlscope_monitor_windows"
# Alembic's bookkeeping under our own name: a shared database may already hold another
# application's ``alembic_version``.
VERSION_TABLE = "mlscope_alembic_version"

NAME = 255  # project, model, metric and split names (indexed, so bounded on every server)


class StoreError(InputError):
    """The store cannot be opened, read or written: the message says why and what to do."""


def check_file(path: Path, *, create: bool) -> None:
    """Refuse what cannot be an SQLite store before SQLite opens (and perhaps writes) it."""
    if path.is_dir():
        raise StoreError(
            f"store: {path} is a directory; give the path of a file, e.g. "
            f"{path / DEFAULT_PATH.name}"
        )
    if not path.exists():
        if not create:
            raise StoreError(f"there is no mlscope store at {path} (no such file)")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"store: cannot create the folder {path.parent}: {exc}") from None
        return
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise StoreError(f"store: cannot read {path}: {exc}") from None
    # An empty file is an empty SQLite database; anything else must carry SQLite's header.
    if head and head != SQLITE_MAGIC:
        raise StoreError(
            f"{path} is not an mlscope store: it is not an SQLite database. It was left "
            "untouched; move it away or give another store location"
        )
