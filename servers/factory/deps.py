"""The factory server's dependencies, built once per process and injectable in tests."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from servers.factory.settings import FactorySettings
from shared.db import Database
from shared.server import DatabaseDeps

if TYPE_CHECKING:
    from servers.factory.kpis import KpiStore

__all__ = ["FactoryDeps"]


@dataclass
class FactoryDeps(DatabaseDeps):
    """The database and the stores built on it."""

    @classmethod
    def from_settings(cls, settings: FactorySettings) -> FactoryDeps:
        return cls(database=Database(settings.sqlalchemy_url()))

    @functools.cached_property
    def kpis(self) -> KpiStore:
        # Imported on first use: SQLAlchemy is not needed to answer initialize or tools/list (cold start).
        from servers.factory.kpis import KpiStore

        return KpiStore(self.database)
