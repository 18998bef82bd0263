"""The audit trail: every tools/call becomes a row in mcp_tool_calls, off the call's critical path, and no
call can stop it.

Calls go through real MCP clients (in-process, and HTTP through the ASGI app) against the demo server; rows
are read back from the real database, on SQLite and PostgreSQL. A workflow's ids arrive in the request's
``_meta``; an error result tells its outcome in its own ``_meta``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.types import RequestParamsMeta
from sqlalchemy.engine import make_url

from shared import audit as audit_module
from shared import schema
from shared.audit import META_EXECUTION_ID, META_OUTCOME, META_STEP_ID, AuditLog
from shared.db import KIT_MIGRATIONS, Database
from shared.schema import mcp_tool_calls
from shared.transports import http_app
from tests.demo.server import SERVER, DemoDeps, DemoSettings
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


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Callable[..., DemoSettings]:
    def make(**overrides: Any) -> DemoSettings:
        values: dict[str, Any] = {"database_url": database_url, "data_dir": tmp_path, "allow_writes": True}
        return DemoSettings(**(values | overrides))

    return make


async def test_every_kind_of_tools_call_lands_in_mcp_tool_calls_with_its_outcome_and_redacted_arguments(
    settings: Callable[..., DemoSettings], database_url: str
) -> None:
    server = SERVER.build(settings())
    async with Client(server) as client:
        results = [
            await client.call_tool("list_notes", {}),
            await client.call_tool("add_note", {"text": f"call me: {TOKEN}", "idempotency_key": "audit-1"}),
            await client.call_tool("get_note", {"note_id": "nope"}),
            await client.call_tool("get_note", {"note_id": 5}),
            await client.call_tool("no_such_tool", {"password": "hunter2-hunter2"}),
            await client.call_tool("get_forecast", {"city": "Oslo"}),
        ]
    async with Client(SERVER.build(settings(allow_writes=False))) as client:
        results.append(await client.call_tool("add_note", {"text": "refused"}))
    # Leaving the client shut the server down, which flushed the audit queue.
    assert server.audit.pending == 0
    assert [r.is_error for r in results] == [False, False, True, True, True, True, True]

    rows = await _rows(database_url)

    assert [(row["tool_name"], row["outcome"]) for row in rows] == [
        ("list_notes", "ok"),
        ("add_note", "ok"),
        ("get_note", "tool_error"),
        ("get_note", "invalid_arguments"),
        ("no_such_tool", "unknown_tool"),
        ("get_forecast", "not_configured"),
        ("add_note", "write_refused"),
    ]
    listed, added, not_found, bad_arguments, unknown_tool, not_configured, refused = rows
    assert listed["params"] == {}
    assert listed["error"] is None
    assert added["params"] == {"text": "call me: [REDACTED]", "idempotency_key": "audit-1"}
    assert "There is no note 'nope'" in not_found["error"]
    assert bad_arguments["params"] == {"note_id": 5}
    assert "note_id: should be a valid string" in bad_arguments["error"]
    assert unknown_tool["params"] == {"password": "[REDACTED]"}
    assert unknown_tool["error"].startswith("Unknown tool: no_such_tool")
    assert "AFU9_DEMO_WEATHER_URL" in not_configured["error"]
    assert "writes are disabled" in refused["error"]
    for row in rows:
        assert row["server_name"] == "demo"
        assert row["caller"] == "local"
        assert row["transport"] == "stdio"  # not HTTP: the in-process client talks over streams, like stdio
        assert row["request_id"]
        assert isinstance(row["duration_ms"], int)
        assert row["duration_ms"] >= 0
        assert row["completed_at"] >= row["started_at"]
    assert TOKEN not in repr(rows)
    assert "hunter2" not in repr(rows)


async def test_a_call_cancelled_by_the_client_is_audited_as_cancelled(
    settings: Callable[..., DemoSettings], database_url: str
) -> None:
    server = SERVER.build(settings())
    async with Client(server) as client:
        with pytest.raises(MCPError) as raised:
            await client.call_tool("wait_seconds", {"seconds": 30}, read_timeout_seconds=0.3)
        assert raised.value.code == -32001
        await _eventually(lambda: server.audit.pending + server.audit.written == 1)

    [row] = await _rows(database_url)
    assert (row["tool_name"], row["outcome"]) == ("wait_seconds", "cancelled")


async def test_an_http_call_is_audited_with_the_token_s_client_as_caller(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{(tmp_path / 'afu9.db').as_posix()}"
    settings = DemoSettings.model_validate(
        {"database_url": url, "data_dir": tmp_path, "http_tokens": ["ci-bot:s3cret-token-1234567"]}
    )
    server = SERVER.build(settings)
    app = http_app(server, settings, stateless=True)
    http = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app),
        headers={"Authorization": "Bearer s3cret-token-1234567"},
        timeout=10,
    )
    async with app.router.lifespan_context(app), http:
        async with Client(streamable_http_client("http://127.0.0.1:3999/mcp", http_client=http)) as client:
            result = await client.call_tool("list_notes", {})
        assert not result.is_error
        await _eventually(lambda: server.audit.written == 1)

    [row] = await _rows(url)
    assert (row["tool_name"], row["outcome"], row["caller"], row["transport"]) == ("list_notes", "ok", "ci-bot", "http")
    assert "s3cret-token" not in repr(row)


async def test_a_call_answers_while_the_audit_database_hangs_and_its_record_is_written_later(
    postgres_url: str, tmp_path: Path
) -> None:
    target = make_url(postgres_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    migrated = Database(
        postgres_url, migrations=DemoDeps.from_settings(DemoSettings(data_dir=tmp_path)).database.migrations
    )
    await migrated.ensure_schema()
    await migrated.aclose()
    await proxy.start(forward=False)  # the database accepts connections and never answers
    try:
        proxied = target.set(port=proxy.port).render_as_string(hide_password=False)
        server = SERVER.build(DemoSettings.model_validate({"database_url": proxied, "data_dir": tmp_path}))
        async with Client(server) as client:
            result = await client.call_tool("get_forecast", {"city": "Oslo"})  # needs no database
            assert result.is_error  # not configured; what matters is that it answered
            assert server.audit.pending == 1  # waiting in memory; the writer is stuck on the database

            await proxy.stop()
            await proxy.start()
            await _eventually(lambda: server.audit.pending == 0)
    finally:
        await proxy.stop()

    [row] = await _rows(postgres_url)
    assert (row["server_name"], row["tool_name"], row["outcome"]) == ("demo", "get_forecast", "not_configured")


async def test_records_made_while_postgres_is_away_are_written_when_it_returns(
    postgres_url: str, tmp_path: Path
) -> None:
    target = make_url(postgres_url)
    async with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        proxied = target.set(port=proxy.port).render_as_string(hide_password=False)
        server = SERVER.build(DemoSettings.model_validate({"database_url": proxied, "data_dir": tmp_path}))
        async with Client(server) as client:
            assert not (await client.call_tool("list_notes", {})).is_error
            await _eventually(lambda: server.audit.written == 1)

            await proxy.stop()
            during = [await client.call_tool("get_note", {"note_id": note}) for note in ("a", "b", "c")]
            assert all(result.is_error for result in during)
            # A client tells this failure is worth retrying without reading its text.
            assert [(result.meta or {}).get(META_OUTCOME) for result in during] == ["unavailable"] * 3
            assert server.audit.pending == 3

            await proxy.start()
            await _eventually(lambda: server.audit.pending == 0)
            assert server.audit.written == 4
            assert server.audit.dropped == 0

    rows = await _rows(postgres_url)
    assert [row["tool_name"] for row in rows] == ["list_notes", "get_note", "get_note", "get_note"]
    assert [row["params"]["note_id"] for row in rows[1:]] == ["a", "b", "c"]
    for row in rows[1:]:
        assert row["outcome"] == "unavailable"
        assert "The AFU-9 database is unavailable right now" in row["error"]


async def test_records_no_database_would_take_as_sent_are_stored_cleaned_and_cut_and_never_block_the_trail(
    settings: Callable[..., DemoSettings], database_url: str
) -> None:
    server = SERVER.build(settings())
    long_name = "get_" + "x" * 300
    async with Client(server) as client:
        await client.call_tool("list_notes", {"extra": "nul\x00here", "nested": {"k\x00": ["\x00"]}})
        await client.call_tool(long_name, {})
        await client.call_tool("get_note", {"note_id": "ok"})
    _record(server.audit, "direct", request_id="r" * 400, arguments={"big": 2**80, "nan": float("nan")})
    assert await server.audit.flush()
    await server.deps.database.aclose()

    rows = await _rows(database_url)
    assert [row["tool_name"][:6] for row in rows] == ["list_n", "get_xx", "get_no", "direct"]
    first, second, third, fourth = rows
    assert first["params"] == {"extra": "nul\ufffdhere", "nested": {"k\ufffd": ["\ufffd"]}}
    assert first["outcome"] == "invalid_arguments"
    assert len(second["tool_name"]) == 255
    assert second["outcome"] == "unknown_tool"
    assert third["outcome"] == "tool_error"
    assert len(fourth["request_id"]) == 255
    assert fourth["params"] == {"big": str(2**80), "nan": "nan"}
    assert server.audit.rejected == 0


async def test_huge_arguments_are_stored_capped_with_a_marker(
    settings: Callable[..., DemoSettings], database_url: str
) -> None:
    server = SERVER.build(settings())
    async with Client(server) as client:
        await client.call_tool("add_note", {"text": "y" * 1_000_000, "many": list(range(1000))})
    rows = await _rows(database_url)
    params = rows[0]["params"]
    assert params["text"].startswith("y" * 2000)
    assert params["text"].endswith("…[truncated 998000 chars]")
    assert len(params["many"]) == 101
    assert params["many"][-1] == "…[900 more items]"


async def test_a_record_the_database_refuses_is_set_aside_counted_and_logged_and_the_rest_are_written(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(postgres_url)
    await db.ensure_schema()
    audit = AuditLog("demo", db)
    try:
        _record(audit, "before")
        _record(audit, "refused", outcome="x" * 40)  # longer than the outcome column: PostgreSQL refuses it
        _record(audit, "after")
        with caplog.at_level(logging.ERROR, logger="shared.audit"):
            assert await audit.flush()
    finally:
        await audit.aclose()
        await db.aclose()

    assert [row["tool_name"] for row in await _rows(postgres_url)] == ["before", "after"]
    assert (audit.written, audit.rejected, audit.pending) == (2, 1, 0)
    [logged] = [record for record in caplog.records if "set aside" in record.getMessage()]
    assert logged.tool == "refused"  # type: ignore[attr-defined]
    assert "value too long" in logged.reason  # type: ignore[attr-defined]


async def test_tool_names_request_ids_and_callers_are_stored_redacted(database_url: str) -> None:
    db = Database(database_url)
    await db.ensure_schema()
    audit = AuditLog("demo", db)
    try:
        _record(audit, TOKEN, request_id=TOKEN, caller=f"Bearer {TOKEN}", error=f"token={TOKEN}")
        assert await audit.flush()
    finally:
        await audit.aclose()
        await db.aclose()
    [row] = await _rows(database_url)
    assert TOKEN not in repr(row)
    assert row["tool_name"] == "[REDACTED]"
    assert row["request_id"] == "[REDACTED]"


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


async def test_closing_while_the_database_is_away_gives_up_in_bounded_time_and_says_what_was_lost_and_why(
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
    assert "unavailable" in lost.reason or "no answer" in lost.reason  # type: ignore[attr-defined]


async def test_an_audit_trail_that_does_not_drain_is_reported_down(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_module, "_STALLED_AFTER", 0.0)
    db = Database(f"postgresql+asyncpg://afu9:pw@127.0.0.1:{_closed_port()}/afu9")
    audit = AuditLog("demo", db)
    try:
        assert audit.health().ok
        _record(audit, "get_time")
        health = audit.health()
    finally:
        await db.aclose()
    assert not health.ok
    assert "1 records waiting" in health.detail


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


@pytest.mark.parametrize(
    "request_id",
    ["r" * 400, 2**70, -7, 1.5, TOKEN, "", "\u202eid"],
    ids=["long", "huge", "negative", "float", "token", "empty", "rtl"],
)
async def test_any_json_rpc_id_gets_its_answer_and_an_audit_row_cut_and_redacted(
    request_id: object, tmp_path: Path
) -> None:
    settings = DemoSettings(data_dir=tmp_path)
    server = SERVER.build(settings)
    app = http_app(server, settings, stateless=True)
    headers = {
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "mcp-protocol-version": "2025-11-25",
    }
    body = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": "list_notes"}}
    async with (
        app.router.lifespan_context(app),
        httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1:3999") as http,
    ):
        response = await http.post("/mcp", json=body, headers=headers)
        await _eventually(lambda: server.audit.pending == 0)
    if isinstance(request_id, float):
        # Not a JSON-RPC id (string or integer): the SDK takes the message as a notification; nothing breaks.
        assert response.status_code == 202
        return
    assert response.status_code == 200, response.text
    assert response.json()["id"] == request_id
    [row] = await _rows(f"sqlite+aiosqlite:///{(tmp_path / 'afu9.db').as_posix()}")
    assert row["tool_name"] == "list_notes"
    assert len(row["request_id"]) <= 255
    assert TOKEN not in repr(row)


# A workflow's calls: the request's _meta links them; an error result names its outcome


async def test_the_execution_and_step_in_a_request_s_meta_are_stored_with_its_call_and_anything_else_is_ignored(
    settings: Callable[..., DemoSettings], database_url: str
) -> None:
    execution, step = uuid.uuid4(), uuid.uuid4()
    metas: list[RequestParamsMeta | None] = [
        {META_EXECUTION_ID: str(execution), META_STEP_ID: str(step)},
        {META_EXECUTION_ID: str(execution).upper()},  # only the execution: the step stays empty
        None,
        {META_EXECUTION_ID: "not-a-uuid", META_STEP_ID: str(step) + "0"},
        {META_EXECUTION_ID: 5, META_STEP_ID: {"id": str(step)}},
        {META_EXECUTION_ID: [str(execution)], META_STEP_ID: None},
        {META_EXECUTION_ID: "urn:uuid:" + "0" * 1_000_000, META_STEP_ID: " " * 100 + str(step)},
        {META_EXECUTION_ID: f"{execution}\x00", META_STEP_ID: TOKEN},
    ]
    server = SERVER.build(settings())
    async with Client(server) as client:
        results = [await client.call_tool("list_notes", {}, meta=meta) for meta in metas]
    assert [result.is_error for result in results] == [False] * len(metas)
    _record(server.audit, "direct", execution_id=execution, step_id=str(step))  # the log's own callers
    assert await server.audit.flush()
    await server.deps.database.aclose()

    rows = await _rows(database_url)
    assert [(row["execution_id"], row["step_id"]) for row in rows] == [
        (execution, step),
        (execution, None),
        *[(None, None)] * 6,
        (execution, step),
    ]
    assert all(row["outcome"] == "ok" for row in rows)
    assert TOKEN not in repr(rows)


async def test_an_error_result_carries_its_outcome_in_its_meta_and_a_success_carries_nothing_new(
    demo_settings: Callable[..., DemoSettings],
) -> None:
    async with Client(SERVER.build(demo_settings())) as client:
        answered = await client.call_tool("list_notes", {})
        errors = {
            "tool_error": await client.call_tool("get_note", {"note_id": "nope"}),
            "invalid_arguments": await client.call_tool("get_note", {"note_id": 5}),
            "unknown_tool": await client.call_tool("no_such_tool", {}),  # answered by a middleware, as a model
            "not_configured": await client.call_tool("get_forecast", {"city": "Oslo"}),
        }
    async with Client(SERVER.build(demo_settings(allow_writes=False))) as client:
        errors["write_refused"] = await client.call_tool("add_note", {"text": "refused"})

    assert answered.meta is not None
    assert META_OUTCOME not in answered.meta
    for outcome, result in errors.items():
        assert result.is_error, outcome
        assert result.meta is not None, outcome
        assert result.meta[META_OUTCOME] == outcome
    # The SDK's own _meta of the result is kept alongside.
    assert errors["tool_error"].meta == answered.meta | {META_OUTCOME: "tool_error"}


async def test_an_error_result_carries_its_outcome_over_http_on_a_2025_connection(tmp_path: Path) -> None:
    settings = DemoSettings(data_dir=tmp_path)
    server = SERVER.build(settings)
    app = http_app(server, settings, stateless=True)
    headers = {
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "mcp-protocol-version": "2025-11-25",
    }
    step = uuid.uuid4()
    params = {"name": "get_note", "arguments": {"note_id": "nope"}, "_meta": {META_STEP_ID: str(step)}}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
    async with (
        app.router.lifespan_context(app),
        httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1:3999") as http,
    ):
        response = await http.post("/mcp", json=body, headers=headers)
        await _eventually(lambda: server.audit.pending == 0)
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["isError"] is True
    assert result["_meta"] == {META_OUTCOME: "tool_error"}
    [row] = await _rows(f"sqlite+aiosqlite:///{(tmp_path / 'afu9.db').as_posix()}")
    assert (row["execution_id"], row["step_id"], row["outcome"]) == (None, step, "tool_error")


async def test_upgrading_a_database_of_the_first_audit_revision_adds_step_id_and_keeps_its_rows(
    database_url: str,
) -> None:
    execution, step = uuid.uuid4(), uuid.uuid4()
    config = Config()
    config.set_main_option("script_location", str(Path(schema.__file__).parent / "migrations"))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(KIT_MIGRATIONS.versions))
    config.attributes["version_table"] = KIT_MIGRATIONS.version_table

    def to_first_revision(connection: sa.Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")

    old = Database(database_url)
    try:
        async with old.engine.begin() as connection:
            await connection.run_sync(to_first_revision)
            await connection.execute(
                mcp_tool_calls.insert().values(
                    id=uuid.uuid4(), execution_id=execution, server_name="demo", tool_name="before"
                )
            )
    finally:
        await old.aclose()

    db = Database(database_url)
    await db.ensure_schema()
    audit = AuditLog("demo", db)
    try:
        _record(audit, "after", execution_id=str(execution), step_id=str(step))
        assert await audit.flush()
        async with db.engine.connect() as connection:
            columns, indexes = await connection.run_sync(
                lambda sync: (
                    {column["name"] for column in sa.inspect(sync).get_columns("mcp_tool_calls")},
                    {index["name"] for index in sa.inspect(sync).get_indexes("mcp_tool_calls")},
                )
            )
            version = (
                await connection.execute(sa.text(f"SELECT version_num FROM {KIT_MIGRATIONS.version_table}"))  # noqa: S608
            ).scalar_one()
    finally:
        await audit.aclose()
        await db.aclose()

    assert version == "0002"
    assert "step_id" in columns
    assert "ix_mcp_tool_calls_execution_id" in indexes
    rows = await _rows(database_url)
    assert [(row["tool_name"], row["execution_id"], row["step_id"]) for row in rows] == [
        ("before", execution, None),
        ("after", execution, step),
    ]
