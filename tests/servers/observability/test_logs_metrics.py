"""The logs and metrics toolsets through a real MCP client: on moto's AWS for what moto models (log groups and
streams, ECS tasks and services, metric data), and with botocore's ``Stubber`` on the very clients the tools use
for what it does not (Logs Insights, percentiles, ALB figures, empty pages, throttling). What is checked is what
a user reads: the lines and figures, their order and units, secrets kept out, and errors that say what to do."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from botocore.stub import ANY, Stubber
from mcp import Client
from mcp.types import CallToolResult, TextContent

from servers.observability.deps import ObservabilityDeps
from servers.observability.server import SERVER
from servers.observability.settings import ObservabilitySettings
from shared.aws import AwsClients
from shared.db import Database
from shared.pagination import decode_cursor, encode_cursor
from tests.moto_aws import CREDENTIALS, boto, moto_url
from tests.servers.observability import world
from tests.servers.observability.world import World

SECRET_PARTS = ("hunter2", "AKIAIOSFODNN7EXAMPLE")  # of world.SECRET_LINE
LOGS_AND_METRICS = {
    "search_logs",
    "query_logs",
    "stop_log_query",
    "tail_task_logs",
    "get_metric_series",
    "get_service_metrics",
}


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
    text = _text(result)
    assert "Traceback" not in text
    return text


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _stub(deps: ObservabilityDeps, service: str) -> Stubber:
    """A Stubber on the cached client the tools use for ``service`` (STS and the other services stay on moto)."""
    stubber = Stubber(deps.aws.client(service))
    stubber.activate()
    return stubber


def _sent(deps: ObservabilityDeps, service: str, operation: str) -> list[dict[str, Any]]:
    """Every request of ``operation`` the tools send from now on (its parameters, as given to boto3)."""
    sent: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(json.loads(json.dumps(params, default=str)))

    deps.aws.client(service).meta.events.register(f"before-parameter-build.{service}.{operation}", record)
    return sent


@pytest.fixture
def settings(tmp_path: Path) -> ObservabilitySettings:
    return ObservabilitySettings(data_dir=tmp_path, toolsets=["all"], allow_writes=True)


@pytest.fixture
def deps(settings: ObservabilitySettings) -> ObservabilityDeps:
    return world.deps(settings)


@pytest.fixture
async def client(settings: ObservabilitySettings, deps: ObservabilityDeps) -> AsyncIterator[Client]:
    async with Client(SERVER.build(settings, deps=deps)) as client:
        yield client


@pytest.fixture
def w() -> World:
    """A seeded world of the test's own (its names are unique)."""
    return world.seed(f"t{uuid4().hex[:6]}")


