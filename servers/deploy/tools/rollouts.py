"""Toolset ``rollouts``: ECS services and their rollouts: describe, deploy a new image, follow, roll back, and
the deployment history."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers.deploy.arguments import Cluster, Container, Cursor, Key, Service
from servers.deploy.deps import DeployDeps
from servers.deploy.diagnosis import (
    TargetState,
    TaskFailure,
    counts_of,
    failure_events,
    failure_of,
    short_name,
    stopped_tasks,
    target_health,
    verdict_of,
)
from servers.deploy.rollouts import (
    ContainerImage,
    Deployment,
    ServiceDeployment,
    ServiceEvent,
    deployments_of,
    events_of,
    images_of,
    new_revision,
    outcome_of,
    primary,
    service_deployments,
    service_of,
    short_definition,
    task_definition,
)
from shared.aws import Located, ecs_clusters, ecs_services
from shared.errors import CallError, InvalidRequest, NotFound
from shared.pagination import decode_cursor, encode_cursor, invalid_cursor
from shared.timestamps import iso, utc
from shared.toolset import Toolset

__all__ = ["rollouts"]

rollouts = Toolset(
    "rollouts",
    "ECS rollouts: describe a service, deploy a new image, follow the rollout, roll back, see the history.",
    start_with="describe_service",
)

POLL_SECONDS = 5.0  # between two looks while get_deployment waits
Image = Annotated[str, Field(pattern=r"^[A-Za-z0-9._/:@-]{1,1024}$", description="Image, e.g. repo/app:1.2.")]


class ServiceView(Located):
    service: str = Field(description="cluster/service.")
    status: str = Field(description="ACTIVE or DRAINING.")
    desired: int = Field(description="Tasks desired.")
    running: int = Field(description="Tasks running.")
    pending: int = Field(description="Tasks pending.")
    task_definition: str = Field(description="family:revision the service runs.")
    images: list[ContainerImage] = Field(description="Image per container.")
    circuit_breaker: str = Field(description="Deployment circuit breaker: enabled, with rollback or not.")
    deployments: list[Deployment] = Field(description="PRIMARY first.")
    service_deployments: list[ServiceDeployment] = Field(description="Newest first, with breaker and alarms.")
    events: list[ServiceEvent] = Field(description="Recent service events in the window, newest first.")
    note: str | None = Field(default=None, description="What could not be read.")


class Started(Located):
    deployment_id: str | None = Field(description="ECS deployment id; for get_deployment.")
    task_definition: str = Field(description="The revision rolling out.")
    previous_task_definition: str = Field(description="What ran before (rollback_deployment goes back to it).")
    image: str | None = Field(description="New image.")
    previous_image: str | None = Field(description="Image before.")
    replayed: bool = Field(default=False, description="This answer repeats a call with the same idempotency key.")
    next: str = Field(description="What to call next.")


class DeploymentState(Located):
    service: str = Field(description="cluster/service.")
    deployment: Deployment = Field(description="The deployment as DescribeServices shows it.")
    service_deployment: ServiceDeployment | None = Field(description="The newest service deployment.")
    outcome: str = Field(description="in_progress, completed, failed, rolled_back or stopped.")
    waited_seconds: float = Field(description="How long this call waited.")
    events: list[ServiceEvent] = Field(description="Service events since the deployment began, newest first.")
    note: str | None = Field(default=None, description="What could not be read.")
    next: str = Field(description="What to call next.")


class RolledBack(Located):
    method: str = Field(description="stop_service_deployment (ECS rolls back) or redeploy (the previous revision).")
    task_definition: str | None = Field(description="The revision the service goes back to (redeploy).")
    deployment_id: str | None = Field(description="The rollback's ECS deployment (redeploy).")
    replayed: bool = Field(default=False, description="This answer repeats a call with the same idempotency key.")
    next: str = Field(description="What to call next.")


class HistoryItem(BaseModel):
    service: str = Field(description="cluster/service.")
    deployment_id: str | None = Field(description="ECS deployment id.")
    task_definition: str = Field(description="family:revision.")
    image: str | None = Field(description="Image rolled out.")
    requested_by: str | None = Field(description="Who asked.")
    outcome: str = Field(description="in_progress, completed, failed, rolled_back or stopped.")
    outcome_reason: str | None = Field(description="Why it ended so.")
    rollback_of: str | None = Field(description="The deployment this one rolled back.")
    started_at: str = Field(description="ISO 8601.")
    duration_seconds: float | None = Field(description="Start to end.")


class HistoryPage(BaseModel):
    items: list[HistoryItem] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass back for older ones.")


async def _capture(deps: DeployDeps, cluster: str, service: str, deployments: list[Deployment]) -> str | None:
    """When a deployment shows failed tasks, store the stopped tasks ECS still has (it forgets them within
    about an hour); a note when that could not be done (the answer is given anyway)."""
    if not any(d.failed_tasks or d.rollout_state == "FAILED" for d in deployments):
        return None
    try:
        await deps.history.captured(await stopped_tasks(deps.aws, cluster, service, None))
    except CallError as error:
        return f"failed tasks not captured: {str(error)[:200]}"
    return None


def _notes(*notes: str | None) -> str | None:
    return "; ".join(note for note in notes if note) or None


async def clusters(deps: DeployDeps, prefix: str, _resolved: Mapping[str, str]) -> Sequence[str]:
    return await ecs_clusters(deps.aws, prefix)


async def services(deps: DeployDeps, prefix: str, resolved: Mapping[str, str]) -> Sequence[str]:
    return await ecs_services(deps.aws, resolved.get("cluster"), prefix)


@rollouts.prompt(title="Roll out an image", complete={"cluster": clusters, "service": services})
async def roll_out_image(
    deps: DeployDeps,
    cluster: Annotated[str, Field(description="ECS cluster.")],
    service: Annotated[str, Field(description="ECS service.")],
    image: Annotated[str, Field(description="The new image, e.g. repo/app:1.2.")],
) -> str:
    """Ask the model to roll out a new image safely: preflight, deploy, follow, and diagnose or roll back."""
    del deps
    return (
        f"Roll out the image {image} to the ECS service {service} in cluster {cluster}, safely.\n"
        f"1. check_task_secrets(cluster={cluster!r}, service={service!r}): stop if a secret is missing.\n"
        "2. describe_service: note the container that runs the current image and the revision.\n"
        "3. start_deployment with that container and the new image, with an idempotency_key.\n"
        "4. get_deployment with max_wait_seconds until it completes or fails (call again while in progress).\n"
        "5. If it failed: diagnose_deployment, then rollback_deployment, and report the cause.\n"
        "6. Report: the revision now running, how long it took, and anything the events warned about."
    )


@rollouts.read(title="Describe an ECS service", open_world=True)
async def describe_service(
    deps: DeployDeps,
    cluster: Cluster,
    service: Service,
    events_minutes: Annotated[int, Field(ge=1, le=1440, description="Events of the last N minutes.")] = 60,
) -> ServiceView:
    """An ECS service: task counts, task definition and image per container, deployments with rollout
    state and reason, circuit breaker, service deployments, recent events. Then start_deployment,
    get_deployment or diagnose_deployment."""
    described = await service_of(deps.aws, cluster, service)
    definition, _ = await task_definition(deps.aws, str(described.get("taskDefinition")))
    found, note = await service_deployments(deps.aws, cluster, service)
    captured = await _capture(deps, cluster, service, deployments_of(described))
    breaker = ((described.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker")) or {}
    since = datetime.now(UTC) - timedelta(minutes=events_minutes)
    return ServiceView(
        **await deps.aws.located(),
        service=f"{cluster.rsplit('/', 1)[-1]}/{described.get('serviceName')}",
        status=str(described.get("status")),
        desired=int(described.get("desiredCount") or 0),
        running=int(described.get("runningCount") or 0),
        pending=int(described.get("pendingCount") or 0),
        task_definition=short_definition(described.get("taskDefinition")),
        images=images_of(definition),
        circuit_breaker=(
            ("enabled, with rollback" if breaker.get("rollback") else "enabled, no rollback")
            if breaker.get("enable")
            else "disabled"
        ),
        deployments=deployments_of(described),
        service_deployments=found,
        events=events_of(described, since, 20),
        note=_notes(note, captured),
    )


@rollouts.write(title="Deploy a new image", destructive=False, idempotent=False, open_world=True)
async def start_deployment(
    deps: DeployDeps,
    cluster: Cluster,
    service: Service,
    container: Annotated[Container | None, Field(description="With image: the container to change.")] = None,
    image: Annotated[Image | None, Field(description="New image for container.")] = None,
    task_definition_arn: Annotated[
        str | None, Field(pattern=r"^[A-Za-z0-9_:/.-]{1,2048}$", description="Or: a revision to deploy as is.")
    ] = None,
    requested_by: Annotated[str | None, Field(max_length=255, description="Who asks (history).")] = None,
    reason: Annotated[str | None, Field(max_length=1000, description="Why (history).")] = None,
    idempotency_key: Key = None,
) -> Started:
    """Roll out a new image for one container of an ECS service (a new task definition revision), or a given
    revision; returns at once with the deployment id. Then get_deployment with max_wait_seconds to follow it."""
    if (image is None) == (task_definition_arn is None):
        raise InvalidRequest("Give container and image (a new image), or task_definition_arn (a revision).")
    if image is not None and container is None:
        raise InvalidRequest("Say which container runs the new image (container).")

    async def act() -> Started:
        described = await service_of(deps.aws, cluster, service)
        current = str(described.get("taskDefinition"))
        previous_image = None
        if image is not None and container is not None:
            target, previous_image = await new_revision(deps.aws, current, container, image)
        else:
            target = str(task_definition_arn)
        updated = await deps.aws.call("ecs", "UpdateService", cluster=cluster, service=service, taskDefinition=target)
        new = primary(deployments_of(updated.get("service") or {}))
        from servers.deploy.history import Started as Record

        await deps.history.started(
            Record(
                cluster=cluster,
                service=service,
                deployment_id=new.id if new else None,
                task_definition=target,
                previous_task_definition=current,
                container=container,
                image=image,
                previous_image=previous_image,
                requested_by=requested_by,
                reason=reason,
            )
        )
        return Started(
            **await deps.aws.located(),
            deployment_id=new.id if new else None,
            task_definition=short_definition(target),
            previous_task_definition=short_definition(current),
            image=image,
            previous_image=previous_image,
            next="get_deployment with max_wait_seconds to follow it; rollback_deployment if it goes wrong.",
        )

    request = {
        "cluster": cluster,
        "service": service,
        "container": container,
        "image": image,
        "task_definition_arn": task_definition_arn,
    }
    return await deps.idempotency.once(
        tool="start_deployment", key=idempotency_key, request=request, action=act, result_type=Started
    )


@rollouts.read(title="Get a deployment", open_world=True)
async def get_deployment(
    deps: DeployDeps,
    ctx: Context,
    cluster: Cluster,
    service: Service,
    deployment_id: Annotated[
        str | None, Field(pattern=r"^[A-Za-z0-9_/:.-]{1,255}$", description="Default: the newest (PRIMARY).")
    ] = None,
    max_wait_seconds: Annotated[int, Field(ge=0, le=120, description="Wait for it to end, at most.")] = 0,
) -> DeploymentState:
    """A deployment's state: tasks, rollout state, circuit breaker, alarms, rollback, events since it began.
    With max_wait_seconds it waits (progress notifications meanwhile) until it ends or the time is up: call
    again to keep following. Then diagnose_deployment if it failed."""
    started = time.monotonic()
    max_wait_seconds = min(max_wait_seconds, deps.settings.wait_limit_seconds)
    while True:
        described = await service_of(deps.aws, cluster, service)
        deployments = deployments_of(described)
        chosen = (
            next((d for d in deployments if d.id == deployment_id), None) if deployment_id else primary(deployments)
        )
        if chosen is None:
            raise NotFound(
                f"No deployment {deployment_id!r} on {service}: ECS keeps the current ones only; "
                "list_deployments has the history."
            )
        found, note = await service_deployments(deps.aws, cluster, service, limit=1)
        newest = found[0] if found and chosen.status == "PRIMARY" else None
        outcome = outcome_of(chosen, newest)
        waited = time.monotonic() - started
        if outcome != "in_progress" or waited + POLL_SECONDS > max_wait_seconds:
            break
        await ctx.report_progress(
            waited,
            max_wait_seconds,
            message=f"{chosen.running}/{chosen.desired} running, rollout {chosen.rollout_state or 'unknown'}",
        )
        await asyncio.sleep(POLL_SECONDS)
    captured = await _capture(deps, cluster, service, [chosen])
    if outcome != "in_progress":
        await deps.history.finished(
            cluster, service, chosen.id, outcome, chosen.rollout_reason or (newest.reason if newest else None), None
        )
    since = datetime.fromisoformat(chosen.created_at.replace("Z", "+00:00")) if chosen.created_at else None
    return DeploymentState(
        **await deps.aws.located(),
        service=f"{cluster.rsplit('/', 1)[-1]}/{described.get('serviceName')}",
        deployment=chosen,
        service_deployment=newest,
        outcome=outcome,
        waited_seconds=round(time.monotonic() - started, 1),
        events=events_of(described, since, 10),
        note=_notes(note, captured),
        next=_next(outcome),
    )


def _next(outcome: str) -> str:
    return {
        "in_progress": "Still rolling out: call get_deployment again with max_wait_seconds.",
        "completed": "Done: the observability server's get_service_health says whether it is healthy.",
        "failed": "diagnose_deployment for why; rollback_deployment to go back.",
        "rolled_back": "ECS rolled it back: diagnose_deployment for why.",
        "stopped": "It was stopped: describe_service for what runs now.",
    }.get(outcome, "describe_service.")


@rollouts.write(title="Roll back a deployment", destructive=True, idempotent=False, open_world=True)
async def rollback_deployment(
    deps: DeployDeps,
    cluster: Cluster,
    service: Service,
    reason: Annotated[str | None, Field(max_length=1000, description="Why (history).")] = None,
    idempotency_key: Key = None,
) -> RolledBack:
    """Roll an ECS service back: stop its running service deployment with rollback when ECS supports it,
    else redeploy the revision that ran before (from this server's history or the deployment being
    replaced). Then get_deployment to follow it."""

    async def act() -> RolledBack:
        described = await service_of(deps.aws, cluster, service)
        found, _ = await service_deployments(deps.aws, cluster, service, limit=1)
        running = found[0] if found and found[0].status in ("PENDING", "IN_PROGRESS") else None
        if running is not None:
            await deps.aws.call("ecs", "StopServiceDeployment", serviceDeploymentArn=running.arn, stopType="ROLLBACK")
            return RolledBack(
                **await deps.aws.located(),
                method="stop_service_deployment",
                task_definition=None,
                deployment_id=None,
                next="get_deployment with max_wait_seconds to follow the rollback.",
            )
        deployments = deployments_of(described)
        current = primary(deployments)
        previous = await _previous(deps, cluster, service, described, current)
        updated = await deps.aws.call("ecs", "UpdateService", cluster=cluster, service=service, taskDefinition=previous)
        new = primary(deployments_of(updated.get("service") or {}))
        from servers.deploy.history import Started as Record

        await deps.history.started(
            Record(
                cluster=cluster,
                service=service,
                deployment_id=new.id if new else None,
                task_definition=previous,
                previous_task_definition=str(described.get("taskDefinition")),
                container=None,
                image=None,
                previous_image=None,
                requested_by=None,
                reason=reason,
                rollback_of=current.id if current else None,
            )
        )
        if current is not None:
            await deps.history.finished(cluster, service, current.id, "rolled_back", reason, None)
        return RolledBack(
            **await deps.aws.located(),
            method="redeploy",
            task_definition=short_definition(previous),
            deployment_id=new.id if new else None,
            next="get_deployment with max_wait_seconds to follow the rollback.",
        )

    request = {"cluster": cluster, "service": service}
    return await deps.idempotency.once(
        tool="rollback_deployment", key=idempotency_key, request=request, action=act, result_type=RolledBack
    )


async def _previous(
    deps: DeployDeps, cluster: str, service: str, described: dict[str, Any] | Any, current: Deployment | None
) -> str:
    """The revision to go back to: the one the deployment being replaced runs, else what ran before the
    current deployment by this server's history."""
    active = [d for d in deployments_of(described) if d.status == "ACTIVE"]
    if active:
        return _arn_of(described, active[0].task_definition)
    if current is not None:
        row = await deps.history.last(cluster, service, current.id)
        if row is not None and row["previous_task_definition"]:
            return str(row["previous_task_definition"])
    raise InvalidRequest(
        "No earlier revision is known for this service (no deployment being replaced, none in this server's "
        "history): deploy the revision to go back to with start_deployment(task_definition_arn=...)."
    )


