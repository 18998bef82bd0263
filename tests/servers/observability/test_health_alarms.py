"""The health and alarms toolsets: the verdict rules table-driven, service and system health end to end on moto's
AWS (with botocore's Stubber for what moto does not model: running tasks, finished rollouts, target health reason
codes, 5xx and latency figures, composite alarms, paging, alarm history), alarm lists and history, and the
settings naming the services and databases of the system view."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY, Stubber
from mcp import Client
from mcp.types import CallToolResult, TextContent
from pydantic import ValidationError

from servers.observability.deps import ObservabilityDeps
from servers.observability.health import Database, Signals, judge
from servers.observability.server import SERVER
from servers.observability.settings import ObservabilitySettings
from shared.pagination import encode_cursor
from shared.settings import load_settings
from tests.servers.observability import world

GB = 1024**3
ACCOUNT = "123456789012"
TG_ARN = f"arn:aws:elasticloadbalancing:{world.REGION}:{ACCOUNT}:targetgroup/shop-tg/0123456789abcdef"
LB_ARN = f"arn:aws:elasticloadbalancing:{world.REGION}:{ACCOUNT}:loadbalancer/app/shop-alb/fedcba9876543210"
DESCRIBE_ALARMS = {"AlarmTypes": ["MetricAlarm", "CompositeAlarm"], "MaxRecords": 100}
NOON = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def _text(result: CallToolResult) -> str:
    return " ".join(block.text for block in result.content if isinstance(block, TextContent))


async def _ok(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, _text(result)
    assert result.structured_content is not None
    return result.structured_content


async def _refused(client: Client, tool: str, arguments: dict[str, Any]) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    return _text(result)


def _settings(tmp_path: Path, **overrides: Any) -> ObservabilitySettings:
    return ObservabilitySettings(data_dir=tmp_path, toolsets=["all"], allow_writes=True, **overrides)


def _client(deps: ObservabilityDeps) -> Client:
    return Client(SERVER.build(deps.settings, deps=deps))


def _reasons(answer: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(reason["level"], reason["signal"], reason["text"]) for reason in answer["reasons"]]


class OperationStubber(Stubber):
    """A Stubber that answers one operation of its client and lets the others pass. The health check reads
    alarms and metrics from CloudWatch at the same time, so one Stubber's single ordered queue would race;
    one per operation keeps each operation's answers in order."""

    def __init__(self, client: Any, operation: str) -> None:
        super().__init__(client)
        self.events = f"{client.meta.service_model.service_id.hyphenize()}.{operation}"

    def _hooks(self) -> list[tuple[str, Any, str]]:
        # Stubber's own handler ids are the same for every Stubber: each operation needs its own.
        return [
            (f"before-parameter-build.{self.events}", self._assert_expected_params, f"afu9-params-{self.events}"),
            (f"before-call.{self.events}", self._get_response_handler, f"afu9-answer-{self.events}"),
        ]

    def activate(self) -> None:
        for event, handler, unique_id in self._hooks():
            self.client.meta.events.register_first(event, handler, unique_id=unique_id)

    def deactivate(self) -> None:
        for event, handler, unique_id in self._hooks():
            self.client.meta.events.unregister(event, handler, unique_id=unique_id)


@pytest.fixture(autouse=True)
def _no_aws_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tools reach moto through the world's clients; no AWS setting of the developer's shell leaks in."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="module")
def red() -> world.World:
    """moto's view of a fresh service: 0 of 1 tasks running, its rollout in progress, no target registered, one
    alarm in ALARM."""
    return world.seed("hz-red")


# -- the rules ------------------------------------------------------------------------------------------------------

GREEN = Signals(
    status="ACTIVE",
    desired=2,
    running=2,
    pending=0,
    rollout_state="COMPLETED",
    deployments=1,
    targets={"healthy": 2},
    alarms=[],
    requests=1000,
    error_rate=0.1,
    latency_p99_ms=200,
    databases=[Database("orders", cpu_max=20, free_storage_min_bytes=50 * GB, connections_max=500)],
)


def _with(**changes: Any) -> Signals:
    return replace(GREEN, **changes)


def _db(**changes: Any) -> Signals:
    return _with(databases=[replace(GREEN.databases[0], **changes)])


def test_green_signals_give_green_with_every_signal_listed() -> None:
    verdict = judge(GREEN, ObservabilitySettings())
    assert verdict.color == "green"
    assert [(reason.level, reason.signal, reason.text) for reason in verdict.reasons] == [
        ("green", "ecs", "2 of 2 tasks running"),
        ("green", "rollout", "the last deployment is completed"),
        ("green", "targets", "2 of 2 targets healthy"),
        ("green", "alarms", "no alarm in ALARM"),
        ("green", "errors", "5xx rate 0.1% of 1000 requests"),
        ("green", "latency", "p99 latency 200 ms"),
        ("green", "database", "database orders: CPU up to 20%"),
        ("green", "database", "database orders: 50.0 GB free storage"),
    ]


def test_signals_that_were_not_read_give_no_reason() -> None:
    verdict = judge(Signals(), ObservabilitySettings())
    assert (verdict.color, verdict.reasons) == ("green", [])


