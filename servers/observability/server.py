"""The observability server: its one definition (wiring only)."""

from __future__ import annotations

from servers.observability.deps import ObservabilityDeps
from servers.observability.settings import ObservabilitySettings
from servers.observability.tools import TOOLSETS
from shared.server import ServerDefinition

__all__ = ["SERVER", "main"]

SERVER = ServerDefinition(
    settings=ObservabilitySettings,
    summary="CloudWatch logs, metrics and alarms, ALB target health, red/yellow/green service health",
    intro="AFU-9 observability server: CloudWatch logs (search, Insights, a task's last lines), metrics, alarms, "
    "and a green/yellow/red health verdict with reasons per ECS service.",
    toolsets=TOOLSETS,
    deps=ObservabilityDeps.from_settings,
)

main = SERVER.main
