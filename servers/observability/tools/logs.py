"""Toolset ``logs``: CloudWatch Logs: search, Logs Insights queries, and an ECS task's last lines."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from servers.observability.arguments import Cluster, Cursor, End, Start, window
from servers.observability.deps import ObservabilityDeps
from servers.observability.logs import event_of, insights, line, stream_of
from servers.observability.models import LogEvents, LogQuery, QueryStopped
from shared.errors import InvalidRequest
from shared.pagination import encode_cursor, token_of
from shared.toolset import Toolset

__all__ = ["logs"]

logs = Toolset(
    "logs",
    "CloudWatch Logs: search a log group, run Logs Insights queries, read an ECS task's last lines.",
    start_with="tail_task_logs",
)

LogGroup = Annotated[str, Field(pattern=r"^[A-Za-z0-9_#./-]{1,512}$", description="Log group name.")]
_EMPTY_PAGES = 5  # empty pages search_logs reads on before it hands the cursor back

QueryId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,256}$", description="From query_logs.")]


@logs.read(title="Search log events", open_world=True)
async def search_logs(
    deps: ObservabilityDeps,
    log_group: LogGroup,
    filter_pattern: Annotated[
        str | None, Field(max_length=1024, description='CloudWatch filter pattern, e.g. "ERROR" or "{ $.level = 5 }".')
    ] = None,
    start: Start = None,
    end: End = None,
    limit: Annotated[int, Field(ge=1, le=500, description="Events per page.")] = 50,
    cursor: Cursor = None,
) -> LogEvents:
    """Log events of a group matching a filter pattern in a time range, oldest first, secrets redacted. For
    counts or grouping use query_logs; for one ECS task's last lines, tail_task_logs."""
    begin, stop = window(start, end)
    params: dict[str, object] = {
        "logGroupName": log_group,
        "startTime": int(begin.timestamp() * 1000),
        "endTime": int(stop.timestamp() * 1000),
        "limit": limit,
    }
    if filter_pattern:
        params["filterPattern"] = filter_pattern
    token = token_of(cursor) if cursor else None
    raws: list[dict[str, Any]] = []
    for _ in range(_EMPTY_PAGES):  # CloudWatch may answer an empty page with a token while more lines follow
        answer = await deps.aws.call("logs", "FilterLogEvents", **params, **({"nextToken": token} if token else {}))
        raws = list(answer.get("events") or [])
        token = answer.get("nextToken")
        if raws or not token:
            break
    raws.sort(key=lambda raw: raw.get("timestamp") or 0)  # oldest first across streams, whoever pages them
    shown = [event_of(raw) for raw in raws[:limit]]
    located = await deps.aws.located()
    return LogEvents(
        **located,
        events=[event for event, _ in shown],
        next_cursor=encode_cursor({"token": token}) if token else None,
        redacted=any(redacted for _, redacted in shown),
    )


@logs.read(title="Run a Logs Insights query", open_world=True)
async def query_logs(
    deps: ObservabilityDeps,
    query: Annotated[
        str | None,
        Field(max_length=10_000, description="Insights query, e.g. 'filter @message like /ERROR/ | stats count(*)'."),
    ] = None,
    log_groups: Annotated[list[LogGroup] | None, Field(max_length=50, description="Log groups to query.")] = None,
    start: Start = None,
    end: End = None,
    query_id: Annotated[
        str | None, Field(pattern=r"^[A-Za-z0-9_-]{1,256}$", description="Resume a running query.")
    ] = None,
    max_wait_seconds: Annotated[int, Field(ge=0, le=60, description="Wait at most this long.")] = 20,
    max_rows: Annotated[int, Field(ge=1, le=1000, description="Rows shown at most.")] = 100,
) -> LogQuery:
    """Start a Logs Insights query (query and log_groups) or look again at one (query_id), waiting at most
    max_wait_seconds. A query still running comes back with its query_id: call again with it, or
    stop_log_query."""
    if query_id is None:
        if not query or not log_groups:
            raise InvalidRequest("Give query and log_groups to start a query, or query_id to follow one.")
        begin, stop = window(start, end)
        started = await deps.aws.call(
            "logs",
            "StartQuery",
            logGroupNames=log_groups,
            queryString=query,
            startTime=int(begin.timestamp()),
            endTime=int(stop.timestamp()),
            limit=max(max_rows, 1),
        )
        query_id = str(started["queryId"])
    answer = await insights(deps.aws, query_id, max_wait_seconds)
    status = str(answer.get("status", "Unknown"))
    results = answer.get("results") or []
    rows = [
        {str(cell.get("field")): line(str(cell.get("value", "")))[0] for cell in row if cell.get("field") != "@ptr"}
        for row in results[:max_rows]
    ]
    statistics = answer.get("statistics") or {}
    located = await deps.aws.located()
    return LogQuery(
        **located,
        query_id=query_id,
        status=status,
        rows=rows,
        rows_total=len(results),
        records_matched=statistics.get("recordsMatched"),
        records_scanned=statistics.get("recordsScanned"),
        next=_next(status, query_id),
    )


@logs.write(title="Stop a Logs Insights query", destructive=False, idempotent=True, open_world=True)
async def stop_log_query(deps: ObservabilityDeps, query_id: QueryId) -> QueryStopped:
    """Stop a running Logs Insights query that query_logs started (it costs by data scanned). Nothing else
    is changed."""
    answer = await deps.aws.call("logs", "StopQuery", queryId=query_id)
    located = await deps.aws.located()
    return QueryStopped(**located, query_id=query_id, stopped=bool(answer.get("success")))


@logs.read(title="Tail an ECS task's logs", open_world=True)
async def tail_task_logs(
    deps: ObservabilityDeps,
    cluster: Cluster,
    task: Annotated[str, Field(pattern=r"^[A-Za-z0-9_:/.-]{1,2048}$", description="Task id or ARN.")],
    container: Annotated[
        str | None, Field(pattern=r"^[A-Za-z0-9_-]{1,255}$", description="Default: the first that logs.")
    ] = None,
    lines: Annotated[int, Field(ge=1, le=500, description="Last lines.")] = 50,
) -> LogEvents:
    """The last lines an ECS task's container wrote (its awslogs stream), oldest first, secrets redacted.
    For other time ranges or filters, search_logs on the same group."""
    where = await stream_of(deps.aws, cluster, task, container)
    answer = await deps.aws.call(
        "logs",
        "GetLogEvents",
        logGroupName=where.group,
        logStreamName=where.stream,
        limit=lines,
        startFromHead=False,
    )
    shown = [event_of(raw) for raw in (answer.get("events") or [])[-lines:]]  # one stream: not repeated
    events = [event.model_copy(update={"stream": event.stream or where.stream}) for event, _ in shown]
    located = await deps.aws.located()
    return LogEvents(
        **located,
        events=events,
        next_cursor=None,
        redacted=any(redacted for _, redacted in shown),
    )


def _next(status: str, query_id: str) -> str:
    if status == "Complete":
        return "Done."
    if status in ("Scheduled", "Running"):
        return f"Still running: call query_logs with query_id={query_id} to wait more, or stop_log_query."
    return f"The query ended {status}: check its syntax and log groups, then start it again."