@pytest.mark.parametrize(
    ("signals", "thresholds", "color", "reason"),
    [
        pytest.param(_with(running=1, pending=1), {}, "yellow", ("ecs", "1 of 2 tasks running, 1 pending"), id="fewer"),
        pytest.param(_with(running=0), {}, "red", ("ecs", "0 of 2 tasks running"), id="none-running"),
        pytest.param(_with(desired=0, running=0), {}, "green", ("ecs", "0 of 0 tasks running"), id="scaled-to-zero"),
        pytest.param(_with(status="DRAINING"), {}, "red", ("ecs", "the service is DRAINING"), id="not-active"),
        pytest.param(
            _with(rollout_state="FAILED", rollout_reason="ECS deployment circuit breaker: tasks failed to start."),
            {},
            "red",
            ("rollout", "the last deployment failed: ECS deployment circuit breaker: tasks failed to start."),
            id="rollout-failed",
        ),
        pytest.param(
            _with(rollout_state="IN_PROGRESS", rollout_reason="ECS deployment ecs-svc/1 in progress."),
            {},
            "yellow",
            ("rollout", "a deployment is in progress: ECS deployment ecs-svc/1 in progress."),
            id="rollout-in-progress",
        ),
        pytest.param(
            _with(deployments=2), {}, "yellow", ("rollout", "a deployment is in progress"), id="two-deployments"
        ),
        pytest.param(
            _with(targets={}), {}, "red", ("targets", "no target registered with the load balancer"), id="no-targets"
        ),
        pytest.param(
            _with(
                targets={"unhealthy": 2},
                target_reasons=["Target.ResponseCodeMismatch", "Target.Timeout", "Target.ResponseCodeMismatch"],
            ),
            {},
            "red",
            ("targets", "no healthy target: 2 unhealthy (Target.ResponseCodeMismatch, Target.Timeout)"),
            id="none-healthy",
        ),
        pytest.param(
            _with(targets={"healthy": 2, "unhealthy": 1}, target_reasons=["Target.FailedHealthChecks"]),
            {},
            "yellow",
            ("targets", "2 of 3 targets healthy; 1 unhealthy (Target.FailedHealthChecks)"),
            id="some-unhealthy",
        ),
        pytest.param(
            _with(targets={"healthy": 2, "initial": 1}),
            {},
            "yellow",
            ("targets", "2 of 3 targets healthy; 1 initial"),
            id="initial",
        ),
        pytest.param(
            _with(targets={"healthy": 1, "draining": 1}),
            {},
            "yellow",
            ("targets", "1 of 2 targets healthy; 1 draining"),
            id="draining",
        ),
        pytest.param(
            _with(alarms=["shop-5xx", "shop-cpu"]),
            {},
            "red",
            ("alarms", "2 alarm(s) in ALARM: shop-5xx, shop-cpu"),
            id="alarms",
        ),
        pytest.param(
            _with(alarms=[f"a{n}" for n in range(1, 8)]),
            {},
            "red",
            ("alarms", "7 alarm(s) in ALARM: a1, a2, a3, a4, a5 ..."),
            id="many-alarms",
        ),
        pytest.param(
            _with(error_rate=0.99), {}, "green", ("errors", "5xx rate 0.99% of 1000 requests"), id="5xx-below"
        ),
        pytest.param(
            _with(error_rate=1.0),
            {},
            "yellow",
            ("errors", "5xx rate 1% of 1000 requests (yellow at 1%)"),
            id="5xx-at-yellow",
        ),
        pytest.param(
            _with(error_rate=5.0), {}, "red", ("errors", "5xx rate 5% of 1000 requests (red at 5%)"), id="5xx-at-red"
        ),
        pytest.param(
            _with(error_rate=50.0, requests=20),
            {},
            "red",
            ("errors", "5xx rate 50% of 20 requests (red at 5%)"),
            id="5xx-at-min-requests",
        ),
        pytest.param(_with(latency_p99_ms=999.9), {}, "green", ("latency", "p99 latency 999.9 ms"), id="p99-below"),
        pytest.param(
            _with(latency_p99_ms=1000),
            {},
            "yellow",
            ("latency", "p99 latency 1000 ms (yellow at 1000 ms)"),
            id="p99-at-yellow",
        ),
        pytest.param(
            _with(latency_p99_ms=3000), {}, "red", ("latency", "p99 latency 3000 ms (red at 3000 ms)"), id="p99-at-red"
        ),
        pytest.param(_db(cpu_max=80), {}, "yellow", ("database", "database orders: CPU up to 80%"), id="db-cpu-yellow"),
        pytest.param(_db(cpu_max=95), {}, "red", ("database", "database orders: CPU up to 95%"), id="db-cpu-red"),
        pytest.param(
            _db(free_storage_min_bytes=10 * GB),
            {},
            "green",
            ("database", "database orders: 10.0 GB free storage"),
            id="db-storage-at-yellow-line",
        ),
        pytest.param(
            _db(free_storage_min_bytes=9.9 * GB),
            {},
            "yellow",
            ("database", "database orders: 9.9 GB free storage"),
            id="db-storage-yellow",
        ),
        pytest.param(
            _db(free_storage_min_bytes=1.9 * GB),
            {},
            "red",
            ("database", "database orders: 1.9 GB free storage"),
            id="db-storage-red",
        ),
        pytest.param(
            _db(connections_max=400),
            {"db_connections_yellow": 400},
            "yellow",
            ("database", "database orders: up to 400 connections"),
            id="db-connections-yellow",
        ),
        pytest.param(
            _db(connections_max=399),
            {"db_connections_yellow": 400},
            "green",
            ("database", "database orders: up to 399 connections"),
            id="db-connections-below",
        ),
        pytest.param(
            _with(error_rate=3.0),
            {"error_rate_red": 2.5},
            "red",
            ("errors", "5xx rate 3% of 1000 requests (red at 2.5%)"),
            id="custom-5xx-red",
        ),
        pytest.param(
            _with(error_rate=10.0, requests=10),
            {"min_requests": 5},
            "red",
            ("errors", "5xx rate 10% of 10 requests (red at 5%)"),
            id="custom-min-requests",
        ),
        pytest.param(
            _with(latency_p99_ms=600),
            {"latency_p99_yellow_ms": 500},
            "yellow",
            ("latency", "p99 latency 600 ms (yellow at 500 ms)"),
            id="custom-p99-yellow",
        ),
        pytest.param(
            _with(latency_p99_ms=2500),
            {"latency_p99_red_ms": 2000},
            "red",
            ("latency", "p99 latency 2500 ms (red at 2000 ms)"),
            id="custom-p99-red",
        ),
        pytest.param(
            _db(cpu_max=60),
            {"db_cpu_yellow": 50},
            "yellow",
            ("database", "database orders: CPU up to 60%"),
            id="db-cpu",
        ),
        pytest.param(
            _db(free_storage_min_bytes=30 * GB),
            {"db_free_storage_red_gb": 40},
            "red",
            ("database", "database orders: 30.0 GB free storage"),
            id="custom-db-storage",
        ),
    ],
)
def test_the_verdict_is_the_worst_reason(
    signals: Signals, thresholds: dict[str, Any], color: str, reason: tuple[str, str]
) -> None:
    verdict = judge(signals, ObservabilitySettings(**thresholds))
    assert verdict.color == color
    assert (color, *reason) in [(r.level, r.signal, r.text) for r in verdict.reasons]
    assert verdict.reasons[0].level == color