def _arn_of(described: Any, short: str) -> str:
    for raw in described.get("deployments") or []:
        if short_definition(raw.get("taskDefinition")) == short:
            return str(raw.get("taskDefinition"))
    return short


@rollouts.read(title="List deployments", open_world=False)
async def list_deployments(
    deps: DeployDeps,
    cluster: Annotated[Cluster | None, Field(description="Only this cluster.")] = None,
    service: Annotated[Service | None, Field(description="Only this service.")] = None,
    limit: Annotated[int, Field(ge=1, le=100, description="Per page.")] = 20,
    cursor: Cursor = None,
) -> HistoryPage:
    """Deployments this server started or saw, newest first: who, what image, when, outcome, duration,
    rollbacks. The factory's delivery KPIs are computed from it."""
    before = None
    if cursor:
        value = decode_cursor(cursor, keys=frozenset({"before"}))["before"]
        try:
            before = datetime.fromisoformat(str(value))
        except ValueError:
            raise invalid_cursor() from None
    rows = await deps.history.page(cluster=cluster, service=service, before=before, limit=limit)
    items = [_item(row) for row in rows[:limit]]
    more = len(rows) > limit
    return HistoryPage(
        items=items,
        next_cursor=encode_cursor({"before": utc(rows[limit - 1]["started_at"]).isoformat()}) if more else None,
    )


