"""The orchestrator's tables: the AFU-9 v0.4 workflow tables, kept with their names and core columns so
existing SQL and dashboards keep working, plus what versioning, sagas and the registry of servers need.

The orchestrator's engine is still to come; its tables are created by ``afu9 db upgrade`` (migrations in
``orchestrator/migrations``).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from shared.db import Migrations
from shared.schema import JSONDoc, Timestamp, created_column, id_column, metadata, updated_column

__all__ = [
    "MIGRATIONS",
    "agent_runs",
    "mcp_servers",
    "repositories",
    "workflow_executions",
    "workflow_steps",
    "workflows",
]

MIGRATIONS = Migrations("orchestrator", Path(__file__).parent / "migrations")
"""The orchestrator's migration history (its own version table)."""

workflows = sa.Table(
    "workflows",
    metadata,
    id_column(),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("description", sa.Text()),
    sa.Column("definition", JSONDoc, nullable=False),
    sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
    created_column(),
    updated_column(),
    # afu9 v1: definitions are versioned and immutable once published.
    sa.Column("semver", sa.String(64)),
    sa.Column("content_hash", sa.String(64)),
    sa.Column("status", sa.String(16), nullable=False, server_default="published"),
    sa.UniqueConstraint("name", "version", name="uq_workflows_name_version"),
)

repositories = sa.Table(
    "repositories",
    metadata,
    id_column(),
    sa.Column("owner", sa.String(255), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("full_name", sa.String(511), sa.Computed("owner || '/' || name", persisted=True)),
    sa.Column("default_branch", sa.String(255), nullable=False, server_default="main"),
    sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("config", JSONDoc),
    created_column(),
    updated_column(),
    sa.UniqueConstraint("owner", "name", name="uq_repositories_owner_name"),
)

workflow_executions = sa.Table(
    "workflow_executions",
    metadata,
    id_column(),
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
    created_column(),
    updated_column(),
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
    id_column(),
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
    created_column(),
    updated_column(),
    # afu9 v1: parallel/map branches, attempts and saga compensation.
    sa.Column("step_path", sa.String(1024)),
    sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"),
    sa.Column("is_compensation", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Index("ix_workflow_steps_execution_id", "execution_id"),
)

mcp_servers = sa.Table(
    "mcp_servers",
    metadata,
    id_column(),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("description", sa.Text()),
    sa.Column("endpoint", sa.String(1024), nullable=False),
    sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("config", JSONDoc),
    sa.Column("health_check_url", sa.String(1024)),
    sa.Column("last_health_check", Timestamp),
    sa.Column("health_status", sa.String(32)),
    created_column(),
    updated_column(),
)

agent_runs = sa.Table(
    "agent_runs",
    metadata,
    id_column(),
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
    created_column(),
)
