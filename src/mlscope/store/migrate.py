"""Schema revisions of the store: which one a database is at, and upgrading it.

Alembic is configured in code (no ``alembic.ini`` ships): the script directory is
``mlscope/store/migrations`` and the connection is the caller's, already inside a
transaction, so a whole upgrade commits or rolls back as one. Alembic is imported only when
a store is created or upgraded, or its revision is not the current one.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from mlscope.store.schema import HEAD_REVISION, meta_table

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

__all__ = ["HEAD_REVISION", "MIGRATIONS_DIR", "known_revisions", "set_meta", "upgrade"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    # Config options go through ConfigParser interpolation: a `%` in the install path
    # would otherwise be read as a reference.
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@cache
def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def known_revisions() -> list[str]:
    """Every revision this mlscope ships, oldest first."""
    revs = [s.revision for s in _script().walk_revisions()]
    return revs[::-1]


def alembic_head() -> str:
    """The head revision as Alembic finds it in the migration scripts."""
    head = _script().get_current_head()
    assert head is not None
    return head


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Apply every pending migration up to ``revision`` on ``connection``.

    The caller owns the transaction (begun before, committed after): nothing here commits.
    """
    from alembic import command

    command.upgrade(_config(connection), revision)


def set_meta(connection: Connection, key: str, value: str) -> None:
    """Write one key of ``mlscope_meta`` (delete and insert: portable across servers)."""
    connection.execute(delete(meta_table).where(meta_table.c.key == key))
    connection.execute(insert(meta_table).values(key=key, value=value))


def get_meta(connection: Connection, key: str) -> str | None:
    value = connection.execute(
        select(meta_table.c.value).where(meta_table.c.key == key)
    ).scalar_one_or_none()
    return None if value is None else str(value)
