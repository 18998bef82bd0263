"""``afu9``: serve one server, bring the whole suite up, print client configs, list tools, upgrade the
database, list and replay webhook deliveries, regenerate files."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from servers import registry
from shared.errors import ConfigError
from shared.exits import fail

__all__ = ["main"]

CLIENTS = ("claude-desktop", "vscode", "claude-code")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="afu9", description="AFU-9 MCP server suite.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="serve one server over stdio (default) or HTTP",
        description="Serve one server; every option after the server's name goes to it (see afu9 serve NAME --help).",
        add_help=False,
    )
    serve.add_argument("server", choices=registry.names())
    serve.add_argument("options", nargs=argparse.REMAINDER, help="--transport stdio|http, --host, --port, --stateless")

    up = commands.add_parser("up", help="serve every server over HTTP on its port (AFU9_<SERVER>_PORT)")
    up.add_argument("--host", help="interface (default: AFU9_HOST or 127.0.0.1)")
    up.add_argument("--stateless", action="store_true", help="stateless JSON responses")

    config = commands.add_parser("config", help="print the config a client needs to start or reach the servers")
    config.add_argument("--client", choices=CLIENTS, default="claude-desktop")

    tools = commands.add_parser("tools", help="print a server's tool table (Markdown)")
    tools.add_argument("server", choices=registry.names())

    db = commands.add_parser("db", help="database commands")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    db_commands.add_parser(
        "upgrade", help="apply every pending migration of the kit, every server and the orchestrator"
    )

    from afu9 import webhooks, workflows

    webhooks.add_commands(commands)
    workflows.add_commands(commands)
    from afu9.executions import add_worker_command

    add_worker_command(commands)
    commands.add_parser(
        "generate", help="rewrite mcp.json, the README tables, docs/tools.md and the workflow JSON Schema"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``afu9`` command."""
    args = _parser().parse_args(argv)
    if args.command == "serve":
        registry.load(args.server).main(args.options)
    elif args.command == "up":
        _up(args.host, args.stateless)
    elif args.command == "config":
        from afu9.generate import client_config

        sys.stdout.write(client_config(args.client) + "\n")
    elif args.command == "tools":
        from afu9.generate import tool_table

        sys.stdout.write(tool_table(registry.load(args.server)) + "\n")
    elif args.command == "db":
        _db_upgrade()
    elif args.command == "webhooks":
        from afu9 import webhooks

        webhooks.run(args)
    elif args.command == "workflow":
        from afu9 import workflows

        workflows.run(args)
    elif args.command == "worker":
        from afu9.executions import worker

        worker(args)
    elif args.command == "generate":
        from afu9.generate import write_all

        for path in write_all():
            sys.stdout.write(f"wrote {path}\n")


def _up(host: str | None, stateless: bool) -> None:
    from afu9.generate import http_client_configs
    from shared.logs import configure_logging
    from shared.runner import http_endpoint, server_settings
    from shared.settings import CommonSettings, load_settings
    from shared.transports import serve_http

    configure_logging(load_settings(CommonSettings).log_level)
    servers = [(definition, server_settings(definition.settings, host)) for definition in registry.definitions()]
    try:
        endpoints = [http_endpoint(definition, settings, stateless=stateless) for definition, settings in servers]
    except ConfigError as error:
        fail(str(error))

    def announce() -> None:
        lines = ["AFU-9 is up.", ""]
        for endpoint, (definition, settings) in zip(endpoints, servers, strict=True):
            base = endpoint.url.removesuffix("/mcp")
            database = "PostgreSQL" if settings.database_url else f"SQLite {settings.data_dir / 'afu9.db'}"
            writes = "on" if settings.allow_writes else "off"
            lines.append(f"  {definition.name:<14} {endpoint.url}   database: {database}, writes: {writes}")
            lines.append(f"  {'':<14} health {base}/health, ready {base}/ready")
            for part, setting in endpoint.unconfigured.items():
                lines.append(f"  {'':<14} not ready: {part} is not configured; set {setting}")
        tokens = any(settings.http_tokens for _, settings in servers)
        vscode, claude_code = http_client_configs({e.name: e.url for e in endpoints}, tokens=tokens)
        lines += [
            "",
            "VS Code (.vscode/mcp.json):",
            json.dumps(vscode, indent=2),
            "",
            "Claude Code:",
            *(f"  {command}" for command in claude_code),
            "",
            "Claude Desktop starts its own servers over stdio: `uv run afu9 config --client claude-desktop`.",
            "Press Ctrl+C to stop.",
        ]
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()

    asyncio.run(serve_http(endpoints, on_started=announce))


def _db_upgrade() -> None:
    from afu9.database import on_database
    from orchestrator.schema import MIGRATIONS as ORCHESTRATOR
    from shared.db import KIT_MIGRATIONS, Database
    from shared.logs import configure_logging
    from shared.settings import CommonSettings, load_settings

    settings = load_settings(CommonSettings)
    configure_logging("WARNING")
    owners = [KIT_MIGRATIONS, *(d.migrations for d in registry.definitions() if d.migrations), ORCHESTRATOR]

    async def nothing_more(_database: Database) -> None:
        return None

    on_database(settings, owners, nothing_more, undone="the schema was not upgraded")
    owned = ", ".join(owner.owner for owner in owners)
    sys.stdout.write(f"database schema is current ({settings.sqlalchemy_url().split(':', 1)[0]}; {owned})\n")
