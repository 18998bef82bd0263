"""The deploy server's toolsets, one module per domain noun."""

from servers.deploy.tools.rollouts import rollouts
from servers.deploy.tools.secrets import secrets
from servers.deploy.tools.stacks import stacks

__all__ = ["TOOLSETS"]

TOOLSETS = (rollouts, secrets, stacks)
