"""Running one server process: parse the serve options, load settings once, configure logging, serve.

Every server's ``main()`` is ``run_server(...)``; the ``afu9`` CLI calls the same function, so
``python -m servers.factory`` and ``afu9 serve factory`` behave identically.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

from shared.errors import ConfigError
from shared.logs import configure_logging
from shared.server import Afu9Server
from shared.settings import ServerSettings, load_settings
from shared.transports import HttpEndpoint, http_app, serve_http, serve_stdio

__all__ = ["add_serve_arguments", "fail", "http_endpoint", "run_server", "server_settings"]

S = TypeVar("S", bound=ServerSettings)
Build = Callable[[S], Afu9Server]


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio", help="default: stdio")
    parser.add_argument("--host", help="HTTP interface (default: AFU9_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="HTTP port (default: the server's AFU9_<NAME>_PORT)")
    parser.add_argument(
        "--stateless", action="store_true", help="HTTP: stateless JSON responses, for a fleet behind a load balancer"
    )


def fail(message: str) -> NoReturn:
    """Stop the process with one line on stderr (no traceback)."""
    sys.stderr.write(f"afu9: {message}\n")
    raise SystemExit(2)


def server_settings(settings_cls: type[S], host: str | None = None, port: int | None = None) -> S:
    """The server's settings from the environment (exit with one line if one is bad), with CLI overrides."""
    settings = load_settings(settings_cls)
    updates: dict[str, Any] = {}
    if host is not None:
        updates["host"] = host
    if port is not None:
        updates["port"] = port
    return settings.model_copy(update=updates) if updates else settings


def http_endpoint(name: str, settings: S, build: Build[S], *, stateless: bool = False) -> HttpEndpoint:
    """Server and HTTP app for one server on its settings (ConfigError when they cannot be served)."""
    app = http_app(build(settings), settings, stateless=stateless)
    return HttpEndpoint(name=name, app=app, host=settings.host, port=settings.port)


def run_server(name: str, settings_cls: type[S], build: Build[S], argv: Sequence[str] | None = None) -> None:
    """Serve one server as ``argv`` says (``--transport stdio|http``, ``--host``, ``--port``, ``--stateless``)."""
    parser = argparse.ArgumentParser(prog=f"afu9 serve {name}", description=f"Serve the AFU-9 {name} MCP server.")
    add_serve_arguments(parser)
    args = parser.parse_args(argv)
    try:
        settings = server_settings(settings_cls, args.host, args.port)
        configure_logging(settings.log_level)
        if args.transport == "stdio":
            serve_stdio(build(settings))
            return
        endpoint = http_endpoint(name, settings, build, stateless=args.stateless)
    except ConfigError as error:
        fail(str(error))
    asyncio.run(serve_http([endpoint]))
