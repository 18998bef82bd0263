"""The factory server over streamable HTTP, as a real `afu9 serve factory --transport http` process.

Real clients only: the SDK's `Client(url)` for the protocol, httpx2 for raw requests (status codes, headers).
Servers are shared per module where the tests only read; a test that stops its server starts its own.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.processes import ServerProcess, afu9_http, free_port, run_afu9, wait_until

TOOLS = {"list_kpis", "get_kpi", "record_kpi_measurement", "get_kpi_history"}
SERVE_HTTP = ("serve", "factory", "--transport", "http")
ACCEPT = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def _initialize(request_id: int = 1, name: str = "raw-http-test") -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": name, "version": "1"}},
    }


async def _post(url: str, body: Any = None, *, headers: dict[str, str] | None = None, **kwargs: Any) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=10) as http:
        return await http.post(
            url, json=body if body is not None else _initialize(), headers=ACCEPT | (headers or {}), **kwargs
        )


@pytest.fixture(scope="module")
def stateful(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The factory server with default settings (stateful HTTP, loopback, no tokens) on a fresh SQLite dir."""
    with afu9_http(*SERVE_HTTP, data_dir=tmp_path_factory.mktemp("stateful")) as server:
        yield server


@pytest.fixture(scope="module")
def stateless(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with afu9_http(*SERVE_HTTP, "--stateless", data_dir=tmp_path_factory.mktemp("stateless")) as server:
        yield server


SECRET_1 = "secret-1-" + "a" * 16
OTHER_2 = "other-2-" + "b" * 16


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Bearer tokens for two clients, an extra allowed host and a small request size limit."""
    env = {
        "AFU9_HTTP_TOKENS": f"ci:{SECRET_1},{OTHER_2}",
        "AFU9_ALLOWED_HOSTS": "mcp.internal:*",
        "AFU9_MAX_REQUEST_BYTES": "2048",
    }
    with afu9_http(*SERVE_HTTP, env=env, data_dir=tmp_path_factory.mktemp("guarded")) as server:
        yield server


DB_PASSWORD = "pw-do-not-leak-7f3a"


@pytest.fixture(scope="module")
def database_down(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The factory server pointed at a PostgreSQL URL (with a password) on a port nothing listens on."""
    url = f"postgresql+asyncpg://afu9:{DB_PASSWORD}@127.0.0.1:{free_port()}/afu9"
    with afu9_http(*SERVE_HTTP, env={"AFU9_DATABASE_URL": url}, data_dir=tmp_path_factory.mktemp("down")) as server:
        yield server


@contextlib.asynccontextmanager
async def _authorized(url: str, token: str) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


# --- the protocol, stateful and stateless -------------------------------------------------------------------


async def test_stateful_http_lists_the_four_tools_and_answers_list_kpis(stateful: ServerProcess) -> None:
    async with Client(stateful.url()) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("list_kpis", {"limit": 100})

    assert tools == TOOLS
    assert not result.is_error, result.content
    assert result.structured_content is not None
    ids = {kpi["kpi_id"] for kpi in result.structured_content["kpis"]}
    assert {"cycle_time", "mttr", "build_determinism"} <= ids
    assert len(ids) == 12


async def test_stateful_http_answers_initialize_with_a_session_id(stateful: ServerProcess) -> None:
    response = await _post(stateful.url())

    assert response.status_code == 200
    assert response.headers.get("mcp-session-id")


async def test_stateless_http_serves_the_sdk_client(stateless: ServerProcess) -> None:
    async with Client(stateless.url()) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("get_kpi", {"kpi_id": "mttr"})

    assert tools == TOOLS
    assert not result.is_error, result.content
    assert result.structured_content is not None
    assert result.structured_content["definition"]["kpi_id"] == "mttr"


async def test_stateless_http_answers_plain_json_posts_without_a_session(stateless: ServerProcess) -> None:
    initialized = await _post(stateless.url())
    listed = await _post(
        stateless.url(),
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}},
        headers={"mcp-protocol-version": "2025-11-25"},
    )

    for response in (initialized, listed):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert "mcp-session-id" not in response.headers
    assert initialized.json()["result"]["serverInfo"]["name"] == "afu9-factory"
    assert {tool["name"] for tool in listed.json()["result"]["tools"]} == TOOLS