@pytest.fixture
def no_aws_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AWS setting from the developer's machine: no variables, empty config files, no instance metadata."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    for name in ("config", "credentials", "boto"):
        (tmp_path / name).write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("BOTO_CONFIG", str(tmp_path / "boto"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def tokyo_time() -> Iterator[None]:
    """The process's local time zone is Asia/Tokyo (UTC+9) for the test."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def _put_lines(group: str, stream: str, lines: list[tuple[int, str]]) -> None:
    logs = boto("logs")
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": moment, "message": text} for moment, text in lines],
    )


def _task_with(w: World, containers: list[dict[str, Any]]) -> str:
    """The id of a task running in ``w``'s cluster with these container definitions."""
    ecs = boto("ecs")
    definition = ecs.register_task_definition(family=f"odd-{uuid4().hex[:6]}", containerDefinitions=containers)
    arn = definition["taskDefinition"]["taskDefinitionArn"]
    task = ecs.run_task(cluster=w.cluster, taskDefinition=arn, count=1)["tasks"][0]["taskArn"]
    return str(task).rsplit("/", 1)[-1]


def _points(start: datetime, values: list[float], step: int = 60) -> dict[str, Any]:
    return {"Timestamps": [start + timedelta(seconds=step * n) for n in range(len(values))], "Values": values}


# -- search_logs ----------------------------------------------------------------------------------------------------


async def test_search_returns_the_groups_lines_oldest_first_with_secrets_redacted(client: Client, w: World) -> None:
    result = await client.call_tool("search_logs", {"log_group": w.log_group})
    assert not result.is_error, _text(result)
    answer = result.structured_content
    assert answer is not None
    assert [event["message"] for event in answer["events"]] == [
        "starting",
        "GET /health 200",
        "ERROR payment failed: upstream 502",
        "connecting with password=[REDACTED] and [REDACTED]",
        "GET /cart 200",
    ]
    moments = [event["at"] for event in answer["events"]]
    assert moments == sorted(moments)
    assert len(set(moments)) == 5
    assert all(moment.endswith("Z") for moment in moments)
    assert {event["stream"] for event in answer["events"]} == {w.stream}
    assert answer["redacted"] is True
    assert answer["next_cursor"] is None
    assert (answer["account"], answer["region"]) == ("123456789012", world.REGION)
    everything = json.dumps(answer) + _text(result)
    for secret in SECRET_PARTS:
        assert secret in world.SECRET_LINE
        assert secret not in everything


async def test_lines_of_several_streams_come_oldest_first(client: Client) -> None:
    group = f"/ecs/web-{uuid4().hex[:6]}"
    boto("logs").create_log_group(logGroupName=group)
    now = int(time.time() * 1000)
    _put_lines(group, "web/a", [(now - 9_000, "a1"), (now - 7_000, "a2"), (now - 5_000, "a3")])
    _put_lines(group, "web/b", [(now - 8_000, "b1"), (now - 6_000, "b2")])
    answer = await _ok(client, "search_logs", {"log_group": group})
    assert [(event["message"], event["stream"]) for event in answer["events"]] == [
        ("a1", "web/a"),
        ("b1", "web/b"),
        ("a2", "web/a"),
        ("b2", "web/b"),
        ("a3", "web/a"),
    ]


async def test_a_filter_pattern_narrows_the_lines(client: Client, w: World) -> None:
    errors = await _ok(client, "search_logs", {"log_group": w.log_group, "filter_pattern": "ERROR"})
    assert [event["message"] for event in errors["events"]] == ["ERROR payment failed: upstream 502"]
    assert errors["redacted"] is False
    nothing = await _ok(client, "search_logs", {"log_group": w.log_group, "filter_pattern": "nothing-says-this"})
    assert (nothing["events"], nothing["next_cursor"]) == ([], None)


async def test_paging_with_a_small_limit_walks_every_line_once_until_the_cursor_runs_out(
    client: Client, w: World
) -> None:
    pages: list[list[str]] = []
    cursor: str | None = None
    for _ in range(10):
        arguments: dict[str, Any] = {"log_group": w.log_group, "limit": 2}
        if cursor is not None:
            arguments["cursor"] = cursor
        answer = await _ok(client, "search_logs", arguments)
        pages.append([event["message"] for event in answer["events"]])
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    assert pages == [
        ["starting", "GET /health 200"],
        ["ERROR payment failed: upstream 502", "connecting with password=[REDACTED] and [REDACTED]"],
        ["GET /cart 200"],
    ]


async def test_a_garbage_or_forged_cursor_is_refused_with_a_clear_message(client: Client, w: World) -> None:
    forged = [
        "garbage",
        "!!!not-base64!!!",
        base64.urlsafe_b64encode(b"not json").decode(),
        encode_cursor({"token": 5}),
        encode_cursor({"token": ""}),
        encode_cursor({"token": "x", "also": "y"}),
        encode_cursor({"offset": 2}),
    ]
    for cursor in forged:
        text = await _refused(client, "search_logs", {"log_group": w.log_group, "cursor": cursor})
        assert "The cursor is not valid: pass back next_cursor exactly as a previous call returned it." in text, cursor


async def test_a_token_cloudwatch_rejects_is_an_invalid_request_to_fix(client: Client, deps: ObservabilityDeps) -> None:
    logs = _stub(deps, "logs")
    logs.add_client_error(
        "filter_log_events",
        service_error_code="InvalidParameterException",
        service_message="The specified nextToken is invalid.",
        http_status_code=400,
        expected_params={
            "logGroupName": "/ecs/shop",
            "startTime": ANY,
            "endTime": ANY,
            "limit": 50,
            "nextToken": "made-up",
        },
    )
    cursor = encode_cursor({"token": "made-up"})
    text = await _refused(client, "search_logs", {"log_group": "/ecs/shop", "cursor": cursor})
    assert "logs:FilterLogEvents" in text
    assert "The specified nextToken is invalid." in text
    assert "the request is invalid. Fix it." in text
    logs.assert_no_pending_responses()


async def test_an_empty_page_with_a_token_does_not_end_the_search(client: Client, deps: ObservabilityDeps) -> None:
    """CloudWatch may answer a page with no events and a token while more lines follow."""
    logs = _stub(deps, "logs")
    params = {"logGroupName": "/ecs/shop", "startTime": ANY, "endTime": ANY, "limit": 10}
    logs.add_response("filter_log_events", {"events": [], "nextToken": "t1"}, params)
    line = {"logStreamName": "s", "timestamp": 1_700_000_000_000, "message": "found", "eventId": "1"}
    logs.add_response("filter_log_events", {"events": [line], "nextToken": "t2"}, params | {"nextToken": "t1"})
    answer = await _ok(client, "search_logs", {"log_group": "/ecs/shop", "limit": 10})
    assert [event["message"] for event in answer["events"]] == ["found"]
    assert answer["events"][0]["at"] == "2023-11-14T22:13:20.000Z"
    assert answer["next_cursor"] is not None
    assert decode_cursor(answer["next_cursor"], keys=frozenset({"token"})) == {"token": "t2"}
    logs.assert_no_pending_responses()

    logs.add_response("filter_log_events", {"events": [], "nextToken": "q1"}, params)
    for n in range(1, 5):  # a long quiet stretch: the cursor comes back, so the search can go on
        logs.add_response(
            "filter_log_events", {"events": [], "nextToken": f"q{n + 1}"}, params | {"nextToken": f"q{n}"}
        )
    quiet = await _ok(client, "search_logs", {"log_group": "/ecs/shop", "limit": 10})
    assert quiet["events"] == []
    assert quiet["next_cursor"] is not None
    assert decode_cursor(quiet["next_cursor"], keys=frozenset({"token"})) == {"token": "q5"}
    logs.assert_no_pending_responses()


async def test_long_lines_are_cut_after_redaction_and_hidden_characters_removed(
    client: Client, deps: ObservabilityDeps
) -> None:
    logs = _stub(deps, "logs")
    straddling = "x" * 1_990 + " AKIAIOSFODNN7EXAMPLE " + "y" * 3_000  # the key crosses the 2,000th character
    hidden = "deploy\u200b ok\u202e done\n"
    events = [
        {"logStreamName": "s", "timestamp": 1_700_000_000_000, "message": straddling, "eventId": "1"},
        {"logStreamName": "s", "timestamp": 1_700_000_001_000, "message": hidden, "eventId": "2"},
    ]
    logs.add_response("filter_log_events", {"events": events}, None)
    answer = await _ok(client, "search_logs", {"log_group": "/ecs/shop"})
    cut, clean = (event["message"] for event in answer["events"])
    assert cut.startswith("x" * 1_990 + " [REDACTED")
    assert cut.endswith("…[3002 more chars]")
    assert len(cut) == 2_000 + len("…[3002 more chars]")
    assert "AKIA" not in cut
    assert clean == "deploy ok done"
    assert answer["redacted"] is True


async def test_start_after_end_and_too_long_a_range_are_refused(client: Client, w: World) -> None:
    now = datetime.now(UTC)
    late, early = _iso(now), _iso(now - timedelta(hours=2))
    text = await _refused(client, "search_logs", {"log_group": w.log_group, "start": late, "end": early})
    assert "start must be before end." in text
    same = await _refused(client, "search_logs", {"log_group": w.log_group, "start": late, "end": late})
    assert "start must be before end." in same
    ancient = _iso(now - timedelta(days=500))
    too_long = await _refused(client, "search_logs", {"log_group": w.log_group, "start": ancient})
    assert "455 days at most" in too_long


async def test_a_range_without_the_lines_finds_none(client: Client, w: World) -> None:
    now = datetime.now(UTC)
    earlier = {"start": _iso(now - timedelta(hours=5)), "end": _iso(now - timedelta(hours=4))}
    answer = await _ok(client, "search_logs", {"log_group": w.log_group, **earlier})
    assert answer["events"] == []


async def test_an_unknown_log_group_is_a_clear_not_found(client: Client) -> None:
    text = await _refused(client, "search_logs", {"log_group": f"/ecs/none-{uuid4().hex[:6]}"})
    assert "AWS found nothing for logs:FilterLogEvents in region eu-central-1" in text
    assert "The specified log group does not exist." in text


async def test_a_log_group_name_aws_would_refuse_is_refused_before_asking(client: Client) -> None:
    text = await _refused(client, "search_logs", {"log_group": "/ecs/x y;rm -rf"})
    assert "log_group" in text


# -- tail_task_logs ---------------------------------------------------------------------------------------------------


async def test_tail_gives_the_last_lines_of_the_tasks_container_redacted(client: Client, w: World) -> None:
    answer = await _ok(client, "tail_task_logs", {"cluster": w.cluster, "task": w.task, "lines": 2})
    assert [event["message"] for event in answer["events"]] == [
        "connecting with password=[REDACTED] and [REDACTED]",
        "GET /cart 200",
    ]
    assert [event["stream"] for event in answer["events"]] == [w.stream, w.stream]
    assert answer["redacted"] is True
    assert answer["next_cursor"] is None
    for secret in SECRET_PARTS:
        assert secret not in json.dumps(answer)

    arn = f"arn:aws:ecs:{world.REGION}:123456789012:task/{w.cluster}/{w.task}"
    by_arn = await _ok(client, "tail_task_logs", {"cluster": w.cluster, "task": arn, "container": w.container})
    assert next(event["message"] for event in by_arn["events"]) == "starting"
    assert len(by_arn["events"]) == 5


async def test_tail_of_an_unknown_task_is_a_clear_error(client: Client, w: World) -> None:
    text = await _refused(client, "tail_task_logs", {"cluster": w.cluster, "task": "0123456789abcdef"})
    assert f"No task '0123456789abcdef' in cluster '{w.cluster}'" in text
    unknown_cluster = await _refused(client, "tail_task_logs", {"cluster": "nowhere-cluster", "task": w.task})
    assert "nowhere-cluster" in unknown_cluster or "ClusterNotFoundException" in unknown_cluster


async def test_tail_of_a_task_whose_containers_do_not_log_with_awslogs_says_so(client: Client, w: World) -> None:
    task = _task_with(w, [{"name": "web", "image": "nginx", "memory": 64}])
    text = await _refused(client, "tail_task_logs", {"cluster": w.cluster, "task": task})
    assert f"No container of task {task} logs with the awslogs driver (web)." in text
    named = await _refused(client, "tail_task_logs", {"cluster": w.cluster, "task": task, "container": "web"})
    assert "Container 'web' does not log with the awslogs driver." in named
    missing = await _refused(client, "tail_task_logs", {"cluster": w.cluster, "task": task, "container": "db"})
    assert f"Task {task} has no container 'db'; its containers: web." in missing


async def test_tail_of_a_container_without_a_stream_prefix_points_to_search_logs(client: Client, w: World) -> None:
    logging = {"logDriver": "awslogs", "options": {"awslogs-group": w.log_group, "awslogs-region": world.REGION}}
    task = _task_with(w, [{"name": "worker", "image": "i", "memory": 64, "logConfiguration": logging}])
    text = await _refused(client, "tail_task_logs", {"cluster": w.cluster, "task": task})
    assert f"Container 'worker' logs to {w.log_group} without a stream prefix" in text
    assert "search_logs" in text


async def test_tail_reads_the_first_container_that_logs_when_none_is_named(client: Client, w: World) -> None:
    logging = {
        "logDriver": "awslogs",
        "options": {"awslogs-group": w.log_group, "awslogs-region": world.REGION, "awslogs-stream-prefix": "jobs"},
    }
    task = _task_with(
        w,
        [
            {"name": "proxy", "image": "envoy", "memory": 64},
            {"name": "job", "image": "i", "memory": 64, "logConfiguration": logging},
        ],
    )
    now = int(time.time() * 1000)
    _put_lines(w.log_group, f"jobs/job/{task}", [(now - 3_000 + n * 1_000, f"step {n}") for n in range(3)])
    answer = await _ok(client, "tail_task_logs", {"cluster": w.cluster, "task": task, "lines": 10})
    assert [event["message"] for event in answer["events"]] == ["step 0", "step 1", "step 2"]
    assert {event["stream"] for event in answer["events"]} == {f"jobs/job/{task}"}
    assert answer["redacted"] is False


# -- query_logs and stop_log_query ----------------------------------------------------------------------------------


async def test_a_running_query_comes_back_with_its_id_and_is_followed_to_its_redacted_rows(
    client: Client, deps: ObservabilityDeps
) -> None:
    logs = _stub(deps, "logs")
    start, end = datetime(2026, 11, 30, 10, 0, tzinfo=UTC), datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
    query = "filter @message like /ERROR/ | fields @timestamp, @message"
    logs.add_response(
        "start_query",
        {"queryId": "q-123"},
        {
            "logGroupNames": ["/ecs/shop"],
            "queryString": query,
            "startTime": int(start.timestamp()),
            "endTime": int(end.timestamp()),
            "limit": 100,
        },
    )
    logs.add_response(
        "get_query_results",
        {"status": "Running", "results": [], "statistics": {"recordsMatched": 0.0, "recordsScanned": 120.0}},
        {"queryId": "q-123"},
    )
    arguments = {"query": query, "log_groups": ["/ecs/shop"], "start": _iso(start), "end": _iso(end)}
    running = await _ok(client, "query_logs", arguments | {"max_wait_seconds": 0})
    assert running["status"] == "Running"
    assert running["query_id"] == "q-123"
    assert "query_id=q-123" in running["next"]
    assert "call query_logs" in running["next"]
    assert "stop_log_query" in running["next"]
    assert (running["rows"], running["rows_total"], running["records_scanned"]) == ([], 0, 120.0)
    logs.assert_no_pending_responses()

    rows = [
        [
            {"field": "@timestamp", "value": "2026-11-30 10:15:00.000"},
            {"field": "@message", "value": "ERROR login failed password=hunter2-very-secret"},
            {"field": "@ptr", "value": "CmAKJQohMTIzNDU2Nzg5MDEyOi9lY3Mvc2hvcBAHEjQaGAIGZXNwcm9k"},
        ],
        [
            {"field": "@timestamp", "value": "2026-11-30 10:16:00.000"},
            {"field": "@message", "value": "ERROR upstream 502"},
            {"field": "@ptr", "value": "CmAKJQohMTIzNDU2Nzg5MDEyOi9lY3Mvc2hvcBAHEjQaGAIGZXNwcm9l"},
        ],
    ]
    statistics = {"recordsMatched": 2.0, "recordsScanned": 240.0, "bytesScanned": 9000.0}
    done = {"status": "Complete", "results": rows, "statistics": statistics}
    logs.add_response("get_query_results", done, {"queryId": "q-123"})
    complete = await _ok(client, "query_logs", {"query_id": "q-123", "max_wait_seconds": 1})
    assert complete["status"] == "Complete"
    assert complete["next"] == "Done."
    assert complete["rows"] == [
        {"@timestamp": "2026-11-30 10:15:00.000", "@message": "ERROR login failed password=[REDACTED]"},
        {"@timestamp": "2026-11-30 10:16:00.000", "@message": "ERROR upstream 502"},
    ]
    assert (complete["rows_total"], complete["records_matched"], complete["records_scanned"]) == (2, 2.0, 240.0)
    assert "hunter2" not in json.dumps(complete)

    logs.add_response("get_query_results", done, {"queryId": "q-123"})
    first_only = await _ok(client, "query_logs", {"query_id": "q-123", "max_rows": 1})
    assert [row["@message"] for row in first_only["rows"]] == ["ERROR login failed password=[REDACTED]"]
    assert first_only["rows_total"] == 2
    logs.assert_no_pending_responses()


async def test_a_running_query_is_looked_at_again_until_it_completes_within_the_wait(
    client: Client, deps: ObservabilityDeps
) -> None:
    logs = _stub(deps, "logs")
    logs.add_response("get_query_results", {"status": "Running", "results": []}, {"queryId": "q-9"})
    complete = {"status": "Complete", "results": [[{"field": "count()", "value": "7"}]]}
    logs.add_response("get_query_results", complete, {"queryId": "q-9"})
    answer = await _ok(client, "query_logs", {"query_id": "q-9", "max_wait_seconds": 3})
    assert (answer["status"], answer["rows"]) == ("Complete", [{"count()": "7"}])
    logs.assert_no_pending_responses()


async def test_a_failed_query_says_so_and_what_to_do(client: Client, deps: ObservabilityDeps) -> None:
    logs = _stub(deps, "logs")
    logs.add_response("get_query_results", {"status": "Failed", "results": []}, {"queryId": "q-bad"})
    answer = await _ok(client, "query_logs", {"query_id": "q-bad", "max_wait_seconds": 5})
    assert answer["status"] == "Failed"
    assert answer["next"] == "The query ended Failed: check its syntax and log groups, then start it again."
    logs.assert_no_pending_responses()


async def test_starting_a_query_needs_a_query_and_log_groups(client: Client, deps: ObservabilityDeps) -> None:
    _stub(deps, "logs")  # nothing queued: a call to CloudWatch would fail differently
    expected = "Give query and log_groups to start a query, or query_id to follow one."
    assert expected in await _refused(client, "query_logs", {})
    assert expected in await _refused(client, "query_logs", {"query": "stats count(*)"})
    assert expected in await _refused(client, "query_logs", {"log_groups": ["/ecs/shop"]})
    assert expected in await _refused(client, "query_logs", {"query": "", "log_groups": ["/ecs/shop"]})


async def test_an_unknown_query_id_is_not_found(client: Client, deps: ObservabilityDeps) -> None:
    logs = _stub(deps, "logs")
    logs.add_client_error(
        "get_query_results",
        service_error_code="ResourceNotFoundException",
        service_message="Query does not exist.",
        http_status_code=400,
    )
    text = await _refused(client, "query_logs", {"query_id": "q-gone"})
    assert "AWS found nothing for logs:GetQueryResults in region eu-central-1" in text
    assert "Query does not exist." in text


async def test_stop_log_query_stops_a_running_query(client: Client, deps: ObservabilityDeps) -> None:
    logs = _stub(deps, "logs")
    logs.add_response("stop_query", {"success": True}, {"queryId": "q-123"})
    logs.add_response("stop_query", {"success": False}, {"queryId": "q-done"})
    stopped = await _ok(client, "stop_log_query", {"query_id": "q-123"})
    assert stopped == {"account": "123456789012", "region": world.REGION, "query_id": "q-123", "stopped": True}
    finished = await _ok(client, "stop_log_query", {"query_id": "q-done"})
    assert finished["stopped"] is False
    logs.assert_no_pending_responses()


async def test_stop_log_query_is_refused_naming_the_setting_while_writes_are_disabled(tmp_path: Path) -> None:
    settings = ObservabilitySettings(data_dir=tmp_path, toolsets=["all"], allow_writes=False)
    deps = world.deps(settings)
    logs = _stub(deps, "logs")  # nothing queued: a StopQuery sent would fail differently
    async with Client(SERVER.build(settings, deps=deps)) as client:
        text = await _refused(client, "stop_log_query", {"query_id": "q-123"})
        assert "stop_log_query changes data, and writes are disabled on the observability server" in text
        assert "AFU9_ALLOW_WRITES" in text
        assert "Nothing was changed." in text
    logs.assert_no_pending_responses()


# -- get_metric_series -----------------------------------------------------------------------------------------------


async def test_a_metric_series_gives_one_series_per_statistic(client: Client) -> None:
    namespace = f"Afu9/Test{uuid4().hex[:6]}"
    base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    dimensions = [{"Name": "Service", "Value": "cart"}]
    boto("cloudwatch").put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "Latency", "Dimensions": dimensions, "Timestamp": base + timedelta(seconds=s), "Value": v}
            for s, v in ((5, 1.0), (20, 3.0), (125, 5.0))
        ],
    )
    arguments = {
        "namespace": namespace,
        "metric": "Latency",
        "dimensions": {"Service": "cart"},
        "stats": ["Average", "Maximum", "Sum", "Minimum", "SampleCount"],
        "start": _iso(base - timedelta(minutes=5)),
        "end": _iso(base + timedelta(minutes=5)),
    }
    answer = await _ok(client, "get_metric_series", arguments)
    assert (answer["namespace"], answer["metric"], answer["period"]) == (namespace, "Latency", 60)
    assert answer["truncated"] is False
    assert (answer["account"], answer["region"]) == ("123456789012", world.REGION)
    by_stat = {series["stat"]: series for series in answer["series"]}
    assert list(by_stat) == ["Average", "Maximum", "Sum", "Minimum", "SampleCount"]
    assert {stat: series["values"] for stat, series in by_stat.items()} == {
        "Average": [2.0, 5.0],
        "Maximum": [3.0, 5.0],
        "Sum": [4.0, 5.0],
        "Minimum": [1.0, 5.0],
        "SampleCount": [2.0, 1.0],
    }
    assert by_stat["Average"]["times"] == [_iso(base), _iso(base + timedelta(minutes=2))]
    average = by_stat["Average"]
    assert (average["latest"], average["minimum"], average["maximum"], average["mean"]) == (5.0, 2.0, 5.0, 3.5)

    other = await _ok(client, "get_metric_series", arguments | {"dimensions": {"Service": "checkout"}})
    assert all(series["values"] == [] and series["latest"] is None for series in other["series"])


