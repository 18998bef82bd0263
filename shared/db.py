"""The database: one async SQLAlchemy engine per process, SQLite by default, PostgreSQL when configured.

Each owner of tables (the kit, each server, the orchestrator) keeps its own migration history
(:class:`Migrations`: its revision files, its own Alembic version table), so servers migrate independently
against one database and ``afu9 db upgrade`` applies them all. The schema is brought to the latest revision
when the database is first reached: at start over HTTP (:meth:`Database.warm`), on first use over stdio (so
SQLAlchemy stays off the cold-start path), and by ``afu9 db upgrade``.

A database that is away at start or goes away later does not stop the process: :meth:`Database.connect`
raises a clear tool error, :meth:`Database.check` reports it for ``/ready``, and the next call reconnects once
it is back. This module is also the one place database failures become the kit's errors
(:func:`translate_error`): bad values name what was refused, a clash says so, anything else says what
happened without internals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.deps import Dependency, Health
from shared.errors import CallError, ConfigError, Conflict, DependencyUnavailable, InvalidArguments
from shared.redaction import redact_text

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = [
    "KIT_MIGRATIONS",
    "Database",
    "Migrations",
    "database_unavailable",
    "describe_error",
    "is_connection_error",
    "translate_error",
    "upgrade_schema",
]

log = logging.getLogger(__name__)

_ENV = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x0AF9_0001  # PostgreSQL advisory lock held while migrating
_CONNECT_TIMEOUT = 3.0
_CHECKPOINT_EVERY = 1.0  # seconds between background WAL checkpoints (SQLite)
_AUTOCHECKPOINT_PAGES = 100_000  # SQLite's own checkpoint in a commit, past ~400 MB of WAL: only a backstop
_PROCESS_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()
_LEGACY_VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class Migrations:
    """One owner's migration history: its revision files and its own version table."""

    owner: str
    versions: Path

    @property
    def version_table(self) -> str:
        return f"alembic_version_{self.owner}"


KIT_MIGRATIONS = Migrations("kit", _ENV / "versions")
"""The kit's own tables (the audit trail, idempotency records): every server applies them first."""


