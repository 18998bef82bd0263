"""Service health: the signals of an ECS service (tasks, rollout, target health, alarms, 5xx rate, latency, and
the databases it depends on) and the rules that turn them into green, yellow or red with the reasons.

The rules (:func:`judge`) are a pure function of :class:`Signals` and the thresholds, so they are tested
table-driven; :func:`signals_of` reads the signals from AWS, each on its own, so one that cannot be read is
listed as unknown instead of failing the verdict.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from servers.observability.alarms import alarms_in, concerns
from servers.observability.metrics import Query, Resources, metric_data, resources_of, service_figures
from servers.observability.models import Reason
from servers.observability.settings import ObservabilitySettings
from shared.aws import AwsClients
from shared.errors import CallError

__all__ = ["Database", "Signals", "Verdict", "db_signals", "judge", "signals_of", "silent"]

Color = Literal["green", "yellow", "red"]
_RANK = {"green": 0, "yellow": 1, "red": 2}
_GB = 1024**3
_SHOWN_NAMES = 5


@dataclass
class Database:
    """An RDS instance's figures over the window (None: no data)."""

    instance: str
    cpu_max: float | None = None
    free_storage_min_bytes: float | None = None
    connections_max: float | None = None


def silent(databases: Sequence[Database]) -> list[str]:
    """What is unknown about databases that sent no metric in the window (a wrong identifier, or an instance
    that is stopped or gone): not a reason to go."""
    return [
        f"database {db.instance}: no AWS/RDS metric in the window (check the instance identifier)"
        for db in databases
        if db.cpu_max is None and db.free_storage_min_bytes is None and db.connections_max is None
    ]


@dataclass
class Signals:
    """What health is judged on. ``None`` means not read (listed in ``unknown``)."""

    status: str | None = None  # ECS service status: ACTIVE, DRAINING, INACTIVE
    desired: int | None = None
    running: int | None = None
    pending: int | None = None
    rollout_state: str | None = None  # of the PRIMARY deployment: COMPLETED, IN_PROGRESS, FAILED
    rollout_reason: str | None = None
    deployments: int | None = None
    targets: dict[str, int] | None = None  # target state -> count (healthy, unhealthy, initial, draining, ...)
    target_reasons: list[str] = field(default_factory=list[str])  # reason codes of targets not healthy
    alarms: list[str] | None = None  # names of alarms in ALARM about the service
    requests: float | None = None
    error_rate: float | None = None  # percent
    latency_p99_ms: float | None = None
    databases: list[Database] = field(default_factory=list[Database])
    unknown: list[str] = field(default_factory=list[str])


@dataclass
class Verdict:
    color: Color
    reasons: list[Reason]


