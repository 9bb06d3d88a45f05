"""Alembic environment: runs on the engine the store hands over in ``config.attributes``.

Bot processes starting together would race to create the same tables, so the migration
runs under a database lock: an advisory lock on PostgreSQL, the write lock on SQLite.
Whoever comes second finds the schema at head and does nothing.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from bot.storage.schema import metadata

MIGRATION_LOCK_KEY = 0x0D1C_1B07

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
