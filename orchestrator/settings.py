"""The orchestrator's settings (``AFU9_*``): where its MCP servers are described, how it reaches them, and how a
worker process takes part. The database, data folder and write gate are the suite's common settings, which the
stdio servers the orchestrator starts inherit."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from shared.settings import CommonSettings

__all__ = ["OrchestratorSettings"]


class OrchestratorSettings(CommonSettings):
    """Settings of ``afu9 workflow`` and ``afu9 worker``."""

    mcp_config: Path = Field(
        default=Path("mcp.json"),
        description="The mcp.json describing the servers workflows call (relative to the working directory).",
    )
    orchestrator_transport: Literal["stdio", "http"] = Field(
        default="stdio",
        description="Which entry of mcp.json the orchestrator uses per server: stdio (start the server) or http "
        "(reach a running one, the -http entries).",
    )
    worker_id: str = Field(
        default="",
        max_length=100,
        description="A worker's stable id: a restarted worker with the same id takes up the executions it had "
        "(empty: worker-<hostname>).",
    )
    worker_executions: int = Field(
        default=8, ge=1, le=1000, description="Executions a worker runs at once (the afu9_executions queue)."
    )
    worker_branches: int = Field(
        default=16, ge=1, le=1000, description="Parallel branches and map elements a worker runs at once."
    )
