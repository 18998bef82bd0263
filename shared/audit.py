"""The audit trail: every ``tools/call`` on every server becomes a row in ``mcp_tool_calls``.

The call path only appends a small, bounded record to an in-memory queue (:class:`AuditMiddleware`): strings
are cut to a storable length and cleaned of what a database refuses (NUL, unpaired surrogates), arguments are
capped in size with a marker saying so. A background writer lets records gather for ``_LINGER`` seconds, then
redacts every stored column and encodes the rows for the driver a slice at a time (so calls run in between,
and no worker thread competes with the event loop for the GIL), and inserts them in one transaction: a
transaction per call, or even ten a second, would cost the calls more than the calls themselves.

- While the database is away the records wait in the queue and are written when it returns.
- A batch the database refuses for another reason is split until the record it refuses is found; that
  record is set aside (counted in :attr:`AuditLog.rejected` and logged), the others are written.
- The queue is bounded (``AFU9_AUDIT_QUEUE_SIZE``): when full, the oldest record is dropped, counted in
  :attr:`AuditLog.dropped` and logged.
- A clean shutdown flushes what is queued, within a grace period.

The outcome of a call is taken from the type of what happened (:data:`current_call`): the kit's tool runner
and middleware set it; a cancelled call is ``cancelled``.

A workflow's calls link to the orchestrator's tables: the request's ``_meta`` may carry
``afu9/execution_id`` and ``afu9/step_id`` (UUID strings), stored in the row's ``execution_id`` and
``step_id``; anything else there is ignored, since a call never fails because of its ``_meta``. An error
result carries its outcome back in its own ``_meta`` (``afu9/outcome``), so a client tells a failure worth
retrying (``unavailable``, ``rate_limited``) from one that is not without parsing text.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import json
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import Result

from shared.deps import Dependency, Health
from shared.errors import DependencyUnavailable, InvalidRequest
from shared.redaction import REDACTED, redact_text, redact_value

if TYPE_CHECKING:
    from shared.db import Database

__all__ = [
    "META_EXECUTION_ID",
    "META_OUTCOME",
    "META_STEP_ID",
    "AuditLog",
    "AuditMiddleware",
    "AuditPart",
    "AuditRecord",
    "CallOutcome",
    "current_call",
]

log = logging.getLogger(__name__)

_BATCH = 500
_LINGER = 0.5  # seconds records gather before a batch is written (at most two transactions a second)
_NAME_CHARS = 255  # tool name, request id, caller: the columns' length
_ERROR_CHARS = 2000
_STRING_CHARS = 2000  # any one string inside the arguments
_ARGUMENT_CHARS = 16_000  # all strings of the arguments together
_ITEMS = 100  # entries kept per list or object
_DEPTH = 10
_SLICE = 32  # records redacted and encoded between two turns of the event loop (well under a millisecond)
_STALLED_AFTER = 30.0  # seconds with records waiting and none written before /ready calls the trail down
_UUID_CHARS = 45  # the longest text uuid.UUID reads ("urn:uuid:" and 36 characters); longer is no UUID

META_EXECUTION_ID = "afu9/execution_id"
"""Request ``_meta`` key: the orchestrator's workflow execution that made the call (a UUID string)."""
META_STEP_ID = "afu9/step_id"
"""Request ``_meta`` key: the workflow step that made the call (a UUID string)."""
META_OUTCOME = "afu9/outcome"
"""Result ``_meta`` key of an error result: the call's audit outcome (``unavailable``, ``invalid_arguments``...)."""


@dataclass
class CallOutcome:
    """What happened to the call being handled; set by whoever knows (the tool runner, the middleware)."""

    outcome: str | None = None


current_call: contextvars.ContextVar[CallOutcome | None] = contextvars.ContextVar("afu9_current_call", default=None)


@dataclass(slots=True)
class AuditRecord:
    """One tools/call as observed on the wire, already bounded and storable (redacted only when written)."""

    seq: int
    server: str
    tool: str
    arguments: object
    outcome: str
    error: str | None
    started: float
    duration_ms: int
    caller: str
    transport: str
    request_id: str | None
    execution_id: uuid.UUID | None = None
    step_id: uuid.UUID | None = None


