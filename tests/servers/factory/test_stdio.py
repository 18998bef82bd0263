"""The factory server over stdio, as a real `afu9 serve factory` process (stdio is the default transport)."""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
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


# -- raw sessions whose stdin stays open: shutdown by signal, unreadable lines ---------------------------------

INITIALIZE = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}
EXIT_BOUND = 20.0  # seconds a signalled server gets to flush its audit queue and exit (its grace is 10 s)
DEMO = [sys.executable, "-m", "tests.demo"]


class _RawStdio:
    """A stdio server process spoken to in raw JSON-RPC lines; its stdin stays open until the process ends."""

    def __init__(self, process: anyio.abc.Process, stderr: Path) -> None:
        self.process = process
        self.stderr_path = stderr
        self._buffer = b""

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    async def send(self, *lines: bytes) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send(b"".join(lines))

    async def answer(self, timeout: float = 30.0) -> dict[str, Any]:
        """The next line on stdout, parsed (every line on stdout must be one JSON-RPC message)."""
        assert self.process.stdout is not None
        with anyio.fail_after(timeout):
            while b"\n" not in self._buffer:
                self._buffer += await self.process.stdout.receive()
        line, self._buffer = self._buffer.split(b"\n", 1)
        message = json.loads(line)
        assert message["jsonrpc"] == "2.0", line
        return message

    async def initialize(self) -> None:
        await self.send(_message(1, "initialize", INITIALIZE), _message(None, "notifications/initialized"))
        assert "result" in await self.answer(timeout=60), self.stderr()

    async def exit_code_after(self, sig: signal.Signals) -> int:
        """Send ``sig`` with stdin still open; the exit code once the process ends by itself within EXIT_BOUND."""
        self.process.send_signal(sig)
        try:
            with anyio.fail_after(EXIT_BOUND):
                return await self.process.wait()
        except TimeoutError:
            self.process.kill()
            pytest.fail(f"still running {EXIT_BOUND:.0f}s after {sig.name} (stdin open):\n{self.stderr()}")

    async def rest_of_stdout(self) -> list[dict[str, Any]]:
        """Every message written after the last one read, once the process has ended (EOF on stdout)."""
        assert self.process.stdout is not None
        with anyio.fail_after(10):
            async for chunk in self.process.stdout:
                self._buffer += chunk
        return [json.loads(line) for line in self._buffer.decode().splitlines()]


@contextlib.asynccontextmanager
async def _raw_stdio(command: list[str], tmp_path: Path) -> AsyncIterator[_RawStdio]:
    with (tmp_path / "stderr").open("wb") as stderr:
        process = await anyio.open_process(command, env=subprocess_env(data_dir=tmp_path), cwd=ROOT, stderr=stderr)
    async with process:
        try:
            yield _RawStdio(process, tmp_path / "stderr")
        finally:
            if process.returncode is None:
                process.kill()
                with anyio.move_on_after(10, shield=True):
                    await process.wait()


def _audited(tmp_path: Path) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(tmp_path / "afu9.db")) as connection:
        query = "SELECT tool_name, outcome, request_id FROM mcp_tool_calls ORDER BY request_id"
        return connection.execute(query).fetchall()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_signal_with_stdin_open_flushes_every_answered_call_to_the_audit_trail_and_exits_0(
    sig: signal.Signals, tmp_path: Path
) -> None:
    async with _raw_stdio([*AFU9, "serve", "factory"], tmp_path) as server:
        await server.initialize()
        calls = range(2, 8)
        await server.send(
            *(_message(i, "tools/call", {"name": "get_kpi", "arguments": {"kpi_id": "mttr"}}) for i in calls)
        )
        answers = [await server.answer() for _ in calls]
        assert sorted(answer["id"] for answer in answers) == list(calls)
        assert all(answer["result"]["isError"] is False for answer in answers), answers

        exit_code = await server.exit_code_after(sig)
        rest = await server.rest_of_stdout()

    stderr = (tmp_path / "stderr").read_text()
    assert exit_code == 0, stderr
    assert rest == []
    assert "Traceback" not in stderr
    assert "KeyboardInterrupt" not in stderr
    json_lines(stderr)
    assert _audited(tmp_path) == [("get_kpi", "ok", str(i)) for i in calls]


