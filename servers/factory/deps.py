"""The factory server's dependencies, built once per process and injectable in tests."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from servers.factory.settings import FactorySettings
from shared.db import Database, DependencyStatus

if TYPE_CHECKING:
    from servers.factory.kpis import KpiStore

__all__ = ["FactoryDeps"]


@dataclass
class FactoryDeps:
    """The database and the stores built on it."""

    database: Database

    @classmethod
    def from_settings(cls, settings: FactorySettings) -> FactoryDeps:
        return cls(database=Database(settings.sqlalchemy_url()))

    @functools.cached_property
    def kpis(self) -> KpiStore:
        # Imported on first use: SQLAlchemy is not needed to answer initialize or tools/list (cold start).
        from servers.factory.kpis import KpiStore

        return KpiStore(self.database)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await self.database.aclose()

    async def readiness(self) -> dict[str, DependencyStatus]:
        return {"database": await self.database.check()}
