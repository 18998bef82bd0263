"""The database: one async SQLAlchemy engine per process, SQLite by default, PostgreSQL when configured.

The schema is brought to the latest migration when the database is first reached: at start over HTTP
(:meth:`Database.start`), on first use over stdio (so SQLAlchemy stays off the cold-start path), and by
``afu9 db upgrade``. A database that is away at start or goes away later does
not stop the process: :meth:`Database.connect` raises a clear tool error, :meth:`Database.check` reports it
for ``/ready``, and the next call reconnects once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.errors import DependencyUnavailable, database_unavailable, is_connection_error
from shared.redaction import redact_text

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["Database", "DependencyStatus", "upgrade_schema"]

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x0AF9_0001  # PostgreSQL advisory lock held while migrating
_CONNECT_TIMEOUT = 3.0
_PROCESS_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class DependencyStatus:
    """One dependency's health as ``/ready`` reports it."""

    ok: bool
    detail: str


class Database:
    """The process's database: lazily created engine, schema upgrade on first reach, reconnects by itself."""

    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        self.url = url
        self._pool_size = pool_size
        self._engine: AsyncEngine | None = None
        self._schema_ready = False
        self._schema_lock = asyncio.Lock()
        self._warmup: asyncio.Task[None] | None = None
        self.last_error: str | None = None

    @property
    def dialect(self) -> str:
        return self.url.split(":", 1)[0].split("+", 1)[0]

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = _create_engine(self.url, self._pool_size)
        return self._engine

    def start(self) -> None:
        """Begin reaching the database in the background (retrying with backoff until it answers)."""
        if self._warmup is None:
            self._warmup = asyncio.get_running_loop().create_task(self._warm(), name="afu9-db-warmup")

    async def _warm(self) -> None:
        delay = 0.5
        while not self._schema_ready:
            try:
                await self.ensure_schema()
            except Exception as error:  # noqa: BLE001 - any failure is retried; it is logged and reported by /ready
                log.warning("database not reachable yet; retrying in %.1fs: %s", delay, self.last_error or error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 15.0)

    async def ensure_schema(self) -> None:
        """Bring the schema to the latest migration once per process (raises if the database is away)."""
        if self._schema_ready:
            return
        async with self._schema_lock:
            if self._schema_ready:
                return
            try:
                await upgrade_schema(self.engine)
            except Exception as error:
                self.last_error = _describe(error)
                if is_connection_error(error):
                    raise database_unavailable(self.last_error) from None
                raise
            self._schema_ready = True
            self.last_error = None

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncGenerator[AsyncConnection]:
        """A connection inside a transaction (committed on success). Connection failures become a tool error."""
        await self.ensure_schema()
        try:
            async with self.engine.begin() as connection:
                yield connection
        except Exception as error:
            if is_connection_error(error):
                self.last_error = _describe(error)
                raise database_unavailable(self.last_error) from None
            raise
        self.last_error = None

    async def check(self) -> DependencyStatus:
        """Readiness: can the database be reached now, and is its schema current?"""
        from sqlalchemy import text

        try:
            async with asyncio.timeout(_CONNECT_TIMEOUT + 1):
                await self.ensure_schema()
                async with self.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except Exception as error:  # noqa: BLE001 - readiness reports, never raises
            if not isinstance(error, DependencyUnavailable):
                self.last_error = _describe(error)
            return DependencyStatus(False, f"{self.dialect}: {self.last_error}")
        self.last_error = None
        return DependencyStatus(True, f"{self.dialect}: reachable, schema current")

    async def aclose(self) -> None:
        """Stop the warm-up and close every pooled connection."""
        if self._warmup is not None:
            self._warmup.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._warmup
            self._warmup = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None


def _describe(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error) or type(error).__name__
    return redact_text(f"{type(error).__name__}: {text.splitlines()[0] if text else ''}")[:300]


def _create_engine(url: str, pool_size: int) -> AsyncEngine:
    from sqlalchemy import event
    from sqlalchemy.ext.asyncio import create_async_engine

    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 15})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: survives a process crash; skips an fsync per commit
            cursor.execute("PRAGMA busy_timeout=15000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    connect_args: dict[str, Any] = {}
    if url.startswith("postgresql+asyncpg"):
        connect_args = {"timeout": _CONNECT_TIMEOUT, "command_timeout": 30}
    return create_async_engine(
        url, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size, connect_args=connect_args
    )


def _process_lock() -> asyncio.Lock:
    """One migration at a time per process and event loop: Alembic keeps its state in module globals."""
    loop = asyncio.get_running_loop()
    lock = _PROCESS_LOCKS.get(loop)
    if lock is None:
        lock = _PROCESS_LOCKS[loop] = asyncio.Lock()
    return lock


async def upgrade_schema(engine: AsyncEngine) -> None:
    """Apply every pending migration, serialised within the process (Alembic's globals) and across processes
    (PostgreSQL advisory lock / SQLite write lock)."""
    started = time.perf_counter()
    async with _process_lock(), engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            from sqlalchemy import text

            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        await connection.run_sync(_upgrade)
    log.info("database schema is current", extra={"seconds": round(time.perf_counter() - started, 3)})


def _alembic_config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    from alembic import command

    if connection.dialect.name == "sqlite":
        # Take SQLite's write lock first (waiting up to busy_timeout) so two processes never migrate at once.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    command.upgrade(_alembic_config(connection), "head")