class Database(Dependency):
    """The process's database: lazily created engine, schema upgrade on first reach, reconnects by itself."""

    name = "database"

    def __init__(self, url: str, *, migrations: Sequence[Migrations] = (KIT_MIGRATIONS,), pool_size: int = 5) -> None:
        self.url = url
        self.migrations = tuple(migrations)
        self._pool_size = pool_size
        self._engine: AsyncEngine | None = None
        self._schema_ready = False
        self._schema_lock = asyncio.Lock()
        self._warmup: asyncio.Task[None] | None = None
        self._checkpoints: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.last_error: str | None = None
        self._write_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def _write_turn(self) -> asyncio.Lock:
        """The lock this process's writing transactions (SQLite) take turns on, one per event loop."""
        loop = asyncio.get_running_loop()
        lock = self._write_turns.get(loop)
        if lock is None:
            lock = self._write_turns[loop] = asyncio.Lock()
        return lock

    @property
    def dialect(self) -> str:
        return self.url.split(":", 1)[0].split("+", 1)[0]

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = _create_engine(self.url, self._pool_size)
        return self._engine

    async def warm(self) -> None:
        """Begin reaching the database in the background (retrying with backoff until it answers)."""
        if self._warmup is None:
            self._warmup = asyncio.get_running_loop().create_task(self._warm(), name="afu9-db-warmup")

    async def _checkpoint(self) -> None:
        """Copy the write-ahead log into the database file every second (SQLite, from the first use until
        :meth:`aclose`), on a pooled connection (its own thread), without waiting for readers or writers
        (PASSIVE). Left to SQLite, the checkpoint runs inside whichever commit crosses its threshold, fsync
        included, and that commit (with every request waiting on it) stalls for tens to hundreds of
        milliseconds; and once the log is past the threshold, it runs in every commit."""
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), _CHECKPOINT_EVERY)
            if self._stopping.is_set() or not self._schema_ready:
                continue
            try:
                async with self.engine.connect() as connection:
                    autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                    await autocommit.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception as error:  # noqa: BLE001 - the next one tries again; SQLite's own is the backstop
                log.debug("background WAL checkpoint failed: %s", describe_error(error))

    async def _warm(self) -> None:
        delay = 0.5
        while not self._schema_ready and not self._stopping.is_set():
            try:
                await self.ensure_schema()
            except ConfigError as error:
                log.error("the database cannot be used: %s", error)
                return
            except Exception as error:  # noqa: BLE001 - any failure is retried; it is logged and reported by /ready
                log.warning("database not reachable yet; retrying in %.1fs: %s", delay, self.last_error or error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                delay = min(delay * 2, 15.0)

    async def ensure_schema(self) -> None:
        """Bring the schema to the latest migrations once per process (raises if the database is away)."""
        if self._schema_ready:
            return
        async with self._schema_lock:
            if self._schema_ready:
                return
            try:
                await upgrade_schema(self.engine, self.migrations)
            except ConfigError as error:
                self.last_error = str(error)
                raise
            except Exception as error:
                self.last_error = describe_error(error)
                if is_connection_error(error):
                    raise database_unavailable(self.last_error) from None
                raise
            self._schema_ready = True
            self.last_error = None
            if self.dialect == "sqlite" and ":memory:" not in self.url and not self._stopping.is_set():
                self._checkpoints = asyncio.get_running_loop().create_task(
                    self._checkpoint(), name="afu9-db-checkpoints"
                )

    @contextlib.asynccontextmanager
    async def connect(self, *, write: bool = False) -> AsyncGenerator[AsyncConnection]:
        """A connection inside a transaction (committed on success); database failures become tool errors.

        ``write``: the transaction writes. SQLite has one writer at a time, and a writer that finds another
        waits in SQLite's busy handler, which sleeps 1 to 100 ms per try; so on SQLite this process's writing
        transactions take turns on an asyncio lock instead (another process's are still met by the busy handler).
        """
        await self.ensure_schema()
        turn = self._write_turn() if write and self.dialect == "sqlite" else contextlib.nullcontext()
        try:
            async with turn, self.engine.begin() as connection:
                yield connection
        except Exception as error:
            translated = translate_error(error)
            if translated is None:
                raise
            if isinstance(translated, DependencyUnavailable):
                self.last_error = describe_error(error)
            raise translated from None
        self.last_error = None

    async def check(self) -> Health:
        """Readiness: can the database be reached now, and is its schema current?"""
        from sqlalchemy import text

        try:
            async with asyncio.timeout(_CONNECT_TIMEOUT + 1):
                await self.ensure_schema()
                async with self.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except Exception as error:  # noqa: BLE001 - readiness reports, never raises
            if not isinstance(error, DependencyUnavailable | ConfigError):
                self.last_error = describe_error(error)
            return Health.down(f"{self.dialect}: {self.last_error}")
        self.last_error = None
        return Health.up(f"{self.dialect}: reachable, schema current")

    async def close(self) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the warm-up and close every pooled connection."""
        if self._warmup is not None:
            # A migration in progress is let finish (cancelling it midway leaves its connection behind).
            self._stopping.set()
            await asyncio.wait({self._warmup}, timeout=_CONNECT_TIMEOUT + 10)
            self._warmup.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._warmup
            self._warmup = None
        if self._checkpoints is not None:
            self._stopping.set()
            await asyncio.wait({self._checkpoints}, timeout=_CONNECT_TIMEOUT + 10)
            self._checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._checkpoints
            self._checkpoints = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None


# -- translating database failures ----------------------------------------------------------------------------


def describe_error(error: BaseException) -> str:
    """A one-line, redacted description of a database failure (for logs and operators, never secrets)."""
    text = str(getattr(error, "orig", None) or error) or type(error).__name__
    return redact_text(f"{type(error).__name__}: {text.splitlines()[0] if text else ''}")[:300]


def is_connection_error(error: BaseException) -> bool:
    """Whether ``error`` means the database connection is gone or cannot be made (rather than a bad query)."""
    if isinstance(error, OSError | TimeoutError | ConnectionError):
        return True
    # PostgreSQL refusing the session: connection exception, bad credentials, too many connections, shutting
    # down or starting up, no such database.
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None) or getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str) and (sqlstate.startswith(("08", "28", "53", "57P")) or sqlstate == "3D000"):
        return True
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError  # loaded only once a database is used

    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, InterfaceError):
        return True
    if isinstance(error, OperationalError):
        text = str(error.orig).lower()
        return any(
            marker in text
            for marker in ("connect", "closed", "terminat", "shutdown", "unable to open", "timeout", "refused")
        )
    name = type(error).__module__
    return name.startswith("asyncpg") and "Connection" in type(error).__name__


def database_unavailable(reason: str) -> DependencyUnavailable:
    """The tool error for a database that is away: says nothing was changed and what to do next."""
    return DependencyUnavailable(
        "The AFU-9 database is unavailable right now, so this call changed nothing "
        f"({redact_text(reason.splitlines()[0] if reason else 'unknown')[:200]}). Retry in a few seconds; the "
        "server reconnects by itself and its /ready endpoint shows the database state."
    )


def translate_error(error: BaseException) -> CallError | None:
    """The kit's error for a database failure, or None for what is not one (our own errors, bugs)."""
    if isinstance(error, CallError):
        return None
    if is_connection_error(error):
        return database_unavailable(describe_error(error))
    from sqlalchemy.exc import DataError, IntegrityError, OperationalError

    sqlstate = _sqlstate(error)
    if isinstance(error, IntegrityError) or sqlstate.startswith("23"):
        return Conflict(
            "The database refused this change because it clashes with data already stored "
            f"({_reason(error)}). Nothing was changed."
        )
    if isinstance(error, DataError) or sqlstate.startswith("22"):
        column: object = getattr(getattr(error, "orig", None), "column_name", None)
        what = f" for {column}" if column else ""
        return InvalidArguments(
            f"The database refused a value{what}: {_reason(error)}. Nothing was changed; send a smaller or "
            "shorter value."
        )
    if isinstance(error, OperationalError):
        return DependencyUnavailable(
            f"The database could not complete this call right now ({_reason(error)}). Nothing was changed; "
            "retry in a few seconds."
        )
    return None


def _sqlstate(error: BaseException) -> str:
    """PostgreSQL's SQLSTATE of a driver error ('' when there is none): class 22 is bad data, 23 a constraint."""
    orig = getattr(error, "orig", None)
    state = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)
    return state if isinstance(state, str) else ""


