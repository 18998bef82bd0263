"""The engine running workflows in this process on SQLite and PostgreSQL: tool steps against the real factory
server and a stand-in server, retries with a controllable clock, on_error, compensation, approvals, parallel,
map, loop, switch, waits, sub-workflows, cancellation, pinned versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator.engine import InvalidInputs, NotWaiting
from servers.factory.server import SERVER as FACTORY
from servers.factory.settings import FactorySettings
from tests.orchestrator.conftest import workflow
from tests.orchestrator.engines import Clock, Recorder, publish, recorder_server, running_engine, wait_for

pytestmark = pytest.mark.anyio


def rec(step_id: str, tool: str = "record", **fields: Any) -> dict[str, Any]:
    arguments = fields.pop("arguments", {"name": step_id})
    return {"id": step_id, "type": "tool", "server": "rec", "tool": tool, "arguments": arguments, **fields}


def servers(recorder: Recorder, database_url: str | None = None, tmp_path: Path | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"rec": recorder_server(recorder)}
    if database_url is not None and tmp_path is not None:
        values: dict[str, Any] = {"database_url": database_url, "data_dir": tmp_path, "allow_writes": True}
        settings = FactorySettings(**values)
        found["factory"] = FACTORY.build(settings)
    return found


async def test_factory_workflow_runs_and_writes_the_read_model(database_url: str, tmp_path: Path) -> None:
    document = workflow(
        {
            "id": "catalog",
            "type": "tool",
            "server": "factory",
            "tool": "list_kpis",
            "arguments": {"limit": 3},
            "outputs": {"first": "result.kpis[0].kpi_id"},
        },
        {
            "id": "measure",
            "type": "tool",
            "server": "factory",
            "tool": "record_kpi_measurement",
            "write": True,
            "arguments": {"kpi_id": "${{ steps.catalog.outputs.first }}", "value": "${{ inputs.value }}"},
            "idempotency_key": "m-${{ execution.id }}",
        },
        inputs={"type": "object", "required": ["value"], "properties": {"value": {"type": "number"}}},
        outputs={"kpi": "steps.catalog.outputs.first", "recorded": "steps.measure.output.measurement.value"},
    )
    async with running_engine(database_url, tmp_path, servers(Recorder(), database_url, tmp_path)) as engine:
        stored = await publish(engine.database, document)
        execution_id = await engine.start(stored, {"value": 4.5}, triggered_by="test")
        result = await engine.result(execution_id)
        assert result["status"] == "completed", result
        assert result["outputs"]["recorded"] == 4.5
        row = await engine.readmodel.execution(execution_id)
        assert row is not None
        assert row["status"] == "completed"
        assert row["definition_hash"] == stored.content_hash
        steps = {s["step_path"]: s for s in await engine.readmodel.steps(execution_id)}
        assert steps["measure"]["status"] == "completed"
        assert steps["measure"]["input"]["arguments"]["kpi_id"] == result["outputs"]["kpi"]

        with pytest.raises(InvalidInputs, match="value"):
            await engine.start(stored, {"value": "high"}, triggered_by="test")


async def test_retries_wait_with_capped_jitter_then_succeed(sqlite_url: str, tmp_path: Path) -> None:
    recorder = Recorder(failures={"f": 4})
    clock = Clock()
    retry = {"max_attempts": 6, "initial_interval": "1s", "backoff_rate": 2, "max_interval": "3s", "jitter": "full"}
    document = workflow(rec("f", "flaky", retry=retry))
    async with running_engine(sqlite_url, tmp_path, servers(recorder), clock=clock) as engine:
        execution_id = await engine.start(await publish(engine.database, document), {}, triggered_by="test")
        result = await engine.result(execution_id)
    assert result["status"] == "completed"
    assert recorder.calls["f"] == 5
    assert len(clock.waits) == 4
    for attempt, wait in enumerate(clock.waits, start=1):
        assert 0 <= wait <= min(3.0, 1.0 * 2 ** (attempt - 1))
    assert len(set(clock.waits)) == 4  # jittered, not a fixed schedule


async def test_retry_without_jitter_follows_the_exponential_schedule_and_gives_up(
    sqlite_url: str, tmp_path: Path
) -> None:
    recorder = Recorder(failures={"f": 10})
    clock = Clock()
    retry = {"max_attempts": 4, "initial_interval": "500ms", "backoff_rate": 3, "max_interval": "2s", "jitter": "none"}
    document = workflow(rec("f", "flaky", retry=retry))
    async with running_engine(sqlite_url, tmp_path, servers(recorder), clock=clock) as engine:
        execution_id = await engine.start(await publish(engine.database, document), {}, triggered_by="test")
        result = await engine.result(execution_id)
        steps = await engine.readmodel.steps(execution_id)
    assert clock.waits == [0.5, 1.5, 2.0]
    assert recorder.calls["f"] == 4
    assert result["status"] == "failed"
    assert "after 4 attempts" in result["error"]
    assert steps[0]["status"] == "failed"
    assert steps[0]["attempt"] == 4


async def test_permanent_errors_are_not_retried_and_on_error_continue_goes_on(sqlite_url: str, tmp_path: Path) -> None:
    recorder = Recorder()
    retry = {"max_attempts": 5, "initial_interval": "1s"}
    document = workflow(
        rec("bad", "broken", arguments={}, retry=retry, on_error="continue"),
        rec("after", **{"if": "steps.bad.status == 'failed'"}),
    )
    async with running_engine(sqlite_url, tmp_path, servers(recorder), clock=Clock()) as engine:
        execution_id = await engine.start(await publish(engine.database, document), {}, triggered_by="test")
        result = await engine.result(execution_id)
    assert result["status"] == "completed"
    assert recorder.calls["broken"] == 1
    assert recorder.calls["after"] == 1


async def test_step_timeout_fails_the_attempt(sqlite_url: str, tmp_path: Path) -> None:
    document = workflow(rec("nap", "slow", arguments={"seconds": 5}, timeout="200ms"))
    async with running_engine(sqlite_url, tmp_path, servers(Recorder())) as engine:
        execution_id = await engine.start(await publish(engine.database, document), {}, triggered_by="test")
        result = await engine.result(execution_id)
    assert result["status"] == "failed"
    assert "no answer within 0.2 s" in result["error"]


async def test_on_error_compensate_undoes_completed_steps_newest_first(database_url: str, tmp_path: Path) -> None:
    recorder = Recorder()

    def undo(name: str) -> dict[str, Any]:
        return {"server": "rec", "tool": "record", "arguments": {"name": name}}

    document = workflow(
        rec("a", compensate=undo("undo_a")),
        rec("b", compensate=undo("undo_b")),
        rec("skipme", compensate=undo("undo_skip"), **{"if": "`false`"}),
        rec("c", "broken", arguments={}, on_error="compensate"),
        rec("never"),
    )
    async with running_engine(database_url, tmp_path, servers(recorder)) as engine:
        execution_id = await engine.start(await publish(engine.database, document), {}, triggered_by="test")
        result = await engine.result(execution_id)
        undone = await engine.readmodel.steps(execution_id, compensation=True)
    assert result["status"] == "failed"
    assert recorder.order == ["a", "b", "undo_b", "undo_a"]
    assert {row["status"] for row in undone} == {"completed"}


async def test_cancel_stops_an_execution_waiting_for_approval_and_compensates(
    database_url: str, tmp_path: Path
) -> None:
    recorder = Recorder()
    document = workflow(
        rec("a", compensate={"server": "rec", "tool": "record", "arguments": {"name": "undo_a"}}),
        rec("b", compensate={"server": "rec", "tool": "record", "arguments": {"name": "undo_b"}}),
        {"id": "gate", "type": "approval", "message": "go?"},
        rec("after"),
    )
    async with running_engine(database_url, tmp_path, servers(recorder)) as engine:
        execution_id = await engine.start(await publish(engine.database, document), {}, triggered_by="test")
        await wait_for(engine, execution_id, "gate", "waiting")
        cancelled = await engine.cancel(execution_id, actor="ops")
        assert cancelled["changed"] is True
        assert cancelled["compensated"] == ["b", "a"]
        row = await engine.readmodel.execution(execution_id)
        assert row is not None
        assert row["status"] == "cancelled"
        again = await engine.cancel(execution_id, actor="ops")
        assert again["changed"] is False
        assert again["status"] == "cancelled"
        with pytest.raises(NotWaiting):
            await engine.decide(execution_id, "gate", "approved", actor="late")
    assert recorder.order == ["a", "b", "undo_b", "undo_a"]


async def test_parallel_branches_with_an_approval_in_one_branch(database_url: str, tmp_path: Path) -> None:
    recorder = Recorder()
    document = workflow(
        {
            "id": "both",
            "type": "parallel",
            "branches": {
                "left": [rec("l1"), {"id": "ok", "type": "approval", "message": "ship ${{ inputs.what }}?"}, rec("l2")],
                "right": [rec("r1"), rec("r2")],
            },
        },
        rec("done", arguments={"name": "${{ steps.ok.output.decision }}"}),
        inputs={"type": "object", "properties": {"what": {"type": "string", "default": "v1"}}},
    )
    async with running_engine(database_url, tmp_path, servers(recorder)) as engine:
        execution_id = await engine.start(await publish(engine.database, document), {}, triggered_by="test")
        waiting = await wait_for(engine, execution_id, "both/left/ok", "waiting")
        assert waiting["input"]["message"] == "ship v1?"
        await wait_for(engine, execution_id, "both/right/r2", "completed")
        with pytest.raises(NotWaiting):
            await engine.decide(execution_id, "r2", "approved", actor="ann")
        await engine.decide(execution_id, "ok", "approved", actor="ann", reason="fine")
        result = await engine.result(execution_id)
    assert result["status"] == "completed", result
    assert recorder.calls == {"l1": 1, "l2": 1, "r1": 1, "r2": 1, "approved": 1}


async def test_rejection_and_timeout_are_outcomes_a_switch_can_route(sqlite_url: str, tmp_path: Path) -> None:
    recorder = Recorder()
    document = workflow(
        {"id": "gate", "type": "approval", "message": "go?", "timeout": "1h", "require_phrase": "ship it"},
        {
            "id": "route",
            "type": "switch",
            "cases": [{"when": "steps.gate.output.approved", "goto": "ship"}],
            "default": "stop",
        },
        rec("ship"),
        rec("stop", needs=["route"], arguments={"name": "${{ steps.gate.output.decision }}"}),
    )
    async with running_engine(sqlite_url, tmp_path, servers(recorder)) as engine:
        stored = await publish(engine.database, document)
        first = await engine.start(stored, {}, triggered_by="test")
        await wait_for(engine, first, "gate", "waiting")
        with pytest.raises(Exception, match="phrase"):
            await engine.decide(first, "gate", "approved", actor="ann", phrase="wrong")
        await engine.decide(first, "gate", "rejected", actor="ann", reason="not now")
        assert (await engine.result(first))["status"] == "completed"
    assert recorder.calls == {"rejected": 1}


async def test_map_loop_and_wait(sqlite_url: str, tmp_path: Path) -> None:
    recorder = Recorder(failures={"poll": 2})
    clock = Clock()
    document = workflow(
        {
            "id": "each",
            "type": "map",
            "items": "inputs.names",
            "max_concurrency": 2,
            "steps": [rec("one", arguments={"name": "${{ item }}-${{ index }}"})],
        },
        {"id": "pause", "type": "wait", "duration": "90s"},
        {
            "id": "again",
            "type": "loop",
            "until": "steps.poll.status == 'completed'",
            "max_iterations": 5,
            "steps": [rec("poll", "flaky", arguments={"name": "poll"}, on_error="continue")],
        },
        outputs={"names": "steps.each.output[].name", "rounds": "steps.again.output.iterations"},
        inputs={"type": "object", "properties": {"names": {"type": "array"}}},
    )
    async with running_engine(sqlite_url, tmp_path, servers(recorder), clock=clock) as engine:
        execution_id = await engine.start(
            await publish(engine.database, document), {"names": ["a", "b", "c"]}, triggered_by="test"
        )
        result = await engine.result(execution_id)
    assert result["status"] == "completed", result
    assert result["outputs"] == {"names": ["a-0", "b-1", "c-2"], "rounds": 3}
    assert clock.waits == [90.0]


async def test_sub_workflow_and_pinned_version(sqlite_url: str, tmp_path: Path) -> None:
    recorder = Recorder()
    child_v1 = workflow(rec("inner", arguments={"name": "child-v1"}), outputs={"v": "'1'"})
    child_v1["metadata"] = {"name": "child", "version": "1.0.0"}
    child_v2 = workflow(rec("inner", arguments={"name": "child-v2"}), outputs={"v": "'2'"})
    child_v2["metadata"] = {"name": "child", "version": "2.0.0"}
    parent = workflow(
        {"id": "gate", "type": "approval", "message": "go?"},
        {"id": "sub", "type": "workflow", "workflow": "child", "version": "1.0.0"},
        rec("end", arguments={"name": "${{ steps.sub.output.v }}"}),
    )
    async with running_engine(sqlite_url, tmp_path, servers(recorder)) as engine:
        await publish(engine.database, child_v1)
        stored = await publish(engine.database, parent)
        execution_id = await engine.start(stored, {}, triggered_by="test")
        await wait_for(engine, execution_id, "gate", "waiting")
        changed = dict(parent, metadata={"name": "example", "version": "1.1.0"})
        changed["steps"] = [*parent["steps"][:2], rec("end", arguments={"name": "changed"})]
        await publish(engine.database, changed)
        await publish(engine.database, child_v2)
        await engine.decide(execution_id, "gate", "approved", actor="ann")
        result = await engine.result(execution_id)
        children = await engine.readmodel.children(execution_id)
    assert result["status"] == "completed", result
    assert recorder.calls == {"child-v1": 1, "1": 1}
    assert len(children) == 1


async def test_an_afu9_v04_document_is_up_converted_and_runs(sqlite_url: str, tmp_path: Path, catalog: Any) -> None:
    from orchestrator.definitions import Definitions
    from orchestrator.documents import prepare
    from orchestrator.v04 import context_inputs

    legacy = {
        "name": "kpi_check",
        "description": "v0.4: read the catalog, record a value",
        "steps": [
            {"name": "list", "tool": "factory.list_kpis", "params": {"limit": "${input.limit}"}, "assign": "kpis"},
            {
                "name": "record",
                "tool": "factory.record_kpi_measurement",
                "params": {"kpi_id": "${kpis.kpis.0.kpi_id}", "value": "${input.value}", "source": "${repo.name}"},
                "assign": "recorded",
            },
        ],
        "config": {"maxRetries": 1},
    }
    context = {"input": {"limit": 2, "value": 9}, "repo": {"owner": "acme", "name": "factory"}}
    async with running_engine(sqlite_url, tmp_path, servers(Recorder(), sqlite_url, tmp_path)) as engine:
        prepared = prepare(legacy, catalog)
        assert prepared.from_v04
        stored = (await Definitions(engine.database).publish(prepared)).workflow
        execution_id = await engine.start(stored, context_inputs(context), triggered_by="test")
        result = await engine.result(execution_id)
        steps = {row["step_path"]: row for row in await engine.readmodel.steps(execution_id)}
    assert result["status"] == "completed", result
    recorded = steps["recorded"]["output"]["measurement"]
    assert recorded["value"] == 9.0
    assert recorded["source"] == "factory"
    assert steps["recorded"]["input"]["arguments"]["kpi_id"] == steps["kpis"]["output"]["kpis"][0]["kpi_id"]


async def test_a_server_that_is_down_fails_the_step_naming_it_after_the_retries(
    sqlite_url: str, tmp_path: Path
) -> None:
    from orchestrator.clients import ServerSpec

    ghost = ServerSpec(name="ghost", transport="stdio", command=str(tmp_path / "no-such-server"), connect_timeout=5)
    clock = Clock()
    document = workflow(
        {"id": "call", "type": "tool", "server": "ghost", "tool": "anything", "retry": {"max_attempts": 3}},
    )
    async with running_engine(sqlite_url, tmp_path, {}, clock=clock, specs={"ghost": ghost}) as engine:
        execution_id = await engine.start(await publish(engine.database, document), {}, triggered_by="test")
        result = await engine.result(execution_id)
    assert result["status"] == "failed"
    assert "ghost" in result["error"]
    assert "after 3 attempts" in result["error"]
    assert len(clock.waits) == 2


def test_retry_policy_arithmetic() -> None:
    from orchestrator.format import Retry
    from orchestrator.retry import NO_RETRY, policy_of

    policy = policy_of(
        Retry(
            max_attempts=5,
            initial_interval="1s",
            backoff_rate=2,
            max_interval="5s",
            retry_on=["any"],
            no_retry_on=["protocol_error"],
        )
    )
    assert [policy.ceiling(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]
    assert policy.delay(3, "seed") == policy.delay(3, "seed")  # the same on replay
    assert policy.delay(3, "seed") != policy.delay(3, "other")
    assert all(0 <= policy.delay(n, f"s{n}") <= policy.ceiling(n) for n in range(1, 6))
    assert policy.retries("tool_error", 1)
    assert not policy.retries("protocol_error", 1)
    assert not policy.retries("tool_error", 5)
    assert not NO_RETRY.retries("timeout", 1)
    assert not policy_of(Retry(retry_on=[])).retries("timeout", 1)


def test_inputs_are_checked_and_defaults_filled() -> None:
    from orchestrator.engine import check_inputs
    from orchestrator.format import parse_workflow

    document = parse_workflow(
        workflow(
            rec("a"),
            inputs={
                "type": "object",
                "required": ["n"],
                "properties": {"n": {"type": "integer", "maximum": 10}, "mode": {"type": "string", "default": "fast"}},
                "additionalProperties": False,
            },
        )
    )
    assert check_inputs(document, {"n": 3}) == {"n": 3, "mode": "fast"}
    with pytest.raises(InvalidInputs) as refused:
        check_inputs(document, {"n": 99, "extra": "x"})
    with pytest.raises(InvalidInputs, match="NUL"):
        check_inputs(document, {"n": 1, "mode": "a\x00b"})
    assert "n: 99 is greater than the maximum of 10" in str(refused.value)
    assert "extra" in str(refused.value)
    with pytest.raises(InvalidInputs):
        check_inputs(document, ["not", "an", "object"])
    with pytest.raises(InvalidInputs, match="at most 1000000"):
        check_inputs(document, {"n": 1, "mode": "x" * 1_000_001})


async def test_an_approval_that_times_out_applies_on_timeout(sqlite_url: str, tmp_path: Path) -> None:
    recorder = Recorder()
    document = workflow(
        {"id": "gate", "type": "approval", "message": "go?", "timeout": "300ms", "on_timeout": "approve"},
        {
            "id": "route",
            "type": "switch",
            "cases": [{"when": "steps.gate.output.approved", "goto": "ship"}],
            "default": "stop",
        },
        rec("ship", arguments={"name": "${{ steps.gate.output.decision }}"}),
        rec("stop", needs=["ship"], **{"if": "`false`"}),
    )
    async with running_engine(sqlite_url, tmp_path, servers(recorder)) as engine:
        execution_id = await engine.start(await publish(engine.database, document), {}, triggered_by="test")
        result = await engine.result(execution_id)
        steps = {row["step_path"]: row for row in await engine.readmodel.steps(execution_id)}
    assert result["status"] == "completed", result
    assert recorder.calls == {"timed_out": 1}
    assert steps["gate"]["output"]["decision"] == "timed_out"
    assert steps["gate"]["output"]["approved"] is True


async def test_an_answer_holding_nul_is_stored_cleaned(database_url: str, tmp_path: Path) -> None:
    document = workflow(rec("nul", "nul", arguments={}))
    async with running_engine(database_url, tmp_path, servers(Recorder())) as engine:
        stored = await publish(engine.database, document)
        execution_id = await engine.start(stored, {}, triggered_by="test")
        result = await engine.result(execution_id)
        steps = await engine.readmodel.steps(execution_id)
    assert result["status"] == "completed", result
    assert steps[0]["output"] == {"name": "a\ufffdb"}


class _ProxyThread:
    """A TCP proxy on its own thread and event loop: DBOS's system database is reached from threads and at
    launch from the test's loop while it blocks, so the proxy must not need that loop."""

    def __init__(self, host: str, port: int) -> None:
        import asyncio
        import threading

        from tests.tcp_proxy import TcpProxy

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.proxy = TcpProxy(host, port)
        self.run(self.proxy.start())

    def run(self, coroutine: Any) -> Any:
        import asyncio

        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(15)

    def close(self) -> None:
        self.run(self.proxy.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


async def test_the_database_going_away_pauses_an_execution_which_then_completes(
    postgres_url: str, tmp_path: Path
) -> None:
    import anyio
    from sqlalchemy.engine import make_url

    target = make_url(postgres_url)
    proxy = _ProxyThread(target.host or "127.0.0.1", target.port or 5432)
    proxied = target.set(port=proxy.proxy.port).render_as_string(hide_password=False)
    recorder = Recorder()
    document = workflow(rec("before"), {"id": "pause", "type": "wait", "duration": "1s"}, rec("after"))
    try:
        async with running_engine(proxied, tmp_path, servers(recorder)) as engine:
            execution_id = await engine.start(await publish(engine.database, document), {}, triggered_by="test")
            await wait_for(engine, execution_id, "pause", "running")
            proxy.run(proxy.proxy.stop())  # the database goes away during the wait
            await anyio.sleep(2)
            proxy.run(proxy.proxy.start())
            with anyio.fail_after(60):
                result = await engine.result(execution_id)
    finally:
        proxy.close()
    assert result["status"] == "completed", result
    assert recorder.calls == {"before": 1, "after": 1}


async def test_steps_that_need_nothing_of_each_other_run_at_the_same_time(database_url: str, tmp_path: Path) -> None:
    recorder = Recorder()
    document = workflow(
        {"id": "gate", "type": "approval", "message": "go?", "needs": []},
        rec("quick", needs=[]),
        rec("after", needs=["gate", "quick"], arguments={"name": "${{ steps.quick.output.name }}-after"}),
    )
    async with running_engine(database_url, tmp_path, servers(recorder)) as engine:
        execution_id = await engine.start(await publish(engine.database, document), {}, triggered_by="test")
        await wait_for(engine, execution_id, "quick", "completed")  # while the approval beside it waits
        await wait_for(engine, execution_id, "gate", "waiting")
        assert recorder.calls == {"quick": 1}
        await engine.decide(execution_id, "gate", "approved", actor="ann")
        result = await engine.result(execution_id)
    assert result["status"] == "completed", result
    assert recorder.calls == {"quick": 1, "quick-after": 1}


async def test_a_failure_among_steps_running_together_stops_the_others(sqlite_url: str, tmp_path: Path) -> None:
    recorder = Recorder()
    document = workflow(
        {"id": "gate", "type": "approval", "message": "go?", "needs": []},
        rec("bad", "broken", arguments={}, needs=[]),
        rec("never", needs=["gate", "bad"]),
    )
    async with running_engine(sqlite_url, tmp_path, servers(recorder)) as engine:
        execution_id = await engine.start(await publish(engine.database, document), {}, triggered_by="test")
        result = await engine.result(execution_id)
        steps = {row["step_path"]: row["status"] for row in await engine.readmodel.steps(execution_id)}
    assert result["status"] == "failed"
    assert result["error"].startswith("bad: ")
    assert steps["bad"] == "failed"
    assert steps["gate"] == "cancelled"
    assert "never" not in steps
    assert recorder.calls == {"broken": 1}


async def test_an_engine_stopped_during_a_call_records_nothing_and_the_next_one_finishes(
    sqlite_url: str, tmp_path: Path
) -> None:
    document = workflow(rec("first"), rec("nap", "slow", arguments={"seconds": 3}), rec("last"))
    recorder = Recorder()
    async with running_engine(sqlite_url, tmp_path, servers(recorder)) as engine:
        execution_id = await engine.start(await publish(engine.database, document), {}, triggered_by="test")
        await wait_for(engine, execution_id, "nap", "running")
    # stopped while nap's call was in flight: its outcome (cut short by the stop) must not be checkpointed
    async with running_engine(sqlite_url, tmp_path, servers(recorder)) as engine:  # same id: recovers it
        result = await engine.result(execution_id)
        steps = {row["step_path"]: row for row in await engine.readmodel.steps(execution_id)}
    assert result["status"] == "completed", result
    assert steps["nap"]["status"] == "completed"
    assert recorder.calls == {"first": 1, "last": 1}


async def test_checkpoints_are_stored_as_json_not_pickle(sqlite_url: str, tmp_path: Path) -> None:
    import json
    import sqlite3

    document = workflow(rec("a"), {"id": "gate", "type": "approval", "message": "go?", "timeout": "100ms"})
    async with running_engine(sqlite_url, tmp_path, servers(Recorder())) as engine:
        execution_id = await engine.start(await publish(engine.database, document), {}, triggered_by="test")
        assert (await engine.result(execution_id))["status"] == "completed"
    with sqlite3.connect(tmp_path / "afu9-dbos.sqlite") as connection:
        steps = connection.execute("SELECT function_name, serialization, output FROM operation_outputs").fetchall()
        inputs = connection.execute("SELECT inputs FROM workflow_input").fetchall()
        outputs = connection.execute("SELECT output FROM workflow_output WHERE output IS NOT NULL").fetchall()
    assert {name.split("#")[0] for name, _, _ in steps} >= {"load", "a"}
    assert {serialization for _, serialization, _ in steps} == {"portable_json"}
    for text in [output for _, _, output in steps if output] + [row[0] for row in inputs + outputs]:
        json.loads(text)  # plain JSON: no pickle anywhere


async def test_a_failing_parent_compensates_what_its_sub_workflows_did(database_url: str, tmp_path: Path) -> None:
    recorder = Recorder()

    def undo(name: str) -> dict[str, Any]:
        return {"server": "rec", "tool": "record", "arguments": {"name": name}}

    child = workflow(rec("c1", compensate=undo("undo_c1")))
    child["metadata"] = {"name": "child", "version": "1.0.0"}
    parent = workflow(
        {"id": "sub", "type": "workflow", "workflow": "child"},
        rec("p", compensate=undo("undo_p")),
        rec("bad", "broken", arguments={}, on_error="compensate"),
    )
    async with running_engine(database_url, tmp_path, servers(recorder)) as engine:
        await publish(engine.database, child)
        execution_id = await engine.start(await publish(engine.database, parent), {}, triggered_by="test")
        result = await engine.result(execution_id)
        (child_id,) = await engine.readmodel.children(execution_id)
        child_rows = await engine.readmodel.steps(child_id, compensation=True)
    assert result["status"] == "failed"
    assert recorder.order == ["c1", "p", "undo_p", "undo_c1"]
    assert [row["status"] for row in child_rows] == ["completed"]


async def test_compensations_a_completed_execution_did_not_need_are_skipped(sqlite_url: str, tmp_path: Path) -> None:
    child = workflow(rec("c1", compensate={"server": "rec", "tool": "record", "arguments": {"name": "undo"}}))
    child["metadata"] = {"name": "child", "version": "1.0.0"}
    parent = workflow({"id": "sub", "type": "workflow", "workflow": "child"}, rec("p"))
    async with running_engine(sqlite_url, tmp_path, servers(Recorder())) as engine:
        await publish(engine.database, child)
        execution_id = await engine.start(await publish(engine.database, parent), {}, triggered_by="test")
        assert (await engine.result(execution_id))["status"] == "completed"
        (child_id,) = await engine.readmodel.children(execution_id)
        rows = await engine.readmodel.steps(child_id, compensation=True)
    assert [row["status"] for row in rows] == ["skipped"]
