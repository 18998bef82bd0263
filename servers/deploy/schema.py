"""The deploy server's tables: the deployments it started or saw, and the failures it captured (ECS forgets
stopped tasks after about an hour and truncates their messages; these rows keep what was seen).

They are created by the revisions in ``migrations/`` (``deps.MIGRATIONS``); a test checks the two agree.
"""

from __future__ import annotations

import sqlalchemy as sa

from shared.schema import JSONDoc, Timestamp, id_column, metadata

__all__ = ["deploy_deployments", "deploy_failures"]

# One row per ECS deployment: who asked for it, what it rolled out, how it ended. Outcome: in_progress,
# completed, failed, rolled_back, stopped. The factory's KPIs (success rate, MTTR, MTBF, cycle time) read it.
deploy_deployments = sa.Table(
    "deploy_deployments",
    metadata,
    id_column(),
    sa.Column("cluster", sa.String(255), nullable=False),
    sa.Column("service", sa.String(255), nullable=False),
    sa.Column("deployment_id", sa.String(255)),
    sa.Column("task_definition", sa.String(2048), nullable=False),
    sa.Column("previous_task_definition", sa.String(2048)),
    sa.Column("container", sa.String(255)),
    sa.Column("image", sa.String(1024)),
    sa.Column("previous_image", sa.String(1024)),
    sa.Column("requested_by", sa.String(255)),
    sa.Column("reason", sa.String(1000)),
    sa.Column("rollback_of", sa.String(255)),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("outcome_reason", sa.String(1000)),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("finished_at", Timestamp),
    sa.UniqueConstraint("cluster", "service", "deployment_id", name="uq_deploy_deployments_deployment"),
    sa.Index("ix_deploy_deployments_service", "cluster", "service", "started_at"),
)

# One row per stopped task seen failing: its stop code and reason, each container's exit code and reason.
deploy_failures = sa.Table(
    "deploy_failures",
    metadata,
    id_column(),
    sa.Column("cluster", sa.String(255), nullable=False),
    sa.Column("service", sa.String(255), nullable=False),
    sa.Column("deployment_id", sa.String(255)),
    sa.Column("task_arn", sa.String(2048), nullable=False),
    sa.Column("task_definition", sa.String(2048)),
    sa.Column("category", sa.String(64), nullable=False),
    sa.Column("stop_code", sa.String(64)),
    sa.Column("stopped_reason", sa.Text()),
    sa.Column("containers", JSONDoc),
    sa.Column("stopped_at", Timestamp),
    sa.Column("captured_at", Timestamp, nullable=False),
    sa.UniqueConstraint("task_arn", name="uq_deploy_failures_task"),
    sa.Index("ix_deploy_failures_service", "cluster", "service", "stopped_at"),
)
