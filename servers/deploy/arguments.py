"""The arguments several deploy tools share, described once."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

__all__ = ["Cluster", "Container", "Cursor", "Key", "Service"]

Cluster = Annotated[str, Field(pattern=r"^[A-Za-z0-9_:/.-]{1,255}$", description="ECS cluster name or ARN.")]
Service = Annotated[str, Field(pattern=r"^[A-Za-z0-9_:/.-]{1,255}$", description="ECS service name or ARN.")]
Container = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,255}$", description="Container name.")]
Cursor = Annotated[str | None, Field(max_length=4096, description="From next_cursor.")]
Key = Annotated[str | None, Field(min_length=1, max_length=255, description="Retry-safe key.")]
