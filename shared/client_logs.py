"""MCP logging: the server's own log records reach the client as ``notifications/message``.

A record logged while a request is handled (by the kit, a tool, a store) is sent to the client that made the
request, on that request's stream, redacted like every log line, when its level is at or above what the
client asked for: ``logging/setLevel`` on handshake-era connections (default ``warning`` until it asks),
the per-request ``_meta`` log level on 2026-07-28 connections. Records of other clients' requests and of
background work are never sent to a client. Only AFU-9's own loggers (``servers``, ``shared``,
``orchestrator``) are forwarded, and only what their configured level lets through (``AFU9_LOG_LEVEL``).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from dataclasses import dataclass, field
from typing import Any, cast

from mcp.server.connection import allowed_log_levels
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.types import EmptyResult, LoggingMessageNotification, LoggingMessageNotificationParams, SetLevelRequestParams

from shared.redaction import redact_text, redact_value

__all__ = ["ClientLogHandler", "ClientLogMiddleware", "enable_client_logging"]

_FORWARDED = ("servers", "shared", "orchestrator")
_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
_DEFAULT_LEVEL = "warning"
_STATE_KEY = "afu9_log_level"
_SEND_TIMEOUT = 2.0
_PENDING_LIMIT = 100  # notifications per request at most; more are dropped


@dataclass
class _Request:
    ctx: ServerRequestContext[Any, Any]
    pending: list[asyncio.Task[None]] = field(default_factory=list[asyncio.Task[None]])

    @functools.cached_property
    def allowed(self) -> frozenset[str]:
        """The levels this request's client asked for (worked out on the first record, not on every request)."""
        return _allowed(self.ctx)


_current: contextvars.ContextVar[_Request | None] = contextvars.ContextVar("afu9_client_log_request", default=None)
_sending: contextvars.ContextVar[bool] = contextvars.ContextVar("afu9_client_log_sending", default=False)


def _mcp_level(levelno: int) -> str:
    if levelno >= logging.CRITICAL:
        return "critical"
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warning"
    if levelno >= logging.INFO:
        return "info"
    return "debug"


def _connection_state(ctx: ServerRequestContext[Any, Any]) -> dict[str, Any] | None:
    # The per-connection scratch dict; the SDK exposes it to handlers only through the session (2.3.0).
    connection = getattr(ctx.session, "_connection", None)
    state = getattr(connection, "state", None)
    return cast("dict[str, Any]", state) if isinstance(state, dict) else None


def _allowed(ctx: ServerRequestContext[Any, Any]) -> frozenset[str]:
    levels = allowed_log_levels(ctx.protocol_version, ctx.meta)
    if levels != frozenset(_LEVELS):
        return levels  # 2026-07-28: the request's own opt-in decides
    state = _connection_state(ctx) or {}
    chosen = state.get(_STATE_KEY, _DEFAULT_LEVEL)
    return frozenset(_LEVELS[_LEVELS.index(chosen) :]) if chosen in _LEVELS else frozenset()


class ClientLogMiddleware:
    """SDK middleware: remembers which request is being handled, and sends its log records before answering."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.request_id is None:
            return await call_next(ctx)
        request = _Request(ctx)
        token = _current.set(request)
        try:
            return await call_next(ctx)
        finally:
            _current.reset(token)
            if request.pending:
                await asyncio.wait(request.pending, timeout=_SEND_TIMEOUT)


class ClientLogHandler(logging.Handler):
    """Forwards records logged during a request to that request's client (see the module docstring)."""

    def emit(self, record: logging.LogRecord) -> None:
        request = _current.get()
        if request is None or _sending.get() or not record.name.startswith(_FORWARDED):
            return
        level = _mcp_level(record.levelno)
        if level not in request.allowed or len(request.pending) >= _PENDING_LIMIT:
            return
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed logging call must not break its caller
            message = str(record.msg)
        data: dict[str, object] = {"message": redact_text(message)}
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if extras:
            data |= cast("dict[str, object]", redact_value({k: _plain(v) for k, v in extras.items()}))
        notification = LoggingMessageNotification(
            params=LoggingMessageNotificationParams(level=level, data=data, logger=record.name)  # pyright: ignore[reportArgumentType]
        )
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        request.pending.append(loop.create_task(self._send(request, notification)))

    @staticmethod
    async def _send(request: _Request, notification: LoggingMessageNotification) -> None:
        _sending.set(True)  # this task's own logging is never forwarded (no loops)
        try:
            await request.ctx.session.send_notification(notification, related_request_id=request.ctx.request_id)
        except Exception:  # noqa: BLE001 - logging to the client is best effort
            return


def _plain(value: object) -> object:
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return cast("object", value)
    return str(value)


_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}
_HANDLER = ClientLogHandler()


def enable_client_logging(server: MCPServer[Any]) -> None:
    """Advertise logging on ``server``, accept ``logging/setLevel``, forward records (idempotent per process)."""

    async def set_level(ctx: ServerRequestContext[Any, Any], params: SetLevelRequestParams) -> EmptyResult:
        state = _connection_state(ctx)
        if state is not None:
            state[_STATE_KEY] = params.level
        return EmptyResult()

    # MCPServer 2.3.0 has no public hook for logging/setLevel; the low-level server's handler table is the
    # documented workaround, and registering it is what advertises the logging capability.
    server._lowlevel_server.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)  # pyright: ignore[reportPrivateUsage]
    server.middleware.append(ClientLogMiddleware())
    for name in _FORWARDED:
        logger = logging.getLogger(name)
        if _HANDLER not in logger.handlers:
            logger.addHandler(_HANDLER)
