"""Running one command's work on the configured database, with the failures a user can act on said in one line:
the database cannot be reached, or cannot be used (bad URL, missing driver, a schema newer than this code)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from shared.db import Database, Migrations
from shared.errors import ConfigError, DependencyUnavailable
from shared.exits import fail
from shared.settings import CommonSettings

__all__ = ["on_database"]

T = TypeVar("T")


def on_database(
    settings: CommonSettings, owners: Sequence[Migrations], work: Callable[[Database], Awaitable[T]], *, undone: str
) -> T:
    """``work`` on the settings' database (its schema brought up to date first); exits with one line on failure,
    ending with ``undone`` (what did not happen)."""
    from sqlalchemy.exc import ArgumentError, InvalidRequestError

    from shared.redaction import redact_text

    key = "AFU9_DATABASE_URL" if settings.database_url is not None else "AFU9_DATA_DIR"
    database = Database(settings.sqlalchemy_url(), migrations=owners)

    async def run() -> T:
        try:
            await database.ensure_schema()
            return await work(database)
        finally:
            await database.aclose()

    try:
        return asyncio.run(run())
    except ConfigError as error:
        fail(str(error))
    except DependencyUnavailable:
        fail(f"cannot reach the database ({key}): {database.last_error}; {undone}")
    except (OSError, ImportError, ValueError, ArgumentError, InvalidRequestError) as error:
        reason = redact_text(str(error).splitlines()[0] if str(error) else type(error).__name__)
        fail(f"cannot use the database ({key}): {reason}; {undone}")
