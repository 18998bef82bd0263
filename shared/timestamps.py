"""Timestamps: everything AFU-9 stores and returns is in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator

from shared.errors import InvalidRequest

__all__ = ["UtcDateTime", "utc"]


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already (as SQLite returns them)."""
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        raise InvalidRequest(
            f"{moment.isoformat()} falls outside the years 1 to 9999 once converted to UTC; "
            "pass a date-time inside that range."
        ) from None


UtcDateTime = Annotated[datetime, AfterValidator(utc)]
"""A datetime field normalised to UTC (for models filled from database rows)."""