# --- probes ---------------------------------------------------------------------------------------------------


async def test_health_is_200_with_the_server_name(stateful: ServerProcess) -> None:
    async with httpx2.AsyncClient(timeout=10) as http:
        response = await http.get(stateful.url("/health"))

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["server"] == "factory"


async def test_ready_is_200_naming_each_dependency_ok(stateful: ServerProcess) -> None:
    async with httpx2.AsyncClient(timeout=10) as http:
        response = await http.get(stateful.url("/ready"))

    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "server": "factory",
        "checks": {"database": {"state": "ok"}, "audit": {"state": "ok"}},
    }


async def test_ready_is_503_naming_the_database_when_it_is_unreachable(database_down: ServerProcess) -> None:
    async with httpx2.AsyncClient(timeout=10) as http:
        ready = await http.get(database_down.url("/ready"))
        health = await http.get(database_down.url("/health"))

    assert ready.status_code == 503, ready.text
    assert ready.json()["checks"]["database"] == {"state": "down"}  # hosts, ports, driver text: in the log only
    assert "127.0.0.1" not in ready.text
    assert DB_PASSWORD not in ready.text
    wait_until(lambda: "dependency database is down" in database_down.stderr(), timeout=10, what="the log line")
    assert health.status_code == 200
    assert database_down.returncode is None


async def test_tools_answer_a_clear_error_when_the_database_is_unreachable(database_down: ServerProcess) -> None:
    async with Client(database_down.url()) as client:
        result = await client.call_tool("list_kpis", {})

    assert result.is_error
    text = " ".join(getattr(block, "text", "") for block in result.content)
    assert "database is unavailable" in text
    assert "Retry" in text
    assert DB_PASSWORD not in text
    # The failure is logged (JSON lines on stderr), without the password from the URL.
    wait_until(lambda: "database is unavailable" in database_down.stderr(), timeout=10, what="the failure in the log")
    assert DB_PASSWORD not in database_down.stderr()
    async with httpx2.AsyncClient(timeout=10) as http:
        assert (await http.get(database_down.url("/health"))).status_code == 200
        # The call's audit record waits in memory for the database.
        assert (await http.get(database_down.url("/ready"))).status_code == 503


# --- bearer tokens ----------------------------------------------------------------------------------------------


async def test_a_request_without_a_token_gets_401_with_www_authenticate(guarded: ServerProcess) -> None:
    response = await _post(guarded.url())

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="afu9"'  # no error code without a token


async def test_a_wrong_token_gets_401(guarded: ServerProcess) -> None:
    response = await _post(guarded.url(), headers={"Authorization": "Bearer secret-2-" + "c" * 16})

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_a_configured_token_opens_the_mcp_endpoint(guarded: ServerProcess) -> None:
    for token in (SECRET_1, OTHER_2):
        async with _authorized(guarded.url(), token) as client:
            result = await client.call_tool("get_kpi", {"kpi_id": "availability"})
            assert not result.is_error, result.content


async def test_health_and_ready_need_no_token(guarded: ServerProcess) -> None:
    async with httpx2.AsyncClient(timeout=10) as http:
        assert (await http.get(guarded.url("/health"))).status_code == 200
        assert (await http.get(guarded.url("/ready"))).status_code == 200


async def test_audit_names_the_token_client_and_is_flushed_on_sigterm(tmp_path: Path) -> None:
    env = {"AFU9_HTTP_TOKENS": f"ci:{SECRET_1},{OTHER_2}"}
    with afu9_http(*SERVE_HTTP, env=env, data_dir=tmp_path) as server:
        async with _authorized(server.url(), SECRET_1) as client:
            assert not (await client.call_tool("get_kpi", {"kpi_id": "mttr"})).is_error
            assert (await client.call_tool("get_kpi", {"kpi_id": "no_such_kpi"})).is_error
        assert server.stop(signal.SIGTERM) == 0, server.stderr()

    with sqlite3.connect(tmp_path / "afu9.db") as connection:
        rows = connection.execute(
            "SELECT server_name, tool_name, caller, outcome, transport FROM mcp_tool_calls ORDER BY started_at"
        ).fetchall()
    assert rows == [
        ("factory", "get_kpi", "ci", "ok", "http"),
        ("factory", "get_kpi", "ci", "tool_error", "http"),
    ]


