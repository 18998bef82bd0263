"""The audit trail: every ``tools/call`` on every server becomes a row in ``mcp_tool_calls``.

The call path only appends a small record to an in-memory queue (:class:`AuditMiddleware`); a background
writer redacts the arguments and inserts rows in batches: it lets records gather for ``_LINGER`` seconds
before each batch, so one transaction carries many calls (a transaction per call would cost more CPU than
the call itself). While the database is away the records wait in the queue and are written when it returns.
The queue is bounded (``AFU9_AUDIT_QUEUE_SIZE``): when it is full the oldest record is dropped, counted in
:attr:`AuditLog.dropped` and logged, so memory stays bounded and the newest activity survives. A clean
shutdown flushes what is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError

from shared.redaction import redact_value

if TYPE_CHECKING:
    from shared.db import Database

__all__ = ["AuditLog", "AuditMiddleware", "AuditRecord"]

log = logging.getLogger(__name__)

_BATCH = 500
_LINGER = 0.1  # seconds records gather before a batch is written (at most ~10 transactions a second)
_ERROR_CHARS = 2000


@dataclass(slots=True)
class AuditRecord:
    """One tools/call as observed on the wire (arguments are redacted only when written)."""

    seq: int
    server: str
    tool: str
    arguments: Mapping[str, Any] | None
    outcome: str
    error: str | None
    started: float
    duration_ms: int
    caller: str
    transport: str
    request_id: str | None


class AuditLog:
    """Bounded queue of audit records plus the background task that writes them."""

    def __init__(self, server: str, database: Database, *, capacity: int = 10_000) -> None:
        self.server = server
        self.database = database
        self.capacity = capacity
        self.dropped = 0
        self.written = 0
        self._queue: deque[AuditRecord] = deque()
        self._seq = itertools.count(1)
        self._wake = asyncio.Event()
        self._write_lock = asyncio.Lock()  # one batch in flight: the writer and flush() never insert it twice
        self._writing_up_to = 0  # seq of the last record of the batch being inserted (0: none)
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        return len(self._queue)

    def record(self, **fields: Any) -> None:
        """Queue one record without blocking; drops (and counts) the oldest when full."""
        if len(self._queue) >= self.capacity:
            oldest = self._queue.popleft()
            if oldest.seq > self._writing_up_to:  # a record of the batch being written is not lost
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    log.warning("audit queue full; oldest records dropped", extra={"dropped": self.dropped})
        self._queue.append(AuditRecord(seq=next(self._seq), server=self.server, **fields))
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"afu9-audit-{self.server}")

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
                except Exception as error:  # noqa: BLE001 - the writer never dies; records wait for the database
                    log.warning(
                        "audit records kept in memory until the database returns",
                        extra={"pending": self.pending, "error": str(error)[:200]},
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 15.0)

    async def _write_batch(self) -> None:
        async with self._write_lock:
            batch = list(itertools.islice(self._queue, _BATCH))
            if not batch:
                return
            from shared.schema import mcp_tool_calls

            rows = [_row(record) for record in batch]
            last = batch[-1].seq
            self._writing_up_to = last
            try:
                async with self.database.connect() as connection:
                    await connection.execute(mcp_tool_calls.insert(), rows)
            except BaseException:
                # Records of this batch pushed out of a full queue meanwhile are lost after all: count them.
                self.dropped += sum(1 for record in batch if not self._queue or record.seq < self._queue[0].seq)
                raise
            finally:
                self._writing_up_to = 0
            while self._queue and self._queue[0].seq <= last:
                self._queue.popleft()
            self.written += len(batch)

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
        """Stop the writer and flush the queue (records left after ``timeout`` are logged as lost)."""
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
            log.error("audit records lost at shutdown: database unavailable", extra={"lost": self.pending})


class AuditMiddleware:
    """SDK middleware that times each ``tools/call`` and queues its audit record."""

    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        started = time.time()
        clock = time.perf_counter()
        outcome, error = "ok", None
        try:
            result = await call_next(ctx)
        except MCPError as exc:
            outcome, error = "protocol_error", f"{exc.error.code}: {exc.error.message}"
            raise
        except Exception as exc:
            outcome, error = "invalid_request", type(exc).__name__
            raise
        else:
            if _is_error(result):
                error = _error_text(result)
                outcome = _error_outcome(error)
            return result
        finally:
            params = ctx.params or {}
            name = params.get("name")
            arguments = params.get("arguments")
            self.audit.record(
                tool=name if isinstance(name, str) else "?",
                arguments=arguments if isinstance(arguments, Mapping) else None,
                outcome=outcome,
                error=error,
                started=started,
                duration_ms=round((time.perf_counter() - clock) * 1000),
                caller=_caller(ctx),
                transport="http" if ctx.request is not None else "stdio",
                request_id=None if ctx.request_id is None else str(ctx.request_id),
            )


# The SDK's text for arguments that fail validation, and the kit's for tools this server does not serve.
_INVALID_ARGUMENTS = re.compile(r"^Error executing tool \S+: \d+ validation errors? for \S+Arguments\b")
_UNSERVED = re.compile(r"^(Unknown tool: |\S+ is not served here: )")


def _error_outcome(text: str) -> str:
    """``invalid_arguments``, ``unknown_tool`` or ``tool_error`` (any other error the tool reported)."""
    if _INVALID_ARGUMENTS.match(text):
        return "invalid_arguments"
    if _UNSERVED.match(text):
        return "unknown_tool"
    return "tool_error"


def _is_error(result: object) -> bool:
    if isinstance(result, Mapping):
        return result.get("isError") is True  # pyright: ignore[reportUnknownMemberType]
    return getattr(result, "is_error", False) is True


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
            texts.append(text)
    return " ".join(texts)[:_ERROR_CHARS]


def _caller(ctx: ServerRequestContext[Any, Any]) -> str:
    token = get_access_token()
    if token is not None:
        return token.client_id
    return "anonymous" if ctx.request is not None else "local"


def _row(record: AuditRecord) -> dict[str, Any]:
    started = datetime.fromtimestamp(record.started, UTC)
    return {
        "server_name": record.server,
        "tool_name": record.tool,
        "params": redact_value(dict(record.arguments)) if record.arguments is not None else None,
        "outcome": record.outcome,
        "error": None if record.error is None else str(redact_value(record.error)),
        "duration_ms": record.duration_ms,
        "started_at": started,
        "completed_at": started + timedelta(milliseconds=record.duration_ms),
        "caller": record.caller,
        "transport": record.transport,
        "request_id": record.request_id,
    }
