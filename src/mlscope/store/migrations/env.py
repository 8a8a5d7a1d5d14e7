"""Alembic's environment for the store: run the migrations on the caller's connection.

mlscope configures Alembic in code (no ``alembic.ini``): :func:`mlscope.store.migrate.upgrade`
passes an open connection, already inside the transaction that the whole upgrade runs in,
so a failed migration leaves the store as it was.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from mlscope.store.schema import VERSION_TABLE

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError(
        "mlscope's store migrations run through mlscope (mlscope.store.Store.open), "
        "not the alembic command line"
    )
context.configure(
    connection=connection,
    version_table=VERSION_TABLE,
    # One transaction for every pending revision: all of them apply, or none does.
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
