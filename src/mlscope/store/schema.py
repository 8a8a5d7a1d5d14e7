"""The store's tables at the current schema revision, as SQLAlchemy Core objects.

These describe the schema the code reads and writes. The migrations in
``mlscope/store/migrations/versions`` build it step by step and never import from here, so
that each revision stays what it was when it shipped. A test checks that a store built by
the migrations matches these tables.

Every name starts with ``mlscope_`` so that the store can share a server database (a team
PostgreSQL) with other applications, Alembic-managed ones included.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects import mysql

from mlscope.store.base import (
    HEAD_REVISION,
    META_TABLE,
    MONITOR_WINDOWS_TABLE,
    MONITORS_TABLE,
    NAME,
    RUNS_TABLE,
    VALUES_TABLE,
    VERSION_TABLE,
)

__all__ = [
    "HEAD_REVISION",
    "META_TABLE",
    "MONITORS_TABLE",
    "MONITOR_WINDOWS_TABLE",
    "NAME",
    "RUNS_TABLE",
    "VALUES_TABLE",
    "VERSION_TABLE",
    "meta_table",
    "metadata",
    "monitor_windows_table",
    "monitors_table",
    "runs_table",
    "values_table",
]

metadata = MetaData()

runs_table = Table(
    RUNS_TABLE,
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(NAME), nullable=False),
    Column("created_at", String(40), nullable=False),  # ISO 8601 UTC: the evaluation ran
    Column("saved_at", String(40), nullable=False),  # ISO 8601 UTC: the run was stored
    Column("command", String(NAME), nullable=False),
    Column("task", String(40), nullable=False),
    Column("status", String(40), nullable=False),
    Column("exit_code", Integer, nullable=False),
    Column("winner", String(NAME)),
    Column("n_models", Integer, nullable=False),
    Column("models", Text, nullable=False),  # JSON list of candidate names
    Column("baselines", Text, nullable=False),  # JSON list of baseline names
    Column("metrics", Text, nullable=False),  # JSON list of metric ids
    Column("selection_metric", String(NAME)),
    Column("selection_split", String(NAME)),
    Column("charter_hash", String(64), nullable=False),
    Column("charter_text", Text),  # the YAML as written, when the caller had it
    Column("charter_json", Text, nullable=False),  # the canonical charter
    Column("data_fingerprint", Text, nullable=False),  # JSON
    Column("data_hash", String(64), nullable=False),
    Column("mlscope_version", String(40), nullable=False),
    Column("result_schema", String(40), nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("note", Text),
    # The whole result, zlib-compressed JSON; MySQL's plain BLOB stops at 64 KiB.
    Column("result", LargeBinary().with_variant(mysql.LONGBLOB(), "mysql"), nullable=False),
    # Revision 0002: what changed since the project's previous run (JSON list).
    Column("changes", Text),
    # Revision 0004: how many requirements were checked (0: the charter sets none, and
    # "requirements met" is vacuous); NULL for an older run whose result was unreadable.
    Column("requirements", Integer),
    Index("ix_mlscope_runs_project", "project", "id"),
)

values_table = Table(
    VALUES_TABLE,
    metadata,
    Column("run_id", Integer, ForeignKey(f"{RUNS_TABLE}.id", ondelete="CASCADE"),
           nullable=False),
    Column("project", String(NAME), nullable=False),  # repeated from the run for `history`
    Column("split", String(NAME), nullable=False),
    Column("model", String(NAME), nullable=False),
    Column("position", Integer, nullable=False),  # the model's place in the result
    Column("kind", String(20), nullable=False),  # candidate | baseline
    Column("metric", String(NAME), nullable=False),
    Column("value", Float),
    Column("lower", Float),
    Column("upper", Float),
    PrimaryKeyConstraint("run_id", "split", "metric", "model",
                         name="pk_mlscope_run_values"),
    # Revision 0002: one project's metric over time is a range scan.
    Index("ix_mlscope_run_values_history", "project", "metric", "split", "run_id"),
)

meta_table = Table(
    META_TABLE,
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# Revision 0003: one row per `mlscope monitor` invocation, the whole monitor.json kept.
monitors_table = Table(
    MONITORS_TABLE,
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(NAME), nullable=False),
    Column("created_at", String(40), nullable=False),  # ISO 8601 UTC: the monitor ran
    Column("saved_at", String(40), nullable=False),
    Column("command", String(NAME), nullable=False),
    Column("charter_hash", String(64), nullable=False),
    Column("log_name", String(NAME), nullable=False),  # the log's file name, not its path
    Column("log_hash", String(64), nullable=False),  # monitor.json's sampled SHA-256
    Column("n_windows", Integer, nullable=False),
    Column("alerting", Integer, nullable=False),
    Column("untrusted", Integer, nullable=False),
    Column("exit_code", Integer, nullable=False),
    Column("first_start", String(40)),
    Column("last_end", String(40)),
    Column("decision", String(40)),  # the shadow gate's, when a candidate was named
    Column("mlscope_version", String(40), nullable=False),
    Column("result_schema", String(40), nullable=False),
    # monitor.json, zlib-compressed.
    Column("result", LargeBinary().with_variant(mysql.LONGBLOB(), "mysql"), nullable=False),
    Index("ix_mlscope_monitors_project", "project", "id"),
)

monitor_windows_table = Table(
    MONITOR_WINDOWS_TABLE,
    metadata,
    Column("monitor_id", Integer, ForeignKey(f"{MONITORS_TABLE}.id", ondelete="CASCADE"),
           nullable=False),
    Column("project", String(NAME), nullable=False),
    Column("position", Integer, nullable=False),  # the window's index in its record
    Column("start", String(40), nullable=False),
    Column("end", String(40), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("alerts", Integer, nullable=False),
    PrimaryKeyConstraint("monitor_id", "position", name="pk_mlscope_monitor_windows"),
    # The dashboard's series: the latest record's window for each start of one project.
    Index("ix_mlscope_monitor_windows_series", "project", "start", "monitor_id"),
)
