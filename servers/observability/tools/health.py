"""Toolset ``health``: a green / yellow / red verdict with reasons, per ECS service and for the whole system."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import Field

from servers.observability.arguments import Cluster, Service
from servers.observability.deps import ObservabilityDeps
from servers.observability.health import Signals, db_signals, judge, signals_of, silent
from servers.observability.models import ServiceHealth, SystemHealth
from shared.aws import ecs_clusters, ecs_services
from shared.errors import CallError, InvalidRequest
from shared.toolset import Toolset

__all__ = ["health"]

health = Toolset(
    "health",
    "Green/yellow/red health with reasons: one ECS service, or every configured service and database.",
    start_with="get_service_health",
)

_RANK = {"green": 0, "yellow": 1, "red": 2}


async def clusters(deps: ObservabilityDeps, prefix: str, _resolved: Mapping[str, str]) -> Sequence[str]:
    return await ecs_clusters(deps.aws, prefix)


async def services(deps: ObservabilityDeps, prefix: str, resolved: Mapping[str, str]) -> Sequence[str]:
    return await ecs_services(deps.aws, resolved.get("cluster"), prefix)


@health.prompt(title="Check a service after a deployment", complete={"cluster": clusters, "service": services})
async def check_service(
    deps: ObservabilityDeps,
    cluster: Annotated[str, Field(description="ECS cluster.")],
    service: Annotated[str, Field(description="ECS service.")],
) -> str:
    """Ask the model for a go / no-go on one ECS service, with the evidence behind it."""
    del deps
    return (
        f"Decide whether the ECS service {service} in cluster {cluster} is healthy enough to go on (go / no-go).\n"
        f"1. Call get_service_health(cluster={cluster!r}, service={service!r}).\n"
        "2. For every reason that is not green, gather evidence: tail_task_logs for failing tasks, list_alarms "
        "and get_alarm_history for alarms, get_service_metrics for errors and latency, search_logs for errors.\n"
        "3. Answer: go or no-go, the reasons in order of weight, and the one next step for each red reason."
    )


@health.read(title="Get a service's health", open_world=True)
async def get_service_health(deps: ObservabilityDeps, cluster: Cluster, service: Service) -> ServiceHealth:
    """Go / no-go for an ECS service, e.g. after a deployment: green, yellow or red with every reason (tasks
    running vs desired, rollout, load balancer target health, alarms in ALARM, 5xx rate, p99 latency, the
    configured databases). Then get_service_metrics, list_alarms or tail_task_logs on what is not green."""
    settings = deps.settings
    end = datetime.now(UTC)
    signals = await signals_of(
        deps.aws, settings, cluster, service, end - timedelta(minutes=settings.health_window_minutes), end
    )
    located = await deps.aws.located()
    return _health(f"{cluster.rsplit('/', 1)[-1]}/{service.rsplit('/', 1)[-1]}", signals, deps, located)


@health.read(title="Get the system's health", open_world=True)
async def get_system_health(deps: ObservabilityDeps) -> SystemHealth:
    """One verdict per configured ECS service and RDS database (AFU9_OBSERVABILITY_SERVICES, _DB_INSTANCES)
    and the worst of them: the factory's go / no-go in one call. Then get_service_health on a red one."""
    settings = deps.settings
    if not settings.services and not settings.db_instances:
        raise InvalidRequest(
            "No service is configured for the system view: an operator sets AFU9_OBSERVABILITY_SERVICES "
            "(cluster/service, comma-separated) and AFU9_OBSERVABILITY_DB_INSTANCES. get_service_health works "
            "without them."
        )
    end = datetime.now(UTC)
    start = end - timedelta(minutes=settings.health_window_minutes)
    located = await deps.aws.located()
    service_only = settings.model_copy(update={"db_instances": []})  # databases are judged once, on their own

    async def one(entry: str) -> ServiceHealth:
        cluster, _, service = entry.partition("/")
        try:
            signals = await signals_of(deps.aws, service_only, cluster, service, start, end)
        except CallError as error:
            signals = Signals(unknown=[f"service: {str(error)[:200]}"])
        return _health(entry, signals, deps, located)

    answers = list(await asyncio.gather(*(one(entry) for entry in settings.services)))
    if settings.db_instances:
        try:
            databases = await db_signals(deps.aws, settings.db_instances, start, end)
        except CallError as error:
            databases = []
            answers.append(_health("db:*", Signals(unknown=[f"databases: {str(error)[:200]}"]), deps, located))
        for database in databases:
            signals = Signals(databases=[database], unknown=silent([database]))
            answers.append(_health(f"db:{database.instance}", signals, deps, located))
    answers.sort(key=lambda answer: -_RANK[answer.verdict])
    verdict = answers[0].verdict if answers else "green"
    return SystemHealth(**located, verdict=verdict, go=verdict == "green", services=answers)


def _health(name: str, signals: Signals, deps: ObservabilityDeps, located: dict[str, Any]) -> ServiceHealth:
    verdict = judge(signals, deps.settings)
    color = verdict.color
    if signals.unknown and color == "green":
        color = "yellow"  # a signal that could not be read is no reason to go
    if color == "green":
        next_step = "Go."
    else:
        worst = verdict.reasons[0] if verdict.reasons and verdict.reasons[0].level != "green" else None
        next_step = {
            "ecs": "tail_task_logs on a stopped or failing task; get_service_metrics for CPU and memory.",
            "rollout": "Wait and ask again, or see the deploy server's diagnosis of the deployment.",
            "targets": "tail_task_logs: targets fail their health check; check the health check path and port.",
            "alarms": "get_alarm_history on the alarms named, then list_alarms for their reasons.",
            "errors": "search_logs or query_logs for the errors; get_service_metrics for when they started.",
            "latency": "get_metric_series on TargetResponseTime; get_service_metrics for CPU and memory.",
            "database": "get_metric_series on the database's AWS/RDS metrics.",
        }.get(
            worst.signal if worst else "unknown",
            "Not a go until what is listed under unknown can be read (a permission missing?): fix it, ask again.",
        )
    return ServiceHealth(
        **located,
        service=name,
        verdict=color,
        go=color == "green",
        reasons=verdict.reasons,
        unknown=signals.unknown,
        next=next_step,
    )
