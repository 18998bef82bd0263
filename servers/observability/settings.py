"""Settings of the observability server: the shared fields, its own (``AFU9_OBSERVABILITY_``): the services and
databases the system view covers, and the health thresholds. AWS itself is configured by AWS's standard
variables (``AWS_REGION``, ``AWS_PROFILE``, credentials, ``AWS_ENDPOINT_URL``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from shared.settings import EcsServices, ServerSettings, TextList, port_field

__all__ = ["ObservabilitySettings"]


class ObservabilitySettings(ServerSettings):
    """Settings of the observability server."""

    server: ClassVar[str] = "observability"
    port: int = port_field(3003)

    services: EcsServices = Field(
        default_factory=list,
        description="ECS services the system health view covers, comma-separated `cluster/service`.",
    )
    db_instances: TextList = Field(
        default_factory=list, description="RDS instance identifiers whose health counts in the system view."
    )
    error_rate_yellow: float = Field(default=1.0, ge=0, le=100, description="5xx rate (%) that makes health yellow.")
    error_rate_red: float = Field(default=5.0, ge=0, le=100, description="5xx rate (%) that makes health red.")
    min_requests: int = Field(
        default=20, ge=0, description="Requests in the window below which the 5xx rate is not judged."
    )
    latency_p99_yellow_ms: float = Field(default=1000, gt=0, description="p99 latency (ms) that makes health yellow.")
    latency_p99_red_ms: float = Field(default=3000, gt=0, description="p99 latency (ms) that makes health red.")
    db_cpu_yellow: float = Field(default=80, ge=0, le=100, description="RDS CPU (%) that makes health yellow.")
    db_cpu_red: float = Field(default=95, ge=0, le=100, description="RDS CPU (%) that makes health red.")
    db_free_storage_yellow_gb: float = Field(
        default=10, ge=0, description="RDS free storage (GB) below which health is yellow."
    )
    db_free_storage_red_gb: float = Field(
        default=2, ge=0, description="RDS free storage (GB) below which health is red."
    )
    db_connections_yellow: int | None = Field(
        default=None, ge=1, description="RDS connections at or above which health is yellow; unset: not judged."
    )
    health_window_minutes: int = Field(
        default=15, ge=1, le=1440, description="The window health reads metrics and alarms over."
    )
