"""Fixtures of the kit's tests: the demo server (tests/demo) on the test's database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.demo.server import SERVER, DemoSettings


@pytest.fixture
def demo_settings(tmp_path: Path) -> Callable[..., DemoSettings]:
    """Demo settings on a SQLite file in the test's folder (writes allowed); keywords override fields."""

    def make(**overrides: Any) -> DemoSettings:
        values: dict[str, Any] = {"data_dir": tmp_path, "allow_writes": True}
        return DemoSettings(**(values | overrides))

    return make


@pytest.fixture
async def demo_client(demo_settings: Callable[..., DemoSettings]) -> AsyncIterator[Client]:
    async with Client(SERVER.build(demo_settings())) as client:
        yield client