def _item(row: Any) -> HistoryItem:
    started = utc(row["started_at"])
    finished = utc(row["finished_at"]) if row["finished_at"] else None
    duration = (finished - started).total_seconds() if started and finished else None
    return HistoryItem(
        service=f"{row['cluster'].rsplit('/', 1)[-1]}/{row['service']}",
        deployment_id=row["deployment_id"],
        task_definition=short_definition(row["task_definition"]),
        image=row["image"],
        requested_by=row["requested_by"],
        outcome=row["outcome"],
        outcome_reason=row["outcome_reason"],
        rollback_of=row["rollback_of"],
        started_at=iso(started) or "",
        duration_seconds=round(duration, 1) if duration is not None else None,
    )


# -- diagnose_deployment -----------------------------------------------------------------------------------------

COUNTED = 500  # stored failures read for the counts per category


class Diagnosis(Located):
    service: str = Field(description="cluster/service.")
    window_minutes: int = Field(description="The window looked at, in minutes back from now.")
    verdict: str = Field(description="The most likely cause and what to do next, in one line.")
    cause: str | None = Field(
        description="The most likely cause: image_pull, secrets, resource_init, out_of_memory, health_check, "
        "application_exit or unknown; none when nothing failed."
    )
    counts: dict[str, int] = Field(description="Failed tasks in the window per category, most first.")
    failures: list[TaskFailure] = Field(description="Failed tasks, newest first, as captured (ECS forgets them).")
    captured_now: int = Field(description="Failed tasks this call found at ECS and stored.")
    deployments: list[Deployment] = Field(description="The service's current deployments, PRIMARY first.")
    events: list[ServiceEvent] = Field(description="Service events in the window about failures, newest first.")
    targets: list[TargetState] = Field(description="Health of the service's load balancer targets, unhealthy first.")
    note: str | None = Field(default=None, description="What could not be read.")


