"""Running one server process: parse the serve options, load settings once, configure logging, serve.

``python -m servers.<name>`` and ``afu9 serve <name>`` both end here (:func:`run_server`), with the same
options: ``--transport stdio|http``, ``--host``, ``--port``, ``--stateless``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from shared.errors import ConfigError
from shared.exits import fail
from shared.logs import configure_logging
from shared.settings import ServerSettings, load_settings
from shared.stdio import serve_stdio
from shared.transports import HttpEndpoint, http_app, serve_http

if TYPE_CHECKING:
    from shared.server import ServerDefinition

__all__ = ["add_serve_arguments", "http_endpoint", "run_server", "server_settings"]

S = TypeVar("S", bound=ServerSettings)


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio", help="default: stdio")
    parser.add_argument("--host", help="HTTP interface (default: AFU9_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="HTTP port (default: the server's AFU9_<NAME>_PORT)")
    parser.add_argument(
        "--stateless", action="store_true", help="HTTP: stateless JSON responses, for a fleet behind a load balancer"
    )


def server_settings(settings_cls: type[S], host: str | None = None, port: int | None = None) -> S:
    """The server's settings from the environment (exit with one line if one is bad), with CLI overrides."""
    settings = load_settings(settings_cls)
    updates: dict[str, Any] = {}
    if host is not None:
        updates["host"] = host
    if port is not None:
        updates["port"] = port
    return settings.model_copy(update=updates) if updates else settings


def http_endpoint(definition: ServerDefinition[Any, Any], settings: ServerSettings, *, stateless: bool) -> HttpEndpoint:
    """Server and HTTP app for one server on its settings (ConfigError when they cannot be served)."""
    server = definition.build(settings)
    return HttpEndpoint(
        name=definition.name,
        app=http_app(server, settings, stateless=stateless),
        host=settings.host,
        port=settings.port,
        port_setting=f"{definition.env_prefix}PORT",
        unconfigured=server.parts.unconfigured(),
    )


def run_server(definition: ServerDefinition[Any, Any], argv: Sequence[str] | None = None) -> None:
    """Serve one server as ``argv`` says."""
    parser = argparse.ArgumentParser(
        prog=f"afu9 serve {definition.name}", description=f"Serve the AFU-9 {definition.name} MCP server."
    )
    add_serve_arguments(parser)
    args = parser.parse_args(argv)
    if not 0 <= (args.port or 0) <= 65535:
        parser.error("--port must be from 0 to 65535")
    settings = server_settings(definition.settings, args.host, args.port)
    configure_logging(settings.log_level)
    try:
        if args.transport == "stdio":
            serve_stdio(definition.build(settings))
            return
        endpoint = http_endpoint(definition, settings, stateless=args.stateless)
    except ConfigError as error:
        fail(str(error))

    def announce() -> None:
        sys.stdout.write(f"afu9 {definition.name}: serving MCP at {endpoint.url}\n")
        sys.stdout.flush()

    asyncio.run(serve_http([endpoint], on_started=announce))
