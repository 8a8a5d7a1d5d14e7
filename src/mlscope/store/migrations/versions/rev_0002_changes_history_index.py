"""Record what changed since each project's previous run; index values for history.

Adds ``mlscope_runs.changes`` (a JSON list, filled in here for the runs already stored) and
an index on ``mlscope_run_values (project, metric, split, run_id)`` so that one metric of
one project over time is a range scan rather than a pass over every value.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from mlscope.store.changes import describe_changes

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("mlscope_runs", sa.Column("changes", sa.Text))
    op.create_index("ix_mlscope_run_values_history", "mlscope_run_values",
                    ["project", "metric", "split", "run_id"])

    # Lightweight table views as of this revision, not the current schema module.
    runs = sa.table(
        "mlscope_runs",
        sa.column("id", sa.Integer), sa.column("project", sa.String),
        sa.column("charter_hash", sa.String), sa.column("models", sa.Text),
        sa.column("data_hash", sa.String), sa.column("seed", sa.BigInteger),
        sa.column("changes", sa.Text),
    )
    bind = op.get_bind()
    last: dict[str, dict[str, Any]] = {}
    updates: list[dict[str, Any]] = []
    rows = bind.execute(
        sa.select(runs.c.id, runs.c.project, runs.c.charter_hash, runs.c.models,
                  runs.c.data_hash, runs.c.seed).order_by(runs.c.id)
    )
    for row in rows:
        facts = {"charter_hash": row.charter_hash, "models": json.loads(row.models),
                 "data_hash": row.data_hash, "seed": row.seed}
        changes = describe_changes(last.get(row.project), facts)
        last[row.project] = facts
        updates.append({"run_id": row.id, "changes": json.dumps(changes)})
    if updates:
        bind.execute(
            runs.update().where(runs.c.id == sa.bindparam("run_id"))
            .values(changes=sa.bindparam("changes")),
            updates,
        )


def downgrade() -> None:
    op.drop_index("ix_mlscope_run_values_history", table_name="mlscope_run_values")
    with op.batch_alter_table("mlscope_runs") as batch:
        batch.drop_column("changes")
