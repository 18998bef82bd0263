"""Alembic environment for every owner's migrations: they run on a connection handed in by ``shared.db``
(sync, inside run_sync), each owner with its own version table."""

from __future__ import annotations

from alembic import context

from shared.schema import metadata

_attributes = context.config.attributes
context.configure(
    connection=_attributes["connection"],
    target_metadata=metadata,
    render_as_batch=True,
    compare_type=True,
    version_table=_attributes.get("version_table", "alembic_version_kit"),
)
with context.begin_transaction():
    context.run_migrations()
