"""The arguments several observability tools share, described once (each description is read on every
``tools/list``: short, the tool's own description says the rest)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import Field

from shared.errors import InvalidRequest
from shared.timestamps import utc

__all__ = ["Cluster", "Cursor", "End", "Service", "Start", "window"]

Cluster = Annotated[str, Field(pattern=r"^[A-Za-z0-9_:/.-]{1,255}$", description="ECS cluster name or ARN.")]
Service = Annotated[str, Field(pattern=r"^[A-Za-z0-9_:/.-]{1,255}$", description="ECS service name or ARN.")]
Start = Annotated[datetime | None, Field(description="ISO 8601; default: one hour ago.")]
End = Annotated[datetime | None, Field(description="ISO 8601; default: now.")]
Cursor = Annotated[str | None, Field(max_length=4096, description="From next_cursor.")]

_MAX_DAYS = 455  # CloudWatch keeps metrics 15 months


def window(
    start: datetime | None, end: datetime | None, *, default: timedelta = timedelta(hours=1)
) -> tuple[datetime, datetime]:
    """The time range asked for (UTC), with defaults; refused when it is empty or reaches too far back."""
    stop = utc(end) if end is not None else datetime.now(UTC)
    begin = utc(start) if start is not None else stop - default
    if begin >= stop:
        raise InvalidRequest("start must be before end.")
    if stop - begin > timedelta(days=_MAX_DAYS):
        raise InvalidRequest(f"The range may span {_MAX_DAYS} days at most (what CloudWatch keeps).")
    return begin, stop
