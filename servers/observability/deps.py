"""The observability server's dependencies, built once per process and injectable in tests."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from servers.observability.settings import ObservabilitySettings
from shared.aws import AwsClients, AwsPart
from shared.db import Database
from shared.deps import Dependency
from shared.server import DatabaseDeps

__all__ = ["ObservabilityDeps"]


@dataclass
class ObservabilityDeps(DatabaseDeps):
    """The database (the audit trail), AWS clients (CloudWatch, CloudWatch Logs, ECS, ELBv2), the settings."""

    aws: AwsClients
    settings: ObservabilitySettings

    @classmethod
    def from_settings(cls, settings: ObservabilitySettings) -> ObservabilityDeps:
        return cls(database=Database(settings.sqlalchemy_url()), aws=AwsClients.from_environment(), settings=settings)

    def parts(self) -> Sequence[Dependency]:
        return (self.database, self.aws_part)

    @functools.cached_property
    def aws_part(self) -> AwsPart:
        return AwsPart(self.aws)
