"""The database: migrations, the AFU-9 schema, concurrent start, and a database that is away or comes back.

Runs on a SQLite file and on a fresh PostgreSQL database (the ``database_url`` fixture) where both apply.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from orchestrator import schema as orchestrator_schema
from orchestrator.schema import MIGRATIONS as ORCHESTRATOR
from servers.deploy import schema as deploy_schema  # noqa: F401 - its tables join the shared metadata
from servers.deploy.deps import MIGRATIONS as DEPLOY
from servers.factory import schema as factory_schema
from servers.factory.deps import MIGRATIONS as FACTORY
from servers.github import schema as github_schema  # noqa: F401 - its tables join the shared metadata
from servers.github.deps import MIGRATIONS as GITHUB
from shared import schema
from shared.db import KIT_MIGRATIONS, Database, Migrations, upgrade_schema
from shared.errors import ConfigError, Conflict, DependencyUnavailable, InvalidArguments
from shared.settings import CommonSettings
from tests.demo.server import MIGRATIONS as DEMO
from tests.tcp_proxy import TcpProxy

ENV = Path(schema.__file__).parent / "migrations"
OWNERS = (KIT_MIGRATIONS, FACTORY, GITHUB, DEPLOY, ORCHESTRATOR, DEMO)
KPI_IDS = {
    "cycle_time",
    "throughput",
    "success_rate",
    "test_coverage",
    "code_review_score",
    "mtbf",
    "mttr",
    "availability",
    "cost_per_outcome",
    "vulnerability_response_time",
    "security_incidents",
    "build_determinism",
}

# The AFU-9 v0.4 tables and their core columns (handbook WORKFLOWS.md), which dashboards and SQL rely on.
AFU9_TABLES = {
    "workflows": {"id", "name", "description", "definition", "version", "enabled", "created_at", "updated_at"},
    "workflow_executions": {
        "id",
        "workflow_id",
        "repository_id",
        "status",
        "input",
        "output",
        "context",
        "started_at",
        "completed_at",
        "error",
        "triggered_by",
        "github_run_id",
        "pause_metadata",
    },
    "workflow_steps": {
        "id",
        "execution_id",
        "step_name",
        "step_index",
        "status",
        "input",
        "output",
        "started_at",
        "completed_at",
        "duration_ms",
        "error",
        "retry_count",
    },
    "mcp_servers": {
        "id",
        "name",
        "description",
        "endpoint",
        "enabled",
        "config",
        "health_check_url",
        "last_health_check",
        "health_status",
    },
    "repositories": {"id", "owner", "name", "full_name", "default_branch", "enabled", "config"},
    "agent_runs": {
        "id",
        "execution_id",
        "step_id",
        "agent_type",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "duration_ms",
        "cost_usd",
        "input",
        "output",
        "tool_calls",
        "started_at",
        "completed_at",
        "error",
    },
    "mcp_tool_calls": {
        "id",
        "execution_id",
        "agent_run_id",
        "server_name",
        "tool_name",
        "params",
        "result",
        "error",
        "duration_ms",
        "started_at",
        "completed_at",
    },
}


def _head(owner: Migrations) -> str:
    config = Config()
    config.set_main_option("script_location", str(ENV))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(owner.versions))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def _every_owner(url: str) -> Database:
    return Database(url, migrations=OWNERS)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A database on the test's backend migrated by every owner (kit, factory, orchestrator, demo)."""
    db = _every_owner(database_url)
    try:
        await db.ensure_schema()
        yield db
    finally:
        await db.aclose()


async def _scalar(db: Database, statement: str) -> Any:
    async with db.connect() as connection:
        return (await connection.execute(sa.text(statement))).scalar_one()


async def _inspect(db: Database, look: Any) -> Any:
    async with db.engine.connect() as connection:
        return await connection.run_sync(lambda sync: look(sa.inspect(sync)))


# Migrations and schema


async def test_migrations_create_the_schema_and_seed_the_kpi_catalog_and_server_registry(database: Database) -> None:
    async with database.connect() as connection:
        kpis = (await connection.execute(sa.select(factory_schema.kpi_definitions))).mappings().all()
        servers = (await connection.execute(sa.select(orchestrator_schema.mcp_servers))).mappings().all()
        versions = {
            owner.owner: (
                await connection.execute(sa.text(f"SELECT version_num FROM {owner.version_table}"))  # noqa: S608
            ).scalar_one()
            for owner in OWNERS
        }

    assert len(kpis) == 12
    assert {row["kpi_id"] for row in kpis} == KPI_IDS
    assert {row["version"] for row in kpis} == {1}
    assert all(row["formula"] and row["changelog"] and row["unit"] for row in kpis)
    assert {row["direction"] for row in kpis} == {"higher_is_better", "lower_is_better"}
    assert {row["name"]: row["endpoint"] for row in servers} == {
        "github": "http://127.0.0.1:3001/mcp",
        "deploy": "http://127.0.0.1:3002/mcp",
        "observability": "http://127.0.0.1:3003/mcp",
        "factory": "http://127.0.0.1:3004/mcp",
    }
    assert all(row["enabled"] and row["health_check_url"].endswith("/health") for row in servers)
    assert versions == {owner.owner: _head(owner) for owner in OWNERS}


