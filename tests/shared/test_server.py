"""The server kit: what every server does the same way (unknown and policy-hidden tools, probes)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from mcp import Client

from servers.factory.server import build_server
from servers.factory.settings import FactorySettings
from shared.transports import http_app


def _settings(tmp_path: Path, **overrides: object) -> FactorySettings:
    return FactorySettings.model_validate({"data_dir": tmp_path, **overrides})


async def test_an_unknown_tool_is_answered_with_the_list_of_tools_the_server_has(tmp_path: Path) -> None:
    async with Client(build_server(_settings(tmp_path))) as client:
        result = await client.call_tool("get_kpis", {})
    assert result.is_error
    assert result.content[0].text == (  # type: ignore[union-attr]
        "Unknown tool: get_kpis. This server's tools are: list_kpis, get_kpi, record_kpi_measurement, get_kpi_history."
    )


@pytest.mark.parametrize(
    ("overrides", "tool", "reason"),
    [
        ({"read_only": True}, "record_kpi_measurement", "read-only mode is on (AFU9_READ_ONLY=1)"),
        ({"disabled_tools": ["get_kpi"]}, "get_kpi", "it is listed in AFU9_FACTORY_DISABLED_TOOLS"),
        ({"enabled_tools": ["list_kpis"]}, "get_kpi", "it is not in AFU9_FACTORY_ENABLED_TOOLS"),
    ],
)
async def test_a_tool_hidden_by_policy_says_which_setting_hides_it(
    tmp_path: Path, overrides: dict[str, object], tool: str, reason: str
) -> None:
    async with Client(build_server(_settings(tmp_path, **overrides))) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool(tool, {"kpi_id": "mttr", "value": 1.0})
    assert tool not in listed
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert text.startswith(f"{tool} is not served here: {reason}")
    assert all(name in text for name in listed)


async def test_health_is_ok_and_ready_reports_the_database_per_dependency(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    app = http_app(build_server(settings), settings, stateless=True)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:1") as http,
    ):
        health = await http.get("/health")
        ready = await http.get("/ready")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "server": "factory", "version": "0.1.0"}
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "server": "factory",
        "checks": {"database": {"ok": True, "detail": "sqlite: reachable, schema current"}},
        "audit": {"pending": 0, "written": 0, "dropped": 0},
    }
