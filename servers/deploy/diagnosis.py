"""Why the tasks of an ECS deployment stopped: each stopped task classified by its stop code, its stopped
reason and its containers' exit codes and reasons, read while ECS still has it and made into a row for the
history store (ECS forgets stopped tasks after about an hour and cuts their messages short).

:func:`classify` is pure: a ``DescribeTasks`` entry in, a category out. :func:`stopped_tasks` reads a
service's stopped tasks (``ListTasks`` ``desiredStatus=STOPPED``, ``DescribeTasks`` in batches of 100) and
gives the failures among them as rows for :meth:`~servers.deploy.history.History.captured`; every text in a
row is cleaned of invisible characters, redacted and cut. The rest reads what goes with them: the service
events about failures, the health of the service's targets, and the one-line verdict.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from servers.deploy.rollouts import ServiceEvent, short_definition, text
from shared.aws import AwsClients
from shared.errors import CallError
from shared.timestamps import iso, utc

__all__ = [
    "CATEGORIES",
    "ContainerExit",
    "TargetState",
    "TaskFailure",
    "classify",
    "counts_of",
    "describe_tasks",
    "failure_events",
    "failure_of",
    "failure_row",
    "is_failure",
    "short_name",
    "stopped_task_arns",
    "stopped_tasks",
    "target_health",
    "verdict_of",
]

CATEGORIES = (
    "image_pull",
    "secrets",
    "resource_init",
    "out_of_memory",
    "health_check",
    "application_exit",
    "stopped_by_user_or_scheduler",
    "unknown",
)
NOT_A_FAILURE = "stopped_by_user_or_scheduler"

REASON_CHARS = 1000  # of a stopped reason or a container reason, stored and shown
LIST_PAGES = 10  # ListTasks pages of 100 read at most (ECS keeps stopped tasks about an hour)
DESCRIBE_BATCH = 100  # DescribeTasks takes at most 100 tasks
TARGET_GROUPS = 5  # target groups of a service read at most
TARGETS = 50  # targets shown at most
EVENTS = 20  # failure events shown at most

# Stop codes of tasks stopped on purpose (a person, the scheduler scaling or replacing, Spot, maintenance).
_ON_PURPOSE = frozenset({"UserInitiated", "ServiceSchedulerInitiated", "SpotInterruption", "TerminationNotice"})
# ECS starts many initialisation messages so, whether secrets or the registry auth failed: look past it.
_EITHER = re.compile(r"unable to pull secrets or registry auth:?", re.IGNORECASE)
_IMAGE_PULL = re.compile(
    r"CannotPullContainerError|pull image manifest|failed to resolve ref|manifest unknown|pull access denied|"
    r"repository does not exist|ecr registry auth|registry auth from Amazon ECR|api\.ecr\.|pull command failed|"
    r"image .*not found",
    re.IGNORECASE,
)
_SECRETS = re.compile(r"secret|\bssm\b|\basm\b|parameter store|GetParameters|invalid parameters|kms", re.IGNORECASE)
_RESOURCE_INIT = re.compile(
    r"ResourceInitializationError|CannotStartContainerError|CannotCreateContainerError|CannotInspectContainerError|"
    r"CannotCreateVolumeError|DockerTimeoutError|ContainerRuntimeTimeoutError|ContainerRuntimeError|"
    r"network interface provisioning|failed to validate logger args|failed to download env files",
    re.IGNORECASE,
)
_OUT_OF_MEMORY = re.compile(r"OutOfMemory|out of memory|killed due to memory usage|\bOOM\b", re.IGNORECASE)
_HEALTH_CHECK = re.compile(r"health ?checks?", re.IGNORECASE)
_ESSENTIAL_EXITED = re.compile(r"Essential container in task exited", re.IGNORECASE)
_FAILURE_EVENT = re.compile(
    r"unable|fail|unhealthy|error|denied|could not|cannot|rolling back|rolled back|circuit breaker", re.IGNORECASE
)
_EXIT_MEANINGS = {
    1: "the application failed",
    126: "the command is not executable",
    127: "the command was not found in the image",
    137: "killed (SIGKILL)",
    139: "segmentation fault",
    143: "terminated (SIGTERM)",
}


class ContainerExit(BaseModel):
    name: str = Field(description="Container name.")
    exit_code: int | None = Field(description="Exit code; none when it never ran.")
    reason: str | None = Field(description="Why it stopped, as ECS says (cleaned, redacted, cut).")
    image: str | None = Field(default=None, description="Image it ran.")


class TaskFailure(BaseModel):
    task: str = Field(description="Task id.")
    deployment_id: str | None = Field(description="ECS deployment that started it (ecs-svc/...).")
    task_definition: str | None = Field(description="family:revision.")
    category: str = Field(
        description="image_pull, secrets, resource_init, out_of_memory, health_check, application_exit or unknown."
    )
    stop_code: str | None = Field(description="TaskFailedToStart, EssentialContainerExited, ...")
    reason: str | None = Field(description="stoppedReason (cleaned, redacted, cut).")
    containers: list[ContainerExit] = Field(description="Each container's exit code and reason.")
    stopped_at: str | None = Field(description="ISO 8601.")


class TargetState(BaseModel):
    target_group: str = Field(description="Target group name.")
    target: str = Field(description="Target id and port.")
    state: str = Field(description="healthy, unhealthy, initial, draining, unused, unavailable.")
    reason: str | None = Field(description="Reason code, e.g. Target.ResponseCodeMismatch.")
    description: str | None = Field(description="What the load balancer says.")


# -- classification ----------------------------------------------------------------------------------------------


def classify(task: Mapping[str, Any]) -> str:
    """The category of a described (stopped) task; see :data:`CATEGORIES`.

    The texts ECS gives (the stopped reason, each container's reason) decide first, in this order: image pull,
    secrets, other resource initialisation, out of memory, health checks. Then the stop code: stopped on purpose
    (user, scheduler, Spot, maintenance) is not a failure; an essential container that exited, or any non-zero
    exit code, is an application exit. Anything else is unknown.
    """
    containers = [c for c in task.get("containers") or [] if isinstance(c, Mapping)]
    reasons = [str(task.get("stoppedReason") or "")] + [str(c.get("reason") or "") for c in containers]
    joined = "\n".join(reason for reason in reasons if reason)
    specific = _EITHER.sub(" ", joined)
    stop_code = str(task.get("stopCode") or "")
    initialising = bool(_RESOURCE_INIT.search(joined) or _EITHER.search(joined))
    if _IMAGE_PULL.search(specific):
        return "image_pull"
    if _SECRETS.search(specific) and (initialising or stop_code == "TaskFailedToStart"):
        return "secrets"
    if initialising:
        return "resource_init"
    if _OUT_OF_MEMORY.search(joined):
        return "out_of_memory"
    if _HEALTH_CHECK.search(joined):
        return "health_check"
    if stop_code in _ON_PURPOSE:
        return NOT_A_FAILURE
    exits = [c.get("exitCode") for c in containers]
    if (
        stop_code == "EssentialContainerExited"
        or _ESSENTIAL_EXITED.search(joined)
        or any(isinstance(code, int) and code != 0 for code in exits)
    ):
        return "application_exit"
    return "unknown"


def is_failure(category: str) -> bool:
    return category != NOT_A_FAILURE


# -- reading stopped tasks ---------------------------------------------------------------------------------------


def short_name(name_or_arn: str) -> str:
    """A cluster's or service's name, from its name or ARN (rows are stored under names)."""
    return name_or_arn.rsplit("/", 1)[-1]


async def stopped_task_arns(aws: AwsClients, cluster: str, service: str) -> list[str]:
    """The ARNs of the service's stopped tasks ECS still keeps (at most ``LIST_PAGES`` pages of 100)."""
    arns: list[str] = []
    token: str | None = None
    for _ in range(LIST_PAGES):
        params: dict[str, Any] = {"cluster": cluster, "serviceName": service, "desiredStatus": "STOPPED"}
        if token:
            params["nextToken"] = token
        answer = await aws.call("ecs", "ListTasks", **params)
        arns += [str(arn) for arn in answer.get("taskArns") or []]
        token = answer.get("nextToken")
        if not token:
            break
    return list(dict.fromkeys(arns))


async def describe_tasks(aws: AwsClients, cluster: str, arns: Sequence[str]) -> list[dict[str, Any]]:
    """``DescribeTasks`` of ``arns``, in batches of 100 (tasks ECS no longer has are left out)."""
    tasks: list[dict[str, Any]] = []
    for start in range(0, len(arns), DESCRIBE_BATCH):
        answer = await aws.call(
            "ecs", "DescribeTasks", cluster=cluster, tasks=list(arns[start : start + DESCRIBE_BATCH])
        )
        tasks += [dict(task) for task in answer.get("tasks") or []]
    return tasks


def _reason(value: object) -> str | None:
    return text(value, REASON_CHARS) if value else None


def failure_row(task: Mapping[str, Any], cluster: str, service: str) -> dict[str, Any] | None:
    """The row of a stopped task that failed, for ``History.captured``; None when it is not stopped yet (its
    exit codes may still come) or was stopped on purpose."""
    stopped_at = task.get("stoppedAt")
    if task.get("lastStatus") != "STOPPED" or not isinstance(stopped_at, datetime):
        return None
    category = classify(task)
    if not is_failure(category):
        return None
    started_by = str(task.get("startedBy") or "")
    containers = [
        {
            "name": text(container.get("name"), 255),
            "exit_code": container.get("exitCode") if isinstance(container.get("exitCode"), int) else None,
            "reason": _reason(container.get("reason")),
            "image": text(container.get("image"), 1024) if container.get("image") else None,
        }
        for container in task.get("containers") or []
    ]
    return {
        "cluster": short_name(cluster),
        "service": short_name(service),
        "deployment_id": started_by if started_by.startswith("ecs-svc/") else None,
        "task_arn": str(task.get("taskArn")),
        "task_definition": str(task.get("taskDefinitionArn") or "") or None,
        "category": category,
        "stop_code": str(task.get("stopCode") or "")[:64] or None,
        "stopped_reason": _reason(task.get("stoppedReason")),
        "containers": containers,
        "stopped_at": utc(stopped_at),
    }


async def stopped_tasks(aws: AwsClients, cluster: str, service: str, since: datetime | None) -> list[dict[str, Any]]:
    """The service's stopped tasks ECS still keeps that failed (stopped at or after ``since``), as rows for
    ``History.captured``."""
    arns = await stopped_task_arns(aws, cluster, service)
    rows = [failure_row(task, cluster, service) for task in await describe_tasks(aws, cluster, arns)]
    return [row for row in rows if row is not None and (since is None or row["stopped_at"] >= utc(since))]


# -- what goes with them -----------------------------------------------------------------------------------------


def failure_of(row: Mapping[str, Any]) -> TaskFailure:
    """A stored failure as the answer shows it."""
    stopped_at = row.get("stopped_at")
    containers = row.get("containers") or []
    return TaskFailure(
        task=str(row.get("task_arn") or "").rsplit("/", 1)[-1],
        deployment_id=row.get("deployment_id"),
        task_definition=short_definition(row["task_definition"]) if row.get("task_definition") else None,
        category=str(row.get("category")),
        stop_code=row.get("stop_code"),
        reason=row.get("stopped_reason"),
        containers=[
            ContainerExit(
                name=str(c.get("name")), exit_code=c.get("exit_code"), reason=c.get("reason"), image=c.get("image")
            )
            for c in containers
            if isinstance(c, Mapping)
        ],
        stopped_at=iso(utc(stopped_at)) if isinstance(stopped_at, datetime) else None,
    )


def counts_of(failures: Iterable[TaskFailure]) -> dict[str, int]:
    """How many failures per category, most first."""
    return dict(Counter(failure.category for failure in failures).most_common())


def failure_events(described: Mapping[str, Any], since: datetime | None) -> list[ServiceEvent]:
    """The service's events in the window that speak of a failure, newest first."""
    found: list[ServiceEvent] = []
    for raw in described.get("events") or []:
        created = raw.get("createdAt")
        if since is not None and isinstance(created, datetime) and utc(created) < utc(since):
            continue
        message = str(raw.get("message") or "")
        if _FAILURE_EVENT.search(message):
            found.append(
                ServiceEvent(at=iso(utc(created)) if isinstance(created, datetime) else None, message=text(message))
            )
    return found[:EVENTS]


async def target_health(aws: AwsClients, described: Mapping[str, Any]) -> tuple[list[TargetState], str | None]:
    """The health of the targets of the service's target groups, unhealthy first; and a note when some could not
    be read (the diagnosis goes on without them)."""
    arns = [
        str(balancer["targetGroupArn"])
        for balancer in described.get("loadBalancers") or []
        if balancer.get("targetGroupArn")
    ]
    targets: list[TargetState] = []
    notes: list[str] = []
    for arn in list(dict.fromkeys(arns))[:TARGET_GROUPS]:
        group = arn.split(":targetgroup/")[-1].split("/")[0]
        try:
            answer = await aws.call("elbv2", "DescribeTargetHealth", TargetGroupArn=arn)
        except CallError as error:
            notes.append(f"target health of {group} not read: {str(error)[:200]}")
            continue
        for entry in answer.get("TargetHealthDescriptions") or []:
            target = entry.get("Target") or {}
            health = entry.get("TargetHealth") or {}
            port = target.get("Port")
            targets.append(
                TargetState(
                    target_group=group,
                    target=f"{target.get('Id')}" + (f":{port}" if port else ""),
                    state=str(health.get("State") or "unknown"),
                    reason=str(health["Reason"]) if health.get("Reason") else None,
                    description=text(health["Description"]) if health.get("Description") else None,
                )
            )
    targets.sort(key=lambda t: t.state == "healthy")
    return targets[:TARGETS], "; ".join(notes) or None


def _evidence(failure: TaskFailure) -> str | None:
    """The most telling text of a failure: its stopped reason, or a container's when that only says an essential
    container exited."""
    if failure.reason and not _ESSENTIAL_EXITED.search(failure.reason):
        return failure.reason
    return next((c.reason for c in failure.containers if c.reason), None) or failure.reason


def _exit_codes(failures: Sequence[TaskFailure]) -> str:
    codes = Counter(
        (container.exit_code, container.name)
        for failure in failures
        for container in failure.containers
        if container.exit_code not in (None, 0)
    )
    if not codes:
        return "no exit code"
    shown = []
    for (code, name), _ in codes.most_common(3):
        meaning = _EXIT_MEANINGS.get(code or 0)
        shown.append(f"exit code {code} in {name}" + (f": {meaning}" if meaning else ""))
    return "; ".join(shown)


def verdict_of(
    failures: Sequence[TaskFailure],
    targets: Sequence[TargetState],
    events: Sequence[ServiceEvent],
    rollout: str | None,
    minutes: int,
) -> tuple[str | None, str]:
    """The most likely cause (a category, or None) and one line naming it and what to do next.

    The cause is the most frequent category among the failures (on a tie, the newest failure's); without a
    failure, unhealthy targets, a failed rollout or failure events are named instead."""
    if failures:
        counts = Counter(failure.category for failure in failures)
        top = max(counts.values())
        cause = next(failure.category for failure in failures if counts[failure.category] == top)
        chosen = [failure for failure in failures if failure.category == cause]
        example = next((reason for failure in chosen if (reason := _evidence(failure))), None)
        said = f" ({example[:160]})" if example else ""
        n = f"{len(chosen)} of {len(failures)} failed task(s)"
        codes = _exit_codes(chosen) if cause == "application_exit" else ""
        return cause, _VERDICTS[cause].format(n=n, said=said, codes=codes)
    unhealthy = [target for target in targets if target.state == "unhealthy"]
    if unhealthy:
        reasons = ", ".join(sorted({t.reason for t in unhealthy if t.reason})) or "no reason given"
        return "health_check", (
            f"No stopped task failed in the last {minutes} min, but {len(unhealthy)} of {len(targets)} target(s) are "
            f"unhealthy ({reasons}): tail the task's logs with the observability server's tail_task_logs and check "
            "the health check path, port and grace period."
        )
    if rollout:
        return None, (
            f"The rollout failed ({rollout[:160]}) but no failed task is stored for the last {minutes} min: widen "
            "since_minutes, and read the events below."
        )
    if events:
        return None, (
            f"No failed task in the last {minutes} min, but the service reports trouble: {events[0].message[:160]}"
        )
    return None, (
        f"No failed task, failing event or unhealthy target in the last {minutes} min: get_deployment for the rollout "
        "state, or widen since_minutes."
    )


_UNKNOWN = (
    "Unclassified: {n} stopped for a reason not recognised{said}. Read the reasons and events below, and the "
    "task's logs (observability server's tail_task_logs)."
)
# What each cause says and what to do: {n} the failed tasks, {said} what ECS said, {codes} the exit codes.
_VERDICTS = {
    "image_pull": (
        "Image pull: {n} could not pull their image{said}. Check that the image tag exists in its repository and "
        "that the task execution role may pull it (ecr:GetAuthorizationToken, ecr:BatchGetImage) and reach the "
        "registry (NAT or VPC endpoints); then start_deployment with a good image, or rollback_deployment."
    ),
    "secrets": (
        "Secrets: {n} could not fetch their secrets{said}. Run the secret preflight check_task_secrets: every secret "
        "the task definition names must exist and the execution role must read it (secretsmanager:GetSecretValue, "
        "ssm:GetParameters, kms:Decrypt)."
    ),
    "resource_init": (
        "Resource initialisation: {n} could not set up their resources{said}. The reason names which (log group, "
        "volume, env file, network interface, container): fix it in the task definition or its role, then redeploy."
    ),
    "out_of_memory": (
        "Out of memory: {n} were killed for using too much memory{said}. Raise the task's (or the container's) "
        "memory in a new task definition revision, or look for a leak with the observability server's "
        "get_service_metrics; rollback_deployment meanwhile."
    ),
    "health_check": (
        "Health checks: {n} failed their health checks{said}. Tail the task's logs with the observability "
        "server's tail_task_logs; check the health check path, port and grace period against the app's start time."
    ),
    "application_exit": (
        "Application exit: {n} exited on their own ({codes}){said}. Tail the task's logs with the "
        "observability server's tail_task_logs for why; rollback_deployment if the new image is at fault."
    ),
    "unknown": _UNKNOWN,
    NOT_A_FAILURE: _UNKNOWN,
}
