"""Settings of the factory server: the shared fields plus its own, prefixed ``AFU9_FACTORY_``."""

from __future__ import annotations

from typing import ClassVar

from shared.settings import ServerSettings, port_field

__all__ = ["FactorySettings"]


class FactorySettings(ServerSettings):
    """Settings of the factory server."""

    server: ClassVar[str] = "factory"
    port: int = port_field(3004)
