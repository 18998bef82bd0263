"""The github server's toolsets, one module per domain noun."""

from servers.github.tools.context import context

__all__ = ["DEFAULT_TOOLSETS", "TOOLSETS"]

TOOLSETS = (context,)
DEFAULT_TOOLSETS = ("context",)
