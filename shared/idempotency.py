"""Idempotency keys: "this write with this key already happened; here is its first result".

Every server's write tools that take an ``idempotency_key`` run their write through :meth:`Idempotency.run`.
Concurrent calls with one key are safe on SQLite and PostgreSQL: one call claims the key (a row in
``idempotency_keys``, inserted with ON CONFLICT DO NOTHING), the others wait for its result and answer with
it; a call with the same key but different values is refused with a sentence. The write itself runs in the
same transaction that records its result, so a crash between the two leaves neither. A claim whose call died
(its lease ran out) may be taken over by a retry; a call that fails releases its claim, so a retry runs again.
Keys are scoped per server and tool and forgotten after ``retention`` (default 7 days).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from shared.errors import Conflict, DependencyUnavailable

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from shared.db import Database

__all__ = ["Idempotency"]

M = TypeVar("M", bound=BaseModel)
Action = Callable[["AsyncConnection"], Awaitable[M]]

_PENDING, _DONE = "pending", "done"
_SWEEP_EVERY = 200  # claims between two deletions of expired keys


@dataclass(frozen=True)
class _Claim:
    own: bool
    fingerprint: str
    state: str
    result: Any
    lease_until: datetime


class Idempotency:
    """The idempotency records of one server, on its database."""

    def __init__(
        self,
        database: Database,
        server: str,
        *,
        lease: timedelta = timedelta(minutes=2),
        wait: float = 15.0,
        retention: timedelta = timedelta(days=7),
    ) -> None:
        self.database = database
        self.server = server
        self.lease = lease
        self.wait = wait
        self.retention = retention
        self._claims = 0

    async def run(
        self, *, tool: str, key: str | None, request: Mapping[str, object], action: Action[M], result_type: type[M]
    ) -> tuple[M, bool]:
        """Run ``action`` once per ``key`` and return ``(result, replayed)``; without a key, just run it.

        ``request`` holds the values that define the write: a repeat with the same key must carry the same
        values, or it is refused as a Conflict naming the key.
        """
        if key is None:
            async with self.database.connect() as connection:
                return await action(connection), False
        fingerprint = _fingerprint(request)
        delay = 0.02
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait
        while True:
            claim = await self._claim(tool, key, fingerprint)
            if claim.fingerprint != fingerprint:
                raise Conflict(
                    f"Idempotency key {key!r} was already used for a {tool} call with different values; "
                    "use a new key for a different write."
                )
            if claim.own:
                break
            if claim.state == _DONE:
                return result_type.model_validate(claim.result), True
            if loop.time() >= deadline:
                raise DependencyUnavailable(
                    f"A {tool} call with idempotency key {key!r} is still in progress; nothing was done twice. "
                    "Retry in a few seconds to get its result."
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
        try:
            async with self.database.connect() as connection:
                result = await action(connection)
                done = {"state": _DONE, "result": result.model_dump(mode="json"), "completed_at": _now()}
                await connection.execute(self._update(tool, key).values(**done))
        except BaseException:
            await asyncio.shield(self._release(tool, key))
            raise
        return result, False

    async def once(
        self,
        *,
        tool: str,
        key: str | None,
        request: Mapping[str, object],
        action: Callable[[], Awaitable[M]],
        result_type: type[M],
    ) -> M:
        """:meth:`run` for a write made elsewhere (an upstream API): without a key no connection is held while
        it runs; the answer's ``replayed`` field, when its model has one, says whether it is the first call's."""
        if key is None:
            result, replayed = await action(), False
        else:

            async def act(_connection: AsyncConnection) -> M:
                return await action()

            result, replayed = await self.run(tool=tool, key=key, request=request, action=act, result_type=result_type)
        return result.model_copy(update={"replayed": replayed}) if "replayed" in type(result).model_fields else result

    def _update(self, tool: str, key: str) -> Any:
        from shared.schema import idempotency_keys as keys

        return keys.update().where(*_match(keys, self.server, tool, key))

    async def _claim(self, tool: str, key: str, fingerprint: str) -> _Claim:
        import sqlalchemy as sa

        from shared.schema import idempotency_keys as keys

        now = _now()
        lease_until = now + self.lease
        row = {
            "server_name": self.server,
            "tool_name": tool,
            "key": key,
            "fingerprint": fingerprint,
            "state": _PENDING,
            "lease_until": lease_until,
            "created_at": now,
        }
        async with self.database.connect(write=True) as connection:
            self._claims += 1
            if self._claims % _SWEEP_EVERY == 1:
                await connection.execute(sa.delete(keys).where(keys.c.created_at < now - self.retention))
            inserted = await connection.execute(_insert_ignoring_conflict(self.database.dialect, keys, row))
            if inserted.rowcount == 1:
                return _Claim(True, fingerprint, _PENDING, None, lease_until)
            found = (await connection.execute(sa.select(keys).where(*_match(keys, self.server, tool, key)))).one()
            stored = _Claim(False, found.fingerprint, found.state, found.result, _utc(found.lease_until))
            if stored.fingerprint == fingerprint and stored.state == _PENDING and stored.lease_until < now:
                # The call that claimed the key died before finishing: this one takes over.
                taken = await connection.execute(
                    sa.update(keys)
                    .where(*_match(keys, self.server, tool, key), keys.c.state == _PENDING, keys.c.lease_until < now)
                    .values(lease_until=lease_until)
                )
                if taken.rowcount == 1:
                    return _Claim(True, fingerprint, _PENDING, None, lease_until)
            return stored

    async def _release(self, tool: str, key: str) -> None:
        """Forget a claim whose call failed, so a retry runs the write again (best effort)."""
        import sqlalchemy as sa

        from shared.schema import idempotency_keys as keys

        try:
            async with self.database.connect(write=True) as connection:
                await connection.execute(
                    sa.delete(keys).where(*_match(keys, self.server, tool, key), keys.c.state == _PENDING)
                )
        except Exception:  # noqa: BLE001 - the claim then expires with its lease
            return


def _match(keys: Any, server: str, tool: str, key: str) -> tuple[Any, ...]:
    return (keys.c.server_name == server, keys.c.tool_name == tool, keys.c.key == key)


def _insert_ignoring_conflict(dialect: str, table: Any, row: dict[str, Any]) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).values(**row).on_conflict_do_nothing()


def _fingerprint(request: Mapping[str, object]) -> str:
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "replace")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
