"""The factory server's dependencies, built once per process and injectable in tests."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from servers.factory.settings import FactorySettings
from shared.db import KIT_MIGRATIONS, Database, Migrations
from shared.server import DatabaseDeps

if TYPE_CHECKING:
    from servers.factory.kpis import KpiStore

__all__ = ["MIGRATIONS", "FactoryDeps"]

MIGRATIONS = Migrations(FactorySettings.server, Path(__file__).parent / "migrations")
"""The factory's own tables (``schema.py``), migrated from ``migrations/`` with their own version table."""


@dataclass
class FactoryDeps(DatabaseDeps):
    """The database and the stores built on it."""

    @classmethod
    def from_settings(cls, settings: FactorySettings) -> FactoryDeps:
        return cls(database=Database(settings.sqlalchemy_url(), migrations=(KIT_MIGRATIONS, MIGRATIONS)))

    @functools.cached_property
    def kpis(self) -> KpiStore:
        # Imported on first use: SQLAlchemy is not needed to answer initialize or tools/list (cold start).
        from servers.factory.kpis import KpiStore
        from shared.idempotency import Idempotency

        return KpiStore(self.database, Idempotency(self.database, FactorySettings.server))
