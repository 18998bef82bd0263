"""Seed the factory KPI catalog: version 1 of the 12 AFU-9 factory KPIs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from typing import cast

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_CHANGELOG = "v1: initial definition, carried over from the AFU-9 v0.4 factory KPI set."

# (kpi_id, name, category, unit, target, direction, description, formula)
KPIS: list[tuple[str, str, str, str, float, str, str, str]] = [
    (
        "cycle_time",
        "Cycle time",
        "delivery",
        "hours",
        24.0,
        "lower_is_better",
        "How long the factory takes from picking up an issue to a merged, deployed change.",
        "median(completed_at - started_at) over workflow executions that completed in the period, in hours",
    ),
    (
        "throughput",
        "Throughput",
        "delivery",
        "outcomes_per_day",
        10.0,
        "higher_is_better",
        "How many outcomes (merged pull requests or completed executions) the factory delivers per day.",
        "count(executions with status = completed in the period) / days in the period",
    ),
    (
        "success_rate",
        "Success rate",
        "quality",
        "percent",
        95.0,
        "higher_is_better",
        "Share of executions that complete without failing.",
        "100 * completed / (completed + failed) over executions that ended in the period",
    ),
    (
        "test_coverage",
        "Test coverage",
        "quality",
        "percent",
        80.0,
        "higher_is_better",
        "Share of source lines exercised by the test suite of the changes the factory ships.",
        "100 * covered lines / coverable lines, from the coverage report of the latest build",
    ),
    (
        "code_review_score",
        "Code review score",
        "quality",
        "score_0_100",
        85.0,
        "higher_is_better",
        "Quality of the factory's pull requests as judged in review (approvals without change requests score high).",
        "mean over reviewed pull requests of 100 * approvals / (approvals + change requests)",
    ),
    (
        "mtbf",
        "Mean time between failures",
        "reliability",
        "hours",
        168.0,
        "higher_is_better",
        "How long the deployed services run between production failures.",
        "operating hours in the period / number of production failures in the period",
    ),
    (
        "mttr",
        "Mean time to recovery",
        "reliability",
        "minutes",
        60.0,
        "lower_is_better",
        "How long it takes to restore service after a production failure.",
        "mean(restored_at - failed_at) over failures restored in the period, in minutes",
    ),
    (
        "availability",
        "Availability",
        "reliability",
        "percent",
        99.9,
        "higher_is_better",
        "Share of time the deployed services answered healthily.",
        "100 * healthy minutes / total minutes in the period",
    ),
    (
        "cost_per_outcome",
        "Cost per outcome",
        "efficiency",
        "usd",
        5.0,
        "lower_is_better",
        "What one successful outcome costs in LLM tokens and cloud resources.",
        "(LLM cost + attributed cloud cost in the period) / successful outcomes in the period",
    ),
    (
        "vulnerability_response_time",
        "Vulnerability response time",
        "security",
        "hours",
        72.0,
        "lower_is_better",
        "How long a reported vulnerability stays open before its fix is deployed.",
        "mean(fixed_at - reported_at) over vulnerabilities fixed in the period, in hours",
    ),
    (
        "security_incidents",
        "Security incidents",
        "security",
        "count",
        0.0,
        "lower_is_better",
        "Confirmed security incidents caused by or affecting the factory's output.",
        "count(confirmed security incidents opened in the period)",
    ),
    (
        "build_determinism",
        "Build determinism",
        "quality",
        "percent",
        99.0,
        "higher_is_better",
        "Share of rebuilds of the same commit that produce byte-identical artifacts.",
        "100 * rebuilds with an identical artifact digest / rebuilds in the period",
    ),
]

# (name, description, port): the AFU-9 sidecar layout.
def upgrade() -> None:
    kpi_definitions = sa.table(
        "kpi_definitions",
        *(
            cast("sa.ColumnClause[object]", sa.column(name))
            for name in (
                "kpi_id",
                "version",
                "name",
                "category",
                "unit",
                "target",
                "direction",
                "description",
                "formula",
                "changelog",
            )
        ),
    )
    op.bulk_insert(
        kpi_definitions,
        [
            {
                "kpi_id": kpi_id,
                "version": 1,
                "name": name,
                "category": category,
                "unit": unit,
                "target": target,
                "direction": direction,
                "description": description,
                "formula": formula,
                "changelog": _CHANGELOG,
            }
            for kpi_id, name, category, unit, target, direction, description, formula in KPIS
        ],
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM kpi_measurements"))
    op.execute(sa.text("DELETE FROM kpi_definitions"))
