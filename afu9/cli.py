"""``afu9``: serve one server, bring the whole suite up, list tools, upgrade the database, regenerate files."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from afu9 import registry
from shared.errors import ConfigError
from shared.names import SERVERS
from shared.runner import add_serve_arguments, fail, http_endpoint, server_settings

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="afu9", description="AFU-9 MCP server suite.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve one server over stdio (default) or HTTP")
    serve.add_argument("server", choices=[s.name for s in SERVERS])
    add_serve_arguments(serve)

    up = commands.add_parser("up", help="serve every server over HTTP on its default port")
    up.add_argument("--host", help="interface (default: AFU9_HOST or 127.0.0.1)")
    up.add_argument("--stateless", action="store_true", help="stateless JSON responses")

    tools = commands.add_parser("tools", help="print a server's tool table (Markdown)")
    tools.add_argument("server", choices=[s.name for s in SERVERS])

    db = commands.add_parser("db", help="database commands")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    db_commands.add_parser("upgrade", help="apply every pending migration")

    commands.add_parser("generate", help="rewrite mcp.json, the README tool tables and docs/tools.md")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``afu9`` command."""
    args, rest = _parser().parse_known_args(argv)
    if args.command == "serve":
        entry = registry.load(args.server)
        forwarded = ["--transport", args.transport, *(["--stateless"] if args.stateless else [])]
        forwarded += ["--host", args.host] if args.host is not None else []
        forwarded += ["--port", str(args.port)] if args.port is not None else []
        entry.main([*forwarded, *rest])
        return
    if rest:
        fail(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "up":
        _up(args.host, args.stateless)
    elif args.command == "tools":
        from afu9.generate import tool_table

        sys.stdout.write(tool_table(registry.load(args.server)) + "\n")
    elif args.command == "db":
        _db_upgrade()
    elif args.command == "generate":
        from afu9.generate import write_all

        for path in write_all():
            sys.stdout.write(f"wrote {path}\n")


def _up(host: str | None, stateless: bool) -> None:
    from shared.logs import configure_logging
    from shared.settings import CommonSettings, load_settings
    from shared.transports import serve_http

    configure_logging(load_settings(CommonSettings).log_level)
    servers = [(entry, server_settings(entry.settings, host)) for entry in registry.all_servers()]
    try:
        endpoints = [
            http_endpoint(entry.name, settings, entry.build, stateless=stateless) for entry, settings in servers
        ]
    except ConfigError as error:
        fail(str(error))

    def announce() -> None:
        lines = ["AFU-9 is up.", ""]
        config: dict[str, object] = {}
        for endpoint, (_entry, settings) in zip(endpoints, servers, strict=True):
            base = f"http://{endpoint.host}:{endpoint.port}"
            database = "PostgreSQL" if settings.database_url else f"SQLite {settings.data_dir / 'afu9.db'}"
            writes = "on" if settings.allow_writes else "off"
            lines.append(f"  {endpoint.name:<14} {base}/mcp   database: {database}, writes: {writes}")
            lines.append(f"  {'':<14} health {base}/health, ready {base}/ready")
            config[f"afu9-{endpoint.name}"] = {"type": "http", "url": f"{base}/mcp"} | (
                {"headers": {"Authorization": "Bearer ${AFU9_TOKEN}"}} if settings.http_tokens else {}
            )
        lines += [
            "",
            "Client config (paste into Claude Desktop, VS Code or any MCP client):",
            json.dumps({"mcpServers": config}, indent=2),
            "",
            "Press Ctrl+C to stop.",
        ]
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()

    asyncio.run(serve_http(endpoints, on_started=announce))


def _db_upgrade() -> None:
    from sqlalchemy.exc import ArgumentError, InvalidRequestError

    from shared.db import Database
    from shared.errors import DependencyUnavailable
    from shared.logs import configure_logging
    from shared.redaction import redact_text
    from shared.settings import CommonSettings, load_settings

    settings = load_settings(CommonSettings)
    configure_logging("WARNING")
    key = "AFU9_DATABASE_URL" if settings.database_url is not None else "AFU9_DATA_DIR"
    database = Database(settings.sqlalchemy_url())

    async def upgrade() -> None:
        try:
            await database.ensure_schema()
        finally:
            await database.aclose()

    try:
        asyncio.run(upgrade())
    except DependencyUnavailable:
        fail(f"cannot reach the database ({key}): {database.last_error}; the schema was not upgraded")
    except (ArgumentError, InvalidRequestError, ImportError) as error:
        reason = redact_text(str(error).splitlines()[0] if str(error) else type(error).__name__)
        fail(
            f"invalid setting AFU9_DATABASE_URL: {reason} "
            "(expected sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db)"
        )
    sys.stdout.write(f"database schema is current ({settings.sqlalchemy_url().split(':', 1)[0]})\n")
