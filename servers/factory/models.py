"""Inputs and outputs of the factory server's tools."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.timestamps import UtcDateTime

__all__ = [
    "MAX_VALUE",
    "Category",
    "Direction",
    "HistorySummary",
    "KpiDefinition",
    "KpiDetail",
    "KpiHistory",
    "KpiList",
    "KpiSummary",
    "Measurement",
    "RecordedMeasurement",
]

MAX_VALUE = 1e12
"""Largest magnitude a KPI value may have: far beyond any hours, percent, count or dollar figure, and small
enough that sums and means over millions of measurements stay exact enough and never overflow."""

Category = Literal["delivery", "quality", "reliability", "efficiency", "security"]
Direction = Literal["higher_is_better", "lower_is_better"]


class KpiSummary(BaseModel):
    """One KPI of the catalog, at its current version."""

    kpi_id: str = Field(description="Stable identifier, e.g. cycle_time.")
    name: str = Field(description="Display name.")
    category: Category = Field(description="Area of the factory the KPI measures.")
    unit: str = Field(description="Unit of every measurement, e.g. hours or percent.")
    target: float = Field(description="Target value.")
    direction: Direction = Field(description="Whether higher or lower values are better.")
    version: int = Field(description="Current definition version.")


class KpiList(BaseModel):
    """A page of the KPI catalog."""

    kpis: list[KpiSummary] = Field(description="KPIs on this page, ordered by category then id.")
    total: int = Field(description="KPIs matching the filter, on all pages.")
    next_cursor: str | None = Field(description="Pass as cursor to get the next page; null on the last page.")


class KpiDefinition(BaseModel):
    """One version of a KPI's definition (versions are immutable; a change makes a new version)."""

    kpi_id: str = Field(description="Stable identifier.")
    version: int = Field(description="Definition version, starting at 1.")
    name: str = Field(description="Display name.")
    category: Category = Field(description="Area of the factory the KPI measures.")
    unit: str = Field(description="Unit of every measurement.")
    description: str = Field(description="What the KPI tells.")
    formula: str = Field(description="How the value is computed.")
    target: float = Field(description="Target value.")
    direction: Direction = Field(description="Whether higher or lower values are better.")
    changelog: str = Field(description="What changed in this version.")
    effective_from: UtcDateTime = Field(description="When this version took effect (UTC).")


class KpiDetail(BaseModel):
    """A KPI definition plus the versions that exist."""

    definition: KpiDefinition = Field(description="The requested (default: current) version.")
    versions: list[int] = Field(description="Every version of this KPI, oldest first.")


class Measurement(BaseModel):
    """One recorded value of a KPI."""

    id: str = Field(description="Measurement id.")
    kpi_id: str = Field(description="KPI measured.")
    kpi_version: int = Field(description="Definition version the value was measured under.")
    value: float = Field(description="Measured value, in the KPI's unit.")
    measured_at: UtcDateTime = Field(description="When the value was measured (UTC).")
    scope: str = Field(description="What was measured: 'factory', or e.g. 'repo:owner/name'.")
    source: str | None = Field(description="Who or what reported the value.")
    meets_target: bool = Field(description="Whether the value meets the KPI's target.")


class RecordedMeasurement(BaseModel):
    """The result of recording a measurement."""

    measurement: Measurement = Field(description="The stored measurement.")
    created: bool = Field(description="False when the idempotency key matched an earlier identical call.")


class HistorySummary(BaseModel):
    """Statistics over every measurement in the requested range (not only this page)."""

    count: int = Field(description="Measurements in the range.")
    min: float | None = Field(description="Smallest value; null when there are none.")
    max: float | None = Field(description="Largest value; null when there are none.")
    mean: float | None = Field(description="Mean value; null when there are none.")
    latest: float | None = Field(description="Most recent value in the range; null when there are none.")
    latest_meets_target: bool | None = Field(description="Whether the most recent value meets the target.")


class KpiHistory(BaseModel):
    """A page of a KPI's measurements over a time range, oldest first."""

    kpi_id: str = Field(description="KPI measured.")
    unit: str = Field(description="Unit of every value.")
    target: float = Field(description="Current target.")
    direction: Direction = Field(description="Whether higher or lower values are better.")
    scope: str = Field(description="Scope the history is for.")
    start: datetime = Field(description="Start of the range (inclusive, UTC).")
    end: datetime = Field(description="End of the range (exclusive, UTC).")
    measurements: list[Measurement] = Field(description="Measurements on this page, oldest first.")
    summary: HistorySummary = Field(description="Statistics over the whole range.")
    next_cursor: str | None = Field(description="Pass as cursor to get the next page; null on the last page.")
