"""Fixtures shared by the whole suite: databases (SQLite and PostgreSQL) and a clean environment.

Server fixtures live beside their tests: the demo server's in ``tests/shared/conftest.py``, each server's in
``tests/servers/<name>/conftest.py``.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_ADMIN_URL = os.environ.get("AFU9_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every ``async def`` test runs on asyncio through anyio's plugin."""
    for item in items:
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.function):
            item.add_marker(pytest.mark.anyio)


@pytest.fixture(autouse=True)
def anyio_backend() -> str:
    """asyncio for every test (autouse keeps anyio from re-creating items, which would drop other params)."""
    return "asyncio"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see no AFU9_* or GITHUB_* settings from the developer's shell (or a CI runner's)."""
    for key in list(os.environ):
        if key.startswith(("AFU9_", "GITHUB_")) and key != "AFU9_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)


async def _admin(statement: str) -> None:
    import asyncpg  # pyright: ignore[reportMissingTypeStubs]

    dsn = POSTGRES_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (dropped afterwards)."""
    name = f"afu9_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{(tmp_path / 'afu9.db').as_posix()}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using it runs twice: on a SQLite file and on a fresh PostgreSQL database."""
    return request.getfixturevalue(f"{request.param}_url")