@pytest.mark.parametrize(
    ("signals", "unread"),
    [
        pytest.param(_with(error_rate=50.0, requests=19), _with(error_rate=None), id="5xx-below-min-requests"),
        pytest.param(_db(connections_max=10_000), _db(connections_max=None), id="connections-without-threshold"),
    ],
)
def test_a_figure_without_enough_to_judge_gives_no_reason(signals: Signals, unread: Signals) -> None:
    """Fewer requests than min_requests, or connections while db_connections_yellow is unset: judged as if the
    figure had not been read."""
    verdict = judge(signals, ObservabilitySettings())
    assert verdict.color == "green"
    assert verdict.reasons == judge(unread, ObservabilitySettings()).reasons


def test_reasons_come_worst_first_in_the_order_signals_are_read() -> None:
    signals = _with(rollout_state="IN_PROGRESS", alarms=["shop-5xx"], latency_p99_ms=1500)
    verdict = judge(signals, ObservabilitySettings())
    assert verdict.color == "red"
    assert [(reason.level, reason.signal) for reason in verdict.reasons] == [
        ("red", "alarms"),
        ("yellow", "rollout"),
        ("yellow", "latency"),
        ("green", "ecs"),
        ("green", "targets"),
        ("green", "errors"),
        ("green", "database"),
        ("green", "database"),
    ]


# -- get_service_health ---------------------------------------------------------------------------------------------


async def test_a_fresh_service_on_moto_is_red_with_its_reasons_and_a_next_tool(
    tmp_path: Path, red: world.World
) -> None:
    async with _client(world.deps(_settings(tmp_path))) as client:
        answer = await _ok(client, "get_service_health", {"cluster": red.cluster, "service": red.service})
    assert (answer["service"], answer["verdict"], answer["go"]) == (f"{red.cluster}/{red.service}", "red", False)
    assert (answer["account"], answer["region"]) == (ACCOUNT, world.REGION)
    reasons = _reasons(answer)
    assert reasons[:3] == [
        ("red", "ecs", "0 of 1 tasks running, 1 pending"),
        ("red", "targets", "no target registered with the load balancer"),
        ("red", "alarms", f"1 alarm(s) in ALARM: {red.alarm_firing}"),
    ]
    assert reasons[3][:2] == ("yellow", "rollout")
    assert reasons[3][2].startswith("a deployment is in progress")
    assert answer["unknown"] == []
    assert answer["next"].startswith("tail_task_logs ")


def _healthy_service(deps: ObservabilityDeps, figures: dict[str, float]) -> list[Stubber]:
    """Stubs of a service ``shop/shop-api`` with 2 of 2 tasks and its rollout done behind one target group with two
    healthy targets, one alarm in ALARM about another service, and ``figures`` as its metrics (also the figures
    of a database ``shop-db``)."""
    ecs = Stubber(deps.aws.client("ecs"))
    ecs.add_response(
        "describe_services",
        {
            "services": [
                {
                    "serviceArn": f"arn:aws:ecs:{world.REGION}:{ACCOUNT}:service/shop/shop-api",
                    "serviceName": "shop-api",
                    "clusterArn": f"arn:aws:ecs:{world.REGION}:{ACCOUNT}:cluster/shop",
                    "status": "ACTIVE",
                    "desiredCount": 2,
                    "runningCount": 2,
                    "pendingCount": 0,
                    "loadBalancers": [{"targetGroupArn": TG_ARN, "containerName": "app", "containerPort": 8080}],
                    "deployments": [
                        {
                            "id": "ecs-svc/1234567890",
                            "status": "PRIMARY",
                            "taskDefinition": f"arn:aws:ecs:{world.REGION}:{ACCOUNT}:task-definition/shop-api:7",
                            "desiredCount": 2,
                            "pendingCount": 0,
                            "runningCount": 2,
                            "rolloutState": "COMPLETED",
                            "rolloutStateReason": "ECS deployment ecs-svc/1234567890 completed.",
                        }
                    ],
                }
            ],
            "failures": [],
        },
        {"cluster": "shop", "services": ["shop-api"]},
    )
    elb = Stubber(deps.aws.client("elbv2"))
    _target_group(elb)
    elb.add_response(
        "describe_target_health",
        {
            "TargetHealthDescriptions": [
                {"Target": {"Id": ip, "Port": 8080}, "HealthCheckPort": "8080", "TargetHealth": {"State": "healthy"}}
                for ip in ("10.0.1.10", "10.0.2.10")
            ]
        },
        {"TargetGroupArn": TG_ARN},
    )
    cloudwatch = deps.aws.client("cloudwatch")
    alarms = OperationStubber(cloudwatch, "DescribeAlarms")
    alarms.add_response(
        "describe_alarms",
        {"MetricAlarms": [_metric_alarm("billing-api-5xx", "ALARM", service="billing-api")], "CompositeAlarms": []},
        DESCRIBE_ALARMS | {"StateValue": "ALARM"},
    )
    metrics = OperationStubber(cloudwatch, "GetMetricData")
    results = [
        {"Id": key, "Label": key, "Timestamps": [NOON], "Values": [value], "StatusCode": "Complete"}
        for key, value in figures.items()
    ]
    for _ in range(2):  # the service's figures and the database's, read at the same time: one answer fits both
        metrics.add_response(
            "get_metric_data",
            {"MetricDataResults": results, "Messages": []},
            {"MetricDataQueries": ANY, "StartTime": ANY, "EndTime": ANY, "ScanBy": "TimestampAscending"},
        )
    return [ecs, elb, alarms, metrics]


def _target_group(elb: Stubber, arn: str = TG_ARN, balancer: str = LB_ARN) -> None:
    elb.add_response(
        "describe_target_groups",
        {
            "TargetGroups": [
                {
                    "TargetGroupArn": arn,
                    "TargetGroupName": arn.split("/")[-2],
                    "Protocol": "HTTP",
                    "Port": 8080,
                    "VpcId": "vpc-0123456789abcdef0",
                    "TargetType": "ip",
                    "LoadBalancerArns": [balancer],
                }
            ]
        },
        {"TargetGroupArns": [arn]},
    )