async def test_times_are_utc_whatever_the_servers_local_time_zone(client: Client, w: World, tokyo_time: None) -> None:
    answer = await _ok(
        client,
        "get_metric_series",
        {
            "namespace": "AWS/ECS",
            "metric": "CPUUtilization",
            "dimensions": {"ClusterName": w.cluster, "ServiceName": w.service},
        },
    )
    times = answer["series"][0]["times"]
    assert len(times) == 1
    assert times[0].endswith("Z")
    moment = datetime.fromisoformat(times[0].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - moment) < timedelta(minutes=8)


async def test_percentiles_are_asked_of_cloudwatch_as_extended_statistics(
    client: Client, deps: ObservabilityDeps
) -> None:
    cloudwatch = _stub(deps, "cloudwatch")
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(days=7)
    metric = {
        "Namespace": "AWS/ApplicationELB",
        "MetricName": "TargetResponseTime",
        "Dimensions": [
            {"Name": "LoadBalancer", "Value": "app/shop/1234567890abcdef"},
            {"Name": "TargetGroup", "Value": "targetgroup/shop/abcdef0123456789"},
        ],
    }
    expected = {
        "MetricDataQueries": [
            {"Id": "s0", "MetricStat": {"Metric": metric, "Period": 1260, "Stat": "p99"}},
            {"Id": "s1", "MetricStat": {"Metric": metric, "Period": 1260, "Stat": "p50"}},
        ],
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
    }
    results = [
        {"Id": "s0", "StatusCode": "Complete", **_points(start, [0.25, 1.5, 0.75], 1260)},
        {"Id": "s1", "StatusCode": "Complete", **_points(start, [0.05, 0.1, 0.08], 1260)},
    ]
    cloudwatch.add_response("get_metric_data", {"MetricDataResults": results}, expected)
    answer = await _ok(
        client,
        "get_metric_series",
        {
            "namespace": "AWS/ApplicationELB",
            "metric": "TargetResponseTime",
            "dimensions": {
                "TargetGroup": "targetgroup/shop/abcdef0123456789",
                "LoadBalancer": "app/shop/1234567890abcdef",
            },
            "stats": ["p99", "p50"],
            "start": _iso(start),
            "end": _iso(end),
        },
    )
    cloudwatch.assert_no_pending_responses()
    assert answer["period"] == 1260
    p99, p50 = answer["series"]
    assert (p99["stat"], p99["values"], p99["maximum"], p99["latest"]) == ("p99", [0.25, 1.5, 0.75], 1.5, 0.75)
    assert p99["times"] == [_iso(start), _iso(start + timedelta(seconds=1260)), _iso(start + timedelta(seconds=2520))]
    assert (p50["stat"], p50["minimum"], p50["mean"]) == ("p50", 0.05, round((0.05 + 0.1 + 0.08) / 3, 6))


