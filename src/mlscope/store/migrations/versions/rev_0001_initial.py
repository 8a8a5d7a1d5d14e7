"""Initial schema: runs, their overall values, and a key/value table about the store.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None

NAME = 255


def upgrade() -> None:
    op.create_table(
        "mlscope_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(NAME), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("saved_at", sa.String(40), nullable=False),
        sa.Column("command", sa.String(NAME), nullable=False),
        sa.Column("task", sa.String(40), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("exit_code", sa.Integer, nullable=False),
        sa.Column("winner", sa.String(NAME)),
        sa.Column("n_models", sa.Integer, nullable=False),
        sa.Column("models", sa.Text, nullable=False),
        sa.Column("baselines", sa.Text, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("selection_metric", sa.String(NAME)),
        sa.Column("selection_split", sa.String(NAME)),
        sa.Column("charter_hash", sa.String(64), nullable=False),
        sa.Column("charter_text", sa.Text),
        sa.Column("charter_json", sa.Text, nullable=False),
        sa.Column("data_fingerprint", sa.Text, nullable=False),
        sa.Column("data_hash", sa.String(64), nullable=False),
        sa.Column("mlscope_version", sa.String(40), nullable=False),
        sa.Column("result_schema", sa.String(40), nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("result", sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql"),
                  nullable=False),
    )
    op.create_index("ix_mlscope_runs_project", "mlscope_runs", ["project", "id"])
    op.create_table(
        "mlscope_run_values",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("mlscope_runs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("project", sa.String(NAME), nullable=False),
        sa.Column("split", sa.String(NAME), nullable=False),
        sa.Column("model", sa.String(NAME), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("metric", sa.String(NAME), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("lower", sa.Float),
        sa.Column("upper", sa.Float),
        sa.PrimaryKeyConstraint("run_id", "split", "metric", "model",
                                name="pk_mlscope_run_values"),
    )
    op.create_table(
        "mlscope_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mlscope_meta")
    op.drop_table("mlscope_run_values")
    op.drop_index("ix_mlscope_runs_project", table_name="mlscope_runs")
    op.drop_table("mlscope_runs")