class AuditLog:
    """Bounded queue of audit records plus the background task that writes them."""

    def __init__(self, server: str, database: Database, *, capacity: int = 10_000) -> None:
        self.server = server
        self.database = database
        self.capacity = capacity
        self.dropped = 0
        self.rejected = 0
        self.written = 0
        self.last_written = time.monotonic()
        self.last_error: str | None = None
        self._queue: deque[AuditRecord] = deque()
        self._seq = itertools.count(1)
        self._wake = asyncio.Event()
        self._write_lock = asyncio.Lock()  # one batch in flight: the writer and flush() never insert it twice
        self._writing_up_to = 0  # seq of the last record of the batch being inserted (0: none)
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        return len(self._queue)

    def record(
        self,
        *,
        tool: object,
        arguments: object,
        outcome: str,
        error: str | None,
        started: float,
        duration_ms: int,
        caller: str,
        transport: str,
        request_id: object,
        execution_id: object = None,
        step_id: object = None,
    ) -> None:
        """Queue one record without blocking (bounded work); drops (and counts) the oldest when full.
        ``execution_id`` and ``step_id`` are kept only when they are UUIDs (or UUID strings)."""
        if len(self._queue) >= self.capacity:
            oldest = self._queue.popleft()
            if oldest.seq > self._writing_up_to:  # a record of the batch being written is not lost
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    log.warning("audit queue full; oldest records dropped", extra={"dropped": self.dropped})
        self._queue.append(
            AuditRecord(
                seq=next(self._seq),
                server=self.server,
                tool=_name(tool) or "?",
                arguments=_bounded(arguments, [_ARGUMENT_CHARS]) if arguments is not None else None,
                outcome=outcome,
                error=None if error is None else _clean(error[:_ERROR_CHARS]),
                started=started,
                duration_ms=duration_ms,
                caller=_name(caller) or "?",
                transport=transport,
                request_id=_name(request_id),
                execution_id=_uuid(execution_id),
                step_id=_uuid(step_id),
            )
        )
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"afu9-audit-{self.server}")

    def health(self) -> Health:
        """Down while records wait and none has been written for a while (the trail is not draining)."""
        waited = time.monotonic() - self.last_written
        if self._queue and waited > _STALLED_AFTER:
            return Health.down(
                f"{self.pending} records waiting, none written for {waited:.0f}s ({self.last_error or 'no error'})"
            )
        return Health.up(f"{self.pending} pending, {self.written} written, {self.dropped + self.rejected} lost")

    async def _run(self) -> None:
        delay = 0.5
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                if len(self._queue) < _BATCH:
                    await asyncio.sleep(_LINGER)
                try:
                    await self._write_batch()
                    delay = 0.5
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - the writer never dies; records wait for the database
                    log.warning(
                        "audit records kept in memory until the database returns",
                        extra={"pending": self.pending, "error": self.last_error},
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 15.0)

    async def _write_batch(self) -> None:
        async with self._write_lock:
            batch = list(itertools.islice(self._queue, _BATCH))
            if not batch:
                return
            last = batch[-1].seq
            self._writing_up_to = last
            try:
                rows = await _rows(batch, self.database.dialect)
                await self._insert(batch, rows)
            except BaseException:
                # Records of this batch pushed out of a full queue meanwhile are lost after all: count them.
                self.dropped += sum(1 for record in batch if not self._queue or record.seq < self._queue[0].seq)
                raise
            finally:
                self._writing_up_to = 0
            while self._queue and self._queue[0].seq <= last:
                self._queue.popleft()
            self.last_written = time.monotonic()
            self.last_error = None

    async def _insert(self, batch: Sequence[AuditRecord], rows: list[tuple[Any, ...]]) -> None:
        """Insert ``rows``; a refusal that is not the connection is narrowed down to the record refused."""
        from shared.db import describe_error

        try:
            async with self.database.connect(write=True) as connection:
                # Rows arrive encoded for the driver (see _rows): SQLAlchemy's per-row parameter processing
                # would otherwise run on the event loop, on the call path of every other request.
                await connection.exec_driver_sql(_insert_statement(self.database.dialect), rows)
        except Exception as error:
            self.last_error = describe_error(error)
            if not _refuses_rows(error) or not rows:
                raise  # the database is away, busy or not migrated: the records wait for it
            if len(rows) == 1:
                self.rejected += 1
                log.error(
                    "audit record set aside: the database refuses it",
                    extra={"tool": batch[0].tool, "reason": self.last_error, "rejected": self.rejected},
                )
                return
            middle = len(rows) // 2
            await self._insert(batch[:middle], rows[:middle])
            await self._insert(batch[middle:], rows[middle:])
            return
        self.written += len(rows)

    async def flush(self, timeout: float = 5.0) -> bool:
        """Write everything queued now; False when the database did not take it within ``timeout``."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self._queue:
                    try:
                        await self._write_batch()
                    except Exception:  # noqa: BLE001 - retried until the timeout
                        await asyncio.sleep(0.2)
        return not self._queue

    async def aclose(self, timeout: float = 5.0) -> None:
        """Stop the writer and flush the queue (records left after ``timeout`` are logged as lost, with why)."""
        if self._task is not None:
            # Let a batch in flight finish first: cancelling its insert midway could write it twice.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout), self._write_lock:
                    self._task.cancel()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if not await self.flush(timeout):
            log.error(
                "audit records lost at shutdown: the database did not take them in time",
                extra={"lost": self.pending, "reason": self.last_error or f"no answer within {timeout:.0f}s"},
            )


class AuditPart(Dependency):
    """The audit log as one of the server's parts: started with it, flushed when it stops."""

    name = "audit"

    def __init__(self, audit: AuditLog, grace: float = 5.0) -> None:
        self.audit = audit
        self.grace = grace

    async def start(self) -> None:
        self.audit.start()

    async def close(self) -> None:
        await self.audit.aclose(self.grace)

    async def check(self) -> Health:
        return self.audit.health()


