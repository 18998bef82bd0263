"""CloudWatch alarms: compact projections of metric and composite alarms, which alarms concern an ECS service,
and what an alarm's history says (entries into ALARM, time to recover, flapping)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from servers.observability.metrics import Resources
from servers.observability.models import Alarm, Transition
from shared.aws import AwsClients
from shared.redaction import redact_text
from shared.timestamps import iso
from shared.untrusted import clean

__all__ = ["FLAPPING", "alarm_of", "alarms_in", "concerns", "recoveries", "transition_of"]

FLAPPING = 3  # entries into ALARM in the range that make an alarm flapping
_TEXT = 300


def _text(value: object) -> str:
    cleaned = clean(str(value or ""))[0] or ""
    text = redact_text(cleaned)
    return text if len(text) <= _TEXT else text[:_TEXT] + "…"


def alarm_of(raw: Mapping[str, Any], kind: str) -> Alarm:
    if kind == "composite":
        metric = _text(raw.get("AlarmRule"))
    else:
        dimensions = ",".join(f"{d.get('Name')}={d.get('Value')}" for d in raw.get("Dimensions") or [])
        metric = f"{raw.get('Namespace')}/{raw.get('MetricName')}" + (f" [{dimensions}]" if dimensions else "")
        if not raw.get("MetricName"):
            metric = "metric math" if raw.get("Metrics") else None
    return Alarm(
        name=str(raw.get("AlarmName")),
        kind="composite" if kind == "composite" else "metric",
        state=str(raw.get("StateValue")),
        since=iso(raw.get("StateUpdatedTimestamp")),
        reason=_text(raw.get("StateReason")),
        metric=metric,
    )


def concerns(raw: Mapping[str, Any], found: Resources) -> bool:
    """Whether an alarm concerns the service: a dimension names the service (with its cluster, when the alarm
    names one), its target group or its load balancer; or the alarm's name or (for a metric math or composite
    alarm) its rule names the service."""
    dimensions = {str(d.get("Name")): str(d.get("Value")) for d in raw.get("Dimensions") or []}
    for metric in raw.get("Metrics") or []:
        stat = (metric.get("MetricStat") or {}).get("Metric") or {}
        dimensions |= {str(d.get("Name")): str(d.get("Value")) for d in stat.get("Dimensions") or []}
    if dimensions.get("ServiceName") == found.service and dimensions.get("ClusterName", found.cluster) == found.cluster:
        return True
    if dimensions.get("TargetGroup") in found.target_group_dimensions:
        return True
    if "TargetGroup" not in dimensions and dimensions.get("LoadBalancer") in found.load_balancer_dimensions:
        return True
    text = f"{raw.get('AlarmName', '')} {raw.get('AlarmRule', '')}"
    return found.service in text


async def alarms_in(
    aws: AwsClients, *, state: str | None, prefix: str | None, token: str | None
) -> tuple[list[tuple[Mapping[str, Any], str]], str | None]:
    """One page of alarms (metric and composite) with their kind, and the next page's token."""
    params: dict[str, Any] = {"AlarmTypes": ["MetricAlarm", "CompositeAlarm"], "MaxRecords": 100}
    if state:
        params["StateValue"] = state
    if prefix:
        params["AlarmNamePrefix"] = prefix
    if token:
        params["NextToken"] = token
    answer = await aws.call("cloudwatch", "DescribeAlarms", **params)
    found: list[tuple[Mapping[str, Any], str]] = [(raw, "metric") for raw in answer.get("MetricAlarms") or []]
    found += [(raw, "composite") for raw in answer.get("CompositeAlarms") or []]
    return found, answer.get("NextToken")


def transition_of(raw: Mapping[str, Any]) -> Transition:
    old_state = new_state = None
    try:
        data = json.loads(str(raw.get("HistoryData") or "{}"))
    except ValueError:
        data = {}
    if isinstance(data, dict):
        old_state, new_state = _state(data, "oldState"), _state(data, "newState")
    return Transition(
        at=iso(raw.get("Timestamp")) or "",
        from_state=old_state,
        to_state=new_state,
        summary=_text(raw.get("HistorySummary")),
    )


def _state(data: Mapping[str, Any], key: str) -> str | None:
    """The ``stateValue`` of ``data[key]`` when it is a string (HistoryData is free-form JSON: anything else is
    not a state)."""
    state = data.get(key)
    value = state.get("stateValue") if isinstance(state, dict) else None
    return value if isinstance(value, str) else None


def recoveries(transitions: Sequence[Transition]) -> list[float]:
    """Minutes from each entry into ALARM to the next OK, oldest first (``transitions`` newest first)."""
    minutes: list[float] = []
    entered: datetime | None = None
    for item in reversed(transitions):
        moment = datetime.fromisoformat(item.at.replace("Z", "+00:00")) if item.at else None
        if moment is None:
            continue
        if item.to_state == "ALARM":
            entered = entered or moment
        elif item.to_state == "OK" and entered is not None:
            minutes.append(round((moment - entered).total_seconds() / 60, 1))
            entered = None
    return minutes