@pytest.mark.parametrize(
    ("back", "span", "period"),
    [
        (timedelta(hours=1), timedelta(hours=1), 60),
        (timedelta(days=1), timedelta(days=1), 180),
        (timedelta(days=7), timedelta(days=7), 1260),
        (timedelta(days=30), timedelta(days=30), 5400),  # starts over 15 days back: a multiple of 300 s
        (timedelta(days=30), timedelta(hours=1), 300),
        (timedelta(days=90), timedelta(days=90), 18000),  # over 63 days back: a multiple of 3600 s
        (timedelta(days=90), timedelta(hours=2), 3600),
    ],
)
async def test_the_default_period_fits_the_range_in_the_points_shown_and_in_what_cloudwatch_keeps(
    client: Client, deps: ObservabilityDeps, back: timedelta, span: timedelta, period: int
) -> None:
    cloudwatch = _stub(deps, "cloudwatch")
    requests = _sent(deps, "cloudwatch", "GetMetricData")
    cloudwatch.add_response("get_metric_data", {"MetricDataResults": []}, None)
    start = datetime.now(UTC) - back
    arguments = {"namespace": "AWS/ECS", "metric": "CPUUtilization", "start": _iso(start), "end": _iso(start + span)}
    answer = await _ok(client, "get_metric_series", arguments)
    assert answer["period"] == period
    assert span.total_seconds() / period <= 500
    assert requests[0]["MetricDataQueries"][0]["MetricStat"]["Period"] == period


