"""Failure diagnosis: the classification of stopped tasks table-driven over real-shaped ``DescribeTasks`` entries,
``diagnose_deployment`` end to end (botocore's Stubber for what moto does not model: stopped tasks with stop codes
and exit codes, service events, target health reason codes; STS still answers from moto), the capture that keeps
failures after ECS forgets them, and the background watcher (on moto and on stubs)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from botocore.stub import Stubber
from mcp import Client
from mcp.types import CallToolResult, TextContent

from servers.deploy.deps import DeployDeps
from servers.deploy.diagnosis import (
    CATEGORIES,
    ContainerExit,
    TargetState,
    TaskFailure,
    classify,
    failure_row,
    verdict_of,
)
from servers.deploy.rollouts import ServiceEvent
from servers.deploy.server import SERVER
from servers.deploy.settings import DeploySettings
from servers.deploy.watcher import SETTING, Watcher
from shared.deps import Readiness
from tests.servers.deploy import world

ACCOUNT = "123456789012"
CLUSTER, SERVICE = "shop", "shop-api"
CLUSTER_ARN = f"arn:aws:ecs:{world.REGION}:{ACCOUNT}:cluster/{CLUSTER}"
DEFINITION = f"arn:aws:ecs:{world.REGION}:{ACCOUNT}:task-definition/shop-api:8"
OLD_DEFINITION = f"arn:aws:ecs:{world.REGION}:{ACCOUNT}:task-definition/shop-api:7"
TG_ARN = f"arn:aws:elasticloadbalancing:{world.REGION}:{ACCOUNT}:targetgroup/shop-tg/0123456789abcdef"
IMAGE = f"{ACCOUNT}.dkr.ecr.{world.REGION}.amazonaws.com/shop:2.0.1"
DEPLOYMENT = "ecs-svc/5169280574093855189"
TOKEN = "ghp_" + "a1B2c3D4" * 5  # a GitHub token that ended up in a stopped reason
NOW = datetime.now(UTC).replace(microsecond=0)  # moved to each test's start by _now (windows are minutes wide)


def _text(result: CallToolResult) -> str:
    return " ".join(block.text for block in result.content if isinstance(block, TextContent))


def _settings(tmp_path: Path, **overrides: Any) -> DeploySettings:
    return DeploySettings(data_dir=tmp_path, toolsets=["all"], **overrides)


@pytest.fixture(autouse=True)
def _no_aws_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The code reaches moto through the world's clients; no AWS setting of the developer's shell leaks in."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
async def deps(tmp_path: Path, database_url: str) -> AsyncIterator[DeployDeps]:
    """Dependencies on moto and the test's database (SQLite, then PostgreSQL), watching shop/shop-api (the loop
    runs only when a test warms it)."""
    made = world.deps(_settings(tmp_path, database_url=database_url, watch_services=f"{CLUSTER}/{SERVICE}"))
    try:
        yield made
    finally:
        await made.watcher.close()
        await made.database.close()
        made.aws.close()


# -- real-shaped ECS answers ---------------------------------------------------------------------------------------


def _task(
    task_id: str,
    *,
    stop_code: str | None,
    reason: str,
    containers: list[dict[str, Any]],
    minutes_ago: float = 10,
    last_status: str = "STOPPED",
    started_by: str = DEPLOYMENT,
) -> dict[str, Any]:
    """A ``DescribeTasks`` entry of a Fargate task of shop-api as ECS gives it once the task stopped."""
    arn = f"arn:aws:ecs:{world.REGION}:{ACCOUNT}:task/{CLUSTER}/{task_id}"
    stopped = NOW - timedelta(minutes=minutes_ago)
    task: dict[str, Any] = {
        "taskArn": arn,
        "clusterArn": CLUSTER_ARN,
        "taskDefinitionArn": DEFINITION,
        "group": f"service:{SERVICE}",
        "startedBy": started_by,
        "launchType": "FARGATE",
        "lastStatus": last_status,
        "desiredStatus": "STOPPED",
        "stoppedReason": reason,
        "createdAt": stopped - timedelta(minutes=2),
        "stoppingAt": stopped - timedelta(seconds=30),
        "containers": [
            {
                "containerArn": f"arn:aws:ecs:{world.REGION}:{ACCOUNT}:container/{CLUSTER}/{task_id}/{n}",
                "taskArn": arn,
                "name": container.get("name", "app"),
                "image": container.get("image", IMAGE),
                "lastStatus": "STOPPED",
                **{key: value for key, value in container.items() if key in ("exitCode", "reason")},
            }
            for n, container in enumerate(containers)
        ],
    }
    if last_status == "STOPPED":
        task["stoppedAt"] = stopped
    if stop_code is not None:
        task["stopCode"] = stop_code
    return task


def _service(
    *,
    events: Sequence[tuple[float, str]] = (),
    rollout: str = "FAILED",
    rollout_reason: str = "ECS deployment circuit breaker: tasks failed to start.",
) -> dict[str, Any]:
    """A ``DescribeServices`` answer for shop-api behind one target group, a new deployment replacing an old one."""
    return {
        "services": [
            {
                "serviceArn": f"arn:aws:ecs:{world.REGION}:{ACCOUNT}:service/{CLUSTER}/{SERVICE}",
                "serviceName": SERVICE,
                "clusterArn": CLUSTER_ARN,
                "status": "ACTIVE",
                "desiredCount": 2,
                "runningCount": 1,
                "pendingCount": 0,
                "taskDefinition": DEFINITION,
                "loadBalancers": [{"targetGroupArn": TG_ARN, "containerName": "app", "containerPort": 8080}],
                "deployments": [
                    {
                        "id": DEPLOYMENT,
                        "status": "PRIMARY",
                        "taskDefinition": DEFINITION,
                        "desiredCount": 2,
                        "pendingCount": 0,
                        "runningCount": 0,
                        "failedTasks": 3,
                        "createdAt": NOW - timedelta(minutes=30),
                        "updatedAt": NOW - timedelta(minutes=5),
                        "rolloutState": rollout,
                        "rolloutStateReason": rollout_reason,
                    },
                    {
                        "id": "ecs-svc/1111111111111111111",
                        "status": "ACTIVE",
                        "taskDefinition": OLD_DEFINITION,
                        "desiredCount": 2,
                        "pendingCount": 0,
                        "runningCount": 1,
                        "failedTasks": 0,
                        "createdAt": NOW - timedelta(days=2),
                        "updatedAt": NOW - timedelta(days=2),
                        "rolloutState": "COMPLETED",
                        "rolloutStateReason": "ECS deployment ecs-svc/1111111111111111111 completed.",
                    },
                ],
                "events": [
                    {"id": f"event-{n}", "createdAt": NOW - timedelta(minutes=minutes), "message": message}
                    for n, (minutes, message) in enumerate(events)
                ],
            }
        ],
        "failures": [],
    }


OOM = {"exitCode": 137, "reason": "OutOfMemoryError: Container killed due to memory usage"}


# -- classification --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stop_code", "reason", "containers", "category"),
    [
        pytest.param(
            "TaskFailedToStart",
            f"CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {IMAGE}: "
            f"{IMAGE}: not found",
            [{"reason": f"CannotPullContainerError: pull image manifest has been retried 5 time(s): {IMAGE}"}],
            "image_pull",
            id="image-tag-missing",
        ),
        pytest.param(
            "TaskFailedToStart",
            "ResourceInitializationError: unable to pull secrets or registry auth: The task cannot pull registry auth "
            "from Amazon ECR: There is a connection issue between the task and Amazon ECR. Check your task network "
            'configuration. RequestError: send request failed caused by: Post "https://api.ecr.eu-central-1.'
            'amazonaws.com/": dial tcp 10.0.1.5:443: i/o timeout',
            [{}],
            "image_pull",
            id="ecr-registry-auth",
        ),
        pytest.param(
            "TaskFailedToStart",
            "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
            "failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch "
            f"secret arn:aws:secretsmanager:{world.REGION}:{ACCOUNT}:secret:shop/db-AbCdEf from secrets manager: "
            f"AccessDeniedException: User: arn:aws:sts::{ACCOUNT}:assumed-role/shop-execution/4f2a is not authorized "
            "to perform: secretsmanager:GetSecretValue",
            [{}],
            "secrets",
            id="secrets-manager-denied",
        ),
        pytest.param(
            "TaskFailedToStart",
            "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
            "failed: unable to retrieve secrets from ssm: service call has been retried 5 time(s): "
            "InvalidParameters: /shop/api-key",
            [{}],
            "secrets",
            id="ssm-parameter-missing",
        ),
        pytest.param(
            "TaskFailedToStart",
            "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: "
            "failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not "
            "exist. : exit status 1",
            [{}],
            "resource_init",
            id="log-group-missing",
        ),
        pytest.param(
            "TaskFailedToStart",
            "CannotStartContainerError: Error response from daemon: failed to create shim task: OCI runtime create "
            'failed: runc create failed: unable to start container process: exec: "/app/server": stat /app/server: '
            "no such file or directory: unknown",
            [{"reason": "CannotStartContainerError: Error response from daemon: failed to create shim task"}],
            "resource_init",
            id="cannot-start-container",
        ),
        pytest.param(
            "EssentialContainerExited",
            "Essential container in task exited",
            [OOM, {"name": "log-router", "exitCode": 0}],
            "out_of_memory",
            id="oom-container",
        ),
        pytest.param(
            "EssentialContainerExited",
            "OutOfMemoryError: Container killed due to memory usage",
            [{"exitCode": 137}],
            "out_of_memory",
            id="oom-task",
        ),
        pytest.param(
            "ServiceSchedulerInitiated",
            f"Task failed ELB health checks in (target-group {TG_ARN})",
            [{"exitCode": 143}],
            "health_check",
            id="elb-health-checks",
        ),
        pytest.param(
            "ServiceSchedulerInitiated",
            "Task failed container health checks",
            [{"exitCode": 137}],
            "health_check",
            id="container-health-checks",
        ),
        pytest.param(
            "EssentialContainerExited",
            "Essential container in task exited",
            [{"exitCode": 1}],
            "application_exit",
            id="exit-1",
        ),
        pytest.param(
            "EssentialContainerExited",
            "Essential container in task exited",
            [{"exitCode": 137}],
            "application_exit",
            id="killed-without-oom",
        ),
        pytest.param(
            "EssentialContainerExited",
            "Essential container in task exited",
            [{"exitCode": 0}],
            "application_exit",
            id="exit-0-of-a-service",
        ),
        pytest.param(
            "UserInitiated",
            "Task stopped by user",
            [{"exitCode": 143}],
            "stopped_by_user_or_scheduler",
            id="user",
        ),
        pytest.param(
            "ServiceSchedulerInitiated",
            f"Scaling activity initiated by (deployment {DEPLOYMENT})",
            [{"exitCode": 0}],
            "stopped_by_user_or_scheduler",
            id="scale-in",
        ),
        pytest.param(
            "SpotInterruption",
            "Your Spot Task was interrupted.",
            [{"exitCode": 143}],
            "stopped_by_user_or_scheduler",
            id="spot",
        ),
        pytest.param(
            "UserInitiated",
            "Task stopped by user: rotating the secret",
            [{"exitCode": 143}],
            "stopped_by_user_or_scheduler",
            id="user-reason-naming-a-secret",
        ),
        pytest.param("TaskFailedToStart", "Task failed to start", [{}], "unknown", id="unknown"),
        pytest.param(None, "", [{}], "unknown", id="nothing-said"),
    ],
)
def test_a_stopped_task_is_classified_by_its_reasons_then_its_stop_code_and_exit_codes(
    stop_code: str | None, reason: str, containers: list[dict[str, Any]], category: str
) -> None:
    task = _task("0f1e2d3c4b5a69788796a5b4c3d2e1f0", stop_code=stop_code, reason=reason, containers=containers)
    assert category in CATEGORIES
    assert classify(task) == category
    row = failure_row(task, CLUSTER_ARN, f"arn:aws:ecs:{world.REGION}:{ACCOUNT}:service/{CLUSTER}/{SERVICE}")
    if category == "stopped_by_user_or_scheduler":
        assert row is None  # not a failure: nothing to store
    else:
        assert row is not None
        assert (row["cluster"], row["service"], row["category"], row["deployment_id"]) == (
            CLUSTER,
            SERVICE,
            category,
            DEPLOYMENT,
        )
        assert [c.get("exitCode") for c in containers] == [c["exit_code"] for c in row["containers"]]


def test_a_task_still_stopping_is_not_captured_yet_and_texts_are_redacted_and_cut() -> None:
    stopping = _task("a1", stop_code="EssentialContainerExited", reason="x", containers=[OOM], last_status="STOPPING")
    assert failure_row(stopping, CLUSTER, SERVICE) is None

    long_reason = f"ResourceInitializationError: token={TOKEN} \u200b" + "y" * 3000
    task = _task("a2", stop_code="TaskFailedToStart", reason=long_reason, containers=[{"reason": f"Bearer {TOKEN}"}])
    row = failure_row(task, CLUSTER, SERVICE)
    assert row is not None
    assert TOKEN not in json.dumps(row, default=str)
    assert row["stopped_reason"].startswith("ResourceInitializationError: token=[REDACTED] y")
    assert len(row["stopped_reason"]) <= 1001
    assert row["containers"][0]["reason"] == "Bearer [REDACTED]"


def _failure(category: str, exit_code: int | None = None, reason: str = "why") -> TaskFailure:
    return TaskFailure(
        task="t",
        deployment_id=DEPLOYMENT,
        task_definition="shop-api:8",
        category=category,
        stop_code="TaskFailedToStart",
        reason=reason,
        containers=[ContainerExit(name="app", exit_code=exit_code, reason=None)],
        stopped_at=None,
    )


@pytest.mark.parametrize(
    ("failures", "targets", "cause", "words"),
    [
        pytest.param([_failure("image_pull")], [], "image_pull", ["image tag", "execution role"], id="image"),
        pytest.param([_failure("secrets")], [], "secrets", ["check_task_secrets"], id="secrets"),
        pytest.param([_failure("resource_init")], [], "resource_init", ["log group"], id="init"),
        pytest.param([_failure("out_of_memory", 137)], [], "out_of_memory", ["memory"], id="oom"),
        pytest.param([_failure("health_check")], [], "health_check", ["tail_task_logs"], id="health"),
        pytest.param(
            [_failure("application_exit", 127)],
            [],
            "application_exit",
            ["exit code 127 in app: the command was not found", "tail_task_logs"],
            id="exit",
        ),
        pytest.param(
            [_failure("health_check"), _failure("out_of_memory"), _failure("out_of_memory")],
            [],
            "out_of_memory",
            ["2 of 3 failed task(s)"],
            id="most-frequent",
        ),
        pytest.param([_failure("secrets"), _failure("image_pull")], [], "secrets", ["1 of 2"], id="tie-goes-to-newest"),
        pytest.param(
            [],
            [
                TargetState(
                    target_group="shop-tg",
                    target="10.0.1.5:8080",
                    state="unhealthy",
                    reason="Target.Timeout",
                    description=None,
                )
            ],
            "health_check",
            ["1 of 1 target(s) are unhealthy (Target.Timeout)", "tail_task_logs"],
            id="targets-only",
        ),
        pytest.param([], [], None, ["No failed task"], id="nothing"),
    ],
)
def test_the_verdict_names_the_most_likely_cause_and_what_to_do(
    failures: list[TaskFailure], targets: list[TargetState], cause: str | None, words: list[str]
) -> None:
    found, verdict = verdict_of(failures, targets, [], None, 180)
    assert found == cause
    for word in words:
        assert word in verdict


def test_a_failed_rollout_without_stored_failures_says_so() -> None:
    event = ServiceEvent(at=None, message="(service shop-api) is unable to consistently start tasks successfully.")
    cause, verdict = verdict_of([], [], [event], "tasks failed to start.", 60)
    assert cause is None
    assert verdict.startswith("The rollout failed (tasks failed to start.)")


# -- diagnose_deployment ---------------------------------------------------------------------------------------------


def _stub_service(ecs: Stubber, answer: dict[str, Any], cluster: str = CLUSTER) -> None:
    ecs.add_response("describe_services", answer, {"cluster": cluster, "services": [SERVICE]})


def _stub_stopped(ecs: Stubber, tasks: list[dict[str, Any]], cluster: str = CLUSTER) -> None:
    arns = [task["taskArn"] for task in tasks]
    ecs.add_response(
        "list_tasks", {"taskArns": arns}, {"cluster": cluster, "serviceName": SERVICE, "desiredStatus": "STOPPED"}
    )
    if arns:
        ecs.add_response("describe_tasks", {"tasks": tasks, "failures": []}, {"cluster": cluster, "tasks": arns})


def _stub_targets(elb: Stubber) -> None:
    elb.add_response(
        "describe_target_health",
        {
            "TargetHealthDescriptions": [
                {
                    "Target": {"Id": "10.0.1.10", "Port": 8080},
                    "HealthCheckPort": "8080",
                    "TargetHealth": {"State": "healthy"},
                },
                {
                    "Target": {"Id": "10.0.2.20", "Port": 8080},
                    "HealthCheckPort": "8080",
                    "TargetHealth": {
                        "State": "unhealthy",
                        "Reason": "Target.ResponseCodeMismatch",
                        "Description": "Health checks failed with these codes: [502]",
                    },
                },
            ]
        },
        {"TargetGroupArn": TG_ARN},
    )


EVENTS = [
    (2, "(service shop-api) has reached a steady state."),
    (4, "(service shop-api) (deployment ecs-svc/5169280574093855189) deployment failed: tasks failed to start."),
    (6, "(service shop-api) is unable to consistently start tasks successfully."),
    (8, "(service shop-api) has started 1 tasks: (task 5a1)."),
    (600, "(service shop-api) (task 0ld) failed container health checks."),  # before the window
]


def _stopped_tasks() -> list[dict[str, Any]]:
    """Stopped tasks of shop-api, 10 to 300 minutes before NOW."""
    return [
        _task(
            "5a1", stop_code="EssentialContainerExited", reason="Essential container in task exited", containers=[OOM]
        ),
        _task(
            "5a2",
            stop_code="EssentialContainerExited",
            reason="Essential container in task exited",
            containers=[OOM, {"name": "log-router", "exitCode": 0}],
            minutes_ago=20,
        ),
        _task(
            "5a3",
            stop_code="TaskFailedToStart",
            reason="ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
            f"failed: unable to retrieve secret from asm: failed to fetch secret with token={TOKEN}: AccessDenied",
            containers=[{}],
            minutes_ago=30,
        ),
        _task(
            "5a4",
            stop_code="ServiceSchedulerInitiated",
            reason="Scaling activity initiated by (deployment ecs-svc/1111111111111111111)",
            containers=[{"exitCode": 143}],
            minutes_ago=15,
        ),
        _task(
            "5a5",
            stop_code="EssentialContainerExited",
            reason="Essential container in task exited",
            containers=[{"exitCode": 1}],
            minutes_ago=300,  # before the window
        ),
    ]


STOPPED: list[dict[str, Any]] = []


@pytest.fixture(autouse=True)
def _now() -> None:
    """NOW is this test's start: the suite runs for minutes, and a time taken at import would drift out of the
    15-minute windows the tests ask for."""
    global NOW, STOPPED
    NOW = datetime.now(UTC).replace(microsecond=0)
    STOPPED = _stopped_tasks()


async def test_diagnose_classifies_stores_and_still_answers_after_ecs_forgot_the_tasks(
    deps: DeployDeps,
) -> None:
    ecs, elb = Stubber(deps.aws.client("ecs")), Stubber(deps.aws.client("elbv2"))
    for call in range(2):
        _stub_service(ecs, _service(events=EVENTS))
        _stub_stopped(ecs, STOPPED if call == 0 else [])  # the second time ECS has forgotten them
        _stub_targets(elb)
    ecs.activate()
    elb.activate()
    arguments = {"cluster": CLUSTER, "service": SERVICE}
    async with Client(SERVER.build(deps.settings, deps=deps)) as client:
        results = [await client.call_tool("diagnose_deployment", arguments) for _ in range(2)]
    ecs.assert_no_pending_responses()
    elb.assert_no_pending_responses()

    first, second = (result.structured_content for result in results)
    assert first is not None, _text(results[0])
    assert second is not None, _text(results[1])
    assert (first["account"], first["region"], first["service"]) == (ACCOUNT, world.REGION, f"{CLUSTER}/{SERVICE}")
    assert (first["captured_now"], second["captured_now"]) == (3, 0)
    for answer in (first, second):
        assert answer["cause"] == "out_of_memory"
        assert answer["counts"] == {"out_of_memory": 2, "secrets": 1}
        assert answer["verdict"].startswith(
            "Out of memory: 2 of 3 failed task(s) were killed for using too much memory (OutOfMemoryError: Container"
        )
        assert "Raise the task's (or the container's) memory" in answer["verdict"]
        assert [(f["task"], f["category"], f["stop_code"]) for f in answer["failures"]] == [
            ("5a1", "out_of_memory", "EssentialContainerExited"),
            ("5a2", "out_of_memory", "EssentialContainerExited"),
            ("5a3", "secrets", "TaskFailedToStart"),
        ]
        assert answer["failures"][1]["containers"] == [
            {"name": "app", "exit_code": 137, "reason": OOM["reason"], "image": IMAGE},
            {"name": "log-router", "exit_code": 0, "reason": None, "image": IMAGE},
        ]
        assert answer["failures"][0]["deployment_id"] == DEPLOYMENT
        assert answer["failures"][0]["task_definition"] == "shop-api:8"
        assert [event["message"] for event in answer["events"]] == [EVENTS[1][1], EVENTS[2][1]]
        assert [(t["target"], t["state"], t["reason"], t["description"]) for t in answer["targets"]] == [
            (
                "10.0.2.20:8080",
                "unhealthy",
                "Target.ResponseCodeMismatch",
                "Health checks failed with these codes: [502]",
            ),
            ("10.0.1.10:8080", "healthy", None, None),
        ]
        assert answer["deployments"][0]["rollout_state"] == "FAILED"
        assert answer["note"] is None
        assert TOKEN not in json.dumps(answer)
        assert "token=[REDACTED]" in answer["failures"][2]["reason"]
    stored = await deps.history.failures(CLUSTER, SERVICE, since=None, limit=10)
    assert [row["category"] for row in stored] == ["out_of_memory", "out_of_memory", "secrets"]
    assert TOKEN not in json.dumps([dict(row) for row in stored], default=str)


async def test_diagnose_with_limit_and_unreadable_target_health_still_answers(deps: DeployDeps) -> None:
    ecs, elb = Stubber(deps.aws.client("ecs")), Stubber(deps.aws.client("elbv2"))
    _stub_service(ecs, _service(rollout="IN_PROGRESS", rollout_reason="in progress"), CLUSTER_ARN)
    _stub_stopped(ecs, STOPPED[:2], CLUSTER_ARN)
    elb.add_client_error(
        "describe_target_health",
        service_error_code="AccessDenied",
        service_message="not authorized to perform elasticloadbalancing:DescribeTargetHealth",
        http_status_code=403,
        expected_params={"TargetGroupArn": TG_ARN},
    )
    ecs.activate()
    elb.activate()
    async with Client(SERVER.build(deps.settings, deps=deps)) as client:
        result = await client.call_tool(
            "diagnose_deployment", {"cluster": CLUSTER_ARN, "service": SERVICE, "since_minutes": 15, "limit": 1}
        )
    answer = result.structured_content
    assert answer is not None, _text(result)
    assert (answer["service"], answer["window_minutes"], answer["counts"]) == (
        f"{CLUSTER}/{SERVICE}",
        15,
        {"out_of_memory": 1},
    )
    assert [f["task"] for f in answer["failures"]] == ["5a1"]
    assert answer["targets"] == []
    assert answer["note"].startswith("target health of shop-tg not read: AWS denied")


async def test_diagnose_of_a_service_that_does_not_exist_says_so(deps: DeployDeps) -> None:
    async with Client(SERVER.build(deps.settings, deps=deps)) as client:
        result = await client.call_tool("diagnose_deployment", {"cluster": "nowhere", "service": "nothing"})
    assert result.is_error
    assert "nothing" in _text(result)


# -- the watcher -----------------------------------------------------------------------------------------------------


class Rounds:
    """Wakes a test after each round of a watcher's loop (wrapping its ``look_all``)."""

    def __init__(self, watcher: Watcher, monkeypatch: pytest.MonkeyPatch) -> None:
        self.done = asyncio.Event()
        original = watcher.look_all

        async def look_all() -> None:
            try:
                await original()
            finally:
                self.done.set()

        monkeypatch.setattr(watcher, "look_all", look_all)

    async def until(self, condition: Any, seconds: float = 5.0) -> None:
        """Wait (bounded) until ``condition()`` holds after a round."""
        with anyio.fail_after(seconds):
            while not condition():
                self.done.clear()
                await self.done.wait()


