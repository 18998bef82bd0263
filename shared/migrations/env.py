"""Alembic environment: migrations run on a connection handed in by ``shared.db`` (sync, inside run_sync)."""

from __future__ import annotations

from alembic import context

from shared.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
