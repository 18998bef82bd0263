"""The audit trail: every tools/call becomes a row in mcp_tool_calls, off the call's critical path.

Calls go through real MCP clients (in-process, and HTTP through the ASGI app); rows are read back from the
real database, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
import sqlalchemy as sa
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy.engine import make_url

from servers.factory.server import build_server
from servers.factory.settings import FactorySettings
from shared.audit import AuditLog
from shared.db import Database
from shared.schema import mcp_tool_calls
from shared.server import DatabaseDeps, build_mcp_server
from shared.toolset import Toolset
from shared.transports import http_app
from tests.tcp_proxy import TcpProxy

TOKEN = "ghp_" + "T0k3n" * 8


async def _rows(url: str) -> list[dict[str, Any]]:
    db = Database(url)
    try:
        async with db.connect() as connection:
            result = await connection.execute(sa.select(mcp_tool_calls).order_by(mcp_tool_calls.c.started_at))
            return [dict(row) for row in result.mappings()]
    finally:
        await db.aclose()


async def _eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll ``check`` until it holds, failing after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not check():  # noqa: ASYNC110 - the audit log has no event to wait on; poll its counters
            await asyncio.sleep(0.02)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _record(audit: AuditLog, tool: str, **fields: Any) -> None:
    values: dict[str, Any] = {
        "tool": tool,
        "arguments": {"n": 1},
        "outcome": "ok",
        "error": None,
        "started": time.time(),
        "duration_ms": 3,
        "caller": "local",
        "transport": "stdio",
        "request_id": "1",
    }
    audit.record(**(values | fields))


async def test_every_kind_of_tools_call_lands_in_mcp_tool_calls_with_redacted_arguments(
    factory_settings: Callable[..., FactorySettings], database_url: str
) -> None:
    server = build_server(factory_settings())
    async with Client(server) as client:
        listed = await client.call_tool("list_kpis", {"limit": 2})
        recorded = await client.call_tool(
            "record_kpi_measurement",
            {"kpi_id": "mttr", "value": 30.0, "source": TOKEN, "idempotency_key": "audit-1"},
        )
        missing = await client.call_tool("get_kpi", {"kpi_id": "no_such_kpi"})
        invalid = await client.call_tool("get_kpi", {"kpi_id": 5})
        unknown = await client.call_tool("no_such_tool", {"password": "hunter2-hunter2"})
    # Leaving the client shut the server down, which flushed the audit queue.
    assert server.audit.pending == 0
    assert [r.is_error for r in (listed, recorded, missing, invalid, unknown)] == [False, False, True, True, True]

    rows = await _rows(database_url)

    assert [(row["tool_name"], row["outcome"]) for row in rows] == [
        ("list_kpis", "ok"),
        ("record_kpi_measurement", "ok"),
        ("get_kpi", "tool_error"),
        ("get_kpi", "invalid_arguments"),
        ("no_such_tool", "unknown_tool"),
    ]
    ok, record, not_found, bad_arguments, unknown_tool = rows
    assert ok["params"] == {"limit": 2}
    assert ok["error"] is None
    assert record["params"] == {"kpi_id": "mttr", "value": 30.0, "source": "[REDACTED]", "idempotency_key": "audit-1"}
    assert record["error"] is None
    assert not_found["params"] == {"kpi_id": "no_such_kpi"}
    assert "There is no KPI 'no_such_kpi'" in not_found["error"]
    assert bad_arguments["params"] == {"kpi_id": 5}
    assert "validation error" in bad_arguments["error"]
    assert "kpi_id" in bad_arguments["error"]
    assert unknown_tool["params"] == {"password": "[REDACTED]"}
    assert unknown_tool["error"].startswith("Unknown tool: no_such_tool")
    for row in rows:
        assert row["server_name"] == "factory"
        assert row["caller"] == "local"
        assert row["transport"] == "stdio"  # not HTTP: the in-process client talks over streams, like stdio
        assert row["request_id"]
        assert isinstance(row["duration_ms"], int)
        assert row["duration_ms"] >= 0
        assert row["completed_at"] >= row["started_at"]
    assert TOKEN not in repr(rows)
    assert "hunter2" not in repr(rows)


async def test_an_http_call_is_audited_with_the_token_s_client_as_caller(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{(tmp_path / 'afu9.db').as_posix()}"
    settings = FactorySettings.model_validate(
        {"database_url": url, "data_dir": tmp_path, "http_tokens": ["ci-bot:s3cret-token-1"]}
    )
    server = build_server(settings)
    app = http_app(server, settings, stateless=True)
    http = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app),
        headers={"Authorization": "Bearer s3cret-token-1"},
        timeout=10,
    )
    async with app.router.lifespan_context(app), http:
        async with Client(streamable_http_client("http://127.0.0.1:3004/mcp", http_client=http)) as client:
            result = await client.call_tool("get_kpi", {"kpi_id": "mttr"})
        assert not result.is_error
        await _eventually(lambda: server.audit.written == 1)

    [row] = await _rows(url)
    assert (row["tool_name"], row["outcome"], row["caller"], row["transport"]) == ("get_kpi", "ok", "ci-bot", "http")
    assert "s3cret-token-1" not in repr(row)


async def test_a_call_answers_at_once_while_the_audit_database_hangs_and_its_record_is_written_later(
    postgres_url: str, tmp_path: Path
) -> None:
    clock = Toolset("clock", "Clock")

    @clock.read(title="Get the time")
    async def get_time() -> str:
        """The time."""
        return "12:00"

    target = make_url(postgres_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    await proxy.start(forward=False)  # the database accepts connections and never answers
    try:
        database = Database(target.set(port=proxy.port).render_as_string(hide_password=False))
        server = build_mcp_server(
            name="demo",
            instructions="Demo.",
            settings=FactorySettings(data_dir=tmp_path),
            toolsets=[clock],
            deps=DatabaseDeps(database),
        )
        async with Client(server) as client:
            started = time.perf_counter()
            result = await client.call_tool("get_time", {})
            answered = time.perf_counter() - started
            assert not result.is_error
            assert server.audit.pending == 1  # waiting in memory; the writer is stuck on the database

            await proxy.stop()
            await proxy.start()
            await _eventually(lambda: server.audit.pending == 0)
    finally:
        await proxy.stop()

    # A connection attempt to the hanging database takes seconds (its timeout); the call did not wait for it.
    assert answered < 1.0
    [row] = await _rows(postgres_url)
    assert (row["server_name"], row["tool_name"], row["outcome"]) == ("demo", "get_time", "ok")


async def test_records_made_while_postgres_is_away_are_written_when_it_returns(
    postgres_url: str, tmp_path: Path
) -> None:
    target = make_url(postgres_url)
    async with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        proxied = target.set(port=proxy.port).render_as_string(hide_password=False)
        settings = FactorySettings.model_validate({"database_url": proxied, "data_dir": tmp_path, "allow_writes": True})
        server = build_server(settings)
        async with Client(server) as client:
            assert not (await client.call_tool("list_kpis", {})).is_error
            await _eventually(lambda: server.audit.written == 1)

            await proxy.stop()
            during = [await client.call_tool("get_kpi", {"kpi_id": kpi}) for kpi in ("mttr", "mtbf", "throughput")]
            assert all(result.is_error for result in during)
            assert server.audit.pending == 3

            await proxy.start()
            await _eventually(lambda: server.audit.pending == 0)
            assert server.audit.written == 4
            assert server.audit.dropped == 0

    rows = await _rows(postgres_url)
    assert [row["tool_name"] for row in rows] == ["list_kpis", "get_kpi", "get_kpi", "get_kpi"]
    assert [row["params"]["kpi_id"] for row in rows[1:]] == ["mttr", "mtbf", "throughput"]
    for row in rows[1:]:
        assert row["outcome"] == "tool_error"
        assert "The AFU-9 database is unavailable right now" in row["error"]


async def test_a_full_queue_drops_the_oldest_records_and_counts_them(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(database_url)
    audit = AuditLog("demo", db, capacity=3)
    try:
        with caplog.at_level(logging.WARNING, logger="shared.audit"):
            for n in range(5):
                _record(audit, f"tool_{n}")
        assert audit.dropped == 2
        assert audit.pending == 3
        assert await audit.flush()
    finally:
        await audit.aclose()
        await db.aclose()

    assert [row["tool_name"] for row in await _rows(database_url)] == ["tool_2", "tool_3", "tool_4"]
    assert audit.written == 3
    warnings = [record for record in caplog.records if "audit queue full" in record.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].dropped == 1  # type: ignore[attr-defined]


async def test_closing_the_audit_log_flushes_what_is_queued(database_url: str) -> None:
    db = Database(database_url)
    await db.ensure_schema()
    audit = AuditLog("demo", db)  # the background writer is not started: only closing can write these
    try:
        for n in range(3):
            _record(audit, f"tool_{n}", arguments={"n": n, "token": "s3cret"})
        assert await _rows(database_url) == []
        await audit.aclose()
    finally:
        await db.aclose()

    rows = await _rows(database_url)
    assert [(row["tool_name"], row["params"]) for row in rows] == [
        (f"tool_{n}", {"n": n, "token": "[REDACTED]"}) for n in range(3)
    ]
    assert audit.pending == 0


async def test_the_running_writer_and_a_flush_never_write_a_record_twice(database_url: str) -> None:
    db = Database(database_url)
    await db.ensure_schema()
    audit = AuditLog("demo", db)
    audit.start()
    try:
        for n in range(50):
            _record(audit, f"tool_{n}")
        async with asyncio.timeout(20):
            await asyncio.gather(audit.flush(), audit.flush())
    finally:
        await audit.aclose()
        await db.aclose()

    names = [row["tool_name"] for row in await _rows(database_url)]
    assert sorted(names) == sorted(f"tool_{n}" for n in range(50))


async def test_closing_while_the_database_is_away_gives_up_in_bounded_time_and_says_what_was_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = Database(f"postgresql+asyncpg://afu9:pw@127.0.0.1:{_closed_port()}/afu9")
    audit = AuditLog("demo", db)
    audit.start()
    _record(audit, "get_time")
    _record(audit, "get_time")
    try:
        with caplog.at_level(logging.ERROR, logger="shared.audit"):
            async with asyncio.timeout(10):
                await audit.aclose(timeout=0.5)
    finally:
        await db.aclose()

    [lost] = [record for record in caplog.records if "audit records lost at shutdown" in record.getMessage()]
    assert lost.lost == 2  # type: ignore[attr-defined]


async def test_records_pushed_out_of_a_full_queue_are_counted_dropped_only_if_their_batch_is_lost(
    postgres_url: str,
) -> None:
    target = make_url(postgres_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    await proxy.start(forward=False)  # the writer's first batch hangs on the database
    db = Database(target.set(port=proxy.port).render_as_string(hide_password=False))
    audit = AuditLog("demo", db, capacity=3)
    audit.start()
    try:
        _record(audit, "tool_0")
        _record(audit, "tool_1")
        await _eventually(lambda: audit._writing_up_to == 2)  # pyright: ignore[reportPrivateUsage]
        for n in range(2, 5):
            _record(audit, f"tool_{n}")  # pushes tool_0 and tool_1, still being written, out of the queue
        assert (audit.pending, audit.dropped) == (3, 0)

        await proxy.stop()  # the hanging batch fails: tool_0 and tool_1 are lost after all
        await _eventually(lambda: audit.dropped == 2)
        await proxy.start()
        await _eventually(lambda: audit.pending == 0)
    finally:
        await audit.aclose()
        await db.aclose()
        await proxy.stop()

    assert (audit.written, audit.dropped) == (3, 2)
    assert [row["tool_name"] for row in await _rows(postgres_url)] == ["tool_2", "tool_3", "tool_4"]
