"""Settings of the deploy server: the shared fields and its own (``AFU9_DEPLOY_``). AWS itself is configured by
AWS's standard variables (``AWS_REGION``, ``AWS_PROFILE``, credentials, ``AWS_ENDPOINT_URL``)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from shared.settings import ServerSettings, port_field

__all__ = ["DeploySettings"]


class DeploySettings(ServerSettings):
    """Settings of the deploy server."""

    server: ClassVar[str] = "deploy"
    port: int = port_field(3002)

    watch_services: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="ECS services watched in the background for failed tasks to capture, `cluster/service`, "
        "comma-separated; empty: no watcher.",
    )
    watch_interval_seconds: float = Field(
        default=60.0, ge=10, le=3600, description="Seconds between two looks of the watcher at each service."
    )

    @field_validator("watch_services", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("watch_services")
    @classmethod
    def _cluster_and_service(cls, services: list[str]) -> list[str]:
        for entry in services:
            cluster, _, service = entry.partition("/")
            if not cluster or not service or "/" in service:
                raise ValueError(f"each service is `cluster/service`, not {entry[:80]!r}")
        return services
