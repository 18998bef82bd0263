"""The factory server: wiring only (toolsets, dependencies, settings)."""

from __future__ import annotations

from servers.factory.deps import FactoryDeps
from servers.factory.settings import FactorySettings
from servers.factory.tools import TOOLSETS
from shared.runner import run_server
from shared.server import Afu9Server, build_mcp_server

__all__ = ["INSTRUCTIONS", "SETTINGS", "build_server", "main"]

SETTINGS = FactorySettings

INSTRUCTIONS = (
    "AFU-9 factory server: the factory's 12 KPIs (cycle time, throughput, success rate, test coverage, code "
    "review score, MTBF, MTTR, availability, cost per outcome, vulnerability response time, security "
    "incidents, build determinism). Start with list_kpis; get_kpi explains a KPI; get_kpi_history reads its "
    "values; record_kpi_measurement stores a new value (a write tool)."
)


def build_server(settings: FactorySettings, deps: FactoryDeps | None = None) -> Afu9Server:
    """The factory MCP server for ``settings``; ``deps`` replaces the outside world in tests."""
    return build_mcp_server(
        name="factory",
        instructions=INSTRUCTIONS,
        settings=settings,
        toolsets=TOOLSETS,
        deps=deps or FactoryDeps.from_settings(settings),
    )


def main(argv: list[str] | None = None) -> None:
    """``python -m servers.factory [--transport stdio|http] ...``: the same as ``afu9 serve factory``."""
    run_server("factory", FactorySettings, build_server, argv)
