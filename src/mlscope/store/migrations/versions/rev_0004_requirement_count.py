"""Keep how many requirements each run checked, so that a run list can tell "requirements
met" from "the charter sets none".

Adds ``mlscope_runs.requirements``: the number of requirement checks of the run's result
(its ``requirements`` list: the charter's ``requirements:`` and ``slice_requirements:``
entries, checked for the selected model). A charter without requirements gives 0, and its
status ``requirements_met`` is then vacuous. The runs already stored get theirs from the
result each row keeps (zlib-compressed JSON); a row whose result cannot be read keeps NULL,
and the dashboard shows its plain status.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None

# Results are read this many at a time: a store's results do not all fit in memory at once.
CHUNK = 200


def requirement_count(blob: bytes | None) -> int | None:
    """How many requirement checks a stored result holds; None if it cannot be read."""
    if blob is None:
        return None
    try:
        data = json.loads(zlib.decompress(bytes(blob)).decode("utf-8"))
    except (zlib.error, UnicodeDecodeError, ValueError):
        return None
    checks = data.get("requirements") if isinstance(data, dict) else None
    return len(checks) if isinstance(checks, list) else None


def upgrade() -> None:
    op.add_column("mlscope_runs", sa.Column("requirements", sa.Integer))

    # A lightweight table view as of this revision, not the current schema module.
    runs = sa.table("mlscope_runs", sa.column("id", sa.Integer),
                    sa.column("result", sa.LargeBinary), sa.column("requirements", sa.Integer))
    bind = op.get_bind()
    ids = [int(i) for i in bind.execute(sa.select(runs.c.id).order_by(runs.c.id)).scalars()]
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        rows = bind.execute(sa.select(runs.c.id, runs.c.result).where(runs.c.id.in_(chunk)))
        updates: list[dict[str, Any]] = [
            {"run_id": int(row.id), "count": n} for row in rows
            if (n := requirement_count(row.result)) is not None]
        if updates:
            bind.execute(
                runs.update().where(runs.c.id == sa.bindparam("run_id"))
                .values(requirements=sa.bindparam("count")),
                updates,
            )


def downgrade() -> None:
    with op.batch_alter_table("mlscope_runs") as batch:
        batch.drop_column("requirements")
