"""The deploy server: its one definition (wiring only)."""

from __future__ import annotations

from servers.deploy.deps import MIGRATIONS, DeployDeps
from servers.deploy.settings import DeploySettings
from servers.deploy.tools import TOOLSETS
from shared.server import ServerDefinition

__all__ = ["SERVER", "main"]

SERVER = ServerDefinition(
    settings=DeploySettings,
    summary="ECS rollouts with tracking, diagnosis and rollback; CloudFormation change sets behind a diff gate; "
    "secret preflight",
    intro="AFU-9 deploy server: roll out a new image to an ECS service, follow the rollout, diagnose a failure "
    "and roll back; preview CloudFormation changes behind a diff gate; check a deployment's secrets.",
    toolsets=TOOLSETS,
    deps=DeployDeps.from_settings,
    migrations=MIGRATIONS,
)

main = SERVER.main