def _metric_alarm(name: str, state: str, *, service: str, cluster: str = "shop") -> dict[str, Any]:
    return {
        "AlarmName": name,
        "AlarmArn": f"arn:aws:cloudwatch:{world.REGION}:{ACCOUNT}:alarm:{name}",
        "StateValue": state,
        "StateReason": f"Threshold crossed: {name}",
        "StateUpdatedTimestamp": NOON,
        "MetricName": "CPUUtilization",
        "Namespace": "AWS/ECS",
        "Statistic": "Average",
        "Dimensions": [{"Name": "ClusterName", "Value": cluster}, {"Name": "ServiceName", "Value": service}],
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 80.0,
        "ComparisonOperator": "GreaterThanThreshold",
    }


QUIET = {
    "cpu": 30.0,
    "cpu_max": 45.0,
    "memory": 50.0,
    "memory_max": 60.0,
    "requests": 1000.0,
    "target_5xx": 2.0,
    "elb_5xx": 0.0,
    "p95": 0.12,
    "p99": 0.25,
    "healthy_min": 2.0,
    "unhealthy_max": 0.0,
    "cpu0": 35.0,
    "free0": 40.0 * GB,
    "conn0": 50.0,
}


@pytest.mark.parametrize(
    ("figures", "verdict", "reason", "next_step"),
    [
        pytest.param({}, "green", ("green", "errors", "5xx rate 0.2% of 1000 requests"), "Go.", id="quiet"),
        pytest.param(
            {"target_5xx": 60.0, "elb_5xx": 20.0},
            "red",
            ("red", "errors", "5xx rate 8% of 1000 requests (red at 5%)"),
            "search_logs ",
            id="errors",
        ),
        pytest.param(
            {"p99": 1.5},
            "yellow",
            ("yellow", "latency", "p99 latency 1500 ms (yellow at 1000 ms)"),
            "get_metric_series ",
            id="slow",
        ),
    ],
)
async def test_a_service_is_judged_on_its_tasks_rollout_targets_alarms_figures_and_databases(
    tmp_path: Path, figures: dict[str, float], verdict: str, reason: tuple[str, str, str], next_step: str
) -> None:
    deps = world.deps(_settings(tmp_path, db_instances=["shop-db"]))
    stubbers = _healthy_service(deps, QUIET | figures)
    for stubber in stubbers:
        stubber.activate()
    async with _client(deps) as client:
        answer = await _ok(client, "get_service_health", {"cluster": "shop", "service": "shop-api"})
    for stubber in stubbers:
        stubber.assert_no_pending_responses()
    assert (answer["service"], answer["verdict"], answer["go"]) == ("shop/shop-api", verdict, verdict == "green")
    reasons = _reasons(answer)
    assert reasons[0][0] == verdict
    assert reason in reasons
    assert {
        ("green", "ecs", "2 of 2 tasks running"),
        ("green", "rollout", "the last deployment is completed"),
        ("green", "targets", "2 of 2 targets healthy"),
        ("green", "alarms", "no alarm in ALARM"),  # billing-api's alarm is not about shop-api
        ("green", "database", "database shop-db: CPU up to 35%"),
        ("green", "database", "database shop-db: 40.0 GB free storage"),
    } <= set(reasons)
    assert answer["unknown"] == []
    assert answer["next"].startswith(next_step)


async def test_unhealthy_targets_are_listed_with_their_reason_codes(tmp_path: Path, red: world.World) -> None:
    deps = world.deps(_settings(tmp_path))
    elb = Stubber(deps.aws.client("elbv2"))
    _target_group(elb, red.target_group_arn, red.load_balancer_arn)
    elb.add_response(
        "describe_target_health",
        {
            "TargetHealthDescriptions": [
                {"Target": {"Id": "10.0.1.10", "Port": 8080}, "TargetHealth": {"State": "healthy"}},
                {
                    "Target": {"Id": "10.0.2.10", "Port": 8080},
                    "TargetHealth": {
                        "State": "unhealthy",
                        "Reason": "Target.ResponseCodeMismatch",
                        "Description": "Health checks failed with these codes: [502]",
                    },
                },
            ]
        },
        {"TargetGroupArn": red.target_group_arn},
    )
    with elb:
        async with _client(deps) as client:
            answer = await _ok(client, "get_service_health", {"cluster": red.cluster, "service": red.service})
    elb.assert_no_pending_responses()
    assert ("yellow", "targets", "1 of 2 targets healthy; 1 unhealthy (Target.ResponseCodeMismatch)") in _reasons(
        answer
    )
    assert answer["verdict"] == "red"  # moto's 0 of 1 tasks still decides


async def test_a_signal_that_cannot_be_read_is_unknown_and_the_verdict_still_comes_back(
    tmp_path: Path, red: world.World
) -> None:
    deps = world.deps(_settings(tmp_path))
    elb = Stubber(deps.aws.client("elbv2"))
    _target_group(elb, red.target_group_arn, red.load_balancer_arn)
    elb.add_client_error(
        "describe_target_health",
        service_error_code="AccessDenied",
        service_message="User: arn:aws:sts::123456789012:assumed-role/afu9/task is not authorized to perform: "
        "elasticloadbalancing:DescribeTargetHealth",
        http_status_code=403,
    )
    with elb:
        async with _client(deps) as client:
            answer = await _ok(client, "get_service_health", {"cluster": red.cluster, "service": red.service})
    assert [signal for _, signal, _ in _reasons(answer)] == ["ecs", "alarms", "rollout"]  # no word on targets
    assert answer["verdict"] == "red"
    assert len(answer["unknown"]) == 1
    assert answer["unknown"][0].startswith("targets: AWS denied elasticloadbalancing:DescribeTargetHealth")


async def test_a_denied_target_group_lookup_makes_only_the_targets_unknown(tmp_path: Path, red: world.World) -> None:
    deps = world.deps(_settings(tmp_path))
    elb = Stubber(deps.aws.client("elbv2"))
    elb.add_client_error("describe_target_groups", service_error_code="AccessDenied", http_status_code=403)
    with elb:
        async with _client(deps) as client:
            answer = await _ok(client, "get_service_health", {"cluster": red.cluster, "service": red.service})
    assert answer["verdict"] == "red"
    assert any(entry.startswith("targets: ") for entry in answer["unknown"])