def judge(signals: Signals, settings: ObservabilitySettings) -> Verdict:
    """Green, yellow or red, with every reason (worst first)."""
    reasons: list[Reason] = []

    def add(level: Color, signal: str, text: str) -> None:
        reasons.append(Reason(level=level, signal=signal, text=text))

    if signals.status is not None and signals.status != "ACTIVE":
        add("red", "ecs", f"the service is {signals.status}")
    if signals.desired is not None and signals.running is not None:
        tasks = f"{signals.running} of {signals.desired} tasks running" + (
            f", {signals.pending} pending" if signals.pending else ""
        )
        if signals.desired > 0 and signals.running == 0:
            add("red", "ecs", tasks)
        elif signals.running < signals.desired:
            add("yellow", "ecs", tasks)
        else:
            add("green", "ecs", tasks)
    if signals.rollout_state == "FAILED":
        add("red", "rollout", "the last deployment failed" + _because(signals.rollout_reason))
    elif signals.rollout_state == "IN_PROGRESS" or (signals.deployments or 0) > 1:
        add("yellow", "rollout", "a deployment is in progress" + _because(signals.rollout_reason))
    elif signals.rollout_state is not None:
        add("green", "rollout", f"the last deployment is {signals.rollout_state.lower()}")
    if signals.targets is not None:
        _judge_targets(signals, add)
    if signals.alarms is not None:
        if signals.alarms:
            names = ", ".join(signals.alarms[:_SHOWN_NAMES]) + (" ..." if len(signals.alarms) > _SHOWN_NAMES else "")
            add("red", "alarms", f"{len(signals.alarms)} alarm(s) in ALARM: {names}")
        else:
            add("green", "alarms", "no alarm in ALARM")
    if signals.error_rate is not None and (signals.requests or 0) >= settings.min_requests:
        rate = f"5xx rate {signals.error_rate:g}% of {signals.requests:g} requests"
        if signals.error_rate >= settings.error_rate_red:
            add("red", "errors", f"{rate} (red at {settings.error_rate_red:g}%)")
        elif signals.error_rate >= settings.error_rate_yellow:
            add("yellow", "errors", f"{rate} (yellow at {settings.error_rate_yellow:g}%)")
        else:
            add("green", "errors", rate)
    if signals.latency_p99_ms is not None:
        latency = f"p99 latency {signals.latency_p99_ms:g} ms"
        if signals.latency_p99_ms >= settings.latency_p99_red_ms:
            add("red", "latency", f"{latency} (red at {settings.latency_p99_red_ms:g} ms)")
        elif signals.latency_p99_ms >= settings.latency_p99_yellow_ms:
            add("yellow", "latency", f"{latency} (yellow at {settings.latency_p99_yellow_ms:g} ms)")
        else:
            add("green", "latency", latency)
    for database in signals.databases:
        _judge_database(database, settings, add)
    reasons.sort(key=lambda reason: -_RANK[reason.level])
    color: Color = reasons[0].level if reasons else "green"
    return Verdict(color=color, reasons=reasons)


def _judge_targets(signals: Signals, add: Any) -> None:
    targets = signals.targets or {}
    total = sum(targets.values())
    healthy = targets.get("healthy", 0)
    others = {state: count for state, count in targets.items() if state != "healthy"}
    why = f" ({', '.join(sorted(set(signals.target_reasons))[:_SHOWN_NAMES])})" if signals.target_reasons else ""
    shown = ", ".join(f"{count} {state}" for state, count in sorted(others.items()))
    if total == 0:
        add("red", "targets", "no target registered with the load balancer")
    elif healthy == 0:
        add("red", "targets", f"no healthy target: {shown}{why}")
    elif others.get("unhealthy", 0) or others.get("unavailable", 0):
        add("yellow", "targets", f"{healthy} of {total} targets healthy; {shown}{why}")
    elif others:
        add("yellow", "targets", f"{healthy} of {total} targets healthy; {shown}")
    else:
        add("green", "targets", f"{healthy} of {total} targets healthy")


def _judge_database(database: Database, settings: ObservabilitySettings, add: Any) -> None:
    name = f"database {database.instance}"
    if database.cpu_max is not None:
        cpu = f"{name}: CPU up to {database.cpu_max:.0f}%"
        if database.cpu_max >= settings.db_cpu_red:
            add("red", "database", cpu)
        elif database.cpu_max >= settings.db_cpu_yellow:
            add("yellow", "database", cpu)
        else:
            add("green", "database", cpu)
    if database.free_storage_min_bytes is not None:
        free = database.free_storage_min_bytes / _GB
        storage = f"{name}: {free:.1f} GB free storage"
        if free < settings.db_free_storage_red_gb:
            add("red", "database", storage)
        elif free < settings.db_free_storage_yellow_gb:
            add("yellow", "database", storage)
        else:
            add("green", "database", storage)
    if database.connections_max is not None and settings.db_connections_yellow is not None:
        connections = f"{name}: up to {database.connections_max:.0f} connections"
        level: Color = "yellow" if database.connections_max >= settings.db_connections_yellow else "green"
        add(level, "database", connections)


def _because(reason: str | None) -> str:
    return f": {reason[:200]}" if reason else ""


