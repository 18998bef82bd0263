"""Serving a built server over streamable HTTP, one or several servers in one process (stdio: ``shared/stdio.py``).

Every server gets: the MCP endpoint at ``/mcp`` (bearer tokens when ``AFU9_HTTP_TOKENS`` is set, required off
loopback), ``/health`` and ``/ready``, the server's own routes each behind its guard, the Host/Origin check on
every route, request size limits, session limits, and ``--stateless`` JSON mode for a fleet behind a load
balancer. SIGINT and SIGTERM stop every server cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import json
import logging
import signal
from collections.abc import AsyncGenerator, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.auth import StaticTokenVerifier
from shared.errors import ConfigError
from shared.routes import BEARER, PUBLIC, HostCheck, RouteSpec, authenticate
from shared.server import Afu9Server
from shared.settings import CommonSettings
from shared.version import version

__all__ = ["HttpEndpoint", "http_app", "http_routes", "is_loopback", "serve_http"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HttpEndpoint:
    """One server to serve over HTTP on ``host:port``; ``port_setting`` is what changes the port."""

    name: str
    app: Starlette
    host: str
    port: int
    port_setting: str = ""
    unconfigured: Mapping[str, str] = field(default_factory=dict[str, str])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/mcp"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def http_routes(server: Afu9Server) -> list[RouteSpec]:
    """Every HTTP route of ``server`` beside ``/mcp``: the probes, then the server's own."""
    return [
        RouteSpec("/health", _health, ("GET",), PUBLIC, "Liveness: 200 while the process runs."),
        RouteSpec("/ready", _ready, ("GET",), PUBLIC, "Readiness: 200/503 per dependency (detail for a token)."),
        *server.definition.routes,
    ]


def http_app(server: Afu9Server, settings: CommonSettings, *, stateless: bool = False) -> Starlette:
    """The ASGI app of ``server``: ``/mcp`` and every route behind its guard, the Host/Origin check around all.

    Its lifespan starts the server's parts and begins reaching the outside world at once, so migrations apply
    at start and ``/ready`` turns green as soon as the dependencies answer.
    """
    if not settings.http_tokens and not is_loopback(settings.host):
        raise ConfigError(
            "AFU9_HTTP_TOKENS",
            f"bearer tokens are required to serve HTTP on the non-loopback host {settings.host}",
        )
    server.streamable_http_app(
        stateless_http=stateless,
        json_response=stateless,
        max_request_body_size=settings.max_request_bytes,
        session_idle_timeout=settings.session_idle_seconds,
        max_sessions=settings.max_sessions,
        # The Host/Origin check below covers every route, /mcp included.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    manager = server.session_manager
    verifier = StaticTokenVerifier(settings.http_tokens) if settings.http_tokens else None
    mcp_app: ASGIApp = StreamableHTTPASGIApp(manager)
    if not stateless:
        mcp_app = _SessionCap(mcp_app, manager, settings.max_sessions_per_client)
    # The SDK's session manager applies AFU9_MAX_REQUEST_BYTES to /mcp itself (no second copy of the body).
    routes = [Route("/mcp", BEARER.wrap(mcp_app, verifier=verifier, max_body=None, deps=server.deps))]
    for spec in http_routes(server):
        limit = spec.max_body_bytes if spec.max_body_bytes is not None else settings.max_request_bytes
        endpoint = _Endpoint(spec, server)
        routes.append(
            Route(
                spec.path,
                spec.guard.wrap(endpoint, verifier=verifier, max_body=limit, deps=server.deps),
                methods=list(spec.methods),
            )
        )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncGenerator[None]:
        async with manager.run():
            await server.parts.warm()
            yield

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                HostCheck,
                bound_host=settings.host,
                allowed_hosts=settings.allowed_hosts,
                allowed_origins=settings.allowed_origins,
            )
        ],
        lifespan=lifespan,
    )
    app.state.server = server
    app.state.verifier = verifier
    return app


class _Endpoint:
    """A route's ``async (request, server) -> Response`` as an ASGI app (a class: Starlette routes to it as one)."""

    def __init__(self, spec: RouteSpec, server: Afu9Server) -> None:
        self.spec = spec
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.spec.endpoint(Request(scope, receive), self.server)
        await response(scope, receive, send)


async def _health(request: Request, server: Afu9Server) -> Response:
    return JSONResponse({"status": "ok", "server": server.definition.name, "version": version()})


