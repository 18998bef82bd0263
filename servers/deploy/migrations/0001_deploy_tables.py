"""The deploy server's deployment history and captured failures.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
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
        "deploy_deployments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cluster", sa.String(length=255), nullable=False),
        sa.Column("service", sa.String(length=255), nullable=False),
        sa.Column("deployment_id", sa.String(length=255), nullable=True),
        sa.Column("task_definition", sa.String(length=2048), nullable=False),
        sa.Column("previous_task_definition", sa.String(length=2048), nullable=True),
        sa.Column("container", sa.String(length=255), nullable=True),
        sa.Column("image", sa.String(length=1024), nullable=True),
        sa.Column("previous_image", sa.String(length=1024), nullable=True),
        sa.Column("requested_by", sa.String(length=255), nullable=True),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.Column("rollback_of", sa.String(length=255), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("outcome_reason", sa.String(length=1000), nullable=True),
        sa.Column("started_at", Timestamp, nullable=False),
        sa.Column("finished_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("cluster", "service", "deployment_id", name="uq_deploy_deployments_deployment"),
    )
    op.create_index("ix_deploy_deployments_service", "deploy_deployments", ["cluster", "service", "started_at"])
    op.create_table(
        "deploy_failures",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cluster", sa.String(length=255), nullable=False),
        sa.Column("service", sa.String(length=255), nullable=False),
        sa.Column("deployment_id", sa.String(length=255), nullable=True),
        sa.Column("task_arn", sa.String(length=2048), nullable=False),
        sa.Column("task_definition", sa.String(length=2048), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("stop_code", sa.String(length=64), nullable=True),
        sa.Column("stopped_reason", sa.Text(), nullable=True),
        sa.Column("containers", JSONDoc, nullable=True),
        sa.Column("stopped_at", Timestamp, nullable=True),
        sa.Column("captured_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_arn", name="uq_deploy_failures_task"),
    )
    op.create_index("ix_deploy_failures_service", "deploy_failures", ["cluster", "service", "stopped_at"])


def downgrade() -> None:
    op.drop_table("deploy_failures")
    op.drop_table("deploy_deployments")
