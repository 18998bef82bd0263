"""The factory server's tables: the versioned KPI catalog and KPI measurements.

They are created by the revisions in ``migrations/`` (``deps.MIGRATIONS``); a test checks the two agree.
"""

from __future__ import annotations

import sqlalchemy as sa

from shared.schema import JSONDoc, Timestamp, created_column, id_column, metadata

__all__ = ["kpi_definitions", "kpi_measurements"]

kpi_definitions = sa.Table(
    "kpi_definitions",
    metadata,
    sa.Column("kpi_id", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer(), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("unit", sa.String(32), nullable=False),
    sa.Column("description", sa.Text(), nullable=False),
    sa.Column("formula", sa.Text(), nullable=False),
    sa.Column("target", sa.Float(), nullable=False),
    sa.Column("direction", sa.String(16), nullable=False),
    sa.Column("changelog", sa.Text(), nullable=False),
    sa.Column("effective_from", Timestamp, nullable=False, server_default=sa.func.now()),
    created_column(),
)

kpi_measurements = sa.Table(
    "kpi_measurements",
    metadata,
    id_column(),
    sa.Column("kpi_id", sa.String(64), nullable=False),
    sa.Column("kpi_version", sa.Integer(), nullable=False),
    sa.Column("value", sa.Float(), nullable=False),
    sa.Column("measured_at", Timestamp, nullable=False),
    sa.Column("scope", sa.String(255), nullable=False, server_default="factory"),
    sa.Column("source", sa.String(255)),
    sa.Column("labels", JSONDoc),
    created_column(),
    sa.ForeignKeyConstraint(
        ["kpi_id", "kpi_version"], ["kpi_definitions.kpi_id", "kpi_definitions.version"], name="fk_kpi_measurements_def"
    ),
    sa.Index("ix_kpi_measurements_series", "kpi_id", "scope", "measured_at"),
)
