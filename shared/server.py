"""The server kit: builds every AFU-9 MCP server the same way.

``build_mcp_server`` wires what every server shares: the registered toolsets (through ``shared.toolset``),
the lifespan that runs the server's dependencies, the audit middleware, bearer-token auth for HTTP, and the
``/health`` and ``/ready`` routes. A server's own ``server.py`` only names its toolsets and dependencies.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.audit import AuditLog, AuditMiddleware
from shared.auth import StaticTokenVerifier, auth_settings
from shared.db import Database, DependencyStatus
from shared.settings import ServerSettings
from shared.toolset import ToolPolicy, Toolset, register_tools, unserved_reason

__all__ = ["Afu9Server", "DatabaseDeps", "ServerDeps", "build_mcp_server"]

VERSION = "0.1.0"


class ServerDeps(Protocol):
    """What the kit needs of a server's dependencies (each server's ``deps.py`` implements it)."""

    database: Database

    def running(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """Open the clients for the server's lifetime; yields nothing of interest."""
        ...

    async def readiness(self) -> dict[str, DependencyStatus]:
        """Per-dependency readiness for ``/ready``."""
        ...


@dataclass
class DatabaseDeps:
    """The dependency every server has, its database (the audit trail writes into it).

    A server's ``deps.py`` extends it with its own clients; a server with nothing else uses it as it is.
    """

    database: Database

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncGenerator[None]:
        """Nothing to open (the database connects on demand); close the pool at the end."""
        try:
            yield
        finally:
            await self.database.aclose()

    async def readiness(self) -> dict[str, DependencyStatus]:
        return {"database": await self.database.check()}


class Afu9Server(MCPServer[Any]):
    """An MCPServer with the kit's parts in reach: its dependencies and its audit log."""

    def __init__(self, name: str, *, deps: ServerDeps, audit: AuditLog, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.deps = deps
        self.audit = audit


def build_mcp_server(
    *,
    name: str,
    instructions: str,
    settings: ServerSettings,
    toolsets: Sequence[Toolset],
    deps: ServerDeps,
) -> Afu9Server:
    """An MCPServer named ``afu9-<name>`` serving ``toolsets`` under ``settings``' policy, with ``deps``."""
    audit = AuditLog(name, deps.database, capacity=settings.audit_queue_size)

    @contextlib.asynccontextmanager
    async def lifespan(_server: MCPServer[Any]) -> AsyncGenerator[ServerDeps]:
        async with deps.running():
            audit.start()
            try:
                yield deps
            finally:
                await audit.aclose()

    policy = ToolPolicy.from_settings(name, settings)
    auth: dict[str, Any] = {}
    if settings.http_tokens:
        auth = {"token_verifier": StaticTokenVerifier(settings.http_tokens), "auth": auth_settings()}
    server = Afu9Server(
        f"afu9-{name}",
        deps=deps,
        audit=audit,
        title=f"AFU-9 {name}",
        instructions=instructions,
        version=VERSION,
        lifespan=lifespan,
        middleware=[AuditMiddleware(audit)],
        **auth,
    )
    served = {spec.name for spec in register_tools(server, toolsets, policy)}

    async def explain_unserved(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        # An unknown or policy-hidden tool gets a sentence naming what is served (the SDK only says "Unknown tool").
        tool = (ctx.params or {}).get("name") if ctx.method == "tools/call" else None
        if isinstance(tool, str) and tool not in served:
            text = unserved_reason(tool, toolsets, policy)
            return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
        return await call_next(ctx)

    server.middleware.append(explain_unserved)  # inside the audit, which records its answer too
    _add_probes(server, name, deps.readiness, audit)
    return server


def _add_probes(
    server: MCPServer[Any],
    name: str,
    readiness: Callable[[], Awaitable[dict[str, DependencyStatus]]],
    audit: AuditLog,
) -> None:
    @server.custom_route("/health", methods=["GET"])
    async def health(_request: Request) -> Response:  # pyright: ignore[reportUnusedFunction]
        return JSONResponse({"status": "ok", "server": name, "version": VERSION})

    @server.custom_route("/ready", methods=["GET"])
    async def ready(_request: Request) -> Response:  # pyright: ignore[reportUnusedFunction]
        checks = await readiness()
        ok = all(status.ok for status in checks.values())
        body = {
            "status": "ready" if ok else "unavailable",
            "server": name,
            "checks": {key: {"ok": status.ok, "detail": status.detail} for key, status in checks.items()},
            # Informational: a backlog or drops do not make the server unready.
            "audit": {"pending": audit.pending, "written": audit.written, "dropped": audit.dropped},
        }
        return JSONResponse(body, status_code=200 if ok else 503)