@pytest.mark.parametrize(
    ("where", "said"),
    [
        pytest.param("hz-red-cluster", "No service 'ghost-api' in cluster 'hz-red-cluster' (MISSING).", id="service"),
        pytest.param("ghost-cluster", "AWS found nothing for ecs:DescribeServices", id="cluster"),
    ],
)
async def test_an_unknown_service_is_refused_as_not_found(
    tmp_path: Path, red: world.World, where: str, said: str
) -> None:
    async with _client(world.deps(_settings(tmp_path))) as client:
        text = await _refused(client, "get_service_health", {"cluster": where, "service": "ghost-api"})
    assert said in text


# -- get_system_health ----------------------------------------------------------------------------------------------


def _rds(instance: str, **figures: list[float]) -> None:
    moment = datetime.now(UTC) - timedelta(minutes=3)
    world.boto("cloudwatch").put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": instance}],
                "Timestamp": moment,
                "Value": value,
            }
            for metric, values in figures.items()
            for value in values
        ],
    )


async def test_the_system_view_judges_each_service_and_database_worst_first(tmp_path: Path, red: world.World) -> None:
    _rds("hz-db-hot", CPUUtilization=[35.0, 97.0], FreeStorageSpace=[80.0 * GB], DatabaseConnections=[12.0])
    _rds("hz-db-full", CPUUtilization=[20.0], FreeStorageSpace=[6.0 * GB, 5.0 * GB])
    _rds("hz-db-fine", CPUUtilization=[12.0], FreeStorageSpace=[50.0 * GB], DatabaseConnections=[8.0])
    settings = _settings(
        tmp_path,
        services=[f"{red.cluster}/{red.service}", "nope/nope"],
        db_instances=["hz-db-hot", "hz-db-full", "hz-db-fine", "hz-db-ghost"],
    )
    async with _client(world.deps(settings)) as client:
        answer = await _ok(client, "get_system_health", {})
    assert (answer["verdict"], answer["go"]) == ("red", False)
    entries = {entry["service"]: entry for entry in answer["services"]}
    assert [(entry["service"], entry["verdict"]) for entry in answer["services"]] == [
        (f"{red.cluster}/{red.service}", "red"),
        ("db:hz-db-hot", "red"),
        ("nope/nope", "yellow"),
        ("db:hz-db-full", "yellow"),
        ("db:hz-db-ghost", "yellow"),
        ("db:hz-db-fine", "green"),
    ]
    assert _reasons(entries[f"{red.cluster}/{red.service}"])[0] == ("red", "ecs", "0 of 1 tasks running, 1 pending")
    assert _reasons(entries["db:hz-db-hot"])[0] == ("red", "database", "database hz-db-hot: CPU up to 97%")
    assert _reasons(entries["db:hz-db-full"])[0] == ("yellow", "database", "database hz-db-full: 5.0 GB free storage")
    assert _reasons(entries["db:hz-db-fine"]) == [
        ("green", "database", "database hz-db-fine: CPU up to 12%"),
        ("green", "database", "database hz-db-fine: 50.0 GB free storage"),
    ]
    assert entries["db:hz-db-fine"]["go"] is True
    nope = entries["nope/nope"]
    assert (nope["reasons"], nope["go"]) == ([], False)
    assert [entry.split(" (")[0] for entry in nope["unknown"]] == [
        "service: AWS found nothing for ecs:DescribeServices in region eu-central-1"
    ]
    ghost = entries["db:hz-db-ghost"]
    assert (ghost["reasons"], ghost["go"]) == ([], False)
    assert ghost["unknown"] == ["database hz-db-ghost: no AWS/RDS metric in the window (check the instance identifier)"]
    # databases are judged once, as their own entries, not inside every service's verdict
    assert not [
        reason for reason in entries[f"{red.cluster}/{red.service}"]["reasons"] if reason["signal"] == "database"
    ]


async def test_the_system_view_is_green_only_when_every_entry_is(tmp_path: Path) -> None:
    _rds("hz-db-calm", CPUUtilization=[10.0], FreeStorageSpace=[90.0 * GB])
    async with _client(world.deps(_settings(tmp_path, db_instances=["hz-db-calm"]))) as client:
        answer = await _ok(client, "get_system_health", {})
    assert (answer["verdict"], answer["go"]) == ("green", True)
    assert [(entry["service"], entry["verdict"], entry["next"]) for entry in answer["services"]] == [
        ("db:hz-db-calm", "green", "Go.")
    ]


async def test_the_system_view_without_anything_configured_names_the_setting(tmp_path: Path) -> None:
    async with _client(world.deps(_settings(tmp_path))) as client:
        text = await _refused(client, "get_system_health", {})
    assert "AFU9_OBSERVABILITY_SERVICES" in text
    assert "get_service_health works without them" in text


# -- list_alarms ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alarms:
    one: world.World
    two: world.World


@pytest.fixture(scope="module")
def alarmed() -> Alarms:
    """Two services with their seeded alarms, and three more alarms in ALARM: one on the first service's target
    group, one on its load balancer, and one on a service of the same name in another cluster."""
    one, two = world.seed("alarms-one"), world.seed("alarms-two")
    cloudwatch = world.boto("cloudwatch")
    group = one.target_group_arn.split(":")[-1]
    balancer = one.load_balancer_arn.split(":loadbalancer/")[-1]
    extra = {
        "alarms-one-lb-latency": ("TargetResponseTime", {"TargetGroup": group, "LoadBalancer": balancer}),
        "alarms-one-elb-5xx": ("HTTPCode_ELB_5XX_Count", {"LoadBalancer": balancer}),
        "stray-elsewhere": ("CPUUtilization", {"ClusterName": "elsewhere", "ServiceName": one.service}),
    }
    for name, (metric, dimensions) in extra.items():
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName=metric,
            Namespace="AWS/ECS" if metric == "CPUUtilization" else "AWS/ApplicationELB",
            Dimensions=[{"Name": key, "Value": value} for key, value in dimensions.items()],
            Statistic="Maximum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason=f"{name} crossed")
    return Alarms(one, two)


