"""Settings of the factory server: the shared fields plus its own, prefixed ``AFU9_FACTORY_``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.names import server_name
from shared.settings import ServerSettings

__all__ = ["FactorySettings"]


class FactorySettings(ServerSettings):
    """Settings of the factory server."""

    model_config = SettingsConfigDict(env_prefix=server_name("factory").env_prefix)

    port: int = Field(default=server_name("factory").port, ge=0, le=65535, description="HTTP port.")
