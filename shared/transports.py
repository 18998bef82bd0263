"""Serving a built server: stdio for local agents, streamable HTTP (one or several servers) for remote ones.

Over HTTP every server gets: the MCP endpoint at ``/mcp``, ``/health`` and ``/ready``, bearer-token auth when
``AFU9_HTTP_TOKENS`` is set (required off loopback), Host/Origin checks that are always on (extend them with
``AFU9_ALLOWED_HOSTS``/``AFU9_ALLOWED_ORIGINS``), a request size limit, and ``--stateless`` JSON mode for a
fleet behind a load balancer.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import logging
import signal
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette

from shared.errors import ConfigError
from shared.server import Afu9Server
from shared.settings import CommonSettings

__all__ = ["HttpEndpoint", "http_app", "is_loopback", "serve_http", "serve_stdio"]

log = logging.getLogger(__name__)

_LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
_LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]


@dataclass(frozen=True)
class HttpEndpoint:
    """One server to serve over HTTP on ``host:port``."""

    name: str
    app: Starlette
    host: str
    port: int


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def transport_security(settings: CommonSettings) -> TransportSecuritySettings:
    """Host/Origin checks: loopback names always, plus the configured ones; ``*`` turns the Host check off."""
    if "*" in settings.allowed_hosts:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[*_LOOPBACK_HOSTS, *settings.allowed_hosts],
        allowed_origins=[*_LOOPBACK_ORIGINS, *settings.allowed_origins],
    )


def http_app(server: Afu9Server, settings: CommonSettings, *, stateless: bool = False) -> Starlette:
    """The ASGI app for ``server``: ``/mcp``, ``/health``, ``/ready``, with auth, Host checks and size limit.

    Its lifespan starts reaching the database at once, so migrations apply at start and ``/ready`` turns
    green as soon as the database answers.
    """
    if not settings.http_tokens and not is_loopback(settings.host):
        raise ConfigError(
            "AFU9_HTTP_TOKENS",
            f"bearer tokens are required to serve HTTP on the non-loopback host {settings.host}",
        )
    app = server.streamable_http_app(
        stateless_http=stateless,
        json_response=stateless,
        max_request_body_size=settings.max_request_bytes,
        transport_security=transport_security(settings),
        host=settings.host,
    )
    session_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncGenerator[None]:
        async with session_lifespan(app):
            server.deps.database.start()
            yield

    app.router.lifespan_context = lifespan
    return app


def serve_stdio(server: Afu9Server) -> None:
    """Serve ``server`` over stdin/stdout until the client closes the pipe."""
    server.run("stdio")


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
            log.error("could not serve %s on %s:%s", endpoint.name, endpoint.host, endpoint.port)

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
