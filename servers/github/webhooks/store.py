"""The ``webhook_deliveries`` table: store a verified delivery once, claim due ones for processing (safe across
processes: a lease per row), record an attempt's outcome, list, feed, replay.

Deliveries that arrive together are stored together: :meth:`DeliveryStore.add` queues the row and one writer
inserts every queued row in one transaction (group commit), each caller answered once that transaction has
committed. Under load that is one commit for many deliveries instead of one each, and on SQLite (one writer at
a time) the intake's inserts do not queue in SQLite's busy handler, which sleeps up to 100 ms per try.

Statuses: ``pending`` (targets still to run at ``next_attempt_at``), ``done``, ``dead`` (attempts exhausted,
``last_error`` says why), ``invalid`` (signed but not a JSON object: ``body`` keeps what came, never processed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.db import Database

__all__ = ["DEAD", "DONE", "INVALID", "PENDING", "STATUSES", "DeliveryStore", "NewDelivery", "Outcome"]

PENDING, DONE, DEAD, INVALID = "pending", "done", "dead", "invalid"
STATUSES = (PENDING, DONE, DEAD, INVALID)
_GROUP = 200  # rows at most per group commit


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
    document: str | None = None  # the payload as JSON text, when the body can be stored as it came


@dataclass(frozen=True)
class Outcome:
    """The outcome of one attempt at a claimed delivery."""

    seq: int
    status: str
    targets: Sequence[dict[str, Any]]
    last_error: str | None
    next_attempt_at: datetime | None


@dataclass
class _Queued:
    delivery: NewDelivery
    stored: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class DeliveryStore:
    """The github server's webhook deliveries, on its database."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._queue: list[_Queued] = []
        self._writer: asyncio.Task[None] | None = None

    async def add(self, delivery: NewDelivery) -> bool:
        """Store ``delivery`` unless its id is stored already (committed when this returns); whether it was new.
        Raises what the database raises (``DependencyUnavailable`` when it is away)."""
        queued = _Queued(delivery)
        self._queue.append(queued)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write(), name="webhook-intake-writer")
        return await asyncio.shield(queued.stored)  # a caller that goes away does not cancel the others' commit

    async def _write(self) -> None:
        """Insert what is queued, a group per transaction, until the queue is empty. When the database refuses
        a group for a reason other than being away, its rows are inserted one by one, so that one row it
        refuses fails only its own caller."""
        while self._queue:
            group, self._queue = self._queue[:_GROUP], self._queue[_GROUP:]
            try:
                _answer(group, await self._insert([queued.delivery for queued in group]))
            except Exception as error:  # noqa: BLE001 - every caller of the group gets the failure
                if len(group) == 1 or _is_unavailable(error):
                    _fail(group, error)
                    continue
                for queued in group:
                    try:
                        _answer([queued], await self._insert([queued.delivery]))
                    except Exception as alone:  # noqa: BLE001 - this row's caller gets its failure
                        _fail([queued], alone)

    async def _insert(self, deliveries: Sequence[NewDelivery]) -> list[bool]:
        """Insert ``deliveries`` and their payloads in one transaction; for each, whether it was new."""
        import sqlalchemy as sa

        if self.database.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB, insert

            document: Any = sa.cast(sa.bindparam("document", type_=sa.Text()), JSONB())
        else:
            from sqlalchemy.dialects.sqlite import insert

            document = sa.bindparam("document", type_=sa.Text())  # SQLite keeps JSON as text
        from servers.github.schema import webhook_deliveries as table
        from servers.github.schema import webhook_payloads as payloads

        add_rows = (
            insert(table)
            .on_conflict_do_nothing(index_elements=["delivery_id"])
            .returning(table.c.delivery_id, table.c.seq)
        )
        as_sent = sa.insert(payloads).values(seq=sa.bindparam("seq"), payload=document, body=None)
        as_parsed = sa.insert(payloads)
        first: dict[str, NewDelivery] = {}  # in arrival order; a repeat of an id in the group is not new
        for delivery in deliveries:
            first.setdefault(delivery.delivery_id, delivery)
        async with self.database.connect(write=True) as connection:
            # One statement for the group (SQLAlchemy sends many rows as one INSERT ... VALUES ... RETURNING).
            inserted = await connection.execute(add_rows, [_row(delivery) for delivery in first.values()])
            seqs = {delivery_id: seq for delivery_id, seq in inserted.all()}
            new = [(seqs[d.delivery_id], d) for d in first.values() if d.delivery_id in seqs]
            sent = [{"seq": seq, "document": d.document} for seq, d in new if d.document is not None]
            parsed = [{"seq": seq, "payload": d.payload, "body": d.body} for seq, d in new if d.document is None]
            if sent:
                await connection.execute(as_sent, sent)
            if parsed:
                await connection.execute(as_parsed, parsed)
        return [delivery.delivery_id in seqs and first[delivery.delivery_id] is delivery for delivery in deliveries]

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

    async def claim_due(self, limit: int, lease: timedelta, *, with_payloads: bool = True) -> list[Any]:
        """Up to ``limit`` pending deliveries whose time has come, each leased to this caller (another process
        skips them until the lease runs out: a process that dies mid-processing leaves them to the next one),
        with their payloads unless ``with_payloads`` is false (then ``payload`` is None).
        The claim counts as an attempt, so a delivery that kills its processor is dead-lettered in the end."""
        import sqlalchemy as sa

        from servers.github.schema import webhook_deliveries as table
        from servers.github.schema import webhook_payloads as payloads

        now = _now()
        free = sa.or_(table.c.lease_until.is_(None), table.c.lease_until < now)
        due = (
            sa.select(table.c.seq)
            .where(table.c.status == PENDING, table.c.next_attempt_at <= now, free)
            .order_by(table.c.next_attempt_at, table.c.seq)
            .limit(limit)
        )
        if self.database.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)  # another process's claim in flight: take others
        claim = (
            sa.update(table)
            # The subquery's conditions hold when the update runs: SQLite runs the statement under its write lock,
            # PostgreSQL re-checks them on rows it locks (FOR UPDATE). Only seq here, so SQLite finds rows by it.
            .where(table.c.seq.in_(due.scalar_subquery()))
            .values(lease_until=now + lease, attempts=table.c.attempts + 1)
            .returning(*table.c)
        )
        async with self.database.connect(write=True) as connection:
            rows = (await connection.execute(claim)).mappings().all()
            if not rows or not with_payloads:
                return sorted(({**row, "payload": None} for row in rows), key=lambda row: row["seq"])
            found = await connection.execute(
                sa.select(payloads.c.seq, payloads.c.payload).where(payloads.c.seq.in_([row["seq"] for row in rows]))
            )
            documents = {seq: document for seq, document in found.all()}
        return [{**row, "payload": documents.get(row["seq"])} for row in sorted(rows, key=lambda row: row["seq"])]

    async def finish(self, outcomes: Sequence[Outcome]) -> None:
        """Record the outcomes of attempts (one statement, one transaction) and release their leases."""
        import sqlalchemy as sa

        from servers.github.schema import webhook_deliveries as table

        if not outcomes:
            return
        record = (
            sa.update(table)
            .where(table.c.seq == sa.bindparam("b_seq"))
            .values(
                status=sa.bindparam("b_status"),
                targets=sa.bindparam("b_targets", type_=table.c.targets.type),
                last_error=sa.bindparam("b_last_error"),
                next_attempt_at=sa.bindparam("b_next_attempt_at", type_=table.c.next_attempt_at.type),
                lease_until=None,
                processed_at=sa.bindparam("b_processed_at", type_=table.c.processed_at.type),
            )
        )
        now = _now()
        rows = [
            {
                "b_seq": outcome.seq,
                "b_status": outcome.status,
                "b_targets": list(outcome.targets),
                "b_last_error": outcome.last_error,
                "b_next_attempt_at": outcome.next_attempt_at,
                "b_processed_at": now if outcome.status != PENDING else None,
            }
            for outcome in outcomes
        ]
        async with self.database.connect(write=True) as connection:
            await connection.execute(record, rows)

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

        query = sa.select(table).order_by(table.c.seq.desc()).limit(limit + 1)
        query = _filtered(query, table, status=status, event=event, repository=repository, since=since, until=until)
        if before_seq is not None:
            query = query.where(table.c.seq < before_seq)
        async with self.database.connect() as connection:
            return list((await connection.execute(query)).mappings().all())

    async def get(self, delivery_id: str) -> Any:
        """The row of ``delivery_id`` (a mapping), or None."""
        import sqlalchemy as sa

        from servers.github.schema import webhook_deliveries as table
        from servers.github.schema import webhook_payloads as payloads

        query = (
            sa.select(table, payloads.c.payload, payloads.c.body)
            .select_from(table.outerjoin(payloads, payloads.c.seq == table.c.seq))
            .where(table.c.delivery_id == delivery_id)
        )
        async with self.database.connect() as connection:
            return (await connection.execute(query)).mappings().first()

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

        columns = [c for c in table.c if c.name != "targets"]
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
        async with self.database.connect(write=True) as connection:
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


def _row(delivery: NewDelivery) -> dict[str, Any]:
    return {
        "delivery_id": delivery.delivery_id,
        "event": delivery.event,
        "action": delivery.action,
        "repository": delivery.repository,
        "installation_id": delivery.installation_id,
        "hook_id": delivery.hook_id,
        "sender": delivery.sender,
        "summary": delivery.summary,
        "received_at": delivery.received_at,
        "status": delivery.status,
        "attempts": 0,
        "replays": 0,
        "next_attempt_at": delivery.received_at if delivery.status == PENDING else None,
        "processed_at": delivery.received_at if delivery.status != PENDING else None,
    }


def _answer(group: Sequence[_Queued], stored: Sequence[bool]) -> None:
    for queued, new in zip(group, stored, strict=True):
        if not queued.stored.done():
            queued.stored.set_result(new)


def _fail(group: Sequence[_Queued], error: BaseException) -> None:
    for queued in group:
        if not queued.stored.done():
            queued.stored.set_exception(error)


def _is_unavailable(error: BaseException) -> bool:
    from shared.errors import DependencyUnavailable

    return isinstance(error, DependencyUnavailable)


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