async def test_a_period_cloudwatch_would_answer_with_no_data_is_refused(
    client: Client, deps: ObservabilityDeps
) -> None:
    _stub(deps, "cloudwatch")  # nothing queued: a call to CloudWatch would fail differently
    start = datetime.now(UTC) - timedelta(days=80)
    arguments = {"namespace": "AWS/ECS", "metric": "CPUUtilization", "start": _iso(start), "period": 300}
    text = await _refused(client, "get_metric_series", arguments)
    assert "multiple of 3600 s" in text
    assert "period=3600" in text
    month = {**arguments, "start": _iso(datetime.now(UTC) - timedelta(days=20)), "period": 120}
    assert "multiple of 300 s" in await _refused(client, "get_metric_series", month)
    not_minutes = await _refused(client, "get_metric_series", arguments | {"period": 90})
    assert "period" in not_minutes


async def test_dimensions_and_statistics_are_validated_before_asking_cloudwatch(
    client: Client, deps: ObservabilityDeps
) -> None:
    _stub(deps, "cloudwatch")  # nothing queued: a call to CloudWatch would fail differently
    base = {"namespace": "AWS/ECS", "metric": "CPUUtilization"}
    dimension_rule = "Each dimension needs a name (at most 255 characters) and a value (at most 1024)."
    for dimensions in ({"": "c"}, {"ClusterName": ""}, {"ClusterName": "c" * 1025}, {"n" * 256: "c"}):
        assert dimension_rule in await _refused(client, "get_metric_series", base | {"dimensions": dimensions})
    too_many = {f"D{n}": "v" for n in range(31)}
    assert "dimensions" in await _refused(client, "get_metric_series", base | {"dimensions": too_many})
    for stats in (["avg"], ["p999"], ["p99", "Average; DROP"], [], ["Sum"] * 6):
        assert "stats" in await _refused(client, "get_metric_series", base | {"stats": stats})
    assert "namespace" in await _refused(client, "get_metric_series", base | {"namespace": ":AWS"})


