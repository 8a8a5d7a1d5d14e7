"""The store of results: saved runs of every project, their history, in SQLite or any SQL
database SQLAlchemy reaches, with managed schema migrations. See ``docs/store.md``.

SQLAlchemy is imported with :class:`Store` (on first use of the name), Alembic only when a
store is created or upgraded; :mod:`mlscope.store.quick` records a run in an existing,
up-to-date SQLite store without either.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlscope.store.base import DEFAULT_PATH, HEAD_REVISION, StoreError
from mlscope.store.records import HistoryPoint, RunSummary, data_fingerprint

if TYPE_CHECKING:
    from mlscope.store.monitoring import MonitorSummary, MonitorWindow
    from mlscope.store.store import Store

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


def __getattr__(name: str) -> Any:
    # `Store` and the monitor records import SQLAlchemy (about 0.13 s); `mlscope run` needs
    # it only to create or upgrade a store, or for a store that is not a local SQLite file.
    if name == "Store":
        from mlscope.store.store import Store

        return Store
    if name in ("MonitorSummary", "MonitorWindow"):
        from mlscope.store import monitoring

        return getattr(monitoring, name)
    raise AttributeError(f"module 'mlscope.store' has no attribute {name!r}")