class AuditMiddleware:
    """SDK middleware that times each ``tools/call``, queues its audit record (linked to the workflow step
    named in the request's ``_meta``), and stamps an error result's ``_meta`` with the call's outcome."""

    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        started = time.time()
        clock = time.perf_counter()
        call = CallOutcome()
        token = current_call.set(call)
        error: str | None = None
        try:
            result = await call_next(ctx)
        except asyncio.CancelledError:
            call.outcome, error = "cancelled", "the client cancelled the call"
            raise
        except MCPError as exc:
            call.outcome, error = "protocol_error", f"{exc.error.code}: {exc.error.message}"
            raise
        except Exception as exc:
            call.outcome, error = "invalid_request", type(exc).__name__
            raise
        else:
            if _is_error(result):
                error = _error_text(result)
                call.outcome = call.outcome or "tool_error"
                return _with_outcome(result, call.outcome)
            return result
        finally:
            current_call.reset(token)
            params = ctx.params or {}
            # The raw params' _meta (the middleware runs before the SDK validates them), not ctx.meta: that one
            # is None whenever any other part of the request's _meta fails the SDK's validation.
            meta: object = params.get("_meta")
            links: Mapping[str, object] = cast("Mapping[str, object]", meta) if isinstance(meta, Mapping) else {}
            self.audit.record(
                tool=params.get("name"),
                arguments=params.get("arguments"),
                outcome=call.outcome or "ok",
                error=error,
                started=started,
                duration_ms=round((time.perf_counter() - clock) * 1000),
                caller=_caller(ctx),
                transport="http" if ctx.request is not None else "stdio",
                request_id=ctx.request_id,
                execution_id=links.get(META_EXECUTION_ID),
                step_id=links.get(META_STEP_ID),
            )


def _refuses_rows(error: Exception) -> bool:
    """Whether the database refused what was inserted (a value, a constraint), not the connection or schema."""
    if isinstance(error, InvalidRequest):  # shared.db's translation of DataError and IntegrityError
        return True
    from sqlalchemy.exc import StatementError

    return isinstance(error, StatementError) and not isinstance(error, DependencyUnavailable)


def _is_error(result: object) -> bool:
    if isinstance(result, Mapping):
        return result.get("isError") is True  # pyright: ignore[reportUnknownMemberType]
    return getattr(result, "is_error", False) is True


def _with_outcome(result: HandlerResult, outcome: str) -> HandlerResult:
    """An error result with ``afu9/outcome`` added to its ``_meta`` (what is there already kept): the wire dict
    the SDK's handler produced, or the result model a middleware answered with. Never changed in place: the
    dict's ``_meta`` may be shared with what made it."""
    if isinstance(result, Mapping):
        wire = cast("Mapping[str, object]", result)
        existing = wire.get("_meta")
        if existing is None:
            return {**wire, "_meta": {META_OUTCOME: outcome}}
        if isinstance(existing, Mapping):
            return {**wire, "_meta": {**cast("Mapping[str, object]", existing), META_OUTCOME: outcome}}
        return result  # a _meta that is not an object: not ours to repair
    if isinstance(result, Result):
        return result.model_copy(update={"meta": {**(result.meta or {}), META_OUTCOME: outcome}})
    return result


def _error_text(result: object) -> str:
    if isinstance(result, Mapping):
        content: object = cast("Mapping[str, object]", result).get("content")
    else:
        content = getattr(result, "content", None)
    texts: list[str] = []
    blocks = cast("list[object]", content) if isinstance(content, list) else []
    for block in blocks:
        if isinstance(block, Mapping):
            text = cast("Mapping[str, object]", block).get("text")
        else:
            text = cast("object", getattr(block, "text", None))
        if isinstance(text, str) and text:
            texts.append(text[:_ERROR_CHARS])
    return " ".join(texts)[:_ERROR_CHARS]


def _caller(ctx: ServerRequestContext[Any, Any]) -> str:
    token = get_access_token()
    if token is not None:
        return token.client_id
    return "anonymous" if ctx.request is not None else "local"


# -- making records storable (bounded work per record) --------------------------------------------------------