async def test_a_call_in_flight_when_sigterm_arrives_is_audited_as_cancelled_and_the_server_exits_0(
    tmp_path: Path,
) -> None:
    async with _raw_stdio(DEMO, tmp_path) as server:
        await server.initialize()
        await server.send(_message(2, "tools/call", {"name": "wait_seconds", "arguments": {"seconds": 30}}))
        # Messages are handled in order: once the ping behind it is answered, the call has begun.
        await server.send(_message(3, "ping"))
        assert (await server.answer())["id"] == 3

        exit_code = await server.exit_code_after(signal.SIGTERM)  # within EXIT_BOUND, not the call's 30 s
        rest = await server.rest_of_stdout()

    stderr = (tmp_path / "stderr").read_text()
    assert exit_code == 0, stderr
    assert all(message.get("id") == 2 for message in rest), rest  # at most the call's own answer
    assert "Traceback" not in stderr
    json_lines(stderr)
    assert _audited(tmp_path) == [("wait_seconds", "cancelled", "2")]


async def test_a_line_that_is_not_json_rpc_gets_a_json_rpc_error_and_the_session_goes_on(tmp_path: Path) -> None:
    async with _raw_stdio([*AFU9, "serve", "factory"], tmp_path) as server:
        await server.initialize()
        await server.send(b"this is not json\n")
        parse_error = await server.answer()
        await server.send(b'{"hello": 1}\n')
        invalid_request = await server.answer()
        await server.send(_message(2, "tools/list"))
        tools = await server.answer()

        assert server.process.stdin is not None
        await server.process.stdin.aclose()
        with anyio.fail_after(EXIT_BOUND):
            exit_code = await server.process.wait()
        rest = await server.rest_of_stdout()

    assert parse_error["id"] is None
    assert parse_error["error"]["code"] == -32700
    assert parse_error.keys() == {"jsonrpc", "id", "error"}
    assert invalid_request["id"] is None
    assert invalid_request["error"]["code"] == -32600
    assert tools["id"] == 2
    assert {tool["name"] for tool in tools["result"]["tools"]} == TOOLS
    assert exit_code == 0
    assert rest == []
    json_lines((tmp_path / "stderr").read_text())


async def test_requests_piped_in_are_all_answered_before_the_server_stops_at_the_end_of_stdin(
    tmp_path: Path,
) -> None:
    async with _raw_stdio(DEMO, tmp_path) as server:
        await server.send(
            _message(1, "initialize", INITIALIZE),
            _message(None, "notifications/initialized"),
            _message(2, "tools/call", {"name": "wait_seconds", "arguments": {"seconds": 1}}),
            _message(3, "tools/call", {"name": "list_notes", "arguments": {}}),
            _message(4, "tools/list"),
        )
        assert server.process.stdin is not None
        await server.process.stdin.aclose()  # the client is done sending, as `afu9 serve ... < requests.jsonl`
        with anyio.fail_after(EXIT_BOUND):
            exit_code = await server.process.wait()
        answers = await server.rest_of_stdout()

    assert exit_code == 0, (tmp_path / "stderr").read_text()
    assert sorted(answer["id"] for answer in answers) == [1, 2, 3, 4]
    assert all("result" in answer for answer in answers), answers
    assert sorted(_audited(tmp_path)) == [("list_notes", "ok", "3"), ("wait_seconds", "ok", "2")]


async def test_requests_read_from_a_file_are_all_answered_and_a_garbled_line_is_refused(
    tmp_path: Path,
) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_bytes(
        _message(1, "initialize", INITIALIZE)
        + _message(None, "notifications/initialized")
        + b"garbled\n"
        + _message(2, "tools/list")
    )
    with requests.open("rb") as stdin, (tmp_path / "stderr").open("wb") as stderr:
        completed = await anyio.run_process(
            [*AFU9, "serve", "factory"], stdin=stdin, stderr=stderr, env=subprocess_env(data_dir=tmp_path), check=False
        )
    answers = [json.loads(line) for line in completed.stdout.decode().splitlines()]
    assert completed.returncode == 0
    assert [answer["id"] for answer in answers] == [1, None, 2]
    assert answers[1]["error"]["code"] == -32700
    assert {tool["name"] for tool in answers[2]["result"]["tools"]} == TOOLS
