"""The AFU-9 read model of executions: rows in ``workflow_executions`` and ``workflow_steps`` that dashboards,
the factory KPIs, ``afu9 workflow status`` and ``logs`` read.

DBOS's own tables are the source of truth for running a workflow; these rows say what happened in AFU-9's
terms. The engine writes them from workflow code with upserts keyed by ids derived from the execution and the
step's path, so a workflow replayed after a crash writes the same rows again and they converge.

- An execution's status is ``pending``, ``running``, ``completed``, ``failed`` or ``cancelled`` (AFU-9 v0.4).
- A step's status is ``pending``, ``running``, ``completed``, ``failed`` or ``skipped`` (v0.4), plus
  ``waiting`` (an approval waiting for its decision) and ``cancelled``.
- A write while the database is away waits for it (retried with backoff, as DBOS does with its own tables): the
  execution pauses instead of failing, and goes on where it was when the database is back.
- A compensation registered by a step that succeeded is a ``workflow_steps`` row with ``is_compensation`` true,
  status ``pending`` until it runs; ``input`` holds the rendered call, ``created_at`` (set by the engine, to the
  microsecond) orders registrations.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.errors import Conflict, InvalidRequest, NotFound

if TYPE_CHECKING:
    from orchestrator.definitions import StoredWorkflow
    from shared.db import Database

__all__ = ["TERMINAL", "NotWaiting", "ReadModel", "execution_row_id", "step_row_id"]

log = logging.getLogger(__name__)

TERMINAL = frozenset({"completed", "failed", "cancelled"})
_NAMESPACE = uuid.UUID("5f0b5a8e-2a59-4d0c-9a7e-0a0f9b1c7e11")


def step_row_id(execution_id: str, path: str, *, compensation: bool = False) -> uuid.UUID:
    """The ``workflow_steps`` id of the step at ``path`` of an execution (the same on every replay)."""
    kind = "compensation" if compensation else "step"
    return uuid.uuid5(_NAMESPACE, f"{execution_id}|{kind}|{path}")


def execution_row_id(parent_execution_id: str, path: str) -> uuid.UUID:
    """The id of the child execution a sub-workflow step at ``path`` starts (the same on every replay)."""
    return uuid.uuid5(_NAMESPACE, f"{parent_execution_id}|child|{path}")


class NotWaiting(Conflict):
    """An approval or rejection for a step that is not waiting for one; nothing was sent."""


def _now() -> datetime:
    return datetime.now(UTC)


class ReadModel:
    """Writes and reads the execution tables on ``database``."""

    def __init__(self, database: Database) -> None:
        self.database = database

    # -- executions ------------------------------------------------------------------------------------------

    async def create_execution(
        self,
        execution_id: uuid.UUID,
        stored: StoredWorkflow,
        *,
        inputs: Mapping[str, Any],
        context: Mapping[str, Any],
        triggered_by: str,
        parent_execution_id: uuid.UUID | None = None,
    ) -> bool:
        """A ``pending`` execution row pinned to ``stored``; False when it exists already (a replayed
        sub-workflow start)."""
        import sqlalchemy as sa

        from orchestrator.schema import workflow_executions as t

        async with self.database.connect(write=True) as connection:
            found = await connection.execute(sa.select(t.c.id).where(t.c.id == execution_id))
            if found.first() is not None:
                return False
            await connection.execute(
                sa.insert(t).values(
                    id=execution_id,
                    workflow_id=stored.id,
                    status="pending",
                    input=dict(inputs),
                    context=dict(context),
                    started_at=_now(),
                    triggered_by=triggered_by[:255],
                    workflow_version=stored.publication,
                    definition_hash=stored.content_hash,
                    parent_execution_id=parent_execution_id,
                )
            )
        return True

    async def set_execution(self, execution_id: str, status: str, **fields: Any) -> None:
        """Set an execution's ``status`` and any of ``output``, ``error``, ``executor_id``, ``pause_metadata``;
        a terminal status also sets ``completed_at``. A terminal row is not moved back to running."""
        import sqlalchemy as sa

        from orchestrator.schema import workflow_executions as t

        values: dict[str, Any] = {"status": status, **fields, "updated_at": _now()}
        if "error" in values and values["error"] is not None:
            values["error"] = str(values["error"])[:4000]
        query = sa.update(t).where(t.c.id == uuid.UUID(execution_id))
        if status in TERMINAL:
            values["completed_at"] = _now()
        else:
            query = query.where(t.c.status.not_in(sorted(TERMINAL)))

        async def write() -> None:
            async with self.database.connect(write=True) as connection:
                await connection.execute(query.values(**values))

        await _patiently(write)

    async def execution(self, execution_id: str) -> dict[str, Any] | None:
        """The execution row with its workflow's name and version, or None."""
        import sqlalchemy as sa

        from orchestrator.schema import workflow_executions as e
        from orchestrator.schema import workflows as w

        try:
            key = uuid.UUID(execution_id)
        except ValueError:
            return None
        query = (
            sa.select(e, w.c.name.label("workflow_name"), w.c.semver.label("workflow_semver"))
            .select_from(e.outerjoin(w, e.c.workflow_id == w.c.id))
            .where(e.c.id == key)
        )
        async with self.database.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else dict(row._mapping)

    async def executions(self, *, status: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """The newest executions (of ``status``), newest first."""
        import sqlalchemy as sa

        from orchestrator.schema import workflow_executions as e
        from orchestrator.schema import workflows as w

        query = (
            sa.select(e, w.c.name.label("workflow_name"), w.c.semver.label("workflow_semver"))
            .select_from(e.outerjoin(w, e.c.workflow_id == w.c.id))
            .order_by(e.c.started_at.desc())
            .limit(limit)
        )
        if status is not None:
            query = query.where(e.c.status == status)
        async with self.database.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [dict(row._mapping) for row in rows]

    async def descendants(self, execution_id: str) -> list[str]:
        """The ids of the executions started by this one's sub-workflow steps, and theirs, and so on."""
        found: list[str] = []
        for child in await self.children(execution_id):
            found += [child, *await self.descendants(child)]
        return found

    async def children(self, execution_id: str) -> list[str]:
        """The ids of the executions a sub-workflow step of this one started."""
        import sqlalchemy as sa

        from orchestrator.schema import workflow_executions as e

        query = sa.select(e.c.id).where(e.c.parent_execution_id == uuid.UUID(execution_id))
        async with self.database.connect() as connection:
            return [str(row.id) for row in (await connection.execute(query)).all()]

    # -- steps -----------------------------------------------------------------------------------------------

    async def put_step(
        self,
        execution_id: str,
        path: str,
        *,
        index: int,
        status: str,
        compensation: bool = False,
        **fields: Any,
    ) -> uuid.UUID:
        """Insert or update the row of the step at ``path`` (fields: ``input``, ``output``, ``error``,
        ``attempt``, ``retry_count``, ``started_at``, ``completed_at``, ``duration_ms``); returns its id."""

        from orchestrator.schema import workflow_steps as t

        row_id = step_row_id(execution_id, path, compensation=compensation)
        values: dict[str, Any] = {"status": status, **fields, "updated_at": _now()}
        if values.get("error") is not None:
            values["error"] = str(values["error"])[:4000]
        insert_values = {
            "id": row_id,
            "execution_id": uuid.UUID(execution_id),
            "step_name": path.rsplit("/", 1)[-1][:255],
            "step_path": path[:1024],
            "step_index": index,
            "is_compensation": compensation,
            **values,
        }

        async def write() -> None:
            async with self.database.connect(write=True) as connection:
                if connection.dialect.name == "postgresql":
                    from sqlalchemy.dialects.postgresql import insert
                else:
                    from sqlalchemy.dialects.sqlite import insert
                statement = insert(t).values(**insert_values)
                await connection.execute(statement.on_conflict_do_update(index_elements=[t.c.id], set_=values))

        await _patiently(write)
        return row_id

    async def steps(self, execution_id: str, *, compensation: bool | None = None) -> list[dict[str, Any]]:
        """The rows of an execution's steps, in the order they started."""
        import sqlalchemy as sa

        from orchestrator.schema import workflow_steps as t

        query = sa.select(t).where(t.c.execution_id == uuid.UUID(execution_id))
        if compensation is not None:
            query = query.where(t.c.is_compensation == compensation)
        async with self.database.connect() as connection:
            rows = [dict(row._mapping) for row in (await connection.execute(query)).all()]
        far = datetime.max.replace(tzinfo=UTC)
        return sorted(rows, key=lambda r: (_aware(r["started_at"]) or far, r["step_path"] or ""))

    async def retire_compensations(self, execution_id: str) -> None:
        """Mark the compensations an ended execution (and its sub-workflows) did not need ``skipped``."""
        import sqlalchemy as sa

        from orchestrator.schema import workflow_steps as t

        owners = [uuid.UUID(key) for key in (execution_id, *await self.descendants(execution_id))]
        query = (
            sa.update(t)
            .where(t.c.execution_id.in_(owners), t.c.is_compensation.is_(True), t.c.status == "pending")
            .values(status="skipped", error="not needed: the execution ended without compensating", updated_at=_now())
        )

        async def write() -> None:
            async with self.database.connect(write=True) as connection:
                await connection.execute(query)

        await _patiently(write)

    async def waiting_step(self, execution_id: str, step: str) -> dict[str, Any]:
        """The row of the approval step ``step`` (its id or path) of an execution while it waits for a decision;
        :class:`NotFound`, :class:`NotWaiting` or (several match) :class:`InvalidRequest` otherwise."""
        if await self.execution(execution_id) is None:
            raise NotFound(f"no execution {execution_id}; `afu9 workflow status` lists executions")
        rows = [
            row
            for row in await self.steps(execution_id, compensation=False)
            if step in (row["step_path"], row["step_name"])
        ]
        waiting = [row for row in rows if row["status"] == "waiting"]
        if len(waiting) == 1:
            return waiting[0]
        if len(waiting) > 1:
            paths = ", ".join(row["step_path"] for row in waiting)
            raise InvalidRequest(f"several steps named {step} wait ({paths}): give the path")
        if not rows:
            raise NotWaiting(f"execution {execution_id} has no step {step} that has started; nothing was sent")
        raise NotWaiting(
            f"step {step} of execution {execution_id} is not waiting for a decision (it is {rows[-1]['status']}); "
            "nothing was sent"
        )

    async def pending_compensations(self, execution_id: str) -> list[dict[str, Any]]:
        """Registered compensations not yet run, of the execution and of the sub-workflows it started, newest
        registration first."""
        rows = [
            row
            for owner in (execution_id, *await self.descendants(execution_id))
            for row in await self.steps(owner, compensation=True)
        ]
        pending = [row for row in rows if row["status"] in ("pending", "running")]
        return sorted(pending, key=lambda r: (_aware(r["created_at"]), r["step_path"] or ""), reverse=True)


async def _patiently(write: Callable[[], Awaitable[None]]) -> None:
    """``write``, tried again while the database is away (backoff 0.2 s doubling to 10 s, no deadline)."""
    from shared.errors import DependencyUnavailable

    delay = 0.2
    while True:
        try:
            await write()
        except DependencyUnavailable as error:
            if delay == 0.2:
                log.warning("the database is away (%s); the execution waits for it", error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
        else:
            return


def _aware(value: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back (stored in UTC)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
