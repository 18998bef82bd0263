"""The github server's toolsets, one module per domain noun. ``actions`` and ``webhooks`` are opt-in."""

from servers.github.tools.actions import actions
from servers.github.tools.context import context
from servers.github.tools.issues import issues
from servers.github.tools.pulls import pulls
from servers.github.tools.repos import repos
from servers.github.tools.webhooks import webhooks

__all__ = ["TOOLSETS"]

TOOLSETS = (context, issues, pulls, repos, actions, webhooks)
