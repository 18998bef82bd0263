"""CloudWatch Logs: log events as compact redacted lines, Logs Insights queries polled within a bound, and the
awslogs stream of an ECS task's container."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from servers.observability.models import LogEvent
from shared.aws import AwsClients
from shared.errors import InvalidRequest, NotFound
from shared.redaction import redact_text
from shared.untrusted import clean

__all__ = ["MAX_LINE", "StreamOf", "event_of", "insights", "stream_of", "when"]

MAX_LINE = 2_000
_FINISHED = frozenset({"Complete", "Failed", "Cancelled", "Timeout", "Unknown"})
_POLL = 1.0  # seconds between two looks at a running Insights query


def when(milliseconds: int | float | None) -> str:
    if milliseconds is None:
        return ""
    moment = datetime.fromtimestamp(milliseconds / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def line(text: str) -> tuple[str, bool]:
    """A log line as a model may read it: invisible text removed, secrets redacted, cut; and whether anything
    was redacted."""
    cleaned = clean(text)[0] or ""
    redacted = redact_text(cleaned)
    shown = redacted.rstrip("\n")
    if len(shown) > MAX_LINE:
        shown = shown[:MAX_LINE] + f"…[{len(shown) - MAX_LINE} more chars]"
    return shown, redacted != cleaned


def event_of(raw: Mapping[str, Any]) -> tuple[LogEvent, bool]:
    message, redacted = line(str(raw.get("message", "")))
    stream = raw.get("logStreamName")
    return LogEvent(at=when(raw.get("timestamp")), stream=str(stream) if stream else None, message=message), redacted


async def insights(aws: AwsClients, query_id: str, max_wait: float) -> dict[str, Any]:
    """``GetQueryResults`` of ``query_id``, looked at again every second until the query finishes or
    ``max_wait`` seconds have passed (then the partial answer, still running)."""
    deadline = time.monotonic() + max_wait
    while True:
        answer = await aws.call("logs", "GetQueryResults", queryId=query_id)
        if answer.get("status") in _FINISHED or time.monotonic() + _POLL > deadline:
            return answer
        await asyncio.sleep(_POLL)


class StreamOf:
    """Where a container of an ECS task writes its log with the awslogs driver."""

    def __init__(self, group: str, stream: str, container: str) -> None:
        self.group = group
        self.stream = stream
        self.container = container


async def stream_of(aws: AwsClients, cluster: str, task: str, container: str | None) -> StreamOf:
    """The awslogs group and stream of ``container`` (default: the task's first container with awslogs)."""
    found = await aws.call("ecs", "DescribeTasks", cluster=cluster, tasks=[task])
    tasks = found.get("tasks") or []
    if not tasks:
        raise NotFound(f"No task {task!r} in cluster {cluster!r} (ECS forgets stopped tasks after about an hour).")
    described = tasks[0]
    task_id = str(described.get("taskArn", task)).rsplit("/", 1)[-1]
    definition = await aws.call("ecs", "DescribeTaskDefinition", taskDefinition=described["taskDefinitionArn"])
    containers = (definition.get("taskDefinition") or {}).get("containerDefinitions") or []
    names = [str(c.get("name")) for c in containers]
    for spec in containers:
        if container is not None and spec.get("name") != container:
            continue
        config = spec.get("logConfiguration") or {}
        options = config.get("options") or {}
        if config.get("logDriver") != "awslogs" or "awslogs-group" not in options:
            if container is not None:
                raise InvalidRequest(f"Container {container!r} does not log with the awslogs driver.")
            continue
        prefix = options.get("awslogs-stream-prefix")
        if not prefix:
            raise InvalidRequest(
                f"Container {spec.get('name')!r} logs to {options['awslogs-group']} without a stream prefix: "
                "its stream cannot be told from the task; use search_logs on that group."
            )
        return StreamOf(options["awslogs-group"], f"{prefix}/{spec['name']}/{task_id}", str(spec["name"]))
    if container is not None:
        raise NotFound(f"Task {task_id} has no container {container!r}; its containers: {', '.join(names)}.")
    raise InvalidRequest(f"No container of task {task_id} logs with the awslogs driver ({', '.join(names)}).")
