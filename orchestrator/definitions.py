"""Published workflow definitions in the ``workflows`` table (AFU-9 v0.4's, with versioning columns).

A published definition is immutable and identified by (name, version, content hash): ``semver`` holds the
document's ``metadata.version``, ``content_hash`` the sha256 of its canonical JSON, ``definition`` the canonical
document itself (up-converted when it came from AFU-9 v0.4), and v0.4's integer ``version`` numbers a name's
publications 1, 2, 3... Publishing the same content under a published (name, version) changes nothing;
other content under it is refused (publish it under a new version). An execution records the row it started
from (its id and hash), so it finishes on that definition whatever is published later.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orchestrator.documents import Prepared
from shared.db import Database
from shared.errors import Conflict, NotFound

__all__ = ["Definitions", "Publication", "StoredWorkflow", "VersionConflict", "semver_key"]

_ATTEMPTS = 3
_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$")


class VersionConflict(Conflict):
    """Other content under a published (name, version): refused, nothing changed."""


@dataclass(frozen=True)
class StoredWorkflow:
    """One published definition."""

    id: uuid.UUID
    name: str
    version: str
    publication: int
    content_hash: str
    status: str
    enabled: bool
    description: str | None
    created_at: datetime
    definition: dict[str, Any]


@dataclass(frozen=True)
class Publication:
    """What publishing did: ``created`` is False when this exact definition was already published."""

    workflow: StoredWorkflow
    created: bool


class Definitions:
    """Publish, list and read workflow definitions on ``database``."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def publish(self, prepared: Prepared) -> Publication:
        """Store ``prepared`` as published (or find it already there); :class:`VersionConflict` when its
        (name, version) is published with other content."""
        for _ in range(_ATTEMPTS - 1):
            try:
                return await self._publish(prepared)
            except VersionConflict:
                raise
            except Conflict:
                continue  # another process took the next number between our read and our insert (SQLite)
        return await self._publish(prepared)

    async def for_run(self, prepared: Prepared) -> StoredWorkflow:
        """The stored definition a run of the document ``prepared`` is pinned to: its publication when this
        content is published (publishing it first when its version is free), else a ``draft`` row holding it
        (the version is published with other content: a run of an edited file must not change the published
        one, and must not be refused either)."""
        try:
            return (await self.publish(prepared)).workflow
        except VersionConflict:
            pass
        for _ in range(_ATTEMPTS):
            try:
                return await self._draft(prepared)
            except Conflict:
                continue
        return await self._draft(prepared)

    async def _draft(self, prepared: Prepared) -> StoredWorkflow:

        async with self.database.connect(write=True) as connection:
            rows = await _rows_taking_turns(connection, prepared.name)
            for row in rows:
                if row.content_hash == prepared.content_hash and row.semver == prepared.version:
                    return _stored(row)
            return await _insert(connection, prepared, rows, "draft")

    async def _publish(self, prepared: Prepared) -> Publication:

        async with self.database.connect(write=True) as connection:
            rows = await _rows_taking_turns(connection, prepared.name)
            for row in rows:
                if row.semver != prepared.version or row.status != "published":
                    continue
                if row.content_hash == prepared.content_hash:
                    return Publication(_stored(row), created=False)
                raise VersionConflict(
                    f"{prepared.name} {prepared.version} is already published with other content "
                    f"(sha256 {row.content_hash[:12]}, this document {prepared.content_hash[:12]}); a published "
                    "version never changes: publish this under a new metadata.version. Nothing was published."
                )
            stored = await _insert(connection, prepared, rows, "published")
        return Publication(stored, created=True)

    async def list(self, name: str | None = None) -> list[StoredWorkflow]:
        """Every stored definition (of ``name``), by name, newest version first."""
        import sqlalchemy as sa

        from orchestrator.schema import workflows

        query = sa.select(workflows)
        if name is not None:
            query = query.where(workflows.c.name == name)
        async with self.database.connect() as connection:
            rows = (await connection.execute(query)).all()
        stored = [_stored(row) for row in rows]
        return sorted(stored, key=lambda w: (w.name, _descending(semver_key(w.version)), -w.publication))

    async def get(self, name: str, version: str | None = None) -> StoredWorkflow:
        """The definition ``name`` at ``version``, or its highest published version; :class:`NotFound`."""
        found = [w for w in await self.list(name) if w.status == "published"]
        if version is not None:
            found = [w for w in found if w.version == version]
        if not found:
            which = f"{name} {version}" if version else name
            raise NotFound(f"no published workflow {which}; `afu9 workflow list` shows what is published")
        return found[0]

    async def published(self) -> dict[str, set[str]]:
        """Each published name with its versions (for checking sub-workflow steps)."""
        index: dict[str, set[str]] = {}
        for stored in await self.list():
            if stored.status == "published":
                index.setdefault(stored.name, set()).add(stored.version)
        return index


def semver_key(version: str) -> tuple[Any, ...]:
    """Semantic-version precedence: 1.0.0-rc.1 < 1.0.0 < 1.0.1 < 1.10.0 (unparsable versions first)."""
    match = _SEMVER.match(version or "")
    if match is None:
        return (-1,)
    major, minor, patch, pre = match.groups()
    release = (int(major), int(minor), int(patch))
    if pre is None:
        return (*release, 1, ())
    identifiers = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (*release, 0, identifiers)


async def _rows_taking_turns(connection: Any, name: str) -> list[Any]:
    """The rows of ``name``, read once this transaction's turn to write them came (PostgreSQL: an advisory lock
    per name; SQLite: writers take turns anyway)."""
    import sqlalchemy as sa

    from orchestrator.schema import workflows

    if connection.dialect.name == "postgresql":
        await connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(name))))
    return list((await connection.execute(sa.select(workflows).where(workflows.c.name == name))).all())


async def _insert(connection: Any, prepared: Prepared, rows: list[Any], status: str) -> StoredWorkflow:
    """A new row for ``prepared`` with the name's next publication number (``rows``: the name's rows)."""
    import sqlalchemy as sa

    from orchestrator.schema import workflows

    new_id = uuid.uuid4()
    await connection.execute(
        sa.insert(workflows).values(
            id=new_id,
            name=prepared.name,
            description=prepared.workflow.metadata.description,
            definition=prepared.document,
            version=max((row.version for row in rows), default=0) + 1,
            enabled=True,
            semver=prepared.version,
            content_hash=prepared.content_hash,
            status=status,
        )
    )
    return _stored((await connection.execute(sa.select(workflows).where(workflows.c.id == new_id))).one())


def _lock_key(name: str) -> int:
    """A PostgreSQL advisory lock key (signed 64-bit) for publishing ``name``."""
    digest = hashlib.sha256(f"afu9:workflows:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _descending(key: tuple[Any, ...]) -> _Reverse:
    return _Reverse(key)


@dataclass(frozen=True)
class _Reverse:
    key: tuple[Any, ...]

    def __lt__(self, other: _Reverse) -> bool:
        return other.key < self.key


def _stored(row: Any) -> StoredWorkflow:
    mapping: Mapping[str, Any] = row._mapping  # SQLAlchemy's public row mapping
    return StoredWorkflow(
        id=mapping["id"],
        name=mapping["name"],
        version=mapping["semver"] or str(mapping["version"]),
        publication=mapping["version"],
        content_hash=mapping["content_hash"] or "",
        status=mapping["status"],
        enabled=mapping["enabled"],
        description=mapping["description"],
        created_at=mapping["created_at"],
        definition=dict(mapping["definition"]),
    )