async def test_upgrading_an_upgraded_database_changes_nothing(database: Database, database_url: str) -> None:
    async with database.connect() as connection:
        await connection.execute(
            orchestrator_schema.repositories.insert().values(
                id=uuid.uuid4(), owner="octo", name="factory", config={"a": 1}
            )
        )

    await upgrade_schema(database.engine, OWNERS)
    again = _every_owner(database_url)
    try:
        await again.ensure_schema()
        await again.ensure_schema()
    finally:
        await again.aclose()

    assert await _scalar(database, "SELECT count(*) FROM kpi_definitions") == 12
    assert await _scalar(database, "SELECT count(*) FROM mcp_servers") == 4
    assert await _scalar(database, "SELECT count(*) FROM repositories") == 1
    for owner in OWNERS:
        assert await _scalar(database, f"SELECT count(*) FROM {owner.version_table}") == 1  # noqa: S608
        assert await _scalar(database, f"SELECT version_num FROM {owner.version_table}") == _head(owner)  # noqa: S608


async def test_the_migrated_schema_matches_the_schema_module(database: Database) -> None:
    def differences(sync: sa.Connection) -> list[Any]:
        context = MigrationContext.configure(sync, opts={"compare_type": True, "compare_server_default": True})
        return [d for d in compare_metadata(context, schema.metadata) if "alembic_version" not in repr(d)]

    async with database.engine.connect() as connection:
        diff = await connection.run_sync(differences)

    assert diff == []


async def test_the_afu9_v04_tables_exist_with_their_core_columns(database: Database) -> None:
    def columns(inspector: Any) -> dict[str, set[str]]:
        return {table: {c["name"] for c in inspector.get_columns(table)} for table in inspector.get_table_names()}

    found = await _inspect(database, columns)

    for table, core in AFU9_TABLES.items():
        assert table in found, table
        assert core <= found[table], (table, core - found[table])


async def test_the_afu9_tables_link_up_and_cascade_like_v04(database: Database) -> None:
    workflow, repo, execution, step, run = (uuid.uuid4() for _ in range(5))
    async with database.connect() as connection:
        await connection.execute(
            orchestrator_schema.workflows.insert().values(
                id=workflow, name="issue_to_pr", definition={"steps": [{"name": "a"}]}
            )
        )
        await connection.execute(
            orchestrator_schema.repositories.insert().values(id=repo, owner="octo", name="factory")
        )
        await connection.execute(
            orchestrator_schema.workflow_executions.insert().values(
                id=execution, workflow_id=workflow, repository_id=repo, status="running", input={"issue": 7}
            )
        )
        await connection.execute(
            orchestrator_schema.workflow_steps.insert().values(
                id=step, execution_id=execution, step_name="a", step_index=0
            )
        )
        await connection.execute(
            orchestrator_schema.agent_runs.insert().values(
                id=run, execution_id=execution, step_id=step, agent_type="react", model="claude", cost_usd=0.0125
            )
        )
        await connection.execute(
            schema.mcp_tool_calls.insert().values(
                execution_id=execution, agent_run_id=run, server_name="github", tool_name="get_issue", params={"n": 7}
            )
        )

    async with database.connect() as connection:
        full_name = (await connection.execute(sa.select(orchestrator_schema.repositories.c.full_name))).scalar_one()
        definition = (await connection.execute(sa.select(orchestrator_schema.workflows.c.definition))).scalar_one()
        version = (await connection.execute(sa.select(orchestrator_schema.workflows.c.version))).scalar_one()
        await connection.execute(
            orchestrator_schema.workflow_executions.delete().where(
                orchestrator_schema.workflow_executions.c.id == execution
            )
        )

    assert full_name == "octo/factory"
    assert definition == {"steps": [{"name": "a"}]}
    assert version == 1
    for table in ("workflow_steps", "agent_runs"):
        assert await _scalar(database, f"SELECT count(*) FROM {table}") == 0, table  # noqa: S608
    # The audit trail keeps its rows: it links to executions without a foreign key, so it never loses a call.
    assert await _scalar(database, "SELECT count(*) FROM mcp_tool_calls") == 1


