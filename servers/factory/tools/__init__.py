"""The factory server's toolsets, one module per domain noun."""

from servers.factory.tools.kpis import kpis

__all__ = ["TOOLSETS"]

TOOLSETS = (kpis,)
