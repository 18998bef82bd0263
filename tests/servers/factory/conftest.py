"""Fixtures of the factory server's tests: settings on the test's database, an in-process client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from servers.factory.server import SERVER
from servers.factory.settings import FactorySettings


@pytest.fixture
def factory_settings(database_url: str, tmp_path: Path) -> Callable[..., FactorySettings]:
    """Build factory settings on the test's database; keyword arguments override fields."""

    def make(**overrides: Any) -> FactorySettings:
        values: dict[str, Any] = {"database_url": database_url, "data_dir": tmp_path, "allow_writes": True}
        return FactorySettings(**(values | overrides))

    return make


@pytest.fixture
async def factory_client(factory_settings: Callable[..., FactorySettings]) -> AsyncIterator[Client]:
    """An in-process MCP client of the factory server (writes allowed), on SQLite and PostgreSQL."""
    async with Client(SERVER.build(factory_settings())) as client:
        yield client
