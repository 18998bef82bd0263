"""Seed the MCP server registry with the suite's four servers on their default sidecar ports.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# (name, description, port) as in the AFU-9 sidecar layout.
SERVERS: list[tuple[str, str, int]] = [
    ("github", "Issues, pull requests, branches, contents, commits, repos, Actions runs, webhooks", 3001),
    ("deploy", "ECS rollouts, rollback, CloudFormation change sets, secret preflight", 3002),
    ("observability", "CloudWatch logs, metrics and alarms, ALB target health, service health", 3003),
    ("factory", "Factory KPIs, cost attribution, prompt library", 3004),
]


def upgrade() -> None:
    mcp_servers = sa.table(
        "mcp_servers",
        sa.column("id", sa.Uuid()),
        sa.column("name"),
        sa.column("description"),
        sa.column("endpoint"),
        sa.column("health_check_url"),
    )
    op.bulk_insert(
        mcp_servers,
        [
            {
                "id": uuid.uuid5(uuid.NAMESPACE_URL, f"afu9:mcp_servers:{name}"),
                "name": name,
                "description": description,
                "endpoint": f"http://127.0.0.1:{port}/mcp",
                "health_check_url": f"http://127.0.0.1:{port}/health",
            }
            for name, description, port in SERVERS
        ],
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM mcp_servers"))
