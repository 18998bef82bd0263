"""Helpers of the engine's tests: an engine running in this process on the test's database with in-process
servers, a small stand-in server whose tools are slow, flaky or counted, and a clock that records waits."""

from __future__ import annotations

import contextlib
import json
import sys
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio

from orchestrator.clients import ClientPool, ServerSpec
from orchestrator.definitions import Definitions, StoredWorkflow
from orchestrator.documents import prepare
from orchestrator.engine import Engine, EngineOptions, dbos_url
from orchestrator.schema import MIGRATIONS
from shared.db import KIT_MIGRATIONS, Database

__all__ = ["Clock", "Recorder", "publish", "recorder_server", "running_engine", "suite_environment", "wait_for"]


@dataclass
class Clock:
    """A controllable clock: records every wait the engine asks for and returns at once."""

    waits: list[float] = field(default_factory=list[float])

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


@dataclass
class Recorder:
    """What the stand-in server's tools saw: calls per key, failures still to give per name."""

    calls: Counter[str] = field(default_factory=Counter[str])
    keys: list[str | None] = field(default_factory=list[str | None])
    failures: dict[str, int] = field(default_factory=dict[str, int])
    order: list[str] = field(default_factory=list[str])


def recorder_server(recorder: Recorder) -> Any:
    """An MCP server with tools a workflow can fail, slow down and count (a stand-in for a remote system)."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer("recorder")

    @server.tool()
    async def record(name: str, idempotency_key: str | None = None) -> dict[str, Any]:
        """Count a call under name."""
        recorder.calls[name] += 1
        recorder.keys.append(idempotency_key)
        recorder.order.append(name)
        return {"name": name, "count": recorder.calls[name]}

    @server.tool()
    async def flaky(name: str) -> dict[str, Any]:
        """Fail as unavailable while failures remain for name, then succeed."""
        recorder.calls[name] += 1
        if recorder.failures.get(name, 0) > 0:
            recorder.failures[name] -= 1
            raise ToolError("the backend is unavailable; try again later")
        return {"name": name, "ok": True}

    @server.tool()
    async def broken(message: str = "refused") -> dict[str, Any]:
        """Always fail (a permanent error)."""
        recorder.calls["broken"] += 1
        raise ToolError(message)

    @server.tool()
    async def nul() -> dict[str, Any]:
        """Answer text no database column takes (as a foreign server might)."""
        return {"name": "a\x00b"}

    @server.tool()
    async def slow(seconds: float) -> dict[str, Any]:
        """Sleep, then answer."""
        await anyio.sleep(seconds)
        return {"slept": seconds}

    return server


def suite_environment(database_url: str, folder: Path) -> dict[str, str]:
    """The environment of ``afu9 worker`` and ``afu9 workflow`` processes in a test: its database, writes
    allowed, and an mcp.json in ``folder`` whose factory server is started over stdio with this interpreter."""
    config = folder / "mcp.json"
    factory = {"type": "stdio", "command": sys.executable, "args": ["-m", "servers.factory"]}
    config.write_text(json.dumps({"mcpServers": {"afu9-factory": factory}}))
    return {
        "AFU9_DATABASE_URL": database_url,
        "AFU9_DATA_DIR": str(folder),
        "AFU9_ALLOW_WRITES": "true",
        "AFU9_MCP_CONFIG": str(config),
    }


async def publish(database: Database, document: Mapping[str, Any]) -> StoredWorkflow:
    """``document`` checked without a catalog and published."""
    return (await Definitions(database).publish(prepare(document))).workflow


@contextlib.asynccontextmanager
async def running_engine(
    database_url: str,
    tmp_path: Path,
    servers: Mapping[str, Any],
    *,
    clock: Clock | None = None,
    mode: Literal["worker", "local"] = "local",
    specs: Mapping[str, ServerSpec] | None = None,
) -> AsyncIterator[Engine]:
    """An engine launched in this process on ``database_url`` calling ``servers`` in-process."""
    database = Database(database_url, migrations=(KIT_MIGRATIONS, MIGRATIONS))
    options = EngineOptions(
        executor_id=f"test-{mode}",
        mode=mode,
        system_database_url=dbos_url(database_url, tmp_path),
        sleep=clock.sleep if clock else None,
    )
    try:
        async with (
            ClientPool(specs or {}, in_process=servers) as pool,
            Engine(database, pool, Definitions(database), options) as engine,
        ):
            yield engine
    finally:
        await database.aclose()


async def wait_for(engine: Engine, execution_id: str, path: str, status: str, *, timeout: float = 20) -> dict[str, Any]:
    """The read-model row of the step at ``path`` once it has ``status``."""
    with anyio.fail_after(timeout):
        while True:
            for row in await engine.readmodel.steps(execution_id, compensation=False):
                if row["step_path"] == path and row["status"] == status:
                    return row
            await anyio.sleep(0.05)
