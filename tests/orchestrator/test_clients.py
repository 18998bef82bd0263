"""The orchestrator's MCP client pool: ``mcp.json`` loading, and calls to real servers (the factory server
in-process, as a stdio child and over HTTP; a small SDK server for slow and failing tools). No mocks: every
outcome comes from a real session."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sqlite3
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import MCPError
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import INVALID_PARAMS
from pydantic import SecretStr

from orchestrator.clients import CallFailed, ClientPool, ServerSpec, load_servers
from servers.factory.server import SERVER
from servers.factory.settings import FactorySettings
from shared.errors import ConfigError
from tests.processes import ROOT, ServerProcess, free_port, start

TOOLS = {"list_kpis", "get_kpi", "record_kpi_measurement", "get_kpi_history"}
SECRET = "s3cret-value-" + "x" * 16
FAST = 10.0  # seconds within which a failure must be reported (connecting is bounded; nothing may hang)


def _write(tmp_path: Path, servers: Any, name: str = "mcp.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"mcpServers": servers}))
    return path


# -- load_servers ---------------------------------------------------------------------------------------------


def test_the_repository_mcp_json_runs_the_suite_over_stdio_in_its_own_folder() -> None:
    specs = load_servers(ROOT / "mcp.json", {})

    assert set(specs) == {"factory", "github", "deploy", "observability"}
    factory = specs["factory"]
    assert factory.transport == "stdio"
    assert factory.command == "uv"
    assert factory.args == ("run", "--directory", str(ROOT), "afu9", "serve", "factory")
    assert factory.timeout == 60.0
    assert factory.connect_timeout == 30.0
    assert factory.describe() == "factory over stdio (uv)"


def test_the_http_transport_setting_picks_the_http_alternatives() -> None:
    specs = load_servers(ROOT / "mcp.json", {"AFU9_ORCHESTRATOR_TRANSPORT": "http"})

    assert {name: spec.url for name, spec in specs.items()} == {
        "github": "http://127.0.0.1:3001/mcp",
        "deploy": "http://127.0.0.1:3002/mcp",
        "observability": "http://127.0.0.1:3003/mcp",
        "factory": "http://127.0.0.1:3004/mcp",
    }
    assert all(spec.transport == "http" for spec in specs.values())


def test_a_server_with_one_variant_uses_it_and_other_entries_keep_their_name(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "afu9-deploy-http": {"type": "http", "url": "http://127.0.0.1:3002/mcp"},
            "afu9-factory": {"type": "stdio", "command": "afu9", "args": ["serve", "factory"]},
            "other-http": {"url": "http://example.test/mcp"},
        },
    )

    stdio = load_servers(path, {})
    http = load_servers(path, {"AFU9_ORCHESTRATOR_TRANSPORT": "http"})

    for specs in (stdio, http):
        assert set(specs) == {"deploy", "factory", "other-http"}
        assert specs["deploy"].transport == "http"
        assert specs["factory"].transport == "stdio"
        assert specs["other-http"].transport == "http"


def test_variables_and_tokens_in_headers_are_substituted_and_never_shown(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "afu9-factory-http": {
                "type": "http",
                "url": "https://${HOST}/mcp?key=${env:TOKEN}",
                "headers": {"X-Api-Key": "${env:TOKEN}", "X-Plain": "visible"},
                "timeout": 5,
            },
            "afu9-github-http": {"type": "http", "url": "http://127.0.0.1:3001/mcp", "bearer_token_env": "TOKEN"},
        },
    )
    environ = {"AFU9_ORCHESTRATOR_TRANSPORT": "http", "HOST": "mcp.internal:8443", "TOKEN": SECRET}

    specs = load_servers(path, environ)

    factory, github = specs["factory"], specs["github"]
    assert factory.url == f"https://mcp.internal:8443/mcp?key={SECRET}"
    assert factory.headers == {"X-Api-Key": SECRET, "X-Plain": "visible"}
    assert factory.timeout == 5.0
    assert github.headers == {"Authorization": f"Bearer {SECRET}"}
    assert factory.describe() == "factory over HTTP at https://mcp.internal:8443/mcp"
    for spec in (factory, github):
        assert SECRET not in spec.describe()
        assert SECRET not in repr(spec)


@pytest.mark.parametrize(
    ("entry", "variable"),
    [
        ({"type": "stdio", "command": "afu9", "args": ["--db", "${env:MISSING_VAR}"]}, "MISSING_VAR"),
        ({"type": "stdio", "command": "afu9", "env": {"AFU9_DATABASE_URL": "${MISSING_VAR}"}}, "MISSING_VAR"),
        ({"type": "stdio", "command": "afu9", "cwd": "${MISSING_VAR}/x"}, "MISSING_VAR"),
        ({"type": "http", "url": "http://${MISSING_VAR}/mcp", "headers": {"X": "${TOKEN}"}}, "MISSING_VAR"),
        ({"type": "http", "url": "http://h/mcp", "headers": {"X": "${TOKEN}-${MISSING_VAR}"}}, "MISSING_VAR"),
        ({"type": "http", "url": "http://h/mcp", "bearer_token_env": "MISSING_TOKEN"}, "MISSING_TOKEN"),
    ],
    ids=["args", "env", "cwd", "url", "headers", "bearer_token_env"],
)
def test_a_variable_that_is_not_set_is_named_with_its_server_and_no_value(
    tmp_path: Path, entry: dict[str, Any], variable: str
) -> None:
    path = _write(tmp_path, {"afu9-factory": entry})

    with pytest.raises(ConfigError) as raised:
        load_servers(path, {"TOKEN": SECRET, "AFU9_DATABASE_URL": SECRET})

    assert raised.value.key == variable
    assert variable in str(raised.value)
    assert "afu9-factory" in str(raised.value)
    assert SECRET not in str(raised.value)


def test_an_unused_alternative_may_name_a_variable_that_is_not_set(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "afu9-factory": {"type": "stdio", "command": "afu9", "args": ["serve", "factory"]},
            "afu9-factory-http": {"type": "http", "url": "http://127.0.0.1:3004/mcp", "bearer_token_env": "UNSET"},
        },
    )

    assert load_servers(path, {})["factory"].transport == "stdio"
    with pytest.raises(ConfigError, match="UNSET"):
        load_servers(path, {"AFU9_ORCHESTRATOR_TRANSPORT": "http"})


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[]", 'no "mcpServers"'),
        ('{"servers": {}}', 'no "mcpServers"'),
        ('{"mcpServers": {"afu9-x": []}}', "not an object"),
        ('{"mcpServers": {"afu9-x": {"type": "stdio", "command": "a", "args": "serve"}}}', '"args"'),
        ('{"mcpServers": {"afu9-x": {"type": "stdio", "command": 3}}}', '"command"'),
        ('{"mcpServers": {"afu9-x": {"type": "stdio", "command": "a", "env": {"A": 1}}}}', '"env"'),
        ('{"mcpServers": {"afu9-x": {"type": "http", "url": "ftp://h/"}}}', '"url"'),
        ('{"mcpServers": {"afu9-x": {"type": "http", "url": "http://h/", "headers": []}}}', '"headers"'),
        ('{"mcpServers": {"afu9-x": {"type": "stdio", "command": "a", "timeout": 0}}}', '"timeout"'),
        ('{"mcpServers": {"afu9-x": {"type": "stdio", "command": "a", "timeout": "5"}}}', '"timeout"'),
        ('{"mcpServers": {"afu9-x": {"type": "sse", "url": "http://h/"}}}', '"type"'),
        ('{"mcpServers": {"afu9-x": {"type": "http", "url": "http://h/", "bearer_token_env": "a b"}}}', "bearer"),
        ('{"mcpServers": {"afu9-x": {"command": "a"}, "x": {"command": "b"}}}', "both define server 'x'"),
    ],
)
def test_an_invalid_file_names_itself_and_what_is_wrong(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(content)

    with pytest.raises(ConfigError) as raised:
        load_servers(path, {})

    assert str(path) in str(raised.value)
    assert problem in str(raised.value)


def test_a_missing_file_and_a_wrong_transport_setting_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_servers(tmp_path / "absent.json", {})
    with pytest.raises(ConfigError) as raised:
        load_servers(ROOT / "mcp.json", {"AFU9_ORCHESTRATOR_TRANSPORT": "grpc"})
    assert raised.value.key == "AFU9_ORCHESTRATOR_TRANSPORT"


def test_a_stdio_child_gets_the_safe_environment_every_afu9_setting_and_the_entry_env_on_top(
    tmp_path: Path,
) -> None:
    path = _write(
        tmp_path,
        {"afu9-factory": {"command": "afu9", "env": {"AFU9_ALLOW_WRITES": "true", "EXTRA": "${workspaceFolder}"}}},
    )
    environ = {
        "AFU9_DATABASE_URL": "sqlite:///x.db",
        "AFU9_ALLOW_WRITES": "false",
        "AFU9_DATA_DIR": "/data",
        "UNRELATED_SECRET": SECRET,
    }

    spec = load_servers(path, environ)["factory"]
    env = spec.child_env()

    assert spec.env == {"AFU9_ALLOW_WRITES": "true", "EXTRA": str(tmp_path.resolve())}
    assert env["AFU9_DATABASE_URL"] == "sqlite:///x.db"
    assert env["AFU9_DATA_DIR"] == "/data"
    assert env["AFU9_ALLOW_WRITES"] == "true"
    assert env["EXTRA"] == str(tmp_path.resolve())
    assert env["PATH"] == os.environ["PATH"]
    assert "UNRELATED_SECRET" not in env


# -- the factory server in-process ----------------------------------------------------------------------------


@pytest.fixture
async def factory_pool(sqlite_url: str, tmp_path: Path) -> AsyncIterator[ClientPool]:
    settings = FactorySettings(database_url=SecretStr(sqlite_url), data_dir=tmp_path, allow_writes=True)
    async with ClientPool({}, in_process={"factory": SERVER.build(settings)}) as pool:
        yield pool


async def test_a_call_returns_the_structured_result(factory_pool: ClientPool) -> None:
    outcome = await factory_pool.call("factory", "list_kpis", {"category": "reliability"})

    assert outcome.ok, outcome.error
    assert outcome.error is None
    assert outcome.error_class is None
    assert {"mtbf", "mttr"} <= {kpi["kpi_id"] for kpi in outcome.result["kpis"]}
    assert outcome.duration_ms >= 0
    assert factory_pool.servers == ("factory",)


async def test_an_unknown_tool_is_a_protocol_error_naming_the_tools_that_exist(factory_pool: ClientPool) -> None:
    outcome = await factory_pool.call("factory", "no_such_tool", {})

    # The server answers an isError result with _meta afu9/outcome "unknown_tool": not worth a retry.
    assert not outcome.ok
    assert outcome.error_class == "protocol_error"
    assert outcome.error is not None
    assert "list_kpis" in outcome.error


async def test_invalid_arguments_are_a_protocol_error(factory_pool: ClientPool) -> None:
    outcome = await factory_pool.call("factory", "list_kpis", {"limit": "many"})

    # The server refuses them with an isError result stamped _meta afu9/outcome "invalid_arguments".
    assert not outcome.ok
    assert outcome.error_class == "protocol_error"
    assert outcome.error is not None
    assert "limit" in outcome.error


async def test_a_failing_tool_is_a_tool_error_with_its_text(factory_pool: ClientPool) -> None:
    outcome = await factory_pool.call("factory", "get_kpi", {"kpi_id": "no_such_kpi"})

    assert not outcome.ok
    assert outcome.error_class == "tool_error"
    assert outcome.error is not None
    assert "no_such_kpi" in outcome.error


async def test_concurrent_calls_from_many_tasks_share_one_session(factory_pool: ClientPool) -> None:
    outcomes: list[Any] = []

    async def one(i: int) -> None:
        outcomes.append(await factory_pool.call("factory", "list_kpis", {"limit": 1 + i % 3}))

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(one, i)

    assert len(outcomes) == 20
    assert all(outcome.ok for outcome in outcomes), [o.error for o in outcomes if not o.ok]
    assert factory_pool.connections_opened == 1


async def test_list_tools_lists_the_servers_tools(factory_pool: ClientPool) -> None:
    tools = await factory_pool.list_tools("factory")

    assert {tool.name for tool in tools} == TOOLS
    with pytest.raises(CallFailed) as raised:
        await factory_pool.list_tools("nowhere")
    assert raised.value.error_class == "protocol_error"


async def test_an_unknown_server_is_a_protocol_error_listing_the_configured_servers() -> None:
    specs = {"deploy": ServerSpec("deploy", "http", url="http://127.0.0.1:3002/mcp")}
    async with ClientPool(specs, in_process={"factory": object()}) as pool:
        outcome = await pool.call("nowhere", "list_kpis", {})

    assert not outcome.ok
    assert outcome.error_class == "protocol_error"
    assert outcome.error is not None
    assert "nowhere" in outcome.error
    assert "deploy, factory" in outcome.error
    assert pool.connections_opened == 0


async def test_meta_goes_out_as_the_requests_meta(sqlite_url: str, tmp_path: Path) -> None:
    execution_id, step_id = uuid.uuid4(), uuid.uuid4()
    settings = FactorySettings(database_url=SecretStr(sqlite_url), data_dir=tmp_path, allow_writes=True)
    async with ClientPool({}, in_process={"factory": SERVER.build(settings)}) as pool:
        meta = {"afu9/execution_id": str(execution_id), "afu9/step_id": str(step_id)}
        outcome = await pool.call("factory", "get_kpi", {"kpi_id": "mttr"}, meta=meta)
    assert outcome.ok, outcome.error

    # The server's audit trail (flushed when the session closed) links the call to the step named in _meta.
    with contextlib.closing(sqlite3.connect(tmp_path / "afu9.db")) as connection:
        rows = connection.execute("SELECT tool_name, execution_id, step_id FROM mcp_tool_calls").fetchall()
    assert rows == [("get_kpi", execution_id.hex, step_id.hex)]


async def test_a_closed_pool_answers_transport(factory_pool: ClientPool) -> None:
    assert (await factory_pool.call("factory", "list_kpis", {"limit": 1})).ok
    await factory_pool.aclose()

    outcome = await factory_pool.call("factory", "list_kpis", {"limit": 1})

    assert outcome.error_class == "transport"
    assert outcome.error is not None
    assert "closed" in outcome.error


# -- timeouts and error texts (a small SDK server) --------------------------------------------------------------


def _odd_server() -> MCPServer:
    server = MCPServer("odd")

    @server.tool()
    async def slow(seconds: float) -> str:
        await anyio.sleep(seconds)
        return "done"

    @server.tool()
    def fail(message: str) -> str:
        raise ToolError(message)

    @server.tool()
    def reject() -> str:
        raise MCPError(code=INVALID_PARAMS, message="rejected")

    @server.tool(structured_output=False)
    def text(value: str) -> str:
        return value

    return server


@pytest.fixture
async def odd_pool() -> AsyncIterator[ClientPool]:
    async with ClientPool({}, in_process={"odd": _odd_server()}) as pool:
        yield pool


async def test_a_call_past_its_timeout_is_a_timeout_and_the_session_stays(odd_pool: ClientPool) -> None:
    started = time.monotonic()
    outcome = await odd_pool.call("odd", "slow", {"seconds": 30}, timeout=0.2)

    assert time.monotonic() - started < FAST
    assert not outcome.ok
    assert outcome.error_class == "timeout"
    assert outcome.error == "odd/slow: no answer within 0.2 s"
    after = await odd_pool.call("odd", "slow", {"seconds": 0})
    assert after.ok, after.error
    assert after.result == {"result": "done"}
    assert odd_pool.connections_opened == 1


@pytest.mark.parametrize(
    ("message", "error_class"),
    [
        ("GitHub's rate limit is exhausted; retry at 12:00", "rate_limited"),
        ("The database is unavailable right now", "unavailable"),
        ("AWS cannot be reached", "unavailable"),
        ("Something went wrong, try again later", "unavailable"),
        ("There is no such issue", "tool_error"),
    ],
)
async def test_an_error_result_without_an_outcome_is_classified_by_its_text(
    odd_pool: ClientPool, message: str, error_class: str
) -> None:
    outcome = await odd_pool.call("odd", "fail", {"message": message})

    assert not outcome.ok
    assert outcome.error_class == error_class
    assert outcome.error is not None
    assert message in outcome.error


async def test_a_long_error_text_is_cut(odd_pool: ClientPool) -> None:
    outcome = await odd_pool.call("odd", "fail", {"message": "x" * 5000})

    assert outcome.error is not None
    assert len(outcome.error) == 2000


async def test_a_json_rpc_error_is_a_protocol_error_with_its_code(odd_pool: ClientPool) -> None:
    outcome = await odd_pool.call("odd", "reject", {})

    assert outcome.error_class == "protocol_error"
    assert outcome.error == f"odd/reject: rejected (JSON-RPC {INVALID_PARAMS})"


@pytest.mark.parametrize(("text", "result"), [('{"a": [1, 2]}', {"a": [1, 2]}), ("plain words", "plain words")])
async def test_text_content_is_parsed_as_json_when_it_parses(odd_pool: ClientPool, text: str, result: Any) -> None:
    outcome = await odd_pool.call("odd", "text", {"value": text})

    assert outcome.ok, outcome.error
    assert outcome.result == result


# -- the factory server as a stdio child ----------------------------------------------------------------------


def _children(marker: str) -> list[int]:
    """PIDs of this process's live children whose command line holds ``marker`` (read from /proc)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        state, parent = stat.rsplit(")", 1)[1].split()[:2]
        if int(parent) == os.getpid() and state != "Z" and marker in cmdline:
            found.append(int(entry.name))
    return found


