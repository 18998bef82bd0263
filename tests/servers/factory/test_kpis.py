"""The KPI catalog toolset, through a real in-process MCP client, on SQLite and PostgreSQL."""

from __future__ import annotations

from mcp import Client


async def test_list_kpis_returns_the_twelve_factory_kpis(factory_client: Client) -> None:
    result = await factory_client.call_tool("list_kpis", {"limit": 100})
    assert not result.is_error
    assert result.structured_content is not None
    ids = {kpi["kpi_id"] for kpi in result.structured_content["kpis"]}
    assert ids == {
        "cycle_time",
        "throughput",
        "success_rate",
        "test_coverage",
        "code_review_score",
        "mtbf",
        "mttr",
        "availability",
        "cost_per_outcome",
        "vulnerability_response_time",
        "security_incidents",
        "build_determinism",
    }
    assert result.structured_content["total"] == 12
    assert result.structured_content["next_cursor"] is None
