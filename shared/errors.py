"""The error hierarchy of AFU-9. Translation of outside failures into these lives at each client boundary
(``shared/db.py`` for the database, ``shared/http_client.py`` for HTTP APIs, ``shared/aws.py`` for AWS).

    Afu9Error
     ├── ConfigError              a setting is wrong; the process stops at start with one line
     └── CallError (ToolError)    a tool call failed in a way its text explains; ``outcome`` names it in the audit
          ├── InvalidRequest          the caller can fix it
          │    ├── InvalidArguments      the arguments break the tool's input schema (or cannot be stored)
          │    ├── NotFound              the thing asked for does not exist
          │    └── Conflict              the request clashes with stored state (an idempotency key reused...)
          ├── WritesDisabled          the write gate is closed; names the setting that opens it
          ├── NotConfigured           a dependency has no settings; names the settings to set
          ├── DependencyUnavailable   a dependency cannot be reached now; nothing changed, retry later
          │    └── RateLimited          an upstream rate limit; says when to retry
          └── UpstreamError           an upstream API refused the request (a 4xx it explains)

A tool raises these (logic modules too: they import no MCP). The SDK turns any ``ToolError`` into an
``isError`` result carrying the text; the audit trail records ``outcome`` from the exception's type.
"""

from __future__ import annotations

from typing import ClassVar

from mcp.server.mcpserver.exceptions import ToolError

__all__ = [
    "Afu9Error",
    "CallError",
    "ConfigError",
    "Conflict",
    "DependencyUnavailable",
    "InvalidArguments",
    "InvalidRequest",
    "NotConfigured",
    "NotFound",
    "RateLimited",
    "ToolError",
    "UpstreamError",
    "WritesDisabled",
]


class Afu9Error(Exception):
    """Base of AFU-9's own exceptions."""


class ConfigError(Afu9Error):
    """A setting is wrong. ``key`` is the environment variable to fix."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"invalid setting {key}: {message}")
        self.key = key


class CallError(Afu9Error, ToolError):
    """A tool call failed; the message says why and what to do next. ``outcome`` is its audit outcome."""

    outcome: ClassVar[str] = "tool_error"


class InvalidRequest(CallError):
    """A request the caller can fix; the message says how."""


class InvalidArguments(InvalidRequest):
    """The arguments do not fit the tool's input schema, or hold text that cannot be stored."""

    outcome = "invalid_arguments"


class NotFound(InvalidRequest):
    """The thing asked for does not exist; the message says how to find what does."""


class Conflict(InvalidRequest):
    """The request clashes with stored state (for example an idempotency key reused for other data)."""


class WritesDisabled(CallError):
    """A write tool was called while the write gate is closed; nothing was changed."""

    outcome = "write_refused"


class NotConfigured(CallError):
    """A dependency the tool needs has no settings; the message names the settings to set."""

    outcome = "not_configured"

    def __init__(self, dependency: str, settings: str, what: str = "") -> None:
        super().__init__(
            f"{what or f'This needs {dependency}'}, which is not configured on this server: set {settings} "
            "(an operator setting). The tools that do not need it keep working."
        )
        self.dependency = dependency
        self.settings = settings


class DependencyUnavailable(CallError):
    """A dependency cannot be reached right now; nothing was changed and the call may be retried."""

    outcome = "unavailable"


class RateLimited(DependencyUnavailable):
    """An upstream API's rate limit is exhausted; ``retry_after`` is in seconds when known."""

    outcome = "rate_limited"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamError(CallError):
    """An upstream API refused the request; ``status`` is its HTTP status when there is one."""

    outcome = "upstream_error"

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
