"""The store of results: saved runs of every project, their history, in SQLite or any SQL
database SQLAlchemy reaches, with managed schema migrations. See ``docs/store.md``.

Importing this package imports SQLAlchemy; Alembic only when a store is created or
upgraded.
"""

from __future__ import annotations

from mlscope.store.monitoring import MonitorSummary, MonitorWindow
from mlscope.store.records import HistoryPoint, RunSummary, data_fingerprint
from mlscope.store.schema import HEAD_REVISION
from mlscope.store.store import DEFAULT_PATH, Store, StoreError

__all__ = [
    "DEFAULT_PATH",
    "HEAD_REVISION",
    "HistoryPoint",
    "MonitorSummary",
    "MonitorWindow",
    "RunSummary",
    "Store",
    "StoreError",
    "data_fingerprint",
]