async def signals_of(
    aws: AwsClients, settings: ObservabilitySettings, cluster: str, service: str, start: datetime, end: datetime
) -> Signals:
    """Read every signal of the service; a signal that cannot be read goes to ``unknown`` with why (the
    service itself must be found: a missing service is an error)."""
    found = await resources_of(aws, cluster, service)
    signals = Signals()
    _ecs(found.described, signals)
    if found.unread is not None:
        signals.unknown.append(f"targets: {found.unread}")

    async def guarded(what: str, read: Any) -> None:
        try:
            await read
        except CallError as error:
            signals.unknown.append(f"{what}: {str(error)[:200]}")

    await asyncio.gather(
        guarded("targets", _targets(aws, found, signals)),
        guarded("alarms", _alarms(aws, found, signals)),
        guarded("metrics", _metrics(aws, found, signals, start, end)),
        guarded("databases", _databases(aws, settings.db_instances, signals, start, end)),
    )
    return signals


def _ecs(described: Mapping[str, Any], signals: Signals) -> None:
    signals.status = described.get("status")
    signals.desired = described.get("desiredCount")
    signals.running = described.get("runningCount")
    signals.pending = described.get("pendingCount")
    deployments = described.get("deployments") or []
    signals.deployments = len(deployments)
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if primary is not None:
        signals.rollout_state = primary.get("rolloutState")
        signals.rollout_reason = primary.get("rolloutStateReason")


async def _targets(aws: AwsClients, found: Resources, signals: Signals) -> None:
    if not found.target_groups or found.unread is not None:
        return
    states: Counter[str] = Counter()
    for arn in found.target_groups:
        answer = await aws.call("elbv2", "DescribeTargetHealth", TargetGroupArn=arn)
        for description in answer.get("TargetHealthDescriptions") or []:
            health = description.get("TargetHealth") or {}
            state = str(health.get("State", "unknown"))
            states[state] += 1
            if state != "healthy" and health.get("Reason"):
                signals.target_reasons.append(str(health["Reason"]))
    signals.targets = dict(states)


async def _alarms(aws: AwsClients, found: Resources, signals: Signals) -> None:
    names: list[str] = []
    token: str | None = None
    for _ in range(10):
        page, token = await alarms_in(aws, state="ALARM", prefix=None, token=token)
        names += [str(raw.get("AlarmName")) for raw, _ in page if concerns(raw, found)]
        if not token:
            break
    signals.alarms = names


async def _metrics(aws: AwsClients, found: Resources, signals: Signals, start: datetime, end: datetime) -> None:
    figures = await service_figures(aws, found, start, end)
    signals.requests = figures.get("requests")
    signals.error_rate = figures.get("error_rate")
    signals.latency_p99_ms = figures.get("p99")


async def _databases(
    aws: AwsClients, instances: Sequence[str], signals: Signals, start: datetime, end: datetime
) -> None:
    signals.databases = await db_signals(aws, instances, start, end)
    signals.unknown += silent(signals.databases)


async def db_signals(aws: AwsClients, instances: Sequence[str], start: datetime, end: datetime) -> list[Database]:
    """Each RDS instance's highest CPU, least free storage and most connections over the window."""
    if not instances:
        return []
    period = max(60, int((end - start).total_seconds() // 60 + 1) * 60)
    queries: list[Query] = []
    for number, instance in enumerate(instances):
        dimensions = {"DBInstanceIdentifier": instance}
        queries += [
            Query(f"cpu{number}", "AWS/RDS", "CPUUtilization", dimensions, "Maximum", period),
            Query(f"free{number}", "AWS/RDS", "FreeStorageSpace", dimensions, "Minimum", period),
            Query(f"conn{number}", "AWS/RDS", "DatabaseConnections", dimensions, "Maximum", period),
        ]
    data = await metric_data(aws, queries, start, end)

    def value(key: str, pick: Any) -> float | None:
        values = data.get(key, ([], []))[1]
        return pick(values) if values else None

    return [
        Database(
            instance=instance,
            cpu_max=value(f"cpu{number}", max),
            free_storage_min_bytes=value(f"free{number}", min),
            connections_max=value(f"conn{number}", max),
        )
        for number, instance in enumerate(instances)
    ]
