"""The github server's dependencies, built once per process and injectable in tests."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from servers.github.client import GitHubClient
from servers.github.settings import GitHubSettings
from servers.github.webhooks.processing import Webhooks
from shared.db import KIT_MIGRATIONS, Database, Migrations
from shared.deps import Dependency
from shared.idempotency import Idempotency
from shared.server import DatabaseDeps

__all__ = ["MIGRATIONS", "GitHubDeps"]

MIGRATIONS = Migrations(GitHubSettings.server, Path(__file__).parent / "migrations")
"""The github server's own tables (``schema.py``: webhook deliveries), with their own version table."""


@dataclass
class GitHubDeps(DatabaseDeps):
    """The database (audit trail, idempotency keys, webhook deliveries), the GitHub client, the webhooks."""

    github: GitHubClient

    @classmethod
    def from_settings(cls, settings: GitHubSettings) -> GitHubDeps:
        database = Database(settings.sqlalchemy_url(), migrations=(KIT_MIGRATIONS, MIGRATIONS))
        return cls(database=database, github=GitHubClient(settings))

    def parts(self) -> Sequence[Dependency]:
        return (self.database, self.github, self.webhooks)

    @functools.cached_property
    def idempotency(self) -> Idempotency:
        return Idempotency(self.database, GitHubSettings.server)

    @functools.cached_property
    def webhooks(self) -> Webhooks:
        return Webhooks(self.github.settings, self.database, self.idempotency)
