"""The factory server: its one definition (wiring only)."""

from __future__ import annotations

from servers.factory.deps import MIGRATIONS, FactoryDeps
from servers.factory.routes import ROUTES
from servers.factory.settings import FactorySettings
from servers.factory.tools import TOOLSETS
from shared.server import ServerDefinition

__all__ = ["SERVER", "main"]

SERVER = ServerDefinition(
    settings=FactorySettings,
    summary="Factory KPIs, cost attribution and the prompt library",
    intro="AFU-9 factory server: the factory's own KPIs (cycle time, throughput, success rate, test coverage, "
    "code review score, MTBF, MTTR, availability, cost per outcome, vulnerability response time, security "
    "incidents, build determinism).",
    toolsets=TOOLSETS,
    deps=FactoryDeps.from_settings,
    migrations=MIGRATIONS,
    routes=ROUTES,
)

main = SERVER.main
