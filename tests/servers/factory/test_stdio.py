"""The factory server over stdio, as a real `afu9 serve factory` process (stdio is the default transport)."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.processes import AFU9, ROOT, json_lines, subprocess_env

TOOLS = {"list_kpis", "get_kpi", "record_kpi_measurement", "get_kpi_history"}

COMMANDS = {
    "afu9 serve factory": [*AFU9, "serve", "factory"],
    "python -m servers.factory": [sys.executable, "-m", "servers.factory"],
}


async def test_a_stdio_client_lists_the_four_tools_and_calls_list_kpis(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=AFU9[0], args=["serve", "factory"], env={"AFU9_DATA_DIR": str(tmp_path)}, cwd=str(ROOT)
    )
    with (tmp_path / "stderr").open("w") as errlog:
        with anyio.fail_after(60):
            async with Client(stdio_client(params, errlog=errlog)) as client:
                tools = {tool.name for tool in (await client.list_tools()).tools}
                result = await client.call_tool("list_kpis", {"category": "reliability"})

    assert tools == TOOLS
    assert not result.is_error, result.content
    assert result.structured_content is not None
    ids = {kpi["kpi_id"] for kpi in result.structured_content["kpis"]}
    assert {"mtbf", "mttr"} <= ids
    logs = json_lines((tmp_path / "stderr").read_text())
    assert logs, "expected at least one JSON log line on stderr"
    assert all({"ts", "level", "logger", "msg"} <= entry.keys() for entry in logs)


def _message(request_id: int | None, method: str, params: dict[str, Any] | None = None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params or {}}
    if request_id is not None:
        message["id"] = request_id
    return (json.dumps(message) + "\n").encode()


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
async def test_stdout_carries_only_protocol_and_stderr_only_json_logs(command: list[str], tmp_path: Path) -> None:
    requests = [
        _message(
            1,
            "initialize",
            {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
        ),
        _message(None, "notifications/initialized"),
        _message(2, "tools/list"),
        _message(3, "tools/call", {"name": "list_kpis", "arguments": {"limit": 2}}),
    ]
    stdout = b""
    with (tmp_path / "stderr").open("wb") as stderr:
        process = await anyio.open_process(command, env=subprocess_env(data_dir=tmp_path), cwd=ROOT, stderr=stderr)
    async with process:
        assert process.stdin is not None
        assert process.stdout is not None
        try:
            with anyio.fail_after(60):
                await process.stdin.send(b"".join(requests))
                while stdout.count(b"\n") < 3:  # the three answers
                    stdout += await process.stdout.receive()
                await process.stdin.aclose()  # the client goes away: the server must exit by itself
                async for chunk in process.stdout:
                    stdout += chunk
                exit_code = await process.wait()
        finally:
            if process.returncode is None:
                process.kill()

    assert exit_code == 0
    messages = [json.loads(line) for line in stdout.decode().splitlines()]
    assert [message["id"] for message in messages] == [1, 2, 3]
    assert all(message["jsonrpc"] == "2.0" for message in messages)
    assert {tool["name"] for tool in messages[1]["result"]["tools"]} == TOOLS
    assert messages[2]["result"]["isError"] is False
    assert len(messages[2]["result"]["structuredContent"]["kpis"]) == 2
    logs = json_lines((tmp_path / "stderr").read_text())
    assert any(entry["msg"] == "database schema is current" for entry in logs)


async def test_stdio_calls_are_audited_as_local_and_flushed_when_the_client_leaves(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=AFU9[0], args=["serve", "factory"], env={"AFU9_DATA_DIR": str(tmp_path)}, cwd=str(ROOT)
    )
    with (tmp_path / "stderr").open("w") as errlog, anyio.fail_after(60):
        async with Client(stdio_client(params, errlog=errlog)) as client:
            assert not (await client.call_tool("get_kpi", {"kpi_id": "mttr"})).is_error

    with sqlite3.connect(tmp_path / "afu9.db") as connection:
        rows = connection.execute("SELECT server_name, tool_name, caller, outcome, transport FROM mcp_tool_calls")
        assert rows.fetchall() == [("factory", "get_kpi", "local", "ok", "stdio")]