async def test_more_than_500_points_are_truncated_to_the_newest_with_figures_over_the_whole_range(
    client: Client, deps: ObservabilityDeps
) -> None:
    cloudwatch = _stub(deps, "cloudwatch")
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=10)
    values = [1000.0, -5.0] + [float(n % 50) for n in range(2, 600)]  # the extremes are old points, not shown
    points = _points(start, values)
    first = {"Id": "s0", "Timestamps": points["Timestamps"][300:], "Values": points["Values"][300:]}
    second = {"Id": "s0", "Timestamps": points["Timestamps"][:300], "Values": points["Values"][:300]}
    cloudwatch.add_response("get_metric_data", {"MetricDataResults": [first], "NextToken": "page-2"}, None)
    cloudwatch.add_response(
        "get_metric_data",
        {"MetricDataResults": [second]},
        {"MetricDataQueries": ANY, "StartTime": ANY, "EndTime": ANY, "ScanBy": ANY, "NextToken": "page-2"},
    )
    arguments = {"namespace": "AWS/ECS", "metric": "CPUUtilization", "start": _iso(start), "period": 60}
    answer = await _ok(client, "get_metric_series", arguments)
    cloudwatch.assert_no_pending_responses()
    assert answer["truncated"] is True
    (series,) = answer["series"]
    assert len(series["values"]) == len(series["times"]) == 500
    assert series["values"] == values[100:]
    assert series["times"][0] == _iso(start + timedelta(minutes=100))
    assert series["times"] == sorted(series["times"])
    assert series["latest"] == values[-1]
    assert series["maximum"] == 1000.0
    assert series["minimum"] == -5.0
    assert series["mean"] == round(sum(values) / len(values), 6)


