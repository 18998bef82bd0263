"""The observability server's toolsets, one module per domain noun."""

from servers.observability.tools.alarms import alarms
from servers.observability.tools.health import health
from servers.observability.tools.logs import logs
from servers.observability.tools.metrics import metrics

__all__ = ["TOOLSETS"]

TOOLSETS = (health, logs, metrics, alarms)