async def test_the_embedded_sqlite_database_is_created_on_first_use_under_the_data_dir(tmp_path: Path) -> None:
    settings = CommonSettings(data_dir=tmp_path / "fresh" / ".afu9")
    db = Database(settings.sqlalchemy_url())
    try:
        status = await db.check()
    finally:
        await db.aclose()
    assert status.ok, status.detail
    assert status.detail == "sqlite: reachable, schema current"
    assert (tmp_path / "fresh" / ".afu9" / "afu9.db").is_file()


async def test_two_servers_starting_at_once_on_a_fresh_database_both_succeed(database_url: str) -> None:
    first, second, third = (_every_owner(database_url) for _ in range(3))
    try:
        async with asyncio.timeout(60):
            await asyncio.gather(first.ensure_schema(), second.ensure_schema(), third.ensure_schema())
        assert await _scalar(first, "SELECT count(*) FROM kpi_definitions") == 12
        assert await _scalar(second, "SELECT count(*) FROM mcp_servers") == 4
        assert await _scalar(third, "SELECT version_num FROM alembic_version_kit") == _head(KIT_MIGRATIONS)
    finally:
        for db in (first, second, third):
            await db.aclose()


async def test_two_databases_in_one_process_migrate_at_the_same_time(tmp_path: Path, postgres_url: str) -> None:
    """Alembic keeps state in module globals: concurrent upgrades in one process must be serialised."""
    urls = [f"sqlite+aiosqlite:///{tmp_path / f'{n}.db'}" for n in range(3)] + [postgres_url]
    databases = [_every_owner(url) for url in urls]
    try:
        async with asyncio.timeout(60):
            await asyncio.gather(*(db.ensure_schema() for db in databases))
        for db in databases:
            assert await _scalar(db, "SELECT count(*) FROM kpi_definitions") == 12
    finally:
        for db in databases:
            await db.aclose()


# A database that is away


async def test_an_unreachable_postgres_is_reported_not_ready_and_tools_get_a_clear_error() -> None:
    db = Database(f"postgresql+asyncpg://afu9:hunter2-s3cret@127.0.0.1:{_closed_port()}/afu9")
    try:
        async with asyncio.timeout(15):
            status = await db.check()
            with pytest.raises(DependencyUnavailable) as raised:
                async with db.connect():
                    pass
    finally:
        await db.aclose()

    assert status.ok is False
    assert status.detail.startswith("postgresql: ")
    assert "refused" in status.detail.lower() or "connect" in status.detail.lower()
    message = str(raised.value)
    assert message.startswith("The AFU-9 database is unavailable right now, so this call changed nothing (")
    assert "Retry in a few seconds" in message
    for text in (status.detail, message, db.last_error or ""):
        assert "hunter2-s3cret" not in text


async def test_a_missing_postgres_database_is_a_clear_dependency_error(postgres_url: str) -> None:
    url = make_url(postgres_url).set(database=f"afu9_missing_{uuid.uuid4().hex[:8]}")
    db = Database(url.render_as_string(hide_password=False))
    try:
        status = await db.check()
        with pytest.raises(DependencyUnavailable) as raised:
            async with db.connect():
                pass
    finally:
        await db.aclose()
    assert status.ok is False
    assert "does not exist" in status.detail
    assert "does not exist" in str(raised.value)


async def test_an_unusable_sqlite_path_is_reported_not_ready_and_tools_get_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    db = Database(f"sqlite+aiosqlite:///{(blocker / 'afu9.db').as_posix()}")
    try:
        status = await db.check()
        with pytest.raises(DependencyUnavailable):
            async with db.connect():
                pass
    finally:
        await db.aclose()
    assert status.ok is False
    assert status.detail.startswith("sqlite: ")


async def test_the_same_database_object_recovers_when_postgres_comes_back(postgres_url: str) -> None:
    target = make_url(postgres_url)
    async with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        db = _every_owner(target.set(port=proxy.port).render_as_string(hide_password=False))
        try:
            async with asyncio.timeout(30):
                assert (await db.check()).ok
                assert await _scalar(db, "SELECT count(*) FROM kpi_definitions") == 12

                await proxy.stop()
                away = await db.check()
                with pytest.raises(DependencyUnavailable) as raised:
                    await _scalar(db, "SELECT count(*) FROM kpi_definitions")

                await proxy.start()
                back = await db.check()
                count = await _scalar(db, "SELECT count(*) FROM kpi_definitions")
        finally:
            await db.aclose()

    assert away.ok is False
    assert away.detail.startswith("postgresql: ")
    assert "database is unavailable" in str(raised.value)
    assert back.ok, back.detail
    assert back.detail == "postgresql: reachable, schema current"
    assert count == 12
    assert db.last_error is None


