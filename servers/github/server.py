"""The github server: its one definition (wiring only)."""

from __future__ import annotations

from servers.github.deps import MIGRATIONS, GitHubDeps
from servers.github.routes import ROUTES
from servers.github.settings import GitHubSettings
from servers.github.tools import TOOLSETS
from shared.server import ServerDefinition

__all__ = ["SERVER", "main"]

SERVER = ServerDefinition(
    settings=GitHubSettings,
    summary="Issues, pull requests, branches, contents, commits, repositories and Actions runs on GitHub",
    intro="AFU-9 github server: acts on GitHub with the server's own credentials; answers are compact "
    "projections, lists are paged with cursors, user-written text is sanitised, writes take idempotency keys.",
    toolsets=TOOLSETS,
    deps=GitHubDeps.from_settings,
    migrations=MIGRATIONS,
    routes=ROUTES,
)

main = SERVER.main
