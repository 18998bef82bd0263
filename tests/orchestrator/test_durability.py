"""Durability with real processes: ``afu9 worker`` killed with SIGKILL in the middle of a workflow and started
again, and two workers sharing the queue on PostgreSQL. Counts are taken on the server side: the factory
server's audit rows (``mcp_tool_calls``, linked to the execution and step through the call's ``_meta``) and its
stored measurements."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.definitions import Definitions
from orchestrator.documents import prepare
from tests.orchestrator.conftest import workflow
from tests.orchestrator.engines import running_engine, suite_environment
from tests.processes import AFU9, ServerProcess, run_afu9, start, wait_until

WORKER = AFU9


def _record(step_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": step_id,
        "type": "tool",
        "server": "factory",
        "tool": "record_kpi_measurement",
        "write": True,
        "arguments": {"kpi_id": "cycle_time", "value": "${{ inputs.value }}", "source": step_id},
        "idempotency_key": f"${{{{ execution.id }}}}-{step_id}",
        **fields,
    }


@pytest.fixture
def suite_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return suite_environment(database_url, tmp_path)


def _query(database_url: str, statement: str, **params: Any) -> list[dict[str, Any]]:
    """Rows of ``statement`` on the test's database (read from this process, outside any engine)."""
    import sqlalchemy as sa

    from orchestrator.schema import MIGRATIONS
    from shared.db import KIT_MIGRATIONS, Database

    async def run() -> list[dict[str, Any]]:
        database = Database(database_url, migrations=(KIT_MIGRATIONS, MIGRATIONS))
        try:
            async with database.connect() as connection:
                rows = (await connection.execute(sa.text(statement), params)).all()
            return [dict(row._mapping) for row in rows]
        finally:
            await database.aclose()

    return asyncio.run(run())


def _steps(database_url: str, execution_id: str) -> dict[str, str]:
    rows = _query(
        database_url,
        "SELECT step_path, status FROM workflow_steps WHERE execution_id = :e AND is_compensation = :f",
        e=_db_id(database_url, execution_id),
        f=False,
    )
    return {row["step_path"]: row["status"] for row in rows}


def _db_id(database_url: str, execution_id: str) -> str:
    """An id as the column stores it: SQLite keeps UUIDs as 32 hex digits."""
    return execution_id if database_url.startswith("postgresql") else execution_id.replace("-", "")


def _status(database_url: str, execution_id: str) -> str | None:
    rows = _query(
        database_url, "SELECT status FROM workflow_executions WHERE id = :e", e=_db_id(database_url, execution_id)
    )
    return rows[0]["status"] if rows else None


def _audited_calls(database_url: str, execution_id: str) -> list[dict[str, Any]]:
    """The factory server's audit rows of the execution's calls (tool, step, idempotency key)."""
    rows = _query(
        database_url,
        "SELECT tool_name, step_id, params FROM mcp_tool_calls WHERE execution_id = :e",
        e=_db_id(database_url, execution_id),
    )
    for row in rows:
        params = row["params"]
        row["params"] = json.loads(params) if isinstance(params, str) else params
    return rows


@pytest.fixture
def worker(suite_env: dict[str, str]) -> Iterator[Any]:
    """Start ``afu9 worker --id ID`` processes (killed at the end of the test)."""
    started: list[ServerProcess] = []

    def begin(worker_id: str) -> ServerProcess:
        context = start([*WORKER, "worker", "--id", worker_id], env=suite_env)
        process = context.__enter__()
        started.append(process)
        process.context = context  # type: ignore[attr-defined]
        return process

    yield begin
    for process in started:
        process.context.__exit__(None, None, None)  # type: ignore[attr-defined]


def _wait_for_step(database_url: str, execution_id: str, path: str, status: str, process: ServerProcess) -> None:
    def reached() -> bool:
        if process.returncode is not None:
            raise AssertionError(f"worker exited with {process.returncode}:\n{process.stderr()}")
        return _steps(database_url, execution_id).get(path) == status

    wait_until(reached, timeout=90, what=f"{path} {status}", interval=0.02)


