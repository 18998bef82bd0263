"""Toolset ``metrics``: a CloudWatch metric's series, and one ECS service's figures in one call."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated

from pydantic import Field

from servers.observability.arguments import Cluster, End, Service, Start, window
from servers.observability.deps import ObservabilityDeps
from servers.observability.metrics import (
    Query,
    granularity,
    metric_data,
    period_for,
    resources_of,
    service_figures,
)
from servers.observability.models import MetricSeries, Series, ServiceMetrics
from shared.errors import InvalidRequest
from shared.timestamps import utc
from shared.toolset import Toolset

__all__ = ["metrics"]

metrics = Toolset(
    "metrics",
    "CloudWatch metrics: any metric's series with statistics and percentiles; a service's figures in one call.",
    start_with="get_service_metrics",
)

_STAT = r"^(Average|Sum|Minimum|Maximum|SampleCount|p(100|\d{1,2}(\.\d{1,2})?))$"
_SHOWN_POINTS = 500


@metrics.read(title="Get a metric's series", open_world=True)
async def get_metric_series(
    deps: ObservabilityDeps,
    namespace: Annotated[str, Field(pattern=r"^[^:\x00-\x1f][^\x00-\x1f]{0,254}$", description="e.g. AWS/ECS.")],
    metric: Annotated[str, Field(min_length=1, max_length=255, description="e.g. CPUUtilization.")],
    dimensions: Annotated[
        dict[str, str] | None, Field(max_length=30, description='e.g. {"ClusterName": "c", "ServiceName": "s"}.')
    ] = None,
    stats: Annotated[
        list[Annotated[str, Field(pattern=_STAT)]], Field(min_length=1, max_length=5, description="e.g. Average, p99.")
    ] = ["Average"],  # noqa: B006 - pydantic copies defaults
    start: Start = None,
    end: End = None,
    period: Annotated[
        int | None, Field(ge=60, le=86_400, multiple_of=60, description="Seconds; default: fits.")
    ] = None,
) -> MetricSeries:
    """A metric's values over a time range, one series per statistic (percentiles too), with min, max, mean
    and latest. For an ECS service's usual figures in one call, get_service_metrics."""
    begin, stop = window(start, end)
    needed = granularity(begin)
    if period is not None and period % needed:
        raise InvalidRequest(
            f"CloudWatch returns no data for a range starting more than {15 if needed == 300 else 63} days ago "
            f"unless the period is a multiple of {needed} s: pass period={math.ceil(period / needed) * needed} "
            "or leave it out."
        )
    step = period or period_for(begin, stop, _SHOWN_POINTS)
    for name, value in (dimensions or {}).items():
        if not name or len(name) > 255 or not value or len(value) > 1024:
            raise InvalidRequest("Each dimension needs a name (at most 255 characters) and a value (at most 1024).")
    queries = [Query(f"s{n}", namespace, metric, dimensions or {}, stat, step) for n, stat in enumerate(stats)]
    data = await metric_data(deps.aws, queries, begin, stop)
    series: list[Series] = []
    truncated = False
    for query in queries:
        times, values = data.get(query.id, ([], []))
        truncated = truncated or len(values) > _SHOWN_POINTS
        series.append(
            Series(  # the figures cover the whole range; only the points shown are the newest
                stat=query.stat,
                times=[_iso(moment) for moment in times[-_SHOWN_POINTS:]],
                values=[round(value, 6) for value in values[-_SHOWN_POINTS:]],
                latest=values[-1] if values else None,
                minimum=min(values) if values else None,
                maximum=max(values) if values else None,
                mean=round(sum(values) / len(values), 6) if values else None,
            )
        )
    located = await deps.aws.located()
    return MetricSeries(
        **located,
        namespace=namespace,
        metric=metric,
        period=step,
        series=series,
        truncated=truncated,
    )


@metrics.read(title="Get an ECS service's figures", open_world=True)
async def get_service_metrics(
    deps: ObservabilityDeps, cluster: Cluster, service: Service, start: Start = None, end: End = None
) -> ServiceMetrics:
    """One ECS service over a window (default: the last hour): CPU and memory, and from its load balancer
    requests, target and ELB 5xx, 5xx rate, latency p95/p99 and healthy/unhealthy hosts. For a verdict,
    get_service_health; for one metric over time, get_metric_series."""
    begin, stop = window(start, end)
    found = await resources_of(deps.aws, cluster, service)
    figures = await service_figures(deps.aws, found, begin, stop)
    note = None
    if not found.target_group_dimensions:
        note = "No load balancer target group: only ECS figures."
    elif not found.load_balancer_dimensions:
        note = "Its target group is not attached to a load balancer (no listener forwards to it): only ECS figures."
    located = await deps.aws.located()
    return ServiceMetrics(
        **located,
        service=f"{found.cluster}/{found.service}",
        window=f"{_iso(begin)}/{_iso(stop)}",
        cpu_percent=_round(figures.get("cpu")),
        cpu_percent_max=_round(figures.get("cpu_max")),
        memory_percent=_round(figures.get("memory")),
        memory_percent_max=_round(figures.get("memory_max")),
        requests=figures.get("requests"),
        target_5xx=figures.get("target_5xx"),
        elb_5xx=figures.get("elb_5xx"),
        error_rate_percent=figures.get("error_rate"),
        latency_p95_ms=figures.get("p95"),
        latency_p99_ms=figures.get("p99"),
        healthy_hosts_min=figures.get("healthy_min"),
        unhealthy_hosts_max=figures.get("unhealthy_max"),
        note=note,
    )


def _iso(moment: datetime) -> str:
    """UTC, whatever zone botocore parsed the time into (it reads epoch seconds as local time)."""
    return utc(moment).isoformat().replace("+00:00", "Z")


def _round(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None
