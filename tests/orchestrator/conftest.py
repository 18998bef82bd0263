"""Fixtures of the orchestrator's tests: the catalog of the real servers (tools/list of the factory and github
servers built in-process, through an MCP client) and small workflow documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator.catalog import Catalog
from tests.suite import listed_tools

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "workflows" / "kpi-report.yaml"


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """What the factory and github servers list with every toolset (their real tools/list)."""
    return Catalog.of({name: listed_tools(name) for name in ("factory", "github")})


def workflow(*steps: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A v1 document with ``steps`` (and top-level ``fields``)."""
    return {
        "apiVersion": "orchestrator/v1",
        "kind": "Workflow",
        "metadata": {"name": "example", "version": "1.0.0"},
        **fields,
        "steps": list(steps),
    }


def tool(step_id: str, tool_name: str = "list_kpis", **fields: Any) -> dict[str, Any]:
    """A factory tool step."""
    return {"id": step_id, "type": "tool", "server": "factory", "tool": tool_name, **fields}
