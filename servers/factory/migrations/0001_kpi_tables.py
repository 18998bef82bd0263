"""The factory's KPI tables: versioned definitions and measurements.

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
        "kpi_definitions",
        sa.Column("kpi_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("formula", sa.Text(), nullable=False),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("changelog", sa.Text(), nullable=False),
        sa.Column("effective_from", Timestamp, server_default=sa.func.now(), nullable=False),
        sa.Column("created_at", Timestamp, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("kpi_id", "version"),
    )
    op.create_table(
        "kpi_measurements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kpi_id", sa.String(length=64), nullable=False),
        sa.Column("kpi_version", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("measured_at", Timestamp, nullable=False),
        sa.Column("scope", sa.String(length=255), server_default="factory", nullable=False),
        sa.Column("source", sa.String(length=255), nullable=True),
        sa.Column("labels", JSONDoc, nullable=True),
        sa.Column("created_at", Timestamp, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["kpi_id", "kpi_version"],
            ["kpi_definitions.kpi_id", "kpi_definitions.version"],
            name="fk_kpi_measurements_def",
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("kpi_measurements") as batch:
        batch.create_index("ix_kpi_measurements_series", ["kpi_id", "scope", "measured_at"], unique=False)


def downgrade() -> None:
    op.drop_table("kpi_measurements")
    op.drop_table("kpi_definitions")
