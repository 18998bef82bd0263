"""The ``webhook_deliveries`` table: store a verified delivery once, claim due ones for processing (safe across
processes: a lease per row), record an attempt's outcome, list, feed, replay.

Statuses: ``pending`` (targets still to run at ``next_attempt_at``), ``done``, ``dead`` (attempts exhausted,
``last_error`` says why), ``invalid`` (signed but not a JSON object: ``body`` keeps what came, never processed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.db import Database

__all__ = ["DEAD", "DONE", "INVALID", "PENDING", "STATUSES", "DeliveryStore", "NewDelivery"]

PENDING, DONE, DEAD, INVALID = "pending", "done", "dead", "invalid"
STATUSES = (PENDING, DONE, DEAD, INVALID)


@dataclass(frozen=True)
class NewDelivery:
    """A verified delivery, as it is stored."""

    delivery_id: str
    event: str
    action: str | None
    repository: str | None
    installation_id: int | None
    hook_id: int | None
    sender: str | None
    summary: str
    received_at: datetime
    payload: Any
    body: str | None
    status: str


class DeliveryStore:
    """The github server's webhook deliveries, on its database."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def add(self, delivery: NewDelivery) -> bool:
        """Store ``delivery`` unless its id is stored already; whether it was new."""
        from servers.github.schema import webhook_deliveries as table

        row = {
            "delivery_id": delivery.delivery_id,
            "event": delivery.event,
            "action": delivery.action,
            "repository": delivery.repository,
            "installation_id": delivery.installation_id,
            "hook_id": delivery.hook_id,
            "sender": delivery.sender,
            "summary": delivery.summary,
            "received_at": delivery.received_at,
            "payload": delivery.payload,
            "body": delivery.body,
            "status": delivery.status,
            "attempts": 0,
            "replays": 0,
            "next_attempt_at": delivery.received_at if delivery.status == PENDING else None,
            "processed_at": delivery.received_at if delivery.status != PENDING else None,
        }
        if self.database.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(table).values(**row).on_conflict_do_nothing(index_elements=["delivery_id"])
        async with self.database.connect() as connection:
            result = await connection.execute(statement)
        return result.rowcount == 1

    async def stored(self, delivery_ids: Iterable[str]) -> set[str]:
        """Which of ``delivery_ids`` are stored."""
        import sqlalchemy as sa

        from servers.github.schema import webhook_deliveries as table

        wanted = list(dict.fromkeys(delivery_ids))
        found: set[str] = set()
        async with self.database.connect() as connection:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                rows = await connection.execute(sa.select(table.c.delivery_id).where(table.c.delivery_id.in_(chunk)))
                found.update(row.delivery_id for row in rows)
        return found

    async def claim_due(self, limit: int, lease: timedelta) -> list[Any]:
        """Up to ``limit`` pending deliveries whose time has come, each leased to this caller (another process
        skips them until the lease runs out: a process that dies mid-processing leaves them to the next one).
        The claim counts as an attempt, so a delivery that kills its processor is dead-lettered in the end."""
        import sqlalchemy as sa

        from servers.github.schema import webhook_deliveries as table

        now = _now()
        free = sa.or_(table.c.lease_until.is_(None), table.c.lease_until < now)
        due = (
            sa.select(table.c.seq)
            .where(table.c.status == PENDING, table.c.next_attempt_at <= now, free)
            .order_by(table.c.next_attempt_at, table.c.seq)
            .limit(limit)
        )
        claimed: list[int] = []
        async with self.database.connect() as connection:
            for seq in (await connection.execute(due)).scalars().all():
                taken = await connection.execute(
                    sa.update(table)
                    .where(table.c.seq == seq, table.c.status == PENDING, free)
                    .values(lease_until=now + lease, attempts=table.c.attempts + 1)
                )
                if taken.rowcount == 1:
                    claimed.append(seq)
            if not claimed:
                return []
            rows = await connection.execute(sa.select(table).where(table.c.seq.in_(claimed)).order_by(table.c.seq))
            return list(rows.mappings().all())

    async def finish(
        self,
        seq: int,
        *,
        status: str,
        targets: Sequence[dict[str, Any]],
        last_error: str | None,
        next_attempt_at: datetime | None,
    ) -> None:
        """Record the outcome of an attempt and release the lease."""
        import sqlalchemy as sa

        from servers.github.schema import webhook_deliveries as table

        async with self.database.connect() as connection:
            await connection.execute(
                sa.update(table)
                .where(table.c.seq == seq)
                .values(
                    status=status,
                    targets=list(targets),
                    last_error=last_error,
                    next_attempt_at=next_attempt_at,
                    lease_until=None,
                    processed_at=_now() if status != PENDING else None,
                )
            )

    async def next_due(self) -> datetime | None:
        """When the earliest pending delivery is due (None: nothing pending)."""
        import sqlalchemy as sa

        from servers.github.schema import webhook_deliveries as table

        async with self.database.connect() as connection:
            found = await connection.execute(
                sa.select(sa.func.min(table.c.next_attempt_at)).where(table.c.status == PENDING)
            )
            moment = found.scalar()
        return _utc(moment) if moment is not None else None

    async def counts(self) -> dict[str, int]:
        import sqlalchemy as sa

        from servers.github.schema import webhook_deliveries as table

        async with self.database.connect() as connection:
            rows = await connection.execute(sa.select(table.c.status, sa.func.count()).group_by(table.c.status))
            return {status: count for status, count in rows.all()}

    async def page(
        self,
        *,
        status: str | None,
        event: str | None,
        repository: str | None,
        since: datetime | None,
        until: datetime | None,
        before_seq: int | None,
        limit: int,
    ) -> list[Any]:
        """Deliveries newest first, without payloads; ``limit + 1`` rows tell whether more exist."""
        import sqlalchemy as sa

        from servers.github.schema import webhook_deliveries as table

        columns = [c for c in table.c if c.name not in ("payload", "body")]
        query = sa.select(*columns).order_by(table.c.seq.desc()).limit(limit + 1)
        query = _filtered(query, table, status=status, event=event, repository=repository, since=since, until=until)
        if before_seq is not None:
            query = query.where(table.c.seq < before_seq)
        async with self.database.connect() as connection:
            return list((await connection.execute(query)).mappings().all())

    async def get(self, delivery_id: str) -> Any:
        """The row of ``delivery_id`` (a mapping), or None."""
        import sqlalchemy as sa

        from servers.github.schema import webhook_deliveries as table

        async with self.database.connect() as connection:
            found = await connection.execute(sa.select(table).where(table.c.delivery_id == delivery_id))
            return found.mappings().first()

    async def feed(
        self,
        *,
        after_seq: int | None,
        repositories: Sequence[str],
        events: Sequence[str],
        settled_before: datetime,
        limit: int,
    ) -> list[Any]:
        """Events in arrival order after ``after_seq`` (none: the latest ``limit``), received before
        ``settled_before`` (so a row whose insert commits late is not skipped by a cursor already past it)."""
        import sqlalchemy as sa

        from servers.github.schema import webhook_deliveries as table

        columns = [c for c in table.c if c.name not in ("payload", "body", "targets")]
        query = sa.select(*columns).where(table.c.received_at < settled_before)
        if repositories:
            query = query.where(sa.func.lower(table.c.repository).in_([r.lower() for r in repositories]))
        if events:
            query = query.where(table.c.event.in_(list(events)))
        if after_seq is None:
            query = query.order_by(table.c.seq.desc()).limit(limit)
        else:
            query = query.where(table.c.seq > after_seq).order_by(table.c.seq).limit(limit + 1)
        async with self.database.connect() as connection:
            rows = list((await connection.execute(query)).mappings().all())
        return rows[::-1] if after_seq is None else rows

    async def last_seq(self) -> int:
        import sqlalchemy as sa

        from servers.github.schema import webhook_deliveries as table

        async with self.database.connect() as connection:
            return int((await connection.execute(sa.select(sa.func.max(table.c.seq)))).scalar() or 0)

    async def replay(
        self,
        *,
        delivery_id: str | None = None,
        dead: bool = False,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int,
    ) -> tuple[list[str], list[str]]:
        """Put deliveries back to pending now: one by id, every dead letter, or those received in a time
        range. A done delivery is replayed as new (its targets run again: a fresh idempotency generation); a
        dead one keeps its generation (targets that already succeeded are not run twice). Invalid and
        currently claimed deliveries are left alone. Returns (replayed ids, skipped ids with why)."""
        import sqlalchemy as sa

        from servers.github.schema import webhook_deliveries as table

        now = _now()
        query = sa.select(table.c.seq, table.c.delivery_id, table.c.status, table.c.lease_until).order_by(table.c.seq)
        if delivery_id is not None:
            query = query.where(table.c.delivery_id == delivery_id)
        if dead:
            query = query.where(table.c.status == DEAD)
        query = _filtered(query, table, status=None, event=None, repository=None, since=since, until=until)
        replayed: list[str] = []
        skipped: list[str] = []
        async with self.database.connect() as connection:
            for row in (await connection.execute(query.limit(limit))).all():
                if row.status == INVALID:
                    skipped.append(f"{row.delivery_id} (not JSON: nothing to process)")
                    continue
                if row.status == PENDING and row.lease_until is not None and _utc(row.lease_until) > now:
                    skipped.append(f"{row.delivery_id} (being processed now)")
                    continue
                values: dict[str, Any] = {
                    "status": PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "lease_until": None,
                    "last_error": None,
                    "processed_at": None,
                }
                if row.status == DONE:
                    values["replays"] = table.c.replays + 1
                await connection.execute(sa.update(table).where(table.c.seq == row.seq).values(**values))
                replayed.append(row.delivery_id)
        return replayed, skipped


def _filtered(
    query: Any,
    table: Any,
    *,
    status: str | None,
    event: str | None,
    repository: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Any:
    import sqlalchemy as sa

    if status is not None:
        query = query.where(table.c.status == status)
    if event is not None:
        query = query.where(table.c.event == event)
    if repository is not None:
        query = query.where(sa.func.lower(table.c.repository) == repository.lower())
    if since is not None:
        query = query.where(table.c.received_at >= since)
    if until is not None:
        query = query.where(table.c.received_at < until)
    return query


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
