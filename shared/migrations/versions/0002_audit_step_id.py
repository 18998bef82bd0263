"""The audit trail links a call to the workflow step that made it (``step_id``), and finds an execution's
calls by index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no foreign key (like execution_id): the audit trail never fails to record a call.
    with op.batch_alter_table("mcp_tool_calls") as batch:
        batch.add_column(sa.Column("step_id", sa.Uuid(), nullable=True))
        batch.create_index("ix_mcp_tool_calls_execution_id", ["execution_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mcp_tool_calls") as batch:
        batch.drop_index("ix_mcp_tool_calls_execution_id")
        batch.drop_column("step_id")