@pytest.mark.parametrize(
    ("arguments", "names"),
    [
        pytest.param(
            {"name_prefix": "alarms-", "state": "any"},
            {
                "alarms-one-api-5xx",
                "alarms-one-api-cpu",
                "alarms-one-lb-latency",
                "alarms-one-elb-5xx",
                "alarms-two-api-5xx",
                "alarms-two-api-cpu",
            },
            id="any",
        ),
        pytest.param(
            {"service": "one"},
            {"alarms-one-api-5xx", "alarms-one-lb-latency", "alarms-one-elb-5xx"},
            id="service-firing",
        ),
        pytest.param(
            {"service": "one", "state": "any"},
            {"alarms-one-api-5xx", "alarms-one-api-cpu", "alarms-one-lb-latency", "alarms-one-elb-5xx"},
            id="service-any",
        ),
        pytest.param({"service": "two", "state": "any"}, {"alarms-two-api-5xx", "alarms-two-api-cpu"}, id="other"),
        pytest.param({"service": "one", "state": "OK"}, {"alarms-one-api-cpu"}, id="service-ok"),
        pytest.param({"name_prefix": "alarms-one-e", "state": "any"}, {"alarms-one-elb-5xx"}, id="prefix"),
        pytest.param(
            {"service": "one", "name_prefix": "alarms-one-e", "state": "any"},
            {"alarms-one-elb-5xx"},
            id="service-prefix",
        ),
    ],
)
async def test_list_alarms_filters_by_state_prefix_and_service(
    tmp_path: Path, alarmed: Alarms, arguments: dict[str, Any], names: set[str]
) -> None:
    if "service" in arguments:
        seeded = alarmed.one if arguments["service"] == "one" else alarmed.two
        arguments = arguments | {"cluster": seeded.cluster, "service": seeded.service}
    async with _client(world.deps(_settings(tmp_path))) as client:
        answer = await _ok(client, "list_alarms", arguments)
    assert {alarm["name"] for alarm in answer["alarms"]} == names
    assert answer["next_cursor"] is None


@pytest.mark.parametrize(
    ("arguments", "asked"),
    [
        pytest.param({}, {"StateValue": "ALARM"}, id="firing-by-default"),
        pytest.param({"state": "any"}, {}, id="any"),
        pytest.param({"state": "INSUFFICIENT_DATA"}, {"StateValue": "INSUFFICIENT_DATA"}, id="insufficient"),
        pytest.param(
            {"state": "OK", "name_prefix": "shop-"}, {"StateValue": "OK", "AlarmNamePrefix": "shop-"}, id="ok-prefix"
        ),
    ],
)
async def test_list_alarms_asks_cloudwatch_for_the_state_and_prefix(
    tmp_path: Path, arguments: dict[str, str], asked: dict[str, str]
) -> None:
    # moto drops the state filter when a prefix is given, so what CloudWatch is asked is checked here
    deps = world.deps(_settings(tmp_path))
    stub = Stubber(deps.aws.client("cloudwatch"))
    stub.add_response("describe_alarms", _page(["shop-api-5xx"]), DESCRIBE_ALARMS | asked)
    with stub:
        async with _client(deps) as client:
            answer = await _ok(client, "list_alarms", arguments)
    stub.assert_no_pending_responses()
    assert [alarm["name"] for alarm in answer["alarms"]] == ["shop-api-5xx"]


async def test_list_alarms_shows_each_alarm_compactly(tmp_path: Path, alarmed: Alarms) -> None:
    one = alarmed.one
    async with _client(world.deps(_settings(tmp_path))) as client:
        answer = await _ok(client, "list_alarms", {"name_prefix": one.alarm_firing})
    [alarm] = answer["alarms"]
    assert datetime.fromisoformat(alarm.pop("since").replace("Z", "+00:00")) > datetime.now(UTC) - timedelta(hours=1)
    assert alarm == {
        "name": one.alarm_firing,
        "kind": "metric",
        "state": "ALARM",
        "reason": "Threshold crossed: 5xx above 5",
        "metric": f"AWS/ECS/CPUUtilization [ClusterName={one.cluster},ServiceName={one.service}]",
    }
    assert (answer["account"], answer["region"]) == (ACCOUNT, world.REGION)


@pytest.mark.parametrize("arguments", [{"cluster": "alarms-one-cluster"}, {"service": "alarms-one-api"}])
async def test_list_alarms_refuses_a_cluster_or_service_alone(tmp_path: Path, arguments: dict[str, str]) -> None:
    async with _client(world.deps(_settings(tmp_path))) as client:
        text = await _refused(client, "list_alarms", arguments)
    assert "Give cluster and service together, or neither." in text


def _composite(name: str, rule: str) -> dict[str, Any]:
    return {
        "AlarmName": name,
        "AlarmArn": f"arn:aws:cloudwatch:{world.REGION}:{ACCOUNT}:alarm:{name}",
        "AlarmRule": rule,
        "StateValue": "ALARM",
        "StateReason": "arn:aws:cloudwatch:...:alarm:alarms-one-api-5xx transitioned to ALARM",
        "StateUpdatedTimestamp": NOON,
        "ActionsEnabled": True,
    }


async def test_composite_and_metric_math_alarms_are_listed_and_matched_to_the_service(
    tmp_path: Path, alarmed: Alarms
) -> None:
    one = alarmed.one
    group = one.target_group_arn.split(":")[-1]
    math = {
        "AlarmName": "checkout-error-ratio",
        "AlarmArn": f"arn:aws:cloudwatch:{world.REGION}:{ACCOUNT}:alarm:checkout-error-ratio",
        "StateValue": "ALARM",
        "StateReason": "Threshold Crossed: 1 datapoint [7.5] was greater than the threshold (5.0).",
        "StateUpdatedTimestamp": NOON,
        "EvaluationPeriods": 1,
        "Threshold": 5.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "Metrics": [
            {"Id": "ratio", "Expression": "errors / requests * 100", "ReturnData": True},
            {
                "Id": "errors",
                "ReturnData": False,
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/ApplicationELB",
                        "MetricName": "HTTPCode_Target_5XX_Count",
                        "Dimensions": [{"Name": "TargetGroup", "Value": group}],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            },
        ],
    }
    deps = world.deps(_settings(tmp_path))
    stub = Stubber(deps.aws.client("cloudwatch"))
    stub.add_response(
        "describe_alarms",
        {
            "MetricAlarms": [math],
            "CompositeAlarms": [
                _composite("checkout-down", f'ALARM("{one.service}-5xx") OR ALARM("{one.service}-latency")'),
                _composite("billing-down", 'ALARM("billing-api-5xx")'),
            ],
        },
        DESCRIBE_ALARMS | {"StateValue": "ALARM"},
    )
    with stub:
        async with _client(deps) as client:
            about_one = await _ok(client, "list_alarms", {"cluster": one.cluster, "service": one.service})
    stub.assert_no_pending_responses()
    assert [(alarm["name"], alarm["kind"], alarm["metric"]) for alarm in about_one["alarms"]] == [
        ("checkout-error-ratio", "metric", "metric math"),
        ("checkout-down", "composite", f'ALARM("{one.service}-5xx") OR ALARM("{one.service}-latency")'),
    ]
    assert about_one["alarms"][1]["since"] == "2026-05-04T12:00:00Z"


