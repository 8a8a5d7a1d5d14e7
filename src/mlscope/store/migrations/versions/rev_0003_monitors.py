"""Keep ``mlscope monitor``'s results: one record per invocation and its windows.

Adds ``mlscope_monitors`` (one row per ``mlscope monitor`` run: project, charter hash, the
log's name and sampled hash, counts, the whole ``monitor.json`` compressed) and
``mlscope_monitor_windows`` (one row per window of a record: its span, rows, status and
alerts), indexed by ``(project, start, monitor_id)`` so that the dashboard's time series,
the latest record's window for each window start, is one range scan. Stores of revision
0002 gain the two empty tables; their runs are untouched.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None

NAME = 255


def upgrade() -> None:
    op.create_table(
        "mlscope_monitors",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(NAME), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("saved_at", sa.String(40), nullable=False),
        sa.Column("command", sa.String(NAME), nullable=False),
        sa.Column("charter_hash", sa.String(64), nullable=False),
        sa.Column("log_name", sa.String(NAME), nullable=False),
        sa.Column("log_hash", sa.String(64), nullable=False),
        sa.Column("n_windows", sa.Integer, nullable=False),
        sa.Column("alerting", sa.Integer, nullable=False),
        sa.Column("untrusted", sa.Integer, nullable=False),
        sa.Column("exit_code", sa.Integer, nullable=False),
        sa.Column("first_start", sa.String(40)),
        sa.Column("last_end", sa.String(40)),
        sa.Column("decision", sa.String(40)),
        sa.Column("mlscope_version", sa.String(40), nullable=False),
        sa.Column("result_schema", sa.String(40), nullable=False),
        sa.Column("result", sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql"),
                  nullable=False),
    )
    op.create_index("ix_mlscope_monitors_project", "mlscope_monitors", ["project", "id"])
    op.create_table(
        "mlscope_monitor_windows",
        sa.Column("monitor_id", sa.Integer,
                  sa.ForeignKey("mlscope_monitors.id", ondelete="CASCADE"), nullable=False),
        sa.Column("project", sa.String(NAME), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("start", sa.String(40), nullable=False),
        sa.Column("end", sa.String(40), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("alerts", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("monitor_id", "position", name="pk_mlscope_monitor_windows"),
    )
    op.create_index("ix_mlscope_monitor_windows_series", "mlscope_monitor_windows",
                    ["project", "start", "monitor_id"])


def downgrade() -> None:
    op.drop_index("ix_mlscope_monitor_windows_series", table_name="mlscope_monitor_windows")
    op.drop_table("mlscope_monitor_windows")
    op.drop_index("ix_mlscope_monitors_project", table_name="mlscope_monitors")
    op.drop_table("mlscope_monitors")