async def test_without_watched_services_the_watcher_is_not_configured_and_never_polls(tmp_path: Path) -> None:
    deps = world.deps(_settings(tmp_path))
    watcher = deps.watcher
    assert watcher in deps.parts()
    assert (watcher.name, watcher.required) == ("watcher", False)
    assert SETTING == "AFU9_DEPLOY_WATCH_SERVICES"
    health = await watcher.check()
    assert (health.state, health.setting) == (Readiness.NOT_CONFIGURED, SETTING)
    assert watcher.unconfigured() == SETTING
    await watcher.warm()
    assert watcher._loop is None  # pyright: ignore[reportPrivateUsage]
    await watcher.close()


async def test_the_watcher_on_moto_records_the_deployment_it_sees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded = world.seed("watch-moto")
    deps = world.deps(_settings(tmp_path, watch_services=f"{seeded.cluster}/{seeded.service}"))
    watcher = deps.watcher
    watcher.interval = 0.05
    rounds = Rounds(watcher, monkeypatch)
    try:
        await watcher.warm()
        await rounds.until(lambda: watcher.rounds >= 2)
        await watcher.close()
        rows = await deps.history.page(cluster=seeded.cluster, service=seeded.service, before=None, limit=10)
        assert [(row["outcome"], row["task_definition"]) for row in rows] == [("in_progress", seeded.task_definition)]
        assert rows[0]["deployment_id"].startswith("ecs-svc/")  # recorded once, though seen every round
        assert (watcher.captured, watcher.last and watcher.last.error) == (0, None)
        health = await watcher.check()
        assert health.ok
        assert "not polling in this process" in health.detail
        assert f"last looked at {seeded.cluster}/{seeded.service}" in health.detail
    finally:
        await watcher.close()
        await deps.database.close()
        deps.aws.close()


