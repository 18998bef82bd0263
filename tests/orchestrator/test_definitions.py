"""Publishing definitions on SQLite and PostgreSQL: stored as the canonical document with its hash, immutable
per (name, version), listed and read back by name and version."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from orchestrator.definitions import Definitions, VersionConflict, semver_key
from orchestrator.documents import Prepared, prepare
from orchestrator.format import content_hash
from orchestrator.schema import MIGRATIONS, workflows
from shared.db import KIT_MIGRATIONS, Database
from shared.errors import NotFound
from tests.orchestrator.conftest import tool, workflow


@pytest.fixture
async def definitions(database_url: str) -> AsyncIterator[Definitions]:
    database = Database(database_url, migrations=(KIT_MIGRATIONS, MIGRATIONS))
    try:
        yield Definitions(database)
    finally:
        await database.aclose()


def _prepared(version: str = "1.0.0", name: str = "report", **step: Any) -> Prepared:
    document = workflow(tool("read", **step), metadata={"name": name, "version": version, "description": "Reads."})
    return prepare(document)


async def _rows(definitions: Definitions) -> list[Any]:
    async with definitions.database.connect() as connection:
        return list((await connection.execute(sa.select(workflows).order_by(workflows.c.version))).all())


async def test_a_published_definition_is_stored_canonical_with_its_hash_and_read_back(definitions: Definitions) -> None:
    prepared = _prepared()

    publication = await definitions.publish(prepared)
    stored = await definitions.get("report", "1.0.0")

    assert publication.created
    assert stored == publication.workflow
    assert (stored.name, stored.version, stored.publication, stored.status) == ("report", "1.0.0", 1, "published")
    assert stored.description == "Reads."
    assert stored.definition == prepared.document
    assert stored.content_hash == prepared.content_hash == content_hash(stored.definition)
    [row] = await _rows(definitions)
    assert (row.semver, row.version, row.enabled, row.content_hash) == ("1.0.0", 1, True, prepared.content_hash)


async def test_publishing_the_same_content_again_changes_nothing(definitions: Definitions) -> None:
    first = await definitions.publish(_prepared())
    again = await definitions.publish(_prepared())

    assert not again.created
    assert again.workflow == first.workflow
    assert len(await _rows(definitions)) == 1


async def test_other_content_under_a_published_version_is_refused_and_the_original_kept(
    definitions: Definitions,
) -> None:
    original = await definitions.publish(_prepared())
    changed = _prepared(arguments={"limit": 5})

    with pytest.raises(VersionConflict, match=r"report 1\.0\.0 is already published with other content") as caught:
        await definitions.publish(changed)

    assert "publish this under a new metadata.version" in str(caught.value)
    assert [row.content_hash for row in await _rows(definitions)] == [original.workflow.content_hash]
    assert (await definitions.get("report", "1.0.0")).definition == original.workflow.definition


async def test_new_versions_are_numbered_and_the_highest_version_is_the_latest(definitions: Definitions) -> None:
    for version in ("1.9.0", "1.10.0", "2.0.0-rc.1", "1.2.0"):
        await definitions.publish(_prepared(version, arguments={"limit": int(version.split(".")[1]) + 1}))
    await definitions.publish(_prepared("0.1.0", name="another"))

    listed = await definitions.list()
    latest = await definitions.get("report")

    assert [(w.name, w.version, w.publication) for w in listed] == [
        ("another", "0.1.0", 1),
        ("report", "2.0.0-rc.1", 3),
        ("report", "1.10.0", 2),
        ("report", "1.9.0", 1),
        ("report", "1.2.0", 4),
    ]
    assert latest.version == "2.0.0-rc.1"
    assert [w.version for w in await definitions.list("another")] == ["0.1.0"]
    assert await definitions.published() == {"report": {"1.9.0", "1.10.0", "2.0.0-rc.1", "1.2.0"}, "another": {"0.1.0"}}


async def test_concurrent_publications_of_one_name_get_distinct_numbers(definitions: Definitions) -> None:
    versions = [f"1.{minor}.0" for minor in range(6)]

    results = await asyncio.gather(
        *(definitions.publish(_prepared(v, arguments={"limit": i + 1})) for i, v in enumerate(versions))
    )

    assert all(result.created for result in results)
    assert sorted(result.workflow.publication for result in results) == [1, 2, 3, 4, 5, 6]
    assert {row.semver for row in await _rows(definitions)} == set(versions)


async def test_an_unknown_workflow_or_version_is_not_found(definitions: Definitions) -> None:
    await definitions.publish(_prepared())
    with pytest.raises(NotFound, match=r"no published workflow report 9\.9\.9"):
        await definitions.get("report", "9.9.9")
    with pytest.raises(NotFound, match="no published workflow missing;"):
        await definitions.get("missing")


def test_semantic_versions_order_by_precedence() -> None:
    versions = ["1.0.0", "1.0.0-rc.2", "1.0.0-rc.10", "1.0.0-alpha", "0.9.9", "1.10.0", "1.2.0", "bad"]
    assert sorted(versions, key=semver_key) == [
        "bad",
        "0.9.9",
        "1.0.0-alpha",
        "1.0.0-rc.2",
        "1.0.0-rc.10",
        "1.0.0",
        "1.2.0",
        "1.10.0",
    ]
