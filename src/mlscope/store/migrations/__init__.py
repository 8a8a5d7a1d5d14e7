"""Alembic migrations of the store's schema (run by :mod:`mlscope.store.migrate`)."""
