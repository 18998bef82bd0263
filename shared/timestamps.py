"""Timestamps: everything AFU-9 stores and returns is in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator

from shared.errors import InvalidRequest

__all__ = ["UtcDateTime", "iso", "utc"]


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already (as SQLite returns them)."""
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        raise InvalidRequest(
            f"{moment.isoformat()} falls outside the years 1 to 9999 once converted to UTC; "
            "pass a date-time inside that range."
        ) from None


def iso(moment: object) -> str | None:
    """``moment`` as ISO 8601 in UTC with a ``Z`` (a naive one taken as UTC; whatever zone a library parsed it
    into, botocore's local time included); None when it is not a datetime."""
    if not isinstance(moment, datetime):
        return None
    return utc(moment).isoformat().replace("+00:00", "Z")


UtcDateTime = Annotated[datetime, AfterValidator(utc)]
"""A datetime field normalised to UTC (for models filled from database rows)."""
