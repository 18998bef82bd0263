"""Toolset ``context``: who the server acts as on GitHub, and its rate limit."""

from __future__ import annotations

from servers.github.deps import GitHubDeps
from servers.github.models import Me
from shared.toolset import Toolset

__all__ = ["context"]

context = Toolset("context", "GitHub through the server's own credentials.", start_with="get_me")


@context.read(title="Who am I on GitHub", open_world=True)
async def get_me(deps: GitHubDeps) -> Me:
    """Who the server acts as on GitHub (login, token or app, scopes) and the rate limit left. Call it first,
    or after a refusal for permissions or rate limits."""
    identity = await deps.github.identity(fresh=True)
    return Me(
        login=identity.login,
        kind=identity.kind,
        scopes=list(identity.scopes),
        api_url=deps.github.settings.api_url,
        rate_limit=identity.rate_limit,
        rate_remaining=identity.rate_remaining,
        rate_reset=identity.rate_reset.isoformat().replace("+00:00", "Z") if identity.rate_reset else None,
    )