async def test_a_database_away_at_start_is_migrated_when_it_arrives(postgres_url: str) -> None:
    target = make_url(postgres_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    await proxy.start()
    await proxy.stop()  # the port is known, nothing listens yet
    db = _every_owner(target.set(port=proxy.port).render_as_string(hide_password=False))
    try:
        async with asyncio.timeout(30):
            with pytest.raises(DependencyUnavailable):
                await db.ensure_schema()
            await proxy.start()
            assert (await db.check()).ok
            assert await _scalar(db, "SELECT count(*) FROM kpi_definitions") == 12
    finally:
        await db.aclose()
        await proxy.stop()


# Owners migrate independently; database errors are translated


async def test_each_owner_migrates_on_its_own_history_whatever_the_others_did(database_url: str) -> None:
    factory_only = Database(database_url, migrations=(KIT_MIGRATIONS, FACTORY))
    everything = _every_owner(database_url)
    factory_again = Database(database_url, migrations=(KIT_MIGRATIONS, FACTORY))
    try:
        await factory_only.ensure_schema()
        assert await _scalar(factory_only, "SELECT count(*) FROM kpi_definitions") == 12
        await everything.ensure_schema()  # the orchestrator's and the demo's tables arrive later
        await factory_again.ensure_schema()  # and a server that knows nothing of them still starts
        assert await _scalar(everything, "SELECT count(*) FROM mcp_servers") == 4
    finally:
        for db in (factory_only, everything, factory_again):
            await db.aclose()


async def test_a_database_of_the_earlier_single_history_layout_is_refused_with_one_clear_sentence(
    database_url: str,
) -> None:
    legacy = Database(database_url)
    async with legacy.engine.begin() as connection:
        await connection.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        await connection.execute(sa.text("INSERT INTO alembic_version VALUES ('0002')"))
    try:
        with pytest.raises(ConfigError) as raised:
            await legacy.ensure_schema()
        status = await legacy.check()
    finally:
        await legacy.aclose()
    assert raised.value.key == "AFU9_DATABASE_URL"
    assert "earlier AFU-9 pre-release" in str(raised.value)
    assert not status.ok


async def test_a_value_the_database_refuses_and_a_clash_are_translated_into_sentences(postgres_url: str) -> None:
    db = _every_owner(postgres_url)
    try:
        with pytest.raises(InvalidArguments) as too_long:
            async with db.connect() as connection:
                await connection.execute(
                    orchestrator_schema.repositories.insert().values(id=uuid.uuid4(), owner="o" * 300, name="x")
                )
        same = [{"id": uuid.uuid4(), "owner": "octo", "name": "same"} for _ in range(2)]
        with pytest.raises(Conflict) as clash:
            async with db.connect() as connection:
                await connection.execute(orchestrator_schema.repositories.insert(), same)
        assert await _scalar(db, "SELECT count(*) FROM repositories") == 0  # nothing was changed
    finally:
        await db.aclose()
    assert "The database refused a value" in str(too_long.value)
    assert "too long" in str(too_long.value)
    assert "INSERT" not in str(too_long.value)
    assert "clashes with data already stored" in str(clash.value)
    assert "INSERT" not in str(clash.value)


async def test_a_warmed_sqlite_database_checkpoints_its_log_in_the_background(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'afu9.db'}", migrations=OWNERS)
    try:
        await database.warm()
        await database.ensure_schema()
        async with database.connect(write=True) as connection:
            await connection.execute(sa.text("CREATE TABLE notes (body TEXT)"))
            await connection.execute(sa.text("INSERT INTO notes VALUES ('kept in the file, not only the log')"))
        await asyncio.sleep(2.5)  # a checkpoint runs every second
        alone = tmp_path / "copy.db"  # the database file without its write-ahead log: what a checkpoint wrote
        alone.write_bytes((tmp_path / "afu9.db").read_bytes())
        import sqlite3

        with sqlite3.connect(alone) as copy:
            rows = copy.execute("SELECT body FROM notes").fetchall()
    finally:
        await database.aclose()
    assert rows == [("kept in the file, not only the log",)]


async def test_writing_transactions_of_one_process_take_turns_on_sqlite(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'afu9.db'}", migrations=(KIT_MIGRATIONS,))
    order: list[str] = []

    async def write(name: str) -> None:
        async with database.connect(write=True) as connection:
            order.append(f"{name} in")
            await connection.execute(sa.text("CREATE TABLE IF NOT EXISTS turns (name TEXT)"))
            await connection.execute(sa.text("INSERT INTO turns VALUES (:name)"), {"name": name})
            await asyncio.sleep(0.05)  # holds SQLite's write lock: the other waits its turn, not in SQLite
            order.append(f"{name} out")

    try:
        await database.ensure_schema()
        await asyncio.gather(*(write(f"w{number}") for number in range(4)))
    finally:
        await database.aclose()
    assert order == [f"w{n} {step}" for n in range(4) for step in ("in", "out")]