def test_a_worker_killed_mid_workflow_resumes_without_repeating_completed_writes(
    database_url: str, tmp_path: Path, suite_env: dict[str, str], worker: Any
) -> None:
    document = workflow(
        _record("w1"),
        _record("w2"),
        {"id": "pause", "type": "wait", "duration": "2s"},
        _record("w3"),
        _record("w4"),
        inputs={"type": "object", "properties": {"value": {"type": "number", "default": 5}}},
    )
    document["metadata"]["name"] = "durable"
    path = tmp_path / "durable.yaml"
    path.write_text(yaml.safe_dump(document))
    enqueued = run_afu9("workflow", "run", str(path), "--detach", env=suite_env, timeout=120)
    assert enqueued.returncode == 4, enqueued.stderr
    execution_id = enqueued.stdout.strip()

    first = worker("w-durable")
    _wait_for_step(database_url, execution_id, "pause", "running", first)
    first.kill()  # SIGKILL while the durable wait runs: w1 and w2 are done
    assert first.process.returncode == -signal.SIGKILL

    second = worker("w-durable")
    _wait_for_step(database_url, execution_id, "w3", "running", second)
    second.kill()  # SIGKILL as w3 is being called: it may or may not have reached the server

    third = worker("w-durable")
    wait_until(lambda: _status(database_url, execution_id) == "completed", timeout=90, what="completion")
    third.stop()

    calls = [
        call for call in _audited_calls(database_url, execution_id) if call["tool_name"] == "record_kpi_measurement"
    ]
    per_step = Counter(call["params"]["source"] for call in calls)
    assert [per_step["w1"], per_step["w2"], per_step["w4"]] == [1, 1, 1], per_step
    assert per_step["w3"] in (1, 2), per_step  # the interrupted call, repeated at most once
    keys = {call["params"]["idempotency_key"] for call in calls if call["params"]["source"] == "w3"}
    assert keys == {f"{execution_id}-w3"}
    assert len({call["step_id"] for call in calls}) == 4  # every call carries its step's id
    stored = _query(database_url, "SELECT source FROM kpi_measurements WHERE source IN ('w1','w2','w3','w4')")
    assert sorted(row["source"] for row in stored) == ["w1", "w2", "w3", "w4"]  # the repeat was deduplicated


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_workers_share_the_queue_and_run_each_execution_once(
    database_url: str, tmp_path: Path, suite_env: dict[str, str], worker: Any
) -> None:
    document = workflow(
        {"id": "look", "type": "tool", "server": "factory", "tool": "list_kpis", "arguments": {"limit": 1}},
        _record("write"),
        inputs={"type": "object", "properties": {"value": {"type": "number"}}},
    )
    count = 16

    async def enqueue() -> list[str]:
        async with running_engine(database_url, tmp_path, {}) as engine:
            stored = (await Definitions(engine.database).publish(prepare(document))).workflow
            return [await engine.start(stored, {"value": n}, triggered_by="test", enqueue=True) for n in range(count)]

    ids = asyncio.run(enqueue())

    first, second = worker("w-a"), worker("w-b")

    def all_done() -> bool:
        for process in (first, second):
            if process.returncode is not None:
                raise AssertionError(f"worker exited with {process.returncode}:\n{process.stderr()}")
        return all(_status(database_url, execution_id) == "completed" for execution_id in ids)

    wait_until(all_done, timeout=120, what=f"{count} executions", interval=0.2)
    executors = Counter(
        _query(database_url, "SELECT executor_id FROM workflow_executions WHERE id = :e", e=execution_id)[0][
            "executor_id"
        ]
        for execution_id in ids
    )
    assert set(executors) == {"w-a", "w-b"}, executors
    for execution_id in ids:
        writes = [c for c in _audited_calls(database_url, execution_id) if c["tool_name"] == "record_kpi_measurement"]
        assert len(writes) == 1, (execution_id, writes)


def test_a_worker_stopped_with_sigterm_during_a_call_leaves_it_to_be_made_again(
    database_url: str, tmp_path: Path, suite_env: dict[str, str], worker: Any
) -> None:
    config = json.loads(Path(suite_env["AFU9_MCP_CONFIG"]).read_text())
    config["mcpServers"]["afu9-demo"] = {"type": "stdio", "command": sys.executable, "args": ["-m", "tests.demo"]}
    Path(suite_env["AFU9_MCP_CONFIG"]).write_text(json.dumps(config))
    document = workflow(
        {"id": "nap", "type": "tool", "server": "demo", "tool": "wait_seconds", "arguments": {"seconds": 3}},
        _record("after"),
        inputs={"type": "object", "properties": {"value": {"type": "number", "default": 1}}},
    )

    async def enqueue() -> str:
        async with running_engine(database_url, tmp_path, {}) as engine:
            stored = (await Definitions(engine.database).publish(prepare(document))).workflow
            return await engine.start(stored, {}, triggered_by="test", enqueue=True)

    execution_id = asyncio.run(enqueue())
    first = worker("w-term")
    _wait_for_step(database_url, execution_id, "nap", "running", first)
    assert first.stop(signal.SIGTERM) == 0  # its demo server goes with it, cutting the call short
    left = _query(
        database_url,
        "SELECT status, error FROM workflow_executions WHERE id = :e",
        e=_db_id(database_url, execution_id),
    )
    assert left[0]["status"] == "running", (left, first.stderr()[-3000:])  # neither failed nor recorded as done

    second = worker("w-term")
    wait_until(lambda: _status(database_url, execution_id) == "completed", timeout=60, what="completion")
    second.stop()
    assert _steps(database_url, execution_id) == {"nap": "completed", "after": "completed"}
