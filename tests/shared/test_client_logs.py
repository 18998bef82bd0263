"""MCP logging: a request's log records reach its client as notifications/message, at the level it asked for,
redacted; nothing else does. On both protocol eras, through real clients of the demo server."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from mcp import Client
from mcp.types import LoggingMessageNotificationParams

from tests.demo.server import SERVER, DemoSettings


@pytest.fixture(autouse=True)
def _demo_logs_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    """Let the demo's logger emit every level (the configured AFU9_LOG_LEVEL bounds what clients can get)."""
    caplog.set_level(logging.DEBUG, logger="servers.demo")


def _collector() -> tuple[list[LoggingMessageNotificationParams], Callable[..., Any]]:
    received: list[LoggingMessageNotificationParams] = []

    async def collect(params: LoggingMessageNotificationParams) -> None:
        received.append(params)

    return received, collect


async def test_a_client_that_asks_for_info_gets_the_request_s_records_from_info_up_redacted(
    demo_settings: Callable[..., DemoSettings],
) -> None:
    received, collect = _collector()
    async with Client(SERVER.build(demo_settings()), logging_callback=collect, log_level="info") as client:
        assert client.server_capabilities.logging is not None
        result = await client.call_tool("log_levels", {})
    assert not result.is_error
    assert [entry.level for entry in received] == ["info", "warning", "error"]
    assert all(entry.logger == "servers.demo" for entry in received)
    assert received[0].data["message"] == "demo info line with token=[REDACTED]"  # type: ignore[index]
    assert "ghp_" not in repr(received)


async def test_a_client_that_asks_for_nothing_gets_no_records_on_the_2026_protocol(
    demo_settings: Callable[..., DemoSettings],
) -> None:
    received, collect = _collector()
    async with Client(SERVER.build(demo_settings()), logging_callback=collect) as client:
        await client.call_tool("log_levels", {})
    assert received == []


# The client's logging/setLevel is deprecated by the 2026 protocol (SEP-2577); handshake-era clients still send it.
LEGACY_LOGGING = pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")


@LEGACY_LOGGING
async def test_on_the_handshake_protocol_set_level_decides_and_warning_is_the_default(
    demo_settings: Callable[..., DemoSettings],
) -> None:
    received, collect = _collector()
    async with Client(SERVER.build(demo_settings()), mode="legacy", logging_callback=collect) as client:
        assert client.server_capabilities.logging is not None
        await client.call_tool("log_levels", {})
        default = [entry.level for entry in received]
        received.clear()
        await client.set_logging_level("debug")
        await client.call_tool("log_levels", {})
        everything = [entry.level for entry in received]
        received.clear()
        await client.set_logging_level("error")
        await client.call_tool("log_levels", {})
        errors_only = [entry.level for entry in received]
    assert default == ["warning", "error"]
    assert everything == ["debug", "info", "warning", "error"]
    assert errors_only == ["error"]


@LEGACY_LOGGING
async def test_records_logged_outside_the_client_s_requests_are_never_sent_to_it(
    demo_settings: Callable[..., DemoSettings],
) -> None:
    received, collect = _collector()
    async with Client(SERVER.build(demo_settings()), mode="legacy", logging_callback=collect) as client:
        await client.set_logging_level("debug")
        logging.getLogger("servers.demo").error("background work, not this client's business")
        await client.call_tool("list_notes", {})
    assert received == []
