"""Settings of the deploy server: the shared fields and its own (``AFU9_DEPLOY_``). AWS itself is configured by
AWS's standard variables (``AWS_REGION``, ``AWS_PROFILE``, credentials, ``AWS_ENDPOINT_URL``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from shared.settings import EcsServices, ServerSettings, port_field

__all__ = ["DeploySettings"]


class DeploySettings(ServerSettings):
    """Settings of the deploy server."""

    server: ClassVar[str] = "deploy"
    port: int = port_field(3002)

    watch_services: EcsServices = Field(
        default_factory=list,
        description="ECS services watched in the background for failed tasks to capture, `cluster/service`, "
        "comma-separated; empty: no watcher.",
    )
    wait_limit_seconds: int = Field(
        default=120,
        ge=0,
        le=120,
        description="Longest one call may wait for AWS (a rollout, a change set, drift detection); a tool's "
        "max_wait_seconds is capped to it.",
    )
    watch_interval_seconds: float = Field(
        default=60.0, ge=10, le=3600, description="Seconds between two looks of the watcher at each service."
    )
