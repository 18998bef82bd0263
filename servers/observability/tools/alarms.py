"""Toolset ``alarms``: CloudWatch alarms by state, per ECS service, and an alarm's history."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field

from servers.observability.alarms import FLAPPING, alarm_of, alarms_in, concerns, recoveries, transition_of
from servers.observability.arguments import Cluster, Cursor, End, Service, Start, window
from servers.observability.deps import ObservabilityDeps
from servers.observability.metrics import Resources, resources_of
from servers.observability.models import AlarmHistory, AlarmList
from shared.errors import InvalidRequest
from shared.pagination import encode_cursor, token_of, token_position
from shared.toolset import Toolset

__all__ = ["alarms"]

alarms = Toolset(
    "alarms",
    "CloudWatch alarms: which are firing (metric and composite), per service, and their history.",
    start_with="list_alarms",
)

_SCAN_PAGES = 10


@alarms.read(title="List alarms", open_world=True)
async def list_alarms(
    deps: ObservabilityDeps,
    state: Annotated[
        Literal["ALARM", "OK", "INSUFFICIENT_DATA", "any"], Field(description="Alarms in this state.")
    ] = "ALARM",
    name_prefix: Annotated[str | None, Field(min_length=1, max_length=255, description="Alarm name prefix.")] = None,
    cluster: Annotated[Cluster | None, Field(description="With service: only alarms about it.")] = None,
    service: Annotated[Service | None, Field(description="Only alarms about this ECS service.")] = None,
    limit: Annotated[int, Field(ge=1, le=100, description="Alarms per page.")] = 50,
    cursor: Cursor = None,
) -> AlarmList:
    """Metric and composite alarms in a state (default: ALARM, what is firing now), optionally only those
    about one ECS service (its dimensions, target group, load balancer or name). Then get_alarm_history
    for one alarm's flapping and time to recover."""
    if (cluster is None) != (service is None):
        raise InvalidRequest("Give cluster and service together, or neither.")
    found: Resources | None = None
    if cluster is not None and service is not None:
        found = await resources_of(deps.aws, cluster, service)
    token, skip = token_position(cursor) if cursor else (None, 0)
    shown: list[tuple[dict[str, object], str]] = []
    after: dict[str, object] | None = None  # where the next page starts: a page's token, and how many it showed
    for _ in range(_SCAN_PAGES):
        asked = token
        page, token = await alarms_in(
            deps.aws, state=None if state == "any" else state, prefix=name_prefix, token=asked
        )
        matching = [(dict(raw), kind) for raw, kind in page if found is None or concerns(raw, found)][skip:]
        room = limit - len(shown)
        if len(matching) > room:  # the page holds more than fits: the next call starts inside it
            shown += matching[:room]
            after = {"token": asked, "skip": skip + room}
            break
        shown += matching
        skip = 0
        after = {"token": token, "skip": 0} if token else None
        if not token or len(shown) >= limit:
            break
    located = await deps.aws.located()
    return AlarmList(
        **located,
        alarms=[alarm_of(raw, kind) for raw, kind in shown],
        next_cursor=encode_cursor(after) if after else None,
    )


@alarms.read(title="Get an alarm's history", open_world=True)
async def get_alarm_history(
    deps: ObservabilityDeps,
    alarm_name: Annotated[str, Field(min_length=1, max_length=255, description="Alarm name.")],
    start: Annotated[Start, Field(description="ISO 8601; default: 7 days ago.")] = None,
    end: End = None,
    limit: Annotated[int, Field(ge=1, le=100, description="Transitions per page.")] = 50,
    cursor: Cursor = None,
) -> AlarmHistory:
    """An alarm's state changes, newest first, with how often it entered ALARM, the minutes each time took
    to recover, and whether it is flapping (3+ entries into ALARM in the range)."""
    begin, stop = window(start, end, default=timedelta(days=7))
    params: dict[str, object] = {
        "AlarmName": alarm_name,
        "HistoryItemType": "StateUpdate",
        "StartDate": begin,
        "EndDate": stop,
        "MaxRecords": limit,
        "ScanBy": "TimestampDescending",
    }
    if cursor:
        params["NextToken"] = token_of(cursor)
    answer = await deps.aws.call("cloudwatch", "DescribeAlarmHistory", **params)
    transitions = [transition_of(raw) for raw in (answer.get("AlarmHistoryItems") or [])[:limit]]
    entries = sum(item.to_state == "ALARM" for item in transitions)
    token = answer.get("NextToken")
    located = await deps.aws.located()
    return AlarmHistory(
        **located,
        alarm=alarm_name,
        transitions=transitions,
        times_in_alarm=entries,
        recoveries_minutes=recoveries(transitions),
        flapping=entries >= FLAPPING,
        next_cursor=encode_cursor({"token": token}) if token else None,
    )
