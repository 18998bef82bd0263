"""The observability server's answers: compact projections of what CloudWatch, ECS and ELB return."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from shared.aws import Located

__all__ = [
    "Alarm",
    "AlarmHistory",
    "AlarmList",
    "LogEvent",
    "LogEvents",
    "LogQuery",
    "MetricSeries",
    "QueryStopped",
    "Reason",
    "Series",
    "ServiceHealth",
    "ServiceMetrics",
    "SystemHealth",
    "Transition",
]

Color = Literal["green", "yellow", "red"]


class LogEvent(BaseModel):
    at: str = Field(description="ISO 8601, UTC.")
    stream: str | None = Field(default=None, description="Log stream.")
    message: str = Field(description="The line, secrets redacted, cut at 2,000 characters.")


class LogEvents(Located):
    events: list[LogEvent] = Field(description="Oldest first.")
    next_cursor: str | None = Field(description="Pass back for more; none: no more in the range.")
    redacted: bool = Field(description="Secrets were removed from some lines.")


class LogQuery(Located):
    query_id: str = Field(description="Pass back as query_id to wait for more, or to stop_log_query.")
    status: str = Field(description="Scheduled, Running, Complete, Failed, Cancelled or Timeout.")
    rows: list[dict[str, str]] = Field(description="Result rows (field -> value), redacted; partial unless Complete.")
    rows_total: int = Field(description="Rows the query returned (rows holds at most max_rows).")
    records_matched: float | None = Field(description="Log records that matched.")
    records_scanned: float | None = Field(description="Log records scanned.")
    next: str = Field(description="What to do next.")


class QueryStopped(Located):
    query_id: str = Field(description="The query.")
    stopped: bool = Field(description="False: it had already finished.")


class Series(BaseModel):
    stat: str = Field(description="Average, Sum, Minimum, Maximum, SampleCount or pNN.")
    times: list[str] = Field(description="ISO 8601 time of each value, oldest first.")
    values: list[float] = Field(description="The values, in the order of times.")
    latest: float | None = Field(description="The last value.")
    minimum: float | None = Field(description="Lowest value in the range.")
    maximum: float | None = Field(description="Highest value in the range.")
    mean: float | None = Field(description="Mean of the values.")


class MetricSeries(Located):
    namespace: str = Field(description="e.g. AWS/ECS.")
    metric: str = Field(description="Metric name.")
    period: int = Field(description="Seconds per point.")
    series: list[Series] = Field(description="One per statistic.")
    truncated: bool = Field(description="More points than shown: widen period or narrow the range.")


class ServiceMetrics(Located):
    service: str = Field(description="cluster/service.")
    window: str = Field(description="start/end, ISO 8601.")
    cpu_percent: float | None = Field(description="ECS CPU, average over the window.")
    cpu_percent_max: float | None = Field(description="ECS CPU, highest period.")
    memory_percent: float | None = Field(description="ECS memory, average over the window.")
    memory_percent_max: float | None = Field(description="ECS memory, highest period.")
    requests: float | None = Field(description="ALB requests to the service's target group.")
    target_5xx: float | None = Field(description="5xx answered by the targets.")
    elb_5xx: float | None = Field(description="5xx answered by the load balancer itself.")
    error_rate_percent: float | None = Field(description="(target 5xx + ELB 5xx) / requests.")
    latency_p95_ms: float | None = Field(description="Target response time p95 over the window.")
    latency_p99_ms: float | None = Field(description="Target response time p99 over the window.")
    healthy_hosts_min: float | None = Field(description="Fewest healthy targets in a period.")
    unhealthy_hosts_max: float | None = Field(description="Most unhealthy targets in a period.")
    note: str | None = Field(default=None, description="Why some figures are missing.")


class Alarm(BaseModel):
    name: str = Field(description="Alarm name.")
    kind: Literal["metric", "composite"] = Field(description="Metric or composite alarm.")
    state: str = Field(description="OK, ALARM or INSUFFICIENT_DATA.")
    since: str | None = Field(description="When it entered its state, ISO 8601.")
    reason: str = Field(description="Why, as CloudWatch says (cut).")
    metric: str | None = Field(default=None, description="namespace/metric and dimensions; or the composite rule.")


class AlarmList(Located):
    alarms: list[Alarm] = Field(description="Alarms in the requested state.")
    next_cursor: str | None = Field(description="Pass back for more.")


class Transition(BaseModel):
    at: str = Field(description="ISO 8601.")
    from_state: str | None = Field(description="State before.")
    to_state: str | None = Field(description="State after.")
    summary: str = Field(description="CloudWatch's summary (cut).")


class AlarmHistory(Located):
    alarm: str = Field(description="Alarm name.")
    transitions: list[Transition] = Field(description="State changes, newest first.")
    times_in_alarm: int = Field(description="Entries into ALARM in the range.")
    recoveries_minutes: list[float] = Field(description="Minutes from each ALARM to the next OK, oldest first.")
    flapping: bool = Field(description="Three or more entries into ALARM in the range.")
    next_cursor: str | None = Field(description="Pass back for older transitions.")


class Reason(BaseModel):
    level: Color = Field(description="How much this reason weighs.")
    signal: str = Field(description="ecs, rollout, targets, alarms, errors, latency or database.")
    text: str = Field(description="What was seen.")


class ServiceHealth(Located):
    service: str = Field(description="cluster/service, or db:<instance>.")
    verdict: Color = Field(description="green: go; yellow: look before going on; red: no-go.")
    go: bool = Field(description="True only when green.")
    reasons: list[Reason] = Field(description="Worst first; green signals are listed too.")
    unknown: list[str] = Field(description="Signals that could not be read, and why.")
    next: str = Field(description="What to call next.")


class SystemHealth(Located):
    verdict: Color = Field(description="The worst verdict of every service and database.")
    go: bool = Field(description="True only when every one is green.")
    services: list[ServiceHealth] = Field(description="One per configured service and database, worst first.")