def _page(names: Sequence[str], token: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "MetricAlarms": [_metric_alarm(name, "ALARM", service="shop-api") for name in names],
        "CompositeAlarms": [],
    }
    if token:
        answer["NextToken"] = token
    return answer


async def test_list_alarms_pages_with_a_cursor_over_cloudwatchs_next_token(tmp_path: Path) -> None:
    deps = world.deps(_settings(tmp_path))
    stub = Stubber(deps.aws.client("cloudwatch"))
    asked = DESCRIBE_ALARMS | {"StateValue": "ALARM"}
    stub.add_response("describe_alarms", _page(["a-1", "a-2"], "page-2"), asked)
    stub.add_response("describe_alarms", _page(["a-3"]), asked | {"NextToken": "page-2"})
    with stub:
        async with _client(deps) as client:
            first = await _ok(client, "list_alarms", {"limit": 2})
            assert first["next_cursor"] is not None
            second = await _ok(client, "list_alarms", {"limit": 2, "cursor": first["next_cursor"]})
    stub.assert_no_pending_responses()
    assert [alarm["name"] for alarm in first["alarms"]] == ["a-1", "a-2"]
    assert [alarm["name"] for alarm in second["alarms"]] == ["a-3"]
    assert second["next_cursor"] is None


async def test_list_alarms_loses_no_alarm_when_a_page_holds_more_than_the_limit(tmp_path: Path) -> None:
    deps = world.deps(_settings(tmp_path))
    stub = Stubber(deps.aws.client("cloudwatch"))
    asked = DESCRIBE_ALARMS | {"StateValue": "ALARM"}
    first_page, second_page = _page(["a-1", "a-2", "a-3"], "page-2"), _page(["a-4", "a-5"])
    stub.add_response("describe_alarms", first_page, asked)
    stub.add_response("describe_alarms", first_page, asked)  # the second call starts inside the first page
    stub.add_response("describe_alarms", second_page, asked | {"NextToken": "page-2"})
    stub.add_response("describe_alarms", second_page, asked | {"NextToken": "page-2"})
    shown: list[list[str]] = []
    with stub:
        async with _client(deps) as client:
            cursor: str | None = None
            for _ in range(5):
                answer = await _ok(client, "list_alarms", {"limit": 2} | ({"cursor": cursor} if cursor else {}))
                shown.append([alarm["name"] for alarm in answer["alarms"]])
                cursor = answer["next_cursor"]
                if cursor is None:
                    break
    stub.assert_no_pending_responses()
    assert shown == [["a-1", "a-2"], ["a-3", "a-4"], ["a-5"]]


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("not-a-cursor", id="garbage"),
        pytest.param(encode_cursor({"token": "page-2"}), id="other-shape"),
        pytest.param(encode_cursor({"token": "page-2", "skip": -1}), id="negative-skip"),
        pytest.param(encode_cursor({"token": 7, "skip": 0}), id="token-not-text"),
    ],
)
async def test_list_alarms_refuses_a_cursor_it_did_not_make(tmp_path: Path, cursor: str) -> None:
    deps = world.deps(_settings(tmp_path))
    with Stubber(deps.aws.client("cloudwatch")):  # no answer queued: CloudWatch must not be asked
        async with _client(deps) as client:
            text = await _refused(client, "list_alarms", {"cursor": cursor})
    assert "The cursor is not valid" in text


# -- get_alarm_history ----------------------------------------------------------------------------------------------


def _change(minute: int, old: str | None, new: str | None, data: str | None = None) -> dict[str, Any]:
    """A state change at NOON + ``minute``; ``data`` replaces its HistoryData ("": none at all)."""
    states = {"oldState": {"stateValue": old, "stateReason": "..."}, "newState": {"stateValue": new}}
    item = {
        "AlarmName": "shop-api-5xx",
        "AlarmType": "MetricAlarm",
        "Timestamp": NOON + timedelta(minutes=minute),
        "HistoryItemType": "StateUpdate",
        "HistorySummary": f"Alarm updated from {old} to {new}",
        "HistoryData": json.dumps(states) if data is None else data,
    }
    if data == "":
        del item["HistoryData"]
    return item


def _states(item: dict[str, Any]) -> tuple[str | None, str | None]:
    """The states a change was made with (its summary names them)."""
    old, new = item["HistorySummary"].removeprefix("Alarm updated from ").split(" to ")
    return (None if old == "None" else old), (None if new == "None" else new)


