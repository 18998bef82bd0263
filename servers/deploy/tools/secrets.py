"""Toolset ``secrets``: secret preflight. Do the secrets a deployment needs exist and hold the keys it reads?
Names only: no answer carries a secret's value or a task definition's environment value."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from servers.deploy.arguments import Cluster, Service
from servers.deploy.deps import DeployDeps
from servers.deploy.rollouts import service_of
from servers.deploy.secrets import SecretsCheck, SecretSpec, TaskSecrets, check_task_definition
from servers.deploy.secrets import check_secrets as check_each
from shared.errors import InvalidRequest
from shared.toolset import Toolset

__all__ = ["secrets"]

secrets = Toolset(
    "secrets",
    "Secret preflight: whether the secrets a deployment needs exist and hold the keys it reads, each missing key "
    "named; never a value.",
    start_with="check_secrets",
)

TaskDefinition = Annotated[
    str | None,
    Field(pattern=r"^[A-Za-z0-9_:/.-]{1,2048}$", description="Or: a task definition ARN or family[:revision]."),
]


@secrets.read(title="Check secrets", open_world=True)
async def check_secrets(
    deps: DeployDeps,
    secrets: Annotated[list[SecretSpec], Field(min_length=1, max_length=20, description="The secrets to check.")],
) -> SecretsCheck:
    """Check Secrets Manager secrets against the AFU-9 structure before a deployment: each exists, is not
    scheduled for deletion and holds its kind's keys (github: token, webhook_secret; database: username,
    password, host, port, database, with dbname accepted as database), every missing key named. Key names
    only, never a value; then check_task_secrets for what a service's task definition reads."""
    account, region = await deps.aws.identity()
    return await check_each(deps.aws, secrets, account, region)


@secrets.read(title="Check a task definition's secrets", open_world=True)
async def check_task_secrets(
    deps: DeployDeps,
    cluster: Annotated[Cluster | None, Field(description="With service: check the task definition it runs.")] = None,
    service: Annotated[Service | None, Field(description="ECS service name or ARN.")] = None,
    task_definition: TaskDefinition = None,
) -> TaskSecrets:
    """Check what an ECS service's task definition (or a given one) pulls at start: each Secrets Manager secret
    or SSM parameter its containers reference exists, is not being deleted and holds the JSON key named, and an
    execution role is set. Environment variable names only, never values; fix what problems names, then deploy."""
    if task_definition is not None and (cluster is not None or service is not None):
        raise InvalidRequest("Give cluster and service, or task_definition, not both.")
    if task_definition is None and (cluster is None or service is None):
        raise InvalidRequest("Give cluster and service (the task definition it runs), or task_definition.")
    where = None
    if task_definition is None and cluster is not None and service is not None:
        described = await service_of(deps.aws, cluster, service)
        task_definition = str(described.get("taskDefinition"))
        where = f"{cluster.rsplit('/', 1)[-1]}/{described.get('serviceName')}"
    account, region = await deps.aws.identity()
    return await check_task_definition(deps.aws, str(task_definition), account, region, service=where)
