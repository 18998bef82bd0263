"""Serving a built server over stdio, for Claude Desktop and IDE agents: stdout carries only protocol.

- SIGINT and SIGTERM stop the server cleanly whatever the client is doing: calls in flight are cancelled (and
  audited as such), the audit queue is flushed, the process exits 0 without a traceback.
- stdin is read by the event loop (a pipe or socket, what clients use) or by a daemon thread (a file or a
  terminal), so a read blocked on a silent client never holds up a shutdown.
- A line that is not JSON gets a JSON-RPC parse error (-32700), one that is not JSON-RPC an invalid-request
  error (-32600), instead of silence; the session goes on.
- When the client closes stdin, the requests already sent are answered before the server stops (so
  ``afu9 serve factory < requests.jsonl`` gets every answer), for up to ``DRAIN_SECONDS``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import signal
import stat
import sys
import threading
from collections.abc import AsyncGenerator
from typing import Any, cast

import anyio
import anyio.from_thread
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from shared.server import Afu9Server

__all__ = ["DRAIN_SECONDS", "serve_stdio"]

log = logging.getLogger(__name__)

DRAIN_SECONDS = 60.0
"""How long requests still running when the client closes stdin get to finish."""


def serve_stdio(server: Afu9Server) -> None:
    """Serve ``server`` over stdin/stdout until the client closes the pipe or SIGINT/SIGTERM arrives."""
    anyio.run(_serve_stdio, server)
    sys.stdout.flush()


async def _serve_stdio(server: Afu9Server) -> None:
    from mcp.server.stdio import stdio_server

    loop = asyncio.get_running_loop()
    with anyio.CancelScope() as scope:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, scope.cancel)
        try:
            async with (
                _stdin_lines() as stdin,
                stdio_server(stdin=cast("anyio.AsyncFile[str]", stdin)) as (read_stream, write_stream),
                anyio.create_task_group() as tasks,
            ):
                inbound, server_read = anyio.create_memory_object_stream[Any](0)
                server_write, outbound = anyio.create_memory_object_stream[Any](0)
                in_flight = _InFlight()
                tasks.start_soon(_inbound, read_stream, inbound, server_write, in_flight)
                tasks.start_soon(_outbound, outbound, write_stream, in_flight)
                # MCPServer.run_stdio_async does the same on the SDK's streams; the low-level server is the only
                # way to put the filters above between the transport and the server (mcp 2.3.0).
                lowlevel = server._lowlevel_server  # pyright: ignore[reportPrivateUsage]
                await lowlevel.run(server_read, server_write, lowlevel.create_initialization_options())
                tasks.cancel_scope.cancel()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
    if scope.cancelled_caught:
        log.info("stopped by a signal; the audit queue was flushed")


class _StdinLines:
    """The lines of the client's stdin as an async iterator (what ``stdio_server(stdin=...)`` iterates)."""

    def __init__(self, receive: MemoryObjectReceiveStream[list[str]]) -> None:
        self._receive = receive
        self._lines: collections.deque[str] = collections.deque()

    def __aiter__(self) -> _StdinLines:
        return self

    async def __anext__(self) -> str:
        while not self._lines:
            try:
                self._lines.extend(await self._receive.receive())
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                raise StopAsyncIteration from None
        return self._lines.popleft()