# -- get_service_metrics ---------------------------------------------------------------------------------------------


async def test_service_metrics_give_the_ecs_figures_of_the_seeded_service(client: Client, w: World) -> None:
    answer = await _ok(client, "get_service_metrics", {"cluster": w.cluster, "service": w.service})
    assert answer["service"] == f"{w.cluster}/{w.service}"
    assert (answer["cpu_percent"], answer["cpu_percent_max"]) == (30.0, 40.0)
    assert (answer["memory_percent"], answer["memory_percent_max"]) == (None, None)
    assert answer["note"] is None  # it has a load balancer; moto simply has no ALB figures
    assert answer["requests"] is None
    assert answer["error_rate_percent"] is None
    start, end = (datetime.fromisoformat(part.replace("Z", "+00:00")) for part in answer["window"].split("/"))
    assert end - start == timedelta(hours=1)
    cluster_arn = f"arn:aws:ecs:{world.REGION}:123456789012:cluster/{w.cluster}"
    by_arn = await _ok(client, "get_service_metrics", {"cluster": cluster_arn, "service": w.service})
    assert (by_arn["service"], by_arn["cpu_percent"]) == (f"{w.cluster}/{w.service}", 30.0)


async def test_service_metrics_compute_the_error_rate_and_latency_from_the_alb_figures(
    client: Client, deps: ObservabilityDeps, w: World
) -> None:
    cloudwatch = _stub(deps, "cloudwatch")
    requests = _sent(deps, "cloudwatch", "GetMetricData")
    start = datetime.now(UTC) - timedelta(hours=1)
    figures = {
        "cpu": [35.0, 45.0],
        "cpu_max": [60.0, 90.5],
        "memory": [50.0],
        "memory_max": [70.0],
        "requests": [600.0, 400.0],
        "target_5xx": [5.0, 7.0],
        "elb_5xx": [3.0],
        "p95": [0.25],
        "p99": [1.2345],
        "healthy_min": [3.0, 2.0],
        "unhealthy_max": [0.0, 1.0],
    }
    results = [{"Id": key, "StatusCode": "Complete", **_points(start, values)} for key, values in figures.items()]
    cloudwatch.add_response("get_metric_data", {"MetricDataResults": results}, None)
    answer = await _ok(client, "get_service_metrics", {"cluster": w.cluster, "service": w.service})
    cloudwatch.assert_no_pending_responses()
    assert answer["error_rate_percent"] == 1.5  # (12 target + 3 ELB) / 1000 requests
    assert (answer["requests"], answer["target_5xx"], answer["elb_5xx"]) == (1000.0, 12.0, 3.0)
    assert (answer["latency_p95_ms"], answer["latency_p99_ms"]) == (250.0, 1234.5)
    assert (answer["healthy_hosts_min"], answer["unhealthy_hosts_max"]) == (2.0, 1.0)
    assert (answer["cpu_percent"], answer["cpu_percent_max"]) == (40.0, 90.5)
    assert (answer["memory_percent"], answer["memory_percent_max"]) == (50.0, 70.0)
    assert answer["note"] is None

    (request,) = requests
    asked = {query["Id"]: query["MetricStat"] for query in request["MetricDataQueries"]}
    assert set(asked) == set(figures)
    assert {stat["Period"] for stat in asked.values()} == {3600}
    target_group = w.target_group_arn.split(":")[-1]
    balancer = w.load_balancer_arn.split(":loadbalancer/")[-1]
    assert target_group.startswith("targetgroup/")
    assert balancer.startswith("app/")
    alb = [{"Name": "LoadBalancer", "Value": balancer}, {"Name": "TargetGroup", "Value": target_group}]
    assert asked["p99"] == {
        "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "TargetResponseTime", "Dimensions": alb},
        "Period": 3600,
        "Stat": "p99",
    }
    assert asked["p95"]["Stat"] == "p95"
    assert asked["requests"]["Stat"] == "Sum"
    assert asked["requests"]["Metric"]["MetricName"] == "RequestCount"
    assert asked["elb_5xx"]["Metric"]["Dimensions"] == [{"Name": "LoadBalancer", "Value": balancer}]
    assert asked["elb_5xx"]["Metric"]["MetricName"] == "HTTPCode_ELB_5XX_Count"
    assert asked["target_5xx"]["Metric"]["MetricName"] == "HTTPCode_Target_5XX_Count"
    assert asked["cpu"]["Metric"]["Dimensions"] == [
        {"Name": "ClusterName", "Value": w.cluster},
        {"Name": "ServiceName", "Value": w.service},
    ]