def _clean(text: str) -> str:
    """``text`` without what no database stores: NUL characters and unpaired surrogates."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _uuid(value: object) -> uuid.UUID | None:
    """``value`` as a UUID when it is one or a UUID string of bounded length; anything else is None."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or len(value) > _UUID_CHARS:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _name(value: object) -> str | None:
    """A short identifier (tool name, request id, caller) as a storable string of at most 255 characters."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return _clean(text[:_NAME_CHARS])


def _bounded(value: object, budget: list[int], depth: int = 0) -> object:
    """A copy of a JSON-like value cut to bounded size: long strings shortened with a marker, long lists and
    objects cut with a marker, deep nesting replaced; ``budget`` holds the characters left for strings."""
    if isinstance(value, str):
        limit = max(0, min(_STRING_CHARS, budget[0]))
        budget[0] -= min(len(value), limit)
        if len(value) > limit:
            return _clean(value[:limit]) + f"…[truncated {len(value) - limit} chars]"
        return _clean(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else str(value)[:40]  # stored JSON keeps 64-bit integers
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # NaN and infinities are not JSON
    if depth >= _DEPTH:
        return "…[nested too deep]"
    if isinstance(value, Mapping):
        mapping = cast("Mapping[object, object]", value)
        kept: dict[str, object] = {}
        for index, (key, item) in enumerate(mapping.items()):
            if index >= _ITEMS:
                kept["…"] = f"[{len(mapping) - _ITEMS} more entries]"
                break
            kept[_clean(str(key)[:_NAME_CHARS])] = _bounded(item, budget, depth + 1)
        return kept
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        items = cast("Sequence[object]", value)
        kept_items = [_bounded(item, budget, depth + 1) for item in items[:_ITEMS]]
        if len(items) > _ITEMS:
            kept_items.append(f"…[{len(items) - _ITEMS} more items]")
        return kept_items
    return _clean(str(value)[:_NAME_CHARS])


_COLUMNS = (
    "id",
    "server_name",
    "tool_name",
    "params",
    "outcome",
    "error",
    "duration_ms",
    "started_at",
    "completed_at",
    "caller",
    "transport",
    "request_id",
    "execution_id",
    "step_id",
)


def _insert_statement(dialect: str) -> str:
    """The INSERT of one audit row in the driver's own parameter style (asyncpg: $n, SQLite: ?)."""
    marks = [f"${n}" for n in range(1, len(_COLUMNS) + 1)] if dialect == "postgresql" else ["?"] * len(_COLUMNS)
    return f"INSERT INTO mcp_tool_calls ({', '.join(_COLUMNS)}) VALUES ({', '.join(marks)})"  # noqa: S608


async def _rows(batch: Sequence[AuditRecord], dialect: str) -> list[tuple[Any, ...]]:
    """The batch's rows, redacted and encoded a slice at a time, letting calls run in between (see _SLICE)."""
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(batch), _SLICE):
        rows += [_row(record, dialect) for record in batch[start : start + _SLICE]]
        await asyncio.sleep(0)
    return rows


def _row(record: AuditRecord, dialect: str) -> tuple[Any, ...]:
    """A record as stored, encoded as SQLAlchemy would for the driver (UUID, timestamps, JSON text); every
    column that can carry a secret goes through the redaction filter (the workflow links are UUIDs: none can)."""
    started = datetime.fromtimestamp(record.started, UTC)
    completed = started + timedelta(milliseconds=record.duration_ms)
    params = None if record.arguments is None else redact_value(record.arguments)
    encoded = None if params is None else json.dumps(params, separators=(",", ":"), ensure_ascii=False, default=str)
    if dialect == "postgresql":
        identifier: object = uuid.uuid4()
        started_at: object = started
        completed_at: object = completed
        links: tuple[object, object] = (record.execution_id, record.step_id)
    else:  # SQLite, as SQLAlchemy stores Uuid and DateTime there
        identifier = uuid.uuid4().hex
        started_at = started.strftime(_SQLITE_TIME)
        completed_at = completed.strftime(_SQLITE_TIME)
        links = (_sqlite_uuid(record.execution_id), _sqlite_uuid(record.step_id))
    return (
        identifier,
        record.server,
        _redacted_name(record.tool) or "?",
        encoded,
        record.outcome,
        None if record.error is None else redact_text(record.error),
        record.duration_ms,
        started_at,
        completed_at,
        _redacted_name(record.caller),
        record.transport,
        _redacted_name(record.request_id),
        *links,
    )


def _sqlite_uuid(value: uuid.UUID | None) -> str | None:
    return None if value is None else value.hex


_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


def _redacted_name(value: str | None) -> str | None:
    if value is None:
        return None
    redacted = redact_text(value)
    return redacted if len(redacted) <= _NAME_CHARS else REDACTED
