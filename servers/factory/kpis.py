"""The KPI catalog and its measurements, on the database (no MCP here: tools/kpis.py is the adapter)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from servers.factory.models import (
    MAX_VALUE,
    HistorySummary,
    KpiDefinition,
    KpiDetail,
    KpiHistory,
    KpiList,
    KpiSummary,
    Measurement,
    RecordedMeasurement,
)
from servers.factory.schema import kpi_definitions as defs
from servers.factory.schema import kpi_measurements as meas
from shared.db import Database
from shared.errors import InvalidArguments, InvalidRequest, NotFound
from shared.idempotency import Idempotency
from shared.pagination import decode_cursor, encode_cursor, invalid_cursor
from shared.timestamps import utc

__all__ = ["KpiStore", "meets_target"]

_MAX_OFFSET = 1_000_000  # far past any catalog; keeps a forged offset inside every database's integer range


def _list_position(cursor: str) -> int:
    offset = decode_cursor(cursor, keys=frozenset({"offset"}))["offset"]
    if type(offset) is not int or not 0 <= offset <= _MAX_OFFSET:
        raise invalid_cursor()
    return offset


def _history_position(cursor: str) -> tuple[datetime, uuid.UUID]:
    position = decode_cursor(cursor, keys=frozenset({"t", "id"}))
    try:
        return utc(datetime.fromisoformat(position["t"])), uuid.UUID(position["id"])
    except (TypeError, ValueError, InvalidRequest):
        raise invalid_cursor() from None


def meets_target(value: float, target: float, direction: str) -> bool:
    return value >= target if direction == "higher_is_better" else value <= target


def _current_versions() -> sa.Subquery:
    return sa.select(defs.c.kpi_id, sa.func.max(defs.c.version).label("version")).group_by(defs.c.kpi_id).subquery()


def _measurement(row: Any, versions: dict[int, KpiDefinition]) -> Measurement:
    """A stored measurement, judged against the definition version it was recorded under."""
    definition = versions.get(row.kpi_version) or versions[max(versions)]
    return Measurement(
        id=str(row.id),
        kpi_id=row.kpi_id,
        kpi_version=row.kpi_version,
        value=row.value,
        measured_at=row.measured_at,
        scope=row.scope,
        source=row.source,
        meets_target=meets_target(row.value, definition.target, definition.direction),
    )


def _definition(row: Any) -> KpiDefinition:
    return KpiDefinition.model_validate(row, from_attributes=True)


class KpiStore:
    """Reads the versioned KPI catalog; records and reads measurements."""

    def __init__(self, database: Database, idempotency: Idempotency) -> None:
        self.database = database
        self.idempotency = idempotency

    async def list(self, *, category: str | None, limit: int, cursor: str | None) -> KpiList:
        offset = _list_position(cursor) if cursor else 0
        current = _current_versions()
        query = sa.select(defs).join(
            current, sa.and_(defs.c.kpi_id == current.c.kpi_id, defs.c.version == current.c.version)
        )
        if category is not None:
            query = query.where(defs.c.category == category)
        async with self.database.connect() as connection:
            total = (await connection.execute(sa.select(sa.func.count()).select_from(query.subquery()))).scalar_one()
            rows = (
                await connection.execute(query.order_by(defs.c.category, defs.c.kpi_id).offset(offset).limit(limit))
            ).all()
        kpis = [KpiSummary.model_validate(row, from_attributes=True) for row in rows]
        more = offset + len(kpis) < total
        return KpiList(
            kpis=kpis, total=total, next_cursor=encode_cursor({"offset": offset + len(kpis)}) if more else None
        )

    async def get(self, kpi_id: str, version: int | None = None) -> KpiDetail:
        async with self.database.connect() as connection:
            rows = (
                await connection.execute(sa.select(defs).where(defs.c.kpi_id == kpi_id).order_by(defs.c.version))
            ).all()
            if not rows:
                raise await self._unknown(connection, kpi_id)
        versions = [row.version for row in rows]
        chosen = rows[-1] if version is None else next((row for row in rows if row.version == version), None)
        if chosen is None:
            raise NotFound(f"KPI {kpi_id} has no version {version}; its versions are {versions}.")
        return KpiDetail(definition=_definition(chosen), versions=versions)

    async def record(
        self,
        *,
        kpi_id: str,
        value: float,
        measured_at: datetime | None,
        scope: str,
        source: str | None,
        idempotency_key: str | None,
    ) -> RecordedMeasurement:
        if not -MAX_VALUE <= value <= MAX_VALUE:  # the tool's schema says so too; logic callers get the same
            raise InvalidArguments(f"value must be between {-MAX_VALUE:g} and {MAX_VALUE:g}.")
        moment = utc(measured_at) if measured_at is not None else datetime.now(UTC)
        request = {
            "kpi_id": kpi_id,
            "value": value,
            "scope": scope,
            "measured_at": None if measured_at is None else moment.isoformat(),
            "source": source,
        }

        async def insert(connection: Any) -> RecordedMeasurement:
            versions = await self._versions(connection, kpi_id)
            definition = versions[max(versions)]
            row = {
                "id": uuid.uuid4(),
                "kpi_id": kpi_id,
                "kpi_version": definition.version,
                "value": value,
                "measured_at": moment,
                "scope": scope,
                "source": source,
            }
            await connection.execute(meas.insert().values(**row))
            return RecordedMeasurement(measurement=_measurement(SimpleNamespace(**row), versions), created=True)

        recorded, replayed = await self.idempotency.run(
            tool="record_kpi_measurement",
            key=idempotency_key,
            request=request,
            action=insert,
            result_type=RecordedMeasurement,
        )
        return recorded.model_copy(update={"created": False}) if replayed else recorded

    async def history(
        self, *, kpi_id: str, start: datetime, end: datetime, scope: str, limit: int, cursor: str | None
    ) -> KpiHistory:
        start, end = utc(start), utc(end)
        if end <= start:
            raise InvalidRequest(f"end ({end.isoformat()}) must be after start ({start.isoformat()}).")
        in_range = sa.and_(
            meas.c.kpi_id == kpi_id, meas.c.scope == scope, meas.c.measured_at >= start, meas.c.measured_at < end
        )
        page = sa.select(meas).where(in_range)
        if cursor:
            after_time, after_id = _history_position(cursor)
            page = page.where(
                sa.or_(meas.c.measured_at > after_time, sa.and_(meas.c.measured_at == after_time, meas.c.id > after_id))
            )
        async with self.database.connect() as connection:
            versions = await self._versions(connection, kpi_id)
            rows = (await connection.execute(page.order_by(meas.c.measured_at, meas.c.id).limit(limit + 1))).all()
            stats = (
                await connection.execute(
                    sa.select(
                        sa.func.count(), sa.func.min(meas.c.value), sa.func.max(meas.c.value), sa.func.avg(meas.c.value)
                    ).where(in_range)
                )
            ).one()
            latest = (
                await connection.execute(
                    sa.select(meas).where(in_range).order_by(meas.c.measured_at.desc(), meas.c.id.desc()).limit(1)
                )
            ).first()
        definition = versions[max(versions)]
        more = len(rows) > limit
        rows = rows[:limit]
        measurements = [_measurement(row, versions) for row in rows]
        next_cursor = (
            encode_cursor({"t": measurements[-1].measured_at.isoformat(), "id": measurements[-1].id}) if more else None
        )
        summary = HistorySummary(
            count=stats[0],
            min=stats[1],
            max=stats[2],
            mean=None if stats[3] is None else float(stats[3]),
            latest=None if latest is None else latest.value,
            latest_meets_target=None if latest is None else _measurement(latest, versions).meets_target,
        )
        return KpiHistory(
            kpi_id=kpi_id,
            unit=definition.unit,
            target=definition.target,
            direction=definition.direction,
            scope=scope,
            start=start,
            end=end,
            measurements=measurements,
            summary=summary,
            next_cursor=next_cursor,
        )

    async def _versions(self, connection: Any, kpi_id: str) -> dict[int, KpiDefinition]:
        """Every version of ``kpi_id``'s definition by number (NotFound listing the known KPIs if none)."""
        rows = (await connection.execute(sa.select(defs).where(defs.c.kpi_id == kpi_id))).all()
        if not rows:
            raise await self._unknown(connection, kpi_id)
        return {row.version: _definition(row) for row in rows}

    @staticmethod
    async def _unknown(connection: Any, kpi_id: str) -> NotFound:
        known = (await connection.execute(sa.select(defs.c.kpi_id).distinct().order_by(defs.c.kpi_id))).scalars().all()
        return NotFound(f"There is no KPI {kpi_id!r}. Known KPIs: {', '.join(known)}. Call list_kpis for details.")