@pytest.mark.parametrize(
    ("items", "times_in_alarm", "recoveries", "flapping"),
    [
        pytest.param(
            [
                _change(100, "ALARM", "OK"),
                _change(90, "OK", "ALARM"),
                _change(80, "ALARM", "OK"),
                _change(75, "OK", "ALARM"),
                _change(30, "ALARM", "OK"),
                _change(0, "INSUFFICIENT_DATA", "ALARM"),
            ],
            3,
            [30.0, 5.0, 10.0],
            True,
            id="flapping",
        ),
        pytest.param(
            [_change(42, "ALARM", "OK"), _change(30, "OK", "ALARM"), _change(0, "INSUFFICIENT_DATA", "OK")],
            1,
            [12.0],
            False,
            id="one-recovery",
        ),
        pytest.param(
            [_change(50, "OK", "ALARM"), _change(20, "ALARM", "OK"), _change(5, "OK", "ALARM")],
            2,
            [15.0],
            False,
            id="still-in-alarm",
        ),
        pytest.param(
            [
                _change(4, None, None, "not json"),
                _change(3, None, None, "[1, 2]"),
                _change(2, None, None, '{"oldState": "OK", "newState": {"stateValue": 5}}'),
                _change(1, None, None, ""),
            ],
            0,
            [],
            False,
            id="malformed",
        ),
        pytest.param([], 0, [], False, id="quiet"),
    ],
)
async def test_alarm_history_counts_entries_recoveries_and_flapping(
    tmp_path: Path, items: list[dict[str, Any]], times_in_alarm: int, recoveries: list[float], flapping: bool
) -> None:
    deps = world.deps(_settings(tmp_path))
    stub = Stubber(deps.aws.client("cloudwatch"))
    stub.add_response(
        "describe_alarm_history",
        {"AlarmHistoryItems": items},
        {
            "AlarmName": "shop-api-5xx",
            "HistoryItemType": "StateUpdate",
            "StartDate": ANY,
            "EndDate": ANY,
            "MaxRecords": 50,
            "ScanBy": "TimestampDescending",
        },
    )
    with stub:
        async with _client(deps) as client:
            answer = await _ok(client, "get_alarm_history", {"alarm_name": "shop-api-5xx"})
    stub.assert_no_pending_responses()
    assert [(t["from_state"], t["to_state"], t["summary"]) for t in answer["transitions"]] == [
        (*_states(item), item["HistorySummary"]) for item in items
    ]
    assert [t["at"] for t in answer["transitions"]] == [
        item["Timestamp"].isoformat().replace("+00:00", "Z") for item in items
    ]
    assert (answer["alarm"], answer["times_in_alarm"], answer["recoveries_minutes"], answer["flapping"]) == (
        "shop-api-5xx",
        times_in_alarm,
        recoveries,
        flapping,
    )
    assert answer["next_cursor"] is None


async def test_alarm_history_pages_to_older_transitions_with_a_cursor(tmp_path: Path) -> None:
    deps = world.deps(_settings(tmp_path))
    stub = Stubber(deps.aws.client("cloudwatch"))
    asked = {
        "AlarmName": "shop-api-5xx",
        "HistoryItemType": "StateUpdate",
        "StartDate": ANY,
        "EndDate": ANY,
        "MaxRecords": 2,
        "ScanBy": "TimestampDescending",
    }
    newer = [_change(30, "ALARM", "OK"), _change(20, "OK", "ALARM")]
    stub.add_response("describe_alarm_history", {"AlarmHistoryItems": newer, "NextToken": "older"}, asked)
    stub.add_response(
        "describe_alarm_history", {"AlarmHistoryItems": [_change(0, "OK", "ALARM")]}, asked | {"NextToken": "older"}
    )
    with stub:
        async with _client(deps) as client:
            first = await _ok(client, "get_alarm_history", {"alarm_name": "shop-api-5xx", "limit": 2})
            second = await _ok(
                client, "get_alarm_history", {"alarm_name": "shop-api-5xx", "limit": 2, "cursor": first["next_cursor"]}
            )
    stub.assert_no_pending_responses()
    assert [t["at"] for t in first["transitions"]] == ["2026-05-04T12:30:00Z", "2026-05-04T12:20:00Z"]
    assert first["recoveries_minutes"] == [10.0]
    assert first["next_cursor"] is not None
    assert [t["at"] for t in second["transitions"]] == ["2026-05-04T12:00:00Z"]
    assert second["next_cursor"] is None


# -- settings -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "services"),
    [
        pytest.param("shop/api", ["shop/api"], id="one"),
        pytest.param(" shop/api , shop/worker,, billing/api ", ["shop/api", "shop/worker", "billing/api"], id="many"),
        pytest.param("", [], id="none"),
    ],
)
def test_the_services_setting_is_comma_separated_cluster_slash_service(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str, services: list[str]
) -> None:
    monkeypatch.setenv("AFU9_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AFU9_OBSERVABILITY_SERVICES", value)
    monkeypatch.setenv("AFU9_OBSERVABILITY_DB_INSTANCES", "orders-db, billing-db")
    monkeypatch.setenv("AFU9_OBSERVABILITY_ERROR_RATE_RED", "2.5")
    settings = load_settings(ObservabilitySettings)
    assert settings.services == services
    assert settings.db_instances == ["orders-db", "billing-db"]
    assert settings.error_rate_red == 2.5
    assert ObservabilitySettings.model_validate({"services": value}).services == services


@pytest.mark.parametrize("entry", ["shop", "shop/", "/api", "shop/api/extra"])
def test_a_service_that_is_not_cluster_slash_service_stops_the_process_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], entry: str
) -> None:
    monkeypatch.setenv("AFU9_OBSERVABILITY_SERVICES", f"shop/web,{entry}")
    with pytest.raises(SystemExit) as exited:
        load_settings(ObservabilitySettings)
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        f"afu9: invalid setting AFU9_OBSERVABILITY_SERVICES: Value error, each service is `cluster/service`, "
        f"not {entry!r}\n"
    )
    with pytest.raises(ValidationError, match="each service is `cluster/service`"):
        ObservabilitySettings(services=[entry])


async def test_the_check_prompt_completes_clusters_then_their_services(tmp_path: Path, red: world.World) -> None:
    from mcp.types import PromptReference

    async with _client(world.deps(_settings(tmp_path))) as client:
        prefix = red.cluster[:4]
        clusters = await client.complete(
            PromptReference(type="ref/prompt", name="check_service"), {"name": "cluster", "value": prefix}
        )
        services = await client.complete(
            PromptReference(type="ref/prompt", name="check_service"),
            {"name": "service", "value": ""},
            context_arguments={"cluster": red.cluster},
        )
        prompt = await client.get_prompt("check_service", {"cluster": red.cluster, "service": red.service})
    assert red.cluster in clusters.completion.values
    assert all(value.startswith(prefix) for value in clusters.completion.values)
    assert red.service in services.completion.values
    assert f"get_service_health(cluster={red.cluster!r}, service={red.service!r})" in str(prompt.messages[0].content)