async def _ready(request: Request, server: Afu9Server) -> Response:
    """200/503 naming each dependency's state; its detail only for a caller with a valid token."""
    results = await server.parts.readiness()
    ready = server.parts.ready(results)
    verifier = request.app.state.verifier
    detailed = verifier is not None and not isinstance(await authenticate(request.headers, verifier), Response)
    checks: dict[str, object] = {}
    for name, health in results.items():
        entry: dict[str, object] = {"state": health.state.value}
        if health.setting:
            entry["setting"] = health.setting
        if detailed:
            entry["detail"] = health.detail
        checks[name] = entry
    body: dict[str, object] = {
        "status": "ready" if ready else "unavailable",
        "server": server.definition.name,
        "checks": checks,
    }
    if detailed:
        audit = server.audit
        body["audit"] = {
            "pending": audit.pending,
            "written": audit.written,
            "dropped": audit.dropped,
            "rejected": audit.rejected,
        }
    return JSONResponse(body, status_code=200 if ready else 503)


class _SessionCap:
    """Refuses a new stateful session to a client that already holds ``limit`` of them (503), so one client
    cannot use up ``AFU9_MAX_SESSIONS`` for everyone."""

    def __init__(self, app: ASGIApp, manager: StreamableHTTPSessionManager, limit: int) -> None:
        self.app = app
        self.manager = manager
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        opening = scope["type"] == "http" and scope["method"] == "POST" and "mcp-session-id" not in Headers(scope=scope)
        if opening and user is not None:
            # The SDK records which credential opened each session (2.3.0 keeps it in _session_owners).
            owners: dict[str, Any] = getattr(self.manager, "_session_owners", {})
            held = sum(1 for owner in owners.values() if owner.get("client_id") == user.access_token.client_id)
            if held >= self.limit:
                body = {
                    "jsonrpc": "2.0",
                    "id": None,
                    "error": {
                        "code": -32000,
                        "message": f"Too many open sessions for this client ({held}); close sessions you no longer "
                        "use (HTTP DELETE) or wait for idle ones to expire.",
                    },
                }
                response = Response(json.dumps(body), status_code=503, media_type="application/json")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# -- serving -------------------------------------------------------------------------------------------------


async def serve_http(endpoints: Sequence[HttpEndpoint], on_started: Callable[[], None] | None = None) -> None:
    """Serve every endpoint in this process until SIGINT/SIGTERM, then shut all down cleanly.

    ``on_started`` runs once every endpoint is listening.
    """
    import uvicorn

    servers = [
        _uvicorn_server(
            uvicorn.Config(
                endpoint.app,
                host=endpoint.host,
                port=endpoint.port,
                log_config=None,
                access_log=False,
                lifespan="on",
                timeout_graceful_shutdown=10,
            )
        )
        for endpoint in endpoints
    ]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop)

    async def serve(server: Any, endpoint: HttpEndpoint) -> None:
        try:
            await server.serve()
        except SystemExit:
            # uvicorn exits the process when it cannot start (port taken...): stop the others cleanly instead.
            change = f"; choose another with --port or {endpoint.port_setting}" if endpoint.port_setting else ""
            log.error(
                "could not serve %s on %s:%s (is the port taken?)%s",
                endpoint.name,
                endpoint.host,
                endpoint.port,
                change,
            )

    tasks = [
        asyncio.create_task(serve(server, endpoint), name=f"http-{endpoint.name}")
        for server, endpoint in zip(servers, endpoints, strict=True)
    ]

    async def freeze_when_started() -> None:
        # Objects alive after start-up are long-lived: move them out of the GC's reach so full
        # collections (the main source of tail latency) stay short.
        while not all(server.started for server in servers):
            if any(task.done() for task in tasks):
                return
            await asyncio.sleep(0.05)
        if on_started is not None:
            on_started()
        gc.collect()
        gc.freeze()

    freezer = asyncio.create_task(freeze_when_started())
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        if any(not server.started for server in servers):
            raise SystemExit(1)
    finally:
        freezer.cancel()
        if not all(task.done() for task in tasks):  # cancelled from outside: still shut every server down
            stop()
            await asyncio.wait(tasks, timeout=15)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


def _uvicorn_server(config: Any) -> Any:
    """A uvicorn.Server that leaves signals to :func:`serve_http`, which stops every server at once."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Generator[None]:
            yield

    return Server(config)
