"""Idempotency keys as a kit service, on SQLite and PostgreSQL: one write per key whatever the concurrency,
clear refusals, and keys that free themselves when their call failed or died."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import BaseModel

from shared.db import KIT_MIGRATIONS, Database
from shared.errors import Conflict, DependencyUnavailable
from shared.idempotency import Idempotency
from shared.schema import idempotency_keys


class Written(BaseModel):
    id: str
    value: int


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url, migrations=(KIT_MIGRATIONS,))
    await db.ensure_schema()
    try:
        yield db
    finally:
        await db.aclose()


def _writer(log: list[int], value: int, *, fail: bool = False) -> Any:
    async def write(connection: Any) -> Written:
        await asyncio.sleep(0.05)  # long enough for concurrent calls to overlap
        if fail:
            raise RuntimeError("the write failed")
        log.append(value)
        return Written(id=str(uuid.uuid4()), value=value)

    return write


async def test_the_same_key_and_values_run_the_write_once_and_replay_its_first_result(database: Database) -> None:
    keys, log = Idempotency(database, "demo"), []
    first, replayed_first = await keys.run(
        tool="write", key="k1", request={"v": 1}, action=_writer(log, 1), result_type=Written
    )
    again, replayed_again = await keys.run(
        tool="write", key="k1", request={"v": 1}, action=_writer(log, 1), result_type=Written
    )
    assert (replayed_first, replayed_again) == (False, True)
    assert again == first
    assert log == [1]


async def test_the_same_key_with_other_values_is_refused_naming_the_key(database: Database) -> None:
    keys, log = Idempotency(database, "demo"), []
    await keys.run(tool="write", key="k1", request={"v": 1}, action=_writer(log, 1), result_type=Written)
    with pytest.raises(Conflict, match="Idempotency key 'k1' was already used for a write call with different values"):
        await keys.run(tool="write", key="k1", request={"v": 2}, action=_writer(log, 2), result_type=Written)
    assert log == [1]


async def test_keys_are_scoped_per_server_and_tool(database: Database) -> None:
    log: list[int] = []
    for server, tool in [("demo", "write"), ("demo", "other"), ("other", "write")]:
        _, replayed = await Idempotency(database, server).run(
            tool=tool, key="k1", request={"v": 1}, action=_writer(log, 1), result_type=Written
        )
        assert not replayed
    assert log == [1, 1, 1]


async def test_concurrent_calls_with_one_key_write_once_and_all_get_the_one_result(database: Database) -> None:
    keys, log = Idempotency(database, "demo"), []
    results = await asyncio.gather(
        *(
            keys.run(tool="write", key="race", request={"v": 7}, action=_writer(log, 7), result_type=Written)
            for _ in range(6)
        )
    )
    assert log == [7]
    assert len({result.id for result, _ in results}) == 1
    assert sorted(replayed for _, replayed in results) == [False] + [True] * 5


async def test_a_write_that_fails_frees_its_key_so_a_retry_runs_again(database: Database) -> None:
    keys, log = Idempotency(database, "demo"), []
    with pytest.raises(RuntimeError):
        await keys.run(tool="write", key="k", request={"v": 1}, action=_writer(log, 1, fail=True), result_type=Written)
    result, replayed = await keys.run(
        tool="write", key="k", request={"v": 1}, action=_writer(log, 1), result_type=Written
    )
    assert not replayed
    assert result.value == 1
    assert log == [1]


async def _claim_left_by_a_dead_call(database: Database, lease_until: datetime) -> None:
    from shared.idempotency import _fingerprint  # pyright: ignore[reportPrivateUsage]

    async with database.connect() as connection:
        await connection.execute(
            idempotency_keys.insert().values(
                server_name="demo",
                tool_name="write",
                key="k",
                fingerprint=_fingerprint({"v": 1}),
                state="pending",
                lease_until=lease_until,
                created_at=datetime.now(UTC),
            )
        )


async def test_a_key_whose_call_died_is_taken_over_once_its_lease_ran_out(database: Database) -> None:
    await _claim_left_by_a_dead_call(database, datetime.now(UTC) - timedelta(seconds=1))
    log: list[int] = []
    result, replayed = await Idempotency(database, "demo").run(
        tool="write", key="k", request={"v": 1}, action=_writer(log, 1), result_type=Written
    )
    assert (result.value, replayed, log) == (1, False, [1])


async def test_a_key_still_in_progress_past_the_wait_is_a_retry_later_answer(database: Database) -> None:
    await _claim_left_by_a_dead_call(database, datetime.now(UTC) + timedelta(minutes=5))
    log: list[int] = []
    with pytest.raises(DependencyUnavailable, match="still in progress; nothing was done twice"):
        await Idempotency(database, "demo", wait=0.2).run(
            tool="write", key="k", request={"v": 1}, action=_writer(log, 1), result_type=Written
        )
    assert log == []


async def test_keys_older_than_the_retention_are_forgotten(database: Database) -> None:
    old = datetime.now(UTC) - timedelta(days=8)
    async with database.connect() as connection:
        await connection.execute(
            idempotency_keys.insert().values(
                server_name="demo",
                tool_name="write",
                key="old",
                fingerprint="x",
                state="done",
                result={},
                lease_until=old,
                created_at=old,
            )
        )
    await Idempotency(database, "demo").run(
        tool="write", key="new", request={}, action=_writer([], 1), result_type=Written
    )
    async with database.connect() as connection:
        keys = (await connection.execute(sa.select(idempotency_keys.c.key))).scalars().all()
    assert keys == ["new"]


class Sent(BaseModel):
    id: int
    replayed: bool = False


async def test_once_marks_a_replayed_upstream_write_and_without_a_key_needs_no_database(
    database: Database, tmp_path: Any
) -> None:
    sent: list[int] = []

    async def send() -> Sent:
        sent.append(len(sent) + 1)
        return Sent(id=sent[-1])

    keys = Idempotency(database, "demo")
    first = await keys.once(tool="send", key="s1", request={"to": "x"}, action=send, result_type=Sent)
    again = await keys.once(tool="send", key="s1", request={"to": "x"}, action=send, result_type=Sent)
    assert (first, again) == (Sent(id=1, replayed=False), Sent(id=1, replayed=True))

    gone = Database(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/db.sqlite", migrations=(KIT_MIGRATIONS,))
    unkeyed = await Idempotency(gone, "demo").once(tool="send", key=None, request={}, action=send, result_type=Sent)
    assert unkeyed == Sent(id=2, replayed=False)
    assert sent == [1, 2]
