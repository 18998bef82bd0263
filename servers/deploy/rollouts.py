"""ECS rollouts: a service as an agent needs to see it, a new task definition revision for a new image, the
service-deployment view (status, circuit breaker, alarms, rollback), and the outcome of a deployment.

Two views of a rollout exist: ``DescribeServices`` lists the service's deployments (PRIMARY, ACTIVE) with a
rollout state (IN_PROGRESS, COMPLETED, FAILED) and keeps the service's recent events; the service-deployment
APIs (``ListServiceDeployments``, ``DescribeServiceDeployments``) add the circuit breaker, the alarms and the
rollback. Both are read; a region or emulator without the second leaves it out with a note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from shared.aws import AwsClients
from shared.errors import CallError, InvalidRequest, NotFound
from shared.redaction import redact_text
from shared.timestamps import iso
from shared.untrusted import clean

__all__ = [
    "ContainerImage",
    "Deployment",
    "ServiceDeployment",
    "ServiceEvent",
    "deployments_of",
    "images_of",
    "new_revision",
    "outcome_of",
    "service_deployments",
    "service_of",
]

_TEXT = 500
# Fields of a task definition that RegisterTaskDefinition takes back (everything else is AWS's bookkeeping).
_REGISTERABLE = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
    "enableFaultInjection",
)


def text(value: object, limit: int = _TEXT) -> str:
    cleaned = redact_text(clean(str(value or ""))[0] or "")
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "…"


class ContainerImage(BaseModel):
    container: str = Field(description="Container name.")
    image: str = Field(description="Image reference.")


class Deployment(BaseModel):
    id: str = Field(description="ECS deployment id (ecs-svc/...).")
    status: str = Field(description="PRIMARY (the newest), ACTIVE (being replaced) or INACTIVE.")
    rollout_state: str | None = Field(description="IN_PROGRESS, COMPLETED or FAILED.")
    rollout_reason: str | None = Field(description="Why, as ECS says.")
    task_definition: str = Field(description="family:revision.")
    desired: int = Field(description="Tasks desired.")
    running: int = Field(description="Tasks running.")
    pending: int = Field(description="Tasks pending.")
    failed_tasks: int = Field(description="Tasks that failed to start in this deployment.")
    created_at: str | None = Field(description="ISO 8601.")


class ServiceEvent(BaseModel):
    at: str | None = Field(description="ISO 8601.")
    message: str = Field(description="As ECS wrote it (cut).")


class ServiceDeployment(BaseModel):
    arn: str = Field(description="Service deployment ARN (for rollback).")
    status: str = Field(description="PENDING, IN_PROGRESS, SUCCESSFUL, STOPPED, ROLLBACK_IN_PROGRESS, ...")
    reason: str | None = Field(description="statusReason.")
    circuit_breaker: str | None = Field(description="TRIGGERED, MONITORING, ... with failures/threshold.")
    alarms: str | None = Field(description="Alarm status and the alarms that triggered.")
    rollback: str | None = Field(description="Why and when it rolled back.")
    started_at: str | None = Field(description="ISO 8601.")
    finished_at: str | None = Field(description="ISO 8601.")


async def service_of(aws: AwsClients, cluster: str, service: str) -> Mapping[str, Any]:
    """``DescribeServices`` of one service; NotFound when it does not exist (or is inactive)."""
    answer = await aws.call("ecs", "DescribeServices", cluster=cluster, services=[service])
    services = [s for s in answer.get("services") or [] if s.get("status") != "INACTIVE"]
    if not services:
        failures = "; ".join(str(f.get("reason")) for f in answer.get("failures") or [])
        raise NotFound(f"No service {service!r} in cluster {cluster!r}" + (f" ({failures})." if failures else "."))
    return services[0]


def short_definition(arn: object) -> str:
    return str(arn or "").rsplit("/", 1)[-1]


def deployments_of(described: Mapping[str, Any]) -> list[Deployment]:
    return [
        Deployment(
            id=str(raw.get("id")),
            status=str(raw.get("status")),
            rollout_state=raw.get("rolloutState"),
            rollout_reason=text(raw["rolloutStateReason"]) if raw.get("rolloutStateReason") else None,
            task_definition=short_definition(raw.get("taskDefinition")),
            desired=int(raw.get("desiredCount") or 0),
            running=int(raw.get("runningCount") or 0),
            pending=int(raw.get("pendingCount") or 0),
            failed_tasks=int(raw.get("failedTasks") or 0),
            created_at=iso(raw.get("createdAt")),
        )
        for raw in described.get("deployments") or []
    ]


def events_of(described: Mapping[str, Any], since: datetime | None, limit: int) -> list[ServiceEvent]:
    events = [
        ServiceEvent(at=iso(raw.get("createdAt")), message=text(raw.get("message")))
        for raw in described.get("events") or []
        if since is None or not isinstance(raw.get("createdAt"), datetime) or raw["createdAt"] >= since
    ]
    return events[:limit]


def images_of(definition: Mapping[str, Any]) -> list[ContainerImage]:
    return [
        ContainerImage(container=str(c.get("name")), image=str(c.get("image")))
        for c in definition.get("containerDefinitions") or []
    ]


async def task_definition(aws: AwsClients, arn: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """A task definition and its tags."""
    answer = await aws.call("ecs", "DescribeTaskDefinition", taskDefinition=arn, include=["TAGS"])
    return dict(answer.get("taskDefinition") or {}), list(answer.get("tags") or [])


async def new_revision(aws: AwsClients, current: str, container: str, image: str) -> tuple[str, str]:
    """Register a revision of ``current`` with ``container`` running ``image``; (its ARN, the old image)."""
    definition, tags = await task_definition(aws, current)
    containers = [dict(c) for c in definition.get("containerDefinitions") or []]
    named = [c for c in containers if c.get("name") == container]
    if not named:
        names = ", ".join(str(c.get("name")) for c in containers)
        raise InvalidRequest(f"Task definition {short_definition(current)} has no container {container!r}: {names}.")
    previous = str(named[0].get("image"))
    named[0]["image"] = image
    params = {key: definition[key] for key in _REGISTERABLE if definition.get(key) not in (None, [], {})}
    params["containerDefinitions"] = containers
    if tags:
        params["tags"] = tags
    registered = await aws.call("ecs", "RegisterTaskDefinition", **params)
    return str(registered["taskDefinition"]["taskDefinitionArn"]), previous


async def service_deployments(
    aws: AwsClients, cluster: str, service: str, limit: int = 3
) -> tuple[list[ServiceDeployment], str | None]:
    """The newest service deployments with their circuit breaker, alarms and rollback; and a note when the
    service-deployment APIs cannot be read here."""
    try:
        listed = await aws.call("ecs", "ListServiceDeployments", cluster=cluster, service=service, maxResults=limit)
        arns = [str(d["serviceDeploymentArn"]) for d in listed.get("serviceDeployments") or []][:limit]
        if not arns:
            return [], None
        described = await aws.call("ecs", "DescribeServiceDeployments", serviceDeploymentArns=arns)
    except CallError as error:
        return [], f"service deployments not read: {str(error)[:200]}"
    found = [_service_deployment(raw) for raw in described.get("serviceDeployments") or []]
    found.sort(key=lambda d: d.started_at or "", reverse=True)
    return found, None


def _service_deployment(raw: Mapping[str, Any]) -> ServiceDeployment:
    breaker = raw.get("deploymentCircuitBreaker") or {}
    alarms = raw.get("alarms") or {}
    rollback = raw.get("rollback") or {}
    breaker_text = None
    if breaker:
        breaker_text = (
            f"{breaker.get('status')} ({breaker.get('failureCount', 0)}/{breaker.get('threshold', '?')} failures)"
        )
    alarm_text = None
    if alarms:
        triggered = ", ".join(alarms.get("triggeredAlarmNames") or [])
        alarm_text = f"{alarms.get('status')}" + (f": {triggered}" if triggered else "")
    rollback_text = None
    if rollback:
        rollback_text = f"{text(rollback.get('reason'))} (at {iso(rollback.get('startedAt'))})"
    return ServiceDeployment(
        arn=str(raw.get("serviceDeploymentArn")),
        status=str(raw.get("status")),
        reason=text(raw["statusReason"]) if raw.get("statusReason") else None,
        circuit_breaker=breaker_text,
        alarms=alarm_text,
        rollback=rollback_text,
        started_at=iso(raw.get("startedAt") or raw.get("createdAt")),
        finished_at=iso(raw.get("finishedAt") or raw.get("stoppedAt")),
    )


def outcome_of(deployment: Deployment, service_deployment: ServiceDeployment | None) -> str:
    """in_progress, completed, failed, rolled_back or stopped."""
    if service_deployment is not None:
        status = service_deployment.status
        if status == "SUCCESSFUL":
            return "completed"
        if status in ("ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"):
            return "rolled_back" if status == "ROLLBACK_SUCCESSFUL" else "failed"
        if status == "STOPPED":
            return "stopped"
    if deployment.rollout_state == "COMPLETED":
        return "completed"
    if deployment.rollout_state == "FAILED":
        return "failed"
    return "in_progress"


def primary(deployments: Sequence[Deployment]) -> Deployment | None:
    return next((d for d in deployments if d.status == "PRIMARY"), None)