async def _until_gone(marker: str) -> None:
    """Poll (bounded) until no child matching ``marker`` is alive."""
    with anyio.fail_after(FAST):
        while _children(marker):  # noqa: ASYNC110 - no event tells when another process is gone
            await anyio.sleep(0.02)


@pytest.fixture
def stdio_specs(tmp_path: Path, sqlite_url: str) -> dict[str, ServerSpec]:
    """The factory server as ``python -m servers.factory`` (stdio), configured through mcp.json and AFU9_*."""
    path = _write(
        tmp_path,
        {
            "afu9-factory": {
                "type": "stdio",
                "command": sys.executable,
                "args": ["-m", "servers.factory"],
                "cwd": str(ROOT),
                "timeout": 30,
            },
            "afu9-demo": {"command": sys.executable, "args": ["-m", "tests.demo"], "cwd": str(ROOT)},
            "afu9-missing": {"command": "afu9-no-such-command", "connect_timeout": 5},
            "afu9-mute": {
                "command": sys.executable,
                "args": ["-c", "import sys; sys.stdin.read()"],
                "connect_timeout": 1,
            },
        },
    )
    return load_servers(path, {"AFU9_DATA_DIR": str(tmp_path), "AFU9_DATABASE_URL": sqlite_url})


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the child process through /proc")
async def test_a_killed_stdio_server_fails_one_call_as_transport_and_the_next_call_reconnects(
    stdio_specs: dict[str, ServerSpec], tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    async with ClientPool(stdio_specs, log_dir=logs) as pool:
        with anyio.fail_after(60):
            first = await pool.call("factory", "list_kpis", {"limit": 2})
        assert first.ok, first.error
        assert len(first.result["kpis"]) == 2
        (child,) = _children("servers.factory")

        os.kill(child, signal.SIGKILL)
        await _until_gone("servers.factory")
        broken = await pool.call("factory", "list_kpis", {"limit": 2})
        with anyio.fail_after(60):
            again = await pool.call("factory", "list_kpis", {"limit": 2})

        assert not broken.ok
        assert broken.error_class == "transport"
        assert broken.duration_ms < FAST * 1000
        assert broken.error is not None
        assert "factory over stdio (python" in broken.error
        assert again.ok, again.error
        assert pool.connections_opened == 2
    await _until_gone("servers.factory")
    # The children's logs went to the log folder, not to this process's stderr.
    assert "database schema is current" in (logs / "factory.log").read_text()


async def test_a_command_that_does_not_exist_is_a_transport_failure_naming_the_server(
    stdio_specs: dict[str, ServerSpec],
) -> None:
    async with ClientPool(stdio_specs) as pool:
        with anyio.fail_after(FAST):
            outcome = await pool.call("missing", "list_kpis", {})

    assert not outcome.ok
    assert outcome.error_class == "transport"
    assert outcome.error is not None
    assert "missing over stdio (afu9-no-such-command)" in outcome.error
    assert "FileNotFoundError" in outcome.error


async def test_a_server_that_never_answers_fails_within_its_connect_timeout_once_for_concurrent_calls(
    stdio_specs: dict[str, ServerSpec], caplog: pytest.LogCaptureFixture
) -> None:
    outcomes: list[Any] = []

    async def one() -> None:
        outcomes.append(await pool.call("mute", "list_kpis", {}))

    async with ClientPool(stdio_specs) as pool:
        with anyio.fail_after(3.5):  # one attempt of 1 s for all five, not five in a row
            async with anyio.create_task_group() as tg:
                for _ in range(5):
                    tg.start_soon(one)
        with pytest.raises(CallFailed) as raised:
            await pool.list_tools("mute")

    assert len(outcomes) == 5
    for outcome in outcomes:
        assert outcome.error_class == "transport"
        assert outcome.error is not None
        assert "cannot connect to mute over stdio (python" in outcome.error
        assert "no session within 1 s" in outcome.error
    assert raised.value.error_class == "transport"
    assert pool.connections_opened == 0
    warnings = [r for r in caplog.records if r.name == "orchestrator.clients" and r.levelname == "WARNING"]
    assert len(warnings) == 2  # one per attempt: the five calls shared one, list_tools made another


async def test_a_stdio_session_whose_calls_keep_timing_out_is_replaced(stdio_specs: dict[str, ServerSpec]) -> None:
    async with ClientPool(stdio_specs) as pool:
        with anyio.fail_after(60):
            assert (await pool.call("demo", "wait_seconds", {"seconds": 0})).ok
            first = await pool.call("demo", "wait_seconds", {"seconds": 30}, timeout=0.3)
            second = await pool.call("demo", "wait_seconds", {"seconds": 30}, timeout=0.3)
            assert pool.connections_opened == 1  # a timeout alone keeps the session
            third = await pool.call("demo", "wait_seconds", {"seconds": 30}, timeout=0.3)
            after = await pool.call("demo", "wait_seconds", {"seconds": 0})

    assert [o.error_class for o in (first, second, third)] == ["timeout"] * 3
    assert after.ok, after.error
    assert pool.connections_opened == 2  # three in a row: taken for wedged and restarted


# -- the factory server over HTTP -----------------------------------------------------------------------------

TOKEN = "orchestrator-token-" + "t" * 16


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """``python -m servers.factory --transport http`` on a free port, accepting one bearer token."""
    port = free_port()
    command = [sys.executable, "-m", "servers.factory", "--transport", "http", "--port", str(port)]
    env = {"AFU9_HTTP_TOKENS": f"orchestrator:{TOKEN}"}
    with start(command, env=env, data_dir=tmp_path, port=port) as server:
        server.wait_for_health()
        yield server


async def test_calls_over_http_send_the_bearer_token_from_the_environment(
    http_server: ServerProcess, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _write(
        tmp_path,
        {
            "afu9-factory-http": {"type": "http", "url": http_server.url(), "bearer_token_env": "FACTORY_TOKEN"},
            "afu9-wrong-http": {
                "type": "http",
                "url": http_server.url(),
                "headers": {"Authorization": "Bearer ${BAD}"},
            },
        },
        name="http.json",
    )
    bad = "not-the-token-" + "b" * 16
    caplog.set_level(logging.INFO, logger="orchestrator.clients")
    specs = load_servers(path, {"AFU9_ORCHESTRATOR_TRANSPORT": "http", "FACTORY_TOKEN": TOKEN, "BAD": bad})

    async with ClientPool(specs) as pool:
        with anyio.fail_after(60):
            outcomes = [await pool.call("factory", "get_kpi", {"kpi_id": "mttr"}) for _ in range(3)]
            refused = await pool.call("wrong", "get_kpi", {"kpi_id": "mttr"})

    assert all(outcome.ok for outcome in outcomes), [o.error for o in outcomes]
    assert outcomes[0].result["definition"]["kpi_id"] == "mttr"
    assert pool.connections_opened == 1
    assert refused.error_class == "transport"
    assert refused.error is not None
    assert bad not in refused.error
    assert TOKEN not in refused.error
    logged = [r.getMessage() for r in caplog.records if r.name == "orchestrator.clients"]
    assert any(r.startswith("MCP session to factory over HTTP") for r in logged), logged
    assert any("wrong" in r for r in logged), logged
    assert not any(bad in r or TOKEN in r for r in logged)


async def test_a_closed_port_is_a_quick_transport_failure() -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    async with ClientPool({"factory": ServerSpec("factory", "http", url=url, connect_timeout=5)}) as pool:
        with anyio.fail_after(FAST):
            outcome = await pool.call("factory", "list_kpis", {})

    assert outcome.error_class == "transport"
    assert outcome.error is not None
    assert f"factory over HTTP at {url}" in outcome.error
    assert outcome.duration_ms < 5000
