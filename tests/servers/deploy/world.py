"""The deploy server's stand-in outside world: moto's AWS on loopback (``tests.moto_aws``), each test's resources
under their own names, for the suite-wide contract and fuzz tests and the deploy tests.

:func:`seed` creates an ECS cluster and a service (circuit breaker with rollback) running a task definition
whose container has a secret-looking environment value and secrets taken from Secrets Manager, and those
secrets (the AFU-9 github and database structures). What moto does not model (rollout states, service
deployments, stopped tasks with exit codes, CloudFormation failure events, drift) the tests stub with
botocore's ``Stubber`` on the same clients.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from servers.deploy.deps import MIGRATIONS, DeployDeps
from servers.deploy.settings import DeploySettings
from shared.db import KIT_MIGRATIONS, Database
from tests.moto_aws import REGION, boto, clients, moto_url

__all__ = ["REGION", "World", "boto", "clients", "deps", "moto_url", "pinned_arguments", "seed", "settings_overrides"]

ENVIRONMENT_SECRET = "sk-live-do-not-show-0123456789abcdef"

_lock = threading.RLock()
_seeded: World | None = None


@dataclass(frozen=True)
class World:
    """What :func:`seed` created."""

    cluster: str
    service: str
    container: str
    image: str
    task_definition: str
    github_secret: str
    database_secret: str


def seed(name: str = "afu9") -> World:
    """An ECS service and the secrets its task definition names, under ``name``."""
    ecs, secrets = boto("ecs"), boto("secretsmanager")
    cluster, service, container, image = f"{name}-cluster", f"{name}-api", "app", f"public.ecr.aws/{name}/api:1"
    github = secrets.create_secret(
        Name=f"{name}/github", SecretString=json.dumps({"token": "ghp_" + "x" * 36, "webhook_secret": "w" * 32})
    )["ARN"]
    database = secrets.create_secret(
        Name=f"{name}/database",
        SecretString=json.dumps({"username": "afu9", "password": "p" * 20, "host": "db", "port": 5432}),
    )["ARN"]
    ecs.create_cluster(clusterName=cluster)
    definition = ecs.register_task_definition(
        family=f"{name}-api",
        executionRoleArn=f"arn:aws:iam::123456789012:role/{name}-execution",
        containerDefinitions=[
            {
                "name": container,
                "image": image,
                "memory": 512,
                "environment": [{"name": "PAYMENT_API_KEY", "value": ENVIRONMENT_SECRET}],
                "secrets": [
                    {"name": "GITHUB_TOKEN", "valueFrom": f"{github}:token::"},
                    {"name": "DATABASE_PASSWORD", "valueFrom": f"{database}:password::"},
                ],
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster=cluster,
        serviceName=service,
        taskDefinition=definition,
        desiredCount=1,
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    )
    return World(
        cluster=cluster,
        service=service,
        container=container,
        image=image,
        task_definition=definition,
        github_secret=github,
        database_secret=database,
    )


def seeded() -> World:
    """The world of the suite-wide tests (seeded once per process)."""
    global _seeded
    with _lock:
        if _seeded is None:
            _seeded = seed("suite")
        return _seeded


def settings_overrides() -> dict[str, Any]:
    seeded()
    return {"wait_limit_seconds": 1}  # moto's rollouts never end: the suite-wide tests must not wait 120 s a call


def deps(settings: DeploySettings) -> DeployDeps:
    """The deploy server's dependencies on the moto server."""
    database = Database(settings.sqlalchemy_url(), migrations=(KIT_MIGRATIONS, MIGRATIONS))
    return DeployDeps(database=database, aws=clients(), settings=settings)


def pinned_arguments() -> dict[str, list[Any]]:
    """Values that exist in the suite's world, which the fuzz test mostly passes for these arguments."""
    world = seeded()
    return {"cluster": [world.cluster], "service": [world.service], "container": [world.container]}
