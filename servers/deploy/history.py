"""The deployment history and the captured failures, on the server's database.

A deployment is recorded when this server starts it (``in_progress``) or first sees it; its outcome is
updated when a tool or the watcher sees it end. Failures are stored once per stopped task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from servers.deploy.schema import deploy_deployments as deployments
from servers.deploy.schema import deploy_failures as failures
from shared.db import Database

__all__ = ["FINISHED", "History", "Started"]

FINISHED = frozenset({"completed", "failed", "rolled_back", "stopped"})


@dataclass(frozen=True)
class Started:
    """A deployment as it starts."""

    cluster: str
    service: str
    deployment_id: str | None
    task_definition: str
    previous_task_definition: str | None
    container: str | None
    image: str | None
    previous_image: str | None
    requested_by: str | None
    reason: str | None
    rollback_of: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class History:
    """Deployments and failures of the services this server deploys or watches."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def started(self, started: Started, *, at: datetime | None = None) -> None:
        """Record a deployment (once per cluster, service and ECS deployment id)."""
        row = {**started.__dict__, "outcome": "in_progress", "started_at": at or _now()}
        async with self.database.connect(write=True) as connection:
            if started.deployment_id is not None:
                found = await connection.execute(
                    sa.select(deployments.c.id).where(
                        deployments.c.cluster == started.cluster,
                        deployments.c.service == started.service,
                        deployments.c.deployment_id == started.deployment_id,
                    )
                )
                if found.first() is not None:
                    return
            await connection.execute(sa.insert(deployments).values(**row))

    async def finished(
        self, cluster: str, service: str, deployment_id: str, outcome: str, reason: str | None, at: datetime | None
    ) -> bool:
        """Record how a deployment ended (only once: a finished one keeps its outcome); whether it changed."""
        async with self.database.connect(write=True) as connection:
            result = await connection.execute(
                sa.update(deployments)
                .where(
                    deployments.c.cluster == cluster,
                    deployments.c.service == service,
                    deployments.c.deployment_id == deployment_id,
                    deployments.c.outcome == "in_progress",
                )
                .values(outcome=outcome, outcome_reason=(reason or None) and reason[:1000], finished_at=at or _now())
            )
            return result.rowcount > 0

    async def page(self, *, cluster: str | None, service: str | None, before: datetime | None, limit: int) -> list[Any]:
        """Deployments newest first; ``limit + 1`` rows tell whether more exist."""
        query = sa.select(deployments).order_by(deployments.c.started_at.desc()).limit(limit + 1)
        if cluster is not None:
            query = query.where(deployments.c.cluster == cluster)
        if service is not None:
            query = query.where(deployments.c.service == service)
        if before is not None:
            query = query.where(deployments.c.started_at < before)
        async with self.database.connect() as connection:
            return list((await connection.execute(query)).mappings().all())

    async def last(self, cluster: str, service: str, deployment_id: str) -> Any:
        async with self.database.connect() as connection:
            found = await connection.execute(
                sa.select(deployments).where(
                    deployments.c.cluster == cluster,
                    deployments.c.service == service,
                    deployments.c.deployment_id == deployment_id,
                )
            )
            return found.mappings().first()

    async def captured(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Store failures not stored yet (by task ARN); how many were new."""
        if not rows:
            return 0
        async with self.database.connect(write=True) as connection:
            known = await connection.execute(
                sa.select(failures.c.task_arn).where(failures.c.task_arn.in_([row["task_arn"] for row in rows]))
            )
            stored = {row.task_arn for row in known}
            new = [dict(row) | {"captured_at": _now()} for row in rows if row["task_arn"] not in stored]
            if new:
                await connection.execute(sa.insert(failures), new)
        return len(new)

    async def failures(self, cluster: str, service: str, *, since: datetime | None, limit: int) -> list[Any]:
        """Captured failures of a service, newest first."""
        query = (
            sa.select(failures)
            .where(failures.c.cluster == cluster, failures.c.service == service)
            .order_by(failures.c.stopped_at.desc())
            .limit(limit)
        )
        if since is not None:
            query = query.where(failures.c.stopped_at >= since)
        async with self.database.connect() as connection:
            return list((await connection.execute(query)).mappings().all())
