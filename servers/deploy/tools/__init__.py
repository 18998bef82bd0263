"""The deploy server's toolsets, one module per domain noun."""

from servers.deploy.tools.rollouts import rollouts

__all__ = ["TOOLSETS"]

TOOLSETS = (rollouts,)