class _PipeLines:
    """The lines of a stdin pipe, read by the event loop itself: no thread, no hop per line, cancellable."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    def __aiter__(self) -> _PipeLines:
        return self

    async def __anext__(self) -> str:
        try:
            line = await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as end:
            if not end.partial:
                raise StopAsyncIteration from None
            line = end.partial
        except asyncio.LimitOverrunError:
            await self._skip_line()
            return _TOO_LONG
        return line.decode("utf-8", "replace")

    async def _skip_line(self) -> None:
        """Drop the rest of a line longer than the limit (it is answered as unreadable)."""
        while True:
            try:
                await self._reader.readuntil(b"\n")
                return
            except asyncio.LimitOverrunError as over:
                await self._reader.readexactly(over.consumed)
            except asyncio.IncompleteReadError:
                return


_LINE_LIMIT = 64 * 1024 * 1024  # bytes in one JSON-RPC line at most; a longer one is answered -32700
_TOO_LONG = "\x00 the line was longer than 64 MiB\n"  # not JSON: the filter answers it with a parse error


@contextlib.asynccontextmanager
async def _stdin_lines() -> AsyncGenerator[_PipeLines | _StdinLines]:
    """stdin as an async iterator of lines that a signalled shutdown never waits for.

    The SDK's own reader (``anyio.wrap_file``) blocks in a worker thread that cancellation waits for and
    interpreter exit joins: after SIGINT/SIGTERM the process lived on until the client wrote or closed stdin.
    Here stdin is read from a private duplicate of fd 0, and fd 0 points at the null device while serving (as
    the SDK's claim does), so tool code and child processes read EOF instead of protocol lines. A pipe or a
    socket (what clients use) is read by the event loop itself; anything else (a file, a terminal) by a daemon
    thread with ``os.read``, whose duplicate is never closed: the thread may still be blocked on it at exit.
    """
    private = _duplicate_above_std(0)
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null, 0)
    finally:
        os.close(null)
    mode = os.fstat(private).st_mode
    try:
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            reader = asyncio.StreamReader(limit=_LINE_LIMIT)
            pipe = os.fdopen(private, "rb", buffering=0, closefd=False)
            loop = asyncio.get_running_loop()
            transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
            try:
                yield _PipeLines(reader)
            finally:
                transport.close()
                os.set_blocking(private, True)
        else:
            send, receive = anyio.create_memory_object_stream[list[str]](0)
            token = anyio.lowlevel.current_token()
            reading = threading.Thread(target=_read_lines, args=(private, send, token), name="afu9-stdin", daemon=True)
            reading.start()
            async with receive:
                yield _StdinLines(receive)
    finally:
        os.dup2(private, 0)


def _duplicate_above_std(fd: int) -> int:
    """A close-on-exec duplicate of ``fd`` numbered 3 or above (never one of the standard descriptors)."""
    if sys.platform == "win32":  # pragma: no cover - stdio signal handling is POSIX-only anyway
        return os.dup(fd)
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)


def _read_lines(fd: int, send: MemoryObjectSendStream[list[str]], token: anyio.lowlevel.EventLoopToken) -> None:
    """Thread body: hand the complete lines of each read of ``fd`` to the event loop (one hop per read, not per
    line); stop at EOF or when the loop is gone."""
    pending = b""
    try:
        while chunk := os.read(fd, 65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            if lines:
                anyio.from_thread.run(
                    send.send, [f"{line.decode('utf-8', 'replace')}\n" for line in lines], token=token
                )
        if pending:
            anyio.from_thread.run(send.send, [pending.decode("utf-8", "replace")], token=token)
    except Exception:  # noqa: BLE001 - the loop has ended or the server stopped reading: nothing left to feed
        return
    finally:
        with contextlib.suppress(Exception):
            anyio.from_thread.run_sync(send.close, token=token)


class _InFlight:
    """The ids of requests the server has not answered yet."""

    def __init__(self) -> None:
        self.ids: set[object] = set()
        self.idle = anyio.Event()
        self.idle.set()

    def add(self, request_id: object) -> None:
        self.ids.add(request_id)
        self.idle = anyio.Event()

    def discard(self, request_id: object) -> None:
        self.ids.discard(request_id)
        if not self.ids:
            self.idle.set()


async def _inbound(source: Any, sink: Any, write: Any, in_flight: _InFlight) -> None:
    """Pass messages to the server, remembering unanswered requests; answer a line that is not JSON (-32700)
    or not JSON-RPC (-32600) with an error. At the end of stdin, let running requests finish first."""
    from mcp.shared.message import SessionMessage
    from mcp.types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError, JSONRPCNotification, JSONRPCRequest
    from pydantic import ValidationError

    async with sink:
        async for item in source:
            if not isinstance(item, Exception):
                message = item.message
                if isinstance(message, JSONRPCRequest):
                    in_flight.add(message.id)
                elif isinstance(message, JSONRPCNotification) and message.method == "notifications/cancelled":
                    in_flight.discard((message.params or {}).get("requestId"))  # a cancelled request gets no answer
                await sink.send(item)
                continue
            kinds: set[str] = {e["type"] for e in item.errors()} if isinstance(item, ValidationError) else set()
            if "json_invalid" in kinds:
                code, message = PARSE_ERROR, "Parse error: the line is not valid JSON"
            else:
                code, message = INVALID_REQUEST, "Invalid request: the line is not a JSON-RPC 2.0 message"
            error = JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=code, message=message))
            await write.send(SessionMessage(error))
        with anyio.move_on_after(DRAIN_SECONDS):
            await in_flight.idle.wait()


async def _outbound(source: Any, sink: Any, in_flight: _InFlight) -> None:
    """Pass the server's messages to stdout, noting which requests are answered."""
    from mcp.types import JSONRPCError, JSONRPCResponse

    async with sink:  # closing it ends the SDK's stdout writer
        async for item in source:
            await sink.send(item)  # written first: the drain must not end before the answer is out
            if isinstance(item.message, JSONRPCResponse | JSONRPCError):
                in_flight.discard(item.message.id)
