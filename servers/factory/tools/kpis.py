"""Toolset ``kpis``: the factory KPI catalog (versioned definitions) and KPI measurements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import Field

from servers.factory.deps import FactoryDeps
from servers.factory.models import MAX_VALUE, Category, KpiDetail, KpiHistory, KpiList, RecordedMeasurement
from shared.toolset import Toolset

__all__ = ["kpis"]

kpis = Toolset(
    "kpis",
    "The 12 factory KPIs: versioned definitions, measurements and their history.",
    start_with="list_kpis",
)

KpiId = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_]{1,63}$",
        description="KPI id from list_kpis, e.g. cycle_time, success_rate, mttr.",
    ),
]
Scope = Annotated[
    str,
    Field(
        min_length=1,
        max_length=255,
        description="What is measured: 'factory' for the whole factory, or e.g. 'repo:owner/name'.",
    ),
]
Cursor = Annotated[
    str | None, Field(max_length=512, description="next_cursor from the previous page; omit for the first.")
]


async def kpi_ids(deps: FactoryDeps, prefix: str, _resolved: Mapping[str, str]) -> Sequence[str]:
    """KPI ids starting with ``prefix`` (completions for prompts and resources)."""
    catalog = await deps.kpis.list(category=None, limit=100, cursor=None)
    return [kpi.kpi_id for kpi in catalog.kpis if kpi.kpi_id.startswith(prefix)]


@kpis.read(title="List factory KPIs")
async def list_kpis(
    deps: FactoryDeps,
    category: Annotated[Category | None, Field(description="Only KPIs of this category.")] = None,
    limit: Annotated[int, Field(ge=1, le=100, description="KPIs per page.")] = 50,
    cursor: Cursor = None,
) -> KpiList:
    """List the factory KPI catalog: id, name, category, unit, target and direction of each KPI.

    Use it to find a KPI's id. Call get_kpi for a KPI's formula and version history, get_kpi_history for
    its measured values over time.
    """
    return await deps.kpis.list(category=category, limit=limit, cursor=cursor)


@kpis.read(title="Get a KPI definition")
async def get_kpi(
    deps: FactoryDeps,
    kpi_id: KpiId,
    version: Annotated[
        int | None, Field(ge=1, le=1_000_000, description="Definition version; omit for the current one.")
    ] = None,
) -> KpiDetail:
    """Get one KPI's definition: description, formula, unit, target, direction and changelog, plus the
    list of its versions. Definitions are immutable per version; pass version to see an older one."""
    return await deps.kpis.get(kpi_id, version)


@kpis.write(title="Record a KPI measurement", destructive=False, idempotent=False)
async def record_kpi_measurement(
    deps: FactoryDeps,
    kpi_id: KpiId,
    value: Annotated[
        float,
        Field(
            allow_inf_nan=False,
            ge=-MAX_VALUE,
            le=MAX_VALUE,
            description="Measured value, in the KPI's unit (at most 1e12 in magnitude).",
        ),
    ],
    scope: Scope = "factory",
    measured_at: Annotated[
        datetime | None, Field(description="When the value was measured (ISO 8601; default: now, UTC).")
    ] = None,
    source: Annotated[str | None, Field(max_length=255, description="Who or what measured it.")] = None,
    idempotency_key: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=255,
            description="Retry-safe key: repeating a call with the same key and values records it once.",
        ),
    ] = None,
) -> RecordedMeasurement:
    """Record one measured value of a KPI under its current definition version.

    Pass an idempotency_key when the call may be retried. The result says whether the value meets the
    KPI's target. Read values back with get_kpi_history.
    """
    return await deps.kpis.record(
        kpi_id=kpi_id,
        value=value,
        measured_at=measured_at,
        scope=scope,
        source=source,
        idempotency_key=idempotency_key,
    )


@kpis.read(title="Get a KPI's history")
async def get_kpi_history(
    deps: FactoryDeps,
    kpi_id: KpiId,
    scope: Scope = "factory",
    start: Annotated[
        datetime | None, Field(description="Range start, inclusive (ISO 8601; default: 30 days ago).")
    ] = None,
    end: Annotated[datetime | None, Field(description="Range end, exclusive (ISO 8601; default: now).")] = None,
    limit: Annotated[int, Field(ge=1, le=500, description="Measurements per page.")] = 100,
    cursor: Cursor = None,
) -> KpiHistory:
    """Get a KPI's measurements over a time range, oldest first, with min/max/mean/latest over the whole
    range and whether the latest value meets the target. Page with cursor while next_cursor is set."""
    end = end or datetime.now(UTC)
    start = start or _days_before(end, 30)
    return await deps.kpis.history(kpi_id=kpi_id, start=start, end=end, scope=scope, limit=limit, cursor=cursor)


@kpis.resource("kpi://catalog", title="The factory KPI catalog")
async def read_kpi_catalog(deps: FactoryDeps) -> KpiList:
    """The whole KPI catalog at current versions (what list_kpis returns without filters), as JSON."""
    return await deps.kpis.list(category=None, limit=100, cursor=None)


@kpis.resource("kpi://{kpi_id}", title="A KPI definition", complete={"kpi_id": kpi_ids})
async def read_kpi_definition(deps: FactoryDeps, kpi_id: str) -> KpiDetail:
    """One KPI's current definition and its versions (what get_kpi returns), as JSON."""
    return await deps.kpis.get(kpi_id)


@kpis.prompt(title="Review a KPI", complete={"kpi_id": kpi_ids})
async def review_kpi(
    deps: FactoryDeps,
    kpi_id: Annotated[str, Field(description="KPI id, e.g. cycle_time.")],
    days: Annotated[str, Field(description="How many days back to look (default 30).")] = "30",
) -> str:
    """Ask the model to review one KPI: its definition, its recent measurements against the target, and
    what to do about a miss."""
    detail = await deps.kpis.get(kpi_id)
    span = int(days) if days.isdigit() and 0 < int(days) <= 3660 else 30
    end = datetime.now(UTC)
    history = await deps.kpis.history(
        kpi_id=kpi_id, start=end - timedelta(days=span), end=end, scope="factory", limit=50, cursor=None
    )
    definition = detail.definition
    summary = history.summary
    return (
        f"Review the factory KPI {definition.name} ({kpi_id}, version {definition.version}).\n"
        f"Definition: {definition.description} Formula: {definition.formula}.\n"
        f"Target: {definition.target:g} {definition.unit} ({definition.direction.replace('_', ' ')}).\n"
        f"Last {span} days: {summary.count} measurements; min {summary.min}, max {summary.max}, mean {summary.mean}, "
        f"latest {summary.latest} (meets target: {summary.latest_meets_target}).\n"
        "Say whether the factory is on target, what the trend is, and which one or two actions would move the KPI; "
        "call get_kpi_history for more data if you need it."
    )


def _days_before(moment: datetime, days: int) -> datetime:
    """``days`` before ``moment``, or the first moment of year 1 when that would be earlier."""
    try:
        return moment - timedelta(days=days)
    except OverflowError:
        return datetime.min.replace(tzinfo=moment.tzinfo)
