"""The rollouts toolset: a service described, a new image rolled out as a new revision (everything else of the
task definition kept), a rollout followed within a bound with progress, rollback both ways, and the history.
moto for what it models (services, task definitions, UpdateService); botocore's Stubber with the real API shapes
for rollout states, service deployments, the circuit breaker and rollback."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from botocore.stub import Stubber
from mcp import Client

from servers.deploy.deps import DeployDeps
from servers.deploy.server import SERVER
from servers.deploy.settings import DeploySettings
from tests.servers.deploy import world

ARN = "arn:aws:ecs:eu-central-1:123456789012"
rollouts = importlib.import_module("servers.deploy.tools.rollouts")  # the module (the package exports the toolset)


@dataclass
class Served:
    client: Client
    deps: DeployDeps
    world: world.World


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    seeded = world.seed(f"r{uuid4().hex[:8]}")
    settings = DeploySettings(data_dir=tmp_path, toolsets=["all"], allow_writes=True)
    deps = world.deps(settings)
    async with Client(SERVER.build(settings, deps=deps)) as client:
        yield Served(client, deps, seeded)


async def _call(client: Client, name: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def _error(client: Client, name: str, **arguments: Any) -> str:
    result = await client.call_tool(name, arguments)
    assert result.is_error, result.structured_content
    return " ".join(getattr(block, "text", "") for block in result.content)


def _service(
    name: str, deployments: list[dict[str, Any]], *, running: int = 2, events: list[Any] | None = None
) -> dict[str, Any]:
    return {
        "services": [
            {
                "serviceArn": f"{ARN}:service/c/{name}",
                "serviceName": name,
                "clusterArn": f"{ARN}:cluster/c",
                "status": "ACTIVE",
                "desiredCount": 2,
                "runningCount": running,
                "pendingCount": 2 - running,
                "taskDefinition": deployments[0]["taskDefinition"],
                "deployments": deployments,
                "events": events or [],
            }
        ],
        "failures": [],
    }


def _deployment(
    ident: str, status: str, revision: int, state: str, running: int = 2, reason: str = ""
) -> dict[str, Any]:
    return {
        "id": ident,
        "status": status,
        "taskDefinition": f"{ARN}:task-definition/api:{revision}",
        "desiredCount": 2,
        "runningCount": running,
        "pendingCount": 2 - running,
        "failedTasks": 0,
        "createdAt": datetime.now(UTC) - timedelta(minutes=3),
        "rolloutState": state,
        "rolloutStateReason": reason,
    }


def _service_deployment(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "serviceDeploymentArn": f"{ARN}:service-deployment/c/api/sd-1",
        "serviceArn": f"{ARN}:service/c/api",
        "clusterArn": f"{ARN}:cluster/c",
        "status": status,
        "startedAt": datetime.now(UTC) - timedelta(minutes=3),
        **extra,
    }


# -- against moto ------------------------------------------------------------------------------------------------


async def test_a_service_is_described_with_its_images_and_deployments(served: Served) -> None:
    seen = await _call(served.client, "describe_service", cluster=served.world.cluster, service=served.world.service)

    assert seen["service"] == f"{served.world.cluster}/{served.world.service}"
    assert seen["images"] == [{"container": "app", "image": served.world.image}]
    assert seen["deployments"][0]["status"] == "PRIMARY"
    assert seen["account"] == "123456789012"
    assert seen["region"] == world.REGION
    assert world.ENVIRONMENT_SECRET not in str(seen)


async def test_a_new_image_becomes_a_new_revision_that_keeps_everything_else(served: Served) -> None:
    ecs = world.boto("ecs")
    before = ecs.describe_task_definition(taskDefinition=served.world.task_definition)["taskDefinition"]

    started = await _call(
        served.client,
        "start_deployment",
        cluster=served.world.cluster,
        service=served.world.service,
        container="app",
        image="public.ecr.aws/afu9/api:2",
        requested_by="release-bot",
        reason="fix the cart",
    )

    service = ecs.describe_services(cluster=served.world.cluster, services=[served.world.service])["services"][0]
    after = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    assert started["previous_image"] == served.world.image
    assert started["task_definition"].endswith(f":{before['revision'] + 1}")
    assert after["containerDefinitions"][0]["image"] == "public.ecr.aws/afu9/api:2"
    for key in ("environment", "secrets", "memory"):
        assert after["containerDefinitions"][0][key] == before["containerDefinitions"][0][key]
    assert after["executionRoleArn"] == before["executionRoleArn"]
    assert world.ENVIRONMENT_SECRET not in str(started)
    history = await _call(served.client, "list_deployments", cluster=served.world.cluster)
    assert [(i["image"], i["requested_by"], i["outcome"]) for i in history["items"]] == [
        ("public.ecr.aws/afu9/api:2", "release-bot", "in_progress")
    ]


async def test_a_repeated_start_with_the_same_key_rolls_out_once(served: Served) -> None:
    arguments = {
        "cluster": served.world.cluster,
        "service": served.world.service,
        "container": "app",
        "image": "public.ecr.aws/afu9/api:3",
        "idempotency_key": "release-3",
    }
    first = await _call(served.client, "start_deployment", **arguments)
    again = await _call(served.client, "start_deployment", **arguments)
    clash = await _error(served.client, "start_deployment", **{**arguments, "image": "public.ecr.aws/afu9/api:4"})

    revisions = world.boto("ecs").list_task_definitions(familyPrefix=f"{served.world.service}")["taskDefinitionArns"]
    assert again["replayed"] is True
    assert again["task_definition"] == first["task_definition"]
    assert len(revisions) == 2  # the seeded one and one new
    assert "release-3" in clash


async def test_what_cannot_be_deployed_is_refused_in_one_sentence(served: Served, tmp_path: Path) -> None:
    where = {"cluster": served.world.cluster, "service": served.world.service}
    neither = await _error(served.client, "start_deployment", **where)
    no_container = await _error(served.client, "start_deployment", **where, image="repo/app:1")
    wrong = await _error(served.client, "start_deployment", **where, container="web", image="repo/app:1")
    missing = await _error(served.client, "describe_service", cluster=served.world.cluster, service="nope")
    bad_image = await served.client.call_tool("start_deployment", {**where, "container": "app", "image": "a b"})

    assert "container and image" in neither
    assert "which container" in no_container
    assert "no container 'web'" in wrong
    assert "app" in wrong
    assert "No service 'nope'" in missing
    assert bad_image.is_error

    closed = DeploySettings(data_dir=tmp_path / "closed", toolsets=["all"], allow_writes=False)
    async with Client(SERVER.build(closed, deps=world.deps(closed))) as client:
        refused = await _error(client, "start_deployment", **where, container="app", image="repo/app:9")
    assert "AFU9" in refused
    assert "ALLOW_WRITES" in refused


# -- rollout states (Stubber) ------------------------------------------------------------------------------------


async def test_a_rollout_is_followed_with_progress_until_it_completes(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rollouts, "POLL_SECONDS", 0.05)
    stub = Stubber(served.deps.aws.client("ecs"))
    in_progress = _service("api", [_deployment("ecs-svc/1", "PRIMARY", 7, "IN_PROGRESS", running=1)], running=1)
    done = _service(
        "api",
        [_deployment("ecs-svc/1", "PRIMARY", 7, "COMPLETED", reason="ECS deployment ecs-svc/1 completed.")],
        events=[{"id": "e1", "createdAt": datetime.now(UTC), "message": "(service api) has reached a steady state."}],
    )
    for answer in (in_progress, in_progress, done):
        stub.add_response("describe_services", answer, {"cluster": "c", "services": ["api"]})
        stub.add_response("list_service_deployments", {"serviceDeployments": []}, None)
    reported: list[tuple[float, float | None, str | None]] = []

    async def seen(progress: float, total: float | None, message: str | None) -> None:
        reported.append((progress, total, message))

    with stub:
        result = await served.client.call_tool(
            "get_deployment", {"cluster": "c", "service": "api", "max_wait_seconds": 5}, progress_callback=seen
        )
    state = result.structured_content
    assert state is not None, result.content
    assert state["outcome"] == "completed"
    assert state["deployment"]["task_definition"] == "api:7"
    assert state["events"][0]["message"].endswith("steady state.")
    assert len(reported) == 2
    assert reported[0][2] == "1/2 running, rollout IN_PROGRESS"
    assert "get_service_health" in state["next"]


async def test_a_wait_never_outlasts_its_bound(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rollouts, "POLL_SECONDS", 0.2)
    stub = Stubber(served.deps.aws.client("ecs"))
    slow = _service("api", [_deployment("ecs-svc/1", "PRIMARY", 7, "IN_PROGRESS", running=0)], running=0)
    for _ in range(20):
        stub.add_response("describe_services", slow, None)
        stub.add_response("list_service_deployments", {"serviceDeployments": []}, None)
    with stub:
        started = datetime.now(UTC)
        state = await _call(served.client, "get_deployment", cluster="c", service="api", max_wait_seconds=1)
    assert state["outcome"] == "in_progress"
    assert (datetime.now(UTC) - started).total_seconds() < 3
    assert 0.5 <= state["waited_seconds"] <= 1.5
    assert "call get_deployment again" in state["next"]


async def test_a_failed_rollout_that_the_circuit_breaker_rolled_back_says_so(served: Served) -> None:
    stub = Stubber(served.deps.aws.client("ecs"))
    failed = _service(
        "api",
        [
            _deployment("ecs-svc/2", "PRIMARY", 8, "FAILED", running=0, reason="tasks failed to start"),
            _deployment("ecs-svc/1", "ACTIVE", 7, "COMPLETED"),
        ],
        running=2,
    )
    stub.add_response("describe_services", failed, None)
    stub.add_response(
        "list_service_deployments",
        {
            "serviceDeployments": [
                {"serviceDeploymentArn": f"{ARN}:service-deployment/c/api/sd-1", "status": "ROLLBACK_SUCCESSFUL"}
            ]
        },
        None,
    )
    stub.add_response(
        "describe_service_deployments",
        {
            "serviceDeployments": [
                _service_deployment(
                    "ROLLBACK_SUCCESSFUL",
                    statusReason="Circuit breaker triggered",
                    deploymentCircuitBreaker={"status": "TRIGGERED", "failureCount": 3, "threshold": 3},
                    alarms={"status": "TRIGGERED", "alarmNames": ["api-5xx"], "triggeredAlarmNames": ["api-5xx"]},
                    rollback={"reason": "circuit breaker", "startedAt": datetime.now(UTC)},
                )
            ],
            "failures": [],
        },
        None,
    )
    stopped = f"{ARN}:task/c/0badc0de"
    stub.add_response(
        "list_tasks", {"taskArns": [stopped]}, {"cluster": "c", "serviceName": "api", "desiredStatus": "STOPPED"}
    )
    stub.add_response(
        "describe_tasks",
        {
            "tasks": [
                {
                    "taskArn": stopped,
                    "taskDefinitionArn": f"{ARN}:task-definition/api:8",
                    "lastStatus": "STOPPED",
                    "desiredStatus": "STOPPED",
                    "stopCode": "TaskFailedToStart",
                    "stoppedReason": "CannotPullContainerError: pull image manifest has been retried 5 time(s)",
                    "stoppedAt": datetime.now(UTC) - timedelta(minutes=1),
                    "startedBy": "ecs-svc/2",
                    "containers": [{"name": "app", "lastStatus": "STOPPED"}],
                }
            ],
            "failures": [],
        },
        None,
    )
    with stub:
        state = await _call(served.client, "get_deployment", cluster="c", service="api")
    assert state["outcome"] == "rolled_back"
    assert state["deployment"]["rollout_reason"] == "tasks failed to start"
    assert state["service_deployment"]["circuit_breaker"] == "TRIGGERED (3/3 failures)"
    assert state["service_deployment"]["alarms"] == "TRIGGERED: api-5xx"
    assert "diagnose_deployment" in state["next"]
    stored = await served.deps.history.failures("c", "api", since=None, limit=10)  # kept before ECS forgets
    assert [(row["category"], row["deployment_id"]) for row in stored] == [("image_pull", "ecs-svc/2")]


async def test_a_running_service_deployment_is_rolled_back_by_ecs(served: Served) -> None:
    stub = Stubber(served.deps.aws.client("ecs"))
    stub.add_response(
        "describe_services", _service("api", [_deployment("ecs-svc/2", "PRIMARY", 8, "IN_PROGRESS")]), None
    )
    stub.add_response(
        "list_service_deployments",
        {
            "serviceDeployments": [
                {"serviceDeploymentArn": f"{ARN}:service-deployment/c/api/sd-1", "status": "IN_PROGRESS"}
            ]
        },
        None,
    )
    stub.add_response(
        "describe_service_deployments",
        {"serviceDeployments": [_service_deployment("IN_PROGRESS")], "failures": []},
        None,
    )
    stub.add_response(
        "stop_service_deployment",
        {"serviceDeploymentArn": f"{ARN}:service-deployment/c/api/sd-1"},
        {"serviceDeploymentArn": f"{ARN}:service-deployment/c/api/sd-1", "stopType": "ROLLBACK"},
    )
    with stub:
        rolled = await _call(served.client, "rollback_deployment", cluster="c", service="api", reason="5xx")
    stub.assert_no_pending_responses()
    assert rolled["method"] == "stop_service_deployment"


async def test_without_a_service_deployment_the_replaced_revision_is_redeployed(served: Served) -> None:
    stub = Stubber(served.deps.aws.client("ecs"))
    both = _service(
        "api",
        [_deployment("ecs-svc/2", "PRIMARY", 8, "IN_PROGRESS"), _deployment("ecs-svc/1", "ACTIVE", 7, "COMPLETED")],
    )
    back = _service("api", [_deployment("ecs-svc/3", "PRIMARY", 7, "IN_PROGRESS")])["services"][0]
    stub.add_response("describe_services", both, None)
    stub.add_response("list_service_deployments", {"serviceDeployments": []}, None)
    stub.add_response(
        "update_service",
        {"service": back},
        {"cluster": "c", "service": "api", "taskDefinition": f"{ARN}:task-definition/api:7"},
    )
    with stub:
        rolled = await _call(served.client, "rollback_deployment", cluster="c", service="api", reason="5xx")
    stub.assert_no_pending_responses()
    assert rolled["method"] == "redeploy"
    assert rolled["task_definition"] == "api:7"
    assert rolled["deployment_id"] == "ecs-svc/3"
    history = await _call(served.client, "list_deployments", service="api")
    assert history["items"][0]["rollback_of"] == "ecs-svc/2"


async def test_a_rollback_with_nothing_to_go_back_to_says_what_to_do(served: Served) -> None:
    stub = Stubber(served.deps.aws.client("ecs"))
    stub.add_response("describe_services", _service("api", [_deployment("ecs-svc/9", "PRIMARY", 8, "COMPLETED")]), None)
    stub.add_response("list_service_deployments", {"serviceDeployments": []}, None)
    with stub:
        refused = await _error(served.client, "rollback_deployment", cluster="c", service="api")
    assert "task_definition_arn" in refused


async def test_the_history_pages_newest_first(served: Served) -> None:
    from servers.deploy.history import Started

    now = datetime.now(UTC)
    for number in range(3):
        record = Started(
            cluster="c",
            service="api",
            deployment_id=f"ecs-svc/{number}",
            task_definition=f"{ARN}:task-definition/api:{number}",
            previous_task_definition=None,
            container="app",
            image=f"repo/api:{number}",
            previous_image=None,
            requested_by=None,
            reason=None,
        )
        await served.deps.history.started(record, at=now - timedelta(minutes=10 - number))
    await served.deps.history.finished("c", "api", "ecs-svc/0", "completed", None, now - timedelta(minutes=8))

    first = await _call(served.client, "list_deployments", limit=2)
    second = await _call(served.client, "list_deployments", limit=2, cursor=first["next_cursor"])
    other = await _call(served.client, "list_deployments", service="other")
    garbage = await _error(served.client, "list_deployments", cursor="not-a-cursor")

    items = first["items"] + second["items"]
    assert [item["image"] for item in items] == ["repo/api:2", "repo/api:1", "repo/api:0"]
    assert second["next_cursor"] is None
    assert items[-1]["outcome"] == "completed"
    assert items[-1]["duration_seconds"] == 120.0
    assert items[0]["started_at"].endswith("Z")
    assert other["items"] == []
    assert "cursor" in garbage.lower()


async def test_an_operator_caps_how_long_any_call_may_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rollouts, "POLL_SECONDS", 0.2)
    settings = DeploySettings(data_dir=tmp_path, toolsets=["all"], allow_writes=True, wait_limit_seconds=1)
    deps = world.deps(settings)
    stub = Stubber(deps.aws.client("ecs"))
    slow = _service("api", [_deployment("ecs-svc/1", "PRIMARY", 7, "IN_PROGRESS", running=0)], running=0)
    for _ in range(20):
        stub.add_response("describe_services", slow, None)
        stub.add_response("list_service_deployments", {"serviceDeployments": []}, None)
    async with Client(SERVER.build(settings, deps=deps)) as client:
        with stub:
            state = await _call(client, "get_deployment", cluster="c", service="api", max_wait_seconds=120)
    assert state["outcome"] == "in_progress"
    assert state["waited_seconds"] <= 1.5


async def test_the_roll_out_prompt_completes_from_ecs_and_quietly_without_aws(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mcp.types import PromptReference

    from shared.aws import AwsClients

    reference = PromptReference(type="ref/prompt", name="roll_out_image")
    found = await served.client.complete(
        reference, {"name": "service", "value": ""}, context_arguments={"cluster": served.world.cluster}
    )
    prompt = await served.client.get_prompt(
        "roll_out_image", {"cluster": served.world.cluster, "service": served.world.service, "image": "repo/app:2"}
    )
    assert found.completion.values == [served.world.service]
    assert "check_task_secrets" in str(prompt.messages[0].content)

    for key in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    settings = DeploySettings(data_dir=tmp_path / "bare", toolsets=["all"])
    bare = DeployDeps(database=world.deps(settings).database, aws=AwsClients(region=None), settings=settings)
    async with Client(SERVER.build(settings, deps=bare)) as client:
        nothing = await client.complete(reference, {"name": "cluster", "value": "a"})
    assert nothing.completion.values == []
