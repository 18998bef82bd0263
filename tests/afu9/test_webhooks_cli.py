"""``afu9 webhooks list`` and ``afu9 webhooks replay`` as an operator runs them: a subprocess on the database
a github server stored its deliveries in, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from servers.github.deps import MIGRATIONS
from servers.github.schema import webhook_deliveries
from servers.github.webhooks.intake import delivery_of
from servers.github.webhooks.store import DeliveryStore
from shared.db import KIT_MIGRATIONS, Database
from tests.github_fake.webhooks import example
from tests.processes import run_afu9


def _stored(url: str) -> None:
    """Three deliveries as a github server leaves them: one done, two dead letters."""

    async def store() -> None:
        database = Database(url, migrations=(KIT_MIGRATIONS, MIGRATIONS))
        try:
            deliveries = DeliveryStore(database)
            push = example("push")
            await deliveries.add(delivery_of("cli-done", "push", push, json.dumps(push).encode()))
            for name in ("cli-dead-1", "cli-dead-2"):
                opened = example("issues.opened")
                await deliveries.add(delivery_of(name, "issues", opened, json.dumps(opened).encode()))
            async with database.connect() as connection:
                table = webhook_deliveries
                await connection.execute(
                    sa.update(table).where(table.c.delivery_id == "cli-done").values(status="done")
                )
                await connection.execute(
                    sa.update(table)
                    .where(table.c.delivery_id.like("cli-dead-%"))
                    .values(status="dead", attempts=5, last_error="triage: github.add_issue_comment answered 502")
                )
        finally:
            await database.aclose()

    asyncio.run(store())


def _statuses(url: str) -> dict[str, tuple[str, int]]:
    async def read() -> dict[str, tuple[str, int]]:
        database = Database(url, migrations=(KIT_MIGRATIONS, MIGRATIONS))
        try:
            async with database.connect() as connection:
                table = webhook_deliveries
                rows = await connection.execute(sa.select(table.c.delivery_id, table.c.status, table.c.attempts))
                return {row.delivery_id: (row.status, row.attempts) for row in rows}
        finally:
            await database.aclose()

    return asyncio.run(read())


def _afu9(database_url: str, tmp_path: Path, *args: str) -> Any:
    env = {"AFU9_DATABASE_URL": database_url} if database_url.startswith("postgresql") else {}
    return run_afu9("webhooks", *args, env=env, data_dir=tmp_path)


def test_dead_letters_are_listed_and_replayed_from_the_shell(database_url: str, tmp_path: Path) -> None:
    _stored(database_url)

    dead = _afu9(database_url, tmp_path, "list", "--status", "dead")
    as_json = _afu9(database_url, tmp_path, "list", "--json", "--limit", "2")
    replayed = _afu9(database_url, tmp_path, "replay", "--dead")

    assert dead.returncode == 0, dead.stderr
    lines = dead.stdout.splitlines()
    assert [line.split()[1] for line in lines if not line.startswith(" ")] == ["cli-dead-2", "cli-dead-1"]
    assert "dead (5 attempts)  issue #1 opened by Codertocat" in lines[0]
    assert lines[1] == "    last error: triage: github.add_issue_comment answered 502"
    assert [json.loads(line)["delivery_id"] for line in as_json.stdout.splitlines()] == ["cli-dead-2", "cli-dead-1"]
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout == "replayed 2 deliveries: cli-dead-1, cli-dead-2\n"
    assert _statuses(database_url) == {
        "cli-done": ("done", 0),
        "cli-dead-1": ("pending", 0),
        "cli-dead-2": ("pending", 0),
    }


def test_one_delivery_or_a_time_range_is_replayed(tmp_path: Path, sqlite_url: str) -> None:
    _stored(sqlite_url)

    one = _afu9(sqlite_url, tmp_path, "replay", "--delivery", "cli-done")
    none = _afu9(sqlite_url, tmp_path, "replay", "--since", "2999-01-01T00:00:00Z")
    everything = _afu9(sqlite_url, tmp_path, "replay", "--since", "2000-01-01", "--limit", "2")

    assert one.stdout == "replayed 1 deliveries: cli-done\n"
    assert none.stdout == "replayed 0 deliveries\n"
    assert everything.stdout.startswith("replayed 2 deliveries")


def test_what_cannot_be_done_is_said_in_one_line(tmp_path: Path, sqlite_url: str) -> None:
    _stored(sqlite_url)

    unsaid = _afu9(sqlite_url, tmp_path, "replay")
    unknown = _afu9(sqlite_url, tmp_path, "replay", "--delivery", "no-such\x01id")
    both = _afu9(sqlite_url, tmp_path, "replay", "--delivery", "a", "--dead")
    bad_time = _afu9(sqlite_url, tmp_path, "list", "--since", "yesterday")
    bad_limit = _afu9(sqlite_url, tmp_path, "list", "--limit", "99999999999999999999")

    for result in (unsaid, unknown, both, bad_time, bad_limit):
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
    assert unsaid.stderr == "afu9: say what to replay: --delivery ID, --dead, or a --since/--until range\n"
    assert "no webhook delivery 'no-such\\x01id' is stored" in unknown.stderr
    assert "not allowed with argument" in both.stderr
    assert "not an ISO 8601 time: 'yesterday'" in bad_time.stderr
    assert "a whole number from 1 to 1000" in bad_limit.stderr
