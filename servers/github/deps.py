"""The github server's dependencies, built once per process and injectable in tests."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from servers.github.client import GitHubClient
from servers.github.settings import GitHubSettings
from shared.db import KIT_MIGRATIONS, Database
from shared.deps import Dependency
from shared.idempotency import Idempotency
from shared.server import DatabaseDeps

__all__ = ["GitHubDeps"]


@dataclass
class GitHubDeps(DatabaseDeps):
    """The database (audit trail, idempotency keys) and the GitHub client."""

    github: GitHubClient

    @classmethod
    def from_settings(cls, settings: GitHubSettings) -> GitHubDeps:
        return cls(
            database=Database(settings.sqlalchemy_url(), migrations=(KIT_MIGRATIONS,)), github=GitHubClient(settings)
        )

    def parts(self) -> Sequence[Dependency]:
        return (self.database, self.github)

    @functools.cached_property
    def idempotency(self) -> Idempotency:
        return Idempotency(self.database, GitHubSettings.server)
