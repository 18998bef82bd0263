"""CloudWatch metrics: series with statistics through ``GetMetricData``, and one service's figures over a
window (ECS CPU and memory; its ALB target group's requests, 5xx, latency percentiles and hosts) in one call."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.aws import AwsClients
from shared.errors import CallError, NotFound

__all__ = ["Query", "Resources", "granularity", "metric_data", "period_for", "resources_of", "service_figures"]

_MAX_POINTS = 1_440
_PAGES = 10


@dataclass(frozen=True)
class Query:
    """One statistic of one metric."""

    id: str
    namespace: str
    metric: str
    dimensions: Mapping[str, str]
    stat: str
    period: int

    def request(self) -> dict[str, Any]:
        dimensions = [{"Name": name, "Value": value} for name, value in sorted(self.dimensions.items())]
        metric = {"Namespace": self.namespace, "MetricName": self.metric, "Dimensions": dimensions}
        return {"Id": self.id, "MetricStat": {"Metric": metric, "Period": self.period, "Stat": self.stat}}


def granularity(start: datetime, now: datetime | None = None) -> int:
    """The period a range starting at ``start`` must be a multiple of: CloudWatch returns no data points when
    the start lies more than 15 days back and the period is not a multiple of 300 s, or more than 63 days back
    and it is not a multiple of 3600 s (what it keeps of older data)."""
    age = (now or datetime.now(UTC)) - start
    if age > timedelta(days=63):
        return 3600
    if age > timedelta(days=15):
        return 300
    return 60


def period_for(start: datetime, end: datetime, points: int = _MAX_POINTS, now: datetime | None = None) -> int:
    """The smallest period that fits the range in ``points`` points and that CloudWatch answers for a range
    starting at ``start`` (a multiple of 60 s, of 300 s past 15 days back, of 3600 s past 63 days)."""
    seconds = (end - start).total_seconds()
    step = granularity(start, now)
    return max(step, math.ceil(seconds / points / step) * step)


async def metric_data(
    aws: AwsClients, queries: Sequence[Query], start: datetime, end: datetime
) -> dict[str, tuple[list[datetime], list[float]]]:
    """Each query's (times, values), oldest first (every page, at most ten)."""
    found: dict[str, tuple[list[datetime], list[float]]] = {query.id: ([], []) for query in queries}
    token: str | None = None
    for _ in range(_PAGES):
        params: dict[str, Any] = {
            "MetricDataQueries": [query.request() for query in queries],
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        if token:
            params["NextToken"] = token
        answer = await aws.call("cloudwatch", "GetMetricData", **params)
        for result in answer.get("MetricDataResults") or []:
            times, values = found.setdefault(str(result.get("Id")), ([], []))
            times += list(result.get("Timestamps") or [])
            values += [float(value) for value in result.get("Values") or []]
        token = answer.get("NextToken")
        if not token:
            break
    for times, values in found.values():  # ascending, whatever order the pages came in
        pairs = sorted(zip(times, values, strict=True), key=lambda pair: pair[0])
        times[:], values[:] = [t for t, _ in pairs], [v for _, v in pairs]
    return found


@dataclass
class Resources:
    """An ECS service as described, and the ALB resources in front of it (dimension values of their metrics)."""

    cluster: str
    service: str
    described: Mapping[str, Any]
    target_groups: list[str] = field(default_factory=list[str])  # ARNs
    target_group_dimensions: list[str] = field(default_factory=list[str])  # targetgroup/name/id
    load_balancer_dimensions: list[str] = field(default_factory=list[str])  # app/name/id
    unread: str | None = None  # why the target groups could not be read (their metrics and health are unknown)


async def resources_of(aws: AwsClients, cluster: str, service: str) -> Resources:
    """``DescribeServices`` of the service, then its target groups and their load balancers."""
    answer = await aws.call("ecs", "DescribeServices", cluster=cluster, services=[service])
    services = answer.get("services") or []
    if not services:
        failures = "; ".join(str(f.get("reason")) for f in answer.get("failures") or [])
        raise NotFound(f"No service {service!r} in cluster {cluster!r}" + (f" ({failures})." if failures else "."))
    described = services[0]
    found = Resources(
        cluster=_short_name(cluster), service=str(described.get("serviceName", service)), described=described
    )
    arns = [str(lb["targetGroupArn"]) for lb in described.get("loadBalancers") or [] if lb.get("targetGroupArn")]
    found.target_groups = list(dict.fromkeys(arns))
    if found.target_groups:
        try:
            groups = await aws.call("elbv2", "DescribeTargetGroups", TargetGroupArns=found.target_groups)
        except CallError as error:  # the service is still described; what needs the groups says it is unknown
            found.unread = str(error)[:200]
            return found
        for group in groups.get("TargetGroups") or []:
            found.target_group_dimensions.append(str(group["TargetGroupArn"]).split(":")[-1])
            for arn in group.get("LoadBalancerArns") or []:
                found.load_balancer_dimensions.append(str(arn).split(":loadbalancer/")[-1])
    return found


async def service_figures(aws: AwsClients, found: Resources, start: datetime, end: datetime) -> dict[str, float | None]:
    """One value per figure over the whole window (a period as long as the window): CPU and memory (average
    and highest), and for the first target group: requests, target and ELB 5xx, latency p95/p99 (ms), fewest
    healthy and most unhealthy hosts. A figure with no data is None."""
    period = period_for(start, end, points=1)
    ecs = {"ClusterName": found.cluster, "ServiceName": found.service}
    queries = [
        Query("cpu", "AWS/ECS", "CPUUtilization", ecs, "Average", period),
        Query("cpu_max", "AWS/ECS", "CPUUtilization", ecs, "Maximum", period),
        Query("memory", "AWS/ECS", "MemoryUtilization", ecs, "Average", period),
        Query("memory_max", "AWS/ECS", "MemoryUtilization", ecs, "Maximum", period),
    ]
    if found.target_group_dimensions and found.load_balancer_dimensions:
        alb = {"TargetGroup": found.target_group_dimensions[0], "LoadBalancer": found.load_balancer_dimensions[0]}
        elb = {"LoadBalancer": found.load_balancer_dimensions[0]}
        queries += [
            Query("requests", "AWS/ApplicationELB", "RequestCount", alb, "Sum", period),
            Query("target_5xx", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", alb, "Sum", period),
            Query("elb_5xx", "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", elb, "Sum", period),
            Query("p95", "AWS/ApplicationELB", "TargetResponseTime", alb, "p95", period),
            Query("p99", "AWS/ApplicationELB", "TargetResponseTime", alb, "p99", period),
            Query("healthy_min", "AWS/ApplicationELB", "HealthyHostCount", alb, "Minimum", period),
            Query("unhealthy_max", "AWS/ApplicationELB", "UnHealthyHostCount", alb, "Maximum", period),
        ]
    data = await metric_data(aws, queries, start, end)
    figures: dict[str, float | None] = {}
    for query in queries:
        values = data.get(query.id, ([], []))[1]
        if not values:
            figures[query.id] = None
        elif query.stat == "Sum":
            figures[query.id] = sum(values)
        elif query.stat in ("Maximum",):
            figures[query.id] = max(values)
        elif query.stat in ("Minimum",):
            figures[query.id] = min(values)
        else:
            figures[query.id] = sum(values) / len(values)
    for key in ("p95", "p99"):
        if figures.get(key) is not None:
            figures[key] = round(figures[key] * 1000, 1)  # type: ignore[operator] - seconds to ms
    requests = figures.get("requests")
    errors = [figures.get("target_5xx"), figures.get("elb_5xx")]
    if requests:
        figures["error_rate"] = round(sum(e or 0 for e in errors) / requests * 100, 3)
    else:
        figures["error_rate"] = None
    return figures


def _short_name(cluster: str) -> str:
    """A cluster's name from its name or ARN (metrics use the name)."""
    return cluster.rsplit("/", 1)[-1] if cluster.startswith("arn:") else cluster