async def test_the_watcher_survives_an_aws_error_then_captures_and_records_the_outcome(
    deps: DeployDeps, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    watcher = deps.watcher
    watcher.interval = 0.05
    rounds = Rounds(watcher, monkeypatch)
    ecs = Stubber(deps.aws.client("ecs"))
    ecs.add_client_error(
        "describe_services",
        service_error_code="ThrottlingException",
        service_message=f"Rate exceeded for token={TOKEN}",
        http_status_code=400,
    )
    _stub_service(ecs, _service(rollout="COMPLETED", rollout_reason=f"ECS deployment {DEPLOYMENT} completed."))
    _stub_stopped(ecs, [STOPPED[0], STOPPED[3]])  # one failure, one task stopped by the scheduler
    ecs.activate()
    with caplog.at_level(logging.WARNING, logger="servers.deploy.watcher"):
        await watcher.warm()
        await rounds.until(lambda: watcher.captured >= 1)
        began = time.monotonic()
        await watcher.close()
    assert time.monotonic() - began < 1.0
    assert watcher._loop is None  # pyright: ignore[reportPrivateUsage]

    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warnings[0].startswith("deploy watcher: shop/shop-api not read, tried again in 0.05 s: RateLimited")
    assert all(TOKEN not in warning for warning in warnings)
    stored = await deps.history.failures(CLUSTER, SERVICE, since=None, limit=10)
    assert [(row["task_arn"].rsplit("/", 1)[-1], row["category"]) for row in stored] == [("5a1", "out_of_memory")]
    rows = await deps.history.page(cluster=CLUSTER, service=SERVICE, before=None, limit=10)
    assert [(row["deployment_id"], row["outcome"], row["previous_task_definition"]) for row in rows] == [
        (DEPLOYMENT, "completed", OLD_DEFINITION)
    ]
    assert rows[0]["outcome_reason"] == f"ECS deployment {DEPLOYMENT} completed."


async def test_the_watcher_does_not_describe_a_task_twice_and_reports_its_last_look(deps: DeployDeps) -> None:
    watcher = deps.watcher
    ecs = Stubber(deps.aws.client("ecs"))
    _stub_service(ecs, _service())
    _stub_stopped(ecs, [STOPPED[0], STOPPED[3]])
    _stub_service(ecs, _service())
    ecs.add_response(  # the same tasks listed again: nothing to describe
        "list_tasks",
        {"taskArns": [STOPPED[0]["taskArn"], STOPPED[3]["taskArn"]]},
        {"cluster": CLUSTER, "serviceName": SERVICE, "desiredStatus": "STOPPED"},
    )
    ecs.activate()
    await watcher.look_all()
    await watcher.look_all()
    ecs.assert_no_pending_responses()
    assert (watcher.captured, watcher.rounds) == (1, 2)
    health = await watcher.check()
    assert health.ok
    assert "last looked at shop/shop-api" in health.detail
    assert "ok, 0 new failure(s) stored); 1 failure(s) stored since start" in health.detail
    rows = await deps.history.page(cluster=CLUSTER, service=SERVICE, before=None, limit=10)
    assert [(row["outcome"], row["outcome_reason"]) for row in rows] == [
        ("failed", "ECS deployment circuit breaker: tasks failed to start.")
    ]


async def test_close_stops_the_watcher_within_a_second_even_in_the_middle_of_a_call(
    deps: DeployDeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    called = asyncio.Event()

    async def hang(*_: Any, **__: Any) -> dict[str, Any]:
        called.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    monkeypatch.setattr(deps.aws, "call", hang)
    watcher: Watcher = deps.watcher
    await watcher.warm()
    with anyio.fail_after(5):
        await called.wait()
    began = time.monotonic()
    await watcher.close()
    assert time.monotonic() - began < 1.0
    assert watcher._loop is None  # pyright: ignore[reportPrivateUsage]
