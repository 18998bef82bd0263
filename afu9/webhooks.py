"""``afu9 webhooks``: the stored GitHub webhook deliveries from a shell (an operator's view of the github
server's table, on the same database): list them, and replay one, the dead letters, or a time range. A running
github server picks replayed deliveries up within its poll interval."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from shared.db import Database

__all__ = ["add_commands", "run"]


def add_commands(commands: Any) -> None:
    """The ``webhooks`` command and its subcommands, on the CLI's subparsers."""
    webhooks = commands.add_parser("webhooks", help="list and replay stored GitHub webhook deliveries")
    sub = webhooks.add_subparsers(dest="webhooks_command", required=True, metavar="WEBHOOKS_COMMAND")

    listing = sub.add_parser("list", help="stored deliveries, newest first")
    listing.add_argument("--status", choices=("pending", "done", "dead", "invalid"), help="dead: the dead letters")
    listing.add_argument("--event", help="e.g. pull_request")
    listing.add_argument("--repository", help="owner/name")
    listing.add_argument("--since", type=_moment, help="received at or after (ISO 8601)")
    listing.add_argument("--until", type=_moment, help="received before (ISO 8601)")
    listing.add_argument("--limit", type=_count(1, 1_000), default=30, help="at most this many (default 30)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")

    replay = sub.add_parser(
        "replay",
        help="process stored deliveries again",
        description="Put deliveries back to pending: a running github server processes them again. A dead "
        "letter keeps the targets that already succeeded; a done delivery runs its targets anew.",
    )
    which = replay.add_mutually_exclusive_group()
    which.add_argument("--delivery", metavar="ID", help="one delivery (its X-GitHub-Delivery id)")
    which.add_argument("--dead", action="store_true", help="every dead letter (with --since/--until: those)")
    replay.add_argument("--since", type=_moment, help="received at or after (ISO 8601)")
    replay.add_argument("--until", type=_moment, help="received before (ISO 8601)")
    replay.add_argument("--limit", type=_count(1, 100_000), default=1_000, help="at most this many (default 1000)")


def run(args: argparse.Namespace) -> None:
    """Run the ``webhooks`` subcommand ``args`` names."""
    from afu9.database import on_database
    from servers.github.deps import MIGRATIONS
    from servers.github.settings import GitHubSettings
    from shared.db import KIT_MIGRATIONS
    from shared.logs import configure_logging
    from shared.runner import server_settings

    settings = server_settings(GitHubSettings)
    configure_logging("WARNING")
    owners = (KIT_MIGRATIONS, MIGRATIONS)
    if args.webhooks_command == "list":
        lines = on_database(settings, owners, lambda db: _listed(db, args), undone="nothing was listed")
        sys.stdout.write("".join(line + "\n" for line in lines))
        return
    if args.delivery is None and not args.dead and args.since is None and args.until is None:
        from shared.exits import fail

        fail("say what to replay: --delivery ID, --dead, or a --since/--until range")
    replayed, skipped = on_database(settings, owners, lambda db: _replayed(db, args), undone="nothing was replayed")
    if args.delivery is not None and not replayed and not skipped:
        from shared.exits import fail

        fail(f"no webhook delivery {args.delivery!r} is stored; `afu9 webhooks list` shows what is")
    for line in skipped:
        sys.stdout.write(f"skipped {line}\n")
    sys.stdout.write(
        f"replayed {len(replayed)} deliveries" + (f": {', '.join(replayed[:50])}" if replayed else "") + "\n"
    )


async def _listed(database: Database, args: argparse.Namespace) -> list[str]:
    from servers.github.webhooks.answers import delivery_item
    from servers.github.webhooks.store import DeliveryStore

    rows = await DeliveryStore(database).page(
        status=args.status,
        event=args.event,
        repository=args.repository,
        since=args.since,
        until=args.until,
        before_seq=None,
        limit=args.limit,
    )
    items = [delivery_item(row) for row in rows[: args.limit]]
    if args.json:
        return [json.dumps(item.model_dump(exclude_none=True), ensure_ascii=False) for item in items]
    lines = []
    for item in items:
        status = item.status + (f" ({item.attempts} attempts)" if item.attempts else "")
        lines.append(f"{item.received_at}  {item.delivery_id}  {status}  {item.summary}")
        if item.last_error:
            lines.append(f"    last error: {item.last_error}")
    return lines or ["no deliveries stored match"]


async def _replayed(database: Database, args: argparse.Namespace) -> tuple[list[str], list[str]]:
    from servers.github.webhooks.store import DeliveryStore

    return await DeliveryStore(database).replay(
        delivery_id=args.delivery, dead=args.dead, since=args.since, until=args.until, limit=args.limit
    )


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value[:40]!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _count(low: int, high: int) -> Any:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = low - 1
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"a whole number from {low} to {high}")
        return number

    return parse
