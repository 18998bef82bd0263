"""The deploy server's dependencies, built once per process and injectable in tests."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from servers.deploy.settings import DeploySettings
from shared.aws import AwsClients, AwsPart
from shared.db import KIT_MIGRATIONS, Database, Migrations
from shared.deps import Dependency
from shared.server import DatabaseDeps

if TYPE_CHECKING:
    from servers.deploy.history import History
    from servers.deploy.watcher import Watcher
    from shared.idempotency import Idempotency

__all__ = ["MIGRATIONS", "DeployDeps"]

MIGRATIONS = Migrations(DeploySettings.server, Path(__file__).parent / "migrations")
"""The deploy server's own tables (``schema.py``), with their own version table."""


@dataclass
class DeployDeps(DatabaseDeps):
    """The database (audit trail, idempotency keys, deployment history, captured failures), AWS clients (ECS,
    ELBv2, CloudFormation, Secrets Manager), the watcher of ``watch_services``, the settings."""

    aws: AwsClients
    settings: DeploySettings

    @classmethod
    def from_settings(cls, settings: DeploySettings) -> DeployDeps:
        database = Database(settings.sqlalchemy_url(), migrations=(KIT_MIGRATIONS, MIGRATIONS))
        return cls(database=database, aws=AwsClients.from_environment(), settings=settings)

    def parts(self) -> Sequence[Dependency]:
        return (self.database, self.aws_part, self.watcher)

    @functools.cached_property
    def aws_part(self) -> AwsPart:
        return AwsPart(self.aws)

    @functools.cached_property
    def watcher(self) -> Watcher:
        """The background watcher of ``watch_services`` (off when none are named)."""
        from servers.deploy.watcher import Watcher

        return Watcher(self.settings, self.aws, lambda: self.history)

    @functools.cached_property
    def history(self) -> History:
        # Imported on first use: SQLAlchemy is not needed to answer initialize or tools/list (cold start).
        from servers.deploy.history import History

        return History(self.database)

    @functools.cached_property
    def idempotency(self) -> Idempotency:
        from shared.idempotency import Idempotency

        return Idempotency(self.database, DeploySettings.server)
