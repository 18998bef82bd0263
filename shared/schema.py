"""The database schema as SQLAlchemy Core tables (the migrations create exactly this; a test checks it).

The seven AFU-9 v0.4 tables keep their names and core columns so existing SQL and dashboards keep working;
the columns after the ``# afu9 v1`` markers are what versioning, sagas and the audit need. The KPI tables
hold the factory's versioned KPI catalog and its measurements.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

__all__ = [
    "agent_runs",
    "kpi_definitions",
    "kpi_measurements",
    "mcp_servers",
    "mcp_tool_calls",
    "metadata",
    "repositories",
    "workflow_executions",
    "workflow_steps",
    "workflows",
]

metadata = sa.MetaData()

JSONDoc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)


def _id() -> sa.Column[uuid.UUID]:
    return sa.Column("id", sa.Uuid(), primary_key=True, default=uuid.uuid4)


def _created() -> sa.Column[object]:
    return sa.Column("created_at", Timestamp, nullable=False, server_default=sa.func.now())


def _updated() -> sa.Column[object]:
    return sa.Column("updated_at", Timestamp, nullable=False, server_default=sa.func.now(), onupdate=sa.func.now())


workflows = sa.Table(
    "workflows",
    metadata,
    _id(),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("description", sa.Text()),
    sa.Column("definition", JSONDoc, nullable=False),
    sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
    _created(),
    _updated(),
    # afu9 v1: definitions are versioned and immutable once published.
    sa.Column("semver", sa.String(64)),
    sa.Column("content_hash", sa.String(64)),
    sa.Column("status", sa.String(16), nullable=False, server_default="published"),
    sa.UniqueConstraint("name", "version", name="uq_workflows_name_version"),
)

repositories = sa.Table(
    "repositories",
    metadata,
    _id(),
    sa.Column("owner", sa.String(255), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("full_name", sa.String(511), sa.Computed("owner || '/' || name", persisted=True)),
    sa.Column("default_branch", sa.String(255), nullable=False, server_default="main"),
    sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("config", JSONDoc),
    _created(),
    _updated(),
    sa.UniqueConstraint("owner", "name", name="uq_repositories_owner_name"),
)

workflow_executions = sa.Table(
    "workflow_executions",
    metadata,
    _id(),
    sa.Column("workflow_id", sa.Uuid(), sa.ForeignKey("workflows.id", ondelete="SET NULL")),
    sa.Column("repository_id", sa.Uuid(), sa.ForeignKey("repositories.id", ondelete="SET NULL")),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("input", JSONDoc),
    sa.Column("output", JSONDoc),
    sa.Column("context", JSONDoc),
    sa.Column("started_at", Timestamp, nullable=False, server_default=sa.func.now()),
    sa.Column("completed_at", Timestamp),
    sa.Column("error", sa.Text()),
    sa.Column("triggered_by", sa.String(255)),
    sa.Column("github_run_id", sa.String(255)),
    sa.Column("pause_metadata", JSONDoc),
    _created(),
    _updated(),
    # afu9 v1: executions are pinned to the definition they started on.
    sa.Column("workflow_version", sa.Integer()),
    sa.Column("definition_hash", sa.String(64)),
    sa.Column("executor_id", sa.String(255)),
    sa.Column("parent_execution_id", sa.Uuid(), sa.ForeignKey("workflow_executions.id", ondelete="SET NULL")),
    sa.Index("ix_workflow_executions_status", "status"),
    sa.Index("ix_workflow_executions_workflow_id", "workflow_id"),
)

workflow_steps = sa.Table(
    "workflow_steps",
    metadata,
    _id(),
    sa.Column("execution_id", sa.Uuid(), sa.ForeignKey("workflow_executions.id", ondelete="CASCADE"), nullable=False),
    sa.Column("step_name", sa.String(255), nullable=False),
    sa.Column("step_index", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("input", JSONDoc),
    sa.Column("output", JSONDoc),
    sa.Column("started_at", Timestamp),
    sa.Column("completed_at", Timestamp),
    sa.Column("duration_ms", sa.Integer()),
    sa.Column("error", sa.Text()),
    sa.Column("retry_count", sa.Integer(), nullable=False, server_default="0"),
    _created(),
    _updated(),
    # afu9 v1: parallel/map branches, attempts and saga compensation.
    sa.Column("step_path", sa.String(1024)),
    sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"),
    sa.Column("is_compensation", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Index("ix_workflow_steps_execution_id", "execution_id"),
)

mcp_servers = sa.Table(
    "mcp_servers",
    metadata,
    _id(),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("description", sa.Text()),
    sa.Column("endpoint", sa.String(1024), nullable=False),
    sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("config", JSONDoc),
    sa.Column("health_check_url", sa.String(1024)),
    sa.Column("last_health_check", Timestamp),
    sa.Column("health_status", sa.String(32)),
    _created(),
    _updated(),
)

agent_runs = sa.Table(
    "agent_runs",
    metadata,
    _id(),
    sa.Column("execution_id", sa.Uuid(), sa.ForeignKey("workflow_executions.id", ondelete="CASCADE")),
    sa.Column("step_id", sa.Uuid(), sa.ForeignKey("workflow_steps.id", ondelete="SET NULL")),
    sa.Column("agent_type", sa.String(64), nullable=False),
    sa.Column("model", sa.String(255), nullable=False),
    sa.Column("prompt_tokens", sa.Integer()),
    sa.Column("completion_tokens", sa.Integer()),
    sa.Column("total_tokens", sa.Integer()),
    sa.Column("duration_ms", sa.Integer()),
    sa.Column("cost_usd", sa.Numeric(12, 6)),
    sa.Column("input", JSONDoc),
    sa.Column("output", JSONDoc),
    sa.Column("tool_calls", JSONDoc),
    sa.Column("started_at", Timestamp, nullable=False, server_default=sa.func.now()),
    sa.Column("completed_at", Timestamp),
    sa.Column("error", sa.Text()),
    _created(),
)

mcp_tool_calls = sa.Table(
    "mcp_tool_calls",
    metadata,
    _id(),
    sa.Column("execution_id", sa.Uuid(), sa.ForeignKey("workflow_executions.id", ondelete="CASCADE")),
    sa.Column("agent_run_id", sa.Uuid(), sa.ForeignKey("agent_runs.id", ondelete="CASCADE")),
    sa.Column("server_name", sa.String(255), nullable=False),
    sa.Column("tool_name", sa.String(255), nullable=False),
    sa.Column("params", JSONDoc),
    sa.Column("result", JSONDoc),
    sa.Column("error", sa.Text()),
    sa.Column("duration_ms", sa.Integer()),
    sa.Column("started_at", Timestamp, nullable=False, server_default=sa.func.now()),
    sa.Column("completed_at", Timestamp),
    _created(),
    # afu9 v1: the audit trail of every tools/call on every server.
    sa.Column("outcome", sa.String(32), nullable=False, server_default="ok"),
    sa.Column("caller", sa.String(255)),
    sa.Column("transport", sa.String(16)),
    sa.Column("request_id", sa.String(255)),
    sa.Index("ix_mcp_tool_calls_server_tool", "server_name", "tool_name"),
    sa.Index("ix_mcp_tool_calls_started_at", "started_at"),
)

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
    _created(),
)

kpi_measurements = sa.Table(
    "kpi_measurements",
    metadata,
    _id(),
    sa.Column("kpi_id", sa.String(64), nullable=False),
    sa.Column("kpi_version", sa.Integer(), nullable=False),
    sa.Column("value", sa.Float(), nullable=False),
    sa.Column("measured_at", Timestamp, nullable=False),
    sa.Column("scope", sa.String(255), nullable=False, server_default="factory"),
    sa.Column("source", sa.String(255)),
    sa.Column("labels", JSONDoc),
    sa.Column("idempotency_key", sa.String(255), unique=True),
    _created(),
    sa.ForeignKeyConstraint(
        ["kpi_id", "kpi_version"], ["kpi_definitions.kpi_id", "kpi_definitions.version"], name="fk_kpi_measurements_def"
    ),
    sa.Index("ix_kpi_measurements_series", "kpi_id", "scope", "measured_at"),
)