def _reason(error: BaseException) -> str:
    """What the database said, first line only, without SQL, parameters or secrets."""
    text = str(getattr(error, "orig", None) or error).splitlines()[0] if str(error) else type(error).__name__
    text = text.split("[SQL:", 1)[0].strip()
    if text.startswith("<class"):  # asyncpg's wrapped form: "<class '...'>: message"
        text = text.split(">:", 1)[-1].strip()
    return redact_text(text)[:200] or type(error).__name__


# -- engine and migrations -------------------------------------------------------------------------------------


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
            cursor.execute(f"PRAGMA wal_autocheckpoint={_AUTOCHECKPOINT_PAGES}")  # Database._checkpoint runs first
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


async def upgrade_schema(engine: AsyncEngine, migrations: Sequence[Migrations] = (KIT_MIGRATIONS,)) -> None:
    """Apply every pending migration of each owner in order, serialised within the process (Alembic's
    globals) and across processes (PostgreSQL advisory lock / SQLite write lock)."""
    started = time.perf_counter()
    async with _process_lock(), engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            from sqlalchemy import text

            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        await connection.run_sync(_upgrade, tuple(migrations))
    log.info(
        "database schema is current",
        extra={"seconds": round(time.perf_counter() - started, 3), "owners": [m.owner for m in migrations]},
    )


def _upgrade(connection: Connection, migrations: tuple[Migrations, ...]) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    if connection.dialect.name == "sqlite":
        # Take SQLite's write lock first (waiting up to busy_timeout) so two processes never migrate at once.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    tables = set(inspect(connection).get_table_names())
    if _LEGACY_VERSION_TABLE in tables and KIT_MIGRATIONS.version_table not in tables:
        raise ConfigError(
            "AFU9_DATABASE_URL",
            "the database holds tables of an earlier AFU-9 pre-release, whose single migration history cannot "
            "be upgraded in place; point AFU9_DATABASE_URL at an empty database (for the embedded default, "
            "move the .afu9/afu9.db file away)",
        )
    for owner in migrations:
        config = Config()
        config.set_main_option("script_location", str(_ENV))
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", str(owner.versions))
        config.attributes["connection"] = connection
        config.attributes["version_table"] = owner.version_table
        command.upgrade(config, "head")