@rollouts.read(title="Diagnose a failed deployment", open_world=True)
async def diagnose_deployment(
    deps: DeployDeps,
    cluster: Cluster,
    service: Service,
    since_minutes: Annotated[
        int, Field(ge=1, le=10080, description="Look back this many minutes (stored failures reach further).")
    ] = 180,
    limit: Annotated[int, Field(ge=1, le=100, description="Failed tasks shown at most.")] = 20,
) -> Diagnosis:
    """Why an ECS service's tasks fail: each stopped task with its stop code, reason and per-container exit
    codes, classified (image_pull, secrets, resource_init, out_of_memory, health_check, application_exit),
    counts per cause, service events about failures, target health, and a verdict with what to do next.
    Failures are stored when seen (here or by the watcher), so they stay after ECS forgets them (~1 h).
    Then rollback_deployment, check_task_secrets, or the observability server's tail_task_logs."""
    since = datetime.now(UTC) - timedelta(minutes=since_minutes)
    described = await service_of(deps.aws, cluster, service)
    captured_now = await deps.history.captured(await stopped_tasks(deps.aws, cluster, service, since))
    rows = await deps.history.failures(short_name(cluster), short_name(service), since=since, limit=COUNTED)
    failures = [failure_of(row) for row in rows]
    targets, note = await target_health(deps.aws, described)
    events = failure_events(described, since)
    deployments = deployments_of(described)
    current = primary(deployments)
    rollout = (current.rollout_reason or "failed") if current and current.rollout_state == "FAILED" else None
    cause, verdict = verdict_of(failures, targets, events, rollout, since_minutes)
    return Diagnosis(
        **await deps.aws.located(),
        service=f"{short_name(cluster)}/{described.get('serviceName') or short_name(service)}",
        window_minutes=since_minutes,
        verdict=verdict,
        cause=cause,
        counts=counts_of(failures),
        failures=failures[:limit],
        captured_now=captured_now,
        deployments=deployments,
        events=events,
        targets=targets,
        note=note,
    )
