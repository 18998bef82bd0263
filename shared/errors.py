"""Errors: the hierarchy, and the one place where outside failures become messages a model can act on.

    Afu9Error
     ├── ConfigError            a setting is wrong; the process stops at start with one line
     ├── InvalidRequest         the caller can fix it (a tool error whose text says how)
     │    ├── NotFound          the thing asked for does not exist
     │    └── Conflict          the request clashes with what is stored
     └── DependencyUnavailable  a dependency (database, upstream API) cannot be reached right now

Inside a tool, a failure the model can fix is a ``ToolError`` (re-exported here) whose text says what to do
next; outside failures are translated here, at the client boundary, never with try/except in tool bodies.
"""

from __future__ import annotations

from mcp.server.mcpserver.exceptions import ToolError

from shared.redaction import redact_text

__all__ = [
    "Afu9Error",
    "ConfigError",
    "Conflict",
    "DependencyUnavailable",
    "InvalidRequest",
    "NotFound",
    "ToolError",
    "database_unavailable",
    "is_connection_error",
]


class Afu9Error(Exception):
    """Base of AFU-9's own exceptions."""


class ConfigError(Afu9Error):
    """A setting is wrong. ``key`` is the environment variable to fix."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"invalid setting {key}: {message}")
        self.key = key


class InvalidRequest(Afu9Error, ToolError):
    """A request the caller can fix; the message says how. Logic modules raise it without importing MCP."""


class NotFound(InvalidRequest):
    """The thing asked for does not exist; the message says how to find what does."""


class Conflict(InvalidRequest):
    """The request clashes with stored state (for example an idempotency key reused for other data)."""


class DependencyUnavailable(Afu9Error, ToolError):
    """A dependency cannot be reached right now; nothing was changed and the call may be retried."""


def is_connection_error(error: BaseException) -> bool:
    """Whether ``error`` means the database connection is gone or cannot be made (rather than a bad query)."""
    if isinstance(error, OSError | TimeoutError | ConnectionError):
        return True
    # PostgreSQL refusing the session: connection exception, bad credentials, too many connections, shutting
    # down or starting up, no such database.
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None) or getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str) and (sqlstate.startswith(("08", "28", "53", "57P")) or sqlstate == "3D000"):
        return True
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError  # loaded only once a database is used

    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, InterfaceError):
        return True
    if isinstance(error, OperationalError):
        text = str(error.orig).lower()
        return any(
            marker in text
            for marker in ("connect", "closed", "terminat", "shutdown", "unable to open", "timeout", "refused")
        )
    name = type(error).__module__
    return name.startswith("asyncpg") and "Connection" in type(error).__name__


def database_unavailable(error: BaseException | str) -> DependencyUnavailable:
    """The tool error for a database that is away: says nothing was changed and what to do next."""
    reason = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    reason = redact_text(reason.splitlines()[0] if reason else "unknown")[:200]
    return DependencyUnavailable(
        "The AFU-9 database is unavailable right now, so this call changed nothing "
        f"({reason}). Retry in a few seconds; the server reconnects by itself and its /ready endpoint "
        "shows the database state."
    )
