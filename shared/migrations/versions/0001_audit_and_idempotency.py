"""The kit's tables: the audit trail of every tools/call, and idempotency records.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSONDoc = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mcp_tool_calls",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("execution_id", sa.Uuid(), nullable=True),
        sa.Column("agent_run_id", sa.Uuid(), nullable=True),
        sa.Column("server_name", sa.String(length=255), nullable=False),
        sa.Column("tool_name", sa.String(length=255), nullable=False),
        sa.Column("params", JSONDoc, nullable=True),
        sa.Column("result", JSONDoc, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("started_at", Timestamp, server_default=sa.func.now(), nullable=False),
        sa.Column("completed_at", Timestamp, nullable=True),
        sa.Column("created_at", Timestamp, server_default=sa.func.now(), nullable=False),
        sa.Column("outcome", sa.String(length=32), server_default="ok", nullable=False),
        sa.Column("caller", sa.String(length=255), nullable=True),
        sa.Column("transport", sa.String(length=16), nullable=True),
        sa.Column("request_id", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("mcp_tool_calls") as batch:
        batch.create_index("ix_mcp_tool_calls_server_tool", ["server_name", "tool_name"], unique=False)
        batch.create_index("ix_mcp_tool_calls_started_at", ["started_at"], unique=False)
    op.create_table(
        "idempotency_keys",
        sa.Column("server_name", sa.String(length=64), nullable=False),
        sa.Column("tool_name", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("result", JSONDoc, nullable=True),
        sa.Column("lease_until", Timestamp, nullable=False),
        sa.Column("created_at", Timestamp, server_default=sa.func.now(), nullable=False),
        sa.Column("completed_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("server_name", "tool_name", "key"),
    )
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.create_index("ix_idempotency_keys_created_at", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("mcp_tool_calls")
