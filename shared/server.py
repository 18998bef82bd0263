"""The server kit: one typed definition per server, and the one way every server is built from it.

A server's ``server.py`` exports a :class:`ServerDefinition` (its settings class, which names the server and its
port; its toolsets with their tools, prompts and resources; how to build its dependencies; its HTTP routes;
its migrations). The CLI, the registry, ``mcp.json``, the docs, the tests and the infrastructure read it.
:meth:`ServerDefinition.build` wires what every server shares: the selected tools, prompts and resources with
the dependencies bound, instructions built from the toolsets actually served, the lifespan that starts and
closes the dependencies as parts, the audit trail, MCP logging, and a helpful answer for unknown tools.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent

from shared.audit import AuditLog, AuditMiddleware, AuditPart, current_call
from shared.client_logs import enable_client_logging
from shared.db import Database, Migrations
from shared.deps import Dependency, Parts
from shared.routes import RouteSpec
from shared.settings import ServerSettings
from shared.toolset import (
    Selection,
    ToolPolicy,
    Toolset,
    build_tools,
    register_prompts_and_resources,
    select,
    unserved_reason,
)
from shared.version import version

__all__ = ["Afu9Server", "DatabaseDeps", "ServerDefinition", "ServerDeps"]

S = TypeVar("S", bound=ServerSettings)
D = TypeVar("D", bound="ServerDeps")

_SHUTDOWN_GRACE = 10.0  # seconds the parts get to close (the audit flush included)


class ServerDeps(Protocol):
    """What the kit needs of a server's dependencies (each server's ``deps.py`` implements it)."""

    database: Database

    def parts(self) -> Sequence[Dependency]:
        """Every part, in start order (the database first); the kit adds the audit log after them."""
        ...


@dataclass
class DatabaseDeps:
    """The dependency every server has, its database (the audit trail writes into it).

    A server's ``deps.py`` extends it with its own parts; a server with nothing else uses it as it is.
    """

    database: Database

    def parts(self) -> Sequence[Dependency]:
        return (self.database,)


class Afu9Server(MCPServer[Any]):
    """An MCPServer with the kit's parts in reach: its definition, settings, dependencies and audit log."""

    def __init__(
        self,
        name: str,
        *,
        definition: ServerDefinition[Any, Any],
        settings: ServerSettings,
        deps: ServerDeps,
        audit: AuditLog,
        parts: Parts,
        selection: Selection,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, **kwargs)
        self.definition = definition
        self.server_settings = settings
        self.deps = deps
        self.audit = audit
        self.parts = parts
        self.selection = selection


@dataclass(frozen=True, kw_only=True)
class ServerDefinition(Generic[S, D]):
    """Everything that makes one server, declared once (see the module docstring)."""

    settings: type[S]
    summary: str
    intro: str
    toolsets: tuple[Toolset, ...]
    deps: Callable[[S], D]
    migrations: Migrations | None = None
    routes: tuple[RouteSpec, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.settings.server

    @property
    def port(self) -> int:
        return int(self.settings.model_fields["port"].default)

    @property
    def env_prefix(self) -> str:
        return f"AFU9_{self.name.upper()}_"

    def build(self, settings: S, deps: D | None = None) -> Afu9Server:
        """The MCP server for ``settings``; ``deps`` replaces the outside world (tests inject fakes here)."""
        deps = deps if deps is not None else self.deps(settings)
        policy = ToolPolicy.from_settings(self.name, settings)
        selection = select(self.toolsets, policy)
        audit = AuditLog(self.name, deps.database, capacity=settings.audit_queue_size)
        parts = Parts([*deps.parts(), AuditPart(audit)])

        @contextlib.asynccontextmanager
        async def lifespan(_server: MCPServer[Any]) -> AsyncGenerator[D]:
            await parts.start()
            try:
                yield deps
            finally:
                # Also when the server is being cancelled (a signal): the audit queue must be flushed.
                with anyio.CancelScope(shield=True), anyio.move_on_after(_SHUTDOWN_GRACE):
                    await parts.close()

        server = Afu9Server(
            f"afu9-{self.name}",
            definition=self,
            settings=settings,
            deps=deps,
            audit=audit,
            parts=parts,
            selection=selection,
            title=f"AFU-9 {self.name}",
            instructions=selection.instructions(self.intro),
            version=version(),
            lifespan=lifespan,
            tools=build_tools(selection, deps, policy),
            middleware=[AuditMiddleware(audit)],
        )
        register_prompts_and_resources(server, selection, deps)
        enable_client_logging(server)
        server.middleware.append(_explain_unserved(self.toolsets, policy, selection))
        return server

    def main(self, argv: Sequence[str] | None = None) -> None:
        """``python -m servers.<name> [--transport stdio|http] ...``: the same as ``afu9 serve <name> ...``."""
        from shared.runner import run_server

        run_server(self, argv)


def _explain_unserved(toolsets: Sequence[Toolset], policy: ToolPolicy, selection: Selection) -> Any:
    served = [spec.name for spec in selection.tools]
    names = frozenset(served)

    async def explain_unserved(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        # An unknown or policy-hidden tool gets a sentence naming what is served (the SDK only says "Unknown tool").
        tool = (ctx.params or {}).get("name") if ctx.method == "tools/call" else None
        if isinstance(tool, str) and tool not in names:
            call = current_call.get()
            if call is not None:
                call.outcome = "unknown_tool"
            text = unserved_reason(tool[:200], toolsets, policy, served)
            return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
        return await call_next(ctx)

    return explain_unserved