async def test_no_requests_means_no_error_rate_rather_than_a_division_by_zero(
    client: Client, deps: ObservabilityDeps, w: World
) -> None:
    cloudwatch = _stub(deps, "cloudwatch")
    start = datetime.now(UTC) - timedelta(hours=1)
    results = [
        {"Id": "requests", "StatusCode": "Complete", **_points(start, [0.0])},
        {"Id": "elb_5xx", "StatusCode": "Complete", **_points(start, [2.0])},
    ]
    cloudwatch.add_response("get_metric_data", {"MetricDataResults": results}, None)
    answer = await _ok(client, "get_service_metrics", {"cluster": w.cluster, "service": w.service})
    assert (answer["requests"], answer["elb_5xx"], answer["error_rate_percent"]) == (0.0, 2.0, None)


async def test_a_service_without_a_load_balancer_gets_its_ecs_figures_and_a_note(client: Client, w: World) -> None:
    ecs = boto("ecs")
    definition = ecs.describe_services(cluster=w.cluster, services=[w.service])["services"][0]["taskDefinition"]
    ecs.create_service(cluster=w.cluster, serviceName="worker", taskDefinition=definition, desiredCount=1)
    answer = await _ok(client, "get_service_metrics", {"cluster": w.cluster, "service": "worker"})
    assert answer["note"] == "No load balancer target group: only ECS figures."
    assert answer["service"] == f"{w.cluster}/worker"
    assert all(answer[key] is None for key in ("requests", "error_rate_percent", "latency_p99_ms"))


async def test_a_target_group_no_load_balancer_forwards_to_gets_a_note(client: Client, w: World) -> None:
    vpc = boto("ec2").create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    name = f"lone-{uuid4().hex[:6]}"
    group = boto("elbv2").create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")
    ecs = boto("ecs")
    definition = ecs.describe_services(cluster=w.cluster, services=[w.service])["services"][0]["taskDefinition"]
    lone = {"targetGroupArn": group["TargetGroups"][0]["TargetGroupArn"], "containerName": "app", "containerPort": 80}
    ecs.create_service(cluster=w.cluster, serviceName=name, taskDefinition=definition, loadBalancers=[lone])
    answer = await _ok(client, "get_service_metrics", {"cluster": w.cluster, "service": name})
    assert answer["note"] is not None
    assert "not attached to a load balancer" in answer["note"]
    assert answer["requests"] is None


async def test_service_metrics_of_an_unknown_service_is_a_clear_not_found(client: Client, w: World) -> None:
    text = await _refused(client, "get_service_metrics", {"cluster": w.cluster, "service": "ghost"})
    assert "ghost" in text
    assert w.cluster in text
    nowhere = await _refused(client, "get_service_metrics", {"cluster": "nowhere", "service": "ghost"})
    assert "ClusterNotFoundException" in nowhere or "nowhere" in nowhere


# -- AWS not configured, throttled ---------------------------------------------------------------------------------


async def test_without_a_region_every_tool_names_aws_region_and_the_server_keeps_serving(
    tmp_path: Path, no_aws_settings: None
) -> None:
    settings = ObservabilitySettings(data_dir=tmp_path, toolsets=["all"], allow_writes=True)
    aws = AwsClients(region=None, endpoint_url=moto_url(), max_attempts=1, credentials=CREDENTIALS)
    deps = ObservabilityDeps(database=Database(settings.sqlalchemy_url()), aws=aws, settings=settings)
    calls = {
        "search_logs": {"log_group": "/ecs/shop"},
        "query_logs": {"query": "stats count(*)", "log_groups": ["/ecs/shop"]},
        "stop_log_query": {"query_id": "q-1"},
        "tail_task_logs": {"cluster": "shop", "task": "0123456789abcdef"},
        "get_metric_series": {"namespace": "AWS/ECS", "metric": "CPUUtilization"},
        "get_service_metrics": {"cluster": "shop", "service": "api"},
    }
    assert set(calls) == LOGS_AND_METRICS
    async with Client(SERVER.build(settings, deps=deps)) as client:
        for _ in range(2):
            for tool, arguments in calls.items():
                text = await _refused(client, tool, arguments)
                assert "AWS_REGION" in text, (tool, text)
                assert "not configured on this server" in text, (tool, text)
        tools = await client.list_tools()
        assert {tool.name for tool in tools.tools} >= LOGS_AND_METRICS


async def test_throttling_says_when_to_retry(client: Client, deps: ObservabilityDeps, w: World) -> None:
    logs, cloudwatch = _stub(deps, "logs"), _stub(deps, "cloudwatch")
    for operation in ("filter_log_events", "start_query"):
        logs.add_client_error(
            operation, service_error_code="ThrottlingException", service_message="Rate exceeded", http_status_code=400
        )
    cloudwatch.add_client_error(
        "get_metric_data",
        service_error_code="ThrottlingException",
        service_message="Rate exceeded",
        http_status_code=400,
    )
    throttled = [
        ("search_logs", {"log_group": w.log_group}, "logs:FilterLogEvents"),
        ("query_logs", {"query": "stats count(*)", "log_groups": [w.log_group]}, "logs:StartQuery"),
        ("get_service_metrics", {"cluster": w.cluster, "service": w.service}, "monitoring:GetMetricData"),
    ]
    for tool, arguments, action in throttled:
        text = await _refused(client, tool, arguments)
        assert f"AWS throttled {action} in region {world.REGION} (ThrottlingException: Rate exceeded)" in text, text
        assert "Retry in about 10 s" in text
    logs.assert_no_pending_responses()
    cloudwatch.assert_no_pending_responses()
    logs.deactivate()  # the throttling is over: the same server answers
    again = await _ok(client, "tail_task_logs", {"cluster": w.cluster, "task": w.task, "lines": 1})
    assert [event["message"] for event in again["events"]] == ["GET /cart 200"]
