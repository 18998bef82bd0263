"""The shared metadata every owner declares its tables on, the column types they share, and the kit's own
tables: the audit trail (``mcp_tool_calls``, AFU-9 v0.4's name and core columns) and idempotency records.

Servers declare their tables in their own ``schema.py`` on :data:`metadata`, with their own migrations; the
migrations create exactly what the schema modules declare (a test checks it).
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

__all__ = [
    "JSONDoc",
    "Timestamp",
    "created_column",
    "id_column",
    "idempotency_keys",
    "mcp_tool_calls",
    "metadata",
    "updated_column",
]

metadata = sa.MetaData()

JSONDoc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)


def id_column() -> sa.Column[uuid.UUID]:
    return sa.Column("id", sa.Uuid(), primary_key=True, default=uuid.uuid4)


def created_column() -> sa.Column[object]:
    return sa.Column("created_at", Timestamp, nullable=False, server_default=sa.func.now())


def updated_column() -> sa.Column[object]:
    return sa.Column("updated_at", Timestamp, nullable=False, server_default=sa.func.now(), onupdate=sa.func.now())


# Every tools/call of every server. execution_id, step_id and agent_run_id link to the orchestrator's tables when
# a workflow made the call (the first two come from the request's _meta, see shared/audit.py); they carry no
# foreign key, so the audit trail never fails to record a call.
mcp_tool_calls = sa.Table(
    "mcp_tool_calls",
    metadata,
    id_column(),
    sa.Column("execution_id", sa.Uuid()),
    sa.Column("agent_run_id", sa.Uuid()),
    sa.Column("server_name", sa.String(255), nullable=False),
    sa.Column("tool_name", sa.String(255), nullable=False),
    sa.Column("params", JSONDoc),
    sa.Column("result", JSONDoc),
    sa.Column("error", sa.Text()),
    sa.Column("duration_ms", sa.Integer()),
    sa.Column("started_at", Timestamp, nullable=False, server_default=sa.func.now()),
    sa.Column("completed_at", Timestamp),
    created_column(),
    # afu9 v1: the audit trail of every tools/call on every server.
    sa.Column("outcome", sa.String(32), nullable=False, server_default="ok"),
    sa.Column("caller", sa.String(255)),
    sa.Column("transport", sa.String(16)),
    sa.Column("request_id", sa.String(255)),
    sa.Column("step_id", sa.Uuid()),  # afu9 v1, migration 0002: the workflow step that made the call
    sa.Index("ix_mcp_tool_calls_server_tool", "server_name", "tool_name"),
    sa.Index("ix_mcp_tool_calls_started_at", "started_at"),
    sa.Index("ix_mcp_tool_calls_execution_id", "execution_id"),  # an execution's calls, for the orchestrator
)

# "This write with this key already happened; here is its first result" (shared/idempotency.py).
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("server_name", sa.String(64), primary_key=True),
    sa.Column("tool_name", sa.String(255), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("result", JSONDoc),
    sa.Column("lease_until", Timestamp, nullable=False),
    created_column(),
    sa.Column("completed_at", Timestamp),
    sa.Index("ix_idempotency_keys_created_at", "created_at"),
)