# --- Host/Origin checks and size limit -----------------------------------------------------------------------


async def test_a_foreign_host_header_gets_421(stateful: ServerProcess) -> None:
    response = await _post(stateful.url(), headers={"Host": f"evil.example:{stateful.port}"})

    assert response.status_code == 421


async def test_a_foreign_origin_gets_403_and_a_loopback_origin_is_served(stateful: ServerProcess) -> None:
    foreign = await _post(stateful.url(), headers={"Origin": "http://evil.example"})
    local = await _post(stateful.url(), headers={"Origin": f"http://127.0.0.1:{stateful.port}"})

    assert foreign.status_code == 403
    assert local.status_code == 200


async def test_afu9_allowed_hosts_admits_the_named_host_and_no_other(guarded: ServerProcess) -> None:
    auth = {"Authorization": f"Bearer {SECRET_1}"}
    named = await _post(guarded.url(), headers=auth | {"Host": f"mcp.internal:{guarded.port}"})
    other = await _post(guarded.url(), headers=auth | {"Host": f"evil.example:{guarded.port}"})

    assert named.status_code == 200, named.text
    assert other.status_code == 421


async def test_a_body_over_afu9_max_request_bytes_gets_413(guarded: ServerProcess) -> None:
    auth = {"Authorization": f"Bearer {SECRET_1}"}
    padded = _initialize(name="x" * 4096)
    small = await _post(guarded.url(), headers=auth)
    declared = await _post(guarded.url(), padded, headers=auth)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b" " * 512

    async with httpx2.AsyncClient(timeout=10) as http:
        streamed = await http.post(guarded.url(), content=chunks(), headers=ACCEPT | auth)

    assert small.status_code == 200
    assert declared.status_code == 413
    assert streamed.status_code == 413


# --- refusing to start ------------------------------------------------------------------------------------------


def test_serving_http_off_loopback_without_tokens_exits_at_start_naming_afu9_http_tokens(tmp_path: Path) -> None:
    result = run_afu9(*SERVE_HTTP, "--host", "0.0.0.0", "--port", str(free_port()), data_dir=tmp_path, timeout=30)

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "AFU9_HTTP_TOKENS" in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


# --- the server's own address, session limits -------------------------------------------------------------------


async def test_a_server_bound_to_another_loopback_address_answers_to_it_with_and_without_a_port(
    tmp_path: Path,
) -> None:
    with afu9_http(*SERVE_HTTP, "--host", "127.0.0.2", data_dir=tmp_path, host="127.0.0.2") as server:
        url = server.url()
        with_port = await _post(url)
        without_port = await _post(url, headers={"Host": "127.0.0.2"})
        foreign = await _post(url, headers={"Host": f"evil.example:{server.port}"})
        wait_until(lambda: "AFU9_ALLOWED_HOSTS" in server.stderr(), timeout=10, what="the refusal in the log")
    assert with_port.status_code == 200, with_port.text
    assert without_port.status_code == 200, without_port.text
    assert foreign.status_code == 421
    assert "AFU9_ALLOWED_HOSTS" in foreign.text


async def test_one_client_cannot_open_more_sessions_than_its_share(tmp_path: Path) -> None:
    env = {"AFU9_HTTP_TOKENS": f"ci:{SECRET_1},{OTHER_2}", "AFU9_MAX_SESSIONS_PER_CLIENT": "2"}
    with afu9_http(*SERVE_HTTP, env=env, data_dir=tmp_path) as server:
        mine = {"Authorization": f"Bearer {SECRET_1}"}
        opened = [await _post(server.url(), headers=mine) for _ in range(3)]
        other = await _post(server.url(), headers={"Authorization": f"Bearer {OTHER_2}"})
    assert [response.status_code for response in opened] == [200, 200, 503]
    assert "Too many open sessions for this client" in opened[2].text
    assert other.status_code == 200
